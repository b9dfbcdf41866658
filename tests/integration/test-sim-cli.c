/*
 * Integration: lingma-sim as a command — version, --help, status, bad
 * settings, flags, ports, .info variants, files and signal handling.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procrun.h"
#include "simfx.h"
#include "tmpdir.h"

static void
test_version_and_help(void **state)
{
    char out[16384];
    const char *v[] = {"version", NULL};
    assert_int_equal(simproc_run(v, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 0);
    assert_string_equal(out, "version: 2.11.1\n");
    const char *h[] = {"--help", NULL};
    assert_int_equal(simproc_run(h, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 0);
    static const char *names[] = {"--workDir",
                                  "--socketPort",
                                  "--httpPort",
                                  "--transportType",
                                  "--endpoint",
                                  "-o json",
                                  "LINGMA_SIM_LOGGED_IN",
                                  "LINGMA_SIM_SEED",
                                  "LINGMA_SIM_REPLY",
                                  "LINGMA_SIM_CHUNKS",
                                  "LINGMA_SIM_FIRST_TOKEN_MS",
                                  "LINGMA_SIM_CHUNK_MS",
                                  "LINGMA_SIM_MODELS",
                                  "LINGMA_SIM_INFO",
                                  "LINGMA_SIM_SPLIT",
                                  "LINGMA_SIM_COALESCE",
                                  "LINGMA_SIM_STEP_END_FIRST",
                                  "LINGMA_SIM_NOISY",
                                  "LINGMA_SIM_ONE_CHAT_PER_CONNECTION",
                                  "LINGMA_SIM_USAGE",
                                  "LINGMA_SIM_TIMESTAMPS",
                                  "LINGMA_SIM_FAULT",
                                  "LINGMA_SIM_FAULT_LIMIT",
                                  "LINGMA_SIM_CONFIG",
                                  "LINGMA_SIM_ACK_WAIT_MS",
                                  "LINGMA_EXIT_WITH_PARENT",
                                  "drop_after:N",
                                  "exit_after:N",
                                  "hang",
                                  "ask_delay_ms:N",
                                  "finish:",
                                  "rpc_error",
                                  "exit_at_start",
                                  "start_delay_ms:N",
                                  "stale_info",
                                  "logged_out",
                                  "sim.json",
                                  "Example"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        if (!strstr(out, names[i]))
            fail_msg("--help does not mention %s", names[i]);
    }
    const char *none[] = {NULL};
    assert_int_equal(simproc_run(none, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 2);
    const char *bogus[] = {"bogus", NULL};
    assert_int_equal(simproc_run(bogus, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 2);
}

static void
test_status_fresh_dirs(void **state)
{
    struct simfx *f = *state;
    char out[4096];
    char dir[PATH_MAX];
    assert_int_equal(tmpdir_make(dir, sizeof(dir), "sim-status"), 0);
    const char *args[] = {"status", "-o", "json", "--workDir", dir, NULL};
    assert_int_equal(simproc_run(args, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_true(json_is_true(json_object_get(j, "logged_in")));
    assert_string_equal(json_string_value(json_object_get(j, "version")), "2.11.1");
    assert_string_equal(json_string_value(json_object_get(j, "user_type")), "personal_standard");
    assert_non_null(json_object_get(j, "username"));
    assert_int_equal(json_integer_value(json_object_get(j, "unanswered_pushes")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "stops_received")), 0);
    json_decref(j);
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    const char *args2[] = {"status", "-o=json", "--workDir=", dir, NULL};
    args2[2] = "--workDir";
    assert_int_equal(simproc_run(args2, env, out, sizeof(out), NULL, 0, SIMFX_WAIT), 0);
    j = json_loads(out, 0, NULL);
    assert_true(json_is_false(json_object_get(j, "logged_in")));
    assert_null(json_object_get(j, "username"));
    json_decref(j);
    const char *text[] = {"status", "--workDir", dir, NULL};
    assert_int_equal(simproc_run(text, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 0);
    assert_non_null(strstr(out, "logged in: yes"));
    tmpdir_remove(dir);
    (void)f;
}

static void
expect_bad(const char *const *env, const char *const *extra, const char *needle, const char *dir)
{
    char out[1024], err[2048];
    const char *args[16] = {"start", "--workDir", dir, "--socketPort", "0"};
    size_t k = 5;
    for (const char *const *a = extra; a && *a; a++)
        args[k++] = *a;
    args[k] = NULL;
    assert_int_equal(simproc_run(args, env, out, sizeof(out), err, sizeof(err), SIMFX_WAIT), 2);
    if (!strstr(err, needle))
        fail_msg("stderr '%s' does not name %s", err, needle);
    assert_false(simproc_file_exists(dir, ".info"));
}

static void
test_bad_settings_exit_2(void **state)
{
    char dir[PATH_MAX];
    assert_int_equal(tmpdir_make(dir, sizeof(dir), "sim-bad"), 0);
    static const char *cases[][2] = {
        {"LINGMA_SIM_CHUNKS=abc", "LINGMA_SIM_CHUNKS"},
        {"LINGMA_SIM_CHUNKS=0", "LINGMA_SIM_CHUNKS"},
        {"LINGMA_SIM_REPLY=shout", "LINGMA_SIM_REPLY"},
        {"LINGMA_SIM_INFO=4line", "LINGMA_SIM_INFO"},
        {"LINGMA_SIM_FAULT=explode", "LINGMA_SIM_FAULT"},
        {"LINGMA_SIM_FAULT=finish:abc", "LINGMA_SIM_FAULT"},
        {"LINGMA_SIM_FAULT=finish:200", "LINGMA_SIM_FAULT"},
        {"LINGMA_SIM_LOGGED_IN=maybe", "LINGMA_SIM_LOGGED_IN"},
        {"LINGMA_SIM_SEED=-1", "LINGMA_SIM_SEED"},
        {"LINGMA_SIM_CHUNK_MS=fast", "LINGMA_SIM_CHUNK_MS"},
        {"LINGMA_SIM_MODELS=/nonexistent/models.json", "LINGMA_SIM_MODELS"},
        {"LINGMA_SIM_CONFIG=/nonexistent/sim.json", "LINGMA_SIM_CONFIG"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const char *env[] = {cases[i][0], NULL};
        expect_bad(env, NULL, cases[i][1], dir);
    }
    /* the same checks for LINGMA_SIM_CONFIG and sim.json */
    char cfg[PATH_MAX + 64], envc[PATH_MAX + 96];
    snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
    assert_int_equal(simproc_write_file(dir, "config.json", "{\"split\":\"sometimes\"}"), 0);
    snprintf(envc, sizeof(envc), "LINGMA_SIM_CONFIG=%s", cfg);
    const char *envcfg[] = {envc, NULL};
    expect_bad(envcfg, NULL, "LINGMA_SIM_SPLIT", dir);
    assert_int_equal(simproc_write_file(dir, "sim.json", "{\"usage\": 7}"), 0);
    expect_bad(NULL, NULL, "LINGMA_SIM_USAGE", dir);
    assert_int_equal(simproc_write_file(dir, "sim.json", "not json"), 0);
    expect_bad(NULL, NULL, "sim.json", dir);
    assert_int_equal(remove(strcat(strcpy(cfg, dir), "/sim.json")), 0);
    const char *badport[] = {"--httpPort=http", NULL};
    expect_bad(NULL, badport, "--httpPort", dir);
    tmpdir_remove(dir);
}

