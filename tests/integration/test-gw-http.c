/*
 * The gateway HTTP engine over real HTTP (libcurl against gw_http on an
 * ephemeral 127.0.0.1 port): answers, streams, limits, heartbeats, idling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "gw-fixture.h"

static void
start(struct fx *f, const gw_http_options *o)
{
    assert_int_equal(fx_start(f, o), LINGMA_OK);
    assert_true(f->port > 0);
}

/* Start the engine with the default test options. */
static void
start_default(struct fx *f)
{
    gw_http_options o = fx_options();
    start(f, &o);
}

static void
stop(struct fx *f)
{
    fx_stop(f, 2000);
    assert_int_equal(f->unexpected, 0);
}

/* One blocking transfer on `path` (co may be NULL). */
static void
perform(struct fx_xfer *x, struct fx *f, const char *path, const struct fx_client_opts *co)
{
    fx_xfer_init(x, f, path, co);
    fx_perform(x);
}

/* A malloc'd buffer of n bytes of c. */
static char *
filled_buffer(size_t n, char c)
{
    char *b = malloc(n);
    assert_non_null(b);
    memset(b, c, n);
    return b;
}

/* Not one body byte crossed the wire. */
static void
assert_nothing_uploaded(const struct fx_xfer *x)
{
    curl_off_t up = -1;
    curl_easy_getinfo(x->e, CURLINFO_SIZE_UPLOAD_T, &up);
    assert_int_equal(up, 0);
}

/* Read under the lock, asserted after it: a failed assertion must not
 * leave the fixture's mutex held (the teardown and the worker need it). */
static void
assert_body_seen(struct fx *f, size_t n)
{
    pthread_mutex_lock(&f->mu);
    size_t seen = f->body_seen;
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(seen, n);
}

static void
test_immediate(void **state)
{
    struct fx *f = *state;
    start_default(f);

    struct fx_xfer x;
    char v[64];
    perform(&x, f, "/immediate", NULL);
    assert_int_equal(x.rc, CURLE_OK);
    assert_int_equal(x.status, 200);
    assert_int_equal(x.len, 5);
    assert_memory_equal(x.body, "hello", 5);
    assert_true(fx_header(&x, "x-test", v, sizeof(v)));
    assert_string_equal(v, "1");
    assert_true(fx_header(&x, "x-request-id", v, sizeof(v)));
    assert_true(strncmp(v, "req-", 4) == 0);
    fx_xfer_cleanup(&x);

    perform(&x, f, "/nowhere", NULL);
    assert_int_equal(x.status, 404);
    fx_xfer_cleanup(&x);
    stop(f);
}

static void
test_request_view(void **state)
{
    struct fx *f = *state;
    start_default(f);

    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.header = "X-CaSe: Abc";
    co.body = "{\"a\":1}";
    co.body_len = 7;
    perform(&x, f, "/echo?q=v%20w&flag", &co);
    assert_int_equal(x.rc, CURLE_OK);
    assert_int_equal(x.status, 200);
    assert_string_equal(x.body, "POST /echo q=v w flag= none=(null) case=Abc len=7:{\"a\":1}");
    fx_xfer_cleanup(&x);

    memset(&co, 0, sizeof(co));
    co.method = "DELETE";
    perform(&x, f, "/echo", &co);
    assert_int_equal(x.status, 200);
    assert_string_equal(x.body, "DELETE /echo q=(null) flag=(null) none=(null) case=(null) len=0:");
    fx_xfer_cleanup(&x);
    stop(f);
}

static void
test_handler_without_answer_gets_500(void **state)
{
    struct fx *f = *state;
    start_default(f);
    struct fx_xfer x;
    char v[64];
    perform(&x, f, "/bad", NULL);
    assert_int_equal(x.rc, CURLE_OK);
    assert_int_equal(x.status, 500);
    assert_true(fx_header(&x, "x-request-id", v, sizeof(v)));
    fx_xfer_cleanup(&x);
    stop(f);
}

