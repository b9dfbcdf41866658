/*
 * One Lingma instance: its process, its connections and its state machine
 *
 *     stopped -> starting -> ready -> reconnecting -> ready ...
 *                    \                    \
 *                     +-> failed <---------+        (closed at pool free)
 *
 * A start attempt spawns Lingma (or uses a pre-warmed port), polls for
 * .info every 150 ms backing off to 1 s, dials every connection, and sends
 * initialize + initialized on each; the first initialised connection makes
 * the instance ready. The attempt is bounded by startup_timeout_ms. Losing
 * every connection (or the process) fails the chats on it with LINGMA_EIO
 * at once and schedules a reconnect with exponential backoff; the process is
 * respawned when it died. After reconnect_max_attempts the instance is
 * "failed" until the next chat routed to it starts it again (lazy start).
 *
 * The child is watched by polling its pidfd from the pool's 100 ms tick:
 * a dropped WebSocket is the immediate signal of a death, the pidfd only
 * decides between reconnecting and respawning, so the poll costs nothing in
 * latency and avoids adopting a foreign descriptor into lws (which would
 * close it on its own terms). Service thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "infofile_io.h"
#include "methods.h"
#include "pool_internal.h"

static const unsigned dial_steps_ms[] = {150, 200, 400, 800, 1000};

static void inst_timer_cb(void *ud);
static void copy_trunc(char *dst, size_t cap, const char *src);
static int live_conns(const struct lingma__inst *in);
static void attempt_failed(struct lingma__inst *in, int code, const char *msg);

void
lingma__inst_publish(struct lingma__inst *in)
{
    struct lingma_pool *p = in->pool;

    pthread_mutex_lock(&p->mu);
    in->pub.state = in->state;
    in->pub.in_flight = in->in_flight;
    copy_trunc(in->pub.last_error, sizeof(in->pub.last_error), in->last_error);
    in->pub.port = in->port > 0 ? (unsigned)in->port : 0;
    in->pub.pid = in->spawned ? lingma__proc_pid(&in->proc) : 0;
    pthread_mutex_unlock(&p->mu);
}

static void
set_state(struct lingma__inst *in, lingma_instance_state st)
{
    if (in->state != st)
        lingma__logf(&in->pool->log,
                     st == LINGMA_INSTANCE_FAILED ? LINGMA_LOG_WARN : LINGMA_LOG_INFO,
                     "%s: %s -> %s%s%s", in->name, lingma_instance_state_name(in->state),
                     lingma_instance_state_name(st), in->last_error[0] ? " (last error: " : "",
                     in->last_error[0] ? in->last_error : "");
    in->state = st;
    lingma__inst_publish(in);
    lingma__login_on_inst_state(in);
}

/* Copy with truncation at a UTF-8 character boundary. */
static void
copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memmove(dst, src, n);
    dst[n] = '\0';
}

static void
set_error(struct lingma__inst *in, const char *msg)
{
    copy_trunc(in->last_error, sizeof(in->last_error), msg);
}

int
lingma__inst_init(struct lingma__inst *in, struct lingma_pool *p, size_t index)
{
    char dir[4096];

    memset(in, 0, sizeof(*in));
    in->pool = p;
    in->index = index;
    snprintf(in->name, sizeof(in->name), "inst-%zu", index);
    if (lingma__proc_instance_dir(dir, sizeof(dir), p->work_dir, p->ninst, index) != 0)
        return LINGMA_EINVAL;
    in->work_dir = lingma__strdup(p->alloc, dir);
    /* The original gateway also looked at ~/.lingma/.info, where binaries
     * that ignore --workDir write it; like it, only with one instance. */
    const char *home = getenv("HOME");
    if (p->ninst == 1 && home && home[0] == '/') {
        in->legacy_home = lingma__strdup(p->alloc, home);
        if (!in->legacy_home)
            return LINGMA_ENOMEM;
    }
    const lingma_account *acc = index < p->o.account_count ? &p->o.accounts[index] : NULL;
    if (acc && acc->username)
        in->username = lingma__strdup(p->alloc, acc->username);
    if (acc && acc->password)
        in->password = lingma__strdup(p->alloc, acc->password);
    in->nconns = p->o.connections_per_instance;
    in->conns = lingma__calloc(p->alloc, in->nconns, sizeof(*in->conns));
    in->timer = lingma__timer_new(p->loop, inst_timer_cb, in);
    if (!in->work_dir || !in->conns || !in->timer || (acc && acc->username && !in->username) ||
        (acc && acc->password && !in->password) || lingma__login_init(in) != 0)
        return LINGMA_ENOMEM;
    for (unsigned i = 0; i < in->nconns; i++) {
        in->conns[i].inst = in;
        in->conns[i].index = i;
    }
    lingma__proc_init(&in->proc);
    in->logged_in = -1;
    in->state = LINGMA_INSTANCE_STOPPED;
    lingma__inst_publish(in);
    return 0;
}

