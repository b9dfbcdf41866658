/*
 * lingma-bench: the direct driver. The same closed loop as the HTTP driver,
 * over liblingma's public API: the baseline the gateway is compared with.
 *
 * Every event callback runs on the pool's service thread; replacement chats
 * are started from the terminal callback, so the loop adds no thread hop of
 * its own. The main thread only starts the first wave and waits.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lingma/lingma.h"

#include "direct.h"

struct dchat {
    struct direct *d;
    uint64_t t0;
    int first;
};

struct direct {
    lingma_pool *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the current run, under mu */
    const struct load *load;
    struct run *r;
    uint64_t t_start;
    struct progress prog;
    int stopping;
    struct run sink; /* where chats of a stuck run account after it returned */
};

static void
quiet_log(lingma_log_level lvl, const char *msg, void *payload)
{
    (void)payload;
    if (lvl == LINGMA_LOG_ERROR)
        fprintf(stderr, "lingma-bench: liblingma: %s\n", msg);
}

static void on_event(const lingma_chat_event *ev, void *payload);

/* Called with mu held. Starts one chat; on an immediate failure the chat
 * is accounted for at once. */
static void
start_one(struct direct *d)
{
    struct dchat *c = calloc(1, sizeof(*c));
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_admission adm = {0};
    lingma_chat_id id = 0;
    if (!c) {
        d->r->failed++;
        return;
    }
    c->d = d;
    o.prompt = "bench";
    o.on_event = on_event;
    o.payload = c;
    if (d->load->timeout_ms > 0)
        o.timeout_ms = (unsigned)d->load->timeout_ms;
    d->prog.started++;
    d->prog.outstanding++;
    c->t0 = now_ns();
    int rc = lingma_chat_start(&id, &adm, d->pool, &o);
    if (rc == 0)
        return;
    double us = (double)(now_ns() - c->t0) / 1e3;
    if (rc == LINGMA_EBUSY) {
        d->r->rejected++;
        samples_add(&d->r->rej, us);
    } else {
        d->r->failed++;
        if (!d->r->first_error[0])
            snprintf(d->r->first_error, sizeof(d->r->first_error), "lingma_chat_start: %s",
                     lingma_strerror(rc));
    }
    d->prog.outstanding--;
    d->prog.finished++;
    free(c);
}

/* Whether the closed loop may start another chat now (mu held). */
static int
may_start(struct direct *d)
{
    const struct load *l = d->load;
    if (d->stopping)
        return 0;
    if (l->total && d->prog.started >= l->total)
        return 0;
    if (l->duration_s > 0 && (double)(now_ns() - d->t_start) / 1e9 >= l->duration_s)
        return 0;
    return 1;
}

static void
on_event(const lingma_chat_event *ev, void *payload)
{
    struct dchat *c = payload;
    struct direct *d = c->d;
    uint64_t t = now_ns();
    double us = (double)(t - c->t0) / 1e3;
    uint64_t stamp = 0;

    pthread_mutex_lock(&d->mu);
    struct run *r = d->r;
    switch (ev->type) {
    case LINGMA_CHAT_STARTED:
        d->prog.headers++;
        if (d->load->stream)
            samples_add(&r->ttfb, us);
        break;
    case LINGMA_CHAT_TOOL_CALL: /* the bench declares no tools */
        break;
    case LINGMA_CHAT_DELTA:
    case LINGMA_CHAT_REASONING:
        if (!d->load->stream || !ev->delta.len)
            break;
        r->chunks++;
        if (stamp_parse(ev->delta.text, ev->delta.len, &stamp) && stamp <= t)
            samples_add(&r->relay, (double)(t - stamp) / 1e3);
        if (!c->first) {
            c->first = 1;
            samples_add(&r->ttft, us);
        }
        break;
    case LINGMA_CHAT_DONE:
    case LINGMA_CHAT_ERROR:
        if (ev->type == LINGMA_CHAT_DONE) {
            r->ok++;
            samples_add(&r->lat, us);
        } else if (ev->error.code == LINGMA_EBUSY) {
            r->rejected++;
            samples_add(&r->rej, us);
        } else {
            r->failed++;
            if (!r->first_error[0])
                snprintf(r->first_error, sizeof(r->first_error), "%s: %s",
                         lingma_error_name(ev->error.code), ev->error.message);
        }
        d->prog.outstanding--;
        d->prog.finished++;
        free(c);
        if (may_start(d))
            start_one(d);
        if (!d->prog.outstanding)
            pthread_cond_broadcast(&d->cv);
        break;
    }
    pthread_mutex_unlock(&d->mu);
}

