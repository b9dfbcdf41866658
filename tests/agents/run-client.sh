#!/usr/bin/env bash
# run-client.sh: run Claude Code (`claude -p`) or Codex CLI (`codex exec`)
# non-interactively against an Anthropic-/Responses-compatible base URL, with
# a throw-away HOME and config under RUN_DIR, and print the client's stdout.
#
#   run-client.sh CLIENT BASE_URL API_KEY PROMPT [extra client args...]
#
#   CLIENT    claude | codex
#   BASE_URL  the gateway root, e.g. http://127.0.0.1:8000 (a trailing /v1 is
#             accepted and stripped): Claude Code gets it as ANTHROPIC_BASE_URL
#             and calls $BASE_URL/v1/messages; Codex gets $BASE_URL/v1 as its
#             provider base_url and calls $BASE_URL/v1/responses.
#   API_KEY   sent as x-api-key (claude) / Authorization: Bearer (codex).
#
# Environment (all optional):
#   RUN_DIR   directory for HOME, config, TMPDIR, logs (default: a new mktemp
#             dir; it is kept, its path is printed on stderr)
#   WORKDIR   the client's working directory (default: $RUN_DIR/work)
#   MODEL     model name sent (claude: --model; default: the client's own,
#             claude-opus-5-5 / codex: lingma-auto, an unknown name that keeps
#             Codex on the classic Responses shape, see NOTES.md)
#   TOOLS     1: let the client's tools run without prompts (claude:
#             --permission-mode acceptEdits --allowedTools Bash,Write,Edit,Read;
#             codex: -s workspace-write). Default: claude denies writes and
#             shell, codex runs commands in a read-only sandbox.
#   TIMEOUT   seconds before the client is killed (default 120; exit code 124)
#   RETRIES   codex only: request_max_retries and stream_max_retries (default:
#             Codex's own, 4 and 5)
#   NODE_MODULES  where `npm ci` put the clients (default: node_modules
#             beside this script)
#   EXTRA_ENV space-separated NAME=VALUE pairs added to the client's
#             environment (e.g. "CLAUDE_CODE_MAX_RETRIES=2")
#   CLIENT_PROXY  proxy URL for any connection to a host other than BASE_URL's
#             (default http://127.0.0.1:9, a closed port, so that a vendor host
#             is never reached: such calls fail at once). Point it at
#             record-server.mjs to log them as CONNECT lines.
#
# The client's stderr goes to $RUN_DIR/stderr, its exit code to $RUN_DIR/rc
# and is this script's exit code. The real ~/.claude, ~/.claude.json and
# ~/.codex are never read or written: the client runs under env -i with
# HOME, CLAUDE_CONFIG_DIR and CODEX_HOME inside RUN_DIR.
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
CLIENT=$1 BASE_URL=$2 API_KEY=$3 PROMPT=$4
shift 4

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NM=${NODE_MODULES:-$HERE/node_modules}

