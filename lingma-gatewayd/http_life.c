/*
 * http_life: the parts of the engine's lifecycle and bookkeeping that need
 * no MHD call: options, the engine object, name resolution, drain, the
 * shutdown walk, stats, logging and the watcher callbacks. http.c keeps
 * what talks to MHD (start, quiesce, stop, the access handler, the reader).
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"

void
gw_http__log(gw_http *h, lingma_log_level level, const char *fmt, ...)
{
    if (!h->opts.log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    h->opts.log(level, msg, h->opts.payload);
}

int
gw_http_new(gw_http **out, const gw_http_options *opts)
{
    *out = NULL;
    if (!opts || !opts->handler || !opts->host || opts->max_connections == 0 ||
        opts->connection_memory < 8192 || opts->max_body == 0 || opts->stream_buffer_max == 0)
        return LINGMA_EINVAL;
    gw_http *h = calloc(1, sizeof(*h));
    if (!h)
        return LINGMA_ENOMEM;
    h->opts = *opts;
    h->host = strdup(opts->host);
    h->opts.host = h->host;
    h->quiesced_fd = -1;
    h->nudge_fd = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!h->host || pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h->host);
        free(h);
        pthread_condattr_destroy(&ca);
        return LINGMA_ENOMEM;
    }
    if (pthread_cond_init(&h->cond, &ca) != 0) {
        pthread_mutex_destroy(&h->mu);
        free(h->host);
        free(h);
        pthread_condattr_destroy(&ca);
        return LINGMA_ENOMEM;
    }
    pthread_condattr_destroy(&ca);
    *out = h;
    return LINGMA_OK;
}

void
gw_http__engine_destroy(gw_http *h)
{
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h->host);
    free(h);
}

int
gw_http__resolve(gw_http *h, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof(port), "%u", h->opts.port);
    int rc = getaddrinfo(h->host, port, &hints, &res);
    if (rc != 0 || !res) {
        gw_http__log(h, LINGMA_LOG_ERROR, "cannot gw_http__resolve '%s': %s", h->host,
                     gai_strerror(rc));
        return LINGMA_EINVAL;
    }
    /* Prefer IPv4 when a name gives both: "localhost" should mean the
     * loopback that every client tries. */
    struct addrinfo *pick = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *len = pick->ai_addrlen;
    freeaddrinfo(res);
    return LINGMA_OK;
}

unsigned
gw_http_port(const gw_http *h)
{
    return h->started ? h->port : 0;
}

/* Wait (mu held) until no request is active or `deadline` (ms) passes. */
void
gw_http__wait_idle_locked(gw_http *h, uint64_t deadline)
{
    while (h->st.requests_active > 0) {
        uint64_t now = gw_http__now_ms();
        if (now >= deadline)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t left = deadline - now;
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->cond, &h->mu, &ts);
    }
}

size_t
gw_http_drain(gw_http *h, unsigned timeout_ms)
{
    pthread_mutex_lock(&h->mu);
    gw_http__wait_idle_locked(h, gw_http__now_ms() + timeout_ms);
    size_t left = (size_t)h->st.requests_active;
    pthread_mutex_unlock(&h->mu);
    return left;
}

/* Tell the route about every request it still owns whose handler returned;
 * a handler still running is caught by dispatch() itself. */