int
direct_run(struct direct *d, const struct load *load, struct run *r)
{
    struct timespec ts;
    int stuck = 0;
    pthread_mutex_lock(&d->mu);
    d->load = load;
    d->r = r;
    d->stopping = 0;
    memset(&d->prog, 0, sizeof(d->prog));
    d->t_start = now_ns();
    for (unsigned i = 0; i < load->concurrency && may_start(d); i++)
        start_one(d);
    /* Bounded: a run that does not drain within its duration plus the
     * request timeout (and a margin) is reported as stuck, not waited for. */
    double limit = load->duration_s + (double)(load->timeout_ms ? load->timeout_ms : 60000) / 1e3;
    while (d->prog.outstanding) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        d->prog.elapsed_s = (double)(now_ns() - d->t_start) / 1e9;
        if (load->tick)
            load->tick(&d->prog, load->tick_arg);
        if (d->prog.elapsed_s > limit + 10) {
            stuck = 1;
            break;
        }
    }
    d->stopping = 1;
    r->elapsed_s = (double)(now_ns() - d->t_start) / 1e9;
    /* Chats of a stuck run may still end later: they must not touch `r`,
     * which the caller frees. */
    d->r = &d->sink;
    pthread_mutex_unlock(&d->mu);
    if (stuck) {
        fprintf(stderr, "lingma-bench: direct run stuck with %lu chats outstanding\n",
                d->prog.outstanding);
        return -1;
    }
    return 0;
}

int
direct_open(struct direct **out, const struct direct_config *cfg, char *err, size_t errlen)
{
    lingma_pool_options o = LINGMA_POOL_OPTIONS_INIT;
    struct direct *d = calloc(1, sizeof(*d));
    *out = NULL;
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    o.binary = cfg->sim_bin;
    o.work_dir = cfg->work_dir;
    o.extra_env = cfg->sim_env;
    /* An explicit free port: with none, the pool would use Lingma's default
     * port, and an unrelated simulator listening there would be adopted. */
    o.socket_port = cfg->socket_port;
    o.max_in_flight = cfg->max_in_flight;
    o.max_queue = cfg->max_queue ? cfg->max_queue : LINGMA_ZERO;
    o.child_output = LINGMA_CHILD_OUTPUT_LOG;
    o.log_fn = quiet_log;
    o.log_level = LINGMA_LOG_ERROR;
    int rc = lingma_pool_new(&d->pool, &o);
    if (rc) {
        snprintf(err, errlen, "lingma_pool_new: %s", lingma_strerror(rc));
        direct_close(d);
        return -1;
    }
    /* Ready before the first measured chat: a lazy start would land in
     * the first sample otherwise. Stats have no notification: poll. */
    for (int ms = 0; ms < 30000; ms += 10) {
        lingma_pool_stats *s = NULL;
        int ready = 0;
        if (lingma_pool_stats_get(&s, d->pool) == 0) {
            ready = s->ready > 0;
            lingma_pool_stats_free(s);
        }
        if (ready) {
            *out = d;
            return 0;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "the pool on %s was not ready within 30 s", cfg->sim_bin);
    direct_close(d);
    return -1;
}

void
direct_close(struct direct *d)
{
    if (!d)
        return;
    /* The pool's shutdown ends every chat with ECLOSED first: keep the
     * accounting target alive until it is gone. */
    lingma_pool_free(d->pool);
    run_free(&d->sink);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
