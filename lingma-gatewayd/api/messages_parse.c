/*
 * POST /v1/messages (and count_tokens) request parsing; see messages.h.
 *
 * Errors read like Anthropic's own ("max_tokens: Field required",
 * "messages.0.content.1.type: ..."), because Claude Code and the SDK show
 * the message as it is; the path is also kept in gw_error.param for logs
 * and tests. Unknown fields are ignored: Anthropic adds request fields
 * often (cache_control, container, service_tier, output_config, ...) and
 * Claude Code sends what its model supports; refusing them would break
 * every new client for no benefit.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "messages.h"
#include "toolset.h"

#define STOP_MAX_LEN GW_OPENAI_MAX_STOP_LEN

typedef struct parser {
    gw_chat_request *r;
    gw_error *err;
    size_t cap; /* room in r->messages */
} parser;

/* ---- errors ------------------------------------------------------------- */

static int invalid(gw_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<path>: <problem>", Anthropic's form. */
static int
invalid(gw_error *err, const char *path, const char *fmt, ...)
{
    char what[GW_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_request_error", path, "%s: %s", path,
                 what);
    return LINGMA_EINVAL;
}

static int
missing(gw_error *err, const char *path)
{
    return invalid(err, path, "Field required");
}

/* `what` is "a valid string", "a valid list", ... */
static int
bad_type(gw_error *err, const char *path, const char *what)
{
    return invalid(err, path, "Input should be %s", what);
}

static bool
absent(const json_t *v)
{
    return !v || json_is_null(v);
}

/* A required string field of `obj`; *out borrowed from the JSON. */
static int
need_string(const char **out, const json_t *obj, const char *key, const char *path, gw_error *err)
{
    char p[GW_ERROR_PARAM_MAX];
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return missing(err, gw_reqjson_param(p, "%s.%s", path, key));
    if (!json_is_string(v))
        return bad_type(err, gw_reqjson_param(p, "%s.%s", path, key), "a valid string");
    *out = json_string_value(v);
    return 0;
}

static int
dup_to(char **out, const char *s, gw_error *err)
{
    *out = strdup(s);
    return *out ? 0 : gw_reqjson_oom(err);
}

static int
buf_string(char **out, gw_buf *b, gw_error *err)
{
    if (gw_buf_reserve(b, 0) != 0)
        return gw_reqjson_oom(err);
    b->data[b->len] = '\0';
    *out = gw_buf_detach(b, NULL);
    return 0;
}

/* ---- blocks ------------------------------------------------------------- */

/* A block object and its type; *type borrowed. */
static int
block_type(const char **type, const json_t *block, const char *path, gw_error *err)
{
    if (!json_is_object(block))
        return bad_type(err, path, "a valid dictionary");
    return need_string(type, block, "type", path, err);
}

static int
refuse_block(gw_error *err, const char *path, const char *type)
{
    if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0)
        return invalid(err, path,
                       "%s content blocks are not supported: this gateway's Lingma backend "
                       "takes text only. Send the content as text.",
                       type);
    return invalid(err, path, "content blocks of type '%.64s' are not supported here", type);
}

/* Append a text block's text to `b`, "\n" between blocks. */
static int
add_text(gw_buf *b, bool *any, const json_t *block, const char *path, gw_error *err)
{
    const char *text;
    int rc = need_string(&text, block, "text", path, err);
    if (rc != 0)
        return rc;
    if ((*any && gw_buf_append(b, "\n", 1) != 0) || gw_buf_puts(b, text) != 0)
        return gw_reqjson_oom(err);
    *any = true;
    return 0;
}

/* Claude Code sends its billing header (version, entry point) as the first
 * system block: metadata for Anthropic's API, not an instruction. Left in,
 * it would reach Lingma in every prompt and make the system prompt's
 * affinity hash change with each Claude Code release. */
#define BILLING_HEADER "x-anthropic-billing-header:"

static bool
is_billing_header(const json_t *block)
{
    const char *t = json_string_value(json_object_get(block, "text"));
    return t && strncmp(t, BILLING_HEADER, strlen(BILLING_HEADER)) == 0;
}

/* A string, or an array of text blocks joined with "\n" (system, system
 * messages, tool_result content). NULL-or-absent `v` gives "". `system`:
 * the top-level system prompt, where a billing-header block is dropped. */
