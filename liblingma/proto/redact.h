/*
 * Internal: masking secrets in a line of text (pure). The login hook's
 * output goes through it before it reaches the log (os/loginhook.c).
 */
#ifndef LINGMA_INTERNAL_REDACT_H
#define LINGMA_INTERNAL_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/** Longest login hook line passed to the log callback (longer ones are
 * truncated), and so the most lingma__redact() looks at. */
#define LINGMA__HOOK_LINE_MAX 2048

/**
 * Redacts one line of output into `out` (always NUL-terminated, truncated to
 * `cap`): every occurrence of `secret` (when non-empty), the value after a
 * key that names a secret (password, passwd, pwd, secret, token, api_key,
 * apikey, auth, cookie, session, followed by '=' or ':' and optional quotes),
 * the word after "Bearer " or "Basic ", and JWT-looking strings ("eyJ..."
 * with two dots) become "***". When `cut` is true (the line was truncated),
 * a tail of the line that is a prefix of `secret` is masked as well.
 * @return the length written to `out`.
 */
size_t lingma__redact(char *out, size_t cap, const char *in, size_t len, const char *secret,
                      bool cut);

#endif
