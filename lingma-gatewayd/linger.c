/*
 * linger: read and discard until the client closes, then close (see
 * linger.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lingma/common.h"

#include "linger.h"

#define LINGER_MAX_BYTES (64u * 1024u * 1024u)
#define STOP_TAG         UINT64_MAX

struct slot {
    int fd; /* -1: free */
    uint64_t deadline_ms;
    size_t bytes;
};

struct gw_linger {
    pthread_t thread;
    int epfd;
    int stopfd;
    unsigned linger_ms;
    pthread_mutex_t mu; /* guards slots and count */
    struct slot *slots;
    size_t max;
    size_t count;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Close slot `i` (mu held). */
static void
release_locked(gw_linger *l, size_t i)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->slots[i].fd, NULL);
    close(l->slots[i].fd);
    l->slots[i].fd = -1;
    l->count--;
}

/* Read what is there; true when the slot is done (EOF, error, bound). */
static bool
drain(gw_linger *l, size_t i)
{
    char scratch[16384];
    for (;;) {
        ssize_t n = recv(l->slots[i].fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n > 0) {
            l->slots[i].bytes += (size_t)n;
            if (l->slots[i].bytes > LINGER_MAX_BYTES)
                return true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
}

static void *
linger_main(void *arg)
{
    gw_linger *l = arg;
    for (;;) {
        struct epoll_event evs[32];
        /* Wake at least every 100 ms to expire the time-bounded ones. */
        int n = epoll_wait(l->epfd, evs, 32, 100);
        if (n < 0 && errno != EINTR)
            return NULL;
        pthread_mutex_lock(&l->mu);
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u64 == STOP_TAG) {
                pthread_mutex_unlock(&l->mu);
                return NULL;
            }
            size_t i = (size_t)evs[k].data.u64;
            if (i < l->max && l->slots[i].fd >= 0 && drain(l, i))
                release_locked(l, i);
        }
        uint64_t now = now_ms();
        for (size_t i = 0; i < l->max && l->count; i++)
            if (l->slots[i].fd >= 0 && now >= l->slots[i].deadline_ms)
                release_locked(l, i);
        pthread_mutex_unlock(&l->mu);
    }
}

int
gw_linger_new(gw_linger **out, size_t max_fds, unsigned linger_ms)
{
    *out = NULL;
    gw_linger *l = calloc(1, sizeof(*l));
    if (!l)
        return LINGMA_ENOMEM;
    l->slots = calloc(max_fds ? max_fds : 1, sizeof(*l->slots));
    if (!l->slots) {
        free(l);
        return LINGMA_ENOMEM;
    }
    l->max = max_fds;
    l->linger_ms = linger_ms;
    for (size_t i = 0; i < max_fds; i++)
        l->slots[i].fd = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = STOP_TAG};
    if (l->epfd < 0 || l->stopfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev) < 0 ||
        pthread_mutex_init(&l->mu, NULL) != 0)
        goto fail;
    if (pthread_create(&l->thread, NULL, linger_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        goto fail;
    }
    *out = l;
    return LINGMA_OK;
fail:
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->stopfd >= 0)
        close(l->stopfd);
    free(l->slots);
    free(l);
    return LINGMA_ERROR;
}

void
gw_linger_add(gw_linger *l, int fd)
{
    if (fd < 0)
        return;
    shutdown(fd, SHUT_WR); /* the answer is complete: FIN after it */
    if (!l) {
        close(fd);
        return;
    }
    pthread_mutex_lock(&l->mu);
    size_t i = 0;
    while (i < l->max && l->slots[i].fd >= 0)
        i++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = i};
    if (i == l->max || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        pthread_mutex_unlock(&l->mu);
        close(fd); /* full: a plain close, as without lingering */
        return;
    }
    l->slots[i] = (struct slot){fd, now_ms() + l->linger_ms, 0};
    l->count++;
    pthread_mutex_unlock(&l->mu);
}

size_t
gw_linger_count(gw_linger *l)
{
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    size_t n = l->count;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void
gw_linger_free(gw_linger *l)
{
    if (!l)
        return;
    uint64_t one = 1;
    while (write(l->stopfd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    pthread_join(l->thread, NULL);
    for (size_t i = 0; i < l->max; i++)
        if (l->slots[i].fd >= 0)
            close(l->slots[i].fd);
    pthread_mutex_destroy(&l->mu);
    close(l->epfd);
    close(l->stopfd);
    free(l->slots);
    free(l);
}
