/* Unit tests for lingma-gatewayd/metrics.c: the exact exposition text,
 * label escaping and thread safety. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"
#include "metrics.h"

static const char *
line_after(const char *text, const char *line)
{
    if (!text)
        fail_msg("no text at all");
    const char *p = strstr(text, line);
    if (!p)
        fail_msg("missing line: %s\n--- in ---\n%s", line, text);
    return p;
}

static void
test_empty_registry(void **state)
{
    (void)state;
    gw_metrics *m = NULL;
    assert_int_equal(gw_metrics_new(&m), 0);
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_metrics_format(&b, m, NULL), 0);
    const char *want_start =
        "# HELP gateway_requests_total HTTP requests handled, by route template and status.\n"
        "# TYPE gateway_requests_total counter\n"
        "# HELP gateway_request_duration_seconds Time from the request to the end of its "
        "response, by route template.\n"
        "# TYPE gateway_request_duration_seconds histogram\n"
        "# HELP gateway_time_to_first_token_seconds Time from a chat request to its first "
        "content.\n"
        "# TYPE gateway_time_to_first_token_seconds histogram\n"
        "gateway_time_to_first_token_seconds_bucket{le=\"0.05\"} 0\n";
    assert_memory_equal(b.data, want_start, strlen(want_start));
    line_after(b.data, "gateway_time_to_first_token_seconds_bucket{le=\"+Inf\"} 0\n"
                       "gateway_time_to_first_token_seconds_sum 0\n"
                       "gateway_time_to_first_token_seconds_count 0\n");
    assert_null(strstr(b.data, "gateway_in_flight"));
    gw_buf_free(&b);
    gw_metrics_free(m);
    gw_metrics_free(NULL);
}

static void
test_requests_and_histograms(void **state)
{
    (void)state;
    gw_metrics *m = NULL;
    assert_int_equal(gw_metrics_new(&m), 0);
    gw_metrics_observe_request(m, "/v1/chat/completions", 200, 0.3);
    gw_metrics_observe_request(m, "/v1/chat/completions", 200, 1.0);
    gw_metrics_observe_request(m, "/v1/chat/completions", 429, 0.001);
    gw_metrics_observe_request(m, "/v1/models", 200, 700);
    gw_metrics_observe_request(m, "/v1/models", 200, -1); /* counted, no duration */
    gw_metrics_observe_ttft(m, 0.05);
    gw_metrics_observe_ttft(m, 0.07);
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_metrics_format(&b, m, NULL), 0);
    const char *t = b.data;
    line_after(t, "gateway_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2\n"
                  "gateway_requests_total{route=\"/v1/chat/completions\",status=\"429\"} 1\n"
                  "gateway_requests_total{route=\"/v1/models\",status=\"200\"} 2\n");
    line_after(t, "gateway_request_duration_seconds_bucket{route=\"/v1/chat/completions\","
                  "le=\"0.005\"} 1\n");
    line_after(t, "gateway_request_duration_seconds_bucket{route=\"/v1/chat/completions\","
                  "le=\"0.25\"} 1\n"
                  "gateway_request_duration_seconds_bucket{route=\"/v1/chat/completions\","
                  "le=\"0.5\"} 2\n"
                  "gateway_request_duration_seconds_bucket{route=\"/v1/chat/completions\","
                  "le=\"1\"} 3\n");
    line_after(t, "gateway_request_duration_seconds_bucket{route=\"/v1/chat/completions\","
                  "le=\"+Inf\"} 3\n"
                  "gateway_request_duration_seconds_sum{route=\"/v1/chat/completions\"} 1.301\n"
                  "gateway_request_duration_seconds_count{route=\"/v1/chat/completions\"} 3\n");
    line_after(t, "gateway_request_duration_seconds_bucket{route=\"/v1/models\",le=\"600\"} 0\n"
                  "gateway_request_duration_seconds_bucket{route=\"/v1/models\",le=\"+Inf\"} 1\n"
                  "gateway_request_duration_seconds_sum{route=\"/v1/models\"} 700\n"
                  "gateway_request_duration_seconds_count{route=\"/v1/models\"} 1\n");
    /* le is inclusive: 0.05 falls in the 0.05 bucket. */
    line_after(t, "gateway_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"
                  "gateway_time_to_first_token_seconds_bucket{le=\"0.1\"} 2\n");
    line_after(t, "gateway_time_to_first_token_seconds_sum 0.12\n"
                  "gateway_time_to_first_token_seconds_count 2\n");
    gw_buf_free(&b);
    gw_metrics_free(m);
}

