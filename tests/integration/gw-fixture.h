/*
 * Test fixture for the gateway HTTP engine: a real gw_http on an ephemeral
 * 127.0.0.1 port, a test route, a worker thread standing in for the pool's
 * service thread (it answers deferred requests and feeds streams), and
 * libcurl clients. Nothing of MHD is mocked.
 *
 * Route (by path):
 *   /immediate          200 "hello" from the handler, with X-Test: 1
 *   /echo               200 echoing method, path, query q/flag, header X-Case, body
 *   /deferred           the worker answers 200 "later"
 *   /reject             the worker answers 429 (a route refusing before a stream)
 *   /stream?n=N         the worker begins a stream and writes N events
 *                       "data: <i>\n\n", one per turn (streams interleave), then ends
 *   /stream-sync?n=N    the same, but the handler begins the stream itself
 *   /stream-idle        a stream that never gets data until gone or shutdown
 *   /stream-one         one event, then nothing until gone or shutdown
 *   /flood              one event, then (once fx.flood_go) 16 KiB events until a
 *                       write fails
 *   /hang               pending, never answered until gone or shutdown
 *   /bad                the handler returns DONE without answering (route bug)
 *   /early              401 from on_headers: the body is never read
 *   /slow?mode=M        the handler blocks until fx.release_slow, then answers
 *                       at once (M=respond) or behaves as /hang
 * on_headers adds "x-request-id: req-<id>" to every response.
 * on_gone and on_shutdown hand the request to the worker, which finishes it
 * (on_shutdown: an error event and "data: [DONE]" for streams, 503 else),
 * unless fx.ignore_shutdown is set.
 *
 * Lifetime: a test gets its struct fx from fx_setup (heap, in *state) and
 * fx_teardown ends whatever is left of it, also after a failed assertion
 * (cmocka longjmps out of the test, then runs the teardown): the engine is
 * stopped (holds released first) and freed, the client thread joined and
 * its transfers freed. Nothing the engine, the worker or the client thread
 * reaches may live on the test's stack.
 */
#ifndef GW_FIXTURE_H
#define GW_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "http.h"

struct fx_job;
struct fx_xfers;

struct fx {
    /* The fixture's own, from fx_setup to fx_teardown (across runs). */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct fx_xfers *xfers; /* what fx_xfers allocated */
    struct fx_xfer *cx;     /* the client thread's transfers */
    size_t ncx;
    pthread_t clients;
    bool clients_running;
    /* One engine run: fx_start clears everything from here on. */
    gw_http *h;
    unsigned port;
    /* worker */
    pthread_t worker;
    struct fx_job *head, *tail;
    bool worker_stop;
    /* counters and results (mu) */
    int handled;       /* handler calls */
    int headers_seen;  /* on_headers calls */
    size_t body_seen;  /* body bytes the handler saw */
    int body_dropped;  /* /echo: bodies that read empty once dropped */
    int gone;          /* on_gone calls */
    int shutdowns;     /* on_shutdown calls */
    int first_events;  /* /stream-one streams that wrote their event */
    int finished;      /* requests the worker finished */
    int late_canceled; /* finishing or writing calls that reported ECANCELED */
    /* Deferred answers whose outcome the engine told (gw_http_respond_then),
     * before their client could see them; atomic: told under the engine's lock. */
    atomic_int decided;
    int write_errors; /* stream writes that failed */
    int unexpected;   /* contract violations seen by the route */
    bool ignore_shutdown;
    bool flood_go;     /* (mu) let /flood go on after its first event */
    bool release_slow; /* (mu) let /slow handlers return */
    bool release_held; /* (mu) let on_headers of /held-head return */
};

/* cmocka setup and teardown of a test (cmocka_unit_test_setup_teardown):
 * a zeroed struct fx on the heap in *state; the teardown stops what still
 * runs, joins, frees. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* A test of a fixture group: void test(void **state), its struct fx in *state. */
