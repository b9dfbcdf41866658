/*
 * The pool's side of a chat: admission, the id registry, the start list,
 * routing, and what a chat calls back (its owner). The chat's own life is
 * chat.c's.
 *
 * lingma_chat_start() decides admission synchronously under pool->mu
 * (admission.c is lock-free and sans-I/O; the mutex serialises it), then
 * hands the chat to the service thread through the start list. A slot is
 * released by the chat itself (ticket_release) on every way it ends; the
 * chat it promotes from the queue is routed from the loop.
 */
#include <limits.h>
#include <string.h>

#include "accounts.h" /* LINGMA__MAX_INSTANCES */
#include "alloc.h"
#include "pool.h"

static struct lingma__ticket *
ticket_of(struct lingma__adm_entry *e)
{
    return (struct lingma__ticket *)((char *)e - offsetof(struct lingma__ticket, adm));
}

/* ---- registry (pool->mu) ---- */

static void
reg_insert(struct lingma_pool *p, struct lingma__ticket *t)
{
    size_t b = t->id % p->nreg_buckets;
    t->hnext = p->reg[b];
    p->reg[b] = t;
}

static void
reg_remove(struct lingma_pool *p, struct lingma__ticket *t)
{
    for (struct lingma__ticket **pp = &p->reg[t->id % p->nreg_buckets]; *pp; pp = &(*pp)->hnext) {
        if (*pp == t) {
            *pp = t->hnext;
            return;
        }
    }
}

static struct lingma__ticket *
reg_find(struct lingma_pool *p, lingma_chat_id id)
{
    for (struct lingma__ticket *t = p->reg[id % p->nreg_buckets]; t; t = t->hnext)
        if (t->id == id)
            return t;
    return NULL;
}

/* Under pool->mu: take a chat that ends before the service thread saw it
 * (a queue timeout while the thread was held up) off the start list, which
 * would otherwise hand the freed ticket to the next wake-up. */
static void
start_unlink(struct lingma_pool *p, struct lingma__ticket *t)
{
    struct lingma__ticket *prev = NULL;

    for (struct lingma__ticket *q = p->start_head; q; prev = q, q = q->start_next) {
        if (q != t)
            continue;
        if (prev)
            prev->start_next = t->start_next;
        else
            p->start_head = t->start_next;
        if (p->start_tail == t)
            p->start_tail = prev;
        t->start_next = NULL;
        return;
    }
}

/* ---- routing (service thread) ---- */

static void
pending_remove(struct lingma_pool *p, struct lingma__ticket *t)
{
    if (!t->in_pending)
        return;
    for (struct lingma__ticket **pp = &p->pending_head; *pp; pp = &(*pp)->pnext) {
        if (*pp == t) {
            *pp = t->pnext;
            break;
        }
    }
    p->pending_tail = NULL;
    for (struct lingma__ticket *q = p->pending_head; q; q = q->pnext)
        p->pending_tail = q;
    t->in_pending = 0;
    t->pnext = NULL;
}

/* Route an admitted chat, later, from the loop. */
static void
schedule(struct lingma_pool *p, struct lingma__ticket *t)
{
    if (t->in_pending)
        return;
    t->state = LINGMA__TICKET_ADMITTED;
    t->in_pending = 1;
    t->pnext = NULL;
    if (p->pending_tail)
        p->pending_tail->pnext = t;
    else
        p->pending_head = t;
    p->pending_tail = t;
    lingma__loop_wake(p->loop);
}

/* End a chat that no instance can take, saying why of each (the log and
 * the caller see it; the gateway's answer does not carry it). */
static void
fail_unavailable(struct lingma_pool *p, struct lingma__ticket *t, int any_serving)
{
    char msg[400], why[300];
    size_t n = (size_t)snprintf(msg, sizeof(msg), "%s",
                                any_serving ? "every serving instance is at its limit"
                                            : "no instance is serving");
    for (size_t i = 0; i < p->ninst && !any_serving && n < sizeof(msg); i++) {
        lingma__inst_describe(&p->inst[i], why, sizeof(why));
        n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s: %s", i ? "; " : " (",
                              p->inst[i].name, why);
    }
    if (!any_serving && n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - n, ")");
    lingma__chat_fail(t->chat, LINGMA_EUNAVAIL, msg);
}

