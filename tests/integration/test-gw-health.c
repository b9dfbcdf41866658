/*
 * lingma-gatewayd's health as a load balancer sees it, on real lingma-sim
 * processes:
 *
 *   - /healthz is 503 while the only instance is logged out (connected,
 *     yet useless), with the login state in its body, and 200 once it
 *     logs in; /livez is 200 all along, without a key; the metrics count
 *     the instances by health;
 *   - a chat while no instance serves gets 503 at once (the chat timeout is
 *     600 s, the request's own bound 30 s: it is not a timeout);
 *   - with two instances, chats go around the logged-out one;
 *   - a Lingma that goes silent mid-stream (SIGSTOP) ends the stream with
 *     an SSE error event (never a "stop"), and is restarted.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gwd.h"

#define KEY  "sk-health-key"
#define AUTH "Authorization: Bearer " KEY
#define CHAT "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static const char *const auth[] = {AUTH, NULL};

static void
pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* instances[i] of a /healthz or /internal/... body. */
static json_t *
instance_of(const struct gwd_resp *r, size_t i)
{
    return json_array_get(json_object_get(r->json, "instances"), i);
}

static const char *
str_at(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* Poll /healthz until instance `i` shows `login` (bounded); leaves that
 * answer in `r`. */
static void
wait_login(struct gwd_resp *r, struct gwd *g, size_t i, const char *login, int timeout_ms)
{
    long long end = gwd_now_ms() + timeout_ms;
    for (;;) {
        gwd_req(r, g, "GET", "/healthz", NULL, NULL);
        if (strcmp(str_at(instance_of(r, i), "login"), login) == 0)
            return;
        if (gwd_now_ms() >= end)
            fail_msg("inst-%zu never showed login %s: %s", i, login, r->body ? r->body : "");
        gwd_resp_free(r);
        pause_ms(20);
    }
}

/* Poll /healthz until it answers `status` (bounded); leaves it in `r`. */
static void
wait_healthz(struct gwd_resp *r, struct gwd *g, long status, int timeout_ms)
{
    long long end = gwd_now_ms() + timeout_ms;
    for (;;) {
        gwd_req(r, g, "GET", "/healthz", NULL, NULL);
        if (r->status == status)
            return;
        if (gwd_now_ms() >= end)
            fail_msg("/healthz never answered %ld: %ld %s", status, r->status,
                     r->body ? r->body : "");
        gwd_resp_free(r);
        pause_ms(20);
    }
}

/* A metric's value in the /metrics text (the whole line name{labels}). */
static long
metric(struct gwd *g, const char *series)
{
    struct gwd_resp r;
    gwd_req(&r, g, "GET", "/metrics", NULL, auth);
    assert_int_equal(r.status, 200);
    char pat[256];
    snprintf(pat, sizeof(pat), "\n%s ", series);
    const char *at = r.body ? strstr(r.body, pat) : NULL;
    long v = at ? strtol(at + strlen(pat), NULL, 10) : -1;
    gwd_resp_free(&r);
    return v;
}

/* Log instance `name` in as a person would: a login attempt through the
 * gateway, then the simulator's callback with the nonce of its URL. */
static void
log_in_by_hand(struct gwd *g, const char *name, size_t i)
{
    struct gwd_resp r;
    char path[256], url[1024] = "";
    snprintf(path, sizeof(path), "/internal/auto-login/start?instance=%s", name);
    gwd_req(&r, g, "POST", path, "", auth);
    assert_int_equal(r.status, 202);
    gwd_resp_free(&r);
    long long end = gwd_now_ms() + 10000;
    while (!url[0]) {
        gwd_req(&r, g, "GET", "/internal/auto-login/status", NULL, auth);
        snprintf(url, sizeof(url), "%s", str_at(instance_of(&r, i), "login_url"));
        gwd_resp_free(&r);
        if (!url[0] && gwd_now_ms() >= end)
            fail_msg("no login URL for %s", name);
        if (!url[0])
            pause_ms(20);
    }
    /* https://devops.aliyun.com/lingma/login?port=P&state=S */
    const char *p = strstr(url, "port="), *s = strstr(url, "state=");
    assert_non_null(p);
    assert_non_null(s);
    char cb[512];
    snprintf(cb, sizeof(cb), "/auth/callback?state=%.*s", (int)strcspn(s + 6, "&"), s + 6);
    assert_int_equal(netio_http_get((unsigned)atoi(p + 5), cb), 200);
}

static void
test_healthz_follows_the_login(void **state)
{
    struct gwd *g = *state;
    struct gwd_resp r;
    gwd_start(g, (const char *const[]){"LINGMA_SIM_LOGGED_IN=0", "API_KEYS=" KEY, NULL}, false);

    /* Connected, logged out: not a place for chats. */
    wait_login(&r, g, 0, "logged_out", 15000);
    assert_int_equal(r.status, 503);
    assert_string_equal(str_at(r.json, "status"), "unavailable");
    assert_int_equal(json_integer_value(json_object_get(r.json, "ready")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "serving")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "logged_out")), 1);
    json_t *i0 = instance_of(&r, 0);
    assert_string_equal(str_at(i0, "name"), "inst-0");
    assert_string_equal(str_at(i0, "state"), "ready");
    assert_true(json_is_false(json_object_get(i0, "serving")));
    gwd_resp_free(&r);
    assert_true(gwd_wait_log(g, "\"msg\":\"login needed\"", 5000));
    assert_true(gwd_wait_log(g, "\"login_hook\":false", 5000));

    /* Alive all the same, and no key needed for either probe. */
    gwd_req(&r, g, "GET", "/livez", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str_at(r.json, "status"), "ok");
    assert_true(json_integer_value(json_object_get(r.json, "pool_idle_ms")) < 5000);
    gwd_resp_free(&r);
    assert_int_equal(metric(g, "gateway_instances{state=\"serving\"}"), 0);
    assert_int_equal(metric(g, "gateway_instances{state=\"logged_out\"}"), 1);
    assert_int_equal(metric(g, "gateway_instances{state=\"down\"}"), 0);

    /* A chat gets 503 at once, and Lingma never saw it. */
    gwd_req(&r, g, "POST", "/v1/chat/completions", CHAT, auth);
    assert_int_equal(r.status, 503);
    gwd_resp_free(&r);
    assert_int_equal(gwd_sim_status(g, "chats_started"), 0);

    /* Logged in: 200, and chats go through. */
    log_in_by_hand(g, "inst-0", 0);
    wait_healthz(&r, g, 200, 10000);
    assert_string_equal(str_at(r.json, "status"), "ok");
    assert_int_equal(json_integer_value(json_object_get(r.json, "serving")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "logged_out")), 0);
    assert_string_equal(str_at(instance_of(&r, 0), "login"), "logged_in");
    assert_true(json_is_true(json_object_get(instance_of(&r, 0), "serving")));
    gwd_resp_free(&r);
    gwd_req(&r, g, "POST", "/v1/chat/completions", CHAT, auth);
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
    /* Its models are listed now (a logged-out Lingma has none to give). */
    long long end = gwd_now_ms() + 5000;
    size_t models = 0;
    while (models == 0 && gwd_now_ms() < end) {
        gwd_req(&r, g, "GET", "/v1/models", NULL, auth);
        models = json_array_size(json_object_get(r.json, "data"));
        gwd_resp_free(&r);
        if (!models)
            pause_ms(20);
    }
    assert_true(models > 0);
    assert_int_equal(metric(g, "gateway_instances{state=\"serving\"}"), 1);
    assert_int_equal(metric(g, "gateway_instances{state=\"logged_out\"}"), 0);
    assert_int_equal(gwd_stop(g), 0);
}

