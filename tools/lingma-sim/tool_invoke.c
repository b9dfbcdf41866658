/* lingma-sim: the tool_invoke fault (see tool_invoke.h). */
#include "tool_invoke.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tool/invoke waiting for its response. */
struct pending {
    struct sim_conn *conn;
    sim_tool_invoke_done_fn done;
    void *payload;
    char tool_call_id[40];
};

bool
sim_tool_invoke_refused(const json_t *result, const char *tool_call_id, char *why, size_t whylen)
{
    const json_t *ok = json_object_get(result, "success");
    const char *msg = json_string_value(json_object_get(result, "errorMessage"));
    const char *id = json_string_value(json_object_get(result, "toolCallId"));
    if (!json_is_object(result))
        snprintf(why, whylen, "the response is not a ToolInvokeResponse object");
    else if (!id || strcmp(id, tool_call_id) != 0)
        snprintf(why, whylen, "toolCallId is not '%s'", tool_call_id);
    else if (!json_is_false(ok))
        snprintf(why, whylen, "success is not false");
    else if (!msg || !*msg)
        snprintf(why, whylen, "no errorMessage");
    else
        return true;
    return false;
}

static void
on_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct pending *p = payload;
    struct sim *sim = p->conn->sim;
    char why[160] = "";
    (void)rpc;

    if (status == 0 && sim_tool_invoke_refused(result, p->tool_call_id, why, sizeof(why))) {
        sim->stats.tool_invokes_refused++;
        sim_logf(&sim->log, "INFO", "tool/invoke %s refused: %s", p->tool_call_id,
                 json_string_value(json_object_get(result, "errorMessage")));
    } else if (status == 0) {
        sim_logf(&sim->log, "WARN", "tool/invoke %s answered, not a clean refusal: %s",
                 p->tool_call_id, why);
    } else {
        sim_logf(&sim->log, "WARN", "tool/invoke %s not answered: %s", p->tool_call_id,
                 err && err->message ? err->message : lingma_strerror(status));
    }
    sim_state_flush(sim); /* tests poll for the counters */
    p->done(p->payload, status == 0 || status == LINGMA_ERPC);
    free(p);
}

int
sim_tool_invoke_push(struct sim_conn *c, const char *request_id, const char *session_id,
                     sim_tool_invoke_done_fn done, void *payload)
{
    struct sim *sim = c->sim;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->conn = c;
    p->done = done;
    p->payload = payload;
    snprintf(p->tool_call_id, sizeof(p->tool_call_id), "sim-tool-%" PRIu64,
             sim->stats.tool_invokes + 1);
    /* The shape of the plugin's ToolInvokeParams; read_file is one of the
     * built-in tools the protocol notes list. */
    json_t *params =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:b}", "requestId", request_id, "sessionId",
                  session_id ? session_id : "", "toolCallId", p->tool_call_id, "name", "read_file",
                  "parameters", "filePath", "README.md", "async", 0);
    /* No timeout: Lingma waits for its tool as long as it takes. */
    if (!params || lingma_rpc_call(c->rpc, NULL, "tool/invoke", params, 0, on_response, p) != 0) {
        free(p);
        return -1;
    }
    sim->stats.tool_invokes++;
    sim_logf(&sim->log, "INFO", "tool/invoke %s (read_file) for chat %s", p->tool_call_id,
             request_id);
    sim_conn_kick(c);
    return 0;
}
