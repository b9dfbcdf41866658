/*
 * API-key authentication. Keys come from API_KEYS (a comma list); the
 * presented key from `Authorization: Bearer <key>` or `x-api-key: <key>`.
 *
 * The comparison takes the same time whatever the presented key is: it
 * runs over every configured key and over a fixed number of bytes, with no
 * early exit on a length difference or on the first mismatch, so response
 * timing reveals neither a key's prefix nor its length.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Longest key accepted in API_KEYS / METRICS_TOKEN. */
#define GW_AUTH_KEY_MAX 256

typedef struct gw_auth gw_auth;

/* Build from the API_KEYS comma list (entries trimmed; empty entries
 * skipped; NULL or "" = no keys) and METRICS_TOKEN (NULL or "" = none).
 * 0, LINGMA_EINVAL (a key longer than GW_AUTH_KEY_MAX or containing
 * whitespace/control bytes; `err` names it by position) or LINGMA_ENOMEM. */
int gw_auth_new(gw_auth **out, char *err, size_t errlen, const char *api_keys,
                const char *metrics_token);
void gw_auth_free(gw_auth *auth);

/* Number of API keys (0: the API is open). */
size_t gw_auth_key_count(const gw_auth *auth);

/* The key a request presents: the token of an `Authorization` header whose
 * scheme is "Bearer" (any case), else the `x-api-key` header. Either
 * argument may be NULL. Returns a pointer into one of them and its length
 * (trailing blanks excluded), or NULL when none was presented. */
const char *gw_auth_extract(const char *authorization, const char *x_api_key, size_t *len);

/* Is an API request allowed? Always true when no keys are configured. */
bool gw_auth_check(const gw_auth *auth, const char *authorization, const char *x_api_key);

/* Is a /metrics scrape allowed? Open when neither METRICS_TOKEN nor
 * API_KEYS is set; otherwise the metrics token or any API key is accepted. */
bool gw_auth_check_metrics(const gw_auth *auth, const char *authorization);

/* Constant-time equality of two byte strings of at most GW_AUTH_KEY_MAX
 * bytes (longer ones never compare equal): fixed work, no early exit. */
bool gw_auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
