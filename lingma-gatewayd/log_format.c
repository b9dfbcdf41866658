/* JSON-lines log formatting and redaction (pure); see log.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lingma/common.h"

#include "jsonout.h"
#include "log.h"
#include "utf8.h"

const char *
gw_log_level_name(lingma_log_level level)
{
    switch (level) {
    case LINGMA_LOG_ERROR:
        return "error";
    case LINGMA_LOG_WARN:
        return "warn";
    case LINGMA_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

char *
gw_log_time(char buf[32], const struct timespec *ts)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    gmtime_r(&t, &tm);
    long ms = ts->tv_nsec / 1000000;
    if (ms < 0 || ms > 999)
        ms = 0;
    size_t n = strftime(buf, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03ldZ", ms);
    return buf;
}

/* ---- redaction ----------------------------------------------------------- */

static bool
ci_at(const char *s, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    return i + n <= len && strncasecmp(s + i, word, n) == 0;
}

static bool
is_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

static bool
is_word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* The end of a value starting at i: up to the closing quote when quoted,
 * else up to a blank or a separator. */
static size_t
value_end(const char *s, size_t len, size_t i, char quote)
{
    while (i < len) {
        char c = s[i];
        if (quote ? c == quote
                  : (c == ' ' || c == '\t' || c == '\n' || c == ',' || c == ';' || c == '&' ||
                     c == '}' || c == ')' || c == '"' || c == '\''))
            break;
        if (quote && c == '\\' && i + 1 < len)
            i++;
        i++;
    }
    return i;
}

/* At a secret-bearing key? Returns the length of the text to copy verbatim
 * (key, separator, opening quote) and sets *vend to the end of the value to
 * mask; 0 when there is no such key here. */
static size_t
key_value_at(const char *s, size_t len, size_t i, size_t *vend)
{
    static const char *const keys[] = {"password", "passwd",  "pwd",    "secret",       "token",
                                       "api_key",  "api-key", "apikey", "authorization"};
    /* The key must end with the keyword ("db_password", "x-api-key",
     * "access_token") but "completion_tokens=12" or "mytoken" must stay
     * readable: a keyword glued to letters on either side is no key. */
    if (i > 0 && is_word_char(s[i - 1]) && s[i - 1] != '_' && s[i - 1] != '-')
        return 0;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        if (!ci_at(s, len, i, keys[k]))
            continue;
        size_t j = i + strlen(keys[k]);
        if (j < len && is_word_char(s[j]))
            continue;
        if (j < len && (s[j] == '"' || s[j] == '\''))
            j++;
        while (j < len && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j >= len || (s[j] != '=' && s[j] != ':'))
            continue;
        j++;
        while (j < len && (s[j] == ' ' || s[j] == '\t'))
            j++;
        char quote = 0;
        if (j < len && (s[j] == '"' || s[j] == '\'')) {
            quote = s[j];
            j++;
        }
        /* "Authorization: Bearer x": leave the scheme, mask the token. */
        if (ci_at(s, len, j, "bearer "))
            j += 7;
        else if (ci_at(s, len, j, "basic "))
            j += 6;
        *vend = value_end(s, len, j, quote);
        if (*vend == j)
            continue;
        return j - i;
    }
    return 0;
}

int
gw_log_redact(gw_buf *out, const char *s, size_t len, const char *const *secrets, size_t n_secrets)
{
    size_t mark = out->len;
    size_t i = 0;
    size_t copied = 0; /* s[copied..i) is pending verbatim output */
#define FLUSH(upto)                                                                                \
    do {                                                                                           \
        if (gw_buf_append(out, s + copied, (upto)-copied) != 0)                                    \
            goto oom;                                                                              \
    } while (0)
#define MASK(from, to)                                                                             \
    do {                                                                                           \
        FLUSH(from);                                                                               \
        if (gw_buf_append(out, "***", 3) != 0)                                                     \
            goto oom;                                                                              \
        i = copied = (to);                                                                         \
    } while (0)
    while (i < len) {
        bool done = false;
        for (size_t k = 0; k < n_secrets && !done; k++) {
            size_t n = secrets[k] ? strlen(secrets[k]) : 0;
            if (n >= 4 && i + n <= len && memcmp(s + i, secrets[k], n) == 0) {
                MASK(i, i + n);
                done = true;
            }
        }
        if (done)
            continue;
        if (ci_at(s, len, i, "bearer") && i + 6 < len && (s[i + 6] == ' ' || s[i + 6] == '\t') &&
            (i == 0 || !is_word_char(s[i - 1]))) {
            size_t j = i + 6;
            while (j < len && (s[j] == ' ' || s[j] == '\t'))
                j++;
            size_t e = j;
            while (e < len && is_token_char(s[e]))
                e++;
            if (e > j) {
                FLUSH(j);
                copied = j;
                MASK(j, e);
                continue;
            }
        }
        size_t vend = 0;
        size_t klen = key_value_at(s, len, i, &vend);
        if (klen) {
            FLUSH(i + klen);
            copied = i + klen;
            MASK(i + klen, vend);
            continue;
        }
        if (ci_at(s, len, i, "://")) {
            /* scheme://user:password@host */
            size_t j = i + 3;
            size_t colon = 0;
            while (j < len && s[j] != '@' && s[j] != '/' && s[j] != ' ' && s[j] != '\n') {
                if (s[j] == ':' && !colon)
                    colon = j;
                j++;
            }
            if (colon && j < len && s[j] == '@' && j > colon + 1) {
                FLUSH(colon + 1);
                copied = colon + 1;
                MASK(colon + 1, j);
                continue;
            }
        }
        if (s[i] == 's' && ci_at(s, len, i, "sk-") && (i == 0 || !is_word_char(s[i - 1]))) {
            size_t e = i + 3;
            while (e < len && is_word_char(s[e]))
                e++;
            if (e - i - 3 >= 16) {
                FLUSH(i + 3);
                copied = i + 3;
                MASK(i + 3, e);
                continue;
            }
        }
        i++;
    }
    FLUSH(len);
    if (gw_buf_reserve(out, 0) != 0)
        goto oom;
    out->data[out->len] = '\0';
    return 0;
oom:
    gw_buf_truncate(out, mark);
    return LINGMA_ENOMEM;
#undef FLUSH
#undef MASK
}

