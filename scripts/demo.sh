#!/usr/bin/env bash
# The README's main job in one command: seal a Secret, review a change without keys, apply it to a
# real (local) Kubernetes API server with `kubectl sops apply`, and read it back with real kubectl.
#
# usage: bash scripts/demo.sh [--keep]
#   --keep   leave the control plane (and the demo dir with the throw-away key) running/in place and
#            print the `export KUBECONFIG=...` line, and the one stop command that stops the plane
#            and removes the demo dir with the throw-away key.
#
# Builds what is missing first, with progress: the peers etcd, kube-apiserver and kubectl
# (scripts/peers.sh, cached in ~/.cache/kubectl-sops-peers; minutes when cold) and both plugins,
# kubectl-sops and helm-secrets (cargo build --release; a fresh clone compiles for several
# minutes, so a later `helm plugin install` finds helm-secrets built). The control plane is real etcd + kube-apiserver on 127.0.0.1 with its
# own state dir ($KSOPS_PEERS_RUN, default <peers cache>/run-demo); a plane kept by an earlier
# `--keep` run is reused. Non-interactive: stdin is never read (fine under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD

keep=
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument '$a' (usage: bash scripts/demo.sh [--keep])" >&2; exit 2 ;;
  esac
done
exec </dev/null

PEERS_ROOT="${KSOPS_PEERS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers}"
export KSOPS_PEERS_RUN="${KSOPS_PEERS_RUN:-$PEERS_ROOT/run-demo}"
# keys and recipients from the caller's environment must not change what the demo shows
unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_RECIPIENTS SOPS_AGE_SSH_PRIVATE_KEY_FILE \
  SOPS_PGP_FP SOPS_CONFIG KUBECONFIG

