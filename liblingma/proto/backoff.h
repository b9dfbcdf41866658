/*
 * Internal: the reconnect backoff of an instance, sans-I/O.
 *
 * An outage is a run of attempts (1, 2, 3...) to get an instance serving
 * again. Their delays double from `initial_ms` up to `max_ms`. When the
 * outage began with Lingma's process still alive (only the connection
 * dropped, or Lingma is not ours), the first attempt goes at once: the
 * process is there, a fresh connection usually works, and waiting would
 * only stretch the outage. The attempts after it follow the usual
 * doubling, starting again from `initial_ms`. A respawn after a crash keeps
 * its backoff from the first attempt: a Lingma that dies at once must not
 * be restarted in a tight loop.
 */
#ifndef LINGMA_INTERNAL_BACKOFF_H
#define LINGMA_INTERNAL_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/**
 * The delay before attempt `attempt` (1-based) of an outage. `alive`: the
 * process was alive when the outage began. `max_ms` below `initial_ms`
 * counts as `initial_ms`. @return milliseconds (0: at once).
 */
uint64_t lingma__backoff_ms(unsigned attempt, bool alive, uint64_t initial_ms, uint64_t max_ms);

#endif
