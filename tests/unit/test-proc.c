/* Unit tests for the pure parts of proc.c and child.c (no process is started). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "alloc.h"
#include "failalloc.h"
#include "proc.h"
#include "tmpdir.h"

static size_t
argc_of(char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    return n;
}

static void
test_argv_minimal(void **state)
{
    (void)state;
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    struct lingma__proc_argv av;
    o.bin = "/opt/lingma/Lingma";
    o.work_dir = "/var/lib/gw/inst-0";
    assert_int_equal(lingma__proc_argv_build(&av, &o), 0);
    assert_int_equal(argc_of(av.argv), 4);
    assert_string_equal(av.argv[0], "/opt/lingma/Lingma");
    assert_string_equal(av.argv[1], "start");
    assert_string_equal(av.argv[2], "--workDir");
    assert_string_equal(av.argv[3], "/var/lib/gw/inst-0");
    assert_null(av.argv[4]);
}

static void
test_argv_ports_and_extra(void **state)
{
    (void)state;
    const char *extra[] = {"--transportType", "websocket", NULL};
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    struct lingma__proc_argv av;
    o.bin = "Lingma";
    o.work_dir = "w";
    o.socket_port = 36510;
    o.http_port = 65535;
    o.extra_args = extra;
    assert_int_equal(lingma__proc_argv_build(&av, &o), 0);
    const char *want[] = {"Lingma",          "start",    "--workDir",  "w",
                          "--socketPort",    "36510",    "--httpPort", "65535",
                          "--transportType", "websocket"};
    assert_int_equal(argc_of(av.argv), 10);
    for (size_t i = 0; i < 10; i++)
        assert_string_equal(av.argv[i], want[i]);
    /* Only the http port. */
    o.socket_port = 0;
    o.extra_args = NULL;
    assert_int_equal(lingma__proc_argv_build(&av, &o), 0);
    assert_int_equal(argc_of(av.argv), 6);
    assert_string_equal(av.argv[4], "--httpPort");
    assert_string_equal(av.argv[5], "65535");
}

static void
test_argv_invalid(void **state)
{
    (void)state;
    struct lingma__proc_opts o = LINGMA__PROC_OPTS_INIT;
    struct lingma__proc_argv av;
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    o.bin = "x";
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    o.work_dir = "";
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    o.work_dir = "d";
    o.socket_port = 65536;
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    o.socket_port = -1;
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    o.socket_port = 0;
    o.http_port = 70000;
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    o.http_port = 0;
    const char *many[LINGMA__PROC_MAX_EXTRA_ARGS + 2];
    for (size_t i = 0; i <= LINGMA__PROC_MAX_EXTRA_ARGS; i++)
        many[i] = "x";
    many[LINGMA__PROC_MAX_EXTRA_ARGS + 1] = NULL;
    o.extra_args = many;
    assert_int_equal(lingma__proc_argv_build(&av, &o), LINGMA_EINVAL);
    many[LINGMA__PROC_MAX_EXTRA_ARGS] = NULL;
    assert_int_equal(lingma__proc_argv_build(&av, &o), 0);
}

static void
test_instance_dir(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(lingma__proc_instance_dir(buf, sizeof(buf), "/state/gw", 1, 0), 0);
    assert_string_equal(buf, "/state/gw"); /* N=1: the legacy single path */
    assert_int_equal(lingma__proc_instance_dir(buf, sizeof(buf), "/state/gw", 3, 2), 0);
    assert_string_equal(buf, "/state/gw/inst-2");
    assert_int_equal(lingma__proc_instance_dir(buf, sizeof(buf), "/state/gw", 3, 3), LINGMA_EINVAL);
    assert_int_equal(lingma__proc_instance_dir(buf, 10, "/state/gw", 3, 0), LINGMA_EINVAL);
}

static void
test_env_build(void **state)
{
    (void)state;
    char *base[] = {"HOME=/root", "PATH=/bin", "LANG=C", "PATH=/dup", NULL};
    const char *over[] = {"PATH=/usr/bin", "LANG", "NEW=1", "NEW=2", "GONE", NULL};
    char **env = NULL;
    assert_int_equal(lingma__env_build(&env, NULL, base, over), 0);
    /* Every PATH replaced by one, LANG removed, NEW set once to its last value. */
    const char *want[] = {"HOME=/root", "PATH=/usr/bin", "NEW=2", NULL};
    for (size_t i = 0; want[i]; i++)
        assert_string_equal(env[i], want[i]);
    assert_null(env[3]);
    lingma__free(NULL, env);

    assert_int_equal(lingma__env_build(&env, NULL, NULL, NULL), 0);
    assert_null(env[0]);
    lingma__free(NULL, env);
    const char *bad[] = {"=x", NULL};
    assert_int_equal(lingma__env_build(&env, NULL, base, bad), LINGMA_EINVAL);

    struct failalloc fa = {0};
    lingma_allocator a = failalloc_allocator(&fa);
    failalloc_arm(&fa, 0);
    assert_int_equal(lingma__env_build(&env, &a, base, over), LINGMA_ENOMEM);
    assert_int_equal(fa.live, 0);
}

static void
test_status_strings(void **state)
{
    (void)state;
    char buf[64];
    lingma__wait_status_str(3 << 8, buf, sizeof(buf)); /* W_EXITCODE(3, 0) */
    assert_string_equal(buf, "exited with status 3");
    lingma__wait_status_str(9, buf, sizeof(buf)); /* killed by SIGKILL */
    assert_string_equal(buf, "killed by signal 9 (SIGKILL)");
}

static void
test_mkdir_p(void **state)
{
    (void)state;
    char dir[256], path[512], err[256];
    assert_int_equal(tmpdir_make(dir, sizeof(dir), "mkdir"), 0);
    snprintf(path, sizeof(path), "%s/a/b//c/", dir);
    assert_int_equal(lingma__mkdir_p(path, 0700, err, sizeof(err)), 0);
    assert_int_equal(lingma__mkdir_p(path, 0700, err, sizeof(err)), 0); /* exists: fine */
    struct stat st;
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    /* A file in the way. */
    assert_int_equal(tmpdir_write(dir, "file", "x", 0600), 0);
    snprintf(path, sizeof(path), "%s/file", dir);
    assert_int_equal(lingma__mkdir_p(path, 0700, err, sizeof(err)), LINGMA_ESPAWN);
    assert_non_null(strstr(err, "not a directory"));
    snprintf(path, sizeof(path), "%s/file/sub", dir);
    assert_int_equal(lingma__mkdir_p(path, 0700, err, sizeof(err)), LINGMA_ESPAWN);
    assert_non_null(strstr(err, "cannot create"));
    assert_int_equal(lingma__mkdir_p("", 0700, err, sizeof(err)), LINGMA_ESPAWN);
    assert_int_equal(tmpdir_remove(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_minimal), cmocka_unit_test(test_argv_ports_and_extra),
        cmocka_unit_test(test_argv_invalid), cmocka_unit_test(test_instance_dir),
        cmocka_unit_test(test_env_build),    cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
