/*
 * gateway: the state lingma-gatewayd's routes share, and the seams between
 * main.c (lifecycle), routes*.c (the HTTP surface) and catalogue.c.
 *
 * Threads that touch it: the MHD thread (handlers, on_headers), the
 * client-gone watcher (on_gone), the pool's service thread (chat events,
 * instance call results), the catalogue thread and main. Everything here is
 * either set before the HTTP engine starts and read-only afterwards, or an
 * atomic, or behind its own module's lock (metrics, log, catalogue).
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lingma/chat.h"
#include "lingma/pool.h"

#include "aliases.h"
#include "api/frontend.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "cors.h"
#include "errors.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "openai.h"
#include "reqid.h"
#include "route_table.h"

typedef struct gw_catalogue gw_catalogue;

typedef struct gw_app {
    const gw_config *cfg;
    gw_log *log;
    gw_auth *auth;
    gw_metrics *metrics;
    lingma_pool *pool;
    gw_catalogue *catalogue;
    gw_http *http;
    gw_cors *cors;          /* NULL: CORS off */
    gw_aliases *aliases;    /* GATEWAY_MODEL_ALIASES; NULL: none */
    gw_parse_ctx parse_ctx; /* what front-ends' parse may use (the Responses store) */
    int64_t started_unix;   /* boot time, the `created` of models */
    atomic_bool draining;   /* SIGTERM seen: /healthz says so, new chats get 503 */
    atomic_uint chats_live; /* chat contexts not yet freed (tests, shutdown) */
} gw_app;

/* ---- routes.c: the dispatcher ------------------------------------------ */

/* Draw the boot-time random prefix of request ids. 0 or LINGMA_EIO. */
int gw_routes_init(void);

/* The gw_http callbacks; payload is the gw_app. */
void gw_routes_on_request(gw_http_req *req, void *payload);
void gw_routes_on_headers(gw_http_req *req, void *payload);
gw_http_action gw_routes_handler(gw_http_req *req, void *payload);
void gw_routes_on_gone(gw_http_req *req, void *payload);
void gw_routes_on_shutdown(gw_http_req *req, void *payload);
char *gw_routes_error_body(gw_http_req *req, int status, const char *code, const char *message,
                           size_t *len, const char **ctype, void *payload);

/* Per-request facts for logs and metrics. */
typedef struct gw_reqinfo {
    char request_id[GW_REQID_SIZE];
    const char *route; /* metrics label: a route template, static */
    struct timespec t0;
    gw_api api; /* whose error envelope the client expects */
} gw_reqinfo;

/* The dispatcher's record of one request: made in on_request, the route
 * decided in on_headers, freed with the request (the engine's user
 * pointer). `state` is the route's own per-request object (the chat):
 * written by the handler on the MHD thread, read by on_gone/on_shutdown,
 * which the engine only calls after the handler returned. */
typedef struct gw_route_ctx {
    gw_reqinfo ri;
    gw_route_match m;
    void *state;
} gw_route_ctx;

/* The record of `req` (NULL only if it could not be allocated). */
gw_route_ctx *gw_route_ctx_of(gw_http_req *req);

/* ---- respond.c: answering, logging and counting -------------------------- */

/* Answer `req` with a JSON body (Content-Type: application/json) plus
 * optional extra headers, then log and count it. `body` may be NULL for an
 * empty object. Any thread while the route owns `req`. */
void gw_respond_json(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status,
                     const gw_http_header *extra, const char *body, size_t len,
                     const char *instance);
/* Answer with `v` serialised (a 500 error when `v` is NULL or cannot be
 * written), then log and count it. Takes the reference to `v`. */
void gw_respond_value(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status, json_t *v);
/* Answer with the error envelope of the request's API (ri->api; OpenAI's
 * by default) for `e`, Retry-After for a 429. */
void gw_respond_error(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, const gw_error *e,
                      const char *instance);
/* The same with extra headers (NULL-terminated, at most 4). */
void gw_respond_error_with(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, const gw_error *e,
                           const gw_http_header *more, const char *instance);
/* Answer `req` with `headers` (may be NULL) and `body` as they are, counted
 * before the client can see the answer and logged after. */
void gw_respond_raw(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status,
                    const gw_http_header *headers, const char *body, size_t len,
                    const char *instance);
/* Count and log a finished request that was not answered through
 * gw_respond_* (a stream: call it before gw_stream_end(), so that a client
 * that read the end finds it counted). */
void gw_request_done(gw_app *app, const gw_reqinfo *ri, int status, const char *instance);

/* Seconds since t0 on CLOCK_MONOTONIC. */
double gw_elapsed_s(const struct timespec *t0);

/* ---- route handlers (one file each) ----------------------------------- */

/* The one chat route, for every wire API (routes_chat.c). */
gw_http_action gw_route_chat(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const gw_frontend *fe);
/* Resolve a requested model name (aliases first) to a Lingma key
 * (malloc'd into *key). 0, LINGMA_ENOTFOUND or LINGMA_ENOMEM with `e`. */
int gw_resolve_model(gw_app *app, char **key, gw_error *e, const char *requested);
/* The token estimate of the question a chat sends Lingma: `prompt` (the
 * flattened conversation) and the tool section the runtime puts before it.
 * 0 or LINGMA_ENOMEM. */
int gw_question_tokens(uint64_t *out, const gw_chat_request *creq, const char *prompt);
void gw_route_chat_gone(gw_app *app, gw_http_req *req);
void gw_route_chat_shutdown(gw_app *app, gw_http_req *req);

/* The Anthropic Messages API (routes_messages.c). */
gw_http_action gw_route_messages(gw_app *app, gw_http_req *req, gw_reqinfo *ri);
void gw_route_count_tokens(gw_app *app, gw_http_req *req, gw_reqinfo *ri);

void gw_route_models(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *id);

/* GET or DELETE /v1/responses/{id} (`items`: GET .../input_items); the id
 * is param[0..len) (routes_responses.c). */
void gw_route_response(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *param, size_t len,
                       bool items);

void gw_route_healthz(gw_app *app, gw_http_req *req, gw_reqinfo *ri);
void gw_route_livez(gw_app *app, gw_http_req *req, gw_reqinfo *ri);
void gw_route_metrics(gw_app *app, gw_http_req *req, gw_reqinfo *ri);
void gw_route_stats(gw_app *app, gw_http_req *req, gw_reqinfo *ri);
void gw_route_login_start(gw_app *app, gw_http_req *req, gw_reqinfo *ri);
void gw_route_login_status(gw_app *app, gw_http_req *req, gw_reqinfo *ri);

/* ---- catalogue.c ------------------------------------------------------ */

/* Start the refresher thread: it watches the pool's stats and asks every
 * instance that became ready for its models (config/queryModels), and
 * every instance again every `refresh_s` seconds. 0 or LINGMA_ENOMEM /
 * LINGMA_ERROR. */
int gw_catalogue_new(gw_catalogue **out, lingma_pool *pool, gw_log *log, unsigned refresh_s);
/* Stop the thread. The object stays valid: results of calls in flight may
 * still arrive until the pool is freed. */
void gw_catalogue_stop(gw_catalogue *c);
/* Free, after the pool (NULL-safe). */
void gw_catalogue_free(gw_catalogue *c);

/* Run `fn` with the current catalogue (the union over instances, keys
 * unique, in first-seen order) under the catalogue's lock. `fn` must not
 * block or call back into the catalogue. */
typedef void (*gw_catalogue_fn)(const gw_model_entry *entries, size_t n, void *payload);
void gw_catalogue_with(gw_catalogue *c, gw_catalogue_fn fn, void *payload);

#endif
