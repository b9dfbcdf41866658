/*
 * Integration: every LINGMA_SIM_FAULT switch and LINGMA_SIM_FAULT_LIMIT
 * across a respawn on the same work dir.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "simfx.h"
#include "tmpdir.h"

static void
test_drop_after(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=drop_after:3", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "d1", "drop me", "", NULL);
    assert_null(simc_wait_event(f->c, "chat/finish", "d1", SIMFX_WAIT));
    assert_true(wsc_closed(f->c->ws));
    assert_int_equal(simc_count(f->c, "chat/answer", "d1"), 3);
    /* the process lives on and serves new connections */
    struct simc *c2 = simfx_connect(f);
    json_t *st = simfx_status(f);
    assert_int_equal(json_integer_value(json_object_get(st, "faults_hit")), 1);
    json_decref(st);
    simc_free(c2);
    simfx_stop(f);
}

static void
test_exit_after(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=exit_after:2", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "e1", "crash", "", NULL);
    int st = -1;
    assert_int_equal(simproc_wait_exit(&f->p, SIMFX_WAIT, &st), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    simc_pump(f->ctx, 100);
    assert_int_equal(simc_count(f->c, "chat/answer", "e1"), 2);
    assert_int_equal(simc_count(f->c, "chat/finish", "e1"), 0);
    /* a crash leaves .info behind, naming a dead pid */
    assert_true(simproc_file_exists(f->p.dir, ".info"));
}

static void
test_hang(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=hang", NULL};
    simfx_start(f, env);
    long long id = 0, pid = 0;
    assert_int_equal(simc_call_async(f->c, "chat/ask", simc_ask_params("h1", "q", "", NULL), &id),
                     0);
    assert_int_equal(simc_wait_outcome(f->c, id, 300), -1);
    assert_int_equal(simc_call_async(f->c, "ping", json_object(), &pid), 0);
    assert_int_equal(simc_wait_outcome(f->c, pid, 300), -1);
    assert_int_equal(json_array_size(f->c->events), 0);
    simfx_stop(f); /* SIGTERM still works */
}

static void
test_ask_delay(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=ask_delay_ms:300", NULL};
    simfx_start(f, env);
    long long t0 = simproc_now_ms();
    simfx_ask(f->c, "ad", "slow", "", NULL);
    assert_true(simproc_now_ms() - t0 >= 280);
    simfx_finish(f, f->c, "ad");
    simfx_stop(f);
}

static void
test_finish_codes_and_rpc_error(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=finish:429", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "f429", "q", "", NULL);
    json_t *fin = simfx_finish(f, f->c, "f429");
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 429);
    assert_string_equal(json_string_value(json_object_get(fin, "reason")), "error");
    assert_int_equal(simc_count(f->c, "chat/answer", "f429"), 0);
    static const int codes[] = {408, 500};
    for (int i = 0; i < 2; i++) {
        char js[64], rid[16];
        snprintf(js, sizeof(js), "{\"fault\":\"finish:%d\"}", codes[i]);
        snprintf(rid, sizeof(rid), "f%d", codes[i]);
        assert_int_equal(simproc_write_file(f->p.dir, "sim.json", js), 0);
        simfx_ask(f->c, rid, "q", "", NULL);
        assert_int_equal(
            json_integer_value(json_object_get(simfx_finish(f, f->c, rid), "statusCode")),
            codes[i]);
    }
    assert_int_equal(simproc_write_file(f->p.dir, "sim.json", "{\"fault\":\"rpc_error\"}"), 0);
    int code = 0;
    json_t *r = NULL;
    assert_int_equal(
        simc_call(f->c, "chat/ask", simc_ask_params("re", "q", "", NULL), &r, &code, SIMFX_WAIT),
        LINGMA_ERPC);
    assert_int_equal(code, -32603);
    simfx_stop(f);
}

static void
test_logged_out_fault(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=logged_out", NULL};
    simfx_start(f, env);
    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "auth/status", json_object(), &r, NULL, SIMFX_WAIT), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 1);
    json_decref(r);
    assert_int_equal(simc_call(f->c, "config/queryModels", json_object(), &r, NULL, SIMFX_WAIT), 0);
    assert_int_equal(json_object_size(r), 0);
    json_decref(r);
    simfx_ask(f->c, "lo", "q", "", NULL);
    assert_int_equal(json_integer_value(json_object_get(simfx_finish(f, f->c, "lo"), "statusCode")),
                     401);
    simfx_stop(f);
}

/* tool_invoke: an agent-mode chat sends tool/invoke and waits for it with
 * no time limit; a chat in the default mode is not touched. */
