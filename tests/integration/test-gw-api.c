/*
 * lingma-gatewayd end to end: the real daemon process on lingma-sim, driven
 * with libcurl. One daemon serves the whole group; tests that need other
 * simulator behaviour write <workDir>/sim.json, which the simulator re-reads
 * at every chat/ask. Covers every endpoint and status code of the OpenAI
 * surface and the byte-level shape strict clients rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "gwd.h"
#include "tmpdir.h"

static struct gwd G;

static const char *const sim_env[] = {"LINGMA_SIM_CHUNKS=4", NULL};

static int
group_setup(void **state)
{
    (void)state;
    return gwd_group_up(&G, sim_env, NULL, 3);
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
chat(struct gwd_resp *r, const char *body)
{
    gwd_req(r, &G, "POST", "/v1/chat/completions", body, NULL);
}

static void
assert_error(const struct gwd_resp *r, long status, const char *param, const char *code)
{
    char h[256];
    if (r->status != status)
        fail_msg("status %ld, expected %ld: %s", r->status, status, r->body);
    assert_non_null(r->json);
    assert_string_equal(gwd_header(r, "content-type", h, sizeof(h)), "application/json");
    assert_non_null(gwd_header(r, "x-request-id", h, sizeof(h)));
    json_t *e = json_object_get(r->json, "error");
    assert_true(json_is_object(e));
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_true(json_is_string(json_object_get(e, "type")));
    json_t *p = json_object_get(e, "param");
    if (param)
        assert_string_equal(json_string_value(p), param);
    else
        assert_true(json_is_null(p));
    if (code)
        assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_int_equal(json_object_size(e), 4);
}

static void
test_healthz(void **state)
{
    (void)state;
    struct gwd_resp r;
    gwd_req(&r, &G, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(r.json, "ready")), 1);
    json_t *i0 = json_array_get(json_object_get(r.json, "instances"), 0);
    assert_string_equal(json_string_value(json_object_get(i0, "name")), "inst-0");
    assert_string_equal(json_string_value(json_object_get(i0, "state")), "ready");
    gwd_resp_free(&r);
}

static void
test_models(void **state)
{
    (void)state;
    const char *paths[] = {"/v1/models", "/models"};
    for (int k = 0; k < 2; k++) {
        struct gwd_resp r;
        gwd_req(&r, &G, "GET", paths[k], NULL, NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "object")), "list");
        json_t *data = json_object_get(r.json, "data");
        assert_int_equal(json_array_size(data), 3);
        size_t i;
        json_t *m;
        json_array_foreach(data, i, m)
        {
            assert_string_equal(json_string_value(json_object_get(m, "object")), "model");
            assert_true(json_is_string(json_object_get(m, "id")));
            assert_true(json_is_integer(json_object_get(m, "created")));
            assert_true(json_is_string(json_object_get(m, "owned_by")));
        }
        gwd_resp_free(&r);
    }
    struct gwd_resp r;
    gwd_req(&r, &G, "GET", "/v1/models/dashscope_qwen3_coder", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "dashscope_qwen3_coder");
    gwd_resp_free(&r);
    /* display-name alias */
    gwd_req(&r, &G, "GET", "/models/qwen3-coder", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "dashscope_qwen3_coder");
    gwd_resp_free(&r);
    gwd_req(&r, &G, "GET", "/v1/models/gpt-4o", NULL, NULL);
    assert_error(&r, 404, NULL, "model_not_found");
    gwd_resp_free(&r);
    /* GATEWAY_MODEL_ALIASES' default maps Claude Code's names to the
     * default model, which retrieve resolves like a chat does. */
    gwd_req(&r, &G, "GET", "/v1/models/claude-opus-5-5", NULL, NULL);
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
}

