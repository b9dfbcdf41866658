/* Unit tests of the requestId generator (liblingma/proto/rng.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"

/* xoshiro256** itself: the reference outputs for the state {1, 2, 3, 4}. */
static void
test_reference_sequence(void **state)
{
    struct lingma__rng r = {{1, 2, 3, 4}};
    (void)state;
    assert_true(lingma__rng_next(&r) == 11520u);
    assert_true(lingma__rng_next(&r) == 0u);
    assert_true(lingma__rng_next(&r) == 1509978240u);
}

static void
test_seed_is_deterministic_and_mixed(void **state)
{
    struct lingma__rng a, b, c, z;
    unsigned char s1[32] = {1}, s2[32] = {1};
    (void)state;
    s2[31] = 1; /* the last byte alone differs */
    lingma__rng_seed(&a, s1, sizeof(s1));
    lingma__rng_seed(&b, s1, sizeof(s1));
    lingma__rng_seed(&c, s2, sizeof(s2));
    lingma__rng_seed(&z, NULL, 0);
    for (int i = 0; i < 8; i++) {
        uint64_t va = lingma__rng_next(&a), vc = lingma__rng_next(&c);
        assert_true(va == lingma__rng_next(&b));
        assert_true(va != vc);
    }
    assert_true(z.s[0] | z.s[1] | z.s[2] | z.s[3]);
}

static int
cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* 128-bit ids: all different, every byte value seen, odd lengths filled. */
static void
test_bytes(void **state)
{
    enum { N = 20000 };
    struct lingma__rng r;
    unsigned char seed[32] = {7};
    unsigned char(*ids)[16] = calloc(N, 16);
    int seen[256] = {0};
    (void)state;
    assert_non_null(ids);
    lingma__rng_seed(&r, seed, sizeof(seed));
    for (int i = 0; i < N; i++) {
        lingma__rng_bytes(&r, ids[i], 16);
        for (int k = 0; k < 16; k++)
            seen[ids[i][k]] = 1;
    }
    qsort(ids, N, 16, cmp16);
    for (int i = 1; i < N; i++)
        assert_true(memcmp(ids[i - 1], ids[i], 16) != 0);
    for (int v = 0; v < 256; v++)
        assert_true(seen[v]);
    free(ids);

    unsigned char odd[13];
    memset(odd, 0, sizeof(odd));
    lingma__rng_bytes(&r, odd, sizeof(odd));
    int nonzero = 0;
    for (size_t k = 8; k < sizeof(odd); k++)
        nonzero |= odd[k];
    assert_true(nonzero); /* the tail past the last whole word is written too */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_sequence),
        cmocka_unit_test(test_seed_is_deterministic_and_mixed),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
