/*
 * The OpenAI Responses front-end (POST /v1/responses): the chat route's
 * event model mapped onto the Responses stream, and the answer stored on
 * finish (see frontend.h and responses.h).
 *
 * A stream, every event `event: <type>` + `data: {"type",
 * "sequence_number", ...}` with the number counting from 0:
 *
 *   response.created, response.in_progress            at open
 *   [reasoning item: output_item.added, reasoning_summary_part.added,
 *    reasoning_summary_text.delta..., reasoning_summary_text.done,
 *    reasoning_summary_part.done, output_item.done]   when Lingma thinks
 *   message item: output_item.added, content_part.added,
 *    output_text.delta..., output_text.done, content_part.done,
 *    output_item.done
 *   [function_call items, one per tool call: output_item.added,
 *    function_call_arguments.delta, function_call_arguments.done,
 *    output_item.done]                                 after the text
 *   response.completed | response.incomplete          at close
 *   or response.failed                                on a failure
 *
 * Items open lazily: the first reasoning delta opens the reasoning item,
 * the first text delta closes it and opens the message, so the output
 * order is reasoning then message, as OpenAI's. Reasoning after the answer
 * began is dropped. An answer without text still gets its (empty) message
 * item, unless it ends in tool calls (then it is function_call items alone,
 * as OpenAI's). There is no `data: [DONE]`: the terminal response event ends the
 * stream, as with OpenAI.
 */
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/calls.h"
#include "api/responses.h"
#include "reqjson.h"
#include "sse.h"

/* What one streamed answer may accumulate for its closing events (text
 * plus reasoning), the bound of a non-streaming answer in the chat route:
 * past it the answer fails rather than growing without limit. */
#define RESP_TEXT_MAX (4u * 1024u * 1024u)

enum open_item { OPEN_NONE, OPEN_REASONING, OPEN_MESSAGE };

struct rstate {
    int64_t seq;
    enum open_item open;
    bool message_seen; /* a message item was opened: reasoning now is late */
    bool overflow;     /* RESP_TEXT_MAX passed: the close fails */
    size_t index;      /* output_index of the open item */
    gw_buf reasoning;  /* the reasoning item's text so far */
    gw_buf text;       /* the message's text so far */
    json_t *output;    /* finished items */
    size_t n_calls;    /* function_call items streamed */
    gw_calls calls;    /* a non-streaming answer's calls */
    char msg_id[GW_RESP_ITEM_ID_SIZE];
    char rs_id[GW_RESP_ITEM_ID_SIZE];
    char *final; /* the delivered response object, for the store */
    size_t final_len;
};

static int
parse(gw_chat_request **out, gw_error *err, const char *body, size_t len, const gw_parse_ctx *ctx)
{
    return gw_resp_parse(out, err, body, len, ctx ? ctx->store : NULL);
}

static void *
state_new(const gw_answer *a)
{
    struct rstate *st = calloc(1, sizeof(*st));
    if (!st || !(st->output = json_array())) {
        free(st);
        return NULL;
    }
    gw_resp_item_id(st->msg_id, "msg", a->id);
    gw_resp_item_id(st->rs_id, "rs", a->id);
    return st;
}

static void
state_free(void *p)
{
    struct rstate *st = p;
    gw_buf_free(&st->reasoning);
    gw_buf_free(&st->text);
    json_decref(st->output);
    gw_calls_free(&st->calls);
    free(st->final);
    free(st);
}

/* Append one event: `fields` (stolen) after "type" and "sequence_number". */
static int
emit(gw_buf *out, struct rstate *st, const char *type, json_t *fields)
{
    json_t *ev = json_pack("{s:s,s:I}", "type", type, "sequence_number", (json_int_t)st->seq);
    int rc = LINGMA_ENOMEM;
    if (ev && fields && json_object_update(ev, fields) == 0) {
        gw_buf j = GW_BUF_INIT;
        if (gw_buf_append_json(&j, ev) == 0)
            rc = gw_sse_event(out, type, j.data, j.len);
        gw_buf_free(&j);
    }
    json_decref(ev);
    json_decref(fields);
    if (rc == 0)
        st->seq++;
    return rc;
}

/* A chunk's delta event, the stream's hot path: written without a tree
 * (responses_delta.c), the same bytes as emit() of the same fields. */
static int
emit_delta(gw_buf *out, struct rstate *st, const char *type, const char *item_id,
           const char *index_key, bool logprobs, const char *text, size_t len)
{
    gw_resp_delta d = {type, st->seq, item_id, st->index, index_key, logprobs};
    int rc = gw_resp_delta_event(out, &d, text, len);
    if (rc == 0)
        st->seq++;
    return rc;
}

