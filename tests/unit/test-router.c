/* Unit tests for the pure router (router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

#define NKEYS 1000

static void
make_pool(struct lingma__route_inst *insts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "inst-%zu", i);
        insts[i] =
            (struct lingma__route_inst){LINGMA__ROUTE_READY, 0, 0, lingma__route_name_hash(name)};
    }
}

static int
route_key(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n, int k,
          enum lingma__route_rule *rule)
{
    char key[32];
    int len = snprintf(key, sizeof(key), "user-%d", k);
    return lingma__route(r, insts, n, key, (size_t)len, rule);
}

static void
test_sticky_keeps_instance(void **state)
{
    (void)state;
    struct lingma__route_inst insts[4];
    struct lingma__router r = {0};
    make_pool(insts, 4);
    for (int k = 0; k < 100; k++) {
        enum lingma__route_rule rule;
        int first = route_key(&r, insts, 4, k, &rule);
        assert_int_equal(rule, LINGMA__ROUTE_STICKY);
        assert_in_range(first, 0, 3);
        /* Load elsewhere does not move a sticky key while its instance has room. */
        for (int round = 0; round < 5; round++) {
            insts[(first + 1 + round) % 4].in_flight += 3;
            assert_int_equal(route_key(&r, insts, 4, k, &rule), first);
            assert_int_equal(rule, LINGMA__ROUTE_STICKY);
        }
        make_pool(insts, 4);
    }
}

static void
test_minimal_movement(void **state)
{
    (void)state;
    struct lingma__route_inst insts[5];
    struct lingma__router r = {0};
    make_pool(insts, 5);
    int before[NKEYS], count[5] = {0};
    for (int k = 0; k < NKEYS; k++) {
        before[k] = route_key(&r, insts, 5, k, NULL);
        count[before[k]]++;
    }
    /* Instance 2 goes away: exactly its keys move, and they spread over the rest. */
    insts[2].avail = LINGMA__ROUTE_STARTABLE;
    int moved = 0, moved_to[5] = {0};
    for (int k = 0; k < NKEYS; k++) {
        enum lingma__route_rule rule;
        int now = route_key(&r, insts, 5, k, &rule);
        assert_int_equal(rule, LINGMA__ROUTE_STICKY);
        assert_int_not_equal(now, 2);
        if (before[k] != 2) {
            assert_int_equal(now, before[k]);
        } else {
            moved++;
            moved_to[now]++;
        }
    }
    assert_int_equal(moved, count[2]);
    for (int i = 0; i < 5; i++)
        if (i != 2)
            assert_true(moved_to[i] > 0);
    /* It comes back: every key is home again. */
    insts[2].avail = LINGMA__ROUTE_READY;
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(route_key(&r, insts, 5, k, NULL), before[k]);
    /* A closed instance behaves the same as a not-ready one for placement. */
    insts[4].avail = LINGMA__ROUTE_OFF;
    for (int k = 0; k < NKEYS; k++)
        if (before[k] != 4)
            assert_int_equal(route_key(&r, insts, 5, k, NULL), before[k]);
}

static void
test_spread(void **state)
{
    (void)state;
    enum { N = 4, KEYS = 20000 };
    struct lingma__route_inst insts[N];
    struct lingma__router r = {0};
    make_pool(insts, N);
    int count[N] = {0};
    for (int k = 0; k < KEYS; k++)
        count[route_key(&r, insts, N, k, NULL)]++;
    /* Each gets 25% +- 2.5 points; a binomial sd here is ~0.3 points. */
    for (int i = 0; i < N; i++)
        assert_in_range(count[i], KEYS * 225 / 1000, KEYS * 275 / 1000);
}

static void
test_saturated_winner_spills_by_score(void **state)
{
    (void)state;
    struct lingma__route_inst insts[4];
    struct lingma__router r = {0};
    make_pool(insts, 4);
    for (int k = 0; k < 50; k++) {
        char key[32];
        int len = snprintf(key, sizeof(key), "user-%d", k);
        uint64_t h = lingma__route_hash(key, (size_t)len);
        /* Rank by score by hand. */
        int order[4] = {0, 1, 2, 3};
        for (int a = 0; a < 4; a++)
            for (int b = a + 1; b < 4; b++)
                if (lingma__route_score(h, insts[order[b]].name_hash) >
                    lingma__route_score(h, insts[order[a]].name_hash)) {
                    int t = order[a];
                    order[a] = order[b];
                    order[b] = t;
                }
        enum lingma__route_rule rule;
        assert_int_equal(lingma__route(&r, insts, 4, key, (size_t)len, &rule), order[0]);
        insts[order[0]].cap = 2;
        insts[order[0]].in_flight = 2;
        assert_int_equal(lingma__route(&r, insts, 4, key, (size_t)len, &rule), order[1]);
        assert_int_equal(rule, LINGMA__ROUTE_STICKY_SPILL);
        insts[order[1]].cap = 1;
        insts[order[1]].in_flight = 1;
        assert_int_equal(lingma__route(&r, insts, 4, key, (size_t)len, &rule), order[2]);
        /* Room again: back to the winner. */
        insts[order[0]].in_flight = 1;
        assert_int_equal(lingma__route(&r, insts, 4, key, (size_t)len, &rule), order[0]);
        assert_int_equal(rule, LINGMA__ROUTE_STICKY);
        make_pool(insts, 4);
    }
}

