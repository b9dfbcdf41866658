/*
 * Fuzz target for the frame decoder. The first bytes choose a cap and a
 * chunking pattern; the rest is the stream. The same stream is decoded
 * whole and in chunks (with callbacks that sometimes stop the feed), and
 * the two must agree: same frames, same outcome. Every delivered body is
 * then re-encoded and decoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/sys/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
    uint64_t hash;
    size_t frames;
    int stop_every; /* stop the feed at every Nth frame; 0 never */
};

static int
on_frame(const char *body, size_t len, void *payload)
{
    struct digest *d = payload;

    d->hash = (d->hash ^ len) * 1099511628211ULL;
    for (size_t i = 0; i < len; i++)
        d->hash = (d->hash ^ (unsigned char)body[i]) * 1099511628211ULL;
    d->frames++;
    if (d->stop_every && d->frames % (size_t)d->stop_every == 0)
        return -1000;
    return 0;
}

static int
decode(const uint8_t *in, size_t len, size_t max_body, const uint8_t *pattern, size_t npattern,
       struct digest *d)
{
    lingma_frame_decoder *dec;
    size_t pos = 0, k = 0;
    int rc = 0;

    if (lingma_frame_decoder_new(&dec, max_body, NULL) != 0)
        abort();
    while (pos < len) {
        size_t n = npattern ? (size_t)pattern[k++ % npattern] + 1 : len;
        if (n > len - pos)
            n = len - pos;
        /* A private copy: the decoder must not keep pointers into it. */
        uint8_t *copy = malloc(n);
        if (!copy)
            abort();
        memcpy(copy, in + pos, n);
        rc = lingma_frame_decoder_feed(dec, copy, n, on_frame, d);
        while (rc == -1000)
            rc = lingma_frame_decoder_feed(dec, NULL, 0, on_frame, d);
        free(copy);
        pos += n;
        if (rc != 0)
            break;
        if (lingma_frame_decoder_buffered(dec) > max_body + LINGMA_FRAME_MAX_HEADER)
            abort();
    }
    if (rc != 0 && lingma_frame_decoder_errmsg(dec)[0] == '\0')
        abort();
    if (rc != 0 && lingma_frame_decoder_feed(dec, "x", 1, on_frame, d) != rc)
        abort(); /* errors are sticky */
    lingma_frame_decoder_free(dec);
    return rc;
}

static int
reencode(const char *body, size_t len, void *payload)
{
    char *out;
    size_t out_len;
    struct digest *d = payload;

    if (lingma_frame_encode(&out, &out_len, body, len, 3, NULL) != 0)
        abort();
    struct digest one = {0, 0, 0};
    if (decode((const uint8_t *)out + 3, out_len, len ? len : 1, NULL, 0, &one) != 0)
        abort();
    if (one.frames != 1)
        abort();
    free(out);
    d->frames++;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct digest whole = {1469598103934665603ULL, 0, 0};
    struct digest chunked = {1469598103934665603ULL, 0, 0};
    size_t max_body, npattern;
    const uint8_t *pattern;
    int rc1, rc2;

    if (size < 3)
        return 0;
    max_body = data[0] < 128 ? (size_t)data[0] * 16 + 1 : 0;
    npattern = data[1] % 8;
    chunked.stop_every = data[2] % 4;
    data += 3;
    size -= 3;
    if (npattern > size)
        npattern = size;
    pattern = data;

    rc1 = decode(data, size, max_body, NULL, 0, &whole);
    rc2 = decode(data, size, max_body, pattern, npattern, &chunked);
    if (rc1 != rc2 || whole.frames != chunked.frames || whole.hash != chunked.hash)
        abort();

    /* Round trip every body through the encoder. */
    {
        lingma_frame_decoder *dec;
        struct digest d = {0, 0, 0};
        if (lingma_frame_decoder_new(&dec, max_body, NULL) != 0)
            abort();
        (void)lingma_frame_decoder_feed(dec, data, size, reencode, &d);
        lingma_frame_decoder_free(dec);
        if (d.frames != whole.frames)
            abort();
    }
    return 0;
}
