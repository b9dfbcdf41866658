/*
 * Tool calling of one chat (see chat_tools.h and doc/tools.md, "In the
 * runtime").
 *
 * An answer runs through a lingma_tool_parser. With LINGMA_TOOL_CHOICE_AUTO
 * the text the parser releases streams at once, up to the first call;
 * from there on (prose after a block is against the contract, and may have
 * to be delivered in its place if the call proves invalid) and with
 * REQUIRED or NAMED from the start (a retry must not leave half an attempt
 * on the client's screen), text and reasoning are held until the answer is
 * complete. Calls are always held: a later call may still make the answer
 * invalid, and a client must not run a call of an answer that is retried.
 *
 * The verdict on a complete answer: its calls (all valid) are handed out;
 * an invalid call, or no call when one is required, is asked once more;
 * the second time AUTO hands the rest of the answer out as text, REQUIRED
 * and NAMED fail. The retry is a fresh ask of the first prompt, the first
 * answer and a correction (doc/tools.md says why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "chat_tools.h"
#include "strbuf.h"

/* One call to hand out: a valid call the answer's verdict keeps. */
struct call {
    char *name, *arguments;
};

struct lingma__chat_tools {
    /* [init] */
    const lingma_allocator *alloc;
    const lingma_toolset *ts; /* the caller's; outlives the chat */
    lingma_tool_choice choice;
    char *named; /* the tool of NAMED */
    int single;  /* keep only the first call */

    /* [svc] the answer under way */
    int attempt;                /* 0: the first answer, 1: the retry's */
    lingma_tool_parser *parser; /* NULL until the answer's first text */
    struct lingma__buf raw;     /* the answer as Lingma wrote it */
    size_t live;                /* bytes of raw already released as DELTA (AUTO) */
    struct lingma__buf pend;    /* released by the current feed: one DELTA after it */
    struct lingma__buf held;    /* text held until the answer is complete */
    struct lingma__buf held_reasoning;
    struct call *calls; /* the valid calls kept */
    size_t ncalls, cap;
    size_t seen;      /* calls the parser reported in this answer */
    int invalid;      /* a kept call was invalid */
    int oom;          /* a parser callback ran out of memory */
    char reason[320]; /* why the answer is refused; then FAIL's message */
};

/* ---- making it (the caller's thread) ---- */

int
lingma__chat_tools_new(struct lingma__chat_tools **out, char **prompt, const lingma_allocator *a,
                       const lingma_chat_options *opts)
{
    *out = NULL;
    *prompt = NULL;
    if ((unsigned)opts->tool_choice > LINGMA_TOOL_CHOICE_NAMED)
        return LINGMA_EINVAL;
    size_t n = opts->tools ? lingma_toolset_count(opts->tools) : 0;
    int required = opts->tool_choice == LINGMA_TOOL_CHOICE_REQUIRED ||
                   opts->tool_choice == LINGMA_TOOL_CHOICE_NAMED;
    /* A required call with nothing to call could only end in an error:
     * that is the caller's mistake, said at once. */
    if (required && n == 0)
        return LINGMA_EINVAL;
    if (opts->tool_choice == LINGMA_TOOL_CHOICE_NAMED &&
        (!opts->tool_name || !lingma_toolset_has(opts->tools, opts->tool_name)))
        return LINGMA_EINVAL;
    if (n == 0 || opts->tool_choice == LINGMA_TOOL_CHOICE_NONE)
        return 0;

    lingma_tool_prompt_options po = LINGMA_TOOL_PROMPT_OPTIONS_INIT;
    po.choice = opts->tool_choice;
    po.named = opts->tool_name;
    po.parallel = !opts->single_tool_call;
    char *section = NULL;
    int rc = lingma_tool_prompt(&section, opts->tools, &po);
    if (rc != 0)
        return rc;
    struct lingma__chat_tools *t = lingma__calloc(a, 1, sizeof(*t));
    struct lingma__buf p = {0};
    /* The section ends with a newline: one more makes the blank line. */
    if (!t || !section || lingma__buf_append(a, &p, section, strlen(section)) != 0 ||
        lingma__buf_append(a, &p, "\n", 1) != 0 ||
        lingma__buf_append(a, &p, opts->prompt, strlen(opts->prompt)) != 0) {
        lingma_free(section);
        lingma__free(a, p.p);
        lingma__free(a, t);
        return LINGMA_ENOMEM;
    }
    lingma_free(section);
    t->alloc = a;
    t->ts = opts->tools;
    t->choice = opts->tool_choice;
    t->single = opts->single_tool_call != 0;
    if (t->choice == LINGMA_TOOL_CHOICE_NAMED && !(t->named = lingma__strdup(a, opts->tool_name))) {
        lingma__free(a, p.p);
        lingma__free(a, t);
        return LINGMA_ENOMEM;
    }
    *out = t;
    *prompt = p.p;
    return 0;
}

