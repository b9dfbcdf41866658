/*
 * GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items:
 * the stored responses (responses_store.h). POST /v1/responses is the
 * shared chat route with the Responses front-end (routes.c).
 *
 * A response is stored once delivered in full (store: true); GET returns
 * it exactly as the client received it. An id that was never stored, was
 * deleted, evicted or expired is a 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/responses.h"
#include "gateway.h"

/* Longest id looked up: ours are "resp_" + 24 hex; a longer one cannot
 * be stored and is answered 404 without a copy. */
#define ID_MAX 128

static bool
copy_id(char out[ID_MAX + 1], const char *param, size_t len)
{
    if (len == 0 || len > ID_MAX)
        return false;
    memcpy(out, param, len);
    out[len] = '\0';
    return true;
}

static void
not_found(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *id)
{
    gw_error e;
    gw_resp_error_not_found(&e, id, NULL);
    gw_respond_error(app, req, ri, &e, NULL);
}

static void
get_response(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *id, bool items)
{
    gw_error e;
    const char *stream = gw_http_req_query(req, "stream");
    if (!items && stream && strcmp(stream, "false") != 0) {
        /* Replaying a stored response as events is not implemented; a JSON
         * answer to a client that expects SSE would hang or confuse it. */
        gw_error_set(&e, 400, GW_TYPE_INVALID_REQUEST, "unsupported_value", "stream",
                     "Unsupported value: 'stream' is not supported when retrieving a response; "
                     "retrieve it without streaming.");
        gw_respond_error(app, req, ri, &e, NULL);
        return;
    }
    gw_resp_entry entry;
    int rc = app->parse_ctx.store ? gw_resp_store_get(app->parse_ctx.store, &entry, id)
                                  : LINGMA_ENOTFOUND;
    if (rc == LINGMA_ENOTFOUND) {
        not_found(app, req, ri, id);
        return;
    }
    if (rc != 0) {
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
        return;
    }
    if (!items) {
        gw_respond_json(app, req, ri, 200, NULL, entry.response, entry.response_len, NULL);
        gw_resp_entry_clear(&entry);
        return;
    }
    gw_buf page = GW_BUF_INIT;
    rc =
        gw_resp_input_items_page(&page, &e, entry.input, entry.input_len,
                                 gw_http_req_query(req, "limit"), gw_http_req_query(req, "order"),
                                 gw_http_req_query(req, "after"), gw_http_req_query(req, "before"));
    gw_resp_entry_clear(&entry);
    if (rc != 0)
        gw_respond_error(app, req, ri, &e, NULL);
    else
        gw_respond_json(app, req, ri, 200, NULL, page.data, page.len, NULL);
    gw_buf_free(&page);
}

static void
delete_response(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *id)
{
    if (!app->parse_ctx.store || gw_resp_store_delete(app->parse_ctx.store, id) != 0) {
        not_found(app, req, ri, id);
        return;
    }
    gw_buf b = GW_BUF_INIT;
    if (gw_resp_deleted(&b, id) != 0) {
        gw_error e;
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
    } else {
        gw_respond_json(app, req, ri, 200, NULL, b.data, b.len, NULL);
    }
    gw_buf_free(&b);
}

void
gw_route_response(gw_app *app, gw_http_req *req, gw_reqinfo *ri, const char *param, size_t len,
                  bool items)
{
    char id[ID_MAX + 1];
    if (!copy_id(id, param, len)) {
        char shown[ID_MAX + 1];
        snprintf(shown, sizeof(shown), "%.*s", (int)(len < ID_MAX ? len : ID_MAX), param);
        not_found(app, req, ri, shown);
        return;
    }
    if (strcmp(gw_http_req_method(req), "DELETE") == 0)
        delete_response(app, req, ri, id);
    else
        get_response(app, req, ri, id, items);
}
