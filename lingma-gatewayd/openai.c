/*
 * POST /v1/chat/completions request parsing and validation; see openai.h.
 *
 * Error messages follow OpenAI's wording (reqjson.c), and every error names
 * the offending parameter.
 * Unknown top-level parameters are ignored: clients send many optional
 * ones (seed, penalties, response_format, ...) that Lingma has no use for,
 * and refusing them would break those clients for no benefit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "openai.h"
#include "reqjson.h"
#include "toolset.h"

#define PARAM_MAX GW_ERROR_PARAM_MAX

/* ---- messages ------------------------------------------------------------ */

static const struct {
    const char *name;
    gw_role role;
} roles[] = {
    {"system", GW_ROLE_SYSTEM}, {"developer", GW_ROLE_DEVELOPER},
    {"user", GW_ROLE_USER},     {"assistant", GW_ROLE_ASSISTANT},
    {"tool", GW_ROLE_TOOL},     {"function", GW_ROLE_FUNCTION},
};

/* Content given as an array of parts: text parts are joined with "\n".
 * An assistant's "refusal" part counts as text; anything else (images,
 * audio, files) is refused, naming the part. */
static int
parse_parts(gw_message *m, const json_t *parts, size_t mi, gw_error *err)
{
    char p[PARAM_MAX];
    gw_buf b = GW_BUF_INIT;
    size_t i;
    json_t *part;
    int rc;
    json_array_foreach(parts, i, part)
    {
        gw_reqjson_param(p, "messages[%zu].content[%zu]", mi, i);
        if (!json_is_object(part)) {
            rc = gw_reqjson_bad_type(err, p, "an object", part);
            goto fail;
        }
        const json_t *type = json_object_get(part, "type");
        if (!type) {
            rc = gw_reqjson_missing(err,
                                    gw_reqjson_param(p, "messages[%zu].content[%zu].type", mi, i));
            goto fail;
        }
        if (!json_is_string(type)) {
            rc = gw_reqjson_bad_type(err,
                                     gw_reqjson_param(p, "messages[%zu].content[%zu].type", mi, i),
                                     "a string", type);
            goto fail;
        }
        const char *t = json_string_value(type);
        const char *field = NULL;
        if (strcmp(t, "text") == 0)
            field = "text";
        else if (strcmp(t, "refusal") == 0 && m->role == GW_ROLE_ASSISTANT)
            field = "refusal";
        if (!field) {
            rc = gw_reqjson_unsupported_part(err, p, t, "text parts");
            goto fail;
        }
        const json_t *text = json_object_get(part, field);
        gw_reqjson_param(p, "messages[%zu].content[%zu].%s", mi, i, field);
        if (!text) {
            rc = gw_reqjson_missing(err, p);
            goto fail;
        }
        if (!json_is_string(text)) {
            rc = gw_reqjson_bad_type(err, p, "a string", text);
            goto fail;
        }
        if ((i > 0 && gw_buf_append(&b, "\n", 1) != 0) ||
            gw_buf_append(&b, json_string_value(text), json_string_length(text)) != 0) {
            rc = gw_reqjson_oom(err);
            goto fail;
        }
    }
    if (gw_buf_reserve(&b, 0) != 0) {
        rc = gw_reqjson_oom(err);
        goto fail;
    }
    b.data[b.len] = '\0';
    m->content = gw_buf_detach(&b, NULL);
    return 0;
fail:
    gw_buf_free(&b);
    return rc;
}

/* One tool call: `fn` is the {name, arguments} object found under
 * prefix.field ("messages[1].tool_calls[0].function" or, for the legacy
 * form, "messages[1].function_call"). */
