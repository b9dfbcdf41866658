/*
 * Fuzz target: POST /v1/responses up to its answer. Parses the body
 * against a store that holds a short conversation (so previous_response_id
 * chains are walked), and when it is accepted runs everything the daemon
 * then does with it: prompt, affinity, a streamed answer with reasoning
 * (every event checked for SSE framing), the non-streaming object, and
 * the store on finish, then an input_items page of what was stored.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"
#include "sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gw_resp_store *
seeded_store(void)
{
    gw_resp_store_options o = {16, 1 << 20, 3600000, NULL, NULL};
    gw_resp_store *s = NULL;
    if (gw_resp_store_new(&s, &o) != 0)
        abort();
    static const char resp[] = "{\"output\":[{\"type\":\"message\",\"role\":\"assistant\","
                               "\"content\":[{\"type\":\"output_text\",\"text\":\"A\"}]}]}";
    static const char input[] = "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Q\"}]";
    gw_resp_store_put(s, "resp_a", NULL, resp, strlen(resp), input, strlen(input));
    gw_resp_store_put(s, "resp_b", "resp_a", resp, strlen(resp), input, strlen(input));
    return s;
}

/* Every event is `event: <name>\ndata: <one line>\n\n`. */
static void
check_events(const gw_buf *b)
{
    const char *p = b->data, *end = b->data + b->len;
    while (p && p < end) {
        if (strncmp(p, "event: ", 7) != 0)
            abort();
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || nl + 7 > end || strncmp(nl + 1, "data: {", 7) != 0)
            abort();
        const char *stop = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
        if (!stop || stop + 1 >= end || stop[1] != '\n')
            abort();
        p = stop + 2;
    }
}

static void
answer(gw_chat_request *req, gw_resp_store *store, const char *text)
{
    gw_parse_ctx ctx = {store};
    gw_answer a = {"resp_fuzz", 1700000000, "auto", req->stream, false, true, NULL, req};
    const gw_frontend *fe = &gw_fe_responses;
    size_t len = strlen(text);
    gw_usage u = {1, 2, 1};
    gw_tool_call call = {"call_0123456789abcdef01234567", "f", (char *)text};
    gw_buf out = GW_BUF_INIT;
    void *st = fe->state_new(&a);
    if (!st)
        return;
    if (req->stream) {
        fe->stream_open(&out, st, &a);
        fe->stream_reasoning(&out, st, &a, "think", 5);
        for (size_t i = 0; i < len; i += 5)
            fe->stream_text(&out, st, &a, text + i, len - i < 5 ? len - i : 5);
        if (req->max_tokens == 1) {
            gw_error e;
            gw_error_from_lingma(&e, LINGMA_EIO, 0, 0);
            fe->stream_error(&out, st, &a, &e);
            fe->finished(st, &a, false, &ctx);
        } else if (req->toolset) {
            /* With tools offered the answer ends in a call, whose item is
             * stored and read back by a later chain. */
            fe->tool_call(&out, st, &a, 0, &call);
            fe->stream_close(&out, st, &a, GW_FINISH_TOOL_CALLS, &u);
            fe->finished(st, &a, true, &ctx);
        } else {
            fe->stream_close(&out, st, &a, req->max_tokens ? GW_FINISH_LENGTH : GW_FINISH_STOP, &u);
            fe->finished(st, &a, true, &ctx);
        }
        check_events(&out);
    } else {
        if (req->toolset)
            fe->tool_call(&out, st, &a, 0, &call);
        fe->complete(&out, st, &a, text, len, "think", 5,
                     req->toolset ? GW_FINISH_TOOL_CALLS : GW_FINISH_STOP, &u);
        fe->finished(st, &a, true, &ctx);
    }
    fe->state_free(st);
    gw_buf_free(&out);
    gw_resp_entry e;
    if (gw_resp_store_get(store, &e, "resp_fuzz") == 0) {
        gw_error err;
        gw_resp_input_items_page(&out, &err, e.input, e.input_len, "2", "asc", NULL, NULL);
        gw_resp_entry_clear(&e);
        gw_buf_free(&out);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_resp_store *store = seeded_store();
    gw_chat_request *req = NULL;
    gw_error err;
    if (gw_resp_parse(&req, &err, (const char *)data, size, store) != 0) {
        gw_buf out = GW_BUF_INIT;
        if (gw_error_json(&out, &err) != 0 ||
            (err.status != 400 && err.status != 404 && err.status != 500))
            abort();
        gw_buf_free(&out);
        gw_resp_store_free(store);
        return 0;
    }
    char *prompt = NULL, *affinity = NULL;
    if (gw_chat_request_prompt(&prompt, req) == 0 && gw_chat_request_affinity(&affinity, req) == 0)
        answer(req, store, prompt);
    free(prompt);
    free(affinity);
    gw_chat_request_free(req);
    gw_resp_store_free(store);
    return 0;
}
