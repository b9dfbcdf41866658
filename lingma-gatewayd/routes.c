/*
 * routes: the dispatcher of lingma-gatewayd's HTTP surface.
 *
 * The engine (http.h) decides a request's fate once, before any route
 * code runs; this file supplies the route's part of that decision:
 *   - on_request (every request, first): the record of the request (its
 *     id, its route from route_table.c, its start time) and the headers
 *     every answer carries: x-request-id, and the CORS headers of an
 *     allowed origin;
 *   - on_headers (heads that passed the engine's checks): wrong method
 *     (405 + Allow), duplicate credentials (400), authentication (401). A
 *     request refused here never reaches a route;
 *   - the handler: the CORS preflight (204, no key needed), else a plain
 *     switch over the route decided above;
 *   - error_body: the envelope, log line and metric of the engine's own
 *     answers (400 for a bad head, 413, 431, 500, 503).
 *
 * The request id is the client's x-request-id when sane, else "req_" + hex
 * of (a random boot prefix, the engine's request number).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "reqid.h"

/* Random prefix of generated request ids, drawn once at start-up. */
static uint8_t reqid_prefix[8];

static void
request_id(char out[GW_REQID_SIZE], gw_http_req *req)
{
    const char *client = gw_http_req_header(req, "x-request-id");
    if (client && gw_http_req_header_count(req, "x-request-id") == 1 && gw_reqid_valid(client)) {
        snprintf(out, GW_REQID_SIZE, "%s", client);
        return;
    }
    uint8_t raw[16];
    uint64_t n = gw_http_req_id(req);
    memcpy(raw, reqid_prefix, 8);
    for (int i = 0; i < 8; i++)
        raw[8 + i] = (uint8_t)(n >> (56 - 8 * i));
    gw_reqid_generate(out, raw, sizeof(raw));
}

gw_route_ctx *
gw_route_ctx_of(gw_http_req *req)
{
    return gw_http_req_user(req);
}

/* The Origin this request may be answered to, or NULL. */
static const char *
cors_origin(gw_app *app, gw_http_req *req)
{
    if (!app->cors || gw_http_req_header_count(req, "origin") != 1)
        return NULL;
    return gw_cors_allow_origin(app->cors, gw_http_req_header(req, "origin"));
}

void
gw_routes_on_request(gw_http_req *req, void *payload)
{
    gw_app *app = payload;
    gw_route_ctx *ctx = calloc(1, sizeof(*ctx));
    char id[GW_REQID_SIZE];
    request_id(id, req);
    gw_http_req_add_header(req, "x-request-id", id);
    if (!ctx)
        return; /* the engine answers 500 later; the id still goes out */
    memcpy(ctx->ri.request_id, id, sizeof(id));
    clock_gettime(CLOCK_MONOTONIC, &ctx->ri.t0);
    gw_route_match_path(&ctx->m, gw_http_req_path(req));
    ctx->ri.route = ctx->m.label;
    /* The model list speaks Anthropic to a client that says it is one. */
    ctx->ri.api = ctx->m.errors;
    if ((ctx->m.route == GW_R_MODELS || ctx->m.route == GW_R_MODEL) &&
        gw_http_req_header(req, "anthropic-version"))
        ctx->ri.api = GW_API_ANTHROPIC;
    if (ctx->ri.api == GW_API_ANTHROPIC)
        gw_http_req_add_header(req, "request-id", id);
    gw_http_req_set_user(req, ctx, free);

    const char *origin = ctx->m.api ? cors_origin(app, req) : NULL;
    if (origin) {
        gw_http_req_add_header(req, "Access-Control-Allow-Origin", origin);
        gw_http_req_add_header(req, "Vary", "Origin");
        gw_http_req_add_header(req, "Access-Control-Expose-Headers", GW_CORS_EXPOSE);
    }
}