/* ---- connections ---- */

static int conn_on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params,
                           void *payload);
static void conn_on_notification(lingma_rpc *rpc, const char *method, json_t *params,
                                 void *payload);

void
lingma__lconn_kick(struct lingma__lconn *lc)
{
    if (lc->ws && lc->rpc && lingma_rpc_want_write(lc->rpc))
        lingma__ws_kick(lc->ws);
}

static int
live_conns(const struct lingma__inst *in)
{
    int n = 0;
    for (unsigned i = 0; i < in->nconns; i++)
        n += in->conns[i].ws != NULL;
    return n;
}

struct lingma__lconn *
lingma__inst_ready_conn(struct lingma__inst *in)
{
    for (unsigned i = 0; i < in->nconns; i++)
        if (in->conns[i].ws && in->conns[i].state == LINGMA__LCONN_READY)
            return &in->conns[i];
    return NULL;
}

/* Drop one connection: its chats fail with `code` now, its session closes. */
static void
lconn_drop(struct lingma__lconn *lc, int code, const char *why)
{
    if (lc->ws) {
        lingma__ws_close(lc->ws);
        lc->ws = NULL;
    }
    lingma__chat_conn_lost(lc, code, why);
    if (lc->rpc) {
        lingma_rpc *rpc = lc->rpc;
        lc->rpc = NULL;
        lingma_rpc_free(rpc); /* pending calls get LINGMA_ECLOSED */
    }
    lc->nchats = 0;
    lc->doomed = 0;
    lc->state = LINGMA__LCONN_CONNECTING;
}

static void
drop_all(struct lingma__inst *in, int code, const char *why)
{
    for (unsigned i = 0; i < in->nconns; i++)
        lconn_drop(&in->conns[i], code, why);
}

static void
became_ready(struct lingma__inst *in)
{
    if (in->state == LINGMA_INSTANCE_READY)
        return;
    lingma__timer_cancel(in->timer);
    if (in->ever_ready) {
        pthread_mutex_lock(&in->pool->mu);
        in->pub.restarts++;
        pthread_mutex_unlock(&in->pool->mu);
    }
    in->ever_ready = 1;
    in->attempts = 0;
    in->last_error[0] = '\0';
    set_state(in, LINGMA_INSTANCE_READY);
    lingma__inst_pump(in);
    /* Connections that are still missing are dialled again later. */
    if (live_conns(in) < (int)in->nconns)
        lingma__timer_arm(in->timer, in->pool->o.reconnect_initial_ms);
}

static void
on_auth_status(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
               void *payload)
{
    struct lingma__lconn *lc = payload;
    (void)rpc;
    (void)err;
    if (status != 0)
        return;
    int st;
    int known = lingma__method_auth(result, &st, NULL) == 0;
    lc->inst->logged_in = known ? st == 2 : -1;
    if (lc->inst->logged_in == 0)
        lingma__logf(&lc->inst->pool->log, LINGMA_LOG_WARN, "%s: Lingma is not logged in",
                     lc->inst->name);
    if (known)
        lingma__login_on_auth(lc->inst, st);
}

