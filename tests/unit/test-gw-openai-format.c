/* Unit tests for lingma-gatewayd/openai_format.c: the exact bytes of the
 * response objects (openai-wire.md, canonical stream). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "lingma/common.h"
#include "randtext.h"
#include "api/frontend.h"
#include "openai.h"
#include "sse.h"

static const gw_completion_meta meta = {"chatcmpl-1", 1700000000, "m", false};
static const gw_completion_meta meta_usage = {"chatcmpl-1", 1700000000, "m", true};

#define HEAD                                                                                       \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"          \
    "\"model\":\"m\","

static void
test_canonical_stream(void **state)
{
    (void)state;
    gw_buf json = GW_BUF_INIT;
    gw_buf sse = GW_BUF_INIT;
    gw_usage u = {9, 2};
#define EMIT(call)                                                                                 \
    do {                                                                                           \
        gw_buf_reset(&json);                                                                       \
        assert_int_equal(call, 0);                                                                 \
        assert_int_equal(gw_sse_data(&sse, json.data, json.len), 0);                               \
    } while (0)
    EMIT(gw_openai_chunk_role(&json, &meta));
    EMIT(gw_openai_chunk_content(&json, &meta, "Hel", 3));
    EMIT(gw_openai_chunk_finish(&json, &meta, "stop"));
    EMIT(gw_openai_chunk_usage(&json, &meta, &u));
    assert_int_equal(gw_sse_done(&sse), 0);
    assert_string_equal(
        sse.data,
        "data: " HEAD
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"finish_reason\":null}]}\n\n"
        "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},"
        "\"finish_reason\":null}]}\n\n"
        "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        "data: " HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
        "\"total_tokens\":11}}\n\n"
        "data: [DONE]\n\n");
    gw_buf_free(&json);
    gw_buf_free(&sse);
#undef EMIT
}

static void
test_include_usage_nulls(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_openai_chunk_role(&b, &meta_usage), 0);
    assert_string_equal(b.data, HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                     "\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}");
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_chunk_reasoning(&b, &meta_usage, "think", 5), 0);
    assert_string_equal(b.data, HEAD "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
                                     "\"think\"},\"finish_reason\":null}],\"usage\":null}");
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_chunk_finish(&b, &meta_usage, "length"), 0);
    assert_string_equal(b.data, HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
                                     "\"length\"}],\"usage\":null}");
    gw_buf_reset(&b);
    gw_usage u = {0, 0};
    assert_int_equal(gw_openai_chunk_usage(&b, &meta_usage, &u), 0);
    assert_string_equal(b.data, HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":0,"
                                     "\"completion_tokens\":0,\"total_tokens\":0}}");
    gw_buf_free(&b);
}

static void
test_text_escaping(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    const char text[] = "a\"b\\c\nd\te\x01 \xe4\xbd\xa0\xf0\x9f\x98\x80 </script>";
    assert_int_equal(gw_openai_chunk_content(&b, &meta, text, sizeof(text) - 1), 0);
    assert_string_equal(b.data, HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                                     "\"a\\\"b\\\\c\\nd\\te\\u0001 \xe4\xbd\xa0\xf0\x9f\x98\x80 "
                                     "</script>\"},\"finish_reason\":null}]}");
    assert_null(memchr(b.data, '\n', b.len));
    gw_buf_reset(&b);
    /* Invalid bytes become U+FFFD rather than failing the response. */
    assert_int_equal(gw_openai_chunk_content(&b, &meta, "x\xff\xe4\xbd", 4), 0);
    assert_non_null(strstr(b.data, "\"x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""));
    gw_buf_reset(&b);
    /* Embedded NUL within the given length survives as \u0000. */
    assert_int_equal(gw_openai_chunk_content(&b, &meta, "a\0b", 3), 0);
    assert_non_null(strstr(b.data, "\"a\\u0000b\""));
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_chunk_content(&b, &meta, NULL, 0), 0);
    assert_non_null(strstr(b.data, "{\"content\":\"\"}"));
    gw_buf_free(&b);
}

static void
test_completion(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_usage u = {5, 7};
    assert_int_equal(gw_openai_completion(&b, &meta, "Hello", 5, NULL, 0, "stop", &u), 0);
    assert_string_equal(b.data,
                        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":"
                        "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{"
                        "\"role\":\"assistant\",\"content\":\"Hello\",\"refusal\":null},"
                        "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{"
                        "\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}");
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_completion(&b, &meta, "A", 1, "why", 3, "length", NULL), 0);
    assert_string_equal(b.data,
                        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":"
                        "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{"
                        "\"role\":\"assistant\",\"content\":\"A\",\"refusal\":null,"
                        "\"reasoning_content\":\"why\"},\"logprobs\":null,\"finish_reason\":"
                        "\"length\"}]}");
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_completion(&b, &meta, NULL, 0, NULL, 0, NULL, NULL), 0);
    assert_non_null(strstr(b.data, "\"content\":null"));
    assert_non_null(strstr(b.data, "\"finish_reason\":\"stop\""));
    gw_buf_free(&b);
}

