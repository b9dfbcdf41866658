/*
 * POST /v1/responses request parsing and validation (see responses.h).
 *
 * The request becomes the shared model: `instructions` a system message
 * first, then the stored conversation that previous_response_id names
 * (each earlier response's input items and output items, oldest first),
 * then this request's input; max_output_tokens the gateway-enforced limit;
 * prompt_cache_key (else user) the affinity key. Tools of every type are
 * validated and kept, function and custom tools normalised to the Chat
 * Completions shape so that the tool emulation reads one shape whatever
 * the API. What the response object repeats goes to gw_resp_request.echo.
 *
 * Unknown top-level parameters are ignored, as for Chat Completions; the
 * two that would change the meaning of a request if ignored (a stored
 * `conversation`, `background` mode) and stored `prompt` templates are
 * refused.
 */
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"
#include "reqjson.h"
#include "toolset.h"

#define PARAM_MAX GW_ERROR_PARAM_MAX

/* OpenAI's metadata limits. */
#define METADATA_MAX_KEYS  16
#define METADATA_KEY_MAX   64
#define METADATA_VALUE_MAX 512

static void
resp_request_free(void *p)
{
    gw_resp_request *x = p;
    if (!x)
        return;
    free(x->previous_response_id);
    json_decref(x->input);
    json_decref(x->echo);
    free(x);
}

const gw_resp_request *
gw_resp_request_of(const gw_chat_request *req)
{
    return req && req->extra_free == resp_request_free ? req->extra : NULL;
}

static int
invalid_value(gw_error *err, const char *param, const char *detail)
{
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", param,
                 "Invalid value for '%s': %s", param, detail);
    return LINGMA_EINVAL;
}

/* Keep `v` (borrowed) in the echo under `key`, or `dflt` (stolen) when v
 * is absent or null. */
static int
echo(gw_resp_request *x, const char *key, const json_t *v, json_t *dflt, gw_error *err)
{
    json_t *val = v && !json_is_null(v) ? json_incref((json_t *)v) : dflt;
    if (val != dflt)
        json_decref(dflt);
    if (!val || json_object_set_new(x->echo, key, val) != 0)
        return gw_reqjson_oom(err);
    return 0;
}

/* An optional member of type `want` (JSON_TRUE: a boolean, JSON_REAL: a
 * number), checked and echoed. */
