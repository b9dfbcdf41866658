/*
 * liblingma sys tier: the LSP `Content-Length` frame codec.
 *
 * Stable only within a minor version. Sans-I/O: no sockets, no threads,
 * no clocks. A frame on the wire is
 *
 *     Content-Length: <N>\r\n
 *     [Other-Header: value\r\n ...]
 *     \r\n
 *     <N bytes of body>
 *
 * Header names are matched case-insensitively; headers other than
 * Content-Length (Content-Type, ...) are tolerated and ignored. Lines may
 * also end in a bare "\n" (the body length is explicit, so this cannot
 * misplace a boundary); a "\r" not followed by "\n" is an error. N counts
 * bytes, not characters. Input may arrive in chunks of any size, down to
 * one byte, split anywhere (inside a header, inside a multi-byte UTF-8
 * character of the body); several frames may arrive in one chunk.
 *
 * Errors are sticky: once the decoder reports an error the stream is dead
 * (a Content-Length stream has no resynchronisation point: after a bad
 * header we cannot know where the next frame starts). Every later feed
 * returns the same error. Close the connection, then free the decoder.
 *
 * Cost is linear in the bytes fed, whatever the chunking.
 */
#ifndef LINGMA_SYS_FRAME_H
#define LINGMA_SYS_FRAME_H

#include <stddef.h>

#include "lingma/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The default cap on a frame body: 16 MiB. */
#define LINGMA_FRAME_DEFAULT_MAX ((size_t)16 * 1024 * 1024)

/** The cap on the header block of one frame (all header lines together). */
#define LINGMA_FRAME_MAX_HEADER ((size_t)8192)

/** Room enough for the encoded header of any frame. */
#define LINGMA_FRAME_HEADER_MAX_LEN 48

typedef struct lingma_frame_decoder lingma_frame_decoder;

/**
 * Called once per complete frame, in order. `body` is borrowed: it is
 * valid only during the call and is NOT NUL-terminated (`len` bytes; the
 * body may contain any byte). Return 0 to go on; a negative value stops
 * lingma_frame_decoder_feed(), which returns that value and keeps the
 * bytes not yet delivered, so a later feed (even of zero bytes) resumes
 * where it stopped. The frame passed to the call that stopped the feed
 * counts as delivered: it is not delivered again.
 * The callback must not call lingma_frame_decoder_feed() on the same decoder
 * (such a call returns LINGMA_EINVAL).
 */
typedef int (*lingma_frame_cb)(const char *body, size_t len, void *payload);

/**
 * Create a decoder.
 *
 * @param out       the new decoder, owned by the caller (lingma_frame_decoder_free)
 * @param max_body  cap on a frame body in bytes; 0 means LINGMA_FRAME_DEFAULT_MAX
 * @param alloc     allocator, or NULL for malloc(3); must outlive the decoder
 * @return 0, LINGMA_EINVAL (out is NULL) or LINGMA_ENOMEM
 */
LINGMA_EXPORT int lingma_frame_decoder_new(lingma_frame_decoder **out, size_t max_body,
                                           const lingma_allocator *alloc);

/** Free a decoder. NULL is accepted. */
LINGMA_EXPORT void lingma_frame_decoder_free(lingma_frame_decoder *dec);

/**
 * Feed bytes, calling `cb` for every frame completed by them.
 *
 * @return 0 when every complete frame was delivered;
 *         LINGMA_EPROTO when the stream is malformed: missing, empty,
 *           negative, non-numeric, duplicate-and-different or overflowing
 *           Content-Length, a header line without a colon, a header name
 *           that is not an RFC 9110 token (bare JSON without a header fails
 *           here, at its first byte), a "\r" without "\n", a header block
 *           over LINGMA_FRAME_MAX_HEADER (the stream is dead, see above);
 *         LINGMA_EINVAL when a frame announces a body over the cap
 *           (the stream is dead as well: the body is never buffered);
 *         LINGMA_ENOMEM (the bytes were not taken; feeding them again is allowed),
 *           except in one case: when `cb` stopped the feed and the bytes after
 *           it could not be kept, the stream is dead (sticky LINGMA_ENOMEM);
 *         LINGMA_EINVAL as well when `dec` or `cb` is NULL;
 *         or the negative value returned by `cb` (not sticky).
 * When the whole of a frame lies inside `data` it is delivered from `data`
 * without a copy; only a body that straddles the end of a chunk is buffered.
 * lingma_frame_decoder_errmsg() says what went wrong.
 */
LINGMA_EXPORT int lingma_frame_decoder_feed(lingma_frame_decoder *dec, const void *data, size_t len,
                                            lingma_frame_cb cb, void *payload);

/**
 * A human-readable description of the last error, or "" when none.
 * Borrowed; valid until the next call on the decoder.
 */
LINGMA_EXPORT const char *lingma_frame_decoder_errmsg(const lingma_frame_decoder *dec);

/**
 * Bytes of input taken by the decoder and not yet delivered: the header and
 * body bytes of the incomplete frame, or the undelivered input kept after a
 * callback stopped a feed.
 */
LINGMA_EXPORT size_t lingma_frame_decoder_buffered(const lingma_frame_decoder *dec);

/**
 * Write the header for a body of `body_len` bytes
 * ("Content-Length: <n>\r\n\r\n") into `buf`, NUL-terminated.
 *
 * @return the header length (without the NUL), or LINGMA_EINVAL when
 *         `bufsize` is too small (LINGMA_FRAME_HEADER_MAX_LEN always fits).
 */
LINGMA_EXPORT int lingma_frame_header(char *buf, size_t bufsize, size_t body_len);

/**
 * Encode one whole frame into a newly allocated buffer.
 *
 * @param out      receives the frame (header + body), owned by the caller,
 *                 to be released with `alloc->free` (or free(3) when alloc is NULL)
 * @param out_len  receives the frame length
 * @param headroom bytes left free before the frame (e.g. LWS_PRE), not counted in out_len;
 *                 the frame starts at (*out + headroom)
 * @return 0, LINGMA_EINVAL or LINGMA_ENOMEM
 */
LINGMA_EXPORT int lingma_frame_encode(char **out, size_t *out_len, const void *body,
                                      size_t body_len, size_t headroom,
                                      const lingma_allocator *alloc);

#ifdef __cplusplus
}
#endif

#endif /* LINGMA_SYS_FRAME_H */
