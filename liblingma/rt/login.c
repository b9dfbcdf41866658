/*
 * Login management of one instance (lingma-protocol.md section 4): the
 * attempt state machine, the login hook, logged-in detection (see login.h).
 *
 *   NONE --start--> WAIT_INST --ready--> CHECK --not logged in--> URL --url--> POLL
 *                                          \--logged in: LOGGED_IN           |
 *                                  auth/status every login_poll_ms, status 2 -> LOGGED_IN
 *
 * Everything runs on the service thread. Events (RPC answers, the instance
 * changing state, an auth/report push) only record what happened and arm
 * the login timer at 0; the timer callback then advances the attempt from a
 * clean stack. That keeps this file out of the middle of a connection's
 * teardown (conn.c), where RPC callbacks fire with LINGMA_ECLOSED.
 *
 * The hook's pipe and pidfd are not adopted into libwebsockets (lws would
 * close an adopted descriptor on its own terms, and loginhook owns both):
 * while a hook runs, the same timer fires every HOOK_TICK_MS and steps it
 * without blocking. A hook line thus reaches the log at most 50 ms late,
 * which a human-speed login never notices.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "detail.h"
#include "loginhook.h"
#include "methods.h"
#include "login.h"

#define HOOK_TICK_MS 50

_Static_assert(sizeof(((struct lingma__login_pub *)0)->reason) ==
                   sizeof(((struct lingma__login *)0)->reason),
               "publish() copies the reason whole");

LINGMA_EXPORT const char *
lingma_login_state_name(lingma_login_state state)
{
    static const char *const names[] = {"idle", "waiting", "logged_in", "failed"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

static void login_timer_cb(void *ud);

int
lingma__login_init(struct lingma__login *L, const struct lingma__login_cfg *cfg,
                   struct lingma__inst *in)
{
    memset(L, 0, sizeof(*L));
    L->cfg = cfg;
    L->inst = in;
    L->timer = lingma__timer_new(cfg->loop, login_timer_cb, L);
    return L->timer ? 0 : LINGMA_ENOMEM;
}

void
lingma__login_dispose(struct lingma__login *L)
{
    if (!L->cfg)
        return;
    const lingma_allocator *a = L->cfg->alloc;

    lingma__timer_free(L->timer);
    L->timer = NULL;
    lingma__hook_free(L->hook);
    L->hook = NULL;
    lingma__free(a, L->url);
    L->url = NULL;
    lingma__free(a, L->pub.url);
    L->pub.url = NULL;
}

void
lingma__login_mark_waiting(struct lingma__login *L)
{
    /* WAITING as soon as the caller's request returns, so that a caller
     * polling the stats never sees the state from before its own request.
     * The service thread publishes the same when it takes the command (or
     * nothing new when an attempt already runs). */
    if (L->pub.state != LINGMA_LOGIN_WAITING) {
        L->pub.state = LINGMA_LOGIN_WAITING;
        L->pub.reason[0] = '\0';
        lingma__free(L->cfg->alloc, L->pub.url);
        L->pub.url = NULL;
    }
}

/* Copy the login fields to what other threads read. */
static void
publish(struct lingma__login *L)
{
    char *url = L->url ? lingma__strdup(L->cfg->alloc, L->url) : NULL;

    pthread_mutex_lock(L->cfg->mu);
    char *old = L->pub.url;
    L->pub.state = L->state;
    L->pub.url = url;
    memcpy(L->pub.reason, L->reason, sizeof(L->pub.reason));
    pthread_mutex_unlock(L->cfg->mu);
    lingma__free(L->cfg->alloc, old);
}

/* Handle it from the timer, soon. */
static void
kick(struct lingma__login *L)
{
    if (!L->closing)
        lingma__timer_arm(L->timer, 0);
}

