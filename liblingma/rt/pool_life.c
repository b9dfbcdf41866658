/*
 * The pool's life: options and their defaults, lingma_pool_new(),
 * lingma_pool_free(), and the thread-safe stats snapshot.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "alloc.h"
#include "pool.h"

static unsigned
dflt(unsigned v, unsigned def)
{
    if (v == LINGMA_ZERO)
        return 0;
    return v ? v : def;
}

static void
pool_destroy(struct lingma_pool *p)
{
    for (size_t i = 0; i < p->ninst; i++) {
        if (p->login)
            lingma__login_dispose(&p->login[i]);
        if (p->inst)
            lingma__inst_dispose(&p->inst[i]);
    }
    lingma__chats_free(p->chats);
    lingma__timer_free(p->queue_timer);
    lingma__timer_free(p->tick_timer);
    lingma__loop_free(p->loop);
    lingma__free(p->alloc, p->inst);
    lingma__free(p->alloc, p->login);
    lingma__free(p->alloc, p->reg);
    lingma__free(p->alloc, p->binary);
    lingma__free(p->alloc, p->work_dir);
    lingma__free(p->alloc, p->default_model);
    lingma__free(p->alloc, p->login_hook);
    if (p->extra_env) {
        for (char **e = p->extra_env; *e; e++)
            lingma__free(p->alloc, *e);
        lingma__free(p->alloc, p->extra_env);
    }
    pthread_mutex_destroy(&p->mu);
    lingma__free(p->alloc, p);
}

LINGMA_EXPORT int
lingma_pool_new(lingma_pool **out, const lingma_pool_options *opts)
{
    struct lingma_pool *p;
    int rc = LINGMA_ENOMEM;

    if (!out || !opts || opts->version < 1 || opts->version > LINGMA_POOL_OPTIONS_VERSION ||
        !opts->binary || !*opts->binary || (opts->account_count && !opts->accounts) ||
        (unsigned)opts->ask_mode > LINGMA_ASK_AGENT)
        return LINGMA_EINVAL;
    size_t ninst;
    if (lingma__instance_count(&ninst, opts->account_count, opts->instances, NULL, 0) != 0 ||
        ninst > LINGMA_MAX_INSTANCES)
        return LINGMA_EINVAL;

    p = lingma__calloc(opts->alloc, 1, sizeof(*p));
    if (!p)
        return LINGMA_ENOMEM;
    p->alloc = opts->alloc;
    pthread_mutex_init(&p->mu, NULL);
    /* An older struct ends before the fields of the later versions: read
     * only its part (the rest stays 0, the defaults). */
    static const size_t size_of_version[] = {
        0,
        offsetof(lingma_pool_options, login_hook),
        offsetof(lingma_pool_options, stall_timeout_ms),
        sizeof(lingma_pool_options),
    };
    _Static_assert(sizeof(size_of_version) / sizeof(size_of_version[0]) ==
                       LINGMA_POOL_OPTIONS_VERSION + 1,
                   "one size per options version");
    memcpy(&p->o, opts, size_of_version[opts->version]);
    p->o.version = LINGMA_POOL_OPTIONS_VERSION;
    p->log.fn = opts->log_fn;
    p->log.payload = opts->log_payload;
    p->log.level = opts->log_level;
    p->ninst = ninst;
    atomic_init(&p->last_tick_ms, lingma__now_ms());

    /* Defaults (DESIGN.md, gateway configuration table). */
    p->o.startup_timeout_ms = dflt(opts->startup_timeout_ms, 60000);
    p->o.rpc_timeout_ms = dflt(opts->rpc_timeout_ms, 120000);
    p->o.chat_timeout_ms = dflt(opts->chat_timeout_ms, 600000);
    p->o.first_token_timeout_ms = dflt(opts->first_token_timeout_ms, 0);
    p->o.reconnect_initial_ms = dflt(opts->reconnect_initial_ms, 1000);
    p->o.reconnect_max_ms = dflt(opts->reconnect_max_ms, 30000);
    if (p->o.reconnect_max_ms < p->o.reconnect_initial_ms)
        p->o.reconnect_max_ms = p->o.reconnect_initial_ms;
    p->o.reconnect_max_attempts = dflt(opts->reconnect_max_attempts, 8);
    p->o.max_in_flight = dflt(opts->max_in_flight, 64);
    p->o.max_queue = dflt(opts->max_queue, 256);
    p->o.queue_timeout_ms = dflt(opts->queue_timeout_ms, 30000);
    p->o.max_per_instance = dflt(opts->max_per_instance, 0);
    p->o.connections_per_instance = dflt(opts->connections_per_instance, 1);
    if (!p->o.connections_per_instance)
        p->o.connections_per_instance = 1;
    p->o.max_chats_per_connection = dflt(opts->max_chats_per_connection, 0);
    p->o.login_timeout_ms = dflt(p->o.login_timeout_ms, 300000);
    p->o.login_poll_ms = dflt(p->o.login_poll_ms, 2000);
    p->o.stall_timeout_ms = dflt(p->o.stall_timeout_ms, 30000);
    if (!p->o.login_poll_ms)
        p->o.login_poll_ms = 1; /* LINGMA_ZERO: as fast as the loop goes, never a busy spin */
    if (p->o.ask_mode == LINGMA_ASK_DEFAULT)
        p->o.ask_mode = LINGMA_ASK_CHAT;
    /* Borrowed until the instances copied their account, below. */
    p->o.accounts = opts->accounts;
    p->o.account_count = opts->account_count;

    p->binary = lingma__strdup(p->alloc, opts->binary);
    p->work_dir =
        lingma__strdup(p->alloc, opts->work_dir && *opts->work_dir ? opts->work_dir : ".");
    p->default_model = lingma__strdup(
        p->alloc, opts->default_model && *opts->default_model ? opts->default_model : "auto");
    if (p->o.login_hook && *p->o.login_hook &&
        !(p->login_hook = lingma__strdup(p->alloc, p->o.login_hook)))
        goto fail;
    p->o.login_hook = p->login_hook;
    if (!p->binary || !p->work_dir || !p->default_model)
        goto fail;
    p->o.binary = p->binary;
    p->o.work_dir = p->work_dir;
    p->o.default_model = p->default_model;
    if (opts->extra_env) {
        size_t n = 0;
        while (opts->extra_env[n])
            n++;
        p->extra_env = lingma__calloc(p->alloc, n + 1, sizeof(char *));
        if (!p->extra_env)
            goto fail;
        for (size_t i = 0; i < n; i++)
            if (!(p->extra_env[i] = lingma__strdup(p->alloc, opts->extra_env[i])))
                goto fail;
    }
    p->o.extra_env = NULL;

    lingma__admission_init(&p->adm, p->o.max_in_flight, p->o.max_queue,
                           (int64_t)p->o.queue_timeout_ms);
    p->nreg_buckets = 1024;
    p->reg = lingma__calloc(p->alloc, p->nreg_buckets, sizeof(*p->reg));
    if (!p->reg)
        goto fail;

    struct lingma__loop_opts to;
    memset(&to, 0, sizeof(to));
    to.on_wake = lingma__pool_on_wake;
    to.ud = p;
    to.log = p->log;
    to.alloc = p->alloc;
    rc = lingma__loop_new(&p->loop, &to);
    if (rc != 0)
        goto fail;
    rc = LINGMA_ENOMEM;
    p->queue_timer = lingma__timer_new(p->loop, lingma__pool_on_queue_timer, p);
    p->tick_timer = lingma__timer_new(p->loop, lingma__pool_on_tick, p);
    p->inst = lingma__calloc(p->alloc, p->ninst, sizeof(*p->inst));
    p->login = lingma__calloc(p->alloc, p->ninst, sizeof(*p->login));
    if (!p->queue_timer || !p->tick_timer || !p->inst || !p->login)
        goto fail;

    /* What the layers below get: the pool's options, loop, logger and
     * lock, and where to call back. */
    p->inst_cfg.loop = p->loop;
    p->inst_cfg.alloc = p->alloc;
    p->inst_cfg.log = &p->log;
    p->inst_cfg.mu = &p->mu;
    p->inst_cfg.o = &p->o;
    p->inst_cfg.extra_env = (const char *const *)p->extra_env;
    p->inst_cfg.ninst = p->ninst;
    p->inst_cfg.ev = &lingma__pool_inst_events;
    p->inst_cfg.ud = p;
    p->login_cfg.loop = p->loop;
    p->login_cfg.alloc = p->alloc;
    p->login_cfg.log = &p->log;
    p->login_cfg.mu = &p->mu;
    p->login_cfg.o = &p->o;
    for (size_t i = 0; i < p->ninst; i++) {
        if ((rc = lingma__inst_init(&p->inst[i], &p->inst_cfg, i)) != 0 ||
            (rc = lingma__login_init(&p->login[i], &p->login_cfg, &p->inst[i])) != 0)
            goto fail;
    }
    p->chats_cfg.loop = p->loop;
    p->chats_cfg.alloc = p->alloc;
    p->chats_cfg.log = &p->log;
    p->chats_cfg.o = &p->o;
    p->chats_cfg.inst = p->inst;
    p->chats_cfg.ninst = p->ninst;
    if ((rc = lingma__chats_new(&p->chats, &p->chats_cfg)) != 0)
        goto fail;
    /* The caller's array is not ours beyond this call. */
    p->o.accounts = NULL;
    if ((rc = lingma__loop_start(p->loop)) != 0)
        goto fail;
    lingma__logf(&p->log, LINGMA_LOG_INFO, "pool: %zu instance(s), binary %s, work dir %s",
                 p->ninst, p->binary, p->work_dir);
    *out = p;
    return 0;

