/* Unit tests for the admission controller (admission.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admission.h"

/* A chat that embeds its node, as the pool's chat does. */
struct chat {
    int id;
    struct lingma__adm_entry adm;
};

static struct chat *
chat_of(struct lingma__adm_entry *e)
{
    return e ? (struct chat *)((char *)e - offsetof(struct chat, adm)) : NULL;
}

static void
init_chats(struct chat *c, int n)
{
    for (int i = 0; i < n; i++) {
        c[i].id = i;
        lingma__adm_entry_init(&c[i].adm);
    }
}

static void
assert_counters(const struct lingma__admission *a, unsigned in_flight, unsigned queued,
                uint64_t accepted, uint64_t rejected)
{
    struct lingma__adm_stats s;
    lingma__admission_stats(a, &s);
    assert_int_equal(s.in_flight, in_flight);
    assert_int_equal(s.queued, queued);
    assert_int_equal(s.accepted_total, accepted);
    assert_int_equal(s.rejected_total, rejected);
}

static void
test_overload_exact_counts(void **state)
{
    (void)state;
    struct lingma__admission a;
    lingma__admission_init(&a, 4, 3, 30000);
    struct chat c[20];
    init_chats(c, 20);
    int admitted = 0, queued = 0, rejected = 0;
    for (int i = 0; i < 20; i++) {
        int64_t retry = -1;
        switch (lingma__admission_try(&a, &c[i].adm, 1000, &retry)) {
        case LINGMA__ADM_ADMITTED:
            admitted++;
            assert_true(i < 4);
            break;
        case LINGMA__ADM_QUEUED:
            queued++;
            assert_true(i >= 4 && i < 7);
            break;
        case LINGMA__ADM_REJECTED:
            rejected++;
            assert_true(i >= 7);
            assert_true(retry >= LINGMA__ADM_MIN_RETRY_MS);
            break;
        }
    }
    assert_int_equal(admitted, 4);
    assert_int_equal(queued, 3);
    assert_int_equal(rejected, 13);
    assert_counters(&a, 4, 3, 4, 13);

    /* Releasing hands the slot to the queue in FIFO order. */
    for (int i = 0; i < 3; i++) {
        struct chat *next = chat_of(lingma__admission_release(&a, &c[i].adm, 2000));
        assert_non_null(next);
        assert_int_equal(next->id, 4 + i);
        assert_int_equal(lingma__adm_entry_state(&next->adm), LINGMA__ADM_ENTRY_ACTIVE);
        assert_int_equal(lingma__adm_entry_state(&c[i].adm), LINGMA__ADM_ENTRY_IDLE);
    }
    assert_counters(&a, 4, 0, 7, 13);
    /* Draining: nothing left to hand over; counters back to zero. */
    int active[4] = {3, 4, 5, 6};
    for (int i = 0; i < 4; i++)
        assert_null(lingma__admission_release(&a, &c[active[i]].adm, 3000));
    assert_counters(&a, 0, 0, 7, 13);
    /* Double release is a no-op. */
    assert_null(lingma__admission_release(&a, &c[0].adm, 3000));
    assert_counters(&a, 0, 0, 7, 13);
}

static void
test_newcomer_never_overtakes_queue(void **state)
{
    (void)state;
    struct lingma__admission a;
    lingma__admission_init(&a, 1, 2, 1000);
    struct chat c[4];
    init_chats(c, 4);
    assert_int_equal(lingma__admission_try(&a, &c[0].adm, 0, NULL), LINGMA__ADM_ADMITTED);
    assert_int_equal(lingma__admission_try(&a, &c[1].adm, 0, NULL), LINGMA__ADM_QUEUED);
    /* Re-trying an entry that is already known is refused, counters untouched. */
    assert_int_equal(lingma__admission_try(&a, &c[1].adm, 0, NULL), LINGMA__ADM_REJECTED);
    assert_counters(&a, 1, 1, 1, 0);
    assert_ptr_equal(lingma__admission_release(&a, &c[0].adm, 10), &c[1].adm);
    assert_int_equal(lingma__admission_try(&a, &c[2].adm, 10, NULL), LINGMA__ADM_QUEUED);
    assert_ptr_equal(lingma__admission_release(&a, &c[1].adm, 20), &c[2].adm);
    assert_counters(&a, 1, 0, 3, 0);
}