static int
typed(gw_resp_request *x, const json_t *root, const char *key, json_type want, json_t *dflt,
      gw_error *err)
{
    const json_t *v = json_object_get(root, key);
    if (v && !json_is_null(v)) {
        bool ok = want == JSON_TRUE   ? json_is_boolean(v)
                  : want == JSON_REAL ? json_is_number(v)
                                      : json_typeof(v) == want;
        if (!ok) {
            json_decref(dflt);
            static const char *const names[] = {
                [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
                [JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
                [JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean"};
            return gw_reqjson_bad_type(err, key, names[want], v);
        }
    }
    return echo(x, key, v, dflt, err);
}

/* ---- tools ---------------------------------------------------------------- */

/* {"type":T,T:{name, and whichever of `keys` the tool has}}: the Chat
 * Completions shape of a Responses function or custom tool. */
static json_t *
nested(const char *type, const json_t *tool, const char *const *keys)
{
    json_t *inner = json_object(), *outer = json_object();
    bool ok = inner && outer && json_object_set_new(outer, "type", json_string(type)) == 0;
    for (size_t i = 0; ok && keys[i]; i++) {
        json_t *v = json_object_get(tool, keys[i]);
        if (v && !json_is_null(v))
            ok = json_object_set(inner, keys[i], v) == 0;
    }
    if (ok && json_object_set(outer, type, inner) == 0) {
        json_decref(inner);
        return outer;
    }
    json_decref(inner);
    json_decref(outer);
    return NULL;
}

int
gw_resp_tool_add(json_t *norm, const json_t *t, const char *where, gw_error *err)
{
    static const char *const fn_keys[] = {"name", "description", "parameters", "strict", NULL};
    static const char *const custom_keys[] = {"name", "description", "format", NULL};
    char p[PARAM_MAX];
    if (!json_is_object(t))
        return gw_reqjson_bad_type(err, where, "an object", t);
    const json_t *type = json_object_get(t, "type");
    gw_reqjson_param(p, "%s.type", where);
    if (!type)
        return gw_reqjson_missing(err, p);
    if (!json_is_string(type))
        return gw_reqjson_bad_type(err, p, "a string", type);
    const char *ty = json_string_value(type);
    bool fn = strcmp(ty, "function") == 0, custom = strcmp(ty, "custom") == 0;
    json_t *n = NULL;
    if (fn || custom) {
        const json_t *name = json_object_get(t, "name");
        gw_reqjson_param(p, "%s.name", where);
        if (!name)
            return gw_reqjson_missing(err, p);
        if (!json_is_string(name))
            return gw_reqjson_bad_type(err, p, "a string", name);
        const json_t *params = json_object_get(t, "parameters");
        if (fn && params && !json_is_null(params) && !json_is_object(params))
            return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.parameters", where),
                                       "an object", params);
        n = nested(ty, t, fn ? fn_keys : custom_keys);
    } else {
        /* local_shell, shell, apply_patch, web_search, file_search, mcp,
         * namespace, ...: kept as sent (echoed), not offered to Lingma
         * (toolset.c). */
        n = json_incref((json_t *)t);
    }
    if (!n || json_array_append_new(norm, n) != 0)
        return gw_reqjson_oom(err);
    return 0;
}

static int
parse_tools(gw_chat_request *r, gw_resp_request *x, const json_t *tools, gw_error *err)
{
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools))
            return gw_reqjson_bad_type(err, "tools", "an array", tools);
        if (!(r->tools = json_array()))
            return gw_reqjson_oom(err);
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
            char p[PARAM_MAX];
            int rc = gw_resp_tool_add(r->tools, t, gw_reqjson_param(p, "tools[%zu]", i), err);
            if (rc != 0)
                return rc;
        }
        r->n_tools = json_array_size(tools);
    }
    return echo(x, "tools", tools, json_array(), err);
}

/* tool_choice: "none", "auto", "required", or an object with a `type`
 * (a named function or custom tool needs its `name`). */
static int
parse_tool_choice(gw_chat_request *r, gw_resp_request *x, const json_t *c, gw_error *err)
{
    if (c && !json_is_null(c)) {
        if (json_is_string(c)) {
            const char *s = json_string_value(c);
            if (strcmp(s, "none") != 0 && strcmp(s, "auto") != 0 && strcmp(s, "required") != 0)
                return invalid_value(err, "tool_choice",
                                     "supported values are 'none', 'auto' and 'required', or an "
                                     "object naming a tool.");
            r->tool_choice = json_incref((json_t *)c);
        } else if (json_is_object(c)) {
            const json_t *type = json_object_get(c, "type");
            if (!type)
                return gw_reqjson_missing(err, "tool_choice.type");
            if (!json_is_string(type))
                return gw_reqjson_bad_type(err, "tool_choice.type", "a string", type);
            const char *ty = json_string_value(type);
            if (strcmp(ty, "function") == 0 || strcmp(ty, "custom") == 0) {
                const json_t *name = json_object_get(c, "name");
                if (!name)
                    return gw_reqjson_missing(err, "tool_choice.name");
                if (!json_is_string(name))
                    return gw_reqjson_bad_type(err, "tool_choice.name", "a string", name);
                static const char *const keys[] = {"name", NULL};
                r->tool_choice = nested(ty, c, keys);
            } else {
                r->tool_choice = json_incref((json_t *)c);
            }
            if (!r->tool_choice)
                return gw_reqjson_oom(err);
        } else {
            return gw_reqjson_bad_type(err, "tool_choice", "one of a string or an object", c);
        }
    }
    return echo(x, "tool_choice", c, json_string("auto"), err);
}

/* ---- the other parameters ------------------------------------------------ */

