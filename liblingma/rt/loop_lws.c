/*
 * The pool's event loop on libwebsockets 4.1.6: the only includer of
 * libwebsockets.h. See loop.h and library-notes.md section 1 for the
 * traps this file steps around (thread rules, fake wsi in
 * EVENT_WAIT_CANCELLED, in-place masking, one lws_write per WRITEABLE).
 * Outgoing frames queued together go out as one WebSocket message.
 *
 * Writes without the POLLOUT round (flush_kicked): a connection kicked
 * where lws cannot poll before the kick is served (from on_wake, or from
 * a callback lws delivers after its poll) is written right after
 * lws_service() returns, with lws_write outside the WRITEABLE callback,
 * when nothing of it is still buffered in lws. A kick from before lws'
 * poll (a timer) asks for WRITEABLE as before. After a write that emptied
 * the queue, no further WRITEABLE is asked for: the next frame kicks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>

#include "alloc.h"
#include "loop.h"

/* Largest WebSocket frame we write at once; bigger messages are fragmented
 * so that control frames (pings, close) are never stuck behind them. */
#define TX_FRAGMENT ((size_t)65536)
/* Frames queued together are sent as one message up to about this size
 * (the last frame pulled may take it beyond). */
#define TX_BATCH ((size_t)65536)
/* A send buffer grown past this by one large message is shrunk back. */
#define TX_KEEP   ((size_t)LWS_PRE + 2 * TX_BATCH)
#define RX_BUFFER 65536

struct lingma__loop {
    struct lingma__loop_opts o;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    pthread_t thread;
    int started;
    int joined;
    volatile int quit;        /* written and read on the service thread only */
    struct lingma__ws *conns; /* every connection lws still knows about */
    /* Wake-ups (see lingma__loop_wake). `posted`: an lws_cancel_service()
     * is on its way and on_wake has not run since; any thread. The others
     * belong to the service thread: `in_service` while inside
     * lws_service(), `again` when on_wake must run once more. */
    atomic_int posted;
    int in_service;
    int again;
    /* Service thread. `polled`: lws_service() has polled in this call
     * (a callback of the I/O phase ran), so it returns before it polls
     * again; `flush_due`: some connection was kicked (flush_kicked). */
    int polled;
    int flush_due;
    struct lingma__loop_stats stats;
};

struct lingma__ws {
    struct lingma__loop *t;
    struct lingma__ws *prev, *next;
    struct lws *wsi;
    struct lingma__ws_cbs cbs;
    void *ud; /* NULL once detached: no callback fires any more */
    int detached;
    int opened;
    int in_open;     /* inside lws_client_connect_via_info() */
    int open_failed; /* ... and it reported the failure synchronously */
    int kicked;      /* to be written by flush_kicked() */
    /* The message being written: a private LWS_PRE-prefixed copy, because a
     * client lws_write masks the payload in place. */
    unsigned char *tx;
    size_t tx_cap, tx_len, tx_off;
    int drained; /* the pull that built the message found the queue empty */
};

struct lingma__timer {
    lws_sorted_usec_list_t sul; /* first: the callback gets its address */
    struct lingma__loop *t;
    lingma__timer_fn fn;
    void *ud;
};

uint64_t
lingma__now_ms(void)
{
    /* lws_sul timers are scheduled on lws_now_usecs(), CLOCK_MONOTONIC. */
    return (uint64_t)lws_now_usecs() / LWS_US_PER_MS;
}

/*
 * lws' log hook is process-wide and carries no payload. It is routed to the
 * log_fn of the most recently created loop that has one; a mutex keeps
 * the routing safe while pools come and go.
 */
static pthread_mutex_t lws_log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lingma__loop *lws_log_sink;

static void
lws_log_hook(int level, const char *line)
{
    char buf[512];
    size_t n;

    pthread_mutex_lock(&lws_log_mu);
    if (lws_log_sink) {
        n = strlen(line);
        if (n >= sizeof(buf))
            n = sizeof(buf) - 1;
        memcpy(buf, line, n);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        buf[n] = '\0';
        lingma__logf(&lws_log_sink->o.log, level & LLL_ERR ? LINGMA_LOG_ERROR : LINGMA_LOG_WARN,
                     "lws: %s", buf);
    }
    pthread_mutex_unlock(&lws_log_mu);
}

