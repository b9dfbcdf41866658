/*
 * The Anthropic Messages front-end (POST /v1/messages); see frontend.h for
 * the event model and messages.h for the parse.
 *
 * A stream is named SSE events in Anthropic's order, which the SDK's
 * MessageStream and Claude Code accumulate by block index:
 *
 *   message_start        {message: id, model, content [], usage.input_tokens}
 *   content_block_start  {index, content_block: {type: thinking|text, ...}}
 *   content_block_delta  {index, delta: thinking_delta | text_delta}
 *   (signature_delta     closes a thinking block)
 *   content_block_stop   {index}
 *   ...                  a new block whenever the kind of text changes
 *   tool_use blocks      one per call, after the text: start {id "toolu_…",
 *                        name, input {}}, one input_json_delta, stop
 *   message_delta        {delta: {stop_reason, stop_sequence}, usage}
 *   message_stop
 *
 * A failure after message_start is `event: error` with Anthropic's error
 * object, and nothing after it: the SDK raises it, and no message_delta
 * makes a cut answer look finished.
 */
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/calls.h"
#include "messages.h"
#include "sse.h"

/* The block being streamed. */
typedef enum block_kind {
    BLOCK_NONE,
    BLOCK_THINKING,
    BLOCK_TEXT,
    BLOCK_TOOL_USE,
} block_kind;

typedef struct mstate {
    block_kind open; /* the block content_block_start opened, not yet stopped */
    int index;       /* its index */
    int blocks;      /* blocks started so far (the next index) */
    gw_calls calls;  /* a non-streaming answer's calls */
} mstate;

static int
parse(gw_chat_request **out, gw_error *err, const char *body, size_t len, const gw_parse_ctx *ctx)
{
    (void)ctx;
    return gw_messages_parse(out, err, body, len, false);
}

static void *
state_new(const gw_answer *a)
{
    (void)a;
    return calloc(1, sizeof(mstate));
}

static void
state_free(void *st)
{
    mstate *s = st;
    if (s)
        gw_calls_free(&s->calls);
    free(s);
}

int
gw_messages_signature(gw_buf *out, const char *id)
{
    return gw_buf_printf(out, "lingma-gatewayd:%s", id);
}

static const char *
stop_reason(gw_finish why)
{
    switch (why) {
    case GW_FINISH_LENGTH:
        return "max_tokens";
    case GW_FINISH_STOP_SEQUENCE:
        return "stop_sequence";
    case GW_FINISH_TOOL_CALLS:
        return "tool_use";
    case GW_FINISH_STOP:
    default:
        return "end_turn";
    }
}

/* Append `event: <name>` with `v` (stolen; NULL means out of memory). */
static int
emit(gw_buf *out, const char *name, json_t *v)
{
    if (!v)
        return LINGMA_ENOMEM;
    gw_buf j = GW_BUF_INIT;
    int rc = gw_buf_append_json(&j, v);
    json_decref(v);
    if (rc == 0)
        rc = gw_sse_event(out, name, j.data, j.len);
    gw_buf_free(&j);
    return rc;
}

/* The usage object: Lingma has no prompt cache, so the cache counters
 * Claude Code adds up are always 0. */
static json_t *
usage_json(int64_t input, int64_t output)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)input,
                     "cache_creation_input_tokens", (json_int_t)0, "cache_read_input_tokens",
                     (json_int_t)0, "output_tokens", (json_int_t)output);
}

/* The message object; `content` and `usage` stolen. */
static json_t *
message_json(const gw_answer *a, json_t *content, const char *reason, const char *sequence,
             json_t *usage)
{
    if (!content || !usage) {
        json_decref(content);
        json_decref(usage);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s?,s:s?,s:o}", "id", a->id, "type", "message", "role",
                     "assistant", "model", a->model, "content", content, "stop_reason", reason,
                     "stop_sequence", sequence, "usage", usage);
}

/* On failure, cut `out` back to `before`: every render call appends a
 * whole set of events or nothing. */
static int
all_or_nothing(gw_buf *out, size_t before, int rc)
{
    if (rc != 0)
        gw_buf_truncate(out, before);
    return rc;
}

