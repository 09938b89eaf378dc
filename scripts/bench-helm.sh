#!/usr/bin/env bash
# Bench: `helm template` of a small chart with N (default 10) encrypted values files, side by side in
# one hyperfine run per helm major:
#   plain       the N plaintext files                      (the baseline)
#   downloader  -f secrets://FILE through our getter       (one helm-secrets process per file)
#   wrapper     helm secrets template … -f FILE            (one process, parallel decryption, memfds)
#   sops-dl     -f sopsdl://FILE through a getter that runs real `sops decrypt` per file
# and prints the time each adds per file over plain. Then one remote file (python3 http.server on
# 127.0.0.1): our downloader fetching and decrypting secrets://http://… vs helm-secrets' way
# (curl to a temp file, then `sops decrypt`). Needs hyperfine (apt-get install hyperfine), the
# peers helm3/helm4/sops (scripts/peers.sh build); builds the release helm-secrets first.
#
# usage: scripts/bench-helm.sh [N]       env: RUNS (default 15), WARMUP (default 3), KEEP=1 keeps the dir
set -euo pipefail
BENCH_NAME=bench-helm
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${1:-10}
RUNS=${RUNS:-15}
WARMUP=${WARMUP:-3}
BENCH_KEEP=${KEEP:-${BENCH_KEEP:-}}
ROOT=$WS
PEERS=${KSOPS_PEERS_BIN:-${KSOPS_PEERS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-sops-peers}/bin}
for p in helm3 helm4 sops; do
    [[ -x $PEERS/$p ]] || die "$PEERS/$p missing (run scripts/peers.sh build)"
done
ensure_hyperfine || die "hyperfine missing (apt-get install hyperfine)"
# always through cargo: a stale release binary must not stand in for the current code
BIN=$(release_bin helm-secrets)

SERVER_PID=
bench_on_exit() { [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true; }
bench_tmpdir
W=$T
cd "$W"
scrub_env
export HOME=$W/home HELM_DATA_HOME=$W/home/data HELM_CONFIG_HOME=$W/home/config HELM_CACHE_HOME=$W/home/cache
export SOPS_DISABLE_VERSION_CHECK=1 HELM_SECRETS_BINARY=$BIN
unset HELM_PLUGINS SOPS_CONFIG SOPS_AGE_KEY SOPS_AGE_KEY_CMD
mkdir -p "$HOME" chart/templates plain enc
KEY=$ROOT/../shared/vectors/sops/keys/gen_age_a.txt
if [[ -f $KEY ]]; then cp "$KEY" key.txt; else age-keygen -o key.txt 2>/dev/null; fi
export SOPS_AGE_KEY_FILE=$W/key.txt
R=$(sed -n 's/^# public key: //p' key.txt)

printf 'apiVersion: v2\nname: bench\nversion: 0.1.0\n' > chart/Chart.yaml
cat > chart/templates/secret.yaml <<'T'
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}
stringData:
{{- range $k, $v := .Values }}
  {{ $k }}: {{ toJson $v | quote }}
{{- end }}
T
for i in $(seq 1 "$N"); do
    {
        echo "app$i:"
        for j in $(seq 1 20); do echo "  key$j: value-$i-$j-$RANDOM$RANDOM"; done
        echo "  port: $((8000 + i))"
        echo "  enabled: true"
        echo "  list: [a, b, c]"
    } > "plain/v$i.yaml"
    "$BIN" encrypt --age "$R" "plain/v$i.yaml" > "enc/v$i.yaml"
done

# a getter that runs real sops per file (what the helm-secrets plugin does)
mkdir -p sopsdl/bin
cat > sopsdl/plugin.yaml <<'Y'
name: "sopsdl"
version: "0.1.0"
usage: "bench: real sops decrypt per file"
description: "bench only"
downloaders:
  - command: "bin/sopsdl"
    protocols: ["sopsdl"]
