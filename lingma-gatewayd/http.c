/*
 * http: the MHD side of the engine (see http.h and http_int.h). The only
 * includer of microhttpd.h.
 *
 * How a request flows through libmicrohttpd 0.9.75 here:
 *   - first access-handler call: copy method, path, headers and query so the
 *     route may read them from any thread; on_headers; early 413 from
 *     Content-Length (queueing in this call keeps MHD from reading the body);
 *   - middle calls: accumulate the body up to max_body, discard beyond;
 *   - last call: the handler. If it answered, queue now. Otherwise suspend
 *     and watch the client's socket; an answer from another thread resumes
 *     the connection and MHD calls the access handler again, which queues it
 *     (MHD_queue_response only works on the MHD thread);
 *   - streams: a chunked callback response whose reader copies pending bytes
 *     out, suspends when there are none (returning 0 without suspending would
 *     spin at 100% CPU) and ends after gw_stream_end;
 *   - completion callback: anything but COMPLETED_OK means the client is
 *     gone. The watcher registration is removed here, before MHD closes the
 *     fd, so a reused fd can never be confused with this one.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_int.h"

/* MHD asks the reader for at most this much per call. MHD allocates a
 * buffer of this size with every callback response, so for SSE (events of
 * a few hundred bytes) a small block saves memory per open stream; a
 * bigger backlog just takes more reader calls. */
#define STREAM_BLOCK 2048
/* Largest body buffer allocated before the bytes arrive. */
#define BODY_PREALLOC_MAX (256u * 1024u)

/* MHD's error log. Most of it is clients vanishing mid-send, which is
 * routine for a streaming server, so it goes out at INFO. The format comes
 * from MHD itself, hence the vprintf-style attribute. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    gw_http *h = cls;
    if (!h->opts.log)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    h->opts.log(LINGMA_LOG_INFO, msg, h->opts.payload);
}

void
gw_http__resume_locked(gw_http_req *req)
{
    if (!req->suspended)
        return;
    req->suspended = false;
    req->h->st.suspended--;
    req->h->st.resumes++;
    MHD_resume_connection(req->conn);
}

static void
suspend_locked(gw_http_req *req)
{
    req->suspended = true;
    req->h->st.suspended++;
    MHD_suspend_connection(req->conn);
}

void
gw_http__shutdown_socket_locked(gw_http_req *req)
{
    /* Not close(): MHD owns the fd and closes it after completion. While
     * not completed the fd is still this connection's, so this is safe. */
    if (!req->completed && req->fd >= 0)
        shutdown(req->fd, SHUT_RDWR);
}

void
gw_http__destroy_response(struct MHD_Response *r)
{
    MHD_destroy_response(r);
}

static bool
has_header(const gw_http_header *headers, const char *name)
{
    for (const gw_http_header *hd = headers; hd && hd->name; hd++)
        if (strcasecmp(hd->name, name) == 0)
            return true;
    return false;
}

static void
add_headers(gw_http *h, struct MHD_Response *r, const gw_http_header *headers)
{
    for (const gw_http_header *hd = headers; hd && hd->name; hd++) {
        if (!hd->value || MHD_add_response_header(r, hd->name, hd->value) != MHD_YES)
            gw_http__log(h, LINGMA_LOG_WARN, "response header '%s' rejected", hd->name);
    }
}

void
gw_http__apply_extra_locked(gw_http_req *req, struct MHD_Response *r)
{
    for (struct gw_extra_header *e = req->extra; e; e = e->next)
        if (MHD_add_response_header(r, e->name, e->value) != MHD_YES)
            gw_http__log(req->h, LINGMA_LOG_WARN, "response header '%s' rejected", e->name);
}

struct MHD_Response *
gw_http__buffer_response(gw_http *h, const gw_http_header *headers, const void *body, size_t len,
                         bool adopt)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)(uintptr_t)body, adopt ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (r)
        add_headers(h, r, headers);
    return r;
}

