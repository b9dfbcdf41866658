/* Test helper: lingma-sim processes, see simproc.h. */
#include "simproc.h"
#include "tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

long long
simproc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pause_ms(int ms)
{
    /* polling interval of the bounded waits below (not synchronisation) */
    poll(NULL, 0, ms);
}

bool
simproc_under_valgrind(void)
{
    const char *v = getenv("LINGMA_UNDER_VALGRIND");
    return v && *v && strcmp(v, "0");
}

int
simproc_scale(int ms)
{
    return simproc_under_valgrind() ? ms * 10 : ms;
}

const char *
simproc_bin(void)
{
    const char *b = getenv("LINGMA_SIM_BIN");
    return b && *b ? b : NULL;
}

/* environ without LINGMA_SIM_* (except the binary path), plus `env`. */
static char **
make_env(const char *const *env)
{
    size_t n = 0, k = 0;
    for (char **e = environ; *e; e++)
        n++;
    for (const char *const *e = env; e && *e; e++)
        n++;
    char **out = calloc(n + 1, sizeof(*out));
    if (!out)
        return NULL;
    for (char **e = environ; *e; e++) {
        if (!strncmp(*e, "LINGMA_SIM_", 11) && strncmp(*e, "LINGMA_SIM_BIN=", 15))
            continue;
        out[k++] = *e;
    }
    for (const char *const *e = env; e && *e; e++)
        out[k++] = (char *)*e;
    out[k] = NULL;
    return out;
}

static pid_t
spawn(const char *const *argv, const char *const *env, const char *out_path, const char *err_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char **e = make_env(env);
    pid_t pid = -1;
    if (e && posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, e))
        pid = -1;
    free(e);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

bool
simproc_file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

int
simproc_write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f) || rename(tmp, path))
        return -1;
    return 0;
}

int
simproc_wait_file_contains(const char *dir, const char *name, const char *needle, int wait_ms)
{
    long long end = simproc_now_ms() + wait_ms;
    do {
        char *s = tmpdir_read(dir, name);
        bool hit = s && strstr(s, needle);
        free(s);
        if (hit)
            return 0;
        pause_ms(5);
    } while (simproc_now_ms() < end);
    return -1;
}

static void
read_http_port(struct simproc *p)
{
    char *log = tmpdir_read(p->dir, "logs/lingma.log");
    const char *k = NULL;
    /* the log is appended across respawns: the last ready line counts */
    for (const char *s = log; s && (s = strstr(s, "servers ready - WebSocket: ")); s++)
        k = strstr(s, "HTTP: ");
    if (k)
        p->http_port = atoi(k + 6);
    free(log);
}

int
simproc_wait_info(struct simproc *p, int wait_ms)
{
    long long end = simproc_now_ms() + wait_ms;
    for (;;) {
        char *s = tmpdir_read(p->dir, ".info");
        if (s) {
            int port = 0;
            long pid = 0;
            if (sscanf(s, "%d\n%ld", &port, &pid) == 2 && pid == p->pid) {
                p->port = port;
                free(s);
                read_http_port(p);
                return 0;
            }
            free(s);
        }
        s = tmpdir_read(p->dir, ".info.json");
        if (s) {
            json_t *j = json_loads(s, 0, NULL);
            free(s);
            if (j && json_integer_value(json_object_get(j, "pid")) == p->pid) {
                p->port = (int)json_integer_value(json_object_get(j, "websocketPort"));
                p->http_port = (int)json_integer_value(json_object_get(j, "httpPort"));
                json_decref(j);
                return 0;
            }
            json_decref(j);
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return -1;
        }
        if (simproc_now_ms() >= end)
            return -1;
        pause_ms(5);
    }
}

