/*
 * watch: the gateway's own epoll thread that notices clients leaving.
 *
 * libmicrohttpd 0.9.75 does not poll a suspended connection, so a client
 * that closes its socket while its request waits (deferred answer, stream
 * with no data yet, stream between events) stays invisible until the next
 * write. The watcher registers each such client fd in a private epoll set
 * with EPOLLRDHUP only (no EPOLLIN: it must never consume or signal the
 * request bytes MHD still has to read) and EPOLLONESHOT (a hung-up socket
 * stays readable for ever; one report is enough). Entries are identified by
 * a caller-chosen 64-bit id, never by the fd alone: fds are reused as soon
 * as MHD closes them, and an event already fetched by epoll_wait may be
 * delivered after its entry was removed. The callback therefore receives the
 * id and the caller looks it up under its own lock.
 *
 * The same thread also runs an optional periodic tick (a timerfd in the same
 * epoll set) that the HTTP engine uses for SSE heartbeats.
 *
 * Threading: gw_watch_add/del may be called from any thread, also with the
 * caller's own locks held (they only call epoll_ctl). Callbacks run on the
 * watcher thread with no watcher lock held. gw_watch_free joins the thread
 * and must not be called from a callback.
 */
#ifndef GW_WATCH_H
#define GW_WATCH_H

#include <stdint.h>

typedef struct gw_watch gw_watch;

typedef struct gw_watch_ops {
    /* A watched fd reported EPOLLRDHUP, EPOLLHUP or EPOLLERR. The entry is
     * disarmed (one-shot) but still registered: call gw_watch_del as usual. */
    void (*on_hangup)(uint64_t id, void *payload);
    /* Called every tick_ms when tick_ms > 0. */
    void (*on_tick)(void *payload);
} gw_watch_ops;

/* Start the watcher thread. Returns 0 or LINGMA_ENOMEM / LINGMA_ERROR. */
int gw_watch_new(gw_watch **out, const gw_watch_ops *ops, unsigned tick_ms, void *payload);

/* Watch `fd` for hang-up, reporting `id`. Returns 0 or LINGMA_ERROR (errno kept). */
int gw_watch_add(gw_watch *w, int fd, uint64_t id);

/* Stop watching `fd`. Must be called before the fd is closed. Returns 0 or
 * LINGMA_ERROR when the fd was not registered. */
int gw_watch_del(gw_watch *w, int fd);

/* Stop and join the thread, close the epoll set. NULL-safe. */
void gw_watch_free(gw_watch *w);

#endif /* GW_WATCH_H */
