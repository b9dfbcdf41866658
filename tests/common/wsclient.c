/* Test helper: synchronous lws WebSocket client, see wsclient.h. */
#include "wsclient.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

struct msg {
    struct msg *next;
    size_t len;
    bool binary;
    unsigned char buf[]; /* LWS_PRE + payload */
};

struct wsc {
    struct wsc_ctx *ctx;
    struct wsc *next;
    struct lws *wsi;
    bool established, closed, failed;
    struct msg *head, *tail;
    unsigned char *rx;
    size_t rx_len, rx_cap, messages;
    lingma_rpc *rpc;
    unsigned char *tx; /* rpc frame being written */
    size_t tx_cap;
    bool pack; /* rpc mode: pack every queued frame into one message */
};

struct wsc_ctx {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    lws_sorted_usec_list_t wake;
    struct wsc *conns;
};

static void
wake_cb(lws_sorted_usec_list_t *sul)
{
    /* nothing to do: firing makes lws_service() return */
}

static int
rx_append(struct wsc *c, const void *in, size_t len)
{
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len)
            cap *= 2;
        unsigned char *p = realloc(c->rx, cap);
        if (!p)
            return -1;
        c->rx = p;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    return 0;
}

static int
write_one(struct wsc *c, struct lws *wsi)
{
    struct msg *m = c->head;
    if (m) {
        c->head = m->next;
        if (!c->head)
            c->tail = NULL;
        int rc =
            lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        size_t len = m->len;
        free(m);
        if (rc < (int)len)
            return -1;
    } else if (c->rpc) {
        const char *f;
        size_t n, total = 0;
        while ((n = lingma_rpc_mem_send(c->rpc, &f)) > 0) {
            if (LWS_PRE + total + n > c->tx_cap) {
                size_t cap = c->tx_cap ? c->tx_cap : 4096;
                while (cap < LWS_PRE + total + n)
                    cap *= 2;
                unsigned char *p = realloc(c->tx, cap);
                if (!p)
                    return -1;
                c->tx = p;
                c->tx_cap = cap;
            }
            memcpy(c->tx + LWS_PRE + total, f, n); /* lws masks in place */
            total += n;
            if (!c->pack || total >= 65536)
                break;
        }
        if (total && lws_write(wsi, c->tx + LWS_PRE, total, LWS_WRITE_TEXT) < (int)total)
            return -1;
    }
    if (c->head || (c->rpc && lingma_rpc_want_write(c->rpc)))
        lws_callback_on_writable(wsi);
    return 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct wsc *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->established = true;
        if (c->head || (c->rpc && lingma_rpc_want_write(c->rpc)))
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c->rpc) {
            lingma_rpc_recv(c->rpc, in, len);
            if (lingma_rpc_want_write(c->rpc))
                lws_callback_on_writable(wsi);
        } else if (rx_append(c, in, len)) {
            return -1;
        }
        if (lws_is_final_fragment(wsi))
            c->messages++;
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return write_one(c, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            c->failed = c->closed = true;
            c->wsi = NULL;
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->closed = true;
        c->wsi = NULL;
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        return 0;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"wsc", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

struct wsc_ctx *
wsc_ctx_new(void)
{
    struct wsc_ctx *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.fd_limit_per_thread = 64;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        free(w);
        return NULL;
    }
    w->vh = lws_get_vhost_by_name(w->ctx, "default");
    return w;
}

static void
conn_free(struct wsc *c)
{
    struct msg *m = c->head;
    while (m) {
        struct msg *n = m->next;
        free(m);
        m = n;
    }
    free(c->rx);
    free(c->tx);
    free(c);
}

void
wsc_ctx_free(struct wsc_ctx *w)
{
    if (!w)
        return;
    lws_sul_cancel(&w->wake);
    lws_context_destroy(w->ctx); /* closes every wsi */
    while (w->conns) {
        struct wsc *n = w->conns->next;
        conn_free(w->conns);
        w->conns = n;
    }
    free(w);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
wsc_wait(struct wsc_ctx *w, int timeout_ms, bool (*cond)(void *payload), void *payload)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        if (cond && cond(payload))
            return 0;
        uint64_t now = now_ms();
        if (now >= end)
            return -1;
        uint64_t step = end - now < 50 ? end - now : 50;
        lws_sul_schedule(w->ctx, 0, &w->wake, wake_cb, (lws_usec_t)step * LWS_US_PER_MS);
        if (lws_service(w->ctx, 0) < 0)
            return -1;
    }
}

static bool
conn_settled(void *p)
{
    struct wsc *c = p;
    return c->established || c->closed;
}

struct wsc *
wsc_connect(struct wsc_ctx *w, int port, const char *path, int timeout_ms)
{
    struct wsc *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ctx = w;
    c->next = w->conns;
    w->conns = c;

    struct lws_client_connect_info i;
    memset(&i, 0, sizeof(i));
    i.context = w->ctx;
    i.vhost = w->vh;
    i.address = "127.0.0.1";
    i.port = port;
    i.path = path ? path : "/";
    i.host = i.address;
    i.origin = i.address;
    i.local_protocol_name = "wsc";
    i.userdata = c;
    i.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&i))
        c->closed = c->failed = true;
    wsc_wait(w, timeout_ms, conn_settled, c);
    if (!c->established) {
        wsc_close(c);
        return NULL;
    }
    return c;
}

static bool
conn_gone(void *p)
{
    struct wsc *c = p;
    return c->closed;
}

void
wsc_close(struct wsc *c)
{
    if (!c)
        return;
    struct wsc_ctx *w = c->ctx;
    if (!c->closed && c->wsi) {
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
        wsc_wait(w, 1000, conn_gone, c);
    }
    for (struct wsc **pp = &w->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    conn_free(c);
}

int
wsc_send(struct wsc *c, const void *data, size_t len, bool binary)
{
    if (c->closed)
        return -1;
    struct msg *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m)
        return -1;
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, data, len);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static bool
flushed(void *p)
{
    struct wsc *c = p;
    return c->closed || (!c->head && !(c->rpc && lingma_rpc_want_write(c->rpc)));
}

int
wsc_flush(struct wsc *c, int timeout_ms)
{
    wsc_kick(c);
    return wsc_wait(c->ctx, timeout_ms, flushed, c);
}

const unsigned char *
wsc_rx(const struct wsc *c, size_t *len)
{
    *len = c->rx_len;
    return c->rx;
}

void
wsc_rx_consume(struct wsc *c, size_t n)
{
    if (n >= c->rx_len) {
        c->rx_len = 0;
        return;
    }
    memmove(c->rx, c->rx + n, c->rx_len - n);
    c->rx_len -= n;
}

size_t
wsc_messages(const struct wsc *c)
{
    return c->messages;
}

bool
wsc_closed(const struct wsc *c)
{
    return c->closed;
}

void
wsc_attach_rpc(struct wsc *c, lingma_rpc *rpc)
{
    c->rpc = rpc;
}

void
wsc_kick(struct wsc *c)
{
    if (c->wsi && !c->closed)
        lws_callback_on_writable(c->wsi);
}

struct wsc_ctx *
wsc_context(const struct wsc *c)
{
    return c->ctx;
}

void
wsc_set_pack(struct wsc *c, bool pack)
{
    c->pack = pack;
}
