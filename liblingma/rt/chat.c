/*
 * A chat's whole life on the service thread (see chat.h):
 *
 *   IDLE --submit--> WAITING --a connection has room: chat/ask--> ASKING
 *        --accepted or first answer--> STREAMING --chat/finish--> ENDED
 *
 * and, from any phase, ENDED by a cancel, a deadline, an error or the loss
 * of its instance or connection. IDLE is the pool's time: new, queued,
 * or between two instances (a retry). Payloads are built and decoded by
 * methods.c; the think block is split by think.c.
 *
 * The chats of one instance make a lane: the ones waiting for a connection
 * (in order) and, per connection, the ones running on it. Pushes find their
 * chat by requestId through the request-id table.
 *
 * A chat with tools (chat_tools.c) may go round once more: an answer that
 * breaks the tool contract sends it from STREAMING back to WAITING, at the
 * head of its own lane, for a second ask; it keeps its slot, its instance
 * and its deadline meanwhile.
 *
 * This file holds the chat itself: making it, chat/ask, the end and the
 * deadlines, and the request-id table. The lanes are chat_lanes.c's; the
 * pushes, and the events they become, chat_push.c's; chat_int.h holds what
 * the three share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alloc.h"
#include "ask_write.h"
#include "chat_int.h"
#include "chat_tools.h"
#include "methods.h"
#include "rng.h"
#include "think.h"

/* Give up on "Another chat is in progress" after this many retries. */
#define MAX_BUSY_RETRIES 1000
#define RID_BUCKETS      4096

/* ---- the chats of a pool ---- */

int
lingma__chats_new(struct lingma__chats **out, const struct lingma__chats_cfg *cfg)
{
    struct lingma__chats *cs = lingma__calloc(cfg->alloc, 1, sizeof(*cs));

    *out = NULL;
    if (!cs)
        return LINGMA_ENOMEM;
    cs->cfg = *cfg;
    cs->rids = lingma__calloc(cfg->alloc, RID_BUCKETS, sizeof(*cs->rids));
    cs->lanes = lingma__calloc(cfg->alloc, cfg->ninst, sizeof(*cs->lanes));
    if (!cs->rids || !cs->lanes) {
        lingma__chats_free(cs);
        return LINGMA_ENOMEM;
    }
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* Uniqueness is what the ids need, not secrecy: within the pool it
         * comes from the generator's period and the call sequence; the seed
         * only tells pools apart. */
        uint64_t a = (uint64_t)(uintptr_t)cs, b = lingma__now_ms();
        memset(rnd, 0, sizeof(rnd));
        memcpy(rnd, &a, 8);
        memcpy(rnd + 8, &b, 8);
    }
    lingma__rng_seed(&cs->rng, rnd, sizeof(rnd));
    cs->call_salt = (uint32_t)lingma__rng_next(&cs->rng);
    cs->call_base = lingma__rng_next(&cs->rng);
    for (size_t i = 0; i < cfg->ninst; i++) {
        struct lane *lane = &cs->lanes[i];
        lane->inst = &cfg->inst[i];
        lane->slots = lingma__calloc(cfg->alloc, lane->inst->nconns, sizeof(*lane->slots));
        if (!lane->slots) {
            lingma__chats_free(cs);
            return LINGMA_ENOMEM;
        }
    }
    *out = cs;
    return 0;
}

void
lingma__chats_free(struct lingma__chats *cs)
{
    if (!cs)
        return;
    const lingma_allocator *a = cs->cfg.alloc;
    if (cs->lanes)
        for (size_t i = 0; i < cs->cfg.ninst; i++)
            lingma__free(a, cs->lanes[i].slots);
    lingma__free(a, cs->lanes);
    lingma__free(a, cs->rids);
    lingma__free(a, cs->scratch.p);
    lingma__free(a, cs);
}

