/*
 * lingma-gatewayd end to end, Anthropic Messages API: the real daemon on
 * lingma-sim, driven with libcurl and raw sockets, so that the Anthropic
 * surface is covered where node (and thus the SDK and Claude Code tests)
 * is missing. One daemon (with an API key and 1 s heartbeats) serves the
 * group; a second one whose simulator never starts gives the 529.
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

static struct gwd G;

#define KEY "sk-messages-e2e"

static const char *const gw_env[] = {"API_KEYS=" KEY, "GATEWAY_HEARTBEAT_SEC=1",
                                     "GATEWAY_MAX_BODY_BYTES=65536", "LINGMA_SIM_CHUNKS=4", NULL};
static const char *const auth[] = {"x-api-key: " KEY, "anthropic-version: 2023-06-01",
                                   "Content-Type: application/json", NULL};

static int
group_setup(void **state)
{
    (void)state;
    return gwd_group_up(&G, gw_env, auth, 3);
}

static int
group_teardown(void **state)
{
    (void)state;
    return gwd_group_down(&G);
}

static int
reset_sim(void **state)
{
    (void)state;
    gwd_sim_config(&G, "{}");
    return 0;
}

static void
messages(struct gwd_resp *r, const char *body)
{
    gwd_req(r, &G, "POST", "/v1/messages?beta=true", body, auth);
}

/* Anthropic's envelope, its type, and the request-id header. */
static void
assert_anthropic_error(const struct gwd_resp *r, long status, const char *type)
{
    char h[256];
    if (r->status != status)
        fail_msg("status %ld, expected %ld: %s", r->status, status, r->body);
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "type")), "error");
    json_t *e = json_object_get(r->json, "error");
    assert_string_equal(json_string_value(json_object_get(e, "type")), type);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_int_equal(json_object_size(e), 2);
    char id[256];
    assert_non_null(gwd_header(r, "request-id", h, sizeof(h)));
    assert_string_equal(h, gwd_header(r, "x-request-id", id, sizeof(id)));
}