static void
conn_unlink(struct lingma__ws *c)
{
    struct lingma__loop *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void
conn_release(struct lingma__ws *c)
{
    struct lingma__loop *t = c->t;
    conn_unlink(c);
    lingma__free(t->o.alloc, c->tx);
    lingma__free(t->o.alloc, c);
}

/* The connection is over (error or close): tell the owner once, free it. */
static void
conn_ended(struct lingma__ws *c, const char *why)
{
    if (c->wsi)
        lws_set_wsi_user(c->wsi, NULL);
    c->wsi = NULL;
    if (c->in_open) {
        /* lingma__ws_open() reports it and frees `c`. */
        c->open_failed = 1;
        return;
    }
    if (!c->detached && c->cbs.on_close)
        c->cbs.on_close(c, c->opened, why, c->ud);
    conn_release(c);
}

/* Append one pulled frame to the message being built, growing the
 * LWS_PRE-prefixed buffer geometrically. -1 on allocation failure. */
static int
tx_append(struct lingma__ws *c, const char *p, size_t n)
{
    struct lingma__loop *t = c->t;
    size_t need = LWS_PRE + c->tx_len + n;

    if (need > c->tx_cap) {
        size_t cap = c->tx_cap ? c->tx_cap : LWS_PRE + 1024;
        while (cap < need)
            cap *= 2;
        unsigned char *nb = lingma__realloc(t->o.alloc, c->tx, cap);
        if (!nb)
            return -1;
        c->tx = nb;
        c->tx_cap = cap;
    }
    memcpy(c->tx + LWS_PRE + c->tx_len, p, n);
    c->tx_len += n;
    return 0;
}

/* Write (part of) the current message, or start the next one. Returns
 * -1 on failure, 0 when there was nothing to write, 1 when the write
 * emptied the queue (the pull said so), 2 when more may be left (more
 * fragments, or the batch was cut at TX_BATCH). */
static int
conn_write(struct lingma__ws *c)
{
    struct lingma__loop *t = c->t;

    if (c->tx_off >= c->tx_len) {
        c->drained = 0;
        /* Batch every frame queued right now (the ACKs of a burst of
         * pushes, typically) into one message, up to TX_BATCH: one
         * lws_write and one send() instead of one per frame. Peers cut
         * frames by Content-Length across message boundaries
         * (lingma-protocol.md section 2), so this is invisible to them. */
        c->tx_len = 0;
        c->tx_off = 0;
        while (c->tx_len < TX_BATCH && c->cbs.pull) {
            const char *p = NULL;
            size_t n = c->cbs.pull(c, &p, c->ud);
            if (n == 0) {
                c->drained = 1;
                break;
            }
            if (tx_append(c, p, n) < 0)
                return -1; /* the bytes were taken: the stream is broken now */
        }
        if (c->tx_len == 0)
            return 0;
        if (c->tx_cap > TX_KEEP && c->tx_len <= TX_KEEP / 2) {
            /* A big message grew the buffer once: do not pin it. */
            unsigned char *nb = lingma__realloc(t->o.alloc, c->tx, TX_KEEP);
            if (nb) {
                c->tx = nb;
                c->tx_cap = TX_KEEP;
            }
        }
    }
    size_t left = c->tx_len - c->tx_off;
    size_t n = left > TX_FRAGMENT ? TX_FRAGMENT : left;
    int flags = lws_write_ws_flags(LWS_WRITE_TEXT, c->tx_off == 0, n == left);
    /* lws_write needs LWS_PRE writable bytes before the fragment; the bytes
     * before tx_off were sent already and may be overwritten. */
    unsigned char *frag = c->tx + LWS_PRE + c->tx_off;
    if (lws_write(c->wsi, frag, n, (enum lws_write_protocol)flags) < (int)n)
        return -1;
    c->tx_off += n;
    return c->tx_off < c->tx_len || !c->drained ? 2 : 1;
}

/* One write of `c` (conn_write), counted in `*written` when something
 * went out, and one more WRITEABLE asked for when more is left: one
 * lws_write per turn. Returns conn_write's code; a failure is logged. */
static int
write_turn(struct lingma__ws *c, unsigned long *written)
{
    int rc = conn_write(c);
    if (rc < 0) {
        lingma__logf(&c->t->o.log, LINGMA_LOG_WARN, "websocket write failed");
        return -1;
    }
    if (rc > 0)
        (*written)++;
    if (rc > 1)
        lws_callback_on_writable(c->wsi);
    return rc;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lingma__ws *c = user;

    if (c && !c->wsi)
        c->wsi = wsi;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Fake wsi, coalesced, spurious too. The command queue is drained
         * between lws_service() calls; returning non-zero here would close
         * the event pipe, so always 0. */
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c)
            return -1;
        if (c->detached)
            return -1;
        c->t->polled = 1;
        c->opened = 1;
        if (c->cbs.on_open)
            c->cbs.on_open(c, c->ud);
        if (!c->detached)
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c || c->detached)
            return -1;
        c->t->polled = 1;
        if (len && c->cbs.on_data)
            c->cbs.on_data(c, in, len, c->ud);
        return c->detached ? -1 : 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!c || c->detached)
            return -1;
        c->t->polled = 1;
        int rc = write_turn(c, &c->t->stats.writes_writeable);
        if (rc < 0)
            return -1;
        if (rc == 0)
            c->t->stats.writeable_idle++;
        return 0;
    }

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c)
            conn_ended(c, in ? (const char *)in : "connection failed");
        return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c)
            conn_ended(c, "connection closed");
        return 0;

    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"lingma-client", callback, 0, RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int
