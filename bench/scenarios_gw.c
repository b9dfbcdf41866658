/*
 * lingma-bench: scenarios 3 (many idle streams) and 4 (overload), which are
 * about the gateway process itself, its memory and its admission, so they
 * run through lingma-gatewayd only, one fresh gateway per measured run so
 * that "RSS before" is a clean baseline; and scenario 5 (the wire APIs
 * side by side), which compares the gateway's front-ends with each other.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cost.h"
#include "http.h"
#include "scenarios_int.h"

static void
sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int
gw_open(struct bench *b, struct gateway *g, struct http **h, const struct envv *env)
{
    char err[512];
    if (gateway_start(g, b->gw_bin, b->sim_bin, env->p, err, sizeof(err)) != 0) {
        progress_note("gateway: %s", err);
        return -1;
    }
    if (http_open(h, g->url) != 0) {
        gateway_stop(g);
        return -1;
    }
    return 0;
}

/* What the idle-stream tick watches. */
struct idle_probe {
    pid_t pid;
    unsigned long n;
    double window_s;
    int open;      /* every stream has its status line */
    int measured;  /* the idle window is over */
    double ramp_s; /* start to the last status line */
    double t0, cpu0;
    double cpu_pct;
    long rss_open, rss_peak;
};

static void
idle_tick(const struct progress *p, void *arg)
{
    struct idle_probe *q = arg;
    long rss = proc_rss_kb(q->pid);
    if (rss > q->rss_peak)
        q->rss_peak = rss;
    if (!q->open && p->headers >= q->n) {
        q->open = 1;
        q->ramp_s = p->elapsed_s;
        q->t0 = now_s();
        q->cpu0 = proc_cpu_s(q->pid);
    } else if (q->open && !q->measured && now_s() - q->t0 >= q->window_s) {
        /* Still every stream open (they last longer than ramp + window):
         * this is the held-open, idle state the scenario asks about. */
        q->measured = 1;
        q->cpu_pct = (proc_cpu_s(q->pid) - q->cpu0) / (now_s() - q->t0) * 100.0;
        q->rss_open = rss;
        if (p->finished)
            progress_note("idle: %lu streams ended inside the idle window", p->finished);
    }
}

static int
idle_once(struct bench *b, unsigned n, const struct envv *env, json_t *runs)
{
    struct gateway g;
    struct http *h = NULL;
    struct run r = {0};
    struct idle_probe q = {0};
    struct load l = {0};
    if (gw_open(b, &g, &h, env) != 0) {
        b->failures++;
        return -1;
    }
    long base = proc_rss_kb(g.pid);
    q.pid = g.pid;
    q.n = n;
    q.window_s = b->quick ? 0.5 : 3.0;
    l.concurrency = n;
    l.total = n;
    l.stream = 1;
    /* A ramp, not a SYN flood: the listen backlog is 4096 here. */
    l.ramp_per_s = 2500;
    l.timeout_ms = 120000;
    l.tick = idle_tick;
    l.tick_arg = &q;
    http_run(h, &l, &r);
    http_close(h);
    sleep_s(0.5);
    long after = proc_rss_kb(g.pid);
    json_t *o = record_run(b, &r, runs, 0);
    if (!q.measured) {
        progress_note("idle: %u streams were never all open at once", n);
        b->failures++;
    }
    json_object_set_new(o, "rss_base_kb", json_real((double)base));
    json_object_set_new(o, "rss_open_kb", json_real((double)q.rss_open));
    json_object_set_new(o, "rss_peak_kb", json_real((double)q.rss_peak));
    json_object_set_new(o, "rss_after_kb", json_real((double)after));
    json_object_set_new(o, "rss_per_stream_kb", json_real((double)(q.rss_open - base) / (double)n));
    json_object_set_new(o, "idle_cpu_pct", json_real(q.cpu_pct));
    json_object_set_new(o, "ramp_s", json_real(q.ramp_s));
    run_free(&r);
    gateway_stop(&g);
    return 0;
}