static void
test_create(void **state)
{
    (void)state;
    struct gwd_resp r;
    messages(&r, "{\"model\":\"claude-opus-5-5\",\"max_tokens\":64,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"hello\"}]}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "type")), "message");
    assert_int_equal(strncmp(json_string_value(json_object_get(r.json, "id")), "msg_", 4), 0);
    json_t *c0 = json_array_get(json_object_get(r.json, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "ECHO: hello");
    assert_string_equal(json_string_value(json_object_get(r.json, "stop_reason")), "end_turn");
    char h[64];
    assert_non_null(gwd_header(&r, "request-id", h, sizeof(h)));
    assert_non_null(gwd_header(&r, "x-lingma-usage", h, sizeof(h)));
    gwd_resp_free(&r);
    /* Authorization: Bearer works as well as x-api-key. */
    const char *bearer[] = {"Authorization: Bearer " KEY, NULL};
    gwd_req(&r, &G, "POST", "/v1/messages",
            "{\"model\":\"auto\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\","
            "\"content\":\"x\"}]}",
            bearer);
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
}

/* The event names of an SSE body, in order, pings included. */
static size_t
event_names(const char *body, char names[][32], size_t max)
{
    size_t n = 0;
    for (const char *p = strstr(body, "event: "); p && n < max; p = strstr(p + 1, "\nevent: ")) {
        if (*p == '\n')
            p++;
        p += 7;
        size_t len = strcspn(p, "\n");
        snprintf(names[n++], 32, "%.*s", (int)len, p);
    }
    return n;
}

static void
test_stream(void **state)
{
    (void)state;
    /* A slow first token: the stream opens, pings, then answers. */
    gwd_sim_config(&G, "{\"first_token_ms\":1400}");
    struct gwd_resp r;
    messages(&r, "{\"model\":\"claude-opus-5-5\",\"max_tokens\":64,\"stream\":true,\"messages\":"
                 "[{\"role\":\"user\",\"content\":\"hello\"}]}");
    assert_int_equal(r.status, 200);
    char h[64];
    assert_string_equal(gwd_header(&r, "content-type", h, sizeof(h)), "text/event-stream");
    char names[64][32];
    size_t n = event_names(r.body, names, 64);
    assert_true(n >= 7);
    assert_string_equal(names[0], "message_start");
    assert_string_equal(names[1], "ping");
    assert_string_equal(names[n - 1], "message_stop");
    assert_string_equal(names[n - 2], "message_delta");
    assert_string_equal(names[n - 3], "content_block_stop");
    assert_non_null(strstr(r.body, "\"stop_reason\":\"end_turn\""));
    /* The text deltas add up to the answer. */
    char **ev;
    size_t ne = gwd_sse_events(r.body, &ev);
    char text[256] = "";
    for (size_t i = 0; i < ne; i++) {
        /* Each is "event: <name>\ndata: <json>". */
        const char *data = strstr(ev[i], "\ndata: ");
        assert_non_null(data);
        json_t *j = json_loads(data + 7, 0, NULL);
        assert_non_null(j);
        json_t *d = json_object_get(j, "delta");
        const char *t = json_string_value(json_object_get(d, "text"));
        if (t)
            strncat(text, t, sizeof(text) - strlen(text) - 1);
        json_decref(j);
    }
    gwd_events_free(ev, ne);
    assert_string_equal(text, "ECHO: hello");
    gwd_resp_free(&r);
}

static void
test_stream_error_after_start(void **state)
{
    (void)state;
    gwd_sim_config(&G, "{\"chunks\":8,\"fault\":\"drop_after:2\"}");
    struct gwd_resp r;
    messages(&r, "{\"model\":\"auto\",\"max_tokens\":64,\"stream\":true,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"a longer question to cut\"}]}");
    assert_int_equal(r.status, 200);
    char names[64][32];
    size_t n = event_names(r.body, names, 64);
    assert_string_equal(names[0], "message_start");
    assert_string_equal(names[n - 1], "error");
    assert_null(strstr(r.body, "message_delta"));
    assert_null(strstr(r.body, "message_stop"));
    assert_non_null(strstr(r.body, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\""));
    gwd_resp_free(&r);
}

static void
test_refusals(void **state)
{
    (void)state;
    struct gwd_resp r;
    const char *wrong[] = {"x-api-key: sk-wrong", NULL};
    gwd_req(&r, &G, "POST", "/v1/messages", "{}", wrong);
    assert_anthropic_error(&r, 401, "authentication_error");
    char h[64];
    assert_string_equal(gwd_header(&r, "x-should-retry", h, sizeof(h)), "false");
    gwd_resp_free(&r);
    gwd_req(&r, &G, "GET", "/v1/messages", NULL, auth);
    assert_anthropic_error(&r, 405, "invalid_request_error");
    assert_string_equal(gwd_header(&r, "allow", h, sizeof(h)), "POST");
    gwd_resp_free(&r);
    messages(&r, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_anthropic_error(&r, 400, "invalid_request_error");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
        "max_tokens: Field required");
    gwd_resp_free(&r);
    messages(&r, "{\"model\":\"gpt-4o\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}]}");
    assert_anthropic_error(&r, 404, "not_found_error");
    gwd_resp_free(&r);
    /* The engine's own answers speak the route's family too. */
    size_t big = 70000;
    char *body = malloc(big + 1);
    memset(body, 'a', big);
    body[big] = '\0';
    messages(&r, body);
    free(body);
    assert_anthropic_error(&r, 413, "request_too_large");
    gwd_resp_free(&r);
    /* The OpenAI routes keep their own envelope. */
    gwd_req(&r, &G, "POST", "/v1/chat/completions", "{}", wrong);
    assert_int_equal(r.status, 401);
    assert_non_null(json_object_get(json_object_get(r.json, "error"), "code"));
    assert_null(gwd_header(&r, "x-should-retry", h, sizeof(h)));
    gwd_resp_free(&r);
}

static void
test_count_tokens_and_models(void **state)
{
    (void)state;
    struct gwd_resp r;
    gwd_req(&r, &G, "POST", "/v1/messages/count_tokens",
            "{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\",\"content\":"
            "\"count these words\"}]}",
            auth);
    assert_int_equal(r.status, 200);
    assert_true(json_integer_value(json_object_get(r.json, "input_tokens")) > 0);
    assert_int_equal(json_object_size(r.json), 1);
    gwd_resp_free(&r);

    gwd_req(&r, &G, "GET", "/v1/models?limit=1000", NULL, auth);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "has_more")));
    json_t *m0 = json_array_get(json_object_get(r.json, "data"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "type")), "model");
    assert_string_equal(json_string_value(json_object_get(r.json, "first_id")),
                        json_string_value(json_object_get(m0, "id")));
    gwd_resp_free(&r);
    gwd_req(&r, &G, "GET", "/v1/models/dashscope_qwen3_coder", NULL, auth);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "display_name")), "qwen3-coder");
    gwd_resp_free(&r);
    gwd_req(&r, &G, "GET", "/v1/models/nope", NULL, auth);
    assert_anthropic_error(&r, 404, "not_found_error");
    gwd_resp_free(&r);
    /* Without anthropic-version: OpenAI's list. */
    const char *openai[] = {"Authorization: Bearer " KEY, NULL};
    gwd_req(&r, &G, "GET", "/v1/models", NULL, openai);
    assert_string_equal(json_string_value(json_object_get(r.json, "object")), "list");
    gwd_resp_free(&r);
}

