/*
 * lingma-sim: one-shot timers on the lws service loop.
 *
 * A timer is embedded in the object it serves (a chat has two), so 10,000
 * chats cost no allocation and no scan per event. The storage for the lws
 * timer node lives inside struct sim_timer; only server.c, the one file
 * that includes libwebsockets.h, looks inside it (it checks the size at
 * compile time).
 */
#ifndef LINGMA_SIM_TIMER_H
#define LINGMA_SIM_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct sim_timer;
typedef void (*sim_timer_fn)(struct sim_timer *t);

#define SIM_TIMER_STORAGE 64

struct sim_timer {
    union {
        unsigned char bytes[SIM_TIMER_STORAGE];
        void *align_p;
        uint64_t align_u;
    } node;          /* an lws_sorted_usec_list_t */
    sim_timer_fn fn; /* called once on the service thread when the timer fires */
    void *lws_ctx;   /* struct lws_context */
    bool armed;
};

/* Prepare a timer (zeroes it). Must precede every other call. */
void sim_timer_init(struct sim_timer *t, void *lws_ctx, sim_timer_fn fn);
/* (Re)arm to fire after `ms` milliseconds (0: on the next loop iteration). */
void sim_timer_arm(struct sim_timer *t, unsigned ms);
/* Disarm; harmless when not armed. Must be called before the memory goes. */
void sim_timer_cancel(struct sim_timer *t);

#endif
