/*
 * Integration: the pool's event loop (liblingma/rt/loop_lws.c) against a
 * real lingma-sim over a real WebSocket, through the loop's own API.
 *
 * What it holds: frames kicked from on_wake, from a received-data callback
 * and from a timer all go out and are answered, in order, whole (a frame
 * of several WebSocket fragments too); the ones kicked where lws does not
 * poll first are written without a WRITEABLE callback, and no WRITEABLE
 * callback is asked for once the queue is empty.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lingma/sys/frame.h"
#include "loop.h"
#include "simproc.h"

#define WAIT_MS simproc_scale(10000)

struct lt {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lingma__loop *loop;
    struct lingma__ws *ws;
    struct lingma__timer *tm;
    struct simproc p;
    lingma_frame_decoder *dec;
    /* test thread -> service thread, under mu */
    int open_req, pings_req, big_req, timer_req, echo_req, stop_req;
    /* service thread only */
    char *out;
    size_t out_len, out_cap, out_sent;
    char *pulled;
    int echo; /* answers left to chain: each reply queues one more ping */
    int64_t next_id;
    /* service thread -> test thread, under mu */
    int opened, closed;
    int64_t replies, last_id, bad_order;
    struct lingma__loop_stats stats; /* at the last data callback */
    struct lingma__loop_stats base;  /* when on_wake took the last request */
};

/* A framed ping with id `id`, and `pad` bytes of padding in its params. */
static void
queue_ping(struct lt *t, size_t pad)
{
    int64_t id = ++t->next_id;
    char head[160];
    int n = snprintf(head, sizeof(head), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"ping\",",
                     (long long)id);
    size_t body = (size_t)n + strlen("\"params\":{\"pad\":\"\"}}") + pad;
    size_t need = t->out_len + body + 64;
    if (need > t->out_cap) {
        t->out_cap = need * 2;
        t->out = realloc(t->out, t->out_cap);
        assert_non_null(t->out);
    }
    t->out_len += (size_t)snprintf(t->out + t->out_len, 64, "Content-Length: %zu\r\n\r\n", body);
    memcpy(t->out + t->out_len, head, (size_t)n);
    t->out_len += (size_t)n;
    memcpy(t->out + t->out_len, "\"params\":{\"pad\":\"", 17);
    t->out_len += 17;
    memset(t->out + t->out_len, 'x', pad);
    t->out_len += pad;
    memcpy(t->out + t->out_len, "\"}}", 3);
    t->out_len += 3;
}

static int
on_frame(const char *body, size_t len, void *ud)
{
    struct lt *t = ud;
    const char *id = memmem(body, len, "\"id\":", 5);
    long long v = id ? strtoll(id + 5, NULL, 10) : -1;

    pthread_mutex_lock(&t->mu);
    if (!memmem(body, len, "\"success\":true", 14) || v != t->last_id + 1)
        t->bad_order++;
    t->last_id = v;
    t->replies++;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static void
ws_open_cb(struct lingma__ws *ws, void *ud)
{
    struct lt *t = ud;
    (void)ws;
    pthread_mutex_lock(&t->mu);
    t->opened = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void
ws_data_cb(struct lingma__ws *ws, const void *data, size_t len, void *ud)
{
    struct lt *t = ud;
    int64_t before = t->replies; /* written on this thread only */

    assert_int_equal(lingma_frame_decoder_feed(t->dec, data, len, on_frame, t), 0);
    /* Chained: a reply queues the next ping from inside the callback. */
    for (int64_t k = before; k < t->replies && t->echo > 0; k++) {
        t->echo--;
        queue_ping(t, 10);
        lingma__ws_kick(ws);
    }
    pthread_mutex_lock(&t->mu);
    lingma__loop_get_stats(t->loop, &t->stats);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static size_t
ws_pull_cb(struct lingma__ws *ws, const char **out, void *ud)
{
    struct lt *t = ud;
    (void)ws;
    /* Hand out what is queued, at most 3000 bytes at a time: several
     * pulls make one message. */
    if (t->out_sent >= t->out_len) {
        t->out_len = t->out_sent = 0;
        return 0;
    }
    size_t n = t->out_len - t->out_sent;
    if (n > 3000)
        n = 3000;
    free(t->pulled);
    t->pulled = malloc(n);
    assert_non_null(t->pulled);
    memcpy(t->pulled, t->out + t->out_sent, n);
    t->out_sent += n;
    *out = t->pulled;
    return n;
}

static void
ws_close_cb(struct lingma__ws *ws, int opened, const char *why, void *ud)
{
    struct lt *t = ud;
    (void)ws;
    (void)opened;
    (void)why;
    pthread_mutex_lock(&t->mu);
    t->ws = NULL;
    t->closed = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static const struct lingma__ws_cbs cbs = {ws_open_cb, ws_data_cb, ws_pull_cb, ws_close_cb};

static void
on_timer(void *ud)
{
    struct lt *t = ud;
    /* Inside lws_service(), before its poll. */
    queue_ping(t, 10);
    lingma__ws_kick(t->ws);
}

static void
on_wake(void *ud)
{
    struct lt *t = ud;

    pthread_mutex_lock(&t->mu);
    int open = t->open_req, pings = t->pings_req, big = t->big_req, timer = t->timer_req;
    int echo = t->echo_req, stop = t->stop_req;
    t->open_req = t->pings_req = t->big_req = t->timer_req = t->echo_req = t->stop_req = 0;
    if (pings || big || timer || echo)
        lingma__loop_get_stats(t->loop, &t->base);
    pthread_mutex_unlock(&t->mu);

    if (stop) {
        lingma__ws_close(t->ws);
        t->ws = NULL;
        lingma__timer_free(t->tm);
        t->tm = NULL;
        lingma__loop_quit(t->loop);
        return;
    }
    if (open)
        assert_int_equal(lingma__ws_open(&t->ws, t->loop, t->p.port, &cbs, t), 0);
    for (int i = 0; i < pings; i++)
        queue_ping(t, 10);
    if (big)
        queue_ping(t, 200000); /* four 64 KiB fragments */
    if (timer) {
        if (!t->tm)
            t->tm = lingma__timer_new(t->loop, on_timer, t);
        assert_non_null(t->tm);
        lingma__timer_arm(t->tm, 1);
    }
    if (echo) {
        t->echo = echo - 1;
        queue_ping(t, 10);
    }
    if (t->ws && (pings || big || echo))
        lingma__ws_kick(t->ws);
}

/* Wait (bounded) until `replies` replies came; the stats are then fresh. */
static void
wait_replies(struct lt *t, int64_t replies)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000 + 1;
    pthread_mutex_lock(&t->mu);
    while (t->replies < replies && !t->closed) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &until) != 0)
            break;
    }
    int64_t got = t->replies;
    pthread_mutex_unlock(&t->mu);
    assert_int_equal(got, replies);
}

