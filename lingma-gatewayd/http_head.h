/*
 * http_head: the pure checks that decide whether a request head may reach
 * a route at all (sans-I/O: no sockets, no threads, no libmicrohttpd).
 *
 * libmicrohttpd 0.9.75 is lenient where a gateway must not be: it accepts
 * several Content-Length headers (and uses the first), Content-Length
 * together with Transfer-Encoding, any Transfer-Encoding (then waits for a
 * close), header names with whitespace before the colon, obs-fold lines,
 * and NUL bytes that silently truncate names, values and the target. Each
 * of those lets a front proxy and this server disagree on where a request
 * ends or what it says (request smuggling, credential confusion). The
 * engine therefore hands every request head to gw_head_check() before any
 * route sees it, and parses the request target itself with
 * gw_target_parse() so that a value is what its bytes say, never what
 * strlen() says.
 *
 * The engine fills gw_head from what libmicrohttpd parsed, plus
 * `hidden_bytes` from its own walk over libmicrohttpd's buffer (http.c):
 * that walk is the only place that knows the 0.9.75 memory layout. The
 * fuzz target fills it from raw bytes with gw_head_split() and runs the
 * same checks, so both paths share one decision.
 */
#ifndef GW_HTTP_HEAD_H
#define GW_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_head_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} gw_head_field;

typedef struct gw_head {
    const char *method;
    const char *version; /* "HTTP/1.1", "HTTP/1.0" (not NUL-terminated) */
    size_t version_len;
    const char *target; /* the request target as sent (percent-escapes kept) */
    size_t target_len;
    const gw_head_field *fields; /* in the order they were sent */
    size_t nfields;
    size_t block_size; /* request line through the blank line, in bytes */
    bool hidden_bytes; /* bytes the parser skipped: NUL, obs-fold, stray data */
} gw_head;

/* Why a head is refused. The engine answers 431 for TOO_LARGE and 400 for
 * the rest, always with "Connection: close": after a framing doubt nothing
 * more may be read from that connection. */
typedef enum gw_head_verdict {
    GW_HEAD_OK = 0,
    GW_HEAD_TOO_LARGE,   /* block_size over the limit */
    GW_HEAD_BAD_HEADER,  /* hidden bytes, control bytes, a name that is not a token */
    GW_HEAD_BAD_FRAMING, /* the body's length is ambiguous */
    GW_HEAD_BAD_TARGET,  /* NUL, a control byte or a broken escape in the target */
} gw_head_verdict;

/* Check a head. `block_limit` is the largest accepted block_size. The
 * first failing rule wins, in the order of the enum: size, header syntax,
 * framing, target. Header syntax includes Host (RFC 9112 §3.2: exactly one
 * in HTTP/1.1, at most one in 1.0). Framing rules (RFC 9112 §6): at most one
 * Content-Length, 1*DIGIT (a length over the body limit is the engine's
 * 413, not a framing error); Transfer-Encoding only as
 * exactly one "chunked" (case-insensitive) and never with Content-Length. */
gw_head_verdict gw_head_check(const gw_head *head, size_t block_limit);

/* The status, error code and client-facing message of a verdict (static
 * strings). The message never echoes request bytes. */
int gw_head_verdict_status(gw_head_verdict v);
const char *gw_head_verdict_code(gw_head_verdict v);
const char *gw_head_verdict_message(gw_head_verdict v);

/* Number of fields named `name` (ASCII case-insensitive). */
size_t gw_head_count(const gw_head *head, const char *name);

/*
 * Request targets. gw_target_parse() percent-decodes the path and the
 * query arguments (a '+' in the query is a space, as form encoding and
 * libmicrohttpd have it) into one block. It refuses rather than truncates:
 * "%00", a decoded control byte in the path, or a broken escape ("%", "%4",
 * "%zz") anywhere makes it fail.
 */
typedef struct gw_target_arg {
    const char *name;
    size_t name_len;
    const char *value; /* "" for "?flag" */
    size_t value_len;
} gw_target_arg;

typedef struct gw_target {
    char *mem; /* owns every string below */
    const char *path;
    size_t path_len;
    gw_target_arg *args;
    size_t nargs;
} gw_target;

/* 0, LINGMA_EINVAL (refused; *out zeroed) or LINGMA_ENOMEM. */
int gw_target_parse(gw_target *out, const char *target, size_t len);
void gw_target_free(gw_target *t);

/*
 * A strict, minimal splitter of raw head bytes, for the fuzz target and
 * the unit tests only (the daemon gets its fields from libmicrohttpd). It
 * mirrors what libmicrohttpd 0.9.75 hands the engine: lines end at CRLF or
 * a bare LF, the method and target are the first two space-separated words
 * of the first line, a field is split at its first colon with leading
 * whitespace of the value skipped, and anything the server would not see
 * (NUL bytes, continuation lines) sets hidden_bytes. `fields` must have
 * room for `max_fields`; `*consumed` receives the bytes up to and including
 * the blank line. Returns 0, 1 when no blank line was found yet, or
 * LINGMA_EINVAL for a head the server would close without parsing (no
 * request line, a field without a colon, more fields than max_fields).
 * Pointers point into `buf`, whose bytes are not modified.
 */
int gw_head_split(gw_head *out, gw_head_field *fields, size_t max_fields, const char *buf,
                  size_t len, size_t *consumed);

#endif /* GW_HTTP_HEAD_H */