static void
succeed(struct lingma__login *L)
{
    struct lingma__inst *in = L->inst;

    if (L->phase != LINGMA__LOGIN_NONE)
        lingma__logf(L->cfg->log, LINGMA_LOG_INFO, "%s: logged in", in->name);
    L->phase = LINGMA__LOGIN_NONE;
    L->hook_failed = 0;
    L->state = LINGMA_LOGIN_LOGGED_IN;
    L->reason[0] = '\0';
    publish(L);
    /* A hook still running finishes on its own (bounded by its timeout):
     * it may be closing its browser. */
}

static void
fail(struct lingma__login *L, const char *reason)
{
    struct lingma__inst *in = L->inst;

    lingma__logf(L->cfg->log, LINGMA_LOG_WARN, "%s: login failed: %s", in->name, reason);
    L->phase = LINGMA__LOGIN_NONE;
    L->hook_failed = 0;
    L->state = LINGMA_LOGIN_FAILED;
    lingma__detail_copy(L->reason, sizeof(L->reason), reason);
    publish(L);
}

/* Lingma said it is not logged in, and it was not known to be: tell the
 * owner of the pool, and let the hook log in when there is one. */
static void
needs_login(struct lingma__login *L)
{
    struct lingma__inst *in = L->inst;
    const lingma_pool_options *o = L->cfg->o;
    int hook = o->login_hook && L->phase == LINGMA__LOGIN_NONE;

    lingma__logf(L->cfg->log, LINGMA_LOG_WARN, "%s: Lingma is not logged in: a login is needed%s",
                 in->name, hook ? "; the login hook runs" : "");
    if (hook)
        lingma__login_start(L);
    if (o->on_instance_event) {
        lingma_instance_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = LINGMA_INSTANCE_EVENT_LOGIN_NEEDED;
        ev.instance = in->index;
        ev.name = in->name;
        ev.login_hook = hook;
        o->on_instance_event(&ev, o->instance_event_payload);
    }
}

void
lingma__login_on_auth(struct lingma__login *L, int status)
{
    if (L->closing)
        return;
    int was_out = L->inst->auth == LINGMA__AUTH_OUT;
    lingma__inst_set_auth(L->inst, status == 2 ? LINGMA__AUTH_IN : LINGMA__AUTH_OUT);
    if (status != 2 && !was_out && L->inst->auth == LINGMA__AUTH_OUT)
        needs_login(L);
    if (status == 2) {
        if (L->phase != LINGMA__LOGIN_NONE || L->state != LINGMA_LOGIN_LOGGED_IN)
            succeed(L);
        return;
    }
    if (L->phase == LINGMA__LOGIN_NONE && L->state == LINGMA_LOGIN_LOGGED_IN) {
        /* Logged out, expired, or a fresh work dir after a respawn. */
        L->state = LINGMA_LOGIN_IDLE;
        publish(L);
    }
}

void
lingma__login_on_inst_state(struct lingma__login *L)
{
    if (L->phase != LINGMA__LOGIN_NONE)
        kick(L);
}

static void ask_auth(struct lingma__login *L, struct lingma__conn *c);

static void
on_auth_status(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
               void *payload)
{
    struct lingma__login *L = payload;
    struct lingma__inst *in = L->inst;
    int st;

    (void)rpc;
    (void)err;
    if (L->closing)
        return;
    if (status == 0 && lingma__method_auth(result, &st, NULL) == 0) {
        lingma__login_on_auth(L, st);
    } else if (status == 0 || status == LINGMA_ERPC || status == LINGMA_EPROTO) {
        /* A Lingma that does not tell: take it as serving rather than
         * refuse every chat; a chat that needs a login says so itself. */
        if (in->auth == LINGMA__AUTH_PENDING)
            lingma__inst_set_auth(in, LINGMA__AUTH_UNREADABLE);
    } else if (status == LINGMA_ETIMEDOUT && in->auth == LINGMA__AUTH_PENDING) {
        /* Until it is known the instance takes no chats: ask again. A
         * Lingma that went silent is found by the stall probe meanwhile. */
        struct lingma__conn *c = lingma__inst_ready_conn(in);
        if (c)
            ask_auth(L, c);
    }
}

