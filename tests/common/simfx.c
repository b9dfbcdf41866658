/* Test helper: cmocka fixture for lingma-sim, see simfx.h. */
#include "simfx.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int
simfx_setup(void **state)
{
    struct simfx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    if (!simproc_bin()) {
        fprintf(stderr, "LINGMA_SIM_BIN is not set\n");
        return -1;
    }
    return 0;
}

int
simfx_teardown(void **state)
{
    struct simfx *f = *state;
    simc_free(f->c);
    wsc_ctx_free(f->ctx);
    if (f->p.pid > 0)
        simproc_stop(&f->p, simproc_scale(3000), NULL);
    simproc_cleanup(&f->p);
    free(f);
    return 0;
}

struct simc *
simfx_connect(struct simfx *f)
{
    struct simc *c = simc_connect(f->ctx, f->p.port, "/");
    assert_non_null(c);
    json_t *r = NULL;
    assert_int_equal(simc_call(c, "initialize",
                               json_pack("{s:n, s:{s:s, s:s}, s:{}}", "processId", "clientInfo",
                                         "name", "test", "version", "0", "capabilities"),
                               &r, NULL, SIMFX_WAIT),
                     0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")), "lingma");
    json_decref(r);
    return c;
}

void
simfx_start(struct simfx *f, const char *const *env)
{
    assert_int_equal(simproc_start(&f->p, env, NULL, SIMFX_WAIT), 0);
    if (!f->ctx)
        f->ctx = wsc_ctx_new();
    assert_non_null(f->ctx);
    f->c = simfx_connect(f);
}

void
simfx_stop(struct simfx *f)
{
    int st = -1;
    simc_free(f->c);
    f->c = NULL;
    int ms = simproc_stop(&f->p, simproc_scale(3000), &st);
    assert_true(ms >= 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

void
simfx_ask(struct simc *c, const char *rid, const char *q, const char *sid, const char *model)
{
    json_t *r = NULL;
    assert_int_equal(
        simc_call(c, "chat/ask", simc_ask_params(rid, q, sid, model), &r, NULL, SIMFX_WAIT), 0);
    assert_true(json_is_true(json_object_get(r, "success")));
    assert_true(json_is_true(json_object_get(r, "isSuccess")));
    assert_string_equal(json_string_value(json_object_get(r, "requestId")), rid);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "processing");
    assert_string_equal(json_string_value(json_object_get(r, "errorCode")), "");
    assert_string_equal(json_string_value(json_object_get(r, "errorMessage")), "");
    json_decref(r);
}

json_t *
simfx_finish(struct simfx *f, struct simc *c, const char *rid)
{
    json_t *fin = simc_wait_event(c, "chat/finish", rid, SIMFX_WAIT);
    assert_non_null(fin);
    return fin;
}

json_t *
simfx_status(struct simfx *f)
{
    char out[4096];
    const char *args[] = {"status", "-o", "json", "--workDir", f->p.dir, NULL};
    assert_int_equal(simproc_run(args, NULL, out, sizeof(out), NULL, 0, SIMFX_WAIT), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    return j;
}
