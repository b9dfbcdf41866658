/*
 * The one chat route: a request of any wire API in (parsed by its
 * front-end into gw_chat_request, see api/frontend.h), one liblingma chat,
 * the answer out through the same front-end, whole or as an SSE stream.
 * Everything the APIs share lives here, written once: model aliases and
 * resolution, admission, cancel on disconnect, heartbeats, drain,
 * max_tokens and stop enforcement, usage, metrics and logs.
 *
 * Threads and ownership. A `struct chat` lives from the handler (MHD
 * thread) to the later of two moments: the request finished (answered or
 * stream ended) and the chat's terminal event. Both happen on the pool's
 * service thread once the chat started, so the chat's mutable state needs
 * no lock; the other threads only touch atomics:
 *   - the handler holds a reference across lingma_chat_start() (the chat
 *     may end on the service thread before that call even returns);
 *   - on_gone (watcher thread) and on_shutdown (main thread) only set a
 *     flag and post lingma_chat_cancel(); the cancelled chat's terminal
 *     event then finishes the request on the service thread. They never
 *     take a lock the finishing thread could hold (the engine makes a
 *     finishing call wait for a running on_gone).
 *
 * Streams send their status line at the STARTED event, not before, so an
 * admission timeout (429) or an early failure (503, 502) is still a real
 * HTTP status. After that, a failure is the API's error event, and never
 * a finish event: a truncated answer must not look complete.
 *
 * max_tokens and stop are enforced here: deltas go through the stop
 * matcher, then the token counter; on a hit the chat is cancelled upstream
 * and the request finishes at once with "stop" or "length". The cancelled
 * chat's terminal event arrives later and only releases the state.
 *
 * Tool calls (doc/tools.md): the request's toolset goes into the chat
 * options; the runtime adds the tool section, parses the answer and hands
 * out its valid calls as TOOL_CALL events after all the text. The first
 * call releases what the stop matcher held back, each call is rendered by
 * the front-end, and the answer ends with GW_FINISH_TOOL_CALLS. Calls are
 * not cut by max_tokens or stop sequences (a cut call is of no use); their
 * arguments count as completion tokens.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/frontend.h"
#include "gateway.h"
#include "stop.h"
#include "tokens.h"
#include "toolset.h"

/* Bound of a non-streaming answer (text plus reasoning) held until the chat
 * ends. The largest model outputs (about 128k tokens) are well under 1 MiB;
 * an upstream that talks past this is broken or hostile, and without a
 * bound each such request would grow memory until the chat timeout. */
#define ANSWER_MAX_BYTES (4u * 1024u * 1024u)

/* Room for an answer id: a prefix ("chatcmpl-", "msg_", "resp_") + 24 hex. */
#define ANSWER_ID_RANDOM 12
#define ANSWER_ID_SIZE   48

struct chat {
    gw_app *app;
    gw_http_req *req;
    gw_reqinfo ri;
    const gw_frontend *fe;
    void *fst;     /* the front-end's render state */
    gw_answer ans; /* what every render call reads */
    /* The parsed request, kept only while a render or the runtime may read
     * it (a toolset, a named tool, front-end extras); else freed before the
     * chat starts: its messages are in the prompt by then. */
    gw_chat_request *creq;
    bool tools; /* the request had a toolset */
    bool stream;
    uint64_t max_tokens; /* 0: no limit */
    char id[ANSWER_ID_SIZE];
    char *model;
    gw_stop_matcher stop;
    gw_token_counter tokens;   /* answer text forwarded so far */
    gw_token_counter thinking; /* reasoning text, for the usage estimate */
    uint64_t prompt_tokens;    /* estimate */
    gw_buf content;            /* non-streaming: the answer so far */
    gw_buf reasoning;          /* non-streaming: the reasoning so far */
    gw_buf scratch;
    gw_stream *s;
    char instance[16];
    bool finished; /* the request got its answer (service thread) */
    bool fe_told;  /* the front-end's finished() ran */
    bool had_delta;
    size_t n_calls;     /* tool calls rendered */
    size_t calls_bytes; /* their arguments, within ANSWER_MAX_BYTES */
    atomic_uint refs;
    _Atomic uint64_t chat_id;
    atomic_bool gone;
    atomic_bool shutdown;
};

