/*
 * The LSP Content-Length frame codec (sans-I/O). See lingma/sys/frame.h.
 *
 * Design notes:
 *   - Headers are parsed by a byte-at-a-time state machine that keeps no
 *     header bytes: a header split across any number of chunks costs one
 *     pass, and nothing is ever rescanned.
 *   - A body that lies wholly inside the caller's chunk is delivered from
 *     that chunk (zero copy). Only the start of a body that straddles the
 *     end of a chunk is copied, once, into a buffer that grows
 *     geometrically up to the announced body length.
 *   - Every allocation a feed may need is made before the first frame of
 *     that feed is delivered, so LINGMA_ENOMEM means "nothing was taken".
 *     When the buffer is too small, a dry run of the parser over the chunk
 *     (headers only; bodies are skipped in O(1)) sizes it first.
 *   - Bare "\n" line endings are accepted as well as "\r\n": the body length
 *     is explicit, so this cannot misplace a frame boundary, and some
 *     hand-written peers and test scripts send them. A "\r" not followed by
 *     "\n" is an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lingma/sys/frame.h"

#include "alloc.h"
#include "frame.h"

/* Buffers larger than this are released when they fall empty, so that one
 * big frame does not pin memory for the life of the connection. */
#define SHRINK_ABOVE ((size_t)64 * 1024)
#define MIN_BUFFER   ((size_t)4096)

enum hstate {
    H_LINE,   /* at the start of a header line */
    H_NAME,   /* inside a header name */
    H_VSKIP,  /* blanks between "Content-Length:" and the digits */
    H_DIGITS, /* inside the Content-Length digits */
    H_VTRAIL, /* blanks after the digits */
    H_VOTHER, /* inside the value of another header */
    H_LF,     /* after the "\r" that ends a header line */
    H_END_LF, /* after the "\r" of the empty line that ends the block */
};

enum herr {
    HE_NONE = 0,
    HE_NO_COLON,
    HE_EMPTY_NAME,
    HE_BAD_NAME,
    HE_EMPTY_VALUE,
    HE_NEGATIVE,
    HE_NOT_NUMERIC,
    HE_OVERFLOW,
    HE_DUPLICATE,
    HE_MISSING,
    HE_BARE_CR,
    HE_TOO_LONG,
    HE_TOO_BIG,
};

/* Parser state; small and copyable so that a dry run can work on a copy. */
struct parse {
    unsigned char state;
    unsigned char in_body;    /* the header is done; waiting for body_len bytes */
    unsigned char name_match; /* the name so far is a prefix of "content-length" */
    unsigned char have_cl;
    size_t name_len;
    size_t hdr_bytes;  /* bytes of the current frame's header block so far */
    uint64_t value;    /* the Content-Length value being parsed */
    uint64_t cl;       /* the Content-Length already seen in this block */
    size_t body_len;   /* valid when in_body */
    unsigned char bad; /* the offending byte, for messages */
};

struct lingma_frame_decoder {
    const lingma_allocator *alloc;
    size_t max_body;
    struct parse ps;
    /*
     * buf[head, tail) holds either the start of the current body (raw == 0,
     * head == 0), or input kept after a callback stopped a feed and not yet
     * parsed (raw == 1).
     */
    char *buf;
    size_t cap, head, tail;
    int raw;
    int feeding; /* inside lingma_frame_decoder_feed(), to refuse re-entry */
    int err;     /* sticky stream error, 0 when the stream is alive */
    struct lingma__frame_counters ctr;
    char errmsg[160];
};

static const char cl_name[] = "content-length";
#define CL_NAME_LEN (sizeof(cl_name) - 1)
static const char cl_prefix[] = "Content-Length: ";
#define CL_PREFIX_LEN (sizeof(cl_prefix) - 1)

static unsigned char
ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* RFC 9110 token characters, as a bitmap (no strchr in the hot loop).
 * Anything else in a name means the peer is not sending headers at all
 * (bare JSON, say): fail at once rather than after LINGMA_FRAME_MAX_HEADER
 * bytes. */
static const uint32_t tchar_map[8] = {
    0x00000000, /* 0x00-0x1f */
    0x03ff6cfa, /* 0x20-0x3f: ! # $ % & ' * + - . 0-9 */
    0xc7fffffe, /* 0x40-0x5f: A-Z ^ _ */
    0x57ffffff, /* 0x60-0x7f: ` a-z | ~ */
    0,          0, 0, 0,
};

static int
is_tchar(unsigned char c)
{
    return (tchar_map[c >> 5] >> (c & 31)) & 1;
}

