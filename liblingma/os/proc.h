/*
 * Internal: supervision of one Lingma process (spawn, notice death, stop).
 *
 * Independent of lws and threads. The service thread owns a struct
 * lingma__proc (embedded in its instance) and drives it:
 *
 *   lingma__proc_init(&p);
 *   lingma__proc_spawn(&p, &opts, err, sizeof err);  // removes stale .info first
 *   poll lingma__proc_fd(&p) for POLLIN (or, when it is -1, call
 *   lingma__proc_check() every LINGMA__PROC_POLL_MS) -> lingma__proc_check():
 *       1 = the process died (reaped, group swept; p.child.status tells how)
 *   ... read <work_dir>/.info with lingma__info_read() until it parses ...
 *   stop: lingma__proc_stop_begin(&p, now) then lingma__proc_stop_poll(&p,
 *   now, &next_ms) on every pidfd wake-up or timer until it returns 1;
 *   teardown: lingma__proc_stop_sync(&p, LINGMA__PROC_KILL_AFTER_MS);
 *   lingma__proc_dispose(&p).
 *
 * Stopping follows Lingma's own launchers: SIGINT to the process group, and
 * SIGKILL to the group when it is still alive after the grace period (3 s).
 * Every path reaps the process: no zombie is left behind.
 *
 * Time is CLOCK_MONOTONIC milliseconds (lingma__monotonic_ms()), passed in.
 */
#ifndef LINGMA_INTERNAL_PROC_H
#define LINGMA_INTERNAL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"
#include "child.h"

/** Default grace between SIGINT and SIGKILL, as Lingma's launchers use. */
#define LINGMA__PROC_KILL_AFTER_MS 3000
/** Poll period to use when no pidfd is available. */
#define LINGMA__PROC_POLL_MS 100
/** Name of the log file in the work dir that receives Lingma's stdout+stderr. */
#define LINGMA__PROC_LOG_NAME "lingma-stdio.log"
/** Upper bound on extra arguments (lingma__proc_opts.extra_args). */
#define LINGMA__PROC_MAX_EXTRA_ARGS 16

struct lingma__proc_opts {
    const char *bin;      /**< Lingma binary (path, or a name searched in PATH). Required. */
    const char *work_dir; /**< --workDir; created (mkdir -p, 0700) when missing. Required. */
    int socket_port;      /**< --socketPort N when 1..65535; 0: not passed (Lingma chooses) */
    int http_port;        /**< --httpPort N when 1..65535; 0: not passed */
    /** NULL-terminated arguments appended after the standard ones; may be NULL. */
    const char *const *extra_args;
    /** Environment overrides ("NAME=value" sets, "NAME" removes); may be NULL. */
    const char *const *env;
    bool inherit_env; /**< start from the process environment (default true) */
    /**
     * true (default): stdout+stderr append to <work_dir>/LINGMA__PROC_LOG_NAME
     * (O_APPEND, 0600). false: both go to /dev/null.
     */
    bool log_to_file;
    int kill_after_ms;             /**< SIGINT -> SIGKILL grace; <= 0: LINGMA__PROC_KILL_AFTER_MS */
    const lingma_allocator *alloc; /**< NULL: malloc */
};

#define LINGMA__PROC_OPTS_INIT                                                                     \
    {                                                                                              \
        NULL, NULL, 0, 0, NULL, NULL, true, true, 0, NULL                                          \
    }

enum lingma__proc_state {
    LINGMA__PROC_NONE = 0, /**< never spawned, or disposed */
    LINGMA__PROC_RUNNING,  /**< spawned, not known to have exited */
    LINGMA__PROC_STOPPING, /**< SIGINT sent, waiting; SIGKILL when `killed` */
    LINGMA__PROC_EXITED,   /**< reaped; child.status is valid */
};

struct lingma__proc {
    struct lingma__child child;
    enum lingma__proc_state state;
    int kill_after_ms;
    int64_t kill_at_ms; /**< when STOPPING: SIGKILL deadline */
    bool killed;        /**< SIGKILL was sent */
};

/** The argument vector for one spawn, built without allocation. */
struct lingma__proc_argv {
    char *argv[8 + LINGMA__PROC_MAX_EXTRA_ARGS + 1];
    char socket_port[8];
    char http_port[8];
};

/**
 * Builds `BIN start --workDir DIR [--socketPort N] [--httpPort N] [extra...]`.
 * The strings are borrowed from `opts` (and from `out` for the numbers).
 * @return 0 or LINGMA_EINVAL (missing bin/work_dir, bad port, too many extra args).
 */
int lingma__proc_argv_build(struct lingma__proc_argv *out, const struct lingma__proc_opts *opts);