static void
drop_calls(struct lingma__chat_tools *t)
{
    for (size_t i = 0; i < t->ncalls; i++) {
        lingma__free(t->alloc, t->calls[i].name);
        lingma__free(t->alloc, t->calls[i].arguments);
    }
    t->ncalls = 0;
}

void
lingma__chat_tools_free(struct lingma__chat_tools *t)
{
    if (!t)
        return;
    const lingma_allocator *a = t->alloc;
    drop_calls(t);
    lingma__free(a, t->calls);
    lingma_tool_parser_free(t->parser);
    lingma__free(a, t->raw.p);
    lingma__free(a, t->pend.p);
    lingma__free(a, t->held.p);
    lingma__free(a, t->held_reasoning.p);
    lingma__free(a, t->named);
    lingma__free(a, t);
}

/* ---- the answer ---- */

static int
holds_all(const struct lingma__chat_tools *t)
{
    return t->choice != LINGMA_TOOL_CHOICE_AUTO;
}

/* The length of the UTF-8 sequence that lead byte `c` starts; 0 when `c`
 * cannot start one. */
static size_t
utf8_need(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c < 0xE0)
        return 2;
    if (c >= 0xE0 && c < 0xF0)
        return 3;
    if (c >= 0xF0 && c < 0xF5)
        return 4;
    return 0;
}

/* Copy `s` into the reason, leaving out any UTF-8 sequence that is cut
 * short: the parser's sentences quote names truncated at a byte count, and
 * the reason goes into a prompt and an error message, which must be UTF-8. */
static void
set_reason(struct lingma__chat_tools *t, const char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i] && o + 1 < sizeof(t->reason);) {
        size_t need = utf8_need((unsigned char)s[i]);
        size_t k = 1;
        while (need && k < need && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k++;
        if (need && k == need && o + need < sizeof(t->reason)) {
            memcpy(t->reason + o, s + i, need);
            o += need;
        } else if (need && k == need) {
            break; /* no room for the whole character */
        }
        i += need ? k : 1;
    }
    t->reason[o] = '\0';
}

static void
on_text(const char *text, size_t len, void *payload)
{
    struct lingma__chat_tools *t = payload;
    /* Text after a call is held even in AUTO: if that call proves invalid,
     * the answer goes out as text in its own order, block first. */
    struct lingma__buf *b = holds_all(t) || t->seen ? &t->held : &t->pend;
    if (lingma__buf_append(t->alloc, b, text, len) != 0)
        t->oom = 1;
}

