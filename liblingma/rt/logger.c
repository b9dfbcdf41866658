/* The runtime's log lines (see logger.h). */
#include <stdarg.h>
#include <stdio.h>

#include "logger.h"

void
lingma__logf(const struct lingma__logger *lg, lingma_log_level lvl, const char *fmt, ...)
{
    char buf[600];
    va_list ap;

    if (!lg->fn || lvl > lg->level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    lg->fn(lvl, buf, lg->payload);
}
