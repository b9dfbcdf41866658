/*
 * lingma-bench: scenarios 1 and 2, gateway against direct liblingma side by
 * side, and the helpers all scenarios share. Scenarios 3 and 4 (gateway
 * only) are in scenarios_gw.c.
 *
 * Side by side means: one gatewayd (with its own lingma-sim) and one direct
 * pool (with its own lingma-sim, same settings) live at the same time, and
 * every measured cell runs the two paths back to back, alternating which
 * goes first, so the noise of a shared 2-core machine hits both alike.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "direct.h"
#include "floor.h"
#include "http.h"
#include "procs.h"
#include "scenarios_int.h"

void
envv_add(struct envv *e, const char *fmt, ...)
{
    va_list ap;
    if (e->n >= ENVV_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(e->buf[e->n], sizeof(e->buf[e->n]), fmt, ap);
    va_end(ap);
    e->p[e->n] = e->buf[e->n];
    e->n++;
    e->p[e->n] = NULL;
}

void
envv_cat(struct envv *e, const struct envv *from)
{
    for (int i = 0; i < from->n; i++)
        envv_add(e, "%s", from->buf[i]);
}

void
progress_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lingma-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

json_t *
record_run(struct bench *b, struct run *r, json_t *runs, int rejections_ok)
{
    unsigned long bad = r->failed + r->status5xx + (rejections_ok ? 0 : r->rejected);
    json_t *o = run_to_json(r);
    json_object_set_new(o, "errors", json_real((double)bad));
    if (bad) {
        b->failures += (int)bad;
        progress_note("%lu requests failed: %s", bad, r->first_error);
    }
    json_array_append_new(runs, o);
    return o;
}

json_t *
part(json_t *cell, const char *name)
{
    json_t *p = json_object_get(cell, name);
    if (!p) {
        p = json_pack("{s:[]}", "runs");
        json_object_set_new(cell, name, p);
    }
    return json_object_get(p, "runs");
}

int
sides_open(struct sides *s, struct bench *b, const struct envv *sim, const struct envv *gw,
           unsigned max_in_flight, unsigned max_queue)
{
    char err[512];
    struct direct_config dc = {0};
    memset(s, 0, sizeof(*s));
    s->b = b;
    s->g.pid = -1;
    s->ddir = bench_tempdir("direct");
    if (!s->ddir) {
        progress_note("no temp dir");
        return -1;
    }
    dc.sim_bin = b->sim_bin;
    dc.work_dir = s->ddir;
    dc.sim_env = sim->p;
    dc.max_in_flight = max_in_flight;
    dc.max_queue = max_queue;
    dc.socket_port = bench_free_port();
    if (direct_open(&s->d, &dc, err, sizeof(err)) != 0) {
        progress_note("direct pool: %s", err);
        sides_close(s);
        return -1;
    }
    if (!b->gw_bin)
        return 0;
    struct envv all = {0};
    envv_cat(&all, sim);
    envv_cat(&all, gw);
    if (gateway_start(&s->g, b->gw_bin, b->sim_bin, all.p, err, sizeof(err)) != 0) {
        progress_note("gateway: %s", err);
        sides_close(s);
        return -1;
    }
    if (http_open(&s->h, s->g.url) != 0) {
        progress_note("curl multi handle");
        sides_close(s);
        return -1;
    }
    return 0;
}

void
sides_close(struct sides *s)
{
    http_close(s->h);
    s->h = NULL;
    if (s->g.pid > 0 || s->g.dir)
        gateway_stop(&s->g);
    direct_close(s->d);
    s->d = NULL;
    bench_rmtree(s->ddir);
    s->ddir = NULL;
}

struct load
warm_load(const struct load *load)
{
    struct load w = *load;
    w.duration_s = 0;
    w.total = load->concurrency * 2 < 20 ? 20 : load->concurrency * 2;
    w.tick = NULL;
    return w;
}

static void
gateway_stalled(const struct progress *p, void *arg)
{
    struct sides *s = arg;
    progress_note("no request ended for %.0f s, %lu outstanding", STALL_S, p->outstanding);
    gateway_evidence(&s->g, s->b->sim_bin, s->b->out);
}

/* The unmeasured run before a measured one. Its requests may not fail
 * either: a failure there (a stall, say) is as much a fault as in the
 * measured run, and used to pass unseen. */