static void
test_chat_nonstream(void **state)
{
    (void)state;
    struct gwd_resp r;
    gwd_req(&r, &G, "POST", "/v1/chat/completions",
            "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}],"
            "\"temperature\":0.2,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
            "\"tool_choice\":\"none\"}",
            (const char *const[]){"x-request-id: my-req.1", NULL});
    char h[256];
    assert_int_equal(r.status, 200);
    assert_string_equal(gwd_header(&r, "content-type", h, sizeof(h)), "application/json");
    assert_string_equal(gwd_header(&r, "x-request-id", h, sizeof(h)), "my-req.1");
    assert_string_equal(gwd_header(&r, "x-lingma-usage", h, sizeof(h)), "estimated");
    json_t *j = r.json;
    assert_non_null(j);
    assert_int_equal(strncmp(json_string_value(json_object_get(j, "id")), "chatcmpl-", 9), 0);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion");
    assert_true(json_is_integer(json_object_get(j, "created")));
    assert_string_equal(json_string_value(json_object_get(j, "model")), "auto");
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "choices")), 1);
    assert_int_equal(json_integer_value(json_object_get(c0, "index")), 0);
    assert_true(json_is_null(json_object_get(c0, "logprobs")));
    assert_string_equal(json_string_value(json_object_get(c0, "finish_reason")), "stop");
    json_t *msg = json_object_get(c0, "message");
    assert_string_equal(json_string_value(json_object_get(msg, "role")), "assistant");
    assert_string_equal(json_string_value(json_object_get(msg, "content")), "ECHO: hello there");
    assert_true(json_is_null(json_object_get(msg, "refusal")));
    assert_null(json_object_get(msg, "reasoning_content"));
    json_t *u = json_object_get(j, "usage");
    json_int_t pt = json_integer_value(json_object_get(u, "prompt_tokens"));
    json_int_t ct = json_integer_value(json_object_get(u, "completion_tokens"));
    assert_true(pt > 0 && ct > 0);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), pt + ct);
    gwd_resp_free(&r);

    /* The un-prefixed alias, and Lingma's own usage when it reports one. */
    gwd_sim_config(&G, "{\"usage\":1}");
    gwd_req(&r, &G, "POST", "/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(gwd_header(&r, "x-lingma-usage", h, sizeof(h)), "reported");
    gwd_resp_free(&r);
}

/* Stream `body` and check the invariants every stream must satisfy; return
 * the concatenated content and reasoning. */
static void
check_stream(const char *body, bool usage_chunk, const char *finish, char **content,
             char **reasoning)
{
    struct gwd_resp r;
    chat(&r, body);
    char h[256];
    if (r.status != 200)
        fail_msg("stream status %ld: %s", r.status, r.body);
    assert_string_equal(gwd_header(&r, "content-type", h, sizeof(h)), "text/event-stream");
    assert_string_equal(gwd_header(&r, "cache-control", h, sizeof(h)), "no-cache");
    assert_string_equal(gwd_header(&r, "x-accel-buffering", h, sizeof(h)), "no");
    assert_non_null(gwd_header(&r, "x-request-id", h, sizeof(h)));
    /* Every event is "data: " + one line + blank line, nothing else. */
    char **ev;
    size_t n = gwd_sse_events(r.body, &ev);
    assert_true(n >= 4);
    assert_string_equal(ev[n - 1], "[DONE]");
    char id[64] = "";
    json_int_t created = 0;
    size_t finishes = 0, usages = 0;
    size_t clen = 0, rlen = 0;
    *content = calloc(1, 65536);
    *reasoning = calloc(1, 65536);
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *j = json_loads(ev[i], 0, NULL);
        if (!j)
            fail_msg("event %zu is not JSON: %s", i, ev[i]);
        assert_string_equal(json_string_value(json_object_get(j, "object")),
                            "chat.completion.chunk");
        if (i == 0) {
            snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
            created = json_integer_value(json_object_get(j, "created"));
        }
        assert_string_equal(json_string_value(json_object_get(j, "id")), id);
        assert_int_equal(json_integer_value(json_object_get(j, "created")), created);
        json_t *choices = json_object_get(j, "choices");
        json_t *u = json_object_get(j, "usage");
        if (json_array_size(choices) == 0) {
            usages++;
            assert_true(json_is_object(u));
            assert_int_equal(i, n - 2); /* the usage chunk comes last */
            json_decref(j);
            continue;
        }
        if (usage_chunk)
            assert_true(json_is_null(u));
        json_t *c0 = json_array_get(choices, 0);
        json_t *d = json_object_get(c0, "delta");
        json_t *fr = json_object_get(c0, "finish_reason");
        if (i == 0) {
            assert_string_equal(json_string_value(json_object_get(d, "role")), "assistant");
        } else {
            assert_null(json_object_get(d, "role"));
        }
        if (json_is_string(fr)) {
            finishes++;
            assert_string_equal(json_string_value(fr), finish);
            assert_int_equal(json_object_size(d), 0);
        } else {
            assert_true(json_is_null(fr));
            assert_int_equal(finishes, 0); /* nothing after the finish but usage */
        }
        const char *t = json_string_value(json_object_get(d, "content"));
        if (t) {
            memcpy(*content + clen, t, strlen(t));
            clen += strlen(t);
        }
        t = json_string_value(json_object_get(d, "reasoning_content"));
        if (t) {
            memcpy(*reasoning + rlen, t, strlen(t));
            rlen += strlen(t);
        }
        json_decref(j);
    }
    assert_int_equal(finishes, 1);
    assert_int_equal(usages, usage_chunk ? 1 : 0);
    gwd_events_free(ev, n);
    gwd_resp_free(&r);
}