static void
on_initialize(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
              void *payload)
{
    struct lingma__lconn *lc = payload;
    struct lingma__inst *in = lc->inst;
    char msg[300];

    (void)result;
    if (status == LINGMA_ECLOSED || status == LINGMA_ECANCELED)
        return;
    if (status != 0) {
        snprintf(msg, sizeof(msg), "initialize failed: %s",
                 status == LINGMA_ERPC && err ? err->message : lingma_strerror(status));
        set_error(in, msg);
        /* Inside a callback of lc->rpc: the session is dropped by the caller
         * of lingma_rpc_recv()/lingma_rpc_tick(), see lconn_check_doomed(). */
        lc->doomed = 1;
        return;
    }
    lingma_rpc_notify(rpc, LINGMA__M_INITIALIZED, lingma__method_no_params());
    lc->state = LINGMA__LCONN_READY;
    if (lc->index == 0 || in->logged_in < 0)
        lingma_rpc_call(rpc, NULL, LINGMA__M_AUTH_STATUS, lingma__method_no_params(),
                        lingma__now_ms() + in->pool->o.rpc_timeout_ms, on_auth_status, lc);
    lingma__lconn_kick(lc);
    became_ready(in);
    lingma__inst_pump(in);
}

static void
ws_on_open(struct lingma__ws *ws, void *ud)
{
    struct lingma__lconn *lc = ud;
    struct lingma__inst *in = lc->inst;

    (void)ws;
    lc->state = LINGMA__LCONN_INITIALIZING;
    json_t *params =
        lingma__method_initialize((long)getpid(), lingma_version(), in->work_dir, in->name);
    if (lingma_rpc_call(lc->rpc, NULL, LINGMA__M_INITIALIZE, params,
                        lingma__now_ms() + in->pool->o.rpc_timeout_ms, on_initialize, lc) != 0) {
        lconn_drop(lc, LINGMA_EIO, "initialize could not be sent");
        return;
    }
    lingma__lconn_kick(lc);
}

/* Drop a connection whose session failed during a callback of its own. */
static void
lconn_check_doomed(struct lingma__lconn *lc)
{
    struct lingma__inst *in = lc->inst;

    if (!lc->doomed)
        return;
    lc->doomed = 0;
    lconn_drop(lc, LINGMA_EIO, in->last_error);
    if (!live_conns(in) && in->state != LINGMA_INSTANCE_READY)
        attempt_failed(in, LINGMA_EPROTO, in->last_error);
}

static void
ws_on_data(struct lingma__ws *ws, const void *data, size_t len, void *ud)
{
    struct lingma__lconn *lc = ud;
    struct lingma__inst *in = lc->inst;
    char msg[300];

    (void)ws;
    int rc = lingma_rpc_recv(lc->rpc, data, len);
    if (rc < 0 && rc != LINGMA_ENOMEM) {
        snprintf(msg, sizeof(msg), "Lingma broke the protocol (%s)", lingma_strerror(rc));
        set_error(in, msg);
        lconn_drop(lc, LINGMA_EPROTO, msg);
        if (!live_conns(in) && in->state == LINGMA_INSTANCE_READY) {
            set_state(in, LINGMA_INSTANCE_RECONNECTING);
            lingma__timer_arm(in->timer, in->pool->o.reconnect_initial_ms);
        }
        return;
    }
    lingma__lconn_kick(lc);
    lconn_check_doomed(lc);
}

static size_t
ws_pull(struct lingma__ws *ws, const char **out, void *ud)
{
    struct lingma__lconn *lc = ud;
    (void)ws;
    return lc->rpc ? lingma_rpc_mem_send(lc->rpc, out) : 0;
}

static void schedule_reconnect(struct lingma__inst *in);

static void
ws_on_close(struct lingma__ws *ws, int opened, const char *why, void *ud)
{
    struct lingma__lconn *lc = ud;
    struct lingma__inst *in = lc->inst;
    char msg[300];

    (void)ws;
    lc->ws = NULL; /* the loop frees it */
    snprintf(msg, sizeof(msg), "connection to Lingma lost (%s)", why);
    if (opened)
        lingma__logf(&in->pool->log, LINGMA_LOG_WARN, "%s: conn %u: %s", in->name, lc->index, msg);
    int lost = !live_conns(in) && in->state == LINGMA_INSTANCE_READY;
    if (lost) {
        /* Not ready before its chats fail: whoever reacts to their error
         * (a callback, a stats reader) sees the outage already. */
        set_error(in, msg);
        set_state(in, LINGMA_INSTANCE_RECONNECTING);
    }
    lconn_drop(lc, LINGMA_EIO, msg);
    if (live_conns(in))
        return;
    if (lost) {
        schedule_reconnect(in);
    } else if (in->state == LINGMA_INSTANCE_STARTING || in->state == LINGMA_INSTANCE_RECONNECTING) {
        /* Dialled too early (or a stale .info): poll again. */
        if (!opened)
            set_error(in, msg);
        lingma__timer_arm(in->timer, dial_steps_ms[in->dial_step]);
    }
}

