/*
 * What Lingma sends about a chat (see chat.c): the chat/answer, chat/finish,
 * step and usage pushes, found by requestId, and the events they become
 * (STARTED, DELTA, REASONING, TOOL_CALL, DONE); the end of a turn: DONE,
 * the tool contract's second ask, or the deletion of a fresh session; and
 * Lingma's tool/invoke, refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "ask_write.h"
#include "chat_int.h"
#include "chat_tools.h"
#include "methods.h"
#include "strbuf.h"
#include "think.h"

/* ---- events ---- */

static const char *
scratch_copy(struct lingma__chats *cs, const char *s, size_t n)
{
    cs->scratch.len = 0;
    if (lingma__buf_append(cs->cfg.alloc, &cs->scratch, s, n) != 0)
        return NULL;
    return cs->scratch.p;
}

void
lingma__chat_emit_started(struct lingma__chat *c)
{
    lingma_chat_event ev;

    if (c->started_sent)
        return;
    c->started_sent = 1;
    memset(&ev, 0, sizeof(ev));
    ev.type = LINGMA_CHAT_STARTED;
    ev.id = c->id;
    ev.started.instance = c->lane ? c->lane->inst->name : "";
    ev.started.session_id = c->session_id ? c->session_id : "";
    c->on_event(&ev, c->payload);
}

/* A DELTA (reasoning 0) or REASONING event. The answer's text is kept
 * whole for DONE; reasoning only for the callback's time. */
static int
emit_piece(struct lingma__chat *c, int reasoning, const char *text, size_t len)
{
    lingma_chat_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.id = c->id;
    if (reasoning) {
        ev.type = LINGMA_CHAT_REASONING;
        ev.delta.text = scratch_copy(c->cs, text, len);
    } else {
        size_t at = c->text.len;
        ev.type = LINGMA_CHAT_DELTA;
        if (lingma__buf_append(c->cs->cfg.alloc, &c->text, text, len) == 0)
            ev.delta.text = c->text.p + at;
    }
    if (!ev.delta.text)
        return LINGMA_ENOMEM;
    ev.delta.len = len;
    c->on_event(&ev, c->payload);
    return 0;
}

static int
sink_text(void *ud, const char *text, size_t len)
{
    return emit_piece(ud, 0, text, len);
}

static int
sink_reasoning(void *ud, const char *text, size_t len)
{
    return emit_piece(ud, 1, text, len);
}

static int
sink_call(void *ud, size_t index, const char *name, const char *arguments)
{
    struct lingma__chat *c = ud;
    struct lingma__chats *cs = c->cs;
    lingma_chat_event ev;
    char id[48];

    snprintf(id, sizeof(id), "call_%08" PRIx32 "%016" PRIx64, cs->call_salt,
             cs->call_base + ++cs->call_seq);
    memset(&ev, 0, sizeof(ev));
    ev.type = LINGMA_CHAT_TOOL_CALL;
    ev.id = c->id;
    ev.tool_call.index = index;
    ev.tool_call.id = id;
    ev.tool_call.name = name;
    ev.tool_call.arguments = arguments;
    c->on_event(&ev, c->payload);
    return 0;
}

static const struct lingma__chat_tools_sink tools_sink = {sink_text, sink_reasoning, sink_call};

static int
think_emit(int reasoning, const char *text, size_t len, void *payload)
{
    struct lingma__chat *c = payload;

    if (!c->tools)
        return emit_piece(c, reasoning, text, len);
    if (reasoning)
        return lingma__chat_tools_reasoning(c->tools, text, len, &tools_sink, c);
    return lingma__chat_tools_text(c->tools, text, len, &tools_sink, c);
}

static void
learn_session(struct lingma__chat *c, const char *sid)
{
    if (sid && *sid && !c->session_id)
        c->session_id = lingma__strdup(c->cs->cfg.alloc, sid);
}

/* @return 0, or -1 when the chat ended (and was freed) meanwhile. */
static int
got_text(struct lingma__chat *c, const char *text, size_t len)
{
    if (c->phase == CHAT_ASKING)
        c->phase = CHAT_STREAMING;
    lingma__chat_emit_started(c);
    if (len == 0)
        return 0;
    if (!c->attempt_token) {
        c->attempt_token = 1;
        lingma__timer_cancel(c->ft_timer);
    }
    if (!c->got_token) {
        c->got_token = 1;
        c->first_token_at_ms = lingma__now_ms();
    }
    if (lingma__think_feed(&c->think, text, len, think_emit, c) != 0) {
        lingma__chat_fail(c, LINGMA_ENOMEM, "out of memory while streaming");
        return -1;
    }
    return 0;
}

/* ---- pushes ---- */

static int
write_delete_session(struct lingma__jsonw *w, void *sid)
{
    return lingma__method_delete_session_write(w, sid);
}

/* Written straight into the frame, like chat/ask (ask_write.h): one per
 * chat in the "fresh" session mode. */
