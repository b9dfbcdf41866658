/*
 * tools_parser: the streaming parser of an answer under the tool contract
 * (include/lingma/tools.h, doc/tools.md, "The parser").
 *
 * Text flows through at once except at the start of a line, where bytes
 * that could still open a call block (up to 3 spaces, 3+ backticks,
 * "tool_call", a line end) are held until they either do or cannot. Inside
 * a block, lines are collected until a line of backticks closes it (or the
 * answer ends); the block's JSON values then become calls. A block that
 * holds no call at all is handed out as the text it was.
 */
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "tools_int.h"

/* A block larger than this is not a call any model makes on purpose; it
 * is handed out as text instead of growing memory without bound. */
#define BLOCK_MAX (8u * 1024u * 1024u)

enum state {
    S_TEXT,  /* outside a block */
    S_BLOCK, /* inside a block, after its opening line */
};

struct lingma_tool_parser {
    const lingma_toolset *ts;
    enum state state;
    bool line_start;
    bool oom;
    struct lingma__buf held; /* S_TEXT: a line start that may open a block */
    struct lingma__buf raw;  /* S_BLOCK: the block as written, fences included */
    struct lingma__buf body; /* S_BLOCK: the lines between the fences */
    struct lingma__buf line; /* S_BLOCK: the current line */
    size_t calls, invalid;
};

enum match { M_NO = -1, M_MAYBE = 0, M_YES = 1 };

/* Does s[0..n) open a block: [ ]{0,3} `{3,} [ \t]* tool_call s? [ \t]* \r? \n */
static enum match
opening(const char *s, size_t n)
{
    static const char tag[] = "tool_call";
    size_t i = 0, k;
    for (k = 0; i < n && s[i] == ' ' && k < 3; i++, k++) {
    }
    for (k = 0; i < n && s[i] == '`'; i++, k++) {
    }
    if (i == n)
        return M_MAYBE;
    if (k < 3)
        return M_NO;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    for (k = 0; k < sizeof(tag) - 1; k++, i++) {
        if (i == n)
            return M_MAYBE;
        if (s[i] != tag[k])
            return M_NO;
    }
    if (i < n && s[i] == 's')
        i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '\r')
        i++;
    if (i == n)
        return M_MAYBE;
    return s[i] == '\n' && i + 1 == n ? M_YES : M_NO;
}

/* Is `line` (without its '\n') a closing fence: [ ]{0,3} `{3,} [ \t\r]* */
static bool
closing(const char *s, size_t n)
{
    size_t i = 0, k;
    for (k = 0; i < n && s[i] == ' ' && k < 3; i++, k++) {
    }
    for (k = 0; i < n && s[i] == '`'; i++, k++) {
    }
    if (k < 3)
        return false;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i == n;
}

LINGMA_EXPORT int
lingma_tool_parser_new(lingma_tool_parser **out, const lingma_toolset *ts)
{
    if (!out)
        return LINGMA_EINVAL;
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return LINGMA_ENOMEM;
    (*out)->ts = ts;
    (*out)->line_start = true;
    return LINGMA_OK;
}

static void
buf_reset(struct lingma__buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

LINGMA_EXPORT void
lingma_tool_parser_free(lingma_tool_parser *p)
{
    if (!p)
        return;
    free(p->held.p);
    free(p->raw.p);
    free(p->body.p);
    free(p->line.p);
    free(p);
}

LINGMA_EXPORT size_t
lingma_tool_parser_calls(const lingma_tool_parser *p, size_t *invalid)
{
    if (invalid)
        *invalid = p ? p->invalid : 0;
    return p ? p->calls : 0;
}

static void
emit_text(const lingma_tool_parser_callbacks *cb, void *payload, const char *s, size_t n)
{
    if (n && cb && cb->on_text)
        cb->on_text(s, n, payload);
}

/* The name and the arguments of one candidate object, in the spellings
 * models use: {"name","arguments"} (the contract), "parameters", "input",
 * "args"; {"tool": …}; {"function": {"name","arguments"}}. */
static bool
candidate(const json_t *o, const char **name, const json_t **args)
{
    if (!json_is_object(o))
        return false;
    const json_t *fn = json_object_get(o, "function");
    if (json_is_object(fn))
        o = fn;
    const json_t *n = json_object_get(o, "name");
    if (!json_is_string(n))
        n = json_object_get(o, "tool");
    if (!json_is_string(n))
        n = json_is_string(fn) ? fn : json_object_get(o, "tool_name");
    if (!json_is_string(n))
        return false;
    *name = json_string_value(n);
    static const char *const keys[] = {"arguments", "parameters", "input", "args"};
    *args = NULL;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !*args; i++)
        *args = json_object_get(o, keys[i]);
    return true;
}

static int
emit_call(lingma_tool_parser *p, const lingma_tool_parser_callbacks *cb, void *payload,
          const char *name, const json_t *args_in)
{
    char err[200] = "";
    json_t *args = NULL;
    if (!args_in) {
        args = json_object();
    } else if (json_is_string(args_in)) {
        /* The OpenAI wire form leaks into the block: arguments as a string. */
        const char *s = json_string_value(args_in);
        args = *s ? lingma__json_lenient(s, strlen(s)) : json_object();
    } else {
        args = json_incref((json_t *)args_in);
    }
    const struct lingma__tool *t = lingma__toolset_find(p->ts, name, strlen(name));
    bool valid = false;
    if (!t)
        snprintf(err, sizeof(err), "no tool named '%.64s' was declared", name);
    else if (!json_is_object(args))
        snprintf(err, sizeof(err), "the arguments of '%.64s' are not a JSON object", name);
    else
        valid = lingma__schema_check(t->schema, args, err, sizeof(err));
    if (!json_is_object(args)) {
        json_decref(args);
        args = json_object();
    }
    char *text = args ? json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(args);
    if (!text)
        return LINGMA_ENOMEM;
    lingma_tool_call call = {p->calls, name, text, valid ? 1 : 0, valid ? NULL : err};
    p->calls++;
    if (!valid)
        p->invalid++;
    if (cb && cb->on_call)
        cb->on_call(&call, payload);
    free(text);
    return LINGMA_OK;
}

