/* lingma-sim: the tools reply mode, see reply_tools.h. */
#include "reply_tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_args.h"

struct line {
    const char *s;
    size_t len; /* without "\n" and a "\r" before it */
};

static bool
starts_with(const struct line *l, const char *prefix)
{
    size_t n = strlen(prefix);
    return l->len >= n && !memcmp(l->s, prefix, n);
}

static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    }
    return true;
}

static size_t
backticks(const struct line *l)
{
    size_t n = 0;
    while (n < l->len && l->s[n] == '`')
        n++;
    return n;
}

/* A contract fence opener (``` or longer, then tool_call or tool_result):
 * its backtick count, 0 when the line is not one. */
static size_t
fence_open(const struct line *l, bool *is_result)
{
    static const char *const tags[] = {"tool_call", "tool_result"};
    size_t ticks = backticks(l);
    if (ticks < 3)
        return 0;
    for (size_t i = 0; i < 2; i++) {
        size_t tl = strlen(tags[i]);
        if (l->len - ticks >= tl && !memcmp(l->s + ticks, tags[i], tl) &&
            is_blank(l->s + ticks + tl, l->len - ticks - tl)) {
            *is_result = i == 1;
            return ticks;
        }
    }
    return 0;
}

/* CommonMark: a closing fence is at least as long as the opener. */
static bool
fence_close(const struct line *l, size_t open_ticks)
{
    size_t ticks = backticks(l);
    return ticks >= open_ticks && is_blank(l->s + ticks, l->len - ticks);
}

/* "Tool result (...):" / "Tool error:" ...: true with the inline text after the label. */
static bool
result_label(const struct line *l, const char **text, size_t *text_len)
{
    static const char *const labels[] = {"Tool result", "Tool error"};
    for (size_t i = 0; i < 2; i++) {
        if (!starts_with(l, labels[i]))
            continue;
        const char *p = l->s + strlen(labels[i]), *end = l->s + l->len;
        if (p < end && *p == ' ')
            p++;
        if (p < end && *p == '(') {
            const char *q = p;
            while (q + 1 < end && !(q[0] == ')' && q[1] == ':'))
                q++;
            if (q + 1 >= end)
                return false;
            p = q + 1;
        }
        if (p >= end || *p != ':')
            return false;
        p++;
        if (p < end && *p == ' ')
            p++;
        *text = p;
        *text_len = (size_t)(end - p);
        return true;
    }
    return false;
}

/* One line of the tool list: a JSON object with a string "name", or NULL. */
static json_t *
tool_line(const struct line *l)
{
    if (!l->len || l->s[0] != '{')
        return NULL;
    json_t *t = json_loadb(l->s, l->len, 0, NULL);
    if (!json_is_object(t) || !json_is_string(json_object_get(t, "name"))) {
        json_decref(t);
        return NULL;
    }
    return t;
}

void
sim_tools_prompt_free(struct sim_tools_prompt *p)
{
    json_decref(p->tools);
    free(p->must_call);
    free(p->result);
    memset(p, 0, sizeof(*p));
}

