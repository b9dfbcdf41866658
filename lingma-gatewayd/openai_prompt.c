/*
 * Prompt flattening and the affinity key; the exact format is documented in
 * openai.h and doc/openai-compat.md, and pinned by tests/unit/test-gw-openai.c.
 *
 * Lingma takes one question per chat/ask, so a multi-turn OpenAI
 * conversation is rendered as a transcript. The format is deterministic
 * (same request, same bytes) so that answers and tests are reproducible.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "openai.h"

static bool
is_system(gw_role r)
{
    return r == GW_ROLE_SYSTEM || r == GW_ROLE_DEVELOPER;
}

/* System and developer texts joined by "\n\n": the instructions block and
 * the input of the affinity hash. */
static int
append_system(gw_buf *b, const gw_chat_request *req)
{
    bool first = true;
    for (size_t i = 0; i < req->n_messages; i++) {
        const gw_message *m = &req->messages[i];
        if (!is_system(m->role) || !m->content || !m->content[0])
            continue;
        if (!first && gw_buf_puts(b, "\n\n") != 0)
            return LINGMA_ENOMEM;
        if (gw_buf_puts(b, m->content) != 0)
            return LINGMA_ENOMEM;
        first = false;
    }
    return 0;
}

static const char *
sep(bool *first)
{
    const char *s = *first ? "" : "\n\n";
    *first = false;
    return s;
}

/* lingma_tool_call_text()'s block is this fence around one JSON line. */
#define CALL_OPEN  "```tool_call\n"
#define CALL_CLOSE "\n```"

/* An assistant turn's calls as one tool_call block, one JSON line per
 * call: what the contract asks the model to write, so that it sees its
 * earlier calls as it would have written them. */
static int
append_calls(gw_buf *b, const gw_message *m)
{
    int rc = gw_buf_puts(b, CALL_OPEN);
    for (size_t i = 0; rc == 0 && i < m->n_tool_calls; i++) {
        const gw_tool_call *tc = &m->tool_calls[i];
        char *block = NULL;
        rc = lingma_tool_call_text(&block, tc->name ? tc->name : "", tc->arguments);
        size_t n = block ? strlen(block) : 0;
        const size_t open = sizeof(CALL_OPEN) - 1, close = sizeof(CALL_CLOSE) - 1;
        if (rc == 0 && (n < open + close || strncmp(block, CALL_OPEN, open) != 0 ||
                        strcmp(block + n - close, CALL_CLOSE) != 0))
            rc = LINGMA_EINVAL; /* not the block the contract describes */
        if (rc == 0)
            rc = gw_buf_append(b, block + open, n - open - close);
        if (rc == 0)
            rc = gw_buf_puts(b, "\n");
        lingma_free(block);
    }
    return rc == 0 ? gw_buf_puts(b, "```") : rc;
}

/* A tool result in the contract's notation: a labelled tool_result fence
 * that its text cannot close. */
static int
append_result(gw_buf *b, const gw_message *m)
{
    const char *name = m->name && m->name[0] ? m->name : NULL;
    const char *id = m->tool_call_id && m->tool_call_id[0] ? m->tool_call_id : NULL;
    char *text = NULL;
    int rc = lingma_tool_result_text(&text, id, name, m->content ? m->content : "", m->is_error);
    if (rc == 0)
        rc = gw_buf_puts(b, text);
    lingma_free(text);
    return rc;
}