static void
test_least_in_flight(void **state)
{
    (void)state;
    struct lingma__route_inst insts[4];
    struct lingma__router r = {0};
    make_pool(insts, 4);
    unsigned load[4] = {3, 1, 1, 2};
    for (int i = 0; i < 4; i++)
        insts[i].in_flight = load[i];
    enum lingma__route_rule rule;
    assert_int_equal(lingma__route(&r, insts, 4, NULL, 0, &rule), 1);
    assert_int_equal(rule, LINGMA__ROUTE_LEAST);
    /* Same snapshot: the cursor moved past 1, so the tie goes to 2. */
    assert_int_equal(lingma__route(&r, insts, 4, NULL, 0, &rule), 2);
    assert_int_equal(lingma__route(&r, insts, 4, "", 0, &rule), 1);
    /* Equal load: round robin over all four. */
    make_pool(insts, 4);
    int seen[4] = {0};
    for (int i = 0; i < 8; i++)
        seen[lingma__route(&r, insts, 4, NULL, 0, NULL)]++;
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen[i], 2);
    /* Caps and readiness are honoured. */
    insts[0].avail = LINGMA__ROUTE_STARTABLE;
    insts[1].cap = 1;
    insts[1].in_flight = 1;
    insts[2].in_flight = 5;
    insts[3].in_flight = 7;
    assert_int_equal(lingma__route(&r, insts, 4, NULL, 0, &rule), 2);
    assert_int_equal(rule, LINGMA__ROUTE_LEAST);
}

static void
test_lazy_start_round_robin(void **state)
{
    (void)state;
    struct lingma__route_inst insts[4];
    struct lingma__router r = {0};
    make_pool(insts, 4);
    for (int i = 0; i < 4; i++)
        insts[i].avail = LINGMA__ROUTE_STARTABLE;
    insts[1].avail = LINGMA__ROUTE_OFF;
    enum lingma__route_rule rule;
    int got[6];
    for (int i = 0; i < 6; i++) {
        got[i] = lingma__route(&r, insts, 4, NULL, 0, &rule);
        assert_int_equal(rule, LINGMA__ROUTE_START);
    }
    int want[6] = {0, 2, 3, 0, 2, 3};
    assert_memory_equal(got, want, sizeof(want));
    /* With a key too, and when every ready instance is saturated. */
    insts[0].avail = LINGMA__ROUTE_READY;
    insts[0].cap = 1;
    insts[0].in_flight = 1;
    int i = lingma__route(&r, insts, 4, "k", 1, &rule);
    assert_int_equal(rule, LINGMA__ROUTE_START);
    assert_true(i == 2 || i == 3);
    /* A startable instance at its cap is skipped. */
    insts[2].cap = 2;
    insts[2].in_flight = 2;
    assert_int_equal(lingma__route(&r, insts, 4, NULL, 0, &rule), 3);
    assert_int_equal(lingma__route(&r, insts, 4, NULL, 0, &rule), 3);
}

static void
test_none(void **state)
{
    (void)state;
    struct lingma__route_inst insts[3];
    struct lingma__router r = {0};
    make_pool(insts, 3);
    for (int i = 0; i < 3; i++) {
        insts[i].cap = 2;
        insts[i].in_flight = 2;
    }
    insts[2].avail = LINGMA__ROUTE_OFF;
    enum lingma__route_rule rule = LINGMA__ROUTE_STICKY;
    assert_int_equal(lingma__route(&r, insts, 3, "key", 3, &rule), -1);
    assert_int_equal(rule, LINGMA__ROUTE_NONE);
    assert_int_equal(lingma__route(&r, insts, 3, NULL, 0, &rule), -1);
    assert_int_equal(lingma__route(&r, insts, 0, NULL, 0, &rule), -1);
    assert_int_equal(lingma__route(&r, NULL, 3, NULL, 0, &rule), -1);
    assert_string_equal(lingma__route_rule_name(rule), "none");
    assert_string_equal(lingma__route_rule_name(LINGMA__ROUTE_STICKY_SPILL), "sticky-spill");
    /* Cursors left out of range by a larger pool are brought back. */
    r.least_cursor = 17;
    r.start_cursor = 99;
    insts[0].in_flight = 0;
    assert_int_equal(lingma__route(&r, insts, 3, NULL, 0, &rule), 0);
}

static void
test_hash(void **state)
{
    (void)state;
    /* Stable across runs and builds: affinity must survive a restart. */
    uint64_t a = lingma__route_hash("user-1", 6);
    assert_true(a == lingma__route_hash("user-1", 6));
    assert_true(a != lingma__route_hash("user-2", 6));
    assert_true(lingma__route_name_hash("inst-0") == lingma__route_hash("inst-0", 6));
    assert_true(lingma__route_hash("", 0) != lingma__route_hash("\0", 1));
    /* One flipped input bit changes about half of the score's bits. */
    int total = 0;
    for (int k = 0; k < 64; k++) {
        uint64_t d = lingma__route_score(a, 1) ^ lingma__route_score(a ^ (1ULL << k), 1);
        total += __builtin_popcountll(d);
    }
    assert_in_range(total / 64, 24, 40);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sticky_keeps_instance),
        cmocka_unit_test(test_minimal_movement),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_saturated_winner_spills_by_score),
        cmocka_unit_test(test_least_in_flight),
        cmocka_unit_test(test_lazy_start_round_robin),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