#define FX_TEST(test) cmocka_unit_test_setup_teardown(test, fx_setup, fx_teardown)

/* Default engine options for tests (heartbeats off unless set). */
gw_http_options fx_options(void);

/* Start the engine and worker (a fresh run: counters and flags cleared).
 * Returns 0 or a LINGMA_E* code. */
int fx_start(struct fx *f, const gw_http_options *opts);
/* Stop the engine (grace_ms), drain and join the worker, free the engine.
 * The counters stay readable; fx_start may start a new run. */
void fx_stop(struct fx *f, unsigned grace_ms);

/* Bounded wait until *counter >= target (counter read under f->mu). */
int fx_wait(struct fx *f, const int *counter, int target, unsigned ms);
int fx_get(struct fx *f, const int *counter);
/* Bounded poll of the engine's stats until stats.<field> == target. */
bool fx_wait_stat(struct fx *f, size_t offset, uint64_t target, unsigned ms);
#define FX_STAT(field) offsetof(gw_http_stats, field)

/* Timeouts scale under valgrind (LINGMA_UNDER_VALGRIND). */
unsigned fx_ms(unsigned ms);
double fx_now(void);

/* Client side. */
struct fx_client_opts {
    const char *method; /* default GET, or POST when body/chunked */
    const char *body;
    size_t body_len;
    size_t chunked_len;        /* send a chunked body of this many bytes */
    size_t abort_upload_after; /* with chunked_len: send it with a
                                * Content-Length instead, but give up after
                                * this many bytes */
    const char *header;        /* one extra request header line */
    long timeout_ms;           /* default 20000 */
    int abort_after_events;    /* abort once this many "\n\n" arrived (0: never) */
    int abort_after_pings;
    bool abort_at_headers; /* abort once the response headers are in */
    bool pause_at_data;    /* stop reading at the first body byte */
};

struct fx_xfer {
    struct fx *f;
    CURL *e;
    struct curl_slist *hdrs;
    struct fx_client_opts o;
    char url[256];
    size_t sent;
    /* results */
    CURLcode rc;
    long status;
    char *body;
    size_t len, cap;
    char *head;
    size_t hlen, hcap;
    size_t ev_start; /* where the event being received starts */
    int events;
    int pings;
    bool paused;
    bool done;
    double t_end;
};

void fx_xfer_init(struct fx_xfer *x, struct fx *f, const char *path,
                  const struct fx_client_opts *o);
void fx_xfer_cleanup(struct fx_xfer *x);
/* Blocking single transfer. */
void fx_perform(struct fx_xfer *x);
/* Run transfers in one curl multi until all finish or `stop` (may be NULL)
 * returns true; bounded by ms. */
void fx_multi(struct fx_xfer *xs, size_t n, unsigned ms, bool (*stop)(void *), void *arg);
/* The response header value (case-insensitive), copied into buf. */
bool fx_header(const struct fx_xfer *x, const char *name, char *buf, size_t cap);

/* The engine's stats now. */
gw_http_stats fx_stats(struct fx *f);

/* n zeroed transfers (for fx_xfer_init) that the fixture owns: each is
 * cleaned up and freed by fx_teardown, whatever the test got to. The
 * transfers of fx_multi calls and of the client thread come from here. */
struct fx_xfer *fx_xfers(struct fx *f, size_t n);

/* fx_multi on xs[0..n) (from fx_xfers) on a client thread of its own (60 s
 * bound; one at a time); asserts that it started. fx_clients_join waits
 * for it; fx_teardown does if the test did not. */
void fx_clients_run(struct fx *f, struct fx_xfer *xs, size_t n);
void fx_clients_join(struct fx *f);
/* Run `streams` /stream-one streams then `pending` /hang requests on the
 * client thread; assert that every stream wrote its event and that all of
 * them are suspended within 10 s. Returns the transfers. */
struct fx_xfer *fx_clients_in_flight(struct fx *f, int streams, int pending);

#endif /* GW_FIXTURE_H */