static void
test_client_gone_cancels(void **state)
{
    (void)state;
    gwd_sim_config(&G, "{\"reply\":\"tokens:400\",\"chunks\":80,\"chunk_ms\":100}");
    long stops = gwd_sim_status(&G, "stops_received");
    static const char body[] = "{\"model\":\"auto\",\"max_tokens\":4096,\"stream\":true,"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
    int fd = gwd_raw_connect(&G);
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: " KEY
                      "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      sizeof(body) - 1);
    assert_int_equal(netio_send(fd, head, (size_t)hl), 0);
    assert_int_equal(netio_send_str(fd, body), 0);
    assert_true(gwd_raw_read_until(fd, "text_delta", 5000));
    long long t0 = gwd_now_ms();
    close(fd);
    assert_true(gwd_wait_sim(&G, "stops_received", stops + 1, 5000));
    assert_true(gwd_now_ms() - t0 <= 1500);
    /* The slot is freed (the stats route needs the key here). */
    long long end = gwd_now_ms() + 5000;
    long in_flight = -1;
    while (in_flight != 0 && gwd_now_ms() < end) {
        struct gwd_resp r;
        gwd_req(&r, &G, "GET", "/internal/stats", NULL, auth);
        in_flight = (long)json_integer_value(
            json_object_get(json_object_get(r.json, "concurrency"), "in_flight"));
        gwd_resp_free(&r);
        if (in_flight != 0)
            usleep(20000);
    }
    assert_int_equal(in_flight, 0);
}

static void
test_no_instance_is_529(void **state)
{
    struct gwd *d = *state;
    static const char *const env[] = {"LINGMA_SIM_FAULT=exit_at_start", NULL};
    gwd_start(d, env, false);
    struct gwd_resp r;
    gwd_req(&r, d, "POST", "/v1/messages",
            "{\"model\":\"auto\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
            "\"x\"}]}",
            auth);
    assert_anthropic_error(&r, 529, "overloaded_error");
    gwd_resp_free(&r);
    /* The same failure on Chat Completions stays a 503. */
    gwd_req(&r, d, "POST", "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL);
    assert_int_equal(r.status, 503);
    gwd_resp_free(&r);
    assert_int_equal(gwd_stop(d), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_create, reset_sim),
        cmocka_unit_test_setup(test_stream, reset_sim),
        cmocka_unit_test_setup(test_stream_error_after_start, reset_sim),
        cmocka_unit_test_setup(test_refusals, reset_sim),
        cmocka_unit_test_setup(test_count_tokens_and_models, reset_sim),
        cmocka_unit_test_setup(test_client_gone_cancels, reset_sim),
        GWD_TEST(test_no_instance_is_529),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
