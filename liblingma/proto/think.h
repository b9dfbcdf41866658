/*
 * Streaming splitter for Lingma's inline think block (pure, no I/O).
 *
 * Reasoning models embed their thinking in the answer text itself:
 *
 *     \n````think::{THINK_TIME}\n  <reasoning>  \n````\n  <answer>
 *
 * and the markers may be cut anywhere by chat/answer delta boundaries. The
 * splitter holds back only bytes that may start a marker (at most 12, all
 * ASCII) and emits everything else at once, classified as answer or
 * reasoning. It cuts only at marker boundaries and at the caller's delta
 * boundaries, so whole UTF-8 input deltas give whole UTF-8 output pieces.
 * An opening marker is also recognised at the very start of the text
 * (without the leading newline).
 */
#ifndef LINGMA_INTERNAL_THINK_H
#define LINGMA_INTERNAL_THINK_H

#include <stddef.h>

enum lingma__think_state {
    LINGMA__THINK_TEXT = 0, /* answer text, looking for the opening marker */
    LINGMA__THINK_HEADER,   /* inside "think::...", skipping to the end of the line */
    LINGMA__THINK_BODY,     /* reasoning text, looking for the closing marker */
};

struct lingma__think {
    enum lingma__think_state state;
    char held[16]; /* bytes matching a marker prefix so far */
    size_t held_len;
    int held_virtual; /* held[0] is the virtual newline placed before the text */
};

/*
 * Receives one piece. `reasoning` is 1 for think-block text. Return 0 to go
 * on; a non-zero value stops the feed and is returned by it.
 */
typedef int (*lingma__think_emit_fn)(int reasoning, const char *text, size_t len, void *payload);

void lingma__think_init(struct lingma__think *t);
int lingma__think_feed(struct lingma__think *t, const char *text, size_t len,
                       lingma__think_emit_fn emit, void *payload);
/* End of the text: releases what was held back. The splitter is then reset. */
int lingma__think_finish(struct lingma__think *t, lingma__think_emit_fn emit, void *payload);

#endif
