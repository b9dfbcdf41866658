/*
 * proc.c + infofile.c against lingma-sim (LINGMA_SIM_BIN): the real start-up
 * sequence a pool runs, for each port file form the simulator can write.
 */
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

#include "infofile_io.h"
#include "proc.h"
#include "tmpdir.h"

#define WAIT_MS 15000

struct fixture {
    char root[256];
    char work[300];
    const char *bin;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || tmpdir_make(f->root, sizeof(f->root), "procsim") != 0)
        return -1;
    snprintf(f->work, sizeof(f->work), "%s/inst-0", f->root);
    f->bin = getenv("LINGMA_SIM_BIN");
    if (!f->bin || access(f->bin, X_OK) != 0)
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
spawn_sim(struct fixture *f, struct lingma__proc *p, const char *const *env, int ports[2])
{
    char err[512];
    assert_int_equal(lingma__find_free_ports(ports, 2, err, sizeof(err)), 0);
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    o.bin = f->bin;
    o.work_dir = f->work;
    o.socket_port = ports[0];
    o.http_port = ports[1];
    o.env = env;
    lingma__proc_init(p);
    int rc = lingma__proc_spawn(p, &o, err, sizeof(err));
    if (rc)
        fail_msg("spawn %s: %s", f->bin, err);
}

/*
 * What the pool's start-up does: read the port file until it parses (both
 * "missing" and "half written" mean: not yet), bounded, while watching the
 * pidfd for an early death.
 */
static int
wait_info(struct lingma__proc *p, const char *dir, struct lingma__info *info)
{
    char err[512] = "";
    int64_t end = lingma__monotonic_ms() + WAIT_MS;
    for (;;) {
        int rc = lingma__info_read(info, dir, NULL, err, sizeof(err));
        if (rc == 0)
            return 0;
        if (lingma__proc_check(p) == 1)
            return LINGMA_ESPAWN;
        if (lingma__monotonic_ms() > end)
            fail_msg("no port file: %s", err);
        struct pollfd pfd = {lingma__proc_fd(p), POLLIN, 0};
        poll(&pfd, 1, 10); /* wakes at once on death; else re-read the file */
    }
}

static void
stop_gracefully(struct lingma__proc *p)
{
    int64_t start = lingma__monotonic_ms();
    assert_int_equal(lingma__proc_stop_begin(p, start), 0);
    int next = 0, rc;
    while ((rc = lingma__proc_stop_poll(p, lingma__monotonic_ms(), &next)) == 0) {
        assert_true(lingma__monotonic_ms() - start < WAIT_MS);
        struct pollfd pfd = {lingma__proc_fd(p), POLLIN, 0};
        poll(&pfd, 1, next);
    }
    assert_int_equal(rc, 1);
    assert_false(p->killed); /* SIGINT was enough */
    assert_true(WIFEXITED(p->child.status));
    assert_int_equal(WEXITSTATUS(p->child.status), 0);
}

static void
run_form(struct fixture *f, const char *form, enum lingma__info_format want_format,
         enum lingma__info_source want_source)
{
    char info_env[64];
    snprintf(info_env, sizeof(info_env), "LINGMA_SIM_INFO=%s", form);
    const char *env[] = {info_env, "LINGMA_SIM_FAULT", NULL};
    struct lingma__proc p;
    int ports[2];
    spawn_sim(f, &p, env, ports);
    struct lingma__info info;
    assert_int_equal(wait_info(&p, f->work, &info), 0);
    assert_int_equal(info.port, ports[0]);
    assert_int_equal(info.pid, lingma__proc_pid(&p));
    assert_int_equal(info.format, want_format);
    assert_int_equal(info.source, want_source);
    assert_int_equal(lingma__port_is_open(info.port, 1000), 1);
    assert_int_equal(getpgid(lingma__proc_pid(&p)), lingma__proc_pid(&p));

    stop_gracefully(&p);
    /* The simulator removes its port file on a clean exit; the port is closed. */
    struct lingma__info gone;
    assert_int_equal(lingma__info_read(&gone, f->work, NULL, NULL, 0), LINGMA_ENOTFOUND);
    assert_int_equal(lingma__port_is_open(info.port, 200), 0);
    lingma__proc_dispose(&p);
}

static void
test_two_lines(void **state)
{
    run_form(*state, "2line", LINGMA__INFO_TEXT2, LINGMA__INFO_FROM_INFO);
}

static void
test_three_lines(void **state)
{
    run_form(*state, "3line", LINGMA__INFO_TEXT3, LINGMA__INFO_FROM_INFO);
}

static void
test_json(void **state)
{
    run_form(*state, "json", LINGMA__INFO_JSON, LINGMA__INFO_FROM_INFO_JSON);
}

static void
test_exit_at_start(void **state)
{
    struct fixture *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=exit_at_start", NULL};
    struct lingma__proc p;
    int ports[2];
    spawn_sim(f, &p, env, ports);
    struct lingma__info info;
    assert_int_equal(wait_info(&p, f->work, &info), LINGMA_ESPAWN);
    assert_true(WIFEXITED(p.child.status));
    assert_int_equal(WEXITSTATUS(p.child.status), 3);
    lingma__proc_dispose(&p);
}

static void
test_stale_info_removed_before_spawn(void **state)
{
    struct fixture *f = *state;
    /* A first run that leaves a stale .info behind (dead pid, closed port). */
    const char *stale_env[] = {"LINGMA_SIM_FAULT=stale_info", NULL};
    struct lingma__proc p;
    int ports[2];
    spawn_sim(f, &p, stale_env, ports);
    struct lingma__info info;
    assert_int_equal(wait_info(&p, f->work, &info), 0);
    stop_gracefully(&p);
    lingma__proc_dispose(&p);
    assert_int_equal(lingma__info_read(&info, f->work, NULL, NULL, 0), 0);

    /*
     * The next run writes its .info only 1 s after listening: right after
     * spawn there must be none, so start-up cannot dial the old port.
     */
    const char *slow_env[] = {"LINGMA_SIM_FAULT=start_delay_ms:1000", NULL};
    spawn_sim(f, &p, slow_env, ports);
    assert_int_equal(lingma__info_read(&info, f->work, NULL, NULL, 0), LINGMA_ENOTFOUND);
    assert_int_equal(wait_info(&p, f->work, &info), 0);
    assert_int_equal(info.pid, lingma__proc_pid(&p));
    assert_int_equal(info.port, ports[0]);
    stop_gracefully(&p);
    lingma__proc_dispose(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_info_removed_before_spawn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
