/* lingma-bench: the direct driver, liblingma's public API on lingma-sim. */
#ifndef BENCH_DIRECT_H
#define BENCH_DIRECT_H

#include "bench.h"

struct direct;

struct direct_config {
    const char *sim_bin;
    const char *work_dir;
    const char *const *sim_env; /* NULL-terminated LINGMA_SIM_* settings; may be NULL */
    unsigned max_in_flight;
    unsigned max_queue; /* 0: none */
    unsigned socket_port;
};

/* Start a one-instance pool on lingma-sim and wait until it is ready.
 * Returns 0, or -1 with a message in `err`. */
int direct_open(struct direct **out, const struct direct_config *cfg, char *err, size_t errlen);
/* Offer `load`; fills `r` (zeroed by the caller). Returns 0, -1 on a stuck run. */
int direct_run(struct direct *d, const struct load *load, struct run *r);
void direct_close(struct direct *d);

#endif
