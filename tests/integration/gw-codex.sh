#!/usr/bin/env bash
# Codex CLI (pinned @openai/codex, tests/agents/package.json) against
# lingma-gatewayd on lingma-sim: `codex exec "Say hi"` through a model
# provider with wire_api = "responses" must print the simulator's answer;
# a second run gets an exec_command call (a function_call item), runs the
# command for real in its workspace-write sandbox, sends the output back and
# prints the simulator's final answer.
#
# Usage: gw-codex.sh TESTS_DIR BUILD_DIR GATEWAYD_BIN SIM_BIN
#
# tests/agents/run-client.sh runs the client with a throw-away HOME and
# CODEX_HOME, env -i, and every proxy variable pointing at a closed local
# port, so nothing reaches the internet; Codex is installed with `npm ci`
# into BUILD_DIR/agents (once per lock file). Exit
# 77 (skip) when node/npm are missing, the packages cannot be fetched
# (offline), or the harness is not in the tree.
set -uo pipefail

src=$1 out=$2/agents gw=$3 sim=$4
agents=$src/agents
# shellcheck source=../common/gwd-node.sh
. "$src/common/gwd-node.sh"

[ -f "$agents/run-client.sh" ] && [ -f "$agents/package-lock.json" ] ||
  { echo "tests/agents harness missing"; exit 77; }
node_ready
# Only Codex, exactly as the harness's lock pins it (its entries, integrity
# hashes included): the whole harness is about 860 MB with Claude Code, per
# build directory. run-client.sh finds the client in node_modules beside
# itself: a copy of it goes next to the packages, never into the source tree.
mkdir -p "$out/pkg"
node -e '
  const fs = require("fs");
  const [src, dst] = process.argv.slice(1);
  const lock = JSON.parse(fs.readFileSync(src + "/package-lock.json", "utf8"));
  const ver = lock.packages[""].dependencies["@openai/codex"];
  const pkg = { name: "lingma-gatewayd-codex", private: true, version: "0.0.0",
                dependencies: { "@openai/codex": ver } };
  lock.name = pkg.name;
  lock.packages = Object.fromEntries(Object.entries(lock.packages).filter(
    ([k]) => k === "" || k.startsWith("node_modules/@openai/codex")));
  Object.assign(lock.packages[""], { name: pkg.name, dependencies: pkg.dependencies });
  fs.writeFileSync(dst + "/package.json", JSON.stringify(pkg, null, 2) + "\n");
  fs.writeFileSync(dst + "/package-lock.json", JSON.stringify(lock, null, 2) + "\n");
' "$agents" "$out/pkg" || { echo "cannot read the pin of @openai/codex"; exit 1; }
npm_install "$out" "$out/pkg/package.json" "$out/pkg/package-lock.json" "$agents/run-client.sh"

key=sk-codex-test-key
gwd_up "$gw" "$sim" "$key" LINGMA_EXIT_WITH_PARENT=1
run=$GWD_WORK.run

fail() {
  echo "FAIL: $*"
  echo "--- codex stdout"; tail -n 20 "$run/stdout" 2>/dev/null
  echo "--- codex stderr"; tail -n 40 "$run/stderr" 2>/dev/null
  echo "--- daemon log"; tail -n 40 "$GWD_LOG"
  rm -rf "$run"
  exit 1
}

# The provider config is run-client.sh's: base_url = "$GWD_URL/v1",
# wire_api = "responses", the key from an env_key variable, and a model
# name of our own ("lingma-auto", which the catalogue resolves to auto).
RUN_DIR="$run" TIMEOUT=180 RETRIES=0 "$out/run-client.sh" codex "$GWD_URL" "$key" "Say hi" \
  >/dev/null 2>&1
rc=$(cat "$run/rc" 2>/dev/null || echo missing)
[ "$rc" = 0 ] || fail "codex exec exited $rc"

# The simulator echoes the question it got (Codex's instructions, the
# conversation, the prompt); Codex prints the final message.
head -c 6 "$run/stdout" | grep -q '^ECHO: ' || fail "the answer does not start with 'ECHO: '"
grep -q 'User: Say hi' "$run/stdout" || fail "the answer does not hold the prompt"
cmp -s <(tr -d '\n' < "$run/stdout") <(tr -d '\n' < "$run/last-message.txt") ||
  fail "stdout and --output-last-message differ"
grep -q '"route":"/v1/responses","status":200' "$GWD_LOG" ||
  fail "no 200 on /v1/responses in the daemon log"
if grep '"msg":"request"' "$GWD_LOG" | grep '"route":"/v1/' | grep -vq '"status":200'; then
  fail "a /v1 request was not answered 200"
fi
echo "codex exec answered through /v1/responses:"
head -c 200 "$run/stdout"
echo
rm -rf "$run"

# Tool calling (doc/tools.md): the simulator's script answers the request
# with an exec_command call that writes a file in Codex's working directory,
# and with a DONE line once the command's output is in the question.
target=$run/work/ran.txt
rules=$GWD_WORK/rules.json
node -e '
  const [file, target] = process.argv.slice(1);
  const call = { name: "exec_command", arguments: { cmd: "echo ran-by-codex > " + target } };
  const rules = [
    { match: "^Tool (result|error) \\(", reply: "DONE: the command ran" },
    { match: "Run the command", reply: "```tool_call\n" + JSON.stringify(call) + "\n```" },
  ];
  require("fs").writeFileSync(file, JSON.stringify(rules));
' "$rules" "$target" || fail "cannot write the script rules"
printf '{"reply":"script:%s","chunks":16}' "$rules" > "$GWD_WORK/sim.json"
RUN_DIR="$run" TIMEOUT=180 RETRIES=0 TOOLS=1 "$out/run-client.sh" codex "$GWD_URL" "$key" \
  "Run the command" >/dev/null 2>&1
rc=$(cat "$run/rc" 2>/dev/null || echo missing)
[ "$rc" = 0 ] || fail "codex exec (tool call) exited $rc"
[ -f "$target" ] || fail "Codex did not run the command ($target missing)"
[ "$(cat "$target")" = "ran-by-codex" ] || fail "unexpected content in $target"
[ "$(cat "$run/stdout")" = "DONE: the command ran" ] || fail "unexpected final answer"
echo "codex exec ran a command through a function_call round trip:"
cat "$run/stdout"
rm -rf "$run"

# The daemon must stop cleanly (exit 0: no sanitizer report, no leak).
gw_rc=0
gwd_down || gw_rc=$?
[ $gw_rc -eq 0 ] || { echo "lingma-gatewayd exited with status $gw_rc"; tail -n 40 "$GWD_LOG"; exit 1; }
rm -f "$GWD_LOG"
exit 0