lingma__loop_new(struct lingma__loop **out, const struct lingma__loop_opts *o)
{
    struct lingma__loop *t = lingma__calloc(o->alloc, 1, sizeof(*t));
    struct lws_context_creation_info info;

    if (!t)
        return LINGMA_ENOMEM;
    t->o = *o;

    /* Before the context exists: lws logs from its very first call. */
    pthread_mutex_lock(&lws_log_mu);
    if (o->log.fn)
        lws_log_sink = t;
    pthread_mutex_unlock(&lws_log_mu);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_hook);

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.extensions = NULL; /* never offer permessage-deflate */
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 256;
    info.user = t;
    t->ctx = lws_create_context(&info);
    if (!t->ctx) {
        lingma__loop_free(t);
        return LINGMA_ERROR;
    }
    t->vh = lws_get_vhost_by_name(t->ctx, "default");
    *out = t;
    return 0;
}

/* The loop whose service thread this is. Set by the thread itself as
 * its first act, so callbacks see it even before pthread_create() has
 * returned to the creator (which is when t->thread gets written). */
static _Thread_local const struct lingma__loop *current_loop;

/* Run on_wake until no wake-up asked for more. `posted` is cleared first:
 * whatever is posted after that wakes the loop again. */
static void
run_wake(struct lingma__loop *t)
{
    do {
        t->again = 0;
        atomic_store(&t->posted, 0);
        t->o.on_wake(t->o.ud);
    } while (t->again && !t->quit);
}

/* Write what was kicked since the last time, outside any lws callback
 * and before lws polls again: no POLLOUT round (see the top of the file).
 * A connection whose previous message is not all out yet (more fragments
 * of ours, or bytes lws buffered after a short send) waits for WRITEABLE,
 * which continues it in order. */
