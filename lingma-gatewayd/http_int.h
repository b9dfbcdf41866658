/*
 * http_int: the engine's private structures, shared by http.c (the MHD
 * side: access handler, content reader, completion, start/quiesce/stop),
 * http_life.c (lifecycle bookkeeping without MHD calls, watcher callbacks)
 * and http_req.c (the route side: request getters, answers, stream
 * writes). Only http.c includes microhttpd.h; here MHD types are
 * incomplete pointers.
 *
 * Locking: one engine mutex `mu` guards every mutable field marked (mu).
 * One lock is enough: the MHD thread, the watcher thread and the producer
 * threads each hold it for a few memcpy's at most, and a single lock makes
 * "append and resume" and "suspend when empty" trivially atomic with each
 * other. Lock order: mu, then MHD's internal mutexes (suspend/resume); MHD
 * never calls back into us with its own mutex held.
 *
 * Lifetime: a request is reference-counted (mu). References: the MHD
 * request (first access-handler call until the completion callback), the
 * route (handler until its finishing call), a stream response (until MHD's
 * free callback), and short-lived ones around callbacks. The engine itself
 * is freed by gw_http_free, or by the last request release afterwards.
 */
#ifndef GW_HTTP_INT_H
#define GW_HTTP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http.h"
#include "http_head.h"
#include "linger.h"
#include "stream.h"
#include "watch.h"

struct MHD_Connection;
struct MHD_Daemon;
struct MHD_Response;

#define GW_HTTP_BUCKETS 1024u

struct gw_extra_header { /* one block with its strings */
    struct gw_extra_header *next;
    char *name;
    char *value;
};

enum gw_req_phase {
    GW_PH_NEW,     /* request line seen, headers not complete (MHD thread) */
    GW_PH_BODY,    /* headers in, body arriving (MHD thread) */
    GW_PH_HANDLER, /* the handler is running (MHD thread) */
    GW_PH_WAITING, /* handler returned, nothing queued; connection suspended */
    GW_PH_QUEUED,  /* a response was handed to MHD */
};

/* A client connection, from MHD's accept to its close (MHD's "socket
 * context"): the watcher watches the socket once per connection, not once
 * per request, so a keep-alive connection costs it two epoll_ctl calls in
 * all. The watcher reports the socket's id; `req` says which request, if
 * any, a hang-up concerns. */
struct gw_http_sock {
    gw_http *h;
    uint64_t id;
    struct gw_http_sock *snext; /* registry chain (mu) */
    int fd;
    bool watched;            /* registered with the watcher (MHD thread) */
    bool hup;                /* (mu) the watcher saw the client hang up */
    struct gw_http_req *req; /* (mu) the request on it, from its first access-handler
                              * call to its completion; no reference */
};

/* What became of a request, decided once in the first access-handler call
 * before any route code runs, and never changed afterwards. */
enum gw_req_fate {
    GW_FATE_OPEN,    /* not decided yet */
    GW_FATE_REFUSED, /* answered by the engine or by on_headers: no handler */
    GW_FATE_ROUTED,  /* the handler gets it once the body is in */
};

struct gw_http_req {
    gw_http *h;
    uint64_t id;
    struct gw_http_req *hnext; /* registry chain (mu) */
    unsigned refs;             /* (mu) */
    bool registered;           /* (mu) in the registry */

    /* The raw request target, copied when MHD first shows it (before it
     * decodes it in place). MHD thread, read-only after the first call. */
    char *raw_target;
    size_t raw_target_len;
    const char *raw_target_at; /* where it lay in MHD's buffer */

    /* Set in the first access-handler call, read-only afterwards. */
    const char *method;
    const char *version;
    /* NUL-terminated copies, lengths exact; one block with the strings
     * (method, version, header names and values) after the array. */
    gw_head_field *hdrs;
    size_t nhdrs;
    gw_target target; /* path and query, decoded by gw_target_parse */
    gw_head_verdict verdict;
    enum gw_req_fate fate;
    bool body_declared; /* Content-Length > 0 or Transfer-Encoding */
    int fd;
    struct gw_http_sock *sock; /* its connection; NULL once completed (mu) */

    /* (mu) How much body the request promised (Content-Length; -1 for a
     * chunked body) and how much arrived, for the watcher: a client that
     * leaves before its body is complete can never be answered. */
    int64_t body_expected;
    uint64_t body_arrived;

    /* MHD thread until the handler runs, read-only afterwards. */
    char *body;
    size_t body_len;
    size_t body_alloc;
    bool too_large;
    bool body_oom;

    /* (mu) */
    struct MHD_Connection *conn; /* NULL once completed */
    enum gw_req_phase phase;
    struct MHD_Response *resp; /* answer waiting for the MHD thread */
    unsigned resp_status;
    bool resp_stream;
    bool drop;          /* no response could be built: close instead */
    bool route_owns;    /* the route has yet to finish the request */
    bool suspended;     /* we suspended it and have not resumed it yet */
    bool completed;     /* MHD's completion callback ran */
    bool gone;          /* the client left (or is treated as gone) */
    bool gone_notified; /* on_gone was (or is being) called */
    bool gone_cb_running;
    bool shutdown_notified;
    bool stream;        /* gw_http_stream_begin() was called */
    bool stream_queued; /* the stream response reached MHD */
    bool ended;         /* gw_stream_end() was called */
    bool cut;           /* the engine ends the stream with an error */
    pthread_t gone_cb_thread;
    const char *heartbeat; /* (mu) the stream's keep-alive text; NULL: ": ping" */
    struct gw_sbuf buf;
    uint64_t last_write_ms;
    struct gw_extra_header *extra;
    struct gw_extra_header **extra_tail;
    void *user;
    void (*user_free)(void *user); /* runs when the request is freed */
};

