/* lingma-bench: the loopback relay floor (see floor.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

int
floor_run(double duration_s, double gap_ms, struct run *r)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0 || listen(lfd, 1) != 0) {
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0)
        writer(&a, duration_s, gap_ms);
    int fd = pid > 0 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
    close(lfd);
    if (fd >= 0) {
        nodelay(fd);
        for (;;) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, (int)(gap_ms * 10 + 1000)) <= 0)
                break;
            uint64_t stamp;
            if (read(fd, &stamp, sizeof(stamp)) != (ssize_t)sizeof(stamp))
                break; /* the writer is done */
            uint64_t t = now_ns();
            if (stamp <= t)
                samples_add(&r->relay, (double)(t - stamp) / 1e3);
            r->chunks++;
            if (write(fd, &stamp, sizeof(stamp)) != (ssize_t)sizeof(stamp))
                break;
        }
        close(fd);
    }
    int status = 0;
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    r->elapsed_s = (double)(now_ns() - t0) / 1e9;
    if (pid < 0 || fd < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        r->failed++;
        snprintf(r->first_error, sizeof(r->first_error), "floor: the loopback pair failed");
        return -1;
    }
    r->ok = 1;
    return 0;
}
