/* The operator's login hook: spawn, capture, redact, time out (see loginhook.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "detail.h"
#include "loginhook.h"
#include "redact.h"
#include "child.h"

/* Poll period when there is no pidfd, or while waiting for a killed hook to die. */
#define HOOK_POLL_MS 50
/* After SIGKILL, how long to wait for the exit before reporting anyway. */
#define HOOK_KILL_WAIT_MS 5000

struct lingma__hook {
    const lingma_allocator *alloc;
    struct lingma__child child;
    int pipe_fd; /* our read end, non-blocking; -1 once closed */
    char *password;
    char *instance;
    lingma_log_fn log;
    void *log_payload;
    int64_t start_ms;
    int64_t deadline_ms;
    bool timed_out;
    bool done;
    bool discarding; /* the rest of an over-long line is being skipped */
    struct lingma__hook_result result;
    size_t line_len;
    char line[LINGMA__HOOK_LINE_MAX];
};

static void
emit_line(struct lingma__hook *h, bool cut)
{
    if (h->log) {
        char red[2 * LINGMA__HOOK_LINE_MAX];
        size_t len = h->line_len;
        if (len && h->line[len - 1] == '\r')
            len--;
        size_t n = lingma__redact(red, sizeof(red), h->line, len, h->password, cut);
        /* Keep the log line a line: no control characters from the hook. */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)red[i] < 0x20 && red[i] != '\t')
                red[i] = '?';
        char msg[2 * LINGMA__HOOK_LINE_MAX + 64];
        snprintf(msg, sizeof(msg), "login hook %s: %s%s", h->instance, red,
                 cut ? " [truncated]" : "");
        h->log(LINGMA_LOG_INFO, msg, h->log_payload);
    }
    explicit_bzero(h->line, h->line_len);
    h->line_len = 0;
}

static void
feed(struct lingma__hook *h, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (!h->discarding)
                emit_line(h, false);
            h->discarding = false;
        } else if (h->discarding) {
            continue;
        } else if (h->line_len < sizeof(h->line)) {
            h->line[h->line_len++] = buf[i];
        } else {
            emit_line(h, true);
            h->discarding = true;
        }
    }
}

