/*
 * http: the HTTP engine of lingma-gatewayd, libmicrohttpd behind a pimpl.
 *
 * No MHD type appears here; http.c is the only includer of microhttpd.h.
 * Routes are written against this API (llama.cpp server-http style): one
 * handler receives each complete request and answers it in one of three
 * ways:
 *
 *   a. immediately: gw_http_respond() inside the handler, return DONE;
 *   b. later, non-streaming: return PENDING; any thread calls
 *      gw_http_respond() when the answer is known;
 *   c. streaming: gw_http_stream_begin() (inside the handler or later from
 *      any thread; the status line and headers go out then, not before, so
 *      a route can still answer a real 429/503 until it begins the stream),
 *      then gw_stream_write() from any thread and finally gw_stream_end().
 *
 * The route's reference. When the handler is called the route owns the
 * request until it "finishes" it, exactly once, with gw_http_respond() or,
 * for a stream, gw_stream_end(). The engine never frees a request the route
 * still owns, so finishing late is always safe, also after the client left
 * (the call then returns LINGMA_ECANCELED) and after gw_http_stop(). After
 * finishing, the route must not touch the request or stream again.
 *
 * Client gone. The engine watches each client socket for EPOLLRDHUP/HUP/ERR
 * on its own epoll thread, from MHD's accept to its close (once per
 * connection, not per request); a hang-up concerns the request on the
 * connection at the time, or the next one. MHD 0.9.75 does not notice a
 * client leaving a suspended connection, and can even miss a FIN that
 * arrives with the last body bytes. On a hang-up a suspended connection is
 * resumed, and one MHD still polls has its socket shut down (a fresh event
 * MHD cannot miss); either way MHD then closes it. Any MHD completion other
 * than "completed OK" also counts as gone. The route's on_gone callback
 * fires at most once per request, only after its handler returned and while
 * it still owns the request; a finishing call made on another thread waits
 * until a running on_gone has returned, so the route may free its
 * per-request state right after finishing. Measured: on_gone about 1 ms
 * after the client closes in every window (target: within one second). A
 * client that vanishes without a FIN or RST (cable cut) is found by the
 * next write, which heartbeats provide on idle streams.
 *
 * Threads: the MHD thread runs the handler, on_headers, the content reader
 * and completions; the watcher thread runs hang-up detection, heartbeats
 * and a 100 ms nudge of the MHD thread (which otherwise can sleep through a
 * burst of exactly 128 ready sockets, see http.c); answers and stream
 * writes come from any thread. One engine
 * mutex guards the shared state; callbacks are never called with it held.
 *
 * Limits (defaults in GW_HTTP_OPTIONS_INIT):
 *   - Request headers: MHD keeps the request line and headers inside the
 *     per-connection memory pool (connection_memory, 8 KiB, which every
 *     open stream holds for its whole life). The whole header block must
 *     fit in it: measured on 0.9.75, the pool size minus about 350 bytes
 *     fits, so the documented limit is connection_memory - 1 KiB; beyond the
 *     pool MHD itself answers 431. Those 431s are produced before any
 *     callback runs, so they carry no x-request-id and no route headers.
 *     Bodies are not bounded by the pool: MHD hands them over in pieces.
 *   - Request body: max_body (8 MiB). A larger Content-Length gets 413 at
 *     once, before any body byte is read (MHD then closes the connection; a
 *     client using "Expect: 100-continue" sends nothing). A chunked body is
 *     read to its end and discarded past the limit, then answered 413.
 *   - Stream buffer: stream_buffer_max (1 MiB) pending bytes per stream.
 *     Beyond it the client is treated as gone (see gw_stream_write): the
 *     upstream cannot be paused, so a client that stops reading must not
 *     grow memory without bound. The bound covers bytes not yet handed to
 *     the socket (whose own buffers absorb a few MB more), so it must stay
 *     above the largest burst upstream writes between two MHD turns.
 *
 * SIGPIPE: MHD sends with MSG_NOSIGNAL (its "autosuppress_sigpipe" feature
 * is present in Debian's build), so a client vanishing mid-write never
 * raises SIGPIPE; the daemon may still ignore SIGPIPE, harmlessly.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"

typedef struct gw_http gw_http;
typedef struct gw_http_req gw_http_req;
typedef struct gw_stream gw_stream;

/* One response header. Arrays of them end with {NULL, NULL}. */
typedef struct gw_http_header {
    const char *name;
    const char *value;
} gw_http_header;

