/*
 * http_answer: how a route finishes a request from any thread (see
 * http.h): complete answers, streams and their writes, and the heartbeat
 * tick. The response objects are built by http.c; here the answer is
 * stored under the engine mutex and the connection is woken, because only
 * the MHD thread may queue it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static const char heartbeat_text[] = ": ping\n\n";

/* A finishing call must not return while on_gone runs on another thread:
 * the route frees its per-request state right after finishing, and on_gone
 * reads it. On the callback's own thread (finishing from inside on_gone)
 * there is nothing to wait for. */
static void
wait_gone_cb_locked(gw_http_req *req)
{
    while (req->gone_cb_running && !pthread_equal(req->gone_cb_thread, pthread_self()))
        pthread_cond_wait(&req->h->cond, &req->h->mu);
}

/* An answer given while the MHD thread still holds the request (from
 * on_headers or before the handler returned) is queued by that thread
 * itself, so it goes out even when the client half-closed meanwhile: the
 * client asked, and can still read. Later answers to a gone client are
 * dropped (nothing could read them, or the client said it left). */
static bool
answer_is_synchronous_locked(const gw_http_req *req)
{
    return req->phase == GW_PH_BODY || req->phase == GW_PH_HANDLER;
}

/* Hand `r` to the MHD thread (mu held): store it and wake the connection.
 * Returns false when the request can no longer take an answer. */
static bool
store_answer_locked(gw_http_req *req, struct MHD_Response *r, unsigned status, bool stream)
{
    if (req->completed || (req->gone && !answer_is_synchronous_locked(req)) ||
        req->phase == GW_PH_QUEUED || req->resp || req->drop)
        return false;
    gw_http__apply_extra_locked(req, r);
    req->resp = r;
    req->resp_status = status;
    req->resp_stream = stream;
    gw_http__resume_locked(req);
    return true;
}

static int
answer_state_locked(gw_http_req *req)
{
    if (req->h->stopped)
        return LINGMA_ECLOSED;
    if (req->completed || (req->gone && !answer_is_synchronous_locked(req)))
        return LINGMA_ECANCELED;
    if (req->phase == GW_PH_QUEUED || req->resp || req->drop)
        return LINGMA_ECLOSED;
    return LINGMA_OK;
}

int
gw_http_respond(gw_http_req *req, int status, const gw_http_header *headers, const void *body,
                size_t len)
{
    return gw_http_respond_then(req, status, headers, body, len, NULL, NULL);
}

int
gw_http_respond_then(gw_http_req *req, int status, const gw_http_header *headers, const void *body,
                     size_t len, gw_http_decided_fn decided, void *payload)
{
    if (!req || status < 100 || status > 999 || (len > 0 && !body)) {
        if (decided)
            decided(LINGMA_EINVAL, payload);
        return LINGMA_EINVAL;
    }
    gw_http *h = req->h;
    int rc = LINGMA_OK;
    struct MHD_Response *r = gw_http__buffer_response(h, headers, body, len, false);
    struct MHD_Response *unused = NULL;

    if (!r) {
        rc = LINGMA_ENOMEM;
        r = gw_http__error_response(h, req, 500, "internal_error", "out of memory");
    }
    pthread_mutex_lock(&h->mu);
    wait_gone_cb_locked(req);
    if (!req->route_owns || req->stream) {
        if (decided)
            decided(LINGMA_EINVAL, payload);
        pthread_mutex_unlock(&h->mu);
        gw_http__log(h, LINGMA_LOG_ERROR, "request %llu answered twice",
                     (unsigned long long)req->id);
        if (r)
            gw_http__destroy_response(r);
        return LINGMA_EINVAL;
    }
    req->route_owns = false;
    int state = answer_state_locked(req);
    if (state != LINGMA_OK)
        rc = state;
    /* Before the answer is stored or the connection resumed: from here on
     * the MHD thread may send it. */
    if (decided)
        decided(rc, payload);
    if (state != LINGMA_OK) {
        unused = r;
    } else if (!r) {
        /* Not even a bare 500 could be built: close the connection. */
        req->drop = true;
        gw_http__resume_locked(req);
    } else if (!store_answer_locked(req, r, rc == LINGMA_OK ? (unsigned)status : 500u, false)) {
        unused = r;
    }
    pthread_mutex_unlock(&h->mu);
    if (unused)
        gw_http__destroy_response(unused);
    gw_http__req_release(req);
    return rc;
}

int
gw_http_abandon(gw_http_req *req)
{
    if (!req)
        return LINGMA_EINVAL;
    gw_http *h = req->h;
    pthread_mutex_lock(&h->mu);
    wait_gone_cb_locked(req);
    if (!req->route_owns || req->stream) {
        pthread_mutex_unlock(&h->mu);
        return LINGMA_EINVAL;
    }
    req->route_owns = false;
    req->drop = true; /* dispatch or resumed() closes instead of answering */
    gw_http__resume_locked(req);
    pthread_mutex_unlock(&h->mu);
    gw_http__req_release(req);
    return LINGMA_OK;
}

