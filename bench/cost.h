/*
 * lingma-bench: what a run cost the process under test, per completed
 * request: its CPU, its context switches and, when it runs under the
 * counting allocator (tools/malloc-count), its allocations. One probe for
 * both paths, so that their columns mean the same:
 *
 *   - gateway: lingma-gatewayd, all its threads (its simulator is another
 *     process and is not counted);
 *   - direct: this process minus the calling thread, that is liblingma's
 *     threads (the pool's service thread, where the direct driver's
 *     callbacks also run), while the driver thread only waits. The direct
 *     pool's simulator is another process and is not counted either.
 *
 * The simulator of the path under test (the child named lingma-sim of the
 * gateway, or of this process) is measured beside it, so that a run's
 * whole CPU budget is known: the party, its simulator and, for the
 * gateway, the HTTP client (the driver thread).
 */
#ifndef BENCH_COST_H
#define BENCH_COST_H

#include <sys/types.h>

#include <jansson.h>

#include "malloc_count.h"

struct cost {
    pid_t pid;           /* the gateway; 0: this process but the calling thread */
    const char *mc_file; /* the gateway's malloc-count file, or NULL */
    double cpu_ns;       /* from cost_begin to cost_end: the deltas */
    double driver_ns;    /* the calling (driver) thread's own CPU */
    pid_t sim_pid;       /* the path's simulator, 0: not found */
    double sim_ns;
    long ctxsw;
    struct malloc_counts mc;
    int mc_ok;
};

/* Start measuring: `pid` 0 means the direct path (see above). */
void cost_begin(struct cost *c, pid_t pid, const char *mc_file);
/* Stop: the fields now hold what the window cost. */
void cost_end(struct cost *c);
/* Add cpu_us_per_req, ctxsw_per_req, driver_cpu_us_per_req (the load
 * generator's share: curl's parsing for the gateway, next to nothing for
 * direct), sim_cpu_us_per_req (the simulator's) and, when counted, allocs_per_req and
 * alloc_bytes_per_req to `run` for `requests` completed requests (none when 0). */
void cost_record(const struct cost *c, json_t *run, unsigned long requests);

/* The counters of a malloc-count file; -1 when it is not (yet) live. */
int malloc_counts_read(const char *file, struct malloc_counts *out);

#endif
