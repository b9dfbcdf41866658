/* Unit tests for lingma-gatewayd/sse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"
#include "sse.h"

static void
test_framing(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_sse_data(&b, "{\"a\":1}", 7), 0);
    assert_int_equal(gw_sse_ping(&b), 0);
    assert_int_equal(gw_sse_done(&b), 0);
    assert_string_equal(b.data, "data: {\"a\":1}\n\n: ping\n\ndata: [DONE]\n\n");
    gw_buf_free(&b);
}

static void
test_refuses_multiline_and_empty(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_buf_puts(&b, "data: x\n\n");
    assert_int_equal(gw_sse_data(&b, "{\"a\":\n1}", 8), LINGMA_EINVAL);
    assert_int_equal(gw_sse_data(&b, "{\"a\":\r1}", 8), LINGMA_EINVAL);
    assert_int_equal(gw_sse_data(&b, "", 0), LINGMA_EINVAL);
    assert_int_equal(gw_sse_data(&b, NULL, 3), LINGMA_EINVAL);
    /* Nothing half-written. */
    assert_string_equal(b.data, "data: x\n\n");
    /* The length is honoured, not the NUL. */
    assert_int_equal(gw_sse_data(&b, "{}garbage", 2), 0);
    assert_string_equal(b.data, "data: x\n\ndata: {}\n\n");
    gw_buf_free(&b);
}

static void
test_named_event(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_sse_event(&b, "response.created", "{\"a\":1}", 7), 0);
    assert_string_equal(b.data, "event: response.created\ndata: {\"a\":1}\n\n");
    /* All or nothing: a bad name or bad data leaves the buffer as it was. */
    assert_int_equal(gw_sse_event(&b, "", "{}", 2), LINGMA_EINVAL);
    assert_int_equal(gw_sse_event(&b, NULL, "{}", 2), LINGMA_EINVAL);
    assert_int_equal(gw_sse_event(&b, "a\nb", "{}", 2), LINGMA_EINVAL);
    assert_int_equal(gw_sse_event(&b, "x", "{\n}", 3), LINGMA_EINVAL);
    assert_int_equal(gw_sse_event(&b, "x", "", 0), LINGMA_EINVAL);
    assert_string_equal(b.data, "event: response.created\ndata: {\"a\":1}\n\n");
    gw_buf_free(&b);
}

static void
test_error_event(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_error e;
    gw_error_from_lingma(&e, LINGMA_EIO, 0, 0);
    /* A message with a newline still gives one line of JSON. */
    gw_error_set(&e, 502, GW_TYPE_SERVER, "upstream_connection_error", NULL, "lost\nit");
    assert_int_equal(gw_sse_error(&b, &e), 0);
    assert_string_equal(b.data, "data: {\"error\":{\"message\":\"lost\\nit\",\"type\":"
                                "\"server_error\",\"param\":null,\"code\":"
                                "\"upstream_connection_error\"}}\n\n");
    gw_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_refuses_multiline_and_empty),
        cmocka_unit_test(test_named_event),
        cmocka_unit_test(test_error_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
