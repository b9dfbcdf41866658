/*
 * The text formats inside the configuration: env files and LINGMA_ACCOUNTS.
 * See config.h for the accepted syntax.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool
is_key_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Parse the value part of one line (after '='), into `out`. */
static int
parse_value(gw_buf *out, const char *p, const char *end)
{
    while (p < end && is_space(*p))
        p++;
    if (p < end && (*p == '\'' || *p == '"')) {
        char q = *p++;
        while (p < end && *p != q) {
            char c = *p++;
            if (q == '"' && c == '\\' && p < end) {
                char e = *p++;
                c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
                if (e != 'n' && e != 't' && e != 'r' && e != '"' && e != '\\' && e != '$') {
                    /* Unknown escapes are kept as written, as shells do. */
                    if (gw_buf_append(out, "\\", 1) != 0)
                        return LINGMA_ENOMEM;
                }
            }
            if (gw_buf_append(out, &c, 1) != 0)
                return LINGMA_ENOMEM;
        }
        if (p >= end)
            return LINGMA_EINVAL; /* unterminated quote */
        p++;
        while (p < end && is_space(*p))
            p++;
        if (p < end && *p != '#')
            return LINGMA_EINVAL; /* text after the closing quote */
    } else {
        const char *v = p;
        const char *e = p;
        while (e < end && !(*e == '#' && (e == v || is_space(e[-1]))))
            e++;
        while (e > v && is_space(e[-1]))
            e--;
        if (gw_buf_append(out, v, (size_t)(e - v)) != 0)
            return LINGMA_ENOMEM;
    }
    return gw_buf_reserve(out, 0);
}

int
gw_config_parse_env_file(const char *text, size_t len, char *err, size_t errlen, gw_env_fn fn,
                         void *payload)
{
    const char *p = text;
    const char *end = text ? text + len : text;
    unsigned line = 0;
    gw_buf key = GW_BUF_INIT;
    gw_buf value = GW_BUF_INIT;
    int rc = 0;
    while (p && p < end && rc == 0) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        line++;
        const char *s = p;
        p = eol < end ? eol + 1 : end;
        while (s < eol && is_space(*s))
            s++;
        if (s == eol || *s == '#')
            continue;
        if ((size_t)(eol - s) > 7 && memcmp(s, "export", 6) == 0 && is_space(s[6])) {
            s += 7;
            while (s < eol && is_space(*s))
                s++;
        }
        const char *k = s;
        while (s < eol && is_key_char(*s, s == k))
            s++;
        const char *kend = s;
        while (s < eol && is_space(*s))
            s++;
        if (kend == k || s == eol || *s != '=') {
            snprintf(err, errlen, "env file line %u: expected KEY=VALUE", line);
            rc = LINGMA_EINVAL;
            break;
        }
        gw_buf_reset(&key);
        gw_buf_reset(&value);
        if (gw_buf_append(&key, k, (size_t)(kend - k)) != 0) {
            rc = LINGMA_ENOMEM;
            break;
        }
        rc = parse_value(&value, s + 1, eol);
        if (rc == LINGMA_EINVAL) {
            snprintf(err, errlen,
                     "env file line %u: bad quoting in the value of %s (close the quote; only a "
                     "comment may follow it)",
                     line, key.data);
            break;
        }
        if (rc == 0)
            rc = fn(key.data, value.data, line, payload);
    }
    gw_buf_free(&key);
    gw_buf_free(&value);
    return rc;
}

void
gw_accounts_free(gw_account *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].username);
        if (list[i].password) {
            memset(list[i].password, 0, strlen(list[i].password));
            free(list[i].password);
        }
    }
    free(list);
}

static int
add_account(gw_account **list, size_t *n, const char *user, size_t ulen, const char *pass,
            size_t plen)
{
    gw_account *l = realloc(*list, (*n + 1) * sizeof(**list));
    if (!l)
        return LINGMA_ENOMEM;
    *list = l;
    l[*n].username = strndup(user, ulen);
    l[*n].password = strndup(pass, plen);
    if (!l[*n].username || !l[*n].password) {
        free(l[*n].username);
        free(l[*n].password);
        return LINGMA_ENOMEM;
    }
    (*n)++;
    return 0;
}

static int
accounts_json(gw_account **list, size_t *n, char *err, size_t errlen, const char *text)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_array(root)) {
        /* Do not echo jansson's "near '...'" text: it may hold a password. */
        snprintf(err, errlen,
                 "LINGMA_ACCOUNTS: invalid JSON (expected [{\"username\":\"u\",\"password\":"
                 "\"p\"}, ...] or u1:p1,u2:p2)");
        json_decref(root);
        return LINGMA_EINVAL;
    }
    size_t i;
    json_t *a;
    int rc = 0;
    json_array_foreach(root, i, a)
    {
        json_t *u = json_object_get(a, "username");
        json_t *p = json_object_get(a, "password");
        if (!json_is_string(u) || !json_is_string(p) || json_string_length(u) == 0 ||
            strlen(json_string_value(u)) != json_string_length(u) ||
            strlen(json_string_value(p)) != json_string_length(p)) {
            snprintf(err, errlen,
                     "LINGMA_ACCOUNTS: entry #%zu needs string \"username\" and \"password\"",
                     i + 1);
            rc = LINGMA_EINVAL;
            break;
        }
        rc = add_account(list, n, json_string_value(u), json_string_length(u), json_string_value(p),
                         json_string_length(p));
        if (rc != 0)
            break;
    }
    json_decref(root);
    return rc;
}

static int
accounts_csv(gw_account **list, size_t *n, char *err, size_t errlen, const char *text)
{
    size_t index = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *s = p;
        const char *e = end;
        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        index++;
        if (s < e) {
            const char *colon = memchr(s, ':', (size_t)(e - s));
            if (!colon || colon == s) {
                snprintf(err, errlen,
                         "LINGMA_ACCOUNTS: entry #%zu is not username:password (expected "
                         "u1:p1,u2:p2 or a JSON array)",
                         index);
                return LINGMA_EINVAL;
            }
            int rc =
                add_account(list, n, s, (size_t)(colon - s), colon + 1, (size_t)(e - colon - 1));
            if (rc != 0)
                return rc;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

int
gw_config_parse_accounts(gw_account **out, size_t *n, char *err, size_t errlen, const char *text)
{
    *out = NULL;
    *n = 0;
    if (!text)
        return 0;
    const char *s = text;
    while (is_space(*s) || *s == '\n')
        s++;
    int rc = *s == '[' || *s == '{' ? accounts_json(out, n, err, errlen, s)
                                    : accounts_csv(out, n, err, errlen, s);
    if (rc != 0) {
        gw_accounts_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