static void
test_queue_timeout(void **state)
{
    (void)state;
    struct lingma__admission a;
    lingma__admission_init(&a, 1, 3, 500);
    struct chat c[4];
    init_chats(c, 4);
    assert_int_equal(lingma__admission_next_deadline(&a), INT64_MAX);
    assert_int_equal(lingma__admission_try(&a, &c[0].adm, 0, NULL), LINGMA__ADM_ADMITTED);
    assert_int_equal(lingma__admission_try(&a, &c[1].adm, 100, NULL), LINGMA__ADM_QUEUED);
    assert_int_equal(lingma__admission_try(&a, &c[2].adm, 200, NULL), LINGMA__ADM_QUEUED);
    assert_int_equal(lingma__admission_try(&a, &c[3].adm, 300, NULL), LINGMA__ADM_QUEUED);
    assert_int_equal(lingma__admission_next_deadline(&a), 600);

    assert_null(lingma__admission_expire(&a, 599));
    assert_ptr_equal(lingma__admission_expire(&a, 600), &c[1].adm);
    assert_null(lingma__admission_expire(&a, 600));
    assert_int_equal(lingma__admission_next_deadline(&a), 700);
    assert_ptr_equal(lingma__admission_expire(&a, 750), &c[2].adm);
    assert_null(lingma__admission_expire(&a, 750));
    assert_int_equal(lingma__admission_next_deadline(&a), 800);
    assert_ptr_equal(lingma__admission_expire(&a, 5000), &c[3].adm);
    assert_null(lingma__admission_expire(&a, 5000));
    assert_int_equal(lingma__adm_entry_state(&c[3].adm), LINGMA__ADM_ENTRY_IDLE);

    struct lingma__adm_stats s;
    lingma__admission_stats(&a, &s);
    assert_int_equal(s.expired_total, 3);
    assert_int_equal(s.rejected_total, 3);
    assert_int_equal(s.queued, 0);
    assert_int_equal(lingma__admission_next_deadline(&a), INT64_MAX);
    assert_null(lingma__admission_release(&a, &c[0].adm, 800));
    assert_counters(&a, 0, 0, 1, 3);
}

static void
test_cancel_while_queued(void **state)
{
    (void)state;
    struct lingma__admission a;
    lingma__admission_init(&a, 1, 3, 1000);
    struct chat c[4];
    init_chats(c, 4);
    for (int i = 0; i < 4; i++)
        lingma__admission_try(&a, &c[i].adm, 0, NULL);
    /* Cancel the middle one: the FIFO closes the gap. */
    assert_true(lingma__admission_remove(&a, &c[2].adm));
    assert_false(lingma__admission_remove(&a, &c[2].adm));
    assert_false(lingma__admission_remove(&a, &c[0].adm)); /* active: not removable */
    assert_counters(&a, 1, 2, 1, 0);
    assert_ptr_equal(lingma__admission_release(&a, &c[0].adm, 10), &c[1].adm);
    /* finish() picks the right action whatever the state. */
    assert_null(lingma__admission_finish(&a, &c[3].adm, 20)); /* queued -> removed */
    assert_null(lingma__admission_finish(&a, &c[3].adm, 20)); /* idle -> nothing */
    assert_null(lingma__admission_finish(&a, &c[1].adm, 20)); /* active -> released */
    struct lingma__adm_stats s;
    lingma__admission_stats(&a, &s);
    assert_int_equal(s.cancelled_total, 2);
    assert_counters(&a, 0, 0, 2, 0);
    /* Cancel the only queued one: head and tail at once. */
    lingma__admission_try(&a, &c[0].adm, 30, NULL);
    lingma__admission_try(&a, &c[1].adm, 30, NULL);
    assert_true(lingma__admission_remove(&a, &c[1].adm));
    assert_int_equal(lingma__admission_next_deadline(&a), INT64_MAX);
    assert_null(lingma__admission_release(&a, &c[0].adm, 40));
    assert_counters(&a, 0, 0, 3, 0);
}

