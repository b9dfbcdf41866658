/*
 * perf-probe: what one non-streaming chat costs the process that serves it,
 * at a fixed concurrency, for liblingma's performance work (issue 15).
 *
 *   perf-probe direct  --sim SIM [-c 64] [-t 5] [-w 1] [--strace FILE]
 *   perf-probe gateway --sim SIM --gateway GW [-c 64] [-t 5] [-w 1] [--strace FILE]
 *
 * direct:  a lingma pool in this process (liblingma's public API), closed
 *          loop of C chats, each replaced from its terminal callback (as
 *          lingma-bench's direct driver does). The process under test is
 *          this one; its main thread sleeps during the window, so its CPU
 *          is the service thread's plus the driver's callbacks.
 * gateway: starts GW (its own SIM) on an ephemeral port and drives it with
 *          C keep-alive HTTP/1.1 connections (plain sockets and poll, no
 *          parser: the client stays cheap). The process under test is GW.
 *
 * Both use lingma-bench scenario 1's simulator settings (4 chunks, no delay,
 * fresh sessions). After a warm-up of -w seconds, the window of -t seconds
 * reports per completed request: CPU (utime + stime of the process under
 * test, from /proc), context switches (voluntary + involuntary, summed over
 * its threads), allocations (when it runs under tools/malloc-count) and,
 * with --strace FILE, syscalls over the window: with FILE ending in
 * ".perf", counted by perf stat (raw_syscalls and the usual suspects; the
 * run's other figures stay meaningful), else by strace -c -f (whose
 * overhead distorts the run, and its batching, itself).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lingma/lingma.h"

static const char *const sim_env[] = {
    "LINGMA_SIM_REPLY=text:Hello from lingma-bench.",
    "LINGMA_SIM_CHUNKS=4",
    "LINGMA_SIM_FIRST_TOKEN_MS=0",
    "LINGMA_SIM_CHUNK_MS=0",
    NULL,
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- what the process under test spent ---- */

struct snap {
    double cpu_us;
    uint64_t ctx, allocs, done;
    uint64_t t_ns;
};

static double
proc_cpu_us(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t
proc_ctx(pid_t pid)
{
    char path[320], line[256];
    uint64_t sum = 0;
    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%s/status", (long)pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            unsigned long long v;
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                sum += v;
        }
        fclose(f);
    }
    closedir(d);
    return sum;
}