fail:
    pool_destroy(p);
    return rc;
}

LINGMA_EXPORT void
lingma_pool_free(lingma_pool *p)
{
    if (!p)
        return;
    if (lingma__pool_on_service_thread(p)) {
        lingma__logf(&p->log, LINGMA_LOG_ERROR,
                     "lingma_pool_free() called from a callback: ignored");
        return;
    }
    lingma__pool_post_shutdown(p);
    lingma__loop_join(p->loop);
    /* Every child got SIGINT during the shutdown; they die together, so the
     * bounded waits below add up to one grace period, not one each. */
    pool_destroy(p);
}

/* ---- stats ---- */

/* Appends a NUL-terminated copy of `src` at `*str` and returns the copy. */
static const char *
put_str(char **str, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    char *at = *str;
    if (n)
        memcpy(at, src, n);
    at[n] = '\0';
    *str = at + n + 1;
    return at;
}

LINGMA_EXPORT int
lingma_pool_stats_get(lingma_pool_stats **out, lingma_pool *p)
{
    struct lingma__adm_stats as;

    if (!out || !p)
        return LINGMA_EINVAL;
    *out = NULL;
    /* One block: the struct, the instance array, then the strings. The
     * login URL changes under the lock, so everything is sized and copied
     * under it (the lock is never held while waiting for anything). */
    pthread_mutex_lock(&p->mu);
    size_t strings = 0;
    for (size_t i = 0; i < p->ninst; i++) {
        const struct lingma__inst *in = &p->inst[i];
        const struct lingma__login_pub *lp = &p->login[i].pub;
        strings += strlen(in->pub.last_error) + 1 + (in->username ? strlen(in->username) : 0) + 1 +
                   (lp->url ? strlen(lp->url) : 0) + 1 + strlen(lp->reason) + 1;
    }
    size_t size = sizeof(lingma_pool_stats) + p->ninst * sizeof(lingma_instance_stats) +
                  p->ninst * sizeof(lingma_instance_health) + strings;
    lingma_pool_stats *s = calloc(1, size);
    if (!s) {
        pthread_mutex_unlock(&p->mu);
        return LINGMA_ENOMEM;
    }
    _Static_assert(_Alignof(lingma_instance_health) <= _Alignof(lingma_instance_stats),
                   "the health array follows the stats array");
    s->instances = (lingma_instance_stats *)(s + 1);
    s->health = (lingma_instance_health *)(s->instances + p->ninst);
    s->instance_count = p->ninst;
    char *str = (char *)(s->health + p->ninst);
    lingma__admission_stats(&p->adm, &as);
    for (size_t i = 0; i < p->ninst; i++) {
        const struct lingma__inst *in = &p->inst[i];
        const struct lingma__login_pub *lp = &p->login[i].pub;
        lingma_instance_stats *is = &s->instances[i];
        snprintf(is->name, sizeof(is->name), "%s", in->name);
        is->state = in->pub.state;
        is->ready = in->pub.state == LINGMA_INSTANCE_READY;
        s->ready += (unsigned)is->ready;
        is->in_flight = in->pub.in_flight;
        is->restarts = in->pub.restarts;
        is->port = in->pub.port;
        is->pid = in->pub.pid;
        is->last_error = put_str(&str, in->pub.last_error);
        is->username = put_str(&str, in->username);
        is->login_state = lp->state;
        is->login_url = put_str(&str, lp->url);
        is->login_reason = put_str(&str, lp->reason);
        lingma_instance_health *h = &s->health[i];
        h->serving = in->pub.serving;
        h->login = in->pub.login;
        h->stalls = in->pub.stalls;
        s->serving += (unsigned)h->serving;
        s->logged_out += (unsigned)in->pub.logged_out;
    }
    pthread_mutex_unlock(&p->mu);
    uint64_t now = lingma__now_ms(),
             tick = atomic_load_explicit(&p->last_tick_ms, memory_order_relaxed);
    s->service_idle_ms = now > tick ? now - tick : 0;
    s->in_flight = as.in_flight;
    s->queued = as.queued;
    s->accepted_total = as.accepted_total;
    s->rejected_total = as.rejected_total;
    s->max_in_flight = as.max_in_flight;
    s->max_queue = as.max_queue;
    *out = s;
    return 0;
}

LINGMA_EXPORT void
lingma_pool_stats_free(lingma_pool_stats *stats)
{
    free(stats);
}

LINGMA_EXPORT size_t
lingma_pool_instance_count(const lingma_pool *p)
{
    return p ? p->ninst : 0;
}

LINGMA_EXPORT int
lingma_pool_find_instance(const lingma_pool *p, const char *name)
{
    char *end;

    if (!p || !name || !*name)
        return LINGMA_EINVAL;
    if (strncmp(name, "inst-", 5) == 0)
        name += 5;
    unsigned long v = strtoul(name, &end, 10);
    if (*end || end == name || v >= p->ninst)
        return LINGMA_ENOTFOUND;
    return (int)v;
}
