/*
 * The set of requests awaiting a response, for rpc.c: a hash table by id
 * (open addressing, backward-shift deletion) plus a min-heap of deadlines
 * whose entries know their position. Find, insert and remove are O(1) or
 * O(log n), so 10,000+ requests in flight cost nothing per message.
 */
#ifndef LINGMA_INTERNAL_RPC_PENDING_H
#define LINGMA_INTERNAL_RPC_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/sys/rpc.h"

struct lingma__pending {
    int64_t id;
    uint64_t deadline; /* 0: none */
    size_t heap_idx;   /* position in the heap, or SIZE_MAX */
    lingma_rpc_response_cb cb;
    void *payload;
    struct lingma__pending *next; /* links entries taken out as a list */
};

struct lingma__pending_set {
    const lingma_allocator *alloc;
    struct lingma__pending **tab; /* capacity a power of two, load <= 1/2 */
    size_t tab_cap, count;
    struct lingma__pending **heap;
    size_t heap_len, heap_cap;
};

/* Make room for one more entry (with a deadline or not), so that the
 * insert that follows cannot fail. 0 or LINGMA_ENOMEM. */
int lingma__pending_reserve(struct lingma__pending_set *set, int with_deadline);

/* Insert `p` (its id unique in the set) after a successful reserve. */
void lingma__pending_insert(struct lingma__pending_set *set, struct lingma__pending *p);

/* Remove and return the entry with this id, or NULL. */
struct lingma__pending *lingma__pending_take(struct lingma__pending_set *set, int64_t id);

/* The entry for `id`, left in place; NULL if none. */
const struct lingma__pending *lingma__pending_find(const struct lingma__pending_set *set,
                                                   int64_t id);

/* Remove and return the entry with the earliest deadline <= now, or NULL. */
struct lingma__pending *lingma__pending_take_expired(struct lingma__pending_set *set, uint64_t now);

/* Remove every entry and return them as a list linked by `next`. */
struct lingma__pending *lingma__pending_take_all(struct lingma__pending_set *set);

/* The earliest deadline, or 0 when no entry has one. */
uint64_t lingma__pending_next_deadline(const struct lingma__pending_set *set);

/* Free the set's arrays; entries are the caller's. */
void lingma__pending_release(struct lingma__pending_set *set);

#endif
