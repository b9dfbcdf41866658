/*
 * The tool calls of one answer, as the front-ends keep them for a
 * non-streaming answer, and the ids each API gives them.
 *
 * The runtime names each call "call_<24 hex>", unique for the life of the
 * gateway's pool (lingma/chat.h); every API's id is that hex behind the
 * API's own prefix ("call_", "toolu_", "fc_"), so that the ids are unique
 * per gateway and a call keeps the same hex in every form.
 */
#ifndef GW_API_CALLS_H
#define GW_API_CALLS_H

#include <stddef.h>

#include "openai.h"

/* Room for an id: a prefix of up to 15 bytes, the hex and a NUL. */
#define GW_CALL_ID_SIZE 96

/* "<prefix><hex>" from the runtime's "call_<hex>" (an id without '_' is
 * taken whole). */
void gw_call_id(char out[GW_CALL_ID_SIZE], const char *prefix, const char *runtime_id);

/* Copies of the calls so far. */
typedef struct gw_calls {
    gw_tool_call *v;
    size_t n;
} gw_calls;

/* Append a copy of `c` (id, name and arguments; NULL arguments "{}").
 * 0 or LINGMA_ENOMEM (nothing appended). */
int gw_calls_add(gw_calls *l, const gw_tool_call *c);

/* Release the copies; NULL-safe, `l` is left empty. */
void gw_calls_free(gw_calls *l);

#endif /* GW_API_CALLS_H */