static const struct lingma__ws_cbs conn_cbs = {ws_on_open, ws_on_data, ws_pull, ws_on_close};

static int
conn_on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params,
                void *payload)
{
    struct lingma__lconn *lc = payload;

    (void)rpc;
    if (lingma__push_kind(method) == LINGMA__PUSH_AUTH_REPORT) {
        /* Lingma pushes its AuthStatus after a login: no need to wait for
         * the next poll. The session answers null. */
        int st;
        if (lingma__method_auth(params, &st, NULL) == 0)
            lingma__login_on_auth(lc->inst, st);
        return 0;
    }
    return lingma__chat_on_request(lc, id, method, params);
}

static void
conn_on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload)
{
    (void)rpc;
    lingma__chat_on_notification(payload, method, params);
}

static void
rpc_log(lingma_log_level lvl, const char *msg, void *payload)
{
    struct lingma__lconn *lc = payload;
    lingma__logf(&lc->inst->pool->log, lvl, "%s: rpc: %s", lc->inst->name, msg);
}

static int
lconn_dial(struct lingma__lconn *lc, int port)
{
    struct lingma__inst *in = lc->inst;
    struct lingma_pool *p = in->pool;
    lingma_rpc_options ro = LINGMA_RPC_OPTIONS_INIT;

    ro.alloc = p->alloc;
    ro.on_request = conn_on_request;
    ro.on_notification = conn_on_notification;
    ro.log_fn = p->log.fn ? rpc_log : NULL;
    ro.payload = lc;
    int rc = lingma_rpc_new(&lc->rpc, &ro);
    if (rc != 0)
        return rc;
    lc->state = LINGMA__LCONN_CONNECTING;
    lc->limit = 0;
    rc = lingma__ws_open(&lc->ws, p->loop, port, &conn_cbs, lc);
    if (rc != 0) {
        lc->ws = NULL;
        lingma_rpc_free(lc->rpc);
        lc->rpc = NULL;
    }
    return rc;
}

static void
dial_missing(struct lingma__inst *in)
{
    for (unsigned i = 0; i < in->nconns; i++)
        if (!in->conns[i].ws)
            lconn_dial(&in->conns[i], in->port);
}

/* ---- start attempts ---- */

static void
stop_process(struct lingma__inst *in)
{
    if (in->spawned && in->proc.state == LINGMA__PROC_RUNNING)
        lingma__proc_stop_begin(&in->proc, (int64_t)lingma__now_ms());
}

static int
process_alive(struct lingma__inst *in)
{
    if (!in->spawned)
        return 0;
    if (in->proc.state == LINGMA__PROC_RUNNING && lingma__proc_check(&in->proc) == 0)
        return 1;
    return 0;
}

static int
spawn(struct lingma__inst *in)
{
    struct lingma_pool *p = in->pool;
    struct lingma__proc_opts po = LINGMA__PROC_OPTS_INIT;
    char err[256];
    int ports[2] = {0, 0};

    if (p->ninst > 1) {
        if (lingma__find_free_ports(ports, 2, err, sizeof(err)) != 0) {
            attempt_failed(in, LINGMA_ESPAWN, err);
            return -1;
        }
    } else {
        ports[0] = (int)p->o.socket_port;
    }
    po.bin = p->binary;
    po.work_dir = in->work_dir;
    po.socket_port = ports[0];
    po.http_port = ports[1];
    po.env = (const char *const *)p->extra_env;
    po.log_to_file = p->o.child_output == LINGMA_CHILD_OUTPUT_LOG;
    po.alloc = p->alloc;
    if (in->spawned)
        lingma__proc_dispose(&in->proc);
    lingma__proc_init(&in->proc);
    int rc = lingma__proc_spawn(&in->proc, &po, err, sizeof(err));
    if (rc != 0) {
        in->spawned = 0;
        attempt_failed(in, LINGMA_ESPAWN, err);
        return -1;
    }
    in->spawned = 1;
    in->port = 0;
    lingma__logf(&p->log, LINGMA_LOG_INFO, "%s: spawned %s (pid %d) in %s", in->name, p->binary,
                 lingma__proc_pid(&in->proc), in->work_dir);
    lingma__inst_publish(in);
    return 0;
}

