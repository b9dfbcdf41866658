/* Lingma's port file: parsing, pure (see infofile.h). */
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "detail.h"
#include "infofile.h"

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/*
 * A strict decimal: digits only, no sign. Beyond 18 digits the value is
 * clamped (it is out of every range we check anyway) instead of wrapping.
 */
static bool
parse_decimal(const char *s, size_t len, long long *out)
{
    if (len == 0)
        return false;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v < 100000000000000000LL)
            v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int
check_port(long long v, bool ok, const char *where, char *err, size_t errlen)
{
    if (!ok)
        return lingma__detail(LINGMA_EPROTO, err, errlen, "%s: port is not a decimal number",
                              where);
    if (v < 1 || v > 65535)
        return lingma__detail(LINGMA_EPROTO, err, errlen, "%s: port %lld out of range 1..65535",
                              where, v);
    return 0;
}

static int
check_pid(long long v, bool ok, const char *where, char *err, size_t errlen)
{
    if (!ok)
        return lingma__detail(LINGMA_EPROTO, err, errlen, "%s: pid is not a decimal number", where);
    if (v < 1 || v > INT_MAX)
        return lingma__detail(LINGMA_EPROTO, err, errlen, "%s: pid %lld out of range 1..%d", where,
                              v, INT_MAX);
    return 0;
}

/* Copies an IPC path; control characters mean this is not a path we wrote. */
static int
set_ipc_path(struct lingma__info *out, const char *s, size_t len, const char *where, char *err,
             size_t errlen)
{
    if (len >= sizeof(out->ipc_path))
        return lingma__detail(LINGMA_EPROTO, err, errlen, "%s: IPC path longer than %zu bytes",
                              where, sizeof(out->ipc_path) - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return lingma__detail(LINGMA_EPROTO, err, errlen,
                                  "%s: IPC path has a control character", where);
    }
    memcpy(out->ipc_path, s, len);
    out->ipc_path[len] = '\0';
    return 0;
}

static void
info_reset(struct lingma__info *out)
{
    memset(out, 0, sizeof(*out));
}

int
lingma__info_parse_text(struct lingma__info *out, const char *buf, size_t len, char *err,
                        size_t errlen)
{
    if (!out || (!buf && len))
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid argument");
    info_reset(out);
    if (memchr(buf, '\0', len))
        return lingma__detail(LINGMA_EPROTO, err, errlen, "NUL byte in the port file");

    /* Spans of the non-blank lines, with their physical line numbers. */
    const char *line[3];
    size_t line_len[3];
    unsigned line_no[3];
    unsigned count = 0, physical = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t b = pos, e = end;
        physical++;
        while (b < e && is_space(buf[b]))
            b++;
        while (e > b && is_space(buf[e - 1]))
            e--;
        if (e > b) {
            if (count == 3)
                return lingma__detail(LINGMA_EPROTO, err, errlen,
                                      "line %u: more than 3 non-blank lines", physical);
            line[count] = buf + b;
            line_len[count] = e - b;
            line_no[count] = physical;
            count++;
        }
        pos = end + 1;
    }
    if (count == 0)
        return lingma__detail(LINGMA_ENOTFOUND, err, errlen, "the port file is empty");
    if (count == 1)
        return lingma__detail(LINGMA_EPROTO, err, errlen,
                              "only one line: want the port and the pid");

    char where[32];
    long long v = 0;
    snprintf(where, sizeof(where), "line %u", line_no[0]);
    bool ok = parse_decimal(line[0], line_len[0], &v);
    int rc = check_port(v, ok, where, err, errlen);
    if (rc)
        return rc;
    out->port = (int)v;

    snprintf(where, sizeof(where), "line %u", line_no[1]);
    v = 0;
    ok = parse_decimal(line[1], line_len[1], &v);
    rc = check_pid(v, ok, where, err, errlen);
    if (rc)
        return rc;
    out->pid = (int)v;

    out->format = LINGMA__INFO_TEXT2;
    if (count == 3) {
        snprintf(where, sizeof(where), "line %u", line_no[2]);
        rc = set_ipc_path(out, line[2], line_len[2], where, err, errlen);
        if (rc)
            return rc;
        out->format = LINGMA__INFO_TEXT3;
    }
    return 0;
}

static int
json_int_field(json_t *root, const char *key, long long *v, bool *ok)
{
    json_t *j = json_object_get(root, key);
    if (!j)
        return -1;
    *ok = json_is_integer(j);
    *v = *ok ? (long long)json_integer_value(j) : 0;
    return 0;
}

int
lingma__info_parse_json(struct lingma__info *out, const char *buf, size_t len, char *err,
                        size_t errlen)
{
    if (!out || (!buf && len))
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid argument");
    info_reset(out);
    size_t b = 0;
    while (b < len && is_space(buf[b]))
        b++;
    if (b == len)
        return lingma__detail(LINGMA_ENOTFOUND, err, errlen, "the port file is empty");
    if (memchr(buf, '\0', len))
        return lingma__detail(LINGMA_EPROTO, err, errlen, "NUL byte in the port file");

    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lingma__detail(LINGMA_EPROTO, err, errlen, "invalid JSON at byte %d: %s",
                              jerr.position, jerr.text);
    int rc = 0;
    long long v = 0;
    bool ok = false;
    if (!json_is_object(root)) {
        rc = lingma__detail(LINGMA_EPROTO, err, errlen, "JSON port file is not an object");
        goto out;
    }
    if (json_int_field(root, "websocketPort", &v, &ok) != 0) {
        rc = lingma__detail(LINGMA_EPROTO, err, errlen, "JSON port file has no websocketPort");
        goto out;
    }
    if ((rc = check_port(v, ok, "websocketPort", err, errlen)) != 0)
        goto out;
    out->port = (int)v;
    if (json_int_field(root, "pid", &v, &ok) != 0) {
        rc = lingma__detail(LINGMA_EPROTO, err, errlen, "JSON port file has no pid");
        goto out;
    }
    if ((rc = check_pid(v, ok, "pid", err, errlen)) != 0)
        goto out;
    out->pid = (int)v;

    json_t *ipc = json_object_get(root, "ipcServerPath");
    if (ipc && !json_is_null(ipc)) {
        if (!json_is_string(ipc)) {
            rc = lingma__detail(LINGMA_EPROTO, err, errlen, "ipcServerPath is not a string");
            goto out;
        }
        rc = set_ipc_path(out, json_string_value(ipc), json_string_length(ipc), "ipcServerPath",
                          err, errlen);
        if (rc)
            goto out;
    }
    out->format = LINGMA__INFO_JSON;
out:
    json_decref(root);
    if (rc)
        info_reset(out);
    return rc;
}

int
lingma__info_parse(struct lingma__info *out, const char *buf, size_t len, char *err, size_t errlen)
{
    size_t b = 0;
    while (buf && b < len && is_space(buf[b]))
        b++;
    if (buf && b < len && buf[b] == '{')
        return lingma__info_parse_json(out, buf, len, err, errlen);
    int rc = lingma__info_parse_text(out, buf, len, err, errlen);
    if (rc != 0 && out)
        info_reset(out);
    return rc;
}
