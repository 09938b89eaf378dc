#!/usr/bin/env bash
# Unseal through the key services, kubectl-sops vs sops 3.13.2 on the same servers, side by side:
#   vault   a Secret sealed by sops with a Vault transit key (OpenBao dev server)
#   kms     a Secret sealed by sops with an AWS KMS key (local-kms, seeded test key)
#   age     the small age-only Secret (no key service), to see start-up with the SDK linked
# Servers run on free 127.0.0.1 ports and are stopped on exit. Peers: scripts/peers.sh build
# sops openbao local-kms. Timing: hyperfine (BENCH_RUNS, default 20).
#
# usage: scripts/bench-kms.sh [KSOPS_BIN [KSOPS_BIN_WITHOUT_AWS]]
#   KSOPS_BIN defaults to the release kubectl-sops (cargo build --release first); with a second binary
#   (built with --no-default-features, i.e. without the AWS SDK) the age case runs for both.
set -euo pipefail
BENCH_NAME=bench-kms
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scrub_env
ensure_hyperfine || die "hyperfine is required (apt-get install hyperfine)"
ROOT=${KSOPS_PEERS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers}
BIN=${KSOPS_PEERS_BIN:-$ROOT/bin}
SOPS=$(sops_peer); BAO=$(abs_exe "${BENCH_BAO:-$BIN/bao}" bao); LKMS=$(abs_exe "${BENCH_LOCAL_KMS:-$BIN/local-kms}" local-kms)
RUNS=${BENCH_RUNS:-20}
KEY=${BENCH_AGE_KEY_FILE:-$WS/../shared/vectors/sops/keys/gen_age_a.txt}
# always through cargo unless a binary is given: a stale release binary must not stand in
OURS=${1:-$(release_bin kubectl-sops)}; NOAWS=${2:-}

bench_tmpdir; W=$T; pids=()
bench_on_exit() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done; die "server not ready"; }

mkdir -p "$W/home"; cd "$W"
BP=$(port); KP=$(port)
HOME=$W/home "$BAO" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$BP" >bao.log 2>&1 & pids+=($!)
PORT=$KP KMS_REGION=eu-west-2 KMS_ACCOUNT_ID=111122223333 KMS_DATA_PATH=$W/kmsdata \
  KMS_SEED_PATH=$WS/tests/fixtures/kms/local-kms-seed.yaml "$LKMS" >lkms.log 2>&1 & pids+=($!)
wait_for curl -sf "http://127.0.0.1:$BP/v1/sys/health"
curl -sf -H 'X-Vault-Token: root' -d '{"type":"transit"}' "http://127.0.0.1:$BP/v1/sys/mounts/transit" >/dev/null
curl -sf -H 'X-Vault-Token: root' -d '{}' "http://127.0.0.1:$BP/v1/transit/keys/sops" >/dev/null
wait_for curl -sf -X POST -H 'X-Amz-Target: TrentService.ListKeys' -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "http://127.0.0.1:$KP/"

export HOME=$W/home SOPS_DISABLE_VERSION_CHECK=1 VAULT_TOKEN=root AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_ENDPOINT_URL_KMS=http://127.0.0.1:$KP AWS_EC2_METADATA_DISABLED=true
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n    name: demo\nstringData:\n    password: hunter2\n    user: admin\n    host: db.example.com\n    port: "5432"\n    token: abc\n' > small.yaml
ARN=arn:aws:kms:eu-west-2:111122223333:key/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
AGE=$(grep -o 'age1[a-z0-9]*' "$KEY" | head -1)
"$SOPS" encrypt --hc-vault-transit "http://127.0.0.1:$BP/v1/transit/keys/sops" small.yaml > vault.enc.yaml
"$SOPS" encrypt --kms "$ARN" small.yaml > kms.enc.yaml
"$SOPS" encrypt --age "$AGE" small.yaml > age.enc.yaml
for f in vault kms; do   # check before timing
  cmp <("$OURS" unseal "$f.enc.yaml") small.yaml || die "$f unseal differs"
done
hyperfine -N --runs "$RUNS" --warmup 3 --export-markdown vault.md \
  -n "sops decrypt (vault)" "$SOPS decrypt vault.enc.yaml" -n "kubectl-sops unseal (vault)" "$OURS unseal vault.enc.yaml" >&2
hyperfine -N --runs "$RUNS" --warmup 3 --export-markdown kms.md \
  -n "sops decrypt (kms)" "$SOPS decrypt kms.enc.yaml" -n "kubectl-sops unseal (kms)" "$OURS unseal kms.enc.yaml" >&2
export SOPS_AGE_KEY_FILE=$KEY
args=(-n "sops decrypt (age)" "$SOPS decrypt age.enc.yaml" -n "kubectl-sops unseal (age)" "$OURS unseal age.enc.yaml")
[[ -n $NOAWS ]] && args+=(-n "kubectl-sops without AWS SDK (age)" "$NOAWS unseal age.enc.yaml")
hyperfine -N --runs "$((RUNS * 10))" --warmup 10 --export-markdown age.md "${args[@]}" >&2
cat vault.md kms.md age.md
ls -l "$OURS" ${NOAWS:+"$NOAWS"} | awk '{print "size", $5, $9}'