/* The block ended (closed, or the answer ended inside it). */
static int
close_block(lingma_tool_parser *p, const lingma_tool_parser_callbacks *cb, void *payload)
{
    json_t *values = json_array();
    if (!values)
        return LINGMA_ENOMEM;
    lingma__json_values(values, p->body.p ? p->body.p : "", p->body.len);
    /* Calls are the objects at the top, or inside a top-level array. */
    json_t *calls = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (json_is_array(v)) {
            size_t k;
            json_t *e;
            json_array_foreach(v, k, e) json_array_append(calls, e);
        } else {
            json_array_append(calls, v);
        }
    }
    int rc = LINGMA_OK;
    size_t before = p->calls;
    json_array_foreach(calls, i, v)
    {
        const char *name;
        const json_t *args;
        if (rc == LINGMA_OK && candidate(v, &name, &args))
            rc = emit_call(p, cb, payload, name, args);
    }
    if (rc == LINGMA_OK && p->calls == before)
        emit_text(cb, payload, p->raw.p, p->raw.len); /* no call after all: it was text */
    json_decref(calls);
    json_decref(values);
    buf_reset(&p->raw);
    buf_reset(&p->body);
    buf_reset(&p->line);
    p->state = S_TEXT;
    p->line_start = true;
    return rc;
}

/* One byte inside a block. */
static int
block_byte(lingma_tool_parser *p, char c, const lingma_tool_parser_callbacks *cb, void *payload)
{
    if (lingma__buf_append(NULL, &p->raw, &c, 1) != 0)
        return LINGMA_ENOMEM;
    if (c != '\n')
        return lingma__buf_append(NULL, &p->line, &c, 1);
    if (closing(p->line.p ? p->line.p : "", p->line.len))
        return close_block(p, cb, payload);
    int rc = lingma__buf_append(NULL, &p->body, p->line.p ? p->line.p : "", p->line.len);
    if (rc == 0)
        rc = lingma__buf_append(NULL, &p->body, "\n", 1);
    buf_reset(&p->line);
    if (rc == 0 && p->raw.len > BLOCK_MAX) {
        /* Not a call block anyone means: hand it out as text. */
        emit_text(cb, payload, p->raw.p, p->raw.len);
        buf_reset(&p->raw);
        buf_reset(&p->body);
        p->state = S_TEXT;
        p->line_start = true;
    }
    return rc;
}

LINGMA_EXPORT int
lingma_tool_parser_feed(lingma_tool_parser *p, const char *text, size_t len,
                        const lingma_tool_parser_callbacks *cb, void *payload)
{
    if (!p || (len && !text))
        return LINGMA_EINVAL;
    if (p->oom)
        return LINGMA_ENOMEM;
    size_t run = 0; /* start of the pending plain-text run */
    int rc = LINGMA_OK;
    for (size_t i = 0; i < len && rc == LINGMA_OK; i++) {
        char c = text[i];
        if (p->state == S_BLOCK) {
            rc = block_byte(p, c, cb, payload);
            run = i + 1;
            continue;
        }
        if (!p->line_start && p->held.len == 0) {
            p->line_start = c == '\n';
            continue; /* part of the plain run */
        }
        /* At a line start: hold what might open a block. */
        if (p->held.len == 0) {
            emit_text(cb, payload, text + run, i - run);
            run = i;
        }
        if ((rc = lingma__buf_append(NULL, &p->held, &c, 1)) != 0)
            break;
        run = i + 1;
        enum match m = opening(p->held.p, p->held.len);
        if (m == M_MAYBE)
            continue;
        if (m == M_YES) {
            rc = lingma__buf_append(NULL, &p->raw, p->held.p, p->held.len);
            buf_reset(&p->held);
            p->state = S_BLOCK;
            continue;
        }
        /* Cannot open a block: it was text. */
        emit_text(cb, payload, p->held.p, p->held.len);
        p->line_start = p->held.p[p->held.len - 1] == '\n';
        buf_reset(&p->held);
    }
    if (rc == LINGMA_OK && p->state == S_TEXT && p->held.len == 0)
        emit_text(cb, payload, text + run, len - run);
    if (rc != LINGMA_OK)
        p->oom = true;
    return rc;
}

LINGMA_EXPORT int
lingma_tool_parser_finish(lingma_tool_parser *p, const lingma_tool_parser_callbacks *cb,
                          void *payload)
{
    if (!p)
        return LINGMA_EINVAL;
    if (p->oom)
        return LINGMA_ENOMEM;
    int rc = LINGMA_OK;
    if (p->state == S_BLOCK) {
        /* The model stopped inside the block: its last line counts. */
        if (p->line.len && !closing(p->line.p, p->line.len)) {
            rc = lingma__buf_append(NULL, &p->body, p->line.p, p->line.len);
        }
        if (rc == 0)
            rc = close_block(p, cb, payload);
    } else if (p->held.len) {
        emit_text(cb, payload, p->held.p, p->held.len);
        buf_reset(&p->held);
    }
    if (rc != LINGMA_OK)
        p->oom = true;
    return rc;
}
