/* lingma-bench: the loopback relay floor (see floor.h). */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "floor.h"

static int
nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* The child: stamps until the duration is over, then closes. Only
 * syscalls here: the parent may have other threads. */
static void
writer(const struct sockaddr_in *a, double duration_s, double gap_ms)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) != 0)
        _exit(1);
    nodelay(fd);
    uint64_t end = now_ns() + (uint64_t)(duration_s * 1e9);
    struct timespec gap = {(time_t)(gap_ms / 1e3), (long)(gap_ms * 1e6) % 1000000000L};
    while (now_ns() < end) {
        nanosleep(&gap, NULL);
        uint64_t t = now_ns(), ack;
        if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t) ||
            read(fd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
            _exit(1);
    }
    _exit(0);
}

/* A listening loopback socket and its address. -1 on failure. */
static int
listen_loopback(struct sockaddr_in *a)
{
    socklen_t alen = sizeof(*a);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)a, sizeof(*a)) != 0 ||
        getsockname(lfd, (struct sockaddr *)a, &alen) != 0 || listen(lfd, 1) != 0) {
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    return lfd;
}

/* Fork the stamping child and accept its connection: the connected fd, or
 * -1 (then *pid says whether a child exists to reap). */
static int
start_writer(double duration_s, double gap_ms, pid_t *pid)
{
    struct sockaddr_in a;
    int lfd = listen_loopback(&a);
    *pid = -1;
    if (lfd < 0)
        return -1;
    *pid = fork();
    if (*pid == 0)
        writer(&a, duration_s, gap_ms);
    int fd = *pid > 0 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
    close(lfd);
    if (fd >= 0)
        nodelay(fd);
    return fd;
}

/* Reap the child and fill in the run's outcome. */
static int
finish_run(pid_t pid, int ok, uint64_t t0, const char *what, struct run *r)
{
    int status = 0;
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    r->elapsed_s = (double)(now_ns() - t0) / 1e9;
    if (pid < 0 || !ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r->failed++;
        snprintf(r->first_error, sizeof(r->first_error), "%s: the loopback pair failed", what);
        return -1;
    }
    r->ok = 1;
    return 0;
}

static void
record_stamp(struct run *r, uint64_t stamp, uint64_t t)
{
    if (stamp <= t)
        samples_add(&r->relay, (double)(t - stamp) / 1e3);
    r->chunks++;
}

int
floor_run(double duration_s, double gap_ms, struct run *r)
{
    uint64_t t0 = now_ns();
    pid_t pid;
    int fd = start_writer(duration_s, gap_ms, &pid);
    if (fd >= 0) {
        for (;;) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, (int)(gap_ms * 10 + 1000)) <= 0)
                break;
            uint64_t stamp;
            if (read(fd, &stamp, sizeof(stamp)) != (ssize_t)sizeof(stamp))
                break; /* the writer is done */
            record_stamp(r, stamp, now_ns());
            if (write(fd, &stamp, sizeof(stamp)) != (ssize_t)sizeof(stamp))
                break;
        }
        close(fd);
    }
    return finish_run(pid, fd >= 0, t0, "floor", r);
}

/* ---- the chain ---- */

#define CHAIN_SLOTS 64

struct chain {
    int in;      /* from the writer: hop 1 */
    int efd;     /* hop 2 */
    int out_w;   /* hop 3, the relay's end */
    int out_r;   /* hop 3, our end */
    int timeout; /* ms, any wait */
    pthread_mutex_t mu;
    uint64_t slot[CHAIN_SLOTS];
    unsigned n;
    int done;
};

/* Hop 1's reader, as liblingma's service thread: read, ACK, hand over
 * under a mutex and write the eventfd, as the engine's resume does. */
