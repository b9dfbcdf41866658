/* Internal view of the frame codec: counters for white-box tests. */
#ifndef LINGMA_INTERNAL_FRAME_H
#define LINGMA_INTERNAL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/sys/frame.h"

/*
 * Work done by a decoder since it was created. Tests use these to prove
 * that decoding stays linear in the bytes fed, whatever the chunking,
 * without measuring time.
 */
struct lingma__frame_counters {
    uint64_t scanned;         /* header bytes run through the header parser (dry runs too) */
    uint64_t copied;          /* bytes copied into the decoder's buffer (memcpy and memmove) */
    uint64_t regrown;         /* bytes the buffer held when it was reallocated */
    uint64_t zero_copy;       /* frames delivered straight from the caller's chunk */
    uint64_t buffered_frames; /* frames delivered from the decoder's buffer */
};

void lingma__frame_decoder_counters(const lingma_frame_decoder *dec,
                                    struct lingma__frame_counters *out);

/* Write "Content-Length: <n>\r\n\r\n" (no NUL) and return its length; `buf`
 * must hold LINGMA_FRAME_HEADER_MAX_LEN bytes. */
size_t lingma__frame_header_fast(char *buf, size_t body_len);

#endif
