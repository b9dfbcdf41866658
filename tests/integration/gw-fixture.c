/* Test fixture for the gateway HTTP engine (see gw-fixture.h). */
#include "gw-fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

enum rq_kind { K_DEFERRED, K_REJECT, K_STREAM, K_STREAM_SYNC, K_IDLE, K_ONE, K_FLOOD, K_HANG };
enum job_op { OP_START, OP_STEP, OP_GONE, OP_SHUTDOWN };

/* The route's per-request state; owned by the worker thread. */
struct rq {
    struct fx *f;
    gw_http_req *req;
    gw_stream *s;
    enum rq_kind kind;
    int n, i;
    bool finished;
    int pending; /* jobs that still reference it (f->mu) */
};

struct fx_job {
    struct fx_job *next;
    struct rq *rq;
    enum job_op op;
};

static const char error_event[] =
    "data: {\"error\":{\"message\":\"server shutting down\",\"type\":\"server_error\","
    "\"param\":null,\"code\":null}}\n\n";
static const char done_event[] = "data: [DONE]\n\n";

unsigned
fx_ms(unsigned ms)
{
    const char *v = getenv("LINGMA_UNDER_VALGRIND");
    return v && *v == '1' ? ms * 10 : ms;
}

double
fx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
post_locked(struct fx *f, struct rq *rq, enum job_op op)
{
    struct fx_job *j = calloc(1, sizeof(*j));
    if (!j) {
        f->unexpected++;
        return;
    }
    j->rq = rq;
    j->op = op;
    rq->pending++;
    if (f->tail)
        f->tail->next = j;
    else
        f->head = j;
    f->tail = j;
    pthread_cond_broadcast(&f->cond);
}

static void
post(struct fx *f, struct rq *rq, enum job_op op)
{
    pthread_mutex_lock(&f->mu);
    post_locked(f, rq, op);
    pthread_mutex_unlock(&f->mu);
}

