/* Unit tests for lingma-gatewayd/utf8.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

#define S(x) x, sizeof(x) - 1

static void
test_decode(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(gw_utf8_decode(S("A"), &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(gw_utf8_decode(S("\xc3\xa9"), &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(gw_utf8_decode(S("\xe2\x82\xac"), &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(gw_utf8_decode(S("\xf0\x9f\x98\x80"), &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(gw_utf8_decode(S("\xf4\x8f\xbf\xbf"), &cp), 4);
    assert_int_equal(cp, 0x10FFFF);
    /* Invalid: overlongs, surrogates, beyond U+10FFFF, stray continuation,
     * truncated, bad lead bytes. */
    const char *bad[] = {"\xc0\x80",
                         "\xc1\xbf",
                         "\xe0\x80\x80",
                         "\xed\xa0\x80",
                         "\xf0\x80\x80\x80",
                         "\xf4\x90\x80\x80",
                         "\xf5\x80\x80\x80",
                         "\x80",
                         "\xbf",
                         "\xfe",
                         "\xff",
                         "\xe2\x82",
                         "\xc3",
                         "\xe2\x28\xa1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gw_utf8_decode(bad[i], strlen(bad[i]), &cp), 0);
    assert_int_equal(gw_utf8_decode("", 0, &cp), 0);
    assert_int_equal(gw_utf8_decode(S("\xc3\xa9"), NULL), 2);
}

static void
test_valid(void **state)
{
    (void)state;
    assert_true(gw_utf8_valid(S("")));
    assert_true(gw_utf8_valid(S("hello \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80")));
    assert_false(gw_utf8_valid(S("ok\xff")));
    assert_false(gw_utf8_valid(S("ok\xe4\xbd")));
}

static void
test_complete_prefix(void **state)
{
    (void)state;
    const char s[] = "a\xe4\xbd\xa0"; /* a + 你 */
    assert_int_equal(gw_utf8_complete_prefix(s, 4), 4);
    assert_int_equal(gw_utf8_complete_prefix(s, 3), 1);
    assert_int_equal(gw_utf8_complete_prefix(s, 2), 1);
    assert_int_equal(gw_utf8_complete_prefix(s, 1), 1);
    assert_int_equal(gw_utf8_complete_prefix(s, 0), 0);
    const char e[] = "\xf0\x9f\x98\x80";
    for (size_t k = 1; k < 4; k++)
        assert_int_equal(gw_utf8_complete_prefix(e, k), 0);
    assert_int_equal(gw_utf8_complete_prefix(e, 4), 4);
    /* Invalid tails are not "pending": they are passed on as they are. */
    assert_int_equal(gw_utf8_complete_prefix(S("a\xff")), 2);
    assert_int_equal(gw_utf8_complete_prefix(S("a\xe4\x28")), 3);
}

static void
test_floor(void **state)
{
    (void)state;
    const char s[] = "ab\xe4\xbd\xa0"
                     "c"; /* a b 你 c */
    assert_int_equal(gw_utf8_floor(s, 6, 0), 0);
    assert_int_equal(gw_utf8_floor(s, 6, 2), 2);
    assert_int_equal(gw_utf8_floor(s, 6, 3), 2);
    assert_int_equal(gw_utf8_floor(s, 6, 4), 2);
    assert_int_equal(gw_utf8_floor(s, 6, 5), 5);
    assert_int_equal(gw_utf8_floor(s, 6, 6), 6);
    assert_int_equal(gw_utf8_floor(s, 6, 100), 6);
}

static void
test_sanitize_and_count(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_utf8_sanitize(&b, S("a\xff"
                                            "b\xe4\xbd")),
                     0);
    assert_string_equal(b.data, "a\xef\xbf\xbd"
                                "b\xef\xbf\xbd\xef\xbf\xbd");
    gw_buf_reset(&b);
    assert_int_equal(gw_utf8_sanitize(&b, "", 0), 0);
    assert_string_equal(b.data, "");
    gw_buf_free(&b);
    assert_int_equal(gw_utf8_count(S("a\xe4\xbd\xa0\xf0\x9f\x98\x80")), 3);
    assert_int_equal(gw_utf8_count(S("\xff\xff")), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_complete_prefix),
        cmocka_unit_test(test_floor),
        cmocka_unit_test(test_sanitize_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
