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
 *     (the watcher sees the client leave); an answer from another thread
 *     resumes the connection and MHD calls the access handler again, which
 *     queues it (MHD_queue_response only works on the MHD thread);
 *   - streams: a chunked callback response whose reader copies pending bytes
 *     out, suspends when there are none (returning 0 without suspending would
 *     spin at 100% CPU) and ends after gw_stream_end;
 *   - completion callback: anything but COMPLETED_OK means the client is
 *     gone;
 *   - the watcher watches each connection from MHD's accept to its close
 *     (sock_notify): the registration is removed before MHD closes the fd,
 *     so a reused fd can never be confused with this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http_int.h"

/* MHD asks the reader for at most this much per call. MHD allocates a
 * buffer of this size with every callback response, so for SSE (events of
 * a few hundred bytes) a small block saves memory per open stream; a
 * bigger backlog just takes more reader calls. */
#define STREAM_BLOCK 2048
/* The watcher's tick, which nudges the MHD thread (see nudge_open), when
 * heartbeats do not need a shorter one. */
#define NUDGE_MS 100u
/* Sockets that may linger at once after a refusal, and for how long. */
#define LINGER_MAX_SOCKETS 1024u
#define LINGER_MS          2000u
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
gw_http__error_response(gw_http *h, gw_http_req *req, unsigned status, const char *code,
                        const char *message)
{
    const char *ctype = NULL;
    size_t len = 0;
    char *body = NULL;
    if (h->opts.error_body)
        body = h->opts.error_body(req, (int)status, code, message, &len, &ctype, h->opts.payload);
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

/* Request intake ------------------------------------------------------------ */

/* Connection memory a request head may use, counted the way libmicrohttpd
 * 0.9.75 spends its per-connection pool: the header block itself (parsed
 * in place), one list entry per header field and cookie (the query is
 * kept out of the pool, see uri_seen)
 * (a 56-byte struct rounded to the pool's 16-byte alignment), and a copy
 * of the Cookie value. What is left must hold the status line and headers
 * of the answer, which libmicrohttpd builds in the same pool and, when
 * they do not fit, replaces by closing the connection without a word. */
#define MHD_ENTRY_BYTES 64u
#define ANSWER_RESERVE  1024u

static size_t
head_limit(const gw_http *h)
{
    return h->opts.connection_memory - ANSWER_RESERVE;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first sight of a request, before
 * libmicrohttpd decodes the target in place. The request object starts
 * here so that the target's raw bytes survive; the first access-handler
 * call completes it. Whatever libmicrohttpd does next, the completion
 * callback receives this object and frees it. */
static void *
uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
    gw_http *h = cls;
    (void)c;
    gw_http_req *req = calloc(1, sizeof(*req));
    size_t n = strlen(uri);
    char *raw = req ? malloc(n + 1) : NULL;
    if (!raw) {
        free(req);
        return NULL; /* the access handler then drops the connection */
    }
    memcpy(raw, uri, n + 1);
    /* Right after this callback libmicrohttpd 0.9.75 splits the query into
     * its connection pool, one list entry per argument; when the pool runs
     * out it queues a 431 but then overwrites its own state and waits for
     * more headers, leaving the client without an answer until the idle
     * timeout. The engine parses the target itself from the copy above,
     * so MHD's arguments are not needed: end the query in MHD's buffer
     * (which MHD is about to cut up in place anyway) and it parses none. */
    char *q = strchr((char *)(uintptr_t)uri, '?');
    if (q && q[1])
        q[1] = '\0';
    req->h = h;
    req->raw_target = raw;
    req->raw_target_len = n;
    req->raw_target_at = uri;
    req->refs = 1; /* the MHD request's, until the completion callback */
    req->fd = -1;
    req->extra_tail = &req->extra;
    req->phase = GW_PH_NEW;
    pthread_mutex_lock(&h->mu);
    h->live++;
    pthread_mutex_unlock(&h->mu);
    return req;
}

/* Fields of a usual request fit here; more go to the heap. */
#define FIELDS_INLINE 32

struct field_list {
    gw_head_field *items; /* MHD's own pointers, for the in-place walk */
    gw_head_field inline_items[FIELDS_INLINE];
    size_t n;
    size_t cap;
    size_t bytes;   /* total name and value bytes */
    size_t entries; /* MHD list entries of every kind */
    size_t cookie_bytes;
    bool oom;
};

static void
field_list_free(struct field_list *l)
{
    if (l->items != l->inline_items)
        free(l->items);
}

static enum MHD_Result
collect_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
              const char *value, size_t value_size)
{
    struct field_list *l = cls;
    l->entries++;
    if (kind != MHD_HEADER_KIND)
        return MHD_YES;
    if (l->n == l->cap) {
        size_t cap = 2 * l->cap;
        bool heap = l->items != l->inline_items;
        gw_head_field *items = realloc(heap ? l->items : NULL, cap * sizeof(*items));
        if (!items) {
            l->oom = true;
            return MHD_NO;
        }
        if (!heap)
            memcpy(items, l->items, l->n * sizeof(*items));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (gw_head_field){key, key_size, value ? value : "", value ? value_size : 0};
    l->bytes += key_size + (value ? value_size : 0) + 2;
    if (key_size == 6 && strncasecmp(key, "cookie", 6) == 0)
        l->cookie_bytes += value_size + 1;
    return MHD_YES;
}

static bool
in_block(const char *p, const char *block, size_t size)
{
    uintptr_t x = (uintptr_t)p, b = (uintptr_t)block;
    return x >= b && x <= b + size;
}

/* Only NUL bytes in [p, q), at least `min` and at most `max` of them. */
static bool
nul_gap(const char *p, const char *q, size_t min, size_t max)
{
    if ((uintptr_t)q < (uintptr_t)p || (size_t)(q - p) < min || (size_t)(q - p) > max)
        return false;
    for (; p < q; p++)
        if (*p)
            return false;
    return true;
}

/*
 * Did libmicrohttpd skip bytes of the head? 0.9.75 parses the head in place
 * in its read buffer: the block starts at the method, the request line,
 * each field name and each value are C strings inside it, and their
 * terminators replaced the SP, ':' and CR LF bytes (a value's leading
 * whitespace is skipped, and its length is strlen()'s). So between the end
 * of one string and the start of the next only those replacements may lie.
 * Anything else is data the parser did not hand over: a NUL that cut a
 * name or value short ("key\0junk"), or a field that obs-fold moved out of
 * the block. The walk needs the version string (the last of the request
 * line) and the fields in arrival order; header_size is MHD's own count.
 */
static bool
head_hides_bytes(const char *block, size_t size, const char *version, const gw_head_field *f,
                 size_t n)
{
    const char *end = block + size;
    if (!version || !in_block(version, block, size))
        return true;
    const char *p = version + strlen(version);
    for (size_t i = 0; i < n; i++) {
        const char *name = f[i].name, *value = f[i].value;
        if (!in_block(name, block, size) || !in_block(value, block, size))
            return true;
        if (!nul_gap(p, name, 1, 2)) /* CR LF or a bare LF */
            return true;
        p = name + f[i].name_len;
        if (p >= end || *p) /* the colon */
            return true;
        for (p++; p < value && (*p == ' ' || *p == '\t'); p++) {
        }
        if (p != value)
            return true;
        p = value + f[i].value_len;
    }
    /* The last line's terminator and the blank line's. */
    return !nul_gap(p, end, 2, 4);
}

/* Copy what the routes may read from any thread, and judge the head. */
static int
req_fill(gw_http_req *req, struct MHD_Connection *c, const char *method, const char *version)
{
    gw_http *h = req->h;
    struct field_list l = {0};
    l.items = l.inline_items;
    l.cap = FIELDS_INLINE;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND,
                                collect_field, &l);
    if (l.oom) {
        field_list_free(&l);
        return LINGMA_ENOMEM;
    }

    /* One block: the field array, then method, version, names and values. */
    size_t mlen = strlen(method), vlen = version ? strlen(version) : 0;
    size_t fields = (l.n ? l.n : 1) * sizeof(*req->hdrs);
    req->hdrs = malloc(fields + l.bytes + mlen + vlen + 2);
    if (!req->hdrs) {
        field_list_free(&l);
        return LINGMA_ENOMEM;
    }
    char *w = (char *)req->hdrs + fields;
    req->method = memcpy(w, method, mlen + 1);
    w += mlen + 1;
    req->version = memcpy(w, version ? version : "", vlen + 1);
    w += vlen + 1;
    for (size_t i = 0; i < l.n; i++) {
        gw_head_field *d = &req->hdrs[i];
        d->name = memcpy(w, l.items[i].name, l.items[i].name_len);
        w[l.items[i].name_len] = '\0';
        w += l.items[i].name_len + 1;
        d->name_len = l.items[i].name_len;
        d->value = memcpy(w, l.items[i].value, l.items[i].value_len);
        w[l.items[i].value_len] = '\0';
        w += l.items[i].value_len + 1;
        d->value_len = l.items[i].value_len;
    }
    req->nhdrs = l.n;

    /* The block's size and layout, from MHD itself. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t block = ci ? ci->header_size : 0;
    bool hidden = !ci || head_hides_bytes(method, block, version, l.items, l.n);

    /* A NUL inside the target cut the copy made in uri_seen short: the
     * target really ends where the version's separator lies. */
    if (version && in_block(version, method, block) &&
        in_block(req->raw_target_at, method, block) && version > req->raw_target_at &&
        (size_t)(version - 1 - req->raw_target_at) != req->raw_target_len) {
        char *t = realloc(req->raw_target, req->raw_target_len + 2);
        if (!t) {
            field_list_free(&l);
            return LINGMA_ENOMEM;
        }
        t[req->raw_target_len++] = '\0'; /* keep the evidence for the check */
        t[req->raw_target_len] = '\0';
        req->raw_target = t;
    }

    gw_head head = {
        .method = req->method,
        .version = req->version,
        .version_len = strlen(req->version),
        .target = req->raw_target,
        .target_len = req->raw_target_len,
        .fields = req->hdrs,
        .nfields = req->nhdrs,
        .block_size = block + l.entries * MHD_ENTRY_BYTES + (l.cookie_bytes + 15) / 16 * 16,
        .hidden_bytes = hidden,
    };
    field_list_free(&l);
    req->verdict = gw_head_check(&head, head_limit(h));
    for (size_t i = 0; i < req->nhdrs; i++) {
        const gw_head_field *f = &req->hdrs[i];
        if ((strcasecmp(f->name, "content-length") == 0 && strcmp(f->value, "0") != 0) ||
            strcasecmp(f->name, "transfer-encoding") == 0)
            req->body_declared = true;
    }
    if (req->verdict == GW_HEAD_OK) {
        int rc = gw_target_parse(&req->target, req->raw_target, req->raw_target_len);
        if (rc == LINGMA_EINVAL)
            req->verdict = GW_HEAD_BAD_TARGET; /* not reached: the check covers it */
        else if (rc != LINGMA_OK)
            return rc;
    }
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    req->fd = fdi ? fdi->connect_fd : -1;
    req->conn = c;
    return LINGMA_OK;
}

