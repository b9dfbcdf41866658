/*
 * liblingma runtime under every lingma-sim fault: upstream errors, JSON-RPC
 * errors, dropped connections, crashes mid-stream (never DONE), hangs
 * (timeouts), failed starts, and a reconnect after SIGKILL of the child.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "rt.h"

static void
chat_with(const char *const *env, lingma_pool_options *tweak, unsigned timeout_ms,
          struct rt_chat *c)
{
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;

    rt_pool_options(&o, dir, env);
    if (tweak) {
        o.first_token_timeout_ms = tweak->first_token_timeout_ms;
        o.reconnect_max_attempts = tweak->reconnect_max_attempts;
        o.startup_timeout_ms =
            tweak->startup_timeout_ms ? tweak->startup_timeout_ms : o.startup_timeout_ms;
    }
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_chat_init(c);
    co.prompt = "fault test";
    co.on_event = rt_on_event;
    co.payload = c;
    co.timeout_ms = timeout_ms;
    pthread_mutex_lock(&c->mu);
    assert_int_equal(lingma_chat_start(&c->id, NULL, pool, &co), 0);
    pthread_mutex_unlock(&c->mu);
    assert_int_equal(rt_chat_wait(c, 30000), 0);
    lingma_pool_free(pool);
    assert_int_equal(c->terminals, 1);
    assert_true(c->order_ok);
    rt_rmdir(dir);
}

static void
test_finish_codes(void **state)
{
    static const int codes[] = {408, 429, 500};
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        char fault[64];
        struct rt_chat c;
        snprintf(fault, sizeof(fault), "LINGMA_SIM_FAULT=finish:%d", codes[i]);
        const char *env[] = {fault, NULL};
        chat_with(env, NULL, 0, &c);
        assert_false(c.done);
        assert_int_equal(c.error, LINGMA_EUPSTREAM);
        assert_int_equal(c.status_code, codes[i]);
        rt_chat_clear(&c);
    }
}

static void
test_rpc_error(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=rpc_error", NULL};
    struct rt_chat c;
    (void)state;
    chat_with(env, NULL, 0, &c);
    assert_int_equal(c.error, LINGMA_ERPC);
    assert_int_equal(c.rpc_code, -32603);
    assert_int_equal(c.started, 0);
    rt_chat_clear(&c);
}

static void
test_drop_mid_stream(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=drop_after:3", "LINGMA_SIM_CHUNKS=10", NULL};
    struct rt_chat c;
    (void)state;
    chat_with(env, NULL, 0, &c);
    /* No silent truncation: some text came, then an error, never DONE. */
    assert_false(c.done);
    assert_int_equal(c.error, LINGMA_EIO);
    assert_true(c.started);
    rt_chat_clear(&c);
}

static void
test_crash_mid_stream(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=exit_after:2", "LINGMA_SIM_CHUNKS=10", NULL};
    struct rt_chat c;
    (void)state;
    chat_with(env, NULL, 0, &c);
    assert_false(c.done);
    assert_int_equal(c.error, LINGMA_EIO);
    rt_chat_clear(&c);
}

static void
test_hang_chat_timeout(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=hang", NULL};
    struct rt_chat c;
    (void)state;
    chat_with(env, NULL, 400, &c);
    assert_int_equal(c.error, LINGMA_ETIMEDOUT);
    rt_chat_clear(&c);
}

static void
test_first_token_timeout(void **state)
{
    const char *env[] = {"LINGMA_SIM_FIRST_TOKEN_MS=3000", NULL};
    lingma_pool_options t;
    struct rt_chat c;
    (void)state;
    memset(&t, 0, sizeof(t));
    t.first_token_timeout_ms = 300;
    chat_with(env, &t, 0, &c);
    assert_int_equal(c.error, LINGMA_ETIMEDOUT);
    assert_int_equal(c.deltas, 0);
    rt_chat_clear(&c);
}

