/* Helpers of the lingma-gatewayd integration tests; see gwd.h. */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "gwd.h"
#include "proc.h" /* lingma__find_free_ports */
#include "procrun.h"
#include "tmpdir.h"

long long
gwd_now_ms(void)
{
    return procrun_now_ms();
}

static void
pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *
need_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("%s is not set (meson sets it)", name);
    return v;
}

/* A free loopback port for LINGMA_SOCKET_PORT: without one, the simulator
 * would take Lingma's default port and tests running side by side would
 * reach each other's simulator. */
static unsigned
free_port(void)
{
    int port = 0;
    assert_int_equal(lingma__find_free_ports(&port, 1, NULL, 0), 0);
    return (unsigned)port;
}

void
gwd_start(struct gwd *g, const char *const *env, bool wait_ready)
{
    memset(g, 0, sizeof(*g));
    char tmpl[4096];
    assert_int_equal(tmpdir_make(tmpl, sizeof(tmpl), "gwd"), 0);
    g->work = strdup(tmpl);
    g->sock_port = free_port();
    snprintf(g->log, sizeof(g->log), "%s.log", g->work);

    /* The environment: ours minus any LINGMA_ and GATEWAY_ settings, then
     * the defaults, then the test's (which replace a default). */
    char defs[6][4300];
    const char *envp[64];
    size_t k = 0;
    snprintf(defs[0], sizeof(defs[0]), "LINGMA_BIN=%s", need_env("LINGMA_SIM_BIN"));
    snprintf(defs[1], sizeof(defs[1]), "LINGMA_WORK_DIR=%s", g->work);
    snprintf(defs[2], sizeof(defs[2]), "GATEWAY_PORT=0");
    snprintf(defs[3], sizeof(defs[3]), "LINGMA_SOCKET_PORT=%u", g->sock_port);
    snprintf(defs[4], sizeof(defs[4]), "LOG_LEVEL=debug");
    snprintf(defs[5], sizeof(defs[5]), "LINGMA_SIM_ACK_WAIT_MS=100");
    for (size_t i = 0; i < 6; i++)
        envp[k++] = defs[i];
    for (size_t i = 0; env && env[i] && k < 63; i++)
        envp[k++] = env[i];
    envp[k] = NULL;
    static const char *const drop[] = {"LINGMA_", "GATEWAY_", "API_KEYS=", NULL};

    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    int logfd = open(g->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(logfd >= 0);
    const char *argv[] = {need_env("LINGMA_GATEWAYD_BIN"), NULL};
    struct procrun_opts o = {
        .argv = argv, .env = envp, .env_drop = drop, .out_fd = out[1], .err_fd = logfd};
    char err[512];
    g->pid = procrun_spawn(&o, err, sizeof(err));
    close(out[1]);
    close(logfd);
    if (g->pid < 0) {
        close(out[0]);
        fail_msg("lingma-gatewayd: %s", err);
    }
    bool ok = procrun_read_line(out[0], g->url, sizeof(g->url), 15000);
    close(out[0]);
    if (!ok) {
        gwd_stop(g);
        fail_msg("lingma-gatewayd printed no URL line in time");
    }
    const char *colon = strrchr(g->url, ':');
    g->port = colon ? (unsigned)atoi(colon + 1) : 0;
    if (!wait_ready)
        return;
    long long end = gwd_now_ms() + 20000;
    while (gwd_now_ms() < end) {
        struct gwd_resp r;
        gwd_req(&r, g, "GET", "/healthz", NULL, NULL);
        long st = r.status;
        gwd_resp_free(&r);
        if (st == 200)
            return;
        pause_ms(20);
    }
    fail_msg("lingma-gatewayd: /healthz never answered 200 (log: %s)", g->log);
}

void
gwd_term(struct gwd *g)
{
    if (g->pid > 0)
        kill(g->pid, SIGTERM);
}

int
gwd_wait_exit(struct gwd *g, int timeout_ms)
{
    if (g->pid <= 0)
        return -1;
    int st = 0;
    /* The signal was sent by the caller: wait only, SIGKILL after. */
    int ms = procrun_stop(g->pid, 0, timeout_ms, &st);
    g->pid = 0;
    return ms >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
gwd_stop(struct gwd *g)
{
    int rc = 0; /* nothing to stop: reaped by gwd_wait_exit already */
    if (g->pid > 0) {
        gwd_term(g);
        rc = gwd_wait_exit(g, 20000);
    }
    if (g->work) {
        tmpdir_remove(g->work);
        if (rc == 0)
            unlink(g->log);
        free(g->work);
        g->work = NULL;
    }
    return rc;
}

int
gwd_setup(void **state)
{
    *state = calloc(1, sizeof(struct gwd));
    return *state ? 0 : -1;
}

int
gwd_teardown(void **state)
{
    struct gwd *g = *state;
    if (g)
        gwd_stop(g); /* nothing left to do when the test stopped it */
    free(g);
    *state = NULL;
    return 0;
}

bool
gwd_wait_log(struct gwd *g, const char *needle, int timeout_ms)
{
    char dir[sizeof(g->log)];
    snprintf(dir, sizeof(dir), "%s", g->log);
    char *name = strrchr(dir, '/');
    if (!name)
        return false;
    *name++ = '\0';
    long long end = gwd_now_ms() + timeout_ms;
    for (;;) {
        char *text = tmpdir_read(dir, name);
        bool found = text && strstr(text, needle);
        free(text);
        if (found)
            return true;
        if (gwd_now_ms() >= end)
            return false;
        pause_ms(10);
    }
}

void
gwd_sim_config(struct gwd *g, const char *json)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof(path), "%s/sim.json", g->work);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

long
gwd_sim_status(struct gwd *g, const char *key)
{
    return gwd_sim_status_in(g->work, key);
}

long
gwd_sim_status_in(const char *dir, const char *key)
{
    char out[65536];
    const char *argv[] = {
        need_env("LINGMA_SIM_BIN"), "status", "-o", "json", "--workDir", dir, NULL};
    struct procrun_opts o = {.argv = argv};
    procrun_run(&o, 10000, out, sizeof(out), NULL, 0); /* the JSON says it all */
    json_t *j = json_loads(out, 0, NULL);
    long v = -1;
    if (j && json_is_integer(json_object_get(j, key)))
        v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

bool
gwd_wait_sim(struct gwd *g, const char *key, long target, int timeout_ms)
{
    long long end = gwd_now_ms() + timeout_ms;
    do {
        if (gwd_sim_status(g, key) >= target)
            return true;
        pause_ms(20);
    } while (gwd_now_ms() < end);
    return gwd_sim_status(g, key) >= target;
}

static size_t
collect(char *p, size_t sz, size_t n, void *ud)
{
    char **buf = ud;
    size_t add = sz * n;
    size_t old = *buf ? strlen(*buf) : 0;
    char *nb = realloc(*buf, old + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + old, p, add);
    nb[old + add] = '\0';
    *buf = nb;
    return add;
}

void
gwd_req(struct gwd_resp *r, struct gwd *g, const char *method, const char *path, const char *body,
        const char *const *headers)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", g->url, path);
    struct curl_slist *hl = NULL;
    bool has_ct = false;
    for (size_t i = 0; headers && headers[i]; i++) {
        hl = curl_slist_append(hl, headers[i]);
        has_ct = has_ct || strncasecmp(headers[i], "content-type:", 13) == 0;
    }
    if (body && !has_ct)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!r->body)
        r->body = strdup("");
    if (!r->headers)
        r->headers = strdup("");
    r->len = strlen(r->body);
    r->json = json_loads(r->body, 0, NULL);
}