/* Answering --------------------------------------------------------------- */

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

/* A 503 for a request that gw_http_stop overtook while it waited or was
 * being handled (mu not held): nothing would resume it any more. */
static enum MHD_Result
queue_shutting_down(gw_http *h, gw_http_req *req, struct MHD_Connection *c)
{
    struct MHD_Response *e =
        gw_http__error_response(h, req, 503, "shutting_down", "server is shutting down");
    if (!e)
        return MHD_NO;
    pthread_mutex_lock(&h->mu);
    gw_http__apply_extra_locked(req, e);
    pthread_mutex_unlock(&h->mu);
    return queue(req, c, e, 503, false);
}

/* Take the route's reference back from a request the handler will never
 * see (mu not held). */
static void
unroute(gw_http_req *req)
{
    bool drop = false;
    pthread_mutex_lock(&req->h->mu);
    if (req->route_owns && req->phase == GW_PH_BODY) {
        req->route_owns = false;
        drop = true;
    }
    pthread_mutex_unlock(&req->h->mu);
    if (drop)
        gw_http__req_release(req);
}

/* The request's fate is sealed: no handler will run for it. */
static void
seal_refused(gw_http_req *req)
{
    pthread_mutex_lock(&req->h->mu);
    req->fate = GW_FATE_REFUSED;
    pthread_mutex_unlock(&req->h->mu);
}

