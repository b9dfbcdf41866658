/* lingma-sim: the script reply mode, see reply_script.h. */
#include "reply_script.h"

#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_VAR "{{prompt}}"

struct rule {
    regex_t re;
    char *reply;
};

struct sim_script {
    struct rule *rules;
    size_t n; /* rules compiled so far (all of them once loaded) */
};

void
sim_script_free(struct sim_script *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        regfree(&s->rules[i].re);
        free(s->rules[i].reply);
    }
    free(s->rules);
    free(s);
}

/* Strictness catches a misspelt key ("regex", "text") that would otherwise
 * silently turn a rule into a different one. */
static bool
known_keys(const json_t *rule, const char **bad)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)rule, key, v)
    {
        if (strcmp(key, "match") && strcmp(key, "reply") && strcmp(key, "icase")) {
            *bad = key;
            return false;
        }
    }
    return true;
}

static int
compile_rule(struct rule *r, const json_t *rule, size_t idx, char *err, size_t errlen)
{
    const char *match = json_string_value(json_object_get(rule, "match"));
    const char *reply = json_string_value(json_object_get(rule, "reply"));
    const json_t *icase = json_object_get(rule, "icase");
    const char *bad = NULL;
    if (json_is_object(rule) && !known_keys(rule, &bad)) {
        snprintf(err, errlen, "rule %zu: unknown key '%s' (known: match, reply, icase)", idx + 1,
                 bad);
        return -1;
    }
    if (!json_is_object(rule) || !match || !reply || (icase && !json_is_boolean(icase))) {
        snprintf(err, errlen,
                 "rule %zu: expected {\"match\": \"<regex>\", \"reply\": \"<text>\"[, \"icase\": "
                 "true]}",
                 idx + 1);
        return -1;
    }
    int flags = REG_EXTENDED | REG_NOSUB | REG_NEWLINE | (json_is_true(icase) ? REG_ICASE : 0);
    int rc = regcomp(&r->re, match, flags);
    if (rc) {
        char msg[160];
        regerror(rc, &r->re, msg, sizeof(msg));
        snprintf(err, errlen, "rule %zu: bad regular expression '%s': %s", idx + 1, match, msg);
        return -1;
    }
    if (!(r->reply = strdup(reply))) {
        regfree(&r->re);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
sim_script_from_json(const json_t *rules, struct sim_script **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json_is_array(rules)) {
        snprintf(err, errlen, "expected a JSON array of rules");
        return -1;
    }
    struct sim_script *s = calloc(1, sizeof(*s));
    size_t count = json_array_size(rules);
    if (!s || (count && !(s->rules = calloc(count, sizeof(*s->rules))))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (compile_rule(&s->rules[i], json_array_get(rules, i), i, err, errlen)) {
            sim_script_free(s);
            return -1;
        }
        s->n++;
    }
    *out = s;
    return 0;
}

int
sim_script_load(const char *path, struct sim_script **out, char *err, size_t errlen)
{
    json_error_t jerr;
    char why[256];
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!root) {
        snprintf(err, errlen, "%s: not JSON (%s, line %d)", path, jerr.text, jerr.line);
        return -1;
    }
    int rc = sim_script_from_json(root, out, why, sizeof(why));
    json_decref(root);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

const char *
sim_script_match(const struct sim_script *s, const char *prompt)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!regexec(&s->rules[i].re, prompt, 0, NULL, 0))
            return s->rules[i].reply;
    }
    return NULL;
}

char *
sim_script_expand(const char *reply, const char *prompt)
{
    size_t vl = strlen(PROMPT_VAR), pl = strlen(prompt), n = 0;
    for (const char *p = strstr(reply, PROMPT_VAR); p; p = strstr(p + vl, PROMPT_VAR))
        n++;
    char *out = malloc(strlen(reply) - n * vl + n * pl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = reply;;) {
        const char *at = strstr(p, PROMPT_VAR);
        size_t chunk = at ? (size_t)(at - p) : strlen(p);
        memcpy(o, p, chunk);
        o += chunk;
        if (!at)
            break;
        memcpy(o, prompt, pl);
        o += pl;
        p = at + vl;
    }
    *o = '\0';
    return out;
}

int
sim_script_reply(const char *path, const char *prompt, char **out, char *err, size_t errlen)
{
    struct sim_script *s;
    *out = NULL;
    if (sim_script_load(path, &s, err, errlen))
        return -1;
    const char *reply = sim_script_match(s, prompt);
    int rc = 0;
    if (reply && !(*out = sim_script_expand(reply, prompt))) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    sim_script_free(s);
    return rc;
}
