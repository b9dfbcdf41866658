/*
 * The gateway's one error vocabulary: every failure that reaches a client
 * becomes a gw_error, and every gw_error becomes the OpenAI envelope
 * {"error":{"message","type","param","code"}}. The mapping from liblingma
 * codes lives in gw_error_from_lingma() and nowhere else (DESIGN.md,
 * "Error codes and their HTTP mapping").
 *
 * Messages are written for the client: they never carry paths, pids,
 * tokens or upstream text. Internal detail belongs in the log.
 */
#ifndef GW_ERRORS_H
#define GW_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define GW_ERROR_PARAM_MAX   128
#define GW_ERROR_MESSAGE_MAX 512

/* OpenAI error types (the `type` member). */
#define GW_TYPE_INVALID_REQUEST "invalid_request_error"
#define GW_TYPE_RATE_LIMIT      "rate_limit_error"
#define GW_TYPE_SERVER          "server_error"

typedef struct gw_error {
    int status;                         /* HTTP status */
    const char *type;                   /* static string, never NULL once set */
    const char *code;                   /* static string or NULL (JSON null) */
    char param[GW_ERROR_PARAM_MAX];     /* "" means JSON null */
    char message[GW_ERROR_MESSAGE_MAX]; /* always valid UTF-8, never empty once set */
    int64_t retry_after_ms;             /* > 0 only for 429: send Retry-After */
} gw_error;

/* Fill `e`. `param` may be NULL. The formatted message is cut at a UTF-8
 * character boundary if it does not fit. */
void gw_error_set(gw_error *e, int status, const char *type, const char *code, const char *param,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Map a liblingma error code to the client error (DESIGN.md table).
 * `upstream_status` is the chat/finish statusCode for LINGMA_EUPSTREAM (else
 * ignored); `retry_after_ms` is the admission hint for LINGMA_EBUSY and an
 * upstream 429 (<= 0: one second). LINGMA_ECANCELED maps to 499, a status
 * that is only ever logged: the client is gone. */
void gw_error_from_lingma(gw_error *e, int lingma_code, int upstream_status,
                          int64_t retry_after_ms);

/* The status the access log and the metrics record for an answer of
 * `status` that the engine's gw_http_respond() returned `respond_rc` for:
 * `status` when it went out; 499 when the client had left (nothing was
 * sent), 503 when the engine had stopped, 500 when a bare 500 replaced it
 * (out of memory), through gw_error_from_lingma. LINGMA_EINVAL (answered
 * twice, which the engine logs) keeps `status`. */
int gw_error_answer_status(int status, int respond_rc);

/* The gateway's own HTTP-level errors. */
void gw_error_invalid_api_key(gw_error *e);
void gw_error_not_found(gw_error *e, const char *method, const char *path);
void gw_error_method_not_allowed(gw_error *e, const char *method, const char *path);
void gw_error_request_too_large(gw_error *e, uint64_t limit_bytes);
void gw_error_model_not_found(gw_error *e, const char *model);
void gw_error_internal(gw_error *e);

/* Append the OpenAI envelope for `e` as compact JSON (no newline).
 * 0 or LINGMA_ENOMEM (out unchanged). */
int gw_error_json(gw_buf *out, const gw_error *e);

/* The error families of the wire APIs: OpenAI's envelope (Chat Completions,
 * Responses, the operations routes) and Anthropic's (Messages). */
typedef enum gw_api {
    GW_API_OPENAI = 0,
    GW_API_ANTHROPIC,
} gw_api;

/* Anthropic's error type for an HTTP status (invalid_request_error,
 * authentication_error, permission_error, not_found_error,
 * request_too_large, rate_limit_error, overloaded_error, api_error). */
const char *gw_error_anthropic_type(int status);

/* The status an API answers `e` with: Anthropic says 529 overloaded_error
 * where the gateway has no instance to serve (every 503), which Claude Code
 * and the SDK retry; otherwise e->status. */
int gw_error_status_for(gw_api api, const gw_error *e);

/* Append the envelope of `api` for `e`: OpenAI's (gw_error_json) or
 * Anthropic's {"type":"error","error":{"type","message"}}. 0 or
 * LINGMA_ENOMEM. */
int gw_error_json_for(gw_buf *out, gw_api api, const gw_error *e);

/* Retry-After header values for a hint in milliseconds: whole seconds
 * rounded up (at least 1), and the milliseconds themselves (at least 1).
 * `buf` receives the decimal text; returns it. */
char *gw_error_retry_after_s(char buf[24], int64_t retry_after_ms);
char *gw_error_retry_after_ms(char buf[24], int64_t retry_after_ms);

#endif
