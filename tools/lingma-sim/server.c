/*
 * lingma-sim: lws server, timers, signals. See server.h.
 *
 * lws 4.1.6 rules followed here (library-notes §1): log level set first;
 * EVENT_WAIT_CANCELLED returns 0; listeners on 127.0.0.1 with IPv6 off; no
 * permessage-deflate; one lws_write per WRITEABLE; LWS_PRE headroom; the
 * WS payload is a byte stream (frames may straddle or share messages).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "strmap.h"

/* COALESCE packs at most this many frames into one WS message. */
#define COALESCE_MAX_FRAMES 16
#define COALESCE_MAX_BYTES  (256 * 1024)
/* A chat ends with exit_after: give the client this long to read, then exit. */
#define EXIT_GRACE_MS 50

static struct sim *
wsi_sim(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- timers (see timer.h) ------------------------------------------- */

struct sim_timer_queue {
    lws_sorted_usec_list_t sul; /* fires at the head's due time */
    struct lws_context *ctx;
    struct sim_timer_queue *next;
    struct sim_timer *head, *tail;
    unsigned ms;
};

static void queue_fire(lws_sorted_usec_list_t *sul);

static void
queue_schedule(struct sim_timer_queue *q)
{
    struct sim *sim = lws_context_user(q->ctx);
    if (sim->timers_frozen)
        return; /* the context is being destroyed */
    if (!q->head) {
        lws_sul_cancel(&q->sul);
        return;
    }
    uint64_t now = sim_now_ns();
    uint64_t us = q->head->due_ns > now ? (q->head->due_ns - now + 999) / 1000 : 0;
    lws_sul_schedule(q->ctx, 0, &q->sul, queue_fire, (lws_usec_t)us);
}

static void
queue_unlink(struct sim_timer_queue *q, struct sim_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        q->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        q->tail = t->prev;
    t->prev = t->next = NULL;
    t->q = NULL;
    t->armed = false;
}

static void
queue_fire(lws_sorted_usec_list_t *sul)
{
    struct sim_timer_queue *q =
        (struct sim_timer_queue *)((char *)sul - offsetof(struct sim_timer_queue, sul));
    uint64_t now = sim_now_ns();
    /* each callback may arm or cancel timers of this queue: re-read the head */
    while (q->head && q->head->due_ns <= now) {
        struct sim_timer *t = q->head;
        queue_unlink(q, t);
        t->fn(t);
    }
    queue_schedule(q);
}

static struct sim_timer_queue *
queue_for(struct lws_context *ctx, unsigned ms)
{
    struct sim *sim = lws_context_user(ctx);
    struct sim_timer_queue *q;
    for (q = sim->timer_queues; q; q = q->next) {
        if (q->ms == ms)
            return q;
    }
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->ctx = ctx;
    q->ms = ms;
    q->next = sim->timer_queues;
    sim->timer_queues = q;
    return q;
}

void
sim_timer_init(struct sim_timer *t, void *lws_ctx, sim_timer_fn fn)
{
    memset(t, 0, sizeof(*t));
    t->lws_ctx = lws_ctx;
    t->fn = fn;
}

void
sim_timer_arm(struct sim_timer *t, unsigned ms)
{
    sim_timer_cancel(t);
    struct sim_timer_queue *q = queue_for(t->lws_ctx, ms);
    if (!q)
        return; /* out of memory: the timer never fires */
    t->due_ns = sim_now_ns() + (uint64_t)ms * 1000000u;
    t->q = q;
    t->armed = true;
    t->prev = q->tail;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    if (q->head == t)
        queue_schedule(q);
}

void
sim_timer_cancel(struct sim_timer *t)
{
    if (!t->armed)
        return;
    struct sim_timer_queue *q = t->q;
    bool was_head = q->head == t;
    queue_unlink(q, t);
    if (was_head)
        queue_schedule(q);
}

static void
timer_queues_free(struct sim *sim)
{
    while (sim->timer_queues) {
        struct sim_timer_queue *q = sim->timer_queues;
        sim->timer_queues = q->next;
        while (q->head) /* timers still armed (state, exit) must not point here */
            queue_unlink(q, q->head);
        free(q);
    }
}

/* ---- connections ----------------------------------------------------- */

void
sim_conn_kick(struct sim_conn *c)
{
    if (!c->closing && c->wsi)
        lws_callback_on_writable(c->wsi);
}

void
sim_request_exit(struct sim *sim, int code)
{
    sim->stop = true;
    sim->exit_code = code;
    if (sim->lws_ctx)
        lws_cancel_service(sim->lws_ctx);
}

static int
tx_reserve(struct sim_conn *c, size_t n)
{
    size_t need = LWS_PRE + n;
    if (need <= c->tx_cap)
        return 0;
    size_t cap = c->tx_cap ? c->tx_cap : 4096;
    while (cap < need)
        cap *= 2;
    unsigned char *p = realloc(c->tx, cap);
    if (!p)
        return -1;
    c->tx = p;
    c->tx_cap = cap;
    return 0;
}

static int
conn_open(struct sim *sim, struct sim_conn *c, struct lws *wsi)
{
    memset(c, 0, sizeof(*c));
    c->sim = sim;
    c->wsi = wsi;
    c->id = ++sim->next_conn_id;
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    o.on_request = sim_on_request;
    o.on_notification = sim_on_notification;
    o.log_fn = sim_rpc_log;
    o.payload = c;
    if (lingma_rpc_new(&c->rpc, &o) || lingma_frame_decoder_new(&c->dec, 0, NULL))
        return -1;
    c->next = sim->conns;
    if (sim->conns)
        sim->conns->prev = c;
    sim->conns = c;
    sim->stats.connections++;
    sim_state_dirty(sim); /* `status` shows the count: tests watch reconnects by it */
    sim_logf(&sim->log, "INFO", "connection %llu opened", (unsigned long long)c->id);
    return 0;
}

static void
conn_close(struct sim *sim, struct sim_conn *c)
{
    if (!c->sim)
        return; /* never opened */
    c->closing = true;
    /* rpc first: pending pushes get LINGMA_ECLOSED (counted unanswered)
     * while the chats they point to are still alive. */
    lingma_rpc_free(c->rpc);
    c->rpc = NULL;
    sim_conn_free_chats(c);
    lingma_frame_decoder_free(c->dec);
    free(c->tx);
    if (c->prev)
        c->prev->next = c->next;
    else if (sim->conns == c)
        sim->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sim_logf(&sim->log, "INFO", "connection %llu closed", (unsigned long long)c->id);
    sim_state_dirty(sim);
    c->sim = NULL;
    c->wsi = NULL;
}

static int
on_frame(const char *body, size_t len, void *payload)
{
    struct sim_conn *c = payload;
    lingma_rpc_recv_message(c->rpc, body, len);
    return 0;
}

static void
conn_rx(struct sim_conn *c, struct lws *wsi, const unsigned char *in, size_t len)
{
    struct sim *sim = c->sim;
    if (sim->hang)
        return;
    if (lws_is_first_fragment(wsi)) {
        c->skip_msg = false;
        /* Real Lingma answers bare JSON (no Content-Length header) with a
         * log line and nothing else. */
        if (len && lingma_frame_decoder_buffered(c->dec) == 0 && (in[0] == '{' || in[0] == '[')) {
            sim_logf(&sim->log, "WARN", "Unknown message header: bare JSON ignored");
            c->skip_msg = true;
        }
    }
    if (!c->skip_msg) {
        int rc = lingma_frame_decoder_feed(c->dec, in, len, on_frame, c);
        if (rc < 0) {
            /* The stream cannot be resynchronised inside this message: drop
             * its rest and start afresh at the next message. */
            sim_logf(&sim->log, "WARN", "Unknown message header: %s",
                     lingma_frame_decoder_errmsg(c->dec));
            lingma_frame_decoder_free(c->dec);
            c->dec = NULL;
            if (lingma_frame_decoder_new(&c->dec, 0, NULL)) {
                sim_request_exit(sim, 1);
                return;
            }
            c->skip_msg = true;
        }
    }
    if (lws_is_final_fragment(wsi))
        c->skip_msg = false;
    if (lingma_rpc_want_write(c->rpc))
        lws_callback_on_writable(wsi);
}

static void
exit_timer_fn(struct sim_timer *t)
{
    /* A crash, not a clean exit: .info stays behind with our (now dead) pid. */
    _exit(1);
}

/* Returns -1 to close the connection. */
static int
conn_write(struct sim_conn *c, struct lws *wsi)
{
    struct sim *sim = c->sim;
    const char *frame;
    size_t n;

    if (c->split_len) {
        /* SPLIT: the next piece of the current frame, as its own message */
        size_t piece = c->split_left > 1 ? (c->split_len + 1) / 2 : c->split_len;
        memmove(c->tx + LWS_PRE, c->tx + LWS_PRE + c->split_off, c->split_len);
        if (lws_write(wsi, c->tx + LWS_PRE, piece, LWS_WRITE_TEXT) < (int)piece)
            return -1;
        c->split_off = piece;
        c->split_len -= piece;
        c->split_left--;
        goto more;
    }

    n = lingma_rpc_mem_send(c->rpc, &frame);
    if (!n)
        goto more;
    if (tx_reserve(c, n))
        return -1;
    memcpy(c->tx + LWS_PRE, frame, n);
    size_t total = n;

    if (sim->cur.coalesce) {
        for (int k = 1; k < COALESCE_MAX_FRAMES && total < COALESCE_MAX_BYTES; k++) {
            n = lingma_rpc_mem_send(c->rpc, &frame);
            if (!n)
                break;
            if (tx_reserve(c, total + n))
                return -1;
            memcpy(c->tx + LWS_PRE + total, frame, n);
            total += n;
        }
    } else if (sim->cur.split && total >= 12) {
        /* First piece ends inside "Content-Length", the rest goes out in
         * two more messages: header tail + half the body, then the rest. */
        size_t first = 10;
        if (lws_write(wsi, c->tx + LWS_PRE, first, LWS_WRITE_TEXT) < (int)first)
            return -1;
        c->split_off = first;
        c->split_len = total - first;
        c->split_left = 2;
        goto more;
    }
    if (lws_write(wsi, c->tx + LWS_PRE, total, LWS_WRITE_TEXT) < (int)total)
        return -1;

more:
    if (c->split_len || lingma_rpc_want_write(c->rpc)) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->drop_when_flushed) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"bye", 3);
        return -1;
    }
    if (c->exit_when_flushed) {
        if (!sim->exit_timer.armed) {
            sim_timer_init(&sim->exit_timer, sim->lws_ctx, exit_timer_fn);
            sim_timer_arm(&sim->exit_timer, EXIT_GRACE_MS);
        }
    }
    return 0;
}