static int
parse_one_tool_call(gw_tool_call *tc, const json_t *fn, const json_t *id, const char *prefix,
                    const char *field, gw_error *err)
{
    char p[PARAM_MAX];
    if (!fn)
        return gw_reqjson_missing(err, gw_reqjson_param(p, "%s.%s", prefix, field));
    if (!json_is_object(fn))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.%s", prefix, field), "an object",
                                   fn);
    const json_t *name = json_object_get(fn, "name");
    const json_t *args = json_object_get(fn, "arguments");
    if (!name)
        return gw_reqjson_missing(err, gw_reqjson_param(p, "%s.%s.name", prefix, field));
    if (!json_is_string(name))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.%s.name", prefix, field),
                                   "a string", name);
    if (args && !json_is_string(args) && !json_is_null(args))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.%s.arguments", prefix, field),
                                   "a string", args);
    if (id && !json_is_string(id) && !json_is_null(id))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.id", prefix), "a string", id);
    if (gw_reqjson_dup(&tc->name, name, err) != 0)
        return LINGMA_ENOMEM;
    if (json_is_string(args) && gw_reqjson_dup(&tc->arguments, args, err) != 0)
        return LINGMA_ENOMEM;
    if (json_is_string(id) && gw_reqjson_dup(&tc->id, id, err) != 0)
        return LINGMA_ENOMEM;
    return 0;
}

/* An assistant turn's tool_calls, or the legacy function_call. */
static int
parse_tool_calls(gw_message *m, const json_t *msg, size_t mi, gw_error *err)
{
    char p[PARAM_MAX];
    const json_t *calls = json_object_get(msg, "tool_calls");
    const json_t *legacy = json_object_get(msg, "function_call");
    if (calls && !json_is_null(calls)) {
        if (!json_is_array(calls))
            return gw_reqjson_bad_type(err, gw_reqjson_param(p, "messages[%zu].tool_calls", mi),
                                       "an array", calls);
        size_t n = json_array_size(calls);
        if (n == 0)
            return 0;
        m->tool_calls = calloc(n, sizeof(*m->tool_calls));
        if (!m->tool_calls)
            return gw_reqjson_oom(err);
        for (size_t i = 0; i < n; i++) {
            const json_t *c = json_array_get(calls, i);
            gw_reqjson_param(p, "messages[%zu].tool_calls[%zu]", mi, i);
            if (!json_is_object(c))
                return gw_reqjson_bad_type(err, p, "an object", c);
            m->n_tool_calls++;
            int rc = parse_one_tool_call(&m->tool_calls[i], json_object_get(c, "function"),
                                         json_object_get(c, "id"), p, "function", err);
            if (rc != 0)
                return rc;
        }
    } else if (legacy && !json_is_null(legacy)) {
        m->tool_calls = calloc(1, sizeof(*m->tool_calls));
        if (!m->tool_calls)
            return gw_reqjson_oom(err);
        m->n_tool_calls = 1;
        return parse_one_tool_call(&m->tool_calls[0], legacy, NULL,
                                   gw_reqjson_param(p, "messages[%zu]", mi), "function_call", err);
    }
    return 0;
}

static int
parse_message(gw_message *m, const json_t *msg, size_t mi, gw_error *err)
{
    char p[PARAM_MAX];
    if (!json_is_object(msg))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "messages[%zu]", mi), "an object", msg);
    const json_t *role = json_object_get(msg, "role");
    if (!role)
        return gw_reqjson_missing(err, gw_reqjson_param(p, "messages[%zu].role", mi));
    if (!json_is_string(role))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "messages[%zu].role", mi), "a string",
                                   role);
    size_t r = 0;
    while (r < sizeof(roles) / sizeof(roles[0]) &&
           strcmp(roles[r].name, json_string_value(role)) != 0)
        r++;
    if (r == sizeof(roles) / sizeof(roles[0])) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value",
                     gw_reqjson_param(p, "messages[%zu].role", mi),
                     "Invalid value for 'messages[%zu].role': '%.64s'. Supported values are: "
                     "'system', 'developer', 'user', 'assistant', 'tool' and 'function'.",
                     mi, json_string_value(role));
        return LINGMA_EINVAL;
    }
    m->role = roles[r].role;

    int rc;
    if ((rc = gw_reqjson_string(&m->name, json_object_get(msg, "name"),
                                gw_reqjson_param(p, "messages[%zu].name", mi), err)) != 0)
        return rc;
    if ((rc = gw_reqjson_string(&m->tool_call_id, json_object_get(msg, "tool_call_id"),
                                gw_reqjson_param(p, "messages[%zu].tool_call_id", mi), err)) != 0)
        return rc;
    if (m->role == GW_ROLE_ASSISTANT && (rc = parse_tool_calls(m, msg, mi, err)) != 0)
        return rc;

    const json_t *content = json_object_get(msg, "content");
    gw_reqjson_param(p, "messages[%zu].content", mi);
    if (!content || json_is_null(content)) {
        /* Only an assistant turn may be content-less (it called tools). */
        if (m->role == GW_ROLE_ASSISTANT)
            return 0;
        return gw_reqjson_missing(err, p);
    }
    if (json_is_string(content))
        return gw_reqjson_dup(&m->content, content, err);
    if (json_is_array(content))
        return parse_parts(m, content, mi, err);
    return gw_reqjson_bad_type(err, p, "one of a string or an array of objects", content);
}

