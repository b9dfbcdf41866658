/*
 * Internal: chat/ask's params written straight into a JSON writer, the
 * fast path next to lingma__method_ask() (methods.c), which builds the
 * same object as a jansson tree. One is sent per chat; writing it directly
 * saves the tree (some sixty allocations) and its dump. The two give equal
 * JSON (the same members in the same order; tests/unit/test-ask-write.c
 * and fuzz/fuzz-ask_write.c compare them).
 */
#ifndef LINGMA_INTERNAL_ASK_WRITE_H
#define LINGMA_INTERNAL_ASK_WRITE_H

#include "jsonw.h"
#include "methods.h"

/* Append the params object. @return 0, or LINGMA_EINVAL when a string of
 * `spec` is not valid UTF-8 (lingma__method_ask() returns NULL then). */
int lingma__method_ask_write(struct lingma__jsonw *w, const struct lingma__ask_spec *spec);

/* chat/deleteSessionById's params, sent at the end of every chat in the
 * "fresh" session mode: what lingma__method_delete_session() builds.
 * @return 0, or LINGMA_EINVAL when `session_id` is not valid UTF-8 (the
 * tree version returns NULL then). */
int lingma__method_delete_session_write(struct lingma__jsonw *w, const char *session_id);

#endif
