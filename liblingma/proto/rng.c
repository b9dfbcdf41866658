/* xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
#include <string.h>

#include "rng.h"

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
lingma__rng_seed(struct lingma__rng *r, const void *seed, size_t n)
{
    const unsigned char *p = seed;
    uint64_t x = 0x6a09e667f3bcc908ull ^ (uint64_t)n;

    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    /* Every seed byte reaches every state word. */
    for (size_t i = 0; i < n; i++) {
        x ^= (uint64_t)p[i] << (8 * (i % 8));
        if (i % 8 == 7 || i == n - 1)
            for (int k = 0; k < 4; k++)
                r->s[k] ^= splitmix64(&x);
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1; /* the one state xoshiro never leaves */
}

uint64_t
lingma__rng_next(struct lingma__rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

void
lingma__rng_bytes(struct lingma__rng *r, void *out, size_t n)
{
    unsigned char *o = out;

    while (n) {
        uint64_t v = lingma__rng_next(r);
        size_t k = n < sizeof(v) ? n : sizeof(v);
        memcpy(o, &v, k);
        o += k;
        n -= k;
    }
}
