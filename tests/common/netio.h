/*
 * Test helper: raw loopback sockets for tests that speak HTTP by hand.
 *
 * Sends never raise SIGPIPE (MSG_NOSIGNAL): a peer that closed the
 * connection is an outcome the test asserts on, not a death of the test
 * process that would also leave its children running.
 */
#ifndef TESTS_NETIO_H
#define TESTS_NETIO_H

#include <stddef.h>

/* A TCP socket connected to 127.0.0.1:port (close-on-exec), or -1. */
int netio_connect(unsigned port);

/* Send all `len` bytes. 0, or the errno of the failure (EPIPE or
 * ECONNRESET when the peer is gone). */
int netio_send(int fd, const void *buf, size_t len);

/* netio_send() of a NUL-terminated string. */
int netio_send_str(int fd, const char *s);

/* GET http://127.0.0.1:port/path over HTTP/1.0 (lingma-sim's login
 * callback, say); returns the status code, or -1. */
int netio_http_get(unsigned port, const char *path);

#endif
