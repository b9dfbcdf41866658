/*
 * lingma-bench: the report. Every scenario records one flat object of
 * numbers per run; here they become medians with min and max over the
 * repeats, the goals of issue 7 are checked, and the table is printed.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *
summarize_runs(json_t *runs)
{
    json_t *sum = json_object();
    size_t n = json_array_size(runs);
    json_t *first = json_array_get(runs, 0);
    const char *key;
    json_t *val;
    double *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return sum;
    json_object_foreach(first, key, val)
    {
        size_t k = 0;
        if (!json_is_number(val))
            continue;
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_object_get(json_array_get(runs, i), key);
            if (json_is_number(x))
                v[k++] = json_number_value(x);
        }
        if (!k)
            continue;
        qsort(v, k, sizeof(*v), cmp_double);
        double med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
        json_object_set_new(sum, key,
                            json_pack("{s:f,s:f,s:f,s:i}", "median", med, "min", v[0], "max",
                                      v[k - 1], "n", (int)k));
    }
    free(v);
    return sum;
}

void
report_summarize(json_t *root)
{
    const char *key;
    json_t *val;
    size_t i;
    if (json_is_array(root)) {
        json_array_foreach(root, i, val) report_summarize(val);
        return;
    }
    if (!json_is_object(root))
        return;
    json_t *runs = json_object_get(root, "runs");
    if (json_is_array(runs) && json_array_size(runs))
        json_object_set_new(root, "summary", summarize_runs(runs));
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "runs") && strcmp(key, "summary"))
            report_summarize(val);
    }
}

/* The cell of `scenario` whose `field` equals `value`, or NULL. */
static json_t *
cell(json_t *root, const char *scenario, const char *field, double value)
{
    json_t *cells = json_object_get(json_object_get(root, scenario), "cells");
    json_t *c;
    size_t i;
    json_array_foreach(cells, i, c)
    {
        if (json_number_value(json_object_get(c, field)) == value)
            return c;
    }
    return NULL;
}

static json_t *
stat_of(json_t *obj, const char *part, const char *key)
{
    return json_object_get(json_object_get(json_object_get(obj, part), "summary"), key);
}

static double
med(json_t *obj, const char *part, const char *key)
{
    json_t *s = stat_of(obj, part, key);
    return s ? json_number_value(json_object_get(s, "median")) : NAN;
}

static void
goal(json_t *goals, const char *name, const char *target, double value, const char *unit, int met,
     const char *note)
{
    json_t *g = json_pack("{s:s,s:s,s:s}", "goal", name, "target", target, "unit", unit);
    if (isnan(value)) {
        json_object_set_new(g, "value", json_null());
        json_object_set_new(g, "met", json_null());
    } else {
        json_object_set_new(g, "value", json_real(value));
        json_object_set_new(g, "met", json_boolean(met));
    }
    if (note)
        json_object_set_new(g, "note", json_string(note));
    json_array_append_new(goals, g);
}

