/* Integration tests for the login hook runner (loginhook.c) with real hook commands. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"
#include "loginhook.h"
#include "tmpdir.h"

#define PASSWORD "Hunt3r2-s3cret"
#define WAIT_MS  10000

struct logsink {
    char *lines[64];
    int n;
};

static void
collect(lingma_log_level level, const char *msg, void *payload)
{
    struct logsink *s = payload;
    assert_int_equal(level, LINGMA_LOG_INFO);
    assert_null(strchr(msg, '\n'));
    if (s->n < 64)
        s->lines[s->n++] = strdup(msg);
}

static void
sink_free(struct logsink *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->lines[i]);
    s->n = 0;
}

/* Every line the hook printed must be free of the password. */
static void
assert_no_password(const struct logsink *s)
{
    for (int i = 0; i < s->n; i++)
        if (strstr(s->lines[i], PASSWORD) || strstr(s->lines[i], "Hunt3r2"))
            fail_msg("line %d leaks the password: %s", i, s->lines[i]);
}

static int
find_line(const struct logsink *s, const char *want)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->lines[i], want) == 0)
            return i;
    return -1;
}

struct fixture {
    char dir[256];
    struct logsink sink;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || tmpdir_make(f->dir, sizeof(f->dir), "hook") != 0)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    sink_free(&f->sink);
    int rc = tmpdir_remove(f->dir);
    free(f);
    return rc == 0 ? 0 : -1;
}

static struct lingma__hook_opts
opts_for(struct fixture *f, const char *command)
{
    struct lingma__hook_opts o = LINGMA__HOOK_OPTS_INIT;
    o.command = command;
    o.instance = "inst-1";
    o.login_url = "https://login.example/auth?state=abc";
    o.username = "alice@example.com";
    o.password = PASSWORD;
    o.timeout_ms = WAIT_MS;
    o.log = collect;
    o.log_payload = &f->sink;
    return o;
}

static void
run(struct fixture *f, const char *command, int timeout_ms, struct lingma__hook_result *r)
{
    struct lingma__hook_opts o = opts_for(f, command);
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    char err[256];
    int rc = lingma__hook_run(&o, r, err, sizeof(err));
    if (rc)
        fail_msg("hook_run: %d %s", rc, err);
}

static void
test_success_env_and_output(void **state)
{
    struct fixture *f = *state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "env > '%s/env.txt'; echo \"url=$LINGMA_LOGIN_URL inst=$LINGMA_INSTANCE\"; "
             "echo \"user=$LINGMA_USERNAME\" >&2; echo \"typing $LINGMA_PASSWORD now\"; "
             "printf 'no newline at the end'",
             f->dir);
    struct lingma__hook_result r;
    run(f, cmd, 0, &r);
    assert_int_equal(r.outcome, LINGMA__HOOK_EXITED);
    assert_int_equal(r.exit_code, 0);
    assert_true(find_line(&f->sink, "login hook inst-1: url=https://login.example/"
                                    "auth?state=abc inst=inst-1") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: user=alice@example.com") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: typing *** now") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: no newline at the end") >= 0);
    assert_int_equal(f->sink.n, 4);
    assert_no_password(&f->sink);

    /* The hook itself does see the secret. */
    char *env = tmpdir_read(f->dir, "env.txt");
    assert_non_null(env);
    assert_non_null(strstr(env, "LINGMA_PASSWORD=" PASSWORD "\n"));
    assert_non_null(strstr(env, "LINGMA_USERNAME=alice@example.com\n"));
    assert_non_null(strstr(env, "LINGMA_INSTANCE=inst-1\n"));
    assert_non_null(strstr(env, "LINGMA_LOGIN_URL=https://login.example/auth?state=abc\n"));
    free(env);
    char d[128];
    lingma__hook_describe(&r, d, sizeof(d));
    assert_string_equal(d, "exited with status 0");
}