int
simproc_start(struct simproc *p, const char *const *env, const char *const *args, int wait_ms)
{
    const char *argv[32];
    char errlog[PATH_MAX + 16];
    size_t k = 0;
    if (!simproc_bin())
        return -1;
    if (!p->dir[0]) {
        if (tmpdir_make(p->dir, sizeof(p->dir), "sim-test") != 0)
            return -1;
        p->own_dir = true;
    }
    char vglog[PATH_MAX + 32];
    if (simproc_under_valgrind()) {
        /* The simulator's own memory must be clean: the exit status
         * becomes 99 on an error or a definite leak. */
        snprintf(vglog, sizeof(vglog), "--log-file=%s/valgrind.log", p->dir);
        argv[k++] = "/usr/bin/valgrind";
        argv[k++] = "-q";
        argv[k++] = "--error-exitcode=99";
        argv[k++] = "--leak-check=full";
        argv[k++] = "--errors-for-leak-kinds=definite";
        argv[k++] = vglog;
    }
    argv[k++] = simproc_bin();
    argv[k++] = "start";
    argv[k++] = "--workDir";
    argv[k++] = p->dir;
    argv[k++] = "--socketPort";
    argv[k++] = "0";
    for (const char *const *a = args; a && *a && k < 31; a++)
        argv[k++] = *a;
    argv[k] = NULL;
    snprintf(errlog, sizeof(errlog), "%s/stderr.log", p->dir);
    p->port = p->http_port = 0;
    p->pid = spawn(argv, env, NULL, errlog);
    if (p->pid <= 0)
        return -1;
    if (!wait_ms)
        return 0;
    return simproc_wait_info(p, wait_ms);
}

int
simproc_wait_exit(struct simproc *p, int wait_ms, int *status)
{
    long long end = simproc_now_ms() + wait_ms;
    if (p->pid <= 0)
        return -1;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            if (status)
                *status = st;
            return 0;
        }
        if (r < 0 || simproc_now_ms() >= end)
            return -1;
        pause_ms(2);
    }
}

int
simproc_stop(struct simproc *p, int wait_ms, int *status)
{
    if (p->pid <= 0)
        return -1;
    long long t0 = simproc_now_ms();
    kill(p->pid, SIGTERM);
    if (simproc_wait_exit(p, wait_ms, status) == 0)
        return (int)(simproc_now_ms() - t0);
    kill(p->pid, SIGKILL);
    simproc_wait_exit(p, 5000, status);
    return -1;
}

void
simproc_cleanup(struct simproc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        simproc_wait_exit(p, 5000, NULL);
    }
    if (p->own_dir && p->dir[0])
        tmpdir_remove(p->dir);
    p->dir[0] = '\0';
    p->own_dir = false;
}

int
simproc_run(const char *const *args, const char *const *env, char *out, size_t outlen, char *err,
            size_t errlen, int wait_ms)
{
    char dir[PATH_MAX];
    const char *argv[32];
    char op[PATH_MAX + 8], ep[PATH_MAX + 8];
    size_t k = 0;
    if (!simproc_bin() || tmpdir_make(dir, sizeof(dir), "sim-run") != 0)
        return -1;
    argv[k++] = simproc_bin();
    for (const char *const *a = args; a && *a && k < 31; a++)
        argv[k++] = *a;
    argv[k] = NULL;
    snprintf(op, sizeof(op), "%s/out", dir);
    snprintf(ep, sizeof(ep), "%s/err", dir);
    struct simproc p = {.pid = spawn(argv, env, op, ep)};
    int st = 0, rc = -1;
    if (p.pid > 0 && simproc_wait_exit(&p, wait_ms, &st) == 0 && WIFEXITED(st))
        rc = WEXITSTATUS(st);
    else if (p.pid > 0) {
        kill(p.pid, SIGKILL);
        simproc_wait_exit(&p, 5000, NULL);
    }
    char *s = tmpdir_read(dir, "out");
    if (out && outlen) {
        snprintf(out, outlen, "%s", s ? s : "");
    }
    free(s);
    s = tmpdir_read(dir, "err");
    if (err && errlen)
        snprintf(err, errlen, "%s", s ? s : "");
    free(s);
    tmpdir_remove(dir);
    return rc;
}