static void
test_pool_snapshot(void **state)
{
    (void)state;
    gw_metrics *m = NULL;
    assert_int_equal(gw_metrics_new(&m), 0);
    gw_metrics_instance inst[] = {{"inst-0", 3, true, 0, 0}, {"we\"ird\\\nname", 0, false, 2, 1}};
    gw_metrics_snapshot s = {3, 1, 100, 7, 64, inst, 2, 1, 0, 1};
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_metrics_format(&b, m, &s), 0);
    line_after(b.data, "# HELP gateway_in_flight Chats running now.\n"
                       "# TYPE gateway_in_flight gauge\n"
                       "gateway_in_flight 3\n"
                       "# HELP gateway_queued Chats waiting for a slot.\n"
                       "# TYPE gateway_queued gauge\n"
                       "gateway_queued 1\n"
                       "# HELP gateway_accepted_total Chats admitted.\n"
                       "# TYPE gateway_accepted_total counter\n"
                       "gateway_accepted_total 100\n"
                       "# HELP gateway_rejected_total Chats rejected by admission control.\n"
                       "# TYPE gateway_rejected_total counter\n"
                       "gateway_rejected_total 7\n"
                       "# HELP gateway_max_in_flight Configured limit of chats running at once.\n"
                       "# TYPE gateway_max_in_flight gauge\n"
                       "gateway_max_in_flight 64\n"
                       "# HELP gateway_instances Lingma instances by health: serving (connected "
                       "and logged in), logged_out (connected, not logged in), down.\n"
                       "# TYPE gateway_instances gauge\n"
                       "gateway_instances{state=\"serving\"} 1\n"
                       "gateway_instances{state=\"logged_out\"} 0\n"
                       "gateway_instances{state=\"down\"} 1\n"
                       "# HELP gateway_pool_instance_in_flight Chats running on each Lingma "
                       "instance.\n"
                       "# TYPE gateway_pool_instance_in_flight gauge\n"
                       "gateway_pool_instance_in_flight{name=\"inst-0\"} 3\n"
                       "gateway_pool_instance_in_flight{name=\"we\\\"ird\\\\\\nname\"} 0\n"
                       "# HELP gateway_pool_instance_ready 1 when the instance is ready, else 0.\n"
                       "# TYPE gateway_pool_instance_ready gauge\n"
                       "gateway_pool_instance_ready{name=\"inst-0\"} 1\n"
                       "gateway_pool_instance_ready{name=\"we\\\"ird\\\\\\nname\"} 0\n"
                       "# HELP gateway_pool_instance_restarts_total Times each Lingma instance "
                       "was restarted.\n"
                       "# TYPE gateway_pool_instance_restarts_total counter\n"
                       "gateway_pool_instance_restarts_total{name=\"inst-0\"} 0\n"
                       "gateway_pool_instance_restarts_total{name=\"we\\\"ird\\\\\\nname\"} 2\n"
                       "# HELP gateway_pool_instance_stalls_total Times each Lingma instance "
                       "stopped answering (stall timeout) and was restarted.\n"
                       "# TYPE gateway_pool_instance_stalls_total counter\n"
                       "gateway_pool_instance_stalls_total{name=\"inst-0\"} 0\n"
                       "gateway_pool_instance_stalls_total{name=\"we\\\"ird\\\\\\nname\"} 1\n");
    /* Ends with a newline, as the format requires. */
    assert_int_equal(b.data[b.len - 1], '\n');
    gw_buf_free(&b);
    gw_metrics_free(m);
}

static void
test_route_overflow(void **state)
{
    (void)state;
    gw_metrics *m = NULL;
    assert_int_equal(gw_metrics_new(&m), 0);
    char route[32];
    for (int i = 0; i < GW_METRICS_MAX_ROUTES + 10; i++) {
        snprintf(route, sizeof(route), "/r%d", i);
        gw_metrics_observe_request(m, route, 200, 0.1);
    }
    gw_metrics_observe_request(m, NULL, 200, 0.1);
    /* A long label is cut on a character boundary. */
    char longroute[200];
    memset(longroute, 'x', sizeof(longroute) - 1);
    longroute[sizeof(longroute) - 1] = '\0';
    gw_metrics_observe_request(m, longroute, 200, 0.1);
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_metrics_format(&b, m, NULL), 0);
    line_after(b.data, "gateway_requests_total{route=\"/r30\",status=\"200\"} 1\n");
    assert_null(strstr(b.data, "route=\"/r31\""));
    line_after(b.data, "gateway_requests_total{route=\"other\",status=\"200\"} 13\n");
    gw_buf_free(&b);
    /* Many statuses on one route are lumped into the last slot. */
    for (int s = 0; s < 20; s++)
        gw_metrics_observe_request(m, "/r0", 500 + s, 0.1);
    assert_int_equal(gw_metrics_format(&b, m, NULL), 0);
    line_after(b.data, "gateway_requests_total{route=\"/r0\",status=\"506\"} 14\n");
    gw_buf_free(&b);
    gw_metrics_free(m);
}

static void
test_escape(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_metrics_escape_label(&b, "a\\b\"c\nd\xc3\xa9"), 0);
    assert_string_equal(b.data, "a\\\\b\\\"c\\nd\xc3\xa9");
    assert_int_equal(gw_metrics_escape_label(&b, NULL), 0);
    gw_buf_free(&b);
}

struct worker {
    gw_metrics *m;
    int n;
};

static void *
hammer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        gw_metrics_observe_request(w->m, i % 2 ? "/a" : "/b", 200, 0.01);
        gw_metrics_observe_ttft(w->m, 0.2);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    (void)state;
    gw_metrics *m = NULL;
    assert_int_equal(gw_metrics_new(&m), 0);
    pthread_t t[4];
    struct worker w = {m, 5000};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w), 0);
    /* Format while they run. */
    for (int i = 0; i < 20; i++) {
        gw_buf b = GW_BUF_INIT;
        assert_int_equal(gw_metrics_format(&b, m, NULL), 0);
        gw_buf_free(&b);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_metrics_format(&b, m, NULL), 0);
    line_after(b.data, "gateway_requests_total{route=\"/b\",status=\"200\"} 10000\n");
    line_after(b.data, "gateway_requests_total{route=\"/a\",status=\"200\"} 10000\n");
    line_after(b.data, "gateway_time_to_first_token_seconds_count 20000\n");
    gw_buf_free(&b);
    gw_metrics_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry), cmocka_unit_test(test_requests_and_histograms),
        cmocka_unit_test(test_pool_snapshot),  cmocka_unit_test(test_route_overflow),
        cmocka_unit_test(test_escape),         cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
