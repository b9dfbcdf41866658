/*
 * Internal: the runtime's log lines. Every module of rt/ gets a pointer to
 * its pool's logger ([init]: read-only once the pool is built) and formats
 * through it; the library never prints (DESIGN.md rule 5).
 */
#ifndef LINGMA_INTERNAL_LOGGER_H
#define LINGMA_INTERNAL_LOGGER_H

#include "lingma/common.h"

struct lingma__logger {
    lingma_log_fn fn; /* NULL: nothing is logged */
    void *payload;
    lingma_log_level level; /* lines less severe than this are dropped */
};

/* Any thread: format one line and pass it to the callback. Long lines are
 * truncated (600 bytes). */
void lingma__logf(const struct lingma__logger *lg, lingma_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
