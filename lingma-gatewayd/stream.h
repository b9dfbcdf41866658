/*
 * stream: the bounded byte queue between a producer (the pool's service
 * thread) and the MHD content reader.
 *
 * The queue itself is sans-lock and sans-I/O: the HTTP engine guards each
 * queue with its lock, appends on the producer's thread and drains it on
 * the MHD thread. It is a single contiguous buffer: appends go at the end,
 * reads take from the front, and the unread tail is moved to the front when
 * more than half of the allocation is already consumed, so memory stays
 * proportional to the bytes actually pending.
 *
 * The bound is the policy knob: an append that would take the pending bytes
 * beyond `limit` is refused whole (nothing is appended) and the caller
 * decides. The engine treats that as "the client is not reading" (see
 * http.h, gw_stream_write).
 *
 * The producer side of a stream (gw_stream_write, gw_stream_end) is
 * declared in http.h and implemented in http.c, next to the content reader
 * it wakes up.
 */
#ifndef GW_STREAM_H
#define GW_STREAM_H

#include <stddef.h>

struct gw_sbuf {
    char *data;   /* allocation; NULL until the first append */
    size_t alloc; /* bytes allocated */
    size_t head;  /* offset of the first unread byte */
    size_t len;   /* unread bytes */
};

#define GW_SBUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Append `n` bytes unless the pending total would exceed `limit`.
 * Returns 0, LINGMA_EBUSY (over the limit; nothing appended) or
 * LINGMA_ENOMEM (nothing appended). n == 0 always succeeds. */
int gw_sbuf_append(struct gw_sbuf *b, const void *p, size_t n, size_t limit);

/* Move up to `max` pending bytes to `dst`; returns how many. A read that
 * drains the buffer frees its allocation (the next append makes one). */
size_t gw_sbuf_read(struct gw_sbuf *b, void *dst, size_t max);

/* Bytes pending. */
size_t gw_sbuf_pending(const struct gw_sbuf *b);

/* Drop pending bytes and the allocation; the buffer is reusable. */
void gw_sbuf_clear(struct gw_sbuf *b);

#endif /* GW_STREAM_H */
