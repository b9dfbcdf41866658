/*
 * Internal: tool calling of one chat (doc/tools.md, "In the runtime").
 *
 * The chat (chat.h) owns the asks, the deadlines, the events and the end;
 * this module owns what tool calling adds to them: the tool section before
 * the prompt, the answer run through a lingma_tool_parser, what is streamed
 * at once and what is held until the answer is complete, the verdict on a
 * complete answer (its calls, one retry with a correction, its text, or an
 * error), and the retry's prompt. It does no I/O: what it releases goes
 * back to the chat through a sink, which turns it into events.
 *
 * Threads: lingma__chat_tools_new() runs on the thread calling
 * lingma_chat_start(), before the chat is published; everything else on
 * the service thread.
 */
#ifndef LINGMA_INTERNAL_CHAT_TOOLS_H
#define LINGMA_INTERNAL_CHAT_TOOLS_H

#include <stddef.h>

#include "lingma/chat.h"

struct lingma__chat_tools;

/* Where released pieces go: each becomes one event of the chat. Every
 * function returns 0 or LINGMA_ENOMEM. */
struct lingma__chat_tools_sink {
    int (*text)(void *ud, const char *text, size_t len);      /* DELTA */
    int (*reasoning)(void *ud, const char *text, size_t len); /* REASONING */
    /* TOOL_CALL number `index`; the chat gives it its id. */
    int (*call)(void *ud, size_t index, const char *name, const char *arguments);
};

/* Validate the tool fields of `opts` (a version 2 struct) and make the
 * state. *out is NULL when the chat does no tool calling (no tools, or
 * LINGMA_TOOL_CHOICE_NONE); otherwise *prompt gets the prompt to send, the
 * tool section, a blank line and `opts->prompt` (allocated through `a`).
 * @return 0; LINGMA_EINVAL (see lingma_chat_start); LINGMA_ENOMEM. */
int lingma__chat_tools_new(struct lingma__chat_tools **out, char **prompt,
                           const lingma_allocator *a, const lingma_chat_options *opts);
/* NULL ok. */
void lingma__chat_tools_free(struct lingma__chat_tools *t);

/* The answer's text (the think block already split off), in order. */
int lingma__chat_tools_text(struct lingma__chat_tools *t, const char *text, size_t len,
                            const struct lingma__chat_tools_sink *sink, void *ud);
/* The think block's text. */
int lingma__chat_tools_reasoning(struct lingma__chat_tools *t, const char *text, size_t len,
                                 const struct lingma__chat_tools_sink *sink, void *ud);

enum lingma__tools_verdict {
    LINGMA__TOOLS_DONE,  /* all released: the chat ends with DONE, *ncalls calls */
    LINGMA__TOOLS_RETRY, /* ask again, with lingma__chat_tools_retry_prompt() */
    LINGMA__TOOLS_FAIL,  /* the chat ends with LINGMA_EPROTO, lingma__chat_tools_error() */
};

/* The answer is complete (chat/finish with status 200): decide, and release
 * what the verdict lets through. @return 0 or LINGMA_ENOMEM. */
int lingma__chat_tools_finish(struct lingma__chat_tools *t, enum lingma__tools_verdict *verdict,
                              size_t *ncalls, const struct lingma__chat_tools_sink *sink, void *ud);

/* After RETRY: the prompt of the second ask, `prompt` (the first ask's)
 * followed by the first answer and the correction (doc/tools.md, "The
 * retry"), allocated through the allocator of lingma__chat_tools_new().
 * The state is then ready for the second answer. @return 0 or ENOMEM. */
int lingma__chat_tools_retry_prompt(struct lingma__chat_tools *t, char **out, const char *prompt);

/* Why the answer was refused: the message of FAIL, the reason of RETRY. */
const char *lingma__chat_tools_error(const struct lingma__chat_tools *t);

#endif
