#!/usr/bin/env bash
# Benchmark kubectl-sops against real sops (v3.13.2 from scripts/peers.sh) on age-encrypted YAML.
#
# usage: scripts/bench.sh
#
#   cases:  unseal-small  sops decrypt small.enc.yaml          vs  kubectl-sops unseal small.enc.yaml
#           unseal-large  sops decrypt large.enc.yaml          vs  kubectl-sops unseal large.enc.yaml
#           seal-large    sops encrypt --age R large.yaml      vs  kubectl-sops seal --age R large.yaml
#   small = a 5-key Kubernetes Secret, large = ~0.5 MB / 10,000 leaves (scripts/gen-bench-input.py).
#   Key: the public test key shared/vectors/sops/keys/gen_age_a.txt (SOPS_AGE_KEY_FILE, like sops).
#
#   Before timing anything, every kubectl-sops command is run once and checked: it must exit 0,
#   unseal must give the same YAML tree as the plaintext, and seal's output must be decrypted by
#   real sops (MAC verified) back to the plaintext tree. Any failure stops the script (exit 1).
#
#   Timing: hyperfine (apt `hyperfine`, installed when missing and root), else a date +%s%N loop.
#   Peak RSS: GNU /usr/bin/time -f %M (apt `time`), max over 3 runs.
#
# env:  BENCH_RUNS (10)  BENCH_WARMUP (2)  BENCH_KEEP=1 (keep the temp dir)
#       BENCH_KSOPS=path (use this kubectl-sops, skip `cargo build --release`)
#       BENCH_SOPS=path  (use this sops, skip `scripts/peers.sh build sops`)
#       BENCH_NO_HYPERFINE=1 (force the shell loop)   BENCH_AGE_KEY_FILE=path
set -euo pipefail

BENCH_NAME=bench
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-2}
KEY=${BENCH_AGE_KEY_FILE:-$WS/../shared/vectors/sops/keys/gen_age_a.txt}

# ------------------------------------------------------------------ tools
command -v python3 >/dev/null || die "python3 is required (input generator, result parsing)"
if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
  apt_install time || die "GNU time (/usr/bin/time, apt package 'time') is required for peak RSS"
fi
HYPERFINE=
if [[ -z ${BENCH_NO_HYPERFINE:-} ]]; then
  if ensure_hyperfine; then
    HYPERFINE=$(command -v hyperfine || true)
  fi
  [[ -n $HYPERFINE ]] || log "hyperfine not available; timing with a shell loop"
fi
[[ -f $KEY ]] || die "age key $KEY not found (shared/ must sit beside the clone, or set BENCH_AGE_KEY_FILE)"
KEY=$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")
R=$(sed -n 's/^# public key: \(age1[0-9a-z]*\)$/\1/p' "$KEY" | head -n1)
[[ $R == age1* ]] || die "no '# public key: age1…' line in $KEY"

# ------------------------------------------------------------------ binaries
SOPS=$(sops_peer)
KSOPS=$(abs_exe "${BENCH_KSOPS:-$(release_bin kubectl-sops)}" kubectl-sops)

# ------------------------------------------------------------------ inputs (isolated env)
bench_tmpdir
cd "$T"   # sops looks for .sops.yaml from the working dir upwards; there is none under a fresh temp dir
python3 "$HERE/gen-bench-input.py" "$T"

# Only the age key; nothing from the developer's sops/gpg/cloud setup, no ~/.ssh identities.
scrub_env
export HOME=$T SOPS_AGE_KEY_FILE=$KEY SOPS_DISABLE_VERSION_CHECK=1

log "sops:         $SOPS ($("$SOPS" --version 2>/dev/null | head -n1))"
log "kubectl-sops: $KSOPS"
log "recipient:    $R"

"$SOPS" encrypt --age "$R" --encrypted-regex '^(data|stringData)$' small.yaml >small.enc.yaml \
  || die "sops failed to encrypt small.yaml"
"$SOPS" encrypt --age "$R" large.yaml >large.enc.yaml || die "sops failed to encrypt large.yaml"

# ------------------------------------------------------------------ correctness gate
same_tree() {   # $1 $2: YAML files; equal trees (PyYAML), else byte-equal
  python3 - "$1" "$2" <<'EOF'
import sys
try:
    import yaml
except ImportError:
    a, b = (open(p, "rb").read() for p in sys.argv[1:3])
    sys.exit(0 if a == b else 1)
a, b = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
EOF
}
run_checked() { # $1 label, rest: command; stdout to $T/$label.out
  local label=$1 rc=0; shift
  "$@" >"$T/$label.out" 2>"$T/$label.err" || rc=$?
  if ((rc != 0)); then
    # shellcheck disable=SC2016
    printf 'bench: ERROR: `%s` failed (exit %s):\n' "$*" "$rc" >&2
    sed 's/^/    /' "$T/$label.err" | head -n 40 >&2
    exit 1
  fi
  [[ -s $T/$label.out ]] || die "\`$*\` printed nothing on stdout"
}
log "checking kubectl-sops output"
for f in small large; do
  run_checked "ks-unseal-$f" "$KSOPS" unseal "$f.enc.yaml"
  same_tree "$f.yaml" "$T/ks-unseal-$f.out" \
    || die "kubectl-sops unseal $f.enc.yaml: output differs from $f.yaml (see $T/ks-unseal-$f.out; BENCH_KEEP=1)"