typedef enum gw_http_action {
    GW_HTTP_DONE = 0,    /* the handler called gw_http_respond() already */
    GW_HTTP_PENDING = 1, /* the route finishes the request later */
} gw_http_action;

/* The request handler: runs on the MHD thread once the whole request (body
 * included) is in. Must not block. Returning DONE without having responded
 * is a route bug: the engine logs it and answers 500. */
typedef gw_http_action (*gw_http_handler_fn)(gw_http_req *req, void *payload);

/* Request notifications: on_headers (MHD thread, headers complete, body not
 * read yet), on_gone and on_shutdown (see gw_http_options). */
typedef void (*gw_http_req_fn)(gw_http_req *req, void *payload);

/* Formats the body of an answer the engine makes itself: 400 (a head that
 * fails the checks of http_head.h; `code` is "bad_header", "bad_framing"
 * or "bad_request_target"), 413, 431, 500 for a handler bug, 503 while
 * stopping. `code` is a short machine-readable name, `message` a
 * client-facing sentence (neither echoes request bytes). Returns a malloc'd
 * body and sets *len and *content_type (a static string), or NULL for the
 * engine's plain-text default. Called once per such answer, so it is also
 * the place to log and count it; the request's getters work (its path may
 * be "" when the target was refused). Any thread; must not call into the
 * engine except the request getters. */
typedef char *(*gw_http_error_fn)(gw_http_req *req, int status, const char *code,
                                  const char *message, size_t *len, const char **content_type,
                                  void *payload);

typedef void (*gw_http_log_fn)(lingma_log_level level, const char *msg, void *payload);

typedef struct gw_http_options {
    const char *host;         /* numeric IPv4/IPv6 or a name; "127.0.0.1" */
    unsigned port;            /* 0: ephemeral, see gw_http_port() */
    unsigned max_connections; /* 10000; epoll, so not capped by FD_SETSIZE */
    unsigned timeout_s;       /* idle connection timeout, 60; 0 = none.
                               * Streams run without it (heartbeats instead);
                               * suspended requests are never timed out. */
    size_t connection_memory; /* per connection, 8 KiB; sets the header limit */
    size_t max_body;          /* 8 MiB */
    size_t stream_buffer_max; /* pending bytes per stream, 1 MiB */
    unsigned heartbeat_ms;    /* ": ping" on an idle stream, 15000; 0 = off */
    unsigned listen_backlog;  /* 1024 */

    /* Required. Called on the MHD thread for every complete request. */
    gw_http_handler_fn handler;
    /* Optional, MHD thread, first for every request whose head is complete,
     * before any decision: the place to add per-request response headers
     * (x-request-id) with gw_http_req_add_header() so that every answer,
     * the engine's own included, carries them. It must not answer. */
    gw_http_req_fn on_request;
    /* Optional, MHD thread, before the body is read, only for heads that
     * passed the engine's checks: the route's decision. It may answer at
     * once with gw_http_respond() (401, 404, 405...): then the request is
     * refused for good (the handler is never called, the body is not read)
     * and the answer is sent even to a client that already half-closed. It
     * must not keep the request nor begin a stream. */
    gw_http_req_fn on_headers;
    /* Optional, watcher or MHD thread: the request is over without the
     * route's answer (the client left, or a forced gw_http_stop answered or
     * cut it). Cancel upstream; still finish the request, possibly from
     * this callback. At most once per request, only while the route owns
     * it, never after gw_http_stop() returned. Must not wait for the thread
     * that finishes the request (that thread waits for on_gone). */
    gw_http_req_fn on_gone;
    /* Optional, the thread calling gw_http_stop() (or the MHD thread for a
     * handler that was still running then): the engine is stopping; end
     * the request now (error event + "data: [DONE]" for a stream, 503
     * otherwise). May finish the request from this callback. Only for
     * requests whose handler has returned. */
    gw_http_req_fn on_shutdown;
    gw_http_error_fn error_body; /* optional, see gw_http_error_fn */
    gw_http_log_fn log;          /* optional; MHD's error log goes here too */
    void *payload;               /* passed to every callback above */
} gw_http_options;

#define GW_HTTP_OPTIONS_INIT                                                                       \
    {                                                                                              \
        "127.0.0.1", 0, 10000, 60, 8 * 1024, 8 * 1024 * 1024, 1024 * 1024, 15000, 1024, NULL,      \
            NULL, NULL, NULL, NULL, NULL, NULL, NULL                                               \
    }

