/* Unit tests for lingma-gatewayd/tokens.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tokens.h"

#define EST(s) gw_token_estimate(s, sizeof(s) - 1)

static void
test_estimates(void **state)
{
    (void)state;
    assert_int_equal(EST(""), 0);
    assert_int_equal(EST("a"), 1);
    assert_int_equal(EST("abcd"), 1);
    assert_int_equal(EST("abcde"), 2);
    assert_int_equal(EST("hello world"), 4);   /* 2 + 2 */
    assert_int_equal(EST("Hello, world!"), 6); /* 2 + , + 2 + ! */
    assert_int_equal(EST("   "), 0);
    assert_int_equal(EST("a\nb"), 3);
    assert_int_equal(EST("a\n\n\nb"), 3); /* a run of newlines is one */
    assert_int_equal(EST("a\r\nb"), 3);
    assert_int_equal(EST("\xe4\xbd\xa0\xe5\xa5\xbd"), 2); /* 你好 */
    assert_int_equal(EST("\xe3\x81\x93\xe3\x82\x93"), 2); /* こん */
    assert_int_equal(EST("\xea\xb0\x80"), 1);             /* 가 */
    assert_int_equal(EST("\xd0\xbf\xd1\x80\xd0\xb8"), 2); /* при: 3 x weight 2 = 6 */
    assert_int_equal(EST("caf\xc3\xa9"), 2);              /* c a f + é(2) = 5 */
    assert_int_equal(EST("\xf0\x9f\x98\x80"), 2);         /* emoji */
    assert_int_equal(EST("x\xffy"), 1);                   /* stray byte: weight 2 */
    assert_int_equal(EST("for (int i = 0; i < n; i++) {"), 16);
}

static void
test_incremental_equals_whole(void **state)
{
    (void)state;
    const char text[] =
        "The quick brown fox, \xe4\xbd\xa0\xe5\xa5\xbd!\n\nNew paragraph_with_words "
        "caf\xc3\xa9 \xf0\x9f\x98\x80 end.";
    size_t len = sizeof(text) - 1;
    uint64_t whole = gw_token_estimate(text, len);
    /* Every cut point that falls between characters. */
    for (size_t cut = 0; cut <= len; cut++) {
        if (cut < len && (text[cut] & 0xC0) == 0x80)
            continue;
        gw_token_counter c = GW_TOKEN_COUNTER_INIT;
        gw_token_counter_feed(&c, text, cut);
        gw_token_counter_feed(&c, text + cut, len - cut);
        assert_int_equal(gw_token_counter_total(&c), whole);
    }
    /* One character at a time. */
    gw_token_counter c = GW_TOKEN_COUNTER_INIT;
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        while (i + n < len && (text[i + n] & 0xC0) == 0x80)
            n++;
        uint64_t before = gw_token_counter_total(&c);
        gw_token_counter_feed(&c, text + i, n);
        assert_true(gw_token_counter_total(&c) >= before); /* monotone */
        i += n;
    }
    assert_int_equal(gw_token_counter_total(&c), whole);
}

static void
test_take_limit(void **state)
{
    (void)state;
    gw_token_counter c = GW_TOKEN_COUNTER_INIT;
    /* "abcd efgh" = 2 tokens; a limit of 1 keeps "abcd " (the space is free). */
    assert_int_equal(gw_token_counter_take(&c, "abcd efgh", 9, 1), 5);
    assert_int_equal(gw_token_counter_total(&c), 1);
    /* Nothing more fits. */
    assert_int_equal(gw_token_counter_take(&c, "x", 1, 1), 0);
    assert_int_equal(gw_token_counter_total(&c), 1);
    /* The cut never splits a character. */
    gw_token_counter d = GW_TOKEN_COUNTER_INIT;
    const char cjk[] = "\xe4\xbd\xa0\xe5\xa5\xbd\xe5\x90\x97";
    assert_int_equal(gw_token_counter_take(&d, cjk, 9, 2), 6);
    assert_int_equal(gw_token_counter_total(&d), 2);
    /* A run may grow within its token: "abc" at limit 1 is whole. */
    gw_token_counter e = GW_TOKEN_COUNTER_INIT;
    assert_int_equal(gw_token_counter_take(&e, "ab", 2, 1), 2);
    assert_int_equal(gw_token_counter_take(&e, "cd", 2, 1), 2);
    assert_int_equal(gw_token_counter_take(&e, "e", 1, 1), 0);
    /* Limit 0 takes nothing but free characters. */
    gw_token_counter f = GW_TOKEN_COUNTER_INIT;
    assert_int_equal(gw_token_counter_take(&f, "  x", 3, 0), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimates),
        cmocka_unit_test(test_incremental_equals_whole),
        cmocka_unit_test(test_take_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