static void
post(struct lt *t, int *field, int v)
{
    pthread_mutex_lock(&t->mu);
    *field = v;
    pthread_mutex_unlock(&t->mu);
    lingma__loop_wake(t->loop);
}

static int
setup(void **state)
{
    struct lt *t = calloc(1, sizeof(*t));
    struct lingma__loop_opts o = {0};

    assert_non_null(t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    assert_int_equal(simproc_start(&t->p, NULL, NULL, WAIT_MS), 0);
    assert_int_equal(lingma_frame_decoder_new(&t->dec, 0, NULL), 0);
    o.on_wake = on_wake;
    o.ud = t;
    assert_int_equal(lingma__loop_new(&t->loop, &o), 0);
    assert_int_equal(lingma__loop_start(t->loop), 0);
    post(t, &t->open_req, 1);

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000 + 1;
    pthread_mutex_lock(&t->mu);
    while (!t->opened && !t->closed)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &until) != 0)
            break;
    int opened = t->opened;
    pthread_mutex_unlock(&t->mu);
    assert_true(opened);
    /* One exchange first: what the opening did is over before a test
     * counts anything. */
    post(t, &t->pings_req, 1);
    wait_replies(t, 1);
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct lt *t = *state;
    post(t, &t->stop_req, 1);
    lingma__loop_join(t->loop);
    lingma__loop_free(t->loop);
    simproc_cleanup(&t->p);
    lingma_frame_decoder_free(t->dec);
    free(t->out);
    free(t->pulled);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return 0;
}

/* The counters' growth since on_wake took the request, to the last reply. */
static struct lingma__loop_stats
grown(struct lt *t)
{
    pthread_mutex_lock(&t->mu);
    struct lingma__loop_stats s = t->stats;
    s.writes_direct -= t->base.writes_direct;
    s.writes_writeable -= t->base.writes_writeable;
    s.writeable_idle -= t->base.writeable_idle;
    assert_int_equal(t->bad_order, 0);
    pthread_mutex_unlock(&t->mu);
    return s;
}

/* Kicked from on_wake: written right after it, no WRITEABLE round; and
 * none asked for afterwards. */
static void
test_kick_from_wake_writes_directly(void **state)
{
    struct lt *t = *state;

    post(t, &t->pings_req, 3);
    wait_replies(t, 1 + 3);
    struct lingma__loop_stats s = grown(t);
    assert_int_equal(s.writes_direct, 1); /* three frames, one message */
    assert_int_equal(s.writes_writeable, 0);
    assert_int_equal(s.writeable_idle, 0);
}

/* Kicked from the received-data callback (lws' I/O phase): the next ping
 * of a chain goes out each time, directly. */
static void
test_kick_from_data_callback(void **state)
{
    struct lt *t = *state;

    post(t, &t->echo_req, 20);
    wait_replies(t, 1 + 20);
    struct lingma__loop_stats s = grown(t);
    assert_int_equal(s.writes_direct, 20);
    assert_int_equal(s.writes_writeable, 0);
    assert_int_equal(s.writeable_idle, 0);
}

/* A frame of several WebSocket fragments: the first goes directly, the
 * rest in WRITEABLE callbacks; frames queued meanwhile follow in order. */
static void
test_fragmented_message(void **state)
{
    struct lt *t = *state;

    pthread_mutex_lock(&t->mu);
    t->big_req = 1;
    t->pings_req = 2;
    pthread_mutex_unlock(&t->mu);
    lingma__loop_wake(t->loop);
    wait_replies(t, 1 + 3);
    struct lingma__loop_stats s = grown(t);
    assert_int_equal(s.writes_direct, 1);
    assert_true(s.writes_writeable >= 3);
}

/* Kicked from a timer, before lws polls: WRITEABLE is asked for, so the
 * frame does not wait for the next wake-up. */
static void
test_kick_from_timer(void **state)
{
    struct lt *t = *state;

    for (int i = 1; i <= 3; i++) {
        post(t, &t->timer_req, 1);
        wait_replies(t, 1 + i);
    }
    grown(t);
}

int
main(void)
{
    if (!simproc_bin()) {
        fprintf(stderr, "LINGMA_SIM_BIN is not set\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kick_from_wake_writes_directly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_from_data_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragmented_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_from_timer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
