/*
 * Internal: spawn a child process and own it until it is reaped.
 *
 * This is the one place where liblingma starts processes; proc.c (Lingma
 * itself) and loginhook.c (the operator's login hook) both go through it.
 *
 * What every child gets, whatever the caller asks:
 *   - its own process group (pgid == pid), so that a signal reaches the
 *     child and everything it started, and never our own group;
 *   - default dispositions for every signal and an empty signal mask,
 *     whatever the application did to its own threads;
 *   - no descriptor of ours except 0, 1 and 2: the library opens everything
 *     O_CLOEXEC, and where glibc has posix_spawn_file_actions_addclosefrom_np
 *     (2.34+) every descriptor >= 3 is closed in the child as well, which
 *     also covers descriptors the application leaked without O_CLOEXEC;
 *   - stdin from /dev/null.
 *
 * Reaping: the owner reaps, always, through lingma__child_reap() or
 * lingma__child_wait(). The library installs no SIGCHLD handler and never
 * calls waitpid(-1). The application must not set SIGCHLD to SIG_IGN nor
 * reap children it did not start (waitpid(-1, ...)), or exits go unnoticed.
 *
 * Thread safety: none inside; a child is owned by one thread at a time.
 * Reading `environ` while another thread calls setenv() is a race that only
 * the application can avoid (do not change the environment after startup).
 */
#ifndef LINGMA_INTERNAL_CHILD_H
#define LINGMA_INTERNAL_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lingma/common.h"

/** A spawned process, owned until reaped. Embed it; no allocation. */
struct lingma__child {
    pid_t pid;   /**< > 0 from spawn until lingma__child_close(); also the pgid */
    int pidfd;   /**< readable once the child exited; -1 when pidfd is unavailable */
    int status;  /**< wait(2) status, valid once `reaped` */
    bool reaped; /**< the child was waited for: no zombie, pid no longer ours */
};

/** Where a standard descriptor of the child goes. */
struct lingma__spawn_opts {
    /** The program. Without a '/', it is searched in PATH (posix_spawnp). */
    const char *file;
    /** NULL-terminated argument vector; argv[0] is the name the child sees. */
    char *const *argv;
    /** true: start from the process environment; false: start empty. */
    bool inherit_env;
    /**
     * NULL-terminated overrides, applied in order: "NAME=value" sets NAME,
     * "NAME" (no '=') removes it. May be NULL. Borrowed.
     */
    const char *const *env;
    /** Working directory of the child, or NULL to inherit ours. */
    const char *cwd;
    /** Descriptor for the child's stdout, or -1 for /dev/null. Borrowed. */
    int stdout_fd;
    /** Descriptor for the child's stderr, or -1 for /dev/null. May equal stdout_fd. */
    int stderr_fd;
    /** Allocator for the temporary environment array; NULL: malloc. */
    const lingma_allocator *alloc;
};

#define LINGMA__SPAWN_OPTS_INIT                                                                    \
    {                                                                                              \
        NULL, NULL, true, NULL, NULL, -1, -1, NULL                                                 \
    }

/** Resets `c` to "no child" (pid 0, pidfd -1). */
void lingma__child_init(struct lingma__child *c);

/**
 * Starts a process. On success `out` owns it: pid set, pidfd open when the
 * kernel allows (pidfd_open(2), Linux 5.3+; -1 otherwise, then the owner
 * polls with lingma__child_reap()).
 *
 * @return 0; LINGMA_EINVAL (bad options); LINGMA_ENOMEM; LINGMA_ESPAWN (the
 *         exec failed, e.g. no such file or permission denied) with a detail
 *         message in `err` (may be NULL) naming the program and errno text.
 */
int lingma__spawn(struct lingma__child *out, const struct lingma__spawn_opts *opts, char *err,
                  size_t errlen);

/**
 * Builds the child environment: `base` (may be NULL) then `overrides` as
 * described in lingma__spawn_opts.env. The strings are borrowed from both
 * arrays; only the pointer array is allocated (free with lingma__free()).
 *
 * @return 0 or LINGMA_ENOMEM / LINGMA_EINVAL (an override starting with '=').
 */
int lingma__env_build(char ***out, const lingma_allocator *a, char *const *base,
                      const char *const *overrides);

/** The descriptor to poll for POLLIN (exit), or -1: poll with lingma__child_reap(). */
int lingma__child_fd(const struct lingma__child *c);

/** true while the child was spawned and is not reaped yet. */
bool lingma__child_alive(const struct lingma__child *c);

/**
 * Sends `sig` to the child's whole process group. A group that is already
 * gone (ESRCH) is not an error.
 *
 * @return 0; LINGMA_EINVAL when there is no child; LINGMA_ERROR otherwise.
 */
int lingma__child_signal(struct lingma__child *c, int sig);

/**
 * Reaps the child if it exited, without blocking. When `sweep` is true and
 * the child has exited, SIGKILL is sent to its process group *before* the
 * child is reaped: the unreaped zombie still pins the pid, so the group id
 * cannot have been reused and only leftovers of this child are killed.
 *
 * @return 1 reaped (now or before; `status` is valid), 0 still running,
 *         LINGMA_ERROR when waiting failed (e.g. someone else reaped it:
 *         then `reaped` is set with status 0 so the owner moves on).
 */
int lingma__child_reap(struct lingma__child *c, bool sweep);

/**
 * Waits at most `timeout_ms` (>= 0) for the child to exit, then reaps it
 * (with `sweep` as above). Polls the pidfd when there is one, else waitpid
 * WNOHANG every few milliseconds. Never waits longer than asked.
 *
 * @return 1 reaped, 0 timed out (still running), LINGMA_ERROR as above.
 */
int lingma__child_wait(struct lingma__child *c, int timeout_ms, bool sweep);

/**
 * Closes the pidfd and forgets the child. If it was not reaped, this does
 * NOT kill or wait: call lingma__child_wait() first, or accept a zombie.
 */
void lingma__child_close(struct lingma__child *c);

/** A human description of a wait status: "exited with status 3", "killed by signal 9". */
void lingma__wait_status_str(int status, char *buf, size_t len);

/** CLOCK_MONOTONIC in milliseconds: the `now` every sans-I/O module expects. */
int64_t lingma__monotonic_ms(void);

/**
 * Opens `path` with `flags | O_CLOEXEC` and moves the descriptor above 2,
 * so that dup2() to 0/1/2 in a child always clears close-on-exec.
 * @return the descriptor, or -1 with errno set.
 */
int lingma__open_cloexec(const char *path, int flags, int mode);

#endif