static void
reset_frame(struct parse *ps)
{
    ps->state = H_LINE;
    ps->in_body = 0;
    ps->have_cl = 0;
    ps->hdr_bytes = 0;
    ps->body_len = 0;
}

/* A header line ended: account for a Content-Length value if it was one. */
static enum herr
end_value(struct parse *ps)
{
    if (ps->have_cl && ps->cl != ps->value)
        return HE_DUPLICATE;
    ps->have_cl = 1;
    ps->cl = ps->value;
    return HE_NONE;
}

/*
 * Run the header machine over p[0, n). Returns the bytes consumed and sets
 * *res to 0 (the block goes on), 1 (the block ended: ps->in_body is set) or
 * minus an enum herr (an error at the last byte consumed).
 */
static size_t
scan_header(struct parse *ps, const unsigned char *p, size_t n, int *res)
{
    size_t i;
    enum herr e = HE_NONE;

    i = 0;
    /* The header every peer sends first, in one piece: skip the name. */
    if (ps->state == H_LINE && ps->hdr_bytes == 0 && n >= CL_PREFIX_LEN &&
        memcmp(p, cl_prefix, CL_PREFIX_LEN) == 0) {
        ps->hdr_bytes = CL_PREFIX_LEN;
        ps->value = 0;
        ps->state = H_VSKIP;
        i = CL_PREFIX_LEN;
    }
    for (; i < n; i++) {
        unsigned char c = p[i];

        if (++ps->hdr_bytes > LINGMA_FRAME_MAX_HEADER) {
            e = HE_TOO_LONG;
            goto fail;
        }
        switch (ps->state) {
        case H_LINE:
            if (c == '\r') {
                ps->state = H_END_LF;
            } else if (c == '\n') {
                goto block_end;
            } else if (c == ':') {
                e = HE_EMPTY_NAME;
                goto fail;
            } else if (!is_tchar(c)) {
                ps->bad = c;
                e = HE_BAD_NAME;
                goto fail;
            } else {
                ps->name_len = 1;
                ps->name_match = ascii_lower(c) == (unsigned char)cl_name[0];
                ps->state = H_NAME;
            }
            break;
        case H_NAME:
            if (c == ':') {
                if (ps->name_match && ps->name_len == CL_NAME_LEN) {
                    ps->value = 0;
                    ps->state = H_VSKIP;
                } else {
                    ps->state = H_VOTHER;
                }
            } else if (c == '\r' || c == '\n') {
                e = HE_NO_COLON;
                goto fail;
            } else if (!is_tchar(c)) {
                ps->bad = c;
                e = HE_BAD_NAME;
                goto fail;
            } else {
                if (ps->name_match && (ps->name_len >= CL_NAME_LEN ||
                                       ascii_lower(c) != (unsigned char)cl_name[ps->name_len]))
                    ps->name_match = 0;
                ps->name_len++;
            }
            break;
        case H_VSKIP:
            if (c == ' ' || c == '\t')
                break;
            if (c == '\r' || c == '\n') {
                e = HE_EMPTY_VALUE;
                goto fail;
            }
            if (c == '-') {
                e = HE_NEGATIVE;
                goto fail;
            }
            if (c < '0' || c > '9') {
                ps->bad = c;
                e = HE_NOT_NUMERIC;
                goto fail;
            }
            ps->state = H_DIGITS;
            /* fall through */
        case H_DIGITS:
            if (c >= '0' && c <= '9') {
                unsigned d = (unsigned)(c - '0');
                if (ps->value > (UINT64_MAX - d) / 10) {
                    e = HE_OVERFLOW;
                    goto fail;
                }
                ps->value = ps->value * 10 + d;
                break;
            }
            if (c == ' ' || c == '\t') {
                ps->state = H_VTRAIL;
                break;
            }
            /* fall through */
        case H_VTRAIL:
            if (c == ' ' || c == '\t')
                break;
            if (c != '\r' && c != '\n') {
                ps->bad = c;
                e = HE_NOT_NUMERIC;
                goto fail;
            }
            if ((e = end_value(ps)) != HE_NONE)
                goto fail;
            ps->state = c == '\r' ? H_LF : H_LINE;
            break;
        case H_VOTHER:
            if (c == '\r')
                ps->state = H_LF;
            else if (c == '\n')
                ps->state = H_LINE;
            break;
        case H_LF:
            if (c != '\n') {
                e = HE_BARE_CR;
                goto fail;
            }
            ps->state = H_LINE;
            break;
        case H_END_LF:
            if (c != '\n') {
                e = HE_BARE_CR;
                goto fail;
            }
            goto block_end;
        }
    }
    *res = 0;
    return n;

block_end:
    if (!ps->have_cl) {
        e = HE_MISSING;
        goto fail;
    }
    if (ps->cl > SIZE_MAX) {
        e = HE_OVERFLOW;
        goto fail;
    }
    ps->in_body = 1;
    ps->body_len = (size_t)ps->cl;
    *res = 1;
    return i + 1;

fail:
    *res = -(int)e;
    return i + 1;
}

