/*
 * routes: the dispatcher of lingma-gatewayd's HTTP surface.
 *
 * on_headers runs before the body is read, so everything that does not
 * need the body is decided there: the request id header (on every
 * response, the engine's own 413 included), unknown paths (404), wrong
 * methods (405 + Allow) and authentication (401). A refused request's body
 * is then never read. The handler only dispatches to the route files.
 *
 * The request id is computed, not stored: the client's x-request-id when
 * sane, else "req_" + hex of (a random boot prefix, the engine's request
 * number). on_headers and the handler derive the same id without keeping
 * per-request memory that a request the engine answers itself (413) would
 * leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "reqid.h"

enum route {
    R_NONE,
    R_CHAT,
    R_MODELS,
    R_MODEL,
    R_HEALTHZ,
    R_METRICS,
    R_STATS,
    R_LOGIN_START,
    R_LOGIN_STATUS,
};

struct route_def {
    enum route route;
    const char *method; /* the one allowed */
    const char *label;  /* metrics label and log route */
};

static const struct route_def routes[] = {
    [R_NONE] = {R_NONE, NULL, "other"},
    [R_CHAT] = {R_CHAT, "POST", "/v1/chat/completions"},
    [R_MODELS] = {R_MODELS, "GET", "/v1/models"},
    [R_MODEL] = {R_MODEL, "GET", "/v1/models/{id}"},
    [R_HEALTHZ] = {R_HEALTHZ, "GET", "/healthz"},
    [R_METRICS] = {R_METRICS, "GET", "/metrics"},
    [R_STATS] = {R_STATS, "GET", "/internal/stats"},
    [R_LOGIN_START] = {R_LOGIN_START, "POST", "/internal/auto-login/start"},
    [R_LOGIN_STATUS] = {R_LOGIN_STATUS, "GET", "/internal/auto-login/status"},
};

/* Random prefix of generated request ids, drawn once at start-up. */
static uint8_t reqid_prefix[8];

/* Map a path to a route; *id receives the model id of /v1/models/{id}. */
static enum route
match(const char *path, const char **id)
{
    *id = NULL;
    const char *p = path;
    if (strncmp(p, "/v1/", 4) == 0)
        p += 3; /* the un-prefixed aliases are the same routes */
    if (strcmp(p, "/chat/completions") == 0)
        return R_CHAT;
    if (strcmp(p, "/models") == 0)
        return R_MODELS;
    if (strncmp(p, "/models/", 8) == 0 && p[8] && !strchr(p + 8, '/')) {
        *id = p + 8;
        return R_MODEL;
    }
    if (p != path)
        return R_NONE;
    if (strcmp(path, "/healthz") == 0)
        return R_HEALTHZ;
    if (strcmp(path, "/metrics") == 0)
        return R_METRICS;
    if (strcmp(path, "/internal/stats") == 0)
        return R_STATS;
    if (strcmp(path, "/internal/auto-login/start") == 0)
        return R_LOGIN_START;
    if (strcmp(path, "/internal/auto-login/status") == 0)
        return R_LOGIN_STATUS;
    return R_NONE;
}

