/*
 * aliases: glob patterns over requested model names (see aliases.h).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lingma/common.h"

#include "aliases.h"

struct alias {
    char *pattern;
    char *model;
};

struct gw_aliases {
    struct alias *items;
    size_t n;
};

void
gw_aliases_free(gw_aliases *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->items[i].pattern);
        free(a->items[i].model);
    }
    free(a->items);
    free(a);
}

static char *
trimmed(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return strndup(s, (size_t)(e - s));
}

int
gw_aliases_new(gw_aliases **out, const char *spec, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec || strcasecmp(spec, "none") == 0)
        return LINGMA_OK;
    size_t cap = 1;
    for (const char *p = spec; *p; p++)
        cap += *p == ',';
    gw_aliases *a = calloc(1, sizeof(*a));
    if (a)
        a->items = calloc(cap, sizeof(*a->items));
    if (!a || !a->items) {
        gw_aliases_free(a);
        return LINGMA_ENOMEM;
    }
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        char *pat = eq ? trimmed(p, eq) : trimmed(p, e);
        char *model = eq ? trimmed(eq + 1, e) : NULL;
        if (!pat || (eq && !model)) {
            free(pat);
            free(model);
            gw_aliases_free(a);
            return LINGMA_ENOMEM;
        }
        if (!*pat && !eq) {
            free(pat); /* an empty item: ",," or a trailing comma */
        } else if (!eq || !*pat || !*model) {
            snprintf(err, errlen,
                     "GATEWAY_MODEL_ALIASES: '%.60s' is not PATTERN=MODEL (for example "
                     "claude-*=auto)",
                     pat);
            free(pat);
            free(model);
            gw_aliases_free(a);
            return LINGMA_EINVAL;
        } else {
            a->items[a->n].pattern = pat;
            a->items[a->n].model = model;
            a->n++;
        }
        p = comma ? comma + 1 : e;
    }
    if (a->n == 0) {
        gw_aliases_free(a);
        return LINGMA_OK;
    }
    *out = a;
    return LINGMA_OK;
}

const char *
gw_aliases_apply(const gw_aliases *a, const char *requested)
{
    if (!a || !requested)
        return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (fnmatch(a->items[i].pattern, requested, FNM_CASEFOLD) == 0)
            return a->items[i].model;
    return NULL;
}
