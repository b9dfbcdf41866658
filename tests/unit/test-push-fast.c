/* Unit tests of the fast chat/answer and chat/finish decoder
 * (liblingma/proto/push_fast.c): what it reads, and what it leaves to the
 * full parser. fuzz/fuzz-push_fast.c checks it against jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "failalloc.h"
#include "push_fast.h"

static struct lingma__buf scratch;

static int
decode(struct lingma__push_fast *m, const char *body)
{
    return lingma__push_fast_decode(m, &scratch, NULL, body, strlen(body));
}

static int
teardown(void **state)
{
    (void)state;
    free(scratch.p);
    memset(&scratch, 0, sizeof(scratch));
    return 0;
}

static void
test_answer(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    assert_int_equal(decode(&m,
                            "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"chat/answer\","
                            "\"params\":{\"requestId\":\"r-1\",\"sessionId\":\"s-1\","
                            "\"text\":\"Hello\",\"overwrite\":false,\"isFiltered\":false,"
                            "\"timestamp\":1764000000000,\"extra\":{\"sessionType\":\"chat\"}}}"),
                     1);
    assert_int_equal(m.kind, LINGMA__PUSH_ANSWER);
    assert_int_equal(m.id, 42);
    assert_string_equal(m.answer.request_id, "r-1");
    assert_string_equal(m.answer.session_id, "s-1");
    assert_int_equal(m.answer.len, 5);
    assert_memory_equal(m.answer.text, "Hello", 5);
}

static void
test_answer_defaults_and_content(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    /* No text: content; neither: "". No sessionId: NULL. Any key order. */
    assert_int_equal(decode(&m, "{\"params\":{\"content\":\"c\",\"requestId\":\"r\"},\"method\":"
                                "\"chat/answer\",\"id\":-3,\"jsonrpc\":\"2.0\"}"),
                     1);
    assert_int_equal(m.id, -3);
    assert_null(m.answer.session_id);
    assert_string_equal(m.answer.text, "c");
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\","
                                "\"params\":{\"requestId\":\"r\"}}"),
                     1);
    assert_string_equal(m.answer.text, "");
    assert_int_equal(m.answer.len, 0);
}

static void
test_escapes_and_utf8(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    assert_int_equal(
        decode(&m, " {\"jsonrpc\" : \"2.0\" ,\n\"id\":1,\"method\":\"chat\\/answer\",\"params\":"
                   "{\"requestId\":\"r\",\"\\u0074ext\":\"a\\\"\\\\\\n\\u00e9\\ud83d\\ude00"
                   "\xe4\xbd\xa0\"}}\r\n"),
        1);
    assert_string_equal(m.answer.text, "a\"\\\n\xc3\xa9\xf0\x9f\x98\x80\xe4\xbd\xa0");
    assert_int_equal(m.answer.len, strlen(m.answer.text));
}

static void
test_duplicates_last_wins(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"chat/think\","
                                "\"method\":\"chat/answer\",\"params\":{\"requestId\":\"old\","
                                "\"text\":\"x\"},\"params\":{\"requestId\":\"new\",\"sessionId\":"
                                "\"s\",\"sessionId\":7}}"),
                     1);
    assert_int_equal(m.id, 2);
    assert_string_equal(m.answer.request_id, "new");
    assert_null(m.answer.session_id); /* the last sessionId is not a string */
    assert_string_equal(m.answer.text, "");
}

static void
test_finish(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"chat/finish\","
                                "\"params\":{\"requestId\":\"r\",\"sessionId\":\"s\",\"reason\":"
                                "\"success\",\"statusCode\":500,\"fullAnswer\":\"all\",\"extra\":"
                                "{\"sessionType\":\"chat\"}}}"),
                     1);
    assert_int_equal(m.kind, LINGMA__PUSH_FINISH);
    assert_string_equal(m.finish.request_id, "r");
    assert_string_equal(m.finish.session_id, "s");
    assert_string_equal(m.finish.reason, "success");
    assert_int_equal(m.finish.status_code, 500);
    assert_int_equal(m.finish.full_answer_len, 3);
    assert_string_equal(m.finish.full_answer, "all");
    assert_false(m.finish.usage.present);
    /* Absent or non-integer statusCode: 200, as lingma__method_finish says. */
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"chat/finish\","
                                "\"params\":{\"requestId\":\"r\",\"statusCode\":4.5}}"),
                     1);
    assert_int_equal(m.finish.status_code, 200);
    assert_string_equal(m.finish.reason, "");
    assert_string_equal(m.finish.full_answer, "");
}

static void
test_step_and_others(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
                                "\"chat/process_step_callback\",\"params\":{\"requestId\":\"r\","
                                "\"sessionId\":\"s\",\"step\":\"step_start\",\"result\":null}}"),
                     1);
    assert_int_equal(m.kind, LINGMA__PUSH_STEP);
    assert_int_equal(m.id, 3);
    assert_string_equal(m.step.request_id, "r");
    assert_string_equal(m.step.session_id, "s");
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"chat/think\","
                                "\"params\":{\"requestId\":5}}"),
                     1);
    assert_int_equal(m.kind, LINGMA__PUSH_THINK);
    assert_null(m.step.request_id);
    assert_null(m.step.session_id);
    /* A request the runtime answers null without reading its params. */
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
                                "\"session/title/update\",\"params\":[1,{\"a\":\"b\"}]}"),
                     1);
    assert_int_equal(m.kind, LINGMA__PUSH_OTHER);
    assert_int_equal(m.id, 5);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"x\"}"), 1);
    assert_int_equal(m.kind, LINGMA__PUSH_OTHER);
}