static int
append_entry(gw_buf *b, const gw_message *m, bool *first)
{
    int rc = 0;
    const char *text = m->content ? m->content : "";
    switch (m->role) {
    case GW_ROLE_USER:
        rc = gw_buf_printf(b, "%sUser: %s", sep(first), text);
        break;
    case GW_ROLE_ASSISTANT:
        if (m->n_tool_calls == 0) {
            rc = gw_buf_printf(b, "%sAssistant: %s", sep(first), text);
            break;
        }
        /* Text, then the calls' block on the lines below the label, as
         * the model answered. */
        rc = gw_buf_printf(b, "%sAssistant:\n%s%s", sep(first), text, text[0] ? "\n" : "");
        if (rc == 0)
            rc = append_calls(b, m);
        break;
    case GW_ROLE_TOOL:
    case GW_ROLE_FUNCTION:
        rc = gw_buf_puts(b, sep(first));
        if (rc == 0)
            rc = append_result(b, m);
        break;
    default:
        break; /* system/developer: in the instructions block */
    }
    return rc == 0 ? 0 : LINGMA_ENOMEM;
}

/* The last line. With tools offered, "the answer only" would tell the
 * model not to call them: it is asked to continue instead. */
static const char *
closing(const gw_chat_request *req)
{
    if (req->toolset)
        return "Continue the conversation above: answer the latest User message, calling tools "
               "as described when they are needed. Reply without a speaker label.";
    return "Answer the latest User message above. Reply with the answer only, without a speaker "
           "label.";
}

int
gw_chat_request_prompt(char **out, const gw_chat_request *req)
{
    *out = NULL;
    /* A lone user message is sent as is: the common case, and what Lingma's
     * own IDE plugins send. Not with tools offered: the transcript's
     * labels are how the model (and lingma-sim) tell the user's request
     * from the tool results that come back. */
    if (req->n_messages == 1 && req->messages[0].role == GW_ROLE_USER && !req->toolset) {
        *out = strdup(req->messages[0].content ? req->messages[0].content : "");
        return *out ? 0 : LINGMA_ENOMEM;
    }
    gw_buf b = GW_BUF_INIT;
    gw_buf sys = GW_BUF_INIT;
    bool any_turn = false;
    for (size_t i = 0; i < req->n_messages; i++)
        any_turn |= !is_system(req->messages[i].role);
    if (append_system(&sys, req) != 0)
        goto oom;
    if (sys.len && gw_buf_printf(&b, "System instructions:\n%s", sys.data) != 0)
        goto oom;
    if (any_turn) {
        if (gw_buf_puts(&b,
                        b.len ? "\n\nConversation transcript:\n" : "Conversation transcript:\n"))
            goto oom;
        bool first = true;
        for (size_t i = 0; i < req->n_messages; i++)
            if (append_entry(&b, &req->messages[i], &first) != 0)
                goto oom;
    }
    if (gw_buf_puts(&b, b.len ? "\n\n" : "") != 0 || gw_buf_puts(&b, closing(req)) != 0)
        goto oom;
    gw_buf_free(&sys);
    *out = gw_buf_detach(&b, NULL);
    return 0;
oom:
    gw_buf_free(&sys);
    gw_buf_free(&b);
    return LINGMA_ENOMEM;
}

uint64_t
gw_fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

int
gw_chat_request_affinity(char **out, const gw_chat_request *req)
{
    *out = NULL;
    if (req->user && req->user[0]) {
        *out = strdup(req->user);
        return *out ? 0 : LINGMA_ENOMEM;
    }
    gw_buf sys = GW_BUF_INIT;
    if (append_system(&sys, req) != 0) {
        gw_buf_free(&sys);
        return LINGMA_ENOMEM;
    }
    if (sys.len == 0) {
        gw_buf_free(&sys);
        return 0;
    }
    gw_buf key = GW_BUF_INIT;
    int rc = gw_buf_printf(&key, "sys-%016" PRIx64, gw_fnv1a64(sys.data, sys.len));
    gw_buf_free(&sys);
    if (rc != 0) {
        gw_buf_free(&key);
        return LINGMA_ENOMEM;
    }
    *out = gw_buf_detach(&key, NULL);
    return 0;
}

int
gw_chat_affinity_key(char **out, const char *header, const gw_chat_request *req)
{
    if (header && header[0]) {
        *out = strdup(header);
        return *out ? 0 : LINGMA_ENOMEM;
    }
    return gw_chat_request_affinity(out, req);
}