static void
flush_kicked(struct lingma__loop *t)
{
    if (!t->flush_due)
        return;
    t->flush_due = 0;
    for (struct lingma__ws *c = t->conns; c; c = c->next) {
        if (!c->kicked)
            continue;
        c->kicked = 0;
        if (!c->wsi || !c->opened || c->detached)
            continue;
        if (c->tx_off < c->tx_len || lws_partial_buffered(c->wsi)) {
            lws_callback_on_writable(c->wsi);
            continue;
        }
        if (write_turn(c, &t->stats.writes_direct) < 0) {
            /* What the WRITEABLE callback's -1 would do, from outside
             * one: lws closes it on its next turn and CLIENT_CLOSED
             * reports it. */
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
    }
}

static void *
service_main(void *arg)
{
    struct lingma__loop *t = arg;

    current_loop = t;
    run_wake(t);
    flush_kicked(t);
    while (!t->quit) {
        t->in_service = 1;
        t->polled = 0;
        int rc = lws_service(t->ctx, 0);
        t->in_service = 0;
        if (rc < 0)
            break;
        run_wake(t);
        flush_kicked(t);
    }
    return NULL;
}

int
lingma__loop_start(struct lingma__loop *t)
{
    if (pthread_create(&t->thread, NULL, service_main, t) != 0)
        return LINGMA_ERROR;
    t->started = 1;
    return 0;
}

void
lingma__loop_wake(struct lingma__loop *t)
{
    /* From on_wake itself (a chat started from a callback run there), or
     * from a callback of lws' I/O phase (a chat started from another's
     * last event), after which lws_service() returns without polling:
     * run it again before going back to lws, no syscall. */
    if (current_loop == t && (!t->in_service || t->polled)) {
        t->again = 1;
        return;
    }
    /* Otherwise one lws_cancel_service() (a write to lws' event pipe, and
     * a read and a poll return on the service thread) per on_wake run:
     * the wake-ups posted meanwhile ride on it. Inside lws_service() on
     * the service thread before its poll too (its timers run before its
     * poll). */
    if (atomic_exchange(&t->posted, 1))
        return;
    lws_cancel_service(t->ctx);
}

void
lingma__loop_quit(struct lingma__loop *t)
{
    t->quit = 1;
}

void
lingma__loop_join(struct lingma__loop *t)
{
    if (t->started && !t->joined) {
        pthread_join(t->thread, NULL);
        t->joined = 1;
    }
}

int
lingma__loop_on_thread(const struct lingma__loop *t)
{
    return current_loop == t;
}

void
lingma__loop_get_stats(const struct lingma__loop *t, struct lingma__loop_stats *out)
{
    *out = t->stats;
}

void
lingma__loop_free(struct lingma__loop *t)
{
    if (!t)
        return;
    lingma__loop_join(t);
    pthread_mutex_lock(&lws_log_mu);
    if (lws_log_sink == t)
        lws_log_sink = NULL;
    pthread_mutex_unlock(&lws_log_mu);
    /* Detach first: the destroy may deliver CLIENT_CLOSED for live ones. */
    for (struct lingma__ws *c = t->conns; c; c = c->next)
        c->detached = 1;
    if (t->ctx)
        lws_context_destroy(t->ctx);
    while (t->conns)
        conn_release(t->conns);
    lingma__free(t->o.alloc, t);
}

int
lingma__ws_open(struct lingma__ws **out, struct lingma__loop *t, int port,
                const struct lingma__ws_cbs *cbs, void *ud)
{
    struct lws_client_connect_info i;
    struct lingma__ws *c = lingma__calloc(t->o.alloc, 1, sizeof(*c));

    if (!c)
        return LINGMA_ENOMEM;
    c->t = t;
    c->cbs = *cbs;
    c->ud = ud;
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;

    memset(&i, 0, sizeof(i));
    i.context = t->ctx;
    i.vhost = t->vh;
    i.address = "127.0.0.1";
    i.port = port;
    i.path = "/";
    i.host = i.address;
    i.origin = i.address;
    i.protocol = NULL; /* no Sec-WebSocket-Protocol: Lingma expects none */
    i.local_protocol_name = protocols[0].name;
    i.userdata = c;
    /* No pwsi: lws does not clear it and `c` may be freed first. c->wsi is
     * taken from the return value and from every callback instead. */
    c->in_open = 1;
    struct lws *wsi = lws_client_connect_via_info(&i);
    c->in_open = 0;
    if (!wsi || c->open_failed) {
        if (wsi && !c->open_failed)
            lws_set_wsi_user(wsi, NULL);
        conn_release(c);
        return LINGMA_EIO;
    }
    c->wsi = wsi;
    *out = c;
    return 0;
}

void
lingma__ws_kick(struct lingma__ws *c)
{
    if (!c || !c->wsi || !c->opened || c->detached)
        return;
    struct lingma__loop *t = c->t;
    if (t->in_service && !t->polled) {
        /* Inside lws_service() before its poll (a timer): lws would
         * sleep before flush_kicked() runs. Ask for WRITEABLE. */
        lws_callback_on_writable(c->wsi);
        return;
    }
    c->kicked = 1;
    t->flush_due = 1;
}

void
lingma__ws_close(struct lingma__ws *c)
{
    if (!c)
        return;
    c->detached = 1;
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else
        conn_release(c);
}

static void
timer_cb(lws_sorted_usec_list_t *sul)
{
    struct lingma__timer *tm = lws_container_of(sul, struct lingma__timer, sul);
    tm->fn(tm->ud);
}

struct lingma__timer *
lingma__timer_new(struct lingma__loop *t, lingma__timer_fn fn, void *ud)
{
    struct lingma__timer *tm = lingma__calloc(t->o.alloc, 1, sizeof(*tm));
    if (tm) {
        tm->t = t;
        tm->fn = fn;
        tm->ud = ud;
    }
    return tm;
}

void
lingma__timer_arm(struct lingma__timer *tm, uint64_t ms)
{
    lws_sul_schedule(tm->t->ctx, 0, &tm->sul, timer_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

void
lingma__timer_cancel(struct lingma__timer *tm)
{
    if (tm)
        lws_sul_cancel(&tm->sul);
}

void
lingma__timer_free(struct lingma__timer *tm)
{
    if (!tm)
        return;
    lws_sul_cancel(&tm->sul);
    lingma__free(tm->t->o.alloc, tm);
}