static void
test_unlimited_and_no_queue(void **state)
{
    (void)state;
    struct lingma__admission a;
    struct chat c[100];
    init_chats(c, 100);
    lingma__admission_init(&a, 0, 0, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(lingma__admission_try(&a, &c[i].adm, 0, NULL), LINGMA__ADM_ADMITTED);
    for (int i = 0; i < 100; i++)
        assert_null(lingma__admission_release(&a, &c[i].adm, 5));
    assert_counters(&a, 0, 0, 100, 0);

    lingma__admission_init(&a, 2, 0, 30000);
    init_chats(c, 3);
    assert_int_equal(lingma__admission_try(&a, &c[0].adm, 0, NULL), LINGMA__ADM_ADMITTED);
    assert_int_equal(lingma__admission_try(&a, &c[1].adm, 0, NULL), LINGMA__ADM_ADMITTED);
    int64_t retry = 0;
    assert_int_equal(lingma__admission_try(&a, &c[2].adm, 0, &retry), LINGMA__ADM_REJECTED);
    /* No observation yet: the queue timeout. */
    assert_int_equal(retry, 30000);
}

static void
test_retry_after_hint(void **state)
{
    (void)state;
    struct lingma__admission a;
    lingma__admission_init(&a, 2, 4, 60000);
    struct chat c[16];
    init_chats(c, 16);
    assert_int_equal(lingma__admission_retry_after_ms(&a), 60000);
    /* Two chats that each hold their slot 8 s. */
    lingma__admission_try(&a, &c[0].adm, 0, NULL);
    lingma__admission_try(&a, &c[1].adm, 0, NULL);
    lingma__admission_release(&a, &c[0].adm, 8000);
    lingma__admission_release(&a, &c[1].adm, 8000);
    assert_int_equal(a.avg_service_ms, 8000);
    /* Empty queue: one slot frees every 8 s / 2 slots. */
    assert_int_equal(lingma__admission_retry_after_ms(&a), 4000);
    /* Full: 2 active, 4 queued; 5 departures needed -> 20 s. */
    init_chats(c, 16);
    for (int i = 0; i < 6; i++)
        lingma__admission_try(&a, &c[i].adm, 9000, NULL);
    int64_t retry = 0;
    assert_int_equal(lingma__admission_try(&a, &c[6].adm, 9000, &retry), LINGMA__ADM_REJECTED);
    assert_int_equal(retry, 20000);
    /* Capped by the queue timeout, floored at 1 s. */
    a.queue_timeout_ms = 5000;
    assert_int_equal(lingma__admission_retry_after_ms(&a), 5000);
    a.avg_service_ms = 10;
    assert_int_equal(lingma__admission_retry_after_ms(&a), LINGMA__ADM_MIN_RETRY_MS);
}

static void
test_soak_returns_to_zero(void **state)
{
    (void)state;
    /* A deterministic pseudo-random mix of every operation. */
    struct lingma__admission a;
    lingma__admission_init(&a, 8, 16, 50);
    enum { N = 64 };
    struct chat c[N];
    init_chats(c, N);
    uint32_t x = 12345;
    uint64_t ended_busy = 0;
    for (int64_t now = 0; now < 20000; now++) {
        x = x * 1103515245u + 12345u;
        struct chat *ch = &c[(x >> 8) % N];
        switch ((x >> 20) % 4) {
        case 0:
        case 1:
            if (lingma__adm_entry_state(&ch->adm) == LINGMA__ADM_ENTRY_IDLE &&
                lingma__admission_try(&a, &ch->adm, now, NULL) == LINGMA__ADM_REJECTED)
                ended_busy++;
            break;
        case 2:
            lingma__admission_finish(&a, &ch->adm, now);
            break;
        case 3:
            while (lingma__admission_expire(&a, now))
                ended_busy++;
            break;
        }
        assert_true(a.in_flight <= 8);
        assert_true(a.queued <= 16);
    }
    /*
     * Ending every chat in index order: a queued one that gets a slot from
     * an earlier finish() has a higher index (lower ones already left the
     * queue), so it is ended in turn.
     */
    for (int i = 0; i < N; i++)
        lingma__admission_finish(&a, &c[i].adm, 30000);
    struct lingma__adm_stats s;
    lingma__admission_stats(&a, &s);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.rejected_total, ended_busy);
    assert_true(s.accepted_total > 100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overload_exact_counts),
        cmocka_unit_test(test_newcomer_never_overtakes_queue),
        cmocka_unit_test(test_queue_timeout),
        cmocka_unit_test(test_cancel_while_queued),
        cmocka_unit_test(test_unlimited_and_no_queue),
        cmocka_unit_test(test_retry_after_hint),
        cmocka_unit_test(test_soak_returns_to_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
