/*
 * Pool behaviour under load against real lingma-sim processes: sticky
 * affinity across 100 chats on three instances, failover when one of two
 * instances is SIGKILLed mid-load, admission under overload (exact counts,
 * queue timeouts, the retry-after hint), and the admission slot released on
 * every path a chat can end by, proven by the counters returning to zero
 * and, for pool free, by a counting allocator returning to zero blocks.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>

#include <cmocka.h>

#include "rt.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Start a chat recording into `c`; `admit` may be NULL. */
static int
start_chat(struct rt_chat *c, lingma_chat_admission *admit, lingma_pool *pool, const char *prompt,
           const char *affinity, unsigned timeout_ms)
{
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    o.prompt = prompt;
    o.affinity_key = affinity;
    o.timeout_ms = timeout_ms;
    return rt_chat_start_opts(c, admit, pool, &o);
}

static void
clear_chats(struct rt_chat *c, int n)
{
    for (int i = 0; i < n; i++)
        rt_chat_clear(&c[i]);
}

/* Stats have no notifications: a bounded poll until nothing is admitted,
 * queued or assigned to an instance. 0 ok, -1 timed out. */
static int
wait_idle(lingma_pool *pool, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        lingma_pool_stats *s = rt_pool_stats(pool);
        int idle = s->in_flight == 0 && s->queued == 0;
        for (size_t i = 0; i < s->instance_count; i++)
            idle = idle && s->instances[i].in_flight == 0;
        lingma_pool_stats_free(s);
        if (idle)
            return 0;
        nap_ms(10);
    }
    return -1;
}

static void
stats_counts(lingma_pool *pool, unsigned *in_flight, unsigned *queued, uint64_t *accepted,
             uint64_t *rejected)
{
    lingma_pool_stats *s = rt_pool_stats(pool);
    *in_flight = s->in_flight;
    *queued = s->queued;
    *accepted = s->accepted_total;
    *rejected = s->rejected_total;
    lingma_pool_stats_free(s);
}

static long
instance_pid(lingma_pool *pool, size_t i, unsigned *restarts)
{
    lingma_pool_stats *s = rt_pool_stats(pool);
    long pid = s->instances[i].pid;
    if (restarts)
        *restarts = s->instances[i].restarts;
    lingma_pool_stats_free(s);
    return pid;
}

static int
pred_respawned(const lingma_instance_stats *s, void *arg)
{
    return s->ready && s->pid > 0 && s->pid != *(const long *)arg;
}

/* ---- affinity ---- */

#define STICKY_CHATS 100
#define STICKY_KEYS  10