struct MHD_Response *
gw_http__error_response(gw_http *h, unsigned status, const char *message)
{
    const char *ctype = NULL;
    size_t len = 0;
    char *body = NULL;
    if (h->opts.error_body)
        body = h->opts.error_body((int)status, message, &len, &ctype, h->opts.payload);
    if (!body || !ctype) {
        free(body);
        ctype = "text/plain; charset=utf-8";
        char text[160];
        int n = snprintf(text, sizeof(text), "%u %s\n", status, message);
        len = n > 0 ? (size_t)n : 0;
        body = malloc(len + 1);
        if (!body)
            return NULL;
        memcpy(body, text, len + 1);
    }
    gw_http_header hd[] = {{"Content-Type", ctype}, {NULL, NULL}};
    struct MHD_Response *r = gw_http__buffer_response(h, hd, body, len, true);
    if (!r)
        free(body);
    return r;
}

static ssize_t
stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    gw_http_req *req = cls;
    gw_http *h = req->h;
    (void)pos;

    pthread_mutex_lock(&h->mu);
    h->st.reader_calls++;
    size_t n = gw_sbuf_read(&req->buf, buf, max);
    if (n > 0) {
        pthread_mutex_unlock(&h->mu);
        return (ssize_t)n;
    }
    ssize_t rc;
    if (req->ended && !req->cut)
        rc = MHD_CONTENT_READER_END_OF_STREAM;
    else if (req->ended || req->cut || req->gone || h->stopping)
        rc = MHD_CONTENT_READER_END_WITH_ERROR;
    else {
        /* Nothing to send: park the connection until a write, a heartbeat,
         * the end, a hang-up or shutdown resumes it. */
        suspend_locked(req);
        rc = 0;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static void
stream_reader_free(void *cls)
{
    gw_http__req_release(cls);
}

struct MHD_Response *
gw_http__stream_response(gw_http_req *req, const gw_http_header *headers)
{
    gw_http *h = req->h;
    pthread_mutex_lock(&h->mu);
    req->refs++; /* the response's, dropped by stream_reader_free */
    pthread_mutex_unlock(&h->mu);
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_reader, req, stream_reader_free);
    if (!r) {
        gw_http__req_release(req);
        return NULL;
    }
    add_headers(h, r, headers);
    static const gw_http_header sse[] = {{"Content-Type", "text/event-stream"},
                                         {"Cache-Control", "no-cache"},
                                         {"X-Accel-Buffering", "no"}};
    for (size_t i = 0; i < sizeof(sse) / sizeof(sse[0]); i++)
        if (!has_header(headers, sse[i].name))
            MHD_add_response_header(r, sse[i].name, sse[i].value);
    return r;
}

/* Request copy ------------------------------------------------------------ */

struct kv_copy {
    struct gw_kv *items;
    char *mem;
    size_t n;
    size_t bytes;
};

static enum MHD_Result
kv_count(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct kv_copy *c = cls;
    (void)kind;
    c->n++;
    c->bytes += strlen(key) + 1 + (value ? strlen(value) : 0) + 1;
    return MHD_YES;
}

static char *
put_string(struct kv_copy *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = c->mem + c->bytes;
    memcpy(p, s, n);
    c->bytes += n;
    return p;
}

static enum MHD_Result
kv_store(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct kv_copy *c = cls;
    (void)kind;
    c->items[c->n].name = put_string(c, key);
    c->items[c->n].value = put_string(c, value ? value : "");
    c->n++;
    return MHD_YES;
}

