/*
 * Test helper: run lingma-sim as a real process.
 *
 * The binary comes from $LINGMA_SIM_BIN. Each instance gets a fresh
 * mkdtemp work dir (unless the test gives one, e.g. to respawn on the same
 * dir), its own environment (the test's LINGMA_SIM_* variables are removed
 * first, then `env` is added), --socketPort 0 (ephemeral), and its stderr
 * in <dir>/stderr.log. Waits are bounded polls; processes are ended by pid.
 */
#ifndef TESTS_SIMPROC_H
#define TESTS_SIMPROC_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct simproc {
    pid_t pid;
    char dir[PATH_MAX];
    bool own_dir; /* created by simproc_start: removed by simproc_cleanup */
    int port;
    int http_port; /* from logs/lingma.log, or .info.json */
};

/* True under `meson test --setup=valgrind` (LINGMA_UNDER_VALGRIND=1): the
 * simulator then runs under valgrind too, and waits are scaled. */
bool simproc_under_valgrind(void);
/* `ms`, times 10 under valgrind. */
int simproc_scale(int ms);

/* The simulator binary ($LINGMA_SIM_BIN), or NULL. */
const char *simproc_bin(void);

/*
 * Spawn `lingma-sim start --workDir <dir> --socketPort 0 <args...>` and
 * wait up to `wait_ms` for .info (or .info.json) to appear with our pid.
 * `env` and `args` are NULL-terminated (may be NULL). `p->dir` may be set
 * beforehand to reuse a dir. With wait_ms 0 it returns right after spawning.
 * Returns 0, or -1 (the process exited, or no .info in time).
 */
int simproc_start(struct simproc *p, const char *const *env, const char *const *args, int wait_ms);

/* Wait for .info (2-line, 3-line or .info.json) naming pid `p->pid`; 0 or -1. */
int simproc_wait_info(struct simproc *p, int wait_ms);

/* Wait until the process exits, at most `wait_ms`; 0 and its wait status, or -1. */
int simproc_wait_exit(struct simproc *p, int wait_ms, int *status);

/*
 * SIGTERM, then wait up to `wait_ms` for the exit (SIGKILL after that).
 * Returns the milliseconds the exit took, or -1 when it had to be killed.
 */
int simproc_stop(struct simproc *p, int wait_ms, int *status);

/* Kill (if still running) and remove the work dir when we made it. */
void simproc_cleanup(struct simproc *p);

/*
 * Run `lingma-sim <args...>` to completion (at most wait_ms) with `env`,
 * capturing stdout into `out` (NUL-terminated, truncated to outlen-1) and
 * stderr into `err` (may be NULL). Returns the exit status, or -1.
 */
int simproc_run(const char *const *args, const char *const *env, char *out, size_t outlen,
                char *err, size_t errlen, int wait_ms);

/* Files in the work dir: tmpdir_read() and tmpdir_remove() (tmpdir.h). */
bool simproc_file_exists(const char *dir, const char *name);
/* Write <dir>/<name> atomically. 0 or -1. */
int simproc_write_file(const char *dir, const char *name, const char *text);
/* Poll until <dir>/<name> contains `needle` (bounded). 0 or -1. */
int simproc_wait_file_contains(const char *dir, const char *name, const char *needle, int wait_ms);
/* Monotonic milliseconds. */
long long simproc_now_ms(void);

#endif