/** Resets `p` to LINGMA__PROC_NONE. */
void lingma__proc_init(struct lingma__proc *p);

/**
 * Creates the work dir, removes a stale .info/.info.json there, opens the
 * log file and spawns Lingma (see child.h for what the child gets). The
 * child's working directory is the work dir.
 *
 * @return 0; LINGMA_EINVAL (bad options, or `p` still owns a live process);
 *         LINGMA_ENOMEM; LINGMA_ESPAWN (work dir, log file or exec failed),
 *         with a detail message in `err`.
 */
int lingma__proc_spawn(struct lingma__proc *p, const struct lingma__proc_opts *opts, char *err,
                       size_t errlen);

/** The pidfd to poll for POLLIN, or -1 (then call lingma__proc_check() periodically). */
int lingma__proc_fd(const struct lingma__proc *p);

/** The pid (also the process group id) while spawned, else 0. */
int lingma__proc_pid(const struct lingma__proc *p);

/**
 * Notices an exit without blocking: reaps, sweeps the group (SIGKILL to any
 * leftover children of Lingma) and moves to LINGMA__PROC_EXITED.
 * @return 1 exited (now or earlier), 0 running, LINGMA_EINVAL never spawned.
 */
int lingma__proc_check(struct lingma__proc *p);

/**
 * Starts a non-blocking stop: SIGINT to the process group, SIGKILL deadline
 * at now + kill_after_ms. Idempotent while stopping.
 * @return 1 already exited (nothing to do), 0 stopping, LINGMA_EINVAL never spawned.
 */
int lingma__proc_stop_begin(struct lingma__proc *p, int64_t now_ms);

/**
 * Advances a stop: reaps when the process exited; past the deadline sends
 * SIGKILL to the group (once). `next_ms` (may be NULL) receives how long the
 * caller may sleep before calling again if the pidfd stays quiet: the time
 * to the deadline, capped at LINGMA__PROC_POLL_MS when there is no pidfd or
 * SIGKILL was already sent.
 * @return 1 exited and reaped, 0 still stopping, LINGMA_EINVAL not stopping.
 */
int lingma__proc_stop_poll(struct lingma__proc *p, int64_t now_ms, int *next_ms);

/**
 * Blocking, bounded stop for teardown: SIGINT, wait up to `grace_ms`
 * (<= 0: the configured kill_after_ms), SIGKILL, wait up to 2 s more.
 * When a stop_begin() came first, the grace runs from then (never longer
 * than `grace_ms` from now): signal every instance with stop_begin(), then
 * stop_sync() each, and the whole pool waits one grace period, not N.
 * @return 0 reaped (or never running); LINGMA_ETIMEDOUT when the process
 *         survived SIGKILL (uninterruptible sleep): it stays unreaped and a
 *         later lingma__proc_check() may still reap it.
 */
int lingma__proc_stop_sync(struct lingma__proc *p, int grace_ms);

/**
 * Forgets the process: stops it first (lingma__proc_stop_sync) when it is
 * still running, closes the pidfd, back to LINGMA__PROC_NONE.
 */
void lingma__proc_dispose(struct lingma__proc *p);

/**
 * mkdir -p with `mode` for the directories it creates (existing ones are left
 * as they are). @return 0 or LINGMA_ESPAWN with a detail message.
 */
int lingma__mkdir_p(const char *path, unsigned mode, char *err, size_t errlen);

/**
 * The work dir of instance `index` of `count`: `base` itself when count is 1
 * (the legacy single path), else `base/inst-<index>`.
 * @return 0 or LINGMA_EINVAL when it does not fit in `buf`.
 */
int lingma__proc_instance_dir(char *buf, size_t len, const char *base, size_t count, size_t index);

/**
 * Whether something accepts TCP connections on 127.0.0.1:`port`: a
 * non-blocking connect bounded by `timeout_ms` (e.g. 200).
 * @return 1 open, 0 closed/refused/timed out, LINGMA_EINVAL bad port, LINGMA_ERROR.
 */
int lingma__port_is_open(int port, int timeout_ms);

/**
 * Finds `n` distinct free TCP ports on 127.0.0.1 (for --socketPort and
 * --httpPort when N > 1): binds port 0 `n` times, keeping every socket open
 * until all ports are known (so they differ), reads them and closes them.
 *
 * The race: nothing reserves a port after its socket is closed. Another
 * process may take it before Lingma binds; Lingma then fails to start (or
 * writes another port to .info, which is read, not assumed). The instance's
 * start fails and its backoff retries with fresh ports.
 *
 * @return 0, or LINGMA_EINVAL / LINGMA_ERROR with a detail message.
 */
int lingma__find_free_ports(int *out, size_t n, char *err, size_t errlen);

#endif
