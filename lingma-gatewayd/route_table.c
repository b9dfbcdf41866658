/*
 * route_table: the HTTP surface as data (see route_table.h).
 */
#include <string.h>

#include "route_table.h"

/* Methods a route takes; GET implies HEAD. */
#define M_GET    1u
#define M_POST   2u
#define M_DELETE 4u

struct route_def {
    const char *path; /* exact path (without /v1 for API routes); NULL: matched by code */
    const char *label;
    unsigned methods;
    bool api; /* under /v1 */
    gw_route_auth auth;
    gw_api errors;
};

static const struct route_def table[GW_R_COUNT] = {
    [GW_R_NONE] = {NULL, "other", 0, false, GW_AUTH_API_KEY, GW_API_OPENAI},
    [GW_R_CHAT] = {"/chat/completions", "/v1/chat/completions", M_POST, true, GW_AUTH_API_KEY,
                   GW_API_OPENAI},
    [GW_R_MESSAGES] = {"/messages", "/v1/messages", M_POST, true, GW_AUTH_API_KEY,
                       GW_API_ANTHROPIC},
    [GW_R_COUNT_TOKENS] = {"/messages/count_tokens", "/v1/messages/count_tokens", M_POST, true,
                           GW_AUTH_API_KEY, GW_API_ANTHROPIC},
    [GW_R_MODELS] = {"/models", "/v1/models", M_GET, true, GW_AUTH_API_KEY, GW_API_OPENAI},
    [GW_R_MODEL] = {NULL, "/v1/models/{id}", M_GET, true, GW_AUTH_API_KEY, GW_API_OPENAI},
    [GW_R_HEALTHZ] = {"/healthz", "/healthz", M_GET, false, GW_AUTH_NONE, GW_API_OPENAI},
    [GW_R_LIVEZ] = {"/livez", "/livez", M_GET, false, GW_AUTH_NONE, GW_API_OPENAI},
    [GW_R_METRICS] = {"/metrics", "/metrics", M_GET, false, GW_AUTH_METRICS, GW_API_OPENAI},
    [GW_R_STATS] = {"/internal/stats", "/internal/stats", M_GET, false, GW_AUTH_API_KEY,
                    GW_API_OPENAI},
    [GW_R_LOGIN_START] = {"/internal/auto-login/start", "/internal/auto-login/start", M_POST, false,
                          GW_AUTH_API_KEY, GW_API_OPENAI},
    [GW_R_LOGIN_STATUS] = {"/internal/auto-login/status", "/internal/auto-login/status", M_GET,
                           false, GW_AUTH_API_KEY, GW_API_OPENAI},
    [GW_R_RESPONSES] = {"/responses", "/v1/responses", M_POST, true, GW_AUTH_API_KEY,
                        GW_API_OPENAI},
    [GW_R_RESPONSE] = {NULL, "/v1/responses/{id}", M_GET | M_DELETE, true, GW_AUTH_API_KEY,
                       GW_API_OPENAI},
    [GW_R_RESPONSE_ITEMS] = {NULL, "/v1/responses/{id}/input_items", M_GET, true, GW_AUTH_API_KEY,
                             GW_API_OPENAI},
};

static void
set(gw_route_match *out, gw_route_id r)
{
    out->route = r;
    out->label = table[r].label;
    out->api = table[r].api;
    out->errors = table[r].errors;
}

void
gw_route_match_path(gw_route_match *out, const char *path)
{
    out->param = NULL;
    out->param_len = 0;
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
        out->param_len = strlen(out->param);
        return;
    }
    if (strncmp(p, "/responses/", 11) == 0 && p[11] && p[11] != '/') {
        const char *id = p + 11, *slash = strchr(id, '/');
        if (!slash || strcmp(slash, "/input_items") == 0) {
            set(out, slash ? GW_R_RESPONSE_ITEMS : GW_R_RESPONSE);
            out->param = id;
            out->param_len = slash ? (size_t)(slash - id) : strlen(id);
        }
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
    unsigned m = table[r].methods;
    if ((m & M_GET) && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return GW_METHOD_OK;
    if (((m & M_POST) && strcmp(method, "POST") == 0) ||
        ((m & M_DELETE) && strcmp(method, "DELETE") == 0))
        return GW_METHOD_OK;
    if (cors && table[r].api && strcmp(method, "OPTIONS") == 0)
        return GW_METHOD_PREFLIGHT;
    return GW_METHOD_NOT_ALLOWED;
}

const char *
gw_route_allow(gw_route_id r, bool cors)
{
    /* Every combination the table uses, with and without OPTIONS. */
    static const char *const allow[8][2] = {
        [M_GET] = {"GET, HEAD", "GET, HEAD, OPTIONS"},
        [M_POST] = {"POST", "POST, OPTIONS"},
        [M_DELETE] = {"DELETE", "DELETE, OPTIONS"},
        [M_GET | M_POST] = {"GET, HEAD, POST", "GET, HEAD, POST, OPTIONS"},
        [M_GET | M_DELETE] = {"GET, HEAD, DELETE", "GET, HEAD, DELETE, OPTIONS"},
        [M_POST | M_DELETE] = {"POST, DELETE", "POST, DELETE, OPTIONS"},
        [M_GET | M_POST |
            M_DELETE] = {"GET, HEAD, POST, DELETE", "GET, HEAD, POST, DELETE, OPTIONS"},
    };
    if (r <= GW_R_NONE || r >= GW_R_COUNT)
        return "";
    const char *a = allow[table[r].methods & 7u][cors && table[r].api];
    return a ? a : "";
}

gw_route_auth
gw_route_auth_kind(gw_route_id r)
{
    if (r <= GW_R_NONE || r >= GW_R_COUNT)
        return GW_AUTH_API_KEY;
    return table[r].auth;
}
