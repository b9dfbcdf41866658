/*
 * The pool: options, the service thread's command queue, admission,
 * routing, the chat id registry and the terminal path every chat takes.
 *
 * lingma_chat_start() decides admission synchronously under pool->mu
 * (admission.c is lock-free and sans-I/O; the mutex serialises it), then
 * hands the chat to the service thread through the start list. Every other
 * cross-thread request is a command. The service thread drains both after
 * every lws_service() return (wake-ups coalesce: it always drains all).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "alloc.h"
#include "methods.h"
#include "pool_internal.h"

#define TICK_MS 100

enum cmd_type { CMD_CANCEL, CMD_CALL, CMD_LOGIN };

struct lingma__cmd {
    enum cmd_type type;
    struct lingma__cmd *next;
    lingma_chat_id id; /* CMD_CANCEL: the chat; CMD_LOGIN: the instance index */
    struct lingma__call *call;
};

/* calls.c */
void lingma__call_run(struct lingma_pool *p, struct lingma__call *call);
void lingma__call_abort(struct lingma_pool *p, struct lingma__call *call, int code);

LINGMA_EXPORT const char *
lingma_instance_state_name(lingma_instance_state state)
{
    static const char *const names[] = {"stopped",      "starting", "ready",
                                        "reconnecting", "failed",   "closed"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

uint64_t
lingma__chat_timeout(const struct lingma_pool *p, const struct lingma__chat *c)
{
    return c->timeout_ms ? c->timeout_ms : p->o.chat_timeout_ms;
}

/* ---- registry (pool->mu) ---- */

static void
reg_insert(struct lingma_pool *p, struct lingma__chat *c)
{
    size_t b = c->id % p->nreg_buckets;
    c->hnext = p->reg[b];
    p->reg[b] = c;
}

static void
reg_remove(struct lingma_pool *p, struct lingma__chat *c)
{
    for (struct lingma__chat **pp = &p->reg[c->id % p->nreg_buckets]; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            return;
        }
    }
}

static struct lingma__chat *
reg_find(struct lingma_pool *p, lingma_chat_id id)
{
    for (struct lingma__chat *c = p->reg[id % p->nreg_buckets]; c; c = c->hnext)
        if (c->id == id)
            return c;
    return NULL;
}

/* ---- the terminal path ---- */

static struct lingma__chat *
chat_of(struct lingma__adm_entry *e)
{
    return (struct lingma__chat *)((char *)e - offsetof(struct lingma__chat, adm));
}

static void
pending_remove(struct lingma_pool *p, struct lingma__chat *c)
{
    if (!c->in_pending)
        return;
    for (struct lingma__chat **pp = &p->pending_head; *pp; pp = &(*pp)->pnext) {
        if (*pp == c) {
            *pp = c->pnext;
            break;
        }
    }
    p->pending_tail = NULL;
    for (struct lingma__chat *q = p->pending_head; q; q = q->pnext)
        p->pending_tail = q;
    c->in_pending = 0;
    c->pnext = NULL;
}

void
lingma__pool_schedule(struct lingma_pool *p, struct lingma__chat *c)
{
    if (c->in_pending)
        return;
    c->phase = LINGMA__CHAT_WAITING;
    c->in_pending = 1;
    c->pnext = NULL;
    if (p->pending_tail)
        p->pending_tail->pnext = c;
    else
        p->pending_head = c;
    p->pending_tail = c;
    lingma__loop_wake(p->loop);
}

/* Under pool->mu: take a chat that ends before the service thread saw it
 * (a queue timeout while the thread was held up) off the start list, which
 * would otherwise hand the freed chat to the next wake-up. */
static void
start_unlink(struct lingma_pool *p, struct lingma__chat *c)
{
    struct lingma__chat *prev = NULL;

    for (struct lingma__chat *q = p->start_head; q; prev = q, q = q->cmd_next) {
        if (q != c)
            continue;
        if (prev)
            prev->cmd_next = c->cmd_next;
        else
            p->start_head = c->cmd_next;
        if (p->start_tail == c)
            p->start_tail = prev;
        c->cmd_next = NULL;
        return;
    }
}

void
lingma__chat_end(struct lingma_pool *p, struct lingma__chat *c, lingma_chat_event *ev)
{
    struct lingma__adm_entry *next;
    int unseen = c->phase == LINGMA__CHAT_NEW;

    if (c->phase == LINGMA__CHAT_ENDED)
        return;
    lingma__timer_cancel(c->timer);
    lingma__timer_cancel(c->ft_timer);
    if (c->inst)
        lingma__inst_detach_chat(c->inst, c);
    else
        lingma__rid_remove(p, c);
    pending_remove(p, c);
    c->phase = LINGMA__CHAT_ENDED;

    /* The slot is free before the callback runs: a callback that starts a
     * new chat is admitted. */
    pthread_mutex_lock(&p->mu);
    if (unseen)
        start_unlink(p, c);
    reg_remove(p, c);
    next = lingma__admission_finish(&p->adm, &c->adm, (int64_t)lingma__now_ms());
    pthread_mutex_unlock(&p->mu);

    ev->id = c->id;
    c->on_event(ev, c->payload);
    lingma__chat_free(p, c);
    if (next)
        lingma__pool_schedule(p, chat_of(next));
}

void
lingma__chat_fail(struct lingma_pool *p, struct lingma__chat *c, int code, const char *msg)
{
    lingma_chat_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = LINGMA_CHAT_ERROR;
    ev.error.code = code;
    ev.error.message = msg ? msg : lingma_strerror(code);
    lingma__chat_end(p, c, &ev);
}

static void
on_chat_timeout(void *ud)
{
    struct lingma__chat *c = ud;

    /* Not c->inst->pool: a chat between two instances (a retry) has none. */
    lingma__chat_stop_upstream(c);
    lingma__chat_fail(c->pool, c, LINGMA_ETIMEDOUT, "the chat timed out");
}

/* Route an admitted chat to an instance. */
static void
dispatch(struct lingma_pool *p, struct lingma__chat *c)
{
    struct lingma__route_inst snap[LINGMA__MAX_INSTANCES];
    enum lingma__route_rule rule;

    for (size_t i = 0; i < p->ninst; i++) {
        struct lingma__inst *in = &p->inst[i];
        snap[i].avail = in->state == LINGMA_INSTANCE_READY    ? LINGMA__ROUTE_READY
                        : in->state == LINGMA_INSTANCE_CLOSED ? LINGMA__ROUTE_OFF
                                                              : LINGMA__ROUTE_STARTABLE;
        snap[i].in_flight = in->in_flight;
        snap[i].cap = p->o.max_per_instance;
        snap[i].name_hash = lingma__route_name_hash(in->name);
    }
    int idx = lingma__route(&p->router, snap, p->ninst, c->affinity,
                            c->affinity ? strlen(c->affinity) : 0, &rule);
    if (idx < 0) {
        lingma__chat_fail(p, c, LINGMA_EUNAVAIL, "no instance can take the chat");
        return;
    }
    /* The whole-chat deadline runs from the first dispatch: it covers a lazy
     * start, retries elsewhere, and the stream. */
    uint64_t to = lingma__chat_timeout(p, c);
    if (to && !c->timer) {
        c->timer = lingma__timer_new(p->loop, on_chat_timeout, c);
        if (!c->timer) {
            lingma__chat_fail(p, c, LINGMA_ENOMEM, "out of memory");
            return;
        }
        lingma__timer_arm(c->timer, to);
    }
    lingma__logf(&p->log, LINGMA_LOG_DEBUG, "chat %llu -> %s (%s)", (unsigned long long)c->id,
                 p->inst[idx].name, lingma__route_rule_name(rule));
    lingma__inst_submit(&p->inst[idx], c);
}

/* ---- the service loop ---- */

static void
arm_queue_timer(struct lingma_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int64_t dl = lingma__admission_next_deadline(&p->adm);
    pthread_mutex_unlock(&p->mu);
    if (dl == INT64_MAX) {
        lingma__timer_cancel(p->queue_timer);
        return;
    }
    int64_t now = (int64_t)lingma__now_ms();
    lingma__timer_arm(p->queue_timer, dl > now ? (uint64_t)(dl - now) : 0);
}

void
lingma__pool_on_queue_timer(void *ud)
{
    struct lingma_pool *p = ud;
    struct lingma__chat *expired = NULL, **tail = &expired;
    struct lingma__adm_entry *e;
    unsigned retry;

    pthread_mutex_lock(&p->mu);
    while ((e = lingma__admission_expire(&p->adm, (int64_t)lingma__now_ms()))) {
        struct lingma__chat *c = chat_of(e);
        c->pnext = NULL;
        *tail = c;
        tail = &c->pnext;
    }
    retry = (unsigned)lingma__admission_retry_after_ms(&p->adm);
    pthread_mutex_unlock(&p->mu);

    while (expired) {
        struct lingma__chat *c = expired;
        lingma_chat_event ev;
        expired = c->pnext;
        c->pnext = NULL;
        memset(&ev, 0, sizeof(ev));
        ev.type = LINGMA_CHAT_ERROR;
        ev.error.code = LINGMA_EBUSY;
        ev.error.message = "no slot became free within the queue timeout";
        ev.error.retry_after_ms = retry;
        lingma__chat_end(p, c, &ev);
    }
    arm_queue_timer(p);
}

void
lingma__pool_on_tick(void *ud)
{
    struct lingma_pool *p = ud;
    uint64_t now = lingma__now_ms();

    for (size_t i = 0; i < p->ninst; i++)
        lingma__inst_tick(&p->inst[i], now);
    if (!p->shut_down)
        lingma__timer_arm(p->tick_timer, TICK_MS);
}

static void
cancel_chat(struct lingma_pool *p, lingma_chat_id id)
{
    pthread_mutex_lock(&p->mu);
    struct lingma__chat *c = reg_find(p, id);
    pthread_mutex_unlock(&p->mu);
    if (!c || c->phase == LINGMA__CHAT_ENDED)
        return;
    if (c->phase == LINGMA__CHAT_ASKING || c->phase == LINGMA__CHAT_STREAMING)
        lingma__chat_stop_upstream(c);
    lingma__chat_fail(p, c, LINGMA_ECANCELED, "cancelled");
}

static void
shutdown_all(struct lingma_pool *p)
{
    p->shut_down = 1;
    for (;;) {
        struct lingma__chat *c = NULL;
        pthread_mutex_lock(&p->mu);
        for (size_t b = 0; b < p->nreg_buckets && !c; b++)
            c = p->reg[b];
        pthread_mutex_unlock(&p->mu);
        if (!c)
            break;
        lingma__chat_fail(p, c, LINGMA_ECLOSED, "the pool is shutting down");
    }
    for (size_t i = 0; i < p->ninst; i++)
        lingma__inst_shutdown(&p->inst[i]);
    lingma__timer_cancel(p->queue_timer);
    lingma__timer_cancel(p->tick_timer);
    lingma__loop_quit(p->loop);
}

void
lingma__pool_on_wake(void *ud)
{
    struct lingma_pool *p = ud;
    struct lingma__cmd *cmds;
    struct lingma__chat *starts;

    if (p->shut_down)
        return;
    if (!p->tick_timer_armed) {
        /* First run on the service thread: boot every instance. */
        p->tick_timer_armed = 1;
        lingma__timer_arm(p->tick_timer, TICK_MS);
        for (size_t i = 0; i < p->ninst; i++)
            lingma__inst_start(&p->inst[i]);
    }

    pthread_mutex_lock(&p->mu);
    int shutdown = p->closing;
    cmds = p->cmd_head;
    p->cmd_head = p->cmd_tail = NULL;
    starts = p->start_head;
    p->start_head = p->start_tail = NULL;
    pthread_mutex_unlock(&p->mu);

    int queued = 0;
    while (starts) {
        struct lingma__chat *c = starts;
        starts = c->cmd_next;
        c->cmd_next = NULL;
        if (c->phase != LINGMA__CHAT_NEW)
            continue; /* promoted from the queue before we saw it */
        pthread_mutex_lock(&p->mu);
        enum lingma__adm_state st = lingma__adm_entry_state(&c->adm);
        pthread_mutex_unlock(&p->mu);
        if (st == LINGMA__ADM_ENTRY_ACTIVE) {
            dispatch(p, c);
        } else {
            c->phase = LINGMA__CHAT_QUEUED;
            queued = 1;
        }
    }
    while (cmds) {
        struct lingma__cmd *cmd = cmds;
        cmds = cmd->next;
        if (cmd->type == CMD_CANCEL)
            cancel_chat(p, cmd->id);
        else if (cmd->type == CMD_LOGIN)
            lingma__login_start(&p->inst[cmd->id]);
        else if (shutdown)
            lingma__call_abort(p, cmd->call, LINGMA_ECLOSED);
        else
            lingma__call_run(p, cmd->call);
        lingma__free(p->alloc, cmd);
    }
    if (shutdown) {
        /* Nothing can be posted any more (closing is set under mu). */
        shutdown_all(p);
        return;
    }
    while (p->pending_head) {
        struct lingma__chat *c = p->pending_head;
        p->pending_head = c->pnext;
        if (!p->pending_head)
            p->pending_tail = NULL;
        c->pnext = NULL;
        c->in_pending = 0;
        dispatch(p, c);
    }
    if (p->pump_wanted) {
        p->pump_wanted = 0;
        for (size_t i = 0; i < p->ninst; i++)
            if (p->inst[i].pump_wanted)
                lingma__inst_pump(&p->inst[i]);
    }
    if (queued)
        arm_queue_timer(p);
}

/* Append to the command queue. (mu) The caller unlocks, then wakes the
 * service thread with lingma__loop_wake(). */
static void
enqueue_locked(struct lingma_pool *p, struct lingma__cmd *cmd)
{
    if (p->cmd_tail)
        p->cmd_tail->next = cmd;
    else
        p->cmd_head = cmd;
    p->cmd_tail = cmd;
}

static int
post_cmd(struct lingma_pool *p, struct lingma__cmd *cmd)
{
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        return LINGMA_ECLOSED;
    }
    enqueue_locked(p, cmd);
    pthread_mutex_unlock(&p->mu);
    lingma__loop_wake(p->loop);
    return 0;
}