/* ---- request-id table ---- */

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
rid_insert(struct lingma__chat *c)
{
    struct lingma__chats *cs = c->cs;
    size_t b = c->rid_key % RID_BUCKETS;
    c->rnext = cs->rids[b];
    cs->rids[b] = c;
}

void
lingma__chat_rid_remove(struct lingma__chat *c)
{
    if (!c->request_id[0])
        return;
    for (struct lingma__chat **pp = &c->cs->rids[c->rid_key % RID_BUCKETS]; *pp;
         pp = &(*pp)->rnext) {
        if (*pp == c) {
            *pp = c->rnext;
            break;
        }
    }
    c->rnext = NULL;
    c->request_id[0] = '\0';
}

struct lingma__chat *
lingma__chats_rid_find(struct lingma__chats *cs, const char *rid)
{
    if (!rid)
        return NULL;
    for (struct lingma__chat *c = cs->rids[rid_key(rid) % RID_BUCKETS]; c; c = c->rnext)
        if (strcmp(c->request_id, rid) == 0)
            return c;
    return NULL;
}

/* ---- making a chat (any thread) ---- */

static char *
dup_opt(const lingma_allocator *a, const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = lingma__strdup(a, s);
    if (!d)
        *oom = 1;
    return d;
}

int
lingma__chat_new(struct lingma__chat **out, struct lingma__chats *cs,
                 const lingma_chat_options *opts)
{
    const lingma_allocator *a = cs->cfg.alloc;
    int oom = 0;

    *out = NULL;
    if (!opts || (opts->version != LINGMA_CHAT_OPTIONS_VERSION && opts->version != 1) ||
        !opts->prompt || !*opts->prompt || !opts->on_event ||
        (unsigned)opts->ask_mode > LINGMA_ASK_AGENT)
        return LINGMA_EINVAL;
    /* Fail invalid UTF-8 here, synchronously, rather than at chat/ask. */
    if (!lingma__method_ask_prompt_ok(opts->prompt))
        return LINGMA_EINVAL;

    struct lingma__chat *c = lingma__calloc(a, 1, sizeof(*c));
    if (!c)
        return LINGMA_ENOMEM;
    c->cs = cs;
    c->prompt = dup_opt(a, opts->prompt, &oom);
    c->model = opts->model && *opts->model ? dup_opt(a, opts->model, &oom) : NULL;
    c->session_in =
        opts->session_id && *opts->session_id ? dup_opt(a, opts->session_id, &oom) : NULL;
    c->affinity =
        opts->affinity_key && *opts->affinity_key ? dup_opt(a, opts->affinity_key, &oom) : NULL;
    if (oom) {
        lingma__chat_free(c);
        return LINGMA_ENOMEM;
    }
    c->mode = opts->ask_mode;
    c->timeout_ms = opts->timeout_ms == LINGMA_ZERO ? 0 : opts->timeout_ms;
    c->first_token_ms = opts->first_token_timeout_ms ? opts->first_token_timeout_ms
                                                     : cs->cfg.o->first_token_timeout_ms;
    if (c->first_token_ms == LINGMA_ZERO)
        c->first_token_ms = 0;
    c->on_event = opts->on_event;
    c->payload = opts->payload;
    c->created_ms = lingma__now_ms();
    /* A version 1 struct ends before the tool fields. */
    if (opts->version >= 2) {
        char *prompt = NULL;
        int rc = lingma__chat_tools_new(&c->tools, &prompt, a, opts);
        if (rc != 0) {
            lingma__chat_free(c);
            return rc;
        }
        if (prompt) {
            lingma__free(a, c->prompt);
            c->prompt = prompt;
        }
    }
    lingma__think_init(&c->think);
    *out = c;
    return 0;
}

void
lingma__chat_publish(struct lingma__chat *c, lingma_chat_id id,
                     const struct lingma__chat_owner *owner, void *owner_ud)
{
    c->id = id;
    c->owner = owner;
    c->owner_ud = owner_ud;
}

