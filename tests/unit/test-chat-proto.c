/* Unit tests of the chat part of the pure protocol helpers (liblingma/proto/methods.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "methods.h"

static const char *
sget(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

static void
test_ask_chat_mode(void **state)
{
    struct lingma__ask_spec spec = {"0123456789abcdef0123456789abcdef", NULL, "Reply: pong", NULL,
                                    LINGMA_ASK_DEFAULT};
    (void)state;
    json_t *p = lingma__method_ask(&spec);
    assert_non_null(p);
    assert_string_equal(sget(p, "requestId", NULL), spec.request_id);
    assert_string_equal(sget(p, "sessionId", NULL), "");
    assert_string_equal(sget(p, "chatTask", NULL), "FREE_INPUT");
    assert_string_equal(sget(p, "sessionType", NULL), "chat");
    assert_string_equal(sget(p, "mode", NULL), "chat");
    assert_true(json_is_true(json_object_get(p, "stream")));
    assert_int_equal(json_integer_value(json_object_get(p, "source")), 1);
    assert_string_equal(sget(p, "questionText", NULL), "Reply: pong");
    assert_string_equal(sget(p, "chatContext", "text"), "Reply: pong");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(p, "extra"), "modelConfig"), "key")),
                        "auto");
    json_decref(p);
}

static void
test_ask_agent_mode_model_session(void **state)
{
    struct lingma__ask_spec spec = {"r", "sess-1", "q", "dashscope_qwen3_coder", LINGMA_ASK_AGENT};
    (void)state;
    json_t *p = lingma__method_ask(&spec);
    assert_non_null(p);
    assert_string_equal(sget(p, "sessionType", NULL), "developer");
    assert_string_equal(sget(p, "mode", NULL), "agent");
    assert_string_equal(sget(p, "sessionId", NULL), "sess-1");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(p, "extra"), "modelConfig"), "key")),
                        "dashscope_qwen3_coder");
    json_decref(p);
}

static void
test_ask_bad_utf8(void **state)
{
    struct lingma__ask_spec spec = {"r", NULL, "bad \xff", NULL, LINGMA_ASK_CHAT};
    (void)state;
    assert_null(lingma__method_ask(&spec));
}

static void
test_hex_id(void **state)
{
    unsigned char rnd[16];
    char out[33];
    (void)state;
    for (int i = 0; i < 16; i++)
        rnd[i] = (unsigned char)(i * 17);
    lingma__method_hex_id(out, rnd);
    assert_string_equal(out, "00112233445566778899aabbccddeeff");
}

static void
test_answer(void **state)
{
    struct lingma__answer a;
    (void)state;
    json_t *p = json_pack("{s:s, s:s, s:s}", "requestId", "r1", "sessionId", "s1", "text", "pon");
    assert_int_equal(lingma__method_answer(&a, p), 0);
    assert_string_equal(a.request_id, "r1");
    assert_string_equal(a.session_id, "s1");
    assert_string_equal(a.text, "pon");
    assert_int_equal(a.len, 3);
    json_decref(p);

    /* `content` is the fallback; a missing text is an empty delta. */
    p = json_pack("{s:s, s:s}", "requestId", "r1", "content", "g");
    assert_int_equal(lingma__method_answer(&a, p), 0);
    assert_string_equal(a.text, "g");
    json_decref(p);
    p = json_pack("{s:s}", "requestId", "r1");
    assert_int_equal(lingma__method_answer(&a, p), 0);
    assert_string_equal(a.text, "");
    assert_null(a.session_id);
    json_decref(p);

    p = json_pack("{s:s}", "text", "x");
    assert_int_equal(lingma__method_answer(&a, p), LINGMA_EPROTO);
    json_decref(p);
    assert_int_equal(lingma__method_answer(&a, NULL), LINGMA_EPROTO);
}