static void
delete_session(struct lingma__conn *conn, const char *sid)
{
    lingma__conn_call_with(conn, NULL, LINGMA__M_DELETE_SESSION, write_delete_session, (void *)sid,
                           NULL, NULL);
}

/* The answer broke the tool contract (chat_tools.h): ask once more, with
 * the first answer and a correction, from the head of the same lane. The
 * first ask's session was already dealt with like any other. */
static void
retry_ask(struct lingma__chat *c)
{
    const lingma_allocator *a = c->cs->cfg.alloc;
    char *prompt = NULL;

    lingma__logf(c->cs->cfg.log, LINGMA_LOG_INFO,
                 "%s: chat %llu broke the tool contract (%s): asking once more",
                 c->lane->inst->name, (unsigned long long)c->id,
                 lingma__chat_tools_error(c->tools));
    if (lingma__chat_tools_retry_prompt(c->tools, &prompt, c->prompt) != 0) {
        lingma__chat_fail(c, LINGMA_ENOMEM, "out of memory while retrying");
        return;
    }
    lingma__free(a, c->prompt);
    c->prompt = prompt;
    c->retried = 1;
    c->attempt_token = 0;
    c->usage_before = c->usage;
    memset(&c->usage, 0, sizeof(c->usage));
    /* DONE reports the session of the answer it carries. */
    lingma__free(a, c->session_id);
    c->session_id = NULL;
    lingma__think_init(&c->think);
    lingma__chat_requeue_front(c);
}

/* Both answers' tokens were spent: DONE reports their sum. */
static lingma_usage
usage_total(const struct lingma__chat *c)
{
    lingma_usage u = c->usage;
    const lingma_usage *b = &c->usage_before;
    if (!b->present)
        return u;
    u.present = 1;
    u.prompt_tokens += b->prompt_tokens;
    u.completion_tokens += b->completion_tokens;
    u.total_tokens += b->total_tokens;
    return u;
}

static void
on_finish(struct lingma__conn *conn, struct lingma__chat *c, const struct lingma__finish *f)
{
    const lingma_pool_options *o = c->cs->cfg.o;
    lingma_chat_event ev;
    char msg[300];

    learn_session(c, f->session_id);
    if (c->phase == CHAT_ASKING)
        c->phase = CHAT_STREAMING;
    /* A Lingma that sent the answer only as fullAnswer (no deltas). */
    if (!c->attempt_token && f->full_answer_len > 0 && f->status_code == 200 &&
        got_text(c, f->full_answer, f->full_answer_len) != 0)
        return;
    if (lingma__think_finish(&c->think, think_emit, c) != 0) {
        lingma__chat_fail(c, LINGMA_ENOMEM, "out of memory while streaming");
        return;
    }
    if (f->usage.present)
        c->usage = f->usage;
    /* Fresh sessions are deleted so that Lingma's database does not grow for
     * ever; a session the caller named is theirs to keep. */
    if (o->session_mode == LINGMA_SESSION_FRESH && c->session_id &&
        !(c->session_in && *c->session_in))
        delete_session(conn, c->session_id);

    memset(&ev, 0, sizeof(ev));
    ev.id = c->id;
    if (f->status_code != 200) {
        snprintf(msg, sizeof(msg), "Lingma finished the chat with status %d%s%s", f->status_code,
                 *f->reason ? ": " : "", f->reason);
        ev.type = LINGMA_CHAT_ERROR;
        ev.error.code = LINGMA_EUPSTREAM;
        ev.error.message = msg;
        ev.error.status_code = f->status_code;
    } else {
        lingma__chat_emit_started(c);
        if (c->tools) {
            enum lingma__tools_verdict v;
            if (lingma__chat_tools_finish(c->tools, &v, &ev.done.tool_calls, &tools_sink, c)) {
                lingma__chat_fail(c, LINGMA_ENOMEM, "out of memory while streaming");
                return;
            }
            if (v == LINGMA__TOOLS_RETRY) {
                retry_ask(c);
                return;
            }
            if (v == LINGMA__TOOLS_FAIL) {
                lingma__chat_fail(c, LINGMA_EPROTO, lingma__chat_tools_error(c->tools));
                return;
            }
        }
        ev.type = LINGMA_CHAT_DONE;
        ev.done.status_code = f->status_code;
        ev.done.reason = f->reason;
        ev.done.text = c->text.p ? c->text.p : "";
        ev.done.len = c->text.len;
        ev.done.session_id = c->session_id ? c->session_id : "";
        ev.done.first_token_ms = c->got_token ? c->first_token_at_ms - c->ask_sent_ms : 0;
        ev.done.total_ms = lingma__now_ms() - c->created_ms;
        ev.done.usage = usage_total(c);
    }
    lingma__chat_end(c, &ev);
}

/* Lingma's agent mode asks the client to run its built-in tools (read_file,
 * run_in_terminal, ...). liblingma runs none: a chat's tools are its
 * caller's, called through the tool contract. A clean refusal at once lets
 * Lingma go on without it, where no answer would leave the chat waiting. */
