/*
 * lingma-bench: shared types of the drivers, the scenarios and the report.
 *
 * Two drivers produce the same `struct run` for the same `struct load`: the
 * HTTP driver (libcurl multi, one thread) through lingma-gatewayd, and the
 * direct driver over liblingma's public API. The scenarios compare them side
 * by side; the report turns runs into medians over repeats.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A growable array of samples, in microseconds. */
struct samples {
    double *v;
    size_t n, cap;
    int sorted;
};

void samples_add(struct samples *s, double us);
void samples_free(struct samples *s);
/* Nearest-rank percentile (0 < p <= 100); sorts in place; 0 when empty. */
double samples_pct(struct samples *s, double p);
double samples_max(struct samples *s);

/* The wire API a load speaks to the gateway: the three front-ends of one
 * chat path (the direct driver has only liblingma's API and ignores it).
 * Chat Completions is 0, so a zeroed `struct load` speaks it. */
enum bench_api { API_CHAT, API_MESSAGES, API_RESPONSES, API_COUNT };

/* "chat", "messages", "responses": the names of the results. */
const char *api_name(enum bench_api api);

/* Progress of a running load, handed to a `tick` hook. */
struct progress {
    unsigned long started;  /* requests started */
    unsigned long headers;  /* response status received (HTTP) or STARTED (direct) */
    unsigned long finished; /* requests ended, whatever the outcome */
    unsigned long outstanding;
    double elapsed_s;
};

/* What to offer. Closed loop: `concurrency` requests outstanding, each
 * replaced when it ends, until `duration_s` or `total` is reached. Open loop
 * (`rate` > 0): arrivals at `rate` per second whatever the answers, with
 * `concurrency` as a cap on the outstanding requests. */
struct load {
    unsigned concurrency;
    double rate;
    double duration_s;   /* stop starting new requests after this; 0: no limit */
    unsigned long total; /* stop after this many started; 0: no limit */
    double ramp_per_s;   /* closed loop: at most this many starts per second; 0: at once */
    int stream;          /* SSE (HTTP) / event stream (direct) measurements */
    enum bench_api api;  /* HTTP: the route, body and stream shape */
    long timeout_ms;     /* per request */
    void (*tick)(const struct progress *p, void *arg);
    void *tick_arg;
    /* HTTP: called once per run when requests are outstanding and none has
     * ended for STALL_S seconds, while the stall lasts (evidence). */
    void (*stalled)(const struct progress *p, void *arg);
    void *stalled_arg;
};
#define STALL_S 10.0

/* What one run measured. Latencies in microseconds. */
struct run {
    double elapsed_s;
    unsigned long ok;       /* 200 with a well-formed, complete answer */
    unsigned long rejected; /* 429 (HTTP) / LINGMA_EBUSY (direct) */
    unsigned long status5xx;
    unsigned long failed;  /* anything else: transport error, other status, bad body */
    unsigned long chunks;  /* content chunks received (streams) */
    unsigned long dropped; /* open loop: arrivals not sent, the client was at its cap */
    struct samples lat;    /* start to end, ok requests */
    struct samples rej;    /* start to end, rejected requests */
    struct samples ttfb;   /* start to response headers / STARTED */
    struct samples ttft;   /* start to first non-empty content */
    struct samples relay;  /* Lingma's write (sim stamp) to our read, per chunk */
    char first_error[256];
};

void run_free(struct run *r);
/* The run as a flat JSON object of numbers (the report summarizes these). */
json_t *run_to_json(struct run *r);

/* CLOCK_MONOTONIC in ns and in seconds. */
uint64_t now_ns(void);
double now_s(void);

/* Parse the sim's "@<ns>@" stamp at the start of `text`. Returns the number
 * of bytes the stamp takes (0 when there is none) and stores the ns. */
size_t stamp_parse(const char *text, size_t len, uint64_t *ns);

#endif