static void
test_affinity_sticky(void **state)
{
    const char *env[] = {"LINGMA_SIM_CHUNKS=4", "LINGMA_SIM_CHUNK_MS=10", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    static struct rt_chat c[STICKY_CHATS];
    char key[STICKY_KEYS][16], where[STICKY_KEYS][32];
    int used[3] = {0, 0, 0};
    (void)state;

    rt_pool_options(&o, dir, env);
    o.instances = 3;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_wait_ready(pool, 3, 15000);
    /* All at once: without affinity, least-in-flight would spread each key
     * over every instance. */
    for (int i = 0; i < STICKY_CHATS; i++) {
        int k = i % STICKY_KEYS;
        snprintf(key[k], sizeof(key[k]), "user-%d", k);
        rt_chat_init(&c[i]);
        assert_int_equal(start_chat(&c[i], NULL, pool, "sticky", key[k], 0), 0);
    }
    memset(where, 0, sizeof(where));
    for (int i = 0; i < STICKY_CHATS; i++) {
        int k = i % STICKY_KEYS;
        assert_int_equal(rt_chat_wait(&c[i], 30000), 0);
        rt_assert_done(&c[i], i);
        if (!where[k][0]) {
            snprintf(where[k], sizeof(where[k]), "%s", c[i].instance);
            used[c[i].instance[5] - '0']++;
        }
        if (strcmp(where[k], c[i].instance) != 0)
            fail_msg("key %s went to %s and to %s", key[k], where[k], c[i].instance);
        rt_chat_clear(&c[i]);
    }
    /* Ten keys do not all hash to one instance (rendezvous is fixed by the
     * names, so this is deterministic, not luck). */
    assert_true((used[0] > 0) + (used[1] > 0) + (used[2] > 0) >= 2);
    assert_int_equal(wait_idle(pool, 5000), 0);
    lingma_pool_free(pool);
    rt_rmdir(dir);
}

/* ---- failover ---- */

#define LOAD 50

static void
test_failover_sigkill(void **state)
{
    const char *env[] = {"LINGMA_SIM_CHUNKS=20", "LINGMA_SIM_CHUNK_MS=100", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    static struct rt_chat c[LOAD], after[6], again[10];
    int on0 = 0, on1 = 0;
    unsigned restarts0 = 0, restarts1 = 0;
    (void)state;

    rt_pool_options(&o, dir, env);
    o.instances = 2;
    /* A visible outage: the respawn waits 1 s, so chats started in between
     * can only go to the survivor. */
    o.reconnect_initial_ms = 1000;
    o.reconnect_max_ms = 1000;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    rt_wait_ready(pool, 2, 15000);
    rt_chats_start(c, LOAD, pool, "under load");
    for (int i = 0; i < LOAD; i++) {
        assert_int_equal(rt_chat_wait_started(&c[i], 15000), 0);
        assert_true(c[i].started);
        if (strcmp(c[i].instance, "inst-0") == 0)
            on0++;
        else
            on1++;
    }
    assert_true(on0 > 0 && on1 > 0);
    long pid0 = instance_pid(pool, 0, &restarts0);
    long pid1 = instance_pid(pool, 1, &restarts1);
    assert_true(pid0 > 0);

    double t0 = now_s();
    assert_int_equal(kill((pid_t)pid0, SIGKILL), 0);
    double worst = 0;
    for (int i = 0; i < LOAD; i++) {
        if (strcmp(c[i].instance, "inst-0") != 0)
            continue;
        /* Promptly: far below the 30 s chat timeout. */
        assert_int_equal(rt_chat_wait(&c[i], 3000), 0);
        double t = now_s() - t0;
        worst = t > worst ? t : worst;
        assert_false(c[i].done); /* no silent truncation */
        assert_int_equal(c[i].error, LINGMA_EIO);
        assert_int_equal(c[i].terminals, 1);
    }
    fprintf(stderr, "# SIGKILL: %d chats on inst-0 failed within %.0f ms\n", on0, worst * 1000);
    assert_true(worst < 2.0);

    /* While inst-0 is down, new chats go to inst-1. */
    lingma_pool_stats *s = rt_pool_stats(pool);
    assert_false(s->instances[0].ready);
    lingma_pool_stats_free(s);
    rt_chats_start(after, 6, pool, "rerouted");
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rt_chat_wait_started(&after[i], 5000), 0);
        assert_string_equal(after[i].instance, "inst-1");
    }

    /* The survivor's chats finish normally. */
    for (int i = 0; i < LOAD; i++) {
        if (strcmp(c[i].instance, "inst-1") != 0)
            continue;
        assert_int_equal(rt_chat_wait(&c[i], 15000), 0);
        if (!c[i].done)
            fail_msg("chat %d on inst-1: %s %s", i, lingma_error_name(c[i].error), c[i].message);
    }

    /* inst-0 is respawned (a new pid, one more restart) and serves again. */
    assert_int_equal(rt_wait_instance(pool, 0, pred_respawned, &pid0, 15000), 0);
    unsigned restarts_now = 0;
    long pid0b = instance_pid(pool, 0, &restarts_now);
    assert_true(pid0b != pid0);
    assert_int_equal(restarts_now, restarts0 + 1);
    assert_int_equal(instance_pid(pool, 1, NULL), pid1); /* the survivor was left alone */
    int back = 0;
    rt_chats_start(again, 10, pool, "back again");
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rt_chat_wait(&again[i], 15000), 0);
        rt_assert_done(&again[i], i);
        back += strcmp(again[i].instance, "inst-0") == 0;
    }
    assert_true(back > 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rt_chat_wait(&after[i], 15000), 0);
        assert_true(after[i].done);
    }
    assert_int_equal(wait_idle(pool, 5000), 0);
    lingma_pool_free(pool);
    clear_chats(c, LOAD);
    clear_chats(after, 6);
    clear_chats(again, 10);
    rt_rmdir(dir);
}

/* ---- admission ---- */

#define BURST 20

struct burst {
    struct rt_chat c[BURST];
    int rc[BURST];
    lingma_chat_admission adm[BURST];
    int admitted, queued, rejected;
};

static void
fire_burst(struct burst *b, lingma_pool *pool)
{
    memset(b, 0, sizeof(*b));
    for (int i = 0; i < BURST; i++) {
        rt_chat_init(&b->c[i]);
        b->rc[i] = start_chat(&b->c[i], &b->adm[i], pool, "overload", NULL, 0);
        if (b->rc[i] == LINGMA_EBUSY) {
            b->rejected++;
            /* The hint: never below 1 s. */
            assert_true(b->adm[i].retry_after_ms >= 1000);
        } else {
            assert_int_equal(b->rc[i], 0);
            if (b->adm[i].queued)
                b->queued++;
            else
                b->admitted++;
        }
    }
}

