/*
 * frontend: one wire API over the one chat path.
 *
 * lingma-gatewayd speaks three wire APIs (OpenAI Chat Completions, the
 * OpenAI Responses API, the Anthropic Messages API) over a single chat
 * route (routes_chat.c) that owns everything they share: model
 * resolution and aliases, admission, routing, cancel-on-disconnect,
 * heartbeats, drain, max_tokens and stop enforcement, usage, metrics and
 * logs. A front-end only translates:
 *
 *   parse:  request body bytes  -> the one request model (gw_chat_request)
 *   render: the one event model -> the API's bytes (JSON or SSE events)
 *
 * The event model, in the order the chat route drives it:
 *
 *   open                       the chat was accepted; a stream begins
 *   text / reasoning ...       answer deltas (already cut by stop/max_tokens)
 *   tool_call ...              the calls the model made, after all its text
 *   close(finish, usage)       the successful end (GW_FINISH_TOOL_CALLS
 *                              after calls)
 *   or error(e)                a failure after open (streams only)
 *
 * and, for a non-streaming request, tool_call for each call (kept in the
 * render state), then one `complete` with the whole answer.
 * Errors before open are answered by the chat route through the
 * front-end's error family (gw_api), like every other error of its route.
 *
 * Every render function appends to `out` and returns 0 or LINGMA_ENOMEM;
 * none does I/O, takes a lock or reads a clock: ids and timestamps are in
 * gw_answer. They run on the pool's service thread (one chat's calls never
 * overlap), so per-answer state needs no lock.
 */
#ifndef GW_API_FRONTEND_H
#define GW_API_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errors.h"
#include "openai.h"

/* How an answer ended. */
typedef enum gw_finish {
    GW_FINISH_STOP,          /* the model finished (Lingma's chat/finish) */
    GW_FINISH_LENGTH,        /* max_tokens cut it */
    GW_FINISH_STOP_SEQUENCE, /* a stop sequence matched (gw_answer.stop_sequence) */
    GW_FINISH_TOOL_CALLS,    /* the answer ends in tool calls for the client to run */
} gw_finish;

/* One answer as the chat route knows it: fixed at open, read by every
 * render call. Strings are owned by the chat route and outlive the
 * answer's render state. */
typedef struct gw_answer {
    const char *id;    /* the API's own id ("chatcmpl-…", "msg_…", "resp_…") */
    int64_t created;   /* unix seconds */
    const char *model; /* as the client asked for it, or the resolved key */
    bool stream;
    bool include_usage;        /* Chat Completions: stream_options.include_usage */
    bool show_reasoning;       /* render Lingma's think text (Anthropic: thinking enabled) */
    const char *stop_sequence; /* the matched one, for GW_FINISH_STOP_SEQUENCE */
    /* The parsed request (model, limits, front-end extras); NULL when it
     * has neither a toolset nor front-end extras: the chat route frees such
     * a request before the chat starts. */
    const gw_chat_request *req;
    /* The estimate of the flattened prompt: Anthropic's message_start
     * carries input_tokens before Lingma could report any count. */
    int64_t input_tokens;
} gw_answer;

typedef struct gw_frontend gw_frontend;

/* Context a front-end's parse may need beyond the body. */
typedef struct gw_parse_ctx {
    void *store; /* the Responses store (responses.c), else NULL */
} gw_parse_ctx;

struct gw_frontend {
    const char *name; /* "chat.completions", "messages", "responses": logs */
    gw_api errors;    /* the error envelope family of this API */
    /* Prefix of the answer id ("chatcmpl-", "msg_", "resp_"); the route
     * appends random hex. */
    const char *id_prefix;

    /* Body bytes -> the request model. 0, LINGMA_EINVAL with `err` (400 and
     * a param), LINGMA_ENOTFOUND with `err` (404, e.g. an unknown
     * previous_response_id) or LINGMA_ENOMEM. */
    int (*parse)(gw_chat_request **out, gw_error *err, const char *body, size_t len,
                 const gw_parse_ctx *ctx);

    /* Render state of one answer: made at open (stream) or before
     * complete, freed by end. NULL-returning new means out of memory. */
    void *(*state_new)(const gw_answer *a);
    void (*state_free)(void *st);

    /* Streaming. The SSE text that keeps an idle stream alive (static). */
    const char *heartbeat;
    int (*stream_open)(gw_buf *out, void *st, const gw_answer *a);
    int (*stream_text)(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len);
    int (*stream_reasoning)(gw_buf *out, void *st, const gw_answer *a, const char *text,
                            size_t len);
    /* One call the model made (tool calls: doc/tools.md), after every
     * text and reasoning delta, `index` 0, 1, ... `call->id` is the
     * runtime's "call_<hex>" (api/calls.h makes each API's ids from it).
     * Streaming, the call's events go to `out`; otherwise the call is kept
     * in `st` for complete() and nothing is appended. */
    int (*tool_call)(gw_buf *out, void *st, const gw_answer *a, size_t index,
                     const gw_tool_call *call);
    int (*stream_close)(gw_buf *out, void *st, const gw_answer *a, gw_finish why,
                        const gw_usage *u);
    /* A failure after open: the API's error event, and whatever ends its
     * stream. Never a finish event: a cut answer must not look complete. */
    int (*stream_error)(gw_buf *out, void *st, const gw_answer *a, const gw_error *e);

    /* Non-streaming: the whole answer as the JSON body of a 200, with the
     * calls tool_call kept. */
    int (*complete)(gw_buf *out, void *st, const gw_answer *a, const char *text, size_t len,
                    const char *reasoning, size_t reasoning_len, gw_finish why, const gw_usage *u);

    /* Optional: the answer was rendered in full (after close or complete,
     * before its last bytes are queued, so that a client that reads the end
     * and at once asks for the stored answer finds it) or failed (ok
     * false). Called at most once. The Responses API stores it here.
     * Service thread; may take the store's lock. */
    void (*finished)(void *st, const gw_answer *a, bool ok, const gw_parse_ctx *ctx);
};

/* The front-ends. */
extern const gw_frontend gw_fe_chat_completions;
extern const gw_frontend gw_fe_responses;

#endif /* GW_API_FRONTEND_H */
