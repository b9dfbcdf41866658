/* Growable buffer; see buf.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "buf.h"

int
gw_buf_reserve(gw_buf *b, size_t extra)
{
    /* Refuse sizes that could overflow the arithmetic below; no gateway
     * buffer comes anywhere near this. */
    if (extra > SIZE_MAX / 4 || b->len > SIZE_MAX / 4)
        return LINGMA_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return LINGMA_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
gw_buf_append(gw_buf *b, const void *data, size_t len)
{
    int rc = gw_buf_reserve(b, len);
    if (rc != 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int
gw_buf_puts(gw_buf *b, const char *s)
{
    return gw_buf_append(b, s, strlen(s));
}

int
gw_buf_vprintf(gw_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return LINGMA_EINVAL;
    int rc = gw_buf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int
gw_buf_printf(gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = gw_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

static int
dump_cb(const char *chunk, size_t size, void *payload)
{
    return gw_buf_append(payload, chunk, size) == 0 ? 0 : -1;
}

int
gw_buf_append_json(gw_buf *b, const json_t *json)
{
    size_t mark = b->len;
    /* Dump through a callback rather than json_dumps() so that the text
     * lives in memory we allocated: json_dumps() output must be freed by
     * jansson's allocator, which tests may replace. */
    if (json_dump_callback(json, dump_cb, b,
                           JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) != 0) {
        gw_buf_truncate(b, mark);
        return LINGMA_ENOMEM;
    }
    return 0;
}

void
gw_buf_truncate(gw_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}

void
gw_buf_reset(gw_buf *b)
{
    gw_buf_truncate(b, 0);
}

char *
gw_buf_detach(gw_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void
gw_buf_free(gw_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