static void
begin_attempt(struct lingma__inst *in, lingma_instance_state display)
{
    struct lingma_pool *p = in->pool;

    in->start_deadline_ms = lingma__now_ms() + p->o.startup_timeout_ms;
    in->dial_step = 0;
    set_state(in, display);
    if (p->ninst == 1 && p->o.socket_port && !in->spawned &&
        lingma__port_is_open((int)p->o.socket_port, 200) == 1) {
        /* Something already serves the configured port: use it as is. */
        in->prewarmed = 1;
        in->port = (int)p->o.socket_port;
        lingma__logf(&p->log, LINGMA_LOG_INFO, "%s: using the Lingma already on port %d", in->name,
                     in->port);
        lingma__inst_publish(in);
        dial_missing(in);
        lingma__timer_arm(in->timer, dial_steps_ms[0]);
        return;
    }
    in->prewarmed = 0;
    /* A live process is reused (the connection dropped, Lingma did not);
     * one still stopping is waited for by the timer. */
    if (!process_alive(in) && in->proc.state != LINGMA__PROC_STOPPING && spawn(in) != 0)
        return;
    lingma__timer_arm(in->timer, dial_steps_ms[0]);
}

void
lingma__inst_start(struct lingma__inst *in)
{
    if (in->state != LINGMA_INSTANCE_STOPPED && in->state != LINGMA_INSTANCE_FAILED)
        return;
    in->attempts = 0;
    begin_attempt(in, LINGMA_INSTANCE_STARTING);
}

static void
fail_waiting(struct lingma__inst *in, int code, const char *msg)
{
    while (in->waitq)
        lingma__chat_fail(in->pool, in->waitq, code, msg);
}

static void
schedule_reconnect(struct lingma__inst *in)
{
    struct lingma_pool *p = in->pool;

    if (++in->attempts > p->o.reconnect_max_attempts) {
        set_state(in, LINGMA_INSTANCE_FAILED);
        fail_waiting(in, LINGMA_EUNAVAIL, in->last_error[0] ? in->last_error : "instance failed");
        return;
    }
    uint64_t delay = p->o.reconnect_initial_ms;
    for (unsigned i = 1; i < in->attempts && delay < p->o.reconnect_max_ms; i++)
        delay *= 2;
    if (delay > p->o.reconnect_max_ms)
        delay = p->o.reconnect_max_ms;
    lingma__logf(&p->log, LINGMA_LOG_INFO, "%s: retry %u in %llu ms", in->name, in->attempts,
                 (unsigned long long)delay);
    if (in->state != LINGMA_INSTANCE_STARTING)
        set_state(in, LINGMA_INSTANCE_RECONNECTING);
    in->dial_step = 0;
    in->start_deadline_ms = 0; /* the timer starts a new attempt */
    lingma__timer_arm(in->timer, delay);
}

static void
attempt_failed(struct lingma__inst *in, int code, const char *msg)
{
    lingma__logf(&in->pool->log, LINGMA_LOG_WARN, "%s: start failed: %s", in->name, msg);
    set_error(in, msg);
    drop_all(in, LINGMA_EIO, msg);
    /* A child that never became usable is stopped so the retry starts clean. */
    if (!in->prewarmed)
        stop_process(in);
    fail_waiting(in, code == LINGMA_ETIMEDOUT ? LINGMA_EUNAVAIL : code, msg);
    schedule_reconnect(in);
}