static int
text_of(char **out, const json_t *v, const char *path, bool system, gw_error *err)
{
    char p[GW_ERROR_PARAM_MAX];
    if (absent(v))
        return dup_to(out, "", err);
    if (json_is_string(v))
        return dup_to(out, json_string_value(v), err);
    if (!json_is_array(v))
        return bad_type(err, path, "a valid string or a list of text blocks");
    gw_buf b = GW_BUF_INIT;
    bool any = false;
    size_t i;
    json_t *block;
    json_array_foreach(v, i, block)
    {
        const char *type;
        gw_reqjson_param(p, "%s.%zu", path, i);
        int rc = block_type(&type, block, p, err);
        if (rc == 0 && system && strcmp(type, "text") == 0 && is_billing_header(block))
            continue;
        if (rc == 0)
            rc = strcmp(type, "text") == 0 ? add_text(&b, &any, block, p, err)
                                           : refuse_block(err, p, type);
        if (rc != 0) {
            gw_buf_free(&b);
            return rc;
        }
    }
    return buf_string(out, &b, err);
}

static gw_message *
add_message(parser *p, gw_role role)
{
    /* The capacity was counted before (parse_messages); never exceeded. */
    gw_message *m = &p->r->messages[p->r->n_messages++];
    m->role = role;
    return m;
}

/* The name of the tool_use `id` answers, from the earlier assistant turns. */
static const char *
tool_name_of(const gw_chat_request *r, const char *id)
{
    for (size_t i = r->n_messages; i-- > 0;) {
        const gw_message *m = &r->messages[i];
        for (size_t j = 0; j < m->n_tool_calls; j++)
            if (m->tool_calls[j].id && strcmp(m->tool_calls[j].id, id) == 0)
                return m->tool_calls[j].name;
    }
    return NULL;
}

static int
tool_result(parser *p, const json_t *block, const char *path)
{
    char q[GW_ERROR_PARAM_MAX];
    const char *id;
    int rc = need_string(&id, block, "tool_use_id", path, p->err);
    if (rc != 0)
        return rc;
    const json_t *is_error = json_object_get(block, "is_error");
    if (!absent(is_error) && !json_is_boolean(is_error))
        return bad_type(p->err, gw_reqjson_param(q, "%s.is_error", path), "a valid boolean");
    const char *name = tool_name_of(p->r, id);
    gw_message *m = add_message(p, GW_ROLE_TOOL);
    if (dup_to(&m->tool_call_id, id, p->err) != 0 || (name && dup_to(&m->name, name, p->err) != 0))
        return LINGMA_ENOMEM;
    m->is_error = json_is_true(is_error);
    return text_of(&m->content, json_object_get(block, "content"),
                   gw_reqjson_param(q, "%s.content", path), false, p->err);
}

static int
tool_use(gw_message *m, const json_t *block, const char *path, gw_error *err)
{
    char q[GW_ERROR_PARAM_MAX];
    const char *id, *name;
    int rc;
    if ((rc = need_string(&id, block, "id", path, err)) != 0 ||
        (rc = need_string(&name, block, "name", path, err)) != 0)
        return rc;
    const json_t *input = json_object_get(block, "input");
    if (!input)
        return missing(err, gw_reqjson_param(q, "%s.input", path));
    if (!json_is_object(input))
        return bad_type(err, gw_reqjson_param(q, "%s.input", path), "a valid dictionary");
    gw_tool_call *tc = &m->tool_calls[m->n_tool_calls++];
    if (dup_to(&tc->id, id, err) != 0 || dup_to(&tc->name, name, err) != 0)
        return LINGMA_ENOMEM;
    /* Through gw_buf, not json_dumps: the request is freed with free(),
     * whatever allocator jansson was given. */
    gw_buf b = GW_BUF_INIT;
    if (gw_buf_append_json(&b, input) != 0)
        return gw_reqjson_oom(err);
    tc->arguments = gw_buf_detach(&b, NULL);
    return 0;
}

/* The turn's text becomes a message of `role` (a user's after its tool
 * results). */
static int
flush_text(parser *p, gw_role role, gw_buf *text, bool *any)
{
    if (!*any)
        return 0;
    *any = false;
    return buf_string(&add_message(p, role)->content, text, p->err);
}

/* Block content of message `mi`. An assistant turn is one message (its
 * text and its tool calls); a user turn is one message per tool_result,
 * then one of its text blocks joined: the results answer the calls before
 * them, and what the user adds reads after them (Anthropic asks for the
 * results first anyway), so a turn of results alone has no User label. */
