/* The gateway's client-gone watcher (lingma-gatewayd/watch.c) on socketpairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
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

/* A test's recorder, watcher and sockets, on the heap: the watcher's thread
 * calls into the recorder, so the teardown frees the watcher before the
 * recorder, and closes the sockets left open, also when the test failed
 * half-way (cmocka longjmps out of it). */
struct wfx {
    struct rec r;
    gw_watch *w;
    int fd[4];
};

static int
wfx_setup(void **state)
{
    struct wfx *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    rec_init(&x->r);
    for (int i = 0; i < 4; i++)
        x->fd[i] = -1;
    *state = x;
    return 0;
}

static void
watch_free(struct wfx *x)
{
    gw_watch_free(x->w);
    x->w = NULL;
}

/* Close *fd and forget it (the teardown closes what is left). */
static void
fd_close(int *fd)
{
    close(*fd);
    *fd = -1;
}

static int
wfx_teardown(void **state)
{
    struct wfx *x = *state;
    if (x->w)
        watch_free(x);
    for (int i = 0; i < 4; i++)
        if (x->fd[i] >= 0)
            fd_close(&x->fd[i]);
    rec_destroy(&x->r);
    free(x);
    *state = NULL;
    return 0;
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
    struct wfx *x = *state;
    struct rec *r = &x->r;
    gw_watch_ops ops = {rec_hangup, rec_tick};
    assert_int_equal(gw_watch_new(&x->w, &ops, 0, r), LINGMA_OK);

    int *a = x->fd, *b = x->fd + 2;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    assert_int_equal(gw_watch_add(x->w, a[0], 41), LINGMA_OK);
    assert_int_equal(gw_watch_add(x->w, b[0], 42), LINGMA_OK);

    /* Pending request bytes are not a hang-up and are not consumed. */
    assert_int_equal(send(a[1], "GET", 3, MSG_NOSIGNAL), 3);
    fd_close(&b[1]);
    assert_int_equal(rec_wait(r, &r->n, 1, 2000), 1);
    assert_int_equal(r->ids[0], 42);
    char buf[8];
    assert_int_equal(read(a[0], buf, sizeof(buf)), 3);

    /* A half-close (FIN) is reported too: that is EPOLLRDHUP. */
    shutdown(a[1], SHUT_WR);
    assert_int_equal(rec_wait(r, &r->n, 2, 2000), 2);
    assert_int_equal(r->ids[1], 41);

    assert_int_equal(gw_watch_del(x->w, a[0]), LINGMA_OK);
    assert_int_equal(gw_watch_del(x->w, b[0]), LINGMA_OK);
    assert_int_equal(gw_watch_del(x->w, b[0]), LINGMA_ERROR);
    watch_free(x);
    /* One-shot: each hung-up socket was reported exactly once. */
    assert_int_equal(r->n, 2);
}

static void
test_deleted_fd_is_silent(void **state)
{
    struct wfx *x = *state;
    struct rec *r = &x->r;
    gw_watch_ops ops = {rec_hangup, NULL};
    assert_int_equal(gw_watch_new(&x->w, &ops, 0, r), LINGMA_OK);
    int *a = x->fd, *sentinel = x->fd + 2;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sentinel), 0);
    assert_int_equal(gw_watch_add(x->w, a[0], 7), LINGMA_OK);
    assert_int_equal(gw_watch_del(x->w, a[0]), LINGMA_OK);
    assert_int_equal(gw_watch_add(x->w, sentinel[0], 8), LINGMA_OK);
    fd_close(&a[1]);
    fd_close(&sentinel[1]);
    assert_int_equal(rec_wait(r, &r->n, 1, 2000), 1);
    assert_int_equal(r->ids[0], 8);
    watch_free(x);
    assert_int_equal(r->n, 1);
}

static void
test_tick(void **state)
{
    struct wfx *x = *state;
    struct rec *r = &x->r;
    gw_watch_ops ops = {rec_hangup, rec_tick};
    assert_int_equal(gw_watch_new(&x->w, &ops, 10, r), LINGMA_OK);
    assert_true(rec_wait(r, &r->ticks, 3, 5000) >= 3);
    watch_free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hangup_reported_once_by_id, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_deleted_fd_is_silent, wfx_setup, wfx_teardown),
        cmocka_unit_test_setup_teardown(test_tick, wfx_setup, wfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