static void
inst_timer_cb(void *ud)
{
    struct lingma__inst *in = ud;
    struct lingma_pool *p = in->pool;
    uint64_t now = lingma__now_ms();
    char err[300];

    if (in->state == LINGMA_INSTANCE_READY) {
        dial_missing(in); /* some connections dropped while others serve */
        return;
    }
    if (in->state != LINGMA_INSTANCE_STARTING && in->state != LINGMA_INSTANCE_RECONNECTING)
        return;
    if (in->start_deadline_ms == 0) {
        /* Backoff elapsed: a new attempt. */
        begin_attempt(in, in->ever_ready ? LINGMA_INSTANCE_RECONNECTING : LINGMA_INSTANCE_STARTING);
        return;
    }
    if (in->spawned && in->proc.state == LINGMA__PROC_STOPPING) {
        if (lingma__proc_stop_poll(&in->proc, (int64_t)now, NULL) == 1 && spawn(in) != 0)
            return;
        lingma__timer_arm(in->timer, LINGMA__PROC_POLL_MS);
        return;
    }
    if (in->spawned && lingma__proc_check(&in->proc) == 1) {
        char st[64];
        lingma__wait_status_str(in->proc.child.status, st, sizeof(st));
        snprintf(err, sizeof(err), "Lingma exited during start-up (%s)", st);
        attempt_failed(in, LINGMA_ESPAWN, err);
        return;
    }
    if (now >= in->start_deadline_ms) {
        snprintf(err, sizeof(err), "Lingma not ready within %u ms%s%s", p->o.startup_timeout_ms,
                 in->last_error[0] ? ": " : "", in->last_error);
        attempt_failed(in, LINGMA_ETIMEDOUT, err);
        return;
    }
    if (!live_conns(in)) {
        if (!in->prewarmed) {
            struct lingma__info info;
            int rc = lingma__info_read(&info, in->work_dir, in->spawned ? in->legacy_home : NULL,
                                       err, sizeof(err));
            /* The legacy file is shared with IDE plugins: trust it only
             * when it names the process we spawned. */
            if (rc == 0 && info.source == LINGMA__INFO_FROM_LEGACY &&
                info.pid != lingma__proc_pid(&in->proc))
                rc = LINGMA_ENOTFOUND;
            if (rc == 0) {
                in->port = info.port;
                lingma__inst_publish(in);
                dial_missing(in);
            } else if (rc != LINGMA_ENOTFOUND) {
                set_error(in, err);
            }
        } else {
            dial_missing(in);
        }
    }
    if (in->dial_step + 1 < sizeof(dial_steps_ms) / sizeof(dial_steps_ms[0]))
        in->dial_step++;
    lingma__timer_arm(in->timer, dial_steps_ms[in->dial_step]);
}

/* ---- chats ---- */

void
lingma__inst_submit(struct lingma__inst *in, struct lingma__chat *c)
{
    c->inst = in;
    c->phase = LINGMA__CHAT_WAITING;
    c->next = NULL;
    c->prev = in->waitq_tail;
    if (in->waitq_tail)
        in->waitq_tail->next = c;
    else
        in->waitq = c;
    in->waitq_tail = c;
    in->in_flight++;
    lingma__inst_publish(in);
    if (in->state == LINGMA_INSTANCE_READY)
        lingma__inst_pump(in);
    else if (in->state == LINGMA_INSTANCE_STOPPED || in->state == LINGMA_INSTANCE_FAILED)
        lingma__inst_start(in);
}

void
lingma__inst_detach_chat(struct lingma__inst *in, struct lingma__chat *c)
{
    if (c->phase == LINGMA__CHAT_WAITING) {
        if (c->prev)
            c->prev->next = c->next;
        else
            in->waitq = c->next;
        if (c->next)
            c->next->prev = c->prev;
        else
            in->waitq_tail = c->prev;
        c->next = c->prev = NULL;
    } else if (c->conn) {
        lingma__chat_release(in->pool, c);
        lingma__inst_pump_later(in);
    } else {
        lingma__rid_remove(in->pool, c);
    }
    in->in_flight--;
    c->inst = NULL;
    lingma__inst_publish(in);
}

