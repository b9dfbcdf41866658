/*
 * http_head: pure checks of a request head and parsing of its target (see
 * http_head.h for why they exist).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lingma/common.h"

#include "http_head.h"

/* RFC 9110 §5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 §5.5: field values are VCHAR, obs-text, SP and HTAB. */
static bool
is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static bool
name_is(const gw_head_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

size_t
gw_head_count(const gw_head *head, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < head->nfields; i++)
        if (name_is(&head->fields[i], name))
            n++;
    return n;
}

static bool
fields_well_formed(const gw_head *head)
{
    for (size_t i = 0; i < head->nfields; i++) {
        const gw_head_field *f = &head->fields[i];
        if (f->name_len == 0)
            return false;
        for (size_t k = 0; k < f->name_len; k++)
            if (!is_tchar((unsigned char)f->name[k]))
                return false;
        for (size_t k = 0; k < f->value_len; k++)
            if (!is_field_byte((unsigned char)f->value[k]))
                return false;
    }
    return true;
}

/* RFC 9112 §3.2: a 1.1 request has exactly one Host, any request at most
 * one (two would let a proxy and this server disagree on the authority). */
static bool
host_ok(const gw_head *head)
{
    size_t n = gw_head_count(head, "host");
    if (head->version && head->version_len == 8 && memcmp(head->version, "HTTP/1.1", 8) == 0)
        return n == 1;
    return n <= 1;
}

/* 1*DIGIT (RFC 9110 §8.6). How large is the body limit's business: a
 * well-formed length over it is a 413, not a framing doubt. */
static bool
content_length_ok(const char *v, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

static bool
framing_ok(const gw_head *head)
{
    const gw_head_field *cl = NULL, *te = NULL;
    size_t ncl = 0, nte = 0;
    for (size_t i = 0; i < head->nfields; i++) {
        const gw_head_field *f = &head->fields[i];
        if (name_is(f, "content-length")) {
            cl = f;
            ncl++;
        } else if (name_is(f, "transfer-encoding")) {
            te = f;
            nte++;
        }
    }
    if (ncl > 1 || nte > 1 || (ncl && nte))
        return false;
    if (cl && !content_length_ok(cl->value, cl->value_len))
        return false;
    if (te && !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
        return false;
    return true;
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode [s, s+n) into out (which has room for n bytes); '+' is a space
 * when `plus`. Returns the decoded length, or -1 for a broken escape or a
 * decoded control byte (NUL included). */
static long
decode(char *out, const char *s, size_t n, bool plus)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hex_value((unsigned char)s[i + 1]);
            int lo = hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7F)
            return -1;
        if (out)
            out[w] = (char)c;
        w++;
    }
    return (long)w;
}

/* The raw target: visible ASCII only (RFC 9112 §3.2), and every escape
 * well-formed and decoding to no control byte. */
static bool
target_ok(const char *t, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7F)
            return false;
    }
    return decode(NULL, t, n, false) >= 0;
}

gw_head_verdict
gw_head_check(const gw_head *head, size_t block_limit)
{
    if (head->block_size > block_limit)
        return GW_HEAD_TOO_LARGE;
    if (head->hidden_bytes || !fields_well_formed(head) || !host_ok(head))
        return GW_HEAD_BAD_HEADER;
    if (!framing_ok(head))
        return GW_HEAD_BAD_FRAMING;
    if (!head->target || !target_ok(head->target, head->target_len))
        return GW_HEAD_BAD_TARGET;
    return GW_HEAD_OK;
}

int
gw_head_verdict_status(gw_head_verdict v)
{
    switch (v) {
    case GW_HEAD_OK:
        return 200;
    case GW_HEAD_TOO_LARGE:
        return 431;
    default:
        return 400;
    }
}

const char *
gw_head_verdict_code(gw_head_verdict v)
{
    switch (v) {
    case GW_HEAD_TOO_LARGE:
        return "headers_too_large";
    case GW_HEAD_BAD_HEADER:
        return "bad_header";
    case GW_HEAD_BAD_FRAMING:
        return "bad_framing";
    case GW_HEAD_BAD_TARGET:
        return "bad_request_target";
    default:
        return NULL;
    }
}

const char *
gw_head_verdict_message(gw_head_verdict v)
{
    switch (v) {
    case GW_HEAD_TOO_LARGE:
        return "Request header fields too large.";
    case GW_HEAD_BAD_HEADER:
        return "Malformed request header: a control or NUL byte, a folded line, or a field "
               "name that is not a token.";
    case GW_HEAD_BAD_FRAMING:
        return "Ambiguous request framing: send one Content-Length, or Transfer-Encoding: "
               "chunked alone.";
    case GW_HEAD_BAD_TARGET:
        return "Malformed request target: a NUL or control byte, or a broken percent-escape.";
    default:
        return "OK";
    }
}

/* Targets ------------------------------------------------------------------ */

void
gw_target_free(gw_target *t)
{
    if (!t)
        return;
    free(t->mem);
    memset(t, 0, sizeof(*t));
}