static void
bump(struct fx *f, int *counter, int by)
{
    pthread_mutex_lock(&f->mu);
    *counter += by;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static bool
is_stream(const struct rq *rq)
{
    return rq->s != NULL;
}

/* The engine's word on a deferred answer, before the client can see it. */
static void
on_decided(int rc, void *payload)
{
    struct fx *f = payload;
    (void)rc;
    atomic_fetch_add(&f->decided, 1);
}

/* Finish the request (worker thread), counting what the engine reported. */
static void
finish(struct rq *rq, int status, const char *body)
{
    struct fx *f = rq->f;
    int rc;
    if (rq->finished)
        return;
    rq->finished = true;
    if (is_stream(rq))
        rc = gw_stream_end(rq->s);
    else
        rc = gw_http_respond_then(rq->req, status, NULL, body, strlen(body), on_decided, f);
    if (rc == LINGMA_ECANCELED)
        bump(f, &f->late_canceled, 1);
    bump(f, &f->finished, 1);
}

static bool
write_or_finish(struct rq *rq, const char *data, size_t len)
{
    int rc = gw_stream_write(rq->s, data, len);
    if (rc == LINGMA_OK)
        return true;
    struct fx *f = rq->f;
    bump(f, &f->write_errors, 1);
    if (rc == LINGMA_ECANCELED)
        bump(f, &f->late_canceled, 1);
    finish(rq, 0, "");
    return false;
}

static void
begin(struct rq *rq)
{
    int rc = gw_http_stream_begin(&rq->s, rq->req, 200, NULL);
    if (rc != LINGMA_OK && rq->s)
        finish(rq, 0, "");
    else if (rc != LINGMA_OK)
        bump(rq->f, &rq->f->unexpected, 1);
}

static void
run_job(struct fx *f, struct rq *rq, enum job_op op)
{
    char ev[64];
    if (rq->finished)
        return;
    switch (op) {
    case OP_START:
        switch (rq->kind) {
        case K_DEFERRED:
            finish(rq, 200, "later");
            break;
        case K_REJECT:
            finish(rq, 429, "busy");
            break;
        case K_STREAM:
            begin(rq);
            if (!rq->finished)
                post(f, rq, OP_STEP);
            break;
        case K_STREAM_SYNC:
            post(f, rq, OP_STEP);
            break;
        case K_IDLE:
            begin(rq);
            break;
        case K_ONE:
            begin(rq);
            if (!rq->finished && write_or_finish(rq, "data: first\n\n", 13))
                bump(f, &f->first_events, 1);
            break;
        case K_FLOOD: {
            begin(rq);
            static char big[16384];
            memset(big, 'x', sizeof(big));
            memcpy(big, "data: ", 6);
            memcpy(big + sizeof(big) - 2, "\n\n", 2);
            if (rq->finished || !write_or_finish(rq, "data: first\n\n", 13))
                break;
            /* Flood only once the client has stopped reading; a burst
             * before MHD drained anything would overflow just as well, but
             * then the test would not be about a slow client. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 20;
            pthread_mutex_lock(&f->mu);
            while (!f->flood_go && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT) {
            }
            pthread_mutex_unlock(&f->mu);
            /* Bounded: a paused client can absorb socket buffers only. */
            for (int i = 0; i < 32768 && !rq->finished; i++)
                write_or_finish(rq, big, sizeof(big));
            break;
        }
        case K_HANG:
            break;
        }
        break;
    case OP_STEP:
        snprintf(ev, sizeof(ev), "data: %d\n\n", rq->i);
        if (!write_or_finish(rq, ev, strlen(ev)))
            break;
        if (++rq->i >= rq->n)
            finish(rq, 0, "");
        else
            post(f, rq, OP_STEP); /* to the back: streams interleave */
        break;
    case OP_GONE:
        finish(rq, 200, "too late");
        break;
    case OP_SHUTDOWN:
        if (f->ignore_shutdown)
            break;
        if (is_stream(rq)) {
            if (write_or_finish(rq, error_event, sizeof(error_event) - 1) &&
                write_or_finish(rq, done_event, sizeof(done_event) - 1))
                finish(rq, 0, "");
        } else {
            finish(rq, 503, "shutting down");
        }
        break;
    }
}

static void *
worker_main(void *arg)
{
    struct fx *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        struct fx_job *j = f->head;
        if (!j) {
            if (f->worker_stop)
                break;
            pthread_cond_wait(&f->cond, &f->mu);
            continue;
        }
        f->head = j->next;
        if (!f->head)
            f->tail = NULL;
        pthread_mutex_unlock(&f->mu);
        struct rq *rq = j->rq;
        run_job(f, rq, j->op);
        free(j);
        pthread_mutex_lock(&f->mu);
        if (--rq->pending == 0 && rq->finished)
            free(rq);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Route callbacks ---------------------------------------------------------- */

static int
query_int(gw_http_req *req, const char *name, int dflt)
{
    const char *v = gw_http_req_query(req, name);
    return v ? atoi(v) : dflt;
}

static gw_http_action
handler(gw_http_req *req, void *payload)
{
    struct fx *f = payload;
    const char *path = gw_http_req_path(req);
    size_t blen;
    const char *body = gw_http_req_body(req, &blen);
    pthread_mutex_lock(&f->mu);
    f->handled++;
    f->body_seen += blen;
    pthread_mutex_unlock(&f->mu);

    if (strcmp(path, "/immediate") == 0) {
        gw_http_header hd[] = {{"X-Test", "1"}, {"Content-Type", "text/plain"}, {NULL, NULL}};
        gw_http_respond(req, 200, hd, "hello", 5);
        return GW_HTTP_DONE;
    }
    if (strcmp(path, "/echo") == 0) {
        const char *q = gw_http_req_query(req, "q");
        const char *flag = gw_http_req_query(req, "flag");
        const char *none = gw_http_req_query(req, "none");
        const char *xc = gw_http_req_header(req, "x-case");
        size_t cap = blen + 256;
        char *out = malloc(cap);
        if (!out)
            return GW_HTTP_DONE;
        int n = snprintf(out, cap,
                         "%s %s q=%s flag=%s none=%s case=%s len=%zu:", gw_http_req_method(req),
                         path, q ? q : "(null)", flag ? flag : "(null)", none ? none : "(null)",
                         xc ? xc : "(null)", blen);
        memcpy(out + n, body, blen);
        gw_http_req_body_drop(req);
        size_t left = 1;
        const char *after = gw_http_req_body(req, &left);
        pthread_mutex_lock(&f->mu);
        f->body_dropped += left == 0 && after[0] == '\0';
        pthread_mutex_unlock(&f->mu);
        gw_http_respond(req, 200, NULL, out, (size_t)n + blen);
        free(out);
        return GW_HTTP_DONE;
    }
    if (strcmp(path, "/bad") == 0)
        return GW_HTTP_DONE;
    if (strcmp(path, "/slow") == 0) {
        /* Hold the MHD thread until the test lets go (bounded). */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 10;
        pthread_mutex_lock(&f->mu);
        while (!f->release_slow && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&f->mu);
        const char *mode = gw_http_req_query(req, "mode");
        if (mode && strcmp(mode, "respond") == 0) {
            if (gw_http_respond(req, 200, NULL, "slow", 4) == LINGMA_ECANCELED)
                bump(f, &f->late_canceled, 1);
            return GW_HTTP_DONE;
        }
        path = "/hang";
    }

    struct rq *rq = calloc(1, sizeof(*rq));
    if (!rq) {
        gw_http_respond(req, 500, NULL, "oom", 3);
        return GW_HTTP_DONE;
    }
    rq->f = f;
    rq->req = req;
    rq->n = query_int(req, "n", 3);
    if (strcmp(path, "/deferred") == 0)
        rq->kind = K_DEFERRED;
    else if (strcmp(path, "/reject") == 0)
        rq->kind = K_REJECT;
    else if (strcmp(path, "/stream") == 0)
        rq->kind = K_STREAM;
    else if (strcmp(path, "/stream-sync") == 0)
        rq->kind = K_STREAM_SYNC;
    else if (strcmp(path, "/stream-idle") == 0)
        rq->kind = K_IDLE;
    else if (strcmp(path, "/stream-one") == 0)
        rq->kind = K_ONE;
    else if (strcmp(path, "/flood") == 0)
        rq->kind = K_FLOOD;
    else if (strcmp(path, "/hang") == 0)
        rq->kind = K_HANG;
    else {
        free(rq);
        gw_http_respond(req, 404, NULL, "not found", 9);
        return GW_HTTP_DONE;
    }
    gw_http_req_set_user(req, rq, NULL);
    if (rq->kind == K_STREAM_SYNC && gw_http_stream_begin(&rq->s, req, 200, NULL) != LINGMA_OK)
        bump(f, &f->unexpected, 1);
    post(f, rq, OP_START);
    return GW_HTTP_PENDING;
}

static void
on_headers(gw_http_req *req, void *payload)
{
    struct fx *f = payload;
    char id[32];
    snprintf(id, sizeof(id), "req-%llu", (unsigned long long)gw_http_req_id(req));
    gw_http_req_add_header(req, "x-request-id", id);
    pthread_mutex_lock(&f->mu);
    f->headers_seen++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    if (strcmp(gw_http_req_path(req), "/held-head") == 0) {
        /* Holds the engine between the route's look at the head and the
         * request's routing, for what may happen in between. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 10;
        pthread_mutex_lock(&f->mu);
        while (!f->release_held && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&f->mu);
    }
    if (strcmp(gw_http_req_path(req), "/early") == 0) {
        gw_http_header hd[] = {{"WWW-Authenticate", "Bearer"}, {NULL, NULL}};
        gw_http_respond(req, 401, hd, "no", 2);
    }
}

static void
on_gone(gw_http_req *req, void *payload)
{
    struct fx *f = payload;
    struct rq *rq = gw_http_req_user(req);
    pthread_mutex_lock(&f->mu);
    f->gone++;
    if (rq && rq->req == req)
        post_locked(f, rq, OP_GONE);
    else
        f->unexpected++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void
on_shutdown(gw_http_req *req, void *payload)
{
    struct fx *f = payload;
    struct rq *rq = gw_http_req_user(req);
    pthread_mutex_lock(&f->mu);
    f->shutdowns++;
    if (rq)
        post_locked(f, rq, OP_SHUTDOWN);
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

static void
fx_log(lingma_log_level level, const char *msg, void *payload)
{
    (void)payload;
    if (level <= LINGMA_LOG_WARN || getenv("GW_TEST_VERBOSE"))
        fprintf(stderr, "gw_http[%d]: %s\n", (int)level, msg);
}

gw_http_options
fx_options(void)
{
    gw_http_options o = GW_HTTP_OPTIONS_INIT;
    o.heartbeat_ms = 0;
    o.handler = handler;
    o.on_headers = on_headers;
    o.on_gone = on_gone;
    o.on_shutdown = on_shutdown;
    o.log = fx_log;
    return o;
}

int
fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    *state = f;
    return 0;
}

/* A set of transfers from fx_xfers. */
struct fx_xfers {
    struct fx_xfers *next;
    size_t n;
    struct fx_xfer x[];
};

int
fx_teardown(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    if (f->h) {
        /* The test ended with the engine running (it failed): let every
         * held handler and producer go so that the stop is quick. */
        pthread_mutex_lock(&f->mu);
        f->release_slow = true;
        f->release_held = true;
        f->flood_go = true;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->mu);
        fx_stop(f, 0);
    }
    /* The engine is gone, so the client thread's transfers end at once. */
    fx_clients_join(f);
    while (f->xfers) {
        struct fx_xfers *set = f->xfers;
        f->xfers = set->next;
        for (size_t i = 0; i < set->n; i++)
            fx_xfer_cleanup(&set->x[i]);
        free(set);
    }
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *state = NULL;
    return 0;
}

int
fx_start(struct fx *f, const gw_http_options *opts)
{
    /* A fresh run: everything from `h` on (gw-fixture.h). */
    memset((char *)f + offsetof(struct fx, h), 0, sizeof(*f) - offsetof(struct fx, h));
    gw_http_options o = *opts;
    o.payload = f;
    int rc = gw_http_new(&f->h, &o);
    if (rc == LINGMA_OK)
        rc = gw_http_start(f->h);
    if (rc == LINGMA_OK)
        rc = pthread_create(&f->worker, NULL, worker_main, f) == 0 ? LINGMA_OK : LINGMA_ERROR;
    if (rc != LINGMA_OK) {
        gw_http_free(f->h);
        f->h = NULL;
        return rc;
    }
    f->port = gw_http_port(f->h);
    return LINGMA_OK;
}

void
fx_stop(struct fx *f, unsigned grace_ms)
{
    gw_http_stop(f->h, grace_ms);
    pthread_mutex_lock(&f->mu);
    f->worker_stop = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->worker, NULL);
    gw_http_free(f->h);
    f->h = NULL;
}

int
fx_wait(struct fx *f, const int *counter, int target, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = fx_ms(ms);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    while (*counter < target && pthread_cond_timedwait(&f->cond, &f->mu, &ts) != ETIMEDOUT) {
    }
    int v = *counter;
    pthread_mutex_unlock(&f->mu);
    return v;
}

int
fx_get(struct fx *f, const int *counter)
{
    pthread_mutex_lock(&f->mu);
    int v = *counter;
    pthread_mutex_unlock(&f->mu);
    return v;
}

bool
fx_wait_stat(struct fx *f, size_t offset, uint64_t target, unsigned ms)
{
    double end = fx_now() + fx_ms(ms) / 1000.0;
    for (;;) {
        gw_http_stats st;
        gw_http_get_stats(f->h, &st);
        uint64_t v;
        memcpy(&v, (const char *)&st + offset, sizeof(v));
        if (v == target)
            return true;
        if (fx_now() > end)
            return false;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Client side ------------------------------------------------------------- */

static bool
grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        return false;
    *buf = b;
    *cap = c;
    return true;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct fx_xfer *x = arg;
    size_t n = size * nmemb;
    if (x->o.pause_at_data && !x->paused) {
        x->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!grow(&x->body, &x->cap, x->len + n + 1))
        return 0;
    size_t from = x->len;
    memcpy(x->body + x->len, data, n);
    x->len += n;
    x->body[x->len] = '\0';
    /* Split events on blank lines as they arrive (chunk boundaries are
     * arbitrary); ": ping" comments are counted apart. */
    for (size_t i = from ? from : 1; i < x->len; i++) {
        if (x->body[i] != '\n' || x->body[i - 1] != '\n' || i - 1 < x->ev_start)
            continue;
        size_t start = x->ev_start;
        if (i + 1 - start == 8 && memcmp(x->body + start, ": ping\n\n", 8) == 0)
            x->pings++;
        else
            x->events++;
        x->ev_start = i + 1;
    }
    if (x->o.abort_after_events && x->events >= x->o.abort_after_events)
        return 0;
    if (x->o.abort_after_pings && x->pings >= x->o.abort_after_pings)
        return 0;
    return n;
}

static size_t
on_head(char *data, size_t size, size_t nmemb, void *arg)
{
    struct fx_xfer *x = arg;
    size_t n = size * nmemb;
    if (!grow(&x->head, &x->hcap, x->hlen + n + 1))
        return 0;
    memcpy(x->head + x->hlen, data, n);
    x->hlen += n;
    x->head[x->hlen] = '\0';
    if (n >= 12 && strncmp(data, "HTTP/", 5) == 0)
        x->status = strtol(data + 9, NULL, 10);
    if (x->o.abort_at_headers && n == 2 && data[0] == '\r' && x->status >= 200)
        return 0;
    return n;
}

static size_t
on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct fx_xfer *x = arg;
    size_t n = size * nmemb;
    if (x->o.abort_upload_after && x->sent >= x->o.abort_upload_after) {
        /* Leave only once the engine has the request (bounded): else MHD
         * may drop the connection before any callback, a different case. */
        fx_wait(x->f, &x->f->headers_seen, 1, 5000);
        return CURL_READFUNC_ABORT;
    }
    size_t left = x->o.chunked_len - x->sent;
    if (n > left)
        n = left;
    memset(buf, 'c', n);
    x->sent += n;
    return n;
}

void
fx_xfer_init(struct fx_xfer *x, struct fx *f, const char *path, const struct fx_client_opts *o)
{
    memset(x, 0, sizeof(*x));
    x->f = f;
    if (o)
        x->o = *o;
    snprintf(x->url, sizeof(x->url), "http://127.0.0.1:%u%s", f->port, path);
    x->e = curl_easy_init();
    curl_easy_setopt(x->e, CURLOPT_URL, x->url);
    curl_easy_setopt(x->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, on_head);
    curl_easy_setopt(x->e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->e, CURLOPT_TIMEOUT_MS, x->o.timeout_ms ? x->o.timeout_ms : 20000L);
    if (x->o.header)
        x->hdrs = curl_slist_append(x->hdrs, x->o.header);
    if (x->o.body) {
        curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, x->o.body);
        curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->o.body_len);
    } else if (x->o.chunked_len) {
        curl_easy_setopt(x->e, CURLOPT_POST, 1L);
        curl_easy_setopt(x->e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(x->e, CURLOPT_READDATA, x);
        if (x->o.abort_upload_after)
            curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->o.chunked_len);
        else
            x->hdrs = curl_slist_append(x->hdrs, "Transfer-Encoding: chunked");
    }
    if (x->o.method)
        curl_easy_setopt(x->e, CURLOPT_CUSTOMREQUEST, x->o.method);
    if (x->hdrs)
        curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdrs);
}

