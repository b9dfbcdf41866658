/*
 * liblingma's tool calling (doc/tools.md, "In the runtime") against real
 * lingma-sim processes: a call from LINGMA_SIM_REPLY=tools and its round
 * trip, the block never in a DELTA however finely it is cut, and, with
 * script:FILE answers, the retry with a correction (valid the second time,
 * invalid twice under AUTO and REQUIRED, no call when one is required),
 * single_tool_call, a named tool, cancel and timeout during the retry, the
 * retry on the same instance, lingma_chat_complete's calls, the options'
 * versions, and Lingma's own tool/invoke refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "loop.h" /* lingma__now_ms, the runtime's clock */
#include "rt.h"

static lingma_toolset *
toolset(void)
{
    static const lingma_tool tools[] = {
        {"get_weather", "Weather of a city",
         "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
         "\"units\":{\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\"]}"},
        {"get_time", "Time in a zone",
         "{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}},"
         "\"required\":[\"tz\"]}"},
    };
    lingma_toolset *ts = NULL;
    assert_int_equal(lingma_toolset_new(&ts, tools, 2, NULL), 0);
    return ts;
}

/* A script:FILE rules file in `dir`: `n` (match, reply) pairs, first match
 * wins. Returns the LINGMA_SIM_REPLY setting (static storage). */
static const char *
rules(const char *dir, int n, const char *const *pairs)
{
    static char env[4200];
    char path[4096];
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "match", pairs[2 * i], "reply", pairs[2 * i + 1]));
    snprintf(path, sizeof(path), "%s/rules.json", dir);
    assert_int_equal(json_dump_file(a, path, 0), 0);
    json_decref(a);
    snprintf(env, sizeof(env), "LINGMA_SIM_REPLY=script:%s", path);
    return env;
}

/* Run `o` on `pool` to its end, recording into `c`; the event order must
 * hold. */
static void
chat_to_end(struct rt_chat *c, lingma_pool *pool, const lingma_chat_options *o)
{
    rt_chat_init(c);
    assert_int_equal(rt_chat_start_opts(c, NULL, pool, o), 0);
    assert_int_equal(rt_chat_wait(c, 30000), 0);
    assert_int_equal(c->terminals, 1);
    assert_true(c->order_ok);
}

/* chat_to_end() with tools. */
static void
ask(struct rt_chat *c, lingma_pool *pool, const char *prompt, const lingma_toolset *ts,
    lingma_tool_choice choice, const char *name, int single)
{
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    o.prompt = prompt;
    o.tools = ts;
    o.tool_choice = choice;
    o.tool_name = name;
    o.single_tool_call = single;
    chat_to_end(c, pool, &o);
}

static long wait_status(const char *dir, const char *key, long want);

/* One chat on a fresh one-instance pool (in a work dir of its own), to its
 * end; `asks` is how many chat/ask the simulator must have seen (checked
 * before the pool stops it: its counters reach the disk every 50 ms). */
