/* Internal: formatting a detail message into a caller's buffer. */
#ifndef LINGMA_INTERNAL_DETAIL_H
#define LINGMA_INTERNAL_DETAIL_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define LINGMA__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LINGMA__PRINTF(f, a)
#endif

/**
 * snprintf() into `err` when it is not NULL and `len` > 0; always
 * terminated, silently truncated. Returns `code`, so that an error path is
 * one line: `return lingma__detail(LINGMA_EINVAL, err, len, "...", ...);`.
 */
int lingma__detail(int code, char *err, size_t len, const char *fmt, ...) LINGMA__PRINTF(4, 5);

/**
 * Copies `src` into `dst` (`cap` > 0 bytes, always terminated), truncated
 * at a UTF-8 character boundary: messages kept this way end up in JSON.
 * `src` may overlap `dst`.
 */
void lingma__detail_copy(char *dst, size_t cap, const char *src);

#endif