step=0
STEPS=7
t_start=$(date +%s.%N)
say() { step=$((step + 1)); printf '\n==> [%d/%d] %s\n' "$step" "$STEPS" "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }    # show a command, then run it
die() { printf 'demo: ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }

# ------------------------------------------------------------------ cleanup
work=
cleanup() {
  local rc=$?
  if [[ -n $keep && $rc == 0 ]]; then
    printf '\nThe control plane keeps running. To use it:\n'
    printf '  export KUBECONFIG=%q\n' "$KSOPS_PEERS_RUN/kubeconfig"
    printf '  export PATH=%q:%q:"$PATH"    # kubectl-sops and kubectl\n' "$ROOT_DIR/target/release" "$PEERS_ROOT/bin"
    printf '  export SOPS_AGE_KEY_FILE=%q    # the throw-away demo key\n' "$work/age-key.txt"
    printf 'Stop it and remove the throw-away key (%s) with:\n' "$work"
    printf '  KSOPS_PEERS_RUN=%q bash %q down && rm -rf %q\n' "$KSOPS_PEERS_RUN" "$ROOT_DIR/scripts/peers.sh" "$work"
    return
  fi
  bash "$ROOT_DIR/scripts/peers.sh" down || true
  [[ -n $work ]] && rm -rf "$work"
  ((rc == 0)) || printf 'demo: failed (exit %d); the control plane was stopped\n' "$rc" >&2
}
trap cleanup EXIT

# ------------------------------------------------------------------ 1-2: build what is missing
say "peers: etcd, kube-apiserver, kubectl (scripts/peers.sh; cached after the first build)"
t=$(date +%s.%N)
bash "$ROOT_DIR/scripts/peers.sh" build etcd kube-apiserver kubectl
echo "peers ready in $(elapsed "$t")"

say "kubectl-sops and helm-secrets (cargo build --release; several minutes on a fresh clone)"
command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"
t=$(date +%s.%N)
cargo build --release --locked -p kubectl-sops -p helm-secrets
echo "kubectl-sops and helm-secrets ready in $(elapsed "$t")"
export PATH="$ROOT_DIR/target/release:$PEERS_ROOT/bin:$PATH"   # kubectl finds `kubectl sops` here
[[ $(command -v kubectl) == "$PEERS_ROOT/bin/kubectl" ]] || die "kubectl is not the peer build"

# ------------------------------------------------------------------ 3: the control plane
say "local control plane: real etcd + kube-apiserver on 127.0.0.1"
t=$(date +%s.%N)
bash "$ROOT_DIR/scripts/peers.sh" up
export KUBECONFIG=$KSOPS_PEERS_RUN/kubeconfig
run kubectl version
echo "control plane ready in $(elapsed "$t")"

# a private dir for the key and the encrypted files (tmpfs when there is one)
for base in "${XDG_RUNTIME_DIR:-}" /dev/shm "${TMPDIR:-/tmp}"; do
  [[ -n $base && -d $base && -w $base ]] && break
done
work=$(mktemp -d "$base/kubectl-sops-demo.XXXXXX")
chmod 700 "$work"
cd "$work"

# ------------------------------------------------------------------ 4: seal
say "seal a Secret (the plaintext only passes through a pipe)"
run kubectl sops keygen -o age-key.txt
R=$(sed -n 's/^# public key: //p' age-key.txt)
[[ $R == age1* ]] || die "the generated key has no '# public key:' line"
echo "throw-away age key: $work/age-key.txt (recipient $R)"
echo "\$ kubectl create secret generic db --from-literal=user=app --from-literal=password=hunter2 \\"
echo "    --dry-run=client -o yaml | kubectl sops seal --age \$R - > db.enc.yaml"
kubectl create secret generic db --from-literal=user=app --from-literal=password=hunter2 \
  --dry-run=client -o yaml | kubectl sops seal --age "$R" - >db.enc.yaml
run cat db.enc.yaml

# ------------------------------------------------------------------ 5: review a change, keyless
say "change one value and re-seal onto the file (the author has the key: unchanged values keep their ciphertext)"
run cp db.enc.yaml db.before.enc.yaml
echo "\$ kubectl create secret generic db --from-literal=user=app --from-literal=password=correct-horse \\"
echo "    --dry-run=client -o yaml | SOPS_AGE_KEY_FILE=age-key.txt kubectl sops seal --age \$R --output db.enc.yaml -"
kubectl create secret generic db --from-literal=user=app --from-literal=password=correct-horse \
  --dry-run=client -o yaml | SOPS_AGE_KEY_FILE=age-key.txt kubectl sops seal --age "$R" --output db.enc.yaml -
echo "# the reviewer has no key: the per-field diff names only the changed field"
echo '$ kubectl sops diff db.before.enc.yaml db.enc.yaml'
rc=0
kubectl sops diff db.before.enc.yaml db.enc.yaml || rc=$?
((rc == 1)) || die "kubectl sops diff exited $rc (expected 1: differences)"

# ------------------------------------------------------------------ 6: apply
say "apply to the cluster with kubectl sops apply (decrypted in memory, server-side apply)"
kubectl-sops apply --help >/dev/null 2>&1 ||
  die "this kubectl-sops has no 'apply' command yet (build it from a branch that has it)"
export SOPS_AGE_KEY_FILE=$work/age-key.txt
run kubectl sops apply -f db.enc.yaml
echo '$ kubectl sops diff -f db.enc.yaml    # the file against the live object: nothing left to apply'
rc=0
kubectl sops diff -f db.enc.yaml || rc=$?
((rc == 0)) || die "kubectl sops diff -f exited $rc right after apply (expected 0: no change)"
echo "(exit 0: no change)"
unset SOPS_AGE_KEY_FILE

# ------------------------------------------------------------------ 7: read back with real kubectl
say "read it back with real kubectl"
echo "\$ kubectl get secret db -o jsonpath='{.data.password}' | base64 -d"
pw=$(kubectl get secret db -o jsonpath='{.data.password}' | base64 -d)
printf '%s\n' "$pw"
[[ $pw == correct-horse ]] || die "read back a different password than the one sealed"
echo "\$ kubectl get secret db -o jsonpath='{.metadata.managedFields[*].manager}'"
kubectl get secret db -o jsonpath='{.metadata.managedFields[*].manager}{"\n"}'

printf '\ndemo: done in %s\n' "$(elapsed "$t_start")"
