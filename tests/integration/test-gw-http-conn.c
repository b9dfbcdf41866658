/*
 * The engine's hang-up watcher per connection: it watches a client's socket
 * from MHD's accept to its close, once, whatever number of requests the
 * connection carries. A hang-up still concerns the request on the
 * connection at the time (or the next one, when it came between two), and
 * fds reused by new connections are never confused with old ones. Raw
 * sockets, so that each request's place on its connection is exact.
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
#include <sys/socket.h>

#include "gw-fixture.h"

static int
conn_open(struct fx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void
conn_send(int fd, const char *text)
{
    size_t n = strlen(text);
    assert_int_equal(send(fd, text, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until `count` answers of /immediate ("hello" bodies) are in;
 * bounded by 5 s. */
static void
conn_read_hellos(int fd, int count)
{
    char buf[8192];
    size_t len = 0;
    double deadline = fx_now() + fx_ms(5000) / 1000.0;
    for (;;) {
        int seen = 0;
        buf[len] = '\0';
        for (const char *p = buf; (p = strstr(p, "\r\n\r\nhello")) != NULL; p += 9)
            seen++;
        if (seen >= count)
            return;
        assert_true(len + 1 < sizeof(buf));
        double left = deadline - fx_now();
        assert_true(left > 0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, (int)(left * 1000) + 1), 1);
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        assert_true(n > 0);
        len += (size_t)n;
    }
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"

/* Send /hang on `fd`, wait until it is suspended, leave, and check that the
 * route heard of it (on_gone within a second, its late answer canceled) and
 * that it is the only request whose client left. Stops the engine. */
static void
hang_leave_and_stop(struct fx *f, int fd, uint64_t requests)
{
    conn_send(fd, GET("/hang"));
    assert_true(fx_wait_stat(f, FX_STAT(suspended), 1, 5000));
    assert_int_equal(fx_get(f, &f->gone), 0);
    double t = fx_now();
    close(fd);
    assert_int_equal(fx_wait(f, &f->gone, 1, 1000), 1);
    print_message("on_gone %.1f ms after the client closed\n", (fx_now() - t) * 1000);
    assert_int_equal(fx_wait(f, &f->finished, 1, 2000), 1);
    assert_int_equal(fx_get(f, &f->late_canceled), 1);
    assert_true(fx_wait_stat(f, FX_STAT(requests_active), 0, 2000));
    assert_int_equal(fx_stats(f).gone_total, 1);
    assert_int_equal(fx_stats(f).requests_total, requests);
    fx_stop(f, 1000);
    assert_int_equal(f->unexpected, 0);
}

static void
start(struct fx *f)
{
    gw_http_options o = fx_options();
    assert_int_equal(fx_start(f, &o), LINGMA_OK);
}

/* One /immediate request on `fd`, its answer read. */
static void
conn_hello(int fd)
{
    conn_send(fd, GET("/immediate"));
    conn_read_hellos(fd, 1);
}

/* A client that leaves during its third request on one keep-alive
 * connection: the route hears of it as it would on the first. */
static void
test_gone_on_a_later_request(void **state)
{
    struct fx *f = *state;
    start(f);
    int fd = conn_open(f);
    conn_hello(fd);
    conn_hello(fd);
    hang_leave_and_stop(f, fd, 3);
}

/* Connections that come and go, idle or after an answer, leave nothing
 * behind that a later connection (which gets one of their fds) could be
 * taken for: only the client that leaves a pending request is gone. */
static void
test_reused_fds_are_not_confused(void **state)
{
    struct fx *f = *state;
    start(f);
    for (int i = 0; i < 50; i++) {
        int idle = conn_open(f);
        int fd = conn_open(f);
        conn_hello(fd);
        /* Completed before the client leaves: a hang-up between requests
         * concerns no request (gone_total below counts every one). */
        assert_true(fx_wait_stat(f, FX_STAT(requests_active), 0, 2000));
        close(idle);
        close(fd);
    }
    hang_leave_and_stop(f, conn_open(f), 51);
}

/* The client sends half a body and its FIN at once, which the watcher may
 * see before MHD has even read the head: the request is still closed
 * within a second (MHD alone would wait for the idle timeout), and the
 * handler never runs. */
static void
test_fin_with_the_head_of_an_upload(void **state)
{
    struct fx *f = *state;
    start(f);
    int fd = conn_open(f);
    conn_send(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_true(fx_wait_stat(f, FX_STAT(requests_total), 1, 5000));
    assert_true(fx_wait_stat(f, FX_STAT(requests_active), 0, 1000));
    assert_int_equal(fx_get(f, &f->handled), 0);
    close(fd);
    fx_stop(f, 1000);
    assert_int_equal(f->unexpected, 0);
}

/* A head with more fields than the engine keeps on its stack while it
 * copies them: every one still reaches the route (the last one read here). */
static void
test_many_header_fields(void **state)
{
    struct fx *f = *state;
    start(f);
    char head[4096];
    int n = snprintf(head, sizeof(head), "GET /echo?q=1 HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 70; i++)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "X-Filler-%d: %d\r\n", i, i);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "X-Case: last\r\n\r\n");
    assert_true(n > 0 && (size_t)n < sizeof(head));
    int fd = conn_open(f);
    conn_send(fd, head);
    char buf[2048] = "";
    size_t len = 0;
    double deadline = fx_now() + fx_ms(5000) / 1000.0;
    while (!strstr(buf, "len=0:")) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_true(fx_now() < deadline);
        assert_int_equal(poll(&pfd, 1, 100 + (int)((deadline - fx_now()) * 1000)), 1);
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        assert_true(r > 0);
        len += (size_t)r;
        buf[len] = '\0';
    }
    assert_non_null(strstr(buf, "GET /echo q=1 flag=(null) none=(null) case=last len=0:"));
    close(fd);
    fx_stop(f, 1000);
    assert_int_equal(f->unexpected, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(test_gone_on_a_later_request),
        FX_TEST(test_reused_fds_are_not_confused),
        FX_TEST(test_fin_with_the_head_of_an_upload),
        FX_TEST(test_many_header_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
