/*
 * Responses input items -> the request model's messages (see responses.h).
 *
 * What Lingma can read becomes a message: text messages of every role,
 * and the tool exchanges of every kind a client may replay (function,
 * custom, local shell, shell and apply-patch calls and their outputs),
 * rendered by the shared prompt in the tool contract's notation
 * (doc/tools.md); tools declared in an additional_tools item join the
 * request's tools. Items that carry nothing Lingma could use
 * (reasoning, which is the model's own and often encrypted, web or file
 * search calls, MCP bookkeeping, ...) are accepted and dropped. Unknown
 * item types and non-text message content are refused with a 400 naming
 * the item, so that nothing the client meant is silently lost.
 */
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"
#include "reqjson.h"

#define PARAM_MAX GW_ERROR_PARAM_MAX

enum kind { K_MESSAGE, K_CALL, K_RESULT, K_TOOLS, K_DROP };

static const struct item_kind {
    const char *type;
    enum kind kind;
    const char *tool; /* K_CALL: a fixed tool name; NULL: the item's "name" */
    const char *args; /* K_CALL: the member holding the arguments; K_RESULT: the output */
    const char *id;   /* K_CALL, K_RESULT: the member naming the call */
} kinds[] = {
    {"message", K_MESSAGE, NULL, NULL, NULL},
    {"function_call", K_CALL, NULL, "arguments", "call_id"},
    {"custom_tool_call", K_CALL, NULL, "input", "call_id"},
    {"local_shell_call", K_CALL, "local_shell", "action", "call_id"},
    {"shell_call", K_CALL, "shell", "action", "call_id"},
    {"apply_patch_call", K_CALL, "apply_patch", "operation", "call_id"},
    {"function_call_output", K_RESULT, NULL, "output", "call_id"},
    {"custom_tool_call_output", K_RESULT, NULL, "output", "call_id"},
    {"local_shell_call_output", K_RESULT, NULL, "output", "id"},
    {"shell_call_output", K_RESULT, NULL, "output", "call_id"},
    {"apply_patch_call_output", K_RESULT, NULL, "output", "call_id"},
    {"additional_tools", K_TOOLS, NULL, "tools", NULL},
    {"reasoning", K_DROP, NULL, NULL, NULL},
    {"compaction", K_DROP, NULL, NULL, NULL},
    {"compaction_trigger", K_DROP, NULL, NULL, NULL},
    {"web_search_call", K_DROP, NULL, NULL, NULL},
    {"file_search_call", K_DROP, NULL, NULL, NULL},
    {"computer_call", K_DROP, NULL, NULL, NULL},
    {"computer_call_output", K_DROP, NULL, NULL, NULL},
    {"image_generation_call", K_DROP, NULL, NULL, NULL},
    {"code_interpreter_call", K_DROP, NULL, NULL, NULL},
    {"mcp_list_tools", K_DROP, NULL, NULL, NULL},
    {"mcp_approval_request", K_DROP, NULL, NULL, NULL},
    {"mcp_approval_response", K_DROP, NULL, NULL, NULL},
    {"mcp_call", K_DROP, NULL, NULL, NULL},
    {"tool_search_call", K_DROP, NULL, NULL, NULL},
    {"tool_search_output", K_DROP, NULL, NULL, NULL},
    {"program", K_DROP, NULL, NULL, NULL},
    {"program_output", K_DROP, NULL, NULL, NULL},
};

static const struct {
    const char *name;
    gw_role role;
} roles[] = {
    {"user", GW_ROLE_USER},
    {"assistant", GW_ROLE_ASSISTANT},
    {"system", GW_ROLE_SYSTEM},
    {"developer", GW_ROLE_DEVELOPER},
};

/* Grown by doubling. */
gw_message *
gw_resp_input_push(gw_resp_input *in)
{
    gw_chat_request *r = in->req;
    if (r->n_messages == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 8;
        gw_message *m = realloc(r->messages, cap * sizeof(*m));
        if (!m)
            return NULL;
        r->messages = m;
        in->cap = cap;
    }
    gw_message *m = &r->messages[r->n_messages++];
    memset(m, 0, sizeof(*m));
    return m;
}

