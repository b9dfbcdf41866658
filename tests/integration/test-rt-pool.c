/*
 * liblingma pool behaviour with several threads: 1,000 concurrent chats,
 * cancellation from another thread, pool free with chats in flight,
 * admission (queue timeout, synchronous rejection), N>1 routing, the
 * "Another chat is in progress" retry, and the instance calls.
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

#include "rt.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MANY 1000

static void
test_thousand_concurrent_chats(void **state)
{
    const char *env[] = {"LINGMA_SIM_CHUNKS=8", "LINGMA_SIM_ACK_WAIT_MS=0", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    static struct rt_chat chats[MANY];
    char prompt[64];
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = MANY;
    o.max_queue = LINGMA_ZERO;
    /* A thousand asks reach one simulator at once: under a sanitizer on a
     * busy machine the last is answered long after the first. This test
     * is about every chat completing, not about the RPC deadline. */
    o.rpc_timeout_ms = 60000;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    double t0 = now_s();
    for (int i = 0; i < MANY; i++) {
        rt_chat_init(&chats[i]);
        snprintf(prompt, sizeof(prompt), "concurrent question %d", i);
        assert_int_equal(rt_chat_start(&chats[i], pool, prompt, NULL), 0);
    }
    int done = 0, deltas = 0;
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(rt_chat_wait(&chats[i], 60000), 0);
        char want[64];
        snprintf(want, sizeof(want), "ECHO: concurrent question %d", i);
        rt_assert_done(&chats[i], i);
        /* Every delta accounted for: the concatenation is the answer. */
        assert_string_equal(chats[i].text, want);
        assert_string_equal(chats[i].done_text, want);
        assert_int_equal(chats[i].terminals, 1);
        assert_true(chats[i].order_ok);
        done++;
        deltas += chats[i].deltas;
    }
    double t1 = now_s();
    fprintf(stderr, "# %d concurrent chats on one instance: %.3f s, %d deltas\n", MANY, t1 - t0,
            deltas);
    lingma_pool_stats *s = rt_pool_stats(pool);
    assert_int_equal(s->in_flight, 0);
    assert_int_equal(s->accepted_total, MANY);
    assert_int_equal(s->instances[0].in_flight, 0);
    lingma_pool_stats_free(s);
    lingma_pool_free(pool);
    for (int i = 0; i < MANY; i++)
        rt_chat_clear(&chats[i]);
    assert_int_equal(done, MANY);
    rt_rmdir(dir);
}

struct canceller {
    lingma_pool *pool;
    lingma_chat_id id;
    int rc;
};

static void *
cancel_thread(void *arg)
{
    struct canceller *k = arg;
    k->rc = lingma_chat_cancel(k->pool, k->id);
    return NULL;
}

static void
test_cancel_from_another_thread(void **state)
{
    const char *env[] = {"LINGMA_SIM_CHUNKS=50", "LINGMA_SIM_CHUNK_MS=50", NULL};
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, env);
    struct rt_chat c;
    struct canceller k;
    pthread_t th;
    (void)state;

    rt_chat_init(&c);
    assert_int_equal(rt_chat_start(&c, pool, "long answer", NULL), 0);
    assert_int_equal(rt_chat_wait_started(&c, 10000), 0);
    k.pool = pool;
    k.id = c.id;
    assert_int_equal(pthread_create(&th, NULL, cancel_thread, &k), 0);
    pthread_join(th, NULL);
    assert_int_equal(k.rc, 0);
    assert_int_equal(rt_chat_wait(&c, 5000), 0);
    assert_int_equal(c.error, LINGMA_ECANCELED);
    assert_false(c.done);
    /* Cancelling a finished chat: not found. */
    assert_int_equal(lingma_chat_cancel(pool, c.id), LINGMA_ENOTFOUND);
    /* chat/stop reached the simulator: a chat afterwards proves the stop
     * was written before it on the same connection. */
    lingma_chat_result *r = NULL;
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    o.prompt = "after cancel";
    const char *short_env_unused = NULL;
    (void)short_env_unused;
    assert_int_equal(lingma_chat_complete(&r, pool, &o), 0);
    lingma_chat_result_free(r);
    long stops = rt_sim_status(dir, "stops_received");
    assert_true(stops >= 1);
    lingma_pool_free(pool);
    rt_chat_clear(&c);
    rt_rmdir(dir);
}

static void
test_cancel_queued_chat(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=hang", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct rt_chat a, b;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_admission adm;
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = 1;
    o.max_queue = 4;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_chat_init(&a);
    rt_chat_init(&b);
    assert_int_equal(rt_chat_start(&a, pool, "occupies the slot", NULL), 0);
    co.prompt = "queued";
    assert_int_equal(rt_chat_start_opts(&b, &adm, pool, &co), 0);
    assert_true(adm.queued);
    rt_cancel_expect(pool, &b, LINGMA_ECANCELED);
    assert_int_equal(b.started, 0); /* it never reached Lingma */
    rt_cancel_expect(pool, &a, LINGMA_ECANCELED);
    lingma_pool_free(pool);
    rt_chat_clear(&a);
    rt_chat_clear(&b);
    rt_rmdir(dir);
}

