/*
 * The fast decoder of chat/answer and chat/finish (see push_fast.h).
 *
 * One recursive-descent pass over the body. Values it does not need are
 * still checked as strictly as jansson checks them (grammar, string
 * escapes, UTF-8, control characters), because a body jansson rejects must
 * not be answered here: the full path counts it as malformed and sends no
 * ACK. Where matching jansson exactly would take more code than it saves
 * (number overflow, exponents, \u0000, surrogates in keys...), it gives up
 * and the full parser decides.
 */
#include <string.h>

#include "push_fast.h"

#define MAX_DEPTH  32 /* jansson allows 2048: deeper bodies go the full way */
#define MAX_NUMBER 18 /* characters: shorter numbers cannot overflow */
#define NONE       ((size_t)-1)

struct cur {
    const char *p, *end;
    struct lingma__buf *b;
    const lingma_allocator *a;
};

/* A string kept in the scratch buffer; off NONE: absent or not a string. */
struct field {
    size_t off, len;
};

/* What the top level and params said; the last of duplicate keys wins. */
struct msg {
    int version_ok;
    int id_ok;
    int64_t id;
    int method_ok; /* the last "method" is a string: `kind` says which */
    enum lingma__push kind;
    int params_ok;
    struct field request_id, session_id, text, content, reason, full_answer;
    int status_kind; /* 0: absent or ignored (200), 1: integer, 2: a string (full parser) */
    int64_t status;
    int extra_usage; /* the last "extra" has a key the usage reader looks at */
    /* A response: no "method" key at all, a "result" (its bytes: the last
     * one's), and no "error" other than null. */
    int any_method;
    const char *result, *result_end;
    int error_kind; /* 0: absent, 1: null, 2: anything else */
};

typedef int (*member_fn)(struct cur *c, const char *key, size_t klen, int depth, void *ud);

static int value(struct cur *c, int depth);

