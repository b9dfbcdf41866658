/*
 * lingma-gatewayd end to end, tool calling (doc/tools.md) on all three
 * APIs: the real daemon on lingma-sim in its `tools` reply mode, a model
 * that follows the tool contract (it calls the first declared tool, or the
 * required one, with arguments made from the schema, and answers
 * "DONE: <result>" once a tool result follows the last user turn). The
 * `script` mode gives the answers `tools` cannot: two calls in one block,
 * prose without a call. Each API is driven streaming and not, through a
 * whole loop: declare tools, get a call, send the result, get the answer.
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

/* Small chunks: the call block reaches the runtime's parser split at many
 * bytes. */
static const char *const sim_env[] = {"LINGMA_SIM_REPLY=tools", "LINGMA_SIM_CHUNKS=16", NULL};

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

/* Answer every chat/ask with the rules of `rules` (a JSON array). */
static void
script(const char *rules)
{
    char path[512], cfg[640];
    snprintf(path, sizeof(path), "%s/rules.json", G.work);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(rules, f);
    assert_int_equal(fclose(f), 0);
    snprintf(cfg, sizeof(cfg), "{\"reply\":\"script:%s\"}", path);
    gwd_sim_config(&G, cfg);
}

static void
post(struct gwd_resp *r, const char *path, const char *body)
{
    gwd_req(r, &G, "POST", path, body, NULL);
    if (r->status != 200)
        fail_msg("%s: status %ld: %s", path, r->status, r->body);
}

static const char *
str(const json_t *v, const char *key)
{
    const char *s = json_string_value(json_object_get(v, key));
    if (!s)
        fail_msg("no string '%s'", key);
    return s;
}

/* An SSE event's JSON: gwd_sse_events() hands named events (Anthropic's,
 * the Responses API's) out whole, `event:` line included. */
static json_t *
event_json(const char *ev)
{
    const char *data = strncmp(ev, "event: ", 7) == 0 ? strstr(ev, "\ndata: ") : NULL;
    json_t *j = json_loads(data ? data + 7 : ev, 0, NULL);
    if (!j)
        fail_msg("not a JSON event: %s", ev);
    return j;
}

static bool
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define WEATHER                                                                                    \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather "     \
    "of a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"          \
    "\"string\"},\"unit\":{\"enum\":[\"c\",\"f\"]}},\"required\":[\"city\",\"unit\"]}}}"
#define TIME                                                                                       \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":"         \
    "\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}},\"required\":[\"tz\"]}}}"
#define ASK "{\"role\":\"user\",\"content\":\"Weather in Paris?\"}"

/* ---- Chat Completions --------------------------------------------------- */

static void
test_chat_round_trip(void **state)
{
    (void)state;
    struct gwd_resp r;
    post(&r, "/v1/chat/completions", "{\"messages\":[" ASK "],\"tools\":[" WEATHER "]}");
    json_t *c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    assert_string_equal(str(c0, "finish_reason"), "tool_calls");
    json_t *msg = json_object_get(c0, "message");
    assert_true(json_is_null(json_object_get(msg, "content")));
    json_t *calls = json_object_get(msg, "tool_calls");
    assert_int_equal(json_array_size(calls), 1);
    json_t *call = json_array_get(calls, 0);
    char id[64];
    snprintf(id, sizeof(id), "%s", str(call, "id"));
    assert_true(has_prefix(id, "call_"));
    assert_int_equal(strlen(id), 5 + 24);
    assert_string_equal(str(call, "type"), "function");
    json_t *fn = json_object_get(call, "function");
    assert_string_equal(str(fn, "name"), "get_weather");
    assert_string_equal(str(fn, "arguments"), "{\"city\":\"x\",\"unit\":\"c\"}");
    gwd_resp_free(&r);

    /* The result goes back; the model answers from it. */
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"messages\":[" ASK ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
             "\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
             "\"arguments\":\"{\\\"city\\\":\\\"x\\\",\\\"unit\\\":\\\"c\\\"}\"}}]},{\"role\":"
             "\"tool\",\"tool_call_id\":\"%s\",\"content\":\"sunny, 21 C\"}],\"tools\":[" WEATHER
             "]}",
             id, id);
    post(&r, "/v1/chat/completions", body);
    c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    assert_string_equal(str(c0, "finish_reason"), "stop");
    assert_string_equal(str(json_object_get(c0, "message"), "content"), "DONE: sunny, 21 C");
    assert_null(json_object_get(json_object_get(c0, "message"), "tool_calls"));
    gwd_resp_free(&r);

    /* Ids are unique per gateway. */
    post(&r, "/v1/chat/completions", "{\"messages\":[" ASK "],\"tools\":[" WEATHER "]}");
    c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    call = json_array_get(json_object_get(json_object_get(c0, "message"), "tool_calls"), 0);
    assert_string_not_equal(str(call, "id"), id);
    gwd_resp_free(&r);
}

