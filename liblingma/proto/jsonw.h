/*
 * A small JSON writer into a growable buffer, for envelopes built by hand
 * (rpc.c): only user values go through jansson. Allocation failures are
 * sticky (`oom`) so a sequence of writes needs one check at the end.
 */
#ifndef LINGMA_INTERNAL_JSONW_H
#define LINGMA_INTERNAL_JSONW_H

#include <stddef.h>

#include <jansson.h>

#include "lingma/common.h"

struct lingma__jsonw {
    const lingma_allocator *alloc;
    char *buf;
    size_t len, cap;
    int oom;
};

/* Start over, with `headroom` bytes reserved in front (left unwritten). */
void lingma__jsonw_reset(struct lingma__jsonw *w, size_t headroom);

/* Free the buffer when it grew past `keep` bytes, or always when keep is 0. */
void lingma__jsonw_trim(struct lingma__jsonw *w, size_t keep);

void lingma__jsonw_raw(struct lingma__jsonw *w, const char *p, size_t n);
void lingma__jsonw_lit(struct lingma__jsonw *w, const char *s);
void lingma__jsonw_int(struct lingma__jsonw *w, long long v);

/* A JSON string from `len` bytes of UTF-8 (NULs allowed, written \u0000).
 * LINGMA_EINVAL on invalid UTF-8, else 0. */
int lingma__jsonw_string(struct lingma__jsonw *w, const char *s, size_t len);

/* Any jansson value (NULL writes null), compact, reals with 15 significant
 * digits. LINGMA_ENOMEM when jansson or the buffer fails, else 0. */
int lingma__jsonw_value(struct lingma__jsonw *w, const json_t *v);

#endif
