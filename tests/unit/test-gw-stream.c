/* Unit tests for the gateway's bounded stream buffer (lingma-gatewayd/stream.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"
#include "stream.h"

static void
test_append_read_in_order(void **state)
{
    (void)state;
    struct gw_sbuf b = GW_SBUF_INIT;
    char out[64];
    assert_int_equal(gw_sbuf_append(&b, "data: a\n\n", 9, 1024), LINGMA_OK);
    assert_int_equal(gw_sbuf_append(&b, "data: b\n\n", 9, 1024), LINGMA_OK);
    assert_int_equal(gw_sbuf_pending(&b), 18);
    /* Short reads: the reader may be offered less than is pending. */
    assert_int_equal(gw_sbuf_read(&b, out, 5), 5);
    assert_memory_equal(out, "data:", 5);
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), 13);
    assert_memory_equal(out, " a\n\ndata: b\n\n", 13);
    assert_int_equal(gw_sbuf_pending(&b), 0);
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), 0);
    gw_sbuf_clear(&b);
}

static void
test_limit_refuses_whole_append(void **state)
{
    (void)state;
    struct gw_sbuf b = GW_SBUF_INIT;
    char out[16];
    assert_int_equal(gw_sbuf_append(&b, "0123456789", 10, 16), LINGMA_OK);
    /* 10 + 7 > 16: refused whole, nothing appended. */
    assert_int_equal(gw_sbuf_append(&b, "abcdefg", 7, 16), LINGMA_EBUSY);
    assert_int_equal(gw_sbuf_pending(&b), 10);
    assert_int_equal(gw_sbuf_append(&b, "abcdef", 6, 16), LINGMA_OK);
    assert_int_equal(gw_sbuf_pending(&b), 16);
    /* Draining makes room again: the bound is on pending bytes only. */
    assert_int_equal(gw_sbuf_read(&b, out, 8), 8);
    assert_int_equal(gw_sbuf_append(&b, "XYZ", 3, 16), LINGMA_OK);
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), 11);
    assert_memory_equal(out, "89abcdefXYZ", 11);
    /* An append larger than the bound on its own, and a zero-length one. */
    assert_int_equal(gw_sbuf_append(&b, "0123456789abcdefg", 17, 16), LINGMA_EBUSY);
    assert_int_equal(gw_sbuf_append(&b, "", 0, 0), LINGMA_OK);
    gw_sbuf_clear(&b);
}

/* Interleaved appends and partial reads across many regrows and
 * compactions must still deliver exactly the byte sequence appended. */
static void
test_interleaved_sequence(void **state)
{
    (void)state;
    struct gw_sbuf b = GW_SBUF_INIT;
    unsigned char in[997], out[4096];
    uint32_t next_in = 0, next_out = 0, seed = 12345;
    for (int round = 0; round < 5000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % sizeof(in);
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(next_in + i);
        if (gw_sbuf_append(&b, in, n, 64 * 1024) == LINGMA_OK)
            next_in += (uint32_t)n;
        seed = seed * 1103515245u + 12345u;
        size_t m = gw_sbuf_read(&b, out, (seed >> 8) % sizeof(out));
        for (size_t i = 0; i < m; i++)
            assert_int_equal(out[i], (unsigned char)(next_out + i));
        next_out += (uint32_t)m;
        assert_int_equal(gw_sbuf_pending(&b), next_in - next_out);
        assert_true(b.alloc <= 2 * 64 * 1024);
    }
    gw_sbuf_clear(&b);
    assert_null(b.data);
    assert_int_equal(gw_sbuf_pending(&b), 0);
}

/* A drained buffer holds no memory (every idle stream has one); it works
 * again on the next append, also after a burst that grew it. */
static void
test_drained_buffer_is_freed(void **state)
{
    (void)state;
    struct gw_sbuf b = GW_SBUF_INIT;
    char big[3000], out[4096];
    memset(big, 'x', sizeof(big));
    assert_int_equal(gw_sbuf_append(&b, "abc", 3, 1024), LINGMA_OK);
    assert_non_null(b.data);
    assert_int_equal(gw_sbuf_read(&b, out, 2), 2);
    assert_non_null(b.data); /* one byte still pending */
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'c');
    assert_null(b.data);
    assert_int_equal(b.alloc, 0);
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), 0);
    assert_int_equal(gw_sbuf_append(&b, big, sizeof(big), 64 * 1024), LINGMA_OK);
    assert_true(b.alloc >= sizeof(big));
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), sizeof(big));
    assert_memory_equal(out, big, sizeof(big));
    assert_null(b.data);
    assert_int_equal(gw_sbuf_append(&b, "de", 2, 1024), LINGMA_OK);
    assert_int_equal(b.alloc, 512); /* back to the smallest, not the burst's */
    assert_int_equal(gw_sbuf_read(&b, out, sizeof(out)), 2);
    assert_memory_equal(out, "de", 2);
    assert_null(b.data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_in_order),
        cmocka_unit_test(test_limit_refuses_whole_append),
        cmocka_unit_test(test_interleaved_sequence),
        cmocka_unit_test(test_drained_buffer_is_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