static void
test_chat_stream(void **state)
{
    (void)state;
    struct gwd_resp r;
    post(&r, "/v1/chat/completions",
         "{\"stream\":true,\"messages\":[" ASK "],\"tools\":[" WEATHER "]}");
    char **ev;
    size_t n = gwd_sse_events(r.body, &ev);
    assert_string_equal(ev[n - 1], "[DONE]");
    size_t fragments = 0, finishes = 0;
    char args[256] = "";
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *j = json_loads(ev[i], 0, NULL);
        assert_non_null(j);
        json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
        json_t *d = json_object_get(c0, "delta");
        /* No text of the call block leaks as content. */
        const char *content = json_string_value(json_object_get(d, "content"));
        assert_true(!content || !strstr(content, "tool_call"));
        json_t *tc = json_array_get(json_object_get(d, "tool_calls"), 0);
        if (tc) {
            assert_int_equal(json_integer_value(json_object_get(tc, "index")), 0);
            json_t *fn = json_object_get(tc, "function");
            if (fragments++ == 0) {
                assert_true(has_prefix(str(tc, "id"), "call_"));
                assert_string_equal(str(tc, "type"), "function");
                assert_string_equal(str(fn, "name"), "get_weather");
            } else {
                assert_null(json_object_get(tc, "id"));
            }
            strncat(args, str(fn, "arguments"), sizeof(args) - strlen(args) - 1);
        }
        if (json_is_string(json_object_get(c0, "finish_reason"))) {
            finishes++;
            assert_string_equal(str(c0, "finish_reason"), "tool_calls");
        }
        json_decref(j);
    }
    assert_true(fragments >= 1);
    assert_int_equal(finishes, 1);
    assert_string_equal(args, "{\"city\":\"x\",\"unit\":\"c\"}");
    gwd_events_free(ev, n);
    gwd_resp_free(&r);
}