static int
set_error(lingma_frame_decoder *dec, enum herr e)
{
    const struct parse *ps = &dec->ps;
    char *m = dec->errmsg;
    size_t sz = sizeof(dec->errmsg);
    int code = LINGMA_EPROTO;

    switch (e) {
    case HE_NO_COLON:
        snprintf(m, sz, "frame header line without a colon");
        break;
    case HE_EMPTY_NAME:
        snprintf(m, sz, "frame header line with an empty name");
        break;
    case HE_BAD_NAME:
        snprintf(m, sz, "invalid byte 0x%02x in a frame header name", ps->bad);
        break;
    case HE_EMPTY_VALUE:
        snprintf(m, sz, "empty Content-Length");
        break;
    case HE_NEGATIVE:
        snprintf(m, sz, "negative Content-Length");
        break;
    case HE_NOT_NUMERIC:
        snprintf(m, sz, "non-numeric Content-Length (byte 0x%02x)", ps->bad);
        break;
    case HE_OVERFLOW:
        snprintf(m, sz, "Content-Length overflows");
        break;
    case HE_DUPLICATE:
        snprintf(m, sz, "duplicate Content-Length with different values (%llu, then %llu)",
                 (unsigned long long)ps->cl, (unsigned long long)ps->value);
        break;
    case HE_MISSING:
        snprintf(m, sz, "frame header without Content-Length");
        break;
    case HE_BARE_CR:
        snprintf(m, sz, "CR not followed by LF in a frame header");
        break;
    case HE_TOO_LONG:
        snprintf(m, sz, "frame header block longer than %zu bytes", LINGMA_FRAME_MAX_HEADER);
        break;
    case HE_TOO_BIG:
        snprintf(m, sz, "frame body of %zu bytes exceeds the maximum of %zu bytes", ps->body_len,
                 dec->max_body);
        code = LINGMA_EINVAL;
        break;
    case HE_NONE:
        snprintf(m, sz, "internal error");
        code = LINGMA_ERROR;
        break;
    }
    dec->err = code;
    return code;
}

/*
 * Parse p[0, n) and deliver every frame whose body lies wholly inside it.
 * With cb == NULL this is a dry run on `ps`: nothing is delivered and no
 * error is recorded. *used receives the bytes consumed: what is left is the
 * start of a body. Returns 0, a stream error (recorded in dec->err unless
 * dry), or the callback's negative value (then *cb_stop is set).
 */
static int
process(lingma_frame_decoder *dec, struct parse *ps, const char *p, size_t n, size_t *used,
        lingma_frame_cb cb, void *payload, int *cb_stop)
{
    size_t i = 0;

    for (;;) {
        if (!ps->in_body) {
            int res;
            size_t k;

            if (i == n)
                break;
            k = scan_header(ps, (const unsigned char *)p + i, n - i, &res);
            dec->ctr.scanned += k;
            i += k;
            if (res == 0)
                break;
            if (res < 0) {
                *used = i;
                return cb ? set_error(dec, (enum herr) - res) : LINGMA_EPROTO;
            }
            if (ps->body_len > dec->max_body) {
                *used = i;
                return cb ? set_error(dec, HE_TOO_BIG) : LINGMA_EINVAL;
            }
        }
        if (n - i < ps->body_len)
            break;
        {
            size_t blen = ps->body_len;
            const char *body = p + i;

            i += blen;
            reset_frame(ps);
            if (cb) {
                int rc;

                dec->ctr.zero_copy++;
                rc = cb(body, blen, payload);
                if (rc < 0) {
                    *used = i;
                    *cb_stop = 1;
                    return rc;
                }
            }
        }
    }
    *used = i;
    return 0;
}

