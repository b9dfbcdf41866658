/*
 * The bounded in-memory store of Responses; see responses_store.h.
 *
 * Each entry sits on three structures: a hash chain (lookup by id), the LRU
 * list (most recently used at the head; eviction takes the tail) and the
 * age list (insertion order; since every entry has the same TTL, the head
 * is always the next to expire). All three are intrusive, so an entry is
 * one allocation plus its strings and unlinking is O(1).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lingma/common.h"

#include "openai.h"
#include "responses_store.h"

struct link {
    struct entry *prev, *next;
};

struct entry {
    struct entry *hnext; /* hash chain */
    struct link lru;
    struct link age;
    uint64_t hash;
    uint64_t expires_ms;
    uint64_t bytes;
    char *id;
    char *prev_id;
    char *response;
    size_t response_len;
    char *input;
    size_t input_len;
};

struct list {
    struct entry *head, *tail;
};

struct gw_resp_store {
    pthread_mutex_t lock;
    gw_resp_store_options o;
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t bytes;
    struct list lru; /* head: most recently used */
    struct list age; /* head: oldest */
};

#define INITIAL_BUCKETS 64u

/* ---- intrusive lists ---------------------------------------------------- */

/* The link of `e` in a list, chosen by whether the list is the LRU one. */
static struct link *
link_of(struct gw_resp_store *s, struct list *l, struct entry *e)
{
    return l == &s->lru ? &e->lru : &e->age;
}

static void
list_remove(struct gw_resp_store *s, struct list *l, struct entry *e)
{
    struct link *k = link_of(s, l, e);
    if (k->prev)
        link_of(s, l, k->prev)->next = k->next;
    else
        l->head = k->next;
    if (k->next)
        link_of(s, l, k->next)->prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = NULL;
}

static void
list_push_head(struct gw_resp_store *s, struct list *l, struct entry *e)
{
    struct link *k = link_of(s, l, e);
    k->prev = NULL;
    k->next = l->head;
    if (l->head)
        link_of(s, l, l->head)->prev = e;
    else
        l->tail = e;
    l->head = e;
}

static void
list_push_tail(struct gw_resp_store *s, struct list *l, struct entry *e)
{
    struct link *k = link_of(s, l, e);
    k->next = NULL;
    k->prev = l->tail;
    if (l->tail)
        link_of(s, l, l->tail)->next = e;
    else
        l->head = e;
    l->tail = e;
}

/* ---- entries ------------------------------------------------------------ */

static void
entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->id);
    free(e->prev_id);
    free(e->response);
    free(e->input);
    free(e);
}

static char *
copy_n(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static uint64_t
hash_id(const char *id)
{
    return gw_fnv1a64(id, strlen(id));
}

static struct entry **
slot_of(struct gw_resp_store *s, const char *id, uint64_t h)
{
    struct entry **p = &s->buckets[h & (s->nbuckets - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->id, id) != 0))
        p = &(*p)->hnext;
    return p;
}

/* Unlink `e` from everything and free it. */
static void
drop(struct gw_resp_store *s, struct entry *e)
{
    struct entry **p = slot_of(s, e->id, e->hash);
    *p = e->hnext;
    list_remove(s, &s->lru, e);
    list_remove(s, &s->age, e);
    s->count--;
    s->bytes -= e->bytes;
    entry_free(e);
}

