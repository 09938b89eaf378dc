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
#   kubectl-sops is the release binary: `scripts/release.sh` (static, cached build) into the temp dir.
#
#   Timing: shell-loop blocks. A round runs a block of N sops commands in one bash loop, then a block
#   of N kubectl-sops commands, timed around each block (no per-run fork of `date`, whose cost would
#   flatten the ratio); BENCH_ROUNDS rounds alternate the two so that load on a shared machine hits
#   both alike. Reported: per-run ms (median over rounds) and the median of the per-round ratios.
#   Peak RSS: GNU /usr/bin/time -f %M (apt `time`), max over 3 runs.
#
# env:  BENCH_ROUNDS (5)  BENCH_BLOCK (40 runs of the small case per block)
#       BENCH_BLOCK_LARGE (4 runs of the large cases per block)  BENCH_KEEP=1 (keep the temp dir)
#       BENCH_KSOPS=path (use this kubectl-sops, e.g. target/release/kubectl-sops; skips release.sh)
#       BENCH_SOPS=path  (use this sops, skip `scripts/peers.sh build sops`)
#       BENCH_AGE_KEY_FILE=path
set -euo pipefail

BENCH_NAME=bench
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=${BENCH_ROUNDS:-5}
BLOCK=${BENCH_BLOCK:-40}
BLOCK_LARGE=${BENCH_BLOCK_LARGE:-4}
KEY=${BENCH_AGE_KEY_FILE:-$WS/../shared/vectors/sops/keys/gen_age_a.txt}

# ------------------------------------------------------------------ tools
command -v python3 >/dev/null || die "python3 is required (input generator, result parsing)"
if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
  apt_install time || die "GNU time (/usr/bin/time, apt package 'time') is required for peak RSS"
fi
[[ -f $KEY ]] || die "age key $KEY not found (shared/ must sit beside the clone, or set BENCH_AGE_KEY_FILE)"
KEY=$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")
R=$(sed -n 's/^# public key: \(age1[0-9a-z]*\)$/\1/p' "$KEY" | head -n1)
[[ $R == age1* ]] || die "no '# public key: age1…' line in $KEY"

# ------------------------------------------------------------------ binaries
SOPS=$(sops_peer)
bench_tmpdir
if [[ -n ${BENCH_KSOPS:-} ]]; then
  KSOPS=$(abs_exe "$BENCH_KSOPS" kubectl-sops)
else
  log "release binaries: bash scripts/release.sh --out $T/dist"
  bash "$HERE/release.sh" --out "$T/dist" 2>"$T/release.log" || { cat "$T/release.log" >&2; die "scripts/release.sh failed"; }
  KSOPS=$(abs_exe "$(ls "$T"/dist/kubectl-sops_*_linux_amd64 | head -n1)" kubectl-sops)
fi

# ------------------------------------------------------------------ inputs (isolated env)
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

block_ns() {    # $1 runs, rest: command; runs it $1 times in this shell's loop, prints the total ns
  local n=$1 t0 t1 i; shift
  t0=$(date +%s%N)
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>"$T/loop.err" || { cat "$T/loop.err" >&2; die "\`$*\` failed"; }; done
  t1=$(date +%s%N)
  echo $((t1 - t0))
}
time_pair() {   # $1 case  $2 sops cmd  $3 ksops cmd  $4 runs per block; prints "sops_ms ks_ms speedup min max"
  local n=$4 r s k; local -a sa ka; read -r -a sa <<<"$2"; read -r -a ka <<<"$3"
  block_ns 2 "${sa[@]}" >/dev/null; block_ns 2 "${ka[@]}" >/dev/null   # warm caches
  for ((r = 0; r < ROUNDS; r++)); do
    s=$(block_ns "$n" "${sa[@]}"); k=$(block_ns "$n" "${ka[@]}")
    printf '%s %s\n' "$s" "$k"
  done >"$T/$1.rounds"
  awk -v n="$n" '
    function median(a, m,   i, j, t) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
    { s[NR] = $1 / n / 1e6; k[NR] = $2 / n / 1e6; q[NR] = $1 / $2; if (NR == 1 || q[NR] < lo) lo = q[NR]; if (q[NR] > hi) hi = q[NR] }
    END { printf "%.2f %.2f %.2f %.2f %.2f\n", median(s, NR), median(k, NR), median(q, NR), lo, hi }' "$T/$1.rounds"
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
  n=$BLOCK; [[ $name == *-large ]] && n=$BLOCK_LARGE
  log "timing $name ($ROUNDS rounds of $n sops runs, then $n kubectl-sops runs)"
  read -r sm km q lo hi < <(time_pair "$name" "$scmd" "$kcmd" "$n")
  sr=$(peak_rss "$scmd"); kr=$(peak_rss "$kcmd")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$sm" "$km" "$q" "$lo" "$hi" "$sr" "$kr" >>"$RES"
done

# ------------------------------------------------------------------ table
echo
printf 'small.yaml %s B, large.yaml %s B (10,000 leaves); %s alternating rounds, blocks of %s (small) / %s (large) runs in a shell loop\n' \
  "$(wc -c <small.yaml)" "$(wc -c <large.yaml)" "$ROUNDS" "$BLOCK" "$BLOCK_LARGE"
printf 'kubectl-sops: %s (%s)\n' "$KSOPS" "$("$KSOPS" --version)"
awk -F'\t' 'BEGIN {
    printf "%-13s %9s %17s %9s %13s %10s %10s %9s\n", "case", "sops ms", "kubectl-sops ms", "speedup", "round range", "sops MiB", "ks MiB", "RSS ratio"
    printf "%-13s %9s %17s %9s %13s %10s %10s %9s\n", "----", "-------", "---------------", "-------", "-----------", "--------", "------", "---------" }
  { printf "%-13s %9.2f %17.2f %8.2fx %6.1f-%5.1fx %10.1f %10.1f %8.2fx\n", $1, $2, $3, $4, $5, $6, $7, $8, ($8 > 0 ? $7 / $8 : 0) }' "$RES"
echo "(ms = per run, median over rounds; speedup = median of the per-round sops/kubectl-sops block ratios;"
echo " RSS ratio = sops peak RSS / kubectl-sops peak RSS; >1 favours kubectl-sops)"