static void
test_finish(void **state)
{
    struct lingma__finish f;
    (void)state;
    json_t *p = json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:i, s:i}}", "requestId", "r", "sessionId",
                          "s", "reason", "success", "statusCode", 200, "fullAnswer", "pong",
                          "extra", "prompt_tokens", 5, "completion_tokens", 7);
    assert_int_equal(lingma__method_finish(&f, p), 0);
    assert_int_equal(f.status_code, 200);
    assert_string_equal(f.reason, "success");
    assert_string_equal(f.full_answer, "pong");
    assert_true(f.usage.present);
    assert_int_equal(f.usage.prompt_tokens, 5);
    assert_int_equal(f.usage.completion_tokens, 7);
    assert_int_equal(f.usage.total_tokens, 12);
    json_decref(p);

    p = json_pack("{s:s, s:i, s:n}", "requestId", "r", "statusCode", 429, "extra");
    assert_int_equal(lingma__method_finish(&f, p), 0);
    assert_int_equal(f.status_code, 429);
    assert_false(f.usage.present);
    assert_string_equal(f.reason, "");
    json_decref(p);

    p = json_pack("{s:s, s:{s:{s:i, s:i, s:i}}}", "requestId", "r", "extra", "usage",
                  "promptTokens", 1, "completionTokens", 2, "totalTokens", 4);
    assert_int_equal(lingma__method_finish(&f, p), 0);
    assert_int_equal(f.status_code, 200);
    assert_true(f.usage.present);
    assert_int_equal(f.usage.total_tokens, 4);
    json_decref(p);

    p = json_pack("[]");
    assert_int_equal(lingma__method_finish(&f, p), LINGMA_EPROTO);
    json_decref(p);
}

static void
test_step_end(void **state)
{
    (void)state;
    json_t *p = json_pack("{s:s, s:s}", "requestId", "r", "step", "step_end");
    assert_true(lingma__method_is_step_end(p));
    json_object_set_new(p, "step", json_string("step_start"));
    assert_false(lingma__method_is_step_end(p));
    assert_string_equal(lingma__method_request_id(p), "r");
    json_decref(p);
    assert_null(lingma__method_request_id(NULL));
}

/* tool/invoke: its names read out (absent ones as ""), and the refusal in
 * the shape of the plugin's ToolInvokeResponse. */
static void
test_tool_invoke_refusal(void **state)
{
    (void)state;
    struct lingma__tool_invoke ti;
    assert_int_equal(lingma__push_kind("tool/invoke"), LINGMA__PUSH_TOOL_INVOKE);
    json_t *p = json_pack("{s:s, s:s, s:s, s:{}, s:b}", "requestId", "r", "toolCallId", "tc-1",
                          "name", "read_file", "parameters", "async", 0);
    lingma__method_tool_invoke(&ti, p);
    assert_string_equal(ti.request_id, "r");
    assert_string_equal(ti.tool_call_id, "tc-1");
    assert_string_equal(ti.name, "read_file");
    json_t *r = lingma__method_tool_invoke_refusal(&ti, "no", 1700000000000);
    char *s = json_dumps(r, JSON_COMPACT);
    assert_string_equal(s, "{\"toolCallId\":\"tc-1\",\"name\":\"read_file\",\"success\":false,"
                           "\"errorMessage\":\"no\",\"result\":null,\"startTime\":1700000000000,"
                           "\"timeConsuming\":0}");
    free(s);
    json_decref(r);
    json_decref(p);

    p = json_array();
    lingma__method_tool_invoke(&ti, p);
    assert_string_equal(ti.request_id, "");
    assert_string_equal(ti.tool_call_id, "");
    assert_string_equal(ti.name, "");
    json_decref(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ask_chat_mode), cmocka_unit_test(test_ask_agent_mode_model_session),
        cmocka_unit_test(test_ask_bad_utf8),  cmocka_unit_test(test_hex_id),
        cmocka_unit_test(test_answer),        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_step_end),      cmocka_unit_test(test_tool_invoke_refusal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