static void
warm_up(struct sides *s, int gateway, const struct load *load)
{
    struct load w = warm_load(load);
    struct run wr = {0};
    if (gateway)
        http_run(s->h, &w, &wr);
    else
        direct_run(s->d, &w, &wr);
    unsigned long bad = wr.failed + wr.status5xx;
    if (bad) {
        s->b->failures += (int)bad;
        progress_note("warm-up: %lu requests failed: %s", bad, wr.first_error);
    }
    run_free(&wr);
}

/* A short unmeasured run first: connections opened, caches warm. The
 * measured run's cost goes to `c` (see cost.h). A gateway run, warm-up
 * included, that stops ending requests leaves evidence (gateway_stalled). */
int
drive(struct sides *s, int gateway, const struct load *load, struct run *r, int warm,
      struct cost *c)
{
    int rc;
    if (gateway) {
        struct load l = *load;
        l.stalled = gateway_stalled;
        l.stalled_arg = s;
        if (warm)
            warm_up(s, 1, &l);
        cost_begin(c, s->g.pid, NULL);
        rc = http_run(s->h, &l, r);
        cost_end(c);
        return rc;
    }
    if (warm)
        warm_up(s, 0, load);
    cost_begin(c, 0, NULL);
    rc = direct_run(s->d, load, r);
    cost_end(c);
    return rc;
}

void
compare(json_t *runs, json_t *a, json_t *b, const char *const *keys)
{
    json_t *o = json_object();
    char k[96];
    for (; *keys; keys++) {
        json_t *x = json_object_get(a, *keys), *y = json_object_get(b, *keys);
        if (!json_is_number(x) || !json_is_number(y))
            continue;
        snprintf(k, sizeof(k), "added_%s", *keys);
        json_object_set_new(o, k, json_real(json_number_value(y) - json_number_value(x)));
    }
    double arps = json_number_value(json_object_get(a, "rps"));
    if (arps > 0)
        json_object_set_new(o, "throughput_ratio",
                            json_real(json_number_value(json_object_get(b, "rps")) / arps));
    json_array_append_new(runs, o);
}

json_t *
envv_json(const struct envv *e)
{
    json_t *a = json_array();
    for (int i = 0; i < e->n; i++)
        json_array_append_new(a, json_string(e->buf[i]));
    return a;
}

/* Scenarios 1 and 2: for every concurrency, R repeats of direct and gateway;
 * with `floor_gap_ms`, the loopback floor (floor.h) at that spacing next to
 * them in the concurrency-1 cell. */
static int
side_by_side(struct bench *b, const char *name, const struct envv *sim, const struct envv *gw,
             const unsigned *concs, int nconc, const struct load *tmpl, const char *const *cmp_keys,
             double floor_gap_ms)
{
    struct sides s;
    unsigned only[8];
    if (b->concs[0]) {
        /* --concurrency: these instead of the scenario's own. */
        for (nconc = 0; nconc < 8 && b->concs[nconc]; nconc++)
            only[nconc] = b->concs[nconc];
        concs = only;
    }
    json_t *cells = json_array();
    json_object_set_new(b->root, name,
                        json_pack("{s:o,s:o}", "cells", cells, "sim", envv_json(sim)));
    for (int i = 0; i < nconc; i++)
        json_array_append_new(cells, json_pack("{s:i}", "concurrency", (int)concs[i]));

    if (sides_open(&s, b, sim, gw, 1024, 1024) != 0) {
        b->failures++;
        return -1;
    }
    for (int rep = 0; rep < b->repeats; rep++) {
        for (int i = 0; i < nconc; i++) {
            json_t *cell = json_array_get(cells, (size_t)i);
            json_t *res[2] = {NULL, NULL};
            struct load l = *tmpl;
            l.concurrency = concs[i];
            for (int k = 0; k < 2; k++) {
                /* Alternate the order: neither path always runs on a
                 * machine the other one just warmed (or heated). */
                int gateway = (k + rep) % 2;
                if (gateway && !s.h)
                    continue;
                struct run r = {0};
                struct cost c;
                drive(&s, gateway, &l, &r, 1, &c);
                res[gateway] = record_run(b, &r, part(cell, gateway ? "gateway" : "direct"), 0);
                cost_record(&c, res[gateway], r.ok);
                run_free(&r);
            }
            if (res[0] && res[1])
                compare(part(cell, "compare"), res[0], res[1], cmp_keys);
            if (floor_gap_ms > 0 && concs[i] == 1) {
                struct run r = {0}, rc = {0};
                floor_run(l.duration_s, floor_gap_ms, &r);
                json_t *one = record_run(b, &r, part(cell, "floor"), 0);
                floor_run_chain(l.duration_s, floor_gap_ms, &rc);
                json_t *three = record_run(b, &rc, part(cell, "floor_chain"), 0);
                if (one && three)
                    compare(part(cell, "floor_compare"), one, three, cmp_keys);
                run_free(&r);
                run_free(&rc);
            }
            progress_note("%s: run %d/%d, concurrency %u done", name, rep + 1, b->repeats,
                          concs[i]);
        }
    }
    sides_close(&s);
    return 0;
}

