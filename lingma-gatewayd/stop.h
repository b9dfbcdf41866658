/*
 * Incremental stop-sequence matcher (OpenAI `stop`). Fed the answer's
 * deltas in order, it hands out the text that is safe to forward and holds
 * back a tail that could still be the start of a stop sequence spanning the
 * next delta. When a stop sequence appears, the text before it is the last
 * output and the matcher reports the hit: the gateway then stops the chat
 * upstream and ends with finish_reason "stop". The stop sequence itself is
 * never forwarded, as with OpenAI.
 *
 * Output never ends inside a UTF-8 character: a delta that stops mid-way
 * through one (which Lingma's JSON deltas never do) is held back as well.
 */
#ifndef GW_STOP_H
#define GW_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "openai.h"

typedef struct gw_stop_seq {
    char *s;
    size_t len;
} gw_stop_seq;

/* The sequences are allocated by need: a matcher without any (the common
 * case, held by every open stream) is a few words, not GW_MAX_STOP slots. */
typedef struct gw_stop_matcher {
    gw_stop_seq *seq; /* n entries, NULL when n == 0 */
    size_t n;
    gw_buf held; /* pending bytes, then scratch for the current feed */
    bool hit;
    size_t hit_index; /* which stop sequence matched, once hit */
} gw_stop_matcher;

/* Copy up to GW_MAX_STOP non-empty stop sequences (empty ones and
 * extras are ignored). n == 0 makes a pass-through matcher. 0 or
 * LINGMA_ENOMEM (nothing to free then). */
int gw_stop_init(gw_stop_matcher *m, char *const *stops, size_t n);

/* NULL-safe; leaves `m` zeroed. */
void gw_stop_free(gw_stop_matcher *m);

/* Feed a delta; append to `out` the text that may be forwarded now (maybe
 * nothing). After a hit, further input is ignored. *hit (optional) reports
 * whether a stop sequence has been seen. 0 or LINGMA_ENOMEM. */
int gw_stop_feed(gw_stop_matcher *m, gw_buf *out, const char *text, size_t len, bool *hit);

/* The stop sequence that matched (Anthropic reports it), or NULL. */
const char *gw_stop_matched(const gw_stop_matcher *m);

/* The answer ended without a hit: append whatever is still held back.
 * 0 or LINGMA_ENOMEM. */
int gw_stop_flush(gw_stop_matcher *m, gw_buf *out);

#endif
