/* Unit tests of chat/ask's direct writer (liblingma/proto/ask_write.c):
 * it gives what lingma__method_ask() builds, member for member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ask_write.h"

/* The writer's bytes, dumped again by jansson, equal the tree's dump. */
static void
same_as_tree(const struct lingma__ask_spec *spec)
{
    struct lingma__jsonw w = {0};
    json_error_t err;

    lingma__jsonw_reset(&w, 0);
    assert_int_equal(lingma__method_ask_write(&w, spec), 0);
    assert_false(w.oom);
    json_t *got = json_loadb(w.buf, w.len, 0, &err);
    json_t *ref = lingma__method_ask(spec);
    assert_non_null(got);
    assert_non_null(ref);
    char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(ref, JSON_COMPACT);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(got);
    json_decref(ref);
    lingma__jsonw_trim(&w, 0);
}

static void
test_chat_and_agent(void **state)
{
    struct lingma__ask_spec spec = {"0123456789abcdef0123456789abcdef", NULL, "hello", NULL,
                                    LINGMA_ASK_CHAT};
    (void)state;
    same_as_tree(&spec);
    spec.mode = LINGMA_ASK_AGENT;
    spec.model = "qwen";
    spec.session_id = "s-1";
    same_as_tree(&spec);
    spec.mode = LINGMA_ASK_DEFAULT;
    spec.model = "";
    same_as_tree(&spec);
}

static void
test_escapes_and_utf8(void **state)
{
    struct lingma__ask_spec spec = {"r", "\"s\"",
                                    "line\n\ttab \\ \"q\" \x01 / caf\xc3\xa9 \xe4\xbd\xa0", "m\x7f",
                                    LINGMA_ASK_CHAT};
    (void)state;
    same_as_tree(&spec);
}

static void
test_invalid_utf8(void **state)
{
    struct lingma__ask_spec spec = {"r", NULL, "bad \xc0\xaf", NULL, LINGMA_ASK_CHAT};
    struct lingma__jsonw w = {0};
    (void)state;
    assert_null(lingma__method_ask(&spec));
    assert_int_equal(lingma__method_ask_write(&w, &spec), LINGMA_EINVAL);
    lingma__jsonw_trim(&w, 0);
}

/* chat/deleteSessionById's params: the same object as the tree's, and
 * refused where the tree is (a session id not UTF-8). */
static void
test_delete_session(void **state)
{
    static const char *ids[] = {"", "s-1", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                                "q\"\\\n\x01 caf\xc3\xa9"};
    struct lingma__jsonw w = {0};
    json_error_t err;
    (void)state;
    for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
        lingma__jsonw_reset(&w, 0);
        assert_int_equal(lingma__method_delete_session_write(&w, ids[i]), 0);
        json_t *got = json_loadb(w.buf, w.len, 0, &err);
        json_t *ref = lingma__method_delete_session(ids[i]);
        assert_non_null(got);
        assert_true(json_equal(got, ref));
        json_decref(got);
        json_decref(ref);
    }
    lingma__jsonw_reset(&w, 0);
    assert_null(lingma__method_delete_session("bad \xc0\xaf"));
    assert_int_equal(lingma__method_delete_session_write(&w, "bad \xc0\xaf"), LINGMA_EINVAL);
    lingma__jsonw_trim(&w, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_and_agent),
        cmocka_unit_test(test_escapes_and_utf8),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_delete_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