void
fx_xfer_cleanup(struct fx_xfer *x)
{
    curl_easy_cleanup(x->e);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    free(x->head);
    memset(x, 0, sizeof(*x));
}

static void
finish_xfer(struct fx_xfer *x, CURLcode rc)
{
    long code = 0;
    x->rc = rc;
    x->done = true;
    x->t_end = fx_now();
    if (curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code)
        x->status = code;
}

void
fx_perform(struct fx_xfer *x)
{
    finish_xfer(x, curl_easy_perform(x->e));
}

void
fx_multi(struct fx_xfer *xs, size_t n, unsigned ms, bool (*stop)(void *), void *arg)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    for (size_t i = 0; i < n; i++)
        curl_multi_add_handle(m, xs[i].e);
    double end = fx_now() + fx_ms(ms) / 1000.0;
    int running = 1;
    while (fx_now() < end) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct fx_xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            finish_xfer(x, msg->data.result);
        }
        if (running == 0 || (stop && stop(arg)))
            break;
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (!xs[i].done)
            finish_xfer(&xs[i], CURLE_OPERATION_TIMEDOUT);
        curl_multi_remove_handle(m, xs[i].e);
    }
    curl_multi_cleanup(m);
}

bool
fx_header(const struct fx_xfer *x, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = x->head;
    buf[0] = '\0';
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = (size_t)(eol - v);
            if (len >= cap)
                len = cap - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            /* keep the last occurrence: the final response after a 100 */
        }
        p = eol + 2;
    }
    return buf[0] != '\0';
}

