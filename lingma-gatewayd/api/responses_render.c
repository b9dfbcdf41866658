/*
 * The Responses API's objects (see responses.h): the response object, its
 * output items and usage, as jansson values in the key order of OpenAI's
 * own answers. Built from gw_answer and the request's echo alone: no
 * clock, no random source.
 */
#include <stdio.h>
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"

void
gw_resp_item_id(char out[GW_RESP_ITEM_ID_SIZE], const char *prefix, const char *response_id)
{
    const char *u = strchr(response_id, '_');
    snprintf(out, GW_RESP_ITEM_ID_SIZE, "%s_%s", prefix, u ? u + 1 : response_id);
}

/* Set helper that remembers the first failure; json_object_set_new()
 * steals `v` even when it fails, so nothing leaks either way. */
static void
put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!obj || !v || json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static json_t *
done(json_t *v, bool ok)
{
    if (ok)
        return v;
    json_decref(v);
    return NULL;
}

static const char *
status_name(gw_resp_status st)
{
    switch (st) {
    case GW_RESP_COMPLETED:
        return "completed";
    case GW_RESP_INCOMPLETE:
        return "incomplete";
    case GW_RESP_FAILED:
        return "failed";
    case GW_RESP_IN_PROGRESS:
    default:
        return "in_progress";
    }
}

/* An output_text part; `text` NULL is the empty part of an announcement. */
static json_t *
output_text(const char *text, size_t len)
{
    bool ok = true;
    json_t *p = json_object();
    put(p, "type", json_string("output_text"), &ok);
    put(p, "annotations", json_array(), &ok);
    put(p, "logprobs", json_array(), &ok);
    put(p, "text", text ? gw_json_text(text, len) : json_string(""), &ok);
    return done(p, ok);
}

json_t *
gw_resp_message_item(const char *id, gw_resp_status st, const char *text, size_t len)
{
    bool ok = true;
    json_t *m = json_object(), *content = json_array();
    put(m, "id", json_string(id), &ok);
    put(m, "type", json_string("message"), &ok);
    put(m, "status", json_string(status_name(st)), &ok);
    if (text && content && json_array_append_new(content, output_text(text, len)) != 0)
        ok = false;
    put(m, "content", content, &ok);
    put(m, "role", json_string("assistant"), &ok);
    return done(m, ok);
}

json_t *
gw_resp_reasoning_item(const char *id, const char *text, size_t len)
{
    bool ok = true;
    json_t *r = json_object(), *summary = json_array();
    put(r, "id", json_string(id), &ok);
    put(r, "type", json_string("reasoning"), &ok);
    if (text && summary) {
        json_t *part = json_object();
        put(part, "type", json_string("summary_text"), &ok);
        put(part, "text", gw_json_text(text, len), &ok);
        if (!ok || json_array_append_new(summary, part) != 0)
            ok = false;
    }
    put(r, "summary", summary, &ok);
    return done(r, ok);
}

json_t *
gw_resp_function_call_item(const char *id, gw_resp_status st, const char *call_id, const char *name,
                           const char *arguments)
{
    bool ok = true;
    json_t *f = json_object();
    put(f, "id", json_string(id), &ok);
    put(f, "type", json_string("function_call"), &ok);
    put(f, "status", json_string(status_name(st)), &ok);
    put(f, "arguments", json_string(arguments ? arguments : ""), &ok);
    put(f, "call_id", json_string(call_id), &ok);
    put(f, "name", json_string(name), &ok);
    return done(f, ok);
}

json_t *
gw_resp_usage(const gw_usage *u)
{
    return json_pack("{s:I,s:{s:i},s:I,s:{s:I},s:I}", "input_tokens", (json_int_t)u->prompt_tokens,
                     "input_tokens_details", "cached_tokens", 0, "output_tokens",
                     (json_int_t)u->completion_tokens, "output_tokens_details", "reasoning_tokens",
                     (json_int_t)u->reasoning_tokens, "total_tokens",
                     (json_int_t)gw_usage_total(u));
}

/* The error object of a failed response: OpenAI's codes are few, and a
 * client (Codex) retries "rate_limit_exceeded" and "server_error". */
static json_t *
error_object(const gw_error *e)
{
    return json_pack("{s:s,s:s}", "code", e->status == 429 ? "rate_limit_exceeded" : "server_error",
                     "message", e->message);
}

/* Copy the echo member `key` (JSON null when the request had none). */
static void
put_echo(json_t *o, const json_t *echo, const char *key, bool *ok)
{
    json_t *v = json_object_get(echo, key);
    put(o, key, v ? json_incref(v) : json_null(), ok);
}

json_t *
gw_resp_object(const gw_answer *a, gw_resp_status st, const json_t *output, const gw_usage *usage,
               const gw_error *error)
{
    /* The request parameters a response repeats, around model and output
     * in OpenAI's order. */
    static const char *const before[] = {"instructions", "max_output_tokens", "max_tool_calls",
                                         NULL};
    static const char *const after[] = {"parallel_tool_calls",
                                        "previous_response_id",
                                        "prompt_cache_key",
                                        "reasoning",
                                        "safety_identifier",
                                        "service_tier",
                                        "store",
                                        "temperature",
                                        "text",
                                        "tool_choice",
                                        "tools",
                                        "top_logprobs",
                                        "top_p",
                                        "truncation",
                                        NULL};
    const gw_resp_request *x = gw_resp_request_of(a->req);
    const json_t *echo = x ? x->echo : NULL;
    bool ok = true;
    json_t *o = json_object();
    put(o, "id", json_string(a->id), &ok);
    put(o, "object", json_string("response"), &ok);
    put(o, "created_at", json_integer(a->created), &ok);
    put(o, "status", json_string(status_name(st)), &ok);
    put(o, "background", json_false(), &ok);
    put(o, "error", error ? error_object(error) : json_null(), &ok);
    put(o, "incomplete_details",
        st == GW_RESP_INCOMPLETE ? json_pack("{s:s}", "reason", "max_output_tokens") : json_null(),
        &ok);
    for (size_t i = 0; before[i]; i++)
        put_echo(o, echo, before[i], &ok);
    put(o, "model", json_string(a->model), &ok);
    put(o, "output", output ? json_incref((json_t *)output) : json_array(), &ok);
    for (size_t i = 0; after[i]; i++)
        put_echo(o, echo, after[i], &ok);
    put(o, "usage", usage ? gw_resp_usage(usage) : json_null(), &ok);
    put_echo(o, echo, "user", &ok);
    put_echo(o, echo, "metadata", &ok);
    return done(o, ok);
}
