/* Test helper: lingma-sim processes, see simproc.h. */
#include "simproc.h"
#include "procrun.h"
#include "tmpdir.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

long long
simproc_now_ms(void)
{
    return procrun_now_ms();
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

/* The simulator's environment: ours without LINGMA_SIM_* (except the
 * binary's path), then the test's `env`. */
static const char *const sim_env_drop[] = {"LINGMA_SIM_", NULL};
static const char *const sim_env_keep[] = {"LINGMA_SIM_BIN=", NULL};

static pid_t
spawn(const char *const *argv, const char *const *env, const char *err_path)
{
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct procrun_opts o = {
        .argv = argv,
        .env = env,
        .env_drop = sim_env_drop,
        .env_keep = sim_env_keep,
        .err_fd = err,
    };
    pid_t pid = err >= 0 ? procrun_spawn(&o, NULL, 0) : -1;
    if (err >= 0)
        close(err);
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
        if (procrun_wait(p->pid, 0, NULL) == 0) {
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
    p->pid = spawn(argv, env, errlog);
    if (p->pid <= 0)
        return -1;
    if (!wait_ms)
        return 0;
    return simproc_wait_info(p, wait_ms);
}

int
simproc_wait_exit(struct simproc *p, int wait_ms, int *status)
{
    if (p->pid <= 0 || procrun_wait(p->pid, wait_ms, status) != 0)
        return -1;
    p->pid = 0;
    return 0;
}

int
simproc_stop(struct simproc *p, int wait_ms, int *status)
{
    if (p->pid <= 0)
        return -1;
    int ms = procrun_stop(p->pid, SIGTERM, wait_ms, status);
    p->pid = 0; /* reaped, or SIGKILLed and given up on by procrun_stop */
    return ms;
}

void
simproc_cleanup(struct simproc *p)
{
    if (p->pid > 0)
        procrun_stop(p->pid, SIGKILL, 0, NULL);
    p->pid = 0;
    if (p->own_dir && p->dir[0])
        tmpdir_remove(p->dir);
    p->dir[0] = '\0';
    p->own_dir = false;
}

int
simproc_run(const char *const *args, const char *const *env, char *out, size_t outlen, char *err,
            size_t errlen, int wait_ms)
{
    const char *argv[32];
    size_t k = 0;
    if (!simproc_bin())
        return -1;
    argv[k++] = simproc_bin();
    for (const char *const *a = args; a && *a && k < 31; a++)
        argv[k++] = *a;
    argv[k] = NULL;
    struct procrun_opts o = {
        .argv = argv,
        .env = env,
        .env_drop = sim_env_drop,
        .env_keep = sim_env_keep,
    };
    return procrun_run(&o, wait_ms, out, outlen, err, errlen);
}