static void
test_tool_invoke(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=tool_invoke", NULL};
    simfx_start(f, env);
    /* Unanswered: the chat stalls before its answer. */
    f->c->ack = SIMC_ACK_NONE;
    json_t *p = simc_ask_params("t1", "q", "", NULL);
    json_object_set_new(p, "mode", json_string("agent"));
    long long id = 0;
    assert_int_equal(simc_call_async(f->c, "chat/ask", p, &id), 0);
    json_t *ti = simc_wait_event(f->c, "tool/invoke", "t1", SIMFX_WAIT);
    assert_non_null(ti);
    assert_string_equal(json_string_value(json_object_get(ti, "name")), "read_file");
    assert_non_null(json_string_value(json_object_get(ti, "toolCallId")));
    simc_pump(f->ctx, 500);
    assert_int_equal(simc_count(f->c, "chat/answer", "t1"), 0);
    /* A default-mode chat on another connection goes by. */
    struct simc *c2 = simfx_connect(f);
    simfx_ask(c2, "t2", "q", "", NULL);
    simfx_finish(f, c2, "t2");
    assert_int_equal(simc_count(c2, "tool/invoke", NULL), 0);
    /* Answered (true is not a clean refusal, but an answer): it goes on. */
    f->c->ack = SIMC_ACK_TRUE;
    json_t *p3 = simc_ask_params("t3", "q", "", NULL);
    json_object_set_new(p3, "mode", json_string("agent"));
    assert_int_equal(simc_call_async(f->c, "chat/ask", p3, &id), 0);
    assert_int_equal(json_integer_value(json_object_get(simfx_finish(f, f->c, "t3"), "statusCode")),
                     200);
    json_t *st = simfx_status(f);
    assert_int_equal(json_integer_value(json_object_get(st, "tool_invokes")), 2);
    assert_int_equal(json_integer_value(json_object_get(st, "tool_invokes_refused")), 0);
    json_decref(st);
    simc_free(c2);
    simfx_stop(f);
}

static void
test_fault_limit_across_respawn(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=rpc_error", "LINGMA_SIM_FAULT_LIMIT=2", NULL};
    simfx_start(f, env);
    int code = 0;
    json_t *r = NULL;
    assert_int_equal(
        simc_call(f->c, "chat/ask", simc_ask_params("x1", "q", "", NULL), &r, &code, SIMFX_WAIT),
        LINGMA_ERPC);
    simfx_stop(f);
    /* respawn on the same work dir: one faulty chat left, then healthy */
    assert_int_equal(simproc_start(&f->p, env, NULL, SIMFX_WAIT), 0);
    f->c = simfx_connect(f);
    assert_int_equal(
        simc_call(f->c, "chat/ask", simc_ask_params("x2", "q", "", NULL), &r, &code, SIMFX_WAIT),
        LINGMA_ERPC);
    assert_int_equal(code, -32603);
    simfx_ask(f->c, "x3", "q", "", NULL);
    assert_int_equal(json_integer_value(json_object_get(simfx_finish(f, f->c, "x3"), "statusCode")),
                     200);
    simfx_stop(f);
}

static void
test_exit_at_start_with_limit(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=exit_at_start", "LINGMA_SIM_FAULT_LIMIT=1", NULL};
    assert_int_equal(simproc_start(&f->p, env, NULL, 0), 0);
    int st = -1;
    assert_int_equal(simproc_wait_exit(&f->p, SIMFX_WAIT, &st), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    assert_false(simproc_file_exists(f->p.dir, ".info"));
    /* the respawned simulator recovers */
    simfx_start(f, env);
    simfx_stop(f);
}

static void
test_start_delay(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=start_delay_ms:400", NULL};
    long long t0 = simproc_now_ms();
    simfx_start(f, env);
    assert_true(simproc_now_ms() - t0 >= 380);
    simfx_stop(f);
}

static void
test_stale_info(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_FAULT=stale_info,start_delay_ms:500", NULL};
    assert_int_equal(simproc_start(&f->p, env, NULL, 0), 0);
    /* first a stale .info naming a pid that cannot exist */
    char *s = NULL;
    long long end = simproc_now_ms() + SIMFX_WAIT;
    while (!(s = tmpdir_read(f->p.dir, ".info")) && simproc_now_ms() < end)
        poll(NULL, 0, 2); /* bounded poll for the file */
    assert_non_null(s);
    int port = 0;
    long pid = 0;
    assert_int_equal(sscanf(s, "%d\n%ld", &port, &pid), 2);
    free(s);
    assert_int_not_equal(pid, f->p.pid);
    assert_true(kill((pid_t)pid, 0) != 0);
    /* then the real one */
    assert_int_equal(simproc_wait_info(&f->p, SIMFX_WAIT), 0);
    f->ctx = wsc_ctx_new();
    f->c = simfx_connect(f);
    simfx_stop(f);
    /* and it is left behind at exit */
    assert_true(simproc_file_exists(f->p.dir, ".info"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, simfx_setup, simfx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_drop_after),
        T(test_exit_after),
        T(test_hang),
        T(test_ask_delay),
        T(test_finish_codes_and_rpc_error),
        T(test_logged_out_fault),
        T(test_tool_invoke),
        T(test_fault_limit_across_respawn),
        T(test_exit_at_start_with_limit),
        T(test_start_delay),
        T(test_stale_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
