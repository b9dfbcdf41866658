/*
 * The one process runner of the tests and of lingma-bench: every
 * lingma-sim, lingma-gatewayd (or other program) they start goes through
 * procrun_spawn().
 *
 * No orphans: between fork and exec the child asks for SIGKILL when its
 * parent dies (PR_SET_PDEATHSIG), and its environment carries
 * LINGMA_EXIT_WITH_PARENT=<our pid>, which lingma-sim and lingma-gatewayd
 * honour at start-up and which lingma-gatewayd passes on to the simulators
 * it spawns (doc/lingma-sim.md, doc/gatewayd.md). A test process that dies,
 * even of SIGKILL, takes its children and their children with it.
 *
 * PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the
 * process: start children from a thread that outlives them (a test's or
 * lingma-bench's main thread, which also stops them).
 *
 * The child gets /dev/null on stdin, the given descriptors (or /dev/null)
 * on stdout and stderr, no other descriptor, an empty signal mask and
 * default signal dispositions (a parent that ignores SIGPIPE does not pass
 * that on). Processes are ended by pid only; every wait is bounded.
 *
 * POSIX and Linux only, no cmocka and no liblingma: lingma-bench links it
 * too (see tests/meson.build).
 */
#ifndef TESTS_PROCRUN_H
#define TESTS_PROCRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct procrun_opts {
    /* argv[0] is the program's path (no PATH search); NULL-terminated. */
    const char *const *argv;
    /* "NAME=value" entries set in the child, NULL-terminated (may be NULL);
     * a later entry replaces an earlier or inherited one of the same name. */
    const char *const *env;
    /* Inherited variables whose "NAME=value" starts with one of these
     * prefixes are left out (may be NULL)... */
    const char *const *env_drop;
    /* ...unless it starts with one of these (may be NULL). */
    const char *const *env_keep;
    /* > 0: the child's stdout / stderr; 0 (unset): /dev/null. */
    int out_fd;
    int err_fd;
    /* The child's working directory; NULL: ours. */
    const char *cwd;
};

/*
 * Start a child. Returns its pid, or -1 with a reason in `err` (may be
 * NULL) when it could not be started, exec failures included: those are
 * reported back through a close-on-exec pipe, so -1 means nothing runs.
 */
pid_t procrun_spawn(const struct procrun_opts *o, char *err, size_t errlen);

/*
 * Wait at most `timeout_ms` for child `pid` to exit and reap it. 0 with its
 * wait status in *status (may be NULL); -1 when it did not exit in time or
 * is not our child. Sleeps on a pidfd where the kernel has one.
 */
int procrun_wait(pid_t pid, int timeout_ms, int *status);

/*
 * Send `sig` (0: none, the caller did), wait up to `grace_ms`, then
 * SIGKILL and reap. Returns the
 * milliseconds the exit took, or -1 when it had to be killed (or was not
 * our child). *status (may be NULL) receives the wait status.
 */
int procrun_stop(pid_t pid, int sig, int grace_ms, int *status);

/*
 * Run a child to completion (at most `timeout_ms`, then SIGKILL), with
 * its stdout in `out` and its stderr in `err` (each NUL-terminated and
 * truncated to its length; either may be NULL). `o->out_fd` and
 * `o->err_fd` are ignored. Returns the exit status, or -1 (not started,
 * killed by a signal or by the timeout).
 */
int procrun_run(const struct procrun_opts *o, int timeout_ms, char *out, size_t outlen, char *err,
                size_t errlen);

/*
 * Read one line from `fd` (a pipe from a child's stdout) within
 * `timeout_ms`, without its newline. true when a whole line arrived;
 * false on a timeout, end of file or a line longer than `len` - 1.
 */
bool procrun_read_line(int fd, char *line, size_t len, int timeout_ms);

/*
 * For a process that lets liblingma spawn Lingma processes itself (a pool):
 * set LINGMA_EXIT_WITH_PARENT to our pid, so that they die with us too.
 * Call at the top of main(), before any thread exists: setenv() is not
 * thread-safe.
 */
void procrun_export_exit_with_parent(void);

/* true when process `pid` exists and is not a zombie (any process, not
 * only our children). */
bool procrun_alive(long pid);

/* Monotonic milliseconds. */
long long procrun_now_ms(void);

#endif
