/* Unit tests for account parsing and the instance count rule (accounts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "accounts.h"
#include "failalloc.h"

static void
test_csv(void **state)
{
    (void)state;
    struct lingma__accounts acc;
    char err[256];
    assert_int_equal(lingma__accounts_parse(&acc, " alice:s3cr:et ,\tbob:hunter 2\n", NULL, NULL,
                                            NULL, err, sizeof(err)),
                     0);
    assert_int_equal(acc.n, 2);
    assert_string_equal(acc.v[0].username, "alice");
    assert_string_equal(acc.v[0].password, "s3cr:et"); /* everything after the FIRST colon */
    assert_string_equal(acc.v[1].username, "bob");
    assert_string_equal(acc.v[1].password, "hunter 2"); /* inner whitespace kept */
    lingma__accounts_free(&acc);
    assert_int_equal(acc.n, 0);
    assert_null(acc.v);
    lingma__accounts_free(&acc); /* twice is fine */
    lingma__accounts_free(NULL);

    assert_int_equal(
        lingma__accounts_parse(&acc, "u@example.com::", NULL, NULL, NULL, err, sizeof(err)), 0);
    assert_string_equal(acc.v[0].username, "u@example.com");
    assert_string_equal(acc.v[0].password, ":");
    lingma__accounts_free(&acc);
}