/* Each is left to the full parser: unusual, not ours, or invalid. */
static void
test_falls_back(void **state)
{
    static const char *const bodies[] = {
        "",
        "[]",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"auth/report\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tool/invoke\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"session/title/update\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7,\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/think\",\"params\":\"r\"}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":12345678901234567890,\"method\":\"chat/answer\",\"params\":{"
        "\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/"
        "answer\",\"params\":{\"sessionId\":\"s\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":3}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":[]}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\","
        "\"text\":\"\\u0000\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\","
        "\"text\":\"\\udc00\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\","
        "\"text\":\"\\ud800x\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\","
        "\"text\":\"\xc0\xaf\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\","
        "\"text\":\"tab\there\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\",}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/"
        "answer\",\"params\":{\"requestId\":\"r\"}} x",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\",\"params\":{\"requestId\":\"r\","
        "\"x\":tru}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/finish\",\"params\":{\"requestId\":\"r\","
        "\"statusCode\":\"429\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/finish\",\"params\":{\"requestId\":\"r\","
        "\"extra\":{\"usage\":{\"prompt_tokens\":1}}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/finish\",\"params\":{\"requestId\":\"r\","
        "\"extra\":{\"totalTokens\":3}}}",
    };
    struct lingma__push_fast m;
    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (decode(&m, bodies[i]) != 0)
            fail_msg("decoded body %zu: %s", i, bodies[i]);
    }
}

static void
test_deep_nesting_falls_back(void **state)
{
    char body[512];
    struct lingma__push_fast m;
    size_t n = 0;
    (void)state;
    n += (size_t)snprintf(body, sizeof(body),
                          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\","
                          "\"params\":{\"requestId\":\"r\",\"x\":");
    for (int i = 0; i < 40; i++)
        body[n++] = '[';
    for (int i = 0; i < 40; i++)
        body[n++] = ']';
    memcpy(body + n, "}}", 3);
    assert_int_equal(decode(&m, body), 0);
}

/* Out of memory for the strings: the full parser decides. */
/* A result: the id and the "result" value's bytes, nothing parsed. */
static void
expect_result(const char *body, int64_t id, const char *result)
{
    struct lingma__push_fast m;
    assert_int_equal(decode(&m, body), 2);
    assert_int_equal(m.id, id);
    assert_int_equal(m.result_len, strlen(result));
    assert_memory_equal(m.result, result, m.result_len);
}

static void
test_results(void **state)
{
    struct lingma__push_fast m;
    (void)state;
    /* chat/ask's and chat/deleteSessionById's replies, as the simulator
     * sends them. */
    expect_result("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"success\":true,\"isSuccess\":true,"
                  "\"requestId\":\"r\",\"sessionId\":\"s\",\"errorMessage\":\"\"}}",
                  7,
                  "{\"success\":true,\"isSuccess\":true,\"requestId\":\"r\",\"sessionId\":\"s\","
                  "\"errorMessage\":\"\"}");
    expect_result("{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":null}", 8, "null");
    /* Any order, "error": null beside it, the last of two results. */
    expect_result(" { \"result\" : [1, \"a\"] , \"error\":null,\"id\":-2,\"jsonrpc\":\"2.0\","
                  "\"result\":{\"k\" : [ ] } } ",
                  -2, "{\"k\" : [ ] }");
    /* The full parser decides: an error, no result, any "method" key, a
     * wrong version, an id that is not an integer, invalid JSON. */
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":null}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"method\":2}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":1}"), 0);
    assert_int_equal(decode(&m, "{\"result\":1,\"id\":1}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":1}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":1}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":tru}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,}"), 0);
    assert_int_equal(decode(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"\\u0000\"}"), 0);
}

static void
test_out_of_memory(void **state)
{
    struct failalloc fa = {0};
    struct lingma__buf b = {0};
    struct lingma__push_fast m;
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat/answer\","
                               "\"params\":{\"requestId\":\"r\",\"text\":\"t\"}}";
    (void)state;
    failalloc_arm(&fa, 0);
    lingma_allocator a = failalloc_allocator(&fa);
    assert_int_equal(lingma__push_fast_decode(&m, &b, &a, body, sizeof(body) - 1), 0);
    failalloc_arm(&fa, -1);
    assert_int_equal(lingma__push_fast_decode(&m, &b, &a, body, sizeof(body) - 1), 1);
    assert_string_equal(m.answer.text, "t");
    lingma__free(&a, b.p);
    assert_int_equal(fa.live, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_answer, teardown),
        cmocka_unit_test_teardown(test_answer_defaults_and_content, teardown),
        cmocka_unit_test_teardown(test_escapes_and_utf8, teardown),
        cmocka_unit_test_teardown(test_duplicates_last_wins, teardown),
        cmocka_unit_test_teardown(test_finish, teardown),
        cmocka_unit_test_teardown(test_step_and_others, teardown),
        cmocka_unit_test_teardown(test_falls_back, teardown),
        cmocka_unit_test_teardown(test_deep_nesting_falls_back, teardown),
        cmocka_unit_test_teardown(test_results, teardown),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