void
report_goals(json_t *root)
{
    json_t *goals = json_array();
    json_t *c1 = cell(root, "nonstream", "concurrency", 1);
    double a50 = med(c1, "compare", "added_lat_p50_us");
    double a99 = med(c1, "compare", "added_lat_p99_us");
    goal(goals, "gateway added latency p50, non-streaming, concurrency 1", "<= 150", a50, "us",
         a50 <= 150, NULL);
    goal(goals, "gateway added latency p99, non-streaming, concurrency 1", "<= 1000", a99, "us",
         a99 <= 1000, NULL);

    json_t *s1 = cell(root, "stream", "concurrency", 1);
    double r99 = med(s1, "gateway", "relay_p99_us");
    goal(goals, "chunk relay p99, Lingma write to client read, through the gateway", "<= 200", r99,
         "us", r99 <= 200, NULL);

    /* Issue 15: CPU per request at 64 clients, the throughput ratio at
     * 16-256 (the worst cell decides), and the relay tail of both paths. */
    json_t *c64 = cell(root, "nonstream", "concurrency", 64);
    double gcpu = med(c64, "gateway", "cpu_us_per_req");
    double dcpu = med(c64, "direct", "cpu_us_per_req");
    goal(goals, "gatewayd CPU per non-streaming request, 64 clients", "<= 70", gcpu, "us",
         gcpu <= 70, NULL);
    goal(goals, "direct (liblingma) CPU per non-streaming request, 64 clients", "<= 50", dcpu, "us",
         dcpu <= 50, NULL);
    double worst = NAN;
    json_t *wc = NULL;
    json_t *cs = json_object_get(json_object_get(root, "nonstream"), "cells");
    json_t *cc;
    size_t ci;
    json_array_foreach(cs, ci, cc)
    {
        double conc = json_number_value(json_object_get(cc, "concurrency"));
        double ratio = med(cc, "compare", "throughput_ratio");
        if (conc >= 16 && conc <= 256 && !isnan(ratio) && (isnan(worst) || ratio < worst)) {
            worst = ratio;
            wc = cc;
        }
    }
    /* Both paths share 2 cores with their simulator, and the gateway's
     * also with the HTTP client: when the cores are the limit, the ratio
     * cannot exceed the ratio of the whole CPU each request costs. */
    char rnote[256];
    double dall = med(wc, "direct", "cpu_us_per_req") + med(wc, "direct", "sim_cpu_us_per_req");
    double gown = med(wc, "gateway", "cpu_us_per_req") + med(wc, "gateway", "sim_cpu_us_per_req");
    double client = med(wc, "gateway", "driver_cpu_us_per_req");
    if (!isnan(dall) && !isnan(gown) && !isnan(client))
        snprintf(rnote, sizeof(rnote),
                 "at %.0f clients, CPU per request with the simulator's: direct %.0f us, "
                 "gateway %.0f us plus the client's %.0f; CPU-bound ratio %.2f, %.2f without "
                 "the client",
                 json_number_value(json_object_get(wc, "concurrency")), dall, gown, client,
                 dall / (gown + client), dall / gown);
    goal(goals, "gateway throughput / direct, 16-256 clients (worst cell)", ">= 0.9", worst,
         "ratio", worst >= 0.9, !isnan(dall) && !isnan(gown) && !isnan(client) ? rnote : NULL);
    double ra99 = med(s1, "compare", "added_relay_p99_us");
    double rd99 = med(s1, "direct", "relay_p99_us");
    /* What the machine charges for the gateway's two extra hand-offs, from
     * the same repeats: read the added relay against it. */
    double fa99 = med(s1, "floor_compare", "added_relay_p99_us");
    char fnote[160];
    if (!isnan(fa99))
        snprintf(fnote, sizeof(fnote),
                 "the machine's floor for the gateway's two extra hand-offs (floor3 - floor): "
                 "%.0f us at p99",
                 fa99);
    goal(goals, "chunk relay p99 added by the gateway, concurrency 1", "<= 200", ra99, "us",
         ra99 <= 200, isnan(fa99) ? NULL : fnote);
    goal(goals, "chunk relay p99, direct, concurrency 1", "<= 500", rd99, "us", rd99 <= 500, NULL);
    goal(goals, "chunk relay p99, gateway, concurrency 1", "<= 500", r99, "us", r99 <= 500, NULL);

    json_t *idle = cell(root, "idle", "streams", 10000);
    double rss = med(idle, "gateway", "rss_open_kb");
    double bad = med(idle, "gateway", "errors");
    goal(goals, "10,000 concurrent streams: gatewayd RSS", "<= 150 MB", rss / 1024.0, "MB",
         rss / 1024.0 <= 150, NULL);
    goal(goals, "10,000 concurrent streams: errors", "0", bad, "requests", bad == 0, NULL);

    /* The worst of the overload levels decides. */
    double rej = NAN, s5 = NAN;
    json_t *cells = json_object_get(json_object_get(root, "overload"), "cells");
    json_t *c;
    size_t i;
    json_array_foreach(cells, i, c)
    {
        json_t *rs = stat_of(c, "gateway", "rej_p99_us");
        json_t *fs = stat_of(c, "gateway", "status_5xx");
        double r = rs ? json_number_value(json_object_get(rs, "median")) : NAN;
        double f = fs ? json_number_value(json_object_get(fs, "max")) : NAN;
        if (!isnan(r) && (isnan(rej) || r > rej))
            rej = r;
        if (!isnan(f) && (isnan(s5) || f > s5))
            s5 = f;
    }
    goal(goals, "rejection latency p99 under overload (2x and 10x)", "< 1000", rej, "us",
         rej < 1000, NULL);
    goal(goals, "5xx under overload (any run)", "0", s5, "responses", s5 == 0, NULL);
    json_object_set_new(root, "goals", goals);
}