static void
on_call(const lingma_tool_call *call, void *payload)
{
    struct lingma__chat_tools *t = payload;
    char why[300];

    t->seen++;
    if (t->single && call->index > 0)
        return; /* "Call one tool at a time": the rest is not looked at */
    const char *error = NULL;
    if (!call->valid && lingma_toolset_has(t->ts, call->name)) {
        /* The schema's sentences do not name the tool. */
        snprintf(why, sizeof(why), "%.128s: %s", call->name, call->error);
        error = why;
    } else if (!call->valid) {
        error = call->error;
    } else if (t->named && strcmp(call->name, t->named) != 0) {
        snprintf(why, sizeof(why), "only the tool %.128s may be called, not '%.64s'", t->named,
                 call->name);
        error = why;
    }
    if (error) {
        if (!t->invalid)
            set_reason(t, error);
        t->invalid = 1;
        return;
    }
    if (t->ncalls == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct call *c = lingma__realloc(t->alloc, t->calls, cap * sizeof(*c));
        if (!c) {
            t->oom = 1;
            return;
        }
        t->calls = c;
        t->cap = cap;
    }
    struct call *c = &t->calls[t->ncalls];
    c->name = lingma__strdup(t->alloc, call->name);
    c->arguments = lingma__strdup(t->alloc, call->arguments);
    if (!c->name || !c->arguments) {
        lingma__free(t->alloc, c->name);
        lingma__free(t->alloc, c->arguments);
        t->oom = 1;
        return;
    }
    t->ncalls++;
}

static const lingma_tool_parser_callbacks parser_cbs = {on_text, on_call};

/* Hand out what the last feed released for the screen, as one piece: the
 * parser cuts only at line starts and block edges, so one feed of whole
 * UTF-8 characters releases whole characters. */
static int
flush_pend(struct lingma__chat_tools *t, const struct lingma__chat_tools_sink *sink, void *ud)
{
    if (t->oom)
        return LINGMA_ENOMEM;
    if (!t->pend.len)
        return 0;
    int rc = sink->text(ud, t->pend.p, t->pend.len);
    t->live += t->pend.len;
    t->pend.len = 0;
    return rc;
}

int
lingma__chat_tools_text(struct lingma__chat_tools *t, const char *text, size_t len,
                        const struct lingma__chat_tools_sink *sink, void *ud)
{
    if (!t->parser && lingma_tool_parser_new(&t->parser, t->ts) != 0)
        return LINGMA_ENOMEM;
    if (lingma__buf_append(t->alloc, &t->raw, text, len) != 0 ||
        lingma_tool_parser_feed(t->parser, text, len, &parser_cbs, t) != 0)
        return LINGMA_ENOMEM;
    return flush_pend(t, sink, ud);
}

int
lingma__chat_tools_reasoning(struct lingma__chat_tools *t, const char *text, size_t len,
                             const struct lingma__chat_tools_sink *sink, void *ud)
{
    if (!holds_all(t))
        return sink->reasoning(ud, text, len);
    return lingma__buf_append(t->alloc, &t->held_reasoning, text, len);
}

/* The answer is good: what was held, then the calls. */
static int
release(struct lingma__chat_tools *t, const struct lingma__chat_tools_sink *sink, void *ud)
{
    int rc = 0;
    if (t->held_reasoning.len)
        rc = sink->reasoning(ud, t->held_reasoning.p, t->held_reasoning.len);
    if (rc == 0 && t->held.len)
        rc = sink->text(ud, t->held.p, t->held.len);
    for (size_t i = 0; rc == 0 && i < t->ncalls; i++)
        rc = sink->call(ud, i, t->calls[i].name, t->calls[i].arguments);
    return rc;
}

