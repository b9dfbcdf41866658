/* The JSON-lines log writer; see log.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct gw_log {
    pthread_mutex_t lock;
    int fd; /* under lock */
    char *path;
    atomic_int min;
    char **secrets;
    size_t n_secrets;
};

static int
open_file(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
}

int
gw_log_open(gw_log **out, const char *path, lingma_log_level min, const char *const *secrets,
            size_t n_secrets)
{
    *out = NULL;
    gw_log *l = calloc(1, sizeof(*l));
    if (!l)
        return LINGMA_ENOMEM;
    l->fd = STDERR_FILENO;
    atomic_init(&l->min, (int)min);
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        free(l);
        return LINGMA_ENOMEM;
    }
    if (n_secrets) {
        l->secrets = calloc(n_secrets, sizeof(*l->secrets));
        if (!l->secrets)
            goto oom;
        for (size_t i = 0; i < n_secrets; i++) {
            if (!secrets[i])
                continue;
            l->secrets[l->n_secrets] = strdup(secrets[i]);
            if (!l->secrets[l->n_secrets])
                goto oom;
            l->n_secrets++;
        }
    }
    if (path) {
        l->path = strdup(path);
        if (!l->path)
            goto oom;
        l->fd = open_file(path);
        if (l->fd < 0) {
            int e = errno;
            l->fd = STDERR_FILENO;
            gw_log_close(l);
            errno = e;
            return LINGMA_EIO;
        }
    }
    *out = l;
    return 0;
oom:
    gw_log_close(l);
    return LINGMA_ENOMEM;
}

int
gw_log_reopen(gw_log *l)
{
    if (!l->path)
        return 0;
    int fd = open_file(l->path);
    if (fd < 0)
        return LINGMA_EIO;
    pthread_mutex_lock(&l->lock);
    int old = l->fd;
    l->fd = fd;
    pthread_mutex_unlock(&l->lock);
    if (old != STDERR_FILENO)
        close(old);
    return 0;
}

void
gw_log_close(gw_log *l)
{
    if (!l)
        return;
    if (l->fd != STDERR_FILENO && l->fd >= 0)
        close(l->fd);
    for (size_t i = 0; i < l->n_secrets; i++) {
        memset(l->secrets[i], 0, strlen(l->secrets[i]));
        free(l->secrets[i]);
    }
    free(l->secrets);
    free(l->path);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

void
gw_log_set_level(gw_log *l, lingma_log_level min)
{
    atomic_store(&l->min, (int)min);
}

bool
gw_log_enabled(const gw_log *l, lingma_log_level level)
{
    return (int)level <= atomic_load(&((gw_log *)l)->min);
}

int
gw_log_write_line(gw_log *l, const char *line, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    /* One write(2) normally carries the whole line (O_APPEND keeps it in one
     * piece even with other writers); loop only for the rare short write. */
    while (len > 0) {
        ssize_t n = write(l->fd, line, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = LINGMA_EIO;
            break;
        }
        line += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int
gw_log_write(gw_log *l, lingma_log_level level, const char *msg, const gw_log_fields *fields)
{
    if (!gw_log_enabled(l, level))
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    gw_buf b = GW_BUF_INIT;
    /* One block for a whole access log line (about 300 bytes). */
    int rc = gw_buf_reserve(&b, 511);
    if (rc == 0)
        rc = gw_log_format(&b, &now, level, msg, fields, (const char *const *)l->secrets,
                           l->n_secrets);
    if (rc == 0)
        rc = gw_log_write_line(l, b.data, b.len);
    gw_buf_free(&b);
    return rc;
}

void
gw_log_lingma(lingma_log_level level, const char *msg, void *payload)
{
    static const gw_log_kv src = {"source", GW_LOG_STR, "liblingma", 0, 0, false};
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    f.extra = &src;
    f.n_extra = 1;
    gw_log_write(payload, level, msg, &f);
}
