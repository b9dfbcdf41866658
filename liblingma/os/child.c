/* Spawning and reaping child processes (see child.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "detail.h"
#include "child.h"

extern char **environ;

/* Step of the waitpid polling loop when there is no pidfd. */
#define WAIT_POLL_STEP_MS 5

int64_t
lingma__monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
lingma__open_cloexec(const char *path, int flags, int mode)
{
    int fd = open(path, flags | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0 || fd > 2)
        return fd;
    /* The application closed a standard descriptor; do not hand ours out as 0-2. */
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return moved;
}

void
lingma__child_init(struct lingma__child *c)
{
    c->pid = 0;
    c->pidfd = -1;
    c->status = 0;
    c->reaped = false;
}

static size_t
name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

int
lingma__env_build(char ***out, const lingma_allocator *a, char *const *base,
                  const char *const *overrides)
{
    size_t nb = 0, no = 0;
    while (base && base[nb])
        nb++;
    while (overrides && overrides[no])
        no++;
    for (size_t i = 0; i < no; i++)
        if (name_len(overrides[i]) == 0)
            return LINGMA_EINVAL;
    char **env = lingma__calloc(a, nb + no + 1, sizeof(*env));
    if (!env)
        return LINGMA_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < nb; i++)
        env[n++] = base[i];
    /* Each override replaces (or removes) every entry of the same name. */
    for (size_t i = 0; i < no; i++) {
        const char *kv = overrides[i];
        size_t len = name_len(kv);
        size_t w = 0;
        for (size_t r = 0; r < n; r++)
            if (!(name_len(env[r]) == len && memcmp(env[r], kv, len) == 0))
                env[w++] = env[r];
        n = w;
        if (kv[len] == '=')
            env[n++] = (char *)kv;
    }
    env[n] = NULL;
    *out = env;
    return 0;
}

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* pidfds are always close-on-exec. ENOSYS (old kernel) or EPERM (seccomp): poll instead. */
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd >= 0 ? (int)fd : -1;
#else
    (void)pid;
    return -1;
#endif
}

int
lingma__spawn(struct lingma__child *out, const struct lingma__spawn_opts *o, char *err,
              size_t errlen)
{
    if (!out || !o || !o->file || !*o->file || !o->argv || !o->argv[0])
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid spawn options");
    lingma__child_init(out);

    char **env = NULL;
    int rc = lingma__env_build(&env, o->alloc, o->inherit_env ? environ : NULL, o->env);
    if (rc)
        return lingma__detail(rc, err, errlen, "%s",
                              rc == LINGMA_ENOMEM ? "out of memory" : "invalid environment");

    int devnull = lingma__open_cloexec("/dev/null", O_RDWR, 0);
    if (devnull < 0) {
        lingma__free(o->alloc, env);
        return lingma__detail(LINGMA_ESPAWN, err, errlen, "/dev/null: %s", strerror(errno));
    }
    int out_fd = o->stdout_fd >= 0 ? o->stdout_fd : devnull;
    int err_fd = o->stderr_fd >= 0 ? o->stderr_fd : devnull;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);

    /* Errors of these setters are impossible with valid arguments (EINVAL/ENOMEM only). */
    int e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF);
    e = e ? e : posix_spawnattr_setpgroup(&attr, 0);
    e = e ? e : posix_spawnattr_setsigmask(&attr, &none);
    e = e ? e : posix_spawnattr_setsigdefault(&attr, &all);
    /* dup2 onto 0-2 clears close-on-exec in the child; our fds are all > 2. */
    e = e ? e : posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    e = e ? e : posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    e = e ? e : posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
    /* Also closes what the application leaked without O_CLOEXEC. */
    e = e ? e : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!e && o->cwd)
        e = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);

    pid_t pid = 0;
    if (!e)
        e = strchr(o->file, '/') ? posix_spawn(&pid, o->file, &fa, &attr, o->argv, env)
                                 : posix_spawnp(&pid, o->file, &fa, &attr, o->argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(devnull);
    lingma__free(o->alloc, env);
    if (e)
        return lingma__detail(e == ENOMEM ? LINGMA_ENOMEM : LINGMA_ESPAWN, err, errlen,
                              "cannot start %s: %s", o->file, strerror(e));
    out->pid = pid;
    /* Nobody else reaps our child, so the pid cannot be reused before pidfd_open. */
    out->pidfd = open_pidfd(pid);
    return 0;
}

int
lingma__child_fd(const struct lingma__child *c)
{
    return c->reaped ? -1 : c->pidfd;
}

bool
lingma__child_alive(const struct lingma__child *c)
{
    return c->pid > 0 && !c->reaped;
}

int
lingma__child_signal(struct lingma__child *c, int sig)
{
    if (!lingma__child_alive(c))
        return LINGMA_EINVAL;
    if (kill(-c->pid, sig) == 0 || errno == ESRCH)
        return 0;
    return LINGMA_ERROR;
}

int
lingma__child_reap(struct lingma__child *c, bool sweep)
{
    if (c->pid <= 0)
        return LINGMA_ERROR;
    if (c->reaped)
        return 1;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    /* WNOWAIT: look without reaping, so the zombie keeps pinning the pid (and pgid). */
    int r;
    do
        r = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        /* ECHILD: reaped behind our back (SIGCHLD ignored?). Nothing left to wait for. */
        c->reaped = true;
        c->status = 0;
        return LINGMA_ERROR;
    }
    if (si.si_pid == 0)
        return 0;
    if (sweep)
        kill(-c->pid, SIGKILL);
    int status = 0;
    pid_t w;
    do
        w = waitpid(c->pid, &status, 0); /* it exited: this does not block */
    while (w < 0 && errno == EINTR);
    c->reaped = true;
    c->status = w == c->pid ? status : 0;
    return w == c->pid ? 1 : LINGMA_ERROR;
}

int
lingma__child_wait(struct lingma__child *c, int timeout_ms, bool sweep)
{
    int64_t deadline = lingma__monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int r = lingma__child_reap(c, sweep);
        if (r != 0)
            return r;
        int64_t left = deadline - lingma__monotonic_ms();
        if (left <= 0)
            return 0;
        if (c->pidfd >= 0) {
            struct pollfd p = {c->pidfd, POLLIN, 0};
            poll(&p, 1, (int)left);
        } else {
            int step = left < WAIT_POLL_STEP_MS ? (int)left : WAIT_POLL_STEP_MS;
            struct timespec ts = {0, (long)step * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

void
lingma__child_close(struct lingma__child *c)
{
    if (c->pidfd >= 0)
        close(c->pidfd);
    lingma__child_init(c);
}

void
lingma__wait_status_str(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        /* sigabbrev_np, unlike strsignal, never touches a shared buffer. */
        snprintf(buf, len, "killed by signal %d (SIG%s)", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(buf, len, "ended with wait status %#x", (unsigned)status);
}
