/*
 * lingma-bench: scenario 6, what one request costs lingma-gatewayd, counted
 * rather than timed. Scenario 1's request (same simulator settings) at 1
 * and 64 clients, and the same answer streamed at 1 client through each
 * wire API, a fixed number of requests per run, through a gateway of its
 * own:
 *
 *   - run A: CPU and context switches (as in scenario 1) and, with
 *     --malloc-count, allocations: the gateway runs with the counting
 *     allocator (tools/malloc-count) preloaded;
 *   - run B, the same load again with `strace -c -f` attached to every
 *     thread of the gateway for exactly that run: syscalls per request,
 *     in total and by name. strace slows the traced process many times,
 *     so nothing of run B but its counts is kept.
 *
 * The gateway runs at its default LOG_LEVEL (info), so each request also
 * writes its access log line, as in a default deployment.
 *
 * No latency here is a result. A missing strace (or a ptrace refusal) is
 * a note, not a failure: the other counts still stand.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cost.h"
#include "http.h"
#include "procrun.h"
#include "scenarios_int.h"

/* Whether every thread of `pid` has a tracer. */
static int
all_traced(pid_t pid)
{
    long untraced = 0;
    return proc_tasks_status(pid, 0, "TracerPid", &untraced) >= 0 && untraced == 0;
}

/* strace attached to `pid` and its threads, summary to `out`; -1 on failure. */
static pid_t
strace_attach(const char *strace, pid_t pid, const char *out)
{
    char p[32], err[256];
    snprintf(p, sizeof(p), "%ld", (long)pid);
    const char *argv[] = {strace, "-c", "-f", "-qq", "-o", out, "-p", p, NULL};
    struct procrun_opts o = {.argv = argv};
    pid_t s = procrun_spawn(&o, err, sizeof(err));
    if (s < 0) {
        progress_note("counts: strace: %s", err);
        return -1;
    }
    for (int ms = 0; ms < 5000; ms += 10) {
        if (all_traced(pid))
            return s;
        if (procrun_wait(s, 0, NULL) == 0) {
            progress_note("counts: strace exited before attaching (ptrace refused?)");
            return -1;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    progress_note("counts: strace did not attach to every thread within 5 s");
    procrun_stop(s, SIGINT, 5000, NULL);
    return -1;
}

/* strace -c's table (fixed columns: calls at 31, errors at 41, name at
 * 51) as {"syscalls_per_req", "syscall_errors_per_req", "syscalls": {name:
 * per request}} in `run`. */
static int
strace_record(const char *path, json_t *run, unsigned long requests)
{
    char line[256];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    json_t *by = json_object();
    int total = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n <= 51 || line[0] == '%' || line[0] == '-')
            continue;
        double calls = (double)strtoul(line + 31, NULL, 10) / (double)requests;
        double errs = (double)strtoul(line + 41, NULL, 10) / (double)requests;
        const char *name = line + 51;
        if (!strcmp(name, "total")) {
            json_object_set_new(run, "syscalls_per_req", json_real(calls));
            json_object_set_new(run, "syscall_errors_per_req", json_real(errs));
            total = 1;
        } else {
            json_object_set_new(by, name, json_real(calls));
        }
    }
    fclose(f);
    json_object_set_new(run, "syscalls", by);
    return total ? 0 : -1;
}

static void
counts_cell(struct bench *b, struct gateway *g, struct http *h, const char *mc_file,
            const char *st_out, const struct load *tmpl, json_t *runs)
{
    struct load l = *tmpl;
    struct run r = {0};
    struct cost c;
    struct load w = warm_load(&l);
    struct run wr = {0};
    http_run(h, &w, &wr);
    run_free(&wr);

    cost_begin(&c, g->pid, mc_file);
    http_run(h, &l, &r);
    cost_end(&c);
    json_t *o = record_run(b, &r, runs, 0);
    cost_record(&c, o, r.ok);
    run_free(&r);

    if (!b->strace)
        return;
    pid_t s = strace_attach(b->strace, g->pid, st_out);
    if (s < 0)
        return;
    struct run tr = {0};
    http_run(h, &l, &tr);
    /* SIGINT: strace detaches and writes its summary. */
    procrun_stop(s, SIGINT, 10000, NULL);
    if (tr.ok != l.total || tr.failed || tr.status5xx)
        progress_note("counts: traced run: %lu of %lu ok", tr.ok, l.total);
    if (tr.ok && strace_record(st_out, o, tr.ok) != 0)
        progress_note("counts: no strace summary in %s", st_out);
    run_free(&tr);
}

