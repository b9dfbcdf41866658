/*
 * Test helper: a small synchronous WebSocket client on lws, for talking to
 * lingma-sim from tests and from the load tool.
 *
 * One wsc_ctx owns a private lws context; every call that waits drives
 * lws_service() on the calling thread with a bounded timeout (a wake-up
 * timer makes sure lws_service returns). Not thread-safe: one thread per
 * context. Traffic goes to 127.0.0.1 only.
 *
 * A connection runs in one of two modes:
 *   - raw: received bytes accumulate (wsc_rx / wsc_rx_consume), every
 *     wsc_send() is one WS message, so a test can split or pack frames;
 *   - rpc: wsc_attach_rpc() feeds received bytes to a lingma_rpc session
 *     and sends each frame it produces as one WS message.
 */
#ifndef TESTS_WSCLIENT_H
#define TESTS_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "lingma/sys/rpc.h"

struct wsc_ctx;
struct wsc;

struct wsc_ctx *wsc_ctx_new(void);
/* Closes every connection still open. NULL-safe. */
void wsc_ctx_free(struct wsc_ctx *ctx);

/* Connect to ws://127.0.0.1:<port><path>; NULL when not established within timeout_ms. */
struct wsc *wsc_connect(struct wsc_ctx *ctx, int port, const char *path, int timeout_ms);
/* The context of a connection. */
struct wsc_ctx *wsc_context(const struct wsc *c);
/* Close (if open) and free. */
void wsc_close(struct wsc *c);

/* Queue `len` bytes as one WS message (binary when `binary`). 0 or -1. */
int wsc_send(struct wsc *c, const void *data, size_t len, bool binary);

/*
 * Service until `cond(payload)` is true (checked before every service
 * round) or `timeout_ms` passes. cond NULL: just service for timeout_ms.
 * Returns 0 when the condition was met, -1 on timeout.
 */
int wsc_wait(struct wsc_ctx *ctx, int timeout_ms, bool (*cond)(void *payload), void *payload);
/* Service until every queued message and rpc frame of `c` is written. */
int wsc_flush(struct wsc *c, int timeout_ms);

const unsigned char *wsc_rx(const struct wsc *c, size_t *len);
void wsc_rx_consume(struct wsc *c, size_t n);
size_t wsc_messages(const struct wsc *c); /* complete WS messages received */
bool wsc_closed(const struct wsc *c);

/* Switch to rpc mode; `rpc` stays owned by the caller and must outlive the connection. */
void wsc_attach_rpc(struct wsc *c, lingma_rpc *rpc);
/* rpc mode: send every queued frame in one WS message (fewer syscalls, for load tools). */
void wsc_set_pack(struct wsc *c, bool pack);
/* Ask for a write after queueing rpc output. */
void wsc_kick(struct wsc *c);

#endif
