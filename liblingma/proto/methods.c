/* Every Lingma method and push liblingma uses; see methods.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "methods.h"

static const char *
str_member(const json_t *obj, const char *key, size_t *len)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

/* ---- methods we call ---- */

json_t *
lingma__method_no_params(void)
{
    return json_object();
}

json_t *
lingma__method_initialize(long pid, const char *client_version, const char *work_dir,
                          const char *name)
{
    char uri[4200];

    snprintf(uri, sizeof(uri), "file://%s", work_dir);
    json_t *params =
        json_pack("{s:i, s:{s:s, s:s}, s:s, s:{}, s:[{s:s, s:s}]}", "processId", (int)pid,
                  "clientInfo", "name", "liblingma", "version", client_version, "rootUri", uri,
                  "capabilities", "workspaceFolders", "uri", uri, "name", name);
    if (!params)
        params = json_object(); /* a work dir that is not UTF-8: {} works too */
    return params;
}

bool
lingma__method_ask_prompt_ok(const char *prompt)
{
    /* json_string() validates UTF-8 like the json_pack() of the ask does. */
    json_t *probe = json_string(prompt);
    if (!probe)
        return false;
    json_decref(probe);
    return true;
}

json_t *
lingma__method_ask(const struct lingma__ask_spec *spec)
{
    int agent = spec->mode == LINGMA_ASK_AGENT;
    const char *model = spec->model && *spec->model ? spec->model : "auto";
    const char *session = spec->session_id ? spec->session_id : "";

    /* json_pack's "s" validates UTF-8: a bad prompt fails here, not upstream. */
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:b, s:s, s:s, s:s, s:s, s:s, s:n,"
                     " s:{s:b}, s:{s:s, s:s, s:s}, s:{s:{s:s}}}",
                     "requestId", spec->request_id, "sessionId", session, "chatTask", "FREE_INPUT",
                     "sessionType", agent ? "developer" : "chat", "mode", agent ? "agent" : "chat",
                     "stream", 1, "source", 1, "isReply", 0, "taskDefinitionType", "",
                     "questionText", spec->prompt, "codeLanguage", "", "shellType", "",
                     "targetAgent", "", "customModel", "pluginPayloadConfig", "isEnableAutoMemory",
                     0, "chatContext", "text", spec->prompt, "preferredLanguage", "en",
                     "localeLang", "en", "extra", "modelConfig", "key", model);
}

void
lingma__method_hex_id(char out[33], const unsigned char rnd[16])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[32] = '\0';
}

int
lingma__method_ask_result(const json_t *result, const char **why)
{
    const json_t *ok = json_object_get(result, "success");

    if (!ok)
        ok = json_object_get(result, "isSuccess");
    *why = json_string_value(json_object_get(result, "errorMessage"));
    return json_is_false(ok) ? LINGMA_ERPC : 0;
}

json_t *
lingma__method_stop(const char *request_id, const char *session_id)
{
    return json_pack("{s:s, s:s}", "requestId", request_id, "sessionId",
                     session_id ? session_id : "");
}

json_t *
lingma__method_delete_session(const char *session_id)
{
    return json_pack("{s:s}", "sessionId", session_id);
}

json_t *
lingma__method_login_url(void)
{
    return json_pack("{s:s}", "loginDedicatedType", "");
}

json_t *
lingma__method_update_endpoint(const char *endpoint)
{
    return json_pack("{s:s}", "endpoint", endpoint);
}

int
lingma__method_auth(const json_t *v, int *status, const char **name)
{
    const json_t *st = json_object_get(v, "status");

    if (!json_is_integer(st))
        return LINGMA_EPROTO;
    *status = (int)json_integer_value(st);
    if (name) {
        *name = str_member(v, "name", NULL);
        if (!*name)
            *name = "";
    }
    return 0;
}

