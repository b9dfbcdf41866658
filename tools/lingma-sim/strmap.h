/*
 * lingma-sim: a string-keyed hash map (chaining, power-of-two buckets).
 *
 * The simulator looks chats up by requestId and sessions by sessionId on
 * every chat/stop and chat/ask; with 10,000 chats in flight a list scan
 * per event would make the simulator the bottleneck, so lookups are O(1).
 * Keys are copied; values are borrowed pointers owned by the caller.
 */
#ifndef LINGMA_SIM_STRMAP_H
#define LINGMA_SIM_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
/* Frees the map and its copies of the keys, not the values. NULL-safe. */
void strmap_free(struct strmap *m);
/* Insert or replace. Returns 0, or -1 when out of memory. */
int strmap_put(struct strmap *m, const char *key, void *value);
void *strmap_get(const struct strmap *m, const char *key);
/* Remove `key` when it maps to `value` (or any value when `value` is NULL). */
void strmap_del(struct strmap *m, const char *key, const void *value);
size_t strmap_count(const struct strmap *m);

#endif
