/*
 * lingma-sim: answer generation and chunking. Pure functions, no I/O: the
 * same settings, seed and question always give the same answer and the same
 * deltas, so tests can assert on exact text.
 */
#ifndef LINGMA_SIM_ANSWER_H
#define LINGMA_SIM_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/* The inline reasoning block Lingma puts in the text of a thinking model. */
#define SIM_THINK_OPEN  "\n````think::{THINK_TIME}\n"
#define SIM_THINK_CLOSE "\n````\n"

/*
 * The whole answer to `question` (malloc'd, NUL-terminated), including the
 * think block when `reasoning`. NULL when it cannot be made: `err` then
 * says why (a bad script:FILE), or is "" (out of memory).
 */
char *sim_answer_text(const struct sim_settings *s, const char *question, bool reasoning, char *err,
                      size_t errlen);

/*
 * The plan of chat/answer deltas for a text of `len` bytes cut into
 * `chunks` pieces: the pieces in order, with an empty delta after the
 * second piece (when there are at least two) and one at the end, as real
 * Lingma sends ("pon", "", "g", ""). Pieces end on UTF-8 boundaries, so
 * a piece may be empty when the text is shorter than `chunks`.
 */
int sim_answer_delta_count(int chunks);
/* Byte range of delta `d` (0 <= d < sim_answer_delta_count(chunks)). */
void sim_answer_delta(const char *text, size_t len, int chunks, int d, size_t *off, size_t *n);

/* A rough token estimate (bytes / 4, at least 1 for non-empty text). */
int sim_answer_tokens(const char *text);

#endif