/* Counters for tests, /internal/stats and debugging. */
typedef struct gw_http_stats {
    uint64_t requests_total; /* requests seen (first access-handler call) */
    uint64_t requests_active;
    uint64_t streams_active;
    uint64_t suspended;    /* connections suspended right now */
    uint64_t reader_calls; /* content-reader invocations */
    uint64_t resumes;
    uint64_t heartbeats;
    uint64_t gone_total;     /* requests whose client left before the end */
    uint64_t overflow_total; /* streams dropped because the buffer filled */
    uint64_t rejected_413;
    uint64_t refused_total;   /* answered by the engine itself (400/413/431/503) */
    uint64_t engine_answered; /* answered or dropped by MHD before the head was complete */
    /* Milliseconds since the watcher thread's last periodic tick (/livez);
     * -1 when it has none (heartbeats off, or not started). */
    int64_t watcher_idle_ms;
} gw_http_stats;

/*
 * Engine lifecycle. All of these are for the owning (main) thread only, and
 * never from inside an engine callback.
 */

/* Validate options and allocate. Nothing is bound yet. Returns 0,
 * LINGMA_EINVAL (no handler, bad limits) or LINGMA_ENOMEM. */
int gw_http_new(gw_http **out, const gw_http_options *opts);

/* Bind, listen and start the MHD thread and the watcher thread. Returns 0,
 * LINGMA_EINVAL (host does not resolve) or LINGMA_EIO (bind/listen/threads
 * failed; details logged). */
int gw_http_start(gw_http *h);

/* The bound port (useful with port 0), 0 before a successful start. */
unsigned gw_http_port(const gw_http *h);

/* Stop accepting connections: new connects are refused at once (the
 * listen socket is shut down). Existing keep-alive connections still work;
 * their responses carry "Connection: close" from now on. */
void gw_http_quiesce(gw_http *h);

/* Wait up to timeout_ms for every active request to complete. Returns the
 * number still active (0: drained). */
size_t gw_http_drain(gw_http *h, unsigned timeout_ms);

/* Stop the engine without aborting the process (MHD aborts when stopped
 * with suspended connections): quiesce; call on_shutdown for every request
 * the route still owns; wait up to grace_ms for requests to complete; then
 * end the rest (pending requests get 503, unfinished streams are cut),
 * resume every suspended connection, stop MHD and the watcher. Requests
 * the route still owns stay valid until it finishes them. Idempotent. */
void gw_http_stop(gw_http *h, unsigned grace_ms);

/* gw_http_stop(h, 0) if needed, then free. When the route still owns
 * requests, the memory is released by the last finishing call instead.
 * NULL-safe. */
void gw_http_free(gw_http *h);

/* Snapshot of the counters. Any thread. */
void gw_http_get_stats(gw_http *h, gw_http_stats *out);

/*
 * Requests. The getters may be called from any thread while the route owns
 * the request (on_headers: during the call); the strings live as long as
 * the request.
 */

const char *gw_http_req_method(const gw_http_req *req);
/* The path without the query string, percent-decoded by the engine (a
 * target with "%00", a control byte or a broken escape never reaches a
 * route); "" for a request refused before its target was parsed. */
const char *gw_http_req_path(const gw_http_req *req);
/* First header named `name` (case-insensitive), NULL if absent. Values are
 * exact: a head whose bytes the parser could not all see is refused before
 * any route runs, so no value was cut short by a NUL. */
const char *gw_http_req_header(const gw_http_req *req, const char *name);
/* How many headers are named `name` (case-insensitive). */
size_t gw_http_req_header_count(const gw_http_req *req, const char *name);
/* Query argument (case-sensitive, decoded, '+' is a space); "" for
 * "?flag", NULL if absent. */
const char *gw_http_req_query(const gw_http_req *req, const char *name);
/* The body (NUL-terminated for convenience, the NUL not counted); empty
 * in on_headers. */
const void *gw_http_req_body(const gw_http_req *req, size_t *len);
/* Free the body now, from the handler that has read it (a chat's body, the
 * whole conversation, would otherwise stay for the life of its stream);
 * the body then reads empty. */
