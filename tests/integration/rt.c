/* Helpers of the runtime integration tests; see rt.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "proc.h" /* lingma__find_free_ports */
#include "rt.h"
#include "procrun.h"
#include "tmpdir.h"

char *
rt_tempdir(void)
{
    char d[4096];
    assert_int_equal(tmpdir_make(d, sizeof(d), "rt"), 0);
    return strdup(d);
}

void
rt_rmdir(char *dir)
{
    if (!dir)
        return;
    tmpdir_remove(dir);
    free(dir);
}

const char *
rt_sim_bin(void)
{
    const char *b = getenv("LINGMA_SIM_BIN");
    assert_non_null(b);
    return b;
}

static void
quiet_log(lingma_log_level lvl, const char *msg, void *payload)
{
    (void)payload;
    if (getenv("RT_VERBOSE") || lvl == LINGMA_LOG_ERROR)
        fprintf(stderr, "[lingma %d] %s\n", (int)lvl, msg);
}

/* A free loopback port. Tests pass one explicitly: Lingma's default port
 * (37010) would let a test reach the simulator of a test running next to it. */
static unsigned
free_port(void)
{
    int port = 0;
    assert_int_equal(lingma__find_free_ports(&port, 1, NULL, 0), 0);
    return (unsigned)port;
}

void
rt_pool_options(lingma_pool_options *o, const char *dir, const char *const *env)
{
    lingma_pool_options d = LINGMA_POOL_OPTIONS_INIT;
    *o = d;
    o->binary = rt_sim_bin();
    o->work_dir = dir;
    o->extra_env = env;
    o->socket_port = free_port();
    o->startup_timeout_ms = 10000;
    o->rpc_timeout_ms = 10000;
    o->chat_timeout_ms = 30000;
    o->reconnect_initial_ms = 100;
    o->reconnect_max_ms = 400;
    o->log_fn = quiet_log;
    o->log_level = getenv("RT_VERBOSE") ? LINGMA_LOG_DEBUG : LINGMA_LOG_WARN;
    o->child_output = LINGMA_CHILD_OUTPUT_LOG;
}

lingma_pool *
rt_pool_new(const char *dir, const char *const *env)
{
    lingma_pool_options o;
    lingma_pool *p = NULL;
    rt_pool_options(&o, dir, env);
    assert_int_equal(lingma_pool_new(&p, &o), 0);
    return p;
}

void
rt_chat_init(struct rt_chat *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->order_ok = 1;
}

