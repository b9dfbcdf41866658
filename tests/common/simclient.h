/*
 * Test helper: a JSON-RPC peer of lingma-sim on top of wsclient + the
 * project's lingma_rpc session. Records every request and notification the
 * simulator pushes, ACKs pushes as configured, and offers synchronous calls
 * and waits with bounded timeouts.
 */
#ifndef TESTS_SIMCLIENT_H
#define TESTS_SIMCLIENT_H

#include <stdbool.h>

#include <jansson.h>

#include "wsclient.h"

enum simc_ack {
    SIMC_ACK_TRUE = 0, /* answer every push with true */
    SIMC_ACK_NULL,     /* let the session answer null */
    SIMC_ACK_NONE,     /* never answer (a client that ignores pushes) */
};

struct simc {
    struct wsc *ws;
    lingma_rpc *rpc;
    json_t *events;  /* array of {"kind":"request"|"notification","method","params"} */
    json_t *results; /* "<id>" -> {"result":...} or {"error":{code,message}} */
    enum simc_ack ack;
};

/* Connect to 127.0.0.1:port (path "/" when NULL). NULL on failure. */
struct simc *simc_connect(struct wsc_ctx *ctx, int port, const char *path);
void simc_free(struct simc *c);

/* Send a request; its outcome lands in c->results under the decimal id. */
int simc_call_async(struct simc *c, const char *method, json_t *params, long long *id);
/*
 * Call and wait (bounded). Returns 0 with *result (new reference) or
 * LINGMA_ERPC with *code / message, or -1 on timeout / connection loss.
 */
int simc_call(struct simc *c, const char *method, json_t *params, json_t **result, int *code,
              int timeout_ms);
/* The recorded outcome of an async call (borrowed), or NULL when none yet. */
json_t *simc_outcome(struct simc *c, long long id);
/* Wait until the outcome of `id` is known. 0 or -1. */
int simc_wait_outcome(struct simc *c, long long id, int timeout_ms);

/* Index of the first recorded event with `method` (and params.requestId == rid when rid), or -1. */
int simc_find(const struct simc *c, const char *method, const char *rid, int from);
/* Wait for such an event; returns its params (borrowed) or NULL on timeout. */
json_t *simc_wait_event(struct simc *c, const char *method, const char *rid, int timeout_ms);
/* Number of recorded events with `method` (and requestId when rid). */
int simc_count(const struct simc *c, const char *method, const char *rid);
/* Concatenated chat/answer text of `rid` (malloc'd). */
char *simc_answer_text(const struct simc *c, const char *rid);

/* A chat/ask params object with the fields real clients send. */
json_t *simc_ask_params(const char *rid, const char *question, const char *session_id,
                        const char *model);

/* Service everything for up to timeout_ms. */
void simc_pump(struct wsc_ctx *ctx, int timeout_ms);

#endif
