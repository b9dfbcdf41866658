/*
 * cors: which browser origins may call the /v1 API (pure).
 *
 * Off unless GATEWAY_CORS_ORIGINS is set, to a comma list of origins
 * ("https://app.example", "http://localhost:5173") or "*". With it on, a
 * preflight (OPTIONS with Origin and Access-Control-Request-Method) from an
 * allowed origin gets 204 and the Access-Control-Allow-* headers without
 * an API key (a preflight never carries credentials), and actual /v1
 * answers to an allowed origin carry Access-Control-Allow-Origin; the key
 * is still required on the actual request. Credentials mode (cookies) is
 * never offered: keys travel in headers.
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_cors gw_cors;

/* Parse `origins` (NULL or "" = CORS off). Returns 0, LINGMA_EINVAL with a
 * message in err (an entry that is not "*" nor scheme://host[:port]), or
 * LINGMA_ENOMEM. *out is NULL when CORS is off. */
int gw_cors_new(gw_cors **out, const char *origins, char *err, size_t errlen);
void gw_cors_free(gw_cors *c);

/* The Access-Control-Allow-Origin value for a request's Origin header:
 * "*" with the wildcard, the configured spelling of a listed origin, or
 * NULL (not allowed, no Origin, or CORS off). */
const char *gw_cors_allow_origin(const gw_cors *c, const char *origin);

/* The Access-Control-Allow-Headers of a preflight: the requested list when
 * it is a plain comma list of header names of reasonable length (browsers
 * send exactly what the page will send, x-stainless-* and all), else the
 * headers this API uses. Writes into buf, returns it. */
const char *gw_cors_allow_headers(char *buf, size_t len, const char *requested);

/* Headers a browser script may read from an answer. */
#define GW_CORS_EXPOSE  "x-request-id, request-id, retry-after, retry-after-ms"
#define GW_CORS_MAX_AGE "600"

#endif /* GW_CORS_H */
