#!/bin/sh
# Install hook of the `secrets` helm plugins (plugin.yaml, plugins/helm4/*/plugin.yaml, and the
# release archives made by scripts/release.sh). Makes sure "$HELM_PLUGIN_DIR/bin/helm-secrets" runs:
#   1. $HELM_SECRETS_BINARY when set (a prebuilt binary, e.g. a debug build): linked, not copied;
#   2. a release archive (no Cargo.toml beside this script): the static binary shipped in the archive
#      at bin/helm-secrets, used as it is; nothing is built or downloaded;
#   3. a git checkout: <repo>/target/release/helm-secrets when present, else
#      `cargo build --release -p helm-secrets`; copied (not linked), so `cargo clean` does not break
#      the installed plugin. Without a binary and without cargo it fails in one line saying what to do.
set -eu

say() { printf '[helm-secrets] %s\n' "$*" >&2; }

plugin_dir=${HELM_PLUGIN_DIR:?HELM_PLUGIN_DIR is not set (this script is run by helm plugin install)}
# the physical plugin dir (helm installs local plugins as a symlink)
plugin_dir=$(cd -P "$plugin_dir" && pwd)
repo=$(cd -P "$(dirname "$0")/.." && pwd)
bin=$plugin_dir/bin/helm-secrets

install_binary() { # $1 source  $2 link|copy: replace bin/helm-secrets atomically
    mkdir -p "$plugin_dir/bin"
    tmp=$plugin_dir/bin/.helm-secrets.$$
    if [ "$2" = link ]; then
        set -- "$(cd -P "$(dirname "$1")" && pwd)/$(basename "$1")" "$2"
        ln -s "$1" "$tmp" || { say "could not link $1 to $bin"; exit 1; }
    else
        { cp "$1" "$tmp" && chmod 0755 "$tmp"; } || { rm -f "$tmp"; say "could not copy $1 to $bin"; exit 1; }
    fi
    # concurrent installs (tests) never see a half-written binary
    mv -f "$tmp" "$bin" || { rm -f "$tmp"; say "could not move $tmp to $bin"; exit 1; }
}

if [ -n "${HELM_SECRETS_BINARY:-}" ]; then
    if [ ! -x "$HELM_SECRETS_BINARY" ] || [ -d "$HELM_SECRETS_BINARY" ]; then
        say "HELM_SECRETS_BINARY=$HELM_SECRETS_BINARY is not an executable file"
        exit 1
    fi
    install_binary "$HELM_SECRETS_BINARY" link
elif [ ! -f "$repo/Cargo.toml" ]; then
    # a release archive: the binary came with it
    if [ ! -x "$bin" ]; then
        say "this plugin archive has no bin/helm-secrets; install a release archive (helm-secrets_<version>.tgz), or set HELM_SECRETS_BINARY=/path/to/helm-secrets and reinstall"
        exit 1
    fi
else
    src=${CARGO_TARGET_DIR:-$repo/target}/release/helm-secrets
    if [ ! -x "$src" ]; then
        if ! command -v cargo >/dev/null 2>&1; then
            say "no helm-secrets binary at $src and no cargo on PATH: install a release archive instead (helm plugin install <URL of helm-secrets_<version>.tgz>), or build it (https://rustup.rs, then cargo build --release -p helm-secrets), or set HELM_SECRETS_BINARY=/path/to/helm-secrets; then reinstall the plugin"
            exit 1
        fi
        say "building helm-secrets (cargo build --release -p helm-secrets in $repo; takes a few minutes)"
        (cd "$repo" && cargo build --release --quiet -p helm-secrets) || {
            say "cargo build failed; build it by hand or set HELM_SECRETS_BINARY=/path/to/helm-secrets and reinstall"
            exit 1
        }
    fi
    install_binary "$src" copy
fi

if ! version=$("$bin" --version 2>/dev/null); then
    say "$bin does not run on this machine ($(uname -sm)); the release binaries are for Linux x86_64"
    exit 1
fi
say "installed helm-secrets $version into $plugin_dir/bin"

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