static void *
chain_service(void *arg)
{
    struct chain *ch = arg;
    for (;;) {
        struct pollfd p = {ch->in, POLLIN, 0};
        uint64_t stamp, one = 1;
        if (poll(&p, 1, ch->timeout) <= 0 ||
            read(ch->in, &stamp, sizeof(stamp)) != (ssize_t)sizeof(stamp) ||
            write(ch->in, &stamp, sizeof(stamp)) != (ssize_t)sizeof(stamp))
            break;
        pthread_mutex_lock(&ch->mu);
        if (ch->n < CHAIN_SLOTS)
            ch->slot[ch->n++] = stamp;
        pthread_mutex_unlock(&ch->mu);
        if (write(ch->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
            break;
    }
    uint64_t one = 1;
    pthread_mutex_lock(&ch->mu);
    ch->done = 1;
    pthread_mutex_unlock(&ch->mu);
    if (write(ch->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        shutdown(ch->out_w, SHUT_WR);
    return NULL;
}

/* Hop 2's waiter, as libmicrohttpd's thread: epoll_wait on the eventfd,
 * then send what was handed over to the client's socket. */
static void *
chain_http(void *arg)
{
    struct chain *ch = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ch->efd};
    if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ch->efd, &ev) == 0) {
        for (;;) {
            uint64_t cnt, batch[CHAIN_SLOTS];
            if (epoll_wait(ep, &ev, 1, ch->timeout) <= 0 ||
                read(ch->efd, &cnt, sizeof(cnt)) != (ssize_t)sizeof(cnt))
                break;
            pthread_mutex_lock(&ch->mu);
            unsigned n = ch->n;
            int done = ch->done;
            memcpy(batch, ch->slot, n * sizeof(batch[0]));
            ch->n = 0;
            pthread_mutex_unlock(&ch->mu);
            size_t len = n * sizeof(batch[0]);
            if (n > 0 && send(ch->out_w, batch, len, MSG_NOSIGNAL) != (ssize_t)len)
                break;
            if (done)
                break;
        }
    }
    if (ep >= 0)
        close(ep);
    shutdown(ch->out_w, SHUT_WR);
    return NULL;
}

/* A connected loopback TCP pair, TCP_NODELAY on both ends. */
static int
loopback_pair(int fds[2])
{
    struct sockaddr_in a;
    int lfd = listen_loopback(&a);
    fds[0] = fds[1] = -1;
    if (lfd < 0)
        return -1;
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] >= 0 && connect(fds[0], (struct sockaddr *)&a, sizeof(a)) == 0)
        fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    close(lfd);
    if (fds[1] < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        return -1;
    }
    nodelay(fds[0]);
    nodelay(fds[1]);
    return 0;
}

/* The client's end: read stamps as they come, until the relay closes. */
static void
chain_client(struct chain *ch, struct run *r)
{
    uint64_t buf[CHAIN_SLOTS];
    size_t have = 0; /* bytes of a partial stamp at the front of buf */
    for (;;) {
        struct pollfd p = {ch->out_r, POLLIN, 0};
        if (poll(&p, 1, ch->timeout) <= 0)
            break;
        ssize_t n = read(ch->out_r, (char *)buf + have, sizeof(buf) - have);
        if (n <= 0)
            break;
        uint64_t t = now_ns();
        have += (size_t)n;
        size_t whole = have / sizeof(buf[0]);
        for (size_t i = 0; i < whole; i++)
            record_stamp(r, buf[i], t);
        have -= whole * sizeof(buf[0]);
        memmove(buf, (char *)buf + whole * sizeof(buf[0]), have);
    }
}

int
floor_run_chain(double duration_s, double gap_ms, struct run *r)
{
    uint64_t t0 = now_ns();
    struct chain ch = {.in = -1, .efd = -1, .timeout = (int)(gap_ms * 10 + 1000)};
    int pair[2] = {-1, -1};
    pthread_t ts, th;
    int ok = 0;
    pid_t pid = -1;

    pthread_mutex_init(&ch.mu, NULL);
    ch.efd = eventfd(0, EFD_CLOEXEC);
    if (ch.efd >= 0 && loopback_pair(pair) == 0) {
        ch.out_w = pair[0];
        ch.out_r = pair[1];
        ch.in = start_writer(duration_s, gap_ms, &pid);
    }
    if (ch.in >= 0 && pthread_create(&th, NULL, chain_http, &ch) == 0) {
        if (pthread_create(&ts, NULL, chain_service, &ch) == 0) {
            chain_client(&ch, r);
            /* Unblocks the service thread if we left early. */
            shutdown(ch.in, SHUT_RDWR);
            pthread_join(ts, NULL);
            ok = 1;
        }
        /* Without a service thread, its epoll_wait times out. */
        pthread_join(th, NULL);
    }
    if (ch.in >= 0)
        close(ch.in);
    for (int i = 0; i < 2; i++)
        if (pair[i] >= 0)
            close(pair[i]);
    if (ch.efd >= 0)
        close(ch.efd);
    pthread_mutex_destroy(&ch.mu);
    return finish_run(pid, ok, t0, "floor chain", r);
}