static void
run(struct rt_chat *c, const char *const *env, const char *prompt, lingma_tool_choice choice,
    const char *name, int single, long asks)
{
    char *dir = rt_tempdir();
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    ask(c, pool, prompt, ts, choice, name, single);
    assert_int_equal(wait_status(dir, "chats_started", asks), asks);
    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

static void
assert_call_id(const char *id)
{
    assert_int_equal(strlen(id), 5 + 24);
    assert_memory_equal(id, "call_", 5);
    for (int i = 5; i < 29; i++)
        assert_non_null(strchr("0123456789abcdef", id[i]));
}

static const char bad_call[] =
    "Checking.\n```tool_call\n{\"name\":\"get_wether\",\"arguments\":{\"city\":\"Paris\"}}\n```";
static const char good_call[] =
    "```tool_call\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n```";
/* bad_call, then good_call once the correction (its exact first line) asks. */
static const char *const bad_then_good[] = {
    "^Your reply above is not valid: no tool named 'get_wether' was declared\\.$",
    good_call,
    ".",
    bad_call,
};

/* ---- LINGMA_SIM_REPLY=tools ---- */

/* The simulator calls the first tool with arguments made from its schema;
 * cut into hundreds of pieces, no byte of the block reaches a DELTA. Then
 * the result goes back in a second chat, rendered with the public
 * transcript helpers, and the answer is text. */
static void
test_call_then_result(void **state)
{
    (void)state;
    const char *env[] = {"LINGMA_SIM_REPLY=tools", "LINGMA_SIM_CHUNKS=300", NULL};
    char *dir = rt_tempdir();
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    struct rt_chat c;

    ask(&c, pool, "What is the weather in Paris?", ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 0);
    rt_assert_done(&c, 0);
    assert_int_equal(c.ncalls, 1);
    assert_int_equal(c.done_tool_calls, 1);
    assert_string_equal(c.calls[0].name, "get_weather");
    assert_string_equal(c.calls[0].arguments, "{\"city\":\"x\"}");
    assert_call_id(c.calls[0].id);
    assert_int_equal(c.deltas, 0); /* the answer is the block alone */
    assert_string_equal(c.done_text, "");

    char *call = NULL, *result = NULL, prompt[2048];
    assert_int_equal(lingma_tool_call_text(&call, c.calls[0].name, c.calls[0].arguments), 0);
    assert_int_equal(
        lingma_tool_result_text(&result, c.calls[0].id, c.calls[0].name, "{\"temp_c\":21}", 0), 0);
    snprintf(prompt, sizeof(prompt), "User: What is the weather in Paris?\n\nAssistant:\n%s\n\n%s",
             call, result);
    lingma_free(call);
    lingma_free(result);
    rt_chat_clear(&c);

    ask(&c, pool, prompt, ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 0);
    rt_assert_done(&c, 1);
    assert_int_equal(c.ncalls, 0);
    assert_int_equal(c.done_tool_calls, 0);
    assert_string_equal(c.text, "DONE: {\"temp_c\":21}");
    assert_string_equal(c.done_text, c.text);
    assert_int_equal(wait_status(dir, "chats_started", 2), 2);
    rt_chat_clear(&c);

    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

/* Prose, then the block, in hundreds of pieces: the prose streams, every
 * byte of the block stays out of the DELTAs. */
static void
test_prose_streams_block_held(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {".", "Let me check.\n```tool_call\n{\"name\":\"get_time\",\"arguments\":"
                            "{\"tz\":\"UTC\"}}\n```"};
    const char *env[] = {rules(dir, 1, r), "LINGMA_SIM_CHUNKS=300", NULL};
    struct rt_chat c;

    run(&c, env, "What time is it?", LINGMA_TOOL_CHOICE_AUTO, NULL, 0, 1);
    rt_assert_done(&c, 0);
    assert_string_equal(c.text, "Let me check.\n");
    assert_true(c.deltas > 1); /* streamed, not held to the end */
    assert_int_equal(c.ncalls, 1);
    assert_string_equal(c.calls[0].name, "get_time");
    assert_string_equal(c.calls[0].arguments, "{\"tz\":\"UTC\"}");
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* With REQUIRED, a reasoning model's think block is held with the text and
 * comes before the call. */
static void
test_required_reasoning_held(void **state)
{
    (void)state;
    const char *env[] = {"LINGMA_SIM_REPLY=tools", "LINGMA_SIM_CHUNKS=50", NULL};
    char *dir = rt_tempdir();
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    struct rt_chat c;

    o.prompt = "Weather?";
    o.model = "dashscope_qwen_plus_20250428_thinking";
    o.tools = ts;
    o.tool_choice = LINGMA_TOOL_CHOICE_REQUIRED;
    chat_to_end(&c, pool, &o);
    rt_assert_done(&c, 0);
    assert_int_equal(c.reasonings, 1); /* held, then released in one piece */
    assert_true(c.reasoning_len > 0);
    assert_int_equal(c.ncalls, 1);
    rt_chat_clear(&c);
    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

/* ---- the retry ---- */

/* An undeclared tool: asked again with the correction (the rule matches
 * its exact first line), and the second answer's call comes out. AUTO
 * streamed the first answer's prose. */
static void
test_invalid_then_valid(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *env[] = {rules(dir, 2, bad_then_good), "LINGMA_SIM_CHUNKS=40", NULL};
    struct rt_chat c;

    run(&c, env, "Weather in Paris?", LINGMA_TOOL_CHOICE_AUTO, NULL, 0, 2);
    rt_assert_done(&c, 0);
    assert_int_equal(c.ncalls, 1);
    assert_int_equal(c.done_tool_calls, 1);
    assert_string_equal(c.calls[0].name, "get_weather");
    assert_string_equal(c.calls[0].arguments, "{\"city\":\"Paris\"}");
    assert_string_equal(c.text, "Checking.\n");
    assert_string_equal(c.done_text, c.text);
    assert_int_equal(c.started, 1);
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* Arguments against the schema, under REQUIRED: the correction names the
 * tool and the broken rule; the second answer's call is the only output. */
static void
test_schema_violation_retried(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {
        "^Your reply above is not valid: get_weather: arguments lacks the required property "
        "'city'\\.$",
        good_call,
        ".",
        "Sure.\n```tool_call\n{\"name\":\"get_weather\",\"arguments\":{\"units\":\"celsius\"}}\n``"
        "`",
    };
    const char *env[] = {rules(dir, 2, r), NULL};
    struct rt_chat c;

    run(&c, env, "Weather in Paris?", LINGMA_TOOL_CHOICE_REQUIRED, NULL, 0, 2);
    rt_assert_done(&c, 0);
    assert_int_equal(c.deltas, 0);
    assert_int_equal(c.ncalls, 1);
    assert_string_equal(c.calls[0].arguments, "{\"city\":\"Paris\"}");
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* Invalid twice under AUTO: the second answer is delivered as text, its
 * block included, after the first answer's prose. */
static void
test_invalid_twice_auto_text(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {".", bad_call};
    const char *env[] = {rules(dir, 1, r), "LINGMA_SIM_CHUNKS=40", NULL};
    struct rt_chat c;
    char want[512];

    run(&c, env, "Weather in Paris?", LINGMA_TOOL_CHOICE_AUTO, NULL, 0, 2);
    rt_assert_done(&c, 0);
    assert_int_equal(c.ncalls, 0);
    assert_int_equal(c.done_tool_calls, 0);
    snprintf(want, sizeof(want), "Checking.\n%s", bad_call);
    assert_string_equal(c.text, want);
    assert_string_equal(c.done_text, want);
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* Invalid twice under REQUIRED: LINGMA_EPROTO, and nothing of either
 * answer was shown. */
static void
test_invalid_twice_required_fails(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {".", bad_call};
    const char *env[] = {rules(dir, 1, r), NULL};
    struct rt_chat c;

    run(&c, env, "Weather in Paris?", LINGMA_TOOL_CHOICE_REQUIRED, NULL, 0, 2);
    assert_int_equal(c.error, LINGMA_EPROTO);
    assert_int_equal(c.deltas, 0);
    assert_int_equal(c.ncalls, 0);
    assert_non_null(strstr(c.message, "also after a correction"));
    assert_non_null(strstr(c.message, "get_wether"));
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* REQUIRED and a text answer: asked again ("called no tool", and the
 * required line restated); the text of the first answer never shows. */
static void
test_required_text_retried(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {"^Your reply above called no tool\\.$", good_call, ".", "Just text."};
    const char *env[] = {rules(dir, 2, r), NULL};
    struct rt_chat c;

    run(&c, env, "Weather in Paris?", LINGMA_TOOL_CHOICE_REQUIRED, NULL, 0, 2);
    rt_assert_done(&c, 0);
    assert_int_equal(c.deltas, 0);
    assert_int_equal(c.ncalls, 1);
    assert_string_equal(c.calls[0].name, "get_weather");
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* Two calls in one block: both by default, the first alone with
 * single_tool_call (whose prompt says "Call one tool at a time."). */
static void
test_single_tool_call(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    static const char two[] = "```tool_call\n"
                              "{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}\n"
                              "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}\n"
                              "```";
    const char *both[] = {"Call one tool at a time", "UNEXPECTED", ".", two};
    const char *env[] = {rules(dir, 2, both), NULL};
    struct rt_chat c;

    run(&c, env, "Time and weather?", LINGMA_TOOL_CHOICE_AUTO, NULL, 0, 1);
    rt_assert_done(&c, 0);
    assert_int_equal(c.ncalls, 2);
    assert_int_equal(c.done_tool_calls, 2);
    assert_string_equal(c.calls[0].name, "get_time");
    assert_string_equal(c.calls[1].name, "get_weather");
    assert_string_not_equal(c.calls[0].id, c.calls[1].id);
    rt_chat_clear(&c);

    const char *first[] = {"^Call one tool at a time\\.$", two, ".", "MISSING"};
    env[0] = rules(dir, 2, first);
    run(&c, env, "Time and weather?", LINGMA_TOOL_CHOICE_AUTO, NULL, 1, 1);
    rt_assert_done(&c, 1);
    assert_int_equal(c.ncalls, 1);
    assert_int_equal(c.done_tool_calls, 1);
    assert_string_equal(c.calls[0].name, "get_time");
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* NAMED lists only the named tool (a rule answers "LEAK" when the other
 * one's line is in the prompt) and refuses a call of another declared
 * tool. */
static void
test_named(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {
        "^\\{\"name\":\"get_time\"",
        "LEAK",
        "^You must call the tool get_weather now\\.$",
        good_call,
        ".",
        "no named line",
    };
    const char *env[] = {rules(dir, 3, r), NULL};
    struct rt_chat c;

    run(&c, env, "Weather?", LINGMA_TOOL_CHOICE_NAMED, "get_weather", 0, 1);
    rt_assert_done(&c, 0);
    assert_int_equal(c.ncalls, 1);
    assert_string_equal(c.calls[0].name, "get_weather");
    rt_chat_clear(&c);

    const char *other[] = {".",
                           "```tool_call\n{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}"
                           "\n```"};
    const char *env2[] = {rules(dir, 1, other), NULL};
    run(&c, env2, "Weather?", LINGMA_TOOL_CHOICE_NAMED, "get_weather", 0, 2);
    assert_int_equal(c.error, LINGMA_EPROTO);
    assert_non_null(strstr(c.message, "only the tool get_weather may be called"));
    assert_int_equal(c.deltas, 0);
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

/* ---- the retry within the chat's limits ---- */

/* Start a chat whose first answer (AUTO, streamed slowly) is invalid, and
 * make the simulator hold the retry's first token for a minute: sim.json
 * changes once the first answer's prose arrived, before its retry asks. */
static void
start_slow_retry(struct rt_chat *c, lingma_pool *pool, const char *dir, const lingma_toolset *ts,
                 unsigned timeout_ms)
{
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    o.prompt = "Weather in Paris?";
    o.tools = ts;
    o.timeout_ms = timeout_ms;
    o.first_token_timeout_ms = 60000;
    rt_chat_init(c);
    assert_int_equal(rt_chat_start_opts(c, NULL, pool, &o), 0);
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&c->mu);
        int go = c->deltas > 0 || c->terminals;
        pthread_mutex_unlock(&c->mu);
        if (go)
            break;
        struct timespec ts10 = {0, 10 * 1000000L};
        nanosleep(&ts10, NULL);
    }
    assert_int_equal(c->terminals, 0);
    rt_sim_json(dir, "{\"first_token_ms\":60000}");
}

static long
wait_status(const char *dir, const char *key, long want)
{
    long v = -1;
    for (int i = 0; i < 200 && (v = rt_sim_status(dir, key)) != want; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return v;
}

static const char *const slow_env_tail[] = {"LINGMA_SIM_CHUNKS=4", "LINGMA_SIM_CHUNK_MS=400"};

static void
test_cancel_during_retry(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {".", bad_call};
    const char *env[] = {rules(dir, 1, r), slow_env_tail[0], slow_env_tail[1], NULL};
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    struct rt_chat c;

    start_slow_retry(&c, pool, dir, ts, 0);
    assert_int_equal(wait_status(dir, "chats_started", 2), 2);
    rt_cancel_expect(pool, &c, LINGMA_ECANCELED);
    /* The retry's ask is stopped upstream, and the chat ended once. */
    assert_int_equal(wait_status(dir, "stops_received", 1), 1);
    assert_int_equal(c.terminals, 1);
    assert_true(c.order_ok);
    lingma_pool_stats *s = rt_pool_stats(pool);
    assert_int_equal(s->in_flight, 0);
    lingma_pool_stats_free(s);
    lingma_pool_free(pool);
    assert_int_equal(c.terminals, 1);
    rt_chat_clear(&c);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

/* The whole-chat deadline runs from the first ask through the retry: it
 * is not started again (the first answer alone takes over a second). */
static void
test_timeout_during_retry(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *r[] = {".", bad_call};
    const char *env[] = {rules(dir, 1, r), slow_env_tail[0], slow_env_tail[1], NULL};
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    rt_wait_ready(pool, 1, 15000);
    struct rt_chat c;

    uint64_t t0 = lingma__now_ms();
    start_slow_retry(&c, pool, dir, ts, 4000);
    assert_int_equal(rt_chat_wait(&c, 20000), 0);
    uint64_t took = lingma__now_ms() - t0;
    assert_int_equal(c.error, LINGMA_ETIMEDOUT);
    assert_string_equal(c.message, "the chat timed out");
    assert_true(took >= 3900);
    if (took > 4900)
        fail_msg("the deadline fired after %llu ms, not 4000", (unsigned long long)took);
    assert_int_equal(wait_status(dir, "stops_received", 1), 1);
    assert_int_equal(wait_status(dir, "chats_started", 2), 2);
    lingma_pool_free(pool);
    assert_int_equal(c.terminals, 1);
    assert_true(c.order_ok);
    rt_chat_clear(&c);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

/* Two ready instances and no affinity key: the router would take turns;
 * the retry stays where the chat started. */
static void
test_retry_keeps_instance(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    const char *env[] = {rules(dir, 2, bad_then_good), NULL};
    lingma_toolset *ts = toolset();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct rt_chat c;
    char inst[2][4200];

    rt_pool_options(&o, dir, env);
    o.instances = 2;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_wait_ready(pool, 2, 15000);
    for (int i = 0; i < 2; i++)
        snprintf(inst[i], sizeof(inst[i]), "%s/inst-%d", dir, i);
    for (int round = 0; round < 2; round++) {
        ask(&c, pool, "Weather in Paris?", ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 0);
        rt_assert_done(&c, round);
        assert_int_equal(c.ncalls, 1);
        int k = strcmp(c.instance, "inst-1") == 0;
        /* Both asks of each chat on its instance: every count stays even. */
        long n[2] = {0, 0};
        for (int i = 0; i < 200 && n[0] + n[1] != 2 * (round + 1); i++) {
            struct timespec ts50 = {0, 50 * 1000000L};
            nanosleep(&ts50, NULL);
            for (int j = 0; j < 2; j++)
                n[j] = rt_sim_status(inst[j], "chats_started");
        }
        assert_int_equal(n[0] + n[1], 2 * (round + 1));
        assert_int_equal(n[0] % 2, 0);
        assert_int_equal(n[1] % 2, 0);
        assert_true(n[k] >= 2);
        rt_chat_clear(&c);
    }
    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

/* ---- Lingma's own tools ---- */

/* In agent mode Lingma may ask the client to run its built-in tools and
 * waits for the result: the chat gets a clean refusal at once and goes on
 * to its answer (here a call of the caller's tool). */
static void
test_tool_invoke_refused(void **state)
{
    (void)state;
    const char *env[] = {"LINGMA_SIM_REPLY=tools", "LINGMA_SIM_FAULT=tool_invoke", NULL};
    char *dir = rt_tempdir();
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    struct rt_chat c;

    o.prompt = "Weather?";
    o.ask_mode = LINGMA_ASK_AGENT;
    o.tools = ts;
    chat_to_end(&c, pool, &o);
    rt_assert_done(&c, 0);
    assert_int_equal(c.ncalls, 1);
    assert_string_equal(c.calls[0].name, "get_weather");
    assert_int_equal(wait_status(dir, "tool_invokes_refused", 1), 1);
    assert_int_equal(rt_sim_status(dir, "tool_invokes"), 1);
    rt_chat_clear(&c);
    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

/* ---- the API around it ---- */

static void
test_complete_result_calls(void **state)
{
    (void)state;
    const char *env[] = {"LINGMA_SIM_REPLY=tools", NULL};
    char *dir = rt_tempdir();
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, env);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;

    o.prompt = "Time?";
    o.tools = ts;
    o.tool_choice = LINGMA_TOOL_CHOICE_NAMED;
    o.tool_name = "get_time";
    assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
    assert_non_null(r);
    assert_int_equal(r->tool_call_count, 1);
    assert_string_equal(r->tool_calls[0].name, "get_time");
    assert_string_equal(r->tool_calls[0].arguments, "{\"tz\":\"x\"}");
    assert_call_id(r->tool_calls[0].id);
    assert_string_equal(r->text, "");
    lingma_chat_result_free(r);

    /* No tools: no calls, the same fields. */
    o.tools = NULL;
    o.tool_choice = LINGMA_TOOL_CHOICE_AUTO;
    assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
    assert_int_equal(r->tool_call_count, 0);
    assert_null(r->tool_calls);
    assert_string_equal(r->text, "ECHO: Time?");
    lingma_chat_result_free(r);
    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

static void
test_options(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    lingma_toolset *ts = toolset();
    lingma_pool *pool = rt_pool_new(dir, NULL);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_id id;
    struct rt_chat c;

    assert_int_equal(o.version, 2);
    o.prompt = "hi";
    o.on_event = rt_on_event;
    o.payload = &c;
    /* Required or named with nothing to call, an undeclared name, a choice
     * out of range: refused at once. */
    o.tool_choice = LINGMA_TOOL_CHOICE_REQUIRED;
    assert_int_equal(lingma_chat_start(&id, NULL, pool, &o), LINGMA_EINVAL);
    o.tools = ts;
    o.tool_choice = LINGMA_TOOL_CHOICE_NAMED;
    assert_int_equal(lingma_chat_start(&id, NULL, pool, &o), LINGMA_EINVAL);
    o.tool_name = "nope";
    assert_int_equal(lingma_chat_start(&id, NULL, pool, &o), LINGMA_EINVAL);
    o.tool_choice = (lingma_tool_choice)9;
    assert_int_equal(lingma_chat_start(&id, NULL, pool, &o), LINGMA_EINVAL);

    /* NONE: no tool section (the echo is the prompt alone). */
    o.tool_choice = LINGMA_TOOL_CHOICE_NONE;
    rt_chat_init(&c);
    assert_int_equal(rt_chat_start_opts(&c, NULL, pool, &o), 0);
    assert_int_equal(rt_chat_wait(&c, 20000), 0);
    rt_assert_done(&c, 0);
    assert_string_equal(c.text, "ECHO: hi");
    rt_chat_clear(&c);

    /* Version 1: the struct ends before the tools; whatever follows is not
     * read (a heap block of exactly that size, for the sanitizers). */
    size_t v1 = offsetof(lingma_chat_options, tools);
    void *o1 = malloc(v1);
    assert_non_null(o1);
    o.version = 1;
    o.prompt = "one";
    memcpy(o1, &o, v1);
    rt_chat_init(&c);
    /* Not rt_chat_start_opts(): it copies a whole current struct. */
    pthread_mutex_lock(&c.mu);
    assert_int_equal(lingma_chat_start(&c.id, NULL, pool, o1), 0);
    pthread_mutex_unlock(&c.mu);
    assert_int_equal(rt_chat_wait(&c, 20000), 0);
    rt_assert_done(&c, 1);
    assert_string_equal(c.text, "ECHO: one");
    rt_chat_clear(&c);
    lingma_chat_result *r = NULL;
    o.on_event = NULL;
    memcpy(o1, &o, v1);
    assert_int_equal(lingma_chat_complete(&r, pool, o1), 0);
    assert_string_equal(r->text, "ECHO: one");
    assert_int_equal(r->tool_call_count, 0);
    lingma_chat_result_free(r);
    free(o1);

    lingma_pool_free(pool);
    lingma_toolset_free(ts);
    rt_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_then_result),
        cmocka_unit_test(test_prose_streams_block_held),
        cmocka_unit_test(test_required_reasoning_held),
        cmocka_unit_test(test_invalid_then_valid),
        cmocka_unit_test(test_schema_violation_retried),
        cmocka_unit_test(test_invalid_twice_auto_text),
        cmocka_unit_test(test_invalid_twice_required_fails),
        cmocka_unit_test(test_required_text_retried),
        cmocka_unit_test(test_single_tool_call),
        cmocka_unit_test(test_named),
        cmocka_unit_test(test_cancel_during_retry),
        cmocka_unit_test(test_timeout_during_retry),
        cmocka_unit_test(test_retry_keeps_instance),
        cmocka_unit_test(test_tool_invoke_refused),
        cmocka_unit_test(test_complete_result_calls),
        cmocka_unit_test(test_options),
    };
    /* RT_TEST=<glob> runs the matching cases only. */
    if (getenv("RT_TEST"))
        cmocka_set_test_filter(getenv("RT_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
