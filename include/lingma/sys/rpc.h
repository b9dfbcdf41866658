/*
 * liblingma sys tier: a sans-I/O JSON-RPC 2.0 session over Content-Length
 * frames.
 *
 * Stable only within a minor version. The session never touches a socket,
 * a thread or a clock: bytes go in with lingma_rpc_recv(), callbacks fire,
 * bytes to send are pulled out with lingma_rpc_mem_send(), and time is
 * passed in to lingma_rpc_tick(). It is symmetric: either side may send
 * requests and notifications, so the client library and lingma-sim share it.
 *
 * Threads: a session is used by one thread at a time.
 *
 * Re-entrancy (nghttp2 rule): inside a callback you may call
 * lingma_rpc_call(), lingma_rpc_notify(), lingma_rpc_respond(),
 * lingma_rpc_respond_error() and lingma_rpc_cancel(). You must not call
 * lingma_rpc_recv(), lingma_rpc_recv_message(), lingma_rpc_tick(),
 * lingma_rpc_close() or lingma_rpc_free() from a callback of the same session
 * (recv, recv_message and tick then return LINGMA_EINVAL/0; a close or free
 * is deferred until the outer call returns, which then returns LINGMA_ECLOSED).
 * Callbacks run by lingma_rpc_tick() or lingma_rpc_close() see the requests
 * that this same tick or close is failing as already gone: cancelling one of
 * them returns LINGMA_ENOTFOUND and its own callback still runs, once.
 *
 * Wire choices: output is compact JSON, UTF-8 passed through, reals with 15
 * significant digits (0.7 goes out as 0.7). Input is parsed with the exact
 * body length; duplicate keys are accepted (the last wins) and "\u0000" in
 * strings is allowed (use json_string_length()). Batches are not supported.
 *
 * jansson values: parameters documented as "stolen" are owned by the session
 * from the call on, even when the call fails; "borrowed" values are valid only
 * for the duration of the callback (json_incref() them to keep them).
 */
#ifndef LINGMA_SYS_RPC_H
#define LINGMA_SYS_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Standard JSON-RPC 2.0 error codes. */
#define LINGMA_RPC_PARSE_ERROR      (-32700)
#define LINGMA_RPC_INVALID_REQUEST  (-32600)
#define LINGMA_RPC_METHOD_NOT_FOUND (-32601)
#define LINGMA_RPC_INVALID_PARAMS   (-32602)
#define LINGMA_RPC_INTERNAL_ERROR   (-32603)

/** Returned by an on_request handler that will answer later. */
#define LINGMA_RPC_DEFER 1

typedef struct lingma_rpc lingma_rpc;

/** A JSON-RPC error object received from the peer. All fields borrowed. */
typedef struct lingma_rpc_error {
    int code;
    const char *message; /**< never NULL ("" when the peer sent none) */
    const json_t *data;  /**< the optional `data` member, or NULL */
} lingma_rpc_error;

/**
 * The outcome of a request sent with lingma_rpc_call(); called exactly once.
 *
 * @param status  0: `result` is the peer's result (borrowed; JSON null when the peer sent null);
 *                LINGMA_ERPC: the peer answered with an error, see `err`;
 *                LINGMA_ETIMEDOUT: the deadline passed (lingma_rpc_tick());
 *                LINGMA_ECANCELED: lingma_rpc_cancel() was called;
 *                LINGMA_ECLOSED: the session was closed or freed first.
 * @param result  borrowed, non-NULL only when status is 0
 * @param err     borrowed, non-NULL only when status is LINGMA_ERPC
 */
typedef void (*lingma_rpc_response_cb)(lingma_rpc *rpc, int status, json_t *result,
                                       const lingma_rpc_error *err, void *payload);

/**
 * A request from the peer. `id` (a number or a string) and `params` (NULL
 * when absent) are borrowed. Every request is answered exactly once:
 *   - call lingma_rpc_respond() or lingma_rpc_respond_error() during the
 *     callback and return 0; or
 *   - return 0 without answering: the session answers `"result": null`; or
 *   - return LINGMA_RPC_DEFER and answer later with the same id (keep it
 *     with json_incref() or json_deep_copy()); or
 *   - return a negative LINGMA_E* code without answering: the session
 *     answers with error -32603.
 * When no handler is set, every request is answered with `null`.
 */
