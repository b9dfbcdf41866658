/* Unit tests for lingma-gatewayd/errors.c: the liblingma -> HTTP mapping
 * (DESIGN.md table) and the OpenAI error envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "errors.h"
#include "lingma/common.h"

static void
expect(int code, int upstream, int status, const char *type, const char *ecode)
{
    gw_error e;
    memset(&e, 0x55, sizeof(e));
    gw_error_from_lingma(&e, code, upstream, 0);
    if (e.status != status)
        fail_msg("%d/%d: status %d, expected %d", code, upstream, e.status, status);
    assert_string_equal(e.type, type);
    assert_string_equal(e.code, ecode);
    assert_string_equal(e.param, "");
    assert_true(e.message[0] != '\0');
    /* Never a hint of internals. */
    assert_null(strchr(e.message, '/'));
}

/* What the access log and metrics say of an answer the engine could not
 * send as built. */
static void
test_answer_status(void **state)
{
    (void)state;
    assert_int_equal(gw_error_answer_status(200, LINGMA_OK), 200);
    assert_int_equal(gw_error_answer_status(404, LINGMA_OK), 404);
    assert_int_equal(gw_error_answer_status(200, LINGMA_ECANCELED), 499);
    assert_int_equal(gw_error_answer_status(429, LINGMA_ECANCELED), 499);
    assert_int_equal(gw_error_answer_status(200, LINGMA_ECLOSED), 503);
    assert_int_equal(gw_error_answer_status(200, LINGMA_ENOMEM), 500);
    assert_int_equal(gw_error_answer_status(200, LINGMA_EINVAL), 200);
}

static void
test_mapping_table(void **state)
{
    (void)state;
    expect(LINGMA_EINVAL, 0, 400, "invalid_request_error", "invalid_request");
    expect(LINGMA_ENOMEM, 0, 500, "server_error", "internal_error");
    expect(LINGMA_EPROTO, 0, 502, "server_error", "upstream_protocol_error");
    expect(LINGMA_EIO, 0, 502, "server_error", "upstream_connection_error");
    expect(LINGMA_ESPAWN, 0, 503, "server_error", "backend_unavailable");
    expect(LINGMA_ETIMEDOUT, 0, 504, "server_error", "timeout");
    expect(LINGMA_EBUSY, 0, 429, "rate_limit_error", "rate_limit_exceeded");
    expect(LINGMA_EUNAVAIL, 0, 503, "server_error", "service_unavailable");
    expect(LINGMA_ECANCELED, 0, 499, "invalid_request_error", "request_cancelled");
    expect(LINGMA_ERPC, 0, 502, "server_error", "upstream_error");
    expect(LINGMA_EUPSTREAM, 429, 429, "rate_limit_error", "upstream_rate_limited");
    expect(LINGMA_EUPSTREAM, 408, 504, "server_error", "upstream_timeout");
    expect(LINGMA_EUPSTREAM, 401, 503, "server_error", "upstream_unauthorized");
    expect(LINGMA_EUPSTREAM, 403, 503, "server_error", "upstream_unauthorized");
    expect(LINGMA_EUPSTREAM, 500, 502, "server_error", "upstream_error");
    expect(LINGMA_EUPSTREAM, 0, 502, "server_error", "upstream_error");
    expect(LINGMA_ECLOSED, 0, 503, "server_error", "shutting_down");
    expect(LINGMA_ENOTFOUND, 0, 404, "invalid_request_error", "not_found");
    expect(LINGMA_ERROR, 0, 500, "server_error", "internal_error");
    expect(-9999, 0, 500, "server_error", "internal_error");
    expect(0, 0, 500, "server_error", "internal_error");
    /* Every code the library defines maps to something sensible. */
    for (int c = LINGMA_ERROR; c >= LINGMA_ERROR_LAST; c--) {
        gw_error e;
        gw_error_from_lingma(&e, c, 0, 0);
        assert_true(e.status >= 400 && e.status < 600);
    }
}