static void
chat_free(struct chat *c)
{
    if (c->fst)
        c->fe->state_free(c->fst);
    gw_chat_request_free(c->creq);
    gw_stop_free(&c->stop);
    gw_buf_free(&c->content);
    gw_buf_free(&c->reasoning);
    gw_buf_free(&c->scratch);
    free(c->model);
    atomic_fetch_sub(&c->app->chats_live, 1);
    free(c);
}

static void
chat_release(struct chat *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        chat_free(c);
}

static void
cancel_upstream(struct chat *c)
{
    uint64_t id = atomic_load(&c->chat_id);
    if (id)
        lingma_chat_cancel(c->app->pool, id);
}

static void
usage_of(const struct chat *c, const lingma_usage *reported, gw_usage *u)
{
    int64_t thinking = (int64_t)gw_token_counter_total(&c->thinking);
    if (reported && reported->present) {
        u->prompt_tokens = (int64_t)reported->prompt_tokens;
        u->completion_tokens = (int64_t)reported->completion_tokens;
        u->reasoning_tokens = thinking < u->completion_tokens ? thinking : u->completion_tokens;
        return;
    }
    u->prompt_tokens = (int64_t)c->prompt_tokens;
    u->completion_tokens = (int64_t)gw_token_counter_total(&c->tokens) + thinking;
    u->reasoning_tokens = thinking;
}

/* Tell the front-end how the answer ended, once. */
static void
tell_frontend(struct chat *c, bool ok)
{
    if (c->fe_told || !c->fe->finished || !c->fst)
        return;
    c->fe_told = true;
    c->fe->finished(c->fst, &c->ans, ok, &c->app->parse_ctx);
}

/* Queue what the front-end rendered into c->scratch. A failed write means
 * the client is gone (or the buffer overflowed): cancel, end. */
static void
stream_send(struct chat *c)
{
    if (c->finished)
        return;
    if (c->scratch.len && gw_stream_write(c->s, c->scratch.data, c->scratch.len) != 0) {
        cancel_upstream(c);
        gw_stream_end(c->s);
        c->finished = true;
        tell_frontend(c, false);
        gw_request_done(c->app, &c->ri, 499, c->instance);
    }
    gw_buf_reset(&c->scratch);
}

/* The front-end's render state, made on first use. */
static bool
render_state(struct chat *c)
{
    if (!c->fst)
        c->fst = c->fe->state_new(&c->ans);
    return c->fst != NULL;
}

static void
stream_text(struct chat *c, const char *text, size_t len, bool reasoning)
{
    int rc = reasoning ? c->fe->stream_reasoning(&c->scratch, c->fst, &c->ans, text, len)
                       : c->fe->stream_text(&c->scratch, c->fst, &c->ans, text, len);
    if (rc != 0)
        gw_buf_reset(&c->scratch);
    stream_send(c);
}

static void finish_error(struct chat *c, const gw_error *e);

/* The successful end: the front-end's closing events (stream) or its whole
 * answer. */
static void
finish_ok(struct chat *c, gw_finish why, const lingma_usage *reported)
{
    gw_usage u;
    usage_of(c, reported, &u);
    const char *usage_src = reported && reported->present ? "reported" : "estimated";
    c->ans.stop_sequence = why == GW_FINISH_STOP_SEQUENCE ? gw_stop_matched(&c->stop) : NULL;
    if (c->stream) {
        if (c->fe->stream_close(&c->scratch, c->fst, &c->ans, why, &u) != 0) {
            gw_buf_reset(&c->scratch);
            gw_error e;
            gw_error_internal(&e);
            finish_error(c, &e);
            return;
        }
        /* Before the last bytes go out: a client that reads the end of the
         * stream and at once asks for the stored response must find it. */
        tell_frontend(c, true);
        stream_send(c);
        if (c->finished)
            return; /* the client left during the last write */
        c->finished = true;
        gw_request_done(c->app, &c->ri, 200, c->instance);
        gw_stream_end(c->s);
        return;
    }
    gw_buf body = GW_BUF_INIT;
    c->finished = true;
    /* The answer's text, escaped, and its envelope: sized once. Without
     * the block the rendering grows it step by step. */
    if (!render_state(c) || gw_buf_reserve(&body, c->content.len + c->reasoning.len + 512) != 0 ||
        c->fe->complete(&body, c->fst, &c->ans, c->content.data ? c->content.data : "",
                        c->content.len, c->reasoning.len ? c->reasoning.data : NULL,
                        c->reasoning.len, why, &u) != 0) {
        gw_buf_free(&body);
        gw_error e;
        gw_error_internal(&e);
        gw_respond_error(c->app, c->req, &c->ri, &e, c->instance);
        return;
    }
    tell_frontend(c, true);
    gw_http_header h[] = {{"x-lingma-usage", usage_src}, {NULL, NULL}};
    gw_respond_json(c->app, c->req, &c->ri, 200, h, body.data, body.len, c->instance);
    gw_buf_free(&body);
}

