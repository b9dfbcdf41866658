/* lingma-sim: work directory files, see files.h. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
path_join(char *out, size_t n, const char *dir, const char *name)
{
    int rc = snprintf(out, n, "%s/%s", dir, name);
    return (rc < 0 || (size_t)rc >= n) ? -1 : 0;
}

int
sim_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int
sim_mkdir_sub(const char *work_dir, const char *sub)
{
    char p[PATH_MAX];
    if (path_join(p, sizeof(p), work_dir, sub))
        return -1;
    for (char *s = p + strlen(work_dir) + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (mkdir(p, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

int
sim_info_write(const char *work_dir, enum sim_info_kind kind, int ws_port, int http_port, long pid)
{
    char path[PATH_MAX], buf[PATH_MAX + 256];
    int n;
    if (kind == SIM_INFO_JSON) {
        char ipc[PATH_MAX];
        snprintf(ipc, sizeof(ipc), "%s/lingma.sock", work_dir);
        json_t *j =
            json_pack("{s:i, s:I, s:s, s:b, s:i}", "websocketPort", ws_port, "pid", (json_int_t)pid,
                      "ipcServerPath", ipc, "isDev", 0, "httpPort", http_port);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!s || path_join(path, sizeof(path), work_dir, ".info.json")) {
            free(s);
            return -1;
        }
        int rc = sim_write_atomic(path, s, strlen(s));
        free(s);
        return rc;
    }
    if (kind == SIM_INFO_3LINE)
        n = snprintf(buf, sizeof(buf), "%d\n%ld\n%s/lingma.sock\n", ws_port, pid, work_dir);
    else
        n = snprintf(buf, sizeof(buf), "%d\n%ld\n", ws_port, pid);
    if (n < 0 || (size_t)n >= sizeof(buf) || path_join(path, sizeof(path), work_dir, ".info"))
        return -1;
    return sim_write_atomic(path, buf, (size_t)n);
}

void
sim_info_remove(const char *work_dir)
{
    char path[PATH_MAX];
    if (!path_join(path, sizeof(path), work_dir, ".info"))
        unlink(path);
    if (!path_join(path, sizeof(path), work_dir, ".info.json"))
        unlink(path);
}

long
sim_dead_pid(void)
{
    /* Above pid_max no process can exist, so a launcher that kills the pid
     * it read from a stale .info can never hit an innocent process. */
    long max = 4194304;
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 4194304;
        fclose(f);
    }
    return max + 1;
}

static void
random_bytes(unsigned char *b, size_t n)
{
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* no entropy source: fall back to something still unique enough */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            unsigned long long x =
                (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32);
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                b[i] = (unsigned char)(x >> 56);
            }
            return;
        }
        b += r;
        n -= (size_t)r;
    }
}

void
sim_uuid(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void
sim_nonce(char out[33])
{
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

bool
sim_cache_id_exists(const char *work_dir)
{
    char path[PATH_MAX];
    return !path_join(path, sizeof(path), work_dir, "cache/id") && access(path, F_OK) == 0;
}

int
sim_cache_id_ensure(const char *work_dir, bool *created)
{
    char path[PATH_MAX], id[37];
    *created = false;
    if (sim_mkdir_sub(work_dir, "cache") || path_join(path, sizeof(path), work_dir, "cache/id"))
        return -1;
    if (access(path, F_OK) == 0)
        return 0;
    sim_uuid(id);
    if (sim_write_atomic(path, id, strlen(id)))
        return -1;
    *created = true;
    return 0;
}

int
sim_cache_user_write(const char *work_dir, const char *username)
{
    char path[PATH_MAX], uid[37], token[33];
    sim_uuid(uid);
    sim_nonce(token);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long expire = (long long)ts.tv_sec * 1000 + 30LL * 24 * 3600 * 1000;
    /* Real Lingma stores AES ciphertext here; clients must treat it as
     * opaque, so base64 of plain JSON is enough and easy to inspect. */
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "name", username, "aid",
                  uid, "uid", uid, "security_oauth_token", token, "refresh_token", token,
                  "expire_time", (json_int_t)expire, "key", token, "encrypt_user_info", "sim",
                  "user_type", SIM_USER_TYPE, "organization_id", "");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *b64 = s ? sim_base64_encode(s, strlen(s)) : NULL;
    free(s);
    int rc = -1;
    if (b64 && !sim_mkdir_sub(work_dir, "cache") &&
        !path_join(path, sizeof(path), work_dir, "cache/user"))
        rc = sim_write_atomic(path, b64, strlen(b64));
    free(b64);
    return rc;
}

int
sim_cache_user_read(const char *work_dir, char **username)
{
    char path[PATH_MAX];
    *username = NULL;
    if (path_join(path, sizeof(path), work_dir, "cache/user"))
        return -1;
    char *b64 = read_all(path, NULL);
    if (!b64)
        return -1;
    size_t len = 0;
    char *plain = sim_base64_decode(b64, &len);
    free(b64);
    if (plain) {
        json_t *j = json_loadb(plain, len, 0, NULL);
        const char *name = json_string_value(json_object_get(j, "name"));
        if (name)
            *username = strdup(name);
        json_decref(j);
        free(plain);
    }
    return 0;
}

void
sim_cache_user_remove(const char *work_dir)
{
    char path[PATH_MAX];
    if (!path_join(path, sizeof(path), work_dir, "cache/user"))
        unlink(path);
}

static int
counter_path(char *path, size_t n, const char *work_dir, const char *name)
{
    int rc = snprintf(path, n, "%s/cache/sim-%s", work_dir, name);
    return (rc < 0 || (size_t)rc >= n) ? -1 : 0;
}

long
sim_counter_read(const char *work_dir, const char *name)
{
    char path[PATH_MAX];
    if (counter_path(path, sizeof(path), work_dir, name))
        return 0;
    char *s = read_all(path, NULL);
    long v = s ? strtol(s, NULL, 10) : 0;
    free(s);
    return v < 0 ? 0 : v;
}

long
sim_counter_bump(const char *work_dir, const char *name)
{
    char path[PATH_MAX], buf[32];
    long v = sim_counter_read(work_dir, name) + 1;
    if (sim_mkdir_sub(work_dir, "cache") || counter_path(path, sizeof(path), work_dir, name))
        return v;
    int n = snprintf(buf, sizeof(buf), "%ld\n", v);
    (void)sim_write_atomic(path, buf, (size_t)n);
    return v;
}

int
sim_state_write(const char *work_dir, const json_t *state)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), work_dir, "cache/sim-state.json"))
        return -1;
    char *s = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return -1;
    int rc = sim_write_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

json_t *
sim_state_read(const char *work_dir)
{
    char path[PATH_MAX];
    if (path_join(path, sizeof(path), work_dir, "cache/sim-state.json"))
        return NULL;
    return json_load_file(path, 0, NULL);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
sim_base64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        *o++ = b64chars[(v >> 18) & 63];
        *o++ = b64chars[(v >> 12) & 63];
        *o++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? b64chars[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

void *
sim_base64_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    unsigned char *out = malloc(n / 4 * 3 + 3), *o = out;
    unsigned v = 0;
    int bits = 0;
    if (!out)
        return NULL;
    for (; *text; text++) {
        const char *p = strchr(b64chars, *text);
        if (*text == '=' || *text == '\n' || *text == '\r')
            continue;
        if (!p) {
            free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)(p - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)(v >> bits);
        }
    }
    *len = (size_t)(o - out);
    return out;
}