int
lingma__method_login_url_result(const json_t *result, const char **url, const char **why)
{
    *url = str_member(result, "loginUrl", NULL);
    *why = str_member(result, "errorMsg", NULL);
    if (!*url)
        return LINGMA_EPROTO;
    return json_is_false(json_object_get(result, "success")) ? LINGMA_ERPC : 0;
}

int
lingma__method_endpoint_result(const json_t *result, const char **endpoint)
{
    *endpoint = str_member(result, "endpoint", NULL);
    return *endpoint ? 0 : LINGMA_EPROTO;
}

int
lingma__method_update_endpoint_result(const json_t *result, const json_t *params,
                                      const char **endpoint)
{
    *endpoint = NULL;
    if (json_is_false(json_object_get(result, "success")))
        return LINGMA_ERPC;
    /* Lingma answers {"success": true}: the endpoint is the one we sent. */
    *endpoint = str_member(params, "endpoint", NULL);
    return *endpoint ? 0 : LINGMA_EPROTO;
}

static char *
xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static void
models_add(lingma_model_list *l, size_t *cap, const char *scene, const json_t *item)
{
    const char *key = str_member(item, "key", NULL);
    if (!key)
        key = str_member(item, "id", NULL);
    if (!key)
        return;
    if (l->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        lingma_model *nm = realloc(l->models, ncap * sizeof(*nm));
        if (!nm)
            return;
        l->models = nm;
        *cap = ncap;
    }
    const char *name = str_member(item, "displayName", NULL);
    lingma_model *m = &l->models[l->count];
    m->scene = xstrdup(scene);
    m->key = xstrdup(key);
    m->display_name = xstrdup(name ? name : key);
    m->reasoning = json_is_true(json_object_get(item, "isReasoning"));
    m->vision = json_is_true(json_object_get(item, "isVl"));
    if (!m->scene || !m->key || !m->display_name) {
        free(m->scene);
        free(m->key);
        free(m->display_name);
        return;
    }
    l->count++;
}

int
lingma__method_models_result(const json_t *result, lingma_model_list *out)
{
    size_t cap = 0;
    const char *scene;
    json_t *items;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(result))
        return LINGMA_EPROTO;
    json_object_foreach((json_t *)result, scene, items)
    {
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) models_add(out, &cap, scene, item);
    }
    return 0;
}

void
lingma__method_models_clear(lingma_model_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->models[i].scene);
        free(l->models[i].key);
        free(l->models[i].display_name);
    }
    free(l->models);
    l->models = NULL;
    l->count = 0;
}

/* ---- pushes Lingma sends ---- */

json_t *
lingma__method_ack(void)
{
    return json_true();
}

enum lingma__push
lingma__push_kind(const char *method)
{
    static const struct {
        const char *method;
        enum lingma__push kind;
    } pushes[] = {
        {"chat/answer", LINGMA__PUSH_ANSWER},
        {"chat/finish", LINGMA__PUSH_FINISH},
        {"chat/think", LINGMA__PUSH_THINK},
        {"chat/process_step_callback", LINGMA__PUSH_STEP},
        {"auth/report", LINGMA__PUSH_AUTH_REPORT},
        {"context/usage/sync", LINGMA__PUSH_USAGE},
        {"tool/invoke", LINGMA__PUSH_TOOL_INVOKE},
    };

    for (size_t i = 0; i < sizeof(pushes) / sizeof(pushes[0]); i++)
        if (strcmp(method, pushes[i].method) == 0)
            return pushes[i].kind;
    return LINGMA__PUSH_OTHER;
}

void
lingma__method_tool_invoke(struct lingma__tool_invoke *out, const json_t *params)
{
    out->request_id = str_member(params, "requestId", NULL);
    out->tool_call_id = str_member(params, "toolCallId", NULL);
    out->name = str_member(params, "name", NULL);
    if (!out->request_id)
        out->request_id = "";
    if (!out->tool_call_id)
        out->tool_call_id = "";
    if (!out->name)
        out->name = "";
}

