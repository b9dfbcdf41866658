/*
 * Accounts and instance count (see accounts.h).
 *
 * Every error message is built from positions and fixed text only. Nothing
 * from the input is ever formatted into it, so no password (nor half of one,
 * when a separator is misplaced) can reach a log.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "alloc.h"
#include "detail.h"

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool
is_blank(const char *s)
{
    if (!s)
        return true;
    while (*s && is_space(*s))
        s++;
    return *s == '\0';
}

static const char *
check_username(const char *u, size_t len)
{
    if (len == 0)
        return "empty username";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c < 0x20 || c == 0x7f || c == ' ')
            return "the username contains whitespace or a control character";
    }
    return NULL;
}

static void
wipe_free(const lingma_allocator *a, char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    lingma__free(a, s);
}

void
lingma__accounts_free(struct lingma__accounts *acc)
{
    if (!acc)
        return;
    for (size_t i = 0; acc->v && i < acc->n; i++) {
        wipe_free(acc->alloc, acc->v[i].username);
        wipe_free(acc->alloc, acc->v[i].password);
    }
    lingma__free(acc->alloc, acc->v);
    acc->v = NULL;
    acc->n = 0;
}

/* Appends a copy of one account; on ENOMEM the caller frees `acc`. */
static int
add_account(struct lingma__accounts *acc, const char *u, size_t ulen, const char *p, size_t plen)
{
    struct lingma__account *slot = &acc->v[acc->n];
    slot->username = lingma__strndup(acc->alloc, u, ulen);
    slot->password = lingma__strndup(acc->alloc, p, plen);
    acc->n++; /* counted even when half-filled, so that free() finds it */
    if (!slot->username || !slot->password)
        return LINGMA_ENOMEM;
    return 0;
}

static size_t
find_duplicate(const struct lingma__accounts *acc, const char *u, size_t ulen)
{
    for (size_t i = 0; i < acc->n; i++)
        if (strlen(acc->v[i].username) == ulen && memcmp(acc->v[i].username, u, ulen) == 0)
            return i + 1;
    return 0;
}

static int
alloc_slots(struct lingma__accounts *acc, size_t n)
{
    acc->v = lingma__calloc(acc->alloc, n, sizeof(*acc->v));
    return acc->v ? 0 : LINGMA_ENOMEM;
}

static int
parse_csv(struct lingma__accounts *acc, const char *s, char *err, size_t errlen)
{
    size_t len = strlen(s), entries = 1;
    for (size_t i = 0; i < len; i++)
        entries += s[i] == ',';
    if (entries > LINGMA__MAX_INSTANCES)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "accounts: more than %d entries",
                              LINGMA__MAX_INSTANCES);
    if (alloc_slots(acc, entries))
        return LINGMA_ENOMEM;

    size_t pos = 0;
    for (size_t idx = 1;; idx++) {
        const char *comma = memchr(s + pos, ',', len - pos);
        size_t end = comma ? (size_t)(comma - s) : len;
        size_t b = pos, e = end;
        while (b < e && is_space(s[b]))
            b++;
        while (e > b && is_space(s[e - 1]))
            e--;
        if (b == e)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "accounts entry %zu (byte %zu) is empty%s", idx, b + 1,
                                  !comma && idx > 1 ? " (a trailing comma?)" : "");
        const char *colon = memchr(s + b, ':', e - b);
        if (!colon)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "accounts entry %zu (byte %zu): missing ':' between username "
                                  "and password",
                                  idx, b + 1);
        size_t ulen = (size_t)(colon - (s + b));
        const char *why = check_username(s + b, ulen);
        if (why)
            return lingma__detail(LINGMA_EINVAL, err, errlen, "accounts entry %zu (byte %zu): %s",
                                  idx, b + 1, why);
        size_t p = (size_t)(colon - s) + 1;
        if (p == e)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "accounts entry %zu (byte %zu): empty password", idx, b + 1);
        size_t dup = find_duplicate(acc, s + b, ulen);
        if (dup)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "accounts entry %zu (byte %zu): same username as entry %zu", idx,
                                  b + 1, dup);
        if (add_account(acc, s + b, ulen, s + p, e - p))
            return LINGMA_ENOMEM;
        if (!comma)
            return 0;
        pos = end + 1;
    }
}