/* 204 to an allowed origin's preflight, 403 to any other. */
static void
preflight(gw_app *app, gw_http_req *req, gw_route_ctx *ctx)
{
    const char *origin = cors_origin(app, req);
    const char *want = gw_http_req_header(req, "access-control-request-method");
    if (!origin || !want) {
        gw_error e;
        gw_error_set(&e, 403, GW_TYPE_INVALID_REQUEST, "cors_not_allowed", NULL,
                     "CORS preflight refused: the origin is not allowed or the request is not "
                     "a preflight.");
        gw_respond_error(app, req, &ctx->ri, &e, NULL);
        return;
    }
    char headers[600];
    gw_http_header hd[] = {
        {"Access-Control-Allow-Methods", gw_route_allow(ctx->m.route, true)},
        {"Access-Control-Allow-Headers",
         gw_cors_allow_headers(headers, sizeof(headers),
                               gw_http_req_header(req, "access-control-request-headers"))},
        {"Access-Control-Max-Age", GW_CORS_MAX_AGE},
        {NULL, NULL},
    };
    gw_respond_raw(app, req, &ctx->ri, 204, hd, NULL, 0, NULL);
}

static bool
authorized(gw_app *app, gw_http_req *req, gw_route_id r)
{
    const char *authz = gw_http_req_header(req, "authorization");
    switch (gw_route_auth_kind(r)) {
    case GW_AUTH_NONE:
        return true;
    case GW_AUTH_METRICS:
        return gw_auth_check_metrics(app->auth, authz);
    case GW_AUTH_API_KEY:
    default:
        return gw_auth_check(app->auth, authz, gw_http_req_header(req, "x-api-key"));
    }
}

void
gw_routes_on_headers(gw_http_req *req, void *payload)
{
    gw_app *app = payload;
    gw_route_ctx *ctx = gw_route_ctx_of(req);
    gw_error e;
    if (!ctx) {
        gw_error_internal(&e);
        gw_reqinfo ri = {.route = "other"};
        clock_gettime(CLOCK_MONOTONIC, &ri.t0);
        gw_respond_error(app, req, &ri, &e, NULL);
        return;
    }
    gw_route_id r = ctx->m.route;
    const char *method = gw_http_req_method(req);
    if (r == GW_R_NONE) {
        gw_error_not_found(&e, method, gw_http_req_path(req));
        gw_respond_error(app, req, &ctx->ri, &e, NULL);
        return;
    }
    switch (gw_route_method(r, method, app->cors != NULL)) {
    case GW_METHOD_OK:
        break;
    case GW_METHOD_PREFLIGHT:
        /* No credentials on a preflight; the handler answers it, after
         * the (empty) body, so that the connection stays open. */
        return;
    case GW_METHOD_NOT_ALLOWED:
    default: {
        gw_error_method_not_allowed(&e, method, gw_http_req_path(req));
        gw_http_header allow[] = {{"Allow", gw_route_allow(r, app->cors != NULL)}, {NULL, NULL}};
        gw_respond_error_with(app, req, &ctx->ri, &e, allow, NULL);
        return;
    }
    }
    /* Two credentials of one kind: which one a proxy in front checked and
     * which one we would check could differ. Refuse rather than pick. */
    if (gw_http_req_header_count(req, "authorization") > 1 ||
        gw_http_req_header_count(req, "x-api-key") > 1) {
        gw_error_set(&e, 400, GW_TYPE_INVALID_REQUEST, "duplicate_credentials", NULL,
                     "Send one Authorization or x-api-key header, not several.");
        gw_http_header close[] = {{"Connection", "close"}, {NULL, NULL}};
        gw_respond_error_with(app, req, &ctx->ri, &e, close, NULL);
        return;
    }
    if (!authorized(app, req, r)) {
        gw_error_invalid_api_key(&e);
        /* Claude Code retries a 401 like a 5xx, for a minute or more,
         * unless the answer says not to: a wrong key does not heal. */
        gw_http_header extra[] = {{"WWW-Authenticate", "Bearer"}, {NULL, NULL}, {NULL, NULL}};
        if (ctx->ri.api == GW_API_ANTHROPIC)
            extra[1] = (gw_http_header){"x-should-retry", "false"};
        gw_respond_error_with(app, req, &ctx->ri, &e, extra, NULL);
    }
}

