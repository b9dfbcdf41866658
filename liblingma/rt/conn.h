/*
 * Internal: one WebSocket connection to a Lingma instance, with its
 * JSON-RPC session and the LSP handshake (lingma-protocol.md section 3):
 *
 *   CONNECTING --ws open, initialize sent--> INITIALIZING
 *              --initialize answered, initialized sent--> READY
 *
 * A connection knows nothing above it. What happens to it goes to its
 * owner (the instance) through struct lingma__conn_events, and the owner
 * decides when it is dropped. Service thread only.
 */
#ifndef LINGMA_INTERNAL_CONN_H
#define LINGMA_INTERNAL_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/sys/rpc.h"

#include "logger.h"
#include "loop.h"
#include "push_fast.h"
#include "rpc_int.h"
#include "strbuf.h"

enum lingma__conn_state {
    LINGMA__CONN_CONNECTING = 0,
    LINGMA__CONN_INITIALIZING,
    LINGMA__CONN_READY,
};

/* How a connection failed by itself (the owner drops it). */
enum lingma__conn_fault {
    LINGMA__CONN_BROKEN,  /* Lingma broke the protocol: a receive failed */
    LINGMA__CONN_REFUSED, /* initialize was answered with an error */
    LINGMA__CONN_UNSENT,  /* initialize could not be sent */
    LINGMA__CONN_SILENT,  /* Lingma stopped answering: the stall probe got nothing */
};

struct lingma__conn;

/* What a connection reports to its owner; `ud` is lingma__conn_cfg.ud. */
struct lingma__conn_events {
    /* The handshake is done: the connection serves. */
    void (*on_ready)(struct lingma__conn *c, void *ud);
    /* It failed as `fault` says (`msg` describes it). Never from inside a
     * callback of the session: the owner may drop it at once. */
    void (*on_fault)(struct lingma__conn *c, enum lingma__conn_fault fault, const char *msg,
                     void *ud);
    /* The WebSocket closed, or could not be opened (`opened` tells whether
     * it had been). It is gone already; the session is not. */
    void (*on_closed)(struct lingma__conn *c, int opened, const char *why, void *ud);
    /* lingma__conn_drop() takes the connection down: whatever runs on it
     * ends now, with `code` and `why`. The session still exists. */
    void (*on_down)(struct lingma__conn *c, int code, const char *why, void *ud);
    /* Lingma's requests and notifications (lingma_rpc_options semantics). */
    int (*on_request)(struct lingma__conn *c, const json_t *id, const char *method, json_t *params,
                      void *ud);
    void (*on_notification)(struct lingma__conn *c, const char *method, json_t *params, void *ud);
    /* A request read by the fast decoder (push_fast.h), instead of
     * on_request: answer it with lingma__conn_answer_literal(). NULL: every
     * request goes to on_request. */
    void (*on_push)(struct lingma__conn *c, const struct lingma__push_fast *m, void *ud);
};

/* [init] What the connections of one instance share. Borrowed: it outlives
 * them. */
struct lingma__conn_cfg {
    struct lingma__loop *loop;
    const lingma_allocator *alloc;
    const struct lingma__logger *log;
    const char *name;     /* "inst-0": log lines and the workspace name */
    const char *work_dir; /* the workspace of initialize */
    unsigned rpc_timeout_ms;
    unsigned stall_ms; /* silence that makes a busy connection ping; 0: never */
    const struct lingma__conn_events *ev;
    void *ud;
};

struct lingma__conn {
    /* [init] */
    const struct lingma__conn_cfg *cfg;
    unsigned index; /* among its instance's connections */

    /* [svc] */
    struct lingma__ws *ws; /* NULL: not connected */
    lingma_rpc *rpc;       /* NULL: no session */
    enum lingma__conn_state state;
    int doomed; /* a failure inside a session callback: reported after it */
    enum lingma__conn_fault doom_fault;
    char doom_msg[300];

    /* [svc] Stall detection (lingma__conn_tick). */
    uint64_t last_rx_ms;    /* the last bytes received */
    uint64_t expect_since;  /* it began waiting for Lingma (busy or a call out) */
    int busy;               /* the owner has work running on it (chats) */
    int64_t probe_id;       /* the ping in flight, 0: none */
    uint64_t probe_sent_ms; /* when it went out */

    /* [svc] The fast decoder's strings, reused from push to push. */
    struct lingma__buf push_scratch;
};

void lingma__conn_init(struct lingma__conn *c, const struct lingma__conn_cfg *cfg, unsigned index);

/* Open a session and dial ws://127.0.0.1:port/. The outcome arrives as
 * on_ready, on_fault or on_closed. @return 0 or an error (nothing open). */
int lingma__conn_dial(struct lingma__conn *c, int port);

/* Close the WebSocket, end what runs on it (on_down), free the session
 * (its pending calls get LINGMA_ECLOSED). Back to CONNECTING, undialled. */
void lingma__conn_drop(struct lingma__conn *c, int code, const char *why);

/* Release what a dropped connection still holds, before its memory goes. */
void lingma__conn_dispose(struct lingma__conn *c);

/* 1 while it has a WebSocket (dialled, open or opening). */
int lingma__conn_live(const struct lingma__conn *c);
/* 1 when it serves: open and READY. */
int lingma__conn_ready(const struct lingma__conn *c);

/* Call `method` with the pool's RPC timeout, and ask to write. `params` is
 * stolen, even on failure (then `cb` never runs). `id` may be NULL.
 * @return 0, or lingma_rpc_call()'s error, or LINGMA_EIO without a session. */
int lingma__conn_call(struct lingma__conn *c, int64_t *id, const char *method, json_t *params,
                      lingma_rpc_response_cb cb, void *payload);
/* lingma__conn_call() with params written by `write` (rpc_int.h), not
 * built as a tree. */
int lingma__conn_call_with(struct lingma__conn *c, int64_t *id, const char *method,
                           lingma__rpc_params_fn write, void *ud, lingma_rpc_response_cb cb,
                           void *payload);
/* Notify `method`; `params` is stolen. */
void lingma__conn_notify(struct lingma__conn *c, const char *method, json_t *params);
/* Answer a request of Lingma's; `result` is stolen. */
void lingma__conn_respond(struct lingma__conn *c, const json_t *id, json_t *result);
/* Answer Lingma's request `id` (an integer) with a JSON literal: "true"
 * (a push's ACK) or "null". */
void lingma__conn_answer_literal(struct lingma__conn *c, int64_t id, const char *result);
/* Forget a call: its callback gets LINGMA_ECANCELED now. */
void lingma__conn_cancel(struct lingma__conn *c, int64_t id);

/* Bytes waiting to be sent (lingma_rpc_send_queued), 0 without a session. */
size_t lingma__conn_backlog(const struct lingma__conn *c);

/* Whether the owner has work running on the connection that waits for
 * Lingma (chats streaming). A busy connection that stays silent for
 * cfg->stall_ms is probed. */
void lingma__conn_set_busy(struct lingma__conn *c, int busy);

/* The pool's tick: expire calls past their deadline, and detect a silent
 * Lingma. A connection waiting for Lingma (busy, or a call of ours out)
 * that received nothing for cfg->stall_ms, or whose call expired with
 * nothing received for a whole RPC timeout, sends a `ping`; when that
 * gets no answer within the RPC timeout and nothing else arrived since,
 * the connection reports LINGMA__CONN_SILENT. */
void lingma__conn_tick(struct lingma__conn *c, uint64_t now);

/* There may be something to send: ask for a writable callback. */
void lingma__conn_kick(struct lingma__conn *c);

#endif