int
scenario_idle(struct bench *b)
{
    json_t *cells = json_array();
    json_object_set_new(b->root, "idle", json_pack("{s:o}", "cells", cells));
    for (int i = 0; b->idle_n[i]; i++) {
        unsigned n = b->idle_n[i];
        struct envv env = {0};
        /* One chunk every few seconds; each stream lives long enough that
         * all are open at once after the ramp (N / 2500 s) plus the window. */
        envv_add(&env, "LINGMA_SIM_TIMESTAMPS=1");
        envv_add(&env, "LINGMA_SIM_REPLY=text:an idle stream, one chunk every few seconds");
        envv_add(&env, "LINGMA_SIM_CHUNKS=4");
        envv_add(&env, "LINGMA_SIM_FIRST_TOKEN_MS=%d", b->quick ? 300 : 2000);
        envv_add(&env, "LINGMA_SIM_CHUNK_MS=%d", b->quick ? 600 : 4000);
        envv_add(&env, "GATEWAY_MAX_IN_FLIGHT=%u", n + 64);
        envv_add(&env, "GATEWAY_MAX_QUEUE=256");
        envv_add(&env, "GATEWAY_MAX_CONNECTIONS=%u", n + 512);
        json_t *cell = json_pack("{s:i}", "streams", (int)n);
        json_array_append_new(cells, cell);
        json_object_set_new(cell, "sim",
                            json_pack("{s:i,s:i,s:i}", "chunks", 4, "first_token_ms",
                                      b->quick ? 300 : 2000, "chunk_ms", b->quick ? 600 : 4000));
        int reps = b->quick ? 1 : (n >= 5000 ? 2 : b->repeats);
        for (int rep = 0; rep < reps; rep++) {
            idle_once(b, n, &env, part(cell, "gateway"));
            progress_note("idle: %u streams, run %d/%d done", n, rep + 1, reps);
        }
    }
    return 0;
}

/* RSS high-water mark over a run, sampled by the tick. */
struct rss_probe {
    pid_t pid;
    long peak;
};

static void
rss_tick(const struct progress *p, void *arg)
{
    struct rss_probe *q = arg;
    (void)p;
    long rss = proc_rss_kb(q->pid);
    if (rss > q->peak)
        q->peak = rss;
}

int
scenario_overload(struct bench *b)
{
    static const int factors[] = {2, 10};
    unsigned m = b->quick ? 8 : 32, queue = m;
    struct envv env = {0};
    struct gateway g;
    struct http *h = NULL;
    envv_add(&env, "LINGMA_SIM_REPLY=text:admitted");
    envv_add(&env, "LINGMA_SIM_CHUNKS=2");
    /* A service time long enough that the slots are the bottleneck, not
     * the CPU: the offered load is then a clean multiple of capacity. */
    envv_add(&env, "LINGMA_SIM_FIRST_TOKEN_MS=100");
    envv_add(&env, "GATEWAY_MAX_IN_FLIGHT=%u", m);
    envv_add(&env, "GATEWAY_MAX_QUEUE=%u", queue);
    envv_add(&env, "GATEWAY_MAX_CONNECTIONS=8192");
    json_t *cells = json_array();
    json_t *o = json_pack("{s:o,s:i,s:i}", "cells", cells, "max_in_flight", (int)m, "max_queue",
                          (int)queue);
    json_object_set_new(b->root, "overload", o);
    for (int i = 0; i < 2; i++)
        json_array_append_new(cells, json_pack("{s:i}", "factor", factors[i]));
    if (gw_open(b, &g, &h, &env) != 0) {
        b->failures++;
        return -1;
    }
    /* Calibrate: the service time at exactly max_in_flight clients. */
    struct load cal = {0};
    struct run cr = {0};
    cal.concurrency = m;
    cal.duration_s = b->quick ? 0.5 : 1.5;
    cal.timeout_ms = 30000;
    http_run(h, &cal, &cr);
    double service_s = cr.lat.n ? samples_pct(&cr.lat, 50) / 1e6 : 0.1;
    if (cr.failed || cr.status5xx || cr.rejected)
        b->failures += (int)(cr.failed + cr.status5xx + cr.rejected);
    run_free(&cr);
    json_object_set_new(o, "service_ms", json_real(service_s * 1e3));

    for (int rep = 0; rep < b->repeats; rep++) {
        for (int i = 0; i < 2; i++) {
            struct load l = {0};
            struct run r = {0};
            struct rss_probe q = {g.pid, 0};
            long before = proc_rss_kb(g.pid);
            /* Little's law: `factor` x max_in_flight requests offered at once. */
            l.rate = factors[i] * m / service_s;
            l.concurrency = (unsigned)(factors[i] * m * 4 + 64);
            l.duration_s = b->quick ? 1.0 : 3.0;
            l.timeout_ms = 30000;
            l.tick = rss_tick;
            l.tick_arg = &q;
            http_run(h, &l, &r);
            /* Let the last answers and the allocator settle. */
            sleep_s(1.0);
            long after = proc_rss_kb(g.pid);
            json_t *ro = record_run(b, &r, part(json_array_get(cells, (size_t)i), "gateway"), 1);
            json_object_set_new(ro, "offered_rps", json_real(l.rate));
            json_object_set_new(ro, "dropped", json_real((double)r.dropped));
            json_object_set_new(ro, "rss_before_kb", json_real((double)before));
            json_object_set_new(ro, "rss_peak_kb", json_real((double)q.peak));
            json_object_set_new(ro, "rss_after_kb", json_real((double)after));
            if (!json_object_get(ro, "share_429"))
                json_object_set_new(ro, "share_429", json_real(0));
            run_free(&r);
            progress_note("overload: %dx, run %d/%d done", factors[i], rep + 1, b->repeats);
        }
    }
    http_close(h);
    gateway_stop(&g);
    return 0;
}