struct gw_http {
    gw_http_options opts;
    char *host;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* completions and on_gone returns (mu) */

    /* Owner thread only. */
    struct MHD_Daemon *daemon;
    unsigned tick_ms;            /* the watcher's tick */
    unsigned heartbeat_every_ms; /* the heartbeat walk's period, 0: none */
    uint64_t last_heartbeat_ms;  /* watcher thread only */
    gw_watch *watch;
    gw_linger *linger;
    int quiesced_fd;
    unsigned port;
    bool started;

    /* (mu) */
    bool quiesced;
    bool draining; /* gw_http_stop began: new requests get 503 */
    bool stopping; /* forced end: nothing may suspend any more */
    bool stopped;
    bool freed;
    uint64_t next_id;
    size_t live;           /* request objects allocated */
    uint64_t last_tick_ms; /* the watcher's last tick, 0: none yet */
    int nudge_fd;          /* eventfd in MHD's epoll set, -1: none (see http.c) */
    struct gw_http_req *buckets[GW_HTTP_BUCKETS];
    struct gw_http_sock *socks[GW_HTTP_BUCKETS]; /* connections by id */
    gw_http_stats st;
};

/* http.c: MHD-side helpers the route side needs. */

/* Resume the connection if we suspended it (mu held). */
void gw_http__resume_locked(gw_http_req *req);
/* Build a complete response, or NULL on allocation failure. Any thread,
 * mu not held. `adopt`: body is malloc'd and freed by MHD (else copied). */
struct MHD_Response *gw_http__buffer_response(gw_http *h, const gw_http_header *headers,
                                              const void *body, size_t len, bool adopt);
/* The engine's own error response (400/413/431/500/503) for `req`, or
 * NULL. mu not held. */
struct MHD_Response *gw_http__error_response(gw_http *h, gw_http_req *req, unsigned status,
                                             const char *code, const char *message);
/* A stream response reading from req; takes a request reference. */
struct MHD_Response *gw_http__stream_response(gw_http_req *req, const gw_http_header *headers);
/* Add the request's extra headers to r (mu held). */
void gw_http__apply_extra_locked(gw_http_req *req, struct MHD_Response *r);
void gw_http__destroy_response(struct MHD_Response *r);
void gw_http__shutdown_socket_locked(gw_http_req *req);
void gw_http__log(gw_http *h, lingma_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* http_life.c: lifecycle helpers without MHD calls. */

int gw_http__resolve(gw_http *h, struct sockaddr_storage *ss, socklen_t *len);
/* Wait (mu held) until no request is active or `deadline` (ms) passes. */
void gw_http__wait_idle_locked(gw_http *h, uint64_t deadline);
void gw_http__notify_shutdown(gw_http *h);
/* Wake the MHD thread out of a wait (any thread, mu held). */
void gw_http__nudge_locked(gw_http *h);
/* Connections by id (mu held), for the watcher. */
void gw_http__sock_register_locked(struct gw_http_sock *s);
void gw_http__sock_unregister_locked(struct gw_http_sock *s);
/* The request `req` is now the one on its connection (mu held): a hang-up
 * the watcher saw before it applies to it as well. */
void gw_http__sock_attach_locked(gw_http_req *req);
/* What a hang-up means for `req` (mu held); true when the caller must now
 * run on_gone (gw_http__req_call_gone, mu not held). */
bool gw_http__req_hangup_locked(gw_http_req *req);
/* Watcher callbacks (watcher thread). */
void gw_http__on_hangup(uint64_t id, void *payload);
void gw_http__on_tick(void *payload);

/* http_req.c: request bookkeeping used by http.c. */

uint64_t gw_http__now_ms(void);
gw_http_req *gw_http__req_lookup_locked(gw_http *h, uint64_t id);
void gw_http__req_register_locked(gw_http_req *req);
/* Drop one reference; frees the request (and a freed engine) at zero. */
void gw_http__req_release(gw_http_req *req);
/* A routed request whose body has not all arrived (mu held): nothing can
 * answer it until the client sends the rest. */
bool gw_http__body_missing_locked(const gw_http_req *req);
/* True when the client's socket has reached EOF: it half-closed (or
 * closed) after its request, whose bytes MHD has read. Any thread; the fd
 * must still be the request's (not completed). */
bool gw_http__client_half_closed(int fd);
/* Mark gone (mu held); returns true when the caller must now run on_gone
 * (a reference and the running flag are taken for it). */
bool gw_http__req_gone_locked(gw_http_req *req, bool notify);
/* Call on_gone prepared by gw_http__req_gone_locked (mu not held). */
void gw_http__req_call_gone(gw_http_req *req);
void gw_http__req_free(gw_http_req *req);
/* The watcher tick: heartbeats on idle streams. */
void gw_http__heartbeat_tick(gw_http *h);
void gw_http__engine_destroy(gw_http *h);

#endif /* GW_HTTP_INT_H */
