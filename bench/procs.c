/*
 * lingma-bench: temp dirs, ports, rlimits, the gateway process and /proc.
 *
 * Every process the benchmark starts is ended by its pid: the machine is
 * shared, and a pattern kill could hit someone else's gateway.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "lingma/lingma.h"

#include "bench.h"
#include "procrun.h"
#include "procs.h"

char *
bench_tempdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/lingma-bench-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void
bench_rmtree(char *dir)
{
    if (!dir)
        return;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

unsigned
bench_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    unsigned port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

long
bench_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (target > rl.rlim_cur) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static size_t
discard_body(char *p, size_t sz, size_t n, void *u)
{
    (void)p;
    (void)u;
    return sz * n;
}

/* GET url; the status, or 0 on a transport error. */
static long
http_get_status(const char *url)
{
    CURL *e = curl_easy_init();
    long status = 0;
    if (!e)
        return 0;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    return status;
}

int
gateway_start(struct gateway *g, const char *gw_bin, const char *sim_bin, const char *const *env,
              char *err, size_t errlen)
{
    int out[2];
    char port[32], logpath[4200], workdir[4200];
    memset(g, 0, sizeof(*g));
    g->pid = -1;
    g->dir = bench_tempdir("gw");
    if (!g->dir || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "temp dir or pipe: %s", strerror(errno));
        bench_rmtree(g->dir);
        g->dir = NULL;
        return -1;
    }
    snprintf(logpath, sizeof(logpath), "%s/gatewayd.log", g->dir);
    snprintf(workdir, sizeof(workdir), "%s/work", g->dir);
    snprintf(port, sizeof(port), "%u", bench_free_port());

    char e_bin[4200], e_work[4300], e_port[64];
    snprintf(e_bin, sizeof(e_bin), "LINGMA_BIN=%s", sim_bin);
    snprintf(e_work, sizeof(e_work), "LINGMA_WORK_DIR=%s", workdir);
    snprintf(e_port, sizeof(e_port), "LINGMA_SOCKET_PORT=%s", port);
    /* The defaults, then the scenario's settings, which replace them. */
    const char *envp[96] = {
        "GATEWAY_HOST=127.0.0.1",     "GATEWAY_PORT=0", e_bin, e_work, e_port, "LOG_LEVEL=warn",
        "GATEWAY_DRAIN_TIMEOUT_SEC=2"};
    size_t k = 7;
    for (size_t i = 0; env && env[i] && k < 95; i++)
        envp[k++] = env[i];
    envp[k] = NULL;
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const char *argv[] = {gw_bin, NULL};
    struct procrun_opts o = {.argv = argv, .env = envp, .out_fd = out[1], .err_fd = logfd};
    g->pid = procrun_spawn(&o, err, errlen);
    close(out[1]);
    if (logfd >= 0)
        close(logfd);
    if (g->pid < 0) {
        close(out[0]);
        bench_rmtree(g->dir);
        g->dir = NULL;
        return -1;
    }
    bool got = procrun_read_line(out[0], g->url, sizeof(g->url), 20000);
    close(out[0]);
    if (!got || strncmp(g->url, "http://", 7) != 0) {
        snprintf(err, errlen, "lingma-gatewayd printed no URL within 20 s (log: %s)", logpath);
        gateway_stop(g);
        return -1;
    }
    /* Ready means an instance is up: the first measured request must not
     * pay for the simulator's start. */
    char health[256];
    snprintf(health, sizeof(health), "%s/healthz", g->url);
    for (int ms = 0; ms < 30000; ms += 50) {
        if (http_get_status(health) == 200)
            return 0;
        if (procrun_wait(g->pid, 0, NULL) == 0) {
            g->pid = -1;
            break;
        }
        sleep_ms(50);
    }
    snprintf(err, errlen, "lingma-gatewayd at %s not healthy within 30 s (log: %s)", g->url,
             logpath);
    gateway_stop(g);
    return -1;
}

