/*
 * liblingma runtime against real lingma-sim processes: every chat path and
 * every framing/.info variant, one pool (one instance) per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "rt.h"

/* One chat with the simulator configured by `env`; checks the event contract. */
static void
one_chat(const char *const *env, const char *prompt, const char *model, struct rt_chat *c)
{
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, env);

    rt_chat_init(c);
    assert_int_equal(rt_chat_start(c, pool, prompt, model), 0);
    assert_int_equal(rt_chat_wait(c, 20000), 0);
    lingma_pool_free(pool);
    assert_int_equal(c->terminals, 1);
    assert_true(c->order_ok);
    rt_rmdir(dir);
}

static void
expect_echo(const char *const *env)
{
    struct rt_chat c;
    one_chat(env, "Reply with exactly: pong", NULL, &c);
    if (!c.done)
        fail_msg("chat failed: %s (%s)", lingma_error_name(c.error), c.message);
    assert_int_equal(c.started, 1);
    assert_string_equal(c.text, "ECHO: Reply with exactly: pong");
    assert_string_equal(c.done_text, c.text);
    assert_int_equal(c.status_code, 200);
    assert_string_equal(c.instance, "inst-0");
    rt_chat_clear(&c);
}

static void
test_echo_default(void **state)
{
    (void)state;
    expect_echo(NULL);
}

/* A binary that ignores --workDir and writes ~/.lingma/.info, as older
 * Lingma builds do: a single-instance pool finds it there. */