static int
json_entry(struct lingma__accounts *acc, json_t *obj, size_t idx, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return lingma__detail(LINGMA_EINVAL, err, errlen, "accounts entry %zu: not an object", idx);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        if (strcmp(key, "username") != 0 && strcmp(key, "password") != 0)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "accounts entry %zu: unexpected key (only \"username\" and "
                                  "\"password\" are allowed)",
                                  idx);
    }
    json_t *u = json_object_get(obj, "username");
    json_t *p = json_object_get(obj, "password");
    if (!u || !p)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "accounts entry %zu: missing \"%s\"", idx,
                              u ? "password" : "username");
    if (!json_is_string(u) || !json_is_string(p))
        return lingma__detail(LINGMA_EINVAL, err, errlen,
                              "accounts entry %zu: \"%s\" is not a string", idx,
                              json_is_string(u) ? "password" : "username");
    const char *why = check_username(json_string_value(u), json_string_length(u));
    if (why)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "accounts entry %zu: %s", idx, why);
    if (json_string_length(p) == 0)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "accounts entry %zu: empty password",
                              idx);
    size_t dup = find_duplicate(acc, json_string_value(u), json_string_length(u));
    if (dup)
        return lingma__detail(LINGMA_EINVAL, err, errlen,
                              "accounts entry %zu: same username as entry %zu", idx, dup);
    return add_account(acc, json_string_value(u), json_string_length(u), json_string_value(p),
                       json_string_length(p));
}

/* Wipes every password string of the parsed tree before jansson frees it. */
static void
wipe_json(json_t *root)
{
    size_t i;
    json_t *obj;
    json_array_foreach(root, i, obj)
    {
        json_t *p = json_object_get(obj, "password");
        if (json_is_string(p))
            explicit_bzero((char *)json_string_value(p), json_string_length(p));
    }
}

static int
parse_json(struct lingma__accounts *acc, const char *s, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /*
         * Only the position: jansson's text quotes the input near the error
         * ("... near 'tok'") or hex of a byte, and the input holds passwords.
         */
        return lingma__detail(LINGMA_EINVAL, err, errlen,
                              "accounts: invalid JSON at byte %d (line %d, column %d)",
                              jerr.position, jerr.line, jerr.column);
    }
    int rc = 0;
    size_t n = json_array_size(root);
    if (!json_is_array(root))
        rc = lingma__detail(LINGMA_EINVAL, err, errlen, "accounts: JSON form must be an array");
    else if (n == 0)
        rc = lingma__detail(LINGMA_EINVAL, err, errlen, "accounts: the JSON array is empty");
    else if (n > LINGMA__MAX_INSTANCES)
        rc = lingma__detail(LINGMA_EINVAL, err, errlen, "accounts: more than %d entries",
                            LINGMA__MAX_INSTANCES);
    else if ((rc = alloc_slots(acc, n)) == 0)
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = json_entry(acc, json_array_get(root, i), i + 1, err, errlen);
    if (json_is_array(root))
        wipe_json(root);
    json_decref(root);
    return rc;
}

