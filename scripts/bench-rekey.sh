#!/usr/bin/env bash
# Time `kubectl-sops rekey -y` against real `sops updatekeys -y` on many age-encrypted files.
#
# usage: scripts/bench-rekey.sh [N]          (N files, default 1000)
#
#   N small Kubernetes Secrets are encrypted by real sops 3.13.2 for recipient A (public test key
#   shared/vectors/sops/keys/gen_age_a.txt); two identical copies are made. .sops.yaml then adds
#   recipient B, and each tool updates its copy in one run (a single timed run each). Afterwards every
#   file must hold B, and a sample of each copy must decrypt with real sops using key B; kubectl-sops'
#   files must keep every value line byte for byte. Prints both times and the ratio.
#
# env:  BENCH_KSOPS=path (use this kubectl-sops, skip `cargo build --release`)
#       BENCH_SOPS=path  (use this sops, skip `scripts/peers.sh build sops`)
#       BENCH_KEEP=1 (keep the temp dir)   BENCH_KEYS=dir (the gen_age_*.txt keys)
set -euo pipefail

BENCH_NAME=bench-rekey
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${1:-1000}
KEYS=${BENCH_KEYS:-$WS/../shared/vectors/sops/keys}

[[ $N =~ ^[0-9]+$ ]] && ((N > 0)) || die "N must be a positive number"
[[ -f $KEYS/gen_age_a.txt && -f $KEYS/gen_age_b.txt ]] || die "test keys not found in $KEYS (set BENCH_KEYS)"
KEYS=$(cd "$KEYS" && pwd)
pub() { sed -n 's/^# public key: \(age1[0-9a-z]*\)$/\1/p' "$1" | head -n1; }
A=$(pub "$KEYS/gen_age_a.txt")
B=$(pub "$KEYS/gen_age_b.txt")

# ------------------------------------------------------------------ binaries
SOPS=$(sops_peer)
KSOPS=$(abs_exe "${BENCH_KSOPS:-$(release_bin kubectl-sops)}" kubectl-sops)

# ------------------------------------------------------------------ inputs (isolated env)
bench_tmpdir
cd "$T"
scrub_env
export HOME=$T SOPS_AGE_KEY_FILE=$KEYS/gen_age_a.txt SOPS_DISABLE_VERSION_CHECK=1

log "sops:         $SOPS ($("$SOPS" --version 2>/dev/null | head -n1))"
log "kubectl-sops: $KSOPS"
log "cpus:         $(nproc 2>/dev/null || echo ?)"
log "encrypting $N files with sops (recipient A)"
printf 'creation_rules:\n  - path_regex: ^(ours|theirs)/\n    encrypted_regex: ^(data|stringData)$\n    age: %s\n' "$A" >.sops.yaml
mkdir -p plain ours theirs
for ((i = 0; i < N; i++)); do
  f=$(printf 's%04d.yaml' "$i")
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n    name: s%d\ndata:\n    password: %s\n    user: YXBw\n' \
    "$i" "$(printf 'secret-%d' "$i" | base64)" >"plain/$f"
  "$SOPS" encrypt --filename-override "ours/$f" "plain/$f" >"ours/$f" || die "sops encrypt failed on $f"
done
cp ours/*.yaml theirs/
printf 'creation_rules:\n  - path_regex: ^(ours|theirs)/\n    encrypted_regex: ^(data|stringData)$\n    age: %s,%s\n' "$A" "$B" >.sops.yaml

# ------------------------------------------------------------------ timed runs
now() { date +%s%N; }
t0=$(now)
"$KSOPS" rekey -y ours/*.yaml >ours.out 2>ours.err || { cat ours.err >&2; die "kubectl-sops rekey failed"; }
t1=$(now)
"$SOPS" updatekeys -y theirs/*.yaml >theirs.out 2>theirs.err || { tail -n 20 theirs.err >&2; die "sops updatekeys failed"; }
t2=$(now)

# ------------------------------------------------------------------ checks
[[ $(grep -c ": updated (+$B)" ours.out) == "$N" ]] || die "kubectl-sops did not report $N updated files"
for d in ours theirs; do
  [[ $(grep -l "$B" "$d"/*.yaml | wc -l) == "$N" ]] || die "not every file in $d/ holds recipient B"
done
for f in $(ls ours | head -n 3) $(ls ours | tail -n 2); do
  for d in ours theirs; do
    SOPS_AGE_KEY_FILE=$KEYS/gen_age_b.txt "$SOPS" decrypt "$d/$f" | cmp -s - "plain/$f" \
      || die "$d/$f does not decrypt to its plaintext with key B"
  done
done
for f in ours/*.yaml; do
  # sops updatekeys leaves values, lastmodified and mac alone; so must we
  theirs_lines=$(grep -E 'ENC\[|lastmodified' "theirs/${f#ours/}")
  ours_lines=$(grep -E 'ENC\[|lastmodified' "$f")
  [[ $ours_lines == "$theirs_lines" ]] || die "value/mac/lastmodified lines of $f differ from sops updatekeys' output"
done

ms() { echo $((($2 - $1) / 1000000)); }
OURS_MS=$(ms "$t0" "$t1")
THEIRS_MS=$(ms "$t1" "$t2")
printf '%-36s %8s ms\n' "kubectl-sops rekey -y ($N files)" "$OURS_MS" "sops updatekeys -y ($N files)" "$THEIRS_MS"
python3 -c "import sys; o,t=int(sys.argv[1]),int(sys.argv[2]); print(f'ratio: sops/kubectl-sops = {t/max(o,1):.1f}x')" "$OURS_MS" "$THEIRS_MS"