static void
test_chat_tool_choice(void **state)
{
    (void)state;
    struct gwd_resp r;
    /* Named: only that tool is offered, and called. */
    post(&r, "/v1/chat/completions",
         "{\"messages\":[" ASK "],\"tools\":[" WEATHER "," TIME "],\"tool_choice\":{\"type\":"
         "\"function\",\"function\":{\"name\":\"get_time\"}}}");
    json_t *c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    json_t *call = json_array_get(json_object_get(json_object_get(c0, "message"), "tool_calls"), 0);
    assert_string_equal(str(json_object_get(call, "function"), "name"), "get_time");
    assert_string_equal(str(json_object_get(call, "function"), "arguments"), "{\"tz\":\"x\"}");
    gwd_resp_free(&r);
    /* required: a call. */
    post(&r, "/v1/chat/completions",
         "{\"messages\":[" ASK "],\"tools\":[" WEATHER "],\"tool_choice\":\"required\"}");
    c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    assert_string_equal(str(c0, "finish_reason"), "tool_calls");
    gwd_resp_free(&r);
    /* none: no tool section, the question as without tools (a lone user
     * message as is), text back. */
    post(&r, "/v1/chat/completions",
         "{\"messages\":[" ASK "],\"tools\":[" WEATHER "],\"tool_choice\":\"none\"}");
    c0 = json_array_get(json_object_get(r.json, "choices"), 0);
    assert_string_equal(str(c0, "finish_reason"), "stop");
    assert_string_equal(str(json_object_get(c0, "message"), "content"), "ECHO: Weather in Paris?");
    gwd_resp_free(&r);
    /* A tool list Lingma cannot be offered: 400 naming the field. */
    gwd_req(&r, &G, "POST", "/v1/chat/completions",
            "{\"messages\":[" ASK "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
            "\"no spaces\"}}]}",
            NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(str(json_object_get(r.json, "error"), "param"), "tools[0].function.name");
    gwd_resp_free(&r);
}

/* Two calls in one block: both, or only the first with
 * parallel_tool_calls false. A required call the model does not make is
 * an error the client sees. */
static void
test_chat_parallel_and_required(void **state)
{
    (void)state;
    script("[{\"match\":\"PROSE\",\"reply\":\"I would rather not.\"},"
           "{\"match\":\"Weather\",\"reply\":\"Both.\\n```tool_call\\n{\\\"name\\\":\\\"get_weather"
           "\\\",\\\"arguments\\\":{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"c\\\"}}\\n"
           "{\\\"name\\\":\\\"get_time\\\",\\\"arguments\\\":{\\\"tz\\\":\\\"CET\\\"}}\\n```\"}]");
    struct gwd_resp r;
    post(&r, "/v1/chat/completions", "{\"messages\":[" ASK "],\"tools\":[" WEATHER "," TIME "]}");
    json_t *msg = json_object_get(json_array_get(json_object_get(r.json, "choices"), 0), "message");
    assert_true(has_prefix(str(msg, "content"), "Both."));
    json_t *calls = json_object_get(msg, "tool_calls");
    assert_int_equal(json_array_size(calls), 2);
    assert_string_equal(str(json_object_get(json_array_get(calls, 1), "function"), "name"),
                        "get_time");
    assert_string_not_equal(str(json_array_get(calls, 0), "id"),
                            str(json_array_get(calls, 1), "id"));
    gwd_resp_free(&r);
    post(&r, "/v1/chat/completions",
         "{\"messages\":[" ASK "],\"tools\":[" WEATHER "," TIME "],\"parallel_tool_calls\":false}");
    msg = json_object_get(json_array_get(json_object_get(r.json, "choices"), 0), "message");
    calls = json_object_get(msg, "tool_calls");
    assert_int_equal(json_array_size(calls), 1);
    assert_string_equal(str(json_object_get(json_array_get(calls, 0), "function"), "name"),
                        "get_weather");
    gwd_resp_free(&r);
    /* auto and prose: text. required and prose (twice): an error. */
    post(&r, "/v1/chat/completions",
         "{\"messages\":[{\"role\":\"user\",\"content\":\"PROSE\"}],\"tools\":[" WEATHER "]}");
    msg = json_object_get(json_array_get(json_object_get(r.json, "choices"), 0), "message");
    assert_string_equal(str(msg, "content"), "I would rather not.");
    gwd_resp_free(&r);
    gwd_req(&r, &G, "POST", "/v1/chat/completions",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"PROSE\"}],\"tools\":[" WEATHER
            "],\"tool_choice\":\"required\"}",
            NULL);
    assert_int_equal(r.status, 502);
    assert_non_null(strstr(str(json_object_get(r.json, "error"), "message"), "no tool"));
    gwd_resp_free(&r);
}

/* ---- Anthropic Messages ---------------------------------------------------- */

#define A_WEATHER                                                                                  \
    "{\"name\":\"get_weather\",\"description\":\"Weather of a city\",\"input_schema\":{"           \
    "\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":["           \
    "\"city\"]}}"
#define A_HEAD "{\"model\":\"claude-opus-5-5\",\"max_tokens\":1024,"

static void
test_messages_round_trip(void **state)
{
    (void)state;
    struct gwd_resp r;
    post(&r, "/v1/messages",
         A_HEAD "\"tools\":[{\"name\":\"Placeholder\",\"defer_loading\":true,\"input_schema\":{}}"
                "," A_WEATHER "],\"messages\":[" ASK "]}");
    assert_string_equal(str(r.json, "stop_reason"), "tool_use");
    json_t *content = json_object_get(r.json, "content");
    assert_int_equal(json_array_size(content), 1);
    json_t *b = json_array_get(content, 0);
    assert_string_equal(str(b, "type"), "tool_use");
    char id[64];
    snprintf(id, sizeof(id), "%s", str(b, "id"));
    assert_true(has_prefix(id, "toolu_"));
    assert_string_equal(str(b, "name"), "get_weather"); /* not the deferred placeholder */
    assert_string_equal(str(json_object_get(b, "input"), "city"), "x");
    gwd_resp_free(&r);

    /* The result (an error, here) goes back. */
    char body[2048];
    snprintf(body, sizeof(body),
             A_HEAD "\"tools\":[" A_WEATHER "],\"messages\":[" ASK ",{\"role\":\"assistant\","
                    "\"content\":[{\"type\":\"tool_use\",\"id\":\"%s\",\"name\":\"get_weather\","
                    "\"input\":{\"city\":\"x\"}}]},{\"role\":\"user\",\"content\":[{\"type\":"
                    "\"tool_result\",\"tool_use_id\":\"%s\",\"is_error\":true,\"content\":[{"
                    "\"type\":\"text\",\"text\":\"no such city\"}]}]}]}",
             id, id);
    post(&r, "/v1/messages", body);
    assert_string_equal(str(r.json, "stop_reason"), "end_turn");
    b = json_array_get(json_object_get(r.json, "content"), 0);
    assert_string_equal(str(b, "text"), "DONE: no such city");
    gwd_resp_free(&r);
}

static void
test_messages_stream(void **state)
{
    (void)state;
    struct gwd_resp r;
    post(&r, "/v1/messages",
         A_HEAD "\"stream\":true,\"tools\":[" A_WEATHER "],\"messages\":[" ASK "]}");
    char **ev;
    size_t n = gwd_sse_events(r.body, &ev);
    assert_true(n >= 6);
    json_t *first = event_json(ev[0]);
    assert_string_equal(str(first, "type"), "message_start");
    json_decref(first);
    char partial[256] = "";
    bool started = false, stopped = false, tool_use = false;
    for (size_t i = 1; i < n; i++) {
        json_t *j = event_json(ev[i]);
        const char *type = str(j, "type");
        json_t *cb = json_object_get(j, "content_block");
        json_t *d = json_object_get(j, "delta");
        if (strcmp(type, "content_block_start") == 0 && strcmp(str(cb, "type"), "tool_use") == 0) {
            started = true;
            assert_true(has_prefix(str(cb, "id"), "toolu_"));
            assert_string_equal(str(cb, "name"), "get_weather");
            assert_int_equal(json_object_size(json_object_get(cb, "input")), 0);
        } else if (strcmp(type, "content_block_delta") == 0 &&
                   strcmp(str(d, "type"), "input_json_delta") == 0) {
            strncat(partial, str(d, "partial_json"), sizeof(partial) - strlen(partial) - 1);
        } else if (strcmp(type, "content_block_stop") == 0 && started) {
            stopped = true;
        } else if (strcmp(type, "message_delta") == 0) {
            tool_use = strcmp(str(d, "stop_reason"), "tool_use") == 0;
        }
        json_decref(j);
    }
    assert_true(started && stopped && tool_use);
    assert_string_equal(partial, "{\"city\":\"x\"}");
    gwd_events_free(ev, n);
    gwd_resp_free(&r);
}

static void
test_messages_single_and_refusal(void **state)
{
    (void)state;
    script("[{\"match\":\"Weather\",\"reply\":\"```tool_call\\n{\\\"name\\\":\\\"get_weather\\\","
           "\\\"arguments\\\":{\\\"city\\\":\\\"Paris\\\"}}\\n{\\\"name\\\":\\\"get_weather\\\","
           "\\\"arguments\\\":{\\\"city\\\":\\\"Rome\\\"}}\\n```\"}]");
    struct gwd_resp r;
    post(&r, "/v1/messages", A_HEAD "\"tools\":[" A_WEATHER "],\"messages\":[" ASK "]}");
    assert_int_equal(json_array_size(json_object_get(r.json, "content")), 2);
    gwd_resp_free(&r);
    post(&r, "/v1/messages",
         A_HEAD "\"tools\":[" A_WEATHER "],\"tool_choice\":{\"type\":\"auto\","
                "\"disable_parallel_tool_use\":true},\"messages\":[" ASK "]}");
    json_t *content = json_object_get(r.json, "content");
    assert_int_equal(json_array_size(content), 1);
    assert_string_equal(str(json_object_get(json_array_get(content, 0), "input"), "city"), "Paris");
    gwd_resp_free(&r);
    gwd_req(&r, &G, "POST", "/v1/messages",
            A_HEAD "\"tools\":[" A_WEATHER "," A_WEATHER "],\"messages\":[" ASK "]}", NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(str(r.json, "type"), "error");
    assert_non_null(strstr(str(json_object_get(r.json, "error"), "message"), "tools.1.name"));
    gwd_resp_free(&r);
}

/* ---- Responses ------------------------------------------------------------ */

#define R_EXEC                                                                                     \
    "{\"type\":\"function\",\"name\":\"exec_command\",\"parameters\":{\"type\":\"object\","        \
    "\"properties\":{\"cmd\":{\"type\":\"string\"}},\"required\":[\"cmd\"]}}"

static void
test_responses_round_trip(void **state)
{
    (void)state;
    struct gwd_resp r;
    /* Stored: the call is in the response, and previous_response_id
     * carries it to the next turn with its output. */
    post(&r, "/v1/responses",
         "{\"input\":\"list the files\",\"tools\":[" R_EXEC ",{\"type\":\"web_search\"}]}");
    assert_string_equal(str(r.json, "status"), "completed");
    json_t *output = json_object_get(r.json, "output");
    assert_int_equal(json_array_size(output), 1);
    json_t *fc = json_array_get(output, 0);
    assert_string_equal(str(fc, "type"), "function_call");
    assert_true(has_prefix(str(fc, "id"), "fc_"));
    char call_id[64], resp_id[64];
    snprintf(call_id, sizeof(call_id), "%s", str(fc, "call_id"));
    snprintf(resp_id, sizeof(resp_id), "%s", str(r.json, "id"));
    assert_true(has_prefix(call_id, "call_"));
    assert_string_equal(str(fc, "id") + 3, call_id + 5); /* one hex, two prefixes */
    assert_string_equal(str(fc, "name"), "exec_command");
    assert_string_equal(str(fc, "arguments"), "{\"cmd\":\"x\"}");
    assert_string_equal(str(fc, "status"), "completed");
    gwd_resp_free(&r);

    char body[1024];
    snprintf(body, sizeof(body),
             "{\"previous_response_id\":\"%s\",\"tools\":[" R_EXEC "],\"input\":[{\"type\":"
             "\"function_call_output\",\"call_id\":\"%s\",\"output\":\"a.txt\\nb.txt\"}]}",
             resp_id, call_id);
    post(&r, "/v1/responses", body);
    output = json_object_get(r.json, "output");
    json_t *m = json_array_get(output, 0);
    assert_string_equal(str(m, "type"), "message");
    assert_string_equal(str(json_array_get(json_object_get(m, "content"), 0), "text"),
                        "DONE: a.txt\nb.txt");
    gwd_resp_free(&r);

    /* The whole history re-sent, as Codex does (store false). */
    snprintf(body, sizeof(body),
             "{\"store\":false,\"tools\":[" R_EXEC "],\"input\":[{\"role\":\"user\",\"content\":"
             "\"list\"},{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"%s\",\"name\":"
             "\"exec_command\",\"arguments\":\"{\\\"cmd\\\":\\\"x\\\"}\"},{\"type\":"
             "\"function_call_output\",\"call_id\":\"%s\",\"output\":\"ok\"}]}",
             call_id, call_id);
    post(&r, "/v1/responses", body);
    m = json_array_get(json_object_get(r.json, "output"), 0);
    assert_string_equal(str(json_array_get(json_object_get(m, "content"), 0), "text"), "DONE: ok");
    gwd_resp_free(&r);
}

static void
test_responses_stream(void **state)
{
    (void)state;
    struct gwd_resp r;
    post(&r, "/v1/responses",
         "{\"stream\":true,\"store\":false,\"input\":\"list the files\",\"tools\":[" R_EXEC "]}");
    char **ev;
    size_t n = gwd_sse_events(r.body, &ev);
    size_t added = 0, deltas = 0, done = 0, items_done = 0;
    char args[128] = "", last[64] = "";
    for (size_t i = 0; i < n; i++) {
        json_t *j = event_json(ev[i]);
        const char *type = str(j, "type");
        json_t *item = json_object_get(j, "item");
        if (strcmp(type, "response.output_item.added") == 0) {
            added++;
            assert_string_equal(str(item, "type"), "function_call");
            assert_string_equal(str(item, "arguments"), "");
        } else if (strcmp(type, "response.function_call_arguments.delta") == 0) {
            deltas++;
            strncat(args, str(j, "delta"), sizeof(args) - strlen(args) - 1);
        } else if (strcmp(type, "response.function_call_arguments.done") == 0) {
            done++;
            assert_string_equal(str(j, "arguments"), "{\"cmd\":\"x\"}");
        } else if (strcmp(type, "response.output_item.done") == 0) {
            items_done++;
            assert_string_equal(str(item, "status"), "completed");
        }
        snprintf(last, sizeof(last), "%s", type);
        json_decref(j);
    }
    assert_int_equal(added, 1);
    assert_true(deltas >= 1);
    assert_int_equal(done, 1);
    assert_int_equal(items_done, 1);
    assert_string_equal(args, "{\"cmd\":\"x\"}");
    assert_string_equal(last, "response.completed");
    gwd_events_free(ev, n);
    gwd_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_chat_round_trip, reset_sim),
        cmocka_unit_test_setup(test_chat_stream, reset_sim),
        cmocka_unit_test_setup(test_chat_tool_choice, reset_sim),
        cmocka_unit_test_setup(test_chat_parallel_and_required, reset_sim),
        cmocka_unit_test_setup(test_messages_round_trip, reset_sim),
        cmocka_unit_test_setup(test_messages_stream, reset_sim),
        cmocka_unit_test_setup(test_messages_single_and_refusal, reset_sim),
        cmocka_unit_test_setup(test_responses_round_trip, reset_sim),
        cmocka_unit_test_setup(test_responses_stream, reset_sim),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
