/*
 * Internal: run the operator's login hook for one instance.
 *
 * The hook is a shell command (`/bin/sh -c COMMAND`) spawned through child.h,
 * so it gets its own process group, default signals, no leaked descriptor,
 * stdin from /dev/null. Its environment is ours plus:
 *
 *   LINGMA_LOGIN_URL  the URL Lingma wants the user to open (may be empty)
 *   LINGMA_INSTANCE   the instance name, "inst-0"
 *   LINGMA_USERNAME   the account's username (empty when none)
 *   LINGMA_PASSWORD   the account's password (empty when none)
 *
 * stdout and stderr share one pipe (non-blocking, O_CLOEXEC on our end).
 * Each line is redacted (lingma__redact(), redact.h) and passed to the log callback at
 * LINGMA_LOG_INFO as "login hook <instance>: <line>". Lines longer than
 * LINGMA__HOOK_LINE_MAX are cut and marked " [truncated]".
 *
 * When the hook runs longer than its timeout, its whole process group gets
 * SIGKILL and the result is LINGMA__HOOK_TIMEDOUT. When the hook exits, what
 * is already in the pipe is logged and the pipe closed: a background process
 * the hook left behind (still holding the pipe) does not keep it running.
 *
 * Driving it from the service thread, without blocking:
 *
 *   lingma__hook_start(&h, &opts, now, err, sizeof err);
 *   loop: poll the descriptors of lingma__hook_fds() for POLLIN, at most
 *         `next_ms` long; then lingma__hook_step(h, now, &next_ms) until it
 *         returns 1; lingma__hook_result(h); lingma__hook_free(h).
 *
 * lingma__hook_run() is that loop, blocking; tests and simple callers use it.
 */
#ifndef LINGMA_INTERNAL_LOGINHOOK_H
#define LINGMA_INTERNAL_LOGINHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"
#include "redact.h" /* LINGMA__HOOK_LINE_MAX */

/** Default timeout when the options leave it at 0. */
#define LINGMA__HOOK_TIMEOUT_MS (5 * 60 * 1000)

struct lingma__hook_opts {
    const char *command;   /**< run with /bin/sh -c; required, non-empty */
    const char *instance;  /**< "inst-0"; required */
    const char *login_url; /**< may be NULL (exported empty) */
    const char *username;  /**< may be NULL */
    const char *password;  /**< may be NULL; redacted from the output */
    int timeout_ms;        /**< <= 0: LINGMA__HOOK_TIMEOUT_MS */
    lingma_log_fn log;     /**< may be NULL: output is read and dropped */
    void *log_payload;
    const lingma_allocator *alloc; /**< NULL: malloc */
};

#define LINGMA__HOOK_OPTS_INIT                                                                     \
    {                                                                                              \
        NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL                                          \
    }

enum lingma__hook_outcome {
    LINGMA__HOOK_RUNNING = 0,
    LINGMA__HOOK_EXITED,   /**< exited; `exit_code` (0 = success) */
    LINGMA__HOOK_SIGNALED, /**< killed by `signal` (not by us) */
    LINGMA__HOOK_TIMEDOUT, /**< we killed the group after the timeout */
};

struct lingma__hook_result {
    enum lingma__hook_outcome outcome;
    int exit_code; /**< when EXITED */
    int signal;    /**< when SIGNALED */
    int64_t elapsed_ms;
};

struct lingma__hook;

/**
 * Spawns the hook. The secrets are copied only into the child's environment
 * block and a private copy of the password kept for redaction; both are
 * wiped when no longer needed (the environment block right after spawn).
 *
 * @return 0; LINGMA_EINVAL; LINGMA_ENOMEM; LINGMA_ESPAWN (pipe or exec
 *         failed) with a detail message in `err`.
 */
int lingma__hook_start(struct lingma__hook **out, const struct lingma__hook_opts *opts,
                       int64_t now_ms, char *err, size_t errlen);

/**
 * Descriptors to poll for POLLIN: the output pipe and the pidfd, each -1
 * when absent (pipe closed; no pidfd). With no pidfd, step() must still be
 * called every `next_ms`.
 * @return how many entries of `fds` are >= 0.
 */
int lingma__hook_fds(const struct lingma__hook *h, int fds[2]);

/**
 * Reads what the pipe has (logging whole lines), notices the exit, enforces
 * the timeout. Never blocks. `next_ms` (may be NULL) receives the longest
 * the caller may wait before calling again.
 * @return 1 finished (result available), 0 still running.
 */
int lingma__hook_step(struct lingma__hook *h, int64_t now_ms, int *next_ms);

/** The result so far (outcome RUNNING until step() returned 1). */
void lingma__hook_result(const struct lingma__hook *h, struct lingma__hook_result *out);

/** "exited with status 0", "timed out after 120 s and was killed", ... */
void lingma__hook_describe(const struct lingma__hook_result *r, char *buf, size_t len);

/**
 * Frees the hook. A hook still running is killed (SIGKILL to its group) and
 * reaped, bounded. NULL-safe.
 */
void lingma__hook_free(struct lingma__hook *h);

/**
 * Blocking convenience: start, poll/step until finished, free.
 * @return 0 when the hook ran (see `out` for how it ended: a non-zero exit
 *         is a result, not an error), or the error of lingma__hook_start().
 */
int lingma__hook_run(const struct lingma__hook_opts *opts, struct lingma__hook_result *out,
                     char *err, size_t errlen);

#endif
