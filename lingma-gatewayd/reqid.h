/*
 * Request ids (x-request-id). A client's id is echoed when it is sane, so
 * that callers can correlate their own logs with ours; otherwise the
 * gateway makes one up from random bytes the caller supplies.
 */
#ifndef GW_REQID_H
#define GW_REQID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest accepted client id, and the buffer size for any id we return. */
#define GW_REQID_MAX_LEN 128
#define GW_REQID_SIZE    (GW_REQID_MAX_LEN + 1)

/* Random bytes in a generated id: "req_" + 32 hex digits. */
#define GW_REQID_RANDOM_BYTES 16

/* True for 1..128 characters of [A-Za-z0-9._:-]: safe in a header, a log
 * line and a file name, and never mistaken for JSON or shell syntax. */
bool gw_reqid_valid(const char *id);

/* Write "req_<hex of random>" (at most 62 random bytes are used). */
void gw_reqid_generate(char out[GW_REQID_SIZE], const uint8_t *random, size_t n);

/* The id for a request: `client` copied into `out` when valid, else a
 * generated one. Returns `out`. */
const char *gw_reqid_choose(char out[GW_REQID_SIZE], const char *client,
                            const uint8_t random[GW_REQID_RANDOM_BYTES]);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void gw_hex(char *out, const uint8_t *bytes, size_t n);

/* Fill buf with n bytes from getrandom(2) (retrying on EINTR and short
 * reads). 0, or LINGMA_EIO when the kernel refuses. The one impure helper of
 * this file: ids themselves are computed from the bytes it returns. */
int gw_random_bytes(void *buf, size_t n);

/* Fill buf with n bytes for ids that must be distinct, not secret (the
 * answer ids "chatcmpl-...", "msg_...", "resp_..."): a per-thread
 * splitmix64 generator, seeded once per thread from gw_random_bytes (from
 * the clock and the thread when the kernel refuses), so that the request
 * path makes no getrandom(2) call per request. */
void gw_id_bytes(void *buf, size_t n);

#endif