void
gw_http__notify_shutdown(gw_http *h)
{
    if (!h->opts.on_shutdown)
        return;
    pthread_mutex_lock(&h->mu);
    size_t n = 0, cap = h->live;
    gw_http_req **list = cap ? calloc(cap, sizeof(*list)) : NULL;
    for (unsigned b = 0; list && b < GW_HTTP_BUCKETS; b++) {
        for (gw_http_req *r = h->buckets[b]; r && n < cap; r = r->hnext) {
            if (!r->route_owns || r->shutdown_notified || r->completed || r->phase < GW_PH_WAITING)
                continue;
            r->shutdown_notified = true;
            r->refs++;
            list[n++] = r;
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (cap && !list)
        gw_http__log(h, LINGMA_LOG_ERROR, "out of memory: streams are cut without notice");
    for (size_t i = 0; i < n; i++) {
        h->opts.on_shutdown(list[i], h->opts.payload);
        gw_http__req_release(list[i]);
    }
    free(list);
}

void
gw_http_free(gw_http *h)
{
    if (!h)
        return;
    gw_http_stop(h, 0);
    pthread_mutex_lock(&h->mu);
    h->freed = true;
    bool last = h->live == 0;
    pthread_mutex_unlock(&h->mu);
    if (last)
        gw_http__engine_destroy(h);
}

void
gw_http_get_stats(gw_http *h, gw_http_stats *out)
{
    uint64_t now = gw_http__now_ms();
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    out->watcher_idle_ms =
        h->last_tick_ms ? (int64_t)(now > h->last_tick_ms ? now - h->last_tick_ms : 0) : -1;
    pthread_mutex_unlock(&h->mu);
}

/* Connections by id, for the watcher (which only knows ids). */
void
gw_http__sock_register_locked(struct gw_http_sock *s)
{
    struct gw_http_sock **b = &s->h->socks[s->id % GW_HTTP_BUCKETS];
    s->snext = *b;
    *b = s;
}

void
gw_http__sock_unregister_locked(struct gw_http_sock *s)
{
    struct gw_http_sock **p = &s->h->socks[s->id % GW_HTTP_BUCKETS];
    while (*p && *p != s)
        p = &(*p)->snext;
    if (*p)
        *p = s->snext;
}

bool
gw_http__req_hangup_locked(gw_http_req *req)
{
    if (req->completed || req->phase == GW_PH_NEW)
        return false;
    /* The route hears about it only once its handler has returned;
     * before that the MHD thread holds the request and decides. */
    bool notify = gw_http__req_gone_locked(req, req->phase >= GW_PH_WAITING);
    bool body_missing = gw_http__body_missing_locked(req);
    if (req->suspended) {
        /* MHD tears the connection down once it runs it again. */
        gw_http__resume_locked(req);
    } else if (req->stream_queued || body_missing) {
        /* MHD 0.9.75 misses this FIN in two places: a stream it polls
         * only for writing, and a body it still waits for (it keeps
         * the connection in CLOSE-WAIT until the idle timeout).
         * Shutting the socket down is a fresh event it cannot miss.
         * Anything else is left alone: MHD is about to run the handler
         * on a complete request, or sends an answer already decided,
         * which a client that only half-closed still receives. */
        gw_http__shutdown_socket_locked(req);
    }
    return notify;
}

void
gw_http__sock_attach_locked(gw_http_req *req)
{
    struct gw_http_sock *s = req->sock;
    s->req = req;
    /* The watcher reports a hang-up once per connection (one-shot): one
     * it saw before this request, or between two requests, concerns this
     * request as if it had been reported now. Not yet to the route: it
     * has not seen the request. */
    if (s->hup)
        (void)gw_http__req_hangup_locked(req);
}

void
gw_http__on_hangup(uint64_t id, void *payload)
{
    gw_http *h = payload;
    pthread_mutex_lock(&h->mu);
    struct gw_http_sock *s = h->socks[id % GW_HTTP_BUCKETS];
    while (s && s->id != id)
        s = s->snext;
    gw_http_req *req = NULL;
    bool notify = false;
    if (s) {
        s->hup = true;
        req = s->req;
        if (req)
            notify = gw_http__req_hangup_locked(req);
    }
    pthread_mutex_unlock(&h->mu);
    if (notify)
        gw_http__req_call_gone(req);
}

void
gw_http__on_tick(void *payload)
{
    gw_http *h = payload;
    /* That the watcher still turns is what /livez looks at. */
    uint64_t now = gw_http__now_ms();
    pthread_mutex_lock(&h->mu);
    h->last_tick_ms = now;
    gw_http__nudge_locked(h);
    pthread_mutex_unlock(&h->mu);
    /* The tick may be shorter than the heartbeat walk's period (nudges). */
    unsigned every = h->heartbeat_every_ms;
    if (every && (every <= h->tick_ms || now - h->last_heartbeat_ms >= every)) {
        h->last_heartbeat_ms = now;
        gw_http__heartbeat_tick(h);
    }
}
