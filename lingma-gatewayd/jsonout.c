/* Direct JSON text, byte-equal to jansson's compact dump; see jsonout.h. */
#include "jsonout.h"

#include <stdio.h>
#include <string.h>

#include "lingma/common.h"

#include "utf8.h"

int
gw_jsonout_string(gw_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (gw_buf_reserve(out, len + 2) != 0)
        return LINGMA_ENOMEM;
    out->data[out->len++] = '"';
    size_t run = 0; /* bytes at s + run that need no escape */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (gw_buf_append(out, s + run, i - run) != 0)
            return LINGMA_ENOMEM;
        run = i + 1;
        char e[6] = {'\\', (char)c};
        size_t n = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 0xF];
            n = 6;
            break;
        }
        if (gw_buf_append(out, e, n) != 0)
            return LINGMA_ENOMEM;
    }
    if (gw_buf_append(out, s + run, len - run) != 0)
        return LINGMA_ENOMEM;
    return gw_buf_append(out, "\"", 1);
}

int
gw_jsonout_text(gw_buf *out, const char *s, size_t len)
{
    if (gw_utf8_valid(s, len))
        return gw_jsonout_string(out, s, len);
    gw_buf u = GW_BUF_INIT;
    int rc = gw_utf8_sanitize(&u, s, len) == 0 ? gw_jsonout_string(out, u.data ? u.data : "", u.len)
                                               : LINGMA_ENOMEM;
    gw_buf_free(&u);
    return rc;
}

/* jansson's jsonp_dtostr: "%.15g", ".0" when that looks like an integer,
 * and no '+' or leading zeros in the exponent. */
int
gw_jsonout_real(gw_buf *out, double v)
{
    char b[64];
    int n = snprintf(b, sizeof(b), "%.15g", v);
    if (n < 0 || (size_t)n >= sizeof(b) - 3)
        return LINGMA_EINVAL;
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(b, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(b + n - end) + 1);
            n -= (int)(end - start);
        }
    }
    return gw_buf_append(out, b, (size_t)n);
}

int
gw_jsonout_int(gw_buf *out, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%lld", (long long)v);
    return gw_buf_append(out, b, (size_t)n);
}

int
gw_jsonout_key(gw_buf *out, const char *key, bool first)
{
    if ((!first && gw_buf_append(out, ",", 1) != 0) ||
        gw_jsonout_string(out, key, strlen(key)) != 0)
        return LINGMA_ENOMEM;
    return gw_buf_append(out, ":", 1);
}
