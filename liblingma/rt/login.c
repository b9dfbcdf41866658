/*
 * Login management of one instance (lingma-protocol.md section 4): the
 * attempt state machine, the login hook, logged-in detection.
 *
 *   NONE --start--> WAIT_INST --ready--> CHECK --not logged in--> URL --url--> POLL
 *                                          \--logged in: LOGGED_IN           |
 *                                  auth/status every login_poll_ms, status 2 -> LOGGED_IN
 *
 * Everything runs on the service thread. Events (RPC answers, the instance
 * changing state, an auth/report push) only record what happened and arm
 * the login timer at 0; the timer callback then advances the attempt from a
 * clean stack. That keeps this file out of the middle of instance.c's
 * connection teardown, where RPC callbacks fire with LINGMA_ECLOSED.
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
#include "loginhook.h"
#include "methods.h"
#include "pool_internal.h"

#define HOOK_TICK_MS 50

_Static_assert(sizeof(((struct lingma__inst_pub *)0)->login_reason) ==
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
lingma__login_init(struct lingma__inst *in)
{
    in->login.timer = lingma__timer_new(in->pool->loop, login_timer_cb, in);
    return in->login.timer ? 0 : LINGMA_ENOMEM;
}

void
lingma__login_dispose(struct lingma__inst *in)
{
    const lingma_allocator *a = in->pool->alloc;

    lingma__timer_free(in->login.timer);
    in->login.timer = NULL;
    lingma__hook_free(in->login.hook);
    in->login.hook = NULL;
    lingma__free(a, in->login.url);
    in->login.url = NULL;
    lingma__free(a, in->pub.login_url);
    in->pub.login_url = NULL;
}

/* Copy the login fields to what other threads read. */
static void
publish(struct lingma__inst *in)
{
    struct lingma_pool *p = in->pool;
    struct lingma__login *L = &in->login;
    char *url = L->url ? lingma__strdup(p->alloc, L->url) : NULL;

    pthread_mutex_lock(&p->mu);
    char *old = in->pub.login_url;
    in->pub.login_state = L->state;
    in->pub.login_url = url;
    memcpy(in->pub.login_reason, L->reason, sizeof(in->pub.login_reason));
    pthread_mutex_unlock(&p->mu);
    lingma__free(p->alloc, old);
}

/* Handle it from the timer, soon. */
static void
kick(struct lingma__inst *in)
{
    if (!in->pool->shut_down)
        lingma__timer_arm(in->login.timer, 0);
}

static void
succeed(struct lingma__inst *in)
{
    struct lingma__login *L = &in->login;

    if (L->phase != LINGMA__LOGIN_NONE)
        lingma__logf(&in->pool->log, LINGMA_LOG_INFO, "%s: logged in", in->name);
    L->phase = LINGMA__LOGIN_NONE;
    L->hook_failed = 0;
    L->state = LINGMA_LOGIN_LOGGED_IN;
    L->reason[0] = '\0';
    publish(in);
    /* A hook still running finishes on its own (bounded by its timeout):
     * it may be closing its browser. */
}

static void
fail(struct lingma__inst *in, const char *reason)
{
    struct lingma__login *L = &in->login;

    lingma__logf(&in->pool->log, LINGMA_LOG_WARN, "%s: login failed: %s", in->name, reason);
    L->phase = LINGMA__LOGIN_NONE;
    L->hook_failed = 0;
    L->state = LINGMA_LOGIN_FAILED;
    /* Truncated at a UTF-8 character boundary: the reason ends up in JSON. */
    size_t n = strlen(reason);
    if (n >= sizeof(L->reason)) {
        n = sizeof(L->reason) - 1;
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    }
    memmove(L->reason, reason, n);
    L->reason[n] = '\0';
    publish(in);
}

void
lingma__login_on_auth(struct lingma__inst *in, int status)
{
    struct lingma__login *L = &in->login;

    if (in->pool->shut_down)
        return;
    if (status == 2) {
        if (L->phase != LINGMA__LOGIN_NONE || L->state != LINGMA_LOGIN_LOGGED_IN)
            succeed(in);
        return;
    }
    if (L->phase == LINGMA__LOGIN_NONE && L->state == LINGMA_LOGIN_LOGGED_IN) {
        /* Logged out, expired, or a fresh work dir after a respawn. */
        L->state = LINGMA_LOGIN_IDLE;
        publish(in);
    }
}

void
lingma__login_on_inst_state(struct lingma__inst *in)
{
    if (in->login.phase != LINGMA__LOGIN_NONE)
        kick(in);
}

/* ---- RPCs ---- */