/* Route an admitted chat to an instance. Only serving instances (READY and
 * logged in) take chats while one exists. With none, a chat waits only for
 * an instance that is coming up for the first time, or whose login is
 * being asked right now (lingma__inst_avail: COMING); otherwise it fails at
 * once with LINGMA_EUNAVAIL rather than wait for a reconnect or a login
 * that may never come. Instances found stopped or failed are started, so
 * that a later chat finds them. */
static void
dispatch(struct lingma_pool *p, struct lingma__ticket *t)
{
    struct lingma__route_inst snap[LINGMA__MAX_INSTANCES];
    enum lingma__route_rule rule;
    const char *affinity = lingma__chat_affinity(t->chat);
    int any_serving = 0;

    for (size_t i = 0; i < p->ninst; i++)
        any_serving |= lingma__inst_avail(&p->inst[i]) == LINGMA__INST_SERVING;
    for (size_t i = 0; i < p->ninst; i++) {
        struct lingma__inst *in = &p->inst[i];
        enum lingma__inst_avail a = lingma__inst_avail(in);
        snap[i].avail = a == LINGMA__INST_SERVING                  ? LINGMA__ROUTE_READY
                        : a == LINGMA__INST_COMING && !any_serving ? LINGMA__ROUTE_STARTABLE
                                                                   : LINGMA__ROUTE_OFF;
        snap[i].in_flight = in->in_flight;
        snap[i].cap = p->o.max_per_instance;
        snap[i].name_hash = lingma__route_name_hash(in->name);
    }
    int idx =
        lingma__route(&p->router, snap, p->ninst, affinity, affinity ? strlen(affinity) : 0, &rule);
    if (idx < 0) {
        for (size_t i = 0; i < p->ninst && !any_serving; i++)
            lingma__inst_start(&p->inst[i]); /* only stopped or failed ones start */
        fail_unavailable(p, t, any_serving);
        return;
    }
    lingma__chat_submit(t->chat, &p->inst[idx], lingma__route_rule_name(rule));
}

void
lingma__pool_route_pending(struct lingma_pool *p)
{
    while (p->pending_head) {
        struct lingma__ticket *t = p->pending_head;
        p->pending_head = t->pnext;
        if (!p->pending_head)
            p->pending_tail = NULL;
        t->pnext = NULL;
        t->in_pending = 0;
        dispatch(p, t);
    }
}

/* ---- what a chat calls back ---- */

static void
ticket_release(void *ud)
{
    struct lingma__ticket *t = ud;
    struct lingma_pool *p = t->pool;
    struct lingma__adm_entry *next;

    pending_remove(p, t);
    pthread_mutex_lock(&p->mu);
    if (t->state == LINGMA__TICKET_NEW)
        start_unlink(p, t);
    reg_remove(p, t);
    next = lingma__admission_finish(&p->adm, &t->adm, (int64_t)lingma__now_ms());
    pthread_mutex_unlock(&p->mu);
    lingma__free(p->alloc, t);
    if (next)
        schedule(p, ticket_of(next));
}

static void
ticket_reroute(void *ud)
{
    struct lingma__ticket *t = ud;
    schedule(t->pool, t);
}

static const struct lingma__chat_owner ticket_owner = {ticket_release, ticket_reroute};

/* ---- the service loop ---- */

int
lingma__pool_take_starts(struct lingma_pool *p, struct lingma__ticket *starts)
{
    int queued = 0;

    while (starts) {
        struct lingma__ticket *t = starts;
        starts = t->start_next;
        t->start_next = NULL;
        if (t->state != LINGMA__TICKET_NEW)
            continue; /* promoted from the queue before we saw it */
        pthread_mutex_lock(&p->mu);
        enum lingma__adm_state st = lingma__adm_entry_state(&t->adm);
        pthread_mutex_unlock(&p->mu);
        if (st == LINGMA__ADM_ENTRY_ACTIVE) {
            t->state = LINGMA__TICKET_ADMITTED;
            dispatch(p, t);
        } else {
            t->state = LINGMA__TICKET_QUEUED;
            queued = 1;
        }
    }
    return queued;
}