const char *
lingma__chat_affinity(const struct lingma__chat *c)
{
    return c->affinity;
}

uint64_t
lingma__chat_created_ms(const struct lingma__chat *c)
{
    return c->created_ms;
}

void
lingma__chat_free(struct lingma__chat *c)
{
    if (!c)
        return;
    const lingma_allocator *a = c->cs->cfg.alloc;
    lingma__timer_free(c->timer);
    lingma__timer_free(c->ft_timer);
    lingma__free(a, c->prompt);
    lingma__free(a, c->model);
    lingma__free(a, c->session_in);
    lingma__free(a, c->affinity);
    lingma__free(a, c->session_id);
    lingma__free(a, c->text.p);
    lingma__chat_tools_free(c->tools);
    lingma__free(a, c);
}

/* ---- the end ---- */

void
lingma__chat_end(struct lingma__chat *c, lingma_chat_event *ev)
{
    if (c->phase == CHAT_ENDED)
        return;
    lingma__timer_cancel(c->timer);
    lingma__timer_cancel(c->ft_timer);
    if (c->lane)
        lingma__chat_detach(c);
    else
        lingma__chat_rid_remove(c);
    c->phase = CHAT_ENDED;
    /* The slot is free before the callback runs: a callback that starts a
     * new chat is admitted. */
    c->owner->release(c->owner_ud);
    ev->id = c->id;
    c->on_event(ev, c->payload);
    lingma__chat_free(c);
}

void
lingma__chat_fail(struct lingma__chat *c, int code, const char *msg)
{
    lingma_chat_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = LINGMA_CHAT_ERROR;
    ev.error.code = code;
    ev.error.message = msg ? msg : lingma_strerror(code);
    lingma__chat_end(c, &ev);
}

static void
stop_upstream(struct lingma__chat *c)
{
    if (!c->conn || !c->request_id[0])
        return;
    json_t *params = lingma__method_stop(c->request_id, c->session_id);
    if (params)
        lingma__conn_call(c->conn, NULL, LINGMA__M_CHAT_STOP, params, NULL, NULL);
}

void
lingma__chat_cancel(struct lingma__chat *c)
{
    if (c->phase == CHAT_ENDED)
        return;
    if (c->phase == CHAT_ASKING || c->phase == CHAT_STREAMING)
        stop_upstream(c);
    lingma__chat_fail(c, LINGMA_ECANCELED, "cancelled");
}

void
lingma__chat_on_timeout(void *ud)
{
    struct lingma__chat *c = ud;
    stop_upstream(c);
    lingma__chat_fail(c, LINGMA_ETIMEDOUT, "the chat timed out");
}

static void
on_first_token_timeout(void *ud)
{
    struct lingma__chat *c = ud;
    stop_upstream(c);
    lingma__chat_fail(c, LINGMA_ETIMEDOUT, "no first token in time");
}

/* ---- chat/ask ---- */