void
gwd_resp_free(struct gwd_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

const char *
gwd_header(const struct gwd_resp *r, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - p);
            snprintf(buf, len, "%.*s", (int)vl, v);
            return buf;
        }
        p = eol ? eol + 2 : p + ll;
    }
    return NULL;
}

static long
json_dotted(json_t *j, const char *dotted)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s", dotted);
    char *save = NULL;
    for (char *k = strtok_r(tmp, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    return json_is_integer(j) ? (long)json_integer_value(j) : -1;
}

static long
json_at(struct gwd *g, const char *path, const char *dotted)
{
    struct gwd_resp r;
    gwd_req(&r, g, "GET", path, NULL, NULL);
    long v = r.json ? json_dotted(r.json, dotted) : -1;
    gwd_resp_free(&r);
    return v;
}

long
gwd_stat(struct gwd *g, const char *dotted)
{
    return json_at(g, "/internal/stats", dotted);
}

bool
gwd_wait_json(struct gwd *g, const char *path, const char *dotted, long target, int timeout_ms)
{
    long long end = gwd_now_ms() + timeout_ms;
    do {
        if (json_at(g, path, dotted) == target)
            return true;
        pause_ms(10);
    } while (gwd_now_ms() < end);
    return false;
}

bool
gwd_wait_stat(struct gwd *g, const char *dotted, long target, int timeout_ms)
{
    return gwd_wait_json(g, "/internal/stats", dotted, target, timeout_ms);
}

size_t
gwd_sse_events(const char *body, char ***out)
{
    size_t n = 0, cap = 16;
    char **ev = calloc(cap, sizeof(*ev));
    const char *p = body;
    while (p && *p) {
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 6 && strncmp(p, "data: ", 6) == 0) {
            if (n == cap)
                ev = realloc(ev, (cap *= 2) * sizeof(*ev));
            ev[n++] = strndup(p + 6, len - 6);
        } else if (len && p[0] != ':') {
            if (n == cap)
                ev = realloc(ev, (cap *= 2) * sizeof(*ev));
            ev[n++] = strndup(p, len); /* not an SSE data line: the test sees it */
        }
        p = end ? end + 2 : p + len;
    }
    *out = ev;
    return n;
}

