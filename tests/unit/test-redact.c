/* Unit tests for login hook output redaction (redact.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redact.h"

static void
check(const char *in, const char *secret, bool cut, const char *want)
{
    char out[512];
    size_t n = lingma__redact(out, sizeof(out), in, strlen(in), secret, cut);
    assert_int_equal(n, strlen(out));
    if (strcmp(out, want) != 0)
        fail_msg("redact(\"%s\") = \"%s\", want \"%s\"", in, out, want);
}

static void
test_secret_literal(void **state)
{
    (void)state;
    check("logging in with hunter2 now", "hunter2", false, "logging in with *** now");
    check("hunter2hunter2", "hunter2", false, "***");
    check("xhunter2y hunter2", "hunter2", false, "x***y ***");
    check("nothing here", "hunter2", false, "nothing here");
    check("nothing here", "", false, "nothing here");
    check("nothing here", NULL, false, "nothing here");
    /* A cut line ending with the start of the secret. */
    check("typed: hunt", "hunter2", true, "typed: ***");
    check("typed: hunt", "hunter2", false, "typed: hunt");
    check("typed: h", "hunter2", true, "typed: ***");
}

static void
test_key_values(void **state)
{
    (void)state;
    check("password=abc&user=x", NULL, false, "password=***&user=x");
    check("PASSWORD: abc def", NULL, false, "PASSWORD: *** def");
    check("{\"password\": \"a b,c\", \"user\": \"x\"}", NULL, false,
          "{\"password\": \"***\", \"user\": \"x\"}");
    check("access_token=eyx.y; next", NULL, false, "access_token=***; next");
    check("X-Auth-Token: abcdef", NULL, false, "X-Auth-Token: ***");
    check("client_secret='s e'", NULL, false, "client_secret='***'");
    check("Cookie: sid=1", NULL, false, "Cookie: ***");
    check("api_key=1, apikey=2", NULL, false, "api_key=***, apikey=***");
    check("LINGMA_PASSWORD=pw9", "pw9", false, "LINGMA_PASSWORD=***");
    /* Words that merely mention a secret are left alone. */
    check("enter your password below", NULL, false, "enter your password below");
    check("password:", NULL, false, "password:");
    check("token expired", NULL, false, "token expired");
}

static void
test_schemes_and_jwt(void **state)
{
    (void)state;
    check("Authorization: Bearer abc.def", NULL, false, "Authorization: *** ***");
    check("curl -H 'bearer  xyz' url", NULL, false, "curl -H 'bearer  ***' url");
    check("use Basic dXNlcjpwdw== please", NULL, false, "use Basic *** please");
    check("got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_x-y done", NULL, false, "got *** done");
    check("eyJ but not a jwt", NULL, false, "eyJ but not a jwt");
    check("keyJabc.def.ghi12345678", NULL, false, "keyJabc.def.ghi12345678");
}

static void
test_bounds(void **state)
{
    (void)state;
    char out[8];
    size_t n = lingma__redact(out, sizeof(out), "0123456789", 10, NULL, false);
    assert_int_equal(n, 7);
    assert_string_equal(out, "0123456");
    n = lingma__redact(out, 5, "ab pw", 5, "pw", false);
    assert_string_equal(out, "ab *");
    assert_int_equal(lingma__redact(out, 0, "x", 1, NULL, false), 0);
    assert_int_equal(lingma__redact(out, sizeof(out), NULL, 5, NULL, false), 0);
    assert_string_equal(out, "");
    /* Longer than a hook line: only the first LINGMA__HOOK_LINE_MAX bytes are looked at. */
    static char big[LINGMA__HOOK_LINE_MAX + 100];
    static char bigout[LINGMA__HOOK_LINE_MAX + 100];
    memset(big, 'a', sizeof(big));
    n = lingma__redact(bigout, sizeof(bigout), big, sizeof(big), "b", false);
    assert_int_equal(n, LINGMA__HOOK_LINE_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_literal),
        cmocka_unit_test(test_key_values),
        cmocka_unit_test(test_schemes_and_jwt),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
