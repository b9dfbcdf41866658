/* Detail messages for internal modules (see detail.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "detail.h"

int
lingma__detail(int code, char *err, size_t len, const char *fmt, ...)
{
    if (!err || len == 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return code;
}

void
lingma__detail_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memmove(dst, src, n);
    dst[n] = '\0';
}
