/* Request ids; see reqid.h. */
#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>

#include "lingma/common.h"

#include "reqid.h"

bool
gw_reqid_valid(const char *id)
{
    if (!id)
        return false;
    size_t i = 0;
    for (; id[i]; i++) {
        if (i >= GW_REQID_MAX_LEN)
            return false;
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return i > 0;
}

void
gw_hex(char *out, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0F];
    }
    out[2 * n] = '\0';
}

void
gw_reqid_generate(char out[GW_REQID_SIZE], const uint8_t *random, size_t n)
{
    /* "req_" + 2n hex digits must fit in GW_REQID_MAX_LEN. */
    if (n > (GW_REQID_MAX_LEN - 4) / 2)
        n = (GW_REQID_MAX_LEN - 4) / 2;
    memcpy(out, "req_", 4);
    gw_hex(out + 4, random, n);
}

const char *
gw_reqid_choose(char out[GW_REQID_SIZE], const char *client,
                const uint8_t random[GW_REQID_RANDOM_BYTES])
{
    if (gw_reqid_valid(client)) {
        size_t n = strlen(client);
        memcpy(out, client, n + 1);
        return out;
    }
    gw_reqid_generate(out, random, GW_REQID_RANDOM_BYTES);
    return out;
}

int
gw_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return LINGMA_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit sequence,
 * so one thread never repeats an id before 2^64 draws; threads start at
 * independent random points. */
static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void
gw_id_bytes(void *buf, size_t n)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        if (gw_random_bytes(&state, sizeof(state)) != 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            state = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
                    (uint64_t)(uintptr_t)pthread_self();
        }
        seeded = true;
    }
    unsigned char *p = buf;
    while (n > 0) {
        uint64_t v = splitmix64(&state);
        size_t k = n < sizeof(v) ? n : sizeof(v);
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}