static void
on_ask_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
                void *payload)
{
    struct lingma__chat *c = payload;
    char msg[300];

    (void)rpc;
    if (status == LINGMA_ECANCELED)
        return; /* the chat is being released: it no longer expects this */
    c->ask_rpc_id = 0;

    if (status == 0) {
        const char *m;
        if (lingma__method_ask_result(result, &m) != 0) {
            snprintf(msg, sizeof(msg), "chat/ask refused: %s", m && *m ? m : "no reason given");
            lingma__chat_fail(c, LINGMA_ERPC, msg);
            return;
        }
        if (c->phase == CHAT_ASKING)
            c->phase = CHAT_STREAMING;
        lingma__chat_emit_started(c);
        return;
    }
    if (status == LINGMA_ERPC && err && err->code == LINGMA_RPC_INVALID_PARAMS &&
        strstr(err->message, "Another chat is in progress")) {
        /* The connection takes fewer chats than we thought: remember that
         * and try again elsewhere (or here, once a chat ends). Never shown. */
        struct slot *s = slot_of(c->lane, c->conn);
        if (++c->retries > MAX_BUSY_RETRIES) {
            lingma__chat_fail(c, LINGMA_EUNAVAIL, "Lingma kept refusing concurrent chats");
            return;
        }
        unsigned others = s->nchats > 0 ? s->nchats - 1 : 0;
        s->limit = others > 0 ? others : 1;
        lingma__logf(c->cs->cfg.log, LINGMA_LOG_DEBUG,
                     "%s: conn %u busy, chat %llu retried (limit %u)", c->lane->inst->name,
                     c->conn->index, (unsigned long long)c->id, s->limit);
        if (c->retried) {
            /* The tool contract's second ask stays on its instance. */
            lingma__chat_requeue_front(c);
            return;
        }
        lingma__chat_detach(c);
        c->phase = CHAT_IDLE;
        c->owner->reroute(c->owner_ud);
        return;
    }
    if (status == LINGMA_ERPC && err) {
        lingma_chat_event ev;
        memset(&ev, 0, sizeof(ev));
        snprintf(msg, sizeof(msg), "chat/ask failed: %s", err->message);
        ev.type = LINGMA_CHAT_ERROR;
        ev.error.code = LINGMA_ERPC;
        ev.error.message = msg;
        ev.error.rpc_code = err->code;
        lingma__chat_end(c, &ev);
        return;
    }
    if (status == LINGMA_ETIMEDOUT) {
        stop_upstream(c);
        lingma__chat_fail(c, LINGMA_ETIMEDOUT, "chat/ask got no answer in time");
        return;
    }
    lingma__chat_fail(c, LINGMA_EIO, "connection lost before chat/ask was answered");
}

static int
write_ask(struct lingma__jsonw *w, void *spec)
{
    return lingma__method_ask_write(w, spec);
}

int
lingma__chat_send_ask(struct lingma__chat *c, struct lingma__conn *conn)
{
    struct lingma__chats *cs = c->cs;
    const lingma_pool_options *o = cs->cfg.o;
    struct slot *s = slot_of(c->lane, conn);
    unsigned char rnd[16];
    struct lingma__ask_spec spec;
    uint64_t now = lingma__now_ms();

    lingma__rng_bytes(&cs->rng, rnd, sizeof(rnd));
    lingma__method_hex_id(c->request_id, rnd);
    c->rid_key = rid_key(c->request_id);

    spec.request_id = c->request_id;
    spec.session_id = c->session_in;
    spec.prompt = c->prompt;
    spec.model = c->model ? c->model : o->default_model;
    spec.mode = c->mode != LINGMA_ASK_DEFAULT ? c->mode : o->ask_mode;
    /* Written straight into the frame: no tree per chat (ask_write.h). */
    int rc = lingma__conn_call_with(conn, &c->ask_rpc_id, LINGMA__M_CHAT_ASK, write_ask, &spec,
                                    on_ask_response, c);
    if (rc != 0) {
        c->request_id[0] = '\0';
        c->ask_rpc_id = 0;
        return rc;
    }
    rid_insert(c);
    c->conn = conn;
    c->prev = NULL;
    c->next = s->chats;
    if (s->chats)
        s->chats->prev = c;
    s->chats = c;
    s->nchats++;
    /* Lingma owes this chat its pushes: the connection's stall probe
     * watches it while any chat runs there. */
    lingma__conn_set_busy(conn, 1);
    c->phase = CHAT_ASKING;
    /* first_token_ms measures from the first ask: a retry keeps it. */
    if (!c->retried)
        c->ask_sent_ms = now;
    if (c->first_token_ms && !c->attempt_token) {
        if (!c->ft_timer)
            c->ft_timer = lingma__timer_new(cs->cfg.loop, on_first_token_timeout, c);
        if (c->ft_timer)
            lingma__timer_arm(c->ft_timer, c->first_token_ms);
    }
    return 0;
}