static void
on_rpc(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct lingma__inst *in = payload;
    struct lingma__login *L = &in->login;
    enum lingma__login_rpc kind = L->pending;
    char msg[300];

    (void)rpc;
    L->pending = LINGMA__LOGIN_RPC_NONE;
    if (in->pool->shut_down)
        return;
    if (kind == LINGMA__LOGIN_RPC_AUTH) {
        int st;
        if (status == 0 && lingma__method_auth(result, &st, NULL) == 0) {
            lingma__login_on_auth(in, st);
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
            fail(in, L->hook_outcome);
            return;
        }
    } else if (kind == LINGMA__LOGIN_RPC_URL && L->phase == LINGMA__LOGIN_URL) {
        const char *url, *why;
        int bad = lingma__method_login_url_result(result, &url, &why);
        if (status == 0 && !bad && *url) {
            lingma__free(in->pool->alloc, L->url);
            L->url = lingma__strdup(in->pool->alloc, url);
            if (!L->url) {
                fail(in, "out of memory");
                return;
            }
            L->phase = LINGMA__LOGIN_POLL;
            L->url_new = 1;
            L->next_poll_ms = lingma__now_ms() + in->pool->o.login_poll_ms;
        } else if (status == 0 || status == LINGMA_ERPC || status == LINGMA_EPROTO) {
            if (status == LINGMA_ERPC && err)
                why = err->message;
            snprintf(msg, sizeof(msg), "login/generateUrl failed: %s",
                     why && *why ? why : (status ? lingma_strerror(status) : "no login URL"));
            fail(in, msg);
            return;
        } else {
            L->phase = LINGMA__LOGIN_WAIT_INST; /* connection lost or timed out: again */
        }
    }
    kick(in);
}

static int
send_rpc(struct lingma__inst *in, struct lingma__lconn *lc, enum lingma__login_rpc kind)
{
    struct lingma_pool *p = in->pool;
    json_t *params =
        kind == LINGMA__LOGIN_RPC_URL ? lingma__method_login_url() : lingma__method_no_params();
    const char *method =
        kind == LINGMA__LOGIN_RPC_URL ? LINGMA__M_LOGIN_URL : LINGMA__M_AUTH_STATUS;

    if (!params)
        return LINGMA_ENOMEM;
    /* params is stolen even on failure; on failure on_rpc never runs. */
    int rc = lingma_rpc_call(lc->rpc, NULL, method, params, lingma__now_ms() + p->o.rpc_timeout_ms,
                             on_rpc, in);
    if (rc != 0)
        return rc;
    in->login.pending = kind;
    lingma__lconn_kick(lc);
    return 0;
}

/* ---- the hook ---- */

static void
hook_log(lingma_log_level lvl, const char *msg, void *payload)
{
    lingma__logf(payload, lvl, "%s", msg);
}

static int
start_hook(struct lingma__inst *in, uint64_t now)
{
    struct lingma_pool *p = in->pool;
    struct lingma__login *L = &in->login;
    struct lingma__hook_opts ho = LINGMA__HOOK_OPTS_INIT;
    char err[300], msg[400];

    if (L->hook) {
        /* The hook of an earlier attempt is still running: it is stale now. */
        lingma__hook_free(L->hook);
        L->hook = NULL;
    }
    ho.command = p->login_hook;
    ho.instance = in->name;
    ho.login_url = L->url;
    ho.username = in->username ? in->username : "";
    ho.password = in->password ? in->password : "";
    /* Bounded by what is left of the attempt: the hook dies at its deadline. */
    uint64_t left = L->deadline_ms > now ? L->deadline_ms - now : 1;
    ho.timeout_ms = left > INT_MAX ? INT_MAX : (int)left;
    ho.log = p->log.fn ? hook_log : NULL;
    ho.log_payload = &p->log;
    ho.alloc = p->alloc;
    int rc = lingma__hook_start(&L->hook, &ho, (int64_t)now, err, sizeof(err));
    if (rc != 0) {
        L->hook = NULL;
        snprintf(msg, sizeof(msg), "the login hook could not be started: %s", err);
        fail(in, msg);
        return rc;
    }
    lingma__logf(&p->log, LINGMA_LOG_INFO, "%s: login hook started", in->name);
    return 0;
}

