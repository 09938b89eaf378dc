# shellcheck shell=bash
# Boilerplate shared by the bench scripts (bench.sh, bench-apply.sh, bench-helm.sh, bench-kms.sh,
# bench-pq.sh, bench-rekey.sh). Source it right after `set -euo pipefail`:
#
#   BENCH_NAME=bench-pq
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets HERE (this scripts/ dir) and WS (the workspace root) and defines:
#   log MSG… / die MSG…     messages on stderr prefixed with "$BENCH_NAME:" (die exits 1)
#   apt_install PKG…        Debian packages, only as root with apt-get (one `apt-get update` per run)
#   ensure_hyperfine        hyperfine on PATH, else installed with apt_install; status 1 when neither
#   target_dir              cargo's target directory of the workspace (follows CARGO_TARGET_DIR)
#   release_bin PKG [BIN]   `cargo build --release -p PKG --bin BIN`, then prints the binary's path
#   abs_exe PATH NAME       PATH made absolute; dies "NAME not found at PATH" unless executable
#   sops_peer               $BENCH_SOPS, else the pinned sops from `scripts/peers.sh build sops`
#   bench_tmpdir            T=a fresh temp dir, removed on exit (BENCH_KEEP=1 keeps it); a script may
#                           define bench_on_exit, which runs first (e.g. to stop a control plane)
#   scrub_env               unsets what a developer's setup would leak into sops and kubectl:
#                           SOPS_*, AGE*, GNUPGHOME, XDG_CONFIG_HOME, AWS_*, VAULT_*, GOOGLE_*,
#                           AZURE_*, ARM_*, KUBECONFIG

: "${BENCH_NAME:=$(basename "$0" .sh)}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WS=$(dirname "$HERE")

log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

APT_UPDATED=
apt_install() {
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
  if [[ -z $APT_UPDATED ]]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1; APT_UPDATED=1; fi
  log "apt-get install $*"
  local out; out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" 2>&1) \
    || { printf '%s\n' "$out" >&2; return 1; }
}

ensure_hyperfine() { command -v hyperfine >/dev/null || apt_install hyperfine; }

target_dir() {
  (cd "$WS" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
}

release_bin() {
  local pkg=$1 bin=${2:-$1}
  log "cargo build --release -p $pkg"
  (cd "$WS" && cargo build --release --quiet -p "$pkg" --bin "$bin") \
    || die "cargo build --release -p $pkg failed"
  local path; path=$(target_dir)/release/$bin
  [[ -x $path ]] || die "$bin not found at $path"
  echo "$path"
}

abs_exe() {
  [[ -x $1 ]] || die "$2 not found at $1"
  echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

sops_peer() {
  local s=${BENCH_SOPS:-}
  if [[ -z $s ]]; then
    "$HERE/peers.sh" build sops >&2
    s=$(set -a; eval "$("$HERE/peers.sh" env)"; echo "$KSOPS_PEERS_BIN/sops")
  fi
  abs_exe "$s" sops
}

bench_tmpdir() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/ksops-$BENCH_NAME.XXXXXX")
  [[ -z ${BENCH_KEEP:-} ]] || log "keeping $T"
  trap _bench_exit EXIT
}
_bench_exit() {
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  [[ -n ${BENCH_KEEP:-} ]] || rm -rf "$T"
}

scrub_env() {
  local v
  while read -r v; do unset "$v"; done < <(compgen -e \
    | grep -E '^(SOPS_|AGE|GNUPGHOME$|XDG_CONFIG_HOME$|AWS_|VAULT_|GOOGLE_|AZURE_|ARM_|KUBECONFIG$)' || true)
}
