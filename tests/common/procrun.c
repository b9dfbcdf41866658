/* The process runner of the tests and of lingma-bench; see procrun.h. */
#include "procrun.h"
#include "exit_with_parent.h" /* tools/common: the switch's own header */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

/* Step of the waitpid polling loop where the kernel has no pidfd. */
#define POLL_STEP_MS 5
/* How long a SIGKILLed child may take to be reaped. */
#define KILL_WAIT_MS 5000

long long
procrun_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
has_prefix(const char *s, const char *const *prefixes)
{
    for (const char *const *p = prefixes; p && *p; p++)
        if (strncmp(s, *p, strlen(*p)) == 0)
            return true;
    return false;
}

/* Append "NAME=value" to envp[0..*n), replacing any entry of that name. */
static void
env_put(const char **envp, size_t *n, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq)
        return;
    size_t name = (size_t)(eq - entry) + 1; /* with the '=' */
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (strncmp(envp[i], entry, name) != 0)
            envp[k++] = envp[i];
    envp[k++] = entry;
    *n = k;
}

/* Our environment filtered by env_drop/env_keep, then o->env, then the
 * exit-with-parent switch. Built before fork: the child must not allocate. */
static const char **
make_env(const struct procrun_opts *o, const char *switch_entry)
{
    size_t n = 0, k = 0;
    for (char **e = environ; *e; e++)
        n++;
    for (const char *const *e = o->env; e && *e; e++)
        n++;
    const char **envp = calloc(n + 2, sizeof(*envp));
    if (!envp)
        return NULL;
    for (char **e = environ; *e; e++)
        if (!has_prefix(*e, o->env_drop) || has_prefix(*e, o->env_keep))
            envp[k++] = *e;
    for (const char *const *e = o->env; e && *e; e++)
        env_put(envp, &k, *e);
    env_put(envp, &k, switch_entry);
    envp[k] = NULL;
    return envp;
}

/* Tell the parent why the child could not run the program, and die. */
static _Noreturn void
child_fail(int report)
{
    int e = errno;
    ssize_t w = write(report, &e, sizeof(e));
    (void)w; /* nobody to tell when even this fails: the parent sees EOF */
    _exit(127);
}

/*
 * Between fork and exec: only async-signal-safe calls, since the parent
 * may have other threads (whose locks the child inherits held).
 */
static _Noreturn void
child(const struct procrun_opts *o, const char **envp, pid_t parent, int devnull, int out, int err,
      int report)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL); /* fails for SIGKILL, SIGSTOP, libc's own: fine */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_fail(report);
    /* The parent died before prctl(): no signal will ever come, so go now. */
    if (getppid() != parent)
        _exit(127);

    if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        child_fail(report);
    if (report != 3) {
        if (dup3(report, 3, O_CLOEXEC) < 0)
            child_fail(report);
        report = 3;
    }
    /* Nothing else of ours: an inherited socket or pipe end would keep a
     * port busy or an EOF from coming after the test closed its copy. */
    closefrom(4);
    if (o->cwd && chdir(o->cwd) != 0)
        child_fail(report);
    execve(o->argv[0], (char *const *)o->argv, (char *const *)envp);
    child_fail(report);
}

pid_t
procrun_spawn(const struct procrun_opts *o, char *err, size_t errlen)
{
    char switch_entry[64];
    pid_t self = getpid();
    snprintf(switch_entry, sizeof(switch_entry), EXIT_WITH_PARENT_ENV "=%ld", (long)self);
    const char **envp = make_env(o, switch_entry);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int report[2] = {-1, -1};
    pid_t pid = -1;
    int child_errno = 0;
    const char *what = "setup";

    if (envp && devnull >= 0 && pipe2(report, O_CLOEXEC) == 0) {
        what = "fork";
        pid = fork();
        if (pid == 0)
            child(o, envp, self, devnull, o->out_fd > 0 ? o->out_fd : devnull,
                  o->err_fd > 0 ? o->err_fd : devnull, report[1]);
        child_errno = errno;
        close(report[1]);
    } else {
        child_errno = errno ? errno : ENOMEM;
    }
    if (pid > 0) {
        /* EOF: exec succeeded (the pipe is close-on-exec). An errno: it did
         * not, and the child has exited. */
        ssize_t r;
        do
            r = read(report[0], &child_errno, sizeof(child_errno));
        while (r < 0 && errno == EINTR);
        if (r == (ssize_t)sizeof(child_errno)) {
            what = "exec";
            procrun_wait(pid, KILL_WAIT_MS, NULL);
            pid = -1;
        }
    }
    if (pid <= 0 && err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, o->argv[0], strerror(child_errno));
    if (report[0] >= 0)
        close(report[0]);
    if (devnull >= 0)
        close(devnull);
    free(envp);
    return pid > 0 ? pid : -1;
}

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* ENOSYS (old kernel, valgrind) or EPERM (seccomp): the caller polls. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