int
gw_target_parse(gw_target *out, const char *target, size_t len)
{
    memset(out, 0, sizeof(*out));
    if (!target)
        return LINGMA_EINVAL;
    const char *q = memchr(target, '?', len);
    size_t path_raw = q ? (size_t)(q - target) : len;
    size_t nargs_max = 1;
    for (size_t i = path_raw; i < len; i++)
        nargs_max += target[i] == '&';
    if (nargs_max > SIZE_MAX / (sizeof(gw_target_arg) + 8) || len > SIZE_MAX / 4)
        return LINGMA_ENOMEM;
    /* Decoded strings are never longer than their source; each gets a
     * terminating NUL (the path one, every argument two). */
    size_t strings = len + 1 + 2 * nargs_max;
    size_t args_off = (strings + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    char *mem = malloc(args_off + nargs_max * sizeof(gw_target_arg));
    if (!mem)
        return LINGMA_ENOMEM;
    gw_target_arg *args = (gw_target_arg *)(void *)(mem + args_off);
    char *w = mem;

    long n = decode(w, target, path_raw, false);
    if (n < 0)
        goto invalid;
    out->path = w;
    out->path_len = (size_t)n;
    w += n;
    *w++ = '\0';

    size_t nargs = 0;
    size_t i = q ? path_raw + 1 : len;
    while (i < len) {
        const char *seg = target + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t seg_len = amp ? (size_t)(amp - seg) : len - i;
        i += seg_len + 1;
        if (seg_len == 0)
            continue;
        const char *eq = memchr(seg, '=', seg_len);
        size_t name_raw = eq ? (size_t)(eq - seg) : seg_len;
        long nn = decode(w, seg, name_raw, true);
        if (nn < 0)
            goto invalid;
        args[nargs].name = w;
        args[nargs].name_len = (size_t)nn;
        w += nn;
        *w++ = '\0';
        long vn = eq ? decode(w, eq + 1, seg_len - name_raw - 1, true) : 0;
        if (vn < 0)
            goto invalid;
        args[nargs].value = w;
        args[nargs].value_len = (size_t)vn;
        w += vn;
        *w++ = '\0';
        nargs++;
    }
    out->mem = mem;
    out->args = args;
    out->nargs = nargs;
    return LINGMA_OK;

invalid:
    free(mem);
    memset(out, 0, sizeof(*out));
    return LINGMA_EINVAL;
}

/* The splitter (fuzz target and tests) ------------------------------------ */

/* Next line of [p, end): its length without the terminator, and the
 * terminator's length (2 for CRLF, 1 for a bare LF); false if no line end. */
static bool
next_line(const char *p, const char *end, size_t *line_len, size_t *term_len)
{
    for (const char *c = p; c < end; c++) {
        if (*c == '\r' && c + 1 < end && c[1] == '\n') {
            *line_len = (size_t)(c - p);
            *term_len = 2;
            return true;
        }
        if (*c == '\n') {
            *line_len = (size_t)(c - p);
            *term_len = 1;
            return true;
        }
    }
    return false;
}

int
gw_head_split(gw_head *out, gw_head_field *fields, size_t max_fields, const char *buf, size_t len,
              size_t *consumed)
{
    memset(out, 0, sizeof(*out));
    out->fields = fields;
    *consumed = 0;
    const char *p = buf, *end = buf + len;
    size_t ll, tl;

    /* Empty lines before the request line are tolerated, as MHD does. */
    for (;;) {
        if (!next_line(p, end, &ll, &tl))
            return 1;
        if (ll > 0)
            break;
        p += tl;
    }
    const char *start = p;
    const char *line = p, *line_end = p + ll;
    const char *sp = memchr(line, ' ', ll);
    if (!sp || sp == line)
        return LINGMA_EINVAL;
    out->method = line;
    const char *t = sp;
    while (t < line_end && *t == ' ')
        t++;
    /* The version is the last word; everything between is the target. */
    const char *v = line_end;
    while (v > t && v[-1] == ' ')
        v--;
    const char *vs = v;
    while (vs > t && vs[-1] != ' ')
        vs--;
    const char *target_end = vs > t ? vs - 1 : v;
    if (vs > t) {
        out->version = vs;
        out->version_len = (size_t)(v - vs);
    }
    /* A NUL in the target is the target check's to refuse (the engine
     * sees the target's real bytes); one in the method or version would
     * cut what MHD hands over. */
    if (memchr(line, '\0', (size_t)(sp - line)) ||
        (out->version && memchr(out->version, '\0', out->version_len)))
        out->hidden_bytes = true;
    if (target_end <= t)
        return LINGMA_EINVAL;
    out->target = t;
    out->target_len = (size_t)(target_end - t);
    p += ll + tl;

    for (;;) {
        if (!next_line(p, end, &ll, &tl))
            return 1;
        const char *l = p;
        p += ll + tl;
        if (ll == 0)
            break;
        if (memchr(l, '\0', ll))
            out->hidden_bytes = true;
        if (*l == ' ' || *l == '\t') {
            out->hidden_bytes = true; /* obs-fold: MHD would glue it on */
            continue;
        }
        const char *colon = memchr(l, ':', ll);
        if (!colon)
            return LINGMA_EINVAL;
        if (out->nfields == max_fields)
            return LINGMA_EINVAL;
        gw_head_field *f = &fields[out->nfields++];
        f->name = l;
        f->name_len = (size_t)(colon - l);
        const char *val = colon + 1, *lend = l + ll;
        while (val < lend && (*val == ' ' || *val == '\t'))
            val++;
        f->value = val;
        f->value_len = (size_t)(lend - val);
    }
    out->block_size = (size_t)(p - start);
    *consumed = (size_t)(p - buf);
    return 0;
}
