/* UTF-8 helpers; see utf8.h. Follows RFC 3629 table 3.7 (well-formed byte
 * sequences), so overlong forms and surrogates are rejected as jansson
 * rejects them. */
#include "lingma/common.h"

#include "utf8.h"

/* The allowed range of the second byte given the first (RFC 3629). */
static bool
second_ok(unsigned char b0, unsigned char b1)
{
    switch (b0) {
    case 0xE0:
        return b1 >= 0xA0 && b1 <= 0xBF;
    case 0xED:
        return b1 >= 0x80 && b1 <= 0x9F;
    case 0xF0:
        return b1 >= 0x90 && b1 <= 0xBF;
    case 0xF4:
        return b1 >= 0x80 && b1 <= 0x8F;
    default:
        return b1 >= 0x80 && b1 <= 0xBF;
    }
}

/* Expected length from the lead byte, 0 for a byte that cannot lead. */
static size_t
lead_len(unsigned char b0)
{
    if (b0 < 0x80)
        return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        return 2;
    if (b0 >= 0xE0 && b0 <= 0xEF)
        return 3;
    if (b0 >= 0xF0 && b0 <= 0xF4)
        return 4;
    return 0;
}

/* How many bytes of s[0..len) form a valid start of one character: n ==
 * expected length means complete; 0 means invalid at the first byte. */
static size_t
valid_run(const unsigned char *s, size_t len, size_t *expected)
{
    *expected = lead_len(s[0]);
    if (*expected == 0)
        return 0;
    size_t n = 1;
    while (n < *expected && n < len) {
        bool ok = n == 1 ? second_ok(s[0], s[1]) : (s[n] >= 0x80 && s[n] <= 0xBF);
        if (!ok)
            break;
        n++;
    }
    return n;
}

size_t
gw_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t expected;
    if (len == 0)
        return 0;
    size_t n = valid_run(u, len, &expected);
    if (n == 0 || n != expected)
        return 0;
    uint32_t c;
    switch (n) {
    case 1:
        c = u[0];
        break;
    case 2:
        c = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
        break;
    case 3:
        c = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        break;
    default:
        c = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
            ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        break;
    }
    if (cp)
        *cp = c;
    return n;
}

bool
gw_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = gw_utf8_decode(s + i, len - i, NULL);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t
gw_utf8_complete_prefix(const char *s, size_t len)
{
    /* A character is at most 4 bytes: only the last 3 can be a pending
     * partial sequence. Find the last lead byte among them. */
    const unsigned char *u = (const unsigned char *)s;
    size_t back = len < 3 ? len : 3;
    for (size_t k = 1; k <= back; k++) {
        size_t i = len - k;
        if ((u[i] & 0xC0) == 0x80)
            continue; /* continuation byte: keep looking for the lead */
        size_t expected;
        size_t n = valid_run(u + i, k, &expected);
        if (expected > k && n == k)
            return i; /* a valid but unfinished sequence: hold it back */
        return len;
    }
    return len;
}

size_t
gw_utf8_floor(const char *s, size_t len, size_t max)
{
    if (max >= len)
        return len;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = max;
    /* Step back over continuation bytes to the lead of the character that
     * straddles `max`; at most 3 steps in valid text. */
    while (i > 0 && (u[i] & 0xC0) == 0x80 && max - i < 3)
        i--;
    return i;
}

int
gw_utf8_sanitize(gw_buf *out, const char *s, size_t len)
{
    size_t mark = out->len;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len) {
            size_t n = gw_utf8_decode(s + i, len - i, NULL);
            if (n == 0)
                break;
            i += n;
        }
        if (gw_buf_append(out, s + start, i - start) != 0)
            goto oom;
        if (i < len) {
            if (gw_buf_append(out, "\xEF\xBF\xBD", 3) != 0)
                goto oom;
            i++;
        }
    }
    if (!out->data && gw_buf_reserve(out, 0) != 0)
        return LINGMA_ENOMEM;
    if (out->data)
        out->data[out->len] = '\0';
    return 0;
oom:
    gw_buf_truncate(out, mark);
    return LINGMA_ENOMEM;
}

size_t
gw_utf8_count(const char *s, size_t len)
{
    size_t count = 0;
    size_t i = 0;
    while (i < len) {
        size_t n = gw_utf8_decode(s + i, len - i, NULL);
        i += n ? n : 1;
        count++;
    }
    return count;
}