static gw_http_req *
req_new(gw_http *h, struct MHD_Connection *conn, const char *url, const char *method)
{
    gw_http_req *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    struct kv_copy hc = {0}, ac = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, kv_count, &hc);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, kv_count, &ac);
    size_t bytes = hc.bytes + ac.bytes + strlen(url) + 1 + strlen(method) + 1;
    req->strings = malloc(bytes);
    req->hdrs = calloc(hc.n + ac.n + 1, sizeof(struct gw_kv));
    if (!req->strings || !req->hdrs) {
        free(req->strings);
        free(req->hdrs);
        free(req);
        return NULL;
    }
    struct kv_copy c = {req->hdrs, req->strings, 0, 0};
    req->method = put_string(&c, method);
    req->path = put_string(&c, url);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, kv_store, &c);
    req->nhdrs = c.n;
    req->args = req->hdrs + c.n;
    c.items = req->args;
    c.n = 0;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, kv_store, &c);
    req->nargs = c.n;

    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    req->fd = ci ? ci->connect_fd : -1;
    req->h = h;
    req->conn = conn;
    req->refs = 1; /* the MHD request's */
    req->extra_tail = &req->extra;
    return req;
}

/* Access handler ---------------------------------------------------------- */

/* Queue `r` on the MHD thread; `r` is consumed. */
static enum MHD_Result
queue(gw_http_req *req, struct MHD_Connection *c, struct MHD_Response *r, unsigned status,
      bool stream)
{
    gw_http *h = req->h;
    pthread_mutex_lock(&h->mu);
    bool closing = h->quiesced || h->draining;
    req->phase = GW_PH_QUEUED;
    if (stream) {
        req->stream_queued = true;
        h->st.streams_active++;
    }
    pthread_mutex_unlock(&h->mu);
    if (closing)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (stream)
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (ok != MHD_YES)
        gw_http__log(h, LINGMA_LOG_WARN, "request %llu: MHD refused the response",
                     (unsigned long long)req->id);
    return ok;
}

/* Answer with the engine's own error; takes over the route's reference if
 * the route still has one (the handler is then never called). */
static enum MHD_Result
reject(gw_http_req *req, struct MHD_Connection *c, unsigned status, const char *message)
{
    gw_http *h = req->h;
    struct MHD_Response *r = gw_http__error_response(h, status, message);
    bool drop_route = false;
    pthread_mutex_lock(&h->mu);
    if (status == 413)
        h->st.rejected_413++;
    if (req->route_owns && req->phase == GW_PH_BODY) {
        req->route_owns = false;
        drop_route = true;
    }
    if (r)
        gw_http__apply_extra_locked(req, r);
    pthread_mutex_unlock(&h->mu);
    if (drop_route)
        gw_http__req_release(req);
    if (!r)
        return MHD_NO;
    return queue(req, c, r, status, false);
}

static bool
content_length_over(struct MHD_Connection *c, size_t max, size_t *cl_out)
{
    const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    *cl_out = 0;
    if (!s)
        return false;
    unsigned long long v = 0;
    for (; *s == ' ' || *s == '\t'; s++) {
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (ULLONG_MAX - 9) / 10)
            return true;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    *cl_out = v <= max ? (size_t)v : 0;
    return v > max;
}

static void
watch_locked(gw_http_req *req)
{
    gw_http *h = req->h;
    if (req->watched || req->fd < 0 || !h->watch)
        return;
    if (gw_watch_add(h->watch, req->fd, req->id) == LINGMA_OK)
        req->watched = true;
    else
        gw_http__log(h, LINGMA_LOG_WARN, "request %llu: cannot watch fd %d: %s",
                     (unsigned long long)req->id, req->fd, strerror(errno));
}

