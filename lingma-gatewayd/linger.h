/*
 * linger: a lingering close, as nginx does, for connections the engine
 * answered without reading what the client is still sending.
 *
 * A refusal decided from the head (401, 404, 413, 431…) goes out while the
 * client may still be uploading its body. Closing a TCP socket that has
 * unread bytes makes the kernel send a reset, and a reset makes the
 * client's kernel drop whatever it had received but the client had not
 * read yet: the answer itself. The client then sees "connection reset"
 * instead of a 413. Lingering keeps the socket open (through a dup of
 * its fd, so libmicrohttpd may close its own), after the write side was
 * shut, and reads and discards what arrives until the client closes, a
 * byte bound or a time bound; only then is it closed.
 *
 * One small thread with its own epoll set. Bounded: at most `max_fds`
 * sockets linger at once (beyond that a socket is closed at once, as
 * without lingering), each at most `linger_ms` and LINGER_MAX_BYTES.
 */
#ifndef GW_LINGER_H
#define GW_LINGER_H

#include <stddef.h>

typedef struct gw_linger gw_linger;

/* Start the thread. Returns 0, LINGMA_ENOMEM or LINGMA_ERROR. */
int gw_linger_new(gw_linger **out, size_t max_fds, unsigned linger_ms);

/* Take `fd` over (it is closed by the lingerer, whatever happens): shut its
 * write side and discard what the peer still sends. Any thread. */
void gw_linger_add(gw_linger *l, int fd);

/* How many sockets linger right now (tests). Any thread. */
size_t gw_linger_count(gw_linger *l);

/* Stop the thread and close every socket still lingering. NULL-safe. */
void gw_linger_free(gw_linger *l);

#endif /* GW_LINGER_H */
