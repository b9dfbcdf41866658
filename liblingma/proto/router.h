/*
 * Internal: pure routing of one chat to one instance of the pool.
 *
 * The caller takes a snapshot of its instances (an array, index = instance
 * index) and asks where a chat goes. The rules, in order:
 *
 *  1. STICKY: with a non-empty affinity key (OpenAI `user`, else a hash of
 *     the system prompt), rendezvous hashing (highest random weight) ranks
 *     the ready instances by score(key, instance name). The top one wins
 *     while it is ready and below its cap; a key therefore keeps its
 *     instance, and when an instance joins or leaves the ready set only the
 *     keys that belong to it move. When the top one is saturated the next
 *     best ready, unsaturated one by score takes the chat (STICKY_SPILL).
 *  2. LEAST: without a key, the ready unsaturated instance with the fewest
 *     chats in flight; ties are broken by a round-robin cursor so that equal
 *     instances share the load.
 *  3. START: when no ready instance can take it, round-robin over the
 *     instances that are not ready but can be started (stopped, failed,
 *     starting, reconnecting) and are below their cap. The caller queues
 *     the chat on that instance and starts it if needed (lazy start).
 *  Otherwise NONE (-1): every ready instance is saturated and none is
 *  startable.
 *
 * No locks, no I/O, no allocation. The only state is the cursor struct that
 * the caller keeps next to its snapshot (under its own lock).
 */
#ifndef LINGMA_INTERNAL_ROUTER_H
#define LINGMA_INTERNAL_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lingma__route_avail {
    LINGMA__ROUTE_READY = 0, /**< connected and serving */
    LINGMA__ROUTE_STARTABLE, /**< not ready, but a chat may wait for it / start it */
    LINGMA__ROUTE_OFF,       /**< closed or disabled: never chosen */
};

/** One instance in the snapshot. */
struct lingma__route_inst {
    enum lingma__route_avail avail;
    unsigned in_flight; /**< chats currently assigned to it (running or waiting on it) */
    unsigned cap;       /**< per-instance limit on in_flight; 0 = none */
    /**
     * Stable identity for rendezvous hashing: lingma__route_name_hash() of
     * the instance name ("inst-3"). Computed once when the pool is built.
     */
    uint64_t name_hash;
};

enum lingma__route_rule {
    LINGMA__ROUTE_NONE = -1,    /**< nothing can take the chat */
    LINGMA__ROUTE_STICKY = 0,   /**< the key's top-ranked instance */
    LINGMA__ROUTE_STICKY_SPILL, /**< the key's best unsaturated one (top one saturated) */
    LINGMA__ROUTE_LEAST,        /**< least in flight among ready ones (no key) */
    LINGMA__ROUTE_START,        /**< a startable, not ready instance (lazy start) */
};

/** Round-robin cursors. Zero-initialise; keep it with the pool. */
struct lingma__router {
    unsigned least_cursor;
    unsigned start_cursor;
};

/** FNV-1a 64 of `len` bytes followed by a 64-bit finaliser (avalanche). */
uint64_t lingma__route_hash(const void *data, size_t len);

/** lingma__route_hash() of a NUL-terminated instance name. */
uint64_t lingma__route_name_hash(const char *name);

/**
 * The rendezvous score of a key hash for an instance: higher wins. Exposed
 * for tests; lingma__route() computes it itself.
 */
uint64_t lingma__route_score(uint64_t key_hash, uint64_t name_hash);

/**
 * Chooses an instance. `key` (may be NULL) with `key_len` 0 means no
 * affinity. `rule` (may be NULL) receives the rule that applied.
 * Advances the cursors of `r` for LEAST and START.
 *
 * @return the index in `insts`, or -1 (rule NONE).
 */
int lingma__route(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n,
                  const void *key, size_t key_len, enum lingma__route_rule *rule);

/** lingma__route() with a key hash computed beforehand (outside a lock, say). */
int lingma__route_hashed(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n,
                         bool has_key, uint64_t key_hash, enum lingma__route_rule *rule);

/** "sticky", "sticky-spill", "least", "start" or "none". */
const char *lingma__route_rule_name(enum lingma__route_rule rule);

#endif
