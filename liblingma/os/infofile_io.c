/* Lingma's port file on disk: finding and reading it (see infofile_io.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "detail.h"
#include "infofile_io.h"

/* Reads at most LINGMA__INFO_MAX_BYTES; LINGMA_ENOTFOUND only when the file is missing. */
static int
read_small_file(const char *path, char *buf, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return lingma__detail(LINGMA_ENOTFOUND, err, errlen, "%s: not found", path);
        return lingma__detail(LINGMA_EIO, err, errlen, "%s: %s", path, strerror(errno));
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, LINGMA__INFO_MAX_BYTES + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return lingma__detail(LINGMA_EIO, err, errlen, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > LINGMA__INFO_MAX_BYTES) {
            close(fd);
            return lingma__detail(LINGMA_EPROTO, err, errlen, "%s: larger than %d bytes", path,
                                  LINGMA__INFO_MAX_BYTES);
        }
    }
    close(fd);
    *len = n;
    return 0;
}

static int
join_path(char *buf, size_t cap, const char *dir, const char *name, char *err, size_t errlen)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "path too long: %s/%s", dir, name);
    return 0;
}

int
lingma__info_read(struct lingma__info *out, const char *dir, const char *legacy_home, char *err,
                  size_t errlen)
{
    if (!out || !dir || !*dir)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid argument");
    memset(out, 0, sizeof(*out));
    struct {
        const char *base;
        const char *name;
        enum lingma__info_source source;
    } cand[] = {
        {dir, ".info", LINGMA__INFO_FROM_INFO},
        {dir, ".info.json", LINGMA__INFO_FROM_INFO_JSON},
        {legacy_home, ".lingma/.info", LINGMA__INFO_FROM_LEGACY},
    };
    char path[PATH_MAX];
    char buf[LINGMA__INFO_MAX_BYTES + 1];
    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
        if (!cand[i].base)
            continue;
        int rc = join_path(path, sizeof(path), cand[i].base, cand[i].name, err, errlen);
        if (rc)
            return rc;
        size_t len = 0;
        rc = read_small_file(path, buf, &len, err, errlen);
        if (rc == LINGMA_ENOTFOUND)
            continue;
        if (rc)
            return rc;
        char detail[256] = "";
        rc = lingma__info_parse(out, buf, len, detail, sizeof(detail));
        if (rc)
            return lingma__detail(rc, err, errlen, "%s: %s", path, detail);
        out->source = cand[i].source;
        return 0;
    }
    return lingma__detail(LINGMA_ENOTFOUND, err, errlen, "no .info or .info.json in %s%s", dir,
                          legacy_home ? " nor a legacy ~/.lingma/.info" : "");
}

int
lingma__info_remove(const char *dir, char *err, size_t errlen)
{
    if (!dir || !*dir)
        return lingma__detail(LINGMA_EINVAL, err, errlen, "invalid argument");
    static const char *const names[] = {".info", ".info.json"};
    char path[PATH_MAX];
    for (size_t i = 0; i < 2; i++) {
        int rc = join_path(path, sizeof(path), dir, names[i], err, errlen);
        if (rc)
            return rc;
        if (unlink(path) != 0 && errno != ENOENT)
            return lingma__detail(LINGMA_EIO, err, errlen, "cannot remove stale %s: %s", path,
                                  strerror(errno));
    }
    return 0;
}
