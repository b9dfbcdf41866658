/* Supervision of one Lingma process, plus port helpers (see proc.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detail.h"
#include "infofile_io.h"
#include "proc.h"

/* How long stop_sync() waits after SIGKILL before giving up on a process. */
#define KILL_WAIT_MS 2000
/* find_free_ports() refuses more than this many at once. */
#define MAX_FREE_PORTS 64

int
lingma__proc_argv_build(struct lingma__proc_argv *out, const struct lingma__proc_opts *o)
{
    if (!out || !o || !o->bin || !*o->bin || !o->work_dir || !*o->work_dir)
        return LINGMA_EINVAL;
    if (o->socket_port < 0 || o->socket_port > 65535 || o->http_port < 0 || o->http_port > 65535)
        return LINGMA_EINVAL;
    size_t extra = 0;
    while (o->extra_args && o->extra_args[extra])
        extra++;
    if (extra > LINGMA__PROC_MAX_EXTRA_ARGS)
        return LINGMA_EINVAL;

    size_t n = 0;
    out->argv[n++] = (char *)o->bin;
    out->argv[n++] = "start";
    out->argv[n++] = "--workDir";
    out->argv[n++] = (char *)o->work_dir;
    if (o->socket_port) {
        snprintf(out->socket_port, sizeof(out->socket_port), "%d", o->socket_port);
        out->argv[n++] = "--socketPort";
        out->argv[n++] = out->socket_port;
    }
    if (o->http_port) {
        snprintf(out->http_port, sizeof(out->http_port), "%d", o->http_port);
        out->argv[n++] = "--httpPort";
        out->argv[n++] = out->http_port;
    }
    for (size_t i = 0; i < extra; i++)
        out->argv[n++] = (char *)o->extra_args[i];
    out->argv[n] = NULL;
    return 0;
}

void
lingma__proc_init(struct lingma__proc *p)
{
    memset(p, 0, sizeof(*p));
    lingma__child_init(&p->child);
    p->state = LINGMA__PROC_NONE;
    p->kill_after_ms = LINGMA__PROC_KILL_AFTER_MS;
}

int
lingma__mkdir_p(const char *path, unsigned mode, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || len >= sizeof(buf))
        return lingma__detail(LINGMA_ESPAWN, err, errlen, "invalid directory path");
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
            int e = errno;
            return lingma__detail(LINGMA_ESPAWN, err, errlen, "cannot create %s: %s", buf,
                                  strerror(e));
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return lingma__detail(LINGMA_ESPAWN, err, errlen, "%s is not a directory", path);
    return 0;
}

int
lingma__proc_instance_dir(char *buf, size_t len, const char *base, size_t count, size_t index)
{
    if (!buf || !base || count == 0 || index >= count)
        return LINGMA_EINVAL;
    int n = count == 1 ? snprintf(buf, len, "%s", base)
                       : snprintf(buf, len, "%s/inst-%zu", base, index);
    return n < 0 || (size_t)n >= len ? LINGMA_EINVAL : 0;
}

/*
 * The child runs in the work dir, so a relative program path or work dir
 * would be resolved from there: make both absolute first.
 */