gw_http_stats
fx_stats(struct fx *f)
{
    gw_http_stats st;
    gw_http_get_stats(f->h, &st);
    return st;
}

static void *
clients_main(void *arg)
{
    struct fx *f = arg;
    fx_multi(f->cx, f->ncx, 60000, NULL, NULL);
    return NULL;
}

struct fx_xfer *
fx_xfers(struct fx *f, size_t n)
{
    struct fx_xfers *set = calloc(1, sizeof(*set) + n * sizeof(set->x[0]));
    assert_non_null(set);
    set->n = n;
    set->next = f->xfers;
    f->xfers = set;
    return set->x;
}

void
fx_clients_run(struct fx *f, struct fx_xfer *xs, size_t n)
{
    assert_false(f->clients_running);
    f->cx = xs;
    f->ncx = n;
    assert_int_equal(pthread_create(&f->clients, NULL, clients_main, f), 0);
    f->clients_running = true;
}

void
fx_clients_join(struct fx *f)
{
    if (!f->clients_running)
        return;
    pthread_join(f->clients, NULL);
    f->clients_running = false;
}

struct fx_xfer *
fx_clients_in_flight(struct fx *f, int streams, int pending)
{
    int n = streams + pending;
    struct fx_xfer *xs = fx_xfers(f, (size_t)n);
    for (int i = 0; i < n; i++)
        fx_xfer_init(&xs[i], f, i < streams ? "/stream-one" : "/hang", NULL);
    fx_clients_run(f, xs, (size_t)n);
    assert_int_equal(fx_wait(f, &f->first_events, streams, 10000), streams);
    assert_true(fx_wait_stat(f, FX_STAT(suspended), (uint64_t)n, 10000));
    return xs;
}
