/*
 * The gateway HTTP engine when clients leave, when it shuts down with
 * streams in flight, with many concurrent streams, and under a burst of
 * requests on many connections. Real HTTP, libcurl clients (raw sockets
 * where the timing of each byte matters), bounded waits only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "gw-fixture.h"

static void
start(struct fx *f, const gw_http_options *o)
{
    assert_int_equal(fx_start(f, o), LINGMA_OK);
}

/* Start the engine with the default test options. */
static void
start_default(struct fx *f)
{
    gw_http_options o = fx_options();
    start(f, &o);
}

/* Stop the engine; the route must have seen no contract violation. */
static void
stop_clean(struct fx *f, unsigned grace_ms)
{
    fx_stop(f, grace_ms);
    assert_int_equal(f->unexpected, 0);
}

/* Let the /slow handlers return. */
static void
release_slow_handlers(struct fx *f)
{
    pthread_mutex_lock(&f->mu);
    f->release_slow = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

/* Start the engine and run one blocking transfer on `path`. */
static void
start_and_perform(struct fx *f, struct fx_xfer *x, const char *path,
                  const struct fx_client_opts *co)
{
    start_default(f);
    fx_xfer_init(x, f, path, co);
    fx_perform(x);
}

/* The client leaves; on_gone must follow within a second, and the route's
 * late finishing call must report ECANCELED. */
static void
check_gone(struct fx *f, struct fx_xfer *x)
{
    assert_int_equal(fx_wait(f, &f->gone, 1, 1000), 1);
    double latency = fx_now() - x->t_end;
    print_message("on_gone %.1f ms after the client closed\n", latency * 1000);
    assert_true(latency < fx_ms(1000) / 1000.0);
    assert_int_equal(fx_wait(f, &f->finished, 1, 2000), 1);
    assert_int_equal(fx_get(f, &f->late_canceled), 1);
    assert_int_equal(fx_stats(f).gone_total, 1);
}

/* check_gone, then free the transfer and stop the engine cleanly. */
static void
check_gone_and_stop(struct fx *f, struct fx_xfer *x)
{
    check_gone(f, x);
    fx_xfer_cleanup(x);
    stop_clean(f, 1000);
}

/* Window 1: the request waits for a deferred answer (queued upstream). */
static void
test_gone_while_deferred(void **state)
{
    struct fx *f = *state;
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.timeout_ms = 300;
    start_and_perform(f, &x, "/hang", &co);
    assert_int_equal(x.rc, CURLE_OPERATION_TIMEDOUT);
    check_gone_and_stop(f, &x);
}

/* Window 2: the stream began (status and headers are out) but no data. */
static void
test_gone_after_headers_before_data(void **state)
{
    struct fx *f = *state;
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.abort_at_headers = true;
    start_and_perform(f, &x, "/stream-idle", &co);
    /* The headers arrived although not one byte was ever written: they go
     * out when the stream begins. */
    assert_int_equal(x.rc, CURLE_WRITE_ERROR);
    assert_int_equal(x.status, 200);
    assert_int_equal(x.len, 0);
    check_gone_and_stop(f, &x);
}

/* Window 3: mid-stream, suspended between events. */
static void
test_gone_mid_stream(void **state)
{
    struct fx *f = *state;
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.abort_after_events = 1;
    start_and_perform(f, &x, "/stream-one", &co);
    assert_int_equal(x.rc, CURLE_WRITE_ERROR);
    assert_int_equal(x.events, 1);
    check_gone_and_stop(f, &x);
}

/* Many clients leaving at once across the three windows: every one is
 * noticed once, and nothing is confused by the fds being reused. */
static void
test_gone_many(void **state)
{
    struct fx *f = *state;
    start_default(f);
    enum { N = 60 };
    struct fx_xfer *xs = fx_xfers(f, N);
    const char *paths[] = {"/hang", "/stream-idle", "/stream-one"};
    for (int i = 0; i < N; i++) {
        struct fx_client_opts co = {0};
        co.timeout_ms = 400;
        fx_xfer_init(&xs[i], f, paths[i % 3], &co);
    }
    fx_multi(xs, N, 10000, NULL, NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(xs[i].rc, CURLE_OPERATION_TIMEDOUT);
        fx_xfer_cleanup(&xs[i]);
    }
    assert_int_equal(fx_wait(f, &f->gone, N, 2000), N);
    assert_int_equal(fx_wait(f, &f->finished, N, 2000), N);
    /* The same ports and fds again, right away. */
    for (int i = 0; i < N; i++)
        fx_xfer_init(&xs[i], f, "/deferred", NULL);
    fx_multi(xs, N, 10000, NULL, NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(xs[i].status, 200);
        fx_xfer_cleanup(&xs[i]);
    }
    fx_stop(f, 1000);
    assert_int_equal(f->gone, N);
    assert_int_equal(f->unexpected, 0);
}

/* A client leaving while the handler still runs on the MHD thread: the
 * route hears on_gone only after its handler returned, and a connection
 * whose route answered into the void is closed, not left suspended. */
static void
test_gone_while_handler_runs(void **state)
{
    struct fx *f = *state;
    const char *paths[] = {"/slow?mode=pending", "/slow?mode=respond"};
    for (int k = 0; k < 2; k++) {
        struct fx_xfer x;
        struct fx_client_opts co = {0};
        co.timeout_ms = 300;
        start_and_perform(f, &x, paths[k], &co);
        assert_int_equal(x.rc, CURLE_OPERATION_TIMEDOUT);
        fx_xfer_cleanup(&x);
        /* The watcher saw the hang-up; the handler has not returned. */
        assert_true(fx_wait_stat(f, FX_STAT(gone_total), 1, 2000));
        assert_int_equal(fx_get(f, &f->gone), 0);
        release_slow_handlers(f);
        assert_true(fx_wait_stat(f, FX_STAT(requests_active), 0, 2000));
        if (k == 0) {
            /* on_gone from the completion, then the worker finishes late. */
            assert_int_equal(fx_wait(f, &f->gone, 1, 2000), 1);
            assert_int_equal(fx_wait(f, &f->finished, 1, 2000), 1);
            assert_int_equal(fx_get(f, &f->late_canceled), 1);
        } else {
            /* An answer given before the handler returned is still sent
             * (a half-closed client could read it); this client is gone
             * for good, so MHD's send fails and it closes. No on_gone. */
            assert_int_equal(fx_get(f, &f->gone), 0);
            assert_int_equal(fx_get(f, &f->late_canceled), 0);
        }
        assert_int_equal(fx_stats(f).suspended, 0);
        stop_clean(f, 1000);
    }
}

/* A client leaving while its body is still arriving: the handler never
 * saw the request, so the route hears nothing and owns nothing. */
static void
test_gone_during_upload(void **state)
{
    struct fx *f = *state;
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.chunked_len = 512 * 1024;
    co.abort_upload_after = 16 * 1024;
    start_and_perform(f, &x, "/echo", &co);
    assert_int_equal(x.rc, CURLE_ABORTED_BY_CALLBACK);
    double t_end = x.t_end;
    fx_xfer_cleanup(&x);
    assert_int_equal(fx_get(f, &f->headers_seen), 1);
    /* MHD 0.9.75 alone would keep this connection in CLOSE-WAIT until the
     * idle timeout (60 s): the watcher wakes it. */
    assert_true(fx_wait_stat(f, FX_STAT(requests_active), 0, 1000));
    print_message("upload abandoned: request closed %.1f ms later\n", (fx_now() - t_end) * 1000);
    assert_int_equal(fx_get(f, &f->handled), 0);
    assert_int_equal(fx_get(f, &f->gone), 0);
    stop_clean(f, 1000);
}

/* A raw TCP connection to the engine, or -1. */
static int
raw_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A raw client that sends a head announcing 100 bytes and only 10 of
 * them, then stalls; returns its socket. */
static int
send_stalled_upload(struct fx *f, const char *path)
{
    int fd = raw_connect(f->port);
    assert_true(fd >= 0);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", path);
    assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* A stalled upload when the engine drains: it never reached a route and
 * only the client could complete it, so the drain must not wait for it
 * (it used to hold gw_http_drain for its whole timeout). */
static void
test_drain_does_not_wait_for_a_stalled_upload(void **state)
{
    struct fx *f = *state;
    start_default(f);
    int fd = send_stalled_upload(f, "/echo");
    assert_true(fx_wait_stat(f, FX_STAT(requests_active), 1, 2000));
    gw_http_quiesce(f->h);
    assert_int_equal(gw_http_drain(f->h, 10000), 0);
    assert_int_equal(fx_get(f, &f->handled), 0);
    close(fd);
    stop_clean(f, 1000);
}

/* The same upload when quiesce lands while the engine is between the
 * route's look at the head and the request's routing: quiesce's walk
 * cannot see it as routed yet, so the routing itself must notice (it used
 * to slip through and hold the drain, on a busy machine). */
static void
test_drain_does_not_wait_for_an_upload_routed_during_quiesce(void **state)
{
    struct fx *f = *state;
    start_default(f);
    int fd = send_stalled_upload(f, "/held-head");
    assert_int_equal(fx_wait(f, &f->headers_seen, 1, 5000), 1);
    gw_http_quiesce(f->h);
    pthread_mutex_lock(&f->mu);
    f->release_held = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(gw_http_drain(f->h, 10000), 0);
    assert_int_equal(fx_get(f, &f->handled), 0);
    /* Told so, not merely dropped: a balancer retries a 503 elsewhere. */
    char buf[256] = {0};
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_true(recv(fd, buf, sizeof(buf) - 1, 0) > 12);
    assert_memory_equal(buf, "HTTP/1.1 503", 12);
    close(fd);
    stop_clean(f, 1000);
}

static void
send_get(int fd, const char *path)
{
    char req[128];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Read one keep-alive response whose body is `body`, until `deadline`
 * (fx_now). True when it came whole. */
static bool
read_answer(int fd, const char *body, double deadline)
{
    char buf[2048];
    size_t n = 0, blen = strlen(body);
    for (;;) {
        double left = deadline - fx_now();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            return false;
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (end && (size_t)(buf + n - (end + 4)) >= blen)
            return memcmp(end + 4, body, blen) == 0;
        if (n == sizeof(buf) - 1)
            return false;
    }
}

/* libmicrohttpd drains its epoll set 128 events at a time and, after a full
 * batch, waits again with the timeout it computed before the first: when
 * exactly 128 (or 256) sockets were ready at once, it slept while they
 * waited, unserved (lingma-bench at concurrency 256 on a loaded machine:
 * 256 requests unread for the whole client timeout). The engine's nudge
 * ends that wait. Here the requests are sent while a /slow handler holds
 * the MHD thread, so that all are ready when it next polls; 127 and 128
 * cover one other event in the same batch. Without an idle timeout the
 * unfixed wait would last for ever: the bound below is what fails. */
static void
test_burst_of_one_full_epoll_batch(void **state)
{
    struct fx *f = *state;
    enum { BATCH = 128 };
    gw_http_options o = fx_options();
    o.timeout_s = 0;
    for (int n = BATCH - 1; n <= BATCH; n++) {
        int fds[BATCH + 1];
        start(f, &o);
        for (int i = 0; i <= n; i++) {
            fds[i] = raw_connect(f->port);
            assert_true(fds[i] >= 0);
        }
        /* Each served once: all in MHD's epoll set, idle, keep-alive. */
        for (int i = 1; i <= n; i++) {
            send_get(fds[i], "/immediate");
            assert_true(read_answer(fds[i], "hello", fx_now() + fx_ms(10000) / 1000.0));
        }
        send_get(fds[0], "/slow?mode=respond");
        assert_int_equal(fx_wait(f, &f->handled, n + 1, 5000), n + 1);
        for (int i = 1; i <= n; i++)
            send_get(fds[i], "/immediate");
        release_slow_handlers(f);
        double deadline = fx_now() + fx_ms(10000) / 1000.0;
        assert_true(read_answer(fds[0], "slow", deadline));
        int answered = 0;
        for (int i = 1; i <= n; i++)
            answered += read_answer(fds[i], "hello", deadline);
        print_message("burst of %d: %d answered\n", n, answered);
        assert_int_equal(answered, n);
        for (int i = 0; i <= n; i++)
            close(fds[i]);
        stop_clean(f, 1000);
    }
}

struct flood {
    struct fx *f;
    struct fx_xfer *x;
};

/* Runs in the client loop: once the client stopped reading, let the
 * producer go; stop the loop when the route has finished. */
static bool
flood_step(void *arg)
{
    struct flood *fl = arg;
    if (fl->x->paused) {
        pthread_mutex_lock(&fl->f->mu);
        fl->f->flood_go = true;
        pthread_cond_broadcast(&fl->f->cond);
        pthread_mutex_unlock(&fl->f->mu);
    }
    return fx_get(fl->f, &fl->f->finished) >= 1;
}

/* A client that stops reading while upstream keeps producing: the stream
 * buffer fills, the write reports ECANCELED (the route's notice: it ends
 * the stream at once) and the engine drops the connection although the
 * client never reads again. */
static void
test_overflow_drops_slow_client(void **state)
{
    struct fx *f = *state;
    gw_http_options o = fx_options();
    o.stream_buffer_max = 64 * 1024;
    start(f, &o);
    struct fx_xfer x;
    struct fx_client_opts co = {0};
    co.pause_at_data = true;
    co.timeout_ms = (long)fx_ms(20000);
    fx_xfer_init(&x, f, "/flood", &co);
    struct flood fl = {f, &x};
    fx_multi(&x, 1, 20000, flood_step, &fl);
    assert_int_equal(fx_wait(f, &f->finished, 1, 5000), 1);
    assert_true(x.paused);
    assert_int_equal(fx_get(f, &f->write_errors), 1);
    assert_int_equal(fx_get(f, &f->late_canceled), 2); /* the write, then the end */
    /* The connection is gone on the server side while the client sleeps. */
    assert_true(fx_wait_stat(f, FX_STAT(requests_active), 0, 5000));
    gw_http_stats st = fx_stats(f);
    assert_int_equal(st.overflow_total, 1);
    assert_int_equal(st.gone_total, 1);
    fx_xfer_cleanup(&x);
    stop_clean(f, 1000);
}

/* 50 streams suspended mid-stream plus 5 pending requests; the route ends
 * them itself on on_shutdown (error event, [DONE]; 503). */
static void
test_shutdown_with_streams_in_flight(void **state)
{
    struct fx *f = *state;
    start_default(f);
    enum { S = 50, P = 5, N = S + P };
    struct fx_xfer *xs = fx_clients_in_flight(f, S, P);

    gw_http_quiesce(f->h);
    assert_int_equal(gw_http_drain(f->h, 50), N);
    double t0 = fx_now();
    gw_http_stop(f->h, fx_ms(5000));
    print_message("stop with %d streams + %d pending: %.0f ms\n", S, P, (fx_now() - t0) * 1000);
    fx_clients_join(f);
    fx_stop(f, 0);

    assert_int_equal(f->shutdowns, N);
    assert_int_equal(f->gone, 0);
    assert_int_equal(f->finished, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(xs[i].rc, CURLE_OK);
        if (i < S) {
            assert_int_equal(xs[i].status, 200);
            assert_int_equal(xs[i].events, 3);
            const char *tail = xs[i].body + xs[i].len - 14;
            assert_memory_equal(tail, "data: [DONE]\n\n", 14);
        } else {
            assert_int_equal(xs[i].status, 503);
        }
        fx_xfer_cleanup(&xs[i]);
    }
    assert_int_equal(f->unexpected, 0);
}

/* The route ignores on_shutdown: after the grace period the engine cuts the
 * streams, answers the pending requests, resumes everything and stops MHD
 * without aborting; on_gone then tells the route, which finishes late. */
static void
test_shutdown_forced(void **state)
{
    struct fx *f = *state;
    start_default(f);
    f->ignore_shutdown = true;
    enum { S = 50, P = 5, N = S + P };
    struct fx_xfer *xs = fx_clients_in_flight(f, S, P);

    gw_http_stop(f->h, 100);
    fx_clients_join(f);
    fx_stop(f, 0);
    assert_int_equal(f->shutdowns, N);
    assert_int_equal(f->finished, N);
    for (int i = 0; i < N; i++) {
        /* Cut streams end without the chunked terminator. */
        if (i < S)
            assert_int_not_equal(xs[i].rc, CURLE_OK);
        assert_true(xs[i].done);
        fx_xfer_cleanup(&xs[i]);
    }
    assert_int_equal(f->unexpected, 0);
}

struct stopper {
    gw_http *h;
};

static void *
stopper_main(void *arg)
{
    gw_http_stop(((struct stopper *)arg)->h, 0);
    return NULL;
}

/* A handler still running when a forced stop begins, that then leaves its
 * request pending (the route ignores on_shutdown). gw_http_stop has already
 * made its resume walk, so a connection suspended now would stay suspended
 * and MHD_stop_daemon would abort the process. The engine must not suspend it
 * (it answers 503, closed by the stop), and the route hears of it via on_gone. */
static void
test_stop_while_handler_runs(void **state)
{
    struct fx *f = *state;
    start_default(f);
    f->ignore_shutdown = true;
    struct fx_xfer *x = fx_xfers(f, 1);
    fx_xfer_init(x, f, "/slow?mode=hang", NULL);
    pthread_t st;
    fx_clients_run(f, x, 1);
    assert_int_equal(fx_wait(f, &f->handled, 1, 5000), 1);

    struct stopper sp = {f->h};
    assert_int_equal(pthread_create(&st, NULL, stopper_main, &sp), 0);
    /* No condition to wait on: gw_http_stop(h, 0) marks the engine stopping
     * within microseconds, then blocks joining the MHD thread, which is
     * held by this handler. Give it ample time to get there. */
    usleep(300 * 1000);
    release_slow_handlers(f);
    pthread_join(st, NULL);
    fx_clients_join(f);
    /* MHD's thread is gone by then, so the 503 may not reach the socket:
     * what matters is that the process survives and the client is let go. */
    assert_true(x->done);
    assert_true(x->status == 0 || x->status == 503);
    assert_int_equal(fx_wait(f, &f->gone, 1, 2000), 1);
    assert_int_equal(fx_wait(f, &f->finished, 1, 2000), 1);
    fx_stop(f, 0);
    fx_xfer_cleanup(x);
    assert_int_equal(f->unexpected, 0);
}

/* 500 concurrent streams from one curl multi, interleaved by the worker:
 * every byte of every stream arrives, in order. When the fd limit allows,
 * 1100: past FD_SETSIZE (1024), which only epoll mode survives. */
static void
test_many_concurrent_streams(void **state)
{
    struct fx *f = *state;
    start_default(f);
    enum { EVENTS = 5 };
    struct rlimit rl;
    int N = 500;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= 2600)
        N = 1100;
    struct fx_xfer *xs = fx_xfers(f, (size_t)N);
    char path[32];
    snprintf(path, sizeof(path), "/stream?n=%d", EVENTS);
    for (int i = 0; i < N; i++)
        fx_xfer_init(&xs[i], f, path, NULL);
    double t0 = fx_now();
    fx_multi(xs, N, 60000, NULL, NULL);
    print_message("%d streams x %d events: %.0f ms\n", N, EVENTS, (fx_now() - t0) * 1000);
    const char want[] = "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n";
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (xs[i].rc == CURLE_OK && xs[i].status == 200 && xs[i].len == sizeof(want) - 1 &&
            memcmp(xs[i].body, want, sizeof(want) - 1) == 0)
            ok++;
        else
            print_message("stream %d: rc %d status %ld len %zu\n", i, (int)xs[i].rc, xs[i].status,
                          xs[i].len);
        fx_xfer_cleanup(&xs[i]);
    }
    assert_int_equal(ok, N);
    assert_int_equal(fx_stats(f).gone_total, 0);
    stop_clean(f, 1000);
}

int
main(void)
{
    /* 500 streams need about 1000 fds in this one process. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        FX_TEST(test_gone_while_deferred),
        FX_TEST(test_gone_after_headers_before_data),
        FX_TEST(test_gone_mid_stream),
        FX_TEST(test_gone_many),
        FX_TEST(test_gone_during_upload),
        FX_TEST(test_drain_does_not_wait_for_a_stalled_upload),
        FX_TEST(test_drain_does_not_wait_for_an_upload_routed_during_quiesce),
        FX_TEST(test_gone_while_handler_runs),
        FX_TEST(test_overflow_drops_slow_client),
        FX_TEST(test_shutdown_with_streams_in_flight),
        FX_TEST(test_shutdown_forced),
        FX_TEST(test_stop_while_handler_runs),
        FX_TEST(test_many_concurrent_streams),
        FX_TEST(test_burst_of_one_full_epoll_batch),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