/* "median [min-max]" of a summary statistic, in a fixed width. */
static void
fmt_stat(char *out, size_t len, json_t *s, double scale, int decimals)
{
    if (!s) {
        snprintf(out, len, "-");
        return;
    }
    double m = json_number_value(json_object_get(s, "median")) * scale;
    double lo = json_number_value(json_object_get(s, "min")) * scale;
    double hi = json_number_value(json_object_get(s, "max")) * scale;
    snprintf(out, len, "%.*f [%.*f-%.*f]", decimals, m, decimals, lo, decimals, hi);
}

static void
row(FILE *f, json_t *obj, const char *part, const char *const *keys, const double *scales,
    const int *decs, int nkeys, int width)
{
    char buf[96];
    for (int k = 0; k < nkeys; k++) {
        fmt_stat(buf, sizeof(buf), stat_of(obj, part, keys[k]), scales[k], decs[k]);
        fprintf(f, " %-*s", width, buf);
    }
    fputc('\n', f);
}

static void
table_nonstream(FILE *f, json_t *root)
{
    static const char *const keys[] = {"rps",
                                       "lat_p50_us",
                                       "lat_p90_us",
                                       "lat_p99_us",
                                       "lat_max_us",
                                       "cpu_us_per_req",
                                       "ctxsw_per_req",
                                       "driver_cpu_us_per_req",
                                       "sim_cpu_us_per_req"};
    static const double sc[] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const int dec[] = {0, 0, 0, 0, 0, 0, 1, 0, 0};
    static const char *const ckeys[] = {"throughput_ratio",        "added_lat_p50_us",
                                        "added_lat_p90_us",        "added_lat_p99_us",
                                        "added_lat_max_us",        "added_cpu_us_per_req",
                                        "added_ctxsw_per_req",     "added_driver_cpu_us_per_req",
                                        "added_sim_cpu_us_per_req"};
    static const int cdec[] = {2, 0, 0, 0, 0, 0, 1, 0, 0};
    json_t *cells = json_object_get(json_object_get(root, "nonstream"), "cells");
    json_t *c;
    size_t i;
    if (!json_array_size(cells))
        return;
    fprintf(f, "\n1. Non-streaming, short answer, zero simulator delay (latency in us; CPU per"
               " request in us: gatewayd, or liblingma's threads for direct)\n");
    fprintf(f, "%5s %-8s %-22s %-22s %-22s %-22s %-22s %-22s %-22s %-22s %-22s\n", "conc", "path",
            "req/s (gw: ratio)", "p50", "p90", "p99", "max", "CPU/req", "ctx switches/req",
            "client CPU/req", "sim CPU/req");
    json_array_foreach(cells, i, c)
    {
        int conc = (int)json_number_value(json_object_get(c, "concurrency"));
        fprintf(f, "%5d %-8s", conc, "direct");
        row(f, c, "direct", keys, sc, dec, 9, 22);
        if (!json_object_get(c, "gateway"))
            continue;
        fprintf(f, "%5d %-8s", conc, "gateway");
        row(f, c, "gateway", keys, sc, dec, 9, 22);
        fprintf(f, "%5d %-8s", conc, "added");
        row(f, c, "compare", ckeys, sc, cdec, 9, 22);
    }
}