static int
http_reply(struct lws *wsi, unsigned code, const char *text)
{
    if (lws_return_http_status(wsi, code, text))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct sim_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return conn_open(wsi_sim(wsi), c, wsi) ? -1 : 0;
    case LWS_CALLBACK_RECEIVE:
        if (c->sim)
            conn_rx(c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->sim || c->closing)
            return 0;
        return conn_write(c, wsi);
    case LWS_CALLBACK_CLOSED:
        conn_close(wsi_sim(wsi), c);
        return 0;
    case LWS_CALLBACK_HTTP:
        /* a plain HTTP request on the WebSocket port */
        return http_reply(wsi, HTTP_STATUS_NOT_FOUND, "WebSocket only");
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        return 0; /* nonzero would close the event pipe (lws 4.1.6 crash) */
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int
signal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        struct sim *sim = wsi_sim(wsi);
        struct signalfd_siginfo si;
        int fd = lws_get_socket_fd(wsi);
        if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            sim_logf(&sim->log, "INFO", "signal %u: shutting down", si.ssi_signo);
        sim_request_exit(sim, 0);
        return 0;
    }
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED)
        return 0;
    return 0;
}

static int
http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED)
        return 0;
    if (reason != LWS_CALLBACK_HTTP)
        return lws_callback_http_dummy(wsi, reason, user, in, len);

    struct sim *sim = wsi_sim(wsi);
    const char *path = in;
    if (!strcmp(path, "/auth/callback")) {
        char arg[512], state[512] = "", name[512] = "";
        for (int i = 0;
             lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
            if (!strncmp(arg, "state=", 6))
                snprintf(state, sizeof(state), "%s", arg + 6);
            else if (!strncmp(arg, "user=", 5))
                snprintf(name, sizeof(name), "%s", arg + 5);
        }
        if (sim_login_complete(sim, state, name))
            return http_reply(wsi, HTTP_STATUS_BAD_REQUEST, "Invalid login nonce");
        return http_reply(wsi, HTTP_STATUS_OK, "Login successful, you can close this page.");
    }
    if (!strcmp(path, "/profile"))
        return http_reply(wsi, HTTP_STATUS_OK, "lingma-sim profile");
    return http_reply(wsi, HTTP_STATUS_NOT_FOUND, "Not found");
}