static void
test_deferred_from_another_thread(void **state)
{
    struct fx *f = *state;
    start_default(f);

    /* One keep-alive connection: the client fd is watched and unwatched
     * once per request and must be reusable each time. */
    struct fx_xfer x;
    fx_xfer_init(&x, f, "/deferred", NULL);
    for (int i = 0; i < 20; i++) {
        free(x.body);
        x.body = NULL;
        x.len = x.cap = 0;
        fx_perform(&x);
        assert_int_equal(x.rc, CURLE_OK);
        assert_int_equal(x.status, 200);
        assert_string_equal(x.body, "later");
        /* Told before the client could read it: what lets the gateway
         * count an answer before its client can ask for the metrics. */
        assert_int_equal(atomic_load(&f->decided), i + 1);
    }
    long conns = 0;
    curl_easy_getinfo(x.e, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0); /* the last one reused the connection */
    fx_xfer_cleanup(&x);

    /* A route may still refuse with a real status after going pending. */
    perform(&x, f, "/reject", NULL);
    assert_int_equal(x.status, 429);
    fx_xfer_cleanup(&x);

    enum { N = 50 };
    struct fx_xfer *xs = fx_xfers(f, N);
    for (int i = 0; i < N; i++)
        fx_xfer_init(&xs[i], f, "/deferred", NULL);
    fx_multi(xs, N, 30000, NULL, NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(xs[i].rc, CURLE_OK);
        assert_int_equal(xs[i].status, 200);
        assert_string_equal(xs[i].body, "later");
        fx_xfer_cleanup(&xs[i]);
    }
    assert_int_equal(fx_get(f, &f->gone), 0);
    stop(f);
}

static void
check_stream_body(const struct fx_xfer *x, int n)
{
    size_t cap = (size_t)n * 16 + 1, len = 0;
    char *want = malloc(cap);
    assert_non_null(want);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(want + len, cap - len, "data: %d\n\n", i);
    assert_int_equal(x->len, len);
    assert_memory_equal(x->body, want, len);
    free(want);
}

static void
test_stream_in_order(void **state)
{
    struct fx *f = *state;
    start_default(f);
    const char *paths[] = {"/stream?n=300", "/stream-sync?n=50"};
    const int counts[] = {300, 50};
    for (int k = 0; k < 2; k++) {
        struct fx_xfer x;
        char v[64];
        perform(&x, f, paths[k], NULL);
        assert_int_equal(x.rc, CURLE_OK);
        assert_int_equal(x.status, 200);
        check_stream_body(&x, counts[k]);
        assert_int_equal(x.events, counts[k]);
        assert_true(fx_header(&x, "transfer-encoding", v, sizeof(v)));
        assert_string_equal(v, "chunked");
        assert_true(fx_header(&x, "content-type", v, sizeof(v)));
        assert_string_equal(v, "text/event-stream");
        assert_true(fx_header(&x, "cache-control", v, sizeof(v)));
        assert_string_equal(v, "no-cache");
        assert_true(fx_header(&x, "x-accel-buffering", v, sizeof(v)));
        assert_string_equal(v, "no");
        assert_true(fx_header(&x, "x-request-id", v, sizeof(v)));
        fx_xfer_cleanup(&x);
    }
    assert_int_equal(fx_wait(f, &f->finished, 2, 5000), 2);
    assert_int_equal(fx_get(f, &f->gone), 0);
    stop(f);
}

static void
test_413_from_content_length(void **state)
{
    struct fx *f = *state;
    gw_http_options o = fx_options();
    o.max_body = 64 * 1024;
    start(f, &o);

    /* Over 1 MiB so that curl sends "Expect: 100-continue" and waits: the
     * early 413 means not one body byte crosses the wire. */
    size_t n = 2 * 1024 * 1024;
    char *big = filled_buffer(n, 'b');
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.body = big;
    co.body_len = n;
    char v[64];
    perform(&x, f, "/echo", &co);
    assert_int_equal(x.status, 413);
    assert_true(fx_header(&x, "x-request-id", v, sizeof(v)));
    assert_nothing_uploaded(&x);
    fx_xfer_cleanup(&x);
    free(big);

    /* At the limit exactly is fine. */
    char *fit = filled_buffer(o.max_body, 'f');
    memset(&co, 0, sizeof(co));
    co.body = fit;
    co.body_len = o.max_body;
    perform(&x, f, "/echo", &co);
    assert_int_equal(x.status, 200);
    fx_xfer_cleanup(&x);
    free(fit);

    assert_int_equal(fx_get(f, &f->handled), 1);
    assert_body_seen(f, o.max_body);
    assert_int_equal(fx_stats(f).rejected_413, 1);
    stop(f);
}

/* A route may answer from on_headers (401, 404, 405...): the body is not
 * read and the handler never runs. */
static void
test_answer_from_on_headers(void **state)
{
    struct fx *f = *state;
    start_default(f);
    size_t n = 2 * 1024 * 1024;
    char *big = filled_buffer(n, 'e');
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.body = big;
    co.body_len = n;
    char v[64];
    perform(&x, f, "/early", &co);
    assert_int_equal(x.status, 401);
    assert_string_equal(x.body, "no");
    assert_true(fx_header(&x, "www-authenticate", v, sizeof(v)));
    assert_true(fx_header(&x, "x-request-id", v, sizeof(v)));
    assert_nothing_uploaded(&x);
    fx_xfer_cleanup(&x);
    free(big);
    assert_int_equal(fx_get(f, &f->handled), 0);
    stop(f);
}