static void
table_stream(FILE *f, json_t *root)
{
    static const char *const keys[] = {"ttfb_p50_us",  "ttft_p50_us",  "ttft_p99_us",
                                       "relay_p50_us", "relay_p99_us", "relay_max_us"};
    static const double sc[] = {1, 1, 1, 1, 1, 1};
    static const int dec[] = {0, 0, 0, 0, 0, 0};
    static const char *const ckeys[] = {"added_ttfb_p50_us",  "added_ttft_p50_us",
                                        "added_ttft_p99_us",  "added_relay_p50_us",
                                        "added_relay_p99_us", "added_relay_max_us"};
    json_t *cells = json_object_get(json_object_get(root, "stream"), "cells");
    json_t *c;
    size_t i;
    if (!json_array_size(cells))
        return;
    fprintf(f, "\n2. Streaming with send stamps (us; relay = Lingma's write to our read)\n");
    fprintf(f, "%5s %-8s %-20s %-20s %-20s %-20s %-20s %-20s\n", "conc", "path", "ttfb p50",
            "ttft p50", "ttft p99", "relay p50", "relay p99", "relay max");
    json_array_foreach(cells, i, c)
    {
        int conc = (int)json_number_value(json_object_get(c, "concurrency"));
        fprintf(f, "%5d %-8s", conc, "direct");
        row(f, c, "direct", keys, sc, dec, 6, 20);
        if (json_object_get(c, "gateway")) {
            fprintf(f, "%5d %-8s", conc, "gateway");
            row(f, c, "gateway", keys, sc, dec, 6, 20);
            fprintf(f, "%5d %-8s", conc, "added");
            row(f, c, "compare", ckeys, sc, dec, 6, 20);
        }
        if (!json_object_get(c, "floor"))
            continue;
        /* The loopback floors have relay columns only. */
        fprintf(f, "%5d %-8s %-20s %-20s %-20s", conc, "floor", "-", "-", "-");
        row(f, c, "floor", keys + 3, sc, dec, 3, 20);
        if (!json_object_get(c, "floor_chain"))
            continue;
        fprintf(f, "%5d %-8s %-20s %-20s %-20s", conc, "floor3", "-", "-", "-");
        row(f, c, "floor_chain", keys + 3, sc, dec, 3, 20);
        fprintf(f, "%5d %-8s %-20s %-20s %-20s", conc, "added", "-", "-", "-");
        row(f, c, "floor_compare", ckeys + 3, sc, dec, 3, 20);
    }
    if (json_object_get(json_array_get(cells, 0), "floor"))
        fprintf(f, "(floor: a bare loopback TCP stamp every 5 ms to a thread in poll(2), no lws,"
                   " no liblingma; the machine's share of any relay.\n floor3: the same stamps"
                   " through three hand-offs as in the gateway: TCP to a thread in poll(2),"
                   " eventfd to a\n thread in epoll_wait(2), TCP to a thread in poll(2); its"
                   " added row is floor3 - floor, the machine's\n share of the gateway's added"
                   " relay)\n");
}

static void
table_idle(FILE *f, json_t *root)
{
    static const char *const keys[] = {"rss_base_kb",  "rss_open_kb", "rss_per_stream_kb",
                                       "idle_cpu_pct", "ok",          "errors",
                                       "ramp_s"};
    static const double sc[] = {1.0 / 1024, 1.0 / 1024, 1, 1, 1, 1, 1};
    static const int dec[] = {1, 1, 2, 1, 0, 0, 1};
    json_t *cells = json_object_get(json_object_get(root, "idle"), "cells");
    json_t *c;
    size_t i;
    if (!json_array_size(cells))
        return;
    fprintf(f, "\n3. Idle streams held open (gatewayd process; RSS in MB, per stream in KB)\n");
    fprintf(f, "%7s %-18s %-18s %-18s %-18s %-18s %-12s %-14s\n", "streams", "RSS before",
            "RSS all open", "per stream", "idle CPU %", "completed", "errors", "ramp s");
    json_array_foreach(cells, i, c)
    {
        fprintf(f, "%7d", (int)json_number_value(json_object_get(c, "streams")));
        row(f, c, "gateway", keys, sc, dec, 7, 18);
    }
}

static void
table_overload(FILE *f, json_t *root)
{
    static const char *const keys[] = {"offered_rps",   "share_429",   "rej_p50_us",  "rej_p99_us",
                                       "rej_max_us",    "lat_p50_us",  "lat_p99_us",  "status_5xx",
                                       "rss_before_kb", "rss_peak_kb", "rss_after_kb"};
    static const double sc[] = {1, 100, 1, 1, 1, 1e-3, 1e-3, 1, 1.0 / 1024, 1.0 / 1024, 1.0 / 1024};
    static const int dec[] = {0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1};
    json_t *o = json_object_get(root, "overload");
    json_t *cells = json_object_get(o, "cells");
    json_t *c;
    size_t i;
    if (!json_array_size(cells))
        return;
    fprintf(f,
            "\n4. Overload, open loop (max_in_flight %d, max_queue %d, service time %.0f ms;"
            " admitted latency in ms, RSS in MB)\n",
            (int)json_number_value(json_object_get(o, "max_in_flight")),
            (int)json_number_value(json_object_get(o, "max_queue")),
            json_number_value(json_object_get(o, "service_ms")));
    fprintf(f, "%6s %-15s %-15s %-15s %-15s %-15s %-15s %-15s %-9s %-15s %-15s %-15s\n", "factor",
            "offered/s", "429 %", "reject p50 us", "reject p99 us", "reject max us", "admit p50 ms",
            "admit p99 ms", "5xx", "RSS before", "RSS peak", "RSS after");
    json_array_foreach(cells, i, c)
    {
        fprintf(f, "%5dx", (int)json_number_value(json_object_get(c, "factor")));
        row(f, c, "gateway", keys, sc, dec, 11, 15);
    }
}

