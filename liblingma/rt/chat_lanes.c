/*
 * The lanes of a pool's chats (see chat.c): the chats of one instance,
 * waiting for a connection in order and, per connection, running on it. A
 * submitted chat waits in its instance's lane, is sent to the ready
 * connection with the fewest chats that has room, and leaves the lane when
 * it ends, is routed again or asks once more.
 */
#include <stddef.h>
#include <stdio.h>

#include "chat_int.h"

/* Bytes a connection may have waiting to be sent before new chats on it are
 * refused (one frame of any size is always accepted below it). */
#define SEND_BACKLOG_MAX ((size_t)32 << 20)

static void pump(struct lingma__chats *cs, struct lane *lane);

/* ---- leaving a lane ---- */

/* Unhook a running chat from its connection, its first-token deadline and
 * its request id. The whole-chat deadline survives: a chat released for a
 * retry elsewhere keeps it (the end cancels it). */
static void
release_conn(struct lingma__chat *c)
{
    struct lingma__conn *conn = c->conn;
    struct slot *s = slot_of(c->lane, conn);

    lingma__timer_cancel(c->ft_timer);
    if (c->ask_rpc_id)
        lingma__conn_cancel(conn, c->ask_rpc_id);
    c->ask_rpc_id = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->chats = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    s->nchats--;
    lingma__conn_set_busy(conn, s->nchats > 0);
    c->conn = NULL;
    lingma__chat_rid_remove(c);
}

/* The connection got room: send what waits, from the loop (not from the
 * middle of this chat's own teardown). */
static void
pump_later(struct lane *lane, struct lingma__chats *cs)
{
    if (!lane->waitq)
        return;
    lane->pump_wanted = 1;
    cs->pump_wanted = 1;
    lingma__loop_wake(cs->cfg.loop);
}

/* Take a chat out of its lane and its instance's count. */
void
lingma__chat_detach(struct lingma__chat *c)
{
    struct lane *lane = c->lane;

    if (c->phase == CHAT_WAITING) {
        if (c->prev)
            c->prev->next = c->next;
        else
            lane->waitq = c->next;
        if (c->next)
            c->next->prev = c->prev;
        else
            lane->waitq_tail = c->prev;
        c->next = c->prev = NULL;
    } else if (c->conn) {
        release_conn(c);
        pump_later(lane, c->cs);
    } else {
        lingma__chat_rid_remove(c);
    }
    c->lane = NULL;
    lingma__inst_unassign(lane->inst);
}

/* Take a running chat off its connection and put it back at the head of
 * its own lane's wait list: it asks again on the same instance, still
 * counted there, ahead of the chats that have not had a turn yet. Its slot
 * and its deadline are untouched. */
void
lingma__chat_requeue_front(struct lingma__chat *c)
{
    struct lane *lane = c->lane;

    release_conn(c);
    c->phase = CHAT_WAITING;
    c->prev = NULL;
    c->next = lane->waitq;
    if (lane->waitq)
        lane->waitq->prev = c;
    else
        lane->waitq_tail = c;
    lane->waitq = c;
    pump_later(lane, c->cs);
}

/* ---- lanes ---- */

void
lingma__chat_submit(struct lingma__chat *c, struct lingma__inst *in, const char *rule)
{
    struct lingma__chats *cs = c->cs;
    struct lane *lane = lane_of(cs, in);

    /* The whole-chat deadline runs from the first submit: it covers a lazy
     * start, retries elsewhere, and the stream. */
    uint64_t to = c->timeout_ms ? c->timeout_ms : cs->cfg.o->chat_timeout_ms;
    if (to && !c->timer) {
        c->timer = lingma__timer_new(cs->cfg.loop, lingma__chat_on_timeout, c);
        if (!c->timer) {
            lingma__chat_fail(c, LINGMA_ENOMEM, "out of memory");
            return;
        }
        lingma__timer_arm(c->timer, to);
    }
    lingma__logf(cs->cfg.log, LINGMA_LOG_DEBUG, "chat %llu -> %s (%s)", (unsigned long long)c->id,
                 in->name, rule);
    c->lane = lane;
    c->phase = CHAT_WAITING;
    c->next = NULL;
    c->prev = lane->waitq_tail;
    if (lane->waitq_tail)
        lane->waitq_tail->next = c;
    else
        lane->waitq = c;
    lane->waitq_tail = c;
    lingma__inst_assign(in);
    if (lingma__inst_avail(in) == LINGMA__INST_SERVING)
        pump(cs, lane);
    else if (in->state == LINGMA_INSTANCE_STOPPED || in->state == LINGMA_INSTANCE_FAILED)
        lingma__inst_start(in);
}

