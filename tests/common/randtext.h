/*
 * Deterministic random inputs for the tests that hold a direct JSON writer
 * byte-equal to its jansson twin: a seeded LCG (the same sequence on every
 * run and machine) and texts drawn from bytes that hit every JSON escape,
 * NUL, DEL, multi-byte and invalid UTF-8.
 */
#ifndef TEST_RANDTEXT_H
#define TEST_RANDTEXT_H

#include <stddef.h>
#include <stdint.h>

/* A number in [0, n) from `*state`, which it advances. */
unsigned test_pick(uint32_t *state, unsigned n);

/* Up to cap - 1 random bytes into `out`, NUL-terminated after them (about
 * one in 20 of them NUL as well); returns how many. */
size_t test_random_text(uint32_t *state, char *out, size_t cap);

#endif
