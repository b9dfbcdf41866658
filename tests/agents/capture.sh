#!/usr/bin/env bash
# capture.sh: regenerate the golden captures in captures/ by running Claude
# Code and Codex CLI (pinned in package.json) against record-server.mjs.
#
#   ./capture.sh [OUTDIR]        (default: captures/ beside this script)
#
# Needs node and `npm ci` done here. Traffic goes only to 127.0.0.1: each
# client's proxy is the recording server, which logs and refuses (403) any
# CONNECT to another host, so an attempt to reach a vendor host shows up in
# the capture as a request with "proxy": true. About a minute of wall time.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/captures}
KEY=sk-recorder-test-key            # redacted as <API_KEY> in the captures
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agent-capture.XXXXXX")
mkdir -p "$OUT/claude-code" "$OUT/codex"

echo '{}' > "$WORK/scenario.json"
RECORD_API_KEY=$KEY node "$HERE/record-server.mjs" --log "$WORK/log.jsonl" \
  --scenario "$WORK/scenario.json" --port-file "$WORK/port" > "$WORK/server.out" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
BASE=http://127.0.0.1:$PORT

# capture CLIENT NAME 'SCENARIO' [run-client env assignments...] -- [client args...]
capture() {
  local client=$1 name=$2 scen=$3; shift 3
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  local dir=$WORK/$client-$name
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$scen" > "$WORK/scenario.json"
  sleep 0.05
  : > "$WORK/log.jsonl"
  local rc=0
  env "${envs[@]}" RUN_DIR="$dir" CLIENT_PROXY="$BASE" \
    "$HERE/run-client.sh" "$client" "$BASE" "$KEY" "${PROMPT:-Say hi}" "$@" > /dev/null 2>&1 || rc=$?
  sleep 0.3   # let the server write the last lines
  local sub=claude-code; [ "$client" = codex ] && sub=codex
  CAP_CLIENT=$client CAP_NAME=$name CAP_SCEN=$scen CAP_RC=$rc CAP_DIR=$dir \
  CAP_ENV="${envs[*]:-}" CAP_ARGS="$*" CAP_PROMPT="${PROMPT:-Say hi}" \
  node -e '
    const fs = require("fs");
    const e = process.env;
    const reqs = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
    const t0 = reqs.length ? reqs[0].t_ms : 0;
    const seen = new Map();
    reqs.forEach((r, i) => {
      r.t_rel_ms = r.t_ms - t0; delete r.t; delete r.t_ms; delete r.seq;
      // a retry re-sends the same body: keep it once
      const b = JSON.stringify(r.body);
      if (r.body && seen.has(b)) r.body = { "$same_body_as_request": seen.get(b) };
      else if (r.body) seen.set(b, i);
    });
    const read = (f) => { try { return fs.readFileSync(e.CAP_DIR + "/" + f, "utf8"); } catch { return null; } };
    // the run directory, also in the dashed form Claude Code uses for its project folder
    const strip = (s) => s && s.split(e.CAP_DIR).join("$RUN_DIR")
      .split(e.CAP_DIR.replace(/[^A-Za-z0-9]/g, "-")).join("-RUN_DIR");
    const out = {
      client: e.CAP_CLIENT, capture: e.CAP_NAME,
      run_client: { env: e.CAP_ENV, prompt: e.CAP_PROMPT, extra_args: e.CAP_ARGS },
      recorder_scenario: JSON.parse(strip(e.CAP_SCEN)),
      exit_code: Number(e.CAP_RC), stdout: strip(read("stdout")),
      requests: JSON.parse(strip(JSON.stringify(reqs))),
    };
    fs.writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
  ' "$WORK/log.jsonl" "$OUT/$sub/$name.json"
  echo "$client $name: rc=$rc requests=$(grep -c . "$WORK/log.jsonl" || true)"
}

W='{"tool":{"name":"Write","input":{"file_path":"FILE","content":"hello from the recorder\n"}}}'

