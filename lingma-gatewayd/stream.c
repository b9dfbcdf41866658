/* stream: bounded byte queue (see stream.h). */
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

/* Smallest allocation: a typical SSE event (a few hundred bytes) fits
 * without a regrow; bursts grow it geometrically. The allocation goes as
 * soon as the reader drains it: an idle stream, waiting seconds between
 * events, holds none, and 10,000 idle streams are the target. */
#define SBUF_MIN_ALLOC 512

int
gw_sbuf_append(struct gw_sbuf *b, const void *p, size_t n, size_t limit)
{
    if (n == 0)
        return LINGMA_OK;
    if (n > limit || b->len > limit - n)
        return LINGMA_EBUSY;
    if (b->head + b->len + n > b->alloc) {
        /* Compact first: the reader usually drains everything, so the
         * unread tail is short and the move is cheap. */
        if (b->head > 0) {
            memmove(b->data, b->data + b->head, b->len);
            b->head = 0;
        }
        if (b->len + n > b->alloc) {
            size_t want = b->alloc ? b->alloc : SBUF_MIN_ALLOC;
            while (want < b->len + n) {
                if (want > SIZE_MAX / 2)
                    return LINGMA_ENOMEM;
                want *= 2;
            }
            char *d = realloc(b->data, want);
            if (!d)
                return LINGMA_ENOMEM;
            b->data = d;
            b->alloc = want;
        }
    }
    memcpy(b->data + b->head + b->len, p, n);
    b->len += n;
    return LINGMA_OK;
}

size_t
gw_sbuf_read(struct gw_sbuf *b, void *dst, size_t max)
{
    size_t n = b->len < max ? b->len : max;
    if (n == 0)
        return 0;
    memcpy(dst, b->data + b->head, n);
    b->head += n;
    b->len -= n;
    if (b->len == 0)
        gw_sbuf_clear(b);
    else if (b->head > b->alloc / 2) {
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
    }
    return n;
}

size_t
gw_sbuf_pending(const struct gw_sbuf *b)
{
    return b->len;
}

void
gw_sbuf_clear(struct gw_sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->alloc = 0;
    b->head = 0;
    b->len = 0;
}