/* A failure: the error answer of the request's API before the stream
 * began, the front-end's error event after. */
static void
finish_error(struct chat *c, const gw_error *e)
{
    c->finished = true;
    tell_frontend(c, false);
    if (!c->s) {
        gw_respond_error(c->app, c->req, &c->ri, e, c->instance);
        return;
    }
    gw_buf_reset(&c->scratch);
    if (c->fe->stream_error(&c->scratch, c->fst, &c->ans, e) == 0)
        gw_stream_write(c->s, c->scratch.data, c->scratch.len);
    gw_buf_reset(&c->scratch);
    gw_request_done(c->app, &c->ri, gw_error_status_for(c->ri.api, e), c->instance);
    gw_stream_end(c->s);
}

static void
too_large(gw_error *e)
{
    gw_error_set(e, 502, GW_TYPE_SERVER, "answer_too_large", NULL,
                 "The upstream answer exceeded %u bytes.", ANSWER_MAX_BYTES);
}

/* Keep non-streaming answer text in `b`, within ANSWER_MAX_BYTES over the
 * text, the reasoning and the calls. On failure the chat is stopped and the request
 * answered with an error: a shortened answer must not look complete. */
static bool
hold(struct chat *c, gw_buf *b, const char *text, size_t len)
{
    gw_error e;
    if (c->content.len + c->reasoning.len + c->calls_bytes + len > ANSWER_MAX_BYTES) {
        too_large(&e);
    } else if (gw_buf_append(b, text, len) != 0) {
        gw_error_internal(&e);
    } else {
        return true;
    }
    cancel_upstream(c);
    finish_error(c, &e);
    return false;
}

/* Forward answer text that passed the stop matcher, within max_tokens.
 * Returns true when the token limit cut it. */
static bool
forward(struct chat *c, const char *text, size_t len)
{
    size_t n = len;
    if (c->max_tokens)
        n = gw_token_counter_take(&c->tokens, text, len, c->max_tokens);
    else
        gw_token_counter_feed(&c->tokens, text, len);
    if (n) {
        if (c->stream)
            stream_text(c, text, n, false);
        else
            hold(c, &c->content, text, n);
    }
    return n < len;
}

static void
on_delta(struct chat *c, const char *text, size_t len)
{
    if (!c->had_delta) {
        c->had_delta = true;
        gw_metrics_observe_ttft(c->app->metrics, gw_elapsed_s(&c->ri.t0));
    }
    gw_buf safe = GW_BUF_INIT;
    bool hit = false;
    if (gw_stop_feed(&c->stop, &safe, text, len, &hit) != 0) {
        gw_buf_free(&safe);
        return;
    }
    bool cut = forward(c, safe.data ? safe.data : "", safe.len);
    gw_buf_free(&safe);
    if (c->finished)
        return;
    if (cut || hit) {
        cancel_upstream(c);
        finish_ok(c, cut ? GW_FINISH_LENGTH : GW_FINISH_STOP_SEQUENCE, NULL);
    }
}

static void
on_reasoning(struct chat *c, const char *text, size_t len)
{
    gw_token_counter_feed(&c->thinking, text, len);
    if (!c->ans.show_reasoning)
        return;
    if (c->stream)
        stream_text(c, text, len, true);
    else
        hold(c, &c->reasoning, text, len);
}

/* The end of the answer's text: what the stop matcher still holds goes
 * out (its last bytes can no longer start a stop sequence). Returns true
 * when max_tokens cut it. */
