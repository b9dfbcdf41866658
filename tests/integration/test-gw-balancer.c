/*
 * The load-balancer recipes of deploy/ (haproxy/, nginx/), run for real:
 * three lingma-gatewayd on lingma-sim behind Debian's own HAProxy or nginx
 * (argv[1]: "haproxy" or "nginx"), each started by this test on loopback
 * ports with a configuration rendered from the committed templates by
 * deploy/render-balancer. Only the test's settings differ from the
 * defaults: the listen address, the run dir, and short check intervals.
 *
 * Every gateway's simulator answers with its own name ("gw1." eight times,
 * one per chunk), so every answer says which host served it.
 *
 *   routing    keys spread over the three hosts; a key always lands on the
 *              same one; the API key (Bearer or x-api-key) is the key
 *              without X-Lingma-Affinity; the header wins over it; a body
 *              at the gateway's limit passes, one byte more is a JSON 413;
 *              a 429 from admission (nginx: replayed on another host;
 *              HAProxy 2.6: passed through with Retry-After)
 *   logged out a host whose only instance logs out leaves rotation
 *              (HAProxy: within the check interval; nginx: after its
 *              max_fails failed requests), and no client sees an error
 *   SIGKILL    one gateway killed under load: no request lost that had not
 *              started; streams it had started end in a transport error,
 *              never a [DONE] or a finish_reason "stop"
 *   SIGTERM    one gateway drained under load: nothing lost
 *
 * The failover figures are printed ("FIGURES ..." lines). Every child is
 * started through procrun (PR_SET_PDEATHSIG) and ended by pid. Waits are
 * bounded; the load is driven by one libcurl multi handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gwd.h"
#include "proc.h" /* lingma__find_free_ports */
#include "procrun.h"
#include "simclient.h"
#include "tmpdir.h"

#define NHOSTS 3
#define NKEYS  30
/* The test's check settings (the templates' defaults are 2000 ms and 10 s). */
#define CHECK_INTER_MS 100
#define CHECK_FALL     2
#define MAX_FAILS      2
#define FAIL_TIMEOUT_S 5
#define MAX_BODY       8388608L /* GATEWAY_MAX_BODY_BYTES, the default */
#define STR_(x)        #x
#define CHECK_STR(x)   STR_(x)

static const char *lb_kind; /* "haproxy" or "nginx" */
static const char *lb_bin;

struct cluster {
    struct gwd gw[NHOSTS];
    struct gwd lb; /* only its url is used: requests through the balancer */
    pid_t lb_pid;
    char dir[4096]; /* the balancer's run dir: config, pid, socket, log */
    unsigned lb_port;
    int key_host[NKEYS]; /* which host serves "conv-<i>" */
};

/* The test's cluster and load, global so that the teardown ends them even
 * when an assertion left the test early. */
static struct cluster CL;
static struct call *LOAD;
static size_t LOAD_N;
static bool *PENDING;

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

/* ---- one HTTP call, alone or many at once (libcurl multi) ---------------- */

struct call {
    /* in */
    char key[64];  /* X-Lingma-Affinity, "" for none */
    char auth[96]; /* a whole header line, "" for none */
    bool stream;
    const char *body;   /* NULL: a short chat */
    const char *expect; /* an Expect header value, NULL: none */
    /* out */
    CURL *h;
    struct curl_slist *hl;
    char *resp;
    size_t len, cap;
    char retry_after[32];
    long long t0, t_head, t_body, t_end; /* ms; 0: not yet */
    long status;
    CURLcode rc;
    bool added, done;
    int host; /* who answered (from the text), -1: none */
};

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct call *c = ud;
    size_t add = sz * n;
    if (!c->t_body && add)
        c->t_body = gwd_now_ms();
    if (c->len + add + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + add + 1)
            cap *= 2;
        char *nb = realloc(c->resp, cap);
        if (!nb)
            return 0;
        c->resp = nb;
        c->cap = cap;
    }
    memcpy(c->resp + c->len, p, add);
    c->len += add;
    c->resp[c->len] = '\0';
    return add;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = sz * n;
    if (!c->t_head && len > 5 && strncmp(p, "HTTP/", 5) == 0)
        c->t_head = gwd_now_ms();
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0)
        snprintf(c->retry_after, sizeof(c->retry_after), "%.*s", (int)(len - 12), p + 12);
    return len;
}

static int
host_of(const char *text)
{
    int host = -1;
    for (int i = 0; text && i < NHOSTS; i++) {
        char tag[8];
        snprintf(tag, sizeof(tag), "gw%d.", i + 1);
        if (strstr(text, tag)) {
            if (host >= 0)
                return -2; /* two hosts in one answer: never */
            host = i;
        }
    }
    return host;
}