static void
ws(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int
is_digit(const struct cur *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static int
keep(struct cur *c, const char *s, size_t n)
{
    return lingma__buf_append(c->a, c->b, s, n) == 0 ? 0 : -1;
}

/* Drop what was kept after `mark`. */
static void
unkeep(struct cur *c, size_t mark)
{
    if (c->b->p) {
        c->b->len = mark;
        c->b->p[mark] = '\0';
    }
}

/* The length of the valid UTF-8 sequence at p (first byte >= 0x80), 0 when
 * it is not one: jansson's rules (no overlongs, surrogates, > U+10FFFF). */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned v, c = p[0];
    size_t n;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return n;
}

static int
hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A \uXXXX escape (and its low surrogate) at c->p, just past the 'u'. */
static int
escape_u(struct cur *c, int kept)
{
    unsigned v, lo;
    char u[4];
    size_t n;

    if (c->end - c->p < 4 || hex4(c->p, &v) != 0)
        return -1;
    c->p += 4;
    if (v == 0 || (v >= 0xDC00 && v <= 0xDFFF))
        return -1; /* \u0000 (jansson takes it: the full parser) or a lone low half */
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, &lo) != 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        c->p += 6;
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (!kept)
        return 0;
    if (v < 0x80) {
        u[0] = (char)v;
        n = 1;
    } else if (v < 0x800) {
        u[0] = (char)(0xC0 | (v >> 6));
        u[1] = (char)(0x80 | (v & 0x3F));
        n = 2;
    } else if (v < 0x10000) {
        u[0] = (char)(0xE0 | (v >> 12));
        u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[2] = (char)(0x80 | (v & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (v >> 18));
        u[1] = (char)(0x80 | ((v >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((v >> 6) & 0x3F));
        u[3] = (char)(0x80 | (v & 0x3F));
        n = 4;
    }
    return keep(c, u, n);
}

/* A string at c->p (on its opening quote). With `kept`, its unescaped bytes
 * are appended to the scratch buffer. */
static int
string(struct cur *c, int kept)
{
    c->p++;
    for (;;) {
        const char *run = c->p;
        while (c->p < c->end) {
            unsigned char ch = (unsigned char)*c->p;
            if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80)
                break;
            c->p++;
        }
        if (kept && c->p > run && keep(c, run, (size_t)(c->p - run)) != 0)
            return -1;
        if (c->p >= c->end)
            return -1;
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch >= 0x80) {
            size_t n = utf8_len((const unsigned char *)c->p, (const unsigned char *)c->end);
            if (n == 0 || (kept && keep(c, c->p, n) != 0))
                return -1;
            c->p += n;
            continue;
        }
        if (c->end - c->p < 2)
            return -1;
        char e = c->p[1];
        const char *lit;
        c->p += 2;
        switch (e) {
        case '"':
            lit = "\"";
            break;
        case '\\':
            lit = "\\";
            break;
        case '/':
            lit = "/";
            break;
        case 'b':
            lit = "\b";
            break;
        case 'f':
            lit = "\f";
            break;
        case 'n':
            lit = "\n";
            break;
        case 'r':
            lit = "\r";
            break;
        case 't':
            lit = "\t";
            break;
        case 'u':
            if (escape_u(c, kept) != 0)
                return -1;
            continue;
        default:
            return -1;
        }
        if (kept && keep(c, lit, 1) != 0)
            return -1;
    }
}

/* A string value kept into `f`; any other value leaves `f` absent. */
static int
string_field(struct cur *c, int depth, struct field *f)
{
    f->off = NONE;
    f->len = 0;
    if (c->p >= c->end || *c->p != '"')
        return value(c, depth);
    size_t at = c->b->len;
    if (string(c, 1) != 0)
        return -1;
    f->off = at;
    f->len = c->b->len - at;
    /* Its own terminator: the next kept string goes after it. */
    return keep(c, "", 1);
}

/* A number (JSON grammar, no exponent, at most MAX_NUMBER characters).
 * *is_int tells an integer from a real; *iv gets an integer's value. */
static int
number(struct cur *c, int *is_int, int64_t *iv)
{
    const char *s = c->p;
    int neg = 0;

    if (c->p < c->end && *c->p == '-') {
        neg = 1;
        c->p++;
    }
    if (c->p >= c->end)
        return -1;
    if (*c->p == '0') {
        c->p++;
        if (is_digit(c))
            return -1;
    } else if (is_digit(c)) {
        while (is_digit(c))
            c->p++;
    } else {
        return -1;
    }
    *is_int = 1;
    if (c->p < c->end && *c->p == '.') {
        *is_int = 0;
        c->p++;
        if (!is_digit(c))
            return -1;
        while (is_digit(c))
            c->p++;
    }
    if ((c->p < c->end && (*c->p == 'e' || *c->p == 'E')) || c->p - s > MAX_NUMBER)
        return -1;
    if (*is_int) {
        int64_t v = 0;
        for (const char *d = s + neg; d < c->p; d++)
            v = v * 10 + (*d - '0');
        *iv = neg ? -v : v;
    }
    return 0;
}

static int
literal(struct cur *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* Past the opening bracket of a container: 1 when it closes at once with
 * `close`, 0 when an item follows, -1 when too deep. */
static int
open_container(struct cur *c, int depth, char close)
{
    if (depth > MAX_DEPTH)
        return -1;
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    return 0;
}

/* After an item: 1 when the container closes with `close`, 0 when a comma
 * announces the next item, -1 otherwise. */
static int
next_item(struct cur *c, char close)
{
    ws(c);
    if (c->p >= c->end)
        return -1;
    if (*c->p == close) {
        c->p++;
        return 1;
    }
    if (*c->p != ',')
        return -1;
    c->p++;
    ws(c);
    return 0;
}

/* An object at c->p: every member's key goes to `fn`, which must consume
 * the value (NULL: skip it). */
static int
object(struct cur *c, int depth, member_fn fn, void *ud)
{
    int rc = open_container(c, depth, '}');
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (;;) {
        if (c->p >= c->end || *c->p != '"')
            return -1;
        size_t mark = c->b->len;
        if (string(c, fn != NULL) != 0)
            return -1;
        const char *key = c->b->p ? c->b->p + mark : "";
        size_t klen = c->b->len - mark;
        ws(c);
        if (c->p >= c->end || *c->p != ':')
            return -1;
        c->p++;
        ws(c);
        /* The key is compared before the value is parsed: its bytes can go
         * (the buffer may move under a kept value). */
        if (fn) {
            char k[16];
            size_t kn = klen < sizeof(k) ? klen : sizeof(k) - 1;
            memcpy(k, key, kn);
            k[kn] = '\0';
            unkeep(c, mark);
            /* A longer key is none of ours: compare by length too. */
            rc = klen < sizeof(k) ? fn(c, k, klen, depth, ud) : value(c, depth);
        } else {
            rc = value(c, depth);
        }
        if (rc != 0 || (rc = next_item(c, '}')) < 0)
            return -1;
        if (rc > 0)
            return 0;
    }
}

static int
array(struct cur *c, int depth)
{
    int rc = open_container(c, depth, ']');
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (;;) {
        if (value(c, depth) != 0 || (rc = next_item(c, ']')) < 0)
            return -1;
        if (rc > 0)
            return 0;
    }
}

/* Any value, checked and skipped. `depth` is that of its container. */
static int
value(struct cur *c, int depth)
{
    int is_int;
    int64_t iv;

    if (c->p >= c->end)
        return -1;
    switch (*c->p) {
    case '"':
        return string(c, 0);
    case '{':
        return object(c, depth + 1, NULL, NULL);
    case '[':
        return array(c, depth + 1);
    case 't':
        return literal(c, "true", 4);
    case 'f':
        return literal(c, "false", 5);
    case 'n':
        return literal(c, "null", 4);
    default:
        return number(c, &is_int, &iv);
    }
}

static int
key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

/* "extra": the keys lingma__method_usage() reads. */
static int
extra_member(struct cur *c, const char *key, size_t klen, int depth, void *ud)
{
    static const char *const usage_keys[] = {
        "usage",        "tokenUsage",        "prompt_tokens",
        "promptTokens", "completion_tokens", "completionTokens",
        "total_tokens", "totalTokens",
    };
    struct msg *m = ud;
    for (size_t i = 0; i < sizeof(usage_keys) / sizeof(usage_keys[0]); i++)
        if (key_is(key, klen, usage_keys[i]))
            m->extra_usage = 1;
    return value(c, depth);
}

static int
params_member(struct cur *c, const char *key, size_t klen, int depth, void *ud)
{
    struct msg *m = ud;
    int is_int;

    if (key_is(key, klen, "requestId"))
        return string_field(c, depth, &m->request_id);
    if (key_is(key, klen, "sessionId"))
        return string_field(c, depth, &m->session_id);
    if (key_is(key, klen, "text"))
        return string_field(c, depth, &m->text);
    if (key_is(key, klen, "content"))
        return string_field(c, depth, &m->content);
    if (key_is(key, klen, "reason"))
        return string_field(c, depth, &m->reason);
    if (key_is(key, klen, "fullAnswer"))
        return string_field(c, depth, &m->full_answer);
    if (key_is(key, klen, "statusCode")) {
        m->status_kind = 0;
        if (c->p < c->end && *c->p == '"') {
            m->status_kind = 2;
            return string(c, 0);
        }
        if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
            if (number(c, &is_int, &m->status) != 0)
                return -1;
            m->status_kind = is_int ? 1 : 0;
            return 0;
        }
        return value(c, depth);
    }
    if (key_is(key, klen, "extra")) {
        m->extra_usage = 0;
        if (c->p < c->end && *c->p == '{')
            return object(c, depth + 1, extra_member, m);
        return value(c, depth);
    }
    return value(c, depth);
}

static const struct field absent = {NONE, 0};

static int
top_member(struct cur *c, const char *key, size_t klen, int depth, void *ud)
{
    struct msg *m = ud;
    size_t mark = c->b->len;
    int is_int;

    if (key_is(key, klen, "jsonrpc") || key_is(key, klen, "method")) {
        int is_version = klen == 7;
        if (is_version) {
            m->version_ok = 0;
        } else {
            m->method_ok = 0;
            m->any_method = 1;
        }
        if (c->p >= c->end || *c->p != '"')
            return value(c, depth);
        if (string(c, 1) != 0)
            return -1;
        const char *s = c->b->p ? c->b->p + mark : "";
        size_t n = c->b->len - mark;
        if (is_version) {
            m->version_ok = n == 3 && memcmp(s, "2.0", 3) == 0;
        } else {
            /* Kept strings end in a NUL, and hold none (\u0000 gives up). */
            m->method_ok = 1;
            m->kind = lingma__push_kind(s);
        }
        unkeep(c, mark);
        return 0;
    }
    if (key_is(key, klen, "id")) {
        m->id_ok = 0;
        if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))) {
            if (number(c, &is_int, &m->id) != 0)
                return -1;
            m->id_ok = is_int;
            return 0;
        }
        return value(c, depth);
    }
    if (key_is(key, klen, "params")) {
        /* The last params object is the one: forget an earlier one's fields. */
        m->params_ok = 0;
        m->request_id = m->session_id = m->text = m->content = m->reason = m->full_answer = absent;
        m->status_kind = 0;
        m->extra_usage = 0;
        if (c->p >= c->end || *c->p != '{')
            return value(c, depth);
        m->params_ok = 1;
        return object(c, depth + 1, params_member, m);
    }
    if (key_is(key, klen, "result")) {
        m->result = c->p;
        if (value(c, depth) != 0)
            return -1;
        m->result_end = c->p;
        return 0;
    }
    if (key_is(key, klen, "error")) {
        m->error_kind = c->p < c->end && *c->p == 'n' ? 1 : 2;
        return value(c, depth);
    }
    return value(c, depth);
}

