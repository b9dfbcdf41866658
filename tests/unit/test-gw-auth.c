/* Unit tests for lingma-gatewayd/auth.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "lingma/common.h"

static gw_auth *
make(const char *keys, const char *metrics)
{
    gw_auth *a = NULL;
    char err[256] = "";
    int rc = gw_auth_new(&a, err, sizeof(err), keys, metrics);
    if (rc != 0)
        fail_msg("gw_auth_new: %s", err);
    return a;
}

static void
test_open_when_no_keys(void **state)
{
    (void)state;
    gw_auth *a = make(NULL, NULL);
    assert_int_equal(gw_auth_key_count(a), 0);
    assert_true(gw_auth_check(a, NULL, NULL));
    assert_true(gw_auth_check(a, "Bearer whatever", NULL));
    assert_true(gw_auth_check_metrics(a, NULL));
    gw_auth_free(a);
    a = make(" , ,", "");
    assert_int_equal(gw_auth_key_count(a), 0);
    assert_true(gw_auth_check(a, NULL, NULL));
    gw_auth_free(a);
    assert_true(gw_auth_check(NULL, NULL, NULL));
    gw_auth_free(NULL);
}

static void
test_keys(void **state)
{
    (void)state;
    gw_auth *a = make(" sk-one , sk-two,,sk-three ", NULL);
    assert_int_equal(gw_auth_key_count(a), 3);
    assert_true(gw_auth_check(a, "Bearer sk-one", NULL));
    assert_true(gw_auth_check(a, "bearer sk-two", NULL));
    assert_true(gw_auth_check(a, "BEARER   sk-three  ", NULL));
    assert_true(gw_auth_check(a, NULL, "sk-two"));
    assert_true(gw_auth_check(a, "Basic abc", "sk-one"));
    assert_false(gw_auth_check(a, NULL, NULL));
    assert_false(gw_auth_check(a, "Bearer", NULL));
    assert_false(gw_auth_check(a, "Bearer ", NULL));
    assert_false(gw_auth_check(a, "Bearersk-one", NULL));
    assert_false(gw_auth_check(a, "Bearer sk-on", NULL));
    assert_false(gw_auth_check(a, "Bearer sk-one1", NULL));
    assert_false(gw_auth_check(a, "Bearer sk-one sk-two", NULL));
    assert_false(gw_auth_check(a, "Token sk-one", NULL));
    assert_false(gw_auth_check(a, "sk-one", NULL));
    assert_false(gw_auth_check(a, "Bearer SK-ONE", NULL));
    /* A Bearer token takes precedence: x-api-key cannot rescue a wrong one. */
    assert_false(gw_auth_check(a, "Bearer wrong", "sk-one"));
    char longkey[GW_AUTH_KEY_MAX + 20];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_false(gw_auth_check(a, NULL, longkey));
    gw_auth_free(a);
}

static void
test_metrics_rule(void **state)
{
    (void)state;
    gw_auth *a = make(NULL, "scrape");
    assert_true(gw_auth_check(a, NULL, NULL)); /* the API stays open */
    assert_false(gw_auth_check_metrics(a, NULL));
    assert_true(gw_auth_check_metrics(a, "Bearer scrape"));
    assert_false(gw_auth_check_metrics(a, "Bearer other"));
    gw_auth_free(a);
    a = make("k1", NULL);
    assert_false(gw_auth_check_metrics(a, NULL));
    assert_true(gw_auth_check_metrics(a, "Bearer k1"));
    gw_auth_free(a);
    a = make("k1", "scrape");
    assert_true(gw_auth_check_metrics(a, "Bearer k1"));
    assert_true(gw_auth_check_metrics(a, "Bearer scrape"));
    /* The metrics token is not an API key. */
    assert_false(gw_auth_check(a, "Bearer scrape", NULL));
    gw_auth_free(a);
}

static void
test_bad_config(void **state)
{
    (void)state;
    gw_auth *a = (gw_auth *)(uintptr_t)1;
    char err[256] = "";
    char longkey[GW_AUTH_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(gw_auth_new(&a, err, sizeof(err), longkey, NULL), LINGMA_EINVAL);
    assert_null(a);
    assert_non_null(strstr(err, "API_KEYS"));
    assert_non_null(strstr(err, "#1"));
    assert_null(strstr(err, "kkkk")); /* the key itself is never echoed */
    assert_int_equal(gw_auth_new(&a, err, sizeof(err), "ok,bad key", NULL), LINGMA_EINVAL);
    assert_non_null(strstr(err, "#2"));
    assert_int_equal(gw_auth_new(&a, err, sizeof(err), "ok", "a b"), LINGMA_EINVAL);
    assert_non_null(strstr(err, "METRICS_TOKEN"));
    /* Exactly the maximum is fine. */
    longkey[GW_AUTH_KEY_MAX] = '\0';
    assert_int_equal(gw_auth_new(&a, err, sizeof(err), longkey, NULL), 0);
    char hdr[GW_AUTH_KEY_MAX + 10];
    strcpy(hdr, "Bearer ");
    strcat(hdr, longkey);
    assert_true(gw_auth_check(a, hdr, NULL));
    gw_auth_free(a);
}

static void
test_extract_and_equal(void **state)
{
    (void)state;
    size_t n = 0;
    const char *k = gw_auth_extract("  Bearer\tabc \t", NULL, &n);
    assert_non_null(k);
    assert_int_equal(n, 3);
    assert_memory_equal(k, "abc", 3);
    assert_null(gw_auth_extract(NULL, NULL, &n));
    assert_null(gw_auth_extract("Bearer   ", "  ", &n));
    k = gw_auth_extract(NULL, " xyz ", &n);
    assert_int_equal(n, 3);
    assert_true(gw_auth_equal("abc", 3, "abc", 3));
    assert_false(gw_auth_equal("abc", 3, "abd", 3));
    assert_false(gw_auth_equal("abc", 3, "abc", 2));
    assert_false(gw_auth_equal("abc", 3, "abcd", 4));
    assert_true(gw_auth_equal("", 0, "", 0));
    /* Lengths past the block size never match, even against themselves. */
    char big[GW_AUTH_KEY_MAX + 1];
    memset(big, 'b', sizeof(big));
    assert_false(gw_auth_equal(big, sizeof(big), big, sizeof(big)));
    /* Same prefix up to the block size, different lengths. */
    assert_false(gw_auth_equal(big, GW_AUTH_KEY_MAX, big, sizeof(big)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_when_no_keys), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_metrics_rule),      cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_extract_and_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