static void
refuse_tool_invoke(struct lingma__chats *cs, struct lingma__inst *in, struct lingma__conn *conn,
                   const json_t *id, json_t *params)
{
    static const char why[] = "this client does not run Lingma's tools; answer without them";
    struct lingma__tool_invoke ti;
    struct timespec now;

    lingma__method_tool_invoke(&ti, params);
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *r = lingma__method_tool_invoke_refusal(
        &ti, why, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    lingma__conn_respond(conn, id, r ? r : json_null());
    struct lingma__chat *c = lingma__chats_rid_find(cs, ti.request_id);
    lingma__logf(cs->cfg.log, LINGMA_LOG_WARN,
                 "%s: refused Lingma's tool/invoke of '%.64s' (toolCallId '%.64s', chat %llu)",
                 in->name, ti.name, ti.tool_call_id, c ? (unsigned long long)c->id : 0ull);
}

static void
on_answer(struct lingma__chats *cs, struct lingma__conn *conn, const struct lingma__answer *a)
{
    struct lingma__chat *c = lingma__chats_rid_find(cs, a->request_id);

    if (c && c->conn == conn && c->phase != CHAT_ENDED) {
        learn_session(c, a->session_id);
        got_text(c, a->text, a->len);
    }
}

static void
on_finish_push(struct lingma__chats *cs, struct lingma__conn *conn, const struct lingma__finish *f)
{
    struct lingma__chat *c = lingma__chats_rid_find(cs, f->request_id);

    if (c && c->conn == conn && c->phase != CHAT_ENDED)
        on_finish(conn, c, f);
}

void
lingma__chats_on_push(struct lingma__chats *cs, struct lingma__conn *conn,
                      const struct lingma__push_fast *m)
{
    struct lingma__chat *c;

    /* As lingma__chats_on_request() and the session do with the same
     * requests; the answer goes first. */
    if (m->kind == LINGMA__PUSH_OTHER) {
        lingma__conn_answer_literal(conn, m->id, "null");
        return;
    }
    lingma__conn_answer_literal(conn, m->id, "true");
    switch (m->kind) {
    case LINGMA__PUSH_ANSWER:
        on_answer(cs, conn, &m->answer);
        break;
    case LINGMA__PUSH_FINISH:
        on_finish_push(cs, conn, &m->finish);
        break;
    default: /* THINK, STEP */
        c = lingma__chats_rid_find(cs, m->step.request_id);
        if (c && c->conn == conn)
            learn_session(c, m->step.session_id);
        break;
    }
}

int
lingma__chats_on_request(struct lingma__chats *cs, struct lingma__inst *in,
                         struct lingma__conn *conn, const json_t *id, const char *method,
                         json_t *params)
{
    enum lingma__push kind = lingma__push_kind(method);
    struct lingma__chat *c;

    if (kind == LINGMA__PUSH_ANSWER) {
        struct lingma__answer a;
        /* Answer first: Lingma waits for the ACK before its next push. */
        lingma__conn_respond(conn, id, lingma__method_ack());
        if (lingma__method_answer(&a, params) == 0)
            on_answer(cs, conn, &a);
        return 0;
    }
    if (kind == LINGMA__PUSH_FINISH) {
        struct lingma__finish f;
        lingma__conn_respond(conn, id, lingma__method_ack());
        if (lingma__method_finish(&f, params) == 0)
            on_finish_push(cs, conn, &f);
        return 0;
    }
    if (kind == LINGMA__PUSH_TOOL_INVOKE) {
        refuse_tool_invoke(cs, in, conn, id, params);
        return 0;
    }
    if (kind == LINGMA__PUSH_THINK || kind == LINGMA__PUSH_STEP) {
        /* step_end may come before or after chat/finish: the turn ends on
         * chat/finish only, so it needs nothing but the ACK. */
        lingma__conn_respond(conn, id, lingma__method_ack());
        c = lingma__chats_rid_find(cs, lingma__method_request_id(params));
        if (c && c->conn == conn)
            learn_session(c, lingma__method_session_id(params));
        return 0;
    }
    return 0; /* everything else: the session answers null at once */
}

void
lingma__chats_on_notification(struct lingma__chats *cs, struct lingma__inst *in,
                              struct lingma__conn *conn, const char *method, json_t *params)
{
    struct slot *s = slot_of(lane_of(cs, in), conn);
    struct lingma__chat *c;

    if (lingma__push_kind(method) != LINGMA__PUSH_USAGE)
        return;
    c = lingma__chats_rid_find(cs, lingma__method_request_id(params));
    if (!c && s->nchats == 1)
        c = s->chats; /* Qoder-style pushes carry no requestId */
    if (!c || c->conn != conn)
        return;
    lingma_usage u;
    lingma__method_context_usage(&u, params);
    if (u.present)
        c->usage = u;
}