static int
parse_metadata(gw_resp_request *x, const json_t *v, gw_error *err)
{
    char p[PARAM_MAX];
    if (v && !json_is_null(v)) {
        if (!json_is_object(v))
            return gw_reqjson_bad_type(err, "metadata", "an object", v);
        if (json_object_size(v) > METADATA_MAX_KEYS)
            return invalid_value(err, "metadata", "at most 16 key-value pairs are allowed.");
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val)
        {
            gw_reqjson_param(p, "metadata.%.64s", k);
            if (strlen(k) > METADATA_KEY_MAX)
                return invalid_value(err, "metadata", "keys are at most 64 characters long.");
            if (!json_is_string(val))
                return gw_reqjson_bad_type(err, p, "a string", val);
            if (json_string_length(val) > METADATA_VALUE_MAX)
                return invalid_value(err, p, "values are at most 512 characters long.");
        }
    }
    return echo(x, "metadata", v, json_object(), err);
}

/* An object parameter whose string members `keys` are checked. */
static int
parse_config_object(gw_resp_request *x, const json_t *root, const char *key,
                    const char *const *keys, json_t *dflt, gw_error *err)
{
    char p[PARAM_MAX];
    const json_t *v = json_object_get(root, key);
    if (v && !json_is_null(v)) {
        if (!json_is_object(v)) {
            json_decref(dflt);
            return gw_reqjson_bad_type(err, key, "an object", v);
        }
        for (size_t i = 0; keys[i]; i++) {
            const json_t *m = json_object_get(v, keys[i]);
            if (m && !json_is_null(m) && !json_is_string(m)) {
                json_decref(dflt);
                return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.%s", key, keys[i]),
                                           "a string", m);
            }
        }
    }
    return echo(x, key, v, dflt, err);
}

static int
parse_text(gw_resp_request *x, const json_t *root, gw_error *err)
{
    static const char *const keys[] = {"verbosity", NULL};
    json_t *dflt = json_pack("{s:{s:s}}", "format", "type", "text");
    int rc = parse_config_object(x, root, "text", keys, dflt, err);
    if (rc != 0)
        return rc;
    const json_t *format = json_object_get(json_object_get(root, "text"), "format");
    if (format && !json_is_null(format)) {
        if (!json_is_object(format))
            return gw_reqjson_bad_type(err, "text.format", "an object", format);
        const json_t *type = json_object_get(format, "type");
        if (!type)
            return gw_reqjson_missing(err, "text.format.type");
        if (!json_is_string(type))
            return gw_reqjson_bad_type(err, "text.format.type", "a string", type);
    }
    return 0;
}

static int
parse_include(const json_t *v, gw_error *err)
{
    char p[PARAM_MAX];
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return gw_reqjson_bad_type(err, "include", "an array", v);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) if (!json_is_string(s)) return gw_reqjson_bad_type(
        err, gw_reqjson_param(p, "include[%zu]", i), "a string", s);
    return 0;
}

static int
parse_truncation(gw_resp_request *x, const json_t *v, gw_error *err)
{
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return gw_reqjson_bad_type(err, "truncation", "a string", v);
        const char *s = json_string_value(v);
        if (strcmp(s, "auto") != 0 && strcmp(s, "disabled") != 0)
            return invalid_value(err, "truncation", "supported values are 'auto' and 'disabled'.");
    }
    return echo(x, "truncation", v, json_string("disabled"), err);
}

/* Parameters this gateway cannot honour and must not ignore. */
static int
refuse_unsupported(const json_t *root, gw_error *err)
{
    static const char *const refused[] = {"conversation", "prompt"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const json_t *v = json_object_get(root, refused[i]);
        if (v && !json_is_null(v)) {
            gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "unsupported_parameter", refused[i],
                         "Unsupported parameter: '%s' is not supported by this gateway; send the "
                         "conversation as input items or with previous_response_id.",
                         refused[i]);
            return LINGMA_EINVAL;
        }
    }
    bool background = false;
    int rc = gw_reqjson_bool(&background, json_object_get(root, "background"), "background", err);
    if (rc == 0 && background) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "unsupported_value", "background",
                     "Unsupported value: 'background' mode is not supported by this gateway.");
        rc = LINGMA_EINVAL;
    }
    return rc;
}