/* ---- formatting ---------------------------------------------------------- */

/* A JSON string from text: redacted when asked, invalid UTF-8 replaced. */
static json_t *
text(const char *s, bool redact, const char *const *secrets, size_t n_secrets)
{
    gw_buf r = GW_BUF_INIT;
    gw_buf u = GW_BUF_INIT;
    json_t *v = NULL;
    size_t len = strlen(s);
    if (redact) {
        if (gw_log_redact(&r, s, len, secrets, n_secrets) != 0)
            goto done;
        s = r.data;
        len = r.len;
    }
    if (gw_utf8_sanitize(&u, s, len) == 0)
        v = json_stringn(u.data ? u.data : "", u.len);
done:
    gw_buf_free(&r);
    gw_buf_free(&u);
    return v;
}

static bool
set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static const char *const standard_keys[] = {"time",  "level",  "msg",         "request_id",
                                            "route", "status", "duration_ms", "instance"};

/* Whether an extra field is written at all: a key that is not valid
 * UTF-8 or that names a standard field is dropped. */
static bool
extra_dropped(const gw_log_kv *kv)
{
    bool clash = !kv->key || !gw_utf8_valid(kv->key, strlen(kv->key));
    for (size_t k = 0; !clash && k < sizeof(standard_keys) / sizeof(*standard_keys); k++)
        clash = strcmp(kv->key, standard_keys[k]) == 0;
    return clash;
}

int
gw_log_format_tree(gw_buf *out, const struct timespec *now, lingma_log_level level, const char *msg,
                   const gw_log_fields *f, const char *const *secrets, size_t n_secrets)
{
    char ts[32];
    json_t *o = json_object();
    bool ok = o != NULL;
    ok = ok && set(o, "time", json_string(gw_log_time(ts, now)));
    ok = ok && set(o, "level", json_string(gw_log_level_name(level)));
    ok = ok && set(o, "msg", text(msg ? msg : "", true, secrets, n_secrets));
    if (ok && f) {
        if (f->request_id)
            ok = set(o, "request_id", text(f->request_id, false, NULL, 0));
        if (ok && f->route)
            ok = set(o, "route", text(f->route, false, NULL, 0));
        if (ok && f->status)
            ok = set(o, "status", json_integer(f->status));
        if (ok && f->duration_ms >= 0)
            ok = set(o, "duration_ms", json_real(f->duration_ms));
        if (ok && f->instance)
            ok = set(o, "instance", text(f->instance, false, NULL, 0));
        for (size_t i = 0; ok && i < f->n_extra; i++) {
            const gw_log_kv *kv = &f->extra[i];
            if (extra_dropped(kv))
                continue;
            json_t *v;
            switch (kv->kind) {
            case GW_LOG_STR:
                v = kv->s ? text(kv->s, true, secrets, n_secrets) : json_null();
                break;
            case GW_LOG_INT:
                v = json_integer(kv->i);
                break;
            case GW_LOG_DOUBLE:
                /* JSON has no NaN or infinity. */
                v = kv->d == kv->d && kv->d - kv->d == 0 ? json_real(kv->d) : json_null();
                break;
            default:
                v = json_boolean(kv->b);
                break;
            }
            ok = set(o, kv->key, v);
        }
    }
    size_t mark = out->len;
    int rc = ok ? gw_buf_append_json(out, o) : LINGMA_ENOMEM;
    if (rc == 0 && gw_buf_append(out, "\n", 1) != 0) {
        gw_buf_truncate(out, mark);
        rc = LINGMA_ENOMEM;
    }
    json_decref(o);
    return rc;
}