static void
test_retry_after(void **state)
{
    (void)state;
    gw_error e;
    char s[24], ms[24];
    gw_error_from_lingma(&e, LINGMA_EBUSY, 0, 2500);
    assert_int_equal(e.retry_after_ms, 2500);
    assert_string_equal(gw_error_retry_after_s(s, e.retry_after_ms), "3");
    assert_string_equal(gw_error_retry_after_ms(ms, e.retry_after_ms), "2500");
    assert_non_null(strstr(e.message, "3 seconds"));
    gw_error_from_lingma(&e, LINGMA_EBUSY, 0, 0);
    assert_int_equal(e.retry_after_ms, 1000);
    assert_string_equal(gw_error_retry_after_s(s, 1), "1");
    assert_string_equal(gw_error_retry_after_s(s, 1000), "1");
    assert_string_equal(gw_error_retry_after_s(s, 1001), "2");
    assert_string_equal(gw_error_retry_after_s(s, -5), "1");
    assert_string_equal(gw_error_retry_after_ms(ms, 0), "1000");
    gw_error_from_lingma(&e, LINGMA_EUPSTREAM, 429, 30000);
    assert_int_equal(e.retry_after_ms, 30000);
    gw_error_from_lingma(&e, LINGMA_EIO, 0, 5000);
    assert_int_equal(e.retry_after_ms, 0);
}

static void
test_http_errors(void **state)
{
    (void)state;
    gw_error e;
    gw_error_invalid_api_key(&e);
    assert_int_equal(e.status, 401);
    assert_string_equal(e.type, "invalid_request_error");
    assert_string_equal(e.code, "invalid_api_key");
    gw_error_not_found(&e, "GET", "/v1/nope");
    assert_int_equal(e.status, 404);
    assert_string_equal(e.code, "not_found");
    assert_string_equal(e.message, "Invalid URL (GET /v1/nope).");
    /* Hostile paths are neutered and shortened. */
    char path[400];
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    path[1] = '\n';
    path[2] = (char)0xff;
    gw_error_not_found(&e, NULL, path);
    assert_null(strchr(e.message, '\n'));
    assert_non_null(strstr(e.message, "a??a"));
    assert_non_null(strstr(e.message, "...)."));
    assert_true(strlen(e.message) < 200);
    gw_error_method_not_allowed(&e, "DELETE", "/v1/models");
    assert_int_equal(e.status, 405);
    assert_string_equal(e.code, "method_not_allowed");
    assert_string_equal(e.message, "Method DELETE is not allowed for /v1/models.");
    gw_error_request_too_large(&e, 8388608);
    assert_int_equal(e.status, 413);
    assert_string_equal(e.code, "request_too_large");
    assert_non_null(strstr(e.message, "8388608"));
    gw_error_model_not_found(&e, "gpt-4o");
    assert_int_equal(e.status, 404);
    assert_string_equal(e.code, "model_not_found");
    gw_error_internal(&e);
    assert_int_equal(e.status, 500);
}

static void
test_set_repairs_utf8(void **state)
{
    (void)state;
    gw_error e;
    char big[GW_ERROR_MESSAGE_MAX * 3];
    size_t n = 0;
    while (n + 3 < sizeof(big)) {
        memcpy(big + n, "\xe2\x82\xac", 3);
        n += 3;
    }
    big[n] = '\0';
    gw_error_set(&e, 400, GW_TYPE_INVALID_REQUEST, NULL, big, "x%s\xff", big);
    assert_true(strlen(e.message) < GW_ERROR_MESSAGE_MAX);
    assert_true(strlen(e.param) < GW_ERROR_PARAM_MAX);
    assert_int_equal(strlen(e.param) % 3, 0);
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_error_json(&b, &e), 0);
    gw_buf_free(&b);
    gw_error_set(&e, 400, GW_TYPE_INVALID_REQUEST, NULL, NULL, "bad \xff byte");
    assert_string_equal(e.message, "bad ? byte");
}

static void
test_envelope(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_error e;
    gw_error_model_not_found(&e, "gpt-4o");
    assert_int_equal(gw_error_json(&b, &e), 0);
    assert_string_equal(b.data, "{\"error\":{\"message\":\"The model `gpt-4o` does not exist or "
                                "you do not have access to it.\",\"type\":"
                                "\"invalid_request_error\",\"param\":null,\"code\":"
                                "\"model_not_found\"}}");
    gw_buf_reset(&b);
    gw_error_set(&e, 400, GW_TYPE_INVALID_REQUEST, NULL, "messages[0].content",
                 "say \"hi\"\n\xc3\xa9");
    assert_int_equal(gw_error_json(&b, &e), 0);
    assert_string_equal(b.data, "{\"error\":{\"message\":\"say \\\"hi\\\"\\n\xc3\xa9\",\"type\":"
                                "\"invalid_request_error\",\"param\":\"messages[0].content\","
                                "\"code\":null}}");
    assert_null(strstr(b.data, "None"));
    gw_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping_table),    cmocka_unit_test(test_answer_status),
        cmocka_unit_test(test_retry_after),      cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_set_repairs_utf8), cmocka_unit_test(test_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
