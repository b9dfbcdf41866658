/*
 * lingma-bench: the benchmark of liblingma and lingma-gatewayd.
 *
 *   lingma-bench --sim PATH [--gateway PATH] [--out DIR] [--quick]
 *                [--direct-only] [--repeat N] [--scenarios 1,2,3,4,5]
 *                [--idle N[,N...]] [--concurrency N[,N...]]
 *                [--malloc-count SO] [--strace PATH|none] [--gateway-b PATH]
 *
 * It starts everything it measures itself (lingma-sim under a direct pool,
 * lingma-gatewayd with its own lingma-sim), on ephemeral ports in temp
 * work dirs, and ends those processes by pid. Results: a table on stdout,
 * <out>/lingma-bench.json and <out>/lingma-bench.txt. Exit status 0 when
 * every request that had to succeed did (429s count only in scenario 4).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "procrun.h"
#include "procs.h"
#include "report.h"
#include "scenarios.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: lingma-bench --sim PATH [--gateway PATH] [options]\n"
            "  --sim PATH         the lingma-sim binary (or $LINGMA_SIM_BIN)\n"
            "  --gateway PATH     the lingma-gatewayd binary (or $LINGMA_GATEWAYD_BIN)\n"
            "  --direct-only      measure liblingma alone (no gateway)\n"
            "  --quick            small runs: a smoke test, under a minute\n"
            "  --repeat N         repeats per cell (default 5, quick 2)\n"
            "  --scenarios LIST   which of 1,2,3,4,5,6 to run (default all; 3-6 need a gateway)\n"
            "  --idle LIST        stream counts of scenario 3 (default 1000,10000; quick 200)\n"
            "  --concurrency LIST only these cells of scenarios 1 and 2 (e.g. 256)\n"
            "  --malloc-count SO  6: count gatewayd's allocations with this preloaded shim\n"
            "                     (tools/malloc-count; none: not counted)\n"
            "  --strace PATH      6: count gatewayd's syscalls with this strace (default\n"
            "                     /usr/bin/strace when present, not in --quick; none: off)\n"
            "  --gateway-b PATH   6: a second lingma-gatewayd counted side by side\n"
            "  --out DIR          where lingma-bench.json and .txt go (default .)\n");
}

static int
parse_list(const char *s, unsigned *out, int max)
{
    int n = 0;
    char *end;
    while (*s && n < max) {
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > 100000)
            return -1;
        out[n++] = (unsigned)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

int
main(int argc, char **argv)
{
    struct bench b = {0};
    const char *out = ".";
    int direct_only = 0, repeat = 0;
    unsigned which[6] = {1, 2, 3, 4, 5, 6};
    int nwhich = 6, nidle = 0, nconc = 0;
    const char *strace = NULL;
    unsigned idle[3];

    b.sim_bin = getenv("LINGMA_SIM_BIN");
    b.gw_bin = getenv("LINGMA_GATEWAYD_BIN");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quick")) {
            b.quick = 1;
        } else if (!strcmp(a, "--direct-only")) {
            direct_only = 1;
        } else if (v && !strcmp(a, "--sim")) {
            b.sim_bin = argv[++i];
        } else if (v && !strcmp(a, "--gateway")) {
            b.gw_bin = argv[++i];
        } else if (v && !strcmp(a, "--out")) {
            out = argv[++i];
        } else if (v && !strcmp(a, "--repeat")) {
            repeat = atoi(argv[++i]);
        } else if (v && !strcmp(a, "--scenarios")) {
            nwhich = parse_list(argv[++i], which, 6);
        } else if (v && !strcmp(a, "--concurrency")) {
            nconc = parse_list(argv[++i], b.concs, 7);
        } else if (v && !strcmp(a, "--gateway-b")) {
            b.gw_bin_b = argv[++i];
        } else if (v && !strcmp(a, "--malloc-count")) {
            b.malloc_count = argv[++i];
        } else if (v && !strcmp(a, "--strace")) {
            strace = argv[++i];
        } else if (v && !strcmp(a, "--idle")) {
            nidle = parse_list(argv[++i], idle, 3);
        } else {
            fprintf(stderr, "lingma-bench: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!b.sim_bin || nwhich < 0 || nidle < 0 || nconc < 0 || repeat < 0 || repeat > 100 ||
        (!direct_only && (!b.gw_bin || !*b.gw_bin))) {
        fprintf(stderr, "lingma-bench: need --sim%s, and valid lists\n",
                direct_only ? "" : " and --gateway (or --direct-only)");
        usage(stderr);
        return 2;
    }
    if (direct_only)
        b.gw_bin = NULL;
    b.out = out;
    b.repeats = repeat ? repeat : (b.quick ? 2 : 5);
    /* strace only where asked for or in a full run: the quick run is a
     * test, and a machine may refuse ptrace. */
    if (!strace && !b.quick && access("/usr/bin/strace", X_OK) == 0)
        strace = "/usr/bin/strace";
    b.strace = strace && strcmp(strace, "none") ? strace : NULL;
    if (nidle) {
        memcpy(b.idle_n, idle, (size_t)nidle * sizeof(*idle));
    } else if (b.quick) {
        b.idle_n[0] = 200;
    } else {
        b.idle_n[0] = 1000;
        b.idle_n[1] = 10000;
    }

    /* 10,000 streams need 10,000 sockets here and as many in the gateway,
     * which inherits the limit. */
    long nofile = bench_raise_nofile(65536);
    signal(SIGPIPE, SIG_IGN);
    /* The simulators our pools spawn die with us (gateways get it from
     * procrun_spawn); before curl_global_init, which may start threads. */
    procrun_export_exit_with_parent();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "lingma-bench: curl_global_init failed\n");
        return 1;
    }
    b.root = json_object();
    json_object_set_new(b.root, "tool", json_string("lingma-bench"));
    json_object_set_new(b.root, "mode", json_string(b.quick ? "quick" : "full"));
    json_object_set_new(b.root, "repeats", json_integer(b.repeats));
    json_object_set_new(b.root, "direct_only", json_boolean(direct_only));
    json_object_set_new(b.root, "machine", machine_facts());
    json_object_set_new(json_object_get(b.root, "machine"), "nofile", json_integer(nofile));

    for (int i = 0; i < nwhich; i++) {
        switch (which[i]) {
        case 1:
            scenario_nonstream(&b);
            break;
        case 2:
            scenario_stream(&b);
            break;
        case 3:
            if (b.gw_bin)
                scenario_idle(&b);
            break;
        case 4:
            if (b.gw_bin)
                scenario_overload(&b);
            break;
        case 5:
            if (b.gw_bin)
                scenario_apis(&b);
            break;
        case 6:
            if (b.gw_bin)
                scenario_counts(&b);
            break;
        default:
            fprintf(stderr, "lingma-bench: no scenario %u\n", which[i]);
            return 2;
        }
    }
    json_object_set_new(b.root, "failures", json_integer(b.failures));
    report_summarize(b.root);
    report_goals(b.root);
    report_table(stdout, b.root);
    int rc = report_write(b.root, out) == 0 && b.failures == 0 ? 0 : 1;
    json_decref(b.root);
    curl_global_cleanup();
    return rc;
}