Y
printf '#!/bin/sh\nexec "%s" decrypt --input-type yaml --output-type yaml "${4#sopsdl://}"\n' "$PEERS/sops" > sopsdl/bin/sopsdl
chmod +x sopsdl/bin/sopsdl
"$PEERS/helm4" plugin install "$ROOT/plugins/helm4/secrets" >/dev/null 2>&1
"$PEERS/helm4" plugin install "$ROOT/plugins/helm4/secrets-getter" >/dev/null 2>&1
"$PEERS/helm3" plugin install "$W/sopsdl" >/dev/null

args() { local pre=$1 dir=$2 a=""; for i in $(seq 1 "$N"); do a+=" -f $pre$dir/v$i.yaml"; done; echo "$a"; }
PLAIN=$(args "" plain)
DL=$(args "secrets://" enc)
WR=$(args "" enc)
SD=$(args "sopsdl://" enc)
for h in helm3 helm4; do
    H=$PEERS/$h
    # all four render the same
    ref=$("$H" template r chart $PLAIN | sha256sum)
    for v in "$H template r chart $DL" "$H secrets template r chart $WR" "$H template r chart $SD"; do
        [[ $($v | sha256sum) == "$ref" ]] || { echo "bench-helm: $v renders differently" >&2; exit 1; }
    done
    echo "== $h ($("$H" version --short 2>/dev/null)), $N values files, $(nproc) cores"
    hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$W/$h.json" \
        -n plain "$H template r chart $PLAIN" \
        -n downloader "$H template r chart $DL" \
        -n wrapper "$H secrets template r chart $WR" \
        -n sops-dl "$H template r chart $SD" >/dev/null
    python3 - "$W/$h.json" "$N" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
cpu = lambda r: r["user"] + r["system"]
base, base_cpu = res["plain"]["mean"], cpu(res["plain"])
print(f"{'':12}{'wall ms':>9}{'± ms':>8}{'added/file':>12}{'cpu ms':>9}{'cpu added/file':>16}")
for name in ["plain", "downloader", "wrapper", "sops-dl"]:
    r = res[name]
    print(f"{name:12}{r['mean']*1000:9.1f}{r['stddev']*1000:8.1f}{(r['mean']-base)/n*1000:12.2f}"
          f"{cpu(r)*1000:9.1f}{(cpu(r)-base_cpu)/n*1000:16.2f}")
sops_add, sops_cpu = (res["sops-dl"]["mean"] - base) / n, (cpu(res["sops-dl"]) - base_cpu) / n
for name in ["downloader", "wrapper"]:
    add, c = (res[name]["mean"] - base) / n, (cpu(res[name]) - base_cpu) / n
    print(f"{name}: adds {add*1000:.2f} ms/file wall ({add/sops_add*100:.0f}% of the sops getter's), "
          f"{c*1000:.2f} ms/file cpu ({c/sops_cpu*100:.0f}%); target <= 5 ms and <= 20%")
PY
done
echo "== one file, the decrypting process alone"
hyperfine -N --style basic --warmup "$WARMUP" --runs $((RUNS * 3)) \
    -n helm-secrets "$BIN downloader '' '' '' secrets://enc/v1.yaml" \
    -n sops "$PEERS/sops decrypt --input-type yaml --output-type yaml enc/v1.yaml" 2>&1 | grep -E "^Benchmark|Time|User"
echo "== one remote file over loopback HTTP: fetch + decrypt"
python3 -u -m http.server --bind 127.0.0.1 --directory "$W/enc" 0 >"$W/http.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do grep -q 'port' "$W/http.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$W/http.log" | head -1)
URL=http://127.0.0.1:$PORT/v1.yaml
hyperfine -N --style basic --warmup "$WARMUP" --runs $((RUNS * 3)) \
    -n helm-secrets "$BIN downloader '' '' '' secrets://$URL" \
    -n curl+sops "sh -c 'curl -sSfL $URL > $W/dl.yaml && $PEERS/sops decrypt --input-type yaml --output-type yaml $W/dl.yaml'" \
    2>&1 | grep -E "^Benchmark|Time|User"
echo "(load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