/* Scenario 5: scenario 2's streaming cell through each wire API of one
 * gateway. The APIs of a repeat run back to back, the one that goes first
 * rotating from repeat to repeat, so that the noise of a shared machine
 * hits them alike; each is compared with Chat Completions of the same
 * repeat, the front-end every other API is measured against. */
int
scenario_apis(struct bench *b)
{
    struct envv sim = {0}, gw = {0}, env = {0};
    struct load tmpl = stream_cell(b, &sim, &gw);
    struct gateway g;
    struct http *h = NULL;
    json_t *cells = json_array();
    json_object_set_new(b->root, "apis",
                        json_pack("{s:o,s:o}", "cells", cells, "sim", envv_json(&sim)));
    for (int i = 0; i < STREAM_NCONC; i++)
        json_array_append_new(cells, json_pack("{s:i}", "concurrency", (int)stream_concs[i]));
    envv_cat(&env, &sim);
    envv_cat(&env, &gw);
    if (gw_open(b, &g, &h, &env) != 0) {
        b->failures++;
        return -1;
    }
    for (int rep = 0; rep < b->repeats; rep++) {
        for (int i = 0; i < STREAM_NCONC; i++) {
            json_t *cell = json_array_get(cells, (size_t)i);
            json_t *res[API_COUNT] = {NULL};
            for (int k = 0; k < API_COUNT; k++) {
                struct load l = tmpl;
                struct run r = {0};
                l.concurrency = stream_concs[i];
                l.api = (enum bench_api)((k + rep) % API_COUNT);
                struct load w = warm_load(&l);
                struct run wr = {0};
                http_run(h, &w, &wr);
                run_free(&wr);
                /* The gateway's own CPU for the measured requests: what a
                 * front-end costs, which the latencies of a busy shared
                 * machine hide. Every request of the run ends inside it. */
                struct cost c;
                cost_begin(&c, g.pid, NULL);
                http_run(h, &l, &r);
                cost_end(&c);
                res[l.api] = record_run(b, &r, part(cell, api_name(l.api)), 0);
                cost_record(&c, res[l.api], r.ok);
                /* A cell with no answer at all would pass for one without
                 * failures: the smoke test must see every API answer. */
                if (!r.ok) {
                    progress_note("apis: no %s stream completed", api_name(l.api));
                    b->failures++;
                }
                run_free(&r);
            }
            for (int a = API_CHAT + 1; a < API_COUNT; a++) {
                char name[64];
                snprintf(name, sizeof(name), "%s_vs_chat", api_name((enum bench_api)a));
                compare(part(cell, name), res[API_CHAT], res[a], stream_keys);
            }
            progress_note("apis: run %d/%d, concurrency %u done", rep + 1, b->repeats,
                          stream_concs[i]);
        }
    }
    http_close(h);
    gateway_stop(&g);
    return 0;
}
