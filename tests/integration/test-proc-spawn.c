/*
 * Integration tests for proc.c/child.c: real processes (a /bin/sh stand-in
 * for Lingma written into a temporary directory), real signals, real ports.
 *
 * Waits are bounded: on a pidfd with poll(), or on a file the child writes
 * last, checked every few milliseconds up to a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "infofile_io.h"
#include "proc.h"
#include "tmpdir.h"

#define WAIT_MS 10000

/*
 * The stand-in for Lingma. It records what it was given and what it sees
 * (arguments, environment, descriptors, signal masks, stdin), writes both
 * output streams, then behaves as FAKE_MODE says:
 *   (default)   writes .info, a background `sleep` (SIGINT ignored, as for
 *               every async list of a non-interactive shell), exits 0 on SIGINT
 *   ignore-int  ignores SIGINT: only SIGKILL ends it
 *   exit        exits 3 at once
 */
static const char fake_lingma[] =
    "#!/bin/sh\n"
    "[ \"$1\" = start ] || exit 64\n"
    "shift\n"
    "while [ $# -gt 0 ]; do\n"
    "  case \"$1\" in\n"
    "    --workDir) dir=$2; shift 2;;\n"
    "    --socketPort) sport=$2; shift 2;;\n"
    "    --httpPort) hport=$2; shift 2;;\n"
    "    *) extra=\"$extra $1\"; shift;;\n"
    "  esac\n"
    "done\n"
    "{ echo \"dir=$dir\"; echo \"sport=$sport\"; echo \"hport=$hport\"; echo \"cwd=$PWD\";\n"
    "  echo \"extra=$extra\"; } > args.txt\n"
    "{ [ -e .info ] && echo info; [ -e .info.json ] && echo json; } > stale.txt\n"
    "env > env.txt\n"
    "ls /proc/self/fd > fds.txt\n"
    "while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k $v\";; esac;\n"
    "done < /proc/$$/status > sig.txt\n"
    "readlink /proc/$$/fd/0 > stdin.txt\n"
    "echo 'hello stdout'\n"
    "echo 'hello stderr' >&2\n"
    "case \"$FAKE_MODE\" in\n"
    "exit) exit 3;;\n"
    "ignore-int)\n"
    "  trap '' INT\n"
    "  printf '%s\\n%s\\n' \"${sport:-4242}\" $$ > .info.tmp; mv .info.tmp .info\n"
    "  while :; do sleep 1; done;;\n"
    "*)\n"
    "  trap 'echo got-int > int.txt; exit 0' INT\n"
    "  sleep 1000 & echo $! > sleeper.pid\n"
    "  printf '%s\\n%s\\n' \"${sport:-4242}\" $$ > .info.tmp; mv .info.tmp .info\n"
    "  wait; exit 0;;\n"
    "esac\n";

struct fixture {
    char root[256];
    char bin[320];
    char work[400];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || tmpdir_make(f->root, sizeof(f->root), "proc") != 0)
        return -1;
    snprintf(f->bin, sizeof(f->bin), "%s/fake-lingma", f->root);
    snprintf(f->work, sizeof(f->work), "%s/state/inst-0", f->root);
    if (tmpdir_write(f->root, "fake-lingma", fake_lingma, 0755) != 0)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    int rc = tmpdir_remove(f->root);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Bounded wait for a file that the child writes as its last step. */
static void
wait_for_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int64_t end = lingma__monotonic_ms() + WAIT_MS;
    while (access(path, F_OK) != 0) {
        if (lingma__monotonic_ms() > end)
            fail_msg("%s did not appear within %d ms", path, WAIT_MS);
        sleep_ms(5);
    }
}

static char *
slurp(const char *dir, const char *name)
{
    char *s = tmpdir_read(dir, name);
    if (!s)
        fail_msg("cannot read %s/%s", dir, name);
    return s;
}

/* The process is gone for good: not running, not a zombie, not our child. */
static void
assert_gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int64_t end = lingma__monotonic_ms() + WAIT_MS;
    for (;;) {
        char *stat = NULL;
        FILE *fp = fopen(path, "re");
        if (!fp)
            return;
        char buf[512] = "";
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        stat = strrchr(buf, ')');
        /* A zombie of somebody else (the sleeper, reparented) is dead too. */
        if (stat && stat[1] == ' ' && stat[2] == 'Z')
            return;
        if (lingma__monotonic_ms() > end)
            fail_msg("pid %d is still alive: %s", (int)pid, buf);
        sleep_ms(5);
    }
}

