/* Unit tests of the streaming think-block splitter (liblingma/think.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "think.h"

struct out {
    char text[4096];
    size_t text_len;
    char reasoning[4096];
    size_t reasoning_len;
    int pieces;
    int stop_after; /* return 1 from the emit after this many pieces; 0: never */
};

static int
collect(int reasoning, const char *s, size_t len, void *payload)
{
    struct out *o = payload;
    char *dst = reasoning ? o->reasoning : o->text;
    size_t *n = reasoning ? &o->reasoning_len : &o->text_len;

    assert_true(len > 0); /* empty pieces are never emitted */
    assert_true(*n + len < sizeof(o->text));
    memcpy(dst + *n, s, len);
    *n += len;
    dst[*n] = '\0';
    o->pieces++;
    return o->stop_after && o->pieces >= o->stop_after;
}

/* Feed `s` cut into pieces of `step` bytes (0: whole), then finish. */
static void
run(struct out *o, const char *s, size_t step)
{
    struct lingma__think t;
    size_t len = strlen(s);

    memset(o, 0, sizeof(*o));
    lingma__think_init(&t);
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        assert_int_equal(lingma__think_feed(&t, s + i, n, collect, o), 0);
    }
    assert_int_equal(lingma__think_finish(&t, collect, o), 0);
}

/* Every cut of the input gives the same split. */
static void
check_all_cuts(const char *in, const char *text, const char *reasoning)
{
    struct out o;
    size_t len = strlen(in);

    for (size_t step = 0; step <= len; step++) {
        run(&o, in, step);
        assert_string_equal(o.text, text);
        assert_string_equal(o.reasoning, reasoning);
    }
}

static void
test_plain_text(void **state)
{
    (void)state;
    check_all_cuts("hello world", "hello world", "");
    check_all_cuts("a\nb\n``c\n````x", "a\nb\n``c\n````x", "");
    check_all_cuts("", "", "");
    check_all_cuts("\n", "\n", "");
    check_all_cuts("```` think not a marker", "```` think not a marker", "");
}

static void
test_block_after_newline(void **state)
{
    (void)state;
    check_all_cuts("\n````think::{THINK_TIME}\nThe user wants a word.\n````\npong", "pong",
                   "The user wants a word.");
    check_all_cuts("intro\n````think::12\nwhy\nbecause\n````\nanswer\n", "introanswer\n",
                   "why\nbecause");
}

static void
test_block_at_start(void **state)
{
    (void)state;
    check_all_cuts("````think::x\nR\n````\nT", "T", "R");
}

static void
test_unterminated_block(void **state)
{
    (void)state;
    /* The stream ends inside the block: everything is reasoning. */
    check_all_cuts("\n````think::t\nstill thinking\n``", "", "still thinking\n``");
    /* Closed by "\n````" at the very end, without the final newline. */
    check_all_cuts("\n````think::t\nR\n````", "", "R");
    /* Ends inside the header: nothing to show. */
    check_all_cuts("\n````think::{THINK", "", "");
}

static void
test_utf8_near_markers(void **state)
{
    (void)state;
    /* Multi-byte characters right next to the markers stay whole. */
    check_all_cuts("\xe4\xbd\xa0\n````think::t\n\xe5\xa5\xbd\n````\n\xf0\x9f\x98\x80",
                   "\xe4\xbd\xa0\xf0\x9f\x98\x80", "\xe5\xa5\xbd");
}

static void
test_two_blocks(void **state)
{
    (void)state;
    check_all_cuts("\n````think::a\nR1\n````\nT1\n````think::b\nR2\n````\nT2", "T1T2", "R1R2");
}

static void
test_pieces_not_bytewise(void **state)
{
    struct out o;
    (void)state;
    /* A long delta without markers comes out as one piece. */
    run(&o, "the quick brown fox jumps over the lazy dog", 0);
    assert_int_equal(o.pieces, 1);
}

static void
test_stop(void **state)
{
    struct lingma__think t;
    struct out o;
    (void)state;

    memset(&o, 0, sizeof(o));
    o.stop_after = 1;
    lingma__think_init(&t);
    assert_int_equal(lingma__think_feed(&t, "a\n````think::x\nb", 16, collect, &o), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),          cmocka_unit_test(test_block_after_newline),
        cmocka_unit_test(test_block_at_start),      cmocka_unit_test(test_unterminated_block),
        cmocka_unit_test(test_utf8_near_markers),   cmocka_unit_test(test_two_blocks),
        cmocka_unit_test(test_pieces_not_bytewise), cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