gw_http_action
gw_routes_handler(gw_http_req *req, void *payload)
{
    gw_app *app = payload;
    gw_route_ctx *ctx = gw_route_ctx_of(req);
    gw_reqinfo *ri = &ctx->ri; /* on_headers refused a request without one */
    if (strcmp(gw_http_req_method(req), "OPTIONS") == 0) {
        preflight(app, req, ctx); /* gw_route_method let only preflights through */
        return GW_HTTP_DONE;
    }
    switch (ctx->m.route) {
    case GW_R_CHAT:
        return gw_route_chat(app, req, ri, &gw_fe_chat_completions);
    case GW_R_MESSAGES:
        return gw_route_messages(app, req, ri);
    case GW_R_COUNT_TOKENS:
        gw_route_count_tokens(app, req, ri);
        break;
    case GW_R_MODELS:
        gw_route_models(app, req, ri, NULL);
        break;
    case GW_R_MODEL:
        gw_route_models(app, req, ri, ctx->m.param);
        break;
    case GW_R_HEALTHZ:
        gw_route_healthz(app, req, ri);
        break;
    case GW_R_LIVEZ:
        gw_route_livez(app, req, ri);
        break;
    case GW_R_METRICS:
        gw_route_metrics(app, req, ri);
        break;
    case GW_R_STATS:
        gw_route_stats(app, req, ri);
        break;
    case GW_R_LOGIN_START:
        gw_route_login_start(app, req, ri);
        break;
    case GW_R_LOGIN_STATUS:
        gw_route_login_status(app, req, ri);
        break;
    case GW_R_RESPONSES:
        return gw_route_chat(app, req, ri, &gw_fe_responses);
    case GW_R_RESPONSE:
    case GW_R_RESPONSE_ITEMS:
        gw_route_response(app, req, ri, ctx->m.param, ctx->m.param_len,
                          ctx->m.route == GW_R_RESPONSE_ITEMS);
        break;
    case GW_R_NONE:
    case GW_R_COUNT:
    default: {
        gw_error e;
        gw_error_not_found(&e, gw_http_req_method(req), gw_http_req_path(req));
        gw_respond_error(app, req, ri, &e, NULL);
        break;
    }
    }
    return GW_HTTP_DONE;
}

void
gw_routes_on_gone(gw_http_req *req, void *payload)
{
    /* Only chats ever stay pending. */
    gw_route_chat_gone(payload, req);
}

void
gw_routes_on_shutdown(gw_http_req *req, void *payload)
{
    gw_route_chat_shutdown(payload, req);
}

char *
gw_routes_error_body(gw_http_req *req, int status, const char *code, const char *message,
                     size_t *len, const char **ctype, void *payload)
{
    gw_app *app = payload;
    gw_error e;
    if (status == 413)
        gw_error_request_too_large(&e, app->cfg->max_body);
    else if (status == 503)
        gw_error_from_lingma(&e, LINGMA_ECLOSED, 0, 0);
    else if (status >= 500)
        gw_error_internal(&e);
    else
        gw_error_set(&e, status, GW_TYPE_INVALID_REQUEST, code, NULL, "%s", message);

    gw_route_ctx *ctx = req ? gw_route_ctx_of(req) : NULL;
    if (ctx) {
        gw_request_done(app, &ctx->ri, status, NULL);
    } else {
        gw_reqinfo ri = {.route = "other"};
        clock_gettime(CLOCK_MONOTONIC, &ri.t0);
        gw_request_done(app, &ri, status, NULL);
    }

    gw_buf b = GW_BUF_INIT;
    if (gw_error_json_for(&b, ctx ? ctx->ri.api : GW_API_OPENAI, &e) != 0)
        return NULL;
    *ctype = "application/json";
    return gw_buf_detach(&b, len);
}

int
gw_routes_init(void)
{
    return gw_random_bytes(reqid_prefix, sizeof(reqid_prefix));
}
