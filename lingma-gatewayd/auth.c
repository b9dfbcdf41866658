/* API-key authentication; see auth.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lingma/common.h"

#include "auth.h"

struct gw_auth {
    /* Keys are stored zero-padded to GW_AUTH_KEY_MAX so that every
     * comparison reads the same number of bytes. */
    unsigned char (*keys)[GW_AUTH_KEY_MAX];
    size_t *lens;
    size_t n;
    unsigned char metrics[GW_AUTH_KEY_MAX];
    size_t metrics_len;
    bool has_metrics;
};

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool
key_bytes_ok(const char *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c <= 0x20 || c == 0x7F || c == ',')
            return false;
    }
    return true;
}

int
gw_auth_new(gw_auth **out, char *err, size_t errlen, const char *api_keys,
            const char *metrics_token)
{
    *out = NULL;
    gw_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return LINGMA_ENOMEM;
    size_t cap = 1;
    for (const char *p = api_keys; p && *p; p++)
        cap += *p == ',';
    a->keys = calloc(cap, sizeof(*a->keys));
    a->lens = calloc(cap, sizeof(*a->lens));
    if (!a->keys || !a->lens) {
        gw_auth_free(a);
        return LINGMA_ENOMEM;
    }
    size_t index = 0;
    for (const char *p = api_keys; p && *p;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *s = p;
        const char *e = end;
        while (s < e && is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            e--;
        size_t n = (size_t)(e - s);
        index++;
        if (n > 0) {
            if (n > GW_AUTH_KEY_MAX || !key_bytes_ok(s, n)) {
                snprintf(err, errlen,
                         "API_KEYS: key #%zu is invalid (expected at most %d printable "
                         "characters without spaces)",
                         index, GW_AUTH_KEY_MAX);
                gw_auth_free(a);
                return LINGMA_EINVAL;
            }
            memcpy(a->keys[a->n], s, n);
            a->lens[a->n] = n;
            a->n++;
        }
        p = *end ? end + 1 : end;
    }
    if (metrics_token && *metrics_token) {
        size_t n = strlen(metrics_token);
        if (n > GW_AUTH_KEY_MAX || !key_bytes_ok(metrics_token, n)) {
            snprintf(err, errlen,
                     "METRICS_TOKEN: invalid (expected at most %d printable characters without "
                     "spaces or commas)",
                     GW_AUTH_KEY_MAX);
            gw_auth_free(a);
            return LINGMA_EINVAL;
        }
        memcpy(a->metrics, metrics_token, n);
        a->metrics_len = n;
        a->has_metrics = true;
    }
    *out = a;
    return 0;
}

void
gw_auth_free(gw_auth *auth)
{
    if (!auth)
        return;
    /* Do not leave keys lying around in freed memory. */
    if (auth->keys)
        memset(auth->keys, 0, auth->n * sizeof(*auth->keys));
    memset(auth->metrics, 0, sizeof(auth->metrics));
    free(auth->keys);
    free(auth->lens);
    free(auth);
}

size_t
gw_auth_key_count(const gw_auth *auth)
{
    return auth ? auth->n : 0;
}

const char *
gw_auth_extract(const char *authorization, const char *x_api_key, size_t *len)
{
    const char *k = NULL;
    if (authorization) {
        const char *p = authorization;
        while (is_blank(*p))
            p++;
        if (strncasecmp(p, "bearer", 6) == 0 && is_blank(p[6])) {
            p += 6;
            while (is_blank(*p))
                p++;
            if (*p)
                k = p;
        }
    }
    if (!k && x_api_key) {
        const char *p = x_api_key;
        while (is_blank(*p))
            p++;
        if (*p)
            k = p;
    }
    if (!k)
        return NULL;
    size_t n = strlen(k);
    while (n > 0 && is_blank(k[n - 1]))
        n--;
    *len = n;
    return k;
}

/* Compare a presented key, copied into a zero-padded block, with a stored
 * one. Returns 0 on equality, non-zero otherwise, reading every byte. */
static unsigned
diff_block(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    unsigned d = 0;
    for (size_t i = 0; i < GW_AUTH_KEY_MAX; i++)
        d |= (unsigned)(a[i] ^ b[i]);
    /* Fold the length difference in without a branch: the top bit of
     * x | -x is set exactly when x != 0. */
    size_t x = alen ^ blen;
    d |= (unsigned)((x | (0 - x)) >> (sizeof(size_t) * 8 - 1));
    return d;
}

/* Copy a presented key into a padded block; `over` records a key too long
 * to match anything (the comparison still runs, on the truncated copy). */
static void
pad(unsigned char block[GW_AUTH_KEY_MAX], const char *k, size_t n, unsigned *over)
{
    memset(block, 0, GW_AUTH_KEY_MAX);
    size_t m = n < GW_AUTH_KEY_MAX ? n : GW_AUTH_KEY_MAX;
    memcpy(block, k, m);
    *over = n > GW_AUTH_KEY_MAX;
}

bool
gw_auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char pa[GW_AUTH_KEY_MAX], pb[GW_AUTH_KEY_MAX];
    unsigned over_a, over_b;
    pad(pa, a, alen, &over_a);
    pad(pb, b, blen, &over_b);
    volatile unsigned d = diff_block(pa, alen, pb, blen);
    return (d | over_a | over_b) == 0;
}

/* Run the presented key against every accepted key; fixed work per key,
 * no early exit. */
static bool
match_any(const gw_auth *a, const char *k, size_t n, bool with_metrics)
{
    unsigned char block[GW_AUTH_KEY_MAX];
    unsigned over;
    pad(block, k, n, &over);
    volatile unsigned ok = 0;
    for (size_t i = 0; i < a->n; i++)
        ok |= diff_block(block, n, a->keys[i], a->lens[i]) == 0;
    if (with_metrics && a->has_metrics)
        ok |= diff_block(block, n, a->metrics, a->metrics_len) == 0;
    memset(block, 0, sizeof(block));
    return ok && !over;
}

bool
gw_auth_check(const gw_auth *auth, const char *authorization, const char *x_api_key)
{
    if (!auth || auth->n == 0)
        return true;
    size_t n = 0;
    const char *k = gw_auth_extract(authorization, x_api_key, &n);
    if (!k)
        return false;
    return match_any(auth, k, n, false);
}

bool
gw_auth_check_metrics(const gw_auth *auth, const char *authorization)
{
    if (!auth || (auth->n == 0 && !auth->has_metrics))
        return true;
    size_t n = 0;
    const char *k = gw_auth_extract(authorization, NULL, &n);
    if (!k)
        return false;
    return match_any(auth, k, n, true);
}
