#!/usr/bin/env bash
# SDK conformance: install the pinned packages of SRC_DIR (npm ci, once per
# lock file) into the build dir, start lingma-gatewayd on lingma-sim, run
# SRC_DIR's *.test.mjs with node --test, stop the daemon by pid. Used for
# the OpenAI SDK (tests/sdk), the Anthropic SDK (tests/sdk-anthropic) and
# Claude Code (tests/claude-code).
#
# Usage: run-sdk.sh SRC_DIR BUILD_DIR GATEWAYD_BIN SIM_BIN
# Exit 77 (skip) when node >= 18 or npm is missing, or npm ci cannot fetch
# the package (offline).
set -uo pipefail

src=$1 out=$2/sdk gw=$3 sim=$4

command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 77; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || { echo "node $major < 18"; exit 77; }

mkdir -p "$out"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.test.mjs "$out/"
if ! cmp -s "$out/package-lock.json" "$out/node_modules/.lock-installed" 2>/dev/null; then
  (cd "$out" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; exit 77; }
  cp "$out/package-lock.json" "$out/node_modules/.lock-installed"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lingma-sdk-XXXXXX")
sock_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=sk-sdk-test-key
urlfile="$work.url"
logfile="$work.log"

env -u LINGMA_ACCOUNTS -u LINGMA_USERNAME -u LINGMA_PASSWORD \
  LINGMA_BIN="$sim" LINGMA_WORK_DIR="$work" GATEWAY_PORT=0 LINGMA_SOCKET_PORT="$sock_port" \
  API_KEYS="$key" GATEWAY_MAX_IN_FLIGHT=1 GATEWAY_MAX_QUEUE=0 LOG_LEVEL=info \
  "$gw" >"$urlfile" 2>"$logfile" &
pid=$!

cleanup() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  rm -rf "$work" "$urlfile"
}
trap cleanup EXIT

url=
for _ in $(seq 1 300); do
  url=$(head -n1 "$urlfile" 2>/dev/null)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
[ -n "$url" ] || { echo "no URL from lingma-gatewayd"; cat "$logfile"; exit 1; }
for _ in $(seq 1 500); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")
  [ "$code" = 200 ] && break
  sleep 0.02
done
[ "$code" = 200 ] || { echo "/healthz never 200"; cat "$logfile"; exit 1; }
# The catalogue arrives shortly after the instance is ready.
for _ in $(seq 1 500); do
  curl -s -H "Authorization: Bearer $key" "$url/v1/models" | grep -q qwen3_coder && break
  sleep 0.02
done

cd "$out"
GW_URL="$url" GW_KEY="$key" GW_WORK_DIR="$work" LINGMA_SIM_BIN="$sim" \
  node --test --test-reporter=spec $(cd "$src" && ls *.test.mjs)
rc=$?
# The daemon must also stop cleanly (exit 0: no sanitizer report, no leak).
kill -TERM "$pid"
gw_rc=0
wait "$pid" || gw_rc=$?
if [ $gw_rc -ne 0 ]; then
  echo "lingma-gatewayd exited with status $gw_rc"
  rc=1
fi
[ $rc -eq 0 ] && rm -f "$logfile" || { echo "daemon log: $logfile"; tail -n 40 "$logfile"; }
exit $rc
