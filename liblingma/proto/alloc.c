/* Allocation through the caller's allocator (nghttp2_mem style). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void *
lingma__malloc(const lingma_allocator *a, size_t size)
{
    if (size == 0)
        size = 1;
    return a && a->malloc ? a->malloc(size, a->payload) : malloc(size);
}

void *
lingma__calloc(const lingma_allocator *a, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = lingma__malloc(a, nmemb * size);
    if (p)
        memset(p, 0, nmemb * size);
    return p;
}

void *
lingma__realloc(const lingma_allocator *a, void *ptr, size_t size)
{
    if (size == 0)
        size = 1;
    return a && a->realloc ? a->realloc(ptr, size, a->payload) : realloc(ptr, size);
}

void
lingma__free(const lingma_allocator *a, void *ptr)
{
    if (!ptr)
        return;
    if (a && a->free)
        a->free(ptr, a->payload);
    else
        free(ptr);
}

char *
lingma__strndup(const lingma_allocator *a, const char *s, size_t n)
{
    char *p = lingma__malloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *
lingma__strdup(const lingma_allocator *a, const char *s)
{
    return lingma__strndup(a, s, strlen(s));
}

/* Strings the library hands out (the _sync forms, tools.h) are plain
 * malloc'd memory; this lives in proto so that every layer can hand some
 * out. */
LINGMA_EXPORT void
lingma_free(void *ptr)
{
    free(ptr);
}