static void
test_chat_stream(void **state)
{
    (void)state;
    char *c, *rs;
    check_stream("{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"stream me\"}]}",
                 false, "stop", &c, &rs);
    assert_string_equal(c, "ECHO: stream me");
    assert_string_equal(rs, "");
    free(c);
    free(rs);
    check_stream("{\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                 "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                 "{\"role\":\"user\",\"content\":\"u\"}]}",
                 true, "stop", &c, &rs);
    assert_non_null(strstr(c, "System instructions:")); /* the flattened prompt echoed */
    free(c);
    free(rs);
}

static void
test_reasoning(void **state)
{
    (void)state;
    const char *model = "dashscope_qwen_plus_20250428_thinking";
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"think\"}]}", model);
    struct gwd_resp r;
    chat(&r, body);
    assert_int_equal(r.status, 200);
    json_t *msg = json_object_get(json_array_get(json_object_get(r.json, "choices"), 0), "message");
    const char *rc = json_string_value(json_object_get(msg, "reasoning_content"));
    assert_non_null(rc);
    assert_true(strlen(rc) > 0);
    assert_null(strstr(json_string_value(json_object_get(msg, "content")), "<think>"));
    gwd_resp_free(&r);

    snprintf(body, sizeof(body),
             "{\"model\":\"qwen3-thinking\",\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"think\"}]}");
    char *c, *rs;
    check_stream(body, false, "stop", &c, &rs);
    assert_true(strlen(rs) > 0);
    assert_true(strlen(c) > 0);
    free(c);
    free(rs);
}

static void
test_max_tokens(void **state)
{
    (void)state;
    gwd_sim_config(&G, "{\"reply\":\"tokens:400\",\"chunks\":40,\"chunk_ms\":5}");
    long stops0 = gwd_sim_status(&G, "stops_received");
    struct gwd_resp r;
    chat(&r, "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}");
    assert_int_equal(r.status, 200);
    json_t *c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "finish_reason")), "length");
    json_t *u = json_object_get(r.json, "usage");
    assert_true(json_integer_value(json_object_get(u, "completion_tokens")) <= 5);
    gwd_resp_free(&r);
    assert_true(gwd_wait_sim(&G, "stops_received", stops0 + 1, 5000));

    char *c, *rs;
    check_stream("{\"stream\":true,\"max_completion_tokens\":3,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}",
                 false, "length", &c, &rs);
    free(c);
    free(rs);
    assert_true(gwd_wait_sim(&G, "stops_received", stops0 + 2, 5000));
}

static void
test_stop_sequences(void **state)
{
    (void)state;
    gwd_sim_config(&G, "{\"reply\":\"text:alpha beta END gamma delta epsilon zeta eta theta\","
                       "\"chunks\":12,\"chunk_ms\":10}");
    long stops0 = gwd_sim_status(&G, "stops_received");
    struct gwd_resp r;
    chat(&r, "{\"stop\":[\"END\",\"zzz\"],\"messages\":[{\"role\":\"user\",\"content\":\"s\"}]}");
    assert_int_equal(r.status, 200);
    json_t *c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "finish_reason")), "stop");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c0, "message"), "content")),
        "alpha beta ");
    gwd_resp_free(&r);
    assert_true(gwd_wait_sim(&G, "stops_received", stops0 + 1, 5000));

    char *c, *rs;
    check_stream("{\"stream\":true,\"stop\":\"END\","
                 "\"messages\":[{\"role\":\"user\",\"content\":\"s\"}]}",
                 false, "stop", &c, &rs);
    assert_string_equal(c, "alpha beta ");
    free(c);
    free(rs);
    assert_true(gwd_wait_sim(&G, "stops_received", stops0 + 2, 5000));
}