/* ---- the direct writer ----------------------------------------------------
 *
 * The same line as gw_log_format_tree, written straight into `out`: no
 * JSON tree, and one scratch buffer per line instead of two per text
 * field. It reproduces jansson's compact output (insertion order; the
 * values through jsonout.h), and
 * test-gw-log checks the two byte for byte. Lines it does not reproduce
 * (two extras with one key, where jansson keeps the first position and the
 * last value; a non-finite duration, which jansson refuses) go to the tree.
 */

/* A text field: redacted when asked, invalid UTF-8 replaced, escaped.
 * `scratch` is reused from field to field. */
static int
put_text(gw_buf *out, gw_buf *scratch, const char *s, bool redact, const char *const *secrets,
         size_t n_secrets)
{
    size_t len = strlen(s);
    gw_buf_reset(scratch);
    if (redact) {
        if (gw_log_redact(scratch, s, len, secrets, n_secrets) != 0)
            return LINGMA_ENOMEM;
        s = scratch->data ? scratch->data : "";
        len = scratch->len;
    }
    return gw_jsonout_text(out, s, len);
}

static bool
direct_ok(const gw_log_fields *f)
{
    if (!f)
        return true;
    if (f->duration_ms >= 0 && !isfinite(f->duration_ms))
        return false;
    for (size_t i = 0; i < f->n_extra; i++) {
        if (extra_dropped(&f->extra[i]))
            continue;
        for (size_t j = 0; j < i; j++)
            if (!extra_dropped(&f->extra[j]) && strcmp(f->extra[i].key, f->extra[j].key) == 0)
                return false;
    }
    return true;
}

int
gw_log_format_direct(gw_buf *out, const struct timespec *now, lingma_log_level level,
                     const char *msg, const gw_log_fields *f, const char *const *secrets,
                     size_t n_secrets)
{
    char ts[32], num[32];
    gw_buf scratch = GW_BUF_INIT;
    size_t mark = out->len;
    const char *lvl = gw_log_level_name(level);
    int rc = gw_buf_append(out, "{\"time\":", 8);
    gw_log_time(ts, now);
    rc = rc ? rc : gw_jsonout_string(out, ts, strlen(ts));
    rc = rc ? rc : gw_jsonout_key(out, "level", false);
    rc = rc ? rc : gw_jsonout_string(out, lvl, strlen(lvl));
    rc = rc ? rc : gw_jsonout_key(out, "msg", false);
    rc = rc ? rc : put_text(out, &scratch, msg ? msg : "", true, secrets, n_secrets);
    if (!rc && f) {
        if (!rc && f->request_id && !(rc = gw_jsonout_key(out, "request_id", false)))
            rc = put_text(out, &scratch, f->request_id, false, NULL, 0);
        if (!rc && f->route && !(rc = gw_jsonout_key(out, "route", false)))
            rc = put_text(out, &scratch, f->route, false, NULL, 0);
        if (!rc && f->status && !(rc = gw_jsonout_key(out, "status", false))) {
            snprintf(num, sizeof(num), "%d", f->status);
            rc = gw_buf_puts(out, num);
        }
        if (!rc && f->duration_ms >= 0 && !(rc = gw_jsonout_key(out, "duration_ms", false)))
            rc = gw_jsonout_real(out, f->duration_ms);
        if (!rc && f->instance && !(rc = gw_jsonout_key(out, "instance", false)))
            rc = put_text(out, &scratch, f->instance, false, NULL, 0);
        for (size_t i = 0; !rc && i < f->n_extra; i++) {
            const gw_log_kv *kv = &f->extra[i];
            if (extra_dropped(kv) || (rc = gw_jsonout_key(out, kv->key, false)))
                continue;
            switch (kv->kind) {
            case GW_LOG_STR:
                rc = kv->s ? put_text(out, &scratch, kv->s, true, secrets, n_secrets)
                           : gw_buf_puts(out, "null");
                break;
            case GW_LOG_INT:
                snprintf(num, sizeof(num), "%lld", (long long)kv->i);
                rc = gw_buf_puts(out, num);
                break;
            case GW_LOG_DOUBLE:
                rc = isfinite(kv->d) ? gw_jsonout_real(out, kv->d) : gw_buf_puts(out, "null");
                break;
            default:
                rc = gw_buf_puts(out, kv->b ? "true" : "false");
                break;
            }
        }
    }
    rc = rc ? rc : gw_buf_append(out, "}\n", 2);
    gw_buf_free(&scratch);
    if (rc) {
        gw_buf_truncate(out, mark);
        return LINGMA_ENOMEM;
    }
    return 0;
}

int
gw_log_format(gw_buf *out, const struct timespec *now, lingma_log_level level, const char *msg,
              const gw_log_fields *f, const char *const *secrets, size_t n_secrets)
{
    if (direct_ok(f))
        return gw_log_format_direct(out, now, level, msg, f, secrets, n_secrets);
    return gw_log_format_tree(out, now, level, msg, f, secrets, n_secrets);
}