/* A client that uploads its body without waiting ("Expect:" off), as curl
 * does for small bodies and many clients for any, while the engine refuses
 * from the head (413, Connection: close): the refusal must still arrive.
 * Without a lingering close, the engine's close with unread bytes sends a
 * reset, which can wipe the answer out of the client's socket before the
 * client reads it (it then reports a send or receive error, no status). */
static void
test_refusal_survives_an_upload_in_flight(void **state)
{
    struct fx *f = *state;
    gw_http_options o = fx_options();
    o.max_body = 64 * 1024;
    start(f, &o);
    const size_t total = 3u * 1024u * 1024u;
    char *body = filled_buffer(total, 'u');
    for (int round = 0; round < 12; round++) {
        struct fx_xfer x;
        struct fx_client_opts co = {0};
        co.body = body;
        co.body_len = total;
        co.header = "Expect:";
        perform(&x, f, "/echo", &co);
        if (x.status != 413)
            fail_msg("round %d: status %ld (curl: %s), expected 413", round, x.status,
                     curl_easy_strerror(x.rc));
        fx_xfer_cleanup(&x);
    }
    free(body);
    assert_int_equal(fx_get(f, &f->handled), 0);
    stop(f);
}

/* After quiesce: a kept-alive connection is still served and told to
 * close; a new connection is refused at once. */