int
sim_tools_prompt_read(const char *prompt, struct sim_tools_prompt *out)
{
    size_t fence = 0; /* backticks of the open contract fence, 0 outside */
    bool capturing = false, listing = false, listed = false;
    const char *res = NULL, *res_start = NULL; /* the last result's text, a slice of prompt */
    size_t res_len = 0;

    memset(out, 0, sizeof(*out));
    for (const char *p = prompt; *p;) {
        const char *nl = strchr(p, '\n');
        struct line l = {p, nl ? (size_t)(nl - p) : strlen(p)};
        const char *next = nl ? nl + 1 : p + l.len;
        if (l.len && l.s[l.len - 1] == '\r')
            l.len--;

        if (fence) {
            if (fence_close(&l, fence)) {
                if (capturing) {
                    /* the text between the fence lines, without the last line end */
                    res = res_start;
                    res_len = (size_t)(p - res_start);
                    if (res_len && res[res_len - 1] == '\n')
                        res_len--;
                    if (res_len && res[res_len - 1] == '\r')
                        res_len--;
                    out->has_result = true;
                }
                fence = 0;
                capturing = false;
            }
            p = next;
            continue;
        }
        bool is_result = false;
        size_t ticks = fence_open(&l, &is_result);
        if (ticks) {
            fence = ticks;
            capturing = is_result;
            res_start = next;
            listing = false;
            p = next;
            continue;
        }
        if (listing) {
            json_t *t = tool_line(&l);
            if (t) {
                if (json_array_append_new(out->tools, t))
                    goto nomem;
                p = next;
                continue;
            }
            listing = false;
        }
        const char *text;
        size_t text_len;
        if (!listed && l.len == strlen(SIM_TOOLS_LIST_LINE) &&
            starts_with(&l, SIM_TOOLS_LIST_LINE)) {
            /* the first list is the gateway's; a later one is quoted text */
            listed = listing = true;
            if (!(out->tools = json_array()))
                goto nomem;
        } else if (!out->must_call && starts_with(&l, SIM_TOOLS_MUST_PREFIX)) {
            size_t pl = strlen(SIM_TOOLS_MUST_PREFIX), sl = strlen(SIM_TOOLS_MUST_SUFFIX);
            if (l.len > pl + sl && !memcmp(l.s + l.len - sl, SIM_TOOLS_MUST_SUFFIX, sl) &&
                !(out->must_call = strndup(l.s + pl, l.len - pl - sl)))
                goto nomem;
        } else if (starts_with(&l, "User:")) {
            out->has_result = false;
            res = NULL;
            res_len = 0;
        } else if (result_label(&l, &text, &text_len)) {
            /* the inline text stands unless a tool_result fence follows */
            out->has_result = true;
            res = text;
            res_len = text_len;
        }
        p = next;
    }
    if (fence && capturing) {
        /* a result cut off before its closing fence: what there is of it */
        res = res_start;
        res_len = strlen(res_start);
        out->has_result = true;
    }
    if (out->has_result && !(out->result = strndup(res ? res : "", res_len)))
        goto nomem;
    return 0;
nomem:
    sim_tools_prompt_free(out);
    return -1;
}

char *
sim_tools_call_block(const char *name, const json_t *arguments)
{
    static const char open[] = "```tool_call\n", close[] = "\n```";
    json_t *call = json_pack("{s:s, s:O}", "name", name, "arguments", arguments);
    char *line = call ? json_dumps(call, JSON_COMPACT) : NULL;
    json_decref(call);
    if (!line)
        return NULL;
    size_t n = strlen(open) + strlen(line) + strlen(close) + 1;
    char *out = malloc(n);
    if (out) {
        strcpy(out, open);
        strcat(out, line);
        strcat(out, close);
    }
    free(line);
    return out;
}

/* The tool the model calls: the one the prompt requires, else the first. */
static const json_t *
chosen_tool(const struct sim_tools_prompt *p)
{
    size_t i;
    const json_t *t;
    if (p->must_call) {
        json_array_foreach(p->tools, i, t)
        {
            if (!strcmp(json_string_value(json_object_get(t, "name")), p->must_call))
                return t;
        }
        return NULL; /* a name that is not listed: called without arguments */
    }
    return json_array_get(p->tools, 0);
}

int
sim_tools_reply(const char *prompt, char **out)
{
    struct sim_tools_prompt p;
    *out = NULL;
    if (sim_tools_prompt_read(prompt, &p))
        return -1;
    if (!p.tools || (!json_array_size(p.tools) && !p.must_call)) {
        sim_tools_prompt_free(&p);
        return 1;
    }
    if (p.has_result) {
        size_t n = strlen(SIM_TOOLS_DONE) + strlen(p.result) + 1;
        if ((*out = malloc(n)))
            snprintf(*out, n, "%s%s", SIM_TOOLS_DONE, p.result);
    } else {
        const json_t *tool = chosen_tool(&p);
        const char *name = tool ? json_string_value(json_object_get(tool, "name")) : p.must_call;
        json_t *args = sim_schema_arguments(json_object_get(tool, "parameters"));
        if (args)
            *out = sim_tools_call_block(name, args);
        json_decref(args);
    }
    sim_tools_prompt_free(&p);
    return *out ? 0 : -1;
}