static void
test_info_2line_files_and_sigterm(void **state)
{
    struct simfx *f = *state;
    const char *args[] = {"--transportType",
                          "websocket",
                          "--unknownFlag",
                          "--foo=bar",
                          "--endpoint=https://example.invalid/algo",
                          NULL};
    assert_int_equal(simproc_start(&f->p, NULL, args, SIMFX_WAIT), 0);
    char *info = tmpdir_read(f->p.dir, ".info");
    char want[64];
    snprintf(want, sizeof(want), "%d\n%ld\n", f->p.port, (long)f->p.pid);
    assert_string_equal(info, want);
    free(info);
    char *id = tmpdir_read(f->p.dir, "cache/id");
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');
    free(id);
    assert_true(simproc_file_exists(f->p.dir, "cache/user"));
    char line[128];
    snprintf(line, sizeof(line), "Communication servers ready - WebSocket: %d, HTTP: %d", f->p.port,
             f->p.http_port);
    assert_true(f->p.http_port > 0);
    assert_int_equal(simproc_wait_file_contains(f->p.dir, "logs/lingma.log", line, SIMFX_WAIT), 0);
    f->ctx = wsc_ctx_new();
    f->c = simfx_connect(f);
    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "config/getEndpoint", json_object(), &r, NULL, SIMFX_WAIT), 0);
    assert_string_equal(json_string_value(json_object_get(r, "endpoint")),
                        "https://example.invalid/algo");
    json_decref(r);
    simc_free(f->c);
    f->c = NULL;
    int st = -1;
    int ms = simproc_stop(&f->p, simproc_scale(3000), &st);
    assert_true(ms >= 0 && ms < simproc_scale(3000));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_false(simproc_file_exists(f->p.dir, ".info"));
}

static void
test_sigint(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    simc_free(f->c);
    f->c = NULL;
    long long t0 = simproc_now_ms();
    kill(f->p.pid, SIGINT);
    int st = -1;
    assert_int_equal(simproc_wait_exit(&f->p, simproc_scale(3000), &st), 0);
    assert_true(simproc_now_ms() - t0 < simproc_scale(3000));
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_false(simproc_file_exists(f->p.dir, ".info"));
}