static bool
flush_text(struct chat *c)
{
    gw_buf rest = GW_BUF_INIT;
    gw_stop_flush(&c->stop, &rest);
    bool cut = rest.len && forward(c, rest.data, rest.len);
    gw_buf_free(&rest);
    return cut;
}

/* A call the runtime validated: rendered at once when streaming, kept by
 * the front-end otherwise. A call that cannot be rendered fails the
 * answer: a dropped call would leave the client's loop waiting. */
static void
on_tool_call(struct chat *c, const lingma_chat_event *ev)
{
    if (c->n_calls == 0 && flush_text(c) && !c->finished) {
        /* The text reached max_tokens: the answer ends there, without
         * calls, as any other cut answer. */
        cancel_upstream(c);
        finish_ok(c, GW_FINISH_LENGTH, NULL);
    }
    if (c->finished)
        return;
    const char *args = ev->tool_call.arguments ? ev->tool_call.arguments : "{}";
    size_t alen = strlen(args);
    gw_token_counter_feed(&c->tokens, args, alen);
    gw_tool_call call = {(char *)ev->tool_call.id, (char *)ev->tool_call.name, (char *)args};
    gw_error e;
    c->calls_bytes += alen;
    if (c->content.len + c->reasoning.len + c->calls_bytes > ANSWER_MAX_BYTES) {
        too_large(&e);
    } else if (!render_state(c) ||
               c->fe->tool_call(&c->scratch, c->fst, &c->ans, ev->tool_call.index, &call) != 0) {
        gw_buf_reset(&c->scratch);
        gw_error_internal(&e);
    } else {
        c->n_calls++;
        if (c->stream)
            stream_send(c);
        return;
    }
    cancel_upstream(c);
    finish_error(c, &e);
}

static void
on_started(struct chat *c, const lingma_chat_event *ev)
{
    snprintf(c->instance, sizeof(c->instance), "%s", ev->started.instance);
    if (!c->stream || c->finished)
        return;
    gw_http_header h[] = {{"x-lingma-instance", c->instance}, {NULL, NULL}};
    int rc = gw_http_stream_begin(&c->s, c->req, 200, h);
    if (rc == LINGMA_EINVAL) {
        c->finished = true; /* already answered: nothing is ours any more */
        return;
    }
    if (rc != 0) {
        cancel_upstream(c);
        gw_stream_end(c->s);
        c->finished = true;
        gw_request_done(c->app, &c->ri, 499, c->instance);
        return;
    }
    gw_stream_set_heartbeat(c->s, c->fe->heartbeat);
    if (!render_state(c) || c->fe->stream_open(&c->scratch, c->fst, &c->ans) != 0) {
        gw_buf_reset(&c->scratch);
        cancel_upstream(c);
        gw_error e;
        gw_error_internal(&e);
        finish_error(c, &e);
        return;
    }
    stream_send(c);
}

static void
on_event(const lingma_chat_event *ev, void *payload)
{
    struct chat *c = payload;
    /* The handler stores the id once lingma_chat_start() returns, which may
     * be after the first events: a limit hit then must still cancel. */
    atomic_store(&c->chat_id, ev->id);
    switch (ev->type) {
    case LINGMA_CHAT_STARTED:
        on_started(c, ev);
        return;
    case LINGMA_CHAT_DELTA:
        if (!c->finished)
            on_delta(c, ev->delta.text, ev->delta.len);
        return;
    case LINGMA_CHAT_REASONING:
        if (!c->finished)
            on_reasoning(c, ev->delta.text, ev->delta.len);
        return;
    case LINGMA_CHAT_TOOL_CALL:
        if (!c->finished)
            on_tool_call(c, ev);
        return;
    case LINGMA_CHAT_DONE:
        if (!c->finished) {
            bool cut = flush_text(c);
            if (!c->finished)
                finish_ok(c,
                          cut          ? GW_FINISH_LENGTH
                          : c->n_calls ? GW_FINISH_TOOL_CALLS
                                       : GW_FINISH_STOP,
                          &ev->done.usage);
        }
        break;
    case LINGMA_CHAT_ERROR:
        if (!c->finished) {
            gw_error e;
            if (ev->error.code == LINGMA_ECANCELED && atomic_load(&c->shutdown))
                gw_error_from_lingma(&e, LINGMA_ECLOSED, 0, 0);
            else if (ev->error.code == LINGMA_EPROTO && c->tools)
                /* A call tool_choice required (or named) that Lingma did
                 * not make, also after the runtime's correction: its
                 * sentence says so, which the client's loop needs more
                 * than a generic protocol error. */
                gw_error_set(&e, 502, GW_TYPE_SERVER, "upstream_protocol_error", NULL, "%s",
                             ev->error.message);
            else
                gw_error_from_lingma(&e, ev->error.code, ev->error.status_code,
                                     (int64_t)ev->error.retry_after_ms);
            if (ev->error.code != LINGMA_ECANCELED) {
                gw_log_fields f = GW_LOG_FIELDS_INIT;
                gw_log_kv kv[] = {
                    {"error", GW_LOG_STR, ev->error.message, 0, 0, false},
                    {"code", GW_LOG_STR, lingma_strerror(ev->error.code), 0, 0, false}};
                f.request_id = c->ri.request_id;
                f.instance = c->instance[0] ? c->instance : NULL;
                f.extra = kv;
                f.n_extra = 2;
                gw_log_write(c->app->log, LINGMA_LOG_WARN, "chat failed", &f);
            }
            finish_error(c, &e);
        }
        break;
    }
    /* The terminal event: the chat holds no more references to us. */
    chat_release(c);
}