static void
ask_auth(struct lingma__login *L, struct lingma__conn *c)
{
    lingma__conn_call(c, NULL, LINGMA__M_AUTH_STATUS, lingma__method_no_params(), on_auth_status,
                      L);
}

void
lingma__login_on_conn_ready(struct lingma__login *L, struct lingma__conn *c)
{
    /* Every (re)connection tells whether Lingma is logged in: the first
     * connection always asks, the others while it is not known. Until the
     * answer, the instance takes no chats (lingma__inst_avail). */
    if (c->index == 0 || L->inst->auth == LINGMA__AUTH_PENDING)
        ask_auth(L, c);
}

/* ---- RPCs ---- */

static void
on_rpc(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct lingma__login *L = payload;
    enum lingma__login_rpc kind = L->pending;
    char msg[300];

    (void)rpc;
    L->pending = LINGMA__LOGIN_RPC_NONE;
    if (L->closing)
        return;
    if (kind == LINGMA__LOGIN_RPC_AUTH) {
        int st;
        if (status == 0 && lingma__method_auth(result, &st, NULL) == 0) {
            lingma__login_on_auth(L, st);
            if (L->phase == LINGMA__LOGIN_CHECK)
                L->phase = LINGMA__LOGIN_URL;
        } else if (L->phase == LINGMA__LOGIN_CHECK) {
            /* Unknown: ask for a URL anyway, the poll tells later. A lost
             * connection sends the attempt back to waiting for it. */
            L->phase = status == LINGMA_ERPC || status == LINGMA_EPROTO || status == 0
                           ? LINGMA__LOGIN_URL
                           : LINGMA__LOGIN_WAIT_INST;
        }
        if (L->phase == LINGMA__LOGIN_POLL && L->hook_failed == 2) {
            /* That was the look after the hook failed: not logged in. */
            fail(L, L->hook_outcome);
            return;
        }
    } else if (kind == LINGMA__LOGIN_RPC_URL && L->phase == LINGMA__LOGIN_URL) {
        const char *url, *why;
        int bad = lingma__method_login_url_result(result, &url, &why);
        if (status == 0 && !bad && *url) {
            lingma__free(L->cfg->alloc, L->url);
            L->url = lingma__strdup(L->cfg->alloc, url);
            if (!L->url) {
                fail(L, "out of memory");
                return;
            }
            L->phase = LINGMA__LOGIN_POLL;
            L->url_new = 1;
            L->next_poll_ms = lingma__now_ms() + L->cfg->o->login_poll_ms;
        } else if (status == 0 || status == LINGMA_ERPC || status == LINGMA_EPROTO) {
            if (status == LINGMA_ERPC && err)
                why = err->message;
            snprintf(msg, sizeof(msg), "login/generateUrl failed: %s",
                     why && *why ? why : (status ? lingma_strerror(status) : "no login URL"));
            fail(L, msg);
            return;
        } else {
            L->phase = LINGMA__LOGIN_WAIT_INST; /* connection lost or timed out: again */
        }
    }
    kick(L);
}

static int
send_rpc(struct lingma__login *L, struct lingma__conn *c, enum lingma__login_rpc kind)
{
    json_t *params =
        kind == LINGMA__LOGIN_RPC_URL ? lingma__method_login_url() : lingma__method_no_params();
    const char *method =
        kind == LINGMA__LOGIN_RPC_URL ? LINGMA__M_LOGIN_URL : LINGMA__M_AUTH_STATUS;

    if (!params)
        return LINGMA_ENOMEM;
    /* params is stolen even on failure; on failure on_rpc never runs. */
    int rc = lingma__conn_call(c, NULL, method, params, on_rpc, L);
    if (rc != 0)
        return rc;
    L->pending = kind;
    return 0;
}

/* ---- the hook ---- */

static void
hook_log(lingma_log_level lvl, const char *msg, void *payload)
{
    lingma__logf(payload, lvl, "%s", msg);
}

