/* lingma-bench: samples, percentiles, clocks and the per-run JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

void
samples_add(struct samples *s, double us)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return; /* a lost sample under OOM is better than a crashed benchmark */
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = us;
    s->sorted = 0;
}

void
samples_free(struct samples *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double
samples_pct(struct samples *s, double p)
{
    if (!s->n)
        return 0;
    if (!s->sorted) {
        qsort(s->v, s->n, sizeof(*s->v), cmp_double);
        s->sorted = 1;
    }
    /* Nearest rank: the smallest sample with at least p% of samples <= it. */
    size_t rank = (size_t)((p / 100.0) * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return s->v[rank - 1];
}

double
samples_max(struct samples *s)
{
    return samples_pct(s, 100);
}

void
run_free(struct run *r)
{
    samples_free(&r->lat);
    samples_free(&r->rej);
    samples_free(&r->ttfb);
    samples_free(&r->ttft);
    samples_free(&r->relay);
}

static void
put(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(v));
}

static void
put_dist(json_t *o, const char *prefix, struct samples *s, int p90)
{
    char k[64];
    if (!s->n)
        return;
    snprintf(k, sizeof(k), "%s_p50_us", prefix);
    put(o, k, samples_pct(s, 50));
    if (p90) {
        snprintf(k, sizeof(k), "%s_p90_us", prefix);
        put(o, k, samples_pct(s, 90));
    }
    snprintf(k, sizeof(k), "%s_p99_us", prefix);
    put(o, k, samples_pct(s, 99));
    snprintf(k, sizeof(k), "%s_max_us", prefix);
    put(o, k, samples_max(s));
}

json_t *
run_to_json(struct run *r)
{
    json_t *o = json_object();
    unsigned long total = r->ok + r->rejected + r->status5xx + r->failed;
    put(o, "requests", (double)total);
    put(o, "ok", (double)r->ok);
    put(o, "rejected", (double)r->rejected);
    put(o, "status_5xx", (double)r->status5xx);
    put(o, "failed", (double)r->failed);
    put(o, "elapsed_s", r->elapsed_s);
    put(o, "rps", r->elapsed_s > 0 ? (double)r->ok / r->elapsed_s : 0);
    if (total && r->rejected)
        put(o, "share_429", (double)r->rejected / (double)total);
    put_dist(o, "lat", &r->lat, 1);
    put_dist(o, "rej", &r->rej, 0);
    put_dist(o, "ttfb", &r->ttfb, 0);
    put_dist(o, "ttft", &r->ttft, 0);
    put_dist(o, "relay", &r->relay, 0);
    if (r->chunks)
        put(o, "chunks", (double)r->chunks);
    return o;
}

uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double
now_s(void)
{
    return (double)now_ns() / 1e9;
}

size_t
stamp_parse(const char *text, size_t len, uint64_t *ns)
{
    uint64_t v = 0;
    size_t i = 1;
    if (len < 3 || text[0] != '@')
        return 0;
    while (i < len && text[i] >= '0' && text[i] <= '9' && i < 21)
        v = v * 10 + (uint64_t)(text[i++] - '0');
    if (i == 1 || i >= len || text[i] != '@')
        return 0;
    *ns = v;
    return i + 1;
}