static void
test_json(void **state)
{
    (void)state;
    struct lingma__accounts acc;
    char err[256];
    const char *j = "  [{\"username\":\"alice\",\"password\":\"a,b:c \"},"
                    " {\"password\":\" x\",\"username\":\"bob\"}]";
    assert_int_equal(lingma__accounts_parse(&acc, j, NULL, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(acc.n, 2);
    assert_string_equal(acc.v[0].password, "a,b:c ");
    assert_string_equal(acc.v[1].username, "bob");
    assert_string_equal(acc.v[1].password, " x");
    lingma__accounts_free(&acc);
}

static void
test_fallback(void **state)
{
    (void)state;
    struct lingma__accounts acc;
    char err[256];
    /* A set LINGMA_ACCOUNTS wins over the pair. */
    assert_int_equal(lingma__accounts_parse(&acc, "a:1", "b", "2", NULL, err, sizeof(err)), 0);
    assert_int_equal(acc.n, 1);
    assert_string_equal(acc.v[0].username, "a");
    lingma__accounts_free(&acc);
    /* Blank means unset. */
    assert_int_equal(lingma__accounts_parse(&acc, " \t", "b", "p:w", NULL, err, sizeof(err)), 0);
    assert_int_equal(acc.n, 1);
    assert_string_equal(acc.v[0].username, "b");
    assert_string_equal(acc.v[0].password, "p:w");
    lingma__accounts_free(&acc);
    assert_int_equal(lingma__accounts_parse(&acc, NULL, NULL, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(acc.n, 0);
    assert_int_equal(lingma__accounts_parse(&acc, "", "", "", NULL, err, sizeof(err)), 0);
    assert_int_equal(acc.n, 0);
    lingma__accounts_free(&acc);
}

/*
 * Every malformed form: the error names the position and the problem, and
 * never contains the password (nor its first half, nor the whole input).
 */
static void
expect_bad(const char *accounts, const char *user, const char *pass, const char *secret,
           const char *fragment)
{
    struct lingma__accounts acc;
    char err[512] = "";
    int rc = lingma__accounts_parse(&acc, accounts, user, pass, NULL, err, sizeof(err));
    if (rc != LINGMA_EINVAL || !strstr(err, fragment))
        fail_msg("input <%s>: rc %d, message \"%s\", want \"%s\"", accounts ? accounts : "(null)",
                 rc, err, fragment);
    assert_int_equal(acc.n, 0);
    assert_null(acc.v);
    if (secret) {
        char half[64];
        snprintf(half, sizeof(half), "%.*s", (int)(strlen(secret) / 2), secret);
        if (strstr(err, secret) || (strlen(half) >= 3 && strstr(err, half)))
            fail_msg("message leaks the password: \"%s\"", err);
    }
    /* The public wrapper says exactly the same and hands out nothing. */
    lingma_account_list dummy, *list = &dummy; /* must come back NULL */
    char perr[512] = "x";
    assert_int_equal(lingma_accounts_parse(&list, perr, sizeof(perr), accounts, user, pass),
                     LINGMA_EINVAL);
    assert_null(list);
    assert_string_equal(perr, err);
}

static void
test_public_api(void **state)
{
    (void)state;
    lingma_account_list *l = NULL;
    char err[256] = "stale";

    assert_int_equal(
        lingma_accounts_parse(&l, err, sizeof(err), "alice:s3cr:et, bob:hunter2", NULL, NULL), 0);
    assert_string_equal(err, "");
    assert_int_equal(l->count, 2);
    assert_string_equal(l->accounts[0].username, "alice");
    assert_string_equal(l->accounts[0].password, "s3cr:et");
    assert_string_equal(l->accounts[1].username, "bob");
    assert_string_equal(l->accounts[1].password, "hunter2");
    lingma_account_list_free(l);

    assert_int_equal(lingma_accounts_parse(&l, NULL, 0,
                                           "[{\"username\":\"carol\",\"password\":\"a,b\"}]",
                                           "ignored", "ignored"),
                     0);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->accounts[0].password, "a,b");
    lingma_account_list_free(l);

    /* The LINGMA_USERNAME / LINGMA_PASSWORD pair, and nothing at all. */
    assert_int_equal(lingma_accounts_parse(&l, err, sizeof(err), "  ", "dave", "pw"), 0);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->accounts[0].username, "dave");
    lingma_account_list_free(l);
    assert_int_equal(lingma_accounts_parse(&l, err, sizeof(err), NULL, NULL, NULL), 0);
    assert_int_equal(l->count, 0);
    assert_null(l->accounts);
    lingma_account_list_free(l);
    lingma_account_list_free(NULL);

    assert_int_equal(lingma_accounts_parse(NULL, err, sizeof(err), "a:b", NULL, NULL),
                     LINGMA_EINVAL);

    size_t n = 0;
    assert_int_equal(lingma_accounts_instance_count(&n, err, sizeof(err), 0, 0), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lingma_accounts_instance_count(&n, err, sizeof(err), 2, 0), 0);
    assert_int_equal(n, 2);
    assert_int_equal(lingma_accounts_instance_count(&n, err, sizeof(err), 2, 3), 0);
    assert_int_equal(n, 3);
    assert_int_equal(lingma_accounts_instance_count(&n, err, sizeof(err), 2, 1), LINGMA_EINVAL);
    assert_string_equal(err, "instance count 1 is fewer than the 2 accounts");
    assert_int_equal(lingma_accounts_instance_count(&n, err, sizeof(err), 300, 0), LINGMA_EINVAL);
    assert_string_equal(err, "300 accounts is above the limit of 256");
    assert_int_equal(lingma_accounts_instance_count(&n, NULL, 0, 0, LINGMA_MAX_INSTANCES + 1),
                     LINGMA_EINVAL);
    assert_int_equal(lingma_accounts_instance_count(NULL, err, sizeof(err), 1, 1), LINGMA_EINVAL);
}

static void
test_malformed_csv(void **state)
{
    (void)state;
    expect_bad("alice", NULL, NULL, NULL, "entry 1 (byte 1): missing ':'");
    expect_bad("a:Sekr1tPw,bobSekr1tPw", NULL, NULL, "Sekr1tPw", "entry 2 (byte 12): missing ':'");
    expect_bad("a:Sekr1tPw,,b:x", NULL, NULL, "Sekr1tPw", "entry 2 (byte 12) is empty");
    expect_bad("a:Sekr1tPw,", NULL, NULL, "Sekr1tPw", "entry 2 (byte 12) is empty (a trailing");
    expect_bad("a:Sekr1tPw , \t", NULL, NULL, "Sekr1tPw", "entry 2 (byte 15) is empty");
    expect_bad(",a:Sekr1tPw", NULL, NULL, "Sekr1tPw", "entry 1 (byte 1) is empty");
    expect_bad(":Sekr1tPw", NULL, NULL, "Sekr1tPw", "entry 1 (byte 1): empty username");
    expect_bad("a:", NULL, NULL, NULL, "entry 1 (byte 1): empty password");
    expect_bad("a:x, b:  ", NULL, NULL, NULL, "entry 2 (byte 6): empty password");
    expect_bad("al ice:Sekr1tPw", NULL, NULL, "Sekr1tPw", "entry 1 (byte 1): the username");
    expect_bad("al\tice:Sekr1tPw", NULL, NULL, "Sekr1tPw", "whitespace or a control");
    expect_bad("al\x01ice:Sekr1tPw", NULL, NULL, "Sekr1tPw", "control character");
    expect_bad("a:Sekr1tPw,b:x,a:Other1Pw", NULL, NULL, "Other1Pw",
               "entry 3 (byte 16): same username as entry 1");
    /* A password with a comma splits into a bogus entry; no half may show. */
    expect_bad("a:Sekr1t,PwTail", NULL, NULL, "Sekr1t,PwTail", "entry 2 (byte 10): missing ':'");
    char many[4096] = "";
    for (int i = 0; i <= LINGMA__MAX_INSTANCES; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "u%d:p,", i);
    many[strlen(many) - 1] = '\0';
    expect_bad(many, NULL, NULL, NULL, "more than 256 entries");
}

static void
test_malformed_json(void **state)
{
    (void)state;
    const char *pw = "Sekr1tPw";
    expect_bad("[", NULL, NULL, NULL, "invalid JSON at byte");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1tPw}]", NULL, NULL, pw, "invalid JSON");
    expect_bad("[{\"username\":\"a\",\"password\":Sekr1tPw}]", NULL, NULL, pw, "invalid JSON");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1tPw\"},]", NULL, NULL, pw, "invalid JSON");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1tPw\"}] trailing", NULL, NULL, pw,
               "invalid JSON");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1t\\qPw\"}]", NULL, NULL, pw,
               "invalid JSON");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1t\\u0000Pw\"}]", NULL, NULL, pw,
               "invalid JSON");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1tPw\",\"password\":\"x\"}]", NULL, NULL,
               pw, "invalid JSON");
    expect_bad("[]", NULL, NULL, NULL, "the JSON array is empty");
    expect_bad("[\"a:Sekr1tPw\"]", NULL, NULL, pw, "entry 1: not an object");
    expect_bad("[{\"username\":\"a\",\"password\":\"x\"},{\"username\":\"b\"}]", NULL, NULL, NULL,
               "entry 2: missing \"password\"");
    expect_bad("[{\"password\":\"Sekr1tPw\"}]", NULL, NULL, pw, "entry 1: missing \"username\"");
    expect_bad("[{\"username\":5,\"password\":\"Sekr1tPw\"}]", NULL, NULL, pw,
               "entry 1: \"username\" is not a string");
    expect_bad("[{\"username\":\"a\",\"password\":12345678}]", NULL, NULL, "12345678",
               "entry 1: \"password\" is not a string");
    expect_bad("[{\"username\":\"\",\"password\":\"Sekr1tPw\"}]", NULL, NULL, pw,
               "entry 1: empty username");
    expect_bad("[{\"username\":\"a\",\"password\":\"\"}]", NULL, NULL, NULL,
               "entry 1: empty password");
    expect_bad("[{\"username\":\"a b\",\"password\":\"Sekr1tPw\"}]", NULL, NULL, pw,
               "entry 1: the username contains");
    expect_bad("[{\"username\":\"a\",\"password\":\"Sekr1tPw\",\"Sekr1tPw\":1}]", NULL, NULL, pw,
               "entry 1: unexpected key");
    expect_bad("[{\"username\":\"a\",\"password\":\"x\"},{\"username\":\"a\",\"password\":"
               "\"Sekr1tPw\"}]",
               NULL, NULL, pw, "entry 2: same username as entry 1");
    expect_bad(" {\"username\":\"a\",\"password\":\"Sekr1tPw\"}", NULL, NULL, pw,
               "accounts: JSON form must be an array");
}