static void
test_quiesce(void **state)
{
    struct fx *f = *state;
    start_default(f);
    struct fx_xfer x;
    char v[64];
    perform(&x, f, "/immediate", NULL);
    assert_int_equal(x.status, 200);
    assert_false(fx_header(&x, "connection", v, sizeof(v)));
    gw_http_quiesce(f->h);
    free(x.head);
    x.head = NULL;
    x.hlen = x.hcap = 0;
    fx_perform(&x);
    assert_int_equal(x.status, 200);
    assert_true(fx_header(&x, "connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    fx_xfer_cleanup(&x);

    struct fx_client_opts co = {0};
    co.timeout_ms = 5000;
    perform(&x, f, "/immediate", &co);
    assert_int_equal(x.rc, CURLE_COULDNT_CONNECT);
    fx_xfer_cleanup(&x);
    stop(f);
}

/* The route formats the engine's own errors (the OpenAI envelope). */
static char *
openai_error(gw_http_req *req, int status, const char *code, const char *message, size_t *len,
             const char **content_type, void *payload)
{
    (void)req;
    (void)code;
    (void)payload;
    char *body = malloc(256);
    if (!body)
        return NULL;
    int n = snprintf(body, 256,
                     "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,"
                     "\"code\":null}}",
                     message, status < 500 ? "invalid_request_error" : "server_error");
    *len = (size_t)n;
    *content_type = "application/json";
    return body;
}

static void
test_413_chunked(void **state)
{
    struct fx *f = *state;
    gw_http_options o = fx_options();
    o.max_body = 64 * 1024;
    o.error_body = openai_error;
    start(f, &o);

    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.chunked_len = 200 * 1024;
    char v[64];
    perform(&x, f, "/echo", &co);
    assert_int_equal(x.rc, CURLE_OK);
    assert_int_equal(x.status, 413);
    assert_true(fx_header(&x, "content-type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    assert_string_equal(x.body, "{\"error\":{\"message\":\"request body too large\","
                                "\"type\":\"invalid_request_error\",\"param\":null,"
                                "\"code\":null}}");
    assert_true(fx_header(&x, "x-request-id", v, sizeof(v)));
    fx_xfer_cleanup(&x);
    assert_int_equal(fx_get(f, &f->handled), 0);

    co.chunked_len = 10 * 1024;
    perform(&x, f, "/echo", &co);
    assert_int_equal(x.status, 200);
    assert_non_null(strstr(x.body, "len=10240:"));
    fx_xfer_cleanup(&x);
    assert_int_equal(fx_get(f, &f->handled), 1);
    stop(f);
}

/* Request headers live in MHD's per-connection pool, so connection_memory
 * sets the header limit (http.h): the block plus 64 bytes per field may
 * use connection_memory minus 1 KiB. Well under it passes; a single field
 * over it gets the engine's 431; one larger than the whole pool gets
 * libmicrohttpd's own 431. Checked at the default (8 KiB) and at a larger
 * configured pool; the exact boundary is in test-gw-hostile. */
static void
check_header_limit(struct fx *f, size_t pool)
{
    gw_http_options o = fx_options();
    if (pool)
        o.connection_memory = pool;
    start(f, &o);
    const size_t mem = o.connection_memory;
    const size_t sizes[] = {1000, mem - 2048, mem - 1023, mem + 1};
    const long want[] = {200, 200, 431, 431};
    for (int k = 0; k < 4; k++) {
        char *line = malloc(sizes[k] + 16);
        assert_non_null(line);
        memcpy(line, "X-Big: ", 7);
        memset(line + 7, 'h', sizes[k]);
        line[7 + sizes[k]] = '\0';
        struct fx_xfer x;
        struct fx_client_opts co = {0};
        co.header = line;
        perform(&x, f, "/immediate", &co);
        if (x.status != want[k])
            fail_msg("pool %zu, header %zu bytes: status %ld, expected %ld", mem, sizes[k],
                     x.status, want[k]);
        fx_xfer_cleanup(&x);
        free(line);
    }
    stop(f);
}

static void
test_431_oversized_headers(void **state)
{
    struct fx *f = *state;
    check_header_limit(f, 0);
    check_header_limit(f, 128 * 1024);
}

/* A body far larger than the per-connection pool still arrives whole: MHD
 * hands it over in pieces and the engine accumulates them. */
static void
test_body_larger_than_pool(void **state)
{
    struct fx *f = *state;
    start_default(f);
    size_t n = 1024 * 1024 + 7;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.body = big;
    co.body_len = n;
    perform(&x, f, "/echo", &co);
    assert_int_equal(x.status, 200);
    assert_non_null(strstr(x.body, "len=1048583:"));
    fx_xfer_cleanup(&x);
    free(big);
    assert_body_seen(f, n);
    /* The handler dropped the body after the echo: it then reads empty. */
    pthread_mutex_lock(&f->mu);
    int dropped = f->body_dropped;
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(dropped, 1);
    stop(f);
}

static void
test_heartbeat(void **state)
{
    struct fx *f = *state;
    gw_http_options o = fx_options();
    o.heartbeat_ms = 100;
    start(f, &o);
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.abort_after_pings = 2;
    co.timeout_ms = (long)fx_ms(10000);
    perform(&x, f, "/stream-idle", &co);
    /* Ended by our own abort after the pings, not by the timeout. */
    assert_int_equal(x.rc, CURLE_WRITE_ERROR);
    assert_int_equal(x.status, 200);
    assert_true(x.pings >= 1);
    assert_int_equal(x.events, 0);
    fx_xfer_cleanup(&x);
    assert_int_equal(fx_wait(f, &f->gone, 1, 2000), 1);
    assert_true(fx_stats(f).heartbeats >= 2);
    stop(f);
}

static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Suspended streams must cost nothing: the content reader is not called
 * while they wait (returning 0 without suspending would spin). */
static void
test_idle_streams_do_not_spin(void **state)
{
    struct fx *f = *state;
    start_default(f);
    enum { N = 20 };
    struct fx_xfer *xs = fx_clients_in_flight(f, N, 0);

    gw_http_stats before = fx_stats(f);
    double cpu0 = cpu_seconds(), wall0 = fx_now();
    /* The measurement window, not a synchronisation. */
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double cpu = cpu_seconds() - cpu0, wall = fx_now() - wall0;
    gw_http_stats after = fx_stats(f);
    print_message("idle: %d suspended streams, %.1f ms CPU in %.0f ms, %llu reader calls\n", N,
                  cpu * 1000, wall * 1000,
                  (unsigned long long)(after.reader_calls - before.reader_calls));
    assert_true(after.reader_calls - before.reader_calls <= 2);
    assert_true(cpu < wall * 0.5);

    /* The route ends every stream on shutdown: all complete cleanly. */
    fx_stop(f, 5000);
    fx_clients_join(f);
    for (int i = 0; i < N; i++) {
        assert_int_equal(xs[i].rc, CURLE_OK);
        assert_non_null(strstr(xs[i].body, "data: [DONE]\n\n"));
        fx_xfer_cleanup(&xs[i]);
    }
    assert_int_equal(f->shutdowns, N);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        FX_TEST(test_immediate),
        FX_TEST(test_request_view),
        FX_TEST(test_handler_without_answer_gets_500),
        FX_TEST(test_deferred_from_another_thread),
        FX_TEST(test_stream_in_order),
        FX_TEST(test_413_from_content_length),
        FX_TEST(test_answer_from_on_headers),
        FX_TEST(test_refusal_survives_an_upload_in_flight),
        FX_TEST(test_413_chunked),
        FX_TEST(test_431_oversized_headers),
        FX_TEST(test_body_larger_than_pool),
        FX_TEST(test_heartbeat),
        FX_TEST(test_idle_streams_do_not_spin),
        FX_TEST(test_quiesce),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