static void
spawn_fake(struct fixture *f, struct lingma__proc *p, const char *mode, int kill_after_ms)
{
    char env_mode[64];
    snprintf(env_mode, sizeof(env_mode), "FAKE_MODE=%s", mode);
    const char *env[] = {env_mode, "LINGMA_TEST_OVERRIDE=yes", "LINGMA_TEST_REMOVED", NULL};
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    o.bin = f->bin;
    o.work_dir = f->work;
    o.env = env;
    o.kill_after_ms = kill_after_ms;
    char err[512];
    lingma__proc_init(p);
    int rc = lingma__proc_spawn(p, &o, err, sizeof(err));
    if (rc)
        fail_msg("spawn: %d %s", rc, err);
    assert_true(lingma__proc_pid(p) > 0);
}

static void
test_spawn_environment(void **state)
{
    struct fixture *f = *state;
    /* Stale port files from a previous run must be gone before the child starts. */
    assert_int_equal(lingma__mkdir_p(f->work, 0700, NULL, 0), 0);
    assert_int_equal(tmpdir_write(f->work, ".info", "1\n1\n", 0600), 0);
    assert_int_equal(tmpdir_write(f->work, ".info.json", "{}", 0600), 0);
    /* A descriptor leaked by the application without O_CLOEXEC. */
    int leaked = dup2(STDERR_FILENO, 77);
    assert_int_equal(leaked, 77);
    setenv("LINGMA_TEST_INHERITED", "1", 1);
    setenv("LINGMA_TEST_REMOVED", "1", 1);
    /* The child must get default dispositions and an empty mask whatever we do. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int;
    sigaction(SIGINT, &ign, &old_int);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old_mask);

    struct lingma__proc p;
    spawn_fake(f, &p, "default", 3000);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGINT, &old_int, NULL);
    close(leaked);
    unsetenv("LINGMA_TEST_INHERITED");
    unsetenv("LINGMA_TEST_REMOVED");
    pid_t pid = lingma__proc_pid(&p);

    /* Own process group. */
    assert_int_equal(getpgid(pid), pid);
    wait_for_file(f->work, ".info");
    struct lingma__info info;
    char err[512];
    assert_int_equal(lingma__info_read(&info, f->work, NULL, err, sizeof(err)), 0);
    assert_int_equal(info.port, 4242);
    assert_int_equal(info.pid, pid);

    char *s = slurp(f->work, "stale.txt");
    assert_string_equal(s, "");
    free(s);
    s = slurp(f->work, "args.txt");
    char want[1024];
    snprintf(want, sizeof(want), "dir=%s\nsport=\nhport=\ncwd=%s\nextra=\n", f->work, f->work);
    assert_string_equal(s, want);
    free(s);
    s = slurp(f->work, "env.txt");
    assert_non_null(strstr(s, "FAKE_MODE=default\n"));
    assert_non_null(strstr(s, "LINGMA_TEST_OVERRIDE=yes\n"));
    assert_non_null(strstr(s, "LINGMA_TEST_INHERITED=1\n"));
    assert_null(strstr(s, "LINGMA_TEST_REMOVED"));
    free(s);
    /* ls sees 0, 1, 2 and its own directory handle: nothing of ours. */
    s = slurp(f->work, "fds.txt");
    assert_string_equal(s, "0\n1\n2\n3\n");
    free(s);
    /*
     * Signals 1-31: none blocked, none ignored. (glibc leaves its two
     * internal real-time signals, 32 and 33, ignored in every posix_spawn
     * child; they are not ours to set.)
     */
    s = slurp(f->work, "sig.txt");
    unsigned long long blk = 0, ignored = 0;
    assert_int_equal(sscanf(s, "SigBlk: %llx\nSigIgn: %llx", &blk, &ignored), 2);
    assert_int_equal(blk & 0x7fffffffULL, 0);
    assert_int_equal(ignored & 0x7fffffffULL, 0);
    free(s);
    s = slurp(f->work, "stdin.txt");
    assert_string_equal(s, "/dev/null\n");
    free(s);
    s = slurp(f->work, LINGMA__PROC_LOG_NAME);
    assert_non_null(strstr(s, "hello stdout\n"));
    assert_non_null(strstr(s, "hello stderr\n"));
    free(s);
    char logpath[512];
    struct stat st;
    snprintf(logpath, sizeof(logpath), "%s/%s", f->work, LINGMA__PROC_LOG_NAME);
    assert_int_equal(stat(logpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->work, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* Graceful stop: SIGINT reaches the shell (trap), the sweep kills the sleeper. */
    s = slurp(f->work, "sleeper.pid");
    pid_t sleeper = (pid_t)atoi(s);
    free(s);
    assert_true(sleeper > 0);
    assert_int_equal(lingma__proc_stop_sync(&p, 5000), 0);
    assert_true(WIFEXITED(p.child.status));
    assert_int_equal(WEXITSTATUS(p.child.status), 0);
    assert_false(p.killed);
    s = slurp(f->work, "int.txt");
    assert_string_equal(s, "got-int\n");
    free(s);
    assert_gone(pid);
    assert_gone(sleeper);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    lingma__proc_dispose(&p);
    assert_int_equal(lingma__proc_fd(&p), -1);
}

static void
test_log_appends_and_ports(void **state)
{
    struct fixture *f = *state;
    struct lingma__proc p;
    char err[512];
    for (int round = 0; round < 2; round++) {
        const char *extra[] = {"--transportType", "websocket", NULL};
        const char *env[] = {"FAKE_MODE=exit", NULL};
        struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
        o.bin = f->bin;
        o.work_dir = f->work;
        o.socket_port = 40001;
        o.http_port = 40002;
        o.extra_args = extra;
        o.env = env;
        lingma__proc_init(&p);
        assert_int_equal(lingma__proc_spawn(&p, &o, err, sizeof(err)), 0);
        /* The pidfd wakes us when it exits (valgrind has no pidfd_open: poll then). */
        int fd = lingma__proc_fd(&p);
        if (fd >= 0 || !getenv("LINGMA_UNDER_VALGRIND")) {
            assert_true(fd >= 0);
            struct pollfd pfd = {fd, POLLIN, 0};
            assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        } else {
            assert_int_equal(lingma__child_wait(&p.child, WAIT_MS, false), 1);
        }
        assert_int_equal(lingma__proc_check(&p), 1);
        assert_int_equal(lingma__proc_check(&p), 1);
        assert_true(WIFEXITED(p.child.status));
        assert_int_equal(WEXITSTATUS(p.child.status), 3);
        /* Spawning again over an exited process is fine. */
        lingma__proc_dispose(&p);
    }
    char *s = slurp(f->work, "args.txt");
    assert_non_null(strstr(s, "sport=40001\nhport=40002\n"));
    assert_non_null(strstr(s, "extra= --transportType websocket\n"));
    free(s);
    /* O_APPEND: both runs are in the log. */
    s = slurp(f->work, LINGMA__PROC_LOG_NAME);
    char *second = strstr(s, "hello stdout");
    assert_non_null(second);
    assert_non_null(strstr(second + 1, "hello stdout"));
    free(s);
}

static void
test_sigkill_escalation(void **state)
{
    struct fixture *f = *state;
    struct lingma__proc p;
    spawn_fake(f, &p, "ignore-int", 300);
    pid_t pid = lingma__proc_pid(&p);
    wait_for_file(f->work, ".info");
    assert_int_equal(lingma__proc_check(&p), 0);

    int64_t start = lingma__monotonic_ms();
    assert_int_equal(lingma__proc_stop_begin(&p, start), 0);
    assert_int_equal(lingma__proc_stop_begin(&p, start), 0); /* idempotent */
    int next = -1, rc;
    while ((rc = lingma__proc_stop_poll(&p, lingma__monotonic_ms(), &next)) == 0) {
        assert_true(next >= 0 && next <= 300);
        if (lingma__monotonic_ms() - start > WAIT_MS)
            fail_msg("stop did not finish");
        struct pollfd pfd = {lingma__proc_fd(&p), POLLIN, 0};
        poll(&pfd, 1, next);
    }
    assert_int_equal(rc, 1);
    assert_true(p.killed);
    assert_true(lingma__monotonic_ms() - start >= 300);
    assert_true(WIFSIGNALED(p.child.status));
    assert_int_equal(WTERMSIG(p.child.status), SIGKILL);
    assert_int_equal(p.state, LINGMA__PROC_EXITED);
    assert_gone(pid);
    assert_int_equal(lingma__proc_stop_poll(&p, lingma__monotonic_ms(), &next), 1);
    assert_int_equal(lingma__proc_stop_begin(&p, 0), 1);
    lingma__proc_dispose(&p);
}

static void
test_stop_sync_and_dispose(void **state)
{
    struct fixture *f = *state;
    struct lingma__proc p;
    spawn_fake(f, &p, "ignore-int", 3000);
    pid_t pid = lingma__proc_pid(&p);
    wait_for_file(f->work, ".info");
    int64_t start = lingma__monotonic_ms();
    assert_int_equal(lingma__proc_stop_sync(&p, 200), 0);
    int64_t took = lingma__monotonic_ms() - start;
    assert_true(took >= 200 && took < 3000);
    assert_int_equal(WTERMSIG(p.child.status), SIGKILL);
    assert_gone(pid);
    lingma__proc_dispose(&p);

    /* dispose() of a running process stops it (bounded) and reaps it. */
    spawn_fake(f, &p, "default", 3000);
    pid = lingma__proc_pid(&p);
    wait_for_file(f->work, ".info");
    lingma__proc_dispose(&p);
    assert_gone(pid);
    assert_int_equal(lingma__proc_pid(&p), 0);
    assert_int_equal(lingma__proc_check(&p), LINGMA_EINVAL);
}

static void
test_teardown_grace_is_shared(void **state)
{
    struct fixture *f = *state;
    struct lingma__proc p[3];
    for (int i = 0; i < 3; i++) {
        snprintf(f->work, sizeof(f->work), "%s/state/inst-%d", f->root, i);
        spawn_fake(f, &p[i], "ignore-int", 1000);
        wait_for_file(f->work, ".info");
    }
    int64_t start = lingma__monotonic_ms();
    for (int i = 0; i < 3; i++)
        assert_int_equal(lingma__proc_stop_begin(&p[i], start), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lingma__proc_stop_sync(&p[i], 0), 0);
        assert_int_equal(WTERMSIG(p[i].child.status), SIGKILL);
        lingma__proc_dispose(&p[i]);
    }
    int64_t took = lingma__monotonic_ms() - start;
    /* One grace period (1 s) for all three, not three of them (3 s). */
    assert_true(took >= 1000);
    assert_true(took < 2500);
}

static void
test_death_without_pidfd(void **state)
{
    struct fixture *f = *state;
    struct lingma__proc p;
    spawn_fake(f, &p, "default", 3000);
    pid_t pid = lingma__proc_pid(&p);
    wait_for_file(f->work, ".info");
    /* As on a kernel without pidfd_open: the owner polls. */
    close(p.child.pidfd);
    p.child.pidfd = -1;
    assert_int_equal(lingma__proc_fd(&p), -1);
    assert_int_equal(lingma__proc_check(&p), 0);
    kill(pid, SIGKILL); /* Lingma dies on its own */
    int64_t end = lingma__monotonic_ms() + WAIT_MS;
    while (lingma__proc_check(&p) == 0) {
        if (lingma__monotonic_ms() > end)
            fail_msg("death not noticed");
        sleep_ms(LINGMA__PROC_POLL_MS / 10);
    }
    assert_int_equal(WTERMSIG(p.child.status), SIGKILL);
    /* Its sleeper was swept with the group. */
    char *s = slurp(f->work, "sleeper.pid");
    assert_gone((pid_t)atoi(s));
    free(s);
    assert_gone(pid);
    /* Stopping with the pidfd-less poll cadence. */
    lingma__proc_dispose(&p);
    spawn_fake(f, &p, "ignore-int", 200);
    close(p.child.pidfd);
    p.child.pidfd = -1;
    wait_for_file(f->work, ".info");
    int next = 0;
    assert_int_equal(lingma__proc_stop_begin(&p, lingma__monotonic_ms()), 0);
    int64_t start = lingma__monotonic_ms();
    while (lingma__proc_stop_poll(&p, lingma__monotonic_ms(), &next) == 0) {
        assert_true(next <= LINGMA__PROC_POLL_MS);
        if (lingma__monotonic_ms() - start > WAIT_MS)
            fail_msg("stop did not finish");
        sleep_ms(next > 0 ? next : 1);
    }
    assert_int_equal(WTERMSIG(p.child.status), SIGKILL);
    lingma__proc_dispose(&p);
}

static void
test_spawn_failures(void **state)
{
    struct fixture *f = *state;
    struct lingma__proc p;
    lingma__proc_init(&p);
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    char err[512];
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/no-such-lingma", f->root);
    o.bin = missing;
    o.work_dir = f->work;
    assert_int_equal(lingma__proc_spawn(&p, &o, err, sizeof(err)), LINGMA_ESPAWN);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(lingma__proc_pid(&p), 0);
    /*
     * A PATH name is resolved by posix_spawnp: the failure is reported at
     * once where the libc vforks, else (valgrind) as exit status 127.
     */
    o.bin = "lingma-no-such-binary-in-path";
    int rc = lingma__proc_spawn(&p, &o, err, sizeof(err));
    if (rc == 0) {
        assert_int_equal(lingma__child_wait(&p.child, WAIT_MS, true), 1);
        assert_int_equal(WEXITSTATUS(p.child.status), 127);
        lingma__proc_dispose(&p);
    } else {
        assert_int_equal(rc, LINGMA_ESPAWN);
    }
    /* Work dir below a regular file. */
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/fake-lingma/sub", f->root);
    o.bin = f->bin;
    o.work_dir = bad;
    assert_int_equal(lingma__proc_spawn(&p, &o, err, sizeof(err)), LINGMA_ESPAWN);
    assert_non_null(strstr(err, "cannot create"));
    o.work_dir = NULL;
    assert_int_equal(lingma__proc_spawn(&p, &o, err, sizeof(err)), LINGMA_EINVAL);
    /* A second spawn over a live process is refused. */
    spawn_fake(f, &p, "default", 3000);
    o.work_dir = f->work;
    assert_int_equal(lingma__proc_spawn(&p, &o, err, sizeof(err)), LINGMA_EINVAL);
    lingma__proc_dispose(&p);
}

static void
test_relative_paths(void **state)
{
    struct fixture *f = *state;
    char old[1024];
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(f->root), 0);
    const char *env[] = {"FAKE_MODE=exit", NULL};
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    o.bin = "./fake-lingma";
    o.work_dir = "rel/work";
    o.env = env;
    o.log_to_file = false;
    struct lingma__proc p;
    lingma__proc_init(&p);
    char err[512];
    int rc = lingma__proc_spawn(&p, &o, err, sizeof(err));
    assert_int_equal(chdir(old), 0);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(lingma__child_wait(&p.child, WAIT_MS, true), 1);
    assert_int_equal(WEXITSTATUS(p.child.status), 3);
    char abs[512];
    snprintf(abs, sizeof(abs), "%s/rel/work", f->root);
    char *s = slurp(abs, "args.txt");
    char want[1200];
    snprintf(want, sizeof(want), "dir=%s\n", abs);
    assert_non_null(strstr(s, want));
    free(s);
    /* log_to_file = false: nothing written. */
    char *log = tmpdir_read(abs, LINGMA__PROC_LOG_NAME);
    assert_null(log);
    lingma__proc_dispose(&p);
}

static void
test_ports(void **state)
{
    (void)state;
    int ports[8];
    char err[256];
    assert_int_equal(lingma__find_free_ports(ports, 8, err, sizeof(err)), 0);
    for (int i = 0; i < 8; i++) {
        assert_in_range(ports[i], 1, 65535);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ports[i], ports[j]);
    }
    assert_int_equal(lingma__find_free_ports(ports, 0, err, sizeof(err)), LINGMA_EINVAL);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    int port = ntohs(sa.sin_port);
    assert_int_equal(lingma__port_is_open(port, 1000), 1);
    close(fd);
    assert_int_equal(lingma__port_is_open(port, 1000), 0);
    assert_int_equal(lingma__port_is_open(0, 10), LINGMA_EINVAL);
    assert_int_equal(lingma__port_is_open(65536, 10), LINGMA_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spawn_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_appends_and_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_escalation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_sync_and_dispose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_teardown_grace_is_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_death_without_pidfd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test(test_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
