/*
 * One chat on one connection: chat/ask, the chat/answer and chat/finish
 * pushes, chat/stop, and the per-chat bookkeeping (lingma-protocol.md §6).
 * Service thread only. Payloads are built and decoded by methods.c; the
 * think block is split by think.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alloc.h"
#include "methods.h"
#include "pool_internal.h"

/* Give up on "Another chat is in progress" after this many retries. */
#define MAX_BUSY_RETRIES 1000

/* ---- request-id table (service thread) ---- */

static uint64_t
rid_key(const char *rid)
{
    /* Our ids are 32 random hex digits: the first 16 make a good key; any
     * other string (never ours) still maps somewhere. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; rid[i] && i < 32; i++)
        h = (h ^ (unsigned char)rid[i]) * 1099511628211ull;
    return h;
}

static void
rid_insert(struct lingma_pool *p, struct lingma__chat *c)
{
    size_t b = c->rid_key % p->nrid_buckets;
    c->rnext = p->rids[b];
    p->rids[b] = c;
}

void
lingma__rid_remove(struct lingma_pool *p, struct lingma__chat *c)
{
    if (!c->request_id[0])
        return;
    for (struct lingma__chat **pp = &p->rids[c->rid_key % p->nrid_buckets]; *pp;
         pp = &(*pp)->rnext) {
        if (*pp == c) {
            *pp = c->rnext;
            break;
        }
    }
    c->rnext = NULL;
    c->request_id[0] = '\0';
}

static struct lingma__chat *
rid_find(struct lingma_pool *p, const char *rid)
{
    if (!rid)
        return NULL;
    for (struct lingma__chat *c = p->rids[rid_key(rid) % p->nrid_buckets]; c; c = c->rnext)
        if (strcmp(c->request_id, rid) == 0)
            return c;
    return NULL;
}

/* ---- events ---- */

static const char *
scratch_copy(struct lingma_pool *p, const char *s, size_t n)
{
    p->scratch.len = 0;
    if (lingma__buf_append(p->alloc, &p->scratch, s, n) != 0)
        return NULL;
    return p->scratch.p;
}

static void
emit_started(struct lingma__chat *c)
{
    lingma_chat_event ev;

    if (c->started_sent)
        return;
    c->started_sent = 1;
    memset(&ev, 0, sizeof(ev));
    ev.type = LINGMA_CHAT_STARTED;
    ev.id = c->id;
    ev.started.instance = c->inst ? c->inst->name : "";
    ev.started.session_id = c->session_id ? c->session_id : "";
    c->on_event(&ev, c->payload);
}

static int
think_emit(int reasoning, const char *text, size_t len, void *payload)
{
    struct lingma__chat *c = payload;
    struct lingma_pool *p = c->inst->pool;
    lingma_chat_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.id = c->id;
    if (reasoning) {
        ev.type = LINGMA_CHAT_REASONING;
        ev.delta.text = scratch_copy(p, text, len);
    } else {
        size_t at = c->text.len;
        ev.type = LINGMA_CHAT_DELTA;
        if (lingma__buf_append(p->alloc, &c->text, text, len) == 0)
            ev.delta.text = c->text.p + at;
    }
    if (!ev.delta.text)
        return LINGMA_ENOMEM;
    ev.delta.len = len;
    c->on_event(&ev, c->payload);
    return 0;
}

static void
learn_session(struct lingma__chat *c, const char *sid)
{
    if (sid && *sid && !c->session_id)
        c->session_id = lingma__strdup(c->inst->pool->alloc, sid);
}

/* @return 0, or -1 when the chat ended (and was freed) meanwhile. */
static int
got_text(struct lingma__chat *c, const char *text, size_t len)
{
    struct lingma_pool *p = c->inst->pool;

    if (c->phase == LINGMA__CHAT_ASKING)
        c->phase = LINGMA__CHAT_STREAMING;
    emit_started(c);
    if (len == 0)
        return 0;
    if (!c->got_token) {
        c->got_token = 1;
        c->first_token_at_ms = lingma__now_ms();
        lingma__timer_cancel(c->ft_timer);
    }
    if (lingma__think_feed(&c->think, text, len, think_emit, c) != 0) {
        lingma__chat_fail(p, c, LINGMA_ENOMEM, "out of memory while streaming");
        return -1;
    }
    return 0;
}

/* ---- chat/ask ---- */

static void
on_ask_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
                void *payload)
{
    struct lingma__chat *c = payload;
    struct lingma_pool *p;
    char msg[300];

    (void)rpc;
    if (status == LINGMA_ECANCELED)
        return; /* the chat is being released: it no longer expects this */
    p = c->inst->pool;
    c->ask_rpc_id = 0;

    if (status == 0) {
        const char *m;
        if (lingma__method_ask_result(result, &m) != 0) {
            snprintf(msg, sizeof(msg), "chat/ask refused: %s", m && *m ? m : "no reason given");
            lingma__chat_fail(p, c, LINGMA_ERPC, msg);
            return;
        }
        if (c->phase == LINGMA__CHAT_ASKING)
            c->phase = LINGMA__CHAT_STREAMING;
        emit_started(c);
        return;
    }
    if (status == LINGMA_ERPC && err && err->code == LINGMA_RPC_INVALID_PARAMS &&
        strstr(err->message, "Another chat is in progress")) {
        /* The connection takes fewer chats than we thought: remember that
         * and try again elsewhere (or here, once a chat ends). Never shown. */
        struct lingma__lconn *lc = c->conn;
        struct lingma__inst *in = c->inst;
        if (++c->retries > MAX_BUSY_RETRIES) {
            lingma__chat_fail(p, c, LINGMA_EUNAVAIL, "Lingma kept refusing concurrent chats");
            return;
        }
        unsigned others = lc->nchats > 0 ? lc->nchats - 1 : 0;
        lc->limit = others > 0 ? others : 1;
        lingma__logf(&p->log, LINGMA_LOG_DEBUG, "%s: conn %u busy, chat %llu retried (limit %u)",
                     in->name, lc->index, (unsigned long long)c->id, lc->limit);
        lingma__inst_detach_chat(in, c);
        lingma__pool_schedule(p, c);
        return;
    }
    if (status == LINGMA_ERPC && err) {
        lingma_chat_event ev;
        memset(&ev, 0, sizeof(ev));
        snprintf(msg, sizeof(msg), "chat/ask failed: %s", err->message);
        ev.type = LINGMA_CHAT_ERROR;
        ev.id = c->id;
        ev.error.code = LINGMA_ERPC;
        ev.error.message = msg;
        ev.error.rpc_code = err->code;
        lingma__chat_end(p, c, &ev);
        return;
    }
    if (status == LINGMA_ETIMEDOUT) {
        lingma__chat_stop_upstream(c);
        lingma__chat_fail(p, c, LINGMA_ETIMEDOUT, "chat/ask got no answer in time");
        return;
    }
    lingma__chat_fail(p, c, LINGMA_EIO, "connection lost before chat/ask was answered");
}

