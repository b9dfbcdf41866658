/* Unit tests for lingma-gatewayd/buf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "failalloc.h"
#include "lingma/common.h"

static void
test_append_and_terminate(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_buf_append(&b, "", 0), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(gw_buf_puts(&b, "abc"), 0);
    assert_int_equal(gw_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abc-42-x");
    /* Growth across many appends keeps the content. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(gw_buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(b.len, 10008);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 8, "0123456789", 10);
    gw_buf_truncate(&b, 3);
    assert_string_equal(b.data, "abc");
    gw_buf_truncate(&b, 100); /* no-op */
    assert_int_equal(b.len, 3);
    gw_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    gw_buf_free(&b);
    assert_null(b.data);
    gw_buf_free(&b);
    gw_buf_free(NULL);
}

static void
test_detach(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    size_t len = 99;
    assert_null(gw_buf_detach(&b, &len));
    assert_int_equal(len, 0);
    gw_buf_puts(&b, "hello");
    char *p = gw_buf_detach(&b, &len);
    assert_string_equal(p, "hello");
    assert_int_equal(len, 5);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    free(p);
}

static void
test_huge_is_refused(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_buf_puts(&b, "x");
    assert_int_equal(gw_buf_reserve(&b, SIZE_MAX - 2), LINGMA_ENOMEM);
    assert_int_equal(gw_buf_append(&b, "y", SIZE_MAX / 2), LINGMA_ENOMEM);
    assert_string_equal(b.data, "x");
    gw_buf_free(&b);
}

static void
test_json(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    json_t *j = json_pack("{s:f,s:s,s:[i,b,n]}", "t", 0.7, "s", "\xc3\xa9\xe2\x82\xac/", "a", 1, 1);
    assert_int_equal(gw_buf_append_json(&b, j), 0);
    /* 15 significant digits, compact, UTF-8 and '/' passed through. */
    assert_string_equal(b.data, "{\"t\":0.7,\"s\":\"\xc3\xa9\xe2\x82\xac/\",\"a\":[1,true,null]}");
    json_decref(j);
    j = json_string("x");
    assert_int_equal(gw_buf_append_json(&b, j), 0); /* scalars too */
    json_decref(j);
    assert_true(b.len > 0 && b.data[b.len - 1] == '"');
    gw_buf_free(&b);
}

static void
test_json_oom_leaves_buffer(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_buf_puts(&b, "keep");
    json_t *j = json_pack("{s:s}", "k", "v");
    struct failalloc fa = {0};
    failalloc_arm(&fa, 0);
    failalloc_hook_jansson(&fa);
    int rc = gw_buf_append_json(&b, j);
    failalloc_hook_jansson(NULL);
    /* jansson may not need to allocate to dump; either way no half output. */
    if (rc != 0)
        assert_string_equal(b.data, "keep");
    json_decref(j);
    gw_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_terminate),   cmocka_unit_test(test_detach),
        cmocka_unit_test(test_huge_is_refused),        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_oom_leaves_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
