/* Test helper: recording JSON-RPC peer of lingma-sim, see simclient.h. */
#include "simclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    struct simc *c = payload;
    json_array_append_new(c->events, json_pack("{s:s, s:s, s:O?}", "kind", "request", "method",
                                               method, "params", params));
    switch (c->ack) {
    case SIMC_ACK_TRUE:
        lingma_rpc_respond(rpc, id, json_true());
        return 0;
    case SIMC_ACK_NULL:
        return 0;
    default:
        return LINGMA_RPC_DEFER; /* and never answer */
    }
}

static void
on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload)
{
    struct simc *c = payload;
    json_array_append_new(c->events, json_pack("{s:s, s:s, s:O?}", "kind", "notification", "method",
                                               method, "params", params));
}

struct simc *
simc_connect(struct wsc_ctx *ctx, int port, const char *path)
{
    struct simc *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->events = json_array();
    c->results = json_object();
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    o.on_request = on_request;
    o.on_notification = on_notification;
    o.payload = c;
    if (lingma_rpc_new(&c->rpc, &o) || !(c->ws = wsc_connect(ctx, port, path, 5000))) {
        simc_free(c);
        return NULL;
    }
    wsc_attach_rpc(c->ws, c->rpc);
    return c;
}

void
simc_free(struct simc *c)
{
    if (!c)
        return;
    wsc_close(c->ws);
    lingma_rpc_free(c->rpc);
    json_decref(c->events);
    json_decref(c->results);
    free(c);
}

struct call_ctx {
    struct simc *c;
    long long id;
};

static void
on_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct call_ctx *cc = payload;
    char key[32];
    snprintf(key, sizeof(key), "%lld", cc->id);
    json_t *o;
    if (status == 0)
        o = json_pack("{s:O}", "result", result);
    else if (status == LINGMA_ERPC)
        o = json_pack("{s:{s:i, s:s}}", "error", "code", err->code, "message", err->message);
    else
        o = json_pack("{s:i}", "status", status);
    json_object_set_new(cc->c->results, key, o);
    free(cc);
}

int
simc_call_async(struct simc *c, const char *method, json_t *params, long long *id)
{
    struct call_ctx *cc = calloc(1, sizeof(*cc));
    int64_t rid;
    if (!cc) {
        json_decref(params);
        return -1;
    }
    cc->c = c;
    /* The id is only known after the call; the callback cannot run before
     * the session receives bytes, so filling it in afterwards is safe. */
    if (lingma_rpc_call(c->rpc, &rid, method, params, 0, on_response, cc)) {
        free(cc);
        return -1;
    }
    cc->id = rid;
    if (id)
        *id = rid;
    wsc_kick(c->ws);
    return 0;
}

json_t *
simc_outcome(struct simc *c, long long id)
{
    char key[32];
    snprintf(key, sizeof(key), "%lld", id);
    return json_object_get(c->results, key);
}

struct outcome_wait {
    struct simc *c;
    long long id;
};

static bool
outcome_ready(void *p)
{
    struct outcome_wait *w = p;
    return simc_outcome(w->c, w->id) != NULL || wsc_closed(w->c->ws);
}

int
simc_wait_outcome(struct simc *c, long long id, int timeout_ms)
{
    struct outcome_wait w = {c, id};
    wsc_kick(c->ws);
    wsc_wait(wsc_context(c->ws), timeout_ms, outcome_ready, &w);
    return simc_outcome(c, id) ? 0 : -1;
}

int
simc_call(struct simc *c, const char *method, json_t *params, json_t **result, int *code,
          int timeout_ms)
{
    long long id;
    if (result)
        *result = NULL;
    if (simc_call_async(c, method, params, &id) || simc_wait_outcome(c, id, timeout_ms))
        return -1;
    json_t *o = simc_outcome(c, id);
    json_t *err = json_object_get(o, "error");
    if (err) {
        if (code)
            *code = (int)json_integer_value(json_object_get(err, "code"));
        return LINGMA_ERPC;
    }
    if (!json_object_get(o, "result"))
        return -1;
    if (result)
        *result = json_incref(json_object_get(o, "result"));
    return 0;
}

int
simc_find(const struct simc *c, const char *method, const char *rid, int from)
{
    for (size_t i = (size_t)(from < 0 ? 0 : from); i < json_array_size(c->events); i++) {
        json_t *e = json_array_get(c->events, i);
        if (strcmp(json_string_value(json_object_get(e, "method")), method))
            continue;
        if (rid) {
            const char *r =
                json_string_value(json_object_get(json_object_get(e, "params"), "requestId"));
            if (!r || strcmp(r, rid))
                continue;
        }
        return (int)i;
    }
    return -1;
}

int
simc_count(const struct simc *c, const char *method, const char *rid)
{
    int n = 0;
    for (int i = simc_find(c, method, rid, 0); i >= 0; i = simc_find(c, method, rid, i + 1))
        n++;
    return n;
}

struct event_wait {
    struct simc *c;
    const char *method, *rid;
};

static bool
event_seen(void *p)
{
    struct event_wait *w = p;
    return simc_find(w->c, w->method, w->rid, 0) >= 0 || wsc_closed(w->c->ws);
}

json_t *
simc_wait_event(struct simc *c, const char *method, const char *rid, int timeout_ms)
{
    struct event_wait w = {c, method, rid};
    wsc_wait(wsc_context(c->ws), timeout_ms, event_seen, &w);
    int i = simc_find(c, method, rid, 0);
    return i < 0 ? NULL : json_object_get(json_array_get(c->events, (size_t)i), "params");
}

char *
simc_answer_text(const struct simc *c, const char *rid)
{
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (int i = simc_find(c, "chat/answer", rid, 0); i >= 0;
         i = simc_find(c, "chat/answer", rid, i + 1)) {
        json_t *t = json_object_get(json_object_get(json_array_get(c->events, (size_t)i), "params"),
                                    "text");
        size_t n = json_string_length(t);
        if (len + n + 1 > cap) {
            while (len + n + 1 > cap)
                cap *= 2;
            char *p = realloc(out, cap);
            if (!p) {
                free(out);
                return NULL;
            }
            out = p;
        }
        memcpy(out + len, json_string_value(t), n);
        len += n;
        out[len] = '\0';
    }
    return out;
}

json_t *
simc_ask_params(const char *rid, const char *question, const char *session_id, const char *model)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:b, s:s, s:s, s:{s:s, s:s}, "
                     "s:{s:{s:s}}}",
                     "requestId", rid, "sessionId", session_id ? session_id : "", "sessionType",
                     "chat", "chatTask", "FREE_INPUT", "mode", "chat", "stream", 1, "source", 1,
                     "isReply", 0, "questionText", question, "taskDefinitionType", "",
                     "chatContext", "text", question, "preferredLanguage", "en", "extra",
                     "modelConfig", "key", model ? model : "auto");
}

void
simc_pump(struct wsc_ctx *ctx, int timeout_ms)
{
    wsc_wait(ctx, timeout_ms, NULL, NULL);
}