typedef int (*lingma_rpc_request_cb)(lingma_rpc *rpc, const json_t *id, const char *method,
                                     json_t *params, void *payload);

/** A notification from the peer. `params` is borrowed (NULL when absent). */
typedef void (*lingma_rpc_notification_cb)(lingma_rpc *rpc, const char *method, json_t *params,
                                           void *payload);

/** Counters, monotonically increasing over the session's life. */
typedef struct lingma_rpc_stats {
    uint64_t requests_sent;
    uint64_t notifications_sent;
    uint64_t responses_sent;
    uint64_t responses_received; /**< responses that matched a pending request */
    uint64_t requests_received;
    uint64_t notifications_received;
    uint64_t timeouts;          /**< pending requests expired by lingma_rpc_tick() */
    uint64_t malformed;         /**< bodies that were not valid JSON-RPC 2.0 */
    uint64_t unknown_responses; /**< responses whose id matched no pending request */
} lingma_rpc_stats;

#define LINGMA_RPC_OPTIONS_VERSION 1

typedef struct lingma_rpc_options {
    unsigned int version;                       /**< LINGMA_RPC_OPTIONS_VERSION */
    size_t max_frame;                           /**< 0: LINGMA_FRAME_DEFAULT_MAX */
    const lingma_allocator *alloc;              /**< NULL: malloc(3); must outlive the session */
    lingma_rpc_request_cb on_request;           /**< may be NULL */
    lingma_rpc_notification_cb on_notification; /**< may be NULL */
    lingma_log_fn log_fn;                       /**< may be NULL */
    void *payload; /**< passed to on_request, on_notification and log_fn */
} lingma_rpc_options;

#define LINGMA_RPC_OPTIONS_INIT                                                                    \
    {                                                                                              \
        LINGMA_RPC_OPTIONS_VERSION, 0, NULL, NULL, NULL, NULL, NULL                                \
    }

/**
 * Create a session.
 * @return 0, LINGMA_EINVAL (NULL out/opts or an unknown opts->version) or LINGMA_ENOMEM
 */
LINGMA_EXPORT int lingma_rpc_new(lingma_rpc **out, const lingma_rpc_options *opts);

/**
 * Close (if not yet closed) and free the session. Pending requests get
 * their callback with LINGMA_ECLOSED first. NULL is accepted.
 */
LINGMA_EXPORT void lingma_rpc_free(lingma_rpc *rpc);

/**
 * Close the session: every pending request gets its callback with
 * LINGMA_ECLOSED, exactly once, and queued output is dropped. Later calls
 * that send or receive return LINGMA_ECLOSED. Idempotent.
 */
LINGMA_EXPORT void lingma_rpc_close(lingma_rpc *rpc);

/**
 * Send a request.
 *
 * @param out_id   receives the integer id (may be NULL); ids start at 1 and increase
 * @param method   the method name (copied)
 * @param params   stolen; NULL sends no params member
 * @param deadline absolute time, in the unit passed to lingma_rpc_tick(), after
 *                 which the request fails with LINGMA_ETIMEDOUT; 0 for none
 * @param cb       called exactly once with the outcome (may be NULL)
 * @return 0, LINGMA_EINVAL, LINGMA_ENOMEM or LINGMA_ECLOSED. On failure `cb` is never called.
 */
LINGMA_EXPORT int lingma_rpc_call(lingma_rpc *rpc, int64_t *out_id, const char *method,
                                  json_t *params, uint64_t deadline, lingma_rpc_response_cb cb,
                                  void *payload);

/**
 * Forget a pending request: its callback runs now with LINGMA_ECANCELED
 * and a late response will be counted as unknown. No message is sent to
 * the peer (send your protocol's own cancel, e.g. chat/stop, if it has one).
 * @return 0 or LINGMA_ENOTFOUND
 */