static struct lingma__lconn *
pick_conn(struct lingma__inst *in)
{
    struct lingma__lconn *best = NULL;
    unsigned cap = in->pool->o.max_chats_per_connection;

    for (unsigned i = 0; i < in->nconns; i++) {
        struct lingma__lconn *lc = &in->conns[i];
        if (!lc->ws || lc->state != LINGMA__LCONN_READY)
            continue;
        if ((cap && lc->nchats >= cap) || (lc->limit && lc->nchats >= lc->limit))
            continue;
        if (!best || lc->nchats < best->nchats)
            best = lc;
    }
    return best;
}

void
lingma__inst_pump(struct lingma__inst *in)
{
    struct lingma__lconn *lc;

    in->pump_wanted = 0;
    while (in->waitq && in->state == LINGMA_INSTANCE_READY && (lc = pick_conn(in))) {
        struct lingma__chat *c = in->waitq;
        in->waitq = c->next;
        if (in->waitq)
            in->waitq->prev = NULL;
        else
            in->waitq_tail = NULL;
        c->next = c->prev = NULL;
        c->phase = LINGMA__CHAT_ASKING; /* off the wait list: what a failure below expects */
        /* A Lingma that stopped reading (hung, stopped) leaves everything we
         * send in the session's queue: past the cap, refuse rather than
         * grow it by a prompt per chat until the connection is given up. */
        size_t backlog = lingma_rpc_send_queued(lc->rpc);
        if (backlog > LINGMA__SEND_BACKLOG_MAX) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "Lingma is not reading its connection (%zu bytes wait to be sent)", backlog);
            lingma__chat_fail(in->pool, c, LINGMA_EIO, msg);
            continue;
        }
        int rc = lingma__chat_send(lc, c);
        if (rc != 0)
            lingma__chat_fail(in->pool, c, rc, "chat/ask could not be sent");
    }
}

void
lingma__inst_pump_later(struct lingma__inst *in)
{
    if (!in->waitq)
        return;
    in->pump_wanted = 1;
    in->pool->pump_wanted = 1;
    lingma__loop_wake(in->pool->loop);
}

void
lingma__inst_tick(struct lingma__inst *in, uint64_t now)
{
    for (unsigned i = 0; i < in->nconns; i++) {
        struct lingma__lconn *lc = &in->conns[i];
        if (lc->rpc) {
            lingma_rpc_tick(lc->rpc, now);
            lingma__lconn_kick(lc);
            lconn_check_doomed(lc);
        }
    }
    if (!in->spawned)
        return;
    if (in->proc.state == LINGMA__PROC_STOPPING) {
        lingma__proc_stop_poll(&in->proc, (int64_t)now, NULL);
        return;
    }
    if (in->proc.state == LINGMA__PROC_RUNNING && in->state == LINGMA_INSTANCE_READY &&
        lingma__proc_check(&in->proc) == 1) {
        char st[64], msg[128];
        lingma__wait_status_str(in->proc.child.status, st, sizeof(st));
        snprintf(msg, sizeof(msg), "Lingma exited (%s)", st);
        set_error(in, msg);
        set_state(in, LINGMA_INSTANCE_RECONNECTING);
        drop_all(in, LINGMA_EIO, msg);
        schedule_reconnect(in);
    }
}

void
lingma__inst_shutdown(struct lingma__inst *in)
{
    lingma__timer_cancel(in->timer);
    fail_waiting(in, LINGMA_ECLOSED, "the pool is shutting down");
    drop_all(in, LINGMA_ECLOSED, "the pool is shutting down");
    /* SIGINT now; lingma_pool_free() waits for the exits after the join. */
    stop_process(in);
    set_state(in, LINGMA_INSTANCE_CLOSED);
    lingma__login_shutdown(in);
}

void
lingma__inst_dispose(struct lingma__inst *in)
{
    struct lingma_pool *p = in->pool;

    if (!p)
        return;
    lingma__timer_free(in->timer);
    in->timer = NULL;
    lingma__login_dispose(in);
    if (in->spawned)
        lingma__proc_dispose(&in->proc); /* bounded SIGINT -> SIGKILL, reaped */
    in->spawned = 0;
    lingma__free(p->alloc, in->conns);
    lingma__free(p->alloc, in->work_dir);
    lingma__free(p->alloc, in->legacy_home);
    lingma__free(p->alloc, in->username);
    if (in->password)
        explicit_bzero(in->password, strlen(in->password));
    lingma__free(p->alloc, in->password);
}