/* Answer with the engine's own error (the route never sees the request).
 * `close`: the connection must not carry another request. */
static enum MHD_Result
refuse(gw_http_req *req, struct MHD_Connection *c, unsigned status, const char *code,
       const char *message, bool close)
{
    gw_http *h = req->h;
    seal_refused(req);
    unroute(req);
    struct MHD_Response *r = gw_http__error_response(h, req, status, code, message);
    if (!r)
        return MHD_NO;
    pthread_mutex_lock(&h->mu);
    if (status == 413)
        h->st.rejected_413++;
    h->st.refused_total++;
    gw_http__apply_extra_locked(req, r);
    pthread_mutex_unlock(&h->mu);
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return queue(req, c, r, status, false);
}

/* Hand the client's socket to the lingerer (linger.h) through a dup of its
 * fd, so that MHD may close its own: a refusal must not be lost to the
 * reset a close with unread request bytes sends. */
static void
linger_over(gw_http_req *req)
{
    if (req->fd < 0)
        return;
    int d = fcntl(req->fd, F_DUPFD_CLOEXEC, 0);
    if (d >= 0)
        gw_linger_add(req->h->linger, d);
    else
        shutdown(req->fd, SHUT_WR);
}

/* The 431 goes straight to the socket: the head filled the connection's
 * memory pool, so libmicrohttpd could not build the answer's headers there
 * and would close without a word. Nothing else has been written on this
 * connection since the previous answer was handed to the kernel (MHD reads
 * the next request only then), so a short, complete response fits the
 * socket buffer; the write side is shut after it, and MHD then closes. */