static enum MHD_Result
first_call(gw_http *h, struct MHD_Connection *c, const char *url, const char *method,
           void **con_cls)
{
    gw_http_req *req = req_new(h, c, url, method);
    if (!req)
        return MHD_NO; /* out of memory: drop the connection */
    *con_cls = req;

    pthread_mutex_lock(&h->mu);
    req->id = ++h->next_id;
    h->live++;
    h->st.requests_total++;
    h->st.requests_active++;
    gw_http__req_register_locked(req);
    /* Watched from the start, not only while suspended: MHD 0.9.75 can also
     * miss a FIN that arrives together with the last body bytes, leaving the
     * connection in CLOSE-WAIT until the idle timeout. */
    watch_locked(req);
    bool draining = h->draining;
    req->route_owns = true; /* lent to on_headers, then to the handler */
    req->refs++;
    pthread_mutex_unlock(&h->mu);

    if (h->opts.on_headers && !draining)
        h->opts.on_headers(req, h->opts.payload);

    pthread_mutex_lock(&h->mu);
    struct MHD_Response *r = req->resp;
    unsigned status = req->resp_status;
    req->resp = NULL;
    pthread_mutex_unlock(&h->mu);
    if (r)
        return queue(req, c, r, status, false);
    if (draining)
        return reject(req, c, 503, "server is shutting down");

    size_t cl;
    if (content_length_over(c, h->opts.max_body, &cl)) {
        req->too_large = true;
        return reject(req, c, 413, "request body too large");
    }
    if (cl > 0) {
        /* Size the buffer from Content-Length, but only up to a point: a
         * header alone must not pin max_body bytes per connection. */
        size_t want = cl + 1 < BODY_PREALLOC_MAX ? cl + 1 : BODY_PREALLOC_MAX;
        req->body = malloc(want);
        req->body_alloc = req->body ? want : 0;
    }
    return MHD_YES;
}

