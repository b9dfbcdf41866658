/*
 * lingma-bench: the machine's floor under a relay. A child process writes
 * an 8-byte CLOCK_MONOTONIC stamp to us over loopback TCP (TCP_NODELAY)
 * every `gap_ms`, and waits for an 8-byte reply, as lingma-sim's chat/answer
 * pushes and their ACKs do; we sleep in poll(2) and record stamp-to-read.
 * No lws, no JSON, no liblingma: one process wake-up and one loopback hop,
 * so the distribution is what this machine's scheduler gives any relay at
 * that moment. Scenario 2 runs it next to the direct and gateway runs of
 * every repeat, so a tail can be told apart from the machine's.
 */
#ifndef BENCH_FLOOR_H
#define BENCH_FLOOR_H

#include "bench.h"

/* Relay samples into r->relay (and r->chunks) for `duration_s`. 0, or -1
 * when the pair could not be set up. */
int floor_run(double duration_s, double gap_ms, struct run *r);

/* The same stamps through the gateway's three hand-offs instead of one:
 * loopback TCP to a thread in poll(2) that ACKs them (liblingma's service
 * thread), an eventfd to a thread in epoll_wait(2) (the engine's resume of
 * libmicrohttpd's thread), and loopback TCP again to us in poll(2) (the
 * HTTP client). Its distribution less floor_run's is what the machine
 * charges for the gateway's two extra hops, with none of our code in it. */
int floor_run_chain(double duration_s, double gap_ms, struct run *r);

#endif
