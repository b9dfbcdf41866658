/* A small JSON writer. See jsonw.h. */
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "jsonw.h"

/* 15 digits: 0.7 goes out as 0.7, not 0.69999999999999996. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

/* Make room for `need` bytes in all; doubling keeps appends amortised O(1). */
static int
reserve(struct lingma__jsonw *w, size_t need)
{
    size_t ncap = w->cap ? w->cap : 512;
    char *nb;

    if (need <= w->cap)
        return 0;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return LINGMA_ENOMEM;
        ncap *= 2;
    }
    nb = lingma__realloc(w->alloc, w->buf, ncap);
    if (!nb)
        return LINGMA_ENOMEM;
    w->buf = nb;
    w->cap = ncap;
    return 0;
}

void
lingma__jsonw_reset(struct lingma__jsonw *w, size_t headroom)
{
    w->len = 0;
    w->oom = reserve(w, headroom) != 0;
    if (!w->oom)
        w->len = headroom;
}

void
lingma__jsonw_trim(struct lingma__jsonw *w, size_t keep)
{
    if (w->cap > keep) {
        lingma__free(w->alloc, w->buf);
        w->buf = NULL;
        w->cap = w->len = 0;
    }
}

void
lingma__jsonw_raw(struct lingma__jsonw *w, const char *p, size_t n)
{
    if (w->oom)
        return;
    if (n > SIZE_MAX - w->len || reserve(w, w->len + n) != 0) {
        w->oom = 1;
        return;
    }
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void
lingma__jsonw_lit(struct lingma__jsonw *w, const char *s)
{
    lingma__jsonw_raw(w, s, strlen(s));
}

void
lingma__jsonw_int(struct lingma__jsonw *w, long long v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    lingma__jsonw_raw(w, tmp + n, sizeof(tmp) - n);
}

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0:
 * no overlongs, no surrogates, nothing past U+10FFFF. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int
lingma__jsonw_string(struct lingma__jsonw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    lingma__jsonw_raw(w, "\"", 1);
    while (i < len) {
        unsigned char c = p[i];
        char esc[6];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\') {
            size_t n = c < 0x80 ? 1 : utf8_seq(p + i, len - i);
            if (!n)
                return LINGMA_EINVAL;
            i += n;
            continue;
        }
        /* Unescaped runs are copied in one go. */
        lingma__jsonw_raw(w, s + run, i - run);
        esc[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        lingma__jsonw_raw(w, esc, elen);
        run = ++i;
    }
    lingma__jsonw_raw(w, s + run, len - run);
    lingma__jsonw_raw(w, "\"", 1);
    return 0;
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
    struct lingma__jsonw *w = data;

    lingma__jsonw_raw(w, buf, size);
    return w->oom ? -1 : 0;
}

int
lingma__jsonw_value(struct lingma__jsonw *w, const json_t *v)
{
    if (!v) {
        lingma__jsonw_lit(w, "null");
        return 0;
    }
    if (json_dump_callback(v, dump_cb, w, DUMP_FLAGS) != 0)
        return LINGMA_ENOMEM;
    return 0;
}