static void
call_add(CURLM *m, struct call *c, const char *url)
{
    static char chat_stream[] = "{\"model\":\"auto\",\"stream\":true,\"messages\":[{\"role\":"
                                "\"user\",\"content\":\"hi\"}]}";
    static char chat_plain[] =
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    c->h = curl_easy_init();
    assert_non_null(c->h);
    char hdr[128];
    c->hl = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->key[0]) {
        snprintf(hdr, sizeof(hdr), "X-Lingma-Affinity: %s", c->key);
        c->hl = curl_slist_append(c->hl, hdr);
    }
    if (c->auth[0])
        c->hl = curl_slist_append(c->hl, c->auth);
    snprintf(hdr, sizeof(hdr), "Expect: %s", c->expect ? c->expect : "");
    c->hl = curl_slist_append(c->hl, hdr);
    char full[256];
    snprintf(full, sizeof(full), "%.200s/v1/chat/completions", url);
    const char *body = c->body ? c->body : c->stream ? chat_stream : chat_plain;
    curl_easy_setopt(c->h, CURLOPT_URL, full);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hl);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    c->t0 = gwd_now_ms();
    c->added = true;
    c->host = -1;
    assert_int_equal(curl_multi_add_handle(m, c->h), CURLM_OK);
}

static void
call_free(struct call *c)
{
    free(c->resp);
    c->resp = NULL;
}

/* A hook called between polls of the load; may act on the cluster. */
typedef void (*load_hook)(struct cluster *cl, struct call *calls, size_t n, void *payload);

/* Run `n` calls through the balancer, at most `conc` at once; every call
 * ends (done) or the test fails after 60 s. */
static void
run_calls(struct cluster *cl, struct call *calls, size_t n, size_t conc, load_hook hook,
          void *payload)
{
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    size_t next = 0, running = 0, finished = 0;
    long long end = gwd_now_ms() + 60000;
    while (finished < n) {
        assert_true(gwd_now_ms() < end);
        while (running < conc && next < n) {
            call_add(m, &calls[next++], cl->lb.url);
            running++;
        }
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct call *c = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            c->rc = msg->data.result;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
            c->t_end = gwd_now_ms();
            c->done = true;
            c->host = host_of(c->resp);
            curl_multi_remove_handle(m, c->h);
            curl_easy_cleanup(c->h);
            curl_slist_free_all(c->hl);
            c->h = NULL;
            running--;
            finished++;
        }
        if (hook)
            hook(cl, calls, n, payload);
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    curl_multi_cleanup(m);
}

/* One call, alone. */
static void
call_one(struct cluster *cl, struct call *c)
{
    run_calls(cl, c, 1, 1, NULL, NULL);
}

/* A complete answer: 200, the transfer ended cleanly, a stream ended with
 * [DONE] after a "stop", a plain answer has finish_reason "stop". */
static bool
complete(const struct call *c)
{
    return c->done && c->rc == CURLE_OK && c->status == 200 && c->resp && c->host >= 0 &&
           strstr(c->resp, "\"finish_reason\":\"stop\"") &&
           (!c->stream || strstr(c->resp, "data: [DONE]"));
}

/* ---- the cluster ---------------------------------------------------------- */

static unsigned
free_port(void)
{
    int port = 0;
    assert_int_equal(lingma__find_free_ports(&port, 1, NULL, 0), 0);
    return (unsigned)port;
}

