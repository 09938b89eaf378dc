#!/usr/bin/env bash
# Builds the release files a user installs without Rust.
#
# usage: bash scripts/release.sh [VERSION] [--sign KEY] [--out DIR] [--base-url URL] [--libc gnu|musl] [--pie]
#
#   VERSION     e.g. 0.2.0 or v0.2.0 (default: the workspace version in Cargo.toml)
#   --sign KEY  gpg key (id, fingerprint or email in $GNUPGHOME) that signs the Helm plugin archives:
#               each gets a Helm provenance file <archive>.prov (Helm 4 verifies them by default)
#   --out DIR   where the files go (default: dist/ in the checkout)
#   --base-url  where the files will be published; the krew manifest's `uri` points there
#               (default: $RELEASE_BASE_URL, else https://example.invalid/kubectl-sops/v<VERSION>)
#   --libc      static C library of the binaries: gnu (static glibc, the default, faster) or musl
#               (needs the Rust target x86_64-unknown-linux-musl and musl-gcc, Debian musl-tools)
#   --pie       static-pie instead of a fixed-address executable: the executable image is randomized
#               too (ASLR), at about +45% start-up (the binary relocates ~43k pointers on every run)
#
# Writes into DIR (V = VERSION without a leading v):
#   kubectl-sops_V_linux_amd64.tar.gz   kubectl-sops, kubectl_complete-sops, LICENSE (krew's archive)
#   sops.yaml                           krew manifest for it (from plugins/sops.yaml, sha256 filled in)
#   helm-secrets_V.tgz                  Helm 3 plugin `secrets` (plugin.yaml: wrapper + secrets://)
#   helm-secrets-cli_V.tgz              Helm 4 pair (plugins/helm4): `helm secrets …`
#   helm-secrets-getter_V.tgz                                        and `-f secrets://…`
#   *.tgz.prov, helm-secrets-keyring.gpg  with --sign: provenance files and the public key (binary
#                                       keyring, for `helm plugin install --keyring`)
#   kubectl-sops_V_linux_amd64, helm-secrets_V_linux_amd64   the bare static binaries (Argo CD, images)
#   SHA256SUMS
# The binaries are static Linux x86_64 executables, stripped, and print the version and git commit
# in `--version`. Everything else is reproducible from the commit (sorted tar entries, fixed owner
# and mtime, gzip -n). Needs cargo, git, GNU tar, gzip, sha256sum; gpg with --sign.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WS=$(dirname "$HERE")

log() { printf 'release: %s\n' "$*" >&2; }
die() { printf 'release: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

VERSION= SIGN_KEY= OUT=$WS/dist BASE_URL=${RELEASE_BASE_URL:-} LIBC=gnu PIE=
while (($#)); do
  case $1 in
    --sign) SIGN_KEY=${2:?--sign needs a gpg key id}; shift 2 ;;
    --sign=*) SIGN_KEY=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --base-url) BASE_URL=${2:?--base-url needs a URL}; shift 2 ;;
    --base-url=*) BASE_URL=${1#*=}; shift ;;
    --libc) LIBC=${2:?--libc needs gnu or musl}; shift 2 ;;
    --pie) PIE=1; shift ;;
    --libc=*) LIBC=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z $VERSION ]] || die "more than one VERSION given ($VERSION, $1)"; VERSION=$1; shift ;;
  esac
done

for t in cargo git tar gzip sha256sum; do
  command -v "$t" >/dev/null || die "$t not found on PATH"
done
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is required (reproducible archives)"
[[ -z $SIGN_KEY ]] || command -v gpg >/dev/null || die "--sign needs gpg on PATH"

if [[ -z $VERSION ]]; then
  VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$WS/Cargo.toml" | head -n1)
fi
VERSION=${VERSION#v}
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "VERSION '$VERSION' is not a semantic version (like 0.2.0)"
BASE_URL=${BASE_URL:-https://example.invalid/kubectl-sops/v$VERSION}
BASE_URL=${BASE_URL%/}
case $LIBC in
  gnu) TRIPLE=x86_64-unknown-linux-gnu; RUSTFLAGS_STATIC='-C target-feature=+crt-static' ;;
  musl) TRIPLE=x86_64-unknown-linux-musl; RUSTFLAGS_STATIC='-C target-feature=+crt-static'
    # ring's C and assembly parts need a musl C compiler
    command -v musl-gcc >/dev/null || die "--libc musl needs musl-gcc (apt-get install musl-tools)"
    export CC_x86_64_unknown_linux_musl=${CC_x86_64_unknown_linux_musl:-musl-gcc} ;;
  *) die "--libc must be gnu or musl, not '$LIBC'" ;;
