/* lingma-sim: --help, kept in step with doc/lingma-sim.md. */
#include "help.h"

#include <stddef.h>

static const char *const help_text[] = {
    "lingma-sim - a simulator of the Lingma (Tongyi Lingma) local agent, version 2.11.1\n",
    "\n",
    "Usage:\n",
    "  lingma-sim start [--workDir DIR] [--socketPort N] [--httpPort N]\n",
    "                   [--transportType websocket] [--endpoint URL]\n",
    "  lingma-sim version\n",
    "  lingma-sim status [-o json] [--workDir DIR]\n",
    "  lingma-sim --help\n",
    "\n",
    "Flags (both --flag value and --flag=value; unknown flags are ignored):\n",
    "  --workDir DIR        work dir: .info, cache/, logs/ (default: the current dir)\n",
    "  --socketPort N       WebSocket port on 127.0.0.1 (default 37010; 0 or busy: ephemeral)\n",
    "  --httpPort N         HTTP login-callback port (default: ephemeral)\n",
    "  --transportType T    accepted for compatibility; only websocket exists\n",
    "  --endpoint URL       initial value of config/getEndpoint\n",
    "  -o json              status: print JSON\n",
    "  Example: lingma-sim start --workDir=/tmp/w1 --socketPort 0\n",
    "\n",
    "Files in the work dir:\n",
    "  .info (\"port\\npid\\n\", written after listening, removed at exit), .info.json "
    "(INFO=json),\n",
    "  cache/id, cache/user (while logged in), cache/sim-state.json (counters for status),\n",
    "  logs/lingma.log (\"Communication servers ready - WebSocket: N, HTTP: M\"),\n",
    "  sim.json (optional settings, re-read at every chat/ask).\n",
    "\n",
    "Settings (environment LINGMA_SIM_*, or the same keys in JSON: LINGMA_SIM_CONFIG=<file>\n",
    "and <workDir>/sim.json, with or without the prefix, e.g. "
    "{\"reply\":\"text:hi\",\"chunks\":4}).\n",
    "Precedence: defaults < LINGMA_SIM_CONFIG < environment < sim.json. A bad value: exit 2.\n",
    "  LINGMA_SIM_LOGGED_IN=1          a fresh work dir starts logged in (0: logged out)\n",
    "  LINGMA_SIM_USERNAME=NAME        account name of the simulated login\n",
    "  LINGMA_SIM_SEED=0               seed of tokens:<n> answers (deterministic per seed)\n",
    "  LINGMA_SIM_REPLY=echo           echo (\"ECHO: \" + question) | text:<s> | tokens:<n>\n",
    "                                  e.g. LINGMA_SIM_REPLY='text:hello world'\n",
    "  LINGMA_SIM_CHUNKS=8             answer pieces (plus empty deltas), e.g. 1 for one delta\n",
    "  LINGMA_SIM_FIRST_TOKEN_MS=0     delay before the first chat/answer, e.g. 500\n",
    "  LINGMA_SIM_CHUNK_MS=0           delay between chat/answer deltas, e.g. 20\n",
    "  LINGMA_SIM_ACK_WAIT_MS=100      wait at most this for each push ACK before the next push\n",
    "                                  (0: do not wait); late ones count as unanswered\n",
    "  LINGMA_SIM_MODELS=<file>        model catalogue (JSON array of items or scene map);\n",
    "                                  built in: auto, dashscope_qwen3_coder,\n",
    "                                  dashscope_qwen_plus_20250428_thinking (reasoning)\n",
    "  LINGMA_SIM_INFO=2line           2line | 3line | json (.info.json) | early (before "
    "listening)\n",
    "  LINGMA_SIM_SPLIT=1              split every outgoing frame over 3 WebSocket messages\n",
    "  LINGMA_SIM_COALESCE=1           pack up to 16 frames into one WebSocket message\n",
    "  LINGMA_SIM_STEP_END_FIRST=1     send step_end before the chat/answer deltas\n",
    "  LINGMA_SIM_NOISY=1              interleave window/logMessage, telemetry/event and an\n",
    "                                  unknown server request\n",
    "  LINGMA_SIM_ONE_CHAT_PER_CONNECTION=1\n",
    "                                  2nd concurrent ask on a connection: -32602\n",
    "                                  \"Another chat is in progress\"\n",
    "  LINGMA_SIM_USAGE=1              context/usage/sync + chat/finish.extra.usage token counts\n",
    "  LINGMA_SIM_TIMESTAMPS=1         non-empty chat/answer text starts with @<CLOCK_MONOTONIC "
    "ns>@\n",
    "  LINGMA_SIM_FAULT=LIST           comma list, e.g. "
    "LINGMA_SIM_FAULT=drop_after:3,ask_delay_ms:200\n",
    "      drop_after:N     close the connection after N chat/answer pushes\n",
    "      exit_after:N     exit the process (status 1, .info left) after N chat/answer pushes\n",
    "      hang             from that chat/ask on, answer nothing at all\n",
    "      ask_delay_ms:N   delay the chat/ask result by N ms\n",
    "      finish:CODE      chat/finish with statusCode CODE (408, 429, 500, ...), no text\n",
    "      rpc_error        answer chat/ask with JSON-RPC error -32603\n",
    "      exit_at_start    exit with status 3 before listening\n",
    "      start_delay_ms:N wait N ms between listening and writing .info\n",
    "      stale_info       write a stale .info (dead pid, closed port) first, replace it after\n",
    "                       start_delay_ms (default 300 ms), and leave .info behind at exit\n",
    "      logged_out       behave as logged out (auth/status 1, queryModels {}, finish 401)\n",
    "  LINGMA_SIM_FAULT_LIMIT=N        faults hit only the first N chats (start faults: the\n",
    "                                  first N starts) of the work dir; counted in cache/, so a\n",
    "                                  respawned simulator recovers. 0: no limit\n",
    "\n",
    "Login: login/generateUrl returns https://...?port=<httpPort>&state=<nonce>;\n",
    "  curl 'http://127.0.0.1:<httpPort>/auth/callback?state=<nonce>' completes it\n",
    "  (wrong nonce: 400 \"Invalid login nonce\"), writes cache/user and pushes auth/report.\n",
    "\n",
    "Status: lingma-sim status -o json --workDir DIR prints {logged_in, version, username,\n",
    "  user_type, unanswered_pushes, stops_received, pushes_sent, ...}.\n",
    "\n",
    "Limits: one connection costs one fd; raise `ulimit -n` for thousands of connections.\n",
    "SIGINT/SIGTERM: clean exit within milliseconds, .info removed.\n",
    "LINGMA_EXIT_WITH_PARENT=1 (or the starter's pid): SIGKILL when the parent exits\n",
    "  (PR_SET_PDEATHSIG); exit 1 at start when it is already gone. Set by the test runner.\n",
};

void
sim_print_help(FILE *out)
{
    for (size_t i = 0; i < sizeof(help_text) / sizeof(*help_text); i++)
        fputs(help_text[i], out);
}
