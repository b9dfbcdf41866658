/*
 * Server-sent events framing (pure). One call appends one whole event to
 * the caller's buffer or nothing at all, so a reader draining the buffer
 * can never see half an event:
 *
 *   data: <compact json>\n\n     a chunk or an error object
 *   event: <name>\n               a named event (Responses, Messages)
 *   data: <compact json>\n\n
 *   data: [DONE]\n\n             the end of a chat stream
 *   : ping\n\n                   a comment heartbeat (ignored by SDKs)
 *
 * The JSON must be one line: the SSE decoder in the SDKs joins multi-line
 * data with "\n" and would then parse something else than what we sent.
 */
#ifndef GW_SSE_H
#define GW_SSE_H

#include <stddef.h>

#include "buf.h"
#include "errors.h"

/* Append `data: <json>\n\n`. LINGMA_EINVAL when json is empty or contains a
 * CR or LF (never produced by compact jansson output), LINGMA_ENOMEM. */
int gw_sse_data(gw_buf *out, const char *json, size_t len);

/* Append `event: <name>\ndata: <json>\n\n`. `name` must be a non-empty
 * single line. The same errors as gw_sse_data. */
int gw_sse_event(gw_buf *out, const char *name, const char *json, size_t len);

/* Append `data: [DONE]\n\n`. */
int gw_sse_done(gw_buf *out);

/* Append the heartbeat comment `: ping\n\n`. */
int gw_sse_ping(gw_buf *out);

/* Append `data: {"error":{...}}\n\n` for `e`: how a failure is reported once
 * a 200 stream has started. The caller then appends nothing but, optionally,
 * gw_sse_done(), and ends the response. */
int gw_sse_error(gw_buf *out, const gw_error *e);

#endif