static void
test_admission_overload(void **state)
{
    const char *env[] = {"LINGMA_SIM_CHUNKS=10", "LINGMA_SIM_CHUNK_MS=50", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    static struct burst b;
    unsigned in_flight, queued;
    uint64_t accepted, rejected;
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = 4;
    o.max_queue = 4;
    o.queue_timeout_ms = 30000;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    fire_burst(&b, pool);
    assert_int_equal(b.admitted, 4);
    assert_int_equal(b.queued, 4);
    assert_int_equal(b.rejected, 12);
    stats_counts(pool, &in_flight, &queued, &accepted, &rejected);
    assert_int_equal(in_flight, 4);
    assert_int_equal(queued, 4);
    assert_int_equal(accepted, 4);
    assert_int_equal(rejected, 12);
    /* The queued ones get slots as the first ones finish; all succeed. */
    for (int i = 0; i < BURST; i++) {
        if (b.rc[i] != 0)
            continue;
        assert_int_equal(rt_chat_wait(&b.c[i], 20000), 0);
        rt_assert_done(&b.c[i], i);
        assert_int_equal(b.c[i].terminals, 1);
    }
    assert_int_equal(wait_idle(pool, 5000), 0);
    stats_counts(pool, &in_flight, &queued, &accepted, &rejected);
    assert_int_equal(accepted, 8);
    assert_int_equal(rejected, 12);
    lingma_pool_free(pool);
    for (int i = 0; i < BURST; i++) {
        /* A rejected start fires no event at all. */
        if (b.rc[i] != 0)
            assert_int_equal(b.c[i].terminals + b.c[i].started, 0);
        rt_chat_clear(&b.c[i]);
    }
    rt_rmdir(dir);
}

static void
test_admission_queue_timeout(void **state)
{
    /* The admitted chats never get a token: the queue cannot move. */
    const char *env[] = {"LINGMA_SIM_FIRST_TOKEN_MS=60000", NULL};
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    static struct burst b;
    unsigned in_flight, queued;
    uint64_t accepted, rejected;
    (void)state;

    rt_pool_options(&o, dir, env);
    o.max_in_flight = 4;
    o.max_queue = 4;
    o.queue_timeout_ms = 300;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    double t0 = now_s();
    fire_burst(&b, pool);
    assert_int_equal(b.admitted, 4);
    assert_int_equal(b.queued, 4);
    assert_int_equal(b.rejected, 12);
    for (int i = 0; i < BURST; i++) {
        if (b.rc[i] != 0 || !b.adm[i].queued)
            continue;
        /* A terminal EBUSY after the queue timeout, with the hint; it never
         * reached Lingma. */
        assert_int_equal(rt_chat_wait(&b.c[i], 5000), 0);
        assert_int_equal(b.c[i].error, LINGMA_EBUSY);
        assert_true(b.c[i].retry_after_ms >= 1000);
        assert_int_equal(b.c[i].started, 0);
    }
    double took = now_s() - t0;
    assert_true(took >= 0.29 && took < 3.0);
    stats_counts(pool, &in_flight, &queued, &accepted, &rejected);
    assert_int_equal(in_flight, 4);
    assert_int_equal(queued, 0);
    assert_int_equal(accepted, 4);
    assert_int_equal(rejected, 16); /* 12 at once + 4 queue timeouts */
    for (int i = 0; i < BURST; i++)
        if (b.rc[i] == 0 && !b.adm[i].queued)
            assert_int_equal(lingma_chat_cancel(pool, b.c[i].id), 0);
    assert_int_equal(wait_idle(pool, 5000), 0);
    lingma_pool_free(pool);
    clear_chats(b.c, BURST);
    rt_rmdir(dir);
}

/* ---- slot release on every path ---- */

static int
pred_instance_busy(const lingma_instance_stats *s, void *arg)
{
    return s->in_flight == *(const unsigned *)arg;
}

static void
one_chat(lingma_pool *pool, struct rt_chat *c, unsigned timeout_ms)
{
    rt_chat_init(c);
    assert_int_equal(start_chat(c, NULL, pool, "slot", NULL, timeout_ms), 0);
}

/* Free an ended chat's record; its slot must be released (the pool idles). */
static void
clear_and_wait_idle(lingma_pool *pool, struct rt_chat *c)
{
    rt_chat_clear(c);
    assert_int_equal(wait_idle(pool, 5000), 0);
}

struct counting_alloc {
    pthread_mutex_t mu;
    long live;
};

static void *
ca_malloc(size_t n, void *payload)
{
    struct counting_alloc *a = payload;
    void *p = malloc(n);
    pthread_mutex_lock(&a->mu);
    a->live += p != NULL;
    pthread_mutex_unlock(&a->mu);
    return p;
}

static void *
ca_realloc(void *ptr, size_t n, void *payload)
{
    struct counting_alloc *a = payload;
    void *p = realloc(ptr, n);
    pthread_mutex_lock(&a->mu);
    a->live += !ptr && p;
    pthread_mutex_unlock(&a->mu);
    return p;
}

static void
ca_free(void *ptr, void *payload)
{
    struct counting_alloc *a = payload;
    pthread_mutex_lock(&a->mu);
    a->live -= ptr != NULL;
    pthread_mutex_unlock(&a->mu);
    free(ptr);
}

static void
test_slot_release_every_path(void **state)
{
    char *dir = rt_tempdir();
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct rt_chat a, b, q;
    struct counting_alloc ca = {PTHREAD_MUTEX_INITIALIZER, 0};
    lingma_allocator alloc = {ca_malloc, ca_realloc, ca_free, &ca};
    (void)state;

    rt_pool_options(&o, dir, NULL);
    o.max_in_flight = 2;
    o.max_queue = 2;
    o.queue_timeout_ms = 300;
    o.reconnect_initial_ms = 100;
    o.alloc = &alloc;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);

    /* done */
    one_chat(pool, &a, 0);
    assert_int_equal(rt_chat_wait(&a, 10000), 0);
    assert_true(a.done);
    clear_and_wait_idle(pool, &a);

    /* upstream error (chat/finish with status 500) */
    rt_sim_json(dir, "{\"fault\":\"finish:500\"}");
    one_chat(pool, &a, 0);
    assert_int_equal(rt_chat_wait(&a, 10000), 0);
    assert_int_equal(a.error, LINGMA_EUPSTREAM);
    assert_int_equal(a.status_code, 500);
    clear_and_wait_idle(pool, &a);

    /* From here on, chats are accepted and then never answered. */
    rt_sim_json(dir, "{\"first_token_ms\":60000}");

    /* cancel, running */
    one_chat(pool, &a, 0);
    assert_int_equal(rt_chat_wait_started(&a, 10000), 0);
    rt_cancel_expect(pool, &a, LINGMA_ECANCELED);
    clear_and_wait_idle(pool, &a);

    /* chat timeout */
    one_chat(pool, &a, 300);
    assert_int_equal(rt_chat_wait(&a, 5000), 0);
    assert_int_equal(a.error, LINGMA_ETIMEDOUT);
    clear_and_wait_idle(pool, &a);

    /* queued: cancelled, then timed out */
    one_chat(pool, &a, 0);
    one_chat(pool, &b, 0);
    one_chat(pool, &q, 0); /* the third waits: max_in_flight is 2 */
    rt_cancel_expect(pool, &q, LINGMA_ECANCELED);
    assert_int_equal(q.started, 0);
    rt_chat_clear(&q);
    one_chat(pool, &q, 0);
    assert_int_equal(rt_chat_wait(&q, 5000), 0);
    assert_int_equal(q.error, LINGMA_EBUSY);
    rt_chat_clear(&q);
    unsigned in_flight, queued;
    uint64_t accepted, rejected;
    stats_counts(pool, &in_flight, &queued, &accepted, &rejected);
    assert_int_equal(in_flight, 2);
    assert_int_equal(queued, 0);

    /* instance loss: both running chats end with EIO when Lingma dies */
    assert_int_equal(rt_chat_wait_started(&a, 10000), 0);
    assert_int_equal(rt_chat_wait_started(&b, 10000), 0);
    long pid = instance_pid(pool, 0, NULL);
    assert_true(pid > 0);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    assert_int_equal(rt_chat_wait(&a, 5000), 0);
    assert_int_equal(rt_chat_wait(&b, 5000), 0);
    assert_int_equal(a.error, LINGMA_EIO);
    assert_int_equal(b.error, LINGMA_EIO);
    rt_chat_clear(&a);
    rt_chat_clear(&b);
    assert_int_equal(wait_idle(pool, 5000), 0);

    /* pool free with one chat running and one queued: both end, and every
     * block the pool allocated (chats, slots, instances) is returned. */
    assert_int_equal(rt_wait_instance(pool, 0, pred_respawned, &pid, 15000), 0);
    one_chat(pool, &a, 0);
    one_chat(pool, &b, 0);
    unsigned two = 2;
    assert_int_equal(rt_wait_instance(pool, 0, pred_instance_busy, &two, 5000), 0);
    one_chat(pool, &q, 0);
    lingma_pool_free(pool);
    assert_int_equal(a.terminals, 1);
    assert_int_equal(b.terminals, 1);
    assert_int_equal(q.terminals, 1);
    assert_int_equal(a.error, LINGMA_ECLOSED);
    assert_int_equal(q.error, LINGMA_ECLOSED);
    assert_int_equal(ca.live, 0);
    rt_chat_clear(&a);
    rt_chat_clear(&b);
    rt_chat_clear(&q);
    rt_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_affinity_sticky),
        cmocka_unit_test(test_failover_sigkill),
        cmocka_unit_test(test_admission_overload),
        cmocka_unit_test(test_admission_queue_timeout),
        cmocka_unit_test(test_slot_release_every_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
