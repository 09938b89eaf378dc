#!/usr/bin/env bash
# The project's test command (README.md "Set up"; .ci/run calls exactly this).
# Installs the real peers the end-to-end tests need into a cache outside the clone, starts a local
# control plane (real etcd + kube-apiserver on loopback, `scripts/peers.sh up`) for the cluster tests,
# then runs formatting, lints and every test of the workspace. The control plane is stopped on exit.
# With KSOPS_TEST_KUBECONFIG already set (a plane you started yourself), that one is used instead.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }
# CI builds every fresh clone in one target dir outside the clone (like the peers cache), so the
# dependencies (kube, the AWS SDK, the static release build of the release test) are compiled once
# per machine; cargo locks it, and the workspace's own crates are rebuilt from each clone's sources.
if [[ ${CI:-} == true && -z ${CARGO_TARGET_DIR:-} ]]; then
  export CARGO_TARGET_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-target
fi
bash scripts/peers.sh build

log=$(mktemp)
cp_dir=
up_pid=
stop_plane() {
  if [[ -n $cp_dir ]]; then
    if [[ -n $up_pid ]]; then wait "$up_pid" 2>/dev/null || true; fi   # an `up` still starting
    bash scripts/peers.sh down || true
    rm -rf "$cp_dir"
    cp_dir=
  fi
}
trap 'stop_plane; rm -f "$log"' EXIT

# Our own state dir per run, so concurrent runs (other clones, other worktrees) never share a plane.
# It starts in the background while fmt and clippy run; `wait` collects it before the tests.
if [[ -z ${KSOPS_TEST_KUBECONFIG:-} ]]; then
  cp_dir=$(mktemp -d "${TMPDIR:-/tmp}/ksops-cp.XXXXXX")
  export KSOPS_PEERS_RUN=$cp_dir/run
  bash scripts/peers.sh up &
  up_pid=$!
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

if [[ -n $up_pid ]]; then
  up_rc=0
  wait "$up_pid" || up_rc=$?
  up_pid=
  ((up_rc == 0)) || { echo "test.sh: the local control plane did not start (see above)" >&2; exit 1; }
fi
set -a
eval "$(bash scripts/peers.sh env)"
set +a

status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
stop_plane   # now, so that the summary below stays the last line
# one closing line for the whole run (cargo prints one `test result:` line per test binary)
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