/* Step a running hook; on its end, record the outcome for the attempt. */
static void
drive_hook(struct lingma__inst *in, uint64_t now)
{
    struct lingma__login *L = &in->login;
    struct lingma__hook_result r;
    char what[128];

    if (!L->hook || lingma__hook_step(L->hook, (int64_t)now, NULL) == 0)
        return;
    lingma__hook_result(L->hook, &r);
    lingma__hook_free(L->hook);
    L->hook = NULL;
    lingma__hook_describe(&r, what, sizeof(what));
    lingma__logf(&in->pool->log,
                 r.outcome == LINGMA__HOOK_EXITED && r.exit_code == 0 ? LINGMA_LOG_INFO
                                                                      : LINGMA_LOG_WARN,
                 "%s: login hook %s", in->name, what);
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
arm(struct lingma__inst *in, uint64_t now)
{
    struct lingma__login *L = &in->login;
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
advance(struct lingma__inst *in, uint64_t now)
{
    struct lingma_pool *p = in->pool;
    struct lingma__login *L = &in->login;
    char msg[400];

    if (L->phase == LINGMA__LOGIN_NONE)
        return;
    if (now >= L->deadline_ms) {
        snprintf(msg, sizeof(msg), "timed out after %u ms %s%s", p->o.login_timeout_ms,
                 L->phase == LINGMA__LOGIN_POLL ? "waiting for the login"
                                                : "waiting for the instance",
                 L->hook || L->hook_killed ? " (the login hook was killed)" : "");
        fail(in, msg);
        return;
    }
    if (in->state == LINGMA_INSTANCE_FAILED || in->state == LINGMA_INSTANCE_CLOSED) {
        snprintf(msg, sizeof(msg), "the instance is %s%s%s", lingma_instance_state_name(in->state),
                 in->last_error[0] ? ": " : "", in->last_error);
        fail(in, msg);
        return;
    }
    if (L->phase == LINGMA__LOGIN_POLL && L->url_new) {
        L->url_new = 0;
        lingma__logf(&p->log, LINGMA_LOG_INFO, "%s: waiting for the login", in->name);
        publish(in);
        if (p->login_hook && start_hook(in, now) != 0)
            return;
    }
    if (L->pending)
        return; /* its answer kicks us */
    struct lingma__lconn *lc =
        in->state == LINGMA_INSTANCE_READY ? lingma__inst_ready_conn(in) : NULL;
    switch (L->phase) {
    case LINGMA__LOGIN_WAIT_INST:
        if (!lc)
            return; /* becoming ready kicks us */
        L->phase = LINGMA__LOGIN_CHECK;
        /* fall through */
    case LINGMA__LOGIN_CHECK:
    case LINGMA__LOGIN_URL:
        if (!lc) {
            L->phase = LINGMA__LOGIN_WAIT_INST;
            return;
        }
        if (send_rpc(in, lc,
                     L->phase == LINGMA__LOGIN_URL ? LINGMA__LOGIN_RPC_URL
                                                   : LINGMA__LOGIN_RPC_AUTH) != 0)
            fail(in, "the login request could not be sent");
        return;
    case LINGMA__LOGIN_POLL:
        if (L->hook_failed) {
            /* One last look: the login may have completed anyway. Without a
             * connection there is no way to tell: the attempt failed. */
            if (!lc || send_rpc(in, lc, LINGMA__LOGIN_RPC_AUTH) != 0)
                fail(in, L->hook_outcome);
            else
                L->hook_failed = 2;
            return;
        }
        if (lc && now >= L->next_poll_ms) {
            L->next_poll_ms = now + p->o.login_poll_ms;
            send_rpc(in, lc, LINGMA__LOGIN_RPC_AUTH); /* a failure: the next poll */
        }
        return;
    default:
        return;
    }
}

static void
login_timer_cb(void *ud)
{
    struct lingma__inst *in = ud;

    if (in->pool->shut_down)
        return;
    drive_hook(in, lingma__now_ms());
    advance(in, lingma__now_ms());
    arm(in, lingma__now_ms());
}

void
lingma__login_start(struct lingma__inst *in)
{
    struct lingma_pool *p = in->pool;
    struct lingma__login *L = &in->login;
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
    L->deadline_ms = now + p->o.login_timeout_ms;
    lingma__free(p->alloc, L->url);
    L->url = NULL;
    publish(in);
    lingma__logf(&p->log, LINGMA_LOG_INFO, "%s: login attempt started", in->name);
    if (in->state == LINGMA_INSTANCE_STOPPED || in->state == LINGMA_INSTANCE_FAILED)
        lingma__inst_start(in);
    kick(in);
}

void
lingma__login_shutdown(struct lingma__inst *in)
{
    lingma__timer_cancel(in->login.timer);
    /* Kills a running hook's process group and reaps it (bounded). */
    lingma__hook_free(in->login.hook);
    in->login.hook = NULL;
    in->login.phase = LINGMA__LOGIN_NONE;
}
