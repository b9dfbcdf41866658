/*
 * One Lingma instance: its process, its connections and its state machine
 *
 *     stopped -> starting -> ready -> reconnecting -> ready ...
 *                    \                    \
 *                     +-> failed <---------+        (closed at pool free)
 *
 * A start attempt spawns Lingma (or uses a pre-warmed port), polls for
 * .info every 150 ms backing off to 1 s, dials every connection (conn.c
 * does the handshake); the first connection that serves makes the instance
 * ready. The attempt is bounded by startup_timeout_ms. Losing every
 * connection (or the process) ends what runs on them with LINGMA_EIO at
 * once (on_conn_down) and schedules a reconnect with exponential backoff;
 * the process is respawned when it died. After reconnect_max_attempts the
 * instance is "failed" until something starts it again (lazy start).
 *
 * The first reconnect after a connection loss goes at once when Lingma's
 * process is still alive; a respawn waits for the backoff (backoff.h). A
 * Lingma that goes silent over an open connection (the stall probe of
 * conn.c) is treated as hung: what runs on the instance fails with
 * LINGMA_EIO, and a process of ours is restarted, since a new connection
 * to it would hang the same way.
 *
 * Whether the instance serves (lingma__inst_avail) also depends on its
 * login, which the login module learns and sets with lingma__inst_set_auth;
 * it is asked again on every new set of connections.
 *
 * The child is watched by polling its pidfd from the pool's 100 ms tick:
 * a dropped WebSocket is the immediate signal of a death, the pidfd only
 * decides between reconnecting and respawning, so the poll costs nothing in
 * latency and avoids adopting a foreign descriptor into lws (which would
 * close it on its own terms). Service thread only, but for the publication
 * of `pub` under cfg->mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "backoff.h"
#include "detail.h"
#include "infofile_io.h"
#include "instance.h"

static const unsigned dial_steps_ms[] = {150, 200, 400, 800, 1000};

static void inst_timer_cb(void *ud);
static void attempt_failed(struct lingma__inst *in, int code, const char *msg);
static void schedule_reconnect(struct lingma__inst *in);
static void stop_process(struct lingma__inst *in);

LINGMA_EXPORT const char *
lingma_instance_state_name(lingma_instance_state state)
{
    static const char *const names[] = {"stopped",      "starting", "ready",
                                        "reconnecting", "failed",   "closed"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

enum lingma__inst_avail
lingma__inst_avail(const struct lingma__inst *in)
{
    switch (in->state) {
    case LINGMA_INSTANCE_READY:
        if (in->auth == LINGMA__AUTH_IN || in->auth == LINGMA__AUTH_UNREADABLE)
            return LINGMA__INST_SERVING;
        return in->auth == LINGMA__AUTH_OUT ? LINGMA__INST_LOGGED_OUT : LINGMA__INST_COMING;
    case LINGMA_INSTANCE_STARTING:
        /* Only the first start is worth waiting for: a chat sent right
         * after lingma_pool_new() rides it. Later starts follow failures,
         * and a chat should not wait on those. */
        return in->first_start_done ? LINGMA__INST_DOWN : LINGMA__INST_COMING;
    default:
        return LINGMA__INST_DOWN;
    }
}

void
lingma__inst_describe(const struct lingma__inst *in, char *buf, size_t len)
{
    switch (lingma__inst_avail(in)) {
    case LINGMA__INST_SERVING:
        snprintf(buf, len, "serving");
        return;
    case LINGMA__INST_LOGGED_OUT:
        snprintf(buf, len, "not logged in");
        return;
    case LINGMA__INST_COMING:
        snprintf(buf, len, "%s",
                 in->state == LINGMA_INSTANCE_READY ? "checking its login" : "starting");
        return;
    case LINGMA__INST_DOWN:
    default:
        snprintf(buf, len, "%s%s%s", lingma_instance_state_name(in->state),
                 in->last_error[0] ? ": " : "", in->last_error);
        return;
    }
}

