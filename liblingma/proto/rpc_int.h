/*
 * Internal extensions of the JSON-RPC session (lingma/sys/rpc.h) for the
 * runtime's fast paths. Not part of the public API.
 */
#ifndef LINGMA_INTERNAL_RPC_INT_H
#define LINGMA_INTERNAL_RPC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/sys/rpc.h"

#include "jsonw.h"

/*
 * Sees every received body before it is parsed. Returns 1 when it handled
 * a request completely (it answered it: the session counts it as a request
 * received and parses nothing), 2 when it handed a response to
 * lingma__rpc_recv_result() (which returned 1), 0 to let the session parse
 * and dispatch it as usual. It runs inside lingma_rpc_recv(): the callback
 * rules apply.
 */
typedef int (*lingma__rpc_raw_fn)(lingma_rpc *rpc, const char *body, size_t len, void *payload);

/* Install (or, with NULL, remove) the hook; `payload` is passed to it. */
void lingma__rpc_set_raw(lingma_rpc *rpc, lingma__rpc_raw_fn fn, void *payload);

/* A result for the call `id`, read by the raw hook without a tree
 * (push_fast.h): `result` is the "result" value's `len` bytes, valid JSON.
 * What the full path does with the same response, with the value parsed
 * alone and only when the call has a callback (chat/deleteSessionById's
 * reply is not parsed at all). @return 1 when done; 0 when the value could
 * not be parsed (out of memory): the session parses the whole body. */
int lingma__rpc_recv_result(lingma_rpc *rpc, int64_t id, const char *result, size_t len);

/* Answer the request with integer id `id` with `result`, a JSON literal
 * ("true", "null"): the same bytes as lingma_rpc_respond() with the same
 * values, without jansson. @return 0, LINGMA_EINVAL, LINGMA_ECLOSED or
 * LINGMA_ENOMEM */
int lingma__rpc_respond_literal(lingma_rpc *rpc, int64_t id, const char *result);

/* Appends a call's params to `w`. @return 0 or a LINGMA_E* code (the call
 * fails with it). */
typedef int (*lingma__rpc_params_fn)(struct lingma__jsonw *w, void *ud);

/* lingma_rpc_call() with params written by `write` (not NULL) instead of
 * a jansson value: the fast path for a call made per chat (chat/ask). */
int lingma__rpc_call_with(lingma_rpc *rpc, int64_t *out_id, const char *method,
                          lingma__rpc_params_fn write, void *ud, uint64_t deadline,
                          lingma_rpc_response_cb cb, void *payload);

#endif