static void
test_malformed_pair(void **state)
{
    (void)state;
    expect_bad(NULL, "alice", NULL, NULL, "LINGMA_USERNAME is set but LINGMA_PASSWORD is not");
    expect_bad(NULL, "", "Sekr1tPw", "Sekr1tPw",
               "LINGMA_PASSWORD is set but LINGMA_USERNAME is not");
    expect_bad("  ", "al ice", "Sekr1tPw", "Sekr1tPw", "LINGMA_USERNAME: the username");
}

static void
test_instance_count(void **state)
{
    (void)state;
    size_t n = 99;
    char err[256];
    assert_int_equal(lingma__instance_count(&n, 0, 0, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(lingma__instance_count(&n, 3, 0, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_int_equal(lingma__instance_count(&n, 3, 5, err, sizeof(err)), 0);
    assert_int_equal(n, 5);
    assert_int_equal(lingma__instance_count(&n, 0, 4, err, sizeof(err)), 0);
    assert_int_equal(n, 4);
    assert_int_equal(lingma__instance_count(&n, 3, 2, err, sizeof(err)), LINGMA_EINVAL);
    assert_string_equal(err, "instance count 2 is fewer than the 3 accounts");
    assert_int_equal(lingma__instance_count(&n, 0, 257, err, sizeof(err)), LINGMA_EINVAL);
    assert_int_equal(lingma__instance_count(NULL, 0, 1, err, sizeof(err)), LINGMA_EINVAL);
}

static void
test_allocation_failures(void **state)
{
    (void)state;
    struct failalloc fa = {0};
    lingma_allocator a = failalloc_allocator(&fa);
    const char *inputs[] = {"a:1,b:2,c:3", "[{\"username\":\"a\",\"password\":\"b\"}]", NULL};
    for (int k = 0; k < 3; k++) {
        for (long i = 0;; i++) {
            failalloc_arm(&fa, i);
            struct lingma__accounts acc;
            char err[128];
            int rc = lingma__accounts_parse(&acc, inputs[k], "u", "p", &a, err, sizeof(err));
            lingma__accounts_free(&acc);
            assert_int_equal(fa.live, 0);
            if (fa.failures == 0) {
                assert_int_equal(rc, 0);
                break;
            }
            assert_int_equal(rc, LINGMA_ENOMEM);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_malformed_csv),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_malformed_pair),
        cmocka_unit_test(test_instance_count),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_public_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