int
lingma__accounts_parse(struct lingma__accounts *out, const char *accounts, const char *username,
                       const char *password, const lingma_allocator *alloc, char *err,
                       size_t errlen)
{
    if (!out)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid argument");
    *out = (struct lingma__accounts){NULL, 0, alloc};
    int rc;
    if (!is_blank(accounts)) {
        const char *s = accounts;
        while (is_space(*s))
            s++;
        rc = *s == '[' || *s == '{' ? parse_json(out, accounts, err, errlen)
                                    : parse_csv(out, accounts, err, errlen);
    } else {
        bool has_u = username && *username, has_p = password && *password;
        if (!has_u && !has_p)
            return 0;
        if (!has_p)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "LINGMA_USERNAME is set but LINGMA_PASSWORD is not");
        if (!has_u)
            return lingma__detail(LINGMA_EINVAL, err, errlen,
                                  "LINGMA_PASSWORD is set but LINGMA_USERNAME is not");
        const char *why = check_username(username, strlen(username));
        if (why)
            return lingma__detail(LINGMA_EINVAL, err, errlen, "LINGMA_USERNAME: %s", why);
        rc = alloc_slots(out, 1);
        if (rc == 0)
            rc = add_account(out, username, strlen(username), password, strlen(password));
    }
    if (rc == LINGMA_ENOMEM)
        lingma__detail(rc, err, errlen, "out of memory");
    if (rc)
        lingma__accounts_free(out);
    return rc;
}

int
lingma__instance_count(size_t *out, size_t n_accounts, size_t explicit_count, char *err,
                       size_t errlen)
{
    if (!out)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid argument");
    if (explicit_count == 0) {
        *out = n_accounts ? n_accounts : 1;
        return 0;
    }
    if (explicit_count > LINGMA__MAX_INSTANCES)
        return lingma__detail(LINGMA_EINVAL, err, errlen,
                              "instance count %zu is above the limit of %d", explicit_count,
                              LINGMA__MAX_INSTANCES);
    if (explicit_count < n_accounts)
        return lingma__detail(LINGMA_EINVAL, err, errlen,
                              "instance count %zu is fewer than the %zu accounts", explicit_count,
                              n_accounts);
    *out = explicit_count;
    return 0;
}

/* ---- public wrappers (pool.h) ---- */

/* The public list is a view of the internal one: the accounts array points
 * at the internal strings, so there is one copy of each password to wipe. */
struct account_list {
    lingma_account_list pub; /* first: the public pointer is this struct's */
    struct lingma__accounts acc;
    lingma_account *view;
};

LINGMA_EXPORT int
lingma_accounts_parse(lingma_account_list **out, char *errbuf, size_t errlen, const char *accounts,
                      const char *username, const char *password)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!out)
        return lingma__detail(LINGMA_EINVAL, errbuf, errlen, "invalid argument");
    *out = NULL;
    struct account_list *l = calloc(1, sizeof(*l));
    if (!l)
        return lingma__detail(LINGMA_ENOMEM, errbuf, errlen, "out of memory");
    int rc = lingma__accounts_parse(&l->acc, accounts, username, password, NULL, errbuf, errlen);
    if (rc == 0 && l->acc.n) {
        l->view = calloc(l->acc.n, sizeof(*l->view));
        if (!l->view)
            rc = lingma__detail(LINGMA_ENOMEM, errbuf, errlen, "out of memory");
        for (size_t i = 0; l->view && i < l->acc.n; i++) {
            l->view[i].username = l->acc.v[i].username;
            l->view[i].password = l->acc.v[i].password;
        }
    }
    if (rc != 0) {
        lingma_account_list_free(&l->pub);
        return rc;
    }
    l->pub.count = l->acc.n;
    l->pub.accounts = l->view;
    *out = &l->pub;
    return 0;
}

LINGMA_EXPORT void
lingma_account_list_free(lingma_account_list *list)
{
    if (!list)
        return;
    struct account_list *l = (struct account_list *)list;
    lingma__accounts_free(&l->acc);
    free(l->view);
    free(l);
}

LINGMA_EXPORT int
lingma_accounts_instance_count(size_t *out, char *errbuf, size_t errlen, size_t account_count,
                               size_t explicit_count)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (out && explicit_count == 0 && account_count > LINGMA__MAX_INSTANCES)
        return lingma__detail(LINGMA_EINVAL, errbuf, errlen,
                              "%zu accounts is above the limit of %d", account_count,
                              LINGMA__MAX_INSTANCES);
    return lingma__instance_count(out, account_count, explicit_count, errbuf, errlen);
}
