/*
 * Token estimation, for `usage` when Lingma reports none and for enforcing
 * `max_tokens` on a stream. Lingma's tokenizer is not available, so this is
 * a documented heuristic tuned to land near BPE tokenizers (cl100k, Qwen)
 * on English prose, code and CJK text, erring slightly high:
 *
 *   - a run of ASCII letters, digits and '_' costs 1 token per 4 characters
 *     (rounded up); other letters (accented Latin, Cyrillic, Greek, ...) in a
 *     run weigh 2, so 2 of them make a token;
 *   - every CJK ideograph, kana, Hangul syllable or full-width form: 1 token;
 *   - every ASCII punctuation or symbol character: 1 token;
 *   - an emoji or other symbol outside the BMP: 2 tokens;
 *   - spaces and tabs are free (BPE merges them into the next word); a run
 *     of line breaks costs 1 token.
 *
 * The counter is incremental: feeding a text in pieces gives the same total
 * as feeding it at once, whatever the cut points (between characters).
 */
#ifndef GW_TOKENS_H
#define GW_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_token_counter {
    uint64_t closed; /* tokens of everything but the word run in progress */
    uint64_t run;    /* weight of the word run in progress (4 = one token) */
    bool newline;    /* the last character was a line break */
} gw_token_counter;

#define GW_TOKEN_COUNTER_INIT                                                                      \
    {                                                                                              \
        0, 0, false                                                                                \
    }

/* Tokens counted so far. */
uint64_t gw_token_counter_total(const gw_token_counter *c);

/* Count as much of text[0..len) as fits within `limit` tokens in total and
 * return how many bytes that is: len when everything fits, else a prefix
 * ending on a character boundary (the place to cut the answer and finish
 * with "length"). The text should be whole UTF-8 characters; stray bytes
 * count like other letters. */
size_t gw_token_counter_take(gw_token_counter *c, const char *text, size_t len, uint64_t limit);

/* Count all of text[0..len). */
void gw_token_counter_feed(gw_token_counter *c, const char *text, size_t len);

/* The estimate for a whole text. */
uint64_t gw_token_estimate(const char *text, size_t len);

#endif