static void
render_config(struct cluster *cl, char *path, size_t plen)
{
    char script[4200], listen[64], run_dir[4200];
    snprintf(script, sizeof(script), "%s/deploy/render-balancer", need_env("LINGMA_SOURCE_ROOT"));
    snprintf(listen, sizeof(listen), "LISTEN=127.0.0.1:%u", cl->lb_port);
    snprintf(run_dir, sizeof(run_dir), "RUN_DIR=%s", cl->dir);
    char hosts[NHOSTS][64];
    const char *argv[32];
    size_t k = 0;
    argv[k++] = "/bin/sh";
    argv[k++] = script;
    argv[k++] = strcmp(lb_kind, "nginx") == 0 ? "nginx-standalone" : "haproxy";
    argv[k++] = listen;
    argv[k++] = run_dir;
    argv[k++] = "CHECK_INTER_MS=" CHECK_STR(CHECK_INTER_MS);
    argv[k++] = "CHECK_FALL=" CHECK_STR(CHECK_FALL);
    argv[k++] = "CHECK_RISE=2";
    argv[k++] = "MAX_FAILS=" CHECK_STR(MAX_FAILS);
    argv[k++] = "FAIL_TIMEOUT=" CHECK_STR(FAIL_TIMEOUT_S);
    argv[k++] = "MAXCONN=1024";
    argv[k++] = "WORKERS=1";
    argv[k++] = "DAEMON=off";
    argv[k++] = "MASTER=off";
    for (int i = 0; i < NHOSTS; i++) {
        snprintf(hosts[i], sizeof(hosts[i]), "127.0.0.1:%u", cl->gw[i].port);
        argv[k++] = hosts[i];
    }
    argv[k] = NULL;
    static char out[65536], err[4096];
    struct procrun_opts o = {.argv = argv};
    int rc = procrun_run(&o, 10000, out, sizeof(out), err, sizeof(err));
    if (rc != 0)
        fail_msg("render-balancer failed (%d): %s", rc, err);
    assert_int_equal(tmpdir_write(cl->dir, "balancer.conf", out, 0600), 0);
    snprintf(path, plen, "%s/balancer.conf", cl->dir);
}

/* The balancer's own syntax check of the rendered file. */
static void
check_config(struct cluster *cl, const char *conf)
{
    const char *hx[] = {lb_bin, "-c", "-q", "-f", conf, NULL};
    const char *ng[] = {lb_bin, "-t", "-q", "-c", conf, "-p", cl->dir, "-e", "stderr", NULL};
    struct procrun_opts o = {.argv = strcmp(lb_kind, "nginx") == 0 ? ng : hx};
    char err[8192];
    int rc = procrun_run(&o, 20000, NULL, 0, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s rejects the rendered configuration %s: %s", lb_kind, conf, err);
}

static void
cluster_up(struct cluster *cl, const char *const *extra_env)
{
    memset(cl, 0, sizeof(*cl));
    for (int i = 0; i < NHOSTS; i++) {
        char reply[64];
        snprintf(reply, sizeof(reply),
                 "LINGMA_SIM_REPLY=text:gw%d.gw%d.gw%d.gw%d.gw%d.gw%d.gw%d.gw%d.", i + 1, i + 1,
                 i + 1, i + 1, i + 1, i + 1, i + 1, i + 1);
        const char *env[24];
        size_t k = 0;
        env[k++] = reply;
        env[k++] = "LINGMA_SIM_CHUNKS=8";
        env[k++] = "LOG_LEVEL=info";
        env[k++] = "GATEWAY_DRAIN_TIMEOUT_SEC=20";
        for (size_t e = 0; extra_env && extra_env[e] && k < 23; e++)
            env[k++] = extra_env[e];
        env[k] = NULL;
        gwd_start(&cl->gw[i], env, true);
    }
    assert_int_equal(tmpdir_make(cl->dir, sizeof(cl->dir), "lb"), 0);
    cl->lb_port = free_port();
    snprintf(cl->lb.url, sizeof(cl->lb.url), "http://127.0.0.1:%u", cl->lb_port);
    cl->lb.port = cl->lb_port;
    char conf[4200];
    render_config(cl, conf, sizeof(conf));
    check_config(cl, conf);

    char log[4200];
    snprintf(log, sizeof(log), "%s/balancer.log", cl->dir);
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(logfd >= 0);
    const char *hx[] = {lb_bin, "-db", "-f", conf, NULL};
    const char *ng[] = {lb_bin, "-c", conf, "-p", cl->dir, "-e", "stderr", NULL};
    struct procrun_opts o = {
        .argv = strcmp(lb_kind, "nginx") == 0 ? ng : hx, .out_fd = logfd, .err_fd = logfd};
    char err[512];
    cl->lb_pid = procrun_spawn(&o, err, sizeof(err));
    close(logfd);
    if (cl->lb_pid < 0)
        fail_msg("%s: %s", lb_kind, err);
    /* Up when it answers /healthz (proxied to a gateway). */
    long long end = gwd_now_ms() + 15000;
    for (;;) {
        struct gwd_resp r;
        gwd_req(&r, &cl->lb, "GET", "/healthz", NULL, NULL);
        long st = r.status;
        gwd_resp_free(&r);
        if (st == 200)
            break;
        if (gwd_now_ms() > end || !procrun_alive(cl->lb_pid))
            fail_msg("%s never answered /healthz (log: %s)", lb_kind, log);
        pause_ms(20);
    }
}

static void
cluster_down(struct cluster *cl)
{
    if (!cl->dir[0])
        return; /* never started, or already down */
    if (cl->lb_pid > 0)
        procrun_stop(cl->lb_pid, SIGTERM, 5000, NULL);
    cl->lb_pid = 0;
    for (int i = 0; i < NHOSTS; i++)
        gwd_stop(&cl->gw[i]);
    tmpdir_remove(cl->dir);
    cl->dir[0] = '\0';
}

/* Learn which host serves each key "conv-<i>" (sequential short chats) and
 * check it twice more: the same key always lands on the same host. */
static void
map_keys(struct cluster *cl)
{
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < NKEYS; i++) {
            struct call c = {.stream = round == 1};
            snprintf(c.key, sizeof(c.key), "conv-%d", i);
            call_one(cl, &c);
            if (!complete(&c))
                fail_msg("key %s: status %ld, curl %d", c.key, c.status, (int)c.rc);
            if (round == 0)
                cl->key_host[i] = c.host;
            else
                assert_int_equal(c.host, cl->key_host[i]);
            call_free(&c);
        }
}

