/*
 * The stored Responses stay bounded in the real daemon on lingma-sim:
 * thousands of stored responses of a few KiB each never take the store
 * past GATEWAY_RESPONSES_MAX_BYTES or GATEWAY_RESPONSES_MAX (watched
 * through /internal/stats and, without sanitizers, the daemon's resident
 * memory); the oldest go first and answer 404, the newest are still
 * retrievable and continuable; GATEWAY_RESPONSES_TTL_SEC expires them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gwd.h"

/* Sanitizers keep freed memory in quarantine: resident memory then says
 * nothing about the store, and the byte accounting alone is checked. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define INPUT_BYTES 8192

/* Resident memory of a process, in KiB (VmRSS), or -1. */
static long
rss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* POST a stored response with an input of INPUT_BYTES (distinct per `n`);
 * its id into `id`. */
static void
create(struct gwd *g, int n, const char *previous, char id[64])
{
    static char text[INPUT_BYTES + 1];
    for (size_t i = 0; i < INPUT_BYTES; i++)
        text[i] = (char)('a' + (i * 7 + (size_t)n) % 26);
    text[INPUT_BYTES] = '\0';
    json_t *body = json_pack("{s:s,s:s}", "model", "auto", "input", text);
    if (previous)
        json_object_set_new(body, "previous_response_id", json_string(previous));
    char *b = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct gwd_resp r;
    gwd_req(&r, g, "POST", "/v1/responses", b, NULL);
    free(b);
    if (r.status != 200)
        fail_msg("POST /v1/responses %d: %ld %s", n, r.status, r.body);
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    gwd_resp_free(&r);
}

static long
get_status(struct gwd *g, const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/responses/%s", id);
    struct gwd_resp r;
    gwd_req(&r, g, "GET", path, NULL, NULL);
    long st = r.status;
    gwd_resp_free(&r);
    return st;
}

static void
test_byte_bound(void **state)
{
    struct gwd *g = *state;
    /* 256 KiB hold about fifteen of these responses (input and echoed
     * answer, 8 KiB each); 1500 of them would need about 25 MB. */
    static const char *const env[] = {"GATEWAY_RESPONSES_MAX=100000",
                                      "GATEWAY_RESPONSES_MAX_BYTES=256K", NULL};
    gwd_start(g, env, true);
    const long max_bytes = 256 * 1024;
    char first[64] = "", last[64] = "", prev[64] = "";
    long rss_warm = -1, stored_max = 0;
    const int total = 1500;
    for (int n = 0; n < total; n++) {
        create(g, n, NULL, last);
        if (n == 0)
            snprintf(first, sizeof(first), "%s", last);
        if (n == total - 2)
            snprintf(prev, sizeof(prev), "%s", last);
        if (n % 100 == 99) {
            long bytes = gwd_stat(g, "responses.bytes");
            long stored = gwd_stat(g, "responses.stored");
            if (bytes > max_bytes || bytes <= 0)
                fail_msg("after %d responses the store holds %ld bytes", n + 1, bytes);
            if (stored > stored_max)
                stored_max = stored;
            if (n == 199)
                rss_warm = rss_kib(g->pid);
        }
    }
    assert_true(stored_max > 5 && stored_max < 40);
    assert_int_equal(gwd_stat(g, "responses.max_bytes"), max_bytes);
    /* The oldest went first; the newest are there and continue. */
    assert_int_equal(get_status(g, first), 404);
    assert_int_equal(get_status(g, last), 200);
    assert_int_equal(get_status(g, prev), 200);
    char next[64];
    create(g, total, last, next);
    struct gwd_resp r;
    json_t *b = json_pack("{s:s,s:s}", "input", "x", "previous_response_id", first);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    gwd_req(&r, g, "POST", "/v1/responses", body, NULL);
    free(body);
    assert_int_equal(r.status, 404);
    gwd_resp_free(&r);
    long rss_end = rss_kib(g->pid);
    printf("store: at most %ld responses; daemon RSS %ld KiB after 200, %ld KiB after %d%s\n",
           stored_max, rss_warm, rss_end, total + 1, SANITIZED ? " (sanitized: not checked)" : "");
    if (!SANITIZED && rss_warm > 0 && rss_end - rss_warm > 10 * 1024)
        fail_msg("resident memory grew by %ld KiB over %d stored responses", rss_end - rss_warm,
                 total - 200);
    assert_int_equal(gwd_stop(g), 0);
}

static void
test_count_bound_and_ttl(void **state)
{
    struct gwd *g = *state;
    static const char *const env[] = {"GATEWAY_RESPONSES_MAX=10", "GATEWAY_RESPONSES_TTL_SEC=1",
                                      NULL};
    gwd_start(g, env, true);
    char ids[25][64];
    for (int n = 0; n < 25; n++)
        create(g, n, NULL, ids[n]);
    assert_int_equal(gwd_stat(g, "responses.stored"), 10);
    assert_int_equal(gwd_stat(g, "responses.max_stored"), 10);
    assert_int_equal(get_status(g, ids[14]), 404);
    assert_int_equal(get_status(g, ids[15]), 200);
    assert_int_equal(get_status(g, ids[24]), 200);
    /* One second after they were made, every one has expired. */
    long long end = gwd_now_ms() + 5000;
    while (get_status(g, ids[24]) == 200 && gwd_now_ms() < end)
        usleep(50000);
    assert_int_equal(get_status(g, ids[24]), 404);
    assert_int_equal(gwd_stat(g, "responses.stored"), 0);
    assert_int_equal(gwd_stat(g, "responses.bytes"), 0);
    assert_int_equal(gwd_stop(g), 0);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        GWD_TEST(test_byte_bound),
        GWD_TEST(test_count_bound_and_ttl),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
