/*
 * Unit tests of responses_store.c: the bounds (count, bytes, TTL), LRU
 * order, chains, and concurrent use from several threads (the TSan job
 * runs this file). Time is a fake clock.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"

#include "responses_store.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void *payload)
{
    (void)payload;
    return fake_now;
}

static gw_resp_store *
store_new(size_t max_count, uint64_t max_bytes, uint64_t ttl_ms)
{
    gw_resp_store_options o = {max_count, max_bytes, ttl_ms, fake_clock, NULL};
    gw_resp_store *s = NULL;
    assert_int_equal(gw_resp_store_new(&s, &o), 0);
    return s;
}

static int
put(gw_resp_store *s, const char *id, const char *prev, const char *response)
{
    return gw_resp_store_put(s, id, prev, response, strlen(response), "[]", 2);
}

static bool
has(gw_resp_store *s, const char *id)
{
    gw_resp_entry e;
    int rc = gw_resp_store_get(s, &e, id);
    gw_resp_entry_clear(&e);
    return rc == 0;
}

/* Whether `id` is held: a chain walk of no links at all finds the entry
 * (LINGMA_EINVAL, the walk's bound) or not (LINGMA_ENOTFOUND). Like a get,
 * it marks the entry used. */
static bool
held(gw_resp_store *s, const char *id)
{
    gw_resp_entry *c = NULL;
    size_t n = 0;
    char *missing = NULL;
    int rc = gw_resp_store_chain(s, &c, &n, &missing, id, 0);
    free(missing);
    gw_resp_chain_free(c, n);
    return rc == LINGMA_EINVAL;
}

static void
test_put_get_delete(void **state)
{
    (void)state;
    fake_now = 1000;
    gw_resp_store *s = store_new(10, 1 << 20, 60000);
    assert_int_equal(put(s, "resp_a", NULL, "{\"id\":\"resp_a\"}"), 0);
    gw_resp_entry e;
    assert_int_equal(gw_resp_store_get(s, &e, "resp_a"), 0);
    assert_string_equal(e.id, "resp_a");
    assert_null(e.prev_id);
    assert_string_equal(e.response, "{\"id\":\"resp_a\"}");
    assert_int_equal(e.response_len, 15);
    assert_string_equal(e.input, "[]");
    gw_resp_entry_clear(&e);
    assert_null(e.response);
    assert_int_equal(gw_resp_store_get(s, &e, "resp_b"), LINGMA_ENOTFOUND);
    assert_null(e.id);

    /* Same id again: replaced, counted once. */
    assert_int_equal(put(s, "resp_a", "resp_0", "{}"), 0);
    size_t count;
    uint64_t bytes;
    gw_resp_store_usage(s, &count, &bytes);
    assert_int_equal(count, 1);
    assert_int_equal(bytes, strlen("resp_a") + strlen("resp_0") + 2 + 2 + GW_RESP_STORE_OVERHEAD);
    assert_int_equal(gw_resp_store_get(s, &e, "resp_a"), 0);
    assert_string_equal(e.prev_id, "resp_0");
    gw_resp_entry_clear(&e);

    assert_int_equal(gw_resp_store_delete(s, "resp_a"), 0);
    assert_int_equal(gw_resp_store_delete(s, "resp_a"), LINGMA_ENOTFOUND);
    assert_false(has(s, "resp_a"));
    gw_resp_store_usage(s, &count, &bytes);
    assert_int_equal(count, 0);
    assert_int_equal(bytes, 0);
    gw_resp_store_free(s);
    gw_resp_store_free(NULL);
    gw_resp_entry_clear(NULL);

    gw_resp_store_options bad = {1, 0, 1, NULL, NULL};
    assert_int_equal(gw_resp_store_new(&s, &bad), LINGMA_EINVAL);
    assert_null(s);
}

static void
test_count_bound_lru(void **state)
{
    (void)state;
    fake_now = 0;
    gw_resp_store *s = store_new(3, 1 << 20, 60000);
    assert_int_equal(put(s, "a", NULL, "{}"), 0);
    assert_int_equal(put(s, "b", NULL, "{}"), 0);
    assert_int_equal(put(s, "c", NULL, "{}"), 0);
    /* A get is a use: "a" becomes the most recent, "b" the least. */
    assert_true(has(s, "a"));
    assert_int_equal(put(s, "d", NULL, "{}"), 0);
    assert_false(held(s, "b"));
    assert_true(held(s, "a") && held(s, "c") && held(s, "d"));
    /* held() is a use too: a, c, d were used in that order, so "a" is now
     * the least recent. */
    assert_int_equal(put(s, "e", NULL, "{}"), 0);
    assert_false(held(s, "a"));
    size_t count;
    gw_resp_store_usage(s, &count, NULL);
    assert_int_equal(count, 3);
    gw_resp_store_free(s);

    /* max_count 0 keeps nothing. */
    s = store_new(0, 1 << 20, 60000);
    assert_int_equal(put(s, "a", NULL, "{}"), LINGMA_EINVAL);
    assert_false(has(s, "a"));
    gw_resp_store_free(s);
}

