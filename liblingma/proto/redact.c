/*
 * Redaction of login hook output (see redact.h).
 *
 * Detectors mark bytes of the original line; the marked runs are then
 * written as "***". Marking first keeps the detectors independent: one
 * never has to parse what another already replaced.
 */
#include <stdbool.h>
#include <string.h>

#include "redact.h"

static const char *const secret_keys[] = {
    "password", "passwd",  "pwd",  "secret", "token",   "apikey",
    "api_key",  "api-key", "auth", "cookie", "session",
};

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
ci_match(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (n > len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != word[i])
            return false;
    return true;
}

static bool
is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool
is_value_end(char c)
{
    return c == ' ' || c == '\t' || c == '&' || c == ',' || c == ';' || c == '"' || c == '\'';
}

static void
mark(unsigned char *m, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        m[i] = 1;
}

/* "key=value", "key: value", "\"key\": \"value\"" for any key containing a secret word. */
static size_t
mark_key_value(const char *in, size_t len, size_t i, unsigned char *m)
{
    size_t k = i;
    while (k < len && is_ident(in[k]))
        k++;
    if (k < len && (in[k] == '"' || in[k] == '\''))
        k++;
    while (k < len && (in[k] == ' ' || in[k] == '\t'))
        k++;
    if (k >= len || (in[k] != '=' && in[k] != ':'))
        return i + 1;
    k++;
    while (k < len && (in[k] == ' ' || in[k] == '\t'))
        k++;
    size_t start = k, end;
    if (k < len && (in[k] == '"' || in[k] == '\'')) {
        char q = in[k];
        start = ++k;
        while (k < len && in[k] != q)
            k++;
        end = k;
    } else {
        while (k < len && !is_value_end(in[k]))
            k++;
        end = k;
    }
    mark(m, start, end);
    return end > i ? end : i + 1;
}

static void
mark_keys(const char *in, size_t len, unsigned char *m)
{
    for (size_t i = 0; i < len;) {
        size_t next = i + 1;
        for (size_t w = 0; w < sizeof(secret_keys) / sizeof(secret_keys[0]); w++) {
            if (ci_match(in + i, len - i, secret_keys[w])) {
                next = mark_key_value(in, len, i, m);
                break;
            }
        }
        i = next;
    }
}

/* The credential after "Bearer " or "Basic ". */
static void
mark_schemes(const char *in, size_t len, unsigned char *m)
{
    static const char *const schemes[] = {"bearer ", "basic "};
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && is_ident(in[i - 1]))
            continue;
        for (size_t s = 0; s < 2; s++) {
            if (!ci_match(in + i, len - i, schemes[s]))
                continue;
            size_t k = i + strlen(schemes[s]);
            while (k < len && in[k] == ' ')
                k++;
            size_t start = k;
            while (k < len && !is_value_end(in[k]))
                k++;
            mark(m, start, k);
        }
    }
}

/* JWT-looking: "eyJ" + base64url, '.', base64url, '.', optional signature. */
static void
mark_jwts(const char *in, size_t len, unsigned char *m)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        if (memcmp(in + i, "eyJ", 3) != 0 || (i > 0 && is_ident(in[i - 1])))
            continue;
        size_t k = i, dots = 0;
        while (k < len && (is_ident(in[k]) || in[k] == '.')) {
            dots += in[k] == '.';
            k++;
        }
        if (dots >= 2 && k - i >= 16) {
            mark(m, i, k);
            i = k;
        }
    }
}

static void
mark_secret(const char *in, size_t len, const char *secret, bool cut, unsigned char *m)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (sl == 0)
        return;
    for (size_t i = 0; i + sl <= len; i++)
        if (memcmp(in + i, secret, sl) == 0)
            mark(m, i, i + sl);
    if (!cut)
        return;
    /* A cut line may end with the first bytes of the secret: hide those too. */
    for (size_t k = sl - 1 < len ? sl - 1 : len; k > 0; k--) {
        if (memcmp(in + len - k, secret, k) == 0) {
            mark(m, len - k, len);
            break;
        }
    }
}

size_t
lingma__redact(char *out, size_t cap, const char *in, size_t len, const char *secret, bool cut)
{
    if (!out || cap == 0)
        return 0;
    if (!in)
        len = 0;
    if (len > LINGMA__HOOK_LINE_MAX)
        len = LINGMA__HOOK_LINE_MAX;
    unsigned char m[LINGMA__HOOK_LINE_MAX];
    memset(m, 0, len);
    mark_secret(in, len, secret, cut, m);
    mark_keys(in, len, m);
    mark_schemes(in, len, m);
    mark_jwts(in, len, m);

    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap;) {
        if (!m[i]) {
            out[n++] = in[i++];
            continue;
        }
        while (i < len && m[i])
            i++;
        for (const char *r = "***"; *r && n + 1 < cap; r++)
            out[n++] = *r;
    }
    out[n] = '\0';
    return n;
}