esac
# Not position independent by default, like the Go builds of sops, helm and kubectl on linux/amd64:
# stack, heap, mmap and vDSO stay randomized, the executable image sits at a fixed address.
[[ -n $PIE ]] || RUSTFLAGS_STATIC="$RUSTFLAGS_STATIC -C relocation-model=static"
[[ $(uname -sm) == "Linux x86_64" ]] || die "the release binaries are built on Linux x86_64 (this is $(uname -sm))"

cd "$WS"
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null) || die "$WS is not a git checkout (the version names its commit)"
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  COMMIT=$COMMIT-dirty
  log "WARNING: uncommitted changes; the binaries say commit $COMMIT"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

# ------------------------------------------------------------------ build
# The explicit --target keeps +crt-static off build scripts and proc-macros (they stay dynamic host
# libraries); the result lands in <target>/<triple>/release, not in target/release. RUSTFLAGS
# replaces any rustflags from .cargo/config.toml for this build.
log "building $VERSION ($COMMIT) for $TRIPLE, static"
if ! rustc --print target-libdir --target "$TRIPLE" >/dev/null 2>&1 ||
   [[ ! -d $(rustc --print target-libdir --target "$TRIPLE")/ ]] ||
   [[ -z $(ls "$(rustc --print target-libdir --target "$TRIPLE")" 2>/dev/null) ]]; then
  die "the Rust target $TRIPLE is not installed (rustup target add $TRIPLE)"
fi
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
KSOPS_BUILD_VERSION=$VERSION KSOPS_BUILD_COMMIT=$COMMIT RUSTFLAGS=$RUSTFLAGS_STATIC \
  cargo build --release --locked --target "$TRIPLE" -p kubectl-sops -p helm-secrets --bins \
  || die "cargo build failed"
TD=$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[[ -n $TD ]] || TD=${CARGO_TARGET_DIR:-$WS/target}
BIN=$TD/$TRIPLE/release

is_static() { # $1 ELF file: no program interpreter (PT_INTERP) = no dynamic loader, no shared libs
  local f=$1 phoff phentsize phnum i type
  [[ $(od -An -c -N4 "$f" | tr -d ' ') == '177ELF' ]] || return 1
  phoff=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
  phentsize=$(od -An -tu2 -j54 -N2 "$f" | tr -d ' ')
  phnum=$(od -An -tu2 -j56 -N2 "$f" | tr -d ' ')
  for ((i = 0; i < phnum; i++)); do
    type=$(od -An -tu4 -j$((phoff + i * phentsize)) -N4 "$f" | tr -d ' ')
    [[ $type == 3 ]] && return 1
  done
  return 0
}
for b in kubectl-sops kubectl_complete-sops helm-secrets; do
  [[ -x $BIN/$b ]] || die "cargo built no $BIN/$b"
  is_static "$BIN/$b" || die "$BIN/$b is dynamically linked (it has a program interpreter)"
done
for b in kubectl-sops helm-secrets; do
  v=$("$BIN/$b" --version) || die "$BIN/$b --version failed"
  # helm-secrets prints the bare version, as the helm-secrets plugin does (`helm secrets -v`)
  want="$b $VERSION (commit $COMMIT)"; [[ $b != helm-secrets ]] || want="$VERSION (commit $COMMIT)"
  [[ $v == "$want" ]] || die "$b --version says '$v', expected '$want'"
done

# ------------------------------------------------------------------ stage
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d "$OUT/.release.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
FILES=$STAGE/files
mkdir -p "$FILES"

tgz() { # $1 archive  $2 dir  $3... entries of dir (explicit: no ./ entry, which Helm 3 cannot extract)
  local a=$1 d=$2; shift 2
  tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    --mode='u+rwX,go+rX,go-w' --format=gnu -cf - "$@" | gzip -9 -n >"$a"
}
put() { # $1 source  $2 destination  $3 mode
  mkdir -p "$(dirname "$2")"; cp "$1" "$2"; chmod "$3" "$2"
}

# kubectl-sops for krew
K=$STAGE/kubectl-sops
put "$BIN/kubectl-sops" "$K/kubectl-sops" 0755
put "$BIN/kubectl_complete-sops" "$K/kubectl_complete-sops" 0755
put "$WS/LICENSE" "$K/LICENSE" 0644
KARCH=kubectl-sops_${VERSION}_linux_amd64.tar.gz
tgz "$FILES/$KARCH" "$K" kubectl-sops kubectl_complete-sops LICENSE
KSHA=$(sha256sum "$FILES/$KARCH" | cut -d' ' -f1)
grep -q '@SHA256@' "$WS/plugins/sops.yaml" || die "plugins/sops.yaml has no @SHA256@ placeholder"
sed -e '/^#/d' -e "s|@VERSION@|v$VERSION|g" -e "s|@URI@|$BASE_URL/$KARCH|g" -e "s|@SHA256@|$KSHA|g" \
  "$WS/plugins/sops.yaml" >"$FILES/sops.yaml"
