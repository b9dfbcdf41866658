/*
 * http_req: the route side of the engine (see http.h): request getters,
 * answers from any thread, stream writes, and the request lifetime.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"

static const char heartbeat_text[] = ": ping\n\n";

uint64_t
gw_http__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Registry: requests by id, for the watcher (which only knows ids) and for
 * the walks of heartbeats and shutdown. Ids grow by one, so the low bits
 * spread them evenly over the buckets. */
void
gw_http__req_register_locked(gw_http_req *req)
{
    struct gw_http_req **b = &req->h->buckets[req->id % GW_HTTP_BUCKETS];
    req->hnext = *b;
    *b = req;
}

gw_http_req *
gw_http__req_lookup_locked(gw_http *h, uint64_t id)
{
    for (gw_http_req *r = h->buckets[id % GW_HTTP_BUCKETS]; r; r = r->hnext)
        if (r->id == id)
            return r;
    return NULL;
}

static void
req_unregister_locked(gw_http_req *req)
{
    struct gw_http_req **p = &req->h->buckets[req->id % GW_HTTP_BUCKETS];
    while (*p && *p != req)
        p = &(*p)->hnext;
    if (*p)
        *p = req->hnext;
}

void
gw_http__req_free(gw_http_req *req)
{
    if (req->resp)
        gw_http__destroy_response(req->resp);
    struct gw_extra_header *e = req->extra;
    while (e) {
        struct gw_extra_header *next = e->next;
        free(e->name);
        free(e->value);
        free(e);
        e = next;
    }
    gw_sbuf_clear(&req->buf);
    free(req->body);
    free(req->hdrs);
    free(req->strings);
    free(req);
}

void
gw_http__req_release(gw_http_req *req)
{
    gw_http *h = req->h;
    bool free_req = false, free_engine = false;

    pthread_mutex_lock(&h->mu);
    if (--req->refs == 0) {
        req_unregister_locked(req);
        h->live--;
        free_req = true;
        free_engine = h->freed && h->live == 0;
    }
    pthread_mutex_unlock(&h->mu);
    if (free_req)
        gw_http__req_free(req);
    if (free_engine)
        gw_http__engine_destroy(h);
}

bool
gw_http__req_gone_locked(gw_http_req *req, bool notify)
{
    gw_http *h = req->h;
    if (!req->gone) {
        req->gone = true;
        h->st.gone_total++;
    }
    if (!notify || !req->route_owns || req->gone_notified || !h->opts.on_gone)
        return false;
    req->gone_notified = true;
    req->gone_cb_running = true;
    req->gone_cb_thread = pthread_self();
    req->refs++;
    return true;
}

void
gw_http__req_call_gone(gw_http_req *req)
{
    gw_http *h = req->h;
    h->opts.on_gone(req, h->opts.payload);
    pthread_mutex_lock(&h->mu);
    req->gone_cb_running = false;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    gw_http__req_release(req);
}

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

const char *
gw_http_req_method(const gw_http_req *req)
{
    return req->method;
}

const char *
gw_http_req_path(const gw_http_req *req)
{
    return req->path;
}

const char *
gw_http_req_header(const gw_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nhdrs; i++)
        if (strcasecmp(req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value;
    return NULL;
}

const char *
gw_http_req_query(const gw_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nargs; i++)
        if (strcmp(req->args[i].name, name) == 0)
            return req->args[i].value;
    return NULL;
}

const void *
gw_http_req_body(const gw_http_req *req, size_t *len)
{
    if (len)
        *len = req->body ? req->body_len : 0;
    return req->body ? req->body : "";
}

int
gw_http_req_fd(const gw_http_req *req)
{
    return req->fd;
}

uint64_t
gw_http_req_id(const gw_http_req *req)
{
    return req->id;
}

void
gw_http_req_set_user(gw_http_req *req, void *user)
{
    pthread_mutex_lock(&req->h->mu);
    req->user = user;
    pthread_mutex_unlock(&req->h->mu);
}

void *
gw_http_req_user(const gw_http_req *req)
{
    gw_http *h = req->h;
    pthread_mutex_lock(&h->mu);
    void *user = req->user;
    pthread_mutex_unlock(&h->mu);
    return user;
}

bool
gw_http_req_gone(const gw_http_req *req)
{
    gw_http *h = req->h;
    pthread_mutex_lock(&h->mu);
    bool gone = req->gone;
    pthread_mutex_unlock(&h->mu);
    return gone;
}

static bool
header_text_ok(const char *s, bool is_name)
{
    if (!s || (is_name && !*s))
        return false;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n')
            return false;
        if (is_name && (*s == ':' || *s == ' ' || *s == '\t'))
            return false;
    }
    return true;
}

int
gw_http_req_add_header(gw_http_req *req, const char *name, const char *value)
{
    if (!req || !header_text_ok(name, true) || !header_text_ok(value, false))
        return LINGMA_EINVAL;
    struct gw_extra_header *e = calloc(1, sizeof(*e));
    if (e) {
        e->name = strdup(name);
        e->value = strdup(value);
    }
    if (!e || !e->name || !e->value) {
        if (e) {
            free(e->name);
            free(e->value);
        }
        free(e);
        return LINGMA_ENOMEM;
    }
    pthread_mutex_lock(&req->h->mu);
    *req->extra_tail = e;
    req->extra_tail = &e->next;
    pthread_mutex_unlock(&req->h->mu);
    return LINGMA_OK;
}

/* Hand `r` to the MHD thread (mu held): store it and wake the connection.
 * Returns false when the request can no longer take an answer. */
static bool
store_answer_locked(gw_http_req *req, struct MHD_Response *r, unsigned status, bool stream)
{
    if (req->completed || req->gone || req->phase == GW_PH_QUEUED || req->resp || req->drop)
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
    if (req->completed || req->gone)
        return LINGMA_ECANCELED;
    if (req->phase == GW_PH_QUEUED || req->resp || req->drop)
        return LINGMA_ECLOSED;
    return LINGMA_OK;
}

int
gw_http_respond(gw_http_req *req, int status, const gw_http_header *headers, const void *body,
                size_t len)
{
    if (!req || status < 100 || status > 999 || (len > 0 && !body))
        return LINGMA_EINVAL;
    gw_http *h = req->h;
    int rc = LINGMA_OK;
    struct MHD_Response *r = gw_http__buffer_response(h, headers, body, len, false);
    struct MHD_Response *unused = NULL;

    if (!r) {
        rc = LINGMA_ENOMEM;
        r = gw_http__error_response(h, 500, "out of memory");
    }
    pthread_mutex_lock(&h->mu);
    wait_gone_cb_locked(req);
    if (!req->route_owns || req->stream) {
        pthread_mutex_unlock(&h->mu);
        gw_http__log(h, LINGMA_LOG_ERROR, "request %llu answered twice",
                     (unsigned long long)req->id);
        if (r)
            gw_http__destroy_response(r);
        return LINGMA_EINVAL;
    }
    req->route_owns = false;
    int state = answer_state_locked(req);
    if (state != LINGMA_OK) {
        rc = state;
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
        r = gw_http__error_response(h, 500, "out of memory");
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
            if (stream_append_locked(r, heartbeat_text, sizeof(heartbeat_text) - 1, SIZE_MAX) ==
                LINGMA_OK)
                h->st.heartbeats++;
        }
    }
    pthread_mutex_unlock(&h->mu);
}
