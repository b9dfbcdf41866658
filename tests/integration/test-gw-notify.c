/*
 * lingma-gatewayd's systemd notifications (lingma-gatewayd/notify.c), over
 * the real protocol: the test binds an AF_UNIX datagram socket, names it
 * in NOTIFY_SOCKET as systemd does, and reads what the daemon sends, with
 * the sender's credentials (SO_PASSCRED) to prove it was the daemon:
 *
 *   READY=1 once the listener is up, STOPPING=1 when SIGTERM starts the
 *   drain, WATCHDOG=1 every half WATCHDOG_USEC (during a drain too), and no
 *   WATCHDOG=1 at all when no watchdog is set for this process.
 *
 * Built only with libsystemd (meson's `systemd` feature).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "gwd.h"
#include "tmpdir.h"

#define MAX_MSGS 256

struct msg {
    char text[512];
    long long at; /* ms, monotonic */
    pid_t pid;    /* the sender, from SCM_CREDENTIALS */
};

struct listener {
    int fd;
    char dir[4096];
    char path[4200];
    struct msg msgs[MAX_MSGS];
    size_t n;
};

static void
listener_open(struct listener *l)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    assert_int_equal(tmpdir_make(l->dir, sizeof(l->dir), "notify"), 0);
    snprintf(l->path, sizeof(l->path), "%s/notify.sock", l->dir);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(l->path) < sizeof(a.sun_path));
    memcpy(a.sun_path, l->path, strlen(l->path) + 1);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    int one = 1;
    assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

/* Idempotent: the test closes it, the teardown again. */
static void
listener_close(struct listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->dir[0])
        tmpdir_remove(l->dir);
    l->dir[0] = '\0';
}

/* A test's listener and daemon, on the heap: the teardown ends both (the
 * daemon stopped, its work dir and the socket's removed) also when the
 * test failed half-way. */
struct notify_fx {
    struct listener l;
    struct gwd g;
};

static int
notify_setup(void **state)
{
    struct notify_fx *n = calloc(1, sizeof(*n));
    if (!n)
        return -1;
    n->l.fd = -1;
    *state = n;
    return 0;
}

static int
notify_teardown(void **state)
{
    struct notify_fx *n = *state;
    gwd_stop(&n->g);
    listener_close(&n->l);
    free(n);
    *state = NULL;
    return 0;
}

/* Receive datagrams for up to timeout_ms or until one contains `want`
 * (NULL: just collect). true when `want` arrived. */
