/*
 * Test helper: a cmocka fixture around one lingma-sim process, a client
 * context and a first connection. Use with cmocka_unit_test_setup_teardown
 * (simfx_setup / simfx_teardown) so that a failing assertion still stops
 * the process and removes its work dir.
 */
#ifndef TESTS_SIMFX_H
#define TESTS_SIMFX_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "simclient.h"
#include "simproc.h"

struct simfx {
    struct simproc p;
    struct wsc_ctx *ctx;
    struct simc *c; /* first connection, initialized */
};

int simfx_setup(void **state);
int simfx_teardown(void **state);

/* Start the simulator with `env` (NULL-terminated list or NULL) and connect. */
void simfx_start(struct simfx *f, const char *const *env);
/* Another initialized connection on the same simulator. */
struct simc *simfx_connect(struct simfx *f);
/* SIGTERM; asserts a clean exit (status 0) within 3 s (30 s under valgrind). */
void simfx_stop(struct simfx *f);

/* chat/ask and assert the immediate result; returns nothing. */
void simfx_ask(struct simc *c, const char *rid, const char *q, const char *sid, const char *model);
/* Wait for chat/finish of `rid`; returns its params (borrowed). */
json_t *simfx_finish(struct simfx *f, struct simc *c, const char *rid);
/* The `status -o json` of the fixture's work dir (new reference). */
json_t *simfx_status(struct simfx *f);

/* Wait bound, scaled under valgrind. */
#define SIMFX_WAIT simproc_scale(10000)

#endif