static uint64_t
proc_allocs(pid_t pid)
{
    char path[512];
    const char *dir = getenv("MALLOC_COUNT_DIR");
    uint64_t v = 0;
    snprintf(path, sizeof(path), "%s/malloc-count.%ld", dir && *dir ? dir : "/tmp", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        v = 0;
    close(fd);
    return v;
}

static atomic_uint_fast64_t done_count, failed_count;

static void
take(struct snap *s, pid_t pid)
{
    s->t_ns = now_ns();
    s->done = atomic_load(&done_count);
    s->cpu_us = proc_cpu_us(pid);
    s->ctx = proc_ctx(pid);
    s->allocs = proc_allocs(pid);
}

/* `out` ending in ".perf": perf stat counts the syscalls in the kernel
 * (cheap: the figures of the run stay meaningful); else strace -c. */
/* Requests completed when the tracer started (before the window). */
static int tracing;
static uint64_t traced_from;

static pid_t
strace_start(const char *out, pid_t pid)
{
    char p[32];
    size_t n = strlen(out);
    snprintf(p, sizeof(p), "%ld", (long)pid);
    tracing = 1;
    traced_from = atomic_load(&done_count);
    pid_t c = fork();
    if (c == 0 && n > 5 && strcmp(out + n - 5, ".perf") == 0) {
        execlp("perf", "perf", "stat", "-x", ",", "-o", out, "-e", "raw_syscalls:sys_enter", "-e",
               "syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_poll,"
               "syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_getrandom,"
               "syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,"
               "syscalls:sys_enter_futex,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvmsg",
               "-p", p, (char *)NULL);
        _exit(127);
    }
    if (c == 0) {
        execlp("strace", "strace", "-c", "-f", "-q", "-o", out, "-p", p, (char *)NULL);
        _exit(127);
    }
    sleep_s(0.5); /* attaching to every thread takes a moment */
    return c;
}

static void
strace_stop(pid_t c)
{
    if (c <= 0)
        return;
    kill(c, SIGINT);
    waitpid(c, NULL, 0);
}

static void
report(const char *what, int conc, const struct snap *a, const struct snap *b)
{
    double n = (double)(b->done - a->done);
    double secs = (double)(b->t_ns - a->t_ns) / 1e9;
    if (n <= 0) {
        printf("%s: no request completed in the window\n", what);
        return;
    }
    printf("%s conc=%d window=%.2fs requests=%.0f req/s=%.0f cpu_us/req=%.1f ctxsw/req=%.2f "
           "allocs/req=%.1f failed=%llu",
           what, conc, secs, n, n / secs, (b->cpu_us - a->cpu_us) / n,
           (double)(b->ctx - a->ctx) / n, (double)(b->allocs - a->allocs) / n,
           (unsigned long long)atomic_load(&failed_count));
    if (tracing)
        printf(" traced_requests=%llu", (unsigned long long)(b->done - traced_from));
    printf("\n");
}

/* ---- direct ---- */

static lingma_pool *pool;
static atomic_int stopping;

static void on_event(const lingma_chat_event *ev, void *payload);

static void
start_one(void)
{
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_id id;
    o.prompt = "bench";
    o.on_event = on_event;
    o.timeout_ms = 30000;
    if (lingma_chat_start(&id, NULL, pool, &o) != 0)
        atomic_fetch_add(&failed_count, 1);
}

static void
on_event(const lingma_chat_event *ev, void *payload)
{
    (void)payload;
    if (ev->type != LINGMA_CHAT_DONE && ev->type != LINGMA_CHAT_ERROR)
        return;
    if (ev->type == LINGMA_CHAT_DONE)
        atomic_fetch_add(&done_count, 1);
    else
        atomic_fetch_add(&failed_count, 1);
    if (!atomic_load(&stopping))
        start_one();
}

static int
run_direct(const char *sim, int conc, double warm, double secs, const char *strace_out)
{
    lingma_pool_options o = LINGMA_POOL_OPTIONS_INIT;
    char dir[] = "/tmp/perf-probe-XXXXXX";
    char port[16];
    if (!mkdtemp(dir))
        return 1;
    srand((unsigned)getpid());
    snprintf(port, sizeof(port), "%d", 20000 + rand() % 20000);
    o.binary = sim;
    o.work_dir = dir;
    o.extra_env = sim_env;
    o.socket_port = atoi(port);
    o.max_in_flight = 1024;
    o.max_queue = 1024;
    o.child_output = LINGMA_CHILD_OUTPUT_LOG;
    o.log_level = LINGMA_LOG_ERROR;
    if (lingma_pool_new(&pool, &o) != 0) {
        fprintf(stderr, "perf-probe: lingma_pool_new failed\n");
        return 1;
    }
    for (int i = 0; i < 3000; i++) {
        lingma_pool_stats *s = NULL;
        int ready = 0;
        if (lingma_pool_stats_get(&s, pool) == 0) {
            ready = s->ready > 0;
            lingma_pool_stats_free(s);
        }
        if (ready)
            break;
        sleep_s(0.01);
    }
    for (int i = 0; i < conc; i++)
        start_one();
    sleep_s(warm);
    struct snap a, b;
    pid_t st = strace_out ? strace_start(strace_out, getpid()) : 0;
    take(&a, getpid());
    sleep_s(secs);
    take(&b, getpid());
    strace_stop(st);
    atomic_store(&stopping, 1);
    report("direct", conc, &a, &b);
    lingma_pool_free(pool);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}

/* ---- gateway ---- */

static const char request_fmt[] =
    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Content-Length: %zu\r\n\r\n%s";
static const char body[] =
    "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"bench\"}]}";

struct hconn {
    int fd;
    char in[16384];
    size_t in_len;
    size_t need; /* total bytes of the response being read, 0: unknown yet */
};

static int
dial(int port)
{
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static char request[512];
static size_t request_len;

static int
send_request(struct hconn *h)
{
    h->in_len = 0;
    h->need = 0;
    return write(h->fd, request, request_len) == (ssize_t)request_len ? 0 : -1;
}

/* 1: a whole response is in (and 200), 0: more to read, -1: error. */
static int
parse(struct hconn *h, int *ok)
{
    if (!h->need) {
        char *e = memmem(h->in, h->in_len, "\r\n\r\n", 4);
        if (!e)
            return h->in_len >= sizeof(h->in) - 1 ? -1 : 0;
        h->in[h->in_len] = '\0';
        char *cl = strcasestr(h->in, "\r\nContent-Length:");
        if (!cl || cl > e)
            return -1;
        h->need = (size_t)(e + 4 - h->in) + strtoul(cl + 17, NULL, 10);
        *ok = strncmp(h->in + 9, "200", 3) == 0;
        if (h->need >= sizeof(h->in))
            return -1;
    }
    return h->in_len >= h->need ? 1 : 0;
}

static int
run_gateway(const char *sim, const char *gw, int conc, double warm, double secs,
            const char *strace_out)
{
    char dir[] = "/tmp/perf-probe-XXXXXX";
    char e_bin[4200], e_work[4300], e_port[64], url[256] = "";
    int out[2];
    if (!mkdtemp(dir) || pipe2(out, O_CLOEXEC) != 0)
        return 1;
    srand((unsigned)getpid());
    snprintf(e_bin, sizeof(e_bin), "LINGMA_BIN=%s", sim);
    snprintf(e_work, sizeof(e_work), "LINGMA_WORK_DIR=%s/work", dir);
    snprintf(e_port, sizeof(e_port), "LINGMA_SOCKET_PORT=%d", 20000 + rand() % 20000);
    pid_t gpid = fork();
    if (gpid == 0) {
        dup2(out[1], 1);
        putenv("GATEWAY_HOST=127.0.0.1");
        putenv("GATEWAY_PORT=0");
        putenv(e_bin);
        putenv(e_work);
        putenv(e_port);
        putenv("LOG_LEVEL=warn");
        putenv("GATEWAY_MAX_IN_FLIGHT=1024");
        putenv("GATEWAY_MAX_QUEUE=1024");
        for (int i = 0; sim_env[i]; i++)
            putenv((char *)sim_env[i]);
        execl(gw, gw, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(url, sizeof(url), f) || strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "perf-probe: the gateway printed no URL\n");
        kill(gpid, SIGTERM);
        return 1;
    }
    int port = atoi(strrchr(url, ':') + 1);
    request_len = (size_t)snprintf(request, sizeof(request), request_fmt, strlen(body), body);

    struct hconn *hs = calloc((size_t)conc, sizeof(*hs));
    struct pollfd *pfd = calloc((size_t)conc, sizeof(*pfd));
    /* Wait until the gateway answers a chat (its instance is up). */
    for (int i = 0; i < 300; i++) {
        int fd = dial(port);
        if (fd >= 0) {
            struct hconn h = {.fd = fd};
            int ok = 0, r = 0;
            send_request(&h);
            while (r == 0) {
                ssize_t n = read(fd, h.in + h.in_len, sizeof(h.in) - 1 - h.in_len);
                if (n <= 0)
                    break;
                h.in_len += (size_t)n;
                r = parse(&h, &ok);
            }
            close(fd);
            if (r == 1 && ok)
                break;
        }
        sleep_s(0.1);
    }
    for (int i = 0; i < conc; i++) {
        hs[i].fd = dial(port);
        if (hs[i].fd < 0 || send_request(&hs[i]) != 0) {
            fprintf(stderr, "perf-probe: cannot connect\n");
            kill(gpid, SIGTERM);
            return 1;
        }
        pfd[i].fd = hs[i].fd;
        pfd[i].events = POLLIN;
    }
    struct snap a, b;
    uint64_t t0 = now_ns(), t_a = t0 + (uint64_t)(warm * 1e9), t_b = t_a + (uint64_t)(secs * 1e9);
    int phase = 0;
    pid_t st = 0;
    for (;;) {
        uint64_t t = now_ns();
        if (phase == 0 && t >= t_a) {
            if (strace_out) {
                st = strace_start(strace_out, gpid);
                t_b += (uint64_t)(0.5e9);
            }
            take(&a, gpid);
            phase = 1;
        } else if (phase == 1 && t >= t_b) {
            take(&b, gpid);
            strace_stop(st);
            break;
        }
        if (poll(pfd, (nfds_t)conc, 100) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < conc; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            struct hconn *h = &hs[i];
            ssize_t n = read(h->fd, h->in + h->in_len, sizeof(h->in) - 1 - h->in_len);
            int ok = 0, r = n > 0 ? (h->in_len += (size_t)n, parse(h, &ok)) : -1;
            if (r == 0)
                continue;
            if (r == 1 && ok)
                atomic_fetch_add(&done_count, 1);
            else
                atomic_fetch_add(&failed_count, 1);
            if (r < 0) {
                close(h->fd);
                h->fd = pfd[i].fd = dial(port);
            }
            if (h->fd < 0 || send_request(h) != 0) {
                fprintf(stderr, "perf-probe: connection lost\n");
                kill(gpid, SIGTERM);
                return 1;
            }
        }
    }
    report("gateway", conc, &a, &b);
    for (int i = 0; i < conc; i++)
        close(hs[i].fd);
    kill(gpid, SIGTERM);
    waitpid(gpid, NULL, 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) != 0;
}

int
main(int argc, char **argv)
{
    const char *sim = NULL, *gw = NULL, *strace_out = NULL;
    int conc = 64;
    double secs = 5, warm = 1;
    if (argc < 2)
        goto usage;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            goto usage;
        if (!strcmp(a, "--sim"))
            sim = v;
        else if (!strcmp(a, "--gateway"))
            gw = v;
        else if (!strcmp(a, "--strace"))
            strace_out = v;
        else if (!strcmp(a, "-c"))
            conc = atoi(v);
        else if (!strcmp(a, "-t"))
            secs = atof(v);
        else if (!strcmp(a, "-w"))
            warm = atof(v);
        else
            goto usage;
        i++;
    }
    signal(SIGPIPE, SIG_IGN);
    if (sim && conc > 0 && !strcmp(argv[1], "direct"))
        return run_direct(sim, conc, warm, secs, strace_out);
    if (sim && gw && conc > 0 && !strcmp(argv[1], "gateway"))
        return run_gateway(sim, gw, conc, warm, secs, strace_out);
usage:
    fprintf(stderr, "usage: perf-probe direct|gateway --sim SIM [--gateway GW] [-c N] [-t S] "
                    "[-w S] [--strace FILE]\n");
    return 2;
}
