/* Unit tests for lingma-gatewayd/stop.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"
#include "stop.h"
#include "utf8.h"

/* Feed `text` cut into pieces of `step` bytes; return what was forwarded
 * and whether a stop hit. */
static char *
run(char *const *stops, size_t n, const char *text, size_t step, bool *hit)
{
    gw_stop_matcher m;
    assert_int_equal(gw_stop_init(&m, stops, n), 0);
    gw_buf out = GW_BUF_INIT;
    size_t len = strlen(text);
    *hit = false;
    for (size_t i = 0; i < len; i += step) {
        size_t k = len - i < step ? len - i : step;
        size_t before = out.len;
        bool h = false;
        assert_int_equal(gw_stop_feed(&m, &out, text + i, k, &h), 0);
        /* Each piece of output ends on a character boundary. */
        assert_int_equal(gw_utf8_complete_prefix(out.data ? out.data : "", out.len), out.len);
        (void)before;
        *hit |= h;
    }
    if (!*hit)
        assert_int_equal(gw_stop_flush(&m, &out), 0);
    gw_stop_free(&m);
    gw_buf_reserve(&out, 0);
    return gw_buf_detach(&out, NULL);
}

static void
test_no_stops_passthrough(void **state)
{
    (void)state;
    bool hit;
    char *o = run(NULL, 0, "hello world", 3, &hit);
    assert_string_equal(o, "hello world");
    assert_false(hit);
    free(o);
}

static void
test_every_split(void **state)
{
    (void)state;
    char *stops[] = {"END", "\n\nUser:", "\xe4\xbd\xa0\xe5\xa5\xbd"};
    struct {
        const char *in, *want;
        bool hit;
    } cases[] = {
        {"abc END def", "abc ", true},
        {"abcEN", "abcEN", false},
        {"ENEND", "EN", true},
        {"EEND", "E", true},
        {"answer\n\nUser: more", "answer", true},
        {"answer\n\nUse it", "answer\n\nUse it", false},
        {"x \xe4\xbd\xa0\xe5\xa5\xbd y", "x ", true},
        {"x \xe4\xbd\xa0 \xe5\xa5\xbd", "x \xe4\xbd\xa0 \xe5\xa5\xbd", false},
        {"END", "", true},
        {"no stop here", "no stop here", false},
        {"ends with E", "ends with E", false},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (size_t step = 1; step <= strlen(cases[c].in) + 1; step++) {
            bool hit;
            char *o = run(stops, 3, cases[c].in, step, &hit);
            if (strcmp(o, cases[c].want) != 0 || hit != cases[c].hit)
                fail_msg("case %zu step %zu: got '%s' hit=%d", c, step, o, hit);
            free(o);
        }
    }
}

static void
test_earliest_wins_and_after_hit(void **state)
{
    (void)state;
    char *stops[] = {"bc", "abcd", "", "zz"};
    gw_stop_matcher m;
    assert_int_equal(gw_stop_init(&m, stops, 4), 0);
    assert_int_equal(m.n, 3); /* the empty one is dropped */
    gw_buf out = GW_BUF_INIT;
    bool hit = false;
    assert_int_equal(gw_stop_feed(&m, &out, "xxab", 4, &hit), 0);
    assert_false(hit);
    assert_int_equal(gw_stop_feed(&m, &out, "cd", 2, &hit), 0);
    assert_true(hit);
    /* "abcd" starts before "bc": the earliest match wins. */
    assert_string_equal(out.data, "xx");
    /* After a hit: nothing more, ever. */
    assert_int_equal(gw_stop_feed(&m, &out, "more", 4, &hit), 0);
    assert_true(hit);
    assert_int_equal(gw_stop_flush(&m, &out), 0);
    assert_string_equal(out.data, "xx");
    gw_stop_free(&m);
    gw_stop_free(&m);
    gw_stop_free(NULL);
    gw_buf_free(&out);
}

static void
test_holds_partial_utf8(void **state)
{
    (void)state;
    gw_stop_matcher m;
    assert_int_equal(gw_stop_init(&m, NULL, 0), 0);
    gw_buf out = GW_BUF_INIT;
    /* 你 split across three feeds. */
    assert_int_equal(gw_stop_feed(&m, &out, "a\xe4", 2, NULL), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(gw_stop_feed(&m, &out, "\xbd", 1, NULL), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(gw_stop_feed(&m, &out, "\xa0", 1, NULL), 0);
    assert_string_equal(out.data, "a\xe4\xbd\xa0");
    assert_int_equal(gw_stop_feed(&m, &out, "", 0, NULL), 0);
    gw_stop_free(&m);
    gw_buf_free(&out);
}

static void
test_more_than_max_is_ignored(void **state)
{
    (void)state;
    /* The matcher keeps GW_MAX_STOP (the request model's room, any API);
     * OpenAI's own limit of 4 is the parser's to enforce. */
    char *stops[GW_MAX_STOP + 1];
    char names[GW_MAX_STOP + 1][4];
    for (int i = 0; i <= GW_MAX_STOP; i++) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        stops[i] = names[i];
    }
    gw_stop_matcher m;
    assert_int_equal(gw_stop_init(&m, stops, GW_MAX_STOP + 1), 0);
    assert_int_equal(m.n, GW_MAX_STOP);
    gw_buf out = GW_BUF_INIT;
    bool hit = false;
    assert_int_equal(gw_stop_feed(&m, &out, "xx s3 yy", 8, &hit), 0);
    assert_true(hit);
    assert_string_equal(gw_stop_matched(&m), "s3");
    assert_string_equal(out.data, "xx ");
    gw_buf_free(&out);
    gw_stop_free(&m);
}

static void
test_storage_by_need(void **state)
{
    (void)state;
    /* Every open stream holds a matcher: without a sequence (or with only
     * empty ones) it owns no array; with some, exactly what it kept. */
    gw_stop_matcher m;
    assert_int_equal(gw_stop_init(&m, NULL, 0), 0);
    assert_null(m.seq);
    gw_stop_free(&m);
    char *empty[] = {"", NULL, ""};
    assert_int_equal(gw_stop_init(&m, empty, 3), 0);
    assert_null(m.seq);
    assert_int_equal(m.n, 0);
    gw_buf out = GW_BUF_INIT;
    bool hit = true;
    assert_int_equal(gw_stop_feed(&m, &out, "text", 4, &hit), 0);
    assert_false(hit);
    assert_null(gw_stop_matched(&m));
    assert_int_equal(gw_stop_flush(&m, &out), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "text", 4);
    gw_buf_free(&out);
    gw_stop_free(&m);
    char *some[] = {"", "ab", NULL, "cde"};
    assert_int_equal(gw_stop_init(&m, some, 4), 0);
    assert_int_equal(m.n, 2);
    assert_non_null(m.seq);
    assert_string_equal(m.seq[0].s, "ab");
    assert_int_equal(m.seq[1].len, 3);
    gw_stop_free(&m);
    assert_null(m.seq);
    assert_int_equal(m.n, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_stops_passthrough),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_earliest_wins_and_after_hit),
        cmocka_unit_test(test_holds_partial_utf8),
        cmocka_unit_test(test_more_than_max_is_ignored),
        cmocka_unit_test(test_storage_by_need),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