static void
test_byte_bound(void **state)
{
    (void)state;
    fake_now = 0;
    char big[1001];
    memset(big, 'x', 1000);
    big[1000] = '\0';
    /* Each entry costs 1 (id) + 1000 + 2 + overhead; three do not fit. */
    uint64_t one = 1 + 1000 + 2 + GW_RESP_STORE_OVERHEAD;
    gw_resp_store *s = store_new(100, 2 * one + one / 2, 60000);
    assert_int_equal(put(s, "a", NULL, big), 0);
    assert_int_equal(put(s, "b", NULL, big), 0);
    assert_true(has(s, "a")); /* b is now the least recently used */
    assert_int_equal(put(s, "c", NULL, big), 0);
    assert_false(held(s, "b"));
    assert_true(held(s, "a") && held(s, "c"));
    size_t count;
    uint64_t bytes;
    gw_resp_store_usage(s, &count, &bytes);
    assert_int_equal(count, 2);
    assert_int_equal(bytes, 2 * one);
    /* One entry larger than the whole budget is refused and evicts
     * nothing. */
    char *huge = malloc(4 * one);
    assert_non_null(huge);
    memset(huge, 'y', 4 * one - 1);
    huge[4 * one - 1] = '\0';
    assert_int_equal(put(s, "h", NULL, huge), LINGMA_EINVAL);
    free(huge);
    gw_resp_store_usage(s, &count, &bytes);
    assert_int_equal(count, 2);
    gw_resp_store_free(s);

    s = store_new(1000, 10 * GW_RESP_STORE_OVERHEAD + 100, 60000);
    char id[16];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(put(s, id, NULL, "{}"), 0);
        gw_resp_store_usage(s, &count, &bytes);
        assert_true(bytes <= 10 * GW_RESP_STORE_OVERHEAD + 100);
    }
    /* Tiny entries still pay the overhead: the byte bound caps the count. */
    assert_true(count <= 10);
    assert_true(has(s, "r199"));
    gw_resp_store_free(s);
}

static void
test_ttl(void **state)
{
    (void)state;
    fake_now = 5000;
    gw_resp_store *s = store_new(10, 1 << 20, 1000);
    assert_int_equal(put(s, "a", NULL, "{}"), 0);
    fake_now = 5500;
    assert_int_equal(put(s, "b", NULL, "{}"), 0);
    fake_now = 5999;
    assert_true(has(s, "a")); /* a use does not extend the TTL */
    fake_now = 6000;
    assert_false(has(s, "a"));
    assert_true(has(s, "b"));
    size_t count;
    gw_resp_store_usage(s, &count, NULL);
    assert_int_equal(count, 1);
    fake_now = 6500;
    gw_resp_store_usage(s, &count, NULL);
    assert_int_equal(count, 0);
    assert_int_equal(gw_resp_store_delete(s, "b"), LINGMA_ENOTFOUND);
    /* A replaced entry's TTL starts again. */
    assert_int_equal(put(s, "c", NULL, "{}"), 0);
    fake_now = 7400;
    assert_int_equal(put(s, "c", NULL, "{\"v\":2}"), 0);
    fake_now = 8000;
    assert_true(has(s, "c"));
    fake_now = 8400;
    assert_false(has(s, "c"));
    gw_resp_store_free(s);
}

