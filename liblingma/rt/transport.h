/*
 * Internal: the pool's event loop and WebSocket client connections.
 *
 * transport_lws.c is the only file that includes libwebsockets.h. It owns a
 * private lws_context (client only) and the pool's service thread. Every
 * function here runs on the service thread, except lingma__transport_new,
 * _start, _wake, _stop, _free and _on_service_thread (see each).
 *
 * Connections are byte pipes: received WebSocket payload (text or binary,
 * ignoring message boundaries) goes to on_data; outgoing bytes are pulled
 * from the owner (normally lingma_rpc_mem_send) when the socket is writable.
 */
#ifndef LINGMA_INTERNAL_TRANSPORT_H
#define LINGMA_INTERNAL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"

struct lingma__transport;
struct lingma__conn;
struct lingma__timer;

struct lingma__transport_opts {
    /* Service thread, after every wake-up and every lws_service() return:
     * drain the command queue. Must be idempotent (wake-ups coalesce and
     * spurious ones happen). */
    void (*on_wake)(void *ud);
    void *ud;
    lingma_log_fn log_fn; /* receives libwebsockets' own errors and warnings too */
    void *log_payload;
    lingma_log_level log_level;
    const lingma_allocator *alloc;
};

/* Any thread. Creates the lws context; the thread starts with _start. */
int lingma__transport_new(struct lingma__transport **out, const struct lingma__transport_opts *o);
/* Any thread, once. @return 0 or LINGMA_ERROR */
int lingma__transport_start(struct lingma__transport *t);
/* Any thread: make the service thread call on_wake soon (lws_cancel_service). */
void lingma__transport_wake(struct lingma__transport *t);
/* Service thread: leave the loop after the current iteration. */
void lingma__transport_quit(struct lingma__transport *t);
/* Any thread but the service thread: wait for the thread to leave the loop. */
void lingma__transport_join(struct lingma__transport *t);
/* After join: destroy the context (closing what is left) and free. NULL ok. */
void lingma__transport_free(struct lingma__transport *t);
/* Any thread: 1 when called on the service thread. */
int lingma__transport_on_service_thread(const struct lingma__transport *t);

/* ---- connections (service thread) ---- */

struct lingma__conn_cbs {
    void (*on_open)(struct lingma__conn *c, void *ud);
    void (*on_data)(struct lingma__conn *c, const void *data, size_t len, void *ud);
    /* Next bytes to send; *out valid until the next call. 0: nothing. */
    size_t (*pull)(struct lingma__conn *c, const char **out, void *ud);
    /* The connection failed or closed (not after lingma__conn_close). `c` is
     * gone when this returns. `opened` tells whether on_open had fired. */
    void (*on_close)(struct lingma__conn *c, int opened, const char *why, void *ud);
};

/* Dial ws://127.0.0.1:port/. The outcome arrives through on_open or on_close
 * (never synchronously). @return 0, LINGMA_ENOMEM or LINGMA_EIO */
int lingma__conn_open(struct lingma__conn **out, struct lingma__transport *t, int port,
                      const struct lingma__conn_cbs *cbs, void *ud);
/* There is something to pull: ask for a writable callback. */
void lingma__conn_kick(struct lingma__conn *c);
/* Close and forget: no callback fires any more; the memory is released by
 * the transport. NULL ok. */
void lingma__conn_close(struct lingma__conn *c);

/* ---- timers (lws_sul; service thread) ---- */

typedef void (*lingma__timer_fn)(void *ud);
struct lingma__timer *lingma__timer_new(struct lingma__transport *t, lingma__timer_fn fn, void *ud);
/* (Re)arm to fire once after `ms`. */
void lingma__timer_arm(struct lingma__timer *tm, uint64_t ms);
void lingma__timer_cancel(struct lingma__timer *tm);
/* Cancels, then frees. NULL ok. */
void lingma__timer_free(struct lingma__timer *tm);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t lingma__now_ms(void);

#endif
