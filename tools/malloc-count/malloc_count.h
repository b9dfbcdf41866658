/*
 * malloc-count: the counters an LD_PRELOAD'ed libmalloc-count.so keeps in
 * a shared file, so that another process (lingma-bench) can read how many
 * allocations a running process made over any window, without signals and
 * without stopping it.
 *
 *   LD_PRELOAD=.../libmalloc-count.so MALLOC_COUNT_FILE=/tmp/x some-binary
 *
 * The shim maps MALLOC_COUNT_FILE (created, sized to this struct) and adds
 * to its fields with relaxed atomics. It then removes LD_PRELOAD and
 * MALLOC_COUNT_FILE from its environment, so that the children of the
 * process (lingma-gatewayd's lingma-sim) are not counted into the same
 * file. Allocations made before its constructor ran are carried over.
 */
#ifndef MALLOC_COUNT_H
#define MALLOC_COUNT_H

#include <stdint.h>

#define MALLOC_COUNT_MAGIC 0x6d616c6c6f63636eULL /* set once the file is live */

struct malloc_counts {
    uint64_t magic;
    uint64_t allocs;   /* malloc, calloc, realloc(NULL, n), the aligned ones */
    uint64_t reallocs; /* realloc of an existing block */
    uint64_t frees;    /* free of a non-NULL pointer, realloc(p, 0) */
    uint64_t bytes;    /* requested by allocs and reallocs */
};

#endif