static int
parse_blocks(parser *p, const json_t *blocks, size_t mi, gw_role role)
{
    char path[GW_ERROR_PARAM_MAX];
    gw_buf text = GW_BUF_INIT;
    bool any = false;
    size_t made = p->r->n_messages;
    gw_message *asst = NULL;
    int rc = 0;
    if (role == GW_ROLE_ASSISTANT) {
        asst = add_message(p, role);
        size_t calls = 0, i;
        json_t *b;
        json_array_foreach(blocks, i, b)
        {
            const char *t = json_string_value(json_object_get(b, "type"));
            calls += t && strcmp(t, "tool_use") == 0;
        }
        if (calls && !(asst->tool_calls = calloc(calls, sizeof(*asst->tool_calls)))) {
            rc = gw_reqjson_oom(p->err);
            goto done;
        }
    }
    size_t i;
    json_t *block;
    json_array_foreach(blocks, i, block)
    {
        const char *type;
        gw_reqjson_param(path, "messages.%zu.content.%zu", mi, i);
        if ((rc = block_type(&type, block, path, p->err)) != 0)
            goto done;
        if (strcmp(type, "text") == 0) {
            rc = add_text(&text, &any, block, path, p->err);
        } else if (strcmp(type, "thinking") == 0 || strcmp(type, "redacted_thinking") == 0) {
            continue; /* Lingma thinks afresh every turn */
        } else if (strcmp(type, "tool_use") == 0) {
            rc = asst ? tool_use(asst, block, path, p->err)
                      : invalid(p->err, path, "tool_use blocks belong in assistant messages");
        } else if (strcmp(type, "tool_result") == 0) {
            if (role != GW_ROLE_USER)
                rc = invalid(p->err, path, "tool_result blocks belong in user messages");
            else
                rc = tool_result(p, block, path);
        } else {
            rc = refuse_block(p->err, path, type);
        }
        if (rc != 0)
            goto done;
    }
    if (asst) {
        if (any)
            rc = buf_string(&asst->content, &text, p->err);
    } else if ((rc = flush_text(p, role, &text, &any)) == 0 && p->r->n_messages == made) {
        /* Nothing left of the turn (no blocks, or only thinking): still a
         * turn of the transcript. */
        rc = dup_to(&add_message(p, role)->content, "", p->err);
    }
done:
    gw_buf_free(&text);
    return rc;
}

static int
parse_message(parser *p, const json_t *msg, size_t mi)
{
    char path[GW_ERROR_PARAM_MAX];
    gw_reqjson_param(path, "messages.%zu", mi);
    if (!json_is_object(msg))
        return bad_type(p->err, path, "a valid dictionary");
    const char *role;
    int rc = need_string(&role, msg, "role", path, p->err);
    if (rc != 0)
        return rc;
    gw_role r;
    if (strcmp(role, "user") == 0)
        r = GW_ROLE_USER;
    else if (strcmp(role, "assistant") == 0)
        r = GW_ROLE_ASSISTANT;
    else if (strcmp(role, "system") == 0)
        r = GW_ROLE_SYSTEM;
    else
        return invalid(p->err, gw_reqjson_param(path, "messages.%zu.role", mi),
                       "Input should be 'user', 'assistant' or 'system'");
    const json_t *content = json_object_get(msg, "content");
    gw_reqjson_param(path, "messages.%zu.content", mi);
    if (!content)
        return missing(p->err, path);
    if (json_is_string(content))
        return dup_to(&add_message(p, r)->content, json_string_value(content), p->err);
    if (!json_is_array(content))
        return bad_type(p->err, path, "a valid string or a list of content blocks");
    if (r == GW_ROLE_SYSTEM)
        return text_of(&add_message(p, r)->content, content, path, false, p->err);
    return parse_blocks(p, content, mi, r);
}

