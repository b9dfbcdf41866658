/*
 * The request's tools made into the chat options' toolset; see toolset.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "toolset.h"

/* Whether liblingma takes `name` as a tool name: asked of liblingma
 * itself, whose rule it is. 0, LINGMA_EINVAL or LINGMA_ENOMEM. */
static int
name_check(const char *name)
{
    lingma_toolset *probe = NULL;
    lingma_tool t = {name, NULL, NULL};
    int rc = lingma_toolset_new(&probe, &t, 1, NULL);
    lingma_toolset_free(probe);
    return rc;
}

static int refuse(gw_tool_refusal *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
refuse(gw_tool_refusal *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof(why->message), fmt, ap);
    va_end(ap);
    return LINGMA_EINVAL;
}

/* The param of tool i's `field` ("function.name", ...), named the
 * front-end's way. */
static void
tool_param(gw_tool_refusal *why, const gw_tool_names *names, size_t i, const char *field)
{
    if (i >= names->listed)
        snprintf(why->param, sizeof(why->param), "input");
    else if (names->dotted)
        snprintf(why->param, sizeof(why->param), "tools.%zu.%s", i, field);
    else
        snprintf(why->param, sizeof(why->param), "tools[%zu].%s", i, field);
}

static bool
deferred(const json_t *t, const json_t *fn)
{
    return json_is_true(json_object_get(t, "defer_loading")) ||
           json_is_true(json_object_get(fn, "defer_loading"));
}

/* The function object of an offerable tool, else NULL. */
static const json_t *
offered(const json_t *t)
{
    const char *type = json_string_value(json_object_get(t, "type"));
    const json_t *fn = json_object_get(t, "function");
    if (!type || strcmp(type, "function") != 0 || !json_is_object(fn) ||
        !json_is_string(json_object_get(fn, "name")) || deferred(t, fn))
        return NULL;
    return fn;
}

/* tool_choice -> r->choice and the named tool (borrowed from the JSON). */
static int
read_choice(gw_chat_request *r, const char **named, const gw_tool_names *names,
            gw_tool_refusal *why)
{
    const json_t *c = r->tool_choice;
    *named = NULL;
    r->choice = LINGMA_TOOL_CHOICE_AUTO;
    if (json_is_string(c)) {
        const char *s = json_string_value(c);
        if (strcmp(s, "none") == 0)
            r->choice = LINGMA_TOOL_CHOICE_NONE;
        else if (strcmp(s, "required") == 0)
            r->choice = LINGMA_TOOL_CHOICE_REQUIRED;
        return 0;
    }
    const char *type = json_string_value(json_object_get(c, "type"));
    if (!type)
        return 0;
    const char *name = json_string_value(json_object_get(json_object_get(c, type), "name"));
    if (strcmp(type, "function") == 0 && name) {
        r->choice = LINGMA_TOOL_CHOICE_NAMED;
        *named = name;
        return 0;
    }
    /* A forced custom tool cannot be honoured (custom tools are not
     * offered); other objects (allowed_tools, hosted tool types) restrict
     * or force tools this gateway does not run, and are taken as auto. */
    if (strcmp(type, "custom") != 0)
        return 0;
    snprintf(why->param, sizeof(why->param), "%s", names->choice);
    return refuse(why,
                  "the custom tool '%.64s' cannot be called through this gateway: only function "
                  "tools are offered to Lingma.",
                  name ? name : "");
}

/* The declarations handed to lingma_toolset_new(), and the parameter
 * texts they point to. */
typedef struct decls {
    lingma_tool *v;
    char **params;
    size_t n;
} decls;

static void
decls_free(decls *d, size_t cap)
{
    for (size_t i = 0; d->params && i < cap; i++)
        free(d->params[i]);
    free(d->params);
    free(d->v);
}

/* Tool `i` (function object `fn`) as declaration d->v[d->n]. */
static int
declare(decls *d, const json_t *fn, size_t i, const gw_tool_names *names, gw_tool_refusal *why)
{
    const char *name = json_string_value(json_object_get(fn, "name"));
    tool_param(why, names, i, names->name);
    int rc = name_check(name);
    if (rc == LINGMA_ENOMEM)
        return rc;
    if (rc != 0)
        return refuse(why,
                      "'%.64s' is not a valid tool name: 1 to 128 letters, digits, '_', '-', "
                      "'.' or ':'.",
                      name);
    for (size_t k = 0; k < d->n; k++)
        if (strcmp(d->v[k].name, name) == 0)
            return refuse(why, "the tool '%.64s' is declared twice.", name);
    const json_t *params = json_object_get(fn, "parameters");
    tool_param(why, names, i, names->parameters);
    if (params && !json_is_null(params)) {
        if (!json_is_object(params))
            return refuse(why, "the parameters of '%.64s' must be a JSON Schema object.", name);
        gw_buf b = GW_BUF_INIT;
        if (gw_buf_append_json(&b, params) != 0)
            return LINGMA_ENOMEM;
        d->params[d->n] = gw_buf_detach(&b, NULL);
    }
    d->v[d->n].name = name;
    d->v[d->n].description = json_string_value(json_object_get(fn, "description"));
    d->v[d->n].parameters = d->params[d->n];
    d->n++;
    return 0;
}

int
gw_chat_request_tools(gw_chat_request *r, const gw_tool_names *names, gw_tool_refusal *why)
{
    const char *named;
    int rc = read_choice(r, &named, names, why);
    if (rc != 0 || r->choice == LINGMA_TOOL_CHOICE_NONE)
        return rc;
    size_t cap = json_array_size(r->tools);
    decls d = {NULL, NULL, 0};
    if (cap && (!(d.v = calloc(cap, sizeof(*d.v))) || !(d.params = calloc(cap, sizeof(char *))))) {
        decls_free(&d, cap);
        return LINGMA_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < cap; i++) {
        const json_t *fn = offered(json_array_get(r->tools, i));
        if (fn)
            rc = declare(&d, fn, i, names, why);
    }
    bool found = false;
    for (size_t k = 0; rc == 0 && named && k < d.n; k++)
        found |= strcmp(d.v[k].name, named) == 0;
    if (rc == 0 && named && !found) {
        snprintf(why->param, sizeof(why->param), "%s", names->choice);
        rc =
            refuse(why, "the tool '%.64s' is not among the function tools of this request.", named);
    } else if (rc == 0 && d.n == 0 && r->choice == LINGMA_TOOL_CHOICE_REQUIRED) {
        snprintf(why->param, sizeof(why->param), "tool_choice");
        rc = refuse(why, "'required' needs at least one function tool in 'tools'.");
    }
    if (rc == 0 && d.n) {
        /* Names and schemas were checked above: what liblingma still
         * refuses is a failed allocation inside it (a schema that did not
         * load). */
        rc = lingma_toolset_new(&r->toolset, d.v, d.n, NULL);
        if (rc == LINGMA_EINVAL)
            rc = LINGMA_ENOMEM;
        if (rc == 0 && named && !(r->tool_name = strdup(named)))
            rc = LINGMA_ENOMEM;
    }
    decls_free(&d, cap);
    return rc;
}

int
gw_chat_request_tool_section(char **out, const gw_chat_request *r)
{
    *out = NULL;
    if (!r->toolset)
        return 0;
    lingma_tool_prompt_options o = LINGMA_TOOL_PROMPT_OPTIONS_INIT;
    o.choice = r->choice;
    o.named = r->tool_name;
    o.parallel = !r->single_tool_call;
    int rc = lingma_tool_prompt(out, r->toolset, &o);
    return rc == LINGMA_ENOMEM ? rc : 0;
}
