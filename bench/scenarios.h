/* lingma-bench: the four scenarios of issue 7, and the wire APIs of issue 11. */
#ifndef BENCH_SCENARIOS_H
#define BENCH_SCENARIOS_H

#include <jansson.h>

struct bench {
    const char *sim_bin;
    const char *gw_bin;   /* NULL: direct only */
    const char *gw_bin_b; /* scenario 6: a second gatewayd counted side by side, or NULL */
    int quick;
    int repeats;
    unsigned idle_n[4];       /* stream counts of scenario 3, 0-terminated */
    unsigned concs[8];        /* --concurrency: scenarios 1 and 2 only these; 0-terminated */
    const char *out;          /* results directory (also where stall evidence goes) */
    json_t *root;             /* results */
    int failures;             /* requests that failed where none may */
    const char *malloc_count; /* libmalloc-count.so for scenario 6, or NULL */
    const char *strace;       /* strace for scenario 6, or NULL */
};

int scenario_nonstream(struct bench *b);
int scenario_stream(struct bench *b);
int scenario_idle(struct bench *b);
int scenario_overload(struct bench *b);
int scenario_apis(struct bench *b);
int scenario_counts(struct bench *b);

#endif