! grep -q '@[A-Z0-9]*@' "$FILES/sops.yaml" || die "sops.yaml: a placeholder is left: $(grep -m1 '@[A-Z0-9]*@' "$FILES/sops.yaml")"

# Helm plugins: plugin.yaml at the archive root (Helm 3 needs it there), the binary in bin/, the
# install hook (it only checks that the shipped binary runs) in scripts/, LICENSE.
helm_archive() { # $1 archive name  $2 plugin.yaml source
  local a=$1 src=$2 d=$STAGE/${1%.tgz}
  put "$BIN/helm-secrets" "$d/bin/helm-secrets" 0755
  put "$HERE/helm-plugin-install.sh" "$d/scripts/helm-plugin-install.sh" 0755
  put "$WS/LICENSE" "$d/LICENSE" 0644
  # this release's version; the hook sits in the archive (plugins/helm4 reach the repo's scripts/)
  sed -e "s|^version: .*|version: \"$VERSION\"|" \
      -e 's|\$HELM_PLUGIN_DIR/\.\./\.\./\.\./scripts/|$HELM_PLUGIN_DIR/scripts/|g' "$src" >"$d/plugin.yaml"
  grep -q "^version: \"$VERSION\"\$" "$d/plugin.yaml" || die "$src: no version line to stamp"
  if grep -q 'helm-plugin-install.sh' "$d/plugin.yaml"; then
    ! grep -q '\.\./scripts/helm-plugin-install.sh' "$d/plugin.yaml" &&
      grep -q '\$HELM_PLUGIN_DIR/scripts/helm-plugin-install.sh' "$d/plugin.yaml" ||
      die "$src: install hook path not rewritten for the archive"
  fi
  tgz "$FILES/$a" "$d" LICENSE bin plugin.yaml scripts
}
HARCHIVES=("helm-secrets_$VERSION.tgz" "helm-secrets-cli_$VERSION.tgz" "helm-secrets-getter_$VERSION.tgz")
helm_archive "${HARCHIVES[0]}" "$WS/plugin.yaml"
helm_archive "${HARCHIVES[1]}" "$WS/plugins/helm4/secrets/plugin.yaml"
helm_archive "${HARCHIVES[2]}" "$WS/plugins/helm4/secrets-getter/plugin.yaml"

# Helm provenance (helm.sh/helm/v4 pkg/provenance): a PGP clear-signed message holding the plugin's
# metadata, a `...` line, and `files: {<archive name>: sha256:<hex>}`. Helm checks the signature
# against its keyring and the archive's sha256 under the exact name it downloaded.
if [[ -n $SIGN_KEY ]]; then
  gpg --batch --list-secret-keys "$SIGN_KEY" >/dev/null 2>&1 || die "no secret gpg key '$SIGN_KEY' (GNUPGHOME=${GNUPGHOME:-~/.gnupg})"
  for a in "${HARCHIVES[@]}"; do
    {
      grep -v '^ *#' "$STAGE/${a%.tgz}/plugin.yaml"
      printf '\n...\nfiles:\n  %s: sha256:%s\n' "$a" "$(sha256sum "$FILES/$a" | cut -d' ' -f1)"
    } >"$STAGE/$a.msg"
    gpg --batch --yes --quiet --local-user "$SIGN_KEY" --digest-algo SHA512 --clearsign \
      --output "$FILES/$a.prov" "$STAGE/$a.msg" || die "gpg could not sign $a with '$SIGN_KEY'"
  done
  gpg --batch --export "$SIGN_KEY" >"$FILES/helm-secrets-keyring.gpg" || die "gpg --export '$SIGN_KEY' failed"
  [[ -s $FILES/helm-secrets-keyring.gpg ]] || die "gpg --export '$SIGN_KEY' wrote nothing"
else
  log "no --sign KEY: the Helm plugin archives have no .prov; Helm 4 then installs them only with --verify=false"
fi

put "$BIN/kubectl-sops" "$FILES/kubectl-sops_${VERSION}_linux_amd64" 0755
put "$BIN/helm-secrets" "$FILES/helm-secrets_${VERSION}_linux_amd64" 0755
(cd "$FILES" && LC_ALL=C sha256sum -- * | LC_ALL=C sort -k2 >SHA256SUMS)

for f in "$FILES"/*; do mv -f "$f" "$OUT/"; done
log "done: $VERSION ($COMMIT) in $OUT"
(cd "$OUT" && ls -l $(cut -d' ' -f3 SHA256SUMS) SHA256SUMS) >&2