static int
start_hook(struct lingma__login *L, uint64_t now)
{
    struct lingma__inst *in = L->inst;
    struct lingma__hook_opts ho = LINGMA__HOOK_OPTS_INIT;
    char err[300], msg[400];

    if (L->hook) {
        /* The hook of an earlier attempt is still running: it is stale now. */
        lingma__hook_free(L->hook);
        L->hook = NULL;
    }
    ho.command = L->cfg->o->login_hook;
    ho.instance = in->name;
    ho.login_url = L->url;
    ho.username = in->username ? in->username : "";
    ho.password = in->password ? in->password : "";
    /* Bounded by what is left of the attempt: the hook dies at its deadline. */
    uint64_t left = L->deadline_ms > now ? L->deadline_ms - now : 1;
    ho.timeout_ms = left > INT_MAX ? INT_MAX : (int)left;
    ho.log = L->cfg->log->fn ? hook_log : NULL;
    ho.log_payload = (void *)L->cfg->log;
    ho.alloc = L->cfg->alloc;
    int rc = lingma__hook_start(&L->hook, &ho, (int64_t)now, err, sizeof(err));
    if (rc != 0) {
        L->hook = NULL;
        snprintf(msg, sizeof(msg), "the login hook could not be started: %s", err);
        fail(L, msg);
        return rc;
    }
    lingma__logf(L->cfg->log, LINGMA_LOG_INFO, "%s: login hook started", in->name);
    return 0;
}

/* Step a running hook; on its end, record the outcome for the attempt. */
static void
drive_hook(struct lingma__login *L, uint64_t now)
{
    struct lingma__hook_result r;
    char what[128];

    if (!L->hook || lingma__hook_step(L->hook, (int64_t)now, NULL) == 0)
        return;
    lingma__hook_result(L->hook, &r);
    lingma__hook_free(L->hook);
    L->hook = NULL;
    lingma__hook_describe(&r, what, sizeof(what));
    lingma__logf(L->cfg->log,
                 r.outcome == LINGMA__HOOK_EXITED && r.exit_code == 0 ? LINGMA_LOG_INFO
                                                                      : LINGMA_LOG_WARN,
                 "%s: login hook %s", L->inst->name, what);
    if (r.outcome == LINGMA__HOOK_TIMEDOUT)
        L->hook_killed = 1;
    if (L->phase != LINGMA__LOGIN_POLL || r.outcome == LINGMA__HOOK_TIMEDOUT)
        return; /* a timeout fails the attempt by the deadline (the same instant) */
    if (!(r.outcome == LINGMA__HOOK_EXITED && r.exit_code == 0)) {
        L->hook_failed = 1;
        snprintf(L->hook_outcome, sizeof(L->hook_outcome), "login hook %s", what);
    }
    L->next_poll_ms = now; /* the hook is done: look at once */
}

/* ---- the attempt ---- */

static void
arm(struct lingma__login *L, uint64_t now)
{
    uint64_t at = UINT64_MAX;

    if (L->phase != LINGMA__LOGIN_NONE)
        at = L->deadline_ms;
    if (L->phase == LINGMA__LOGIN_POLL && !L->pending && L->next_poll_ms < at)
        at = L->next_poll_ms;
    if (L->hook && now + HOOK_TICK_MS < at)
        at = now + HOOK_TICK_MS;
    if (at == UINT64_MAX)
        lingma__timer_cancel(L->timer);
    else
        lingma__timer_arm(L->timer, at > now ? at - now : 0);
}