static int
parse_messages(gw_chat_request *r, const json_t *v, gw_error *err)
{
    if (!v)
        return gw_reqjson_missing(err, "messages");
    if (!json_is_array(v))
        return gw_reqjson_bad_type(err, "messages", "an array", v);
    size_t n = json_array_size(v);
    if (n == 0) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "empty_array", "messages",
                     "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                     "but got an empty array instead.");
        return LINGMA_EINVAL;
    }
    r->messages = calloc(n, sizeof(*r->messages));
    if (!r->messages)
        return gw_reqjson_oom(err);
    for (size_t i = 0; i < n; i++) {
        /* Count first so that free() sees the partly parsed message too. */
        r->n_messages++;
        int rc = parse_message(&r->messages[i], json_array_get(v, i), i, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- stop, tools and the ignored parameters ----------------------------- */

static int
add_stop(gw_chat_request *r, const json_t *s, const char *param, gw_error *err)
{
    if (!json_is_string(s))
        return gw_reqjson_bad_type(err, param, "a string", s);
    size_t n = json_string_length(s);
    if (n == 0)
        return 0; /* an empty stop sequence would match everywhere: ignore it */
    if (n > GW_OPENAI_MAX_STOP_LEN) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "string_above_max_length", param,
                     "Invalid '%s': string too long. Expected a string with maximum length %d, "
                     "but got a string with length %zu instead.",
                     param, GW_OPENAI_MAX_STOP_LEN, n);
        return LINGMA_EINVAL;
    }
    return gw_reqjson_dup(&r->stop[r->n_stop++], s, err);
}

static int
parse_stop(gw_chat_request *r, const json_t *v, gw_error *err)
{
    char p[PARAM_MAX];
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return add_stop(r, v, "stop", err);
    if (!json_is_array(v))
        return gw_reqjson_bad_type(err, "stop", "one of a string or an array of strings", v);
    if (json_array_size(v) > GW_OPENAI_MAX_STOP) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "array_above_max_length", "stop",
                     "Invalid 'stop': array too long. Expected an array with maximum length %d, "
                     "but got an array with length %zu instead.",
                     GW_OPENAI_MAX_STOP, json_array_size(v));
        return LINGMA_EINVAL;
    }
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        int rc = add_stop(r, s, gw_reqjson_param(p, "stop[%zu]", i), err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
parse_tools(gw_chat_request *r, const json_t *tools, const json_t *choice, gw_error *err)
{
    char p[PARAM_MAX];
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools))
            return gw_reqjson_bad_type(err, "tools", "an array", tools);
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
            if (!json_is_object(t))
                return gw_reqjson_bad_type(err, gw_reqjson_param(p, "tools[%zu]", i), "an object",
                                           t);
            const json_t *type = json_object_get(t, "type");
            if (!type)
                return gw_reqjson_missing(err, gw_reqjson_param(p, "tools[%zu].type", i));
            if (!json_is_string(type))
                return gw_reqjson_bad_type(err, gw_reqjson_param(p, "tools[%zu].type", i),
                                           "a string", type);
            if (strcmp(json_string_value(type), "function") != 0)
                continue;
            const json_t *fn = json_object_get(t, "function");
            if (!fn)
                return gw_reqjson_missing(err, gw_reqjson_param(p, "tools[%zu].function", i));
            if (!json_is_object(fn))
                return gw_reqjson_bad_type(err, gw_reqjson_param(p, "tools[%zu].function", i),
                                           "an object", fn);
            const json_t *name = json_object_get(fn, "name");
            if (!name)
                return gw_reqjson_missing(err, gw_reqjson_param(p, "tools[%zu].function.name", i));
            if (!json_is_string(name))
                return gw_reqjson_bad_type(err, gw_reqjson_param(p, "tools[%zu].function.name", i),
                                           "a string", name);
        }
        r->tools = json_incref((json_t *)tools);
        r->n_tools = json_array_size(tools);
    }
    if (choice && !json_is_null(choice)) {
        if (json_is_string(choice)) {
            const char *c = json_string_value(choice);
            if (strcmp(c, "none") != 0 && strcmp(c, "auto") != 0 && strcmp(c, "required") != 0) {
                gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", "tool_choice",
                             "Invalid value for 'tool_choice': '%.64s'. Supported values are: "
                             "'none', 'auto' and 'required', or an object naming a function.",
                             c);
                return LINGMA_EINVAL;
            }
        } else if (!json_is_object(choice)) {
            return gw_reqjson_bad_type(err, "tool_choice", "one of a string or an object", choice);
        }
        r->tool_choice = json_incref((json_t *)choice);
    }
    return 0;
}