/* A new command of `type` for the service thread, posted; freed here
 * when it cannot be. */
static int
post_new_cmd(struct lingma_pool *p, enum cmd_type type, lingma_chat_id id,
             struct lingma__call *call)
{
    struct lingma__cmd *cmd = lingma__calloc(p->alloc, 1, sizeof(*cmd));
    if (!cmd)
        return LINGMA_ENOMEM;
    cmd->type = type;
    cmd->id = id;
    cmd->call = call;
    int rc = post_cmd(p, cmd);
    if (rc != 0)
        lingma__free(p->alloc, cmd);
    return rc;
}

int
lingma__pool_post_call(struct lingma_pool *p, struct lingma__call *call)
{
    return post_new_cmd(p, CMD_CALL, 0, call);
}

int
lingma__pool_post_login(struct lingma_pool *p, size_t instance)
{
    struct lingma__cmd *cmd = lingma__calloc(p->alloc, 1, sizeof(*cmd));
    struct lingma__inst *in = &p->inst[instance];

    if (!cmd)
        return LINGMA_ENOMEM;
    cmd->type = CMD_LOGIN;
    cmd->id = instance;
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        lingma__free(p->alloc, cmd);
        return LINGMA_ECLOSED;
    }
    /* WAITING as soon as the call returns, so that a caller polling the
     * stats never sees the state from before its own request. The service
     * thread publishes the same when it takes the command (or nothing new
     * when an attempt already runs). */
    if (in->pub.login_state != LINGMA_LOGIN_WAITING) {
        in->pub.login_state = LINGMA_LOGIN_WAITING;
        in->pub.login_reason[0] = '\0';
        lingma__free(p->alloc, in->pub.login_url);
        in->pub.login_url = NULL;
    }
    enqueue_locked(p, cmd);
    pthread_mutex_unlock(&p->mu);
    lingma__loop_wake(p->loop);
    return 0;
}