static void
test_chats_go_around_a_logged_out_instance(void **state)
{
    struct gwd *g = *state;
    struct gwd_resp r;
    gwd_start(g,
              (const char *const[]){"LINGMA_SIM_LOGGED_IN=0", "LINGMA_INSTANCE_COUNT=2",
                                    "API_KEYS=" KEY, NULL},
              false);
    wait_login(&r, g, 0, "logged_out", 15000);
    gwd_resp_free(&r);
    wait_login(&r, g, 1, "logged_out", 15000);
    assert_int_equal(r.status, 503);
    gwd_resp_free(&r);

    /* inst-1 logs in: the gateway is ready for the balancer again. */
    log_in_by_hand(g, "inst-1", 1);
    wait_healthz(&r, g, 200, 10000);
    assert_int_equal(json_integer_value(json_object_get(r.json, "serving")), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "logged_out")), 1);
    gwd_resp_free(&r);

    /* Every chat lands on inst-1, whatever its user (the affinity key). */
    for (int i = 0; i < 10; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"user\":\"user-%d\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", i);
        gwd_req(&r, g, "POST", "/v1/chat/completions", body, auth);
        assert_int_equal(r.status, 200);
        gwd_resp_free(&r);
    }
    assert_int_equal(metric(g, "gateway_requests_total{route=\"/v1/chat/completions\","
                               "status=\"200\"}"),
                     10);
    /* inst-0's simulator never saw a chat (its counters are in its own
     * work dir), inst-1's saw all ten. */
    char dir[4300];
    snprintf(dir, sizeof(dir), "%s/inst-0", g->work);
    assert_int_equal(gwd_sim_status_in(dir, "chats_started"), 0);
    snprintf(dir, sizeof(dir), "%s/inst-1", g->work);
    long long end = gwd_now_ms() + 5000; /* its counters are written every 50 ms */
    while (gwd_sim_status_in(dir, "chats_started") < 10 && gwd_now_ms() < end)
        pause_ms(20);
    assert_int_equal(gwd_sim_status_in(dir, "chats_started"), 10);
    assert_int_equal(gwd_stop(g), 0);
}