static int
grow(lingma_frame_decoder *dec, size_t need, size_t limit)
{
    size_t ncap;
    char *nbuf;

    if (need <= dec->cap)
        return 0;
    ncap = dec->cap ? dec->cap : MIN_BUFFER / 2;
    ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
    if (ncap > limit)
        ncap = limit;
    if (ncap < need)
        ncap = need;
    nbuf = lingma__realloc(dec->alloc, dec->buf, ncap);
    if (!nbuf)
        return LINGMA_ENOMEM;
    dec->ctr.regrown += dec->tail;
    dec->buf = nbuf;
    dec->cap = ncap;
    return 0;
}

/*
 * How many buffer bytes a feed of `in` needs if no callback stops it, and
 * how far the buffer may usefully grow (the length of the body being
 * buffered). Runs the header machine on a copy of the state.
 */
static size_t
dry_run(lingma_frame_decoder *dec, const char *in, size_t len, size_t *limit)
{
    struct parse ps = dec->ps;
    size_t peak = 0, used = 0, rest;
    int stop = 0;

    if (dec->tail > 0) {
        size_t missing = ps.body_len - dec->tail;
        *limit = ps.body_len;
        if (len < missing)
            return dec->tail + len;
        peak = ps.body_len;
        in += missing;
        len -= missing;
        reset_frame(&ps);
    }
    if (process(dec, &ps, in, len, &used, NULL, NULL, &stop) < 0)
        return peak;
    rest = len - used;
    if (rest > peak) {
        *limit = ps.body_len;
        return rest;
    }
    return peak;
}

/* Keep input that a stopping callback left undelivered, for the next feed. */
static int
keep_raw(lingma_frame_decoder *dec, const char *p, size_t n, int rc)
{
    if (n > 0) {
        if (dec->tail + n < n || grow(dec, dec->tail + n, dec->tail + n) != 0) {
            /* The frames before were delivered: the bytes cannot be handed
             * back, so the stream cannot go on. */
            snprintf(dec->errmsg, sizeof(dec->errmsg),
                     "out of memory keeping %zu undelivered bytes", n);
            dec->err = LINGMA_ENOMEM;
            return LINGMA_ENOMEM;
        }
        memcpy(dec->buf + dec->tail, p, n);
        dec->ctr.copied += n;
        dec->tail += n;
    }
    dec->raw = dec->tail > dec->head;
    if (!dec->raw)
        dec->head = dec->tail = 0;
    snprintf(dec->errmsg, sizeof(dec->errmsg), "frame callback returned %d", rc);
    return rc;
}

static void
maybe_shrink(lingma_frame_decoder *dec)
{
    if (dec->tail == 0 && !dec->raw && dec->cap > SHRINK_ABOVE) {
        lingma__free(dec->alloc, dec->buf);
        dec->buf = NULL;
        dec->cap = 0;
    }
}

LINGMA_EXPORT int
lingma_frame_decoder_new(lingma_frame_decoder **out, size_t max_body, const lingma_allocator *alloc)
{
    lingma_frame_decoder *dec;

    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    dec = lingma__calloc(alloc, 1, sizeof(*dec));
    if (!dec)
        return LINGMA_ENOMEM;
    dec->alloc = alloc;
    dec->max_body = max_body ? max_body : LINGMA_FRAME_DEFAULT_MAX;
    reset_frame(&dec->ps);
    *out = dec;
    return 0;
}

LINGMA_EXPORT void
lingma_frame_decoder_free(lingma_frame_decoder *dec)
{
    if (!dec)
        return;
    lingma__free(dec->alloc, dec->buf);
    lingma__free(dec->alloc, dec);
}

