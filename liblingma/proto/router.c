/* Pure routing over a snapshot of instance states (see router.h). */
#include "router.h"

/* The 64-bit finaliser of MurmurHash3: every input bit flips ~half the output bits. */
static uint64_t
mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t
lingma__route_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL; /* FNV-1a 64 prime */
    }
    /* FNV alone diffuses the last bytes poorly; the finaliser fixes that. */
    return mix64(h ^ (uint64_t)len);
}

uint64_t
lingma__route_name_hash(const char *name)
{
    size_t len = 0;
    while (name && name[len])
        len++;
    return lingma__route_hash(name, len);
}

uint64_t
lingma__route_score(uint64_t key_hash, uint64_t name_hash)
{
    /*
     * Combine, then mix again: a plain XOR would let two keys that differ
     * in the same bits as two names swap their winners.
     */
    return mix64(key_hash ^ mix64(name_hash + 0x9e3779b97f4a7c15ULL));
}

static bool
unsaturated(const struct lingma__route_inst *in)
{
    return in->cap == 0 || in->in_flight < in->cap;
}

/*
 * Best-scoring ready, unsaturated instance; also reports whether it is the
 * top-scoring ready one overall (saturated or not). Ties in score (about
 * 2^-64 likely) go to the lower index so the answer stays deterministic.
 */
static int
route_sticky(const struct lingma__route_inst *insts, size_t n, uint64_t key_hash, bool *top)
{
    int best = -1, top_any = -1;
    uint64_t best_score = 0, top_score = 0;
    for (size_t i = 0; i < n; i++) {
        if (insts[i].avail != LINGMA__ROUTE_READY)
            continue;
        uint64_t s = lingma__route_score(key_hash, insts[i].name_hash);
        if (top_any < 0 || s > top_score) {
            top_any = (int)i;
            top_score = s;
        }
        if (unsaturated(&insts[i]) && (best < 0 || s > best_score)) {
            best = (int)i;
            best_score = s;
        }
    }
    *top = best >= 0 && best == top_any;
    return best;
}

/* Least in flight; among equals, the first at or after the cursor. */
static int
route_least(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n)
{
    int best = -1;
    for (size_t k = 0; k < n; k++) {
        size_t i = (r->least_cursor + k) % n;
        if (insts[i].avail != LINGMA__ROUTE_READY || !unsaturated(&insts[i]))
            continue;
        if (best < 0 || insts[i].in_flight < insts[best].in_flight)
            best = (int)i;
    }
    if (best >= 0)
        r->least_cursor = (unsigned)((size_t)best + 1) % (unsigned)n;
    return best;
}

static int
route_start(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = (r->start_cursor + k) % n;
        if (insts[i].avail == LINGMA__ROUTE_STARTABLE && unsaturated(&insts[i])) {
            r->start_cursor = (unsigned)((i + 1) % n);
            return (int)i;
        }
    }
    return -1;
}

int
lingma__route_hashed(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n,
                     bool has_key, uint64_t key_hash, enum lingma__route_rule *rule)
{
    enum lingma__route_rule dummy;
    if (!rule)
        rule = &dummy;
    *rule = LINGMA__ROUTE_NONE;
    if (!r || !insts || n == 0)
        return -1;
    /* Cursors survive a pool whose size changed; keep them in range. */
    r->least_cursor %= (unsigned)n;
    r->start_cursor %= (unsigned)n;

    int i;
    if (has_key) {
        bool top = false;
        i = route_sticky(insts, n, key_hash, &top);
        if (i >= 0) {
            *rule = top ? LINGMA__ROUTE_STICKY : LINGMA__ROUTE_STICKY_SPILL;
            return i;
        }
    } else if ((i = route_least(r, insts, n)) >= 0) {
        *rule = LINGMA__ROUTE_LEAST;
        return i;
    }
    if ((i = route_start(r, insts, n)) >= 0) {
        *rule = LINGMA__ROUTE_START;
        return i;
    }
    return -1;
}

int
lingma__route(struct lingma__router *r, const struct lingma__route_inst *insts, size_t n,
              const void *key, size_t key_len, enum lingma__route_rule *rule)
{
    bool has_key = key && key_len > 0;
    uint64_t h = has_key ? lingma__route_hash(key, key_len) : 0;
    return lingma__route_hashed(r, insts, n, has_key, h, rule);
}

const char *
lingma__route_rule_name(enum lingma__route_rule rule)
{
    switch (rule) {
    case LINGMA__ROUTE_STICKY:
        return "sticky";
    case LINGMA__ROUTE_STICKY_SPILL:
        return "sticky-spill";
    case LINGMA__ROUTE_LEAST:
        return "least";
    case LINGMA__ROUTE_START:
        return "start";
    case LINGMA__ROUTE_NONE:
        break;
    }
    return "none";
}
