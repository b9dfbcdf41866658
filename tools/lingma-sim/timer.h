/*
 * lingma-sim: one-shot timers on the lws service loop.
 *
 * lws 4.1 keeps its timers (lws_sul) in one sorted list, so arming one is
 * O(number armed): with 10,000 chats each re-arming an ACK timer on every
 * push, that list scan would dominate. Every delay the simulator uses is
 * a fixed number of milliseconds (ACK wait, chunk delay, ...), so timers
 * with the same delay expire in the order they were armed: each distinct
 * delay gets a FIFO queue and a single lws_sul for its head. Arming,
 * cancelling and firing are O(1) (plus a lookup among the few delays).
 *
 * A timer is embedded in the object it serves; only server.c (the lws
 * includer) implements these.
 */
#ifndef LINGMA_SIM_TIMER_H
#define LINGMA_SIM_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct sim_timer;
struct sim_timer_queue;
typedef void (*sim_timer_fn)(struct sim_timer *t);

struct sim_timer {
    struct sim_timer *prev, *next; /* in its queue, by due time */
    struct sim_timer_queue *q;     /* the queue it is armed in */
    uint64_t due_ns;               /* CLOCK_MONOTONIC */
    sim_timer_fn fn;               /* called once on the service thread when the timer fires */
    void *lws_ctx;                 /* struct lws_context */
    bool armed;
};

/* Prepare a timer (zeroes it). Must precede every other call. */
void sim_timer_init(struct sim_timer *t, void *lws_ctx, sim_timer_fn fn);
/* (Re)arm to fire after `ms` milliseconds. */
void sim_timer_arm(struct sim_timer *t, unsigned ms);
/* Disarm; harmless when not armed. Must be called before the memory goes. */
void sim_timer_cancel(struct sim_timer *t);

#endif