static void
on_first_token_timeout(void *ud)
{
    struct lingma__chat *c = ud;
    lingma__chat_stop_upstream(c);
    lingma__chat_fail(c->inst->pool, c, LINGMA_ETIMEDOUT, "no first token in time");
}

int
lingma__chat_send(struct lingma__lconn *lc, struct lingma__chat *c)
{
    struct lingma__inst *in = lc->inst;
    struct lingma_pool *p = in->pool;
    unsigned char rnd[16];
    struct lingma__ask_spec spec;
    uint64_t now = lingma__now_ms();

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* Uniqueness is what matters here, not secrecy. */
        uint64_t a = now ^ (c->id * 0x9e3779b97f4a7c15ull), b = (uint64_t)(uintptr_t)c;
        memcpy(rnd, &a, 8);
        memcpy(rnd + 8, &b, 8);
    }
    lingma__method_hex_id(c->request_id, rnd);
    c->rid_key = rid_key(c->request_id);

    spec.request_id = c->request_id;
    spec.session_id = c->session_in;
    spec.prompt = c->prompt;
    spec.model = c->model ? c->model : p->default_model;
    spec.mode = c->mode != LINGMA_ASK_DEFAULT ? c->mode : p->o.ask_mode;
    json_t *params = lingma__method_ask(&spec);
    if (!params) {
        c->request_id[0] = '\0';
        return LINGMA_EINVAL; /* the prompt was checked for UTF-8 at start: ENOMEM really */
    }
    int rc = lingma_rpc_call(lc->rpc, &c->ask_rpc_id, LINGMA__M_CHAT_ASK, params,
                             now + p->o.rpc_timeout_ms, on_ask_response, c);
    if (rc != 0) {
        c->request_id[0] = '\0';
        c->ask_rpc_id = 0;
        return rc;
    }
    rid_insert(p, c);
    c->conn = lc;
    c->prev = NULL;
    c->next = lc->chats;
    if (lc->chats)
        lc->chats->prev = c;
    lc->chats = c;
    lc->nchats++;
    c->phase = LINGMA__CHAT_ASKING;
    c->ask_sent_ms = now;
    if (c->first_token_ms && !c->got_token) {
        if (!c->ft_timer)
            c->ft_timer = lingma__timer_new(p->loop, on_first_token_timeout, c);
        if (c->ft_timer)
            lingma__timer_arm(c->ft_timer, c->first_token_ms);
    }
    lingma__lconn_kick(lc);
    return 0;
}

