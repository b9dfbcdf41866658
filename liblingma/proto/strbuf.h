/* Internal: a growable, always NUL-terminated byte string. */
#ifndef LINGMA_INTERNAL_STRBUF_H
#define LINGMA_INTERNAL_STRBUF_H

#include <stddef.h>

#include "lingma/common.h"

struct lingma__buf {
    char *p; /* NULL until the first append; then p[len] == '\0' */
    size_t len, cap;
};

/* Append `n` bytes of `s` (NULs allowed), growing geometrically through
 * `a` (NULL: libc). @return 0 or LINGMA_ENOMEM (the buffer is unchanged). */
int lingma__buf_append(const lingma_allocator *a, struct lingma__buf *b, const char *s, size_t n);

#endif
