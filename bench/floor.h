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

#endif
