/*
 * Internal: the pool's accounts (LINGMA_ACCOUNTS, LINGMA_USERNAME,
 * LINGMA_PASSWORD) and the instance count rule. Pure functions.
 *
 * LINGMA_ACCOUNTS comes in two forms, told apart by its first non-blank
 * character ('[' or '{' means JSON; a lone object is an error, not an
 * account named '{"username"'):
 *
 *   CSV   "alice:s3cr:et, bob:hunter2"
 *         - entries are separated by ','; ASCII whitespace around an entry
 *           is trimmed;
 *         - the username is everything before the FIRST ':' and the password
 *           everything after it, so a password may contain ':' but not ','
 *           and cannot start or end with whitespace (use JSON for those);
 *         - the username must be non-empty and contain no whitespace or
 *           control character; the password must be non-empty;
 *         - every entry must be non-empty: "a:1,,b:2" and a trailing comma
 *           ("a:1,") are errors, so that a mangled list is never half used.
 *   JSON  [{"username":"alice","password":"s3cr,et"}, ...]
 *         - a non-empty array of objects with exactly these two keys, both
 *           non-empty strings (no NUL; no control character in usernames).
 *
 * In both forms a username may appear only once. A LINGMA_ACCOUNTS that is
 * empty or blank counts as unset. When it is unset, LINGMA_USERNAME and
 * LINGMA_PASSWORD give one account; setting only one of them is an error;
 * neither gives zero accounts (Lingma uses whatever login its work dir has).
 *
 * Errors name the position (1-based entry and byte offset) and the problem,
 * never a password and never an input excerpt: a message may be logged.
 * (Usernames are not printed either: they are often e-mail addresses.)
 *
 * Passwords are wiped (explicit_bzero) when freed. The JSON form goes
 * through jansson, whose own scratch buffers are freed without wiping; the
 * parser wipes the password strings of the parsed tree before releasing it,
 * which is as far as a library that may not replace jansson's allocator can
 * go.
 */
#ifndef LINGMA_INTERNAL_ACCOUNTS_H
#define LINGMA_INTERNAL_ACCOUNTS_H

#include <stddef.h>

#include "lingma/common.h"
#include "lingma/pool.h"

/** Upper bound on accounts and instances: a sanity limit against typos. */
#define LINGMA__MAX_INSTANCES LINGMA_MAX_INSTANCES

struct lingma__account {
    char *username;
    char *password;
};

struct lingma__accounts {
    struct lingma__account *v; /**< `n` accounts, in the order given */
    size_t n;
    const lingma_allocator *alloc;
};

/**
 * Parses the account configuration. `accounts` is LINGMA_ACCOUNTS (or
 * --accounts), `username`/`password` are LINGMA_USERNAME/LINGMA_PASSWORD;
 * each may be NULL (unset). On success `out` owns copies (free with
 * lingma__accounts_free()); on error `out` is empty.
 *
 * @return 0; LINGMA_EINVAL (malformed; a detail message in `err`, e.g.
 *         "accounts entry 2 (byte 9): missing ':' between username and
 *         password"); LINGMA_ENOMEM.
 */
int lingma__accounts_parse(struct lingma__accounts *out, const char *accounts, const char *username,
                           const char *password, const lingma_allocator *alloc, char *err,
                           size_t errlen);

/** Wipes and frees every password and username; `acc` becomes empty. NULL-safe. */
void lingma__accounts_free(struct lingma__accounts *acc);

/**
 * The instance count: `explicit_count` when it is set (> 0), else the number
 * of accounts, else 1. An explicit count lower than the number of accounts
 * is an error (an account would be silently unused); a higher one is fine
 * (the extra instances run without credentials). N == 1 keeps the legacy
 * single work dir and port (see lingma__proc_instance_dir()).
 *
 * @return 0 or LINGMA_EINVAL with a detail message.
 */
int lingma__instance_count(size_t *out, size_t n_accounts, size_t explicit_count, char *err,
                           size_t errlen);

#endif
