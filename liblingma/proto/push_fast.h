/*
 * Internal: the fast decoder of Lingma's two most frequent pushes,
 * chat/answer and chat/finish (a request each, answered with an ACK).
 *
 * It reads a JSON-RPC body in one pass, keeping only what the chat needs
 * (the id and the fields of struct lingma__answer / lingma__finish), and
 * builds no jansson tree. It answers only when it is sure the full path
 * (json_loadb, rpc.c's dispatch, lingma__method_answer/_finish) would see
 * the same: a valid JSON object, "jsonrpc" "2.0", an integer "id", and
 * params with a string requestId. Everything else (another method, a
 * string id, invalid JSON, \u0000, long or exponent numbers, usage under
 * "extra", a string statusCode, deep nesting) it leaves to the full parser.
 * fuzz/fuzz-push_fast.c checks that the two agree.
 *
 * Duplicate keys: the last one wins, as in jansson.
 */
#ifndef LINGMA_INTERNAL_PUSH_FAST_H
#define LINGMA_INTERNAL_PUSH_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "methods.h"
#include "strbuf.h"

struct lingma__push_fast {
    enum lingma__push kind;       /* LINGMA__PUSH_ANSWER or LINGMA__PUSH_FINISH */
    int64_t id;                   /* the request's id, to ACK */
    struct lingma__answer answer; /* kind ANSWER; strings in the scratch buffer */
    struct lingma__finish finish; /* kind FINISH; usage is never present */
};

/*
 * Decode `body` (`len` bytes). Strings are unescaped into `scratch`
 * (reused from call to call; free its p with `alloc` when done), and stay
 * valid until the next call with the same scratch.
 * @return 1 when decoded; 0 when the full parser must decide (including
 *         out of memory).
 */
int lingma__push_fast_decode(struct lingma__push_fast *out, struct lingma__buf *scratch,
                             const lingma_allocator *alloc, const char *body, size_t len);

#endif
