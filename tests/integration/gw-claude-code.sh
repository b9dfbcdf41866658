#!/usr/bin/env bash
# Claude Code (pinned @anthropic-ai/claude-code, tests/agents/package.json)
# against lingma-gatewayd on lingma-sim: `claude -p "Say hi"` with nothing
# but ANTHROPIC_BASE_URL and a key, as the README tells a new user, must
# print the simulator's answer; a second run lists the models (gateway model
# discovery) and names a Lingma model; a third asks for a file, gets a Write
# call (tool_use), runs it for real, sends the result back and prints the
# simulator's final answer.
#
# Usage: gw-claude-code.sh TESTS_DIR BUILD_DIR GATEWAYD_BIN SIM_BIN
#
# tests/agents/run-client.sh runs the client with a throw-away HOME and
# CLAUDE_CONFIG_DIR, env -i, vendor traffic switched off and every proxy
# variable pointing at a closed local port, so nothing reaches the
# internet; the client's packages are installed with `npm ci` into
# BUILD_DIR/agents (once per lock file). Exit 77 (skip) when node/npm are
# missing, the packages cannot be fetched (offline), or the harness is not
# in the tree.
set -uo pipefail

src=$1 out=$2/agents gw=$3 sim=$4
agents=$src/agents
# shellcheck source=../common/gwd-node.sh
. "$src/common/gwd-node.sh"

[ -f "$agents/run-client.sh" ] && [ -f "$agents/package-lock.json" ] ||
  { echo "tests/agents harness missing"; exit 77; }
node_ready
# run-client.sh finds the client in node_modules beside itself: a copy of
# it goes next to the packages installed here, never into the source tree.
npm_install "$out" "$agents/package.json" "$agents/package-lock.json" "$agents/run-client.sh"

key=sk-claude-test-key
gwd_up "$gw" "$sim" "$key" LINGMA_EXIT_WITH_PARENT=1 LOG_LEVEL=debug
run=$GWD_WORK.run

fail() {
  echo "FAIL: $*"
  echo "--- claude stdout"; tail -c 2000 "$run/stdout" 2>/dev/null; echo
  echo "--- claude stderr"; tail -n 40 "$run/stderr" 2>/dev/null
  echo "--- daemon log"; grep -v '"level":"debug"' "$GWD_LOG" | tail -n 40
  rm -rf "$run"
  exit 1
}

# Claude Code retries failures for minutes by default; one attempt is
# enough to see one here.
RUN_DIR="$run" TIMEOUT=120 EXTRA_ENV="CLAUDE_CODE_MAX_RETRIES=0" \
  "$out/run-client.sh" claude "$GWD_URL" "$key" "Say hi" >/dev/null 2>&1
rc=$(cat "$run/rc" 2>/dev/null || echo missing)
[ "$rc" = 0 ] || fail "claude -p exited $rc"
# The simulator echoes the question it got (Claude Code's system prompt
# and the user turn, flattened by the gateway); Claude Code prints it.
head -c 6 "$run/stdout" | grep -q '^ECHO: ' || fail "the answer does not start with 'ECHO: '"
grep -q 'Say hi' "$run/stdout" || fail "the answer does not hold the prompt"
grep -q 'x-anthropic-billing-header' "$run/stdout" && fail "the billing header reached Lingma"
grep -q '"route":"/v1/messages","status":200' "$GWD_LOG" ||
  fail "no 200 on /v1/messages in the daemon log"
grep -q '"msg":"anthropic-beta ignored"' "$GWD_LOG" || fail "the betas were not logged"
echo "claude -p answered through /v1/messages:"
head -c 200 "$run/stdout"
echo
rm -rf "$run"

# Gateway model discovery (GET /v1/models?limit=1000 in Anthropic's shape)
# and a Lingma model by its key; a fixed answer to compare.
printf '{"reply":"text:Hello from Lingma."}' > "$GWD_WORK/sim.json"
RUN_DIR="$run" TIMEOUT=120 MODEL=dashscope_qwen3_coder \
  EXTRA_ENV="CLAUDE_CODE_MAX_RETRIES=0 CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1" \
  "$out/run-client.sh" claude "$GWD_URL" "$key" "Say hi" >/dev/null 2>&1
rc=$(cat "$run/rc" 2>/dev/null || echo missing)
[ "$rc" = 0 ] || fail "claude -p --model dashscope_qwen3_coder exited $rc"
[ "$(cat "$run/stdout")" = "Hello from Lingma." ] || fail "unexpected answer"
grep -q '"route":"/v1/models","status":200' "$GWD_LOG" || fail "Claude Code did not list the models"
if grep '"msg":"request"' "$GWD_LOG" | grep '"route":"/v1/' | grep -vq '"status":200'; then
  fail "a /v1 request was not answered 200"
fi
rm -rf "$run"

# Tool use (doc/tools.md): the simulator's script answers the request with
# a Write call for a file in Claude Code's working directory (acceptEdits
# writes there), and with a DONE line once the tool result is in the
# question. Claude Code runs the tool itself: the file must exist.
target=$run/work/hello.txt
rules=$GWD_WORK/rules.json
node -e '
  const [file, target] = process.argv.slice(1);
  const call = { name: "Write", arguments: { file_path: target, content: "hello from lingma\n" } };
  const rules = [
    { match: "^Tool (result|error) \\(", reply: "DONE: the file is written" },
    { match: "Create the file", reply: "```tool_call\n" + JSON.stringify(call) + "\n```" },
  ];
  require("fs").writeFileSync(file, JSON.stringify(rules));
' "$rules" "$target" || fail "cannot write the script rules"
printf '{"reply":"script:%s","chunks":16}' "$rules" > "$GWD_WORK/sim.json"
RUN_DIR="$run" TIMEOUT=120 TOOLS=1 EXTRA_ENV="CLAUDE_CODE_MAX_RETRIES=0" \
  "$out/run-client.sh" claude "$GWD_URL" "$key" "Create the file hello.txt" >/dev/null 2>&1
rc=$(cat "$run/rc" 2>/dev/null || echo missing)
[ "$rc" = 0 ] || fail "claude -p (tool use) exited $rc"
[ -f "$target" ] || fail "Claude Code did not write $target"
[ "$(cat "$target")" = "hello from lingma" ] || fail "unexpected content in $target"
[ "$(cat "$run/stdout")" = "DONE: the file is written" ] || fail "unexpected final answer"
[ "$(grep -c '"route":"/v1/messages","status":200' "$GWD_LOG")" -ge 4 ] ||
  fail "not two more /v1/messages requests answered 200"
echo "claude -p wrote $target through a tool_use round trip:"
cat "$run/stdout"
rm -rf "$run"

# The daemon must stop cleanly (exit 0: no sanitizer report, no leak).
gw_rc=0
gwd_down || gw_rc=$?
[ $gw_rc -eq 0 ] || { echo "lingma-gatewayd exited with status $gw_rc"; tail -n 40 "$GWD_LOG"; exit 1; }
rm -f "$GWD_LOG"
exit 0