static const struct lws_protocols ws_protocols[] = {
    /* first: clients that name no subprotocol are bound to protocols[0] */
    {"lingma", ws_callback, sizeof(struct sim_conn), 65536, 0, NULL, 0},
    {"lingma-sim-signal", signal_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_protocols http_protocols[] = {
    {"http", http_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void
lws_log_emit(int level, const char *line)
{
    fprintf(stderr, "lingma-sim: lws: %s", line);
}

void
sim_server_quiet_logs(void)
{
    lws_set_log_level(LLL_ERR, lws_log_emit);
}

int
sim_pick_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return port;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
        a.sin_port = 0;
        if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
            close(fd);
            return port;
        }
    }
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

int
sim_server_create(struct sim *sim, int sigfd)
{
    struct lws_context_creation_info info;
    struct rlimit rl;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.user = sim;
    /* lws sizes its fd table from RLIMIT_NOFILE; cap it so a huge limit
     * does not cost memory. Connections beyond the soft limit need
     * `ulimit -n` raised by whoever starts the simulator. */
    if (!getrlimit(RLIMIT_NOFILE, &rl))
        info.fd_limit_per_thread = rl.rlim_cur > 65536 ? 65536 : (unsigned)rl.rlim_cur;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        return -1;
    sim->lws_ctx = ctx;

    /* The signal fd joins the loop through a vhost of its own without a listener. */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.vhost_name = "signals";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    struct lws_vhost *vh = lws_create_vhost(ctx, &info);
    lws_sock_file_fd_type u;
    u.filefd = sigfd;
    if (!vh ||
        !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "lingma-sim-signal", NULL))
        return -1;
    return 0;
}

static struct lws_vhost *
listen_on(struct sim *sim, const char *name, const struct lws_protocols *protocols, int port,
          int *bound)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.vhost_name = name;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    for (int attempt = 0; attempt < 2; attempt++) {
        info.port = attempt ? 0 : sim_pick_port(port);
        struct lws_vhost *vh = lws_create_vhost(sim->lws_ctx, &info);
        if (vh) {
            *bound = lws_get_vhost_listen_port(vh);
            return vh;
        }
    }
    return NULL;
}

int
sim_server_listen(struct sim *sim, int ws_port, int http_port)
{
    if (!listen_on(sim, "ws", ws_protocols, ws_port, &sim->ws_port) ||
        !listen_on(sim, "http", http_protocols, http_port, &sim->http_port))
        return -1;
    return 0;
}

void
sim_server_run(struct sim *sim)
{
    while (!sim->stop) {
        if (lws_service(sim->lws_ctx, 0) < 0)
            break;
    }
}

void
sim_server_destroy(struct sim *sim)
{
    if (!sim->lws_ctx)
        return;
    /* Connections closing during the destroy cancel their timers: that
     * only unlinks them from our queues, lws is no longer told. */
    sim->timers_frozen = true;
    for (struct sim_timer_queue *q = sim->timer_queues; q; q = q->next)
        lws_sul_cancel(&q->sul);
    lws_context_destroy(sim->lws_ctx);
    sim->lws_ctx = NULL;
    timer_queues_free(sim);
}