/* The toolset of the chat options, its refusals named the OpenAI way. */
static int
offer_tools(gw_chat_request *r, gw_error *err)
{
    static const gw_tool_names names = {false, "function.name", "function.parameters",
                                        "tool_choice", SIZE_MAX};
    gw_tool_refusal why;
    int rc = gw_chat_request_tools(r, &names, &why);
    if (rc == LINGMA_EINVAL)
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", why.param,
                     "Invalid '%s': %s", why.param, why.message);
    return rc == LINGMA_ENOMEM ? gw_reqjson_oom(err) : rc;
}

/* Parameters we do not act on but whose type a client can still get wrong;
 * checking them catches a confused client early with a clear message. */
static int
check_ignored(const json_t *root, gw_error *err)
{
    static const struct {
        const char *name;
        json_type type; /* JSON_REAL: any number; JSON_TRUE: a boolean */
        double min, max;
    } ignored[] = {
        {"presence_penalty", JSON_REAL, -2, 2},
        {"frequency_penalty", JSON_REAL, -2, 2},
        {"seed", JSON_INTEGER, -1e300, 1e300},
        {"logprobs", JSON_TRUE, 0, 0},
        {"top_logprobs", JSON_INTEGER, 0, 20},
        {"response_format", JSON_OBJECT, 0, 0},
        {"logit_bias", JSON_OBJECT, 0, 0},
        {"metadata", JSON_OBJECT, 0, 0},
        {"store", JSON_TRUE, 0, 0},
    };
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        const char *name = ignored[i].name;
        const json_t *v = json_object_get(root, name);
        if (!v || json_is_null(v))
            continue;
        int rc = 0;
        switch (ignored[i].type) {
        case JSON_REAL:
            rc =
                gw_reqjson_number(NULL, &(double){0}, v, name, ignored[i].min, ignored[i].max, err);
            break;
        case JSON_INTEGER:
            if (!json_is_integer(v))
                rc = gw_reqjson_bad_type(err, name, "an integer", v);
            else
                rc = gw_reqjson_number(NULL, &(double){0}, v, name, ignored[i].min, ignored[i].max,
                                       err);
            break;
        case JSON_TRUE:
            rc = gw_reqjson_bool(&(bool){false}, v, name, err);
            break;
        default:
            if (!json_is_object(v))
                rc = gw_reqjson_bad_type(err, name, "an object", v);
            break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
parse_root(gw_chat_request *r, const json_t *root, gw_error *err)
{
    int rc;
    const json_t *model = json_object_get(root, "model");
    if (model && !json_is_null(model)) {
        if (!json_is_string(model))
            return gw_reqjson_bad_type(err, "model", "a string", model);
        if (json_string_length(model) == 0) {
            gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", "model",
                         "Invalid 'model': empty string. Omit it or pass \"auto\" for the default "
                         "model.");
            return LINGMA_EINVAL;
        }
        if ((rc = gw_reqjson_dup(&r->model, model, err)) != 0)
            return rc;
    }
    if ((rc = parse_messages(r, json_object_get(root, "messages"), err)) != 0)
        return rc;
    if ((rc = gw_reqjson_bool(&r->stream, json_object_get(root, "stream"), "stream", err)) != 0)
        return rc;
    const json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        /* Accepted without stream too (and then unused): some clients always
         * send it, and refusing would gain nothing. */
        if (!json_is_object(so))
            return gw_reqjson_bad_type(err, "stream_options", "an object", so);
        if ((rc = gw_reqjson_bool(&r->include_usage, json_object_get(so, "include_usage"),
                                  "stream_options.include_usage", err)) != 0)
            return rc;
    }
    if ((rc = gw_reqjson_string(&r->user, json_object_get(root, "user"), "user", err)) != 0)
        return rc;

    bool has = false;
    json_int_t i = 0;
    if ((rc = gw_reqjson_int(&has, &i, json_object_get(root, "max_tokens"), "max_tokens", 1,
                             err)) != 0)
        return rc;
    if (has)
        r->max_tokens = i;
    has = false;
    if ((rc = gw_reqjson_int(&has, &i, json_object_get(root, "max_completion_tokens"),
                             "max_completion_tokens", 1, err)) != 0)
        return rc;
    if (has)
        r->max_tokens = i; /* the newer name wins, as in OpenAI's API */

    if ((rc = gw_reqjson_number(&r->has_temperature, &r->temperature,
                                json_object_get(root, "temperature"), "temperature", 0, 2, err)) !=
        0)
        return rc;
    if ((rc = gw_reqjson_number(&r->has_top_p, &r->top_p, json_object_get(root, "top_p"), "top_p",
                                0, 1, err)) != 0)
        return rc;

    has = false;
    if ((rc = gw_reqjson_int(&has, &i, json_object_get(root, "n"), "n", 1, err)) != 0)
        return rc;
    if (has && i != 1) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "unsupported_value", "n",
                     "Invalid 'n': only n=1 is supported; this gateway returns one choice per "
                     "request.");
        return LINGMA_EINVAL;
    }
    if ((rc = parse_stop(r, json_object_get(root, "stop"), err)) != 0)
        return rc;
    if ((rc = parse_tools(r, json_object_get(root, "tools"), json_object_get(root, "tool_choice"),
                          err)) != 0)
        return rc;
    bool parallel = true;
    if ((rc = gw_reqjson_bool(&parallel, json_object_get(root, "parallel_tool_calls"),
                              "parallel_tool_calls", err)) != 0)
        return rc;
    r->single_tool_call = !parallel;
    if ((rc = check_ignored(root, err)) != 0)
        return rc;
    return offer_tools(r, err);
}

