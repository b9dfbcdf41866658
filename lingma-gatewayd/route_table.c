/*
 * route_table: the HTTP surface as data (see route_table.h).
 */
#include <string.h>

#include "route_table.h"

struct route_def {
    const char *path; /* exact path; NULL for the {id} route */
    const char *label;
    bool get; /* GET (and HEAD) or POST */
    bool api; /* under /v1 */
    gw_route_auth auth;
};

static const struct route_def table[GW_R_COUNT] = {
    [GW_R_NONE] = {NULL, "other", false, false, GW_AUTH_API_KEY},
    [GW_R_CHAT] = {"/chat/completions", "/v1/chat/completions", false, true, GW_AUTH_API_KEY},
    [GW_R_MODELS] = {"/models", "/v1/models", true, true, GW_AUTH_API_KEY},
    [GW_R_MODEL] = {NULL, "/v1/models/{id}", true, true, GW_AUTH_API_KEY},
    [GW_R_HEALTHZ] = {"/healthz", "/healthz", true, false, GW_AUTH_NONE},
    [GW_R_METRICS] = {"/metrics", "/metrics", true, false, GW_AUTH_METRICS},
    [GW_R_STATS] = {"/internal/stats", "/internal/stats", true, false, GW_AUTH_API_KEY},
    [GW_R_LOGIN_START] = {"/internal/auto-login/start", "/internal/auto-login/start", false, false,
                          GW_AUTH_API_KEY},
    [GW_R_LOGIN_STATUS] = {"/internal/auto-login/status", "/internal/auto-login/status", true,
                           false, GW_AUTH_API_KEY},
};

static void
set(gw_route_match *out, gw_route_id r)
{
    out->route = r;
    out->label = table[r].label;
    out->api = table[r].api;
}

void
gw_route_match_path(gw_route_match *out, const char *path)
{
    out->param = NULL;
    set(out, GW_R_NONE);
    const char *p = path;
    if (strncmp(p, "/v1/", 4) == 0)
        p += 3; /* the un-prefixed aliases are the same routes */
    for (int r = 1; r < GW_R_COUNT; r++) {
        if (table[r].api && table[r].path && strcmp(p, table[r].path) == 0) {
            set(out, (gw_route_id)r);
            return;
        }
    }
    if (strncmp(p, "/models/", 8) == 0 && p[8] && !strchr(p + 8, '/')) {
        set(out, GW_R_MODEL);
        out->param = p + 8;
        return;
    }
    if (p != path)
        return;
    for (int r = 1; r < GW_R_COUNT; r++) {
        if (!table[r].api && table[r].path && strcmp(path, table[r].path) == 0) {
            set(out, (gw_route_id)r);
            return;
        }
    }
}

gw_method_verdict
gw_route_method(gw_route_id r, const char *method, bool cors)
{
    if (r <= GW_R_NONE || r >= GW_R_COUNT)
        return GW_METHOD_NOT_ALLOWED;
    if (table[r].get && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return GW_METHOD_OK;
    if (!table[r].get && strcmp(method, "POST") == 0)
        return GW_METHOD_OK;
    if (cors && table[r].api && strcmp(method, "OPTIONS") == 0)
        return GW_METHOD_PREFLIGHT;
    return GW_METHOD_NOT_ALLOWED;
}

const char *
gw_route_allow(gw_route_id r, bool cors)
{
    bool get = r > GW_R_NONE && r < GW_R_COUNT && table[r].get;
    bool api = r > GW_R_NONE && r < GW_R_COUNT && table[r].api;
    if (cors && api)
        return get ? "GET, HEAD, OPTIONS" : "POST, OPTIONS";
    return get ? "GET, HEAD" : "POST";
}

gw_route_auth
gw_route_auth_kind(gw_route_id r)
{
    if (r <= GW_R_NONE || r >= GW_R_COUNT)
        return GW_AUTH_API_KEY;
    return table[r].auth;
}
