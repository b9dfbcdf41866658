/*
 * cors: allowed browser origins (see cors.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lingma/common.h"

#include "cors.h"

#define REQUESTED_MAX 512

struct gw_cors {
    bool any;
    char **origins;
    size_t n;
};

/* scheme "://" host [":" port], nothing else (no path, no userinfo). */
static bool
origin_ok(const char *s, size_t n)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            sep = s + i;
            break;
        }
    if (!sep || sep == s)
        return false;
    for (const char *p = s; p < sep; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '+' || *p == '-' || *p == '.'))
            return false;
    const char *host = sep + 3, *end = s + n;
    if (host == end)
        return false;
    for (const char *p = host; p < end; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == ':' || *p == '[' || *p == ']'))
            return false;
    return true;
}

void
gw_cors_free(gw_cors *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c);
}

int
gw_cors_new(gw_cors **out, const char *origins, char *err, size_t errlen)
{
    *out = NULL;
    if (!origins || !*origins)
        return LINGMA_OK;
    gw_cors *c = calloc(1, sizeof(*c));
    size_t cap = 1;
    for (const char *p = origins; *p; p++)
        cap += *p == ',';
    if (c)
        c->origins = calloc(cap, sizeof(char *));
    if (!c || !c->origins) {
        gw_cors_free(c);
        return LINGMA_ENOMEM;
    }
    const char *p = origins;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *s = p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '/'))
            t--;
        size_t n = (size_t)(t - s);
        if (n == 1 && *s == '*') {
            c->any = true;
        } else if (n > 0) {
            if (!origin_ok(s, n)) {
                snprintf(err, errlen,
                         "GATEWAY_CORS_ORIGINS: '%.*s' is not '*' nor scheme://host[:port]",
                         (int)(n > 80 ? 80 : n), s);
                gw_cors_free(c);
                return LINGMA_EINVAL;
            }
            char *o = strndup(s, n);
            if (!o) {
                gw_cors_free(c);
                return LINGMA_ENOMEM;
            }
            c->origins[c->n++] = o;
        }
        p = comma ? comma + 1 : e;
    }
    if (!c->any && c->n == 0) {
        gw_cors_free(c);
        return LINGMA_OK;
    }
    *out = c;
    return LINGMA_OK;
}

const char *
gw_cors_allow_origin(const gw_cors *c, const char *origin)
{
    if (!c || !origin || !*origin)
        return NULL;
    if (c->any)
        return "*";
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(c->origins[i], origin) == 0)
            return c->origins[i];
    return NULL;
}

const char *
gw_cors_allow_headers(char *buf, size_t len, const char *requested)
{
    static const char fallback[] =
        "authorization, content-type, x-api-key, x-request-id, anthropic-version, "
        "anthropic-beta";
    bool ok = requested && *requested && strlen(requested) <= REQUESTED_MAX;
    for (const char *p = requested; ok && *p; p++) {
        char ch = *p;
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.' || ch == ',' || ch == ' ';
    }
    snprintf(buf, len, "%s", ok ? requested : fallback);
    return buf;
}
