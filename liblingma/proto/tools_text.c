/*
 * tools_text: the words of the tool contract (doc/tools.md): the tool
 * section of a prompt, and calls and results as the transcript shows them.
 * Keep this file and doc/tools.md in step; lingma-sim recognises the
 * section by these exact lines.
 */
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "tools_int.h"

static const char section_head[] =
    "Tools:\n"
    "To call tools, end your reply with one block tagged tool_call, one JSON object per line:\n"
    "```tool_call\n"
    "{\"name\":\"TOOL\",\"arguments\":{...}}\n"
    "```\n"
    "Use only the tools below, with arguments that follow their JSON Schema; nothing may follow "
    "the block. Results come back in tool_result blocks. When no tool is needed, answer in plain "
    "text.\n"
    "Available tools (name, description, parameters), one JSON object per line:\n";

static int
put(struct lingma__buf *b, const char *s)
{
    return lingma__buf_append(NULL, b, s, strlen(s));
}

static int
put_tool(struct lingma__buf *b, const struct lingma__tool *t)
{
    json_t *o = json_pack("{s:s}", "name", t->name);
    if (!o)
        return LINGMA_ENOMEM;
    int rc = LINGMA_ENOMEM;
    if (t->description && json_object_set_new(o, "description", json_string(t->description)))
        goto out;
    if (json_object_set(o, "parameters", t->schema))
        goto out;
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line) {
        rc = put(b, line);
        if (rc == 0)
            rc = put(b, "\n");
        free(line);
    }
out:
    json_decref(o);
    return rc;
}

LINGMA_EXPORT int
lingma_tool_prompt(char **out, const lingma_toolset *ts, const lingma_tool_prompt_options *opts)
{
    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    lingma_tool_prompt_options d = LINGMA_TOOL_PROMPT_OPTIONS_INIT;
    if (!opts)
        opts = &d;
    if (opts->choice == LINGMA_TOOL_CHOICE_NONE || lingma_toolset_count(ts) == 0)
        return LINGMA_OK;
    const struct lingma__tool *only = NULL;
    if (opts->choice == LINGMA_TOOL_CHOICE_NAMED) {
        only = opts->named ? lingma__toolset_find(ts, opts->named, strlen(opts->named)) : NULL;
        if (!only)
            return LINGMA_EINVAL;
    }
    struct lingma__buf b = {0};
    int rc = put(&b, section_head);
    for (size_t i = 0; rc == 0 && i < ts->n; i++)
        if (!only || &ts->tools[i] == only)
            rc = put_tool(&b, &ts->tools[i]);
    if (rc == 0 && opts->choice == LINGMA_TOOL_CHOICE_REQUIRED)
        rc = put(&b, "You must call at least one tool now.\n");
    if (rc == 0 && only) {
        rc = put(&b, "You must call the tool ");
        if (rc == 0)
            rc = put(&b, only->name);
        if (rc == 0)
            rc = put(&b, " now.\n");
    }
    if (rc == 0 && !opts->parallel)
        rc = put(&b, "Call one tool at a time.\n");
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return LINGMA_OK;
}

LINGMA_EXPORT int
lingma_tool_call_text(char **out, const char *name, const char *arguments)
{
    if (!out || !name)
        return LINGMA_EINVAL;
    *out = NULL;
    json_t *args = arguments ? lingma__json_lenient(arguments, strlen(arguments)) : NULL;
    if (!json_is_object(args)) {
        json_decref(args);
        args = json_object();
    }
    json_t *call = args ? json_pack("{s:s,s:o}", "name", name, "arguments", args) : NULL;
    char *line = call ? json_dumps(call, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(call);
    if (!line)
        return LINGMA_ENOMEM;
    struct lingma__buf b = {0};
    int rc = put(&b, "```tool_call\n");
    if (rc == 0)
        rc = put(&b, line);
    if (rc == 0)
        rc = put(&b, "\n```");
    free(line);
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return LINGMA_OK;
}

/* The longest run of backticks that starts a line of `s`. */
static size_t
longest_fence(const char *s)
{
    size_t best = 0;
    bool line_start = true;
    for (const char *p = s; *p; p++) {
        if (line_start && *p == '`') {
            size_t n = 0;
            while (p[n] == '`')
                n++;
            if (n > best)
                best = n;
            p += n - 1;
        }
        line_start = *p == '\n';
    }
    return best;
}

LINGMA_EXPORT int
lingma_tool_result_text(char **out, const char *id, const char *name, const char *content,
                        int is_error)
{
    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    if (!content)
        content = "";
    size_t fence = longest_fence(content);
    fence = fence >= 3 ? fence + 1 : 3;
    char ticks[64];
    if (fence >= sizeof(ticks))
        fence = sizeof(ticks) - 1; /* a content with 63 backticks in a row: still closed */
    memset(ticks, '`', fence);
    ticks[fence] = '\0';

    struct lingma__buf b = {0};
    int rc = put(&b, is_error ? "Tool error" : "Tool result");
    if (rc == 0 && (id || name)) {
        rc = put(&b, " (");
        if (rc == 0 && id)
            rc = put(&b, id);
        if (rc == 0 && id && name)
            rc = put(&b, ", ");
        if (rc == 0 && name)
            rc = put(&b, name);
        if (rc == 0)
            rc = put(&b, ")");
    }
    if (rc == 0)
        rc = put(&b, ":\n");
    if (rc == 0)
        rc = put(&b, ticks);
    if (rc == 0)
        rc = put(&b, "tool_result\n");
    if (rc == 0)
        rc = put(&b, content);
    if (rc == 0 && *content && content[strlen(content) - 1] != '\n')
        rc = put(&b, "\n");
    if (rc == 0)
        rc = put(&b, ticks);
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return LINGMA_OK;
}
