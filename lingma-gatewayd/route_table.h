/*
 * route_table: lingma-gatewayd's HTTP surface as data (pure). One table
 * names every route, its path, the methods it takes and its metrics label;
 * the dispatcher (routes.c) and the request-path fuzz target both match
 * through it, so a path means the same thing everywhere.
 */
#ifndef GW_ROUTE_TABLE_H
#define GW_ROUTE_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

typedef enum gw_route_id {
    GW_R_NONE = 0,
    GW_R_CHAT,
    GW_R_MESSAGES,     /* POST /v1/messages (Anthropic) */
    GW_R_COUNT_TOKENS, /* POST /v1/messages/count_tokens */
    GW_R_MODELS,
    GW_R_MODEL,
    GW_R_HEALTHZ,
    GW_R_LIVEZ,
    GW_R_METRICS,
    GW_R_STATS,
    GW_R_LOGIN_START,
    GW_R_LOGIN_STATUS,
    GW_R_RESPONSES,      /* POST /v1/responses */
    GW_R_RESPONSE,       /* GET, DELETE /v1/responses/{id} */
    GW_R_RESPONSE_ITEMS, /* GET /v1/responses/{id}/input_items */
    GW_R_COUNT
} gw_route_id;

typedef struct gw_route_match {
    gw_route_id route;
    const char *label; /* metrics label and log route: a template, static */
    const char *param; /* the {id} of /v1/models/{id}, inside the path; else NULL */
    bool api;          /* under /v1 (CORS applies) */
    gw_api errors;     /* whose error envelope the route's clients expect */
    size_t param_len;  /* of param: /v1/responses/{id}/input_items goes on after it */
} gw_route_match;

/* Map a decoded path to its route (GW_R_NONE: no such path). The /v1
 * routes also answer without the prefix, as the old gateway did. */
void gw_route_match_path(gw_route_match *out, const char *path);

/* Method verdicts. HEAD is accepted wherever GET is (the engine sends the
 * GET's headers without the body). */
typedef enum gw_method_verdict {
    GW_METHOD_OK,
    GW_METHOD_PREFLIGHT, /* OPTIONS: a CORS preflight, when CORS is on */
    GW_METHOD_NOT_ALLOWED,
} gw_method_verdict;

gw_method_verdict gw_route_method(gw_route_id r, const char *method, bool cors);

/* The Allow header value of a route ("GET, HEAD", "POST"), with OPTIONS
 * appended when CORS is on. Static string. */
const char *gw_route_allow(gw_route_id r, bool cors);

/* Whether the route needs the API key (/healthz and /livez do not; /metrics has its
 * own token rule, see auth.h). */
typedef enum gw_route_auth {
    GW_AUTH_NONE,
    GW_AUTH_API_KEY,
    GW_AUTH_METRICS,
} gw_route_auth;

gw_route_auth gw_route_auth_kind(gw_route_id r);

#endif /* GW_ROUTE_TABLE_H */