/* {"item_id","output_index", then `more` (stolen)}: the address part of
 * every item-level event. */
static json_t *
at(struct rstate *st, const char *item_id, json_t *more)
{
    json_t *f = json_pack("{s:s,s:I}", "item_id", item_id, "output_index", (json_int_t)st->index);
    if (f && more && json_object_update(f, more) == 0) {
        json_decref(more);
        return f;
    }
    json_decref(f);
    json_decref(more);
    return NULL;
}

static json_t *
item_event(struct rstate *st, json_t *item)
{
    return item ? json_pack("{s:I,s:o}", "output_index", (json_int_t)st->index, "item", item)
                : NULL;
}

static json_t *
summary_part(const gw_buf *b)
{
    return json_pack("{s:s,s:o}", "type", "summary_text", "text",
                     gw_json_text(b->data ? b->data : "", b->len));
}

static json_t *
text_part(const gw_buf *b)
{
    return json_pack("{s:s,s:[],s:[],s:o}", "type", "output_text", "annotations", "logprobs",
                     "text", gw_json_text(b->data ? b->data : "", b->len));
}

static int
keep(struct rstate *st, gw_buf *b, const char *text, size_t len)
{
    if (st->text.len + st->reasoning.len + len > RESP_TEXT_MAX) {
        st->overflow = true;
        return LINGMA_ENOMEM;
    }
    return gw_buf_append(b, text, len);
}

/* The end of the open item (after its own done events, `rc` their
 * result): `item` (stolen) joins the output and is announced done. */
static int
finish_item(gw_buf *out, struct rstate *st, int rc, json_t *item)
{
    if (rc == 0 && (!item || json_array_append(st->output, item) != 0))
        rc = LINGMA_ENOMEM;
    if (rc == 0)
        rc = emit(out, st, "response.output_item.done", item_event(st, json_incref(item)));
    json_decref(item);
    st->open = OPEN_NONE;
    return rc;
}

/* ---- the reasoning item ---------------------------------------------------- */

static int
open_reasoning(gw_buf *out, struct rstate *st)
{
    st->index = json_array_size(st->output);
    st->open = OPEN_REASONING;
    int rc = emit(out, st, "response.output_item.added",
                  item_event(st, gw_resp_reasoning_item(st->rs_id, NULL, 0)));
    if (rc == 0)
        rc = emit(out, st, "response.reasoning_summary_part.added",
                  at(st, st->rs_id,
                     json_pack("{s:i,s:{s:s,s:s}}", "summary_index", 0, "part", "type",
                               "summary_text", "text", "")));
    return rc;
}

static int
close_reasoning(gw_buf *out, struct rstate *st)
{
    const char *t = st->reasoning.data ? st->reasoning.data : "";
    int rc = emit(
        out, st, "response.reasoning_summary_text.done",
        at(st, st->rs_id,
           json_pack("{s:i,s:o}", "summary_index", 0, "text", gw_json_text(t, st->reasoning.len))));
    if (rc == 0)
        rc = emit(
            out, st, "response.reasoning_summary_part.done",
            at(st, st->rs_id,
               json_pack("{s:i,s:o}", "summary_index", 0, "part", summary_part(&st->reasoning))));
    return finish_item(out, st, rc, gw_resp_reasoning_item(st->rs_id, t, st->reasoning.len));
}

/* ---- the message item ------------------------------------------------------ */

static int
open_message(gw_buf *out, struct rstate *st)
{
    st->index = json_array_size(st->output);
    st->open = OPEN_MESSAGE;
    st->message_seen = true;
    gw_buf empty = GW_BUF_INIT;
    int rc = emit(out, st, "response.output_item.added",
                  item_event(st, gw_resp_message_item(st->msg_id, GW_RESP_IN_PROGRESS, NULL, 0)));
    if (rc == 0)
        rc = emit(out, st, "response.content_part.added",
                  at(st, st->msg_id,
                     json_pack("{s:i,s:o}", "content_index", 0, "part", text_part(&empty))));
    return rc;
}

/* The message as it stands, with `status`. */
static json_t *
message_now(struct rstate *st, gw_resp_status status)
{
    return gw_resp_message_item(st->msg_id, status, st->text.data ? st->text.data : "",
                                st->text.len);
}

