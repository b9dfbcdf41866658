/* lingma-sim: string-keyed hash map, see strmap.h. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_node {
    struct strmap_node *next;
    uint64_t hash;
    void *value;
    char key[];
};

struct strmap {
    struct strmap_node **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

static uint64_t
hash_str(const char *s)
{
    /* FNV-1a: keys are ids chosen by the peer, but the simulator is a test
     * tool bound to loopback, so flooding attacks are out of scope. */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

struct strmap *
strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    return m;
}

void
strmap_free(struct strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_node *n = m->buckets[i];
        while (n) {
            struct strmap_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    free(m);
}

static void
grow(struct strmap *m)
{
    size_t nb = m->nbuckets * 2;
    struct strmap_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_node *n = m->buckets[i];
        while (n) {
            struct strmap_node *next = n->next;
            size_t j = n->hash & (nb - 1);
            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

int
strmap_put(struct strmap *m, const char *key, void *value)
{
    uint64_t h = hash_str(key);
    size_t i = h & (m->nbuckets - 1);
    for (struct strmap_node *n = m->buckets[i]; n; n = n->next) {
        if (n->hash == h && !strcmp(n->key, key)) {
            n->value = value;
            return 0;
        }
    }
    size_t klen = strlen(key);
    struct strmap_node *n = malloc(sizeof(*n) + klen + 1);
    if (!n)
        return -1;
    memcpy(n->key, key, klen + 1);
    n->hash = h;
    n->value = value;
    n->next = m->buckets[i];
    m->buckets[i] = n;
    if (++m->count > m->nbuckets)
        grow(m);
    return 0;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
    uint64_t h = hash_str(key);
    for (struct strmap_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next) {
        if (n->hash == h && !strcmp(n->key, key))
            return n->value;
    }
    return NULL;
}

void
strmap_del(struct strmap *m, const char *key, const void *value)
{
    uint64_t h = hash_str(key);
    struct strmap_node **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct strmap_node *n = *pp;
        if (n->hash == h && !strcmp(n->key, key)) {
            if (value && n->value != value)
                return;
            *pp = n->next;
            free(n);
            m->count--;
            return;
        }
    }
}

size_t
strmap_count(const struct strmap *m)
{
    return m->count;
}