static int
parse_messages(parser *p, const json_t *root)
{
    const json_t *v = json_object_get(root, "messages");
    if (!v)
        return missing(p->err, "messages");
    if (!json_is_array(v))
        return bad_type(p->err, "messages", "a valid list");
    if (json_array_size(v) == 0)
        return invalid(p->err, "messages", "at least one message is required");
    /* Room: the system prompt, then at most one message per block of each
     * turn (at least one per turn). */
    p->cap = 1;
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        const json_t *c = json_object_get(m, "content");
        size_t n = json_is_array(c) ? json_array_size(c) : 0;
        p->cap += n ? n : 1;
    }
    p->r->messages = calloc(p->cap, sizeof(*p->r->messages));
    if (!p->r->messages)
        return gw_reqjson_oom(p->err);
    const json_t *system = json_object_get(root, "system");
    if (!absent(system)) {
        char *text = NULL;
        int rc = text_of(&text, system, "system", true, p->err);
        if (rc != 0)
            return rc;
        if (!text[0])
            free(text); /* an empty system prompt adds nothing */
        else
            add_message(p, GW_ROLE_SYSTEM)->content = text;
    }
    json_array_foreach(v, i, m)
    {
        int rc = parse_message(p, m, i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- parameters --------------------------------------------------------- */

static int
parse_number(bool *has, double *out, const json_t *v, const char *name, double max, gw_error *err)
{
    if (absent(v))
        return 0;
    if (!json_is_number(v))
        return bad_type(err, name, "a valid number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > max)
        return invalid(err, name, "Input should be between 0 and %g", max);
    *has = true;
    *out = d;
    return 0;
}

static int
parse_int(bool *has, json_int_t *out, const json_t *v, const char *name, json_int_t min,
          gw_error *err)
{
    if (absent(v))
        return 0;
    if (!json_is_integer(v))
        return bad_type(err, name, "a valid integer");
    if (json_integer_value(v) < min)
        return invalid(err, name, "Input should be greater than or equal to %lld", (long long)min);
    *has = true;
    *out = json_integer_value(v);
    return 0;
}

static int
parse_stop(gw_chat_request *r, const json_t *v, gw_error *err)
{
    char p[GW_ERROR_PARAM_MAX];
    if (absent(v))
        return 0;
    if (!json_is_array(v))
        return bad_type(err, "stop_sequences", "a valid list");
    if (json_array_size(v) > GW_MAX_STOP)
        return invalid(err, "stop_sequences", "at most %d stop sequences are supported",
                       GW_MAX_STOP);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        gw_reqjson_param(p, "stop_sequences.%zu", i);
        if (!json_is_string(s))
            return bad_type(err, p, "a valid string");
        if (json_string_length(s) > STOP_MAX_LEN)
            return invalid(err, p, "a stop sequence may be at most %d bytes long", STOP_MAX_LEN);
        /* An empty sequence would match everywhere: ignore it. */
        if (json_string_length(s) && dup_to(&r->stop[r->n_stop++], json_string_value(s), err))
            return LINGMA_ENOMEM;
    }
    return 0;
}

static int
parse_metadata(gw_chat_request *r, const json_t *v, gw_error *err)
{
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return bad_type(err, "metadata", "a valid dictionary");
    const json_t *user = json_object_get(v, "user_id");
    if (absent(user))
        return 0;
    if (!json_is_string(user))
        return bad_type(err, "metadata.user_id", "a valid string");
    /* The conversation's owner keeps its instance (routing affinity). */
    return json_string_length(user) ? dup_to(&r->user, json_string_value(user), err) : 0;
}

/* thinking: enabled (with a budget below max_tokens), adaptive and
 * between_tools show Lingma's thinking unless display is "omitted";
 * disabled (or absent) drops it. */
static int
parse_thinking(gw_chat_request *r, const json_t *v, bool count_only, gw_error *err)
{
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return bad_type(err, "thinking", "a valid dictionary");
    const char *type;
    int rc = need_string(&type, v, "type", "thinking", err);
    if (rc != 0)
        return rc;
    if (strcmp(type, "disabled") == 0)
        return 0;
    if (strcmp(type, "enabled") == 0) {
        const json_t *budget = json_object_get(v, "budget_tokens");
        bool has = false;
        json_int_t b = 0;
        if (!budget)
            return missing(err, "thinking.budget_tokens");
        if ((rc = parse_int(&has, &b, budget, "thinking.budget_tokens",
                            GW_MESSAGES_MIN_THINKING_BUDGET, err)) != 0)
            return rc;
        if (!count_only && r->max_tokens && r->max_tokens <= b)
            return invalid(err, "max_tokens", "must be greater than thinking.budget_tokens");
    } else if (strcmp(type, "adaptive") != 0 && strcmp(type, "between_tools") != 0) {
        return invalid(err, "thinking.type",
                       "Input should be 'enabled', 'disabled', 'adaptive' or 'between_tools'");
    }
    const json_t *display = json_object_get(v, "display");
    if (!absent(display)) {
        const char *d = json_string_value(display);
        if (!d || (strcmp(d, "summarized") != 0 && strcmp(d, "omitted") != 0))
            return invalid(err, "thinking.display", "Input should be 'summarized' or 'omitted'");
        if (strcmp(d, "omitted") == 0)
            return 0;
    }
    r->show_reasoning = true;
    return 0;
}

static int
set_or_oom(json_t *obj, const char *key, json_t *v, gw_error *err)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : gw_reqjson_oom(err);
}

/* One tool, in the Chat Completions shape: a custom tool (no type, or
 * "custom") needs a name and an input_schema object; Anthropic's own typed
 * tools ("web_search_20250305", "mcp_toolset", ...) are kept as sent, each
 * type with its own fields. A new reference in *out. */
static int
parse_tool(json_t **out, const json_t *t, size_t i, gw_error *err)
{
    char p[GW_ERROR_PARAM_MAX];
    gw_reqjson_param(p, "tools.%zu", i);
    if (!json_is_object(t))
        return bad_type(err, p, "a valid dictionary");
    const json_t *type = json_object_get(t, "type");
    if (!absent(type) && !json_is_string(type))
        return bad_type(err, gw_reqjson_param(p, "tools.%zu.type", i), "a valid string");
    if (!absent(type) && strcmp(json_string_value(type), "custom") != 0) {
        *out = json_incref((json_t *)t);
        return 0;
    }
    const char *name;
    int rc = need_string(&name, t, "name", p, err);
    if (rc != 0)
        return rc;
    const json_t *schema = json_object_get(t, "input_schema");
    if (!schema)
        return missing(err, gw_reqjson_param(p, "tools.%zu.input_schema", i));
    if (!json_is_object(schema))
        return bad_type(err, gw_reqjson_param(p, "tools.%zu.input_schema", i),
                        "a valid dictionary");
    const json_t *desc = json_object_get(t, "description");
    if (!absent(desc) && !json_is_string(desc))
        return bad_type(err, gw_reqjson_param(p, "tools.%zu.description", i), "a valid string");
    /* defer_loading (Claude Code's placeholders) is kept: such a tool is
     * not offered to Lingma (toolset.c). */
    const json_t *defer = json_object_get(t, "defer_loading");
    json_t *fn = json_object();
    json_t *tool = json_object();
    if (!fn || !tool || set_or_oom(tool, "type", json_string("function"), err) != 0 ||
        set_or_oom(fn, "name", json_string(name), err) != 0 ||
        (!absent(desc) && set_or_oom(fn, "description", json_incref((json_t *)desc), err) != 0) ||
        set_or_oom(fn, "parameters", json_incref((json_t *)schema), err) != 0 ||
        (json_is_true(defer) && set_or_oom(fn, "defer_loading", json_true(), err) != 0) ||
        set_or_oom(tool, "function", json_incref(fn), err) != 0) {
        json_decref(fn);
        json_decref(tool);
        return gw_reqjson_oom(err);
    }
    json_decref(fn);
    *out = tool;
    return 0;
}

static int
parse_tools(gw_chat_request *r, const json_t *v, gw_error *err)
{
    if (absent(v))
        return 0;
    if (!json_is_array(v))
        return bad_type(err, "tools", "a valid list");
    if (!(r->tools = json_array()))
        return gw_reqjson_oom(err);
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t)
    {
        json_t *tool = NULL;
        int rc = parse_tool(&tool, t, i, err);
        if (rc != 0)
            return rc;
        if (json_array_append_new(r->tools, tool) != 0)
            return gw_reqjson_oom(err);
    }
    r->n_tools = json_array_size(r->tools);
    return 0;
}