/* The host with the most keys. */
static int
busiest_host(const struct cluster *cl)
{
    int n[NHOSTS] = {0}, best = 0;
    for (int i = 0; i < NKEYS; i++)
        n[cl->key_host[i]]++;
    for (int h = 1; h < NHOSTS; h++)
        if (n[h] > n[best])
            best = h;
    return best;
}

/* gateway_requests_total of the chat route, all statuses, from `g`'s /metrics. */
static long
chat_count(struct gwd *g)
{
    struct gwd_resp r;
    gwd_req(&r, g, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    long total = 0;
    static const char prefix[] = "gateway_requests_total{route=\"/v1/chat/completions\"";
    for (char *p = r.body; (p = strstr(p, prefix)); p++) {
        char *sp = strchr(p, ' ');
        if (sp)
            total += strtol(sp + 1, NULL, 10);
    }
    gwd_resp_free(&r);
    return total;
}

/* HAProxy: whether server gw<h+1> is up, from `show servers state`. */
static bool
haproxy_server_up(struct cluster *cl, int h)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char path[4200];
    snprintf(path, sizeof(path), "%s/haproxy.sock", cl->dir);
    assert_true(strlen(path) < sizeof(a.sun_path));
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(netio_send_str(fd, "show servers state gatewayd\n"), 0);
    char *out = gwd_raw_read(fd, NULL, 5000);
    close(fd);
    /* "be_id be_name srv_id srv_name srv_addr srv_op_state ..." (2: running) */
    char name[16];
    snprintf(name, sizeof(name), " gw%d ", h + 1);
    char *line = strstr(out, name);
    assert_non_null(line);
    char addr[64];
    int op = -1;
    assert_int_equal(sscanf(line + strlen(name), "%63s %d", addr, &op), 2);
    free(out);
    return op == 2;
}

/* ---- routing -------------------------------------------------------------- */

