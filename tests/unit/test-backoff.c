/* Unit tests for the reconnect backoff (backoff.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

/* A crash (the process is gone): the backoff from the first attempt. */
static void
test_dead_process_doubles_from_the_first_attempt(void **state)
{
    static const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    (void)state;
    for (unsigned a = 1; a <= 8; a++)
        assert_int_equal(lingma__backoff_ms(a, false, 1000, 30000), want[a - 1]);
}

/* Only the connection dropped: the first attempt at once, then the same
 * doubling as after a crash, from the initial delay. */
static void
test_live_process_first_attempt_is_immediate(void **state)
{
    static const uint64_t want[] = {0, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    (void)state;
    for (unsigned a = 1; a <= 8; a++)
        assert_int_equal(lingma__backoff_ms(a, true, 1000, 30000), want[a - 1]);
}

static void
test_limits(void **state)
{
    (void)state;
    /* Attempt 0 is read as the first; a max below the initial is the initial. */
    assert_int_equal(lingma__backoff_ms(0, false, 100, 400), 100);
    assert_int_equal(lingma__backoff_ms(0, true, 100, 400), 0);
    assert_int_equal(lingma__backoff_ms(5, false, 500, 100), 500);
    /* No overflow however long the outage. */
    assert_int_equal(lingma__backoff_ms(4000000000u, false, 1000, 30000), 30000);
    assert_true(lingma__backoff_ms(200, false, UINT64_MAX / 2, UINT64_MAX) == UINT64_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dead_process_doubles_from_the_first_attempt),
        cmocka_unit_test(test_live_process_first_attempt_is_immediate),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