static int
close_message(gw_buf *out, struct rstate *st, gw_resp_status status)
{
    const char *t = st->text.data ? st->text.data : "";
    int rc = emit(out, st, "response.output_text.done",
                  at(st, st->msg_id,
                     json_pack("{s:i,s:o,s:[]}", "content_index", 0, "text",
                               gw_json_text(t, st->text.len), "logprobs")));
    if (rc == 0)
        rc = emit(out, st, "response.content_part.done",
                  at(st, st->msg_id,
                     json_pack("{s:i,s:o}", "content_index", 0, "part", text_part(&st->text))));
    return finish_item(out, st, rc, message_now(st, status));
}

/* ---- function_call items --------------------------------------------------- */

/* A call's item: "fc_<hex>" and "call_<hex>" from the runtime's id. */
static json_t *
call_item(const gw_tool_call *call, gw_resp_status status, const char *arguments)
{
    char id[GW_CALL_ID_SIZE], call_id[GW_CALL_ID_SIZE];
    gw_call_id(id, "fc_", call->id);
    gw_call_id(call_id, "call_", call->id);
    return gw_resp_function_call_item(id, status, call_id, call->name, arguments);
}

/* The open item closed, then the call as an item of its own; its
 * arguments come whole in one delta (the runtime hands calls out
 * complete). */
static int
tool_call(gw_buf *out, void *p, const gw_answer *a, size_t index, const gw_tool_call *call)
{
    (void)index;
    struct rstate *st = p;
    if (!a->stream)
        return gw_calls_add(&st->calls, call);
    int rc = 0;
    if (st->open == OPEN_REASONING)
        rc = close_reasoning(out, st);
    else if (st->open == OPEN_MESSAGE)
        rc = close_message(out, st, GW_RESP_COMPLETED);
    char id[GW_CALL_ID_SIZE];
    gw_call_id(id, "fc_", call->id);
    st->index = json_array_size(st->output);
    /* Reasoning after the calls would be out of place, as after text. */
    st->message_seen = true;
    if (rc == 0)
        rc = emit(out, st, "response.output_item.added",
                  item_event(st, call_item(call, GW_RESP_IN_PROGRESS, NULL)));
    if (rc == 0)
        rc = emit(out, st, "response.function_call_arguments.delta",
                  at(st, id, json_pack("{s:s}", "delta", call->arguments)));
    if (rc == 0)
        rc = emit(
            out, st, "response.function_call_arguments.done",
            at(st, id, json_pack("{s:s,s:s}", "name", call->name, "arguments", call->arguments)));
    if (rc == 0) {
        st->n_calls++;
        rc = finish_item(out, st, rc, call_item(call, GW_RESP_COMPLETED, call->arguments));
    }
    return rc;
}

/* ---- the response ---------------------------------------------------------- */

/* Emit `type` with the response object, and keep that object's text as
 * the one the store will hold. */
static int
emit_response(gw_buf *out, struct rstate *st, const char *type, json_t *resp, bool keep_final)
{
    if (!resp)
        return LINGMA_ENOMEM;
    if (keep_final) {
        free(st->final);
        st->final = json_dumps(resp, JSON_COMPACT);
        if (!st->final) {
            json_decref(resp);
            return LINGMA_ENOMEM;
        }
        st->final_len = strlen(st->final);
    }
    return emit(out, st, type, json_pack("{s:o}", "response", resp));
}

static int
stream_open(gw_buf *out, void *p, const gw_answer *a)
{
    struct rstate *st = p;
    int rc = emit_response(out, st, "response.created",
                           gw_resp_object(a, GW_RESP_IN_PROGRESS, NULL, NULL, NULL), false);
    if (rc == 0)
        rc = emit_response(out, st, "response.in_progress",
                           gw_resp_object(a, GW_RESP_IN_PROGRESS, NULL, NULL, NULL), false);
    return rc;
}

static int
stream_reasoning(gw_buf *out, void *p, const gw_answer *a, const char *text, size_t len)
{
    (void)a;
    struct rstate *st = p;
    if (st->message_seen)
        return 0;
    int rc = st->open == OPEN_NONE ? open_reasoning(out, st) : 0;
    if (rc == 0)
        rc = keep(st, &st->reasoning, text, len);
    if (rc == 0)
        rc = emit_delta(out, st, "response.reasoning_summary_text.delta", st->rs_id,
                        "summary_index", false, text, len);
    return rc;
}

static int
stream_text(gw_buf *out, void *p, const gw_answer *a, const char *text, size_t len)
{
    (void)a;
    struct rstate *st = p;
    int rc = st->open == OPEN_REASONING ? close_reasoning(out, st) : 0;
    if (rc == 0 && st->open == OPEN_NONE)
        rc = open_message(out, st);
    if (rc == 0)
        rc = keep(st, &st->text, text, len);
    if (rc == 0)
        rc = emit_delta(out, st, "response.output_text.delta", st->msg_id, "content_index", true,
                        text, len);
    return rc;
}