/* Reads whatever is there without blocking; closes the pipe at EOF or error. */
static void
drain(struct lingma__hook *h)
{
    char buf[4096];
    while (h->pipe_fd >= 0) {
        ssize_t r = read(h->pipe_fd, buf, sizeof(buf));
        if (r > 0) {
            feed(h, buf, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        close(h->pipe_fd);
        h->pipe_fd = -1;
    }
    explicit_bzero(buf, sizeof(buf));
}

static void
close_output(struct lingma__hook *h)
{
    drain(h);
    if (h->line_len && !h->discarding)
        emit_line(h, false);
    if (h->pipe_fd >= 0)
        close(h->pipe_fd);
    h->pipe_fd = -1;
}

static void
finish(struct lingma__hook *h, int64_t now_ms)
{
    close_output(h);
    struct lingma__hook_result *r = &h->result;
    r->elapsed_ms = now_ms - h->start_ms;
    if (h->timed_out) {
        r->outcome = LINGMA__HOOK_TIMEDOUT;
    } else if (WIFSIGNALED(h->child.status)) {
        r->outcome = LINGMA__HOOK_SIGNALED;
        r->signal = WTERMSIG(h->child.status);
    } else {
        r->outcome = LINGMA__HOOK_EXITED;
        r->exit_code = WIFEXITED(h->child.status) ? WEXITSTATUS(h->child.status) : -1;
    }
    h->done = true;
}

static char *
env_pair(const lingma_allocator *a, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = value ? strlen(value) : 0;
    char *s = lingma__malloc(a, nl + vl + 2);
    if (s) {
        memcpy(s, name, nl);
        s[nl] = '=';
        if (vl)
            memcpy(s + nl + 1, value, vl);
        s[nl + 1 + vl] = '\0';
    }
    return s;
}

static void
wipe_free(const lingma_allocator *a, char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        lingma__free(a, s);
    }
}

int
lingma__hook_start(struct lingma__hook **out, const struct lingma__hook_opts *o, int64_t now_ms,
                   char *err, size_t errlen)
{
    if (!out || !o || !o->command || !*o->command || !o->instance || !*o->instance)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid login hook options");
    *out = NULL;
    const lingma_allocator *a = o->alloc;
    struct lingma__hook *h = lingma__calloc(a, 1, sizeof(*h));
    if (!h)
        return lingma__detail(LINGMA_ENOMEM, err, errlen, "out of memory");
    h->alloc = a;
    h->pipe_fd = -1;
    lingma__child_init(&h->child);
    h->log = o->log;
    h->log_payload = o->log_payload;
    h->instance = lingma__strdup(a, o->instance);
    h->password = lingma__strdup(a, o->password ? o->password : "");
    char *env[5] = {
        env_pair(a, "LINGMA_LOGIN_URL", o->login_url),
        env_pair(a, "LINGMA_INSTANCE", o->instance),
        env_pair(a, "LINGMA_USERNAME", o->username),
        env_pair(a, "LINGMA_PASSWORD", o->password),
        NULL,
    };
    int rc = 0;
    for (size_t i = 0; i < 4; i++)
        if (!env[i])
            rc = LINGMA_ENOMEM;
    if (!h->instance || !h->password)
        rc = LINGMA_ENOMEM;
    if (rc) {
        lingma__detail(rc, err, errlen, "out of memory");
        goto out;
    }

    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        rc = lingma__detail(LINGMA_ESPAWN, err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    /* Only our end is non-blocking: the hook must see ordinary blocking writes. */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    /* Descriptors 0-2 would not be dup2'ed with close-on-exec cleared: move up. */
    for (int i = 0; i < 2; i++) {
        if (p[i] <= 2) {
            int moved = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
            close(p[i]);
            p[i] = moved;
        }
    }
    if (p[0] < 0 || p[1] < 0) {
        rc = lingma__detail(LINGMA_ESPAWN, err, errlen, "pipe: %s", strerror(errno));
        if (p[0] >= 0)
            close(p[0]);
        if (p[1] >= 0)
            close(p[1]);
        goto out;
    }
    h->pipe_fd = p[0];

    char *argv[] = {"/bin/sh", "-c", (char *)o->command, "lingma-login-hook", NULL};
    struct lingma__spawn_opts so = LINGMA__SPAWN_OPTS_INIT;
    so.file = "/bin/sh";
    so.argv = argv;
    so.env = (const char *const *)env;
    so.stdout_fd = p[1];
    so.stderr_fd = p[1];
    so.alloc = a;
    rc = lingma__spawn(&h->child, &so, err, errlen);
    close(p[1]); /* the child holds the only write end: EOF when it is done */
    if (rc)
        goto out;
    h->start_ms = now_ms;
    h->deadline_ms = now_ms + (o->timeout_ms > 0 ? o->timeout_ms : LINGMA__HOOK_TIMEOUT_MS);
    h->result.outcome = LINGMA__HOOK_RUNNING;
out:
    for (size_t i = 0; i < 4; i++)
        wipe_free(a, env[i]);
    if (rc) {
        lingma__hook_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int
lingma__hook_fds(const struct lingma__hook *h, int fds[2])
{
    fds[0] = h->done ? -1 : h->pipe_fd;
    fds[1] = h->done ? -1 : lingma__child_fd(&h->child);
    return (fds[0] >= 0) + (fds[1] >= 0);
}

int
lingma__hook_step(struct lingma__hook *h, int64_t now_ms, int *next_ms)
{
    if (next_ms)
        *next_ms = 0;
    if (h->done)
        return 1;
    drain(h);
    /* After a timeout, sweep the group too: our SIGKILL may have raced a fork. */
    if (lingma__child_reap(&h->child, h->timed_out) != 0) {
        finish(h, now_ms);
        return 1;
    }
    if (!h->timed_out && now_ms >= h->deadline_ms) {
        lingma__child_signal(&h->child, SIGKILL);
        h->timed_out = true;
    }
    if (h->timed_out && now_ms >= h->deadline_ms + HOOK_KILL_WAIT_MS) {
        /* Survived SIGKILL (uninterruptible sleep): report; free() retries the reap. */
        finish(h, now_ms);
        return 1;
    }
    if (next_ms) {
        int64_t wait = h->timed_out ? HOOK_POLL_MS : h->deadline_ms - now_ms;
        if (lingma__child_fd(&h->child) < 0 && wait > HOOK_POLL_MS)
            wait = HOOK_POLL_MS;
        *next_ms = (int)(wait > 0 ? wait : 0);
    }
    return 0;
}

void
lingma__hook_result(const struct lingma__hook *h, struct lingma__hook_result *out)
{
    *out = h->result;
}

void
lingma__hook_describe(const struct lingma__hook_result *r, char *buf, size_t len)
{
    switch (r->outcome) {
    case LINGMA__HOOK_RUNNING:
        snprintf(buf, len, "still running");
        break;
    case LINGMA__HOOK_EXITED:
        snprintf(buf, len, "exited with status %d", r->exit_code);
        break;
    case LINGMA__HOOK_SIGNALED:
        snprintf(buf, len, "killed by signal %d", r->signal);
        break;
    case LINGMA__HOOK_TIMEDOUT:
        snprintf(buf, len, "timed out after %lld ms and was killed", (long long)r->elapsed_ms);
        break;
    }
}

void
lingma__hook_free(struct lingma__hook *h)
{
    if (!h)
        return;
    if (lingma__child_alive(&h->child)) {
        lingma__child_signal(&h->child, SIGKILL);
        lingma__child_wait(&h->child, HOOK_KILL_WAIT_MS, true);
    }
    lingma__child_close(&h->child);
    if (h->pipe_fd >= 0)
        close(h->pipe_fd);
    explicit_bzero(h->line, sizeof(h->line));
    wipe_free(h->alloc, h->password);
    lingma__free(h->alloc, h->instance);
    lingma__free(h->alloc, h);
}

int
lingma__hook_run(const struct lingma__hook_opts *opts, struct lingma__hook_result *out, char *err,
                 size_t errlen)
{
    struct lingma__hook *h = NULL;
    int rc = lingma__hook_start(&h, opts, lingma__monotonic_ms(), err, errlen);
    if (rc)
        return rc;
    int next = 0;
    while (lingma__hook_step(h, lingma__monotonic_ms(), &next) == 0) {
        int fds[2];
        lingma__hook_fds(h, fds);
        struct pollfd p[2];
        nfds_t n = 0;
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                p[n++] = (struct pollfd){fds[i], POLLIN, 0};
        poll(p, n, next);
    }
    if (out)
        lingma__hook_result(h, out);
    lingma__hook_free(h);
    return 0;
}
