/*
 * The reconnect backoff (see backoff.h).
 */
#include "backoff.h"

uint64_t
lingma__backoff_ms(unsigned attempt, bool alive, uint64_t initial_ms, uint64_t max_ms)
{
    if (attempt == 0)
        attempt = 1;
    if (alive) {
        if (attempt == 1)
            return 0;
        attempt--; /* the immediate try does not count towards the doubling */
    }
    if (max_ms < initial_ms)
        max_ms = initial_ms;
    uint64_t delay = initial_ms;
    for (unsigned i = 1; i < attempt && delay < max_ms; i++)
        delay = delay > max_ms / 2 ? max_ms : delay * 2; /* never past max, never wraps */
    return delay;
}