static int
absolute(char *out, size_t cap, const char *path, char *err, size_t errlen)
{
    if (path[0] == '/') {
        if ((size_t)snprintf(out, cap, "%s", path) >= cap)
            return lingma__detail(LINGMA_ESPAWN, err, errlen, "path too long");
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return lingma__detail(LINGMA_ESPAWN, err, errlen, "getcwd: %s", strerror(errno));
    if ((size_t)snprintf(out, cap, "%s/%s", cwd, path) >= cap)
        return lingma__detail(LINGMA_ESPAWN, err, errlen, "path too long: %s", path);
    return 0;
}

int
lingma__proc_spawn(struct lingma__proc *p, const struct lingma__proc_opts *opts, char *err,
                   size_t errlen)
{
    struct lingma__proc_argv av;
    if (!p || lingma__proc_argv_build(&av, opts) != 0)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid Lingma options");
    if (lingma__child_alive(&p->child))
        return lingma__detail(LINGMA_EINVAL, err, errlen, "a Lingma process is still running");
    lingma__child_close(&p->child);

    struct lingma__proc_opts o = *opts;
    char bin[PATH_MAX], dir[PATH_MAX], log_path[PATH_MAX + 32];
    int rc = absolute(dir, sizeof(dir), o.work_dir, err, errlen);
    if (!rc && strchr(o.bin, '/'))
        rc = absolute(bin, sizeof(bin), o.bin, err, errlen);
    else
        snprintf(bin, sizeof(bin), "%s", o.bin); /* a PATH name stays a PATH name */
    if (rc)
        return rc;
    /*
     * Checked here too, not only by exec: where posix_spawn forks instead
     * of vforking (valgrind, some libcs) an exec failure would otherwise
     * only show up later as exit status 127.
     */
    if (strchr(bin, '/') && access(bin, X_OK) != 0)
        return lingma__detail(LINGMA_ESPAWN, err, errlen, "cannot start %s: %s", bin,
                              strerror(errno));
    o.bin = bin;
    o.work_dir = dir;
    lingma__proc_argv_build(&av, &o);

    if ((rc = lingma__mkdir_p(dir, 0700, err, errlen)) != 0)
        return rc;
    if ((rc = lingma__info_remove(dir, err, errlen)) != 0)
        return LINGMA_ESPAWN;

    int log_fd = -1;
    if (o.log_to_file) {
        snprintf(log_path, sizeof(log_path), "%s/%s", dir, LINGMA__PROC_LOG_NAME);
        log_fd = lingma__open_cloexec(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (log_fd < 0)
            return lingma__detail(LINGMA_ESPAWN, err, errlen, "cannot open %s: %s", log_path,
                                  strerror(errno));
    }

    struct lingma__spawn_opts so = LINGMA__SPAWN_OPTS_INIT;
    so.file = bin;
    so.argv = av.argv;
    so.inherit_env = o.inherit_env;
    so.env = o.env;
    so.cwd = dir;
    so.stdout_fd = log_fd;
    so.stderr_fd = log_fd;
    so.alloc = o.alloc;
    rc = lingma__spawn(&p->child, &so, err, errlen);
    if (log_fd >= 0)
        close(log_fd);
    if (rc)
        return rc;
    p->state = LINGMA__PROC_RUNNING;
    p->kill_after_ms = o.kill_after_ms > 0 ? o.kill_after_ms : LINGMA__PROC_KILL_AFTER_MS;
    p->killed = false;
    p->kill_at_ms = 0;
    return 0;
}

int
lingma__proc_fd(const struct lingma__proc *p)
{
    return lingma__child_fd(&p->child);
}

int
lingma__proc_pid(const struct lingma__proc *p)
{
    return p->child.pid;
}

int
lingma__proc_check(struct lingma__proc *p)
{
    if (p->state == LINGMA__PROC_NONE)
        return LINGMA_EINVAL;
    if (p->state == LINGMA__PROC_EXITED)
        return 1;
    /* A failed wait (someone else reaped it) also means: not ours any more. */
    if (lingma__child_reap(&p->child, true) == 0)
        return 0;
    p->state = LINGMA__PROC_EXITED;
    return 1;
}

int
lingma__proc_stop_begin(struct lingma__proc *p, int64_t now_ms)
{
    int r = lingma__proc_check(p);
    if (r != 0)
        return r;
    if (p->state == LINGMA__PROC_STOPPING)
        return 0;
    lingma__child_signal(&p->child, SIGINT);
    p->state = LINGMA__PROC_STOPPING;
    p->kill_at_ms = now_ms + p->kill_after_ms;
    p->killed = false;
    return 0;
}

int
lingma__proc_stop_poll(struct lingma__proc *p, int64_t now_ms, int *next_ms)
{
    if (next_ms)
        *next_ms = 0;
    if (p->state == LINGMA__PROC_EXITED)
        return 1;
    if (p->state != LINGMA__PROC_STOPPING)
        return LINGMA_EINVAL;
    if (lingma__proc_check(p) == 1)
        return 1;
    if (!p->killed && now_ms >= p->kill_at_ms) {
        lingma__child_signal(&p->child, SIGKILL);
        p->killed = true;
    }
    if (next_ms) {
        int64_t wait = p->killed ? LINGMA__PROC_POLL_MS : p->kill_at_ms - now_ms;
        if (lingma__proc_fd(p) < 0 && wait > LINGMA__PROC_POLL_MS)
            wait = LINGMA__PROC_POLL_MS;
        *next_ms = (int)(wait > 0 ? wait : 0);
    }
    return 0;
}

int
lingma__proc_stop_sync(struct lingma__proc *p, int grace_ms)
{
    if (p->state == LINGMA__PROC_NONE || lingma__proc_check(p) == 1)
        return 0;
    if (grace_ms <= 0)
        grace_ms = p->kill_after_ms;
    int64_t now = lingma__monotonic_ms();
    if (p->state != LINGMA__PROC_STOPPING) {
        lingma__proc_stop_begin(p, now);
    } else if (p->kill_at_ms - now < grace_ms) {
        /*
         * Already stopping: the grace started with stop_begin(), so a pool
         * that signalled all its instances first waits ~3 s in total at
         * teardown, not 3 s per instance.
         */
        grace_ms = p->kill_at_ms > now ? (int)(p->kill_at_ms - now) : 0;
    }
    if (!p->killed && lingma__child_wait(&p->child, grace_ms, true) != 0) {
        p->state = LINGMA__PROC_EXITED;
        return 0;
    }
    lingma__child_signal(&p->child, SIGKILL);
    p->killed = true;
    if (lingma__child_wait(&p->child, KILL_WAIT_MS, true) != 0) {
        p->state = LINGMA__PROC_EXITED;
        return 0;
    }
    return LINGMA_ETIMEDOUT;
}

void
lingma__proc_dispose(struct lingma__proc *p)
{
    if (lingma__child_alive(&p->child))
        lingma__proc_stop_sync(p, p->kill_after_ms);
    lingma__child_close(&p->child);
    int kill_after = p->kill_after_ms;
    lingma__proc_init(p);
    p->kill_after_ms = kill_after;
}

static void
loopback(struct sockaddr_in *sa, int port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
lingma__port_is_open(int port, int timeout_ms)
{
    if (port < 1 || port > 65535)
        return LINGMA_EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return LINGMA_ERROR;
    struct sockaddr_in sa;
    loopback(&sa, port);
    int open_ = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        open_ = 1;
    } else if (errno == EINPROGRESS) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        int r;
        do
            r = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : 0);
        while (r < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            open_ = 1;
    }
    close(fd);
    return open_;
}

int
lingma__find_free_ports(int *out, size_t n, char *err, size_t errlen)
{
    if (!out || n == 0 || n > MAX_FREE_PORTS)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid port count");
    int fds[MAX_FREE_PORTS];
    size_t open_n = 0;
    int rc = 0;
    for (; open_n < n; open_n++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = lingma__detail(LINGMA_ERROR, err, errlen, "socket: %s", strerror(errno));
            break;
        }
        fds[open_n] = fd;
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        loopback(&sa, 0);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
            rc = lingma__detail(LINGMA_ERROR, err, errlen, "bind 127.0.0.1:0: %s", strerror(errno));
            open_n++;
            break;
        }
        out[open_n] = ntohs(sa.sin_port);
    }
    for (size_t i = 0; i < open_n; i++)
        close(fds[i]);
    return rc;
}
