/*
 * responses_store: the stored responses of the OpenAI Responses API, in
 * memory, bounded (doc/responses-compat.md, "Stored responses").
 *
 * One entry per stored response: its id, the id of the response it
 * continued (previous_response_id), and two JSON texts, the response
 * object as the client received it and the input items it was made from.
 * Texts, not jansson values: an entry is read by several threads (the
 * POST parse that rebuilds a conversation, GET, DELETE, the service
 * thread that stores), and a copy of bytes shares nothing; its size is
 * also exact for the byte bound.
 *
 * Bounds, all enforced on every insert:
 *   - at most `max_count` entries and `max_bytes` bytes (ids, texts and a
 *     fixed per-entry overhead); the least recently used entries go first
 *     (a get or a chain walk counts as a use);
 *   - an entry lives `ttl_ms` from its insertion, whatever its use; expired
 *     entries are dropped as soon as any call sees them (the oldest first,
 *     so the sweep is O(1) per entry).
 * An entry larger than `max_bytes` on its own is not kept.
 *
 * Thread-safe: one mutex, held for list and table updates and the copies
 * out, never across a callback or an allocation larger than one entry.
 * The clock is a parameter (CLOCK_MONOTONIC by default) so that tests can
 * move time.
 */
#ifndef GW_RESPONSES_STORE_H
#define GW_RESPONSES_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_resp_store gw_resp_store;

/* Milliseconds on a monotonic clock. */
typedef uint64_t (*gw_resp_clock_fn)(void *payload);

typedef struct gw_resp_store_options {
    size_t max_count;       /* 0: keep nothing (every put is dropped) */
    uint64_t max_bytes;     /* >= 1 */
    uint64_t ttl_ms;        /* >= 1 */
    gw_resp_clock_fn clock; /* NULL: CLOCK_MONOTONIC */
    void *clock_payload;
} gw_resp_store_options;

/* What an entry costs beyond its strings (node, links, table slot): the
 * byte bound counts it, so that many tiny entries cannot escape it. */
#define GW_RESP_STORE_OVERHEAD 128u

/* 0 or LINGMA_ENOMEM / LINGMA_EINVAL (max_bytes or ttl_ms of 0). */
int gw_resp_store_new(gw_resp_store **out, const gw_resp_store_options *opts);

/* NULL-safe. */
void gw_resp_store_free(gw_resp_store *s);

/* Keep a copy of one response (replacing an entry of the same id), then
 * evict down to the bounds. `prev_id` may be NULL. 0; LINGMA_EINVAL when
 * the entry alone exceeds max_bytes or max_count is 0 (nothing kept); or
 * LINGMA_ENOMEM. */
int gw_resp_store_put(gw_resp_store *s, const char *id, const char *prev_id, const char *response,
                      size_t response_len, const char *input, size_t input_len);

/* One stored response, copied out: every string malloc'd and
 * NUL-terminated; free with gw_resp_entry_clear(). */
typedef struct gw_resp_entry {
    char *id;
    char *prev_id; /* NULL: none */
    char *response;
    size_t response_len;
    char *input;
    size_t input_len;
} gw_resp_entry;

void gw_resp_entry_clear(gw_resp_entry *e);

/* Copy out the entry `id` and mark it used. 0, LINGMA_ENOTFOUND (never
 * stored, deleted, evicted or expired) or LINGMA_ENOMEM. */
int gw_resp_store_get(gw_resp_store *s, gw_resp_entry *out, const char *id);

/*
 * The conversation ending at `id`: that entry and each one its prev_id
 * names, newest first, copied under one lock (a consistent snapshot) and
 * every one marked used. At most `max_links` entries (a longer chain is
 * LINGMA_EINVAL: the caller's bound on the work one request may ask for).
 * 0 with a malloc'd array in *out (free with gw_resp_chain_free); or
 * LINGMA_ENOTFOUND with *missing_id (malloc'd, may be NULL on OOM) naming
 * the first link that is gone; or LINGMA_ENOMEM.
 */
int gw_resp_store_chain(gw_resp_store *s, gw_resp_entry **out, size_t *n, char **missing_id,
                        const char *id, size_t max_links);
void gw_resp_chain_free(gw_resp_entry *chain, size_t n);

/* Remove `id`. 0 or LINGMA_ENOTFOUND. */
int gw_resp_store_delete(gw_resp_store *s, const char *id);

/* Entries and bytes held now (after dropping the expired ones). */
void gw_resp_store_usage(gw_resp_store *s, size_t *count, uint64_t *bytes);

#endif /* GW_RESPONSES_STORE_H */