static int
stream_close(gw_buf *out, void *p, const gw_answer *a, gw_finish why, const gw_usage *u)
{
    struct rstate *st = p;
    if (st->overflow)
        return LINGMA_ENOMEM; /* the chat route then fails the response */
    gw_resp_status status = why == GW_FINISH_LENGTH ? GW_RESP_INCOMPLETE : GW_RESP_COMPLETED;
    int rc = st->open == OPEN_REASONING ? close_reasoning(out, st) : 0;
    if (rc == 0 && st->open == OPEN_NONE && st->n_calls == 0)
        rc = open_message(out, st);
    if (rc == 0 && st->open == OPEN_MESSAGE)
        rc = close_message(out, st, status);
    if (rc == 0)
        rc = emit_response(
            out, st, status == GW_RESP_COMPLETED ? "response.completed" : "response.incomplete",
            gw_resp_object(a, status, st->output, u, NULL), true);
    return rc;
}

/* A failure after open: response.failed, its output the items as they
 * stood (an open one marked incomplete). Never a completion event. */
static int
stream_error(gw_buf *out, void *p, const gw_answer *a, const gw_error *e)
{
    struct rstate *st = p;
    json_t *output = json_copy(st->output);
    json_t *open = NULL;
    if (st->open == OPEN_MESSAGE)
        open = message_now(st, GW_RESP_INCOMPLETE);
    else if (st->open == OPEN_REASONING)
        open = gw_resp_reasoning_item(st->rs_id, st->reasoning.data ? st->reasoning.data : "",
                                      st->reasoning.len);
    if (!output || (st->open != OPEN_NONE && (!open || json_array_append(output, open) != 0))) {
        json_decref(open);
        json_decref(output);
        return LINGMA_ENOMEM;
    }
    json_decref(open);
    int rc = emit_response(out, st, "response.failed",
                           gw_resp_object(a, GW_RESP_FAILED, output, NULL, e), false);
    json_decref(output);
    return rc;
}

static int
complete(gw_buf *out, void *p, const gw_answer *a, const char *text, size_t len,
         const char *reasoning, size_t reasoning_len, gw_finish why, const gw_usage *u)
{
    struct rstate *st = p;
    gw_resp_status status = why == GW_FINISH_LENGTH ? GW_RESP_INCOMPLETE : GW_RESP_COMPLETED;
    json_t *output = json_array();
    bool ok = output != NULL;
    if (ok && reasoning && reasoning_len)
        ok = json_array_append_new(
                 output, gw_resp_reasoning_item(st->rs_id, reasoning, reasoning_len)) == 0;
    if (ok && (len || st->calls.n == 0))
        ok =
            json_array_append_new(output, gw_resp_message_item(st->msg_id, status, text, len)) == 0;
    for (size_t i = 0; ok && i < st->calls.n; i++)
        ok = json_array_append_new(output, call_item(&st->calls.v[i], GW_RESP_COMPLETED,
                                                     st->calls.v[i].arguments)) == 0;
    json_t *resp = ok ? gw_resp_object(a, status, output, u, NULL) : NULL;
    json_decref(output);
    st->final = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_decref(resp);
    if (!st->final)
        return LINGMA_ENOMEM;
    st->final_len = strlen(st->final);
    return gw_buf_append(out, st->final, st->final_len);
}

/* Keep a delivered answer (store: true) with its input items, for GET,
 * input_items and a later previous_response_id. A failed one is not kept;
 * neither is one larger than the store's whole budget. */
static void
finished(void *p, const gw_answer *a, bool ok, const gw_parse_ctx *ctx)
{
    struct rstate *st = p;
    const gw_resp_request *x = gw_resp_request_of(a->req);
    if (!ok || !st || !st->final || !x || !x->store || !ctx || !ctx->store)
        return;
    json_t *input = gw_resp_input_with_ids(x->input, a->id);
    char *text = input ? json_dumps(input, JSON_COMPACT) : NULL;
    json_decref(input);
    if (text)
        gw_resp_store_put(ctx->store, a->id, x->previous_response_id, st->final, st->final_len,
                          text, strlen(text));
    free(text);
}

const gw_frontend gw_fe_responses = {
    .name = "responses",
    .errors = GW_API_OPENAI,
    .id_prefix = "resp_",
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
    .finished = finished,
};