static void
test_info_legacy_home(void **state)
{
    (void)state;
    char *dir = rt_tempdir();
    char home[4096], wrapper[4096];
    snprintf(home, sizeof(home), "%s/home", dir);
    snprintf(wrapper, sizeof(wrapper), "%s/legacy-lingma", dir);
    FILE *f = fopen(wrapper, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\n"
            "port=\n"
            "while [ $# -gt 0 ]; do\n"
            "  case \"$1\" in --socketPort) port=$2; shift ;; esac\n"
            "  shift\n"
            "done\n"
            "mkdir -p \"$HOME/.lingma\"\n"
            "exec '%s' start --workDir \"$HOME/.lingma\" --socketPort \"$port\"\n",
            rt_sim_bin());
    fclose(f);
    assert_int_equal(chmod(wrapper, 0700), 0);

    const char *old = getenv("HOME");
    char *saved = old ? strdup(old) : NULL;
    assert_int_equal(setenv("HOME", home, 1), 0);

    lingma_pool_options o;
    lingma_pool *pool = NULL;
    rt_pool_options(&o, dir, NULL);
    o.binary = wrapper;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    struct rt_chat c;
    rt_chat_init(&c);
    assert_int_equal(rt_chat_start(&c, pool, "legacy", NULL), 0);
    assert_int_equal(rt_chat_wait(&c, 20000), 0);
    lingma_pool_free(pool);
    if (saved) {
        setenv("HOME", saved, 1);
        free(saved);
    } else {
        unsetenv("HOME");
    }
    if (!c.done)
        fail_msg("chat failed: %s (%s)", lingma_error_name(c.error), c.message);
    assert_string_equal(c.text, "ECHO: legacy");
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

static void
test_info_3line(void **state)
{
    const char *env[] = {"LINGMA_SIM_INFO=3line", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_info_json(void **state)
{
    const char *env[] = {"LINGMA_SIM_INFO=json", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_info_early(void **state)
{
    /* .info before listening: the first dials fail and are retried. */
    const char *env[] = {"LINGMA_SIM_INFO=early", "LINGMA_SIM_FAULT=start_delay_ms:400", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_split_frames(void **state)
{
    const char *env[] = {"LINGMA_SIM_SPLIT=1", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_coalesced_frames(void **state)
{
    const char *env[] = {"LINGMA_SIM_COALESCE=1", "LINGMA_SIM_CHUNKS=30", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_noisy_step_end_first(void **state)
{
    const char *env[] = {"LINGMA_SIM_NOISY=1", "LINGMA_SIM_STEP_END_FIRST=1", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_slow_start_stale_info(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=stale_info,start_delay_ms:600", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_ask_delay(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=ask_delay_ms:300", NULL};
    (void)state;
    expect_echo(env);
}

static void
test_text_reply_chunks(void **state)
{
    const char *env[] = {"LINGMA_SIM_REPLY=text:h\xc3\xa9llo w\xe4\xb8\x96rld \xf0\x9f\x98\x80!",
                         "LINGMA_SIM_CHUNKS=11", NULL};
    struct rt_chat c;
    (void)state;
    one_chat(env, "hi", NULL, &c);
    assert_true(c.done);
    assert_string_equal(c.text, "h\xc3\xa9llo w\xe4\xb8\x96rld \xf0\x9f\x98\x80!");
    assert_true(c.deltas >= 2);
    rt_chat_clear(&c);
}

static void
test_reasoning_model(void **state)
{
    struct rt_chat c;
    (void)state;
    one_chat(NULL, "think about it", "dashscope_qwen_plus_20250428_thinking", &c);
    assert_true(c.done);
    assert_true(c.reasonings > 0);
    assert_true(c.reasoning_len > 0);
    assert_null(strstr(c.text, "````"));
    assert_null(strstr(c.reasoning, "````"));
    assert_non_null(strstr(c.text, "think about it"));
    rt_chat_clear(&c);
}

static void
test_usage(void **state)
{
    const char *env[] = {"LINGMA_SIM_USAGE=1", NULL};
    struct rt_chat c;
    (void)state;
    one_chat(env, "count me", NULL, &c);
    assert_true(c.done);
    assert_true(c.usage.present);
    assert_true(c.usage.total_tokens > 0);
    rt_chat_clear(&c);

    one_chat(NULL, "count me", NULL, &c);
    assert_true(c.done);
    assert_false(c.usage.present);
    rt_chat_clear(&c);
}

static void
test_complete_blocking(void **state)
{
    const char *env[] = {"LINGMA_SIM_REPLY=text:pong", NULL};
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, env);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;
    (void)state;

    o.prompt = "ping";
    assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
    assert_non_null(r);
    assert_string_equal(r->text, "pong");
    assert_int_equal(r->error, 0);
    assert_string_equal(r->instance, "inst-0");
    assert_true(r->total_ms >= r->first_token_ms);
    lingma_chat_result_free(r);

    /* Invalid requests are refused synchronously, without events. */
    o.prompt = "";
    assert_int_equal(lingma_chat_complete(&r, pool, &o), LINGMA_EINVAL);
    assert_null(r);
    o.prompt = "bad \xff utf-8";
    assert_int_equal(lingma_chat_complete(NULL, pool, &o), LINGMA_EINVAL);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

static void
test_sequential_chats_fresh_sessions(void **state)
{
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, NULL);
    (void)state;

    for (int i = 0; i < 5; i++) {
        char prompt[32];
        lingma_chat_result *r = NULL;
        lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
        snprintf(prompt, sizeof(prompt), "question %d", i);
        o.prompt = prompt;
        assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
        char want[64];
        snprintf(want, sizeof(want), "ECHO: %s", prompt);
        assert_string_equal(r->text, want);
        assert_true(strlen(r->session_id) > 0);
        lingma_chat_result_free(r);
    }
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_default),
        cmocka_unit_test(test_info_legacy_home),
        cmocka_unit_test(test_info_3line),
        cmocka_unit_test(test_info_json),
        cmocka_unit_test(test_info_early),
        cmocka_unit_test(test_split_frames),
        cmocka_unit_test(test_coalesced_frames),
        cmocka_unit_test(test_noisy_step_end_first),
        cmocka_unit_test(test_slow_start_stale_info),
        cmocka_unit_test(test_ask_delay),
        cmocka_unit_test(test_text_reply_chunks),
        cmocka_unit_test(test_reasoning_model),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_complete_blocking),
        cmocka_unit_test(test_sequential_chats_fresh_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
