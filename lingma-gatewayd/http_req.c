/*
 * http_req: the request object of the engine (see http.h and http_int.h):
 * its lifetime (references, registry, client gone) and the getters routes
 * use from any thread. Answers live in http_answer.c, libmicrohttpd in
 * http.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"

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
    req->registered = true;
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
    if (!req->registered)
        return;
    req->registered = false;
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
        free(e);
        e = next;
    }
    gw_sbuf_clear(&req->buf);
    if (req->user_free)
        req->user_free(req->user);
    gw_target_free(&req->target);
    free(req->raw_target);
    free(req->body);
    free(req->hdrs); /* with the strings */
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
gw_http__body_missing_locked(const gw_http_req *req)
{
    return req->phase == GW_PH_BODY && req->fate == GW_FATE_ROUTED && !req->completed &&
           (req->body_expected < 0 || req->body_arrived < (uint64_t)req->body_expected);
}

bool
gw_http__client_half_closed(int fd)
{
    if (fd < 0)
        return false;
    char c;
    /* All of the request has been read: EOF now means the client sent its
     * FIN (pipelined bytes would make recv return them, not 0). */
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
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

const char *
gw_http_req_method(const gw_http_req *req)
{
    return req->method;
}

const char *
gw_http_req_path(const gw_http_req *req)
{
    return req->target.path ? req->target.path : "";
}

const char *
gw_http_req_header(const gw_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nhdrs; i++)
        if (strcasecmp(req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value;
    return NULL;
}

size_t
gw_http_req_header_count(const gw_http_req *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nhdrs; i++)
        n += strcasecmp(req->hdrs[i].name, name) == 0;
    return n;
}

const char *
gw_http_req_query(const gw_http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->target.nargs; i++) {
        const gw_target_arg *a = &req->target.args[i];
        if (a->name_len == n && memcmp(a->name, name, n) == 0)
            return a->value;
    }
    return NULL;
}

const void *
gw_http_req_body(const gw_http_req *req, size_t *len)
{
    if (len)
        *len = req->body ? req->body_len : 0;
    return req->body ? req->body : "";
}

void
gw_http_req_body_drop(gw_http_req *req)
{
    /* The handler runs after the last upload call, on the same thread:
     * nothing appends to the body any more. */
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
    req->body_alloc = 0;
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
gw_http_req_set_user(gw_http_req *req, void *user, void (*user_free)(void *user))
{
    pthread_mutex_lock(&req->h->mu);
    req->user = user;
    req->user_free = user_free;
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
    /* One block: the entry, then the name and the value. */
    size_t nlen = strlen(name) + 1, vlen = strlen(value) + 1;
    struct gw_extra_header *e = malloc(sizeof(*e) + nlen + vlen);
    if (!e)
        return LINGMA_ENOMEM;
    e->next = NULL;
    e->name = memcpy((char *)(e + 1), name, nlen);
    e->value = memcpy(e->name + nlen, value, vlen);
    pthread_mutex_lock(&req->h->mu);
    *req->extra_tail = e;
    req->extra_tail = &e->next;
    pthread_mutex_unlock(&req->h->mu);
    return LINGMA_OK;
}