int
gw_chat_request_parse(gw_chat_request **out, gw_error *err, const char *body, size_t len)
{
    *out = NULL;
    json_t *root;
    int rc = gw_reqjson_load(&root, err, body, len);
    if (rc != 0)
        return rc;
    gw_chat_request *r = calloc(1, sizeof(*r));
    if (!r) {
        json_decref(root);
        return gw_reqjson_oom(err);
    }
    r->show_reasoning = true; /* reasoning_content is always sent */
    rc = parse_root(r, root, err);
    json_decref(root);
    if (rc != 0) {
        gw_chat_request_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void
gw_chat_request_free(gw_chat_request *req)
{
    if (!req)
        return;
    free(req->model);
    for (size_t i = 0; i < req->n_messages; i++) {
        gw_message *m = &req->messages[i];
        free(m->content);
        free(m->name);
        free(m->tool_call_id);
        for (size_t j = 0; j < m->n_tool_calls; j++) {
            free(m->tool_calls[j].id);
            free(m->tool_calls[j].name);
            free(m->tool_calls[j].arguments);
        }
        free(m->tool_calls);
    }
    free(req->messages);
    free(req->user);
    for (size_t i = 0; i < req->n_stop; i++)
        free(req->stop[i]);
    if (req->extra_free)
        req->extra_free(req->extra);
    json_decref(req->tools);
    json_decref(req->tool_choice);
    lingma_toolset_free(req->toolset);
    free(req->tool_name);
    free(req);
}