struct resolve_ctx {
    const char *requested;
    const char *default_model;
    char *key; /* strdup'd */
    gw_error *err;
    int rc;
};

static void
resolve_cb(const gw_model_entry *entries, size_t n, void *payload)
{
    struct resolve_ctx *r = payload;
    const char *key;
    const gw_model_entry *entry;
    r->rc = gw_model_resolve(&key, &entry, r->err, entries, n, r->requested, r->default_model);
    if (r->rc == 0) {
        r->key = strdup(key);
        if (!r->key)
            r->rc = LINGMA_ENOMEM;
    }
}

int
gw_resolve_model(gw_app *app, char **key, gw_error *e, const char *requested)
{
    /* A model name the client's own vendor uses (claude-*, ...) maps to a
     * Lingma model first; an unaliased unknown name stays 404. */
    const char *aliased = gw_aliases_apply(app->aliases, requested);
    struct resolve_ctx rs = {aliased ? aliased : requested, app->cfg->default_model, NULL, e, 0};
    gw_catalogue_with(app->catalogue, resolve_cb, &rs);
    if (rs.rc == LINGMA_ENOMEM)
        gw_error_internal(e);
    *key = rs.key;
    return rs.rc;
}

int
gw_question_tokens(uint64_t *out, const gw_chat_request *creq, const char *prompt)
{
    char *section = NULL;
    if (gw_chat_request_tool_section(&section, creq) != 0)
        return LINGMA_ENOMEM;
    *out = gw_token_estimate(prompt, strlen(prompt));
    if (section)
        *out += gw_token_estimate(section, strlen(section));
    lingma_free(section);
    return 0;
}

static gw_http_action
reject(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const gw_error *e)
{
    gw_respond_error(app, req, ri, e, NULL);
    return GW_HTTP_DONE;
}

