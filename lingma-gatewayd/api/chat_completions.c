/*
 * The OpenAI Chat Completions front-end (POST /v1/chat/completions): the
 * parse is openai.c's, the chunks and the chat.completion are
 * openai_format.c's; this file maps the chat route's event model onto them
 * (see frontend.h). Its bytes are exactly those of the gateway before the
 * other front-ends existed (tests/sdk and gw-api pin them).
 */
#include <stdlib.h>

#include "frontend.h"
#include "sse.h"

static int
parse(gw_chat_request **out, gw_error *err, const char *body, size_t len, const gw_parse_ctx *ctx)
{
    (void)ctx;
    return gw_chat_request_parse(out, err, body, len);
}

static gw_completion_meta
meta_of(const gw_answer *a)
{
    gw_completion_meta m = {a->id, a->created, a->model, a->include_usage};
    return m;
}

static const char *
finish_reason(gw_finish why)
{
    return why == GW_FINISH_LENGTH ? "length" : "stop";
}

/* No per-answer state: every chunk is built from gw_answer alone. A
 * non-NULL token keeps the chat route's "out of memory" check simple. */
static void *
state_new(const gw_answer *a)
{
    (void)a;
    static char none;
    return &none;
}

static void
state_free(void *st)
{
    (void)st;
}

/* Append `data: <json>` of what `fmt` made, or nothing when it failed. */
static int
sse_of(gw_buf *out, gw_buf *json, int rc)
{
    if (rc == 0)
        rc = gw_sse_data(out, json->data, json->len);
    gw_buf_free(json);
    return rc;
}

static int
stream_open(gw_buf *out, void *st, const gw_answer *a)
{
    (void)st;
    gw_buf j = GW_BUF_INIT;
    gw_completion_meta m = meta_of(a);
    return sse_of(out, &j, gw_openai_chunk_role(&j, &m));
}

/* A text or reasoning delta chunk: the two differ only in their key. */
typedef int (*delta_fmt)(gw_buf *, const gw_completion_meta *, const char *, size_t);

static int
delta(gw_buf *out, const gw_answer *a, delta_fmt fmt, const char *text, size_t len)
{
    gw_buf j = GW_BUF_INIT;
    gw_completion_meta m = meta_of(a);
    return sse_of(out, &j, fmt(&j, &m, text, len));
}

static int
stream_text(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len)
{
    (void)st;
    return delta(out, a, gw_openai_chunk_content, text, len);
}

static int
stream_reasoning(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len)
{
    (void)st;
    return delta(out, a, gw_openai_chunk_reasoning, text, len);
}

static int
stream_close(gw_buf *out, void *st, const gw_answer *a, gw_finish why, const gw_usage *u)
{
    (void)st;
    gw_completion_meta m = meta_of(a);
    gw_buf j = GW_BUF_INIT;
    int rc = sse_of(out, &j, gw_openai_chunk_finish(&j, &m, finish_reason(why)));
    if (rc == 0 && a->include_usage) {
        gw_buf k = GW_BUF_INIT;
        rc = sse_of(out, &k, gw_openai_chunk_usage(&k, &m, u));
    }
    return rc == 0 ? gw_sse_done(out) : rc;
}

static int
stream_error(gw_buf *out, void *st, const gw_answer *a, const gw_error *e)
{
    (void)st;
    (void)a;
    int rc = gw_sse_error(out, e);
    return rc == 0 ? gw_sse_done(out) : rc;
}

static int
complete(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len,
         const char *reasoning, size_t reasoning_len, gw_finish why, const gw_usage *u)
{
    (void)st;
    gw_completion_meta m = meta_of(a);
    return gw_openai_completion(out, &m, text ? text : "", len, reasoning_len ? reasoning : NULL,
                                reasoning_len, finish_reason(why), u);
}

const gw_frontend gw_fe_chat_completions = {
    .name = "chat.completions",
    .errors = GW_API_OPENAI,
    .id_prefix = "chatcmpl-",
    .parse = parse,
    .state_new = state_new,
    .state_free = state_free,
    .heartbeat = ": ping\n\n",
    .stream_open = stream_open,
    .stream_text = stream_text,
    .stream_reasoning = stream_reasoning,
    .stream_close = stream_close,
    .stream_error = stream_error,
    .complete = complete,
    .finished = NULL,
};
