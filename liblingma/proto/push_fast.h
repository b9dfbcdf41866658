/*
 * Internal: the fast decoder of the requests Lingma sends for every chat:
 * chat/answer and chat/finish, chat/think and chat/process_step_callback
 * (answered with an ACK), and those the runtime answers null without
 * reading them (session/title/update, any method lingma__push_kind() does
 * not know).
 *
 * It reads a JSON-RPC body in one pass, keeping only what the chat needs
 * (the id and the fields of struct lingma__answer / lingma__finish, or a
 * step's requestId and sessionId), and builds no jansson tree. It answers
 * only when it is sure the full path (json_loadb, rpc.c's dispatch,
 * lingma__method_*) would see the same: a valid JSON object, "jsonrpc"
 * "2.0", an integer "id", a string "method", and for answer and finish
 * params with a string requestId (for think and step, params that are an
 * object). Everything else (auth/report, tool/invoke, a string id, invalid
 * JSON, \u0000, long or exponent numbers, usage under "extra", a string
 * statusCode, deep nesting) it leaves to the full parser.
 *
 * It also tells a result from Lingma (the replies to chat/ask and to
 * chat/deleteSessionById, one each per chat) without a tree: the id, and
 * where the "result" value lies, for lingma__rpc_recv_result() (rpc_int.h).
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
    /* ANSWER, FINISH, THINK, STEP, or OTHER (a request to answer null) */
    enum lingma__push kind;
    int64_t id;                   /* the request's id, to answer */
    struct lingma__answer answer; /* kind ANSWER; strings in the scratch buffer */
    struct lingma__finish finish; /* kind FINISH; usage is never present */
    struct {
        const char *request_id, *session_id; /* NULL when absent or not a string */
    } step;                                  /* kinds THINK and STEP */
    /* A response (return 2): the bytes of its "result" value, in `body`. */
    const char *result;
    size_t result_len;
};

/*
 * Decode `body` (`len` bytes). Strings are unescaped into `scratch`
 * (reused from call to call; free its p with `alloc` when done), and stay
 * valid until the next call with the same scratch.
 * @return 1 when decoded; 2 when the body is a result for the call `id`
 *         (a JSON-RPC 2.0 response with an integer id, a "result" and no
 *         "error" but null, nothing else read: see result); 0 when the
 *         full parser must decide (including out of memory).
 */
int lingma__push_fast_decode(struct lingma__push_fast *out, struct lingma__buf *scratch,
                             const lingma_allocator *alloc, const char *body, size_t len);

#endif
