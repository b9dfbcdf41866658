/*
 * catalogue: the model list the gateway serves and resolves names against.
 *
 * Lingma knows its models only once an instance is up (config/queryModels),
 * and instances come and go. A small thread polls the pool's stats
 * snapshot (cheap, never waits for the service thread) and, whenever an
 * instance starts serving (connected and logged in: a logged-out Lingma
 * lists no models), or every refresh period, posts an asynchronous
 * models call. The result arrives on the service thread and replaces that
 * instance's list. Readers see the union, keys unique, in first-seen order.
 *
 * The thread never blocks on the pool: the calls are asynchronous, so
 * stopping it is immediate even while a Lingma is hanging.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"

/* How often the stats are looked at: the delay between an instance
 * starting to serve and its models being asked for. */
#define POLL_MS 200

struct slot {
    lingma_model_list *list;   /* last answer, NULL when none */
    bool was_serving;          /* at the previous poll */
    unsigned restarts;         /* at the previous poll */
    struct timespec refreshed; /* when the last call was posted */
};

struct call {
    gw_catalogue *c;
    size_t index;
};

struct gw_catalogue {
    lingma_pool *pool;
    gw_log *log;
    unsigned refresh_s;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;          /* (mu) */
    struct slot *slots; /* (mu) one per instance */
    size_t n_slots;
    gw_model_entry *merged; /* (mu) the union, pointing into slots' lists */
    size_t n_merged;
};

/* Rebuild the union after a list changed. (mu) Returns false, leaving the
 * previous union in place, when memory runs out. */
static bool
merge_locked(gw_catalogue *c)
{
    size_t total = 0;
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->slots[i].list)
            total += c->slots[i].list->count;
    gw_model_entry *m = total ? calloc(total, sizeof(*m)) : NULL;
    size_t n = 0;
    if (total && !m)
        return false;
    for (size_t i = 0; i < c->n_slots; i++) {
        const lingma_model_list *l = c->slots[i].list;
        for (size_t j = 0; l && j < l->count; j++) {
            const lingma_model *src = &l->models[j];
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(m[k].key, src->key) == 0;
            if (dup || !src->key || !*src->key)
                continue;
            m[n].key = src->key;
            m[n].display_name = src->display_name;
            m[n].is_reasoning = src->reasoning != 0;
            m[n].is_vl = src->vision != 0;
            n++;
        }
    }
    free(c->merged);
    c->merged = m;
    c->n_merged = n;
    return true;
}

static void
free_list(lingma_model_list *l)
{
    if (!l)
        return;
    for (size_t j = 0; j < l->count; j++) {
        free(l->models[j].scene);
        free(l->models[j].key);
        free(l->models[j].display_name);
    }
    free(l->models);
    free(l);
}

static void
on_models(int error, const lingma_model_list *models, void *payload)
{
    struct call *call = payload;
    gw_catalogue *c = call->c;
    size_t i = call->index;
    free(call);
    if (error) {
        gw_log_fields f = GW_LOG_FIELDS_INIT;
        gw_log_kv kv[] = {{"error", GW_LOG_STR, lingma_strerror(error), 0, 0, false}};
        f.extra = kv;
        f.n_extra = 1;
        gw_log_write(c->log, LINGMA_LOG_WARN, "model catalogue query failed", &f);
        return;
    }
    /* The list is borrowed for the callback only: keep a deep copy. */
    lingma_model_list *copy = calloc(1, sizeof(*copy));
    if (!copy)
        return;
    copy->models = models->count ? calloc(models->count, sizeof(*copy->models)) : NULL;
    if (models->count && !copy->models) {
        free(copy);
        return;
    }
    for (size_t j = 0; j < models->count; j++) {
        const lingma_model *s = &models->models[j];
        lingma_model *d = &copy->models[copy->count];
        d->scene = strdup(s->scene ? s->scene : "");
        d->key = strdup(s->key ? s->key : "");
        d->display_name = s->display_name ? strdup(s->display_name) : NULL;
        d->reasoning = s->reasoning;
        d->vision = s->vision;
        if (!d->scene || !d->key || (s->display_name && !d->display_name)) {
            free(d->scene);
            free(d->key);
            free(d->display_name);
            continue;
        }
        copy->count++;
    }
    pthread_mutex_lock(&c->mu);
    if (i < c->n_slots) {
        lingma_model_list *old = c->slots[i].list;
        c->slots[i].list = copy;
        if (!merge_locked(c)) {
            /* The previous union still points into `old`: keep it, stale
             * beats empty, and drop the new list instead. */
            c->slots[i].list = old;
            old = copy;
        }
        /* Entries of `old` may be referenced by the previous union, which
         * merge_locked just replaced. */
        pthread_mutex_unlock(&c->mu);
        free_list(old);
        return;
    }
    pthread_mutex_unlock(&c->mu);
    free_list(copy);
}