/* The Chat Completions front-end with tool calls (api/chat_completions.c):
 * a call streams as a first fragment (id, type, name, arguments "") and
 * its arguments, then finish_reason tool_calls; a whole answer has
 * message.tool_calls and, without text, content null. */
static void
test_tool_calls(void **state)
{
    (void)state;
    static const gw_tool_call call = {"call_0123456789abcdef01234567", "get_weather",
                                      "{\"city\":\"Paris\"}"};
    const gw_frontend *fe = &gw_fe_chat_completions;
    gw_answer a = {"chatcmpl-1", 1700000000, "m", true, false, false, NULL, NULL, 0};
    gw_buf b = GW_BUF_INIT;
    gw_usage u = {5, 7};
    void *st = fe->state_new(&a);
    assert_int_equal(fe->stream_open(&b, st, &a), 0);
    assert_int_equal(fe->stream_text(&b, st, &a, "Hm.", 3), 0);
    assert_int_equal(fe->tool_call(&b, st, &a, 0, &call), 0);
    assert_int_equal(fe->stream_close(&b, st, &a, GW_FINISH_TOOL_CALLS, &u), 0);
    fe->state_free(st);
    assert_string_equal(
        b.data, "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
                "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hm.\"},"
                "\"finish_reason\":null}]}\n\n"
                "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                "\"id\":\"call_0123456789abcdef01234567\",\"type\":\"function\",\"function\":{"
                "\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
                "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                "\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                "\"finish_reason\":null}]}\n\n"
                "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
                "\"tool_calls\"}]}\n\n"
                "data: [DONE]\n\n");
    gw_buf_reset(&b);

    a.stream = false;
    st = fe->state_new(&a);
    assert_int_equal(fe->tool_call(&b, st, &a, 0, &call), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(fe->complete(&b, st, &a, "", 0, NULL, 0, GW_FINISH_TOOL_CALLS, &u), 0);
    fe->state_free(st);
    assert_string_equal(b.data,
                        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":"
                        "1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{"
                        "\"role\":\"assistant\",\"content\":null,\"refusal\":null,"
                        "\"tool_calls\":[{\"id\":\"call_0123456789abcdef01234567\",\"type\":"
                        "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
                        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"logprobs\":null,"
                        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,"
                        "\"completion_tokens\":7,\"total_tokens\":12}}");
    gw_buf_reset(&b);
    /* Without calls, the answer is as before (content "" for no text). */
    st = fe->state_new(&a);
    assert_int_equal(fe->complete(&b, st, &a, NULL, 0, NULL, 0, GW_FINISH_STOP, &u), 0);
    fe->state_free(st);
    assert_non_null(strstr(b.data, "\"content\":\"\",\"refusal\":null},"));
    gw_buf_free(&b);
}

static void
test_models(void **state)
{
    (void)state;
    static const gw_model_entry cat[] = {
        {"auto", "Auto", false, false},
        {"dashscope_qwen3_coder", "qwen3-coder", false, false},
    };
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_openai_models(&b, cat, 2, 1700000000, NULL), 0);
    assert_string_equal(b.data, "{\"object\":\"list\",\"data\":[{\"id\":\"auto\",\"object\":"
                                "\"model\",\"created\":1700000000,\"owned_by\":\"lingma\"},{"
                                "\"id\":\"dashscope_qwen3_coder\",\"object\":\"model\","
                                "\"created\":1700000000,\"owned_by\":\"lingma\"}]}");
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_models(&b, NULL, 0, 1, "x"), 0);
    assert_string_equal(b.data, "{\"object\":\"list\",\"data\":[]}");
    gw_buf_reset(&b);
    assert_int_equal(gw_openai_model(&b, &cat[1], 5, "alibaba"), 0);
    assert_string_equal(b.data, "{\"id\":\"dashscope_qwen3_coder\",\"object\":\"model\","
                                "\"created\":5,\"owned_by\":\"alibaba\"}");
    gw_buf_free(&b);
}

static void
test_completion_id(void **state)
{
    (void)state;
    uint8_t r[GW_COMPLETION_ID_BYTES];
    for (size_t i = 0; i < sizeof(r); i++)
        r[i] = (uint8_t)(0xa0 + i);
    char id[GW_COMPLETION_ID_SIZE];
    gw_completion_id(id, r);
    assert_string_equal(id, "chatcmpl-a0a1a2a3a4a5a6a7a8a9aaab");
    assert_int_equal(strlen(id), GW_COMPLETION_ID_SIZE - 1);
}

/* Every formatter, with every jansson allocation failing in turn: either
 * success or LINGMA_ENOMEM with the buffer untouched, and no leak. */
