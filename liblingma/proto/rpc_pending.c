/* Pending requests by id and by deadline. See rpc_pending.h. */
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "rpc_pending.h"

#define NOT_FOUND SIZE_MAX
#define MIN_CAP   16

/* Ids are sequential: a multiplicative hash spreads them over the table. */
static size_t
id_slot(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static size_t
tab_find(const struct lingma__pending_set *set, int64_t id)
{
    size_t i;

    if (!set->tab_cap)
        return NOT_FOUND;
    for (i = id_slot(id, set->tab_cap); set->tab[i]; i = (i + 1) & (set->tab_cap - 1))
        if (set->tab[i]->id == id)
            return i;
    return NOT_FOUND;
}

static void
tab_put(struct lingma__pending **tab, size_t cap, struct lingma__pending *p)
{
    size_t i = id_slot(p->id, cap);

    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = p;
}

/* Remove slot i, shifting later members of the probe run back so that
 * lookups never need tombstones. */
static void
tab_remove_at(struct lingma__pending_set *set, size_t i)
{
    size_t mask = set->tab_cap - 1, j = i;

    set->tab[i] = NULL;
    set->count--;
    for (;;) {
        size_t k;

        j = (j + 1) & mask;
        if (!set->tab[j])
            return;
        k = id_slot(set->tab[j]->id, set->tab_cap);
        /* Move it back unless its home slot lies cyclically in (i, j]. */
        if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
            set->tab[i] = set->tab[j];
            set->tab[j] = NULL;
            i = j;
        }
    }
}

static void
heap_set(struct lingma__pending_set *set, size_t i, struct lingma__pending *p)
{
    set->heap[i] = p;
    p->heap_idx = i;
}

static void
heap_up(struct lingma__pending_set *set, size_t i)
{
    struct lingma__pending *p = set->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (set->heap[parent]->deadline <= p->deadline)
            break;
        heap_set(set, i, set->heap[parent]);
        i = parent;
    }
    heap_set(set, i, p);
}

static void
heap_down(struct lingma__pending_set *set, size_t i)
{
    struct lingma__pending *p = set->heap[i];
    size_t n = set->heap_len;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && set->heap[c + 1]->deadline < set->heap[c]->deadline)
            c++;
        if (p->deadline <= set->heap[c]->deadline)
            break;
        heap_set(set, i, set->heap[c]);
        i = c;
    }
    heap_set(set, i, p);
}

static void
heap_remove(struct lingma__pending_set *set, struct lingma__pending *p)
{
    size_t i = p->heap_idx;
    struct lingma__pending *last;

    if (i == NOT_FOUND)
        return;
    p->heap_idx = NOT_FOUND;
    last = set->heap[--set->heap_len];
    if (last == p)
        return;
    heap_set(set, i, last);
    if (i > 0 && set->heap[(i - 1) / 2]->deadline > last->deadline)
        heap_up(set, i);
    else
        heap_down(set, i);
}

int
lingma__pending_reserve(struct lingma__pending_set *set, int with_deadline)
{
    if ((set->count + 1) * 2 > set->tab_cap) {
        size_t ncap = set->tab_cap ? set->tab_cap * 2 : MIN_CAP;
        struct lingma__pending **ntab = lingma__calloc(set->alloc, ncap, sizeof(*ntab));

        if (!ntab)
            return LINGMA_ENOMEM;
        for (size_t i = 0; i < set->tab_cap; i++)
            if (set->tab[i])
                tab_put(ntab, ncap, set->tab[i]);
        lingma__free(set->alloc, set->tab);
        set->tab = ntab;
        set->tab_cap = ncap;
    }
    if (with_deadline && set->heap_len == set->heap_cap) {
        size_t ncap = set->heap_cap ? set->heap_cap * 2 : MIN_CAP;
        struct lingma__pending **nh;

        if (ncap > SIZE_MAX / sizeof(*nh))
            return LINGMA_ENOMEM;
        nh = lingma__realloc(set->alloc, set->heap, ncap * sizeof(*nh));
        if (!nh)
            return LINGMA_ENOMEM;
        set->heap = nh;
        set->heap_cap = ncap;
    }
    return 0;
}

void
lingma__pending_insert(struct lingma__pending_set *set, struct lingma__pending *p)
{
    tab_put(set->tab, set->tab_cap, p);
    set->count++;
    p->heap_idx = NOT_FOUND;
    if (p->deadline) {
        set->heap[set->heap_len] = p;
        p->heap_idx = set->heap_len++;
        heap_up(set, p->heap_idx);
    }
}

struct lingma__pending *
lingma__pending_take(struct lingma__pending_set *set, int64_t id)
{
    size_t slot = tab_find(set, id);
    struct lingma__pending *p;

    if (slot == NOT_FOUND)
        return NULL;
    p = set->tab[slot];
    tab_remove_at(set, slot);
    heap_remove(set, p);
    return p;
}

const struct lingma__pending *
lingma__pending_find(const struct lingma__pending_set *set, int64_t id)
{
    size_t slot = tab_find(set, id);
    return slot == NOT_FOUND ? NULL : set->tab[slot];
}

struct lingma__pending *
lingma__pending_take_expired(struct lingma__pending_set *set, uint64_t now)
{
    if (!set->heap_len || set->heap[0]->deadline > now)
        return NULL;
    return lingma__pending_take(set, set->heap[0]->id);
}

struct lingma__pending *
lingma__pending_take_all(struct lingma__pending_set *set)
{
    struct lingma__pending *list = NULL;

    for (size_t i = 0; i < set->tab_cap; i++) {
        struct lingma__pending *p = set->tab[i];
        if (p) {
            p->heap_idx = NOT_FOUND;
            p->next = list;
            list = p;
            set->tab[i] = NULL;
        }
    }
    set->count = 0;
    set->heap_len = 0;
    return list;
}

uint64_t
lingma__pending_next_deadline(const struct lingma__pending_set *set)
{
    return set->heap_len ? set->heap[0]->deadline : 0;
}

void
lingma__pending_release(struct lingma__pending_set *set)
{
    lingma__free(set->alloc, set->tab);
    lingma__free(set->alloc, set->heap);
    set->tab = set->heap = NULL;
    set->tab_cap = set->heap_cap = set->count = set->heap_len = 0;
}