static bool
listener_wait(struct listener *l, const char *want, int timeout_ms)
{
    long long end = gwd_now_ms() + timeout_ms;
    for (;;) {
        long long left = end - gwd_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {l->fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char buf[512];
        union {
            struct cmsghdr h;
            char b[CMSG_SPACE(sizeof(struct ucred))];
        } ctl;
        struct iovec iov = {buf, sizeof(buf) - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
        ssize_t r = recvmsg(l->fd, &mh, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        assert_true(r >= 0);
        buf[r] = '\0';
        assert_true(l->n < MAX_MSGS);
        struct msg *m = &l->msgs[l->n++];
        snprintf(m->text, sizeof(m->text), "%s", buf);
        m->at = gwd_now_ms();
        m->pid = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                struct ucred uc;
                memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                m->pid = uc.pid;
            }
        if (want && strstr(m->text, want))
            return true;
    }
}

/* How many received messages contain `what` (from index `from`). */
static size_t
count(const struct listener *l, const char *what, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < l->n; i++)
        n += strstr(l->msgs[i].text, what) != NULL;
    return n;
}

static size_t
index_of(const struct listener *l, const char *what)
{
    for (size_t i = 0; i < l->n; i++)
        if (strstr(l->msgs[i].text, what))
            return i;
    return l->n;
}

static void
test_ready_watchdog_stopping(void **state)
{
    struct notify_fx *n = *state;
    struct listener *l = &n->l;
    listener_open(l);
    char sock_env[4300];
    snprintf(sock_env, sizeof(sock_env), "NOTIFY_SOCKET=%s", l->path);
    /* A 1 s watchdog: the daemon must ping every 500 ms. */
    const char *const env[] = {sock_env, "WATCHDOG_USEC=1000000", "LINGMA_SIM_CHUNKS=4", NULL};
    struct gwd *g = &n->g;
    gwd_start(g, env, false);

    /* READY=1 comes after the listener is up, from the daemon itself. */
    assert_true(listener_wait(l, "READY=1", 15000));
    struct msg *ready = &l->msgs[index_of(l, "READY=1")];
    assert_int_equal(ready->pid, g->pid);
    char status[300];
    snprintf(status, sizeof(status), "STATUS=listening on %s", g->url);
    assert_non_null(strstr(ready->text, status));
    int fd = gwd_raw_connect(g);
    close(fd);

    /* Three pings, never further apart than WATCHDOG_USEC (systemd's
     * deadline), all from the daemon. */
    size_t first = l->n;
    long long end = gwd_now_ms() + 10000;
    while (count(l, "WATCHDOG=1", first) < 3 && gwd_now_ms() < end)
        listener_wait(l, "WATCHDOG=1", 2000);
    assert_true(count(l, "WATCHDOG=1", first) >= 3);
    long long prev = ready->at;
    for (size_t i = 0; i < l->n; i++) {
        if (!strstr(l->msgs[i].text, "WATCHDOG=1"))
            continue;
        assert_int_equal(l->msgs[i].pid, g->pid);
        assert_true(l->msgs[i].at - prev < 1000);
        prev = l->msgs[i].at;
    }

    /* A stream that outlives the next pings: the drain keeps pinging. */
    assert_true(gwd_wait_stat(g, "pool.ready", 1, 20000));
    gwd_sim_config(g, "{\"chunks\":8,\"chunk_ms\":250}");
    int s = gwd_raw_chat(g, "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"drain me\"}]}");
    assert_true(gwd_raw_read_until(s, "data: ", 10000));
    gwd_term(g);
    assert_true(listener_wait(l, "STOPPING=1", 5000));
    size_t stopping = index_of(l, "STOPPING=1");
    assert_int_equal(l->msgs[stopping].pid, g->pid);
    char *rest = gwd_raw_read(s, "data: [DONE]", 15000);
    assert_non_null(strstr(rest, "\"finish_reason\":\"stop\""));
    free(rest);
    close(s);
    assert_int_equal(gwd_wait_exit(g, 20000), 0);
    listener_wait(l, NULL, 50); /* whatever was still queued */
    assert_true(count(l, "WATCHDOG=1", stopping) >= 1);
    gwd_stop(g);
    listener_close(l);
}

/* No watchdog for this process (none set, or WATCHDOG_PID names another
 * process): READY=1 and STOPPING=1 only. */
static void
test_no_watchdog(void **state)
{
    struct notify_fx *n = *state;
    for (int round = 0; round < 2; round++) {
        struct listener *l = &n->l;
        listener_open(l);
        char sock_env[4300];
        snprintf(sock_env, sizeof(sock_env), "NOTIFY_SOCKET=%s", l->path);
        const char *const env0[] = {sock_env, NULL};
        const char *const env1[] = {sock_env, "WATCHDOG_USEC=100000", "WATCHDOG_PID=1", NULL};
        struct gwd *g = &n->g;
        gwd_start(g, round == 0 ? env0 : env1, true);
        assert_true(listener_wait(l, "READY=1", 15000));
        /* A window of six pings at 50 ms, had a watchdog been armed. */
        assert_false(listener_wait(l, "WATCHDOG=1", 300));
        gwd_term(g);
        assert_true(listener_wait(l, "STOPPING=1", 5000));
        assert_int_equal(gwd_wait_exit(g, 20000), 0);
        listener_wait(l, NULL, 50);
        assert_int_equal(count(l, "WATCHDOG=1", 0), 0);
        gwd_stop(g);
        listener_close(l);
    }
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_watchdog_stopping, notify_setup,
                                        notify_teardown),
        cmocka_unit_test_setup_teardown(test_no_watchdog, notify_setup, notify_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