void
lingma__pool_arm_queue_timer(struct lingma_pool *p)
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
    struct lingma__ticket *expired = NULL, **tail = &expired;
    struct lingma__adm_entry *e;
    unsigned retry;

    pthread_mutex_lock(&p->mu);
    while ((e = lingma__admission_expire(&p->adm, (int64_t)lingma__now_ms()))) {
        struct lingma__ticket *t = ticket_of(e);
        t->pnext = NULL;
        *tail = t;
        tail = &t->pnext;
    }
    retry = (unsigned)lingma__admission_retry_after_ms(&p->adm);
    pthread_mutex_unlock(&p->mu);

    while (expired) {
        struct lingma__ticket *t = expired;
        lingma_chat_event ev;
        expired = t->pnext;
        t->pnext = NULL;
        memset(&ev, 0, sizeof(ev));
        ev.type = LINGMA_CHAT_ERROR;
        ev.error.code = LINGMA_EBUSY;
        ev.error.message = "no slot became free within the queue timeout";
        ev.error.retry_after_ms = retry;
        lingma__chat_end(t->chat, &ev);
    }
    lingma__pool_arm_queue_timer(p);
}

void
lingma__pool_cancel_chat(struct lingma_pool *p, lingma_chat_id id)
{
    pthread_mutex_lock(&p->mu);
    struct lingma__ticket *t = reg_find(p, id);
    pthread_mutex_unlock(&p->mu);
    /* Tickets are freed on this thread only: `t` stays valid. */
    if (t)
        lingma__chat_cancel(t->chat);
}

void
lingma__pool_end_all_chats(struct lingma_pool *p)
{
    for (;;) {
        struct lingma__ticket *t = NULL;
        pthread_mutex_lock(&p->mu);
        for (size_t b = 0; b < p->nreg_buckets && !t; b++)
            t = p->reg[b];
        pthread_mutex_unlock(&p->mu);
        if (!t)
            break;
        lingma__chat_fail(t->chat, LINGMA_ECLOSED, "the pool is shutting down");
    }
}

/* ---- public: chats ---- */

LINGMA_EXPORT int
lingma_chat_start(lingma_chat_id *out, lingma_chat_admission *admit, lingma_pool *p,
                  const lingma_chat_options *opts)
{
    struct lingma__chat *c;
    int64_t retry = 0;

    if (admit)
        memset(admit, 0, sizeof(*admit));
    if (!out || !p)
        return LINGMA_EINVAL;
    int rc = lingma__chat_new(&c, p->chats, opts);
    if (rc != 0)
        return rc;
    struct lingma__ticket *t = lingma__calloc(p->alloc, 1, sizeof(*t));
    if (!t) {
        lingma__chat_free(c);
        return LINGMA_ENOMEM;
    }
    t->pool = p;
    t->chat = c;
    lingma__adm_entry_init(&t->adm);

    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        lingma__chat_free(c);
        lingma__free(p->alloc, t);
        return LINGMA_ECLOSED;
    }
    enum lingma__adm_result r =
        lingma__admission_try(&p->adm, &t->adm, (int64_t)lingma__chat_created_ms(c), &retry);
    if (r == LINGMA__ADM_REJECTED) {
        pthread_mutex_unlock(&p->mu);
        lingma__chat_free(c);
        lingma__free(p->alloc, t);
        if (admit)
            admit->retry_after_ms = retry > 0 ? (unsigned)retry : 0;
        return LINGMA_EBUSY;
    }
    t->id = ++p->next_id;
    lingma__chat_publish(c, t->id, &ticket_owner, t);
    /* Once the lock is released the service thread may run the chat to its
     * end and free it: nothing of `t` or `c` may be read after the unlock. */
    lingma_chat_id id = t->id;
    reg_insert(p, t);
    if (p->start_tail)
        p->start_tail->start_next = t;
    else
        p->start_head = t;
    p->start_tail = t;
    pthread_mutex_unlock(&p->mu);

    lingma__loop_wake(p->loop);
    *out = id;
    if (admit)
        admit->queued = r == LINGMA__ADM_QUEUED;
    return 0;
}

int
lingma__pool_has_chat(struct lingma_pool *p, lingma_chat_id id)
{
    pthread_mutex_lock(&p->mu);
    int live = reg_find(p, id) != NULL;
    pthread_mutex_unlock(&p->mu);
    return live;
}
