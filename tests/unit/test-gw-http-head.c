/*
 * Unit tests of http_head.c: the pure checks that decide whether a request
 * head may reach a route, the target parser and the raw splitter. No
 * sockets: heads are built from literal bytes with gw_head_split().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"

#include "http_head.h"

#define LIMIT 7168u

/* Split `raw` (length given: it may hold NUL bytes) and check it. */
static gw_head_verdict
verdict_n(const char *raw, size_t len)
{
    gw_head_field fields[64];
    gw_head head;
    size_t used = 0;
    int rc = gw_head_split(&head, fields, 64, raw, len, &used);
    assert_int_equal(rc, 0);
    return gw_head_check(&head, LIMIT);
}

#define verdict(lit) verdict_n(lit, sizeof(lit) - 1)

static void
test_plain_requests_pass(void **state)
{
    (void)state;
    assert_int_equal(verdict("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), GW_HEAD_OK);
    assert_int_equal(verdict("POST /v1/chat/completions HTTP/1.1\r\nHost: a:1\r\n"
                             "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n"),
                     GW_HEAD_OK);
    assert_int_equal(
        verdict("POST /v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"),
        GW_HEAD_OK);
    /* Bare LF line ends, as MHD accepts them. */
    assert_int_equal(verdict("GET / HTTP/1.1\nHost: x\n\n"), GW_HEAD_OK);
    /* HTTP/1.0 may leave Host out. */
    assert_int_equal(verdict("GET / HTTP/1.0\r\n\r\n"), GW_HEAD_OK);
    /* obs-text and HTAB inside a value are allowed. */
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb \xc3\xa9\r\n\r\n"),
                     GW_HEAD_OK);
    assert_int_equal(verdict("GET /v1/models?x=%41&y=a+b HTTP/1.1\r\nHost: x\r\n\r\n"), GW_HEAD_OK);
}

static void
test_framing(void **state)
{
    (void)state;
    /* CL.CL, even equal. */
    assert_int_equal(
        verdict("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        GW_HEAD_BAD_FRAMING);
    assert_int_equal(
        verdict("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"),
        GW_HEAD_BAD_FRAMING);
    /* CL.TE and TE.CL. */
    assert_int_equal(verdict("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"),
                     GW_HEAD_BAD_FRAMING);
    assert_int_equal(verdict("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Length: 5\r\n\r\n"),
                     GW_HEAD_BAD_FRAMING);
    /* Any other transfer coding, or chunked twice. */
    const char *bad_te[] = {"gzip, chunked", "chunked, chunked", "identity", "chunked ",
                            "xchunked",      "chunked;q=1",      "",         "chunked,"};
    for (size_t i = 0; i < sizeof(bad_te) / sizeof(bad_te[0]); i++) {
        char buf[256];
        int n = snprintf(buf, sizeof(buf),
                         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n", bad_te[i]);
        if (verdict_n(buf, (size_t)n) != GW_HEAD_BAD_FRAMING)
            fail_msg("Transfer-Encoding '%s' passed", bad_te[i]);
    }
    assert_int_equal(verdict("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"),
                     GW_HEAD_BAD_FRAMING);
    /* Content-Length must be 1*DIGIT; how large is the body limit's
     * business (413), not a framing doubt. */
    const char *bad_cl[] = {"-1", "abc", "+46", "0x2e", "46.0", "1 2", "", "1_0", "1e3"};
    for (size_t i = 0; i < sizeof(bad_cl) / sizeof(bad_cl[0]); i++) {
        char buf[256];
        int n = snprintf(buf, sizeof(buf),
                         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n", bad_cl[i]);
        if (verdict_n(buf, (size_t)n) != GW_HEAD_BAD_FRAMING)
            fail_msg("Content-Length '%s' passed", bad_cl[i]);
    }
    assert_int_equal(
        verdict("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n"),
        GW_HEAD_OK);
    assert_int_equal(
        verdict("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        GW_HEAD_OK);
}

static void
test_header_syntax(void **state)
{
    (void)state;
    /* Whitespace before the colon: the name is not a token. */
    assert_int_equal(verdict("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"),
                     GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX\tA: 1\r\n\r\n"), GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n"), GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n"), GW_HEAD_BAD_HEADER);
    /* obs-fold. */
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
                     GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n"),
                     GW_HEAD_BAD_HEADER);
    /* NUL and control bytes in values and names. */
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\0junk\r\n\r\n"),
                     GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n"),
                     GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n"),
                     GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"), GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: x\r\nX\x01: a\r\n\r\n"), GW_HEAD_BAD_HEADER);
    /* Host: exactly one in 1.1, at most one in 1.0. */
    assert_int_equal(verdict("GET / HTTP/1.1\r\n\r\n"), GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), GW_HEAD_BAD_HEADER);
    assert_int_equal(verdict("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), GW_HEAD_BAD_HEADER);
    /* Size beats everything else. */
    char big[LIMIT + 100];
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX-B: ");
    memset(big + n, 'b', LIMIT);
    memcpy(big + n + LIMIT - 20, "\r\n\r\n", 4);
    assert_int_equal(verdict_n(big, (size_t)n + LIMIT - 16), GW_HEAD_TOO_LARGE);
}

static void
test_targets(void **state)
{
    (void)state;
    assert_int_equal(verdict("GET /v1/models/auto%00x HTTP/1.1\r\nHost: x\r\n\r\n"),
                     GW_HEAD_BAD_TARGET);
    assert_int_equal(verdict("GET /x?instance=inst-0%00x HTTP/1.1\r\nHost: x\r\n\r\n"),
                     GW_HEAD_BAD_TARGET);
    const char *bad[] = {"/%", "/%4", "/%zz", "/%0a", "/a%7f", "/?a=%", "/?%g0=1", "/a b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", bad[i]);
        if (verdict_n(buf, (size_t)n) != GW_HEAD_BAD_TARGET)
            fail_msg("target '%s' passed", bad[i]);
    }
    /* A raw NUL inside the target. */
    assert_int_equal(verdict("GET /v1/models/auto\0x HTTP/1.1\r\nHost: x\r\n\r\n"),
                     GW_HEAD_BAD_TARGET);
}

static void
test_target_parse(void **state)
{
    (void)state;
    gw_target t;
    const char *s = "/v1/models/a%2Fb?instance=inst-0&flag&x=a+b%21&&empty=";
    assert_int_equal(gw_target_parse(&t, s, strlen(s)), LINGMA_OK);
    assert_string_equal(t.path, "/v1/models/a/b");
    assert_int_equal(t.path_len, 14);
    assert_int_equal(t.nargs, 4);
    assert_string_equal(t.args[0].name, "instance");
    assert_string_equal(t.args[0].value, "inst-0");
    assert_string_equal(t.args[1].name, "flag");
    assert_string_equal(t.args[1].value, "");
    assert_string_equal(t.args[2].value, "a b!");
    assert_string_equal(t.args[3].name, "empty");
    assert_int_equal(t.args[3].value_len, 0);
    gw_target_free(&t);

    /* '+' is a space only in the query. */
    assert_int_equal(gw_target_parse(&t, "/a+b", 4), LINGMA_OK);
    assert_string_equal(t.path, "/a+b");
    gw_target_free(&t);

    const char *refused[] = {"/x%00", "/x?a=%00", "/x?a=%0", "/%g1", "/x?%=1"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(gw_target_parse(&t, refused[i], strlen(refused[i])), LINGMA_EINVAL);
        assert_null(t.mem);
        assert_null(t.path);
    }
    /* Many '&' still fit the block sized from the raw length. */
    char many[2048];
    memcpy(many, "/p?", 3);
    for (size_t i = 3; i < sizeof(many) - 1; i++)
        many[i] = i % 2 ? '&' : 'a';
    many[sizeof(many) - 1] = '\0';
    assert_int_equal(gw_target_parse(&t, many, strlen(many)), LINGMA_OK);
    assert_true(t.nargs > 1000);
    gw_target_free(&t);
}

static void
test_splitter(void **state)
{
    (void)state;
    gw_head_field f[4];
    gw_head h;
    size_t used;
    const char req[] = "\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y";
    assert_int_equal(gw_head_split(&h, f, 4, req, sizeof(req) - 1, &used), 0);
    assert_int_equal(used, sizeof(req) - 1 - strlen("GET /y"));
    assert_int_equal(h.block_size, used - 2); /* the leading empty line is not counted */
    assert_int_equal(h.target_len, 2);
    assert_memory_equal(h.target, "/x", 2);
    assert_int_equal(h.nfields, 1);
    assert_int_equal(h.fields[0].value_len, 1);
    /* Incomplete and malformed heads. */
    assert_int_equal(gw_head_split(&h, f, 4, "GET / HTTP/1.1\r\nHost: a\r\n", 25, &used), 1);
    assert_int_equal(gw_head_split(&h, f, 4, "GET\r\n\r\n", 7, &used), LINGMA_EINVAL);
    assert_int_equal(gw_head_split(&h, f, 4, "GET / HTTP/1.1\r\nnocolon\r\n\r\n", 27, &used),
                     LINGMA_EINVAL);
    assert_int_equal(gw_head_split(&h, f, 1, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", 30, &used),
                     LINGMA_EINVAL);
    assert_int_equal(gw_head_count(&(gw_head){.fields = f, .nfields = 0}, "host"), 0);
}

static void
test_verdict_texts(void **state)
{
    (void)state;
    assert_int_equal(gw_head_verdict_status(GW_HEAD_TOO_LARGE), 431);
    assert_int_equal(gw_head_verdict_status(GW_HEAD_BAD_FRAMING), 400);
    assert_string_equal(gw_head_verdict_code(GW_HEAD_BAD_HEADER), "bad_header");
    assert_string_equal(gw_head_verdict_code(GW_HEAD_BAD_FRAMING), "bad_framing");
    assert_string_equal(gw_head_verdict_code(GW_HEAD_BAD_TARGET), "bad_request_target");
    assert_string_equal(gw_head_verdict_code(GW_HEAD_TOO_LARGE), "headers_too_large");
    assert_null(gw_head_verdict_code(GW_HEAD_OK));
    for (int v = GW_HEAD_TOO_LARGE; v <= GW_HEAD_BAD_TARGET; v++)
        assert_true(strlen(gw_head_verdict_message((gw_head_verdict)v)) > 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_requests_pass), cmocka_unit_test(test_framing),
        cmocka_unit_test(test_header_syntax),       cmocka_unit_test(test_targets),
        cmocka_unit_test(test_target_parse),        cmocka_unit_test(test_splitter),
        cmocka_unit_test(test_verdict_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