void
rt_chat_clear(struct rt_chat *c)
{
    free(c->text);
    free(c->reasoning);
    free(c->done_text);
    for (int i = 0; i < c->ncalls && i < RT_MAX_CALLS; i++)
        free(c->calls[i].arguments);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static void
append(char **buf, size_t *len, const char *s, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    if (!nb)
        abort();
    memcpy(nb + *len, s, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
}

void
rt_on_event(const lingma_chat_event *ev, void *payload)
{
    struct rt_chat *c = payload;

    pthread_mutex_lock(&c->mu);
    if (c->terminals)
        c->order_ok = 0;
    if (ev->id != c->id && c->id)
        c->order_ok = 0;
    switch (ev->type) {
    case LINGMA_CHAT_STARTED:
        if (c->started || c->deltas)
            c->order_ok = 0;
        c->started++;
        snprintf(c->instance, sizeof(c->instance), "%s", ev->started.instance);
        break;
    case LINGMA_CHAT_DELTA:
    case LINGMA_CHAT_REASONING:
        if (!c->started || c->ncalls || strlen(ev->delta.text) != ev->delta.len)
            c->order_ok = 0;
        if (ev->type == LINGMA_CHAT_DELTA) {
            c->deltas++;
            append(&c->text, &c->len, ev->delta.text, ev->delta.len);
        } else {
            c->reasonings++;
            append(&c->reasoning, &c->reasoning_len, ev->delta.text, ev->delta.len);
        }
        break;
    case LINGMA_CHAT_TOOL_CALL:
        if (!c->started || ev->tool_call.index != (size_t)c->ncalls)
            c->order_ok = 0;
        if (c->ncalls < RT_MAX_CALLS) {
            struct rt_tool_call *tc = &c->calls[c->ncalls];
            tc->index = ev->tool_call.index;
            snprintf(tc->id, sizeof(tc->id), "%s", ev->tool_call.id);
            snprintf(tc->name, sizeof(tc->name), "%s", ev->tool_call.name);
            tc->arguments = strdup(ev->tool_call.arguments);
        }
        c->ncalls++;
        break;
    case LINGMA_CHAT_DONE:
        c->terminals++;
        c->done = 1;
        c->done_tool_calls = ev->done.tool_calls;
        c->status_code = ev->done.status_code;
        c->usage = ev->done.usage;
        c->done_text = strndup(ev->done.text, ev->done.len);
        break;
    case LINGMA_CHAT_ERROR:
        c->terminals++;
        c->error = ev->error.code;
        c->status_code = ev->error.status_code;
        c->rpc_code = ev->error.rpc_code;
        c->retry_after_ms = ev->error.retry_after_ms;
        snprintf(c->message, sizeof(c->message), "%s", ev->error.message);
        break;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void
deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int
rt_chat_wait(struct rt_chat *c, int timeout_ms)
{
    struct timespec ts;
    int rc = 0;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (!c->terminals && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    int ok = c->terminals ? 0 : -1;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

int
rt_chat_wait_started(struct rt_chat *c, int timeout_ms)
{
    struct timespec ts;
    int rc = 0;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&c->mu);
    while (!c->started && !c->terminals && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    int ok = c->started || c->terminals ? 0 : -1;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

int
rt_chat_ended_with(struct rt_chat *c, int error, const char *needle)
{
    pthread_mutex_lock(&c->mu);
    int yes = c->terminals && c->error == error && strstr(c->message, needle) != NULL;
    pthread_mutex_unlock(&c->mu);
    return yes;
}

int
rt_chat_start_opts(struct rt_chat *c, lingma_chat_admission *admit, lingma_pool *pool,
                   const lingma_chat_options *o)
{
    lingma_chat_options oc = *o;
    lingma_chat_id id = 0;
    oc.on_event = rt_on_event;
    oc.payload = c;
    /* The id is written before any event can compare it: lock around. */
    pthread_mutex_lock(&c->mu);
    int rc = lingma_chat_start(&id, admit, pool, &oc);
    c->id = id;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int
rt_chat_start(struct rt_chat *c, lingma_pool *pool, const char *prompt, const char *model)
{
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    o.prompt = prompt;
    o.model = model;
    return rt_chat_start_opts(c, NULL, pool, &o);
}

void
rt_chats_start(struct rt_chat *c, int n, lingma_pool *pool, const char *prompt)
{
    for (int i = 0; i < n; i++) {
        rt_chat_init(&c[i]);
        assert_int_equal(rt_chat_start(&c[i], pool, prompt, NULL), 0);
    }
}

void
rt_assert_done(const struct rt_chat *c, int i)
{
    if (!c->done)
        fail_msg("chat %d: %s %s", i, lingma_error_name(c->error), c->message);
}

void
rt_cancel_expect(lingma_pool *pool, struct rt_chat *c, int error)
{
    assert_int_equal(lingma_chat_cancel(pool, c->id), 0);
    assert_int_equal(rt_chat_wait(c, 5000), 0);
    assert_int_equal(c->error, error);
}

lingma_pool_stats *
rt_pool_stats(lingma_pool *pool)
{
    lingma_pool_stats *s = NULL;
    assert_int_equal(lingma_pool_stats_get(&s, pool), 0);
    return s;
}

void
rt_wait_ready(lingma_pool *pool, size_t n, int timeout_ms)
{
    /* Serving, not only READY: until its login is known an instance takes
     * no chats while another serves. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rt_wait_health(pool, i, rt_pred_serving, NULL, timeout_ms), 0);
}

/* What a bounded wait looks at in each snapshot: instance `i`'s stats or
 * its health. */
struct look {
    int (*on_stats)(const lingma_instance_stats *, void *);
    int (*on_health)(const lingma_instance_health *, void *);
    void *arg;
};

static int
wait_snapshot(lingma_pool *pool, size_t i, const struct look *l, int timeout_ms)
{
    /* Stats are a snapshot API without notifications: a bounded poll. */
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        lingma_pool_stats *s = NULL;
        if (lingma_pool_stats_get(&s, pool) == 0) {
            int ok = i < s->instance_count && (l->on_stats ? l->on_stats(&s->instances[i], l->arg)
                                                           : l->on_health(&s->health[i], l->arg));
            lingma_pool_stats_free(s);
            if (ok)
                return 0;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int
rt_wait_instance(lingma_pool *pool, size_t i, int (*pred)(const lingma_instance_stats *, void *),
                 void *arg, int timeout_ms)
{
    struct look l = {pred, NULL, arg};
    return wait_snapshot(pool, i, &l, timeout_ms);
}

int
rt_pred_ready(const lingma_instance_stats *s, void *arg)
{
    (void)arg;
    return s->ready;
}

void
rt_sim_json(const char *dir, const char *json)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/sim.json.tmp", dir);
    snprintf(path, sizeof(path), "%s/sim.json", dir);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

int
rt_wait_health(lingma_pool *pool, size_t i, int (*pred)(const lingma_instance_health *, void *),
               void *arg, int timeout_ms)
{
    struct look l = {NULL, pred, arg};
    return wait_snapshot(pool, i, &l, timeout_ms);
}

int
rt_pred_serving(const lingma_instance_health *h, void *arg)
{
    (void)arg;
    return h->serving;
}

int
rt_pred_logged_out(const lingma_instance_health *h, void *arg)
{
    (void)arg;
    return h->login == LINGMA_AUTH_LOGGED_OUT;
}

long
rt_sim_status(const char *dir, const char *key)
{
    char out[65536];
    const char *argv[] = {rt_sim_bin(), "status", "-o", "json", "--workDir", dir, NULL};
    struct procrun_opts o = {.argv = argv};
    procrun_run(&o, 10000, out, sizeof(out), NULL, 0); /* the JSON says it all */
    json_t *j = json_loads(out, 0, NULL);
    long v = -1;
    if (j && json_is_integer(json_object_get(j, key)))
        v = (long)json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

int
rt_pid_alive(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    fclose(f);
    /* A zombie still has /proc/<pid>: that counts too, it must not exist. */
    return 1;
}

void
rt_url_param(char *out, size_t cap, const char *url, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=", key);
    const char *q = strchr(url, '?');
    assert_non_null(q);
    for (const char *p = q + 1; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, pat, strlen(pat)) == 0) {
            p += strlen(pat);
            size_t n = strcspn(p, "&");
            assert_true(n < cap);
            memcpy(out, p, n);
            out[n] = '\0';
            return;
        }
    }
    fail_msg("no %s in %s", key, url);
}

long long
rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
