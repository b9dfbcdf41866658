/*
 * Login management: POST /internal/auto-login/start?instance=inst-N and
 * GET /internal/auto-login/status.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway.h"

void
gw_route_login_status(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    lingma_pool_stats *st;
    gw_error e;
    if (lingma_pool_stats_get(&st, app->pool) != 0) {
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
        return;
    }
    json_t *inst = json_array();
    for (size_t i = 0; i < st->instance_count; i++)
        json_array_append_new(inst, json_pack("{s:s,s:s,s:n,s:n}", "name", st->instances[i].name,
                                              "state", "idle", "login_url", "reason"));
    lingma_pool_stats_free(st);
    json_t *v = json_pack("{s:o}", "instances", inst);
    gw_buf b = GW_BUF_INIT;
    if (!v || gw_buf_append_json(&b, v) != 0) {
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
    } else {
        gw_respond_json(app, req, ri, 200, NULL, b.data, b.len, NULL);
    }
    json_decref(v);
    gw_buf_free(&b);
}

void
gw_route_login_start(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    gw_error e;
    gw_error_from_lingma(&e, LINGMA_EUNAVAIL, 0, 0);
    gw_respond_error(app, req, ri, &e, NULL);
}
