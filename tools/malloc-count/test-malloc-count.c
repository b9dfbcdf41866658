/*
 * malloc-count's unit test: run with the shim preloaded and
 * MALLOC_COUNT_FILE set (tools/malloc-count/meson.build); the file's path
 * comes again as argv[1], since the shim removes it from the environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "malloc_count.h"

static const char *count_path;
/* Where the blocks go, so the compiler cannot pair and elide the calls. */
static void *volatile blocks[100];

static struct malloc_counts
read_counts(void)
{
    struct malloc_counts c;
    FILE *f = fopen(count_path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(&c, sizeof(c), 1, f), 1);
    fclose(f);
    return c;
}

static void
counts_every_kind(void **state)
{
    (void)state;
    struct malloc_counts a = read_counts();
    assert_true(a.magic == MALLOC_COUNT_MAGIC);
    for (int i = 0; i < 100; i++)
        blocks[i] = malloc(64);
    blocks[0] = realloc(blocks[0], 4096);
    void *z = calloc(4, 16);
    void *al = NULL;
    assert_int_equal(posix_memalign(&al, 64, 128), 0);
    for (int i = 0; i < 100; i++)
        free(blocks[i]);
    free(z);
    free(al);
    struct malloc_counts b = read_counts();
    /* At least ours: fopen and friends allocate too. */
    assert_true(b.allocs - a.allocs >= 102);
    assert_true(b.frees - a.frees >= 102);
    assert_true(b.reallocs - a.reallocs >= 1);
    assert_true(b.bytes - a.bytes >= 100 * 64 + 4096 + 64 + 128);
}

static void
children_are_not_counted(void **state)
{
    (void)state;
    assert_null(getenv("MALLOC_COUNT_FILE"));
    const char *pre = getenv("LD_PRELOAD");
    assert_true(!pre || !strstr(pre, "malloc-count"));
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test-malloc-count COUNT_FILE (with the shim preloaded)\n");
        return 2;
    }
    /* valgrind replaces malloc itself, ahead of any preloaded shim: there
     * is nothing of ours to count (77: meson's "skipped"). */
    if (getenv("LINGMA_UNDER_VALGRIND")) {
        fprintf(stderr, "test-malloc-count: skipped under valgrind\n");
        return 77;
    }
    count_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_every_kind),
        cmocka_unit_test(children_are_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