int
procrun_wait(pid_t pid, int timeout_ms, int *status)
{
    if (pid <= 0)
        return -1;
    long long end = procrun_now_ms() + timeout_ms;
    int pidfd = -2; /* opened at the first sleep: a look with no timeout needs none */
    int rc = -1;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (status)
                *status = st;
            rc = 0;
            break;
        }
        if (r < 0 && errno != EINTR)
            break; /* not our child (or already reaped) */
        long long left = end - procrun_now_ms();
        if (left <= 0)
            break;
        if (pidfd == -2)
            pidfd = open_pidfd(pid);
        if (pidfd >= 0) {
            struct pollfd p = {pidfd, POLLIN, 0};
            poll(&p, 1, (int)left);
        } else {
            poll(NULL, 0, left < POLL_STEP_MS ? (int)left : POLL_STEP_MS);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}

int
procrun_stop(pid_t pid, int sig, int grace_ms, int *status)
{
    if (pid <= 0)
        return -1;
    long long t0 = procrun_now_ms();
    kill(pid, sig);
    if (procrun_wait(pid, grace_ms, status) == 0)
        return (int)(procrun_now_ms() - t0);
    kill(pid, SIGKILL);
    procrun_wait(pid, KILL_WAIT_MS, status);
    return -1;
}

/* What the child wrote into the memfd, NUL-terminated and truncated. */
static void
read_back(int fd, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    ssize_t n = fd >= 0 ? pread(fd, buf, len - 1, 0) : -1;
    buf[n > 0 ? n : 0] = '\0';
}

int
procrun_run(const struct procrun_opts *o, int timeout_ms, char *out, size_t outlen, char *err,
            size_t errlen)
{
    /* memfds, not pipes: nothing to drain while waiting, no temp files. */
    struct procrun_opts r = *o;
    r.out_fd = memfd_create("procrun-out", MFD_CLOEXEC);
    r.err_fd = memfd_create("procrun-err", MFD_CLOEXEC);
    int rc = -1, st = 0;
    pid_t pid = r.out_fd > 0 && r.err_fd > 0 ? procrun_spawn(&r, NULL, 0) : -1;
    if (pid > 0) {
        if (procrun_wait(pid, timeout_ms, &st) != 0)
            procrun_stop(pid, SIGKILL, 0, NULL);
        else if (WIFEXITED(st))
            rc = WEXITSTATUS(st);
    }
    read_back(r.out_fd, out, outlen);
    read_back(r.err_fd, err, errlen);
    if (r.out_fd >= 0)
        close(r.out_fd);
    if (r.err_fd >= 0)
        close(r.err_fd);
    return rc;
}

bool
procrun_read_line(int fd, char *line, size_t len, int timeout_ms)
{
    size_t n = 0;
    long long end = procrun_now_ms() + timeout_ms;
    while (n + 1 < len) {
        long long left = end - procrun_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        /* One byte at a time: what follows the line stays in the pipe. */
        ssize_t r = read(fd, line + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        if (line[n] == '\n') {
            line[n] = '\0';
            return true;
        }
        n++;
    }
    return false;
}

void
procrun_export_exit_with_parent(void)
{
    char self[32];
    snprintf(self, sizeof(self), "%ld", (long)getpid());
    setenv(EXIT_WITH_PARENT_ENV, self, 1);
}

bool
procrun_alive(long pid)
{
    /* The very check lingma-sim and lingma-gatewayd make at start-up. */
    return exit_with_parent_running(pid);
}