LINGMA_EXPORT const char *
lingma_auth_state_name(lingma_auth_state state)
{
    static const char *const names[] = {"unknown", "logged_in", "logged_out"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

/* Copy what other threads may read. */
static void
publish(struct lingma__inst *in)
{
    enum lingma__inst_avail avail = lingma__inst_avail(in);

    pthread_mutex_lock(in->cfg->mu);
    in->pub.state = in->state;
    in->pub.in_flight = in->in_flight;
    lingma__detail_copy(in->pub.last_error, sizeof(in->pub.last_error), in->last_error);
    in->pub.port = in->port > 0 ? (unsigned)in->port : 0;
    in->pub.pid = in->spawned ? lingma__proc_pid(&in->proc) : 0;
    in->pub.serving = avail == LINGMA__INST_SERVING;
    in->pub.logged_out = avail == LINGMA__INST_LOGGED_OUT;
    in->pub.login = in->login;
    in->pub.stalls = in->stalls;
    pthread_mutex_unlock(in->cfg->mu);
}

static void
set_state(struct lingma__inst *in, lingma_instance_state st)
{
    if (in->state != st)
        lingma__logf(in->cfg->log, st == LINGMA_INSTANCE_FAILED ? LINGMA_LOG_WARN : LINGMA_LOG_INFO,
                     "%s: %s -> %s%s%s", in->name, lingma_instance_state_name(in->state),
                     lingma_instance_state_name(st), in->last_error[0] ? " (last error: " : "",
                     in->last_error[0] ? in->last_error : "");
    /* The login is asked again on the next connections: a respawn may run
     * on a work dir that lost it. */
    if (st != LINGMA_INSTANCE_READY)
        in->auth = LINGMA__AUTH_PENDING;
    in->state = st;
    publish(in);
    in->cfg->ev->on_state(in, in->cfg->ud);
}

void
lingma__inst_set_auth(struct lingma__inst *in, enum lingma__auth auth)
{
    if (in->state != LINGMA_INSTANCE_READY || in->auth == auth)
        return; /* an answer from connections that are gone since */
    enum lingma__inst_avail before = lingma__inst_avail(in);
    in->auth = auth;
    if (auth == LINGMA__AUTH_IN)
        in->login = LINGMA_AUTH_LOGGED_IN;
    else if (auth == LINGMA__AUTH_OUT)
        in->login = LINGMA_AUTH_LOGGED_OUT;
    publish(in);
    if (lingma__inst_avail(in) != before)
        in->cfg->ev->on_state(in, in->cfg->ud);
}

static void
set_error(struct lingma__inst *in, const char *msg)
{
    lingma__detail_copy(in->last_error, sizeof(in->last_error), msg);
}

void
lingma__inst_assign(struct lingma__inst *in)
{
    in->in_flight++;
    publish(in);
}

void
lingma__inst_unassign(struct lingma__inst *in)
{
    in->in_flight--;
    publish(in);
}

/* ---- connections ---- */

static int
live_conns(const struct lingma__inst *in)
{
    int n = 0;
    for (unsigned i = 0; i < in->nconns; i++)
        n += lingma__conn_live(&in->conns[i]);
    return n;
}

struct lingma__conn *
lingma__inst_ready_conn(struct lingma__inst *in)
{
    for (unsigned i = 0; i < in->nconns; i++)
        if (lingma__conn_ready(&in->conns[i]))
            return &in->conns[i];
    return NULL;
}

static void
drop_all(struct lingma__inst *in, int code, const char *why)
{
    for (unsigned i = 0; i < in->nconns; i++)
        lingma__conn_drop(&in->conns[i], code, why);
}

static void
dial_missing(struct lingma__inst *in)
{
    for (unsigned i = 0; i < in->nconns; i++)
        if (!lingma__conn_live(&in->conns[i]))
            lingma__conn_dial(&in->conns[i], in->port);
}

static void
became_ready(struct lingma__inst *in)
{
    if (in->state == LINGMA_INSTANCE_READY)
        return;
    lingma__timer_cancel(in->timer);
    if (in->ever_ready) {
        pthread_mutex_lock(in->cfg->mu);
        in->pub.restarts++;
        pthread_mutex_unlock(in->cfg->mu);
    }
    in->ever_ready = 1;
    in->first_start_done = 1;
    in->attempts = 0;
    in->last_error[0] = '\0';
    set_state(in, LINGMA_INSTANCE_READY);
    /* Connections that are still missing are dialled again later. */
    if (live_conns(in) < (int)in->nconns)
        lingma__timer_arm(in->timer, in->cfg->o->reconnect_initial_ms);
}

static void
conn_on_ready(struct lingma__conn *c, void *ud)
{
    struct lingma__inst *in = ud;

    became_ready(in);
    in->cfg->ev->on_conn_ready(in, c, in->cfg->ud);
}

/* Lingma stopped answering over an open connection. Whatever runs on the
 * instance ends now (LINGMA_EIO), and a process of ours is restarted:
 * another connection to a Lingma that does not answer would hang too. */
static void
went_silent(struct lingma__inst *in, struct lingma__conn *c, const char *msg)
{
    set_error(in, msg);
    in->stalls++;
    if (in->state != LINGMA_INSTANCE_READY) {
        lingma__conn_drop(c, LINGMA_EIO, msg);
        publish(in);
        return;
    }
    /* Not ready before its chats fail (see conn_on_closed). */
    set_state(in, LINGMA_INSTANCE_RECONNECTING);
    drop_all(in, LINGMA_EIO, msg);
    if (!in->prewarmed)
        stop_process(in);
    schedule_reconnect(in);
}

static void
conn_on_fault(struct lingma__conn *c, enum lingma__conn_fault fault, const char *msg, void *ud)
{
    struct lingma__inst *in = ud;

    switch (fault) {
    case LINGMA__CONN_BROKEN:
        set_error(in, msg);
        lingma__conn_drop(c, LINGMA_EPROTO, msg);
        if (!live_conns(in) && in->state == LINGMA_INSTANCE_READY) {
            set_state(in, LINGMA_INSTANCE_RECONNECTING);
            lingma__timer_arm(in->timer, in->cfg->o->reconnect_initial_ms);
        }
        return;
    case LINGMA__CONN_REFUSED:
        set_error(in, msg);
        lingma__conn_drop(c, LINGMA_EIO, in->last_error);
        if (!live_conns(in) && in->state != LINGMA_INSTANCE_READY)
            attempt_failed(in, LINGMA_EPROTO, in->last_error);
        return;
    case LINGMA__CONN_UNSENT:
        lingma__conn_drop(c, LINGMA_EIO, msg);
        return;
    case LINGMA__CONN_SILENT:
        lingma__logf(in->cfg->log, LINGMA_LOG_WARN, "%s: conn %u: %s", in->name, c->index, msg);
        went_silent(in, c, msg);
        return;
    }
}

static void
conn_on_closed(struct lingma__conn *c, int opened, const char *why, void *ud)
{
    struct lingma__inst *in = ud;
    char msg[300];

    snprintf(msg, sizeof(msg), "connection to Lingma lost (%s)", why);
    if (opened)
        lingma__logf(in->cfg->log, LINGMA_LOG_WARN, "%s: conn %u: %s", in->name, c->index, msg);
    int lost = !live_conns(in) && in->state == LINGMA_INSTANCE_READY;
    if (lost) {
        /* Not ready before its chats fail: whoever reacts to their error
         * (a callback, a stats reader) sees the outage already. */
        set_error(in, msg);
        set_state(in, LINGMA_INSTANCE_RECONNECTING);
    }
    lingma__conn_drop(c, LINGMA_EIO, msg);
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

static void
conn_on_down(struct lingma__conn *c, int code, const char *why, void *ud)
{
    struct lingma__inst *in = ud;
    in->cfg->ev->on_conn_down(in, c, code, why, in->cfg->ud);
}

static int
conn_on_request(struct lingma__conn *c, const json_t *id, const char *method, json_t *params,
                void *ud)
{
    struct lingma__inst *in = ud;
    return in->cfg->ev->on_request(in, c, id, method, params, in->cfg->ud);
}

static void
conn_on_notification(struct lingma__conn *c, const char *method, json_t *params, void *ud)
{
    struct lingma__inst *in = ud;
    in->cfg->ev->on_notification(in, c, method, params, in->cfg->ud);
}

static void
conn_on_push(struct lingma__conn *c, const struct lingma__push_fast *m, void *ud)
{
    struct lingma__inst *in = ud;
    in->cfg->ev->on_push(in, c, m, in->cfg->ud);
}

static const struct lingma__conn_events conn_events = {
    conn_on_ready,   conn_on_fault,        conn_on_closed, conn_on_down,
    conn_on_request, conn_on_notification, conn_on_push,
};

int
lingma__inst_init(struct lingma__inst *in, const struct lingma__inst_cfg *cfg, size_t index)
{
    const lingma_pool_options *o = cfg->o;
    char dir[4096];

    memset(in, 0, sizeof(*in));
    in->cfg = cfg;
    in->index = index;
    snprintf(in->name, sizeof(in->name), "inst-%zu", index);
    if (lingma__proc_instance_dir(dir, sizeof(dir), o->work_dir, cfg->ninst, index) != 0)
        return LINGMA_EINVAL;
    in->work_dir = lingma__strdup(cfg->alloc, dir);
    /* The original gateway also looked at ~/.lingma/.info, where binaries
     * that ignore --workDir write it; like it, only with one instance. */
    const char *home = getenv("HOME");
    if (cfg->ninst == 1 && home && home[0] == '/') {
        in->legacy_home = lingma__strdup(cfg->alloc, home);
        if (!in->legacy_home)
            return LINGMA_ENOMEM;
    }
    /* The accounts are borrowed from the caller of lingma_pool_new(). */
    const lingma_account *acc = index < o->account_count ? &o->accounts[index] : NULL;
    if (acc && acc->username)
        in->username = lingma__strdup(cfg->alloc, acc->username);
    if (acc && acc->password)
        in->password = lingma__strdup(cfg->alloc, acc->password);
    in->nconns = o->connections_per_instance;
    in->conns = lingma__calloc(cfg->alloc, in->nconns, sizeof(*in->conns));
    in->timer = lingma__timer_new(cfg->loop, inst_timer_cb, in);
    if (!in->work_dir || !in->conns || !in->timer || (acc && acc->username && !in->username) ||
        (acc && acc->password && !in->password))
        return LINGMA_ENOMEM;
    in->conn_cfg.loop = cfg->loop;
    in->conn_cfg.alloc = cfg->alloc;
    in->conn_cfg.log = cfg->log;
    in->conn_cfg.name = in->name;
    in->conn_cfg.work_dir = in->work_dir;
    in->conn_cfg.rpc_timeout_ms = o->rpc_timeout_ms;
    in->conn_cfg.stall_ms = o->stall_timeout_ms;
    in->conn_cfg.ev = &conn_events;
    in->conn_cfg.ud = in;
    for (unsigned i = 0; i < in->nconns; i++)
        lingma__conn_init(&in->conns[i], &in->conn_cfg, i);
    lingma__proc_init(&in->proc);
    in->state = LINGMA_INSTANCE_STOPPED;
    publish(in);
    return 0;
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
    const lingma_pool_options *o = in->cfg->o;
    struct lingma__proc_opts po = LINGMA__PROC_OPTS_INIT;
    char err[256];
    int ports[2] = {0, 0};

    if (in->cfg->ninst > 1) {
        if (lingma__find_free_ports(ports, 2, err, sizeof(err)) != 0) {
            attempt_failed(in, LINGMA_ESPAWN, err);
            return -1;
        }
    } else {
        ports[0] = (int)o->socket_port;
    }
    po.bin = o->binary;
    po.work_dir = in->work_dir;
    po.socket_port = ports[0];
    po.http_port = ports[1];
    po.env = in->cfg->extra_env;
    po.log_to_file = o->child_output == LINGMA_CHILD_OUTPUT_LOG;
    po.alloc = in->cfg->alloc;
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
    lingma__logf(in->cfg->log, LINGMA_LOG_INFO, "%s: spawned %s (pid %d) in %s", in->name,
                 o->binary, lingma__proc_pid(&in->proc), in->work_dir);
    publish(in);
    return 0;
}

static void
begin_attempt(struct lingma__inst *in, lingma_instance_state display)
{
    const lingma_pool_options *o = in->cfg->o;

    in->start_deadline_ms = lingma__now_ms() + o->startup_timeout_ms;
    in->dial_step = 0;
    set_state(in, display);
    if (in->cfg->ninst == 1 && o->socket_port && !in->spawned &&
        lingma__port_is_open((int)o->socket_port, 200) == 1) {
        /* Something already serves the configured port: use it as is. */
        in->prewarmed = 1;
        in->port = (int)o->socket_port;
        lingma__logf(in->cfg->log, LINGMA_LOG_INFO, "%s: using the Lingma already on port %d",
                     in->name, in->port);
        publish(in);
        dial_missing(in);
        lingma__timer_arm(in->timer, dial_steps_ms[0]);
        return;
    }
    in->prewarmed = 0;
    /* A live process is reused (the connection dropped, Lingma did not);
     * one still stopping is waited for by the timer. */
    if (!process_alive(in) && in->proc.state != LINGMA__PROC_STOPPING) {
        if (in->attempts == 1 && in->outage_alive) {
            /* The immediate retry found the process gone after all: the
             * dropped connection was a crash, which keeps its backoff. */
            in->outage_alive = 0;
            in->start_deadline_ms = 0;
            lingma__timer_arm(in->timer, lingma__backoff_ms(1, false, o->reconnect_initial_ms,
                                                            o->reconnect_max_ms));
            return;
        }
        if (spawn(in) != 0)
            return;
    } else if (process_alive(in) && in->port > 0) {
        /* The same process listens where it did: no need to wait for the
         * first .info poll. */
        dial_missing(in);
    }
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

/* Whatever waits for the instance gives up. */
static void
fail_waiting(struct lingma__inst *in, int code, const char *msg)
{
    in->cfg->ev->on_unavailable(in, code, msg, in->cfg->ud);
}

static void
schedule_reconnect(struct lingma__inst *in)
{
    const lingma_pool_options *o = in->cfg->o;

    if (++in->attempts > o->reconnect_max_attempts) {
        set_state(in, LINGMA_INSTANCE_FAILED);
        fail_waiting(in, LINGMA_EUNAVAIL, in->last_error[0] ? in->last_error : "instance failed");
        return;
    }
    /* A process being stopped counts as gone: its restart waits. */
    if (in->attempts == 1)
        in->outage_alive = in->prewarmed || process_alive(in);
    uint64_t delay = lingma__backoff_ms(in->attempts, in->outage_alive, o->reconnect_initial_ms,
                                        o->reconnect_max_ms);
    lingma__logf(in->cfg->log, LINGMA_LOG_INFO, "%s: retry %u in %llu ms", in->name, in->attempts,
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
    lingma__logf(in->cfg->log, LINGMA_LOG_WARN, "%s: start failed: %s", in->name, msg);
    in->first_start_done = 1;
    set_error(in, msg);
    publish(in); /* the reason shows even while the state stays "starting" */
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
    const lingma_pool_options *o = in->cfg->o;
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
        snprintf(err, sizeof(err), "Lingma not ready within %u ms%s%s", o->startup_timeout_ms,
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
                publish(in);
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

void
lingma__inst_tick(struct lingma__inst *in, uint64_t now)
{
    for (unsigned i = 0; i < in->nconns; i++)
        lingma__conn_tick(&in->conns[i], now);
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
}

void
lingma__inst_dispose(struct lingma__inst *in)
{
    if (!in->cfg)
        return;
    const lingma_allocator *a = in->cfg->alloc;

    lingma__timer_free(in->timer);
    in->timer = NULL;
    if (in->spawned)
        lingma__proc_dispose(&in->proc); /* bounded SIGINT -> SIGKILL, reaped */
    in->spawned = 0;
    for (size_t i = 0; in->conns && i < in->nconns; i++)
        lingma__conn_dispose(&in->conns[i]);
    lingma__free(a, in->conns);
    lingma__free(a, in->work_dir);
    lingma__free(a, in->legacy_home);
    lingma__free(a, in->username);
    if (in->password)
        explicit_bzero(in->password, strlen(in->password));
    lingma__free(a, in->password);
}