static const char *
at(const struct lingma__buf *b, const struct field *f)
{
    return f->off == NONE ? NULL : b->p + f->off;
}

int
lingma__push_fast_decode(struct lingma__push_fast *out, struct lingma__buf *scratch,
                         const lingma_allocator *alloc, const char *body, size_t len)
{
    struct cur c = {body, body + len, scratch, alloc};
    struct msg m;

    memset(&m, 0, sizeof(m));
    m.request_id = m.session_id = m.text = m.content = m.reason = m.full_answer = absent;
    scratch->len = 0;
    if (scratch->p)
        scratch->p[0] = '\0';
    if (!body)
        return 0;
    ws(&c);
    if (c.p >= c.end || *c.p != '{' || object(&c, 1, top_member, &m) != 0)
        return 0;
    ws(&c);
    if (c.p != c.end)
        return 0;
    if (m.version_ok && m.id_ok && !m.any_method && m.result && m.error_kind < 2) {
        /* A result for call `id`: what rpc.c's dispatch hands to the call's
         * callback, the "result" value's bytes (the full path ignores an
         * "error": null next to a result). */
        memset(out, 0, sizeof(*out));
        out->id = m.id;
        out->result = m.result;
        out->result_len = (size_t)(m.result_end - m.result);
        return 2;
    }
    if (!m.version_ok || !m.id_ok || !m.method_ok)
        return 0;
    switch (m.kind) {
    case LINGMA__PUSH_ANSWER:
        if (!m.params_ok || m.request_id.off == NONE)
            return 0;
        break;
    case LINGMA__PUSH_FINISH:
        if (!m.params_ok || m.request_id.off == NONE || m.status_kind == 2 || m.extra_usage)
            return 0;
        break;
    case LINGMA__PUSH_THINK:
    case LINGMA__PUSH_STEP:
        if (!m.params_ok)
            return 0;
        break;
    case LINGMA__PUSH_OTHER:
        break;
    default:
        return 0; /* auth/report, tool/invoke, a notification's name */
    }

    memset(out, 0, sizeof(*out));
    out->kind = m.kind;
    out->id = m.id;
    if (m.kind == LINGMA__PUSH_OTHER)
        return 1;
    if (m.kind == LINGMA__PUSH_THINK || m.kind == LINGMA__PUSH_STEP) {
        out->step.request_id = at(scratch, &m.request_id);
        out->step.session_id = at(scratch, &m.session_id);
    } else if (m.kind == LINGMA__PUSH_ANSWER) {
        struct lingma__answer *a = &out->answer;
        const struct field *t = m.text.off != NONE ? &m.text : &m.content;
        a->request_id = at(scratch, &m.request_id);
        a->session_id = at(scratch, &m.session_id);
        a->text = t->off != NONE ? at(scratch, t) : "";
        a->len = t->off != NONE ? t->len : 0;
    } else {
        struct lingma__finish *f = &out->finish;
        f->request_id = at(scratch, &m.request_id);
        f->session_id = at(scratch, &m.session_id);
        f->status_code = m.status_kind == 1 ? (int)m.status : 200;
        f->reason = m.reason.off != NONE ? at(scratch, &m.reason) : "";
        f->full_answer = m.full_answer.off != NONE ? at(scratch, &m.full_answer) : "";
        f->full_answer_len = m.full_answer.off != NONE ? m.full_answer.len : 0;
    }
    return 1;
}