# ---- Claude Code
capture claude say-hi '{}'
capture claude say-hi-bare '{}' -- --bare
capture claude tool-write "${W/FILE/$WORK/claude-tool-write/work/hello.txt}" TOOLS=1
capture claude tool-bash '{"tool":{"name":"Bash","input":{"command":"echo ran-by-claude > marker.txt && cat marker.txt","description":"Write a marker file"}}}' TOOLS=1
capture claude tool-write-with-thinking '{"thinking":"I should write the file.","tool":{"name":"Write","input":{"file_path":"'"$WORK"'/claude-tool-write-with-thinking/work/a.txt","content":"a\n"}}}' TOOLS=1
capture claude tool-write-denied "${W/FILE/$WORK/claude-tool-write-denied/work/hello.txt}"
capture claude stream-error-then-nonstreaming '{"error_after":"content_block_delta"}'
capture claude stream-without-block-stop '{"drop":["content_block_stop"]}'
capture claude retry-429-retry-after '{"fail":{"status":429,"count":2,"headers":{"retry-after":"1"}}}'
capture claude retry-529 '{"fail":{"status":529,"count":9}}'
capture claude http-400-degrades '{"fail":{"status":400,"count":99}}' EXTRA_ENV=CLAUDE_CODE_MAX_RETRIES=2
capture claude http-404 '{"fail":{"status":404,"count":99}}' EXTRA_ENV=CLAUDE_CODE_MAX_RETRIES=0
capture claude model-discovery '{}' EXTRA_ENV=CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1
capture claude vendor-traffic-without-disable-switches '{}' \
  EXTRA_ENV="CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC= DISABLE_TELEMETRY= DISABLE_ERROR_REPORTING= DISABLE_AUTOUPDATER="

# ---- Codex CLI
capture codex say-hi '{}'
capture codex say-hi-catalog-model '{}' MODEL=gpt-6.2-sol
capture codex say-hi-gpt-5.5 '{}' MODEL=gpt-5.5
capture codex tool-exec-command '{"tool":{"name":"exec_command","arguments":{"cmd":"echo ran-by-codex > marker.txt && cat marker.txt"}}}' TOOLS=1
capture codex tool-exec-command-read-only '{"tool":{"name":"exec_command","arguments":{"cmd":"echo ran-by-codex > marker.txt && cat marker.txt"}}}'
capture codex tool-code-mode-exec '{"tool":{"type":"custom_tool_call","name":"exec","input":"const r = await tools.exec_command({cmd: \"echo ran-by-codex-js > marker.txt && cat marker.txt\"}); text(r);"}}' MODEL=gpt-6.2-sol TOOLS=1
capture codex reasoning-then-exec-command '{"reasoning":"Thinking about the command.","tool":{"name":"exec_command","arguments":{"cmd":"echo hi"}}}' TOOLS=1
capture codex minimal-events '{"completed_response":{"id":"resp_min"},"drop":["response.created","response.in_progress","response.output_item.added","response.content_part.added","response.output_text.delta","response.output_text.done","response.content_part.done"]}'
capture codex no-completed '{"drop":["response.completed"]}' RETRIES=1
capture codex retry-429-retry-after '{"fail":{"status":429,"count":2,"headers":{"retry-after":"1"}}}'
capture codex retry-500 '{"fail":{"status":500,"count":99}}' RETRIES=1
capture codex http-400 '{"fail":{"status":400,"count":99}}'

# ---- the canned answers that satisfied the clients (one per shape)
sse() { echo "$2" > "$WORK/scenario.json"; sleep 0.05; curl -sN "$BASE$1" -H 'content-type: application/json' -d "$3" > "$4"; }
M='{"model":"claude-opus-5-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hi"}]}'
R='{"model":"lingma-auto","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"Say hi"}]}]}'
sse /v1/messages '{"ping":true}' "$M" "$OUT/claude-code/answer-text.sse"
sse /v1/messages '{"tool":{"name":"Write","input":{"file_path":"/tmp/x/hello.txt","content":"hi\n"}}}' "$M" "$OUT/claude-code/answer-tool_use.sse"
sse /v1/messages '{}' "${M/\"stream\":true/\"stream\":false}" "$OUT/claude-code/answer-nonstreaming.json"
sse /v1/responses '{}' "$R" "$OUT/codex/answer-text.sse"
sse /v1/responses '{"tool":{"name":"exec_command","arguments":{"cmd":"echo hi"}}}' "$R" "$OUT/codex/answer-function_call.sse"
sse /v1/responses '{"tool":{"type":"custom_tool_call","name":"exec","input":"text(1)"}}' "$R" "$OUT/codex/answer-custom_tool_call.sse"
echo "captures written to $OUT"
rm -rf "$WORK"