struct load
nonstream_cell(struct bench *b, struct envv *sim, struct envv *gw)
{
    struct load l = {0};
    envv_add(sim, "LINGMA_SIM_REPLY=text:Hello from lingma-bench.");
    envv_add(sim, "LINGMA_SIM_CHUNKS=4");
    envv_add(sim, "LINGMA_SIM_FIRST_TOKEN_MS=0");
    envv_add(sim, "LINGMA_SIM_CHUNK_MS=0");
    /* Admission must not be what is measured here: room for every client. */
    envv_add(gw, "GATEWAY_MAX_IN_FLIGHT=1024");
    envv_add(gw, "GATEWAY_MAX_QUEUE=1024");
    l.duration_s = b->quick ? 0.4 : 3.0;
    l.timeout_ms = 30000;
    return l;
}

int
scenario_nonstream(struct bench *b)
{
    static const unsigned concs[] = {1, 16, 64, 256};
    static const char *const keys[] = {"lat_p50_us",
                                       "lat_p90_us",
                                       "lat_p99_us",
                                       "lat_max_us",
                                       "cpu_us_per_req",
                                       "ctxsw_per_req",
                                       "driver_cpu_us_per_req",
                                       "sim_cpu_us_per_req",
                                       NULL};
    struct envv sim = {0}, gw = {0};
    struct load l = nonstream_cell(b, &sim, &gw);
    return side_by_side(b, "nonstream", &sim, &gw, concs, 4, &l, keys, 0);
}

const unsigned stream_concs[STREAM_NCONC] = {1, 16};
const char *const stream_keys[] = {"ttfb_p50_us",
                                   "ttfb_p99_us",
                                   "ttft_p50_us",
                                   "ttft_p99_us",
                                   "relay_p50_us",
                                   "relay_p99_us",
                                   "relay_max_us",
                                   "lat_p50_us",
                                   "cpu_us_per_req",
                                   "ctxsw_per_req",
                                   NULL};

struct load
stream_cell(struct bench *b, struct envv *sim, struct envv *gw)
{
    struct load l = {0};
    envv_add(sim, "LINGMA_SIM_TIMESTAMPS=1");
    envv_add(sim, "LINGMA_SIM_REPLY=tokens:64");
    envv_add(sim, "LINGMA_SIM_CHUNKS=16");
    envv_add(sim, "LINGMA_SIM_FIRST_TOKEN_MS=0");
    /* Spaced chunks: each one crosses an idle path, as tokens of a real
     * model do, instead of queueing behind the previous one. */
    envv_add(sim, "LINGMA_SIM_CHUNK_MS=5");
    envv_add(gw, "GATEWAY_MAX_IN_FLIGHT=1024");
    envv_add(gw, "GATEWAY_MAX_QUEUE=1024");
    l.stream = 1;
    l.duration_s = b->quick ? 0.6 : 4.0;
    l.timeout_ms = 30000;
    return l;
}

int
scenario_stream(struct bench *b)
{
    struct envv sim = {0}, gw = {0};
    struct load l = stream_cell(b, &sim, &gw);
    /* The floor at the simulator's chunk spacing (LINGMA_SIM_CHUNK_MS). */
    return side_by_side(b, "stream", &sim, &gw, stream_concs, STREAM_NCONC, &l, stream_keys, 5);
}
