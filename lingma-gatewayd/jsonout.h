/*
 * jsonout: JSON text written straight into a gw_buf, byte-equal to what
 * gw_buf_append_json makes of the same jansson tree (compact, UTF-8 passed
 * through, jansson's escapes, reals with 15 significant digits). The fast
 * paths of the hot formatters (log lines, chat completions and chunks)
 * use it instead of building a tree per call; each keeps its tree version
 * as the general path and a unit test holds the two equal.
 *
 * Every function appends or, on failure (LINGMA_ENOMEM), may leave a
 * partial value behind: callers truncate to their own mark.
 */
#ifndef GW_JSONOUT_H
#define GW_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A JSON string of `len` bytes of valid UTF-8, escaped as jansson does:
 * '"', '\\', \b \f \n \r \t, other bytes below 0x20 as \u00XX (uppercase
 * hex); everything else, '/' and DEL included, as is. */
int gw_jsonout_string(gw_buf *out, const char *s, size_t len);

/* The same for any bytes: invalid UTF-8 becomes U+FFFD first (gw_json_text). */
int gw_jsonout_text(gw_buf *out, const char *s, size_t len);

/* A finite real as jansson writes it with JSON_REAL_PRECISION(15). */
int gw_jsonout_real(gw_buf *out, double v);

/* A signed integer. */
int gw_jsonout_int(gw_buf *out, int64_t v);

/* `,"key":` (or `"key":` when `first`), the key escaped. */
int gw_jsonout_key(gw_buf *out, const char *key, bool first);

#endif