int
gw_http_stream_begin(gw_stream **out, gw_http_req *req, int status, const gw_http_header *headers)
{
    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    if (!req || status < 100 || status > 999)
        return LINGMA_EINVAL;
    gw_http *h = req->h;
    int rc = LINGMA_OK;
    struct MHD_Response *unused = NULL;
    struct MHD_Response *r = gw_http__stream_response(req, headers);
    unsigned rstatus = (unsigned)status;

    if (!r) {
        rc = LINGMA_ENOMEM;
        rstatus = 500;
        r = gw_http__error_response(h, req, 500, "internal_error", "out of memory");
    }
    pthread_mutex_lock(&h->mu);
    wait_gone_cb_locked(req);
    /* Not from on_headers (GW_PH_BODY): a stream answers a whole request. */
    if (!req->route_owns || req->stream || req->phase == GW_PH_BODY) {
        pthread_mutex_unlock(&h->mu);
        if (r)
            gw_http__destroy_response(r);
        return LINGMA_EINVAL;
    }
    /* From here on the route's reference belongs to the stream. */
    req->stream = true;
    *out = (gw_stream *)(void *)req;
    /* A stream's status line says "answering": never to a client known
     * to have left, even if the watcher has not reported its FIN yet. */
    if (!req->gone && !req->completed && gw_http__client_half_closed(req->fd))
        gw_http__req_gone_locked(req, false);
    int state = answer_state_locked(req);
    if (state != LINGMA_OK) {
        rc = state;
        req->cut = true;
        unused = r;
    } else if (!r) {
        req->cut = true;
        req->drop = true;
        gw_http__resume_locked(req);
    } else {
        if (rc != LINGMA_OK)
            req->cut = true;
        req->last_write_ms = gw_http__now_ms();
        if (!store_answer_locked(req, r, rstatus, rc == LINGMA_OK))
            unused = r;
    }
    pthread_mutex_unlock(&h->mu);
    /* Destroying an unused stream response releases its request reference
     * through MHD's free callback, which takes mu: never under mu. */
    if (unused)
        gw_http__destroy_response(unused);
    return rc;
}

void
gw_stream_set_heartbeat(gw_stream *s, const char *text)
{
    gw_http_req *req = gw_stream_req(s);
    pthread_mutex_lock(&req->h->mu);
    req->heartbeat = text;
    pthread_mutex_unlock(&req->h->mu);
}

gw_http_req *
gw_stream_req(gw_stream *s)
{
    return (gw_http_req *)(void *)s;
}

/* Append under mu and wake the reader. `limit` is the buffer bound, or
 * SIZE_MAX for the engine's own heartbeats. */
static int
stream_append_locked(gw_http_req *req, const void *data, size_t len, size_t limit)
{
    gw_http *h = req->h;
    if (req->ended)
        return LINGMA_ECLOSED;
    if (req->gone)
        return LINGMA_ECANCELED;
    if (req->cut || req->completed || h->stopping)
        return LINGMA_ECLOSED;
    int rc = gw_sbuf_append(&req->buf, data, len, limit);
    if (rc == LINGMA_EBUSY) {
        /* The client stopped reading while the producer cannot be paused
         * (upstream keeps talking): treat it as gone. Shutting the socket
         * down makes MHD's pending send fail, so the connection closes even
         * though the client never reads again; on_gone follows from the
         * completion callback. */
        h->st.overflow_total++;
        gw_http__req_gone_locked(req, false);
        gw_http__shutdown_socket_locked(req);
        gw_http__resume_locked(req);
        return LINGMA_ECANCELED;
    }
    if (rc != LINGMA_OK)
        return rc;
    req->last_write_ms = gw_http__now_ms();
    gw_http__resume_locked(req);
    return LINGMA_OK;
}

int
gw_stream_write(gw_stream *s, const void *data, size_t len)
{
    if (!s || (len > 0 && !data))
        return LINGMA_EINVAL;
    gw_http_req *req = gw_stream_req(s);
    pthread_mutex_lock(&req->h->mu);
    int rc = stream_append_locked(req, data, len, req->h->opts.stream_buffer_max);
    pthread_mutex_unlock(&req->h->mu);
    return rc;
}

int
gw_stream_end(gw_stream *s)
{
    if (!s)
        return LINGMA_EINVAL;
    gw_http_req *req = gw_stream_req(s);
    gw_http *h = req->h;

    pthread_mutex_lock(&h->mu);
    wait_gone_cb_locked(req);
    if (req->ended || !req->route_owns) {
        pthread_mutex_unlock(&h->mu);
        gw_http__log(h, LINGMA_LOG_ERROR, "stream %llu ended twice", (unsigned long long)req->id);
        return LINGMA_EINVAL;
    }
    req->ended = true;
    req->route_owns = false;
    int rc = req->gone ? LINGMA_ECANCELED : LINGMA_OK;
    gw_http__resume_locked(req);
    pthread_mutex_unlock(&h->mu);
    gw_http__req_release(req);
    return rc;
}

/* The watcher tick: a comment on every stream idle for the heartbeat
 * interval. Resuming the connection to write it is also what detects a
 * dead client whose socket never reported a hang-up (the send fails). */
void
gw_http__heartbeat_tick(gw_http *h)
{
    uint64_t now = gw_http__now_ms();
    pthread_mutex_lock(&h->mu);
    for (unsigned b = 0; b < GW_HTTP_BUCKETS; b++) {
        for (gw_http_req *r = h->buckets[b]; r; r = r->hnext) {
            if (!r->stream || r->cut || r->ended || r->completed || r->gone)
                continue;
            if (now - r->last_write_ms < h->opts.heartbeat_ms)
                continue;
            const char *hb = r->heartbeat ? r->heartbeat : heartbeat_text;
            if (stream_append_locked(r, hb, strlen(hb), SIZE_MAX) == LINGMA_OK)
                h->st.heartbeats++;
        }
    }
    pthread_mutex_unlock(&h->mu);
}