BASE_URL=${BASE_URL%/}
BASE_URL=${BASE_URL%/v1}
HOSTPORT=${BASE_URL#*://}
HOSTPORT=${HOSTPORT%%/*}
HOST=${HOSTPORT%:*}
HOST=${HOST#[}
HOST=${HOST%]}

RUN_DIR=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/agent-run.XXXXXX")}
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
WORKDIR=${WORKDIR:-$RUN_DIR/work}
mkdir -p "$RUN_DIR/home" "$RUN_DIR/tmp" "$WORKDIR"
echo "run-client: RUN_DIR=$RUN_DIR" >&2

PROXY=${CLIENT_PROXY:-http://127.0.0.1:9}
NOPROXY="127.0.0.1,localhost,::1,$HOST"
case $(uname -m) in
  x86_64) CC_PLAT=linux-x64; CX_PLAT=linux-x64; CX_TRIPLE=x86_64-unknown-linux-musl ;;
  aarch64|arm64) CC_PLAT=linux-arm64; CX_PLAT=linux-arm64; CX_TRIPLE=aarch64-unknown-linux-musl ;;
  *) echo "run-client: unsupported machine $(uname -m)" >&2; exit 2 ;;
esac

# Common, minimal environment: nothing of the caller's leaks in (no real
# API keys, no CLAUDE_CONFIG_DIR/CODEX_HOME, no proxies of its own).
ENVV=(
  "HOME=$RUN_DIR/home"
  "TMPDIR=$RUN_DIR/tmp"
  "PATH=/usr/local/bin:/usr/bin:/bin"
  "LANG=C.UTF-8"
  "TERM=dumb"
  "NO_COLOR=1"
  "HTTPS_PROXY=$PROXY" "HTTP_PROXY=$PROXY" "ALL_PROXY=$PROXY"
  "https_proxy=$PROXY" "http_proxy=$PROXY" "all_proxy=$PROXY"
  "NO_PROXY=$NOPROXY" "no_proxy=$NOPROXY"
)

case $CLIENT in
  claude)
    BIN=$NM/@anthropic-ai/claude-code-$CC_PLAT/claude
    [ -x "$BIN" ] || BIN=$NM/@anthropic-ai/claude-code/bin/claude.exe
    ENVV+=(
      "CLAUDE_CONFIG_DIR=$RUN_DIR/home/.claude"
      "ANTHROPIC_BASE_URL=$BASE_URL"
      "ANTHROPIC_API_KEY=$API_KEY"
      # One switch turns off telemetry, error reporting, auto-update, feature
      # flags and the other vendor calls; the others are belt and braces.
      "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"
      "DISABLE_TELEMETRY=1" "DISABLE_ERROR_REPORTING=1" "DISABLE_AUTOUPDATER=1"
    )
    ARGS=(-p "$PROMPT")
    [ -n "${MODEL:-}" ] && ARGS+=(--model "$MODEL")
    if [ "${TOOLS:-0}" = 1 ]; then
      # --dangerously-skip-permissions is refused when running as root.
      ARGS+=(--permission-mode acceptEdits --allowedTools "Bash,Write,Edit,Read")
    fi
    ;;
  codex)
    BIN=$NM/@openai/codex-$CX_PLAT/vendor/$CX_TRIPLE/bin/codex
    CODEX_HOME=$RUN_DIR/home/.codex
    mkdir -p "$CODEX_HOME"
    {
      echo "model = \"${MODEL:-lingma-auto}\""
      echo 'model_provider = "lingma"'
      echo 'check_for_update_on_startup = false'
      echo '[analytics]'
      echo 'enabled = false            # no OTLP metrics to the vendor'
      echo '[features]'
      echo 'plugins = false            # no curated-plugin sync (git/GitHub/vendor)'
      echo '[model_providers.lingma]'
      echo 'name = "lingma-gatewayd"'
      echo "base_url = \"$BASE_URL/v1\""
      echo 'env_key = "LINGMA_GATEWAY_API_KEY"'
      echo 'wire_api = "responses"'
      if [ -n "${RETRIES:-}" ]; then
        echo "request_max_retries = $RETRIES"
        echo "stream_max_retries = $RETRIES"
      fi
    } > "$CODEX_HOME/config.toml"
    ENVV+=("CODEX_HOME=$CODEX_HOME" "LINGMA_GATEWAY_API_KEY=$API_KEY")
    ARGS=(exec --skip-git-repo-check --ephemeral --color never -C "$WORKDIR"
          -o "$RUN_DIR/last-message.txt")
    [ "${TOOLS:-0}" = 1 ] && ARGS+=(-s workspace-write)
    ;;
  *)
    echo "run-client: CLIENT must be claude or codex" >&2; exit 2 ;;
esac

for kv in ${EXTRA_ENV:-}; do ENVV+=("$kv"); done

if [ ! -x "$BIN" ]; then
  echo "run-client: $BIN missing: run 'npm ci' in $HERE" >&2
  exit 2
fi

# Extra arguments go before the prompt for codex (its prompt is the last
# positional argument) and after it for claude (-p PROMPT comes first, so a
# variadic option such as --allowedTools cannot swallow the prompt).
if [ "$CLIENT" = codex ]; then
  ARGS+=("$@" -- "$PROMPT")
else
  ARGS+=("$@")
fi

set +e
cd "$WORKDIR"
env -i "${ENVV[@]}" timeout -k 5 "${TIMEOUT:-120}" "$BIN" "${ARGS[@]}" \
  < /dev/null > "$RUN_DIR/stdout" 2> "$RUN_DIR/stderr"
rc=$?
set -e
echo "$rc" > "$RUN_DIR/rc"
cat "$RUN_DIR/stdout"
[ "$rc" -eq 0 ] || echo "run-client: $CLIENT exited $rc (stderr in $RUN_DIR/stderr)" >&2
exit "$rc"