static void
test_chain(void **state)
{
    (void)state;
    fake_now = 0;
    gw_resp_store *s = store_new(10, 1 << 20, 60000);
    assert_int_equal(put(s, "a", NULL, "{\"n\":1}"), 0);
    assert_int_equal(put(s, "b", "a", "{\"n\":2}"), 0);
    assert_int_equal(put(s, "c", "b", "{\"n\":3}"), 0);
    gw_resp_entry *chain = NULL;
    size_t n = 0;
    char *missing = NULL;
    assert_int_equal(gw_resp_store_chain(s, &chain, &n, &missing, "c", 10), 0);
    assert_int_equal(n, 3);
    assert_string_equal(chain[0].id, "c");
    assert_string_equal(chain[1].id, "b");
    assert_string_equal(chain[2].id, "a");
    assert_string_equal(chain[2].response, "{\"n\":1}");
    assert_null(missing);
    gw_resp_chain_free(chain, n);

    assert_int_equal(gw_resp_store_chain(s, &chain, &n, &missing, "c", 2), LINGMA_EINVAL);
    assert_null(chain);
    assert_int_equal(gw_resp_store_delete(s, "b"), 0);
    assert_int_equal(gw_resp_store_chain(s, &chain, &n, &missing, "c", 10), LINGMA_ENOTFOUND);
    assert_string_equal(missing, "b");
    assert_null(chain);
    assert_int_equal(n, 0);
    free(missing);
    assert_int_equal(gw_resp_store_chain(s, &chain, &n, &missing, "zz", 10), LINGMA_ENOTFOUND);
    assert_string_equal(missing, "zz");
    free(missing);

    /* A chain walk is a use of every link: "a" survives the next eviction
     * because it was walked after "c" was stored. */
    gw_resp_store_free(s);
    s = store_new(3, 1 << 20, 60000);
    assert_int_equal(put(s, "a", NULL, "{}"), 0);
    assert_int_equal(put(s, "b", "a", "{}"), 0);
    assert_int_equal(put(s, "x", NULL, "{}"), 0);
    assert_int_equal(gw_resp_store_chain(s, &chain, &n, &missing, "b", 10), 0);
    gw_resp_chain_free(chain, n);
    assert_int_equal(put(s, "y", NULL, "{}"), 0);
    assert_false(held(s, "x"));
    assert_true(held(s, "a"));
    gw_resp_store_free(s);
}

static void
test_many(void **state)
{
    (void)state;
    fake_now = 0;
    /* The table grows far beyond its first size and every entry stays
     * reachable. */
    gw_resp_store *s = store_new(5000, 1 << 26, 60000);
    char id[32], prev[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "resp_%08d", i);
        snprintf(prev, sizeof(prev), "resp_%08d", i - 1);
        assert_int_equal(put(s, id, i ? prev : NULL, "{}"), 0);
    }
    for (int i = 0; i < 5000; i += 97) {
        snprintf(id, sizeof(id), "resp_%08d", i);
        assert_true(held(s, id));
    }
    gw_resp_entry *chain = NULL;
    size_t n = 0;
    char *missing = NULL;
    assert_int_equal(gw_resp_store_chain(s, &chain, &n, &missing, "resp_00004999", 5000), 0);
    assert_int_equal(n, 5000);
    gw_resp_chain_free(chain, n);
    gw_resp_store_free(s);
}

/* ---- threads ------------------------------------------------------------ */

#define THREADS 4
#define ROUNDS  3000

static _Atomic uint64_t shared_now;

static uint64_t
shared_clock(void *payload)
{
    (void)payload;
    return atomic_fetch_add(&shared_now, 1);
}

struct worker {
    gw_resp_store *s;
    int n;
    int bad;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    char id[32], prev[32], body[64];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(id, sizeof(id), "t%d-%d", w->n, i);
        snprintf(prev, sizeof(prev), "t%d-%d", (w->n + 1) % THREADS, i - 1);
        int len = snprintf(body, sizeof(body), "{\"i\":%d}", i);
        int rc = gw_resp_store_put(w->s, id, i ? prev : NULL, body, (size_t)len, "[{\"x\":1}]", 9);
        if (rc != 0)
            w->bad++;
        gw_resp_entry e;
        rc = gw_resp_store_get(w->s, &e, prev);
        if (rc == 0 && strncmp(e.response, "{\"i\":", 5) != 0)
            w->bad++;
        gw_resp_entry_clear(&e);
        gw_resp_entry *chain = NULL;
        size_t n = 0;
        char *missing = NULL;
        rc = gw_resp_store_chain(w->s, &chain, &n, &missing, id, 64);
        if (rc != 0 && rc != LINGMA_ENOTFOUND && rc != LINGMA_EINVAL)
            w->bad++;
        free(missing);
        gw_resp_chain_free(chain, n);
        if (i % 7 == 0)
            gw_resp_store_delete(w->s, prev);
        size_t count;
        uint64_t bytes;
        gw_resp_store_usage(w->s, &count, &bytes);
        if (count > 50 || bytes > 8192)
            w->bad++;
    }
    return NULL;
}

static void
test_threads(void **state)
{
    (void)state;
    /* Small bounds and a clock that moves on every call, so that eviction
     * and expiry both happen all the time, from every thread. */
    gw_resp_store_options o = {50, 8192, 2000, shared_clock, NULL};
    gw_resp_store *s = NULL;
    assert_int_equal(gw_resp_store_new(&s, &o), 0);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){s, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    gw_resp_store_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_delete), cmocka_unit_test(test_count_bound_lru),
        cmocka_unit_test(test_byte_bound),     cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_chain),          cmocka_unit_test(test_many),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