static void
test_oom(void **state)
{
    (void)state;
    static const gw_model_entry cat[] = {{"a", NULL, false, false}, {"b", NULL, false, false}};
    gw_usage u = {1, 2};
    for (int which = 0; which < 8; which++) {
        struct failalloc fa = {0};
        bool done = false;
        for (long n = 0; n < 200 && !done; n++) {
            gw_buf b = GW_BUF_INIT;
            gw_buf_puts(&b, "prefix");
            failalloc_arm(&fa, n);
            failalloc_hook_jansson(&fa);
            int rc = -1;
            switch (which) {
            case 0:
                rc = gw_openai_completion(&b, &meta, "x", 1, "r", 1, "stop", &u);
                break;
            case 1:
                rc = gw_openai_chunk_role(&b, &meta_usage);
                break;
            case 2:
                rc = gw_openai_chunk_content(&b, &meta_usage, "x\xff", 2);
                break;
            case 3:
                rc = gw_openai_chunk_reasoning(&b, &meta, "x", 1);
                break;
            case 4:
                rc = gw_openai_chunk_finish(&b, &meta, "stop");
                break;
            case 5:
                rc = gw_openai_chunk_usage(&b, &meta, &u);
                break;
            case 6:
                rc = gw_openai_models(&b, cat, 2, 1, NULL);
                break;
            default:
                rc = gw_openai_model(&b, cat, 1, NULL);
                break;
            }
            failalloc_hook_jansson(NULL);
            if (rc == 0) {
                done = fa.failures == 0;
            } else {
                assert_int_equal(rc, LINGMA_ENOMEM);
                assert_string_equal(b.data, "prefix");
            }
            assert_int_equal(fa.live, 0);
            gw_buf_free(&b);
        }
        assert_true(done);
    }
}

/* The total saturates instead of overflowing (UBSan found the sum of the
 * random test's extremes). */
static void
test_usage_total_saturates(void **state)
{
    (void)state;
    gw_usage u = {5, 7, 0};
    assert_int_equal(gw_usage_total(&u), 12);
    u = (gw_usage){INT64_MAX, 42, 0};
    assert_true(gw_usage_total(&u) == INT64_MAX);
    u = (gw_usage){INT64_MIN + 1, INT64_MIN + 1, 0};
    assert_true(gw_usage_total(&u) == INT64_MIN);
    u = (gw_usage){INT64_MAX, -1, 0};
    assert_true(gw_usage_total(&u) == INT64_MAX - 1);
}

/* The direct writers against the trees, byte for byte, over random
 * objects: bytes chosen to hit every escape, NUL, DEL, multi-byte and
 * invalid UTF-8, in the id, the model, the texts and the finish reason,
 * and extreme integers. */
static uint32_t lcg = 7;
static unsigned
pick(unsigned n)
{
    return test_pick(&lcg, n);
}

static size_t
random_bytes(char *out, size_t cap)
{
    return test_random_text(&lcg, out, cap);
}

static void
test_direct_equals_tree(void **state)
{
    (void)state;
    static const int64_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN + 1, 1700000000};
    char id[24], model[24], fr[16], content[64], reasoning[64];
    for (int iter = 0; iter < 20000; iter++) {
        random_bytes(id, 16);
        random_bytes(model, 16);
        random_bytes(fr, 8);
        size_t clen = random_bytes(content, 48), rlen = random_bytes(reasoning, 48);
        gw_completion_meta m = {pick(8) ? id : NULL, ints[pick(7)], pick(8) ? model : NULL,
                                pick(2) != 0};
        if (pick(2)) { /* mostly plain ids, as the gateway makes them */
            strcpy(id, "chatcmpl-0123abcd");
            strcpy(model, "qwen3-coder");
        }
        gw_usage u = {ints[pick(7)], ints[pick(7)], 0};
        const char *c = pick(5) ? content : NULL, *r = pick(3) ? NULL : reasoning;
        const char *f = pick(4) ? (pick(2) ? "stop" : fr) : NULL;
        const gw_usage *up = pick(2) ? &u : NULL;
        gw_buf a = GW_BUF_INIT, b = GW_BUF_INIT;
        int rt = gw_openai_completion_tree(&a, &m, c, clen, r, rlen, NULL, 0, f, up);
        int rd = gw_openai_completion_calls(&b, &m, c, clen, r, rlen, NULL, 0, f, up);
        assert_int_equal(rd, rt);
        if (rt == 0) {
            assert_int_equal(b.len, a.len);
            assert_memory_equal(b.data, a.data, a.len);
        }
        gw_buf_reset(&a);
        gw_buf_reset(&b);
        bool reason = pick(2);
        rt = gw_openai_chunk_text_tree(&a, &m, reason ? "reasoning_content" : "content", c, clen);
        rd = reason ? gw_openai_chunk_reasoning(&b, &m, c, clen)
                    : gw_openai_chunk_content(&b, &m, c, clen);
        assert_int_equal(rd, rt);
        if (rt == 0) {
            assert_int_equal(b.len, a.len);
            assert_memory_equal(b.data, a.data, a.len);
        }
        gw_buf_free(&a);
        gw_buf_free(&b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_stream),
        cmocka_unit_test(test_include_usage_nulls),
        cmocka_unit_test(test_text_escaping),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_tool_calls),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_completion_id),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_usage_total_saturates),
        cmocka_unit_test(test_direct_equals_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
