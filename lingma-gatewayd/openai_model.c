/* Model resolution against the Lingma catalogue; rules in openai.h. */
#include <string.h>
#include <strings.h>

#include "lingma/common.h"

#include "openai.h"

#define NORM_MAX 256

/* Normalize a model name for alias matching. Returns false when the name
 * does not fit (such a name never matches an alias). */
static bool
normalize(char out[NORM_MAX], const char *s)
{
    size_t n = strlen(s);
    if (n >= NORM_MAX)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (c == '-' || c == '.' || c == ' ' || c == '/')
            c = '_';
        out[i] = c;
    }
    if (strncmp(out, "lingma_", 7) == 0)
        memmove(out, out + 7, n - 7 + 1);
    return true;
}

static bool
is_auto(const char *s)
{
    return !s || !s[0] || strcasecmp(s, "auto") == 0;
}

static const gw_model_entry *
lookup(const gw_model_entry *cat, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (cat[i].key && strcmp(cat[i].key, name) == 0)
            return &cat[i];
    for (size_t i = 0; i < n; i++) {
        if (cat[i].display_name && strcasecmp(cat[i].display_name, name) == 0)
            return &cat[i];
        if (cat[i].key && strcasecmp(cat[i].key, name) == 0)
            return &cat[i];
    }
    char want[NORM_MAX], have[NORM_MAX];
    if (!normalize(want, name))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cat[i].key)
            continue;
        if (normalize(have, cat[i].key)) {
            if (strcmp(want, have) == 0)
                return &cat[i];
            /* Without the vendor prefix: "dashscope_qwen3_coder" also
             * answers to "qwen3-coder". */
            const char *u = strchr(have, '_');
            if (u && u[1] && strcmp(want, u + 1) == 0)
                return &cat[i];
        }
        if (cat[i].display_name && normalize(have, cat[i].display_name) && strcmp(want, have) == 0)
            return &cat[i];
    }
    return NULL;
}

int
gw_model_resolve(const char **key_out, const gw_model_entry **entry_out, gw_error *err,
                 const gw_model_entry *catalogue, size_t n, const char *requested,
                 const char *default_model)
{
    const char *name = requested;
    *key_out = NULL;
    if (entry_out)
        *entry_out = NULL;
    if (is_auto(name))
        name = is_auto(default_model) ? "auto" : default_model;
    if (n == 0) {
        /* Catalogue not loaded yet: let Lingma judge the name. */
        *key_out = name;
        return 0;
    }
    const gw_model_entry *e = lookup(catalogue, n, name);
    if (e) {
        *key_out = e->key;
        if (entry_out)
            *entry_out = e;
        return 0;
    }
    if (strcasecmp(name, "auto") == 0) {
        *key_out = "auto";
        return 0;
    }
    gw_error_model_not_found(err, requested && requested[0] ? requested : name);
    return LINGMA_ENOTFOUND;
}