static enum MHD_Result
refuse_direct(gw_http_req *req, unsigned status, const char *code, const char *message)
{
    gw_http *h = req->h;
    seal_refused(req);
    unroute(req);
    size_t blen = 0;
    const char *ctype = NULL;
    char *body = h->opts.error_body ? h->opts.error_body(req, (int)status, code, message, &blen,
                                                         &ctype, h->opts.payload)
                                    : NULL;
    if (!body || !ctype) {
        free(body);
        body = NULL;
        blen = 0;
        ctype = "text/plain; charset=utf-8";
    }
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);

    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %u %s\r\nDate: %s\r\nConnection: close\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n",
                     status, MHD_get_reason_phrase_for(status), date, ctype, blen);
    pthread_mutex_lock(&h->mu);
    h->st.refused_total++;
    for (struct gw_extra_header *e = req->extra; e && n > 0 && (size_t)n < sizeof(head);
         e = e->next)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "%s: %s\r\n", e->name, e->value);
    pthread_mutex_unlock(&h->mu);
    if (n > 0 && (size_t)n + 2 < sizeof(head)) {
        memcpy(head + n, "\r\n", 2);
        n += 2;
        struct iovec iov[2] = {{head, (size_t)n}, {body, blen}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = body ? 2 : 1};
        if (req->fd >= 0 && sendmsg(req->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            gw_http__log(h, LINGMA_LOG_INFO, "request %llu: %u not sent: %s",
                         (unsigned long long)req->id, status, strerror(errno));
    }
    free(body);
    linger_over(req);
    return MHD_NO;
}

static bool
content_length_over(const gw_http_req *req, size_t max, size_t *cl_out)
{
    /* The head check made sure there is at most one, and that it is
     * 1*DIGIT; strtoull saturates a longer one, which is over any limit. */
    *cl_out = 0;
    for (size_t i = 0; i < req->nhdrs; i++) {
        if (strcasecmp(req->hdrs[i].name, "content-length") != 0)
            continue;
        uint64_t v = strtoull(req->hdrs[i].value, NULL, 10);
        *cl_out = v <= max ? (size_t)v : 0;
        return v > max;
    }
    return false;
}

/*
 * The first access-handler call: the head is complete, the body not read.
 * This is the one place where a request's fate is decided, in this order:
 * the engine's own checks (size, header syntax, framing, target: see
 * http_head.h), shutdown, the route's on_headers (which may answer: 401,
 * 404, 405...), the body limit. A request refused here never reaches the
 * handler, whatever its client does with the socket afterwards: the
 * decision is recorded (fate) before any answer is queued, and an answer
 * decided here is sent even to a client that already half-closed.
 */
static enum MHD_Result
first_call(gw_http *h, gw_http_req *req, struct MHD_Connection *c, const char *method,
           const char *version)
{
    req->conn = c;
    int rc = req_fill(req, c, method, version);
    const union MHD_ConnectionInfo *si =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct gw_http_sock *sock = si ? si->socket_context : NULL;
    if (rc == LINGMA_OK && !sock)
        rc = LINGMA_ENOMEM; /* sock_notify could not allocate it */

    pthread_mutex_lock(&h->mu);
    req->id = ++h->next_id;
    req->phase = GW_PH_BODY;
    h->st.requests_total++;
    h->st.requests_active++;
    gw_http__req_register_locked(req);
    /* Watched from the start, not only while suspended: MHD 0.9.75 can also
     * miss a FIN that arrives together with the last body bytes, leaving the
     * connection in CLOSE-WAIT until the idle timeout. The connection is
     * watched since MHD accepted it (sock_notify); from here on a hang-up
     * concerns this request. */
    if (rc == LINGMA_OK) {
        req->sock = sock;
        gw_http__sock_attach_locked(req);
    }
    bool draining = h->draining;
    pthread_mutex_unlock(&h->mu);
    if (rc != LINGMA_OK) {
        gw_http__log(h, LINGMA_LOG_ERROR, "request %llu: out of memory reading its head",
                     (unsigned long long)req->id);
        seal_refused(req);
        return MHD_NO;
    }

    if (h->opts.on_request)
        h->opts.on_request(req, h->opts.payload);

    if (req->verdict != GW_HEAD_OK) {
        unsigned status = (unsigned)gw_head_verdict_status(req->verdict);
        const char *code = gw_head_verdict_code(req->verdict);
        const char *msg = gw_head_verdict_message(req->verdict);
        if (req->verdict == GW_HEAD_TOO_LARGE)
            return refuse_direct(req, status, code, msg);
        return refuse(req, c, status, code, msg, true);
    }
    if (draining)
        return refuse(req, c, 503, "shutting_down", "server is shutting down", true);

    pthread_mutex_lock(&h->mu);
    req->route_owns = true; /* lent to on_headers, then to the handler */
    req->refs++;
    pthread_mutex_unlock(&h->mu);

    if (h->opts.on_headers)
        h->opts.on_headers(req, h->opts.payload);

    pthread_mutex_lock(&h->mu);
    bool answered = !req->route_owns; /* on_headers finished the request */
    struct MHD_Response *r = req->resp;
    unsigned status = req->resp_status;
    req->resp = NULL;
    if (answered)
        req->fate = GW_FATE_REFUSED;
    pthread_mutex_unlock(&h->mu);
    if (answered) {
        if (r)
            return queue(req, c, r, status, false);
        return MHD_NO; /* no answer could be built: close */
    }

    size_t cl;
    if (content_length_over(req, h->opts.max_body, &cl)) {
        req->too_large = true;
        return refuse(req, c, 413, "request_too_large", "request body too large", true);
    }
    bool chunked = gw_http_req_header(req, "transfer-encoding") != NULL;
    pthread_mutex_lock(&h->mu);
    /* quiesce closes the uploads it finds routed (close_unrouted_uploads);
     * one routed after its walk would escape it and could hold the drain
     * for as long as its client stalls. Both sides look under mu, so every
     * upload is caught by one of them; this one is told, with a 503. */
    bool late_upload = h->quiesced && (chunked || cl > 0);
    if (!late_upload) {
        req->fate = GW_FATE_ROUTED;
        req->body_expected = chunked ? -1 : (int64_t)cl;
        /* A hang-up seen before now found no body to wait for. */
        if (req->sock && req->sock->hup)
            (void)gw_http__req_hangup_locked(req);
    }
    pthread_mutex_unlock(&h->mu);
    if (late_upload)
        return refuse(req, c, 503, "shutting_down", "server is shutting down", true);
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

/* The last access-handler call of a routed request: the body is in. */
static enum MHD_Result
dispatch(gw_http *h, gw_http_req *req, struct MHD_Connection *c)
{
    if (req->fate != GW_FATE_ROUTED) {
        /* MHD does not call again after a queued answer; an unanswered
         * refusal (out of memory) has nothing more to say. */
        return MHD_NO;
    }
    if (req->too_large)
        return refuse(req, c, 413, "request_too_large", "request body too large", true);
    if (req->body_oom)
        return refuse(req, c, 500, "internal_error", "out of memory", true);

    /* A client that half-closed right after its request is decided here,
     * not by whichever of the watcher and the handler runs first: the
     * handler still runs (a synchronous answer reaches such a client),
     * but a pending request of a gone client is closed below. */
    bool half_closed = gw_http__client_half_closed(req->fd);
    pthread_mutex_lock(&h->mu);
    req->phase = GW_PH_HANDLER;
    if (half_closed)
        gw_http__req_gone_locked(req, false);
    pthread_mutex_unlock(&h->mu);

    gw_http_action act = h->opts.handler(req, h->opts.payload);

    pthread_mutex_lock(&h->mu);
    struct MHD_Response *r = req->resp;
    if (r) {
        unsigned status = req->resp_status;
        bool stream = req->resp_stream;
        req->resp = NULL;
        if (stream && req->gone) {
            /* A stream for a client that left while the handler ran: the
             * route still owns it and learns of it from the completion. */
            req->phase = GW_PH_WAITING;
            pthread_mutex_unlock(&h->mu);
            MHD_destroy_response(r);
            return MHD_NO;
        }
        pthread_mutex_unlock(&h->mu);
        /* A synchronous answer goes out even to a client that half-closed:
         * it asked, and reading the answer is still possible. */
        return queue(req, c, r, status, stream);
    }
    if (act == GW_HTTP_DONE && req->route_owns) {
        req->route_owns = false;
        pthread_mutex_unlock(&h->mu);
        gw_http__log(h, LINGMA_LOG_ERROR, "%s %s: handler returned without an answer", req->method,
                     gw_http_req_path(req));
        r = gw_http__error_response(h, req, 500, "internal_error", "internal error");
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
        return queue_shutting_down(h, req, c);
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
        return queue_shutting_down(h, req, c);
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
    (void)url; /* MHD's decoded copy; the engine decodes the raw target itself */

    if (!req)
        return MHD_NO; /* uri_seen ran out of memory */
    if (req->phase == GW_PH_NEW)
        return first_call(h, req, c, method, version);
    if (*upload_size > 0) {
        if (req->phase == GW_PH_BODY && req->fate == GW_FATE_ROUTED) {
            body_append(req, upload_data, *upload_size);
            pthread_mutex_lock(&h->mu);
            req->body_arrived += *upload_size;
            pthread_mutex_unlock(&h->mu);
        }
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
    if (req->phase == GW_PH_NEW) {
        /* libmicrohttpd answered (or dropped) it before the head was
         * complete: an answer of its own, which the engine cannot see. */
        h->st.engine_answered++;
        pthread_mutex_unlock(&h->mu);
        gw_http__req_release(req);
        return;
    }
    if (req->sock) {
        req->sock->req = NULL;
        req->sock = NULL;
    }
    /* A refusal sent while the client may still be sending its body: let
     * the socket linger (MHD closes its fd right after this callback). */
    bool linger = req->fate == GW_FATE_REFUSED && req->body_declared &&
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->completed;
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
    if (linger)
        linger_over(req);
    if (notify)
        gw_http__req_call_gone(req);
    if (drop_route)
        gw_http__req_release(req);
    gw_http__req_release(req);
}

/* MHD_OPTION_NOTIFY_CONNECTION: a client connection opens or closes. The
 * watcher watches it for its whole life, whatever number of requests it
 * carries. MHD 0.9.75 calls this with STARTED after accepting (the fd
 * known) and with CLOSED before it closes the fd, always on its own
 * thread; the completion callback of the connection's last request runs
 * before CLOSED. */
static void
sock_notify(void *cls, struct MHD_Connection *c, void **socket_context,
            enum MHD_ConnectionNotificationCode code)
{
    gw_http *h = cls;
    struct gw_http_sock *s = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        s = calloc(1, sizeof(*s));
        *socket_context = s;
        if (!s)
            return; /* its requests are refused in first_call */
        const union MHD_ConnectionInfo *fdi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        s->h = h;
        s->fd = fdi ? fdi->connect_fd : -1;
        pthread_mutex_lock(&h->mu);
        s->id = ++h->next_id;
        gw_http__sock_register_locked(s);
        pthread_mutex_unlock(&h->mu);
        if (s->fd < 0 || !h->watch)
            return;
        if (gw_watch_add(h->watch, s->fd, s->id) == LINGMA_OK)
            s->watched = true;
        else
            gw_http__log(h, LINGMA_LOG_WARN, "connection %llu: cannot watch fd %d: %s",
                         (unsigned long long)s->id, s->fd, strerror(errno));
        return;
    }
    if (!s)
        return;
    *socket_context = NULL;
    /* Before MHD closes the fd, so that a reused fd is never confused
     * with this one; an event the watcher fetched already finds no id. */
    if (s->watched)
        gw_watch_del(h->watch, s->fd);
    pthread_mutex_lock(&h->mu);
    gw_http__sock_unregister_locked(s);
    if (s->req)
        s->req->sock = NULL; /* not reached: the request completed first */
    pthread_mutex_unlock(&h->mu);
    free(s);
}

/* Lifecycle --------------------------------------------------------------- */

/*
 * The nudge. libmicrohttpd 0.9.75 (and its later versions: the loop is
 * unchanged upstream) drains its epoll set in batches of 128 events, and
 * after a full batch waits again with the timeout it computed before the
 * first one. When exactly 128 (or 256, ...) sockets were ready at once,
 * that extra wait blocks until some other event or the earliest connection
 * timeout (60 s by default, for ever without one), while the ready
 * connections sit in MHD's list, unserved. A burst of keep-alive requests
 * from that many clients does it: lingma-bench at concurrency 256 on a
 * loaded machine saw all 256 requests unread in the kernel while MHD slept.
 * The engine puts an eventfd of its own in MHD's epoll set, edge-triggered
 * and with a NULL data pointer (MHD skips such events), and the watcher
 * writes it every tick: such a wait then ends within NUDGE_MS.
 */
static void
nudge_open(gw_http *h)
{
    int fd = -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (di && di->epoll_fd >= 0) {
        fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN | EPOLLET;
        ev.data.ptr = NULL;
        if (fd >= 0 && epoll_ctl(di->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        gw_http__log(h, LINGMA_LOG_WARN,
                     "cannot add a wake-up to the HTTP event loop: a burst of requests may "
                     "stall it");
    pthread_mutex_lock(&h->mu);
    h->nudge_fd = fd;
    pthread_mutex_unlock(&h->mu);
}

void
gw_http__nudge_locked(gw_http *h)
{
    uint64_t one = 1;
    /* A failure (counter full, never in practice) only skips one nudge. */
    if (h->nudge_fd >= 0 && write(h->nudge_fd, &one, sizeof(one)) < 0)
        return;
}

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

    unsigned tick = NUDGE_MS;
    if (h->opts.heartbeat_ms > 0) {
        unsigned hb = h->opts.heartbeat_ms / 4;
        h->heartbeat_every_ms = hb < 10 ? 10 : hb > 1000 ? 1000 : hb;
        if (h->heartbeat_every_ms < tick)
            tick = h->heartbeat_every_ms;
    }
    h->tick_ms = tick;
    gw_watch_ops ops = {gw_http__on_hangup, gw_http__on_tick};
    if (gw_watch_new(&h->watch, &ops, tick, h) != LINGMA_OK) {
        gw_http__log(h, LINGMA_LOG_ERROR, "cannot start the watcher thread");
        return LINGMA_EIO;
    }
    if (gw_linger_new(&h->linger, LINGER_MAX_SOCKETS, LINGER_MS) != LINGMA_OK) {
        gw_http__log(h, LINGMA_LOG_ERROR, "cannot start the linger thread");
        gw_watch_free(h->watch);
        h->watch = NULL;
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
                                 request_completed, h, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, h,
                                 MHD_OPTION_NOTIFY_CONNECTION, sock_notify, h, MHD_OPTION_END);
    if (!h->daemon) {
        gw_http__log(h, LINGMA_LOG_ERROR, "cannot listen on %s:%u", h->host, h->opts.port);
        gw_watch_free(h->watch);
        h->watch = NULL;
        gw_linger_free(h->linger);
        h->linger = NULL;
        return LINGMA_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : h->opts.port;
    nudge_open(h);
    h->started = true;
    return LINGMA_OK;
}

/* An upload still arriving when the engine drains has not reached a route
 * and would only get a 503 once complete; a stalled client may never
 * complete it, and waiting for it would hold the whole drain. Close it. */
static void
close_unrouted_uploads(gw_http *h)
{
    pthread_mutex_lock(&h->mu);
    for (unsigned b = 0; b < GW_HTTP_BUCKETS; b++)
        for (gw_http_req *r = h->buckets[b]; r; r = r->hnext)
            if (gw_http__body_missing_locked(r))
                gw_http__shutdown_socket_locked(r);
    pthread_mutex_unlock(&h->mu);
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
    close_unrouted_uploads(h);
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
    close_unrouted_uploads(h); /* also those begun since quiesce */

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
    gw_linger_free(h->linger);
    h->linger = NULL;
    pthread_mutex_lock(&h->mu);
    h->stopped = true;
    if (h->nudge_fd >= 0)
        close(h->nudge_fd);
    h->nudge_fd = -1;
    pthread_mutex_unlock(&h->mu);
}
