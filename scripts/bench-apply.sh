#!/usr/bin/env bash
# Benchmark `kubectl sops apply` against `sops decrypt FILE | kubectl apply --server-side -f -` on
# the local control plane (real etcd + kube-apiserver from scripts/peers.sh), side by side in one run.
#
# usage: scripts/bench-apply.sh [N...]      (default: 100 1000 Secrets in one sealed multi-doc file)
#
#   For each N: a file of N Secrets (4 keys each, data + stringData) sealed with kubectl-sops to the
#   public test key; two cases, each tool in its own fresh namespace:
#     create   every run creates the N Secrets (hyperfine --prepare deletes them first)
#     reapply  every run re-applies the same N Secrets (a no-op on the server: the GitOps steady state)
#   Before timing, both paths are run once and the stored Secrets compared (same data).
#
# env:  BENCH_RUNS (5)  BENCH_WARMUP (1)  BENCH_KSOPS=path (skip cargo build --release)
#       BENCH_KEEP=1 (keep the temp dir and the control plane)
set -euo pipefail

BENCH_NAME=bench-apply
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
KEY=$WS/../shared/vectors/sops/keys/gen_age_a.txt

[[ -f $KEY ]] || die "age key $KEY not found (shared/ must sit beside the clone)"
KEY=$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")
R=$(sed -n 's/^# public key: \(age1[0-9a-z]*\)$/\1/p' "$KEY" | head -n1)
ensure_hyperfine || die "hyperfine is required (apt-get install hyperfine)"

bash "$WS/scripts/peers.sh" build sops kubectl etcd kube-apiserver
eval "$(bash "$WS/scripts/peers.sh" env | sed 's/^/export /')"
BIN=$KSOPS_PEERS_BIN
KSOPS=${BENCH_KSOPS:-$(release_bin kubectl-sops)}

bench_tmpdir
scrub_env
export KSOPS_PEERS_RUN=$T/plane
bench_on_exit() {
  [[ -n ${BENCH_KEEP:-} ]] || bash "$WS/scripts/peers.sh" down >/dev/null 2>&1 || true
}
bash "$WS/scripts/peers.sh" up >&2
export KUBECONFIG=$T/plane/kubeconfig HOME=$T SOPS_AGE_KEY_FILE=$KEY SOPS_DISABLE_VERSION_CHECK=1
K=$BIN/kubectl

for N in "${@:-100 1000}"; do
  for n in $N; do
    f=$T/secrets-$n.yaml
    python3 - "$n" >"$f" <<'PY'
import base64, sys
n = int(sys.argv[1])
for i in range(n):
    b = lambda s: base64.b64encode(s.encode()).decode()
    print(f"""---
apiVersion: v1
kind: Secret
metadata:
  name: s-{i:05d}
  labels:
    app: bench
type: Opaque
data:
  username: {b(f'user-{i}')}
  token: {b(f'token-{i:08d}-abcdefghijklmnop')}
stringData:
  password: pw-{i:08d}-xyz
  url: https://db-{i}.example:5432/app""")
PY
    "$KSOPS" seal --age "$R" "$f" >"$T/secrets-$n.enc.yaml"
    enc=$T/secrets-$n.enc.yaml
    ours=b-ours-$n-$$; theirs=b-sops-$n-$$
    "$K" create namespace "$ours" >/dev/null; "$K" create namespace "$theirs" >/dev/null
    "$KSOPS" apply -f "$enc" -n "$ours" >/dev/null
    "$BIN/sops" decrypt "$enc" | "$K" apply --server-side -n "$theirs" -f - >/dev/null
    a=$("$K" get secrets -n "$ours" -o jsonpath='{range .items[*]}{.metadata.name}{.data}{"\n"}{end}' | sha256sum)
    b=$("$K" get secrets -n "$theirs" -o jsonpath='{range .items[*]}{.metadata.name}{.data}{"\n"}{end}' | sha256sum)
    [[ $a == "$b" ]] || die "N=$n: the two paths stored different Secrets"
    log "N=$n: both paths store the same $n Secrets"
    hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$T/create-$n.json" \
      --prepare "$K delete secrets --all -n $ours --wait=false" \
      -n "kubectl-sops apply (create $n)" "$KSOPS apply -f $enc -n $ours" >&2
    hyperfine --runs "$RUNS" --warmup "$WARMUP" --export-json "$T/create-sops-$n.json" \
      --prepare "$K delete secrets --all -n $theirs --wait=false" \
      -n "sops decrypt | kubectl apply --server-side (create $n)" \
      "$BIN/sops decrypt $enc | $K apply --server-side -n $theirs -f - >/dev/null" >&2
    hyperfine --runs "$RUNS" --warmup "$WARMUP" --export-json "$T/reapply-$n.json" \
      -n "kubectl-sops apply (reapply $n)" "$KSOPS apply -f $enc -n $ours >/dev/null" \
      -n "sops decrypt | kubectl apply --server-side (reapply $n)" \
      "$BIN/sops decrypt $enc | $K apply --server-side -n $theirs -f - >/dev/null" >&2
    python3 - "$T" "$n" <<'PY'
import json, sys
t, n = sys.argv[1], sys.argv[2]
mean = lambda f, i=0: json.load(open(f"{t}/{f}"))["results"][i]["mean"]
c_ours, c_sops = mean(f"create-{n}.json"), mean(f"create-sops-{n}.json")
r_ours, r_sops = mean(f"reapply-{n}.json", 0), mean(f"reapply-{n}.json", 1)
print(f"| {n} Secrets, create | {c_sops*1000:.0f} ms | {c_ours*1000:.0f} ms | {c_sops/c_ours:.1f}x |")
print(f"| {n} Secrets, re-apply | {r_sops*1000:.0f} ms | {r_ours*1000:.0f} ms | {r_sops/r_ours:.1f}x |")
PY
  done
done
