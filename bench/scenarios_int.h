/* lingma-bench: helpers shared by the scenario files. */
#ifndef BENCH_SCENARIOS_INT_H
#define BENCH_SCENARIOS_INT_H

#include "bench.h"
#include "procs.h"
#include "scenarios.h"

struct cost;
struct direct;
struct http;

/* A NULL-terminated "NAME=value" list with its storage. */
#define ENVV_MAX 24
struct envv {
    char buf[ENVV_MAX][160];
    const char *p[ENVV_MAX + 1];
    int n;
};

void envv_add(struct envv *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void envv_cat(struct envv *e, const struct envv *from);
/* The list as a JSON array of its strings, for the results. */
json_t *envv_json(const struct envv *e);

void progress_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The "runs" array of cell[name], created on first use. */
json_t *part(json_t *cell, const char *name);
/* Append the run's JSON to `runs` and count its failures; returns it (borrowed). */
json_t *record_run(struct bench *b, struct run *r, json_t *runs, int rejections_ok);

/* A direct pool and (unless direct-only) a gateway with an HTTP client. */
struct sides {
    struct bench *b;
    struct direct *d;
    char *ddir;
    struct gateway g;
    struct http *h;
};
int sides_open(struct sides *s, struct bench *b, const struct envv *sim, const struct envv *gw,
               unsigned max_in_flight, unsigned max_queue);
void sides_close(struct sides *s);
/* Run `load` on one side, after an unmeasured warm-up when `warm`; what
 * the measured run cost that side goes to `c` (cost.h). */
int drive(struct sides *s, int gateway, const struct load *load, struct run *r, int warm,
          struct cost *c);
/* The unmeasured warm-up of `load`: 2·C requests, at least 20. */
struct load warm_load(const struct load *load);

/* Append {"added_<key>": b - a for each key, "throughput_ratio": b/a of
 * "rps"} to `runs`: `b` measured against its baseline `a` of the same
 * repeat (the gateway against direct, an API against Chat Completions). */
void compare(json_t *runs, json_t *a, json_t *b, const char *const *keys);

/* The streaming cell of scenario 2, which scenario 5 repeats per wire API:
 * the simulator's and the gateway's settings added to `sim` and `gw`, the
 * load (concurrency left to the caller), the concurrencies and the keys
 * that compare two runs (the gateway's CPU per request: scenario 5 only). */
#define STREAM_NCONC 2
extern const unsigned stream_concs[STREAM_NCONC];
extern const char *const stream_keys[];
struct load stream_cell(struct bench *b, struct envv *sim, struct envv *gw);
/* Scenario 1's request (scenario 6 counts its cost): the same for the
 * non-streaming cell, concurrency left to the caller. */
struct load nonstream_cell(struct bench *b, struct envv *sim, struct envv *gw);

#endif