static int
stream_open(gw_buf *out, void *st, const gw_answer *a)
{
    (void)st;
    json_t *msg = message_json(a, json_array(), NULL, NULL, usage_json(a->input_tokens, 0));
    return emit(out, "message_start",
                msg ? json_pack("{s:s,s:o}", "type", "message_start", "message", msg) : NULL);
}

static int
block_stop(gw_buf *out, mstate *s, const gw_answer *a)
{
    int rc = 0;
    if (s->open == BLOCK_NONE)
        return 0;
    if (s->open == BLOCK_THINKING) {
        /* The signature closes a thinking block, as Anthropic sends it. */
        gw_buf sig = GW_BUF_INIT;
        rc = gw_messages_signature(&sig, a->id);
        if (rc == 0)
            rc = emit(out, "content_block_delta",
                      json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_delta", "index",
                                s->index, "delta", "type", "signature_delta", "signature",
                                sig.data));
        gw_buf_free(&sig);
    }
    if (rc == 0)
        rc = emit(out, "content_block_stop",
                  json_pack("{s:s,s:i}", "type", "content_block_stop", "index", s->index));
    if (rc == 0)
        s->open = BLOCK_NONE;
    return rc;
}

/* Make `kind` the open block: stop another one, start this one. */
static int
block_start(gw_buf *out, mstate *s, const gw_answer *a, block_kind kind)
{
    if (s->open == kind)
        return 0;
    int rc = block_stop(out, s, a);
    if (rc != 0)
        return rc;
    json_t *block = kind == BLOCK_THINKING ? json_pack("{s:s,s:s,s:s}", "type", "thinking",
                                                       "thinking", "", "signature", "")
                                           : json_pack("{s:s,s:s}", "type", "text", "text", "");
    rc = emit(out, "content_block_start",
              block ? json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index", s->blocks,
                                "content_block", block)
                    : NULL);
    if (rc == 0) {
        s->open = kind;
        s->index = s->blocks++;
    }
    return rc;
}

static int
delta(gw_buf *out, mstate *s, const gw_answer *a, block_kind kind, const char *text, size_t len)
{
    /* Everything of one delta goes out or nothing: a failed append leaves
     * `out` as it was (the chat route drops a failed render). */
    size_t before = out->len;
    mstate saved = *s;
    int rc = block_start(out, s, a, kind);
    if (rc == 0) {
        const char *type = kind == BLOCK_THINKING ? "thinking_delta" : "text_delta";
        const char *key = kind == BLOCK_THINKING ? "thinking" : "text";
        json_t *t = gw_json_text(text, len);
        rc = emit(out, "content_block_delta",
                  t ? json_pack("{s:s,s:i,s:{s:s,s:o}}", "type", "content_block_delta", "index",
                                s->index, "delta", "type", type, key, t)
                    : NULL);
    }
    if (rc != 0)
        *s = saved;
    return all_or_nothing(out, before, rc);
}

static int
stream_text(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len)
{
    return delta(out, st, a, BLOCK_TEXT, text, len);
}

static int
stream_reasoning(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len)
{
    return delta(out, st, a, BLOCK_THINKING, text, len);
}

/* A tool_use block: `input` {} when it is announced, the call's
 * arguments as an object in a whole message (NULL on OOM). */
static json_t *
tool_use_block(const gw_tool_call *call, bool with_input)
{
    char id[GW_CALL_ID_SIZE];
    gw_call_id(id, "toolu_", call->id);
    json_t *input = with_input ? json_loads(call->arguments, 0, NULL) : NULL;
    if (!json_is_object(input)) {
        json_decref(input);
        input = json_object(); /* the runtime hands out objects only */
    }
    return input ? json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name", call->name,
                             "input", input)
                 : NULL;
}

/* A call: the open block stopped, then a tool_use block of its own whose
 * input comes whole in one input_json_delta (the runtime hands calls out
 * complete; Claude Code and the SDK join the deltas either way). */
