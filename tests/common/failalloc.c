#include <jansson.h>
#include <stdlib.h>

#include "failalloc.h"

/* Blocks carry a small header so that free() can tell ours from others. */
#define HDR 16

static int
should_fail(struct failalloc *fa)
{
    long n = fa->count++;
    if (fa->fail_at >= 0 && n == fa->fail_at) {
        fa->failures++;
        return 1;
    }
    return 0;
}

static void *
fa_malloc(size_t size, void *payload)
{
    struct failalloc *fa = payload;
    if (should_fail(fa))
        return NULL;
    unsigned char *p = malloc(size + HDR);
    if (!p)
        return NULL;
    fa->live++;
    *(size_t *)p = size;
    return p + HDR;
}

static void
fa_free(void *ptr, void *payload)
{
    struct failalloc *fa = payload;
    if (!ptr)
        return;
    fa->live--;
    free((unsigned char *)ptr - HDR);
}

static void *
fa_realloc(void *ptr, size_t size, void *payload)
{
    struct failalloc *fa = payload;
    if (!ptr)
        return fa_malloc(size, payload);
    if (should_fail(fa))
        return NULL;
    unsigned char *p = realloc((unsigned char *)ptr - HDR, size + HDR);
    if (!p)
        return NULL;
    *(size_t *)p = size;
    return p + HDR;
}

void
failalloc_arm(struct failalloc *fa, long fail_at)
{
    fa->fail_at = fail_at;
    fa->count = 0;
    fa->failures = 0;
}

lingma_allocator
failalloc_allocator(struct failalloc *fa)
{
    lingma_allocator a = {fa_malloc, fa_realloc, fa_free, fa};
    return a;
}

static struct failalloc *jansson_fa;

static void *
jansson_malloc(size_t size)
{
    return fa_malloc(size, jansson_fa);
}

static void
jansson_free(void *ptr)
{
    fa_free(ptr, jansson_fa);
}

void
failalloc_hook_jansson(struct failalloc *fa)
{
    jansson_fa = fa;
    if (fa)
        json_set_alloc_funcs(jansson_malloc, jansson_free);
    else
        json_set_alloc_funcs(malloc, free);
}