void gw_http_req_body_drop(gw_http_req *req);
/* The client's socket fd, for diagnostics only: never read, write or close. */
int gw_http_req_fd(const gw_http_req *req);
/* Engine id, unique for the engine's life, for logs. */
uint64_t gw_http_req_id(const gw_http_req *req);
/* A per-request pointer for the route (any thread, atomic). `user_free`,
 * when not NULL, runs on `user` when the request object is freed (after
 * its completion and the route's finishing call): the route's per-request
 * state then needs no bookkeeping of its own. Setting another pointer does
 * not free the previous one. */
void gw_http_req_set_user(gw_http_req *req, void *user, void (*user_free)(void *user));
void *gw_http_req_user(const gw_http_req *req);
/* Add a header to whatever response this request gets, the engine's own
 * 413/500/503 included. Any thread before the response is queued. Returns
 * 0, LINGMA_EINVAL (CR/LF in it) or LINGMA_ENOMEM. */
int gw_http_req_add_header(gw_http_req *req, const char *name, const char *value);
/* True once the client is known to be gone. Any thread. */
bool gw_http_req_gone(const gw_http_req *req);

/*
 * Answers. Any thread (MHD thread included) while the route owns `req`.
 */

/* Finish `req` with a complete response (headers may be NULL; body copied).
 * Always finishes, even on error. Returns 0, LINGMA_ECANCELED (client gone:
 * nothing sent), LINGMA_ECLOSED (engine stopped), LINGMA_ENOMEM (a bare
 * 500 is sent instead) or LINGMA_EINVAL (already answered). */
int gw_http_respond(gw_http_req *req, int status, const gw_http_header *headers, const void *body,
                    size_t len);

/* Called once by gw_http_respond_then() with what gw_http_respond() will
 * return, before the client can see the answer: a client that reads its
 * answer and then the metrics finds it counted. It runs under the engine's
 * lock: it must not call into the engine nor block. */
typedef void (*gw_http_decided_fn)(int rc, void *payload);

/* gw_http_respond() that tells `decided` (may be NULL) the outcome first. */
int gw_http_respond_then(gw_http_req *req, int status, const gw_http_header *headers,
                         const void *body, size_t len, gw_http_decided_fn decided, void *payload);

/* Finish `req` without an answer: the connection is closed. For a client
 * already gone (gw_http_req_gone), where any answer, even an error, would
 * be written to nobody. Any thread while the route owns `req`. Returns 0
 * or LINGMA_EINVAL (already answered). */
int gw_http_abandon(gw_http_req *req);

/* Start a chunked SSE response: status line and headers go out now. The
 * engine adds Content-Type: text/event-stream, Cache-Control: no-cache and
 * X-Accel-Buffering: no unless `headers` sets them, and disables the idle
 * timeout for this connection (heartbeats keep it alive). On return *out is
 * the stream, which the route must finish with gw_stream_end(), unless the
 * call returned LINGMA_EINVAL (already answered; *out is NULL). Returns 0,
 * LINGMA_ECANCELED (client gone; writes will fail), LINGMA_ECLOSED
 * (engine stopped) or LINGMA_ENOMEM (500 sent instead; writes fail). */
int gw_http_stream_begin(gw_stream **out, gw_http_req *req, int status,
                         const gw_http_header *headers);

/* Queue bytes on the stream and wake the connection. Any thread. Each call
 * must carry whole SSE events: heartbeats are inserted between calls.
 * Returns 0; LINGMA_ECANCELED when the client is gone, which includes a
 * full buffer (stream_buffer_max bytes pending: the client is not reading
 * while upstream cannot be paused, so the engine shuts the client's socket
 * down and MHD drops the connection; this return value is the route's
 * notice, on_gone only follows if the route still owns the stream when MHD
 * closes it); LINGMA_ECLOSED after gw_stream_end() or once the engine
 * stopped; LINGMA_ENOMEM. Any error means: stop producing, cancel
 * upstream, then gw_stream_end(). */
int gw_stream_write(gw_stream *s, const void *data, size_t len);

/* Finish the stream: pending bytes are still delivered, then the chunked
 * body ends. Any thread, exactly once. Returns 0 or LINGMA_ECANCELED when
 * the client was gone. */
int gw_stream_end(gw_stream *s);

/* What the engine writes on this stream when it has been idle for
 * heartbeat_ms (default ": ping\n\n", an SSE comment). `text` must be whole
 * SSE events or comments and outlive the stream (a static string). Any
 * thread, before or after the first write. */
void gw_stream_set_heartbeat(gw_stream *s, const char *text);

/* The request behind a stream (for the getters). */
gw_http_req *gw_stream_req(gw_stream *s);

#endif /* GW_HTTP_H */
