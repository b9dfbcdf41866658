/* watch: client hang-up detection and the engine tick, on one epoll thread. */
#include "watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lingma/common.h"

/* epoll data of the two private fds; client ids are never this large
 * because the engine counts them from 1. */
#define WATCH_ID_STOP UINT64_MAX
#define WATCH_ID_TICK (UINT64_MAX - 1)

struct gw_watch {
    gw_watch_ops ops;
    void *payload;
    int epfd;
    int stopfd;
    int tickfd;
    pthread_t thread;
};

static void *
watch_main(void *arg)
{
    gw_watch *w = arg;
    struct epoll_event evs[64];

    for (;;) {
        int n = epoll_wait(w->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            uint64_t id = evs[i].data.u64;
            if (id == WATCH_ID_STOP)
                return NULL;
            if (id == WATCH_ID_TICK) {
                uint64_t expirations;
                /* Drain the timerfd so it stops being readable. */
                if (read(w->tickfd, &expirations, sizeof(expirations)) > 0 && w->ops.on_tick)
                    w->ops.on_tick(w->payload);
                continue;
            }
            if (w->ops.on_hangup)
                w->ops.on_hangup(id, w->payload);
        }
    }
}

static int
watch_add_private(gw_watch *w, int fd, uint64_t id)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
gw_watch_new(gw_watch **out, const gw_watch_ops *ops, unsigned tick_ms, void *payload)
{
    *out = NULL;
    gw_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return LINGMA_ENOMEM;
    w->ops = *ops;
    w->payload = payload;
    w->stopfd = -1;
    w->tickfd = -1;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        goto fail;
    w->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->stopfd < 0 || watch_add_private(w, w->stopfd, WATCH_ID_STOP) < 0)
        goto fail;
    if (tick_ms > 0) {
        struct itimerspec its;
        memset(&its, 0, sizeof(its));
        its.it_interval.tv_sec = tick_ms / 1000;
        its.it_interval.tv_nsec = (long)(tick_ms % 1000) * 1000000L;
        its.it_value = its.it_interval;
        w->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (w->tickfd < 0 || timerfd_settime(w->tickfd, 0, &its, NULL) < 0 ||
            watch_add_private(w, w->tickfd, WATCH_ID_TICK) < 0)
            goto fail;
    }
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0)
        goto fail;
    *out = w;
    return LINGMA_OK;

fail:
    if (w->tickfd >= 0)
        close(w->tickfd);
    if (w->stopfd >= 0)
        close(w->stopfd);
    if (w->epfd >= 0)
        close(w->epfd);
    free(w);
    return LINGMA_ERROR;
}

int
gw_watch_add(gw_watch *w, int fd, uint64_t id)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    /* EPOLLHUP and EPOLLERR are always reported; RDHUP is the FIN case. */
    ev.events = EPOLLRDHUP | EPOLLONESHOT;
    ev.data.u64 = id;
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? LINGMA_OK : LINGMA_ERROR;
}

int
gw_watch_del(gw_watch *w, int fd)
{
    return epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) == 0 ? LINGMA_OK : LINGMA_ERROR;
}

void
gw_watch_free(gw_watch *w)
{
    if (!w)
        return;
    uint64_t one = 1;
    /* An eventfd write only fails on counter overflow, impossible here. */
    while (write(w->stopfd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    pthread_join(w->thread, NULL);
    if (w->tickfd >= 0)
        close(w->tickfd);
    close(w->stopfd);
    close(w->epfd);
    free(w);
}
