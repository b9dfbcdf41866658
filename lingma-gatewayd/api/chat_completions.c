/*
 * The OpenAI Chat Completions front-end (POST /v1/chat/completions): the
 * parse is openai.c's, the chunks and the chat.completion are
 * openai_format.c's; this file maps the chat route's event model onto them
 * (see frontend.h). Its bytes are exactly those of the gateway before the
 * other front-ends existed (tests/sdk and gw-api pin them).
 */
#include <stdlib.h>

#include "api/calls.h"
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
    switch (why) {
    case GW_FINISH_LENGTH:
        return "length";
    case GW_FINISH_TOOL_CALLS:
        return "tool_calls";
    case GW_FINISH_STOP:
    case GW_FINISH_STOP_SEQUENCE:
    default:
        return "stop";
    }
}

/* Every chunk is built from gw_answer alone; the state only keeps the
 * calls of a non-streaming answer. */
static void *
state_new(const gw_answer *a)
{
    (void)a;
    return calloc(1, sizeof(gw_calls));
}

static void
state_free(void *st)
{
    gw_calls_free(st);
    free(st);
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

/* A call streams as OpenAI's do: a first fragment with the id, the type
 * and the name (arguments ""), then the arguments. */
static int
tool_call(gw_buf *out, void *st, const gw_answer *a, size_t index, const gw_tool_call *call)
{
    char id[GW_CALL_ID_SIZE];
    gw_call_id(id, "call_", call->id);
    gw_tool_call c = {id, call->name, call->arguments};
    if (!a->stream)
        return gw_calls_add(st, &c);
    gw_completion_meta m = meta_of(a);
    size_t before = out->len;
    gw_buf j = GW_BUF_INIT, k = GW_BUF_INIT;
    int rc = sse_of(out, &j, gw_openai_chunk_tool_call(&j, &m, index, id, call->name, ""));
    if (rc == 0)
        rc = sse_of(out, &k, gw_openai_chunk_tool_call(&k, &m, index, NULL, NULL, call->arguments));
    if (rc != 0)
        gw_buf_truncate(out, before);
    return rc;
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
    const gw_calls *calls = st;
    gw_completion_meta m = meta_of(a);
    /* An answer that is only calls has content null, as OpenAI's. */
    const char *content = text && len ? text : calls->n ? NULL : "";
    return gw_openai_completion_calls(out, &m, content, len, reasoning_len ? reasoning : NULL,
                                      reasoning_len, calls->v, calls->n, finish_reason(why), u);
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
    .tool_call = tool_call,
    .stream_close = stream_close,
    .stream_error = stream_error,
    .complete = complete,
    .finished = NULL,
};