static void
request_id(char out[GW_REQID_SIZE], gw_http_req *req)
{
    const char *client = gw_http_req_header(req, "x-request-id");
    if (client && gw_reqid_valid(client)) {
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

static void
reqinfo_init(gw_reqinfo *ri, gw_http_req *req, enum route r)
{
    request_id(ri->request_id, req);
    ri->route = routes[r].label;
    clock_gettime(CLOCK_MONOTONIC, &ri->t0);
}

double
gw_elapsed_s(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

void
gw_request_done(gw_app *app, const gw_reqinfo *ri, int status, const char *instance)
{
    double s = gw_elapsed_s(&ri->t0);
    gw_metrics_observe_request(app->metrics, ri->route, status, s);
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    f.request_id = ri->request_id;
    f.route = ri->route;
    f.status = status;
    f.duration_ms = s * 1000.0;
    f.instance = instance && *instance ? instance : NULL;
    gw_log_write(app->log, status >= 500 ? LINGMA_LOG_WARN : LINGMA_LOG_INFO, "request", &f);
}

void
gw_respond_json(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status,
                const gw_http_header *extra, const char *body, size_t len, const char *instance)
{
    gw_http_header h[12];
    size_t n = 0;
    h[n++] = (gw_http_header){"Content-Type", "application/json"};
    for (size_t i = 0; extra && extra[i].name && n < 11; i++)
        h[n++] = extra[i];
    h[n] = (gw_http_header){NULL, NULL};
    if (!body) {
        body = "{}";
        len = 2;
    }
    gw_http_respond(req, status, h, body, len);
    gw_request_done(app, ri, status, instance);
}

void
gw_respond_value(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status, json_t *v)
{
    gw_buf b = GW_BUF_INIT;
    if (!v || gw_buf_append_json(&b, v) != 0) {
        gw_error e;
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
    } else {
        gw_respond_json(app, req, ri, status, NULL, b.data, b.len, NULL);
    }
    json_decref(v);
    gw_buf_free(&b);
}

void
gw_respond_error(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, const gw_error *e,
                 const char *instance)
{
    gw_buf b = GW_BUF_INIT;
    char s_buf[24], ms_buf[24];
    gw_http_header extra[3] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
    if (e->status == 429) {
        extra[0] =
            (gw_http_header){"Retry-After", gw_error_retry_after_s(s_buf, e->retry_after_ms)};
        extra[1] =
            (gw_http_header){"retry-after-ms", gw_error_retry_after_ms(ms_buf, e->retry_after_ms)};
    }
    if (gw_error_json(&b, e) != 0) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"param\":null,\"code\":null}}";
        gw_respond_json(app, req, ri, 500, NULL, oom, sizeof(oom) - 1, instance);
        return;
    }
    gw_respond_json(app, req, ri, e->status, extra, b.data, b.len, instance);
    gw_buf_free(&b);
}

void
gw_routes_on_headers(gw_http_req *req, void *payload)
{
    gw_app *app = payload;
    const char *id;
    enum route r = match(gw_http_req_path(req), &id);
    gw_reqinfo ri;
    reqinfo_init(&ri, req, r);
    gw_http_req_add_header(req, "x-request-id", ri.request_id);

    gw_error e;
    const char *method = gw_http_req_method(req);
    if (r == R_NONE) {
        gw_error_not_found(&e, method, gw_http_req_path(req));
        gw_respond_error(app, req, &ri, &e, NULL);
        return;
    }
    if (strcmp(method, routes[r].method) != 0) {
        gw_error_method_not_allowed(&e, method, gw_http_req_path(req));
        gw_buf b = GW_BUF_INIT;
        if (gw_error_json(&b, &e) == 0) {
            gw_http_header allow[] = {{"Allow", routes[r].method}, {NULL, NULL}};
            gw_respond_json(app, req, &ri, e.status, allow, b.data, b.len, NULL);
        } else {
            gw_respond_error(app, req, &ri, &e, NULL);
        }
        gw_buf_free(&b);
        return;
    }
    const char *authz = gw_http_req_header(req, "authorization");
    bool ok;
    if (r == R_HEALTHZ)
        ok = true;
    else if (r == R_METRICS)
        ok = gw_auth_check_metrics(app->auth, authz);
    else
        ok = gw_auth_check(app->auth, authz, gw_http_req_header(req, "x-api-key"));
    if (!ok) {
        gw_error_invalid_api_key(&e);
        gw_http_header extra[] = {{"WWW-Authenticate", "Bearer"}, {NULL, NULL}};
        gw_buf b = GW_BUF_INIT;
        if (gw_error_json(&b, &e) == 0)
            gw_respond_json(app, req, &ri, e.status, extra, b.data, b.len, NULL);
        else
            gw_respond_error(app, req, &ri, &e, NULL);
        gw_buf_free(&b);
    }
}

gw_http_action
gw_routes_handler(gw_http_req *req, void *payload)
{
    gw_app *app = payload;
    const char *id;
    enum route r = match(gw_http_req_path(req), &id);
    gw_reqinfo ri;
    reqinfo_init(&ri, req, r);
    switch (r) {
    case R_CHAT:
        return gw_route_chat(app, req, &ri);
    case R_MODELS:
        gw_route_models(app, req, &ri, NULL);
        break;
    case R_MODEL:
        gw_route_models(app, req, &ri, id);
        break;
    case R_HEALTHZ:
        gw_route_healthz(app, req, &ri);
        break;
    case R_METRICS:
        gw_route_metrics(app, req, &ri);
        break;
    case R_STATS:
        gw_route_stats(app, req, &ri);
        break;
    case R_LOGIN_START:
        gw_route_login_start(app, req, &ri);
        break;
    case R_LOGIN_STATUS:
        gw_route_login_status(app, req, &ri);
        break;
    case R_NONE:
    default: {
        gw_error e;
        gw_error_not_found(&e, gw_http_req_method(req), gw_http_req_path(req));
        gw_respond_error(app, req, &ri, &e, NULL);
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
gw_routes_error_body(int status, const char *message, size_t *len, const char **ctype,
                     void *payload)
{
    gw_app *app = payload;
    gw_error e;
    (void)message; /* the engine's wording; ours is the client-facing one */
    if (status == 413)
        gw_error_request_too_large(&e, app->cfg->max_body);
    else if (status == 503)
        gw_error_from_lingma(&e, LINGMA_ECLOSED, 0, 0);
    else
        gw_error_internal(&e);
    gw_buf b = GW_BUF_INIT;
    if (gw_error_json(&b, &e) != 0)
        return NULL;
    *ctype = "application/json";
    return gw_buf_detach(&b, len);
}

int
gw_routes_init(void)
{
    return gw_random_bytes(reqid_prefix, sizeof(reqid_prefix));
}
