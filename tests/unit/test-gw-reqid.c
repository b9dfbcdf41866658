/* Unit tests for lingma-gatewayd/reqid.c. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reqid.h"

static void
test_valid(void **state)
{
    (void)state;
    assert_true(gw_reqid_valid("a"));
    assert_true(gw_reqid_valid("req_0123abcd"));
    assert_true(gw_reqid_valid("A.b_c:d-9"));
    assert_true(gw_reqid_valid("4f1c2d3e-aaaa-bbbb-cccc-0123456789ab"));
    char max[GW_REQID_MAX_LEN + 2];
    memset(max, 'x', GW_REQID_MAX_LEN);
    max[GW_REQID_MAX_LEN] = '\0';
    assert_true(gw_reqid_valid(max));
    max[GW_REQID_MAX_LEN] = 'x';
    max[GW_REQID_MAX_LEN + 1] = '\0';
    assert_false(gw_reqid_valid(max));
    assert_false(gw_reqid_valid(NULL));
    assert_false(gw_reqid_valid(""));
    assert_false(gw_reqid_valid("a b"));
    assert_false(gw_reqid_valid("a\nb"));
    assert_false(gw_reqid_valid("a\"b"));
    assert_false(gw_reqid_valid("a/b"));
    assert_false(gw_reqid_valid("\xc3\xa9"));
}

static void
test_generate_and_choose(void **state)
{
    (void)state;
    uint8_t rnd[GW_REQID_RANDOM_BYTES];
    for (size_t i = 0; i < sizeof(rnd); i++)
        rnd[i] = (uint8_t)(i * 17);
    char out[GW_REQID_SIZE];
    gw_reqid_generate(out, rnd, sizeof(rnd));
    assert_string_equal(out, "req_00112233445566778899aabbccddeeff");
    assert_true(gw_reqid_valid(out));
    assert_ptr_equal(gw_reqid_choose(out, "client-1", rnd), out);
    assert_string_equal(out, "client-1");
    gw_reqid_choose(out, "bad id", rnd);
    assert_string_equal(out, "req_00112233445566778899aabbccddeeff");
    gw_reqid_choose(out, NULL, rnd);
    assert_string_equal(out, "req_00112233445566778899aabbccddeeff");
    /* Too many random bytes are capped to fit. */
    uint8_t many[100] = {0};
    gw_reqid_generate(out, many, sizeof(many));
    assert_true(gw_reqid_valid(out));
    assert_int_equal(strlen(out), 4 + 2 * 62);
}

static void
test_random(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(gw_random_bytes(a, sizeof(a)), 0);
    assert_int_equal(gw_random_bytes(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(gw_random_bytes(a, 0), 0);
    char hex[5];
    gw_hex(hex, (const uint8_t *)"\x00\xff", 2);
    assert_string_equal(hex, "00ff");
}

/* Distinct across calls and threads, any length, never a getrandom per call
 * (not observable here; the bench's scenario 6 counts the syscalls). */
static void *
id_thread(void *arg)
{
    gw_id_bytes(arg, 16);
    return NULL;
}

static void
test_id_bytes(void **state)
{
    (void)state;
    enum { N = 2000 };
    static uint8_t ids[N][16];
    for (int i = 0; i < N; i++)
        gw_id_bytes(ids[i], sizeof(ids[i]));
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_memory_not_equal(ids[i], ids[j], sizeof(ids[i]));
    uint8_t other[16];
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, id_thread, other), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < N; i++)
        assert_memory_not_equal(ids[i], other, sizeof(other));
    /* Odd lengths fill every byte: two 13-byte draws differ. */
    uint8_t a[13] = {0}, b[13] = {0};
    gw_id_bytes(a, sizeof(a));
    gw_id_bytes(b, sizeof(b));
    assert_memory_not_equal(a, b, sizeof(a));
    gw_id_bytes(a, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_generate_and_choose),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_id_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