void
lingma__chat_stop_upstream(struct lingma__chat *c)
{
    struct lingma__lconn *lc = c->conn;

    if (!lc || !lc->rpc || !c->request_id[0])
        return;
    json_t *params = lingma__method_stop(c->request_id, c->session_id);
    if (params &&
        lingma_rpc_call(lc->rpc, NULL, LINGMA__M_CHAT_STOP, params,
                        lingma__now_ms() + lc->inst->pool->o.rpc_timeout_ms, NULL, NULL) == 0)
        lingma__lconn_kick(lc);
}

/* ---- pushes ---- */

static void
delete_session(struct lingma__lconn *lc, const char *sid)
{
    json_t *params = lingma__method_delete_session(sid);
    if (params &&
        lingma_rpc_call(lc->rpc, NULL, LINGMA__M_DELETE_SESSION, params,
                        lingma__now_ms() + lc->inst->pool->o.rpc_timeout_ms, NULL, NULL) == 0)
        lingma__lconn_kick(lc);
}

static void
on_finish(struct lingma__lconn *lc, struct lingma__chat *c, const struct lingma__finish *f)
{
    struct lingma_pool *p = lc->inst->pool;
    lingma_chat_event ev;
    char msg[300];

    learn_session(c, f->session_id);
    if (c->phase == LINGMA__CHAT_ASKING)
        c->phase = LINGMA__CHAT_STREAMING;
    /* A Lingma that sent the answer only as fullAnswer (no deltas). */
    if (!c->got_token && f->full_answer_len > 0 && f->status_code == 200 &&
        got_text(c, f->full_answer, f->full_answer_len) != 0)
        return;
    if (lingma__think_finish(&c->think, think_emit, c) != 0) {
        lingma__chat_fail(p, c, LINGMA_ENOMEM, "out of memory while streaming");
        return;
    }
    if (f->usage.present)
        c->usage = f->usage;
    /* Fresh sessions are deleted so that Lingma's database does not grow for
     * ever; a session the caller named is theirs to keep. */
    if (p->o.session_mode == LINGMA_SESSION_FRESH && c->session_id &&
        !(c->session_in && *c->session_in))
        delete_session(lc, c->session_id);

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
        uint64_t now = lingma__now_ms();
        emit_started(c);
        ev.type = LINGMA_CHAT_DONE;
        ev.done.status_code = f->status_code;
        ev.done.reason = f->reason;
        ev.done.text = c->text.p ? c->text.p : "";
        ev.done.len = c->text.len;
        ev.done.session_id = c->session_id ? c->session_id : "";
        ev.done.first_token_ms = c->got_token ? c->first_token_at_ms - c->ask_sent_ms : 0;
        ev.done.total_ms = now - c->created_ms;
        ev.done.usage = c->usage;
    }
    lingma__chat_end(p, c, &ev);
}