static void
test_exit_at_start_then_retry(void **state)
{
    /* The first start fails (exit status 3): the chat that rode it fails at
     * once. The retry runs in the background (backoff); a chat sent while
     * no instance serves fails at once too, and one sent once the retry
     * serves succeeds. */
    const char *env[] = {"LINGMA_SIM_FAULT=exit_at_start", "LINGMA_SIM_FAULT_LIMIT=1", NULL};
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, env);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;
    int rc;
    (void)state;

    o.prompt = "after a failed start";
    rc = lingma_chat_complete(&r, pool, &o);
    if (rc != 0) {
        assert_true(rc == LINGMA_ESPAWN || rc == LINGMA_EUNAVAIL);
        lingma_chat_result_free(r);
        assert_int_equal(rt_wait_health(pool, 0, rt_pred_serving, NULL, 15000), 0);
        rc = lingma_chat_complete(&r, pool, &o);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(r->text, "ECHO: after a failed start");
    lingma_chat_result_free(r);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

static void
test_start_failure_is_reported(void **state)
{
    /* A binary that is not there: chats fail with ESPAWN/EUNAVAIL, the
     * stats carry the reason, and nothing hangs. */
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    lingma_chat_result *r = NULL;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    (void)state;

    rt_pool_options(&o, dir, NULL);
    o.binary = "/nonexistent/lingma";
    o.reconnect_max_attempts = 2;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    co.prompt = "x";
    int rc = lingma_chat_complete(&r, pool, &co);
    assert_true(rc == LINGMA_ESPAWN || rc == LINGMA_EUNAVAIL);
    assert_true(strlen(r->message) > 0);
    lingma_chat_result_free(r);
    lingma_pool_stats *s = NULL;
    assert_int_equal(lingma_pool_stats_get(&s, pool), 0);
    assert_true(strlen(s->instances[0].last_error) > 0);
    assert_false(s->instances[0].ready);
    lingma_pool_stats_free(s);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

struct pid_arg {
    long pid;
};

static int
pred_new_pid_ready(const lingma_instance_stats *s, void *arg)
{
    struct pid_arg *a = arg;
    return s->ready && s->pid > 0 && s->pid != a->pid && s->restarts >= 1;
}

static int
pred_not_ready(const lingma_instance_stats *s, void *arg)
{
    (void)arg;
    return !s->ready;
}

static void
test_reconnect_after_sigkill(void **state)
{
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, NULL);
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;
    lingma_pool_stats *s = NULL;
    struct pid_arg a;
    (void)state;

    o.prompt = "before";
    assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
    lingma_chat_result_free(r);
    assert_int_equal(lingma_pool_stats_get(&s, pool), 0);
    a.pid = s->instances[0].pid;
    lingma_pool_stats_free(s);
    assert_true(a.pid > 0);
    assert_int_equal(kill((pid_t)a.pid, SIGKILL), 0);

    /* The loss is noticed, then the child is respawned. */
    assert_int_equal(rt_wait_instance(pool, 0, pred_not_ready, NULL, 5000), 0);
    assert_int_equal(rt_wait_instance(pool, 0, pred_new_pid_ready, &a, 15000), 0);
    assert_false(rt_pid_alive(a.pid)); /* reaped: no zombie */
    o.prompt = "after";
    assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
    assert_string_equal(r->text, "ECHO: after");
    lingma_chat_result_free(r);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

static void
test_logged_out(void **state)
{
    /* The chat waits for the first start, then for the login check, which
     * says "logged out": it fails with EUNAVAIL, never reaching Lingma
     * (which would answer 401). */
    const char *env[] = {"LINGMA_SIM_FAULT=logged_out", NULL};
    struct rt_chat c;
    (void)state;
    chat_with(env, NULL, 0, &c);
    assert_int_equal(c.error, LINGMA_EUNAVAIL);
    assert_int_equal(c.started, 0);
    if (!strstr(c.message, "inst-0: not logged in"))
        fail_msg("message: %s", c.message);
    rt_chat_clear(&c);
}

#define BIG_PROMPT ((size_t)1 << 20)
#define BIG_CHATS  64

/* A Lingma that stops reading its socket (here: SIGSTOP) must not make the
 * send queue grow without bound: 64 MiB of chat/ask went into it before,
 * every chat waiting for its timeout. Past the cap a chat fails at once. */
static void
test_stalled_peer_bounds_the_send_queue(void **state)
{
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    lingma_pool_stats *s = NULL;
    static struct rt_chat c[BIG_CHATS];
    char *prompt = malloc(BIG_PROMPT + 1);
    (void)state;

    assert_non_null(prompt);
    memset(prompt, 'x', BIG_PROMPT);
    prompt[BIG_PROMPT] = '\0';
    /*
     * The refusal is CPU work: some 32 MiB of chat/ask built and queued
     * first. On a loaded machine (scripts/stress-test) that took more than
     * the 5 s this test once allowed, while the chats' own timeouts were
     * 10 s away. So the timeouts are far (120 s) and the wait long (60 s):
     * what must hold is that the last chat ends with the cap's error; without
     * the cap it would wait for its timeout, long after the wait gave up.
     */
    rt_pool_options(&o, dir, NULL);
    o.rpc_timeout_ms = 120000;
    o.chat_timeout_ms = 120000;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    /* Serving, not only ready: stopped before its login answer, Lingma
     * would keep the chats waiting instead of taking their prompts. */
    rt_wait_ready(pool, 1, 15000);
    assert_int_equal(lingma_pool_stats_get(&s, pool), 0);
    pid_t pid = (pid_t)s->instances[0].pid;
    lingma_pool_stats_free(s);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);

    for (int i = 0; i < BIG_CHATS; i++) {
        rt_chat_init(&c[i]);
        assert_int_equal(rt_chat_start(&c[i], pool, prompt, NULL), 0);
    }
    /*
     * The chats past the cap end at once with a clear error, long before
     * their timeout. Which ones is timing: refusals come in the order the
     * chats are sent, but one may still slip in below the cap whenever the
     * loop takes the next queued frame into its write buffer (as the
     * kernel's socket buffers take the first ones), and a last chat sent
     * that way waits for its timeout (once in about 20 TSan runs). How many
     * is not: each chat queues 2 MiB, and at most the cap, the socket
     * buffers (tcp_wmem + tcp_rmem maxima, 36 MiB here) and two frames in
     * flight fit, so at least 28 of the 64 are refused.
     */
    int refused = 0;
    long long deadline = rt_now_ms() + 60000;
    for (;;) {
        refused = 0;
        for (int i = 0; i < BIG_CHATS; i++)
            refused += rt_chat_ended_with(&c[i], LINGMA_EIO, "not reading");
        if (refused >= BIG_CHATS / 4 || rt_now_ms() >= deadline)
            break;
        /* A bounded wait on the last chat: it returns early if that one
         * is refused, and the count is taken again either way. */
        (void)rt_chat_wait(&c[BIG_CHATS - 1], 200);
    }
    kill(pid, SIGCONT);
    lingma_pool_free(pool);
    for (int i = 0; i < BIG_CHATS; i++) {
        assert_int_equal(c[i].terminals, 1);
        rt_chat_clear(&c[i]);
    }
    free(prompt);
    rt_rmdir(dir);
    if (refused < BIG_CHATS / 4)
        fail_msg("%d of %d chats were refused for the full send queue", refused, BIG_CHATS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finish_codes),
        cmocka_unit_test(test_rpc_error),
        cmocka_unit_test(test_drop_mid_stream),
        cmocka_unit_test(test_crash_mid_stream),
        cmocka_unit_test(test_hang_chat_timeout),
        cmocka_unit_test(test_first_token_timeout),
        cmocka_unit_test(test_exit_at_start_then_retry),
        cmocka_unit_test(test_start_failure_is_reported),
        cmocka_unit_test(test_reconnect_after_sigkill),
        cmocka_unit_test(test_stalled_peer_bounds_the_send_queue),
        cmocka_unit_test(test_logged_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
