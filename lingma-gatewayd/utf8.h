/*
 * UTF-8 helpers. The gateway relays text that jansson decoded (hence valid
 * UTF-8) but cuts it in places of its own choosing: stop sequences,
 * max_tokens, log messages, error messages. jansson refuses to encode a
 * string that was cut inside a character, so every cut goes through here.
 */
#ifndef GW_UTF8_H
#define GW_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Decode one well-formed character (no overlongs, no surrogates, at most
 * U+10FFFF) at `s`. Returns its length in bytes (1-4) and stores the code
 * point, or 0 when the bytes are invalid or incomplete. */
size_t gw_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* True when s[0..len) is entirely well-formed UTF-8. */
bool gw_utf8_valid(const char *s, size_t len);

/* The length of s[0..len) without a trailing incomplete (but so far valid)
 * sequence: what can be forwarded now while the rest waits for more bytes. */
size_t gw_utf8_complete_prefix(const char *s, size_t len);

/* The largest character boundary <= max in the valid UTF-8 text s[0..len). */
size_t gw_utf8_floor(const char *s, size_t len, size_t max);

/* Append s[0..len) to `out`, replacing every invalid byte by U+FFFD.
 * 0 or LINGMA_ENOMEM (out unchanged). */
int gw_utf8_sanitize(gw_buf *out, const char *s, size_t len);

/* Number of code points in valid UTF-8 text (invalid bytes count as one). */
size_t gw_utf8_count(const char *s, size_t len);

#endif
