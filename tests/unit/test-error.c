/* Unit tests for error codes and version reporting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/lingma.h"

static void
test_every_code_has_a_name_and_text(void **state)
{
    (void)state;
    for (int code = LINGMA_OK; code >= LINGMA_ERROR_LAST; code--) {
        const char *name = lingma_error_name(code);
        assert_non_null(name);
        assert_true(strncmp(name, "LINGMA_", 7) == 0);
        assert_string_not_equal(lingma_strerror(code), "unknown error");
    }
}

static void
test_codes_are_stable(void **state)
{
    (void)state;
    /* Appended, never renumbered: these values are ABI. */
    assert_int_equal(LINGMA_OK, 0);
    assert_int_equal(LINGMA_EINVAL, -2);
    assert_int_equal(LINGMA_EIO, -5);
    assert_int_equal(LINGMA_EBUSY, -8);
    assert_int_equal(LINGMA_ECLOSED, -13);
    assert_string_equal(lingma_error_name(LINGMA_EUPSTREAM), "LINGMA_EUPSTREAM");
}

static void
test_unknown_codes(void **state)
{
    (void)state;
    assert_string_equal(lingma_strerror(1), "unknown error");
    assert_string_equal(lingma_strerror(LINGMA_ERROR_LAST - 1), "unknown error");
    assert_string_equal(lingma_strerror(-100000), "unknown error");
    assert_null(lingma_error_name(7));
}

static void
test_version(void **state)
{
    (void)state;
    assert_string_equal(lingma_version(), LINGMA_VERSION_STRING);
    assert_int_equal(LINGMA_VERSION_HEX >> 16, LINGMA_VERSION_MAJOR);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_name_and_text),
        cmocka_unit_test(test_codes_are_stable),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
