/*
 * lingma-bench: the HTTP driver. One thread, one curl multi handle, one
 * easy handle per outstanding request (reused, so its connection is kept
 * alive as an OpenAI client's would be), SSE parsed as the bytes arrive.
 *
 * Times are taken on this thread: the request's start when its handle is
 * added, the first byte when the status line arrives, a chunk's read when
 * the write callback hands it over, the end when curl reports it done.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"

/* One question to every API, in the smallest body each one requires
 * (Messages requires max_tokens; store:false keeps Responses from holding
 * every benchmark answer in the gateway's store). */
static const struct wire {
    const char *name, *path, *plain, *stream;
    const char *answer; /* in a complete non-streaming answer */
} wires[API_COUNT] = {
    [API_CHAT] = {"chat", "/v1/chat/completions",
                  "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"bench\"}]}",
                  "{\"model\":\"auto\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                  "\"content\":\"bench\"}]}",
                  "\"chat.completion\""},
    [API_MESSAGES] = {"messages", "/v1/messages",
                      "{\"model\":\"auto\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
                      "\"content\":\"bench\"}]}",
                      "{\"model\":\"auto\",\"max_tokens\":1024,\"stream\":true,\"messages\":[{"
                      "\"role\":\"user\",\"content\":\"bench\"}]}",
                      "\"type\":\"message\""},
    [API_RESPONSES] = {"responses", "/v1/responses",
                       "{\"model\":\"auto\",\"store\":false,\"input\":\"bench\"}",
                       "{\"model\":\"auto\",\"stream\":true,\"store\":false,\"input\":\"bench\"}",
                       "\"status\":\"completed\""},
};

const char *
api_name(enum bench_api api)
{
    return wires[api].name;
}

/* A non-streaming answer of the benchmark is well under this; the rest of
 * a larger body is counted, not kept. */
#define BODY_KEEP 4096

struct hreq {
    struct http *h;
    CURL *e;
    int api; /* the route and headers set on `e`; -1 before the first */
    uint64_t t0;
    int busy;
    long status;
    int first_token;
    struct sse sse;
    char body[BODY_KEEP + 1];
    size_t body_len;
};

struct http {
    CURLM *m;
    char url[API_COUNT][300];
    struct curl_slist *hdrs, *hdrs_anthropic;
    struct hreq **idle; /* handles not in a transfer */
    size_t nidle, cap;
    struct hreq **all; /* every handle, for the clean-up of a cut run */
    size_t nall, allcap;
    /* the current run */
    const struct load *load;
    struct run *r;
    struct progress prog;
    uint64_t t_start;
    unsigned long transport_failures;
    int abort;
};

static void note_error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keep the first failure's detail: one example explains a failed run. */
static void
note_error(struct run *r, const char *fmt, ...)
{
    va_list ap;
    if (r->first_error[0])
        return;
    va_start(ap, fmt);
    vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
    va_end(ap);
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct hreq *q = arg;
    size_t len = sz * n;
    /* The status line is the first header line; a new one after a 1xx
     * interim response replaces it. */
    if (len > 12 && !memcmp(p, "HTTP/", 5)) {
        const char *sp = memchr(p, ' ', len);
        long st = sp ? strtol(sp + 1, NULL, 10) : 0;
        if (st >= 200 && !q->status) {
            struct http *h = q->h;
            q->status = st;
            h->prog.headers++;
            if (h->load->stream)
                samples_add(&h->r->ttfb, (double)(now_ns() - q->t0) / 1e3);
        }
    }
    return len;
}

static void
on_chunk(uint64_t stamp, void *arg)
{
    struct hreq *q = arg;
    struct run *r = q->h->r;
    uint64_t t = now_ns();
    r->chunks++;
    if (stamp && stamp <= t)
        samples_add(&r->relay, (double)(t - stamp) / 1e3);
    if (!q->first_token) {
        q->first_token = 1;
        samples_add(&r->ttft, (double)(t - q->t0) / 1e3);
    }
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct hreq *q = arg;
    size_t len = sz * n;
    if (q->status == 200 && q->h->load->stream) {
        if (sse_feed(&q->sse, p, len, on_chunk, q) != 0)
            return 0; /* a broken stream: abort the transfer */
        return len;
    }
    size_t keep = len < BODY_KEEP - q->body_len ? len : BODY_KEEP - q->body_len;
    memcpy(q->body + q->body_len, p, keep);
    q->body_len += keep;
    q->body[q->body_len] = '\0';
    return len;
}

