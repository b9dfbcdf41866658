/*
 * Test helper: an allocator that fails the Nth allocation (nghttp2 style),
 * counts live blocks, and can also drive jansson's global allocator so that
 * JSON allocations fail on schedule too. Tests only: the library itself
 * never calls json_set_alloc_funcs().
 */
#ifndef TESTS_FAILALLOC_H
#define TESTS_FAILALLOC_H

#include <stddef.h>

#include "lingma/common.h"

struct failalloc {
    long fail_at;  /* fail the allocation with this 0-based index; -1: never */
    long count;    /* allocations attempted so far */
    long live;     /* blocks currently allocated through this allocator */
    long failures; /* allocations refused so far */
};

/* Reset counters and arm the failure at allocation number `fail_at` (-1 never). */
void failalloc_arm(struct failalloc *fa, long fail_at);

/* A lingma_allocator view of `fa`. */
lingma_allocator failalloc_allocator(struct failalloc *fa);

/* Route jansson's allocations through `fa` too (NULL restores malloc/free).
 * Must be called while no jansson value is alive. */
void failalloc_hook_jansson(struct failalloc *fa);

#endif