static void
table_apis(FILE *f, json_t *root)
{
    static const char *const keys[] = {"rps",          "ttfb_p50_us",   "ttft_p50_us",
                                       "ttft_p99_us",  "relay_p50_us",  "relay_p99_us",
                                       "relay_max_us", "cpu_us_per_req"};
    static const char *const ckeys[] = {
        "throughput_ratio",   "added_ttfb_p50_us",  "added_ttft_p50_us",  "added_ttft_p99_us",
        "added_relay_p50_us", "added_relay_p99_us", "added_relay_max_us", "added_cpu_us_per_req"};
    static const double sc[] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const int dec[] = {1, 0, 0, 0, 0, 0, 0, 0};
    static const int cdec[] = {2, 0, 0, 0, 0, 0, 0, 0};
    /* Row label and part of the cell, in the order of the rows. */
    static const char *const rows[][2] = {
        {"chat", "chat"},
        {"messages", "messages"},
        {"responses", "responses"},
        {"msg-chat", "messages_vs_chat"},
        {"resp-chat", "responses_vs_chat"},
    };
    json_t *cells = json_object_get(json_object_get(root, "apis"), "cells");
    json_t *c;
    size_t i;
    if (!json_array_size(cells))
        return;
    fprintf(f, "\n5. Wire APIs, streaming through the gateway, scenario 2's cell per API (us;"
               " an API minus chat per repeat)\n");
    fprintf(f, "%5s %-10s %-20s %-20s %-20s %-20s %-20s %-20s %-20s %-20s\n", "conc", "api",
            "req/s (-chat: ratio)", "ttfb p50", "ttft p50", "ttft p99", "relay p50", "relay p99",
            "relay max", "gatewayd CPU/req");
    json_array_foreach(cells, i, c)
    {
        int conc = (int)json_number_value(json_object_get(c, "concurrency"));
        for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
            int diff = k >= 3;
            fprintf(f, "%5d %-10s", conc, rows[k][0]);
            row(f, c, rows[k][1], diff ? ckeys : keys, sc, diff ? cdec : dec, 8, 20);
        }
    }
}

/* The syscalls of the last traced run of `part` by name, most frequent first. */
static void
syscall_line(FILE *f, json_t *c, const char *part)
{
    json_t *runs = json_object_get(json_object_get(c, part), "runs");
    json_t *by = json_object_get(json_array_get(runs, json_array_size(runs) - 1), "syscalls");
    json_t *shown = json_object();
    const char *name;
    json_t *v;
    if (json_object_size(by))
        fprintf(f, "      %s syscalls/req:", part);
    for (int k = 0; k < 12 && json_object_size(by); k++) {
        const char *best = NULL;
        double bv = 0;
        json_object_foreach(by, name, v)
        {
            double x = json_number_value(v);
            if (x > bv && !json_object_get(shown, name)) {
                bv = x;
                best = name;
            }
        }
        if (!best || bv < 0.05)
            break;
        fprintf(f, " %s %.1f", best, bv);
        json_object_set_new(shown, best, json_true());
    }
    if (json_object_size(by))
        fputc('\n', f);
    json_decref(shown);
}

/* The rows of scenario 6's cells, one per gatewayd measured, each headed
 * by the cell's `label_key` (a number or a string); with `syscalls`, the
 * syscalls by name under each cell. */