void
gwd_events_free(char **ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ev[i]);
    free(ev);
}

int
gwd_raw_chat(struct gwd *g, const char *json_body)
{
    int fd = gwd_raw_connect(g);
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      strlen(json_body));
    assert_int_equal(netio_send(fd, head, (size_t)hl), 0);
    assert_int_equal(netio_send_str(fd, json_body), 0);
    return fd;
}

bool
gwd_raw_read_until(int fd, const char *needle, int timeout_ms)
{
    char buf[65536];
    size_t n = 0;
    long long end = gwd_now_ms() + timeout_ms;
    while (gwd_now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, needle))
            return true;
        if (n > sizeof(buf) / 2) {
            /* keep the tail: a needle may straddle the cut */
            memmove(buf, buf + n - 1024, 1024);
            n = 1024;
        }
    }
    return false;
}

bool
gwd_pid_alive(long pid)
{
    return procrun_alive(pid);
}

char *
gwd_raw_read(int fd, const char *until, int timeout_ms)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    buf[0] = '\0';
    long long end = gwd_now_ms() + timeout_ms;
    while (gwd_now_ms() < end && !(until && strstr(buf, until))) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        if (n + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
    }
    return buf;
}

int
gwd_raw_connect(struct gwd *g)
{
    int fd = netio_connect(g->port);
    assert_true(fd >= 0);
    return fd;
}

bool
gwd_wait_catalogue(struct gwd *g, const char *const *headers, size_t n, int timeout_ms)
{
    long long end = gwd_now_ms() + timeout_ms;
    while (gwd_now_ms() < end) {
        struct gwd_resp r;
        gwd_req(&r, g, "GET", "/v1/models", NULL, headers);
        size_t have = json_array_size(json_object_get(r.json, "data"));
        gwd_resp_free(&r);
        if (have >= n)
            return true;
        usleep(20000);
    }
    return false;
}

int
gwd_group_up(struct gwd *g, const char *const *env, const char *const *headers, size_t n)
{
    curl_global_init(CURL_GLOBAL_ALL);
    gwd_start(g, env, true);
    /* The catalogue is fetched once the instance is ready: wait for it. */
    return gwd_wait_catalogue(g, headers, n, 10000) ? 0 : -1;
}

int
gwd_group_down(struct gwd *g)
{
    int rc = gwd_stop(g);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}
