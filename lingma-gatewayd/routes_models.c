/*
 * GET /v1/models and GET /v1/models/{id}: the catalogue of the instances
 * that answered config/queryModels (see catalogue.c). An id is looked up
 * with the same resolution as a chat's `model` (keys, display names,
 * aliases), so whatever a chat accepts, retrieve finds too. A request that
 * carries anthropic-version (routes.c sets ri->api) gets Anthropic's
 * shape, so Claude Code and the Anthropic SDK list the same models.
 */
#include <stdlib.h>
#include <string.h>

#include "api/messages.h"
#include "gateway.h"

#define OWNED_BY "lingma"

struct models_ctx {
    gw_app *app;
    const char *id;
    bool anthropic;
    gw_buf out;
    gw_error err;
    int rc;
};

static void
format_cb(const gw_model_entry *entries, size_t n, void *payload)
{
    struct models_ctx *m = payload;
    if (!m->id) {
        m->rc = m->anthropic
                    ? gw_anthropic_models(&m->out, entries, n, m->app->started_unix)
                    : gw_openai_models(&m->out, entries, n, m->app->started_unix, OWNED_BY);
        return;
    }
    const char *key;
    const gw_model_entry *entry = NULL;
    /* An empty catalogue lets any name through for chats (a cold gateway
     * still serves); a retrieve must not claim a model it has not seen. */
    const char *aliased = gw_aliases_apply(m->app->aliases, m->id);
    if (n == 0 ||
        gw_model_resolve(&key, &entry, &m->err, entries, n, aliased ? aliased : m->id,
                         aliased ? m->app->cfg->default_model : NULL) != 0 ||
        !entry) {
        gw_error_model_not_found(&m->err, m->id);
        m->rc = LINGMA_ENOTFOUND;
        return;
    }
    m->rc = m->anthropic ? gw_anthropic_model(&m->out, entry, m->app->started_unix)
                         : gw_openai_model(&m->out, entry, m->app->started_unix, OWNED_BY);
}

void
gw_route_models(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *id)
{
    struct models_ctx m = {app, id, ri->api == GW_API_ANTHROPIC, GW_BUF_INIT, {0}, 0};
    gw_catalogue_with(app->catalogue, format_cb, &m);
    if (m.rc == LINGMA_ENOTFOUND) {
        gw_respond_error(app, req, ri, &m.err, NULL);
    } else if (m.rc != 0) {
        gw_error_internal(&m.err);
        gw_respond_error(app, req, ri, &m.err, NULL);
    } else {
        gw_respond_json(app, req, ri, 200, NULL, m.out.data, m.out.len, NULL);
    }
    gw_buf_free(&m.out);
}