/* tool_choice {type: auto|any|none|tool (+name)} in the Chat Completions
 * form; disable_parallel_tool_use keeps the first call only. */
static int
parse_tool_choice(gw_chat_request *r, const json_t *v, gw_error *err)
{
    if (absent(v))
        return 0;
    if (!json_is_object(v))
        return bad_type(err, "tool_choice", "a valid dictionary");
    const char *type;
    int rc = need_string(&type, v, "type", "tool_choice", err);
    if (rc != 0)
        return rc;
    const json_t *dp = json_object_get(v, "disable_parallel_tool_use");
    if (!absent(dp) && !json_is_boolean(dp))
        return bad_type(err, "tool_choice.disable_parallel_tool_use", "a valid boolean");
    r->single_tool_call = json_is_true(dp);
    if (strcmp(type, "auto") == 0)
        r->tool_choice = json_string("auto");
    else if (strcmp(type, "any") == 0)
        r->tool_choice = json_string("required");
    else if (strcmp(type, "none") == 0)
        r->tool_choice = json_string("none");
    else if (strcmp(type, "tool") != 0)
        return invalid(err, "tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
    else {
        const char *name;
        if ((rc = need_string(&name, v, "name", "tool_choice", err)) != 0)
            return rc;
        r->tool_choice = json_pack("{s:s,s:{s:s}}", "type", "function", "function", "name", name);
    }
    return r->tool_choice ? 0 : gw_reqjson_oom(err);
}

/* The toolset of the chat options, its refusals named the Anthropic way. */
static int
offer_tools(gw_chat_request *r, gw_error *err)
{
    static const gw_tool_names names = {true, "name", "input_schema", "tool_choice.name", SIZE_MAX};
    gw_tool_refusal why;
    int rc = gw_chat_request_tools(r, &names, &why);
    if (rc == LINGMA_EINVAL)
        return invalid(err, why.param, "%s", why.message);
    return rc == LINGMA_ENOMEM ? gw_reqjson_oom(err) : rc;
}

static int
parse_root(parser *p, const json_t *root, bool count_only)
{
    gw_chat_request *r = p->r;
    gw_error *err = p->err;
    const json_t *model = json_object_get(root, "model");
    int rc;
    if (!model)
        return missing(err, "model");
    if (!json_is_string(model))
        return bad_type(err, "model", "a valid string");
    if (json_string_length(model) == 0)
        return invalid(err, "model", "String should have at least 1 character");
    if ((rc = dup_to(&r->model, json_string_value(model), err)) != 0)
        return rc;
    if (!count_only) {
        const json_t *mt = json_object_get(root, "max_tokens");
        bool has = false;
        json_int_t n = 0;
        if (absent(mt))
            return missing(err, "max_tokens");
        if ((rc = parse_int(&has, &n, mt, "max_tokens", 1, err)) != 0)
            return rc;
        r->max_tokens = n;
        const json_t *stream = json_object_get(root, "stream");
        if (!absent(stream) && !json_is_boolean(stream))
            return bad_type(err, "stream", "a valid boolean");
        r->stream = json_is_true(stream);
    }
    if ((rc = parse_messages(p, root)) != 0)
        return rc;
    bool has_top_k = false;
    json_int_t top_k = 0;
    if ((rc = parse_number(&r->has_temperature, &r->temperature,
                           json_object_get(root, "temperature"), "temperature", 1, err)) != 0 ||
        (rc = parse_number(&r->has_top_p, &r->top_p, json_object_get(root, "top_p"), "top_p", 1,
                           err)) != 0 ||
        (rc = parse_int(&has_top_k, &top_k, json_object_get(root, "top_k"), "top_k", 0, err)) !=
            0 ||
        (rc = parse_stop(r, json_object_get(root, "stop_sequences"), err)) != 0 ||
        (rc = parse_metadata(r, json_object_get(root, "metadata"), err)) != 0 ||
        (rc = parse_thinking(r, json_object_get(root, "thinking"), count_only, err)) != 0 ||
        (rc = parse_tools(r, json_object_get(root, "tools"), err)) != 0 ||
        (rc = parse_tool_choice(r, json_object_get(root, "tool_choice"), err)) != 0)
        return rc;
    return offer_tools(r, err);
}

int
gw_messages_parse(gw_chat_request **out, gw_error *err, const char *body, size_t len,
                  bool count_only)
{
    *out = NULL;
    json_t *root;
    int rc = gw_reqjson_load(&root, err, body, len);
    if (rc != 0)
        return rc;
    parser p = {calloc(1, sizeof(gw_chat_request)), err, 0};
    if (!p.r) {
        json_decref(root);
        return gw_reqjson_oom(err);
    }
    rc = parse_root(&p, root, count_only);
    json_decref(root);
    if (rc != 0) {
        gw_chat_request_free(p.r);
        return rc;
    }
    *out = p.r;
    return 0;
}
