/*
 * A test process that dies leaves no lingma-gatewayd and no lingma-sim
 * behind: procrun's PR_SET_PDEATHSIG takes the daemon, and the daemon's
 * LINGMA_EXIT_WITH_PARENT (set by procrun, passed on by the daemon) takes
 * the simulator that liblingma spawned in its own process group.
 *
 * A forked stand-in plays the test: it starts the daemon through procrun,
 * reports its pid and waits; we SIGKILL the stand-in mid-run and watch
 * both processes go. Plus the start-up check of the switch: a simulator
 * whose starter is already gone exits at once instead of running orphaned.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "proc.h" /* lingma__find_free_ports */
#include "procrun.h"
#include "tmpdir.h"

/* The stand-in test: start the daemon, report its pid, wait to be killed.
 * Runs in a child of this (single-threaded) test process. */
static _Noreturn void
stand_in(int report, const char *work)
{
    int port = 0;
    char e_bin[4200], e_work[4200], e_port[64], log[4200];
    if (lingma__find_free_ports(&port, 1, NULL, 0) != 0)
        _exit(2);
    snprintf(e_bin, sizeof(e_bin), "LINGMA_BIN=%s", getenv("LINGMA_SIM_BIN"));
    snprintf(e_work, sizeof(e_work), "LINGMA_WORK_DIR=%s", work);
    snprintf(e_port, sizeof(e_port), "LINGMA_SOCKET_PORT=%d", port);
    snprintf(log, sizeof(log), "%s/gatewayd.log", work);
    const char *env[] = {e_bin, e_work, e_port, "GATEWAY_PORT=0", "LOG_LEVEL=debug", NULL};
    static const char *const drop[] = {"LINGMA_", "GATEWAY_", "API_KEYS=", NULL};
    const char *argv[] = {getenv("LINGMA_GATEWAYD_BIN"), NULL};
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct procrun_opts o = {.argv = argv, .env = env, .env_drop = drop, .err_fd = logfd};
    long pid = procrun_spawn(&o, NULL, 0);
    if (write(report, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
        _exit(2);
    for (;;)
        pause();
}

/* The pid in <work>/.info once the simulator has written it, else 0. */
static long
sim_pid(const char *work, int timeout_ms)
{
    long long end = procrun_now_ms() + timeout_ms;
    do {
        char *s = tmpdir_read(work, ".info");
        int port = 0;
        long pid = 0;
        bool ok = s && sscanf(s, "%d\n%ld", &port, &pid) == 2 && pid > 0;
        free(s);
        if (ok)
            return pid;
        poll(NULL, 0, 20); /* polling step of a bounded wait */
    } while (procrun_now_ms() < end);
    return 0;
}

/* Wait (bounded) until `pid` is gone or a zombie nobody reaped yet. */
static bool
gone_within(long pid, int timeout_ms)
{
    long long end = procrun_now_ms() + timeout_ms;
    while (procrun_alive(pid)) {
        if (procrun_now_ms() >= end)
            return false;
        poll(NULL, 0, 10); /* polling step of a bounded wait */
    }
    return true;
}

static void
test_killed_test_takes_daemon_and_simulator(void **state)
{
    (void)state;
    /* meson sets both */
    assert_non_null(getenv("LINGMA_SIM_BIN"));
    assert_non_null(getenv("LINGMA_GATEWAYD_BIN"));
    char work[4096];
    assert_int_equal(tmpdir_make(work, sizeof(work), "no-orphans"), 0);
    int rep[2];
    assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
    pid_t test = fork();
    assert_true(test >= 0);
    if (test == 0)
        stand_in(rep[1], work);
    close(rep[1]);

    long gw = 0;
    struct pollfd p = {rep[0], POLLIN, 0};
    assert_int_equal(poll(&p, 1, 15000), 1);
    assert_int_equal(read(rep[0], &gw, sizeof(gw)), (ssize_t)sizeof(gw));
    close(rep[0]);
    assert_true(gw > 0);
    long sim = sim_pid(work, 20000);
    if (sim <= 0) {
        kill(test, SIGKILL);
        waitpid(test, NULL, 0);
        fail_msg("lingma-sim wrote no .info (log: %s/gatewayd.log)", work);
    }
    assert_true(procrun_alive(gw));
    assert_true(procrun_alive(sim));

    /* The test dies the hard way, mid-run. */
    assert_int_equal(kill(test, SIGKILL), 0);
    assert_int_equal(waitpid(test, NULL, 0), test);
    bool gw_gone = gone_within(gw, 5000);
    bool sim_gone = gone_within(sim, 5000);
    /* Clean up whatever a failure left, by pid, before asserting. */
    if (!gw_gone)
        kill((pid_t)gw, SIGKILL);
    if (!sim_gone)
        kill((pid_t)sim, SIGKILL);
    assert_true(gw_gone);
    assert_true(sim_gone);
    tmpdir_remove(work);
}

static void
test_starter_already_gone(void **state)
{
    (void)state;
    /* A pid that is certainly gone: a child we reaped. */
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);

    char work[4096], script[8300];
    assert_int_equal(tmpdir_make(work, sizeof(work), "no-orphans"), 0);
    /* procrun sets the switch to our pid: the shell replaces it with the
     * dead starter's and becomes the simulator (exec: our child still). */
    snprintf(script, sizeof(script),
             "LINGMA_EXIT_WITH_PARENT=%ld exec \"$0\" start --workDir '%s' --socketPort 0",
             (long)dead, work);
    const char *sim = getenv("LINGMA_SIM_BIN");
    assert_non_null(sim);
    const char *argv[] = {"/bin/sh", "-c", script, sim, NULL};
    struct procrun_opts o = {.argv = argv};
    char err[1024];
    assert_int_equal(procrun_run(&o, 10000, NULL, 0, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "LINGMA_EXIT_WITH_PARENT"));
    char *info = tmpdir_read(work, ".info");
    assert_null(info);
    tmpdir_remove(work);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_test_takes_daemon_and_simulator),
        cmocka_unit_test(test_starter_already_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
