/*
 * JSON-lines logs. One line per event:
 *
 *   {"time":"2026-11-26T07:38:00.123Z","level":"info","msg":"request",
 *    "request_id":"req_..","route":"/v1/chat/completions","status":200,
 *    "duration_ms":12.5,"instance":"inst-0", <extra fields>}
 *
 * Standard keys are present only when set. Free text (msg and string
 * extras) goes through gw_log_redact() first, so a Bearer token, a
 * password=... pair or a configured secret that slips into a message is
 * masked before it reaches the disk.
 *
 * The formatting functions are pure (time is an argument). gw_log is the
 * thin writer: each line goes out in one write(2) under a mutex, so lines
 * from several threads never interleave, and gw_log_reopen() (for SIGHUP,
 * called from the main loop, not the signal handler) swaps the file.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lingma/common.h"

#include "buf.h"

typedef enum gw_log_kind {
    GW_LOG_STR,
    GW_LOG_INT,
    GW_LOG_DOUBLE,
    GW_LOG_BOOL,
} gw_log_kind;

/* An extra field. Keys clashing with a standard key are dropped. */
typedef struct gw_log_kv {
    const char *key;
    gw_log_kind kind;
    const char *s;
    int64_t i;
    double d;
    bool b;
} gw_log_kv;

typedef struct gw_log_fields {
    const char *request_id; /* NULL = absent */
    const char *route;
    int status;         /* 0 = absent */
    double duration_ms; /* < 0 = absent */
    const char *instance;
    const gw_log_kv *extra;
    size_t n_extra;
} gw_log_fields;

#define GW_LOG_FIELDS_INIT                                                                         \
    {                                                                                              \
        NULL, NULL, 0, -1.0, NULL, NULL, 0                                                         \
    }

/* "error", "warn", "info", "debug". */
const char *gw_log_level_name(lingma_log_level level);

/* RFC 3339 UTC with milliseconds into buf: "2026-11-26T07:38:00.123Z".
 * Returns buf. */
char *gw_log_time(char buf[32], const struct timespec *ts);

/* Append text with secrets masked ("***"): every occurrence of one of the
 * `secrets` (those of 4 bytes or more), Bearer tokens, the value after
 * password/passwd/pwd/secret/token/api_key/apikey/api-key/authorization
 * followed by '=' or ':' (JSON-quoted or not), the password of
 * scheme://user:password@ URLs and sk-... keys. 0 or LINGMA_ENOMEM. */
int gw_log_redact(gw_buf *out, const char *text, size_t len, const char *const *secrets,
                  size_t n_secrets);

/* Append one log line, '\n' included. `fields` may be NULL. Invalid UTF-8
 * in any text is replaced by U+FFFD. 0 or LINGMA_ENOMEM (out unchanged). */
int gw_log_format(gw_buf *out, const struct timespec *now, lingma_log_level level, const char *msg,
                  const gw_log_fields *fields, const char *const *secrets, size_t n_secrets);
/* The two ways gw_log_format writes a line, exposed for the test that
 * holds them byte-equal: the direct writer (no JSON tree; used for every
 * line it can reproduce) and the general one through a jansson tree. */
int gw_log_format_direct(gw_buf *out, const struct timespec *now, lingma_log_level level,
                         const char *msg, const gw_log_fields *fields, const char *const *secrets,
                         size_t n_secrets);
int gw_log_format_tree(gw_buf *out, const struct timespec *now, lingma_log_level level,
                       const char *msg, const gw_log_fields *fields, const char *const *secrets,
                       size_t n_secrets);

typedef struct gw_log gw_log;

/* Open a writer on `path` (appending, created 0640) or on stderr when path
 * is NULL. `secrets` are copied; lines at a level above `min` are dropped.
 * 0, LINGMA_EIO (cannot open; errno kept) or LINGMA_ENOMEM. */
int gw_log_open(gw_log **out, const char *path, lingma_log_level min, const char *const *secrets,
                size_t n_secrets);

/* Reopen the file (after logrotate moved it). A no-op on stderr. On
 * failure the old file stays in use and LINGMA_EIO is returned. */
int gw_log_reopen(gw_log *log);

/* NULL-safe. Never closes stderr. */
void gw_log_close(gw_log *log);

/* Change / test the threshold. Thread-safe. */
void gw_log_set_level(gw_log *log, lingma_log_level min);
bool gw_log_enabled(const gw_log *log, lingma_log_level level);

/* Format (with the current time) and write one line. Thread-safe.
 * 0 (also when filtered out), LINGMA_ENOMEM or LINGMA_EIO. */
int gw_log_write(gw_log *log, lingma_log_level level, const char *msg, const gw_log_fields *fields);

/* Write an already formatted line (must end with '\n') in one write(2).
 * Thread-safe. 0 or LINGMA_EIO. */
int gw_log_write_line(gw_log *log, const char *line, size_t len);

/* A lingma_log_fn: pass the gw_log as payload to liblingma's options so the
 * library's diagnostics land in the same JSON-lines stream. */
void gw_log_lingma(lingma_log_level level, const char *msg, void *payload);

#endif