/* A non-streaming answer is held whole in memory until it ends, so it is
 * bounded like a stream's buffer: an upstream that talks past the bound
 * gets the chat stopped and a 502, never an ever-growing buffer nor a
 * silently shortened 200. tokens:1000000 is about 5 MB of text. */
static void
test_answer_too_large(void **state)
{
    (void)state;
    gwd_sim_config(&G, "{\"reply\":\"tokens:1000000\",\"chunks\":64}");
    long stops = gwd_sim_status(&G, "stops_received");
    long long t0 = gwd_now_ms();
    struct gwd_resp r;
    gwd_req(&r, &G, "POST", "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"talk\"}]}", NULL);
    print_message("answer: status %ld, %zu bytes after %lld ms\n", r.status, r.len,
                  gwd_now_ms() - t0);
    assert_int_equal(r.status, 502);
    json_t *err = json_object_get(r.json, "error");
    assert_non_null(err);
    assert_string_equal(json_string_value(json_object_get(err, "code")), "answer_too_large");
    gwd_resp_free(&r);
    assert_true(gwd_wait_sim(&G, "stops_received", stops + 1, 10000));
}

static void
test_validation(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *param; /* NULL: JSON null */
    } cases[] = {
        {"{\"messages\":", NULL},
        {"[1,2]", NULL},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", NULL},
        {"{}", "messages"},
        {"{\"messages\":[]}", "messages"},
        {"{\"messages\":\"hi\"}", "messages"},
        {"{\"messages\":[1]}", "messages[0]"},
        {"{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role"},
        {"{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0].role"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content"},
        {"{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
        {"{\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "stream"},
        {"{\"stream_options\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "stream_options"},
        {"{\"max_tokens\":\"5\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "max_tokens"},
        {"{\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "max_tokens"},
        {"{\"max_completion_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "max_completion_tokens"},
        {"{\"temperature\":\"hot\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "temperature"},
        {"{\"temperature\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "temperature"},
        {"{\"top_p\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "top_p"},
        {"{\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "n"},
        {"{\"stop\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "stop"},
        {"{\"user\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "user"},
        {"{\"tools\":{},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "tools"},
        {"{\"tool_choice\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "tool_choice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct gwd_resp r;
        chat(&r, cases[i].body);
        if (r.status != 400)
            fail_msg("case %zu (%s): status %ld", i, cases[i].body, r.status);
        json_t *p = json_object_get(json_object_get(r.json, "error"), "param");
        if (cases[i].param && (!json_is_string(p) || strcmp(json_string_value(p), cases[i].param)))
            fail_msg("case %zu (%s): param %s", i, cases[i].body, r.body);
        assert_error(&r, 400, cases[i].param ? json_string_value(p) : NULL, NULL);
        gwd_resp_free(&r);
    }
    /* Deep nesting is refused before parsing. */
    char deep[2100];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof(deep),
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\","
                          "\"extra\":");
    for (int d = 0; d < 500; d++)
        deep[k++] = '[';
    for (int d = 0; d < 500; d++)
        deep[k++] = ']';
    snprintf(deep + k, sizeof(deep) - k, "}]}");
    struct gwd_resp r;
    chat(&r, deep);
    assert_int_equal(r.status, 400);
    gwd_resp_free(&r);
    /* Unknown model: 404 model_not_found; an aliased one is served. */
    chat(&r, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_error(&r, 404, NULL, "model_not_found");
    gwd_resp_free(&r);
    chat(&r,
         "{\"model\":\"claude-opus-5-5\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
}

static void
test_http_errors(void **state)
{
    (void)state;
    struct gwd_resp r;
    char h[256];
    gwd_req(&r, &G, "GET", "/v1/nothing", NULL, NULL);
    assert_error(&r, 404, NULL, NULL);
    gwd_resp_free(&r);
    gwd_req(&r, &G, "GET", "/v1/chat/completions", NULL, NULL);
    assert_error(&r, 405, NULL, NULL);
    assert_string_equal(gwd_header(&r, "allow", h, sizeof(h)), "POST");
    gwd_resp_free(&r);
    gwd_req(&r, &G, "POST", "/v1/models", "{}", NULL);
    assert_error(&r, 405, NULL, NULL);
    assert_string_equal(gwd_header(&r, "allow", h, sizeof(h)), "GET, HEAD");
    gwd_resp_free(&r);
    /* An insane client id is replaced by a generated one. */
    gwd_req(&r, &G, "GET", "/healthz", NULL, (const char *const[]){"x-request-id: a b{", NULL});
    assert_int_equal(strncmp(gwd_header(&r, "x-request-id", h, sizeof(h)), "req_", 4), 0);
    gwd_resp_free(&r);
    /* A body over GATEWAY_MAX_BODY_BYTES (8 MiB by default). */
    size_t big = 9u << 20;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[big] = '\0';
    body[0] = '{';
    body[big - 1] = '}';
    chat(&r, body);
    free(body);
    assert_error(&r, 413, NULL, NULL);
    gwd_resp_free(&r);
}

static void
test_upstream_faults(void **state)
{
    (void)state;
    static const struct {
        const char *fault;
        long status;
    } cases[] = {{"finish:429", 429}, {"finish:408", 504}, {"rpc_error", 502}, {"finish:500", 502}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char cfg[128];
        snprintf(cfg, sizeof(cfg), "{\"fault\":\"%s\"}", cases[i].fault);
        gwd_sim_config(&G, cfg);
        for (int stream = 0; stream < 2; stream++) {
            struct gwd_resp r;
            chat(&r, stream
                         ? "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"f\"}]}"
                         : "{\"messages\":[{\"role\":\"user\",\"content\":\"f\"}]}");
            if (r.status == 200 && stream) {
                /* The chat was accepted, then failed: an SSE error, never a finish. */
                assert_non_null(strstr(r.body, "data: {\"error\":"));
                assert_null(strstr(r.body, "\"finish_reason\":\"stop\""));
                assert_non_null(strstr(r.body, "data: [DONE]"));
            } else {
                assert_error(&r, cases[i].status, NULL, NULL);
                char h[64];
                if (cases[i].status == 429) {
                    assert_non_null(gwd_header(&r, "retry-after", h, sizeof(h)));
                    assert_non_null(gwd_header(&r, "retry-after-ms", h, sizeof(h)));
                }
            }
            gwd_resp_free(&r);
        }
    }
}

static void
test_metrics(void **state)
{
    (void)state;
    struct gwd_resp r;
    gwd_req(&r, &G, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    char h[128];
    assert_non_null(strstr(gwd_header(&r, "content-type", h, sizeof(h)), "text/plain"));
    static const char *const names[] = {"gateway_requests_total{",
                                        "gateway_request_duration_seconds_bucket",
                                        "gateway_time_to_first_token_seconds_bucket",
                                        "gateway_in_flight ",
                                        "gateway_queued ",
                                        "gateway_accepted_total ",
                                        "gateway_rejected_total ",
                                        "gateway_max_in_flight ",
                                        "gateway_pool_instance_in_flight{name=\"inst-0\"}",
                                        "gateway_pool_instance_ready{name=\"inst-0\"} 1",
                                        "gateway_pool_instance_restarts_total{name=\"inst-0\"}"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (!strstr(r.body, names[i]))
            fail_msg("metric %s missing", names[i]);
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        char path[] = "/tmp/gw-metrics-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, r.body, r.len), (ssize_t)r.len);
        close(fd);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        int rc = system(cmd);
        unlink(path);
        assert_int_equal(rc, 0);
    } else {
        print_message("promtool not installed: exposition format not checked\n");
    }
    gwd_resp_free(&r);

    gwd_req(&r, &G, "GET", "/internal/stats", NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *c = json_object_get(r.json, "concurrency");
    static const char *const ck[] = {"in_flight",      "queued",        "accepted_total",
                                     "rejected_total", "max_in_flight", "max_queue"};
    for (size_t i = 0; i < 6; i++)
        assert_true(json_is_integer(json_object_get(c, ck[i])));
    json_t *i0 = json_array_get(json_object_get(json_object_get(r.json, "pool"), "instances"), 0);
    static const char *const ik[] = {"name",       "state", "ready", "in_flight", "restarts",
                                     "last_error", "port",  "pid",   "username"};
    for (size_t i = 0; i < 9; i++)
        assert_non_null(json_object_get(i0, ik[i]));
    assert_true(json_integer_value(json_object_get(i0, "pid")) > 0);
    gwd_resp_free(&r);
}

/* API keys: a second daemon with keys set. */
static void
test_auth(void **state)
{
    struct gwd *g = *state;
    gwd_start(g, (const char *const[]){"API_KEYS=k-one,k-two", "METRICS_TOKEN=scrape", NULL}, true);
    struct gwd_resp r;
    gwd_req(&r, g, "GET", "/v1/models", NULL, NULL);
    assert_error(&r, 401, NULL, "invalid_api_key");
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/v1/models", NULL,
            (const char *const[]){"Authorization: Bearer k-wrong", NULL});
    assert_error(&r, 401, NULL, "invalid_api_key");
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/v1/models", NULL,
            (const char *const[]){"Authorization: Bearer k-two", NULL});
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
    gwd_req(&r, g, "POST", "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"k\"}]}",
            (const char *const[]){"x-api-key: k-one", NULL});
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/internal/stats", NULL, NULL);
    assert_int_equal(r.status, 401);
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 401);
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/metrics", NULL,
            (const char *const[]){"Authorization: Bearer scrape", NULL});
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/healthz", NULL, NULL); /* public */
    assert_int_equal(r.status, 200);
    gwd_resp_free(&r);
    /* No secret in the log. */
    FILE *f = fopen(g->log, "r");
    assert_non_null(f);
    char line[8192];
    while (fgets(line, sizeof(line), f)) {
        assert_null(strstr(line, "k-one"));
        assert_null(strstr(line, "k-two"));
        assert_null(strstr(line, "scrape"));
    }
    fclose(f);
    assert_int_equal(gwd_stop(g), 0);
}

/* Auto-login: a logged-out simulator and a login hook that completes the
 * login through the simulator's callback. The instance, finding itself
 * logged out, runs the hook by itself (after a "login needed" log line), so
 * /healthz turns 200 with nobody calling /internal/auto-login/start; a
 * start afterwards finds it logged in. */
static void
test_auto_login(void **state)
{
    struct gwd *g = *state;
    gwd_start(g,
              (const char *const[]){
                  "LINGMA_SIM_LOGGED_IN=0",
                  "LINGMA_LOGIN_HOOK=u=\"$LINGMA_LOGIN_URL\"; p=${u#*port=}; p=${p%%&*}; "
                  "s=${u#*state=}; s=${s%%&*}; "
                  "curl -sf \"http://127.0.0.1:$p/auth/callback?state=$s\" >/dev/null",
                  NULL},
              true);
    assert_true(gwd_wait_log(g, "\"msg\":\"login needed\"", 5000));
    assert_true(gwd_wait_log(g, "\"login_hook\":true", 5000));
    struct gwd_resp r;
    gwd_req(&r, g, "GET", "/internal/auto-login/status", NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *i0 = json_array_get(json_object_get(r.json, "instances"), 0);
    assert_string_equal(json_string_value(json_object_get(i0, "name")), "inst-0");
    assert_string_equal(json_string_value(json_object_get(i0, "state")), "logged_in");
    assert_non_null(strstr(json_string_value(json_object_get(i0, "login_url")), "state="));
    assert_true(json_is_null(json_object_get(i0, "reason")));
    gwd_resp_free(&r);

    gwd_req(&r, g, "POST", "/internal/auto-login/start?instance=inst-7", "", NULL);
    assert_error(&r, 404, "instance", NULL);
    gwd_resp_free(&r);
    gwd_req(&r, g, "GET", "/internal/auto-login/start?instance=inst-0", NULL, NULL);
    assert_error(&r, 405, NULL, NULL);
    gwd_resp_free(&r);
    gwd_req(&r, g, "POST", "/internal/auto-login/start?instance=inst-0", "", NULL);
    assert_int_equal(r.status, 202);
    gwd_resp_free(&r);

    long long end = gwd_now_ms() + 15000;
    bool done = false;
    while (!done && gwd_now_ms() < end) {
        gwd_req(&r, g, "GET", "/internal/auto-login/status", NULL, NULL);
        i0 = json_array_get(json_object_get(r.json, "instances"), 0);
        const char *st = json_string_value(json_object_get(i0, "state"));
        assert_non_null(st);
        assert_string_not_equal(st, "failed");
        done = strcmp(st, "logged_in") == 0;
        /* Found logged in by its check: no URL asked, none shown. */
        if (done)
            assert_true(json_is_null(json_object_get(i0, "login_url")));
        gwd_resp_free(&r);
        if (!done)
            usleep(20000);
    }
    assert_true(done);
    assert_int_equal(gwd_stop(g), 0);
}

/* Run the daemon with exactly `env` (plus PATH) and `arg`; return its
 * exit status and its stderr/stdout (merged) in `out`. */
static int
run_once(const char *env, const char *arg, char *out, size_t len)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "env -i PATH=/usr/bin:/bin %s timeout 20 '%s' %s 2>&1", env,
             getenv("LINGMA_GATEWAYD_BIN"), arg ? arg : "");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Start-up: --version, a missing Lingma named by LINGMA_BIN, a public bind
 * without keys refused, and the IDE plugin's binary found under
 * ~/.lingma/bin (config.json's version, then the newest directory). */
static void
test_startup(void **state)
{
    (void)state;
    char out[8192], env[4096];
    assert_int_equal(run_once("", "--version", out, sizeof(out)), 0);
    assert_int_equal(strncmp(out, "lingma-gatewayd ", 16), 0);

    char home[] = "/tmp/lingma-gw-home-XXXXXX";
    assert_non_null(mkdtemp(home));
    snprintf(env, sizeof(env), "HOME=%s GATEWAY_PORT=0", home);
    assert_int_equal(run_once(env, NULL, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "LINGMA_BIN"));

    snprintf(env, sizeof(env), "HOME=%s LINGMA_BIN=%s GATEWAY_HOST=0.0.0.0 GATEWAY_PORT=0", home,
             getenv("LINGMA_SIM_BIN"));
    assert_int_equal(run_once(env, NULL, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "API_KEYS"));

    /* Two installed versions; config.json names the older one. The binary
     * is a script that proves which one ran, then exits. */
    char cmd[16384];
    snprintf(cmd, sizeof(cmd),
             "set -e; for v in 2.9.0 2.11.1; do d=%s/.lingma/bin/$v/x86_64_linux; mkdir -p $d; "
             "printf '#!/bin/sh\\necho ran-'$v' > %s/ran; exit 3\\n' > $d/Lingma; "
             "chmod +x $d/Lingma; done; "
             "echo '{\"cosy.core.version\":\"2.9.0\"}' > %s/.lingma/bin/config.json",
             home, home, home);
    assert_int_equal(system(cmd), 0);
    char ran[4200];
    snprintf(ran, sizeof(ran), "%s/ran", home);
    for (int round = 0; round < 2; round++) {
        unlink(ran);
        snprintf(env, sizeof(env), "HOME=%s GATEWAY_PORT=0 LINGMA_WORK_DIR=%s/w", home, home);
        /* --check-config does not start anything: start for real, wait for
         * the spawn, stop. */
        snprintf(cmd, sizeof(cmd),
                 "env -i PATH=/usr/bin:/bin %s '%s' >/dev/null 2>&1 & p=$!; "
                 "for i in $(seq 1 200); do [ -f %s ] && break; sleep 0.02; done; "
                 "kill -TERM $p; wait $p",
                 env, getenv("LINGMA_GATEWAYD_BIN"), ran);
        assert_int_equal(system(cmd), 0);
        FILE *f = fopen(ran, "r");
        assert_non_null(f);
        char line[64] = "";
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        assert_string_equal(line, round == 0 ? "ran-2.9.0\n" : "ran-2.11.1\n");
        /* Second round: without config.json the newest version wins. */
        snprintf(cmd, sizeof(cmd), "rm -f %s/.lingma/bin/config.json", home);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    assert_int_equal(system(cmd), 0);
}

/* Which instance answered: each simulator of a two-instance gateway
 * replies with its own name (<work>/inst-N/sim.json). */
static int
answered_by(struct gwd *g, const char *user, const char *affinity)
{
    char body[256], hdr[128];
    snprintf(body, sizeof(body),
             "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"user\":\"%s\"}", user);
    snprintf(hdr, sizeof(hdr), "X-Lingma-Affinity: %s", affinity ? affinity : "");
    const char *const h[] = {hdr, NULL};
    struct gwd_resp r;
    gwd_req(&r, g, "POST", "/v1/chat/completions", body, affinity ? h : NULL);
    assert_int_equal(r.status, 200);
    json_t *msg = json_object_get(json_array_get(json_object_get(r.json, "choices"), 0), "message");
    const char *text = json_string_value(json_object_get(msg, "content"));
    assert_non_null(text);
    int inst = strcmp(text, "inst-0") == 0 ? 0 : strcmp(text, "inst-1") == 0 ? 1 : -1;
    assert_true(inst >= 0);
    gwd_resp_free(&r);
    return inst;
}

/* X-Lingma-Affinity, the header the balancer recipes hash on, is the
 * gateway's own affinity key too: a conversation that stays on one host
 * stays on one instance, whatever its `user` says. */
static void
test_affinity_header(void **state)
{
    struct gwd *g = *state;
    static const char *const env[] = {"LINGMA_INSTANCE_COUNT=2", "LINGMA_SIM_CHUNKS=1", NULL};
    gwd_start(g, env, true);
    /* Both instances serving (ready and their login known): a sticky key
     * goes to its first choice only while that one serves, and a READY
     * instance still checking its login does not (seen once under ASan on
     * a loaded machine, when this waited for "ready" only). */
    assert_true(gwd_wait_json(g, "/healthz", "serving", 2, 20000));
    for (int i = 0; i < 2; i++) {
        char dir[4200], json[64];
        snprintf(dir, sizeof(dir), "%s/inst-%d", g->work, i);
        snprintf(json, sizeof(json), "{\"reply\":\"text:inst-%d\"}", i);
        assert_int_equal(tmpdir_write(dir, "sim.json", json, 0600), 0);
    }
    int seen[2] = {0, 0};
    for (int k = 0; k < 8; k++) {
        char key[32], user[32];
        snprintf(key, sizeof(key), "conversation-%d", k);
        int want = answered_by(g, key, NULL); /* `user` alone is the key */
        seen[want]++;
        for (int u = 0; u < 4; u++) {
            snprintf(user, sizeof(user), "someone-%d-%d", k, u);
            assert_int_equal(answered_by(g, user, key), want);
        }
        /* An empty header is no key: `user` decides again. */
        assert_int_equal(answered_by(g, key, ""), want);
    }
    /* Eight keys over two instances: both are used (rendezvous hashing of
     * fixed names, so this is the same on every run). */
    assert_true(seen[0] > 0 && seen[1] > 0);
    assert_int_equal(gwd_stop(g), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_healthz, reset_sim),
        cmocka_unit_test_setup(test_models, reset_sim),
        cmocka_unit_test_setup(test_chat_nonstream, reset_sim),
        cmocka_unit_test_setup(test_chat_stream, reset_sim),
        cmocka_unit_test_setup(test_reasoning, reset_sim),
        cmocka_unit_test_setup(test_max_tokens, reset_sim),
        cmocka_unit_test_setup(test_stop_sequences, reset_sim),
        cmocka_unit_test_setup(test_answer_too_large, reset_sim),
        cmocka_unit_test_setup(test_validation, reset_sim),
        cmocka_unit_test_setup(test_http_errors, reset_sim),
        cmocka_unit_test_setup(test_upstream_faults, reset_sim),
        cmocka_unit_test_setup(test_metrics, reset_sim),
        GWD_TEST(test_auth),
        GWD_TEST(test_auto_login),
        cmocka_unit_test(test_startup),
        GWD_TEST(test_affinity_header),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