static void
test_silent_lingma_ends_the_stream_with_an_error(void **state)
{
    struct gwd *g = *state;
    struct gwd_resp r;
    gwd_start(g,
              (const char *const[]){"LINGMA_STALL_TIMEOUT=1", "LINGMA_RPC_TIMEOUT=1",
                                    "LINGMA_SIM_CHUNKS=60", "LINGMA_SIM_CHUNK_MS=100", NULL},
              true);
    gwd_req(&r, g, "GET", "/internal/stats", NULL, NULL);
    json_t *i0 = json_array_get(json_object_get(json_object_get(r.json, "pool"), "instances"), 0);
    long pid = (long)json_integer_value(json_object_get(i0, "pid"));
    gwd_resp_free(&r);
    assert_true(pid > 0);

    int fd = gwd_raw_chat(g, "{\"stream\":true,\"messages\":[{\"role\":\"user\","
                             "\"content\":\"then silence\"}]}");
    assert_true(gwd_raw_read_until(fd, "\"content\":\"", 10000));
    long long t0 = gwd_now_ms();
    assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
    char *rest = gwd_raw_read(fd, "data: [DONE]", 15000);
    long long took = gwd_now_ms() - t0;
    close(fd);
    bool ended = rest && strstr(rest, "data: [DONE]");
    if (!ended)
        kill((pid_t)pid, SIGCONT);
    assert_true(ended);
    print_message("SIGSTOP mid-stream: the SSE error event came %lld ms later "
                  "(stall 1 s + rpc 1 s)\n",
                  took);
    assert_non_null(strstr(rest, "data: {\"error\":"));
    assert_null(strstr(rest, "\"finish_reason\":\"stop\""));
    free(rest);

    /* Restarted: /healthz is 200 again on a new Lingma, and the stall is
     * counted. */
    long long end = gwd_now_ms() + 20000;
    long pid2 = pid;
    while (pid2 == pid && gwd_now_ms() < end) {
        gwd_req(&r, g, "GET", "/healthz", NULL, NULL);
        if (r.status == 200) {
            gwd_resp_free(&r);
            gwd_req(&r, g, "GET", "/internal/stats", NULL, NULL);
            i0 = json_array_get(json_object_get(json_object_get(r.json, "pool"), "instances"), 0);
            pid2 = (long)json_integer_value(json_object_get(i0, "pid"));
        }
        gwd_resp_free(&r);
        if (pid2 == pid)
            pause_ms(50);
    }
    assert_true(pid2 != pid && pid2 > 0);
    assert_int_equal(metric(g, "gateway_pool_instance_stalls_total{name=\"inst-0\"}"), 1);
    gwd_req(&r, g, "POST", "/v1/chat/completions", CHAT, NULL);
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
    assert_int_equal(gwd_stop(g), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        GWD_TEST(test_healthz_follows_the_login),
        GWD_TEST(test_chats_go_around_a_logged_out_instance),
        GWD_TEST(test_silent_lingma_ends_the_stream_with_an_error),
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
