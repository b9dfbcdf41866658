/* Detail messages for internal modules (see detail.h). */
#include <stdarg.h>
#include <stdio.h>

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
