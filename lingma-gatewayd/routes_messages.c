/*
 * The Anthropic Messages routes: POST /v1/messages is the one chat route
 * with the Messages front-end (api/messages.c); POST
 * /v1/messages/count_tokens parses the same body and answers the token
 * estimate of the exact question a chat would send Lingma (the tool
 * section the runtime adds included), so that a
 * client's context accounting matches what the gateway counts as usage.
 */
#include <stdlib.h>
#include <string.h>

#include "api/messages.h"
#include "gateway.h"

/* The gateway implements none of Anthropic's beta features (they change
 * the wire shape of answers it never produces), so every anthropic-beta
 * value is accepted, ignored, and left in the debug log. */
static void
log_betas(gw_app *app, gw_http_req *req, const gw_reqinfo *ri)
{
    const char *beta = gw_http_req_header(req, "anthropic-beta");
    if (!beta)
        return;
    gw_log_kv kv[] = {{"anthropic_beta", GW_LOG_STR, beta, 0, 0, false}};
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    f.request_id = ri->request_id;
    f.route = ri->route;
    f.extra = kv;
    f.n_extra = 1;
    gw_log_write(app->log, LINGMA_LOG_DEBUG, "anthropic-beta ignored", &f);
}

gw_http_action
gw_route_messages(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    log_betas(app, req, ri);
    return gw_route_chat(app, req, ri, &gw_fe_messages);
}

void
gw_route_count_tokens(gw_app *app, gw_http_req *req, gw_reqinfo *ri)
{
    log_betas(app, req, ri);
    size_t len;
    const char *body = gw_http_req_body(req, &len);
    gw_chat_request *creq = NULL;
    char *key = NULL, *prompt = NULL;
    gw_buf out = GW_BUF_INIT;
    gw_error e;
    uint64_t tokens = 0;
    int rc = gw_messages_parse(&creq, &e, body, len, true);
    /* The model must exist as it would for a chat (404 otherwise). */
    if (rc == 0)
        rc = gw_resolve_model(app, &key, &e, creq->model);
    if (rc == 0 && (gw_chat_request_prompt(&prompt, creq) != 0 ||
                    gw_question_tokens(&tokens, creq, prompt) != 0 ||
                    gw_anthropic_count(&out, (int64_t)tokens) != 0))
        rc = LINGMA_ENOMEM;
    if (rc == LINGMA_ENOMEM)
        gw_error_internal(&e);
    if (rc == 0)
        gw_respond_json(app, req, ri, 200, NULL, out.data, out.len, NULL);
    else
        gw_respond_error(app, req, ri, &e, NULL);
    gw_buf_free(&out);
    free(prompt);
    free(key);
    gw_chat_request_free(creq);
}