static int
append(gw_buf *b, const char *s, size_t n, gw_error *err)
{
    return gw_buf_append(b, s, n) == 0 ? 0 : gw_reqjson_oom(err);
}

/* The buffer's text as a malloc'd string ("" for an empty buffer). */
static int
detach(char **out, gw_buf *b, gw_error *err)
{
    if (gw_buf_reserve(b, 0) != 0) {
        gw_buf_free(b);
        return gw_reqjson_oom(err);
    }
    b->data[b->len] = '\0';
    *out = gw_buf_detach(b, NULL);
    return 0;
}

/* A message's content: a string, or text parts joined with "\n". */
static int
message_text(char **out, const json_t *content, const char *where, gw_error *err)
{
    char p[PARAM_MAX];
    if (json_is_string(content))
        return gw_reqjson_dup(out, content, err);
    if (!json_is_array(content))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.content", where),
                                   "one of a string or an array of objects", content);
    gw_buf b = GW_BUF_INIT;
    size_t i;
    json_t *part;
    int rc = 0;
    json_array_foreach(content, i, part)
    {
        gw_reqjson_param(p, "%s.content[%zu]", where, i);
        const json_t *type = json_object_get(part, "type");
        if (!json_is_object(part)) {
            rc = gw_reqjson_bad_type(err, p, "an object", part);
            break;
        }
        if (!json_is_string(type)) {
            char q[PARAM_MAX];
            gw_reqjson_param(q, "%s.type", p);
            rc = type ? gw_reqjson_bad_type(err, q, "a string", type) : gw_reqjson_missing(err, q);
            break;
        }
        const char *t = json_string_value(type), *field = NULL;
        if (strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0 || strcmp(t, "text") == 0)
            field = "text";
        else if (strcmp(t, "refusal") == 0)
            field = "refusal";
        if (!field) {
            rc = gw_reqjson_unsupported_part(err, p, t,
                                             "text parts (input_text, output_text, refusal)");
            break;
        }
        const json_t *text = json_object_get(part, field);
        char q[PARAM_MAX];
        gw_reqjson_param(q, "%s.%s", p, field);
        if (!json_is_string(text)) {
            rc = text ? gw_reqjson_bad_type(err, q, "a string", text) : gw_reqjson_missing(err, q);
            break;
        }
        if ((i > 0 && (rc = append(&b, "\n", 1, err)) != 0) ||
            (rc = append(&b, json_string_value(text), json_string_length(text), err)) != 0)
            break;
    }
    if (rc != 0) {
        gw_buf_free(&b);
        return rc;
    }
    return detach(out, &b, err);
}

/* A tool's output as text: a string as is; content parts joined (text
 * parts by their text, others by a placeholder: the tool ran, its image
 * cannot reach Lingma, but the transcript should say something came
 * back); any other JSON value as compact JSON. */
static int
output_text(char **out, const json_t *v, gw_error *err)
{
    if (!v || json_is_null(v))
        return (*out = strdup("")) ? 0 : gw_reqjson_oom(err);
    if (json_is_string(v))
        return gw_reqjson_dup(out, v, err);
    gw_buf b = GW_BUF_INIT;
    int rc = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *part;
        json_array_foreach(v, i, part)
        {
            const char *t = json_string_value(json_object_get(part, "type"));
            const json_t *text = json_object_get(part, "text");
            if (i > 0 && (rc = append(&b, "\n", 1, err)) != 0)
                break;
            if (json_is_string(text))
                rc = append(&b, json_string_value(text), json_string_length(text), err);
            else if (t)
                rc = gw_buf_printf(&b, "[%.64s omitted]", t) == 0 ? 0 : gw_reqjson_oom(err);
            else
                rc = gw_buf_append_json(&b, part) == 0 ? 0 : gw_reqjson_oom(err);
            if (rc != 0)
                break;
        }
    } else if (gw_buf_append_json(&b, v) != 0) {
        rc = gw_reqjson_oom(err);
    }
    if (rc != 0) {
        gw_buf_free(&b);
        return rc;
    }
    return detach(out, &b, err);
}