/* One gateway of the comparison, with its own simulator and files. */
struct counted {
    const char *bin;
    const char *part; /* "gateway" or "gateway_b" */
    struct gateway g;
    struct http *h;
    char *dir;
    char mc_file[4200], st_out[4200];
};

static int
counted_open(struct bench *b, struct counted *k, const struct envv *base)
{
    struct envv env = *base;
    char err[512];
    for (int i = 0; i < env.n; i++)
        env.p[i] = env.buf[i];
    k->dir = bench_tempdir("counts");
    if (!k->dir)
        return -1;
    snprintf(k->st_out, sizeof(k->st_out), "%s/strace.txt", k->dir);
    if (b->malloc_count) {
        snprintf(k->mc_file, sizeof(k->mc_file), "%s/malloc-count", k->dir);
        envv_add(&env, "LD_PRELOAD=%s", b->malloc_count);
        envv_add(&env, "MALLOC_COUNT_FILE=%s", k->mc_file);
    }
    if (gateway_start(&k->g, k->bin, b->sim_bin, env.p, err, sizeof(err)) != 0) {
        progress_note("counts: %s: %s", k->bin, err);
        return -1;
    }
    if (http_open(&k->h, k->g.url) != 0) {
        gateway_stop(&k->g);
        return -1;
    }
    return 0;
}

static void
counted_close(struct counted *k)
{
    if (k->h) {
        http_close(k->h);
        gateway_stop(&k->g);
    }
    bench_rmtree(k->dir);
}

/* The repeats of one cell: A/B, the gateway that goes first alternating. */
static void
counts_repeats(struct bench *b, struct counted *k, int nk, const struct load *l, json_t *cell)
{
    for (int rep = 0; rep < (b->quick ? 1 : 3); rep++) {
        for (int j = 0; j < nk; j++) {
            struct counted *c = &k[(j + rep) % nk];
            counts_cell(b, &c->g, c->h, b->malloc_count ? c->mc_file : NULL, c->st_out, l,
                        part(cell, c->part));
        }
        if (l->stream)
            progress_note("counts: streaming %s, run %d done", api_name(l->api), rep + 1);
        else
            progress_note("counts: concurrency %u, run %d done", l->concurrency, rep + 1);
    }
}

int
scenario_counts(struct bench *b)
{
    static const unsigned concs[] = {1, 64};
    struct envv sim = {0}, gw = {0}, env = {0};
    struct load tmpl = nonstream_cell(b, &sim, &gw);
    struct counted k[2] = {{.bin = b->gw_bin, .part = "gateway"},
                           {.bin = b->gw_bin_b, .part = "gateway_b"}};
    int nk = b->gw_bin_b ? 2 : 1;
    json_t *cells = json_array();
    json_t *o =
        json_pack("{s:o,s:o,s:s}", "cells", cells, "sim", envv_json(&sim), "gateway", b->gw_bin);
    if (b->gw_bin_b)
        json_object_set_new(o, "gateway_b", json_string(b->gw_bin_b));
    json_object_set_new(b->root, "counts", o);
    envv_cat(&env, &sim);
    envv_cat(&env, &gw);
    /* gatewayd's default level: a request's cost includes its access log
     * line, as in a default deployment (the timed scenarios run at warn). */
    envv_add(&env, "LOG_LEVEL=info");
    for (int j = 0; j < nk; j++) {
        if (counted_open(b, &k[j], &env) != 0) {
            b->failures++;
            for (int i = 0; i <= j; i++)
                counted_close(&k[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof(concs) / sizeof(concs[0]); i++) {
        json_t *cell = json_pack("{s:i}", "concurrency", (int)concs[i]);
        json_array_append_new(cells, cell);
        struct load l = tmpl;
        l.concurrency = concs[i];
        l.duration_s = 0;
        l.total = b->quick ? 100 : (concs[i] == 1 ? 1000 : 4000);
        counts_repeats(b, k, nk, &l, cell);
    }
    /* The same answer streamed through each wire API at 1 client: what a
     * front-end's rendering costs per request, counted (scenario 5 times
     * it, where a shared machine's noise hides tens of microseconds). */
    json_t *scells = json_array();
    json_object_set_new(o, "stream_cells", scells);
    for (int a = 0; a < API_COUNT; a++) {
        json_t *cell = json_pack("{s:s}", "api", api_name((enum bench_api)a));
        json_array_append_new(scells, cell);
        struct load l = tmpl;
        l.concurrency = 1;
        l.duration_s = 0;
        l.total = b->quick ? 50 : 500;
        l.stream = 1;
        l.api = (enum bench_api)a;
        counts_repeats(b, k, nk, &l, cell);
    }
    for (int j = 0; j < nk; j++)
        counted_close(&k[j]);
    return 0;
}