static void
test_failure_exit_code(void **state)
{
    struct fixture *f = *state;
    struct lingma__hook_result r;
    run(f, "echo 'login failed' >&2; exit 7", 0, &r);
    assert_int_equal(r.outcome, LINGMA__HOOK_EXITED);
    assert_int_equal(r.exit_code, 7);
    assert_true(find_line(&f->sink, "login hook inst-1: login failed") >= 0);
    char d[128];
    lingma__hook_describe(&r, d, sizeof(d));
    assert_string_equal(d, "exited with status 7");

    sink_free(&f->sink);
    run(f, "kill -TERM $$", 0, &r);
    assert_int_equal(r.outcome, LINGMA__HOOK_SIGNALED);
    assert_int_equal(r.signal, SIGTERM);
}

static pid_t
read_pid(const char *dir, const char *name)
{
    char *s = tmpdir_read(dir, name);
    assert_non_null(s);
    pid_t pid = (pid_t)atoi(s);
    free(s);
    assert_true(pid > 0);
    return pid;
}

static bool
process_dead(pid_t pid)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'Z';
}

static void
assert_dies(pid_t pid)
{
    int64_t end = lingma__monotonic_ms() + WAIT_MS;
    while (!process_dead(pid)) {
        if (lingma__monotonic_ms() > end)
            fail_msg("pid %d survived", (int)pid);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

static void
test_timeout_kills_group(void **state)
{
    struct fixture *f = *state;
    char cmd[512];
    /* The background sleep ignores SIGINT/SIGQUIT; only a group SIGKILL ends it. */
    snprintf(cmd, sizeof(cmd),
             "sleep 60 & echo $! > '%s/bg.pid'; echo waiting for $LINGMA_PASSWORD; "
             "while :; do sleep 1; done",
             f->dir);
    struct lingma__hook_result r;
    int64_t start = lingma__monotonic_ms();
    run(f, cmd, 300, &r);
    int64_t took = lingma__monotonic_ms() - start;
    assert_int_equal(r.outcome, LINGMA__HOOK_TIMEDOUT);
    assert_true(r.elapsed_ms >= 300);
    assert_true(took < 5000);
    assert_dies(read_pid(f->dir, "bg.pid"));
    assert_true(find_line(&f->sink, "login hook inst-1: waiting for ***") >= 0);
    assert_no_password(&f->sink);
    char d[128];
    lingma__hook_describe(&r, d, sizeof(d));
    assert_non_null(strstr(d, "timed out after"));
}

static void
test_redaction(void **state)
{
    struct fixture *f = *state;
    const char *cmd = "echo \"password=$LINGMA_PASSWORD&next=1\"; "
                      "echo 'Authorization: Bearer abc.def.ghi'; "
                      "echo \"{\\\"token\\\": \\\"t0k3n\\\"}\"; "
                      "printf 'crlf line\\r\\n'; "
                      "printf 'ctl\\001char\\n'";
    struct lingma__hook_result r;
    run(f, cmd, 0, &r);
    assert_int_equal(r.exit_code, 0);
    assert_true(find_line(&f->sink, "login hook inst-1: password=***&next=1") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: Authorization: *** ***") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: {\"token\": \"***\"}") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: crlf line") >= 0);
    assert_true(find_line(&f->sink, "login hook inst-1: ctl?char") >= 0);
    assert_no_password(&f->sink);
}

static void
test_long_line_truncated_without_leak(void **state)
{
    struct fixture *f = *state;
    /* The password straddles the cut at LINGMA__HOOK_LINE_MAX. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "head -c %d /dev/zero | tr '\\0' x; echo \"$LINGMA_PASSWORD tail\"; echo after",
             LINGMA__HOOK_LINE_MAX - 4);
    struct lingma__hook_result r;
    run(f, cmd, 0, &r);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(f->sink.n, 2);
    assert_non_null(strstr(f->sink.lines[0], "xxxx***"));
    assert_non_null(strstr(f->sink.lines[0], " [truncated]"));
    assert_string_equal(f->sink.lines[1], "login hook inst-1: after");
    assert_no_password(&f->sink);
}

static void
test_background_holder_does_not_block(void **state)
{
    struct fixture *f = *state;
    char cmd[512];
    /* The background sleep keeps the pipe open after the hook exits. */
    snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > '%s/bg.pid'; echo done", f->dir);
    struct lingma__hook_result r;
    int64_t start = lingma__monotonic_ms();
    run(f, cmd, 0, &r);
    assert_true(lingma__monotonic_ms() - start < 5000);
    assert_int_equal(r.outcome, LINGMA__HOOK_EXITED);
    assert_true(find_line(&f->sink, "login hook inst-1: done") >= 0);
    /* Not ours to keep: end it by pid. */
    pid_t bg = read_pid(f->dir, "bg.pid");
    kill(bg, SIGKILL);
    assert_dies(bg);
}

static void
test_nonblocking_drive(void **state)
{
    struct fixture *f = *state;
    struct lingma__hook_opts o =
        opts_for(f, "for i in 1 2 3; do echo line $i; sleep 0.5; done; exit 2");
    struct lingma__hook *h = NULL;
    char err[256];
    assert_int_equal(lingma__hook_start(&h, &o, lingma__monotonic_ms(), err, sizeof(err)), 0);
    int next = 0, steps = 0;
    int64_t start = lingma__monotonic_ms();
    for (;;) {
        int64_t t0 = lingma__monotonic_ms();
        int rc = lingma__hook_step(h, t0, &next);
        /* Never blocks: a blocking read would wait out the hook's 0.5 s pauses. */
        assert_true(lingma__monotonic_ms() - t0 < 400);
        steps++;
        if (rc == 1)
            break;
        struct lingma__hook_result mid;
        lingma__hook_result(h, &mid);
        assert_int_equal(mid.outcome, LINGMA__HOOK_RUNNING);
        int fds[2];
        int n = lingma__hook_fds(h, fds);
        assert_true(n >= 1);
        struct pollfd p[2];
        nfds_t k = 0;
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                p[k++] = (struct pollfd){fds[i], POLLIN, 0};
        poll(p, k, next);
        assert_true(lingma__monotonic_ms() - start < WAIT_MS);
    }
    struct lingma__hook_result r;
    lingma__hook_result(h, &r);
    assert_int_equal(r.outcome, LINGMA__HOOK_EXITED);
    assert_int_equal(r.exit_code, 2);
    int fds[2];
    assert_int_equal(lingma__hook_fds(h, fds), 0);
    assert_int_equal(lingma__hook_step(h, lingma__monotonic_ms(), NULL), 1);
    lingma__hook_free(h);
    assert_int_equal(f->sink.n, 3);
    assert_string_equal(f->sink.lines[2], "login hook inst-1: line 3");
    assert_true(steps >= 2);
}

static void
test_free_while_running_and_invalid(void **state)
{
    struct fixture *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "echo $$ > '%s/hook.pid'; exec sleep 60", f->dir);
    struct lingma__hook_opts o = opts_for(f, cmd);
    o.log = NULL; /* output read and dropped */
    struct lingma__hook *h = NULL;
    char err[256];
    assert_int_equal(lingma__hook_start(&h, &o, lingma__monotonic_ms(), err, sizeof(err)), 0);
    int64_t end = lingma__monotonic_ms() + WAIT_MS;
    char *s;
    while (!(s = tmpdir_read(f->dir, "hook.pid")) || !*s) {
        free(s);
        assert_true(lingma__monotonic_ms() < end);
        lingma__hook_step(h, lingma__monotonic_ms(), NULL);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    pid_t pid = (pid_t)atoi(s);
    free(s);
    lingma__hook_free(h); /* kills and reaps */
    assert_true(process_dead(pid));
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    lingma__hook_free(NULL);

    o.command = "";
    assert_int_equal(lingma__hook_start(&h, &o, 0, err, sizeof(err)), LINGMA_EINVAL);
    o.command = "true";
    o.instance = NULL;
    assert_int_equal(lingma__hook_start(&h, &o, 0, err, sizeof(err)), LINGMA_EINVAL);
    /* No credentials: exported empty. */
    o = opts_for(f, "test -z \"$LINGMA_PASSWORD$LINGMA_USERNAME$LINGMA_LOGIN_URL\"");
    o.password = o.username = o.login_url = NULL;
    struct lingma__hook_result r;
    assert_int_equal(lingma__hook_run(&o, &r, err, sizeof(err)), 0);
    assert_int_equal(r.exit_code, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_success_env_and_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_truncated_without_leak, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_holder_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonblocking_drive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_while_running_and_invalid, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
