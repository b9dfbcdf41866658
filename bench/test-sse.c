/* lingma-bench: the SSE reader and the stamp parser, fed at every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"
#include "http.h"

static const char stream[] =
    ": ping\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"@123456789@Hel\"},"
    "\"finish_reason\":null}]}\r\n\r\n"
    "data:{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"x\","
    "\"content\":\"lo\"},\"finish_reason\":null}]}\n\n"
    "data: [DONE]\n\n";

struct seen {
    int chunks;
    uint64_t stamps[4];
};

static void
on_chunk(uint64_t stamp, void *arg)
{
    struct seen *s = arg;
    if (s->chunks < 4)
        s->stamps[s->chunks] = stamp;
    s->chunks++;
}

static void
test_every_split(void **state)
{
    (void)state;
    size_t n = sizeof(stream) - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        struct sse s = {0};
        struct seen seen = {0};
        assert_int_equal(sse_feed(&s, stream, cut, on_chunk, &seen), 0);
        assert_int_equal(sse_feed(&s, stream + cut, n - cut, on_chunk, &seen), 0);
        assert_int_equal(s.done, 1);
        assert_int_equal(s.error, 0);
        assert_int_equal(s.tokens, 2);
        assert_int_equal(seen.chunks, 2);
        assert_true(seen.stamps[0] == 123456789u);
        assert_true(seen.stamps[1] == 0);
        sse_free(&s);
    }
}

static void
test_error_event(void **state)
{
    (void)state;
    static const char err[] = "event: error\ndata: {\"error\":{\"message\":\"x\"}}\n\n";
    struct sse s = {0};
    struct seen seen = {0};
    assert_int_equal(sse_feed(&s, err, sizeof(err) - 1, on_chunk, &seen), 0);
    assert_int_equal(s.error, 1);
    assert_int_equal(s.done, 0);
    sse_free(&s);
}

static void
test_stamp(void **state)
{
    (void)state;
    uint64_t ns = 0;
    assert_int_equal(stamp_parse("@42@x", 5, &ns), 4);
    assert_true(ns == 42);
    assert_int_equal(stamp_parse("@42", 3, &ns), 0);
    assert_int_equal(stamp_parse("@@x", 3, &ns), 0);
    assert_int_equal(stamp_parse("42@", 3, &ns), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_error_event),
        cmocka_unit_test(test_stamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
