/*
 * lingma-sim: JSON-RPC request dispatch (client -> simulator). The chat
 * engine lives in chat.c, login in login.c; everything here answers at
 * once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sessions.h"
#include "sim.h"

typedef json_t *(*method_fn)(struct sim_conn *c, json_t *params);

static json_t *
m_initialize(struct sim_conn *c, json_t *params)
{
    if (c->sim->cur.noisy) {
        lingma_rpc_notify(c->rpc, "window/logMessage",
                          json_pack("{s:i, s:s}", "type", 3, "message",
                                    "get mtree failed: workspacePath is empty"));
        lingma_rpc_notify(c->rpc, "telemetry/event",
                          json_pack("{s:s, s:s}", "name", "initialize", "version", SIM_VERSION));
    }
    return json_pack("{s:{s:{s:b, s:i}}, s:{s:s, s:s}, s:{}}", "capabilities", "textDocumentSync",
                     "openClose", 1, "change", 1, "serverInfo", "name", SIM_SERVER_NAME, "version",
                     SIM_VERSION, "experimental");
}

static json_t *
m_null(struct sim_conn *c, json_t *params)
{
    return json_null();
}

static json_t *
m_empty(struct sim_conn *c, json_t *params)
{
    return json_object();
}

static json_t *
m_ping(struct sim_conn *c, json_t *params)
{
    return json_pack("{s:b}", "success", 1);
}

static json_t *
m_auth_status(struct sim_conn *c, json_t *params)
{
    return sim_auth_status(c->sim);
}

static json_t *
m_logout(struct sim_conn *c, json_t *params)
{
    sim_logout(c->sim);
    return json_pack("{s:b}", "success", 1);
}

static json_t *
m_query_models(struct sim_conn *c, json_t *params)
{
    if (!sim_effective_logged_in(c->sim))
        return json_object();
    return json_deep_copy(c->sim->models.scenes);
}

static json_t *
m_get_endpoint(struct sim_conn *c, json_t *params)
{
    return json_pack("{s:s}", "endpoint", c->sim->endpoint ? c->sim->endpoint : "");
}

static json_t *
m_update_endpoint(struct sim_conn *c, json_t *params)
{
    const char *e = json_string_value(json_object_get(params, "endpoint"));
    char *copy = strdup(e ? e : "");
    if (copy) {
        free(c->sim->endpoint);
        c->sim->endpoint = copy;
    }
    return json_pack("{s:b}", "success", copy != NULL);
}

static json_t *
m_generate_url(struct sim_conn *c, json_t *params)
{
    return sim_login_generate_url(c->sim);
}

static json_t *
m_auth_callback(struct sim_conn *c, json_t *params)
{
    const char *nonce = json_string_value(json_object_get(params, "nonce"));
    if (sim_login_complete(c->sim, nonce, NULL))
        return json_pack("{s:b, s:s, s:s}", "success", 0, "errorCode", "400", "errorMsg",
                         "Invalid login nonce");
    return json_pack("{s:b, s:s, s:s}", "success", 1, "errorCode", "", "errorMsg", "");
}

static json_t *
m_list_sessions(struct sim_conn *c, json_t *params)
{
    return sim_sessions_list(c->sim->sessions);
}

static const char *
session_param(json_t *params)
{
    const char *id = json_string_value(json_object_get(params, "sessionId"));
    return id ? id : json_string_value(json_object_get(params, "id"));
}

static json_t *
m_get_session(struct sim_conn *c, json_t *params)
{
    json_t *s = sim_sessions_get(c->sim->sessions, session_param(params));
    return s ? s : json_null();
}

static json_t *
m_delete_session(struct sim_conn *c, json_t *params)
{
    sim_sessions_delete(c->sim->sessions, session_param(params));
    return json_null();
}

static json_t *
m_clear_sessions(struct sim_conn *c, json_t *params)
{
    sim_sessions_clear(c->sim->sessions);
    return json_null();
}

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"initialize", m_initialize},
    {"shutdown", m_null},
    {"ping", m_ping},
    {"auth/status", m_auth_status},
    {"auth/logout", m_logout},
    {"config/queryModels", m_query_models},
    {"config/getEndpoint", m_get_endpoint},
    {"config/updateEndpoint", m_update_endpoint},
    {"login/generateUrl", m_generate_url},
    {"login/auth_callback", m_auth_callback},
    {"chat/listAllSessions", m_list_sessions},
    {"chat/getSessionById", m_get_session},
    {"chat/deleteSessionById", m_delete_session},
    {"chat/clearAllSessions", m_clear_sessions},
};

/* Method families of the plugin's interface: anything else in them gets
 * {} (protocol notes §11.19); outside them a request is unknown (-32601). */
static const char *const plugin_prefixes[] = {
    "auth/",      "chat/",         "config/", "credit/", "dataPolicy/",
    "extension/", "ide/",          "login/",  "model/",  "session/",
    "snapshot/",  "textDocument/", "tool/",   "user/",   "workingSpaceFile/",
    "workspace/",
};

int
sim_on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    struct sim_conn *c = payload;
    if (!strcmp(method, "chat/ask"))
        return sim_chat_ask(c, id, params);
    if (!strcmp(method, "chat/stop")) {
        sim_chat_stop(c->sim, json_string_value(json_object_get(params, "requestId")));
        lingma_rpc_respond(rpc, id, json_object());
        return 0;
    }
    for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++) {
        if (!strcmp(method, methods[i].name)) {
            json_t *r = methods[i].fn(c, params);
            if (!r)
                return LINGMA_ENOMEM;
            lingma_rpc_respond(rpc, id, r);
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(plugin_prefixes) / sizeof(*plugin_prefixes); i++) {
        if (!strncmp(method, plugin_prefixes[i], strlen(plugin_prefixes[i]))) {
            lingma_rpc_respond(rpc, id, m_empty(c, params));
            return 0;
        }
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "method not found: %s", method);
    lingma_rpc_respond_error(rpc, id, LINGMA_RPC_METHOD_NOT_FOUND, msg);
    return 0;
}

void
sim_on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload)
{
    struct sim_conn *c = payload;
    if (!strcmp(method, "exit")) {
        /* LSP semantics: the server process ends. */
        sim_logf(&c->sim->log, "INFO", "exit notification: shutting down");
        sim_request_exit(c->sim, 0);
        return;
    }
    /* Real 2.11.1 logs "unknown method: initialized" and goes on. */
    if (strcmp(method, "initialized") && strcmp(method, "$/cancelRequest"))
        sim_logf(&c->sim->log, "DEBUG", "unknown method: %s", method);
}

void
sim_rpc_log(lingma_log_level level, const char *msg, void *payload)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    struct sim_conn *c = payload;
    if (level <= LINGMA_LOG_INFO)
        sim_logf(&c->sim->log, names[level], "rpc: %s", msg);
}