/* The name of the latest call with this id, for a result's label. */
static const char *
call_name(const gw_chat_request *r, const char *id)
{
    for (size_t i = r->n_messages; i-- > 0;)
        for (size_t j = 0; j < r->messages[i].n_tool_calls; j++) {
            const gw_tool_call *tc = &r->messages[i].tool_calls[j];
            if (tc->id && strcmp(tc->id, id) == 0)
                return tc->name;
        }
    return NULL;
}

static int
add_message(gw_resp_input *in, const json_t *item, const char *where)
{
    char p[PARAM_MAX];
    gw_error *err = in->err;
    const json_t *role = json_object_get(item, "role");
    gw_reqjson_param(p, "%s.role", where);
    if (!role)
        return gw_reqjson_missing(err, p);
    if (!json_is_string(role))
        return gw_reqjson_bad_type(err, p, "a string", role);
    size_t r = 0;
    while (r < sizeof(roles) / sizeof(roles[0]) &&
           strcmp(roles[r].name, json_string_value(role)) != 0)
        r++;
    if (r == sizeof(roles) / sizeof(roles[0])) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", p,
                     "Invalid value for '%s': '%.64s'. Supported values are: 'user', "
                     "'assistant', 'system' and 'developer'.",
                     p, json_string_value(role));
        return LINGMA_EINVAL;
    }
    const json_t *content = json_object_get(item, "content");
    if (!content)
        return gw_reqjson_missing(err, gw_reqjson_param(p, "%s.content", where));
    char *text = NULL;
    int rc = message_text(&text, content, where, err);
    if (rc != 0)
        return rc;
    gw_message *m = gw_resp_input_push(in);
    if (!m) {
        free(text);
        return gw_reqjson_oom(err);
    }
    m->role = roles[r].role;
    m->content = text;
    return 0;
}

/* A string member `name` of `item`, required. */
static int
required_string(const char **out, const json_t *item, const char *name, const char *where,
                gw_error *err)
{
    char p[PARAM_MAX];
    const json_t *v = json_object_get(item, name);
    gw_reqjson_param(p, "%s.%s", where, name);
    if (!v)
        return gw_reqjson_missing(err, p);
    if (!json_is_string(v))
        return gw_reqjson_bad_type(err, p, "a string", v);
    *out = json_string_value(v);
    return 0;
}

/* A call: an assistant turn with one tool call. Arguments given as an
 * object (shell actions, patch operations) are kept as compact JSON; a
 * custom tool's free-form input becomes {"input": text}, so that the
 * transcript, which shows arguments as an object, keeps it. */
