/*
 * Internal: the pool's event loop, its WebSocket client pipes, its timers
 * and the runtime's one clock.
 *
 * loop_lws.c is the only file that includes libwebsockets.h. It owns a
 * private lws_context (client only) and the pool's service thread. Every
 * function here runs on the service thread, except lingma__loop_new,
 * _start, _wake, _join, _free, _on_thread and lingma__now_ms (see each).
 *
 * WebSocket pipes are byte pipes: received payload (text or binary,
 * ignoring message boundaries) goes to on_data; outgoing bytes are pulled
 * from the owner (normally lingma_rpc_mem_send) when the socket is writable.
 */
#ifndef LINGMA_INTERNAL_LOOP_H
#define LINGMA_INTERNAL_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"

#include "logger.h"

struct lingma__loop;
struct lingma__ws;
struct lingma__timer;

struct lingma__loop_opts {
    /* Service thread, after every wake-up and every lws_service() return:
     * drain the command queue. Must be idempotent (wake-ups coalesce and
     * spurious ones happen). */
    void (*on_wake)(void *ud);
    void *ud;
    struct lingma__logger log; /* receives libwebsockets' own errors and warnings too */
    const lingma_allocator *alloc;
};

/* Any thread. Creates the lws context; the thread starts with _start. */
int lingma__loop_new(struct lingma__loop **out, const struct lingma__loop_opts *o);
/* Any thread, once. @return 0 or LINGMA_ERROR */
int lingma__loop_start(struct lingma__loop *t);
/* Any thread: make the service thread call on_wake soon (lws_cancel_service). */
void lingma__loop_wake(struct lingma__loop *t);
/* Service thread: leave the loop after the current iteration. */
void lingma__loop_quit(struct lingma__loop *t);
/* Any thread but the service thread: wait for the thread to leave the loop. */
void lingma__loop_join(struct lingma__loop *t);
/* After join: destroy the context (closing what is left) and free. NULL ok. */
void lingma__loop_free(struct lingma__loop *t);
/* Any thread: 1 when called on the service thread. */
int lingma__loop_on_thread(const struct lingma__loop *t);

/* How the loop's writes went (for tests and profiles). */
struct lingma__loop_stats {
    unsigned long writes_direct;    /* after lws_service() returned, no POLLOUT round */
    unsigned long writes_writeable; /* in the WRITEABLE callback */
    unsigned long writeable_idle;   /* WRITEABLE callbacks that found nothing to write */
};
/* Service thread (or after join): a copy of the counters. */
void lingma__loop_get_stats(const struct lingma__loop *t, struct lingma__loop_stats *out);

/* ---- connections (service thread) ---- */

struct lingma__ws_cbs {
    void (*on_open)(struct lingma__ws *c, void *ud);
    void (*on_data)(struct lingma__ws *c, const void *data, size_t len, void *ud);
    /* Next bytes to send; *out valid until the next call. 0: nothing. */
    size_t (*pull)(struct lingma__ws *c, const char **out, void *ud);
    /* The connection failed or closed (not after lingma__ws_close). `c` is
     * gone when this returns. `opened` tells whether on_open had fired. */
    void (*on_close)(struct lingma__ws *c, int opened, const char *why, void *ud);
};

/* Dial ws://127.0.0.1:port/. The outcome arrives through on_open or on_close
 * (never synchronously). @return 0, LINGMA_ENOMEM or LINGMA_EIO */
int lingma__ws_open(struct lingma__ws **out, struct lingma__loop *t, int port,
                    const struct lingma__ws_cbs *cbs, void *ud);
/* There is something to pull. It is written once the current lws_service()
 * returns (or on_wake does), without waiting for POLLOUT; from a timer
 * callback, in the WRITEABLE callback as before. */
void lingma__ws_kick(struct lingma__ws *c);
/* Close and forget: no callback fires any more; the memory is released by
 * the loop. NULL ok. */
void lingma__ws_close(struct lingma__ws *c);

/* ---- timers (lws_sul; service thread) ---- */

typedef void (*lingma__timer_fn)(void *ud);
struct lingma__timer *lingma__timer_new(struct lingma__loop *t, lingma__timer_fn fn, void *ud);
/* (Re)arm to fire once after `ms`. */
void lingma__timer_arm(struct lingma__timer *tm, uint64_t ms);
void lingma__timer_cancel(struct lingma__timer *tm);
/* Cancels, then frees. NULL ok. */
void lingma__timer_free(struct lingma__timer *tm);

/* Any thread: the runtime's one clock, CLOCK_MONOTONIC in milliseconds. It
 * is the clock lws runs its timers on, so a deadline computed from it and a
 * timer armed for it agree. Modules below the loop (proto, os) take `now`
 * as an argument instead of reading a clock. */
uint64_t lingma__now_ms(void);

#endif