LINGMA_EXPORT int
lingma_instance_login_start(lingma_pool *p, size_t instance)
{
    if (!p)
        return LINGMA_EINVAL;
    if (instance >= p->ninst)
        return LINGMA_ENOTFOUND;
    return lingma__pool_post_login(p, instance);
}

void
lingma__pool_post_shutdown(struct lingma_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_mutex_unlock(&p->mu);
    lingma__loop_wake(p->loop);
}

int
lingma__pool_on_service_thread(const struct lingma_pool *p)
{
    return lingma__loop_on_thread(p->loop);
}

/* ---- public: chats ---- */

static char *
dup_opt(struct lingma_pool *p, const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = lingma__strdup(p->alloc, s);
    if (!d)
        *oom = 1;
    return d;
}

LINGMA_EXPORT int
lingma_chat_start(lingma_chat_id *out, lingma_chat_admission *admit, lingma_pool *p,
                  const lingma_chat_options *opts)
{
    int64_t retry = 0;
    int oom = 0;

    if (admit)
        memset(admit, 0, sizeof(*admit));
    if (!out || !p || !opts || opts->version != LINGMA_CHAT_OPTIONS_VERSION || !opts->prompt ||
        !*opts->prompt || !opts->on_event || (unsigned)opts->ask_mode > LINGMA_ASK_AGENT)
        return LINGMA_EINVAL;
    /* Fail invalid UTF-8 here, synchronously, rather than at chat/ask. */
    if (!lingma__method_ask_prompt_ok(opts->prompt))
        return LINGMA_EINVAL;

    struct lingma__chat *c = lingma__calloc(p->alloc, 1, sizeof(*c));
    if (!c)
        return LINGMA_ENOMEM;
    c->prompt = dup_opt(p, opts->prompt, &oom);
    c->model = opts->model && *opts->model ? dup_opt(p, opts->model, &oom) : NULL;
    c->session_in =
        opts->session_id && *opts->session_id ? dup_opt(p, opts->session_id, &oom) : NULL;
    c->affinity =
        opts->affinity_key && *opts->affinity_key ? dup_opt(p, opts->affinity_key, &oom) : NULL;
    if (oom) {
        lingma__chat_free(p, c);
        return LINGMA_ENOMEM;
    }
    c->mode = opts->ask_mode;
    c->timeout_ms = opts->timeout_ms == LINGMA_ZERO ? 0 : opts->timeout_ms;
    c->first_token_ms =
        opts->first_token_timeout_ms ? opts->first_token_timeout_ms : p->o.first_token_timeout_ms;
    if (c->first_token_ms == LINGMA_ZERO)
        c->first_token_ms = 0;
    c->pool = p;
    c->on_event = opts->on_event;
    c->payload = opts->payload;
    c->created_ms = lingma__now_ms();
    lingma__think_init(&c->think);
    lingma__adm_entry_init(&c->adm);

    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        lingma__chat_free(p, c);
        return LINGMA_ECLOSED;
    }
    enum lingma__adm_result r =
        lingma__admission_try(&p->adm, &c->adm, (int64_t)c->created_ms, &retry);
    if (r == LINGMA__ADM_REJECTED) {
        pthread_mutex_unlock(&p->mu);
        lingma__chat_free(p, c);
        if (admit)
            admit->retry_after_ms = retry > 0 ? (unsigned)retry : 0;
        return LINGMA_EBUSY;
    }
    c->id = ++p->next_id;
    /* Once the lock is released the service thread may run the chat to its
     * end and free it: nothing of `c` may be read after the unlock. */
    lingma_chat_id id = c->id;
    reg_insert(p, c);
    if (p->start_tail)
        p->start_tail->cmd_next = c;
    else
        p->start_head = c;
    p->start_tail = c;
    pthread_mutex_unlock(&p->mu);

    lingma__loop_wake(p->loop);
    *out = id;
    if (admit)
        admit->queued = r == LINGMA__ADM_QUEUED;
    return 0;
}

LINGMA_EXPORT int
lingma_chat_cancel(lingma_pool *p, lingma_chat_id id)
{
    if (!p || !id)
        return LINGMA_EINVAL;
    pthread_mutex_lock(&p->mu);
    int live = reg_find(p, id) != NULL;
    pthread_mutex_unlock(&p->mu);
    if (!live)
        return LINGMA_ENOTFOUND;
    return post_new_cmd(p, CMD_CANCEL, id, NULL);
}