static void
body_append(gw_http_req *req, const char *data, size_t n)
{
    size_t max = req->h->opts.max_body;
    if (req->too_large || req->body_oom)
        return;
    if (n > max || req->body_len > max - n) {
        /* Keep reading (a chunked body has no other way to end cleanly)
         * but keep nothing; the last call answers 413. */
        req->too_large = true;
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_alloc = 0;
        return;
    }
    if (req->body_len + n + 1 > req->body_alloc) {
        size_t want = req->body_alloc ? req->body_alloc : 4096;
        while (want < req->body_len + n + 1)
            want *= 2;
        if (want > max + 1)
            want = max + 1;
        char *b = realloc(req->body, want);
        if (!b) {
            req->body_oom = true;
            return;
        }
        req->body = b;
        req->body_alloc = want;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
}

static enum MHD_Result
dispatch(gw_http *h, gw_http_req *req, struct MHD_Connection *c)
{
    if (req->too_large)
        return reject(req, c, 413, "request body too large");
    if (req->body_oom)
        return reject(req, c, 500, "out of memory");

    pthread_mutex_lock(&h->mu);
    req->phase = GW_PH_HANDLER;
    pthread_mutex_unlock(&h->mu);

    gw_http_action act = h->opts.handler(req, h->opts.payload);

    pthread_mutex_lock(&h->mu);
    struct MHD_Response *r = req->resp;
    if (r) {
        unsigned status = req->resp_status;
        bool stream = req->resp_stream;
        req->resp = NULL;
        pthread_mutex_unlock(&h->mu);
        return queue(req, c, r, status, stream);
    }
    if (act == GW_HTTP_DONE && req->route_owns) {
        req->route_owns = false;
        pthread_mutex_unlock(&h->mu);
        gw_http__log(h, LINGMA_LOG_ERROR, "%s %s: handler returned without an answer", req->method,
                     req->path);
        r = gw_http__error_response(h, 500, "internal error");
        gw_http__req_release(req);
        if (!r)
            return MHD_NO;
        pthread_mutex_lock(&h->mu);
        gw_http__apply_extra_locked(req, r);
        pthread_mutex_unlock(&h->mu);
        return queue(req, c, r, 500, false);
    }
    req->phase = GW_PH_WAITING;
    if (req->drop || req->gone) {
        /* The client left while the handler ran, or an answer could not be
         * built: close. WAITING, so that the completion callback tells a
         * route that still owns the request (on_gone). */
        pthread_mutex_unlock(&h->mu);
        return MHD_NO;
    }
    if (h->stopping) {
        /* A forced gw_http_stop made its resume walk while this handler
         * ran: nothing would resume a connection suspended now, and
         * MHD_stop_daemon aborts on it. Answer like resumed() does; the
         * completion tells a route that still owns the request (on_gone). */
        pthread_mutex_unlock(&h->mu);
        return reject(req, c, 503, "server is shutting down");
    }
    suspend_locked(req);
    bool late_shutdown =
        h->draining && req->route_owns && !req->shutdown_notified && h->opts.on_shutdown;
    if (late_shutdown) {
        /* gw_http_stop walked the requests while this handler ran. */
        req->shutdown_notified = true;
        req->refs++;
    }
    pthread_mutex_unlock(&h->mu);
    if (late_shutdown) {
        h->opts.on_shutdown(req, h->opts.payload);
        gw_http__req_release(req);
    }
    return MHD_YES;
}

/* The access handler runs again after a resume. */
static enum MHD_Result
resumed(gw_http *h, gw_http_req *req, struct MHD_Connection *c)
{
    pthread_mutex_lock(&h->mu);
    if (req->phase != GW_PH_WAITING) {
        pthread_mutex_unlock(&h->mu);
        return MHD_YES;
    }
    /* A client gone while its answer was on the way: do not send it. The
     * unqueued response is dropped in request_completed. */
    if (req->drop || req->gone) {
        pthread_mutex_unlock(&h->mu);
        return MHD_NO; /* MHD closes; completion reports the error */
    }
    struct MHD_Response *r = req->resp;
    if (r) {
        unsigned status = req->resp_status;
        bool stream = req->resp_stream;
        req->resp = NULL;
        pthread_mutex_unlock(&h->mu);
        return queue(req, c, r, status, stream);
    }
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return reject(req, c, 503, "server is shutting down");
    }
    suspend_locked(req); /* woken with nothing to do */
    pthread_mutex_unlock(&h->mu);
    return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    gw_http *h = cls;
    gw_http_req *req = *con_cls;
    (void)version;

    if (!req)
        return first_call(h, c, url, method, con_cls);
    if (*upload_size > 0) {
        if (req->phase == GW_PH_BODY)
            body_append(req, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->phase == GW_PH_BODY)
        return dispatch(h, req, c);
    return resumed(h, req, c);
}

static void
request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
    gw_http *h = cls;
    gw_http_req *req = *con_cls;
    (void)c;
    if (!req)
        return;
    *con_cls = NULL;

    pthread_mutex_lock(&h->mu);
    if (req->watched) {
        gw_watch_del(h->watch, req->fd);
        req->watched = false;
    }
    req->completed = true;
    req->conn = NULL;
    h->st.requests_active--;
    if (req->stream_queued)
        h->st.streams_active--;
    /* The client left while the body was still arriving: the handler never
     * saw the request, so the engine drops the reference it held for it. */
    bool drop_route = false;
    if (req->phase == GW_PH_BODY && req->route_owns) {
        req->route_owns = false;
        drop_route = true;
    }
    /* Anything but OK is a client gone. A route that still owns the request
     * also hears about it when MHD finished it with the engine's own answer
     * (503 at a forced stop): either way its answer can no longer go out. */
    bool notify = false;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK || req->route_owns)
        notify = gw_http__req_gone_locked(req, true);
    /* An answer that never reached MHD; a stream response holds a request
     * reference, so it must go now, not when the request is freed. */
    struct MHD_Response *unsent = req->resp;
    req->resp = NULL;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);

    if (unsent)
        MHD_destroy_response(unsent);
    if (notify)
        gw_http__req_call_gone(req);
    if (drop_route)
        gw_http__req_release(req);
    gw_http__req_release(req);
}

/* Lifecycle --------------------------------------------------------------- */