/* The scalars: stream, store, limits, sampling, affinity. */
static int
parse_scalars(gw_chat_request *r, gw_resp_request *x, const json_t *root, gw_error *err)
{
    int rc;
    if ((rc = gw_reqjson_bool(&r->stream, json_object_get(root, "stream"), "stream", err)) != 0 ||
        (rc = gw_reqjson_bool(&x->store, json_object_get(root, "store"), "store", err)) != 0)
        return rc;
    bool has = false;
    json_int_t n = 0;
    const json_t *mot = json_object_get(root, "max_output_tokens");
    if ((rc = gw_reqjson_int(&has, &n, mot, "max_output_tokens", 1, err)) != 0)
        return rc;
    if (has)
        r->max_tokens = n;
    has = false;
    if ((rc = gw_reqjson_int(&has, &n, json_object_get(root, "max_tool_calls"), "max_tool_calls", 1,
                             err)) != 0 ||
        (rc = gw_reqjson_int(&has, &n, json_object_get(root, "top_logprobs"), "top_logprobs", 0,
                             err)) != 0)
        return rc;
    const json_t *temp = json_object_get(root, "temperature");
    const json_t *top_p = json_object_get(root, "top_p");
    if ((rc = gw_reqjson_number(&r->has_temperature, &r->temperature, temp, "temperature", 0, 2,
                                err)) != 0 ||
        (rc = gw_reqjson_number(&r->has_top_p, &r->top_p, top_p, "top_p", 0, 1, err)) != 0)
        return rc;
    /* The conversation key Codex sends, else the end user: both keep a
     * conversation on one Lingma instance. */
    char *key = NULL, *user = NULL;
    if ((rc = gw_reqjson_string(&key, json_object_get(root, "prompt_cache_key"), "prompt_cache_key",
                                err)) != 0 ||
        (rc = gw_reqjson_string(&user, json_object_get(root, "user"), "user", err)) != 0) {
        free(key);
        return rc;
    }
    r->user = key ? key : user;
    if (key)
        free(user);
    if ((rc = gw_reqjson_string(&(char *){NULL}, json_object_get(root, "safety_identifier"),
                                "safety_identifier", err)) != 0)
        return rc;
    if ((rc = echo(x, "max_output_tokens", mot, json_null(), err)) != 0 ||
        (rc = typed(x, root, "max_tool_calls", JSON_INTEGER, json_null(), err)) != 0 ||
        (rc = typed(x, root, "parallel_tool_calls", JSON_TRUE, json_true(), err)) != 0 ||
        (rc = typed(x, root, "prompt_cache_key", JSON_STRING, json_null(), err)) != 0 ||
        (rc = typed(x, root, "safety_identifier", JSON_STRING, json_null(), err)) != 0 ||
        (rc = typed(x, root, "service_tier", JSON_STRING, json_string("default"), err)) != 0 ||
        (rc = echo(x, "store", json_boolean(x->store), NULL, err)) != 0 ||
        (rc = echo(x, "temperature", temp, json_real(1.0), err)) != 0 ||
        (rc = echo(x, "top_logprobs", json_object_get(root, "top_logprobs"), json_integer(0),
                   err)) != 0 ||
        (rc = echo(x, "top_p", top_p, json_real(1.0), err)) != 0 ||
        (rc = typed(x, root, "user", JSON_STRING, json_null(), err)) != 0)
        return rc;
    return 0;
}

/* ---- input and the stored conversation ----------------------------------- */