json_t *
lingma__method_tool_invoke_refusal(const struct lingma__tool_invoke *ti, const char *why,
                                   int64_t start_ms)
{
    /* The plugin's ToolInvokeResponse (lingma-protocol.md section 6.2). */
    return json_pack("{s:s, s:s, s:b, s:s, s:n, s:I, s:i}", "toolCallId", ti->tool_call_id, "name",
                     ti->name, "success", 0, "errorMessage", why, "result", "startTime",
                     (json_int_t)start_ms, "timeConsuming", 0);
}

int
lingma__method_answer(struct lingma__answer *out, const json_t *params)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(params) || !(out->request_id = str_member(params, "requestId", NULL)))
        return LINGMA_EPROTO;
    out->session_id = str_member(params, "sessionId", NULL);
    /* Real Lingma sends `text`; the original gateway also read `content`. */
    out->text = str_member(params, "text", &out->len);
    if (!out->text)
        out->text = str_member(params, "content", &out->len);
    if (!out->text) {
        out->text = "";
        out->len = 0;
    }
    return 0;
}

int
lingma__method_finish(struct lingma__finish *out, const json_t *params)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(params) || !(out->request_id = str_member(params, "requestId", NULL)))
        return LINGMA_EPROTO;
    out->session_id = str_member(params, "sessionId", NULL);
    out->status_code = 200;
    const json_t *sc = json_object_get(params, "statusCode");
    if (json_is_integer(sc))
        out->status_code = (int)json_integer_value(sc);
    else if (json_is_string(sc) && *json_string_value(sc))
        out->status_code = (int)strtol(json_string_value(sc), NULL, 10);
    out->reason = str_member(params, "reason", NULL);
    if (!out->reason)
        out->reason = "";
    out->full_answer = str_member(params, "fullAnswer", &out->full_answer_len);
    if (!out->full_answer) {
        out->full_answer = "";
        out->full_answer_len = 0;
    }
    lingma__method_usage(&out->usage, json_object_get(params, "extra"));
    return 0;
}

static int
uint_member(const json_t *obj, const char *a, const char *b, uint64_t *out)
{
    const json_t *v = json_object_get(obj, a);

    if (!v && b)
        v = json_object_get(obj, b);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v) && json_real_value(v) >= 0) {
        *out = (uint64_t)json_real_value(v);
        return 1;
    }
    return 0;
}

void
lingma__method_usage(lingma_usage *out, const json_t *obj)
{
    if (!json_is_object(obj))
        return;
    const json_t *nested = json_object_get(obj, "usage");
    if (!json_is_object(nested))
        nested = json_object_get(obj, "tokenUsage");
    if (json_is_object(nested))
        obj = nested;
    int found = 0;
    found |= uint_member(obj, "prompt_tokens", "promptTokens", &out->prompt_tokens);
    found |= uint_member(obj, "completion_tokens", "completionTokens", &out->completion_tokens);
    found |= uint_member(obj, "total_tokens", "totalTokens", &out->total_tokens);
    if (found) {
        out->present = 1;
        if (!out->total_tokens)
            out->total_tokens = out->prompt_tokens + out->completion_tokens;
    }
}

void
lingma__method_context_usage(lingma_usage *out, const json_t *params)
{
    memset(out, 0, sizeof(*out));
    lingma__method_usage(out, params);
    if (!out->present) {
        const json_t *used = json_object_get(params, "usedTokens");
        if (json_is_integer(used)) {
            out->present = 1;
            out->prompt_tokens = (uint64_t)json_integer_value(used);
            out->total_tokens = out->prompt_tokens;
        }
    }
}

const char *
lingma__method_request_id(const json_t *params)
{
    return json_is_object(params) ? str_member(params, "requestId", NULL) : NULL;
}

const char *
lingma__method_session_id(const json_t *params)
{
    return json_is_object(params) ? str_member(params, "sessionId", NULL) : NULL;
}

int
lingma__method_is_step_end(const json_t *params)
{
    const char *step = json_is_object(params) ? str_member(params, "step", NULL) : NULL;
    return step && strcmp(step, "step_end") == 0;
}
