/*
 * Operations endpoints: GET /healthz (public; the load balancer's
 * readiness: 200 while an instance serves, that is, is connected and
 * logged in), GET /livez (public; the process's liveness: its loops
 * turn), GET /metrics (Prometheus text) and GET /internal/stats. All read
 * one liblingma stats snapshot, which never waits for the pool's service
 * thread, so they stay fast while Lingma is busy or hanging.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway.h"
#include "responses_store.h"

/* A loop that has not turned for this long is stuck: /livez says 503, so
 * that a supervisor restarts the process. Both loops tick at least every
 * second while they run (the pool every 100 ms, the HTTP watcher every
 * heartbeat/4, at most 1 s). */
#define LIVEZ_STUCK_MS 10000

static bool
snapshot(gw_app *app, gw_http_req *req, gw_reqinfo *ri, lingma_pool_stats **st)
{
    if (lingma_pool_stats_get(st, app->pool) == 0)
        return true;
    gw_error e;
    gw_error_internal(&e);
    gw_respond_error(app, req, ri, &e, NULL);
    return false;
}

void
gw_route_healthz(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    lingma_pool_stats *st;
    if (!snapshot(app, req, ri, &st))
        return;
    bool draining = atomic_load(&app->draining);
    /* Ready is not enough: a logged-out instance answers every chat with
     * an error, and a balancer must not send it any. */
    const char *status = draining ? "draining" : st->serving ? "ok" : "unavailable";
    json_t *inst = json_array();
    for (size_t i = 0; i < st->instance_count; i++)
        json_array_append_new(inst,
                              json_pack("{s:s,s:s,s:s,s:b}", "name", st->instances[i].name, "state",
                                        lingma_instance_state_name(st->instances[i].state), "login",
                                        lingma_auth_state_name(st->health[i].login), "serving",
                                        st->health[i].serving));
    json_t *v = json_pack("{s:s,s:I,s:I,s:I,s:o}", "status", status, "ready", (json_int_t)st->ready,
                          "serving", (json_int_t)st->serving, "logged_out",
                          (json_int_t)st->logged_out, "instances", inst);
    int code = !draining && st->serving ? 200 : 503;
    lingma_pool_stats_free(st);
    gw_respond_value(app, req, ri, code, v);
}

void
gw_route_livez(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    /* This very answer shows that the HTTP engine's thread turns; the pool's
     * service thread and the engine's watcher show it by their ticks. No
     * Lingma is consulted: a logged-out or restarting Lingma is a matter
     * of readiness (/healthz), never a reason to restart the gateway. */
    lingma_pool_stats *st;
    if (!snapshot(app, req, ri, &st))
        return;
    gw_http_stats hs;
    gw_http_get_stats(app->http, &hs);
    uint64_t pool_idle = st->service_idle_ms;
    lingma_pool_stats_free(st);
    bool stuck = pool_idle > LIVEZ_STUCK_MS || hs.watcher_idle_ms > LIVEZ_STUCK_MS;
    gw_respond_value(app, req, ri, stuck ? 503 : 200,
                     json_pack("{s:s,s:I,s:I}", "status", stuck ? "stuck" : "ok", "pool_idle_ms",
                               (json_int_t)pool_idle, "http_watcher_idle_ms",
                               (json_int_t)hs.watcher_idle_ms));
}

void
gw_route_stats(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    lingma_pool_stats *st;
    if (!snapshot(app, req, ri, &st))
        return;
    json_t *inst = json_array();
    for (size_t i = 0; i < st->instance_count; i++) {
        const lingma_instance_stats *s = &st->instances[i];
        json_array_append_new(
            inst,
            json_pack("{s:s,s:s,s:b,s:I,s:I,s:s,s:I,s:I,s:s}", "name", s->name, "state",
                      lingma_instance_state_name(s->state), "ready", s->ready, "in_flight",
                      (json_int_t)s->in_flight, "restarts", (json_int_t)s->restarts, "last_error",
                      s->last_error ? s->last_error : "", "port", (json_int_t)s->port, "pid",
                      (json_int_t)s->pid, "username", s->username ? s->username : ""));
    }
    json_t *conc =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "in_flight", (json_int_t)st->in_flight, "queued",
                  (json_int_t)st->queued, "accepted_total", (json_int_t)st->accepted_total,
                  "rejected_total", (json_int_t)st->rejected_total, "max_in_flight",
                  (json_int_t)st->max_in_flight, "max_queue", (json_int_t)st->max_queue);
    json_t *pool = json_pack("{s:I,s:o}", "ready", (json_int_t)st->ready, "instances", inst);
    lingma_pool_stats_free(st);
    /* The Responses store, so that its memory can be watched (and tested). */
    size_t stored = 0;
    uint64_t bytes = 0;
    if (app->parse_ctx.store)
        gw_resp_store_usage(app->parse_ctx.store, &stored, &bytes);
    json_t *resp = json_pack("{s:I,s:I,s:I,s:I}", "stored", (json_int_t)stored, "bytes",
                             (json_int_t)bytes, "max_stored", (json_int_t)app->cfg->responses_max,
                             "max_bytes", (json_int_t)app->cfg->responses_max_bytes);
    gw_respond_value(
        app, req, ri, 200,
        json_pack("{s:o,s:o,s:o}", "concurrency", conc, "pool", pool, "responses", resp));
}

void
gw_route_metrics(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    lingma_pool_stats *st;
    if (!snapshot(app, req, ri, &st))
        return;
    gw_metrics_instance *mi = calloc(st->instance_count ? st->instance_count : 1, sizeof(*mi));
    gw_buf b = GW_BUF_INIT;
    int rc = LINGMA_ENOMEM;
    if (mi) {
        for (size_t i = 0; i < st->instance_count; i++) {
            mi[i].name = st->instances[i].name;
            mi[i].in_flight = st->instances[i].in_flight;
            mi[i].ready = st->instances[i].ready != 0;
            mi[i].restarts = st->instances[i].restarts;
            mi[i].stalls = st->health[i].stalls;
        }
        gw_metrics_snapshot snap = {(int64_t)st->in_flight,      (int64_t)st->queued,
                                    (int64_t)st->accepted_total, (int64_t)st->rejected_total,
                                    (int64_t)st->max_in_flight,  mi,
                                    st->instance_count};
        snap.serving = st->serving;
        snap.logged_out = st->logged_out;
        snap.down = (int64_t)st->instance_count - st->serving - st->logged_out;
        rc = gw_metrics_format(&b, app->metrics, &snap);
    }
    free(mi);
    lingma_pool_stats_free(st);
    if (rc != 0) {
        gw_error e;
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
    } else {
        gw_http_header h[] = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"},
                              {NULL, NULL}};
        gw_respond_raw(app, req, ri, 200, h, b.data, b.len, NULL);
    }
    gw_buf_free(&b);
}