static int
add_call(gw_resp_input *in, const json_t *item, const struct item_kind *k, const char *where)
{
    char p[PARAM_MAX];
    gw_error *err = in->err;
    const char *id, *name = k->tool;
    int rc = required_string(&id, item, k->id, where, err);
    if (rc == 0 && !name)
        rc = required_string(&name, item, "name", where, err);
    if (rc != 0)
        return rc;
    const json_t *args = json_object_get(item, k->args);
    gw_reqjson_param(p, "%s.%s", where, k->args);
    if (!args)
        return gw_reqjson_missing(err, p);
    if (!json_is_string(args) && !json_is_object(args) && !json_is_array(args))
        return gw_reqjson_bad_type(err, p, "a string or an object", args);
    gw_message *m = gw_resp_input_push(in);
    if (!m || !(m->tool_calls = calloc(1, sizeof(*m->tool_calls))))
        return gw_reqjson_oom(err);
    m->role = GW_ROLE_ASSISTANT;
    m->n_tool_calls = 1;
    gw_tool_call *tc = &m->tool_calls[0];
    tc->id = strdup(id);
    tc->name = strdup(name);
    if (strcmp(k->type, "custom_tool_call") == 0 && json_is_string(args)) {
        json_t *o = json_pack("{s:O}", "input", args);
        gw_buf b = GW_BUF_INIT;
        if (o && gw_buf_append_json(&b, o) == 0)
            tc->arguments = gw_buf_detach(&b, NULL);
        json_decref(o);
    } else {
        tc->arguments = json_is_string(args) ? strdup(json_string_value(args))
                                             : json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (!tc->id || !tc->name || !tc->arguments)
        return gw_reqjson_oom(err);
    return 0;
}

static int
add_result(gw_resp_input *in, const json_t *item, const struct item_kind *k, const char *where)
{
    char p[PARAM_MAX];
    gw_error *err = in->err;
    const char *id;
    int rc = required_string(&id, item, k->id, where, err);
    if (rc != 0)
        return rc;
    const json_t *out = json_object_get(item, k->args);
    if (out && !json_is_null(out) && !json_is_string(out) && !json_is_array(out) &&
        !json_is_object(out))
        return gw_reqjson_bad_type(err, gw_reqjson_param(p, "%s.%s", where, k->args),
                                   "a string or an array", out);
    const char *name = call_name(in->req, id);
    gw_message *m = gw_resp_input_push(in);
    if (!m)
        return gw_reqjson_oom(err);
    m->role = GW_ROLE_TOOL;
    if ((rc = output_text(&m->content, out, err)) != 0)
        return rc;
    m->tool_call_id = strdup(id);
    m->name = name ? strdup(name) : NULL;
    if (!m->tool_call_id || (name && !m->name))
        return gw_reqjson_oom(err);
    return 0;
}

/* Tools declared inside the input (Codex's "responses lite" models send
 * them as an additional_tools item instead of `tools`): kept with the
 * request's tools, and offered like them. */
static int
add_tools(gw_resp_input *in, const json_t *item, const char *where)
{
    char p[PARAM_MAX];
    gw_error *err = in->err;
    const json_t *tools = json_object_get(item, "tools");
    gw_reqjson_param(p, "%s.tools", where);
    if (!tools)
        return gw_reqjson_missing(err, p);
    if (!json_is_array(tools))
        return gw_reqjson_bad_type(err, p, "an array", tools);
    gw_chat_request *r = in->req;
    if (!r->tools && !(r->tools = json_array()))
        return gw_reqjson_oom(err);
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        int rc = gw_resp_tool_add(r->tools, t, gw_reqjson_param(p, "%s.tools[%zu]", where, i), err);
        if (rc != 0)
            return rc;
    }
    r->n_tools = json_array_size(r->tools);
    return 0;
}

static int
add_item(gw_resp_input *in, const json_t *item, const char *where)
{
    char p[PARAM_MAX];
    gw_error *err = in->err;
    if (!json_is_object(item))
        return gw_reqjson_bad_type(err, where, "an object", item);
    const json_t *type = json_object_get(item, "type");
    /* A message may leave out its type (EasyInputMessage). */
    if (!type || json_is_null(type))
        return add_message(in, item, where);
    gw_reqjson_param(p, "%s.type", where);
    if (!json_is_string(type))
        return gw_reqjson_bad_type(err, p, "a string", type);
    const char *t = json_string_value(type);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].type, t) != 0)
            continue;
        switch (kinds[i].kind) {
        case K_MESSAGE:
            return add_message(in, item, where);
        case K_CALL:
            return add_call(in, item, &kinds[i], where);
        case K_RESULT:
            return add_result(in, item, &kinds[i], where);
        case K_TOOLS:
            return add_tools(in, item, where);
        case K_DROP:
        default:
            return 0;
        }
    }
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", p,
                 "Invalid value for '%s': '%.64s' is not an input item type this gateway "
                 "knows.",
                 p, t);
    return LINGMA_EINVAL;
}

int
gw_resp_input_add(gw_resp_input *in, const json_t *items, const char *where)
{
    char p[PARAM_MAX];
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        int rc = add_item(in, item, gw_reqjson_param(p, "%s[%zu]", where, i));
        if (rc != 0)
            return rc;
    }
    return 0;
}
