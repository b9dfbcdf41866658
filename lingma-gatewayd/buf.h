/*
 * gw_buf: a growable byte buffer for the gateway's pure formatters.
 *
 * Every formatter appends to a caller-provided gw_buf and, on failure,
 * leaves it exactly as it was (no half-written JSON or SSE event). The data
 * is always NUL-terminated once anything was appended, so text can be
 * handed to C string functions; `len` never counts the terminator.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

typedef struct gw_buf {
    char *data; /* NULL until the first append */
    size_t len; /* bytes used, without the terminating NUL */
    size_t cap; /* bytes allocated */
} gw_buf;

#define GW_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make room for `extra` more bytes (plus the NUL). 0 or LINGMA_ENOMEM. */
int gw_buf_reserve(gw_buf *b, size_t extra);

/* Append bytes / a C string / formatted text. 0 or LINGMA_ENOMEM (or
 * LINGMA_EINVAL for a format error); on failure `b` is unchanged. */
int gw_buf_append(gw_buf *b, const void *data, size_t len);
int gw_buf_puts(gw_buf *b, const char *s);
int gw_buf_printf(gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int gw_buf_vprintf(gw_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Append `json` as compact JSON text (UTF-8 passed through, reals with 15
 * significant digits). 0, LINGMA_ENOMEM or LINGMA_EINVAL (jansson refused);
 * on failure `b` is unchanged. */
int gw_buf_append_json(gw_buf *b, const json_t *json);

/* Cut the buffer back to `len` bytes (no-op when len >= b->len). */
void gw_buf_truncate(gw_buf *b, size_t len);

/* Forget the contents, keep the allocation. */
void gw_buf_reset(gw_buf *b);

/* Hand the (NUL-terminated, malloc'd) data to the caller and reset `b`.
 * Returns NULL for a buffer that never received data. */
char *gw_buf_detach(gw_buf *b, size_t *len);

/* Release the allocation. NULL-safe. */
void gw_buf_free(gw_buf *b);

#endif