static void
advance(struct lingma__login *L, uint64_t now)
{
    struct lingma__inst *in = L->inst;
    char msg[400];

    if (L->phase == LINGMA__LOGIN_NONE)
        return;
    if (now >= L->deadline_ms) {
        snprintf(msg, sizeof(msg), "timed out after %u ms %s%s", L->cfg->o->login_timeout_ms,
                 L->phase == LINGMA__LOGIN_POLL ? "waiting for the login"
                                                : "waiting for the instance",
                 L->hook || L->hook_killed ? " (the login hook was killed)" : "");
        fail(L, msg);
        return;
    }
    if (in->state == LINGMA_INSTANCE_FAILED || in->state == LINGMA_INSTANCE_CLOSED) {
        snprintf(msg, sizeof(msg), "the instance is %s%s%s", lingma_instance_state_name(in->state),
                 in->last_error[0] ? ": " : "", in->last_error);
        fail(L, msg);
        return;
    }
    if (L->phase == LINGMA__LOGIN_POLL && L->url_new) {
        L->url_new = 0;
        lingma__logf(L->cfg->log, LINGMA_LOG_INFO, "%s: waiting for the login", in->name);
        publish(L);
        if (L->cfg->o->login_hook && start_hook(L, now) != 0)
            return;
    }
    if (L->pending)
        return; /* its answer kicks us */
    struct lingma__conn *c =
        in->state == LINGMA_INSTANCE_READY ? lingma__inst_ready_conn(in) : NULL;
    switch (L->phase) {
    case LINGMA__LOGIN_WAIT_INST:
        if (!c)
            return; /* becoming ready kicks us */
        L->phase = LINGMA__LOGIN_CHECK;
        /* fall through */
    case LINGMA__LOGIN_CHECK:
    case LINGMA__LOGIN_URL:
        if (!c) {
            L->phase = LINGMA__LOGIN_WAIT_INST;
            return;
        }
        if (send_rpc(L, c,
                     L->phase == LINGMA__LOGIN_URL ? LINGMA__LOGIN_RPC_URL
                                                   : LINGMA__LOGIN_RPC_AUTH) != 0)
            fail(L, "the login request could not be sent");
        return;
    case LINGMA__LOGIN_POLL:
        if (L->hook_failed) {
            /* One last look: the login may have completed anyway. Without a
             * connection there is no way to tell: the attempt failed. */
            if (!c || send_rpc(L, c, LINGMA__LOGIN_RPC_AUTH) != 0)
                fail(L, L->hook_outcome);
            else
                L->hook_failed = 2;
            return;
        }
        if (c && now >= L->next_poll_ms) {
            L->next_poll_ms = now + L->cfg->o->login_poll_ms;
            send_rpc(L, c, LINGMA__LOGIN_RPC_AUTH); /* a failure: the next poll */
        }
        return;
    default:
        return;
    }
}

static void
login_timer_cb(void *ud)
{
    struct lingma__login *L = ud;

    if (L->closing)
        return;
    drive_hook(L, lingma__now_ms());
    advance(L, lingma__now_ms());
    arm(L, lingma__now_ms());
}

void
lingma__login_start(struct lingma__login *L)
{
    struct lingma__inst *in = L->inst;
    uint64_t now = lingma__now_ms();

    if (L->phase != LINGMA__LOGIN_NONE)
        return; /* idempotent while an attempt runs */
    L->phase = LINGMA__LOGIN_WAIT_INST;
    L->state = LINGMA_LOGIN_WAITING;
    L->hook_failed = 0;
    L->hook_killed = 0;
    L->url_new = 0;
    L->reason[0] = '\0';
    L->started_ms = now;
    L->deadline_ms = now + L->cfg->o->login_timeout_ms;
    lingma__free(L->cfg->alloc, L->url);
    L->url = NULL;
    publish(L);
    lingma__logf(L->cfg->log, LINGMA_LOG_INFO, "%s: login attempt started", in->name);
    if (in->state == LINGMA_INSTANCE_STOPPED || in->state == LINGMA_INSTANCE_FAILED)
        lingma__inst_start(in);
    kick(L);
}

void
lingma__login_shutdown(struct lingma__login *L)
{
    L->closing = 1;
    lingma__timer_cancel(L->timer);
    /* Kills a running hook's process group and reaps it (bounded). */
    lingma__hook_free(L->hook);
    L->hook = NULL;
    L->phase = LINGMA__LOGIN_NONE;
}