static int
tool_call(gw_buf *out, void *st, const gw_answer *a, size_t index, const gw_tool_call *call)
{
    (void)index;
    mstate *s = st;
    if (!a->stream)
        return gw_calls_add(&s->calls, call);
    size_t before = out->len;
    mstate saved = *s;
    int rc = block_stop(out, s, a);
    json_t *block = rc == 0 ? tool_use_block(call, false) : NULL;
    if (rc == 0)
        rc = emit(out, "content_block_start",
                  block ? json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index",
                                    s->blocks, "content_block", block)
                        : NULL);
    if (rc == 0) {
        s->open = BLOCK_TOOL_USE;
        s->index = s->blocks++;
        rc = emit(out, "content_block_delta",
                  json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_delta", "index",
                            s->index, "delta", "type", "input_json_delta", "partial_json",
                            call->arguments));
    }
    if (rc == 0)
        rc = block_stop(out, s, a);
    if (rc != 0)
        *s = saved;
    return all_or_nothing(out, before, rc);
}

static int
stream_close(gw_buf *out, void *st, const gw_answer *a, gw_finish why, const gw_usage *u)
{
    mstate *s = st;
    size_t before = out->len;
    int rc = 0;
    /* An empty answer is still one (empty) text block, as Anthropic sends. */
    if (s->blocks == 0)
        rc = block_start(out, s, a, BLOCK_TEXT);
    if (rc == 0)
        rc = block_stop(out, s, a);
    const char *seq = why == GW_FINISH_STOP_SEQUENCE ? a->stop_sequence : NULL;
    json_t *usage = usage_json(u->prompt_tokens, u->completion_tokens);
    if (rc == 0)
        rc = emit(out, "message_delta",
                  usage ? json_pack("{s:s,s:{s:s,s:s?},s:o}", "type", "message_delta", "delta",
                                    "stop_reason", stop_reason(why), "stop_sequence", seq, "usage",
                                    usage)
                        : NULL);
    else
        json_decref(usage);
    if (rc == 0)
        rc = emit(out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    return all_or_nothing(out, before, rc);
}

static int
stream_error(gw_buf *out, void *st, const gw_answer *a, const gw_error *e)
{
    (void)st;
    (void)a;
    gw_buf j = GW_BUF_INIT;
    int rc = gw_error_json_for(&j, GW_API_ANTHROPIC, e);
    if (rc == 0)
        rc = gw_sse_event(out, "error", j.data, j.len);
    gw_buf_free(&j);
    return rc;
}

static int
complete(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len,
         const char *reasoning, size_t reasoning_len, gw_finish why, const gw_usage *u)
{
    const mstate *s = st;
    json_t *content = json_array();
    gw_buf sig = GW_BUF_INIT;
    bool ok = content != NULL;
    if (ok && reasoning_len && a->show_reasoning) {
        json_t *t = gw_json_text(reasoning, reasoning_len);
        ok = t && gw_messages_signature(&sig, a->id) == 0 &&
             json_array_append_new(content, json_pack("{s:s,s:o,s:s}", "type", "thinking",
                                                      "thinking", t, "signature", sig.data)) == 0;
    }
    /* The text block; an answer of calls alone has none, as Anthropic's. */
    if (ok && (len || s->calls.n == 0)) {
        json_t *t = gw_json_text(text ? text : "", text ? len : 0);
        ok = t &&
             json_array_append_new(content, json_pack("{s:s,s:o}", "type", "text", "text", t)) == 0;
    }
    for (size_t i = 0; ok && i < s->calls.n; i++)
        ok = json_array_append_new(content, tool_use_block(&s->calls.v[i], true)) == 0;
    gw_buf_free(&sig);
    if (!ok) {
        json_decref(content);
        return LINGMA_ENOMEM;
    }
    json_t *msg = message_json(a, content, stop_reason(why),
                               why == GW_FINISH_STOP_SEQUENCE ? a->stop_sequence : NULL,
                               usage_json(u->prompt_tokens, u->completion_tokens));
    if (!msg)
        return LINGMA_ENOMEM;
    int rc = gw_buf_append_json(out, msg);
    json_decref(msg);
    return rc;
}

const gw_frontend gw_fe_messages = {
    .name = "messages",
    .errors = GW_API_ANTHROPIC,
    .id_prefix = "msg_",
    .parse = parse,
    .state_new = state_new,
    .state_free = state_free,
    /* Anthropic's keep-alive; the SDK and Claude Code skip it by name. */
    .heartbeat = "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    .stream_open = stream_open,
    .stream_text = stream_text,
    .stream_reasoning = stream_reasoning,
    .tool_call = tool_call,
    .stream_close = stream_close,
    .stream_error = stream_error,
    .complete = complete,
    .finished = NULL,
};
