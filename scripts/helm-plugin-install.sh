#!/bin/sh
# Install hook of the `secrets` helm plugins (plugin.yaml, plugins/helm4/*/plugin.yaml).
# Puts a working helm-secrets binary at "$HELM_PLUGIN_DIR/bin/helm-secrets":
#   1. $HELM_SECRETS_BINARY when set (a prebuilt binary, e.g. a debug build): linked, not copied;
#   2. <repo>/target/release/helm-secrets when present;
#   3. otherwise `cargo build --release -p helm-secrets` in the repo.
# Otherwise the binary is copied (not linked), so `cargo clean` does not break the installed plugin.
set -eu

say() { printf '[helm-secrets] %s\n' "$*" >&2; }

plugin_dir=${HELM_PLUGIN_DIR:?HELM_PLUGIN_DIR is not set (this script is run by helm plugin install)}
# the physical plugin dir (helm installs local plugins as a symlink)
plugin_dir=$(cd -P "$plugin_dir" && pwd)
repo=$(cd -P "$(dirname "$0")/.." && pwd)

src=${HELM_SECRETS_BINARY:-}
if [ -z "$src" ]; then
    target=${CARGO_TARGET_DIR:-$repo/target}
    src=$target/release/helm-secrets
    if [ ! -x "$src" ]; then
        if command -v cargo >/dev/null 2>&1; then
            say "building helm-secrets (cargo build --release -p helm-secrets in $repo; takes a few minutes)"
            (cd "$repo" && cargo build --release --quiet -p helm-secrets) || {
                say "cargo build failed; build it by hand or set HELM_SECRETS_BINARY=/path/to/helm-secrets and reinstall"
                exit 1
            }
        else
            say "no helm-secrets binary at $src and no cargo on PATH: install Rust (https://rustup.rs) or set HELM_SECRETS_BINARY=/path/to/helm-secrets, then reinstall the plugin"
            exit 1
        fi
    fi
fi
if [ ! -x "$src" ]; then
    say "$src is not an executable file"
    exit 1
fi
mkdir -p "$plugin_dir/bin"
tmp=$plugin_dir/bin/.helm-secrets.$$
if [ -n "${HELM_SECRETS_BINARY:-}" ]; then
    src=$(cd -P "$(dirname "$src")" && pwd)/$(basename "$src")
    put() { ln -s "$src" "$tmp"; }
else
    put() { cp "$src" "$tmp" && chmod 0755 "$tmp"; }
fi
# replace atomically: concurrent installs (tests) never see a half-written binary
put && mv -f "$tmp" "$plugin_dir/bin/helm-secrets" || {
    rm -f "$tmp"
    say "could not copy $src to $plugin_dir/bin/helm-secrets"
    exit 1
}
if ! "$plugin_dir/bin/helm-secrets" --version >/dev/null 2>&1; then
    say "$plugin_dir/bin/helm-secrets does not run"
    exit 1
fi
say "installed $("$plugin_dir/bin/helm-secrets" --version) into $plugin_dir/bin"

# Two plugins named `secrets` in one plugins dir: Helm 4 loads neither, Helm 3 refuses both.
name=$(sed -n 's/^name: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$plugin_dir/plugin.yaml" | head -n 1)
for other in "$(dirname "$HELM_PLUGIN_DIR")"/*/plugin.yaml; do
    [ -f "$other" ] || continue
    other_dir=$(cd -P "$(dirname "$other")" && pwd)
    [ "$other_dir" = "$plugin_dir" ] && continue
    if grep -Eq "^name: *\"?$name\"? *\$" "$other"; then
        say "WARNING: $(dirname "$other") is also a plugin named '$name'; remove one of them (helm plugin uninstall $name, then reinstall): with two, Helm 4 loads neither"
    fi
done