/* The ready connection with the fewest chats that has room, or NULL. */
static struct lingma__conn *
pick_conn(struct lingma__chats *cs, struct lane *lane)
{
    struct lingma__inst *in = lane->inst;
    unsigned cap = cs->cfg.o->max_chats_per_connection;
    struct lingma__conn *best = NULL;
    unsigned best_n = 0;

    for (unsigned i = 0; i < in->nconns; i++) {
        struct lingma__conn *conn = &in->conns[i];
        struct slot *s = &lane->slots[i];
        if (!lingma__conn_ready(conn))
            continue;
        if ((cap && s->nchats >= cap) || (s->limit && s->nchats >= s->limit))
            continue;
        if (!best || s->nchats < best_n) {
            best = conn;
            best_n = s->nchats;
        }
    }
    return best;
}

/* Send the waiting chats, in order, while a connection has room. */
static void
pump(struct lingma__chats *cs, struct lane *lane)
{
    struct lingma__inst *in = lane->inst;
    struct lingma__conn *conn;

    lane->pump_wanted = 0;
    /* READY is not enough: until Lingma said it is logged in, an ask would
     * only come back as a 401. */
    while (lane->waitq && lingma__inst_avail(in) == LINGMA__INST_SERVING &&
           (conn = pick_conn(cs, lane))) {
        struct lingma__chat *c = lane->waitq;
        lane->waitq = c->next;
        if (lane->waitq)
            lane->waitq->prev = NULL;
        else
            lane->waitq_tail = NULL;
        c->next = c->prev = NULL;
        c->phase = CHAT_ASKING; /* off the wait list: what a failure below expects */
        /* A Lingma that stopped reading (hung, stopped) leaves everything we
         * send in the session's queue: past the cap, refuse rather than
         * grow it by a prompt per chat until the connection is given up. */
        size_t backlog = lingma__conn_backlog(conn);
        if (backlog > SEND_BACKLOG_MAX) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "Lingma is not reading its connection (%zu bytes wait to be sent)", backlog);
            lingma__chat_fail(c, LINGMA_EIO, msg);
            continue;
        }
        int rc = lingma__chat_send_ask(c, conn);
        if (rc != 0)
            lingma__chat_fail(c, rc, "chat/ask could not be sent");
    }
}

void
lingma__chats_pump_wanted(struct lingma__chats *cs)
{
    if (!cs->pump_wanted)
        return;
    cs->pump_wanted = 0;
    for (size_t i = 0; i < cs->cfg.ninst; i++)
        if (cs->lanes[i].pump_wanted)
            pump(cs, &cs->lanes[i]);
}

void
lingma__chats_conn_ready(struct lingma__chats *cs, struct lingma__inst *in)
{
    pump(cs, lane_of(cs, in));
}

void
lingma__chats_conn_down(struct lingma__chats *cs, struct lingma__inst *in,
                        struct lingma__conn *conn, int code, const char *why)
{
    struct slot *s = slot_of(lane_of(cs, in), conn);

    while (s->chats)
        lingma__chat_fail(s->chats, code, why);
    /* A new connection starts without a learned limit. */
    s->nchats = 0;
    s->limit = 0;
}

void
lingma__chats_inst_changed(struct lingma__chats *cs, struct lingma__inst *in)
{
    struct lane *lane = lane_of(cs, in);

    switch (lingma__inst_avail(in)) {
    case LINGMA__INST_SERVING:
        pump_later(lane, cs); /* from the loop, not from inside this change */
        return;
    case LINGMA__INST_COMING:
        return; /* what waits here rides the start, or the login answer */
    case LINGMA__INST_LOGGED_OUT:
    case LINGMA__INST_DOWN:
    default:
        /* A dead end: the chats waiting here are routed again, to a
         * serving instance or to LINGMA_EUNAVAIL at once, rather than wait
         * for a reconnect or a login that may never come. */
        while (lane->waitq) {
            struct lingma__chat *c = lane->waitq;
            lingma__chat_detach(c);
            c->phase = CHAT_IDLE;
            c->owner->reroute(c->owner_ud);
        }
        return;
    }
}

void
lingma__chats_unavailable(struct lingma__chats *cs, struct lingma__inst *in, int code,
                          const char *why)
{
    struct lane *lane = lane_of(cs, in);

    while (lane->waitq)
        lingma__chat_fail(lane->waitq, code, why);
}