static double
since_s(const struct timespec *t, const struct timespec *now)
{
    return (double)(now->tv_sec - t->tv_sec) + (double)(now->tv_nsec - t->tv_nsec) / 1e9;
}

/* One look at the stats: ask every instance that just started serving (or
 * restarted, or is due a refresh) for its models. */
static void
poll_once(gw_catalogue *c)
{
    lingma_pool_stats *st = NULL;
    if (lingma_pool_stats_get(&st, c->pool) != 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (size_t i = 0; i < st->instance_count && i < c->n_slots; i++) {
        const lingma_instance_stats *is = &st->instances[i];
        bool serving = st->health[i].serving != 0;
        pthread_mutex_lock(&c->mu);
        struct slot *s = &c->slots[i];
        bool ask = serving && (!s->was_serving || s->restarts != is->restarts || !s->list ||
                               since_s(&s->refreshed, &now) >= (double)c->refresh_s);
        s->was_serving = serving;
        s->restarts = is->restarts;
        if (ask)
            s->refreshed = now;
        pthread_mutex_unlock(&c->mu);
        if (!ask)
            continue;
        struct call *call = malloc(sizeof(*call));
        if (!call)
            continue;
        call->c = c;
        call->index = i;
        if (lingma_instance_models(c->pool, i, on_models, call) != 0)
            free(call);
    }
    lingma_pool_stats_free(st);
}

static void *
run(void *arg)
{
    gw_catalogue *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->mu);
        poll_once(c);
        pthread_mutex_lock(&c->mu);
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_nsec += (long)POLL_MS * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &dl) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int
gw_catalogue_new(gw_catalogue **out, lingma_pool *pool, gw_log *log, unsigned refresh_s)
{
    *out = NULL;
    gw_catalogue *c = calloc(1, sizeof(*c));
    if (!c)
        return LINGMA_ENOMEM;
    c->pool = pool;
    c->log = log;
    c->refresh_s = refresh_s ? refresh_s : 300;
    c->n_slots = lingma_pool_instance_count(pool);
    c->slots = calloc(c->n_slots ? c->n_slots : 1, sizeof(*c->slots));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!c->slots) {
        gw_catalogue_free(c);
        return LINGMA_ENOMEM;
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        gw_catalogue_free(c);
        return LINGMA_ERROR;
    }
    c->thread_started = true;
    *out = c;
    return 0;
}

void
gw_catalogue_stop(gw_catalogue *c)
{
    if (!c || !c->thread_started)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->thread_started = false;
}

void
gw_catalogue_free(gw_catalogue *c)
{
    if (!c)
        return;
    gw_catalogue_stop(c);
    for (size_t i = 0; c->slots && i < c->n_slots; i++)
        free_list(c->slots[i].list);
    free(c->slots);
    free(c->merged);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void
gw_catalogue_with(gw_catalogue *c, gw_catalogue_fn fn, void *payload)
{
    pthread_mutex_lock(&c->mu);
    fn(c->merged, c->n_merged, payload);
    pthread_mutex_unlock(&c->mu);
}
