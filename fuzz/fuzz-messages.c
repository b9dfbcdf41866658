/*
 * Fuzz target: the gateway's request path for POST /v1/messages. Parses the
 * body (the chat form and the count_tokens form), and when it is accepted
 * runs what the daemon then does with it (prompt, affinity, stop matching,
 * token counting) and renders the answer through the Messages front-end,
 * streaming and not, so that any accepted request survives the whole pure
 * pipeline.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/messages.h"
#include "stop.h"
#include "tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replay `text` as the answer, in odd pieces, through the front-end. */
static void
render(const gw_chat_request *req, const char *text)
{
    const gw_frontend *fe = &gw_fe_messages;
    gw_answer a = {.id = "msg_fuzz",
                   .created = 1700000000,
                   .model = "auto",
                   .stream = req->stream,
                   .show_reasoning = req->show_reasoning,
                   .req = req,
                   .input_tokens = 1};
    gw_buf out = GW_BUF_INIT;
    gw_stop_matcher m;
    void *st = fe->state_new(&a);
    if (!st || gw_stop_init(&m, req->stop, req->n_stop) != 0) {
        fe->state_free(st);
        return;
    }
    gw_buf safe = GW_BUF_INIT;
    gw_token_counter tc = GW_TOKEN_COUNTER_INIT;
    size_t len = strlen(text);
    bool hit = false;
    fe->stream_open(&out, st, &a);
    for (size_t i = 0; i < len && !hit; i += 7) {
        size_t k = len - i < 7 ? len - i : 7;
        size_t before = safe.len;
        if (gw_stop_feed(&m, &safe, text + i, k, &hit) != 0)
            break;
        size_t take = gw_token_counter_take(&tc, safe.data + before, safe.len - before,
                                            req->max_tokens ? (uint64_t)req->max_tokens : 1);
        /* Alternate kinds so that blocks open and close. */
        if ((i / 7) % 3 == 1)
            fe->stream_reasoning(&out, st, &a, safe.data + before, take);
        else
            fe->stream_text(&out, st, &a, safe.data + before, take);
    }
    a.stop_sequence = gw_stop_matched(&m);
    gw_usage u = {1, (int64_t)gw_token_counter_total(&tc)};
    /* With tools offered, the text also ends in a call (its arguments the
     * fuzz text: the whole message must survive any), streamed and kept. */
    gw_finish why = hit ? GW_FINISH_STOP_SEQUENCE : GW_FINISH_STOP;
    if (req->toolset) {
        gw_tool_call call = {"call_0123456789abcdef01234567", "f", (char *)text};
        gw_answer whole = a;
        whole.stream = false;
        fe->tool_call(&out, st, &a, 0, &call);
        fe->tool_call(&out, st, &whole, 0, &call);
        why = GW_FINISH_TOOL_CALLS;
    }
    fe->stream_close(&out, st, &a, why, &u);
    fe->complete(&out, st, &a, safe.data, safe.len, text, len,
                 req->toolset ? GW_FINISH_TOOL_CALLS : GW_FINISH_LENGTH, &u);
    gw_buf_free(&safe);
    gw_stop_free(&m);
    fe->state_free(st);
    gw_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int count_only = 0; count_only < 2; count_only++) {
        gw_chat_request *req = NULL;
        gw_error err;
        gw_buf out = GW_BUF_INIT;
        if (gw_messages_parse(&req, &err, (const char *)data, size, count_only) != 0) {
            /* Every refusal must still make a valid envelope. */
            if (gw_error_json_for(&out, GW_API_ANTHROPIC, &err) != 0)
                abort();
            gw_buf_free(&out);
            continue;
        }
        char *prompt = NULL;
        char *affinity = NULL;
        if (gw_chat_request_prompt(&prompt, req) == 0 &&
            gw_chat_request_affinity(&affinity, req) == 0 &&
            gw_anthropic_count(&out, (int64_t)gw_token_estimate(prompt, strlen(prompt))) == 0)
            render(req, prompt);
        free(prompt);
        free(affinity);
        gw_buf_free(&out);
        gw_chat_request_free(req);
    }
    return 0;
}
