/* The gateway's client-gone watcher (lingma-gatewayd/watch.c) on socketpairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lingma/common.h"
#include "watch.h"

#define MAX_EVENTS 64

struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint64_t ids[MAX_EVENTS];
    int n;
    int ticks;
};

static void
rec_hangup(uint64_t id, void *payload)
{
    struct rec *r = payload;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAX_EVENTS)
        r->ids[r->n++] = id;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void
rec_tick(void *payload)
{
    struct rec *r = payload;
    pthread_mutex_lock(&r->mu);
    r->ticks++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void
rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void
rec_destroy(struct rec *r)
{
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
}

/* Bounded wait until *counter >= target; returns the final value. */
static int
rec_wait(struct rec *r, const int *counter, int target, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (*counter < target && pthread_cond_timedwait(&r->cond, &r->mu, &ts) != ETIMEDOUT) {
    }
    int v = *counter;
    pthread_mutex_unlock(&r->mu);
    return v;
}

static void
test_hangup_reported_once_by_id(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    gw_watch *w;
    gw_watch_ops ops = {rec_hangup, rec_tick};
    assert_int_equal(gw_watch_new(&w, &ops, 0, &r), LINGMA_OK);

    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    assert_int_equal(gw_watch_add(w, a[0], 41), LINGMA_OK);
    assert_int_equal(gw_watch_add(w, b[0], 42), LINGMA_OK);

    /* Pending request bytes are not a hang-up and are not consumed. */
    assert_int_equal(send(a[1], "GET", 3, MSG_NOSIGNAL), 3);
    close(b[1]);
    assert_int_equal(rec_wait(&r, &r.n, 1, 2000), 1);
    assert_int_equal(r.ids[0], 42);
    char buf[8];
    assert_int_equal(read(a[0], buf, sizeof(buf)), 3);

    /* A half-close (FIN) is reported too: that is EPOLLRDHUP. */
    shutdown(a[1], SHUT_WR);
    assert_int_equal(rec_wait(&r, &r.n, 2, 2000), 2);
    assert_int_equal(r.ids[1], 41);

    assert_int_equal(gw_watch_del(w, a[0]), LINGMA_OK);
    assert_int_equal(gw_watch_del(w, b[0]), LINGMA_OK);
    assert_int_equal(gw_watch_del(w, b[0]), LINGMA_ERROR);
    gw_watch_free(w);
    /* One-shot: each hung-up socket was reported exactly once. */
    assert_int_equal(r.n, 2);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    rec_destroy(&r);
}

static void
test_deleted_fd_is_silent(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    gw_watch *w;
    gw_watch_ops ops = {rec_hangup, NULL};
    assert_int_equal(gw_watch_new(&w, &ops, 0, &r), LINGMA_OK);
    int a[2], sentinel[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sentinel), 0);
    assert_int_equal(gw_watch_add(w, a[0], 7), LINGMA_OK);
    assert_int_equal(gw_watch_del(w, a[0]), LINGMA_OK);
    assert_int_equal(gw_watch_add(w, sentinel[0], 8), LINGMA_OK);
    close(a[1]);
    close(sentinel[1]);
    assert_int_equal(rec_wait(&r, &r.n, 1, 2000), 1);
    assert_int_equal(r.ids[0], 8);
    gw_watch_free(w);
    assert_int_equal(r.n, 1);
    close(a[0]);
    close(sentinel[0]);
    rec_destroy(&r);
}

static void
test_tick(void **state)
{
    (void)state;
    struct rec r;
    rec_init(&r);
    gw_watch *w;
    gw_watch_ops ops = {rec_hangup, rec_tick};
    assert_int_equal(gw_watch_new(&w, &ops, 10, &r), LINGMA_OK);
    assert_true(rec_wait(&r, &r.ticks, 3, 5000) >= 3);
    gw_watch_free(w);
    rec_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hangup_reported_once_by_id),
        cmocka_unit_test(test_deleted_fd_is_silent),
        cmocka_unit_test(test_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