int
lingma__chat_tools_finish(struct lingma__chat_tools *t, enum lingma__tools_verdict *verdict,
                          size_t *ncalls, const struct lingma__chat_tools_sink *sink, void *ud)
{
    *verdict = LINGMA__TOOLS_DONE;
    *ncalls = 0;
    if (t->parser && lingma_tool_parser_finish(t->parser, &parser_cbs, t) != 0)
        return LINGMA_ENOMEM;
    int rc = flush_pend(t, sink, ud);
    if (rc != 0)
        return rc;
    int no_call = !t->invalid && t->ncalls == 0 && holds_all(t);
    if (no_call)
        set_reason(t, "no tool was called");
    if (!t->invalid && !no_call) {
        *ncalls = t->ncalls;
        return release(t, sink, ud);
    }
    if (t->attempt == 0) {
        *verdict = LINGMA__TOOLS_RETRY;
        return 0;
    }
    if (!holds_all(t)) {
        /* AUTO, refused twice: the answer is text after all, the invalid
         * block included, from where the screen stopped (AUTO holds no
         * reasoning: it streamed). */
        if (t->raw.len > t->live)
            rc = sink->text(ud, t->raw.p + t->live, t->raw.len - t->live);
        return rc;
    }
    char msg[sizeof(t->reason)];
    snprintf(msg, sizeof(msg),
             no_call ? "Lingma called no tool although one is required, also after a correction"
                     : "Lingma's tool call was invalid, also after a correction: %s",
             t->reason);
    set_reason(t, msg);
    *verdict = LINGMA__TOOLS_FAIL;
    return 0;
}

/* ---- the retry ---- */

/* The correction (doc/tools.md, "The retry": keep the two in step). */
static int
put_correction(struct lingma__chat_tools *t, struct lingma__buf *b)
{
    char line[sizeof(t->reason) + 64];
    if (t->invalid)
        snprintf(line, sizeof(line), "Your reply above is not valid: %s.\n", t->reason);
    else
        snprintf(line, sizeof(line), "Your reply above called no tool.\n");
    static const char only[] =
        "Call only the tools listed in the Tools section, with arguments that follow their JSON "
        "Schema, in a tool_call block at the end of your reply.\n";
    const lingma_allocator *a = t->alloc;
    int rc = lingma__buf_append(a, b, line, strlen(line));
    if (rc == 0)
        rc = lingma__buf_append(a, b, only, sizeof(only) - 1);
    if (rc != 0)
        return rc;
    if (t->choice == LINGMA_TOOL_CHOICE_NAMED)
        snprintf(line, sizeof(line), "You must call the tool %s now.", t->named);
    else if (t->choice == LINGMA_TOOL_CHOICE_REQUIRED)
        snprintf(line, sizeof(line), "You must call at least one tool now.");
    else
        snprintf(line, sizeof(line),
                 "If no tool is needed, answer in plain text without a tool_call block.");
    return lingma__buf_append(a, b, line, strlen(line));
}

static void
reset_answer(struct lingma__chat_tools *t)
{
    lingma_tool_parser_free(t->parser);
    t->parser = NULL;
    t->raw.len = t->pend.len = t->held.len = t->held_reasoning.len = 0;
    t->live = 0;
    drop_calls(t);
    t->seen = 0;
    t->invalid = 0;
    t->reason[0] = '\0';
}

int
lingma__chat_tools_retry_prompt(struct lingma__chat_tools *t, char **out, const char *prompt)
{
    const lingma_allocator *a = t->alloc;
    struct lingma__buf b = {0};
    static const char said[] = "\n\nAssistant:\n", asks[] = "\n\nUser:\n";

    *out = NULL;
    int rc = lingma__buf_append(a, &b, prompt, strlen(prompt));
    if (rc == 0)
        rc = lingma__buf_append(a, &b, said, sizeof(said) - 1);
    /* Up to a NUL the answer may hold (\u0000): the prompt is a C string. */
    if (rc == 0 && t->raw.len)
        rc = lingma__buf_append(a, &b, t->raw.p, strlen(t->raw.p));
    if (rc == 0)
        rc = lingma__buf_append(a, &b, asks, sizeof(asks) - 1);
    if (rc == 0)
        rc = put_correction(t, &b);
    if (rc != 0) {
        lingma__free(a, b.p);
        return rc;
    }
    reset_answer(t);
    t->attempt = 1;
    *out = b.p;
    return 0;
}

const char *
lingma__chat_tools_error(const struct lingma__chat_tools *t)
{
    return t->reason;
}