static uint64_t
now_ms(const struct gw_resp_store *s)
{
    if (s->o.clock)
        return s->o.clock(s->o.clock_payload);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
drop_expired(struct gw_resp_store *s)
{
    uint64_t now = now_ms(s);
    while (s->age.head && s->age.head->expires_ms <= now)
        drop(s, s->age.head);
}

/* Double the table when it holds more entries than buckets. A failed
 * allocation only leaves the chains longer. */
static void
maybe_grow(struct gw_resp_store *s)
{
    if (s->count <= s->nbuckets || s->nbuckets > SIZE_MAX / 2 / sizeof(struct entry *))
        return;
    size_t n = s->nbuckets * 2;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct entry *e = s->buckets[i];
        while (e) {
            struct entry *next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

/* ---- the API ------------------------------------------------------------ */

int
gw_resp_store_new(gw_resp_store **out, const gw_resp_store_options *opts)
{
    *out = NULL;
    if (!opts || opts->max_bytes == 0 || opts->ttl_ms == 0)
        return LINGMA_EINVAL;
    struct gw_resp_store *s = calloc(1, sizeof(*s));
    if (!s)
        return LINGMA_ENOMEM;
    s->o = *opts;
    s->nbuckets = INITIAL_BUCKETS;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    if (!s->buckets || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->buckets);
        free(s);
        return LINGMA_ENOMEM;
    }
    *out = s;
    return 0;
}

void
gw_resp_store_free(gw_resp_store *s)
{
    if (!s)
        return;
    while (s->age.head)
        drop(s, s->age.head);
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int
gw_resp_store_put(gw_resp_store *s, const char *id, const char *prev_id, const char *response,
                  size_t response_len, const char *input, size_t input_len)
{
    size_t id_len = strlen(id), prev_len = prev_id ? strlen(prev_id) : 0;
    uint64_t bytes =
        (uint64_t)id_len + prev_len + response_len + input_len + GW_RESP_STORE_OVERHEAD;
    if (s->o.max_count == 0 || bytes > s->o.max_bytes)
        return LINGMA_EINVAL;
    /* Copies first, outside the lock. */
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return LINGMA_ENOMEM;
    e->id = copy_n(id, id_len);
    e->prev_id = prev_id ? copy_n(prev_id, prev_len) : NULL;
    e->response = copy_n(response, response_len);
    e->input = copy_n(input, input_len);
    if (!e->id || (prev_id && !e->prev_id) || !e->response || !e->input) {
        entry_free(e);
        return LINGMA_ENOMEM;
    }
    e->response_len = response_len;
    e->input_len = input_len;
    e->bytes = bytes;
    e->hash = hash_id(id);

    pthread_mutex_lock(&s->lock);
    drop_expired(s);
    e->expires_ms = now_ms(s) + s->o.ttl_ms;
    struct entry *old = *slot_of(s, id, e->hash);
    if (old)
        drop(s, old);
    /* Make room, least recently used first: the new entry fits alone. */
    while (s->count && (s->count + 1 > s->o.max_count || s->bytes + bytes > s->o.max_bytes))
        drop(s, s->lru.tail);
    struct entry **slot = slot_of(s, id, e->hash);
    *slot = e;
    list_push_head(s, &s->lru, e);
    list_push_tail(s, &s->age, e);
    s->count++;
    s->bytes += bytes;
    maybe_grow(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void
gw_resp_entry_clear(gw_resp_entry *e)
{
    if (!e)
        return;
    free(e->id);
    free(e->prev_id);
    free(e->response);
    free(e->input);
    memset(e, 0, sizeof(*e));
}

/* Copy `e` out (under the lock). */
static int
copy_out(gw_resp_entry *out, const struct entry *e)
{
    memset(out, 0, sizeof(*out));
    out->id = copy_n(e->id, strlen(e->id));
    out->prev_id = e->prev_id ? copy_n(e->prev_id, strlen(e->prev_id)) : NULL;
    out->response = copy_n(e->response, e->response_len);
    out->input = copy_n(e->input, e->input_len);
    out->response_len = e->response_len;
    out->input_len = e->input_len;
    if (!out->id || (e->prev_id && !out->prev_id) || !out->response || !out->input) {
        gw_resp_entry_clear(out);
        return LINGMA_ENOMEM;
    }
    return 0;
}

/* The live entry `id` (expired ones dropped first), marked used. */
static struct entry *
lookup_use(struct gw_resp_store *s, const char *id)
{
    struct entry *e = *slot_of(s, id, hash_id(id));
    if (e) {
        list_remove(s, &s->lru, e);
        list_push_head(s, &s->lru, e);
    }
    return e;
}

int
gw_resp_store_get(gw_resp_store *s, gw_resp_entry *out, const char *id)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    drop_expired(s);
    struct entry *e = lookup_use(s, id);
    int rc = e ? copy_out(out, e) : LINGMA_ENOTFOUND;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void
gw_resp_chain_free(gw_resp_entry *chain, size_t n)
{
    for (size_t i = 0; chain && i < n; i++)
        gw_resp_entry_clear(&chain[i]);
    free(chain);
}

int
gw_resp_store_chain(gw_resp_store *s, gw_resp_entry **out, size_t *n, char **missing_id,
                    const char *id, size_t max_links)
{
    *out = NULL;
    *n = 0;
    *missing_id = NULL;
    int rc = 0;
    size_t cap = 0, len = 0;
    gw_resp_entry *chain = NULL;
    pthread_mutex_lock(&s->lock);
    drop_expired(s);
    for (const char *want = id; want;) {
        struct entry *e = lookup_use(s, want);
        if (!e) {
            *missing_id = copy_n(want, strlen(want));
            rc = LINGMA_ENOTFOUND;
            break;
        }
        if (len == max_links) {
            rc = LINGMA_EINVAL;
            break;
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            gw_resp_entry *c = realloc(chain, ncap * sizeof(*c));
            if (!c) {
                rc = LINGMA_ENOMEM;
                break;
            }
            chain = c;
            cap = ncap;
        }
        if ((rc = copy_out(&chain[len], e)) != 0)
            break;
        len++;
        want = e->prev_id;
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        gw_resp_chain_free(chain, len);
        return rc;
    }
    *out = chain;
    *n = len;
    return 0;
}

int
gw_resp_store_delete(gw_resp_store *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    drop_expired(s);
    struct entry *e = *slot_of(s, id, hash_id(id));
    if (e)
        drop(s, e);
    pthread_mutex_unlock(&s->lock);
    return e ? 0 : LINGMA_ENOTFOUND;
}

void
gw_resp_store_usage(gw_resp_store *s, size_t *count, uint64_t *bytes)
{
    pthread_mutex_lock(&s->lock);
    drop_expired(s);
    if (count)
        *count = s->count;
    if (bytes)
        *bytes = s->bytes;
    pthread_mutex_unlock(&s->lock);
}