gw_http_action
gw_route_chat(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const gw_frontend *fe)
{
    gw_error e;
    if (gw_http_req_gone(req)) {
        /* The client half-closed with its request (the engine saw the FIN
         * before the handler): a chat for nobody is not started. */
        gw_request_done(app, ri, 499, NULL);
        gw_http_abandon(req);
        return GW_HTTP_DONE;
    }
    if (atomic_load(&app->draining)) {
        gw_error_from_lingma(&e, LINGMA_ECLOSED, 0, 0);
        return reject(app, req, ri, &e);
    }
    size_t blen;
    const char *body = gw_http_req_body(req, &blen);
    gw_chat_request *creq = NULL;
    int prc = fe->parse(&creq, &e, body, blen, &app->parse_ctx);
    gw_http_req_body_drop(req); /* parsed: the open stream need not hold it */
    if (prc != 0) {
        if (prc == LINGMA_ENOMEM)
            gw_error_internal(&e);
        return reject(app, req, ri, &e);
    }

    char *key = NULL;
    if (gw_resolve_model(app, &key, &e, creq->model) != 0) {
        gw_chat_request_free(creq);
        return reject(app, req, ri, &e);
    }

    struct chat *c = calloc(1, sizeof(*c));
    char *prompt = NULL, *affinity = NULL;
    if (!c || gw_chat_request_prompt(&prompt, creq) != 0 ||
        gw_chat_affinity_key(&affinity, gw_http_req_header(req, GW_AFFINITY_HEADER), creq) != 0 ||
        gw_question_tokens(&c->prompt_tokens, creq, prompt) != 0 ||
        gw_stop_init(&c->stop, creq->stop, creq->n_stop) != 0) {
        free(prompt);
        free(affinity);
        free(c);
        free(key);
        gw_chat_request_free(creq);
        gw_error_internal(&e);
        return reject(app, req, ri, &e);
    }
    atomic_fetch_add(&app->chats_live, 1);
    c->app = app;
    c->req = req;
    c->ri = *ri;
    c->fe = fe;
    c->creq = creq;
    c->stream = creq->stream;
    c->max_tokens = creq->max_tokens > 0 ? (uint64_t)creq->max_tokens : 0;
    c->model = key;
    uint8_t rnd[ANSWER_ID_RANDOM];
    gw_id_bytes(rnd, sizeof(rnd)); /* ids need not be secret, only distinct */
    size_t plen = strlen(fe->id_prefix);
    memcpy(c->id, fe->id_prefix, plen);
    gw_hex(c->id + plen, rnd, sizeof(rnd));
    c->ans.id = c->id;
    c->ans.created = (int64_t)time(NULL);
    c->ans.model = c->model;
    c->ans.stream = creq->stream;
    c->ans.include_usage = creq->stream && creq->include_usage;
    c->ans.show_reasoning = creq->show_reasoning;
    c->ans.input_tokens = (int64_t)c->prompt_tokens;
    c->ans.req = creq;
    c->tools = creq->toolset != NULL;
    atomic_init(&c->refs, 2); /* the handler's and the chat's */
    gw_route_ctx *ctx = gw_route_ctx_of(req);
    ctx->state = c;

    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    o.prompt = prompt;
    o.model = c->model;
    o.affinity_key = affinity;
    o.on_event = on_event;
    o.payload = c;
    /* The toolset lives in creq, which the chat then holds until its
     * terminal event. */
    o.tools = creq->toolset;
    o.tool_choice = creq->choice;
    o.tool_name = creq->tool_name;
    o.single_tool_call = creq->single_tool_call;
    if (!creq->toolset && !creq->tool_name && !creq->extra) {
        /* Nothing reads it any more: an idle stream should not hold the
         * whole conversation. Freed before the start, after which the
         * chat's events may already run on the service thread. */
        gw_chat_request_free(creq);
        c->creq = NULL;
        c->ans.req = NULL;
    }
    lingma_chat_id id = 0;
    lingma_chat_admission adm = {0, 0};
    int rc = lingma_chat_start(&id, &adm, app->pool, &o);
    free(prompt);
    free(affinity);
    if (rc != 0) {
        /* No event will ever fire: both references are ours. */
        gw_error_from_lingma(&e, rc, 0, (int64_t)adm.retry_after_ms);
        ctx->state = NULL;
        gw_respond_error(app, req, ri, &e, NULL);
        chat_free(c);
        return GW_HTTP_DONE;
    }
    atomic_store(&c->chat_id, id);
    /* The client may have left while the chat was being started. */
    if (atomic_load(&c->gone) || atomic_load(&c->shutdown))
        lingma_chat_cancel(app->pool, id);
    chat_release(c);
    return GW_HTTP_PENDING;
}

void
gw_route_chat_gone(gw_app *app, gw_http_req *req)
{
    (void)app;
    gw_route_ctx *ctx = gw_route_ctx_of(req);
    struct chat *c = ctx ? ctx->state : NULL;
    if (!c)
        return;
    atomic_store(&c->gone, true);
    cancel_upstream(c);
}

void
gw_route_chat_shutdown(gw_app *app, gw_http_req *req)
{
    (void)app;
    gw_route_ctx *ctx = gw_route_ctx_of(req);
    struct chat *c = ctx ? ctx->state : NULL;
    if (!c)
        return;
    atomic_store(&c->shutdown, true);
    cancel_upstream(c);
}