int
lingma__chat_on_request(struct lingma__lconn *lc, const json_t *id, const char *method,
                        json_t *params)
{
    struct lingma_pool *p = lc->inst->pool;
    struct lingma__chat *c;

    enum lingma__push kind = lingma__push_kind(method);

    if (kind == LINGMA__PUSH_ANSWER) {
        struct lingma__answer a;
        /* Answer first: Lingma waits for the ACK before its next push. */
        lingma_rpc_respond(lc->rpc, id, lingma__method_ack());
        if (lingma__method_answer(&a, params) != 0)
            return 0;
        c = rid_find(p, a.request_id);
        if (c && c->conn == lc && c->phase != LINGMA__CHAT_ENDED) {
            learn_session(c, a.session_id);
            got_text(c, a.text, a.len);
        }
        return 0;
    }
    if (kind == LINGMA__PUSH_FINISH) {
        struct lingma__finish f;
        lingma_rpc_respond(lc->rpc, id, lingma__method_ack());
        if (lingma__method_finish(&f, params) != 0)
            return 0;
        c = rid_find(p, f.request_id);
        if (c && c->conn == lc && c->phase != LINGMA__CHAT_ENDED)
            on_finish(lc, c, &f);
        return 0;
    }
    if (kind == LINGMA__PUSH_THINK || kind == LINGMA__PUSH_STEP) {
        /* step_end may come before or after chat/finish: the turn ends on
         * chat/finish only, so it needs nothing but the ACK. */
        lingma_rpc_respond(lc->rpc, id, lingma__method_ack());
        c = rid_find(p, lingma__method_request_id(params));
        if (c && c->conn == lc)
            learn_session(c, lingma__method_session_id(params));
        return 0;
    }
    return 0; /* everything else: the session answers null at once */
}

void
lingma__chat_on_notification(struct lingma__lconn *lc, const char *method, json_t *params)
{
    struct lingma__chat *c;

    if (lingma__push_kind(method) != LINGMA__PUSH_USAGE)
        return;
    c = rid_find(lc->inst->pool, lingma__method_request_id(params));
    if (!c && lc->nchats == 1)
        c = lc->chats; /* Qoder-style pushes carry no requestId */
    if (!c || c->conn != lc)
        return;
    lingma_usage u;
    lingma__method_context_usage(&u, params);
    if (u.present)
        c->usage = u;
}

void
lingma__chat_conn_lost(struct lingma__lconn *lc, int code, const char *why)
{
    struct lingma_pool *p = lc->inst->pool;

    while (lc->chats)
        lingma__chat_fail(p, lc->chats, code, why);
}

/* Unhook a chat from its connection, timers and request id. */
void
lingma__chat_release(struct lingma_pool *p, struct lingma__chat *c)
{
    struct lingma__lconn *lc = c->conn;

    /* The whole-chat deadline survives: a chat released for a retry elsewhere
     * keeps it (lingma__chat_end cancels it at the end). */
    lingma__timer_cancel(c->ft_timer);
    if (lc) {
        if (c->ask_rpc_id && lc->rpc)
            lingma_rpc_cancel(lc->rpc, c->ask_rpc_id);
        c->ask_rpc_id = 0;
        if (c->prev)
            c->prev->next = c->next;
        else
            lc->chats = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->next = c->prev = NULL;
        lc->nchats--;
        c->conn = NULL;
    }
    lingma__rid_remove(p, c);
}

void
lingma__chat_free(struct lingma_pool *p, struct lingma__chat *c)
{
    if (!c)
        return;
    lingma__timer_free(c->timer);
    lingma__timer_free(c->ft_timer);
    lingma__free(p->alloc, c->prompt);
    lingma__free(p->alloc, c->model);
    lingma__free(p->alloc, c->session_in);
    lingma__free(p->alloc, c->affinity);
    lingma__free(p->alloc, c->session_id);
    lingma__free(p->alloc, c->text.p);
    lingma__free(p->alloc, c);
}
