/* A growable byte string (see strbuf.h). */
#include <string.h>

#include "alloc.h"
#include "strbuf.h"

int
lingma__buf_append(const lingma_allocator *a, struct lingma__buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = lingma__realloc(a, b->p, cap);
        if (!np)
            return LINGMA_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}