static void
test_info_variants(void **state)
{
    struct simfx *f = *state;
    const char *env3[] = {"LINGMA_SIM_INFO=3line", NULL};
    simfx_start(f, env3);
    char *info = tmpdir_read(f->p.dir, ".info");
    int port;
    long pid;
    char third[PATH_MAX];
    assert_int_equal(sscanf(info, "%d\n%ld\n%4095s", &port, &pid, third), 3);
    assert_non_null(strstr(third, "lingma.sock"));
    free(info);
    simfx_stop(f);
    simc_free(f->c);
    f->c = NULL;

    const char *envj[] = {"LINGMA_SIM_INFO=json", NULL};
    simfx_start(f, envj);
    assert_false(simproc_file_exists(f->p.dir, ".info"));
    info = tmpdir_read(f->p.dir, ".info.json");
    json_t *j = json_loads(info, 0, NULL);
    free(info);
    assert_int_equal(json_integer_value(json_object_get(j, "websocketPort")), f->p.port);
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), f->p.pid);
    assert_true(json_integer_value(json_object_get(j, "httpPort")) > 0);
    assert_true(json_is_false(json_object_get(j, "isDev")));
    assert_true(json_is_string(json_object_get(j, "ipcServerPath")));
    json_decref(j);
    simfx_stop(f);
    assert_false(simproc_file_exists(f->p.dir, ".info.json"));
    simc_free(f->c);
    f->c = NULL;

    /* early: .info names the port before it listens; dialling must retry */
    const char *enve[] = {"LINGMA_SIM_INFO=early", "LINGMA_SIM_FAULT=start_delay_ms:400", NULL};
    assert_int_equal(simproc_start(&f->p, enve, NULL, SIMFX_WAIT), 0);
    struct simc *c = NULL;
    int refused = 0;
    long long end = simproc_now_ms() + SIMFX_WAIT;
    while (!c && simproc_now_ms() < end) {
        c = simc_connect(f->ctx, f->p.port, "/");
        refused += !c;
    }
    assert_non_null(c);
    assert_true(refused > 0);
    simc_free(c);
    simfx_stop(f);
}

static int
listen_busy(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

static void
test_ports(void **state)
{
    struct simfx *f = *state;
    int busy;
    int fd = listen_busy(&busy);
    int hfd;
    int hport;
    hfd = listen_busy(&hport);
    close(hfd); /* free now: the simulator should take exactly this one */
    char sp[16], hp[16];
    snprintf(sp, sizeof(sp), "--socketPort=%d", busy);
    snprintf(hp, sizeof(hp), "%d", hport);
    const char *args[] = {sp, "--httpPort", hp, NULL};
    assert_int_equal(simproc_start(&f->p, NULL, args, SIMFX_WAIT), 0);
    assert_int_not_equal(f->p.port, busy);
    assert_int_equal(f->p.http_port, hport);
    f->ctx = wsc_ctx_new();
    f->c = simfx_connect(f);
    /* a second instance on another work dir at the same time */
    struct simproc p2 = {0};
    assert_int_equal(simproc_start(&p2, NULL, NULL, SIMFX_WAIT), 0);
    assert_int_not_equal(p2.port, f->p.port);
    struct simc *c2 = simc_connect(f->ctx, p2.port, "/");
    assert_non_null(c2);
    simc_free(c2);
    assert_true(simproc_stop(&p2, simproc_scale(3000), NULL) >= 0);
    simproc_cleanup(&p2);
    close(fd);
    simfx_stop(f);
}

static void
test_no_flags_uses_cwd(void **state)
{
    char dir[PATH_MAX];
    assert_int_equal(tmpdir_make(dir, sizeof(dir), "sim-cwd"), 0);
    const char *argv[] = {simproc_bin(), "start", NULL};
    struct procrun_opts o = {.argv = argv, .cwd = dir};
    struct simproc p = {.pid = procrun_spawn(&o, NULL, 0)};
    assert_true(p.pid > 0);
    snprintf(p.dir, sizeof(p.dir), "%s", dir);
    p.own_dir = true;
    assert_int_equal(simproc_wait_info(&p, SIMFX_WAIT), 0);
    assert_true(p.port > 0); /* 37010 when free, else an ephemeral port */
    assert_true(simproc_file_exists(dir, "cache/id"));
    assert_true(simproc_stop(&p, simproc_scale(3000), NULL) >= 0);
    assert_false(simproc_file_exists(dir, ".info"));
    simproc_cleanup(&p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, simfx_setup, simfx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_version_and_help),
        T(test_status_fresh_dirs),
        T(test_bad_settings_exit_2),
        T(test_info_2line_files_and_sigterm),
        T(test_sigint),
        T(test_info_variants),
        T(test_ports),
        T(test_no_flags_uses_cwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
