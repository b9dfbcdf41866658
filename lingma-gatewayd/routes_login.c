/*
 * Login management: POST /internal/auto-login/start?instance=inst-N starts
 * a login attempt on an instance (liblingma runs it on its service thread:
 * login URL, optional LINGMA_LOGIN_HOOK, auth/status polling) and answers
 * 202 at once; GET /internal/auto-login/status reports every instance's
 * attempt from the stats snapshot. Both are cheap and never wait for Lingma.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway.h"

static json_t *
str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *
instance_json(const lingma_instance_stats *s)
{
    return json_pack("{s:s,s:s,s:o,s:o}", "name", s->name, "state",
                     lingma_login_state_name(s->login_state), "login_url",
                     str_or_null(s->login_url), "reason", str_or_null(s->login_reason));
}

void
gw_route_login_status(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    lingma_pool_stats *st;
    if (lingma_pool_stats_get(&st, app->pool) != 0) {
        gw_respond_value(app, req, ri, 500, NULL);
        return;
    }
    json_t *inst = json_array();
    for (size_t i = 0; i < st->instance_count; i++)
        json_array_append_new(inst, instance_json(&st->instances[i]));
    lingma_pool_stats_free(st);
    gw_respond_value(app, req, ri, 200, json_pack("{s:o}", "instances", inst));
}

void
gw_route_login_start(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    gw_error e;
    const char *name = gw_http_req_query(req, "instance");
    int idx;
    if (!name || !*name) {
        if (lingma_pool_instance_count(app->pool) != 1) {
            gw_error_set(&e, 400, GW_TYPE_INVALID_REQUEST, "missing_required_parameter", "instance",
                         "Missing required query parameter: 'instance' (inst-N).");
            gw_respond_error(app, req, ri, &e, NULL);
            return;
        }
        idx = 0; /* one instance: no need to name it */
    } else if ((idx = lingma_pool_find_instance(app->pool, name)) < 0) {
        gw_error_set(&e, 404, GW_TYPE_INVALID_REQUEST, "instance_not_found", "instance",
                     "No instance named '%s'.", gw_reqid_valid(name) ? name : "?");
        gw_respond_error(app, req, ri, &e, NULL);
        return;
    }
    int rc = lingma_instance_login_start(app->pool, (size_t)idx);
    if (rc != 0) {
        gw_error_from_lingma(&e, rc, 0, 0);
        gw_respond_error(app, req, ri, &e, NULL);
        return;
    }
    lingma_pool_stats *st;
    if (lingma_pool_stats_get(&st, app->pool) != 0) {
        gw_respond_value(app, req, ri, 500, NULL);
        return;
    }
    json_t *v = (size_t)idx < st->instance_count ? instance_json(&st->instances[idx]) : NULL;
    lingma_pool_stats_free(st);
    gw_respond_value(app, req, ri, 202, v);
}