/* `input` as an array of items: a string is one user message. */
static int
normalise_input(json_t **out, const json_t *input, bool has_previous, gw_error *err)
{
    *out = NULL;
    if (!input || json_is_null(input)) {
        if (!has_previous)
            return gw_reqjson_missing(err, "input");
        *out = json_array();
    } else if (json_is_string(input)) {
        *out = json_pack("[{s:s,s:s,s:[{s:s,s:O}]}]", "type", "message", "role", "user", "content",
                         "type", "input_text", "text", input);
    } else if (json_is_array(input)) {
        if (json_array_size(input) == 0 && !has_previous) {
            gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "empty_array", "input",
                         "Invalid 'input': empty array. Expected an array with minimum length 1, "
                         "but got an empty array instead.");
            return LINGMA_EINVAL;
        }
        *out = json_incref((json_t *)input);
    } else {
        return gw_reqjson_bad_type(err, "input", "one of a string or an array of input items",
                                   input);
    }
    return *out ? 0 : gw_reqjson_oom(err);
}

void
gw_resp_error_not_found(gw_error *e, const char *id, const char *param)
{
    if (param)
        gw_error_set(e, 404, GW_TYPE_INVALID_REQUEST, "previous_response_not_found", param,
                     "Previous response with id '%.128s' not found.", id);
    else
        gw_error_set(e, 404, GW_TYPE_INVALID_REQUEST, "not_found", NULL,
                     "Response with id '%.128s' not found.", id);
}

/* One stored link's texts back into messages: its input items, then its
 * output items. They were validated when they were made. */
static int
add_link(gw_resp_input *in, const gw_resp_entry *e)
{
    json_t *input = json_loadb(e->input, e->input_len, 0, NULL);
    json_t *resp = json_loadb(e->response, e->response_len, 0, NULL);
    const json_t *output = json_object_get(resp, "output");
    int rc = 0;
    if (!json_is_array(input) || !json_is_array(output))
        rc = gw_reqjson_oom(in->err); /* only allocation can fail on our own text */
    if (rc == 0)
        rc = gw_resp_input_add(in, input, "previous_response_id");
    if (rc == 0)
        rc = gw_resp_input_add(in, output, "previous_response_id");
    json_decref(input);
    json_decref(resp);
    return rc;
}

static int
add_previous(gw_resp_input *in, gw_resp_store *store, const char *prev)
{
    gw_resp_entry *chain = NULL;
    size_t n = 0;
    char *missing = NULL;
    int rc = store ? gw_resp_store_chain(store, &chain, &n, &missing, prev, GW_RESP_MAX_CHAIN)
                   : LINGMA_ENOTFOUND;
    if (rc == LINGMA_ENOTFOUND) {
        /* A link further back may be the one gone: the conversation cannot
         * be rebuilt either way, and the message says which. */
        gw_resp_error_not_found(in->err, missing ? missing : prev, "previous_response_id");
        free(missing);
        return rc;
    }
    if (rc == LINGMA_EINVAL) {
        gw_error_set(in->err, 400, GW_TYPE_INVALID_REQUEST, "conversation_too_long",
                     "previous_response_id",
                     "The conversation that 'previous_response_id' continues has more than %d "
                     "responses; start a new one.",
                     GW_RESP_MAX_CHAIN);
        return rc;
    }
    if (rc != 0)
        return gw_reqjson_oom(in->err);
    for (size_t i = n; rc == 0 && i-- > 0;)
        rc = add_link(in, &chain[i]);
    gw_resp_chain_free(chain, n);
    return rc;
}

static int
parse_conversation(gw_chat_request *r, gw_resp_request *x, const json_t *root, gw_resp_store *store,
                   gw_error *err)
{
    int rc;
    const json_t *instr = json_object_get(root, "instructions");
    char *instructions = NULL;
    if ((rc = gw_reqjson_string(&x->previous_response_id,
                                json_object_get(root, "previous_response_id"),
                                "previous_response_id", err)) != 0 ||
        (rc = gw_reqjson_string(&instructions, instr, "instructions", err)) != 0)
        return rc;
    if ((rc = echo(x, "instructions", instr, json_null(), err)) != 0 ||
        (rc = echo(x, "previous_response_id", json_object_get(root, "previous_response_id"),
                   json_null(), err)) != 0 ||
        (rc = normalise_input(&x->input, json_object_get(root, "input"),
                              x->previous_response_id != NULL, err)) != 0) {
        free(instructions);
        return rc;
    }
    gw_resp_input in = {r, 0, err};
    if (instructions) {
        gw_message *m = gw_resp_input_push(&in);
        if (!m) {
            free(instructions);
            return gw_reqjson_oom(err);
        }
        m->role = GW_ROLE_SYSTEM;
        m->content = instructions;
    }
    if (x->previous_response_id && (rc = add_previous(&in, store, x->previous_response_id)) != 0)
        return rc;
    if ((rc = gw_resp_input_add(&in, x->input, "input")) != 0)
        return rc;
    if (r->n_messages == 0)
        return invalid_value(err, "input", "the conversation holds no message to answer.");
    return 0;
}