struct late_start {
    struct rt_chat q, b;
    lingma_pool *pool;
};

/* Q's terminal callback posts B (queued), then holds the service thread
 * past B's queue timeout. */
static void
late_start_cb(const lingma_chat_event *ev, void *payload)
{
    struct late_start *ls = payload;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;

    rt_on_event(ev, &ls->q);
    if (ev->type != LINGMA_CHAT_ERROR)
        return;
    co.prompt = "posted late";
    assert_int_equal(rt_chat_start_opts(&ls->b, NULL, ls->pool, &co), 0);
    struct timespec ts = {0, 800 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* A queued chat that expires before the service thread took it from the
 * start list: the queue timer freed it while it was still listed, and the
 * next wake-up read the freed chat. It must end once, with LINGMA_EBUSY. */
static void
test_queue_timeout_before_the_start_was_seen(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=hang", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    struct rt_chat a;
    static struct late_start ls;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = 1;
    o.max_queue = 4;
    o.queue_timeout_ms = 400;
    assert_int_equal(lingma_pool_new(&ls.pool, &o), 0);
    rt_chat_init(&a);
    rt_chat_init(&ls.q);
    rt_chat_init(&ls.b);
    assert_int_equal(rt_chat_start(&a, ls.pool, "occupies the slot", NULL), 0);
    co.prompt = "queued";
    co.on_event = late_start_cb;
    co.payload = &ls;
    pthread_mutex_lock(&ls.q.mu);
    assert_int_equal(lingma_chat_start(&ls.q.id, NULL, ls.pool, &co), 0);
    pthread_mutex_unlock(&ls.q.mu);
    assert_int_equal(lingma_chat_cancel(ls.pool, ls.q.id), 0);
    assert_int_equal(rt_chat_wait(&ls.q, 5000), 0);
    assert_int_equal(rt_chat_wait(&ls.b, 5000), 0);
    assert_int_equal(ls.b.error, LINGMA_EBUSY);
    assert_int_equal(lingma_chat_cancel(ls.pool, a.id), 0);
    assert_int_equal(rt_chat_wait(&a, 5000), 0);
    lingma_pool_free(ls.pool);
    assert_int_equal(ls.b.terminals, 1);
    assert_true(ls.b.order_ok);
    rt_chat_clear(&a);
    rt_chat_clear(&ls.q);
    rt_chat_clear(&ls.b);
    rt_rmdir(dir);
}

static void
test_free_with_chats_in_flight(void **state)
{
    const char *env[] = {"LINGMA_SIM_CHUNKS=100", "LINGMA_SIM_CHUNK_MS=100", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct rt_chat c[20];
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = 10; /* ten run, ten wait in the queue */
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_chats_start(c, 20, pool, "slow");
    assert_int_equal(rt_chat_wait_started(&c[0], 10000), 0);
    lingma_pool_stats *s = rt_pool_stats(pool);
    long pid = s->instances[0].pid;
    lingma_pool_stats_free(s);
    assert_true(pid > 0);
    lingma_pool_free(pool);
    for (int i = 0; i < 20; i++) {
        /* Exactly one terminal event each, delivered before free returned. */
        assert_int_equal(c[i].terminals, 1);
        assert_int_equal(c[i].error, LINGMA_ECLOSED);
        assert_true(c[i].order_ok);
        rt_chat_clear(&c[i]);
    }
    assert_false(rt_pid_alive(pid)); /* stopped and reaped */
    rt_rmdir(dir);
}

static void
test_queue_timeout_and_rejection(void **state)
{
    const char *env[] = {"LINGMA_SIM_FAULT=hang", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct rt_chat a, b;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_admission adm;
    lingma_chat_id id;
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = 1;
    o.max_queue = 1;
    o.queue_timeout_ms = 300;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_chat_init(&a);
    rt_chat_init(&b);
    assert_int_equal(rt_chat_start(&a, pool, "hangs", NULL), 0);
    assert_int_equal(rt_chat_start(&b, pool, "waits", NULL), 0);
    /* Slot and queue full: rejected at once, with a hint. */
    co.prompt = "rejected";
    co.on_event = rt_on_event;
    co.payload = NULL;
    assert_int_equal(lingma_chat_start(&id, &adm, pool, &co), LINGMA_EBUSY);
    assert_true(adm.retry_after_ms > 0);
    /* The queued one times out with a terminal EBUSY event. */
    assert_int_equal(rt_chat_wait(&b, 5000), 0);
    assert_int_equal(b.error, LINGMA_EBUSY);
    assert_true(b.retry_after_ms > 0);
    lingma_pool_stats *s = rt_pool_stats(pool);
    assert_int_equal(s->rejected_total, 2);
    assert_int_equal(s->in_flight, 1);
    assert_int_equal(s->max_in_flight, 1);
    lingma_pool_stats_free(s);
    lingma_pool_free(pool);
    assert_int_equal(a.error, LINGMA_ECLOSED);
    rt_chat_clear(&a);
    rt_chat_clear(&b);
    rt_rmdir(dir);
}

static void
test_two_instances(void **state)
{
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    lingma_account acc[2] = {{"alice", "pw-a"}, {"bob", "pw-b"}};
    struct rt_chat c[16];
    (void)state;

    rt_pool_options(&o, dir, NULL);
    o.accounts = acc;
    o.account_count = 2; /* two instances: inst-0 and inst-1 */
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    assert_int_equal(lingma_pool_instance_count(pool), 2);
    assert_int_equal(lingma_pool_find_instance(pool, "inst-1"), 1);
    assert_int_equal(lingma_pool_find_instance(pool, "inst-2"), LINGMA_ENOTFOUND);
    rt_wait_ready(pool, 2, 15000);
    int on[2] = {0, 0};
    rt_chats_start(c, 16, pool, "spread");
    for (int i = 0; i < 16; i++) {
        assert_int_equal(rt_chat_wait(&c[i], 20000), 0);
        assert_true(c[i].done);
        on[strcmp(c[i].instance, "inst-1") == 0]++;
        rt_chat_clear(&c[i]);
    }
    assert_true(on[0] > 0 && on[1] > 0); /* least-in-flight spreads them */

    /* Sticky affinity: one key, one instance. */
    char first[32] = "";
    for (int i = 0; i < 6; i++) {
        lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
        lingma_chat_result *r = NULL;
        co.prompt = "sticky";
        co.affinity_key = "user-42";
        assert_int_equal(lingma_chat_complete(&r, pool, &co), 0);
        if (!first[0])
            snprintf(first, sizeof(first), "%s", r->instance);
        assert_string_equal(r->instance, first);
        lingma_chat_result_free(r);
    }

    lingma_pool_stats *s = rt_pool_stats(pool);
    assert_int_equal(s->ready, 2);
    assert_string_equal(s->instances[0].name, "inst-0");
    assert_string_equal(s->instances[1].username, "bob");
    assert_true(s->instances[0].port != s->instances[1].port);
    assert_true(s->instances[0].pid > 0 && s->instances[1].pid > 0);
    lingma_pool_stats_free(s);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

static void
test_one_chat_per_connection_retry(void **state)
{
    const char *env[] = {"LINGMA_SIM_ONE_CHAT_PER_CONNECTION=1", "LINGMA_SIM_CHUNK_MS=20", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct rt_chat c[6];
    (void)state;

    rt_pool_options(&o, dir, env);
    o.connections_per_instance = 2;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_chats_start(c, 6, pool, "one at a time");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rt_chat_wait(&c[i], 30000), 0);
        /* The -32602 refusals were retried, never shown. */
        rt_assert_done(&c[i], i);
        assert_string_equal(c[i].text, "ECHO: one at a time");
        rt_chat_clear(&c[i]);
    }
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

/* A chat refused with "Another chat is in progress" and retried keeps its
 * whole-chat deadline: the retry used to cancel the timer without arming it
 * again, so the chat ran (or hung) for as long as Lingma liked. */
static void
test_retried_chat_keeps_its_deadline(void **state)
{
    const char *env[] = {"LINGMA_SIM_ONE_CHAT_PER_CONNECTION=1", "LINGMA_SIM_CHUNKS=8",
                         "LINGMA_SIM_CHUNK_MS=300", NULL};
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, env);
    struct rt_chat a, b;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    (void)state;

    assert_int_equal(rt_wait_instance(pool, 0, rt_pred_ready, NULL, 15000), 0);
    rt_chat_init(&a);
    rt_chat_init(&b);
    /* A holds the only connection for about 2.4 s. */
    assert_int_equal(rt_chat_start(&a, pool, "slow one", NULL), 0);
    assert_int_equal(rt_chat_wait_started(&a, 10000), 0);
    /* B is refused, retried, and waits for A: its 800 ms run out first. */
    co.prompt = "impatient";
    co.timeout_ms = 800;
    assert_int_equal(rt_chat_start_opts(&b, NULL, pool, &co), 0);
    double t0 = now_s();
    assert_int_equal(rt_chat_wait(&b, 10000), 0);
    double took = now_s() - t0;
    if (b.error != LINGMA_ETIMEDOUT || took > 1.6)
        fail_msg("chat B: %s after %.2f s (%s)", b.done ? "done" : lingma_error_name(b.error), took,
                 b.message);
    assert_int_equal(rt_chat_wait(&a, 10000), 0);
    assert_true(a.done);
    rt_chat_clear(&a);
    rt_chat_clear(&b);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

static void
test_instance_calls(void **state)
{
    char *dir = rt_tempdir();
    lingma_pool *pool = rt_pool_new(dir, NULL);
    lingma_auth_info ai;
    lingma_model_list *ml = NULL;
    char *s = NULL;
    (void)state;

    assert_int_equal(rt_wait_instance(pool, 0, rt_pred_ready, NULL, 15000), 0);
    assert_int_equal(lingma_instance_auth_status_sync(&ai, pool, 0), 0);
    assert_int_equal(ai.status, 2);
    assert_true(ai.logged_in);
    lingma_auth_info_clear(&ai);

    assert_int_equal(lingma_instance_models_sync(&ml, pool, 0), 0);
    int reasoning = 0, found = 0;
    for (size_t i = 0; i < ml->count; i++) {
        reasoning |= ml->models[i].reasoning;
        found |= strcmp(ml->models[i].key, "dashscope_qwen3_coder") == 0;
    }
    assert_true(reasoning && found);
    lingma_model_list_free(ml);

    assert_int_equal(lingma_instance_update_endpoint_sync(&s, pool, 0, "https://e.example"), 0);
    lingma_free(s);
    assert_int_equal(lingma_instance_get_endpoint_sync(&s, pool, 0), 0);
    assert_string_equal(s, "https://e.example");
    lingma_free(s);
    assert_int_equal(lingma_instance_login_url_sync(&s, pool, 0), 0);
    assert_non_null(strstr(s, "state="));
    lingma_free(s);
    assert_int_equal(lingma_instance_login_url_sync(&s, pool, 5), LINGMA_ENOTFOUND);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

/* A callback that starts the next chat: allowed (DESIGN rule 3). */
struct chain {
    lingma_pool *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int remaining;
    int failures;
};

static void
chain_cb(const lingma_chat_event *ev, void *payload)
{
    struct chain *ch = payload;
    if (ev->type != LINGMA_CHAT_DONE && ev->type != LINGMA_CHAT_ERROR)
        return;
    pthread_mutex_lock(&ch->mu);
    if (ev->type == LINGMA_CHAT_ERROR)
        ch->failures++;
    int more = --ch->remaining > 0;
    pthread_mutex_unlock(&ch->mu);
    if (more) {
        lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
        lingma_chat_id id;
        lingma_chat_result *r = NULL;
        o.prompt = "chained";
        o.on_event = chain_cb;
        o.payload = ch;
        /* Blocking calls are refused on the service thread. */
        if (lingma_chat_complete(&r, ch->pool, &o) != LINGMA_EINVAL)
            ch->failures++;
        if (lingma_chat_start(&id, NULL, ch->pool, &o) != 0)
            ch->failures++;
        return;
    }
    pthread_mutex_lock(&ch->mu);
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->mu);
}

static void
test_start_from_callback(void **state)
{
    char *dir = rt_tempdir();
    struct chain ch;
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_id id;
    struct timespec ts;
    (void)state;

    ch.pool = rt_pool_new(dir, NULL);
    pthread_mutex_init(&ch.mu, NULL);
    pthread_cond_init(&ch.cv, NULL);
    ch.remaining = 5;
    ch.failures = 0;
    o.prompt = "chained";
    o.on_event = chain_cb;
    o.payload = &ch;
    assert_int_equal(lingma_chat_start(&id, NULL, ch.pool, &o), 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&ch.mu);
    while (ch.remaining > 0)
        if (pthread_cond_timedwait(&ch.cv, &ch.mu, &ts) != 0)
            break;
    int remaining = ch.remaining, failures = ch.failures;
    pthread_mutex_unlock(&ch.mu);
    lingma_pool_free(ch.pool);
    assert_int_equal(remaining, 0);
    assert_int_equal(failures, 0);
    pthread_cond_destroy(&ch.cv);
    pthread_mutex_destroy(&ch.mu);
    rt_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_concurrent_chats),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_cancel_queued_chat),
        cmocka_unit_test(test_queue_timeout_before_the_start_was_seen),
        cmocka_unit_test(test_free_with_chats_in_flight),
        cmocka_unit_test(test_queue_timeout_and_rejection),
        cmocka_unit_test(test_two_instances),
        cmocka_unit_test(test_one_chat_per_connection_retry),
        cmocka_unit_test(test_retried_chat_keeps_its_deadline),
        cmocka_unit_test(test_instance_calls),
        cmocka_unit_test(test_start_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