void
gateway_stop(struct gateway *g)
{
    int status = 0;
    if (g->pid > 0 && procrun_wait(g->pid, 0, &status) == 0) {
        /* It died under load: say how, and show the end of its log,
         * which goes away with the temp dir. */
        fprintf(stderr, "lingma-bench: gatewayd %ld had exited (status 0x%x); its log:\n",
                (long)g->pid, (unsigned)status);
        char cmd[4300];
        snprintf(cmd, sizeof(cmd), "tail -n 40 '%s/gatewayd.log' >&2", g->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "lingma-bench: (no log)\n");
        g->pid = -1;
    }
    if (g->pid > 0 && procrun_stop(g->pid, SIGTERM, 10000, NULL) < 0)
        fprintf(stderr, "lingma-bench: gatewayd %ld ignored SIGTERM; killed it\n", (long)g->pid);
    g->pid = -1;
    if (getenv("LINGMA_BENCH_KEEP"))
        fprintf(stderr, "lingma-bench: kept %s\n", g->dir);
    else
        bench_rmtree(g->dir);
    g->dir = NULL;
}

void
gateway_evidence(const struct gateway *g, const char *sim_bin, const char *out)
{
    static int n;
    char dir[4200], cmd[8192];
    snprintf(dir, sizeof(dir), "%s/stall-%ld-%d", out ? out : ".", (long)getpid(), ++n);
    /* First what can be seen without waking either process (an HTTP
     * request or a ptrace attach would): each thread's syscall with its
     * arguments (a wait's timeout) and CPU ticks, and the queues of the
     * gateway's sockets (server and client side) and of the simulator's,
     * three times a second apart. Then gdb, HTTP, the simulator's counters
     * and the logs, which go away with the temp dir. */
    snprintf(cmd, sizeof(cmd),
             "d='%s'; mkdir -p \"$d\" || exit 1; gw=%ld; url='%s'; w='%s/work'\n"
             "port=${url##*:}; sim=$(sed -n 2p \"$w/.info\"); wsp=$(sed -n 1p \"$w/.info\")\n"
             "{ date -u; uptime; } >\"$d/when\" 2>&1\n"
             "for i in 1 2 3; do { date +%%T.%%N; for t in /proc/$gw/task/* /proc/$sim/task/*; do "
             "echo \"$t $(cut -d' ' -f3,14,15 $t/stat) $(cat $t/syscall)\"; done\n"
             "for f in sport dport; do ss -tn \"( $f = :$port )\" | awk -v f=$f 'NR>1{n++; "
             "if($2>0)r++; if($3>0)s++} END{print f, n+0, \"recvq>0:\", r+0, \"sendq>0:\", s+0}'; "
             "done; ss -tn \"( sport = :$wsp or dport = :$wsp )\"; } >>\"$d/passive\" 2>&1\n"
             "sleep 1; done\n"
             "if command -v gdb >/dev/null; then\n"
             "  gdb -p $gw -batch -ex 'thread apply all bt' "
             "${LINGMA_BENCH_GDB_GW:+-x \"$LINGMA_BENCH_GDB_GW\"} >\"$d/gw-bt\" 2>&1\n"
             "  gdb -p $sim -batch -ex 'thread apply all bt' "
             "${LINGMA_BENCH_GDB_SIM:+-x \"$LINGMA_BENCH_GDB_SIM\"} >\"$d/sim-bt\" 2>&1\n"
             "fi\n"
             "curl -s -m 5 \"$url/metrics\" >\"$d/metrics\" 2>&1\n"
             "curl -s -m 5 -i \"$url/healthz\" >\"$d/healthz\" 2>&1\n"
             "'%s' status -o json --workDir \"$w\" >\"$d/sim-status.json\" 2>&1\n"
             "cp '%s/gatewayd.log' \"$w/logs/lingma.log\" \"$d/\" 2>/dev/null; true\n",
             dir, (long)g->pid, g->url, g->dir, sim_bin, g->dir);
    fprintf(stderr, "lingma-bench: stall evidence in %s\n", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "lingma-bench: (stall evidence incomplete)\n");
}