static void
test_routing(void **state)
{
    (void)state;
    /* One slot and no queue per gateway: a second chat on a busy host is
     * an admission 429 at once. */
    static const char *const env[] = {"GATEWAY_MAX_IN_FLIGHT=1", "GATEWAY_MAX_QUEUE=0", NULL};
    struct cluster *cl = &CL;
    cluster_up(cl, env);
    map_keys(cl);
    int per[NHOSTS] = {0};
    for (int i = 0; i < NKEYS; i++)
        per[cl->key_host[i]]++;
    print_message("FIGURES %s spread: %d keys -> %d / %d / %d\n", lb_kind, NKEYS, per[0], per[1],
                  per[2]);
    for (int h = 0; h < NHOSTS; h++)
        assert_true(per[h] > 0);

    /* Without X-Lingma-Affinity the API key is the key, the same one
     * whether sent as a Bearer token or as x-api-key; several keys spread. */
    int key_host[16], seen[NHOSTS] = {0};
    for (int k = 0; k < 16; k++) {
        for (int form = 0; form < 3; form++) {
            struct call c = {.stream = form == 1};
            if (form == 2)
                snprintf(c.auth, sizeof(c.auth), "x-api-key: api-key-%d", k);
            else
                snprintf(c.auth, sizeof(c.auth), "Authorization: Bearer api-key-%d", k);
            call_one(cl, &c);
            assert_true(complete(&c));
            if (form == 0)
                key_host[k] = c.host;
            else
                assert_int_equal(c.host, key_host[k]);
            call_free(&c);
        }
        seen[key_host[k]]++;
    }
    int used = 0;
    for (int h = 0; h < NHOSTS; h++)
        used += seen[h] > 0;
    assert_true(used >= 2);
    /* The header wins over the API key: one API key, every conversation on
     * the host of its own key. */
    for (int i = 0; i < NKEYS; i++) {
        struct call c = {0};
        snprintf(c.key, sizeof(c.key), "conv-%d", i);
        snprintf(c.auth, sizeof(c.auth), "Authorization: Bearer api-key-0");
        call_one(cl, &c);
        assert_true(complete(&c));
        assert_int_equal(c.host, cl->key_host[i]);
        call_free(&c);
    }

    /* SSE is not buffered: a stream of eight chunks 100 ms apart arrives
     * piece by piece, its first bytes long before its end. */
    gwd_sim_config(&cl->gw[cl->key_host[1]], "{\"chunk_ms\":100}");
    struct call sse = {.stream = true};
    snprintf(sse.key, sizeof(sse.key), "conv-1");
    call_one(cl, &sse);
    assert_true(complete(&sse));
    print_message(
        "FIGURES %s SSE: eight chunks 100 ms apart, the first bytes %lld ms before the end\n",
        lb_kind, sse.t_end - sse.t_body);
    assert_true(sse.t_end - sse.t_body >= 400);
    call_free(&sse);
    gwd_sim_config(&cl->gw[cl->key_host[1]], "{}");

    /* A body of exactly GATEWAY_MAX_BODY_BYTES passes (JSON whitespace),
     * one byte more is a 413 in the OpenAI envelope, from the gateway
     * (HAProxy streams the body) or from nginx (client_max_body_size). */
    const char *tail = "\"messages\":[{\"role\":\"user\",\"content\":\"big\"}]}";
    char *big = malloc((size_t)MAX_BODY + 2);
    assert_non_null(big);
    big[0] = '{';
    size_t pad = (size_t)MAX_BODY - 1 - strlen(tail);
    memset(big + 1, ' ', pad);
    strcpy(big + 1 + pad, tail);
    assert_int_equal((long)strlen(big), MAX_BODY);
    struct call c = {.body = big};
    snprintf(c.key, sizeof(c.key), "conv-0");
    call_one(cl, &c);
    assert_true(complete(&c));
    call_free(&c);
    memmove(big + 2, big + 1, (size_t)MAX_BODY); /* one more space */
    struct call c2 = {.body = big, .expect = "100-continue"};
    snprintf(c2.key, sizeof(c2.key), "conv-0");
    call_one(cl, &c2);
    assert_int_equal(c2.status, 413);
    json_t *j = json_loads(c2.resp ? c2.resp : "", 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "request_too_large");
    json_decref(j);
    call_free(&c2);
    free(big);

    /* Admission: host X's one slot is taken by a slow stream; another key
     * of X gets X's 429. nginx replays it on another host; HAProxy 2.6
     * cannot (retry-on has no 429 before 3.1) and passes it through. */
    int x = cl->key_host[0], other = -1;
    for (int i = 1; i < NKEYS && other < 0; i++)
        if (cl->key_host[i] == x)
            other = i;
    assert_true(other > 0);
    gwd_sim_config(&cl->gw[x], "{\"chunk_ms\":200}");
    struct call slow[2];
    memset(slow, 0, sizeof(slow));
    slow[0].stream = true;
    snprintf(slow[0].key, sizeof(slow[0].key), "conv-0");
    snprintf(slow[1].key, sizeof(slow[1].key), "conv-%d", other);
    /* Start the slow one, and the second once the first has its headers;
     * both on one multi handle, so the first keeps its slot meanwhile. */
    CURLM *m = curl_multi_init();
    call_add(m, &slow[0], cl->lb.url);
    long long end = gwd_now_ms() + 20000;
    bool second = false;
    while (!slow[1].done && gwd_now_ms() < end) {
        int still;
        curl_multi_perform(m, &still);
        if (slow[0].t_head && !second) {
            call_add(m, &slow[1], cl->lb.url);
            second = true;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == slow[1].h) {
                slow[1].rc = msg->data.result;
                curl_easy_getinfo(slow[1].h, CURLINFO_RESPONSE_CODE, &slow[1].status);
                slow[1].done = true;
                slow[1].host = host_of(slow[1].resp);
            }
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    assert_true(slow[1].done);
    if (strcmp(lb_kind, "nginx") == 0) {
        if (!complete(&slow[1]))
            fail_msg("nginx: the 429 was not replayed: %ld", slow[1].status);
        assert_true(slow[1].host != x);
        print_message("FIGURES nginx 429: replayed on gw%d\n", slow[1].host + 1);
    } else {
        assert_int_equal(slow[1].status, 429);
        assert_true(atoi(slow[1].retry_after) >= 1);
        print_message("FIGURES haproxy 429: passed through, Retry-After %d\n",
                      atoi(slow[1].retry_after));
    }
    for (int i = 0; i < 2; i++) {
        curl_multi_remove_handle(m, slow[i].h);
        curl_easy_cleanup(slow[i].h);
        curl_slist_free_all(slow[i].hl);
    }
    curl_multi_cleanup(m);
    call_free(&slow[0]);
    call_free(&slow[1]);
    cluster_down(cl);
}

/* ---- a host whose instance logs out --------------------------------------- */

static void
logout_instance(struct gwd *g)
{
    struct wsc_ctx *ctx = wsc_ctx_new();
    assert_non_null(ctx);
    struct simc *s = simc_connect(ctx, (int)g->sock_port, "/");
    assert_non_null(s);
    json_t *res = NULL;
    assert_int_equal(simc_call(s, "auth/logout", json_object(), &res, NULL, 5000), 0);
    json_decref(res);
    simc_free(s);
    wsc_ctx_free(ctx);
}

static void
test_logged_out(void **state)
{
    (void)state;
    struct cluster *cl = &CL;
    cluster_up(cl, NULL);
    map_keys(cl);
    int v = cl->key_host[0];
    int vkeys[NKEYS], nv = 0;
    for (int i = 0; i < NKEYS; i++)
        if (cl->key_host[i] == v)
            vkeys[nv++] = i;

    logout_instance(&cl->gw[v]);
    long long t_logout = gwd_now_ms();
    /* The contract: /healthz is 503 while no instance is logged in. */
    long long t_health = 0;
    while (!t_health && gwd_now_ms() < t_logout + 10000) {
        struct gwd_resp r;
        gwd_req(&r, &cl->gw[v], "GET", "/healthz", NULL, NULL);
        if (r.status == 503)
            t_health = gwd_now_ms();
        gwd_resp_free(&r);
        if (!t_health)
            pause_ms(10);
    }
    assert_true(t_health > 0);

    /* Requests for its keys keep coming; none fails, none is answered by
     * it. HAProxy: it leaves rotation within the check interval. nginx:
     * after MAX_FAILS requests (each answered 503 there and replayed). */
    long before = chat_count(&cl->gw[v]);
    long long t_out = 0;
    int sent = 0;
    long long end = t_health + 10000;
    for (;;) {
        struct call c = {0};
        snprintf(c.key, sizeof(c.key), "conv-%d", vkeys[sent % nv]);
        call_one(cl, &c);
        sent++;
        if (!complete(&c))
            fail_msg("a request for the logged-out host's key failed: %ld, curl %d", c.status,
                     (int)c.rc);
        assert_true(c.host != v);
        call_free(&c);
        if (strcmp(lb_kind, "haproxy") == 0) {
            if (!t_out && !haproxy_server_up(cl, v))
                t_out = gwd_now_ms();
            if (t_out && sent >= 10)
                break;
        } else if (sent >= 10) {
            break;
        }
        assert_true(gwd_now_ms() < end);
        pause_ms(10);
    }
    long hits = chat_count(&cl->gw[v]) - before;
    if (strcmp(lb_kind, "haproxy") == 0) {
        /* fall x inter, plus one interval for the check in flight, plus
         * scheduling slack on a shared machine. */
        long budget = (CHECK_FALL + 1) * CHECK_INTER_MS + 1000;
        print_message("FIGURES haproxy logged-out: /healthz 503 after %lld ms, out of "
                      "rotation %lld ms later (inter %d ms, fall %d); %ld chat(s) reached it, "
                      "replayed elsewhere; %d requests, 0 errors\n",
                      t_health - t_logout, t_out - t_health, CHECK_INTER_MS, CHECK_FALL, hits,
                      sent);
        assert_true(t_out - t_health <= budget);
        /* Out of rotation: nothing more reaches it. */
        long now = chat_count(&cl->gw[v]);
        for (int i = 0; i < 5; i++) {
            struct call c = {0};
            snprintf(c.key, sizeof(c.key), "conv-%d", vkeys[i % nv]);
            call_one(cl, &c);
            assert_true(complete(&c));
            call_free(&c);
        }
        assert_int_equal(chat_count(&cl->gw[v]), now);
    } else {
        print_message("FIGURES nginx logged-out: /healthz 503 after %lld ms; %ld chat(s) "
                      "reached it (answered 503, replayed elsewhere) before it left rotation "
                      "(max_fails %d); %d requests, 0 errors\n",
                      t_health - t_logout, hits, MAX_FAILS, sent);
        assert_true(hits >= 1 && hits <= MAX_FAILS);
    }
    cluster_down(cl);
}

/* ---- one host killed or drained under load -------------------------------- */

struct failover {
    int victim;
    int sig;
    long long t_sig;
    long long t_down;                   /* HAProxy: the victim seen down, 0: not (yet) */
    int started_at_sig, pending_at_sig; /* the victim's calls then */
    bool *pending;                      /* per call: in flight, not started, at the signal */
};

static void
failover_hook(struct cluster *cl, struct call *calls, size_t n, void *payload)
{
    struct failover *f = payload;
    if (f->t_sig) {
        /* HAProxy: when its checks take the victim out. */
        if (!f->t_down && strcmp(lb_kind, "haproxy") == 0 && !haproxy_server_up(cl, f->victim))
            f->t_down = gwd_now_ms();
        return;
    }
    int started = 0, pending = 0;
    long long now = gwd_now_ms();
    for (size_t i = 0; i < n; i++) {
        int key = atoi(calls[i].key + 5);
        if (!calls[i].added || calls[i].done || cl->key_host[key] != f->victim)
            continue;
        /* A stream that started in the last 200 ms has 280 ms to go. */
        if (calls[i].t_head)
            started += calls[i].stream && calls[i].t_head > now - 200;
        else
            pending++;
    }
    /* Strike with streams running on it and requests in its hands. */
    if (started < 2 || pending < 2)
        return;
    for (size_t i = 0; i < n; i++) {
        int key = atoi(calls[i].key + 5);
        f->pending[i] =
            calls[i].added && !calls[i].done && !calls[i].t_head && cl->key_host[key] == f->victim;
    }
    kill(cl->gw[f->victim].pid, f->sig);
    f->t_sig = gwd_now_ms();
    f->started_at_sig = started;
    f->pending_at_sig = pending;
}

static void
failover(int sig)
{
    struct cluster *cl = &CL;
    cluster_up(cl, NULL);
    map_keys(cl);
    /* Every chat: 250 ms before Lingma accepts it (no response yet), then
     * eight chunks 60 ms apart. */
    for (int i = 0; i < NHOSTS; i++)
        gwd_sim_config(&cl->gw[i], "{\"fault\":\"ask_delay_ms:250\",\"chunk_ms\":60}");
    enum { N = 120, CONC = 18 };
    struct call *calls = LOAD = calloc(N, sizeof(*calls));
    bool *pending = PENDING = calloc(N, sizeof(*pending));
    LOAD_N = N;
    assert_non_null(calls);
    assert_non_null(pending);
    for (int i = 0; i < N; i++) {
        snprintf(calls[i].key, sizeof(calls[i].key), "conv-%d", i % NKEYS);
        calls[i].stream = i % 3 != 2;
    }
    struct failover f = {.victim = busiest_host(cl), .sig = sig, .pending = pending};
    run_calls(cl, calls, N, CONC, failover_hook, &f);
    assert_true(f.t_sig > 0); /* the load did reach the strike condition */

    int ok = 0, cut = 0, lost = 0, replayed = 0, pending_done = 0, after = 0;
    long long reroute_max = 0, first_after = 0, ttfb_max = 0, ttfb_others = 0;
    for (int i = 0; i < N; i++) {
        struct call *c = &calls[i];
        int key = atoi(c->key + 5);
        bool on_victim = cl->key_host[key] == f.victim;
        /* Its response had started on the victim: a status line came, and
         * no other host's text (a killed host sends nothing after the
         * signal, but what it sent before may still be on its way). */
        bool started_on_victim = on_victim && c->t0 < f.t_sig && c->t_head && c->status == 200 &&
                                 (c->host == -1 || c->host == f.victim);
        if (complete(c)) {
            ok++;
            /* Served by the victim only if it had it in hand at the signal. */
            if (c->host == f.victim)
                assert_true(c->t0 < f.t_sig);
            if (pending[i])
                pending_done++;
            if (pending[i] && c->host != f.victim) {
                replayed++;
                if (c->t_head - f.t_sig > reroute_max)
                    reroute_max = c->t_head - f.t_sig;
            }
            if (!on_victim && c->t0 >= f.t_sig && c->t_head - c->t0 > ttfb_others)
                ttfb_others = c->t_head - c->t0;
            if (on_victim && c->t0 >= f.t_sig) {
                after++;
                if (c->t_head - c->t0 > ttfb_max)
                    ttfb_max = c->t_head - c->t0;
                if (!first_after || c->t_head - f.t_sig < first_after)
                    first_after = c->t_head - f.t_sig;
            }
            continue;
        }
        if (started_on_victim && sig == SIGKILL) {
            /* Cut: a transport error, never a fake end. */
            cut++;
            assert_true(c->rc != CURLE_OK);
            assert_null(c->resp ? strstr(c->resp, "[DONE]") : NULL);
            assert_null(c->resp ? strstr(c->resp, "\"finish_reason\":\"stop\"") : NULL);
            continue;
        }
        lost++;
        print_message("lost: %s stream=%d status %ld curl %d host %d t0 %+lld head %+lld\n", c->key,
                      c->stream, c->status, (int)c->rc, c->host, c->t0 - f.t_sig,
                      c->t_head ? c->t_head - f.t_sig : -1);
    }
    const char *what = sig == SIGKILL ? "SIGKILL" : "SIGTERM";
    print_message("FIGURES %s %s: %d requests (%d at once), victim gw%d had %d streams started "
                  "and %d requests not yet started at the signal; %d complete, %d lost, %d "
                  "started streams cut with a transport error; of the %d not started %d were "
                  "replayed on another host (the last one's answer started %lld ms after the "
                  "signal) and %d finished on the victim; %d later requests for its keys went "
                  "elsewhere, the first answer starting %lld ms after the signal, the slowest "
                  "%lld ms after its request (other keys meanwhile: at most %lld ms; Lingma's own "
                  "delay is 250 ms)\n",
                  lb_kind, what, N, CONC, f.victim + 1, f.started_at_sig, f.pending_at_sig, ok,
                  lost, cut, f.pending_at_sig, replayed, reroute_max, pending_done - replayed,
                  after, first_after, ttfb_max, ttfb_others);
    assert_int_equal(lost, 0);
    /* What was not started at the signal (as far as this side saw) was
     * finished, replayed or, having in fact started, cut: never lost. */
    assert_true(pending_done <= f.pending_at_sig);
    if (sig == SIGKILL) {
        assert_true(cut >= 1);
    } else {
        assert_int_equal(cut, 0);
        /* The drain let every started stream finish, then the gateway left. */
        long long t0 = gwd_now_ms();
        assert_int_equal(gwd_wait_exit(&cl->gw[f.victim], 30000), 0);
        print_message("FIGURES %s SIGTERM: the drained gateway exited 0, %lld ms after the "
                      "load ended\n",
                      lb_kind, gwd_now_ms() - t0);
    }
    if (strcmp(lb_kind, "haproxy") == 0) {
        long long end = gwd_now_ms() + 5000;
        while (!f.t_down && gwd_now_ms() < end) {
            if (!haproxy_server_up(cl, f.victim))
                f.t_down = gwd_now_ms();
            pause_ms(20);
        }
        assert_true(f.t_down > 0);
        print_message("FIGURES haproxy %s: the victim out of rotation %lld ms after the signal "
                      "(checks every %d ms, fall %d)\n",
                      what, f.t_down - f.t_sig, CHECK_INTER_MS, CHECK_FALL);
    }
    cluster_down(cl);
}

static void
test_sigkill(void **state)
{
    (void)state;
    failover(SIGKILL);
}

static void
test_sigterm(void **state)
{
    (void)state;
    failover(SIGTERM);
}

/* After every test, passed or not: the load's buffers, the balancer and
 * the gateways (by pid). */
static int
teardown(void **state)
{
    (void)state;
    for (size_t i = 0; LOAD && i < LOAD_N; i++) {
        if (LOAD[i].h) {
            curl_easy_cleanup(LOAD[i].h);
            curl_slist_free_all(LOAD[i].hl);
        }
        call_free(&LOAD[i]);
    }
    free(LOAD);
    free(PENDING);
    LOAD = NULL;
    PENDING = NULL;
    LOAD_N = 0;
    cluster_down(&CL);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "haproxy") != 0 && strcmp(argv[1], "nginx") != 0)) {
        fprintf(stderr, "usage: %s haproxy|nginx BINARY\n", argv[0]);
        return 2;
    }
    lb_kind = argv[1];
    lb_bin = argv[2];
    if (access(lb_bin, X_OK) != 0) {
        printf("%s not found (%s): skipping\n", lb_kind, lb_bin);
        return 77;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_routing, teardown),
        cmocka_unit_test_teardown(test_logged_out, teardown),
        cmocka_unit_test_teardown(test_sigkill, teardown),
        cmocka_unit_test_teardown(test_sigterm, teardown),
    };
    int rc = cmocka_run_group_tests_name(lb_kind, tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