static int
feed(lingma_frame_decoder *dec, const char *in, size_t len, lingma_frame_cb cb, void *payload)
{
    size_t used = 0;
    int rc, stop = 0;

    /* Reserve up front: past the first delivered frame, no allocation may
     * fail (except when keeping input after a callback stopped the feed). */
    if (len > dec->cap - dec->tail) {
        size_t need, limit;

        if (len > SIZE_MAX - dec->tail)
            return LINGMA_EINVAL;
        if (dec->raw) {
            need = limit = dec->tail + len;
        } else {
            limit = 0;
            need = dry_run(dec, in, len, &limit);
        }
        if (grow(dec, need, limit) != 0) {
            snprintf(dec->errmsg, sizeof(dec->errmsg), "out of memory buffering %zu bytes", need);
            return LINGMA_ENOMEM;
        }
    }

    if (dec->raw) {
        size_t left;

        rc = process(dec, &dec->ps, dec->buf + dec->head, dec->tail - dec->head, &used, cb, payload,
                     &stop);
        dec->head += used;
        if (rc < 0)
            return stop ? keep_raw(dec, in, len, rc) : rc;
        /* What is left is the start of a body: move it to the front, once. */
        left = dec->tail - dec->head;
        if (left)
            memmove(dec->buf, dec->buf + dec->head, left);
        dec->ctr.copied += left;
        dec->head = 0;
        dec->tail = left;
        dec->raw = 0;
    }

    if (dec->tail > 0) {
        size_t blen = dec->ps.body_len;
        size_t missing = blen - dec->tail;
        size_t take = len < missing ? len : missing;

        memcpy(dec->buf + dec->tail, in, take);
        dec->ctr.copied += take;
        dec->tail += take;
        in += take;
        len -= take;
        if (dec->tail < blen)
            return 0;
        reset_frame(&dec->ps);
        dec->tail = 0;
        dec->ctr.buffered_frames++;
        rc = cb(dec->buf, blen, payload);
        if (rc < 0)
            return keep_raw(dec, in, len, rc);
    }

    rc = process(dec, &dec->ps, in, len, &used, cb, payload, &stop);
    if (rc < 0)
        return stop ? keep_raw(dec, in + used, len - used, rc) : rc;
    if (used < len) {
        /* The start of a body: the reservation above made room for it. */
        memcpy(dec->buf, in + used, len - used);
        dec->ctr.copied += len - used;
        dec->tail = len - used;
    }
    maybe_shrink(dec);
    return 0;
}

LINGMA_EXPORT int
lingma_frame_decoder_feed(lingma_frame_decoder *dec, const void *data, size_t len,
                          lingma_frame_cb cb, void *payload)
{
    int rc;

    if (!dec || !cb || (!data && len))
        return LINGMA_EINVAL;
    if (!data)
        data = ""; /* (NULL, 0) resumes; keep pointer arithmetic defined */
    if (dec->err)
        return dec->err;
    if (dec->feeding)
        return LINGMA_EINVAL; /* called from its own callback */
    dec->errmsg[0] = '\0';
    dec->feeding = 1;
    rc = feed(dec, data, len, cb, payload);
    dec->feeding = 0;
    return rc;
}

LINGMA_EXPORT const char *
lingma_frame_decoder_errmsg(const lingma_frame_decoder *dec)
{
    return dec ? dec->errmsg : "";
}

LINGMA_EXPORT size_t
lingma_frame_decoder_buffered(const lingma_frame_decoder *dec)
{
    if (!dec)
        return 0;
    if (dec->raw)
        return dec->tail - dec->head;
    return dec->ps.hdr_bytes + dec->tail;
}

void
lingma__frame_decoder_counters(const lingma_frame_decoder *dec, struct lingma__frame_counters *out)
{
    *out = dec->ctr;
}

size_t
lingma__frame_header_fast(char *buf, size_t body_len)
{
    static const char prefix[] = "Content-Length: ";
    char digits[24];
    size_t nd = 0, n = sizeof(prefix) - 1;

    do {
        digits[nd++] = (char)('0' + body_len % 10);
        body_len /= 10;
    } while (body_len);
    memcpy(buf, prefix, n);
    while (nd)
        buf[n++] = digits[--nd];
    memcpy(buf + n, "\r\n\r\n", 4);
    return n + 4;
}

LINGMA_EXPORT int
lingma_frame_header(char *buf, size_t bufsize, size_t body_len)
{
    char tmp[LINGMA_FRAME_HEADER_MAX_LEN];
    size_t n;

    if (!buf)
        return LINGMA_EINVAL;
    n = lingma__frame_header_fast(tmp, body_len);
    if (n >= bufsize)
        return LINGMA_EINVAL;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return (int)n;
}

LINGMA_EXPORT int
lingma_frame_encode(char **out, size_t *out_len, const void *body, size_t body_len, size_t headroom,
                    const lingma_allocator *alloc)
{
    char hdr[LINGMA_FRAME_HEADER_MAX_LEN];
    size_t hlen, total;
    char *p;

    if (out)
        *out = NULL;
    if (!out || !out_len || (!body && body_len))
        return LINGMA_EINVAL;
    hlen = lingma__frame_header_fast(hdr, body_len);
    if (body_len > SIZE_MAX - hlen || headroom > SIZE_MAX - hlen - body_len)
        return LINGMA_EINVAL;
    total = headroom + hlen + body_len;
    p = lingma__malloc(alloc, total);
    if (!p)
        return LINGMA_ENOMEM;
    memcpy(p + headroom, hdr, hlen);
    if (body_len)
        memcpy(p + headroom + hlen, body, body_len);
    *out = p;
    *out_len = hlen + body_len;
    return 0;
}