done
run_checked ks-seal-large "$KSOPS" seal --age "$R" large.yaml
cp "$T/ks-seal-large.out" large.ks.enc.yaml
grep -q 'ENC\[AES256_GCM,' large.ks.enc.yaml || die "kubectl-sops seal output has no ENC[AES256_GCM,…] values"
run_checked sops-dec-ks "$SOPS" decrypt --input-type yaml --output-type yaml large.ks.enc.yaml
same_tree large.yaml "$T/sops-dec-ks.out" || die "sops decrypt of kubectl-sops seal output differs from large.yaml"
log "ok: unseal matches, seal output opens with real sops"

# ------------------------------------------------------------------ timing
CASES=(
  "unseal-small|$SOPS decrypt small.enc.yaml|$KSOPS unseal small.enc.yaml"
  "unseal-large|$SOPS decrypt large.enc.yaml|$KSOPS unseal large.enc.yaml"
  "seal-large|$SOPS encrypt --age $R large.yaml|$KSOPS seal --age $R large.yaml"
)

time_cmd() {    # $1 command line (no shell metacharacters); prints "mean_ms sd_ms min_ms"
  local cmd=$1 t0 t1 i; local -a xs=() argv
  read -r -a argv <<<"$cmd"
  for ((i = 0; i < WARMUP; i++)); do "${argv[@]}" >/dev/null 2>&1 || die "\`$cmd\` failed"; done
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N); "${argv[@]}" >/dev/null 2>"$T/loop.err" || { cat "$T/loop.err" >&2; die "\`$cmd\` failed"; }
    t1=$(date +%s%N); xs+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${xs[@]}" | awk '{s+=$1; q+=$1*$1; if(NR==1||$1<m)m=$1} END {mu=s/NR; v=q/NR-mu*mu; if(v<0)v=0;
    printf "%.2f %.2f %.2f\n", mu/1000, sqrt(v)/1000, m/1000}'
}
time_pair() {   # $1 case  $2 sops cmd  $3 ksops cmd; prints "sops_mean sops_sd ks_mean ks_sd"
  if [[ -n $HYPERFINE ]]; then
    "$HYPERFINE" -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$T/$1.json" \
      -n sops "$2" -n kubectl-sops "$3" >&2 || die "hyperfine failed on case $1"
    python3 - "$T/$1.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(" ".join("%.2f %.2f" % (r[n]["mean"] * 1e3, (r[n]["stddev"] or 0) * 1e3) for n in ("sops", "kubectl-sops")))
EOF
  else
    local a b
    a=$(time_cmd "$2"); b=$(time_cmd "$3")
    echo "$(cut -d' ' -f1,2 <<<"$a") $(cut -d' ' -f1,2 <<<"$b")"
  fi
}
peak_rss() {    # $1 command line; prints max RSS in MiB over 3 runs
  local cmd=$1 i m=0 k; local -a argv; read -r -a argv <<<"$cmd"
  for i in 1 2 3; do
    /usr/bin/time -f %M -o "$T/rss" "${argv[@]}" >/dev/null 2>"$T/rss.err" || { cat "$T/rss.err" >&2; die "\`$cmd\` failed"; }
    k=$(tail -n1 "$T/rss"); ((k > m)) && m=$k
  done
  awk -v k="$m" 'BEGIN { printf "%.1f\n", k / 1024 }'
}

RES=$T/results.tsv; : >"$RES"
for c in "${CASES[@]}"; do
  IFS='|' read -r name scmd kcmd <<<"$c"
  log "timing $name ($RUNS runs, $WARMUP warmup)"
  read -r sm ss km ks < <(time_pair "$name" "$scmd" "$kcmd")
  sr=$(peak_rss "$scmd"); kr=$(peak_rss "$kcmd")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$sm" "$ss" "$km" "$ks" "$sr" "$kr" >>"$RES"
done

# ------------------------------------------------------------------ table
echo
printf 'small.yaml %s B, large.yaml %s B (10,000 leaves); %s runs each; timer: %s\n' \
  "$(wc -c <small.yaml)" "$(wc -c <large.yaml)" "$RUNS" "$([[ -n $HYPERFINE ]] && echo hyperfine || echo 'shell loop')"
awk -F'\t' 'BEGIN {
    printf "%-13s %18s %18s %9s %10s %10s %9s\n", "case", "sops ms", "kubectl-sops ms", "speedup", "sops MiB", "ks MiB", "RSS ratio"
    printf "%-13s %18s %18s %9s %10s %10s %9s\n", "----", "-------", "---------------", "-------", "--------", "------", "---------" }
  { printf "%-13s %10.2f ±%6.2f %10.2f ±%6.2f %8.2fx %10.1f %10.1f %8.2fx\n", $1, $2, $3, $4, $5, ($4 > 0 ? $2 / $4 : 0), $6, $7, ($7 > 0 ? $6 / $7 : 0) }' "$RES"
echo "(speedup = sops time / kubectl-sops time; RSS ratio = sops peak RSS / kubectl-sops peak RSS; >1 favours kubectl-sops)"