/* The toolset of the chat options, its refusals named the Responses way;
 * tools past the top-level list came in an additional_tools item. */
static int
offer_tools(gw_chat_request *r, const json_t *root, gw_error *err)
{
    gw_tool_names names = {false, "name", "parameters", "tool_choice",
                           json_array_size(json_object_get(root, "tools"))};
    gw_tool_refusal why;
    int rc = gw_chat_request_tools(r, &names, &why);
    if (rc == LINGMA_EINVAL)
        return invalid_value(err, why.param, why.message);
    return rc == LINGMA_ENOMEM ? gw_reqjson_oom(err) : rc;
}

static int
parse_root(gw_chat_request *r, gw_resp_request *x, const json_t *root, gw_resp_store *store,
           gw_error *err)
{
    static const char *const reasoning_keys[] = {"effort", "summary", "generate_summary", NULL};
    int rc;
    const json_t *model = json_object_get(root, "model");
    if (model && !json_is_null(model)) {
        if (!json_is_string(model))
            return gw_reqjson_bad_type(err, "model", "a string", model);
        if (json_string_length(model) == 0)
            return invalid_value(err, "model",
                                 "empty string. Omit it or pass \"auto\" for the default model.");
        if ((rc = gw_reqjson_dup(&r->model, model, err)) != 0)
            return rc;
    }
    if ((rc = refuse_unsupported(root, err)) != 0 || (rc = parse_scalars(r, x, root, err)) != 0 ||
        (rc = parse_tools(r, x, json_object_get(root, "tools"), err)) != 0 ||
        (rc = parse_tool_choice(r, x, json_object_get(root, "tool_choice"), err)) != 0 ||
        (rc = parse_metadata(x, json_object_get(root, "metadata"), err)) != 0 ||
        (rc = parse_config_object(x, root, "reasoning", reasoning_keys,
                                  json_pack("{s:n,s:n}", "effort", "summary"), err)) != 0 ||
        (rc = parse_text(x, root, err)) != 0 ||
        (rc = parse_include(json_object_get(root, "include"), err)) != 0 ||
        (rc = parse_truncation(x, json_object_get(root, "truncation"), err)) != 0)
        return rc;
    const json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so) && !json_is_object(so))
        return gw_reqjson_bad_type(err, "stream_options", "an object", so);
    r->single_tool_call = json_is_false(json_object_get(root, "parallel_tool_calls"));
    if ((rc = parse_conversation(r, x, root, store, err)) != 0)
        return rc;
    return offer_tools(r, root, err);
}

int
gw_resp_parse(gw_chat_request **out, gw_error *err, const char *body, size_t len,
              gw_resp_store *store)
{
    *out = NULL;
    json_t *root;
    int rc = gw_reqjson_load(&root, err, body, len);
    if (rc != 0)
        return rc;
    gw_chat_request *r = calloc(1, sizeof(*r));
    gw_resp_request *x = calloc(1, sizeof(*x));
    if (!r || !x || !(x->echo = json_object())) {
        free(r);
        resp_request_free(x);
        json_decref(root);
        return gw_reqjson_oom(err);
    }
    r->extra = x;
    r->extra_free = resp_request_free;
    x->store = true;
    /* Lingma's thinking becomes a reasoning item whenever it thinks. */
    r->show_reasoning = true;
    rc = parse_root(r, x, root, store, err);
    json_decref(root);
    if (rc != 0) {
        gw_chat_request_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
