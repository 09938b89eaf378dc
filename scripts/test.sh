#!/usr/bin/env bash
# The project's test command (README.md "Set up"; .ci/run calls exactly this).
# Installs the real peers the end-to-end tests need into a cache outside the clone, then runs
# formatting, lints and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }
bash scripts/peers.sh build
set -a
eval "$(bash scripts/peers.sh env)"
set +a

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked 2>&1 | tee "$log" || status=$?
# one closing line for the whole run (cargo prints one `test result:` line per test binary)
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