static void
counts_rows(FILE *f, json_t *cells, const char *label_key, bool syscalls)
{
    static const char *const keys[] = {"cpu_us_per_req", "ctxsw_per_req", "allocs_per_req",
                                       "alloc_bytes_per_req", "syscalls_per_req"};
    static const char *const parts[] = {"gateway", "gateway_b"};
    static const double sc[] = {1, 1, 1, 1, 1};
    static const int dec[] = {0, 1, 1, 0, 1};
    json_t *c;
    size_t i;
    fprintf(f, "%-15s %-10s %-18s %-18s %-18s %-18s %-18s\n", label_key, "gatewayd", "CPU us",
            "ctx switches", "allocations", "bytes allocated", "syscalls");
    json_array_foreach(cells, i, c)
    {
        json_t *l = json_object_get(c, label_key);
        char label[64];
        if (json_is_string(l))
            snprintf(label, sizeof(label), "%s", json_string_value(l));
        else
            snprintf(label, sizeof(label), "%d", (int)json_number_value(l));
        for (int p = 0; p < 2; p++) {
            if (!json_object_get(c, parts[p]))
                continue;
            fprintf(f, "%-15s %-10s", label, parts[p]);
            row(f, c, parts[p], keys, sc, dec, 5, 18);
        }
        for (int p = 0; syscalls && p < 2; p++)
            syscall_line(f, c, parts[p]);
    }
}

static void
table_counts(FILE *f, json_t *root)
{
    json_t *counts = json_object_get(root, "counts");
    json_t *cells = json_object_get(counts, "cells");
    if (!json_array_size(cells))
        return;
    fprintf(f, "\n6. Per request, lingma-gatewayd (fixed-count runs; syscalls from a second,"
               " traced run)\n");
    if (json_object_get(counts, "gateway_b"))
        fprintf(f, "gateway = %s\ngateway_b = %s\n",
                json_string_value(json_object_get(counts, "gateway")),
                json_string_value(json_object_get(counts, "gateway_b")));
    fprintf(f, "  non-streaming:\n");
    counts_rows(f, cells, "concurrency", true);
    cells = json_object_get(counts, "stream_cells");
    if (!json_array_size(cells))
        return;
    fprintf(f, "  streamed, 1 client, by wire API:\n");
    counts_rows(f, cells, "api", false);
}

void
report_table(FILE *f, json_t *root)
{
    json_t *m = json_object_get(root, "machine");
    fprintf(f, "lingma-bench %s: %d cores (%s), kernel %s, %s build (%s), %s\n",
            json_string_value(json_object_get(root, "mode")),
            (int)json_integer_value(json_object_get(m, "cores")),
            json_string_value(json_object_get(m, "cpu")),
            json_string_value(json_object_get(m, "kernel")),
            json_string_value(json_object_get(m, "build_type")),
            json_string_value(json_object_get(m, "compiler")),
            json_string_value(json_object_get(m, "date_utc")));
    fprintf(f,
            "Each value: median over %d runs [min-max]; gateway and direct (in 5: the "
            "APIs) measured alternately in one process.\n",
            (int)json_integer_value(json_object_get(root, "repeats")));
    table_nonstream(f, root);
    table_stream(f, root);
    table_idle(f, root);
    table_overload(f, root);
    table_apis(f, root);
    table_counts(f, root);

    json_t *goals = json_object_get(root, "goals");
    json_t *g;
    size_t i;
    if (json_array_size(goals))
        fprintf(f, "\nGoals\n");
    json_array_foreach(goals, i, g)
    {
        json_t *v = json_object_get(g, "value");
        json_t *met = json_object_get(g, "met");
        char val[64];
        if (json_is_number(v))
            snprintf(val, sizeof(val), "%.*f %s", fabs(json_number_value(v)) < 10 ? 2 : 1,
                     json_number_value(v), json_string_value(json_object_get(g, "unit")));
        else
            snprintf(val, sizeof(val), "not measured");
        fprintf(f, "  %-6s %-70s %-12s %s\n",
                json_is_null(met) ? "n/a" : (json_is_true(met) ? "MET" : "MISSED"),
                json_string_value(json_object_get(g, "goal")),
                json_string_value(json_object_get(g, "target")), val);
        if (json_is_string(json_object_get(g, "note")))
            fprintf(f, "         (%s)\n", json_string_value(json_object_get(g, "note")));
    }
    fprintf(f, "\nUnexpected failures: %d\n",
            (int)json_integer_value(json_object_get(root, "failures")));
}

int
report_write(json_t *root, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/lingma-bench.json", dir);
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6)) != 0) {
        fprintf(stderr, "lingma-bench: cannot write %s\n", path);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/lingma-bench.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "lingma-bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    report_table(f, root);
    fclose(f);
    return 0;
}