static struct hreq *
req_new(struct http *h)
{
    struct hreq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->h = h;
    q->api = -1;
    q->e = curl_easy_init();
    if (!q->e) {
        free(q);
        return NULL;
    }
    curl_easy_setopt(q->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(q->e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(q->e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(q->e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(q->e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(q->e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(q->e, CURLOPT_PRIVATE, q);
    /* curl's default receive buffer is 16 KiB per handle: 160 MB of client
     * memory at 10,000 streams, for events of a few hundred bytes. */
    curl_easy_setopt(q->e, CURLOPT_BUFFERSIZE, 4096L);
    if (h->nall == h->allcap) {
        size_t cap = h->allcap ? h->allcap * 2 : 256;
        struct hreq **v = realloc(h->all, cap * sizeof(*v));
        if (!v) {
            curl_easy_cleanup(q->e);
            free(q);
            return NULL;
        }
        h->all = v;
        h->allcap = cap;
    }
    h->all[h->nall++] = q;
    /* The idle stack can always take every handle back. */
    if (h->cap < h->allcap) {
        struct hreq **v = realloc(h->idle, h->allcap * sizeof(*v));
        if (!v) {
            h->nall--;
            curl_easy_cleanup(q->e);
            free(q);
            return NULL;
        }
        h->idle = v;
        h->cap = h->allcap;
    }
    return q;
}

static void
req_free(struct hreq *q)
{
    curl_easy_cleanup(q->e);
    sse_free(&q->sse);
    free(q);
}

static int
may_start(struct http *h, double elapsed)
{
    const struct load *l = h->load;
    if (h->abort)
        return 0;
    if (l->total && h->prog.started >= l->total)
        return 0;
    if (l->duration_s > 0 && elapsed >= l->duration_s)
        return 0;
    return 1;
}

static int
start_one(struct http *h)
{
    struct hreq *q;
    if (h->nidle)
        q = h->idle[--h->nidle];
    else if (!(q = req_new(h)))
        return -1;
    const struct load *l = h->load;
    q->status = 0;
    q->first_token = 0;
    q->body_len = 0;
    sse_reset(&q->sse, l->api);
    if (q->api != (int)l->api) {
        /* Only when the handle changes API: curl copies the URL. The
         * connection stays cached in the multi handle whatever the path. */
        curl_easy_setopt(q->e, CURLOPT_URL, h->url[l->api]);
        curl_easy_setopt(q->e, CURLOPT_HTTPHEADER,
                         l->api == API_MESSAGES ? h->hdrs_anthropic : h->hdrs);
        q->api = (int)l->api;
    }
    curl_easy_setopt(q->e, CURLOPT_POSTFIELDS,
                     l->stream ? wires[l->api].stream : wires[l->api].plain);
    curl_easy_setopt(q->e, CURLOPT_TIMEOUT_MS, l->timeout_ms > 0 ? l->timeout_ms : 60000L);
    q->t0 = now_ns();
    if (curl_multi_add_handle(h->m, q->e) != CURLM_OK) {
        h->idle[h->nidle++] = q;
        return -1;
    }
    q->busy = 1;
    h->prog.started++;
    h->prog.outstanding++;
    return 0;
}

static void
finish(struct http *h, CURL *e, CURLcode res)
{
    struct hreq *q = NULL;
    struct run *r = h->r;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
    double us = (double)(now_ns() - q->t0) / 1e3;
    curl_multi_remove_handle(h->m, e);

    if (res != CURLE_OK) {
        /* A gateway that is gone fails every replacement at once: stop
         * the run instead of counting a storm of refused connects. */
        if (++h->transport_failures >= 100 && !r->ok)
            h->abort = 1;
        r->failed++;
        note_error(r, "transport: %s (%ld)", curl_easy_strerror(res), (long)res);
    } else if (q->status == 429) {
        r->rejected++;
        samples_add(&r->rej, us);
    } else if (q->status >= 500) {
        r->status5xx++;
        note_error(r, "%s (status %ld)", q->body, q->status);
    } else if (q->status != 200) {
        r->failed++;
        note_error(r, "%s (status %ld)", q->body, q->status);
    } else if (h->load->stream ? (q->sse.done && !q->sse.error && q->sse.tokens > 0)
                               : strstr(q->body, wires[q->api].answer) != NULL) {
        r->ok++;
        samples_add(&r->lat, us);
    } else if (h->load->stream) {
        r->failed++;
        /* Say what was missing, naming the end event as the API does. */
        int ended = q->sse.error || q->sse.done;
        note_error(r, "incomplete %s stream: %s%s (status %ld)", wires[q->api].name,
                   q->sse.error  ? "an error event"
                   : q->sse.done ? "no text"
                                 : "no ",
                   ended ? "" : sse_end_name(q->sse.api), q->status);
    } else {
        r->failed++;
        note_error(r, "incomplete answer: %s (status %ld)", q->body, q->status);
    }
    h->prog.outstanding--;
    h->prog.finished++;
    q->busy = 0;
    h->idle[h->nidle++] = q;
}

/* Start what the load allows now; returns the poll timeout in ms. */
static int
start_due(struct http *h, double elapsed)
{
    const struct load *l = h->load;
    if (l->rate > 0) {
        /* Open loop: arrivals follow the clock, whatever the answers. */
        unsigned long due = (unsigned long)(l->rate * elapsed) + 1;
        while (h->prog.started + h->r->dropped < due && may_start(h, elapsed)) {
            if (h->prog.outstanding >= l->concurrency)
                h->r->dropped++;
            else if (start_one(h) != 0)
                return -1;
        }
        double next = ((double)due / l->rate - elapsed) * 1e3;
        return next < 1 ? 1 : (int)next;
    }
    while (h->prog.outstanding < l->concurrency && may_start(h, elapsed)) {
        if (l->ramp_per_s > 0 && h->prog.started < l->concurrency &&
            (double)h->prog.started >= l->ramp_per_s * elapsed + 1)
            return 1; /* ramping: the next start is due within a few ms */
        if (start_one(h) != 0)
            return -1;
    }
    return 100;
}

int
http_run(struct http *h, const struct load *load, struct run *r)
{
    int running = 0, rc = 0;
    h->load = load;
    h->r = r;
    h->transport_failures = 0;
    h->abort = 0;
    memset(&h->prog, 0, sizeof(h->prog));
    h->t_start = now_ns();
    double limit = load->duration_s + (double)(load->timeout_ms ? load->timeout_ms : 60000) / 1e3;
    double last_tick = -1, last_end = 0;
    unsigned long ends = 0;
    int stall_told = 0;

    for (;;) {
        double elapsed = (double)(now_ns() - h->t_start) / 1e9;
        int wait_ms = start_due(h, elapsed);
        if (wait_ms < 0) {
            note_error(r, "could not start a request");
            rc = -1;
            break;
        }
        curl_multi_perform(h->m, &running);
        CURLMsg *msg;
        int left, ended = 0;
        while ((msg = curl_multi_info_read(h->m, &left)))
            if (msg->msg == CURLMSG_DONE) {
                finish(h, msg->easy_handle, msg->data.result);
                ended++;
            }
        h->prog.elapsed_s = elapsed;
        if (h->prog.finished != ends || !h->prog.outstanding) {
            ends = h->prog.finished;
            last_end = elapsed;
        } else if (load->stalled && !stall_told && elapsed - last_end >= STALL_S) {
            stall_told = 1;
            load->stalled(&h->prog, load->stalled_arg);
        }
        if (load->tick && elapsed - last_tick >= 0.05) {
            load->tick(&h->prog, load->tick_arg);
            last_tick = elapsed;
        }
        if (!h->prog.outstanding && !may_start(h, (double)(now_ns() - h->t_start) / 1e9))
            break;
        if (elapsed > limit + 10) {
            note_error(r, "run stuck with %lu requests outstanding", h->prog.outstanding);
            rc = -1;
            break;
        }
        /* A request that just ended is replaced before waiting: with
         * nothing else in flight the poll would sleep its full timeout. */
        if (!ended)
            curl_multi_poll(h->m, NULL, 0, wait_ms, NULL);
    }
    r->elapsed_s = (double)(now_ns() - h->t_start) / 1e9;
    /* A run cut short leaves transfers behind: end them, so the next run
     * starts clean. */
    for (size_t i = 0; i < h->nall; i++)
        if (h->all[i]->busy)
            finish(h, h->all[i]->e, CURLE_OPERATION_TIMEDOUT);
    if (load->tick)
        load->tick(&h->prog, load->tick_arg);
    return rc;
}

int
http_open(struct http **out, const char *base_url)
{
    struct http *h = calloc(1, sizeof(*h));
    *out = NULL;
    if (!h)
        return -1;
    for (int a = 0; a < API_COUNT; a++)
        snprintf(h->url[a], sizeof(h->url[a]), "%s%s", base_url, wires[a].path);
    h->m = curl_multi_init();
    h->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    h->hdrs_anthropic = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *more =
        h->hdrs_anthropic ? curl_slist_append(h->hdrs_anthropic, "anthropic-version: 2023-06-01")
                          : NULL;
    if (!more) {
        curl_slist_free_all(h->hdrs_anthropic);
        h->hdrs_anthropic = NULL;
    }
    if (!h->m || !h->hdrs || !h->hdrs_anthropic) {
        http_close(h);
        return -1;
    }
    /* HTTP/1.1: one connection per outstanding request, no cap. */
    curl_multi_setopt(h->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(h->m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    *out = h;
    return 0;
}

void
http_close(struct http *h)
{
    if (!h)
        return;
    /* Handles leave the multi handle first; the multi handle (and the
     * connections it caches) goes before the easy handles. */
    for (size_t i = 0; i < h->nall; i++)
        if (h->all[i]->busy)
            curl_multi_remove_handle(h->m, h->all[i]->e);
    if (h->m)
        curl_multi_cleanup(h->m);
    for (size_t i = 0; i < h->nall; i++)
        req_free(h->all[i]);
    free(h->all);
    free(h->idle);
    curl_slist_free_all(h->hdrs);
    curl_slist_free_all(h->hdrs_anthropic);
    free(h);
}