int
gw_http_start(gw_http *h)
{
    if (h->started)
        return LINGMA_EINVAL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc = gw_http__resolve(h, &ss, &sslen);
    if (rc != LINGMA_OK)
        return rc;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)h->opts.max_connections + 64)
        gw_http__log(h, LINGMA_LOG_WARN,
                     "RLIMIT_NOFILE %llu is below max_connections %u: raise 'ulimit -n'",
                     (unsigned long long)rl.rlim_cur, h->opts.max_connections);

    unsigned tick = 0;
    if (h->opts.heartbeat_ms > 0) {
        tick = h->opts.heartbeat_ms / 4;
        tick = tick < 10 ? 10 : tick > 1000 ? 1000 : tick;
    }
    gw_watch_ops ops = {gw_http__on_hangup, gw_http__on_tick};
    if (gw_watch_new(&h->watch, &ops, tick, h) != LINGMA_OK) {
        gw_http__log(h, LINGMA_LOG_ERROR, "cannot start the watcher thread");
        return LINGMA_EIO;
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger goes first: MHD logs option errors while parsing the rest. */
    h->daemon = MHD_start_daemon(flags, (uint16_t)h->opts.port, NULL, NULL, access_handler, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)h->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)h->opts.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (size_t)h->opts.connection_memory, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                                 (unsigned)h->opts.listen_backlog, MHD_OPTION_NOTIFY_COMPLETED,
                                 request_completed, h, MHD_OPTION_END);
    if (!h->daemon) {
        gw_http__log(h, LINGMA_LOG_ERROR, "cannot listen on %s:%u", h->host, h->opts.port);
        gw_watch_free(h->watch);
        h->watch = NULL;
        return LINGMA_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : h->opts.port;
    h->started = true;
    return LINGMA_OK;
}

void
gw_http_quiesce(gw_http *h)
{
    pthread_mutex_lock(&h->mu);
    bool go = h->started && !h->quiesced && !h->stopped;
    h->quiesced = true;
    pthread_mutex_unlock(&h->mu);
    if (!go)
        return;
    /* The listen socket is ours to close now, but only after
     * MHD_stop_daemon: the MHD thread may still hold it. Until then it
     * would keep completing handshakes into its backlog that nobody
     * accepts; shutting it down (Linux) resets those and refuses new
     * connects at once, so a balancer fails over instead of waiting. */
    MHD_socket fd = MHD_quiesce_daemon(h->daemon);
    h->quiesced_fd = fd == MHD_INVALID_SOCKET ? -1 : fd;
    if (h->quiesced_fd >= 0)
        shutdown(h->quiesced_fd, SHUT_RDWR);
}

void
gw_http_stop(gw_http *h, unsigned grace_ms)
{
    if (!h->started)
        return;
    pthread_mutex_lock(&h->mu);
    bool already = h->draining;
    h->draining = true;
    pthread_mutex_unlock(&h->mu);
    if (already)
        return;

    uint64_t deadline = gw_http__now_ms() + grace_ms;
    gw_http_quiesce(h);
    gw_http__notify_shutdown(h);

    pthread_mutex_lock(&h->mu);
    gw_http__wait_idle_locked(h, deadline);
    /* From here nothing suspends any more (reader and access handler check
     * `stopping` under mu), so after this walk no connection is suspended
     * and MHD_stop_daemon cannot hit its "suspended connections" abort. */
    h->stopping = true;
    size_t cut = 0;
    for (unsigned b = 0; b < GW_HTTP_BUCKETS; b++) {
        for (gw_http_req *r = h->buckets[b]; r; r = r->hnext) {
            if (r->completed)
                continue;
            if (r->stream && !r->ended) {
                r->cut = true;
                cut++;
            }
            gw_http__resume_locked(r);
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (cut)
        gw_http__log(h, LINGMA_LOG_WARN, "stopping: %zu streams cut", cut);

    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
    if (h->quiesced_fd >= 0)
        close(h->quiesced_fd);
    h->quiesced_fd = -1;
    gw_watch_free(h->watch);
    h->watch = NULL;
    pthread_mutex_lock(&h->mu);
    h->stopped = true;
    pthread_mutex_unlock(&h->mu);
}