LINGMA_EXPORT int lingma_rpc_cancel(lingma_rpc *rpc, int64_t id);

/** Send a notification. `params` is stolen. @return 0, LINGMA_EINVAL, LINGMA_ENOMEM or
 * LINGMA_ECLOSED */
LINGMA_EXPORT int lingma_rpc_notify(lingma_rpc *rpc, const char *method, json_t *params);

/**
 * Answer a request from the peer with a result. `id` is borrowed and echoed
 * verbatim; `result` is stolen (NULL sends JSON null).
 * @return 0, LINGMA_EINVAL (id not a number or string, or the request that
 *         on_request is handling was already answered from that callback),
 *         LINGMA_ENOMEM or LINGMA_ECLOSED
 */
LINGMA_EXPORT int lingma_rpc_respond(lingma_rpc *rpc, const json_t *id, json_t *result);

/**
 * Answer a request from the peer with an error. `message` (copied; NULL
 * sends "") must be valid UTF-8, or LINGMA_EINVAL is returned.
 * @return as lingma_rpc_respond()
 */
LINGMA_EXPORT int lingma_rpc_respond_error(lingma_rpc *rpc, const json_t *id, int code,
                                           const char *message);

/**
 * Feed bytes received from the transport (Content-Length framed, any
 * chunking). Callbacks fire for each complete message. A body that is not
 * valid JSON-RPC 2.0 (bad JSON, missing "jsonrpc":"2.0", no method and no
 * id, a response to an unknown id) is logged, counted and skipped; a
 * request among them whose id is a number or a string is still answered,
 * with error -32600, so that the peer does not wait for ever. A response id
 * must be a JSON integer to match: 7.0 and "7" never match request 7.
 *
 * @return 0; LINGMA_EPROTO or LINGMA_EINVAL when the framing is broken (the
 *         stream is dead: close the connection); LINGMA_ENOMEM (a message
 *         may have been lost or a request left unanswered: close the
 *         connection); LINGMA_ECLOSED
 */
LINGMA_EXPORT int lingma_rpc_recv(lingma_rpc *rpc, const void *data, size_t len);

/** Process one already unframed message body of `len` bytes. Same rules as lingma_rpc_recv(). */
LINGMA_EXPORT int lingma_rpc_recv_message(lingma_rpc *rpc, const char *body, size_t len);

/**
 * Pull the next frame to send (header and body, one whole message).
 *
 * @param out  receives a pointer to the bytes, valid until the next
 *             lingma_rpc_mem_send(), lingma_rpc_close() or lingma_rpc_free()
 *             (other calls, which queue more output, do not move it); the
 *             bytes count as sent once returned; NULL when nothing is queued
 * @return the frame length, or 0 when nothing is queued
 */
LINGMA_EXPORT size_t lingma_rpc_mem_send(lingma_rpc *rpc, const char **out);

/** Non-zero when lingma_rpc_mem_send() has something to return. */
LINGMA_EXPORT int lingma_rpc_want_write(const lingma_rpc *rpc);

/** Bytes queued for sending and not yet pulled. */
LINGMA_EXPORT size_t lingma_rpc_send_queued(const lingma_rpc *rpc);

/**
 * Expire pending requests whose deadline is <= now: each callback runs with
 * LINGMA_ETIMEDOUT, in deadline order. Requests made from those callbacks
 * wait for the next tick, whatever their deadline. @return the number expired.
 */
LINGMA_EXPORT size_t lingma_rpc_tick(lingma_rpc *rpc, uint64_t now);

/** The earliest pending deadline, or 0 when nothing is pending with a deadline. */
LINGMA_EXPORT uint64_t lingma_rpc_next_deadline(const lingma_rpc *rpc);

/** Number of requests sent and not yet answered. */
LINGMA_EXPORT size_t lingma_rpc_pending_count(const lingma_rpc *rpc);

/** Copy the counters into `out`. */
LINGMA_EXPORT void lingma_rpc_get_stats(const lingma_rpc *rpc, lingma_rpc_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* LINGMA_SYS_RPC_H */
