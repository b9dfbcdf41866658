# Shell helpers of the tests that drive lingma-gatewayd from Node clients
# (sdk/run-sdk.sh: the OpenAI SDK; integration/gw-codex.sh: Codex CLI).
# Source it from bash; every wait is bounded, the daemon listens on an
# ephemeral 127.0.0.1 port and is stopped by its pid.
#
#   node_ready                 exit 77 (skip) unless node >= 18 and npm exist
#   npm_install DIR FILE...    copy FILEs (package.json and package-lock.json
#                              among them) into DIR and `npm ci` there, once
#                              per lock file; exit 77 when offline
#   gwd_up GATEWAYD SIM KEY [VAR=VALUE...]
#                              start the daemon on lingma-sim with a fresh
#                              work dir; wait for its URL, /healthz 200 and
#                              the model catalogue. Sets GWD_URL, GWD_PID,
#                              GWD_WORK (the simulator's work dir) and
#                              GWD_LOG (its stderr, kept after a failure);
#                              stops the daemon on EXIT
#   gwd_down                   SIGTERM and wait; returns the daemon's status

node_ready() {
  command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 77; }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 18 ] || { echo "node $major < 18"; exit 77; }
}

npm_install() {
  local dir=$1
  shift
  mkdir -p "$dir"
  cp "$@" "$dir/"
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.lock-installed" 2>/dev/null; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; exit 77; }
    cp "$dir/package-lock.json" "$dir/node_modules/.lock-installed"
  fi
}

_gwd_cleanup() {
  if [ -n "${GWD_PID:-}" ] && kill -0 "$GWD_PID" 2>/dev/null; then
    kill -TERM "$GWD_PID"
    for _ in $(seq 1 200); do kill -0 "$GWD_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$GWD_PID" 2>/dev/null
  fi
  [ -n "${GWD_PID:-}" ] && wait "$GWD_PID" 2>/dev/null
  rm -rf "${GWD_WORK:-}" "${GWD_WORK:-}.url"
}

gwd_up() {
  local gw=$1 sim=$2 key=$3
  shift 3
  GWD_WORK=$(mktemp -d "${TMPDIR:-/tmp}/lingma-nodegw-XXXXXX")
  GWD_LOG=$GWD_WORK.log
  local sock_port urlfile=$GWD_WORK.url code=
  sock_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env -u LINGMA_ACCOUNTS -u LINGMA_USERNAME -u LINGMA_PASSWORD \
    LINGMA_BIN="$sim" LINGMA_WORK_DIR="$GWD_WORK" GATEWAY_PORT=0 LINGMA_SOCKET_PORT="$sock_port" \
    API_KEYS="$key" LOG_LEVEL=info "$@" \
    "$gw" >"$urlfile" 2>"$GWD_LOG" &
  GWD_PID=$!
  trap _gwd_cleanup EXIT
  GWD_URL=
  for _ in $(seq 1 300); do
    GWD_URL=$(head -n1 "$urlfile" 2>/dev/null)
    [ -n "$GWD_URL" ] && break
    kill -0 "$GWD_PID" 2>/dev/null || break
    sleep 0.02
  done
  [ -n "$GWD_URL" ] || { echo "no URL from lingma-gatewayd"; cat "$GWD_LOG"; exit 1; }
  for _ in $(seq 1 500); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$GWD_URL/healthz")
    [ "$code" = 200 ] && break
    sleep 0.02
  done
  [ "$code" = 200 ] || { echo "/healthz never 200"; cat "$GWD_LOG"; exit 1; }
  # The catalogue arrives shortly after the instance is ready.
  for _ in $(seq 1 500); do
    curl -s -H "Authorization: Bearer $key" "$GWD_URL/v1/models" | grep -q qwen3_coder && break
    sleep 0.02
  done
}

gwd_down() {
  kill -TERM "$GWD_PID"
  local rc=0
  wait "$GWD_PID" || rc=$?
  return $rc
}