/* The number after "key:" in a /proc file of "Key: value kB" lines. */
static long
file_kb(const char *path, const char *key)
{
    char line[256];
    long v = -1;
    size_t klen = strlen(key);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static long
status_kb(pid_t pid, const char *key)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    return file_kb(path, key);
}

long
proc_rss_kb(pid_t pid)
{
    return status_kb(pid, "VmRSS");
}

long
proc_hwm_kb(pid_t pid)
{
    return status_kb(pid, "VmHWM");
}

double
proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may contain spaces: start after
     * the last ')'. utime and stime are fields 14 and 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double
proc_cpu_ns(pid_t pid)
{
    clockid_t c;
    struct timespec ts;
    if (clock_getcpuclockid(pid, &c) != 0 || clock_gettime(c, &ts) != 0)
        return -1;
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

long
proc_tasks_status(pid_t pid, pid_t skip_tid, const char *key, long *zeros)
{
    char dir[64], path[128];
    long sum = 0;
    snprintf(dir, sizeof(dir), "/proc/%ld/task", (long)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    if (zeros)
        *zeros = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid <= 0 || tid == (long)skip_tid)
            continue;
        snprintf(path, sizeof(path), "%s/%ld/status", dir, tid);
        long v = file_kb(path, key);
        if (v > 0)
            sum += v;
        else if (v == 0 && zeros)
            (*zeros)++;
    }
    closedir(d);
    return sum;
}

/* Does /proc/PID/comm read `comm`? */
static int
comm_is(long pid, const char *comm)
{
    char path[64], buf[32];
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok && strcmp(buf, comm) == 0;
}

pid_t
proc_child_named(pid_t parent, const char *comm)
{
    char dir[64], path[128];
    pid_t found = 0;
    snprintf(dir, sizeof(dir), "/proc/%ld/task", (long)parent);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    /* A child is listed under the thread that forked it. */
    while (!found && (e = readdir(d))) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid <= 0)
            continue;
        snprintf(path, sizeof(path), "%s/%ld/children", dir, tid);
        FILE *f = fopen(path, "r");
        long child;
        while (f && !found && fscanf(f, "%ld", &child) == 1)
            if (comm_is(child, comm))
                found = (pid_t)child;
        if (f)
            fclose(f);
    }
    closedir(d);
    return found;
}

long
proc_ctxsw(pid_t pid, pid_t skip_tid)
{
    long v = proc_tasks_status(pid, skip_tid, "voluntary_ctxt_switches", NULL);
    long nv = proc_tasks_status(pid, skip_tid, "nonvoluntary_ctxt_switches", NULL);
    return v < 0 || nv < 0 ? -1 : v + nv;
}

static void
cpu_model(char *out, size_t len)
{
    char line[512];
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            snprintf(out, len, "%s", c + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

json_t *
machine_facts(void)
{
    struct utsname u;
    char cpu[256], date[64];
    time_t t = time(NULL);
    json_t *m = json_object();
    uname(&u);
    cpu_model(cpu, sizeof(cpu));
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    json_object_set_new(m, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(m, "cpu", json_string(cpu));
    json_object_set_new(m, "kernel", json_string(u.release));
    json_object_set_new(m, "machine", json_string(u.machine));
    json_object_set_new(m, "mem_total_kb", json_integer(file_kb("/proc/meminfo", "MemTotal")));
    json_object_set_new(m, "build_type", json_string(BENCH_BUILD_TYPE));
    json_object_set_new(m, "sanitize", json_string(BENCH_SANITIZE));
    json_object_set_new(m, "compiler", json_string(BENCH_COMPILER));
    json_object_set_new(m, "liblingma", json_string(lingma_version()));
    json_object_set_new(m, "libcurl", json_string(curl_version_info(CURLVERSION_NOW)->version));
    json_object_set_new(m, "date_utc", json_string(date));
    return m;
}
