/*
 * Login management against real lingma-sim processes: the whole flow
 * through the simulator's HTTP callback driven by a hook script (which a
 * logged-out instance runs by itself, after its login-needed event), a
 * hook that fails, a hook that hangs (killed with its process group), a
 * login completed by a "person" (the test) without a hook, while chats fail
 * at once, logged-in detection at boot, an instance that cannot start, and
 * two accounts on two instances. Passwords are looked for in every log
 * line and in every stats string.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "netio.h"
#include "rt.h"

#define PW_A "Pa55-alpha-7f3e1c"
#define PW_B "Pa55-bravo-91d0aa"

/* ---- a log sink that keeps everything ---- */

struct logcap {
    pthread_mutex_t mu;
    char *buf;
    size_t len;
};

static void
cap_log(lingma_log_level lvl, const char *msg, void *payload)
{
    struct logcap *c = payload;
    size_t n = strlen(msg);

    if (getenv("RT_VERBOSE"))
        fprintf(stderr, "[lingma %d] %s\n", (int)lvl, msg);
    pthread_mutex_lock(&c->mu);
    char *nb = realloc(c->buf, c->len + n + 2);
    if (nb) {
        memcpy(nb + c->len, msg, n);
        nb[c->len + n] = '\n';
        nb[c->len + n + 1] = '\0';
        c->buf = nb;
        c->len += n + 1;
    }
    pthread_mutex_unlock(&c->mu);
}

static void
cap_init(struct logcap *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
}

/* 1 when the captured log contains `s`. */
static int
cap_has(struct logcap *c, const char *s)
{
    pthread_mutex_lock(&c->mu);
    int has = c->buf && strstr(c->buf, s) != NULL;
    pthread_mutex_unlock(&c->mu);
    return has;
}

static void
cap_clear(struct logcap *c)
{
    free(c->buf);
    pthread_mutex_destroy(&c->mu);
}

/* ---- the instance events ---- */

struct events {
    pthread_mutex_t mu;
    int login_needed; /* LOGIN_NEEDED events */
    int with_hook;    /* ... of which started the hook */
    long long first_ms;
    char name[16];
};

static void
on_inst_event(const lingma_instance_event *ev, void *payload)
{
    struct events *e = payload;
    pthread_mutex_lock(&e->mu);
    if (ev->type == LINGMA_INSTANCE_EVENT_LOGIN_NEEDED) {
        if (!e->login_needed++)
            e->first_ms = rt_now_ms();
        e->with_hook += ev->login_hook != 0;
        snprintf(e->name, sizeof(e->name), "%s", ev->name);
    }
    pthread_mutex_unlock(&e->mu);
}

static void
events_init(struct events *e, lingma_pool_options *o)
{
    memset(e, 0, sizeof(*e));
    pthread_mutex_init(&e->mu, NULL);
    o->on_instance_event = on_inst_event;
    o->instance_event_payload = e;
}

/* A copy of what was recorded, once at least `n` login-needed events came
 * (bounded wait). */
static struct events
events_wait(struct events *e, int n, int timeout_ms)
{
    struct events copy;
    for (int waited = 0;; waited += 10) {
        pthread_mutex_lock(&e->mu);
        copy = *e;
        pthread_mutex_unlock(&e->mu);
        if (copy.login_needed >= n || waited >= timeout_ms)
            return copy;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- fixtures ---- */

static char *
write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return strdup(path);
}

/* The hook a browser automation would be: reads the URL, completes the
 * login through the simulator's callback, records what it saw, and prints
 * the password (which the library must redact). */
static const char hook_ok[] =
    "set -u\n"
    "out=\"$1/hook-$LINGMA_INSTANCE.out\"\n"
    "printf '%s %s\\n' \"$LINGMA_INSTANCE\" \"$LINGMA_USERNAME\" > \"$out\"\n"
    "case \"$LINGMA_PASSWORD\" in\n"
    "  " PW_A "|" PW_B ") echo password-ok >> \"$out\" ;;\n"
    "esac\n"
    "echo \"hook: signing in $LINGMA_USERNAME with password $LINGMA_PASSWORD\"\n"
    "echo \"$LINGMA_PASSWORD\" >&2\n"
    "url=$LINGMA_LOGIN_URL\n"
    "state=${url##*state=}; state=${state%%&*}\n"
    "port=${url##*port=}; port=${port%%&*}\n"
    "curl -fsS --noproxy '*' -o /dev/null -w 'callback answered %{http_code}\\n' \\\n"
    "  \"http://127.0.0.1:$port/auth/callback?state=$state\" || exit 4\n"
    "exit 0\n";

static char *
hook_command(const char *dir, const char *name, const char *script)
{
    char *path = write_file(dir, name, script);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "exec /bin/sh '%s' '%s'", path, dir);
    free(path);
    return strdup(cmd);
}

static void
login_options(lingma_pool_options *o, const char *dir, const char *const *env, struct logcap *cap)
{
    rt_pool_options(o, dir, env);
    o->log_fn = cap_log;
    o->log_payload = cap;
    o->log_level = LINGMA_LOG_DEBUG; /* every line, to look for passwords in all */
    o->login_poll_ms = 100;
    o->login_timeout_ms = 20000;
}

static int
pred_login_settled(const lingma_instance_stats *s, void *arg)
{
    (void)arg;
    return s->login_state != LINGMA_LOGIN_WAITING;
}

static int
pred_login_is(const lingma_instance_stats *s, void *arg)
{
    return s->login_state == *(const lingma_login_state *)arg;
}

static int
pred_has_url(const lingma_instance_stats *s, void *arg)
{
    (void)arg;
    return s->login_url[0] != '\0';
}

/* Copies of the login fields of instance `i`. */
struct login_view {
    lingma_login_state state;
    char url[1024];
    char reason[256];
    char username[64];
};

static void
login_view(struct login_view *v, lingma_pool *pool, size_t i)
{
    lingma_pool_stats *s = rt_pool_stats(pool);
    assert_true(i < s->instance_count);
    v->state = s->instances[i].login_state;
    snprintf(v->url, sizeof(v->url), "%s", s->instances[i].login_url);
    snprintf(v->reason, sizeof(v->reason), "%s", s->instances[i].login_reason);
    snprintf(v->username, sizeof(v->username), "%s", s->instances[i].username);
    lingma_pool_stats_free(s);
}

/* Start a login on instance 0, wait (15 s) until it settles, and view it. */
static void
login_and_settle(struct login_view *v, lingma_pool *pool)
{
    assert_int_equal(lingma_instance_login_start(pool, 0), 0);
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_settled, NULL, 15000), 0);
    login_view(v, pool, 0);
}

static void
assert_logged_in(const struct login_view *v)
{
    if (v->state != LINGMA_LOGIN_LOGGED_IN)
        fail_msg("login state %s: %s", lingma_login_state_name(v->state), v->reason);
}

/* Instance 0's auth/status answers `status`. */
static void
assert_auth_status(lingma_pool *pool, int status)
{
    lingma_auth_info ai;
    assert_int_equal(lingma_instance_auth_status_sync(&ai, pool, 0), 0);
    assert_int_equal(ai.status, status);
    lingma_auth_info_clear(&ai);
}

/* Free the pool, the log capture, the hook command (may be NULL) and the
 * work dir. */
static void
teardown(lingma_pool *pool, struct logcap *cap, char *hook, char *dir)
{
    lingma_pool_free(pool);
    cap_clear(cap);
    free(hook);
    rt_rmdir(dir);
}

/* No password in any string of a stats snapshot. */
static void
assert_stats_clean(lingma_pool *pool, const char *const *secrets)
{
    lingma_pool_stats *s = rt_pool_stats(pool);
    for (size_t i = 0; i < s->instance_count; i++) {
        const lingma_instance_stats *is = &s->instances[i];
        const char *fields[] = {is->name, is->last_error, is->username, is->login_url,
                                is->login_reason};
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
            for (const char *const *p = secrets; *p; p++)
                assert_null(strstr(fields[f], *p));
    }
    lingma_pool_stats_free(s);
}

static int
chat_once(lingma_pool *pool, int *status_code)
{
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;
    co.prompt = "are we in";
    int rc = lingma_chat_complete(&r, pool, &co);
    *status_code = r ? r->status_code : 0;
    lingma_chat_result_free(r);
    return rc;
}

/* How many login URLs the simulator handed out (its log names each one). */
static int
urls_generated(const char *dir)
{
    char path[4096], line[1024];
    int n = 0;
    snprintf(path, sizeof(path), "%s/logs/lingma.log", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        n += strstr(line, "Opening browser to login") != NULL;
    fclose(f);
    return n;
}

static char *
read_text(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 4096);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- tests ---- */

static void
test_login_end_to_end(void **state)
{
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    const char *secrets[] = {PW_A, NULL};
    lingma_account acc[1] = {{"alice@example.com", PW_A}};
    char *dir = rt_tempdir();
    char *hook = hook_command(dir, "hook.sh", hook_ok);
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    int sc = 0;
    (void)state;

    struct events ev;
    lingma_login_state in = LINGMA_LOGIN_LOGGED_IN;
    cap_init(&cap);
    login_options(&o, dir, env, &cap);
    events_init(&ev, &o);
    o.accounts = acc;
    o.account_count = 1;
    o.login_hook = hook;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);

    /* Logged out at boot: the login-needed event, and the hook, which logs
     * in by itself. Nobody called lingma_instance_login_start(). */
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_is, &in, 15000), 0);
    struct events seen = events_wait(&ev, 1, 0);
    assert_int_equal(seen.login_needed, 1);
    assert_int_equal(seen.with_hook, 1);
    assert_string_equal(seen.name, "inst-0");
    login_view(&v, pool, 0);
    assert_logged_in(&v);
    assert_string_equal(v.reason, "");
    assert_non_null(strstr(v.url, "state="));
    assert_string_equal(lingma_login_state_name(v.state), "logged_in");
    assert_int_equal(rt_wait_health(pool, 0, rt_pred_serving, NULL, 5000), 0);

    assert_auth_status(pool, 2);
    assert_int_equal(chat_once(pool, &sc), 0);
    assert_int_equal(sc, 200);

    /* A start now finds it logged in: no URL asked, no hook run. The state
     * is WAITING at once, not after the service thread: with the simulator
     * stopped, that thread cannot have heard back yet, however the threads
     * are scheduled (it once answered first on a loaded machine). */
    lingma_pool_stats *s = rt_pool_stats(pool);
    pid_t sim = (pid_t)s->instances[0].pid;
    lingma_pool_stats_free(s);
    assert_true(sim > 0);
    assert_int_equal(kill(sim, SIGSTOP), 0);
    assert_int_equal(lingma_instance_login_start(pool, 0), 0);
    login_view(&v, pool, 0);
    int again = lingma_instance_login_start(pool, 0); /* idempotent */
    assert_int_equal(kill(sim, SIGCONT), 0);
    assert_int_equal(v.state, LINGMA_LOGIN_WAITING);
    assert_int_equal(again, 0);
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_settled, NULL, 15000), 0);
    login_view(&v, pool, 0);
    assert_logged_in(&v);

    /* One URL: the second start did not ask for another (which would have
     * made the hook's nonce stale). */
    int urls = urls_generated(dir);
    if (urls != 1) {
        /* Seen once in CI at a load of 20 (2 URLs) and not since: say why. */
        char *sim_log = read_text(dir, "logs/lingma.log");
        pthread_mutex_lock(&cap.mu);
        fprintf(stderr, "liblingma's log:\n%s\nthe simulator's log:\n%s\n", cap.buf ? cap.buf : "",
                sim_log ? sim_log : "(none)");
        pthread_mutex_unlock(&cap.mu);
        free(sim_log);
    }
    assert_int_equal(urls, 1);
    /* The hook saw the contract's environment. */
    char *hook_saw = read_text(dir, "hook-inst-0.out");
    assert_non_null(hook_saw);
    assert_string_equal(hook_saw, "inst-0 alice@example.com\npassword-ok\n");
    free(hook_saw);
    /* Its output reached the log, redacted, and so did its exit. The log
     * may lag the state by one hook tick: wait for the exit line. */
    for (int i = 0; i < 500 && !cap_has(&cap, "login hook exited with status 0"); i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(cap_has(&cap, "login hook exited with status 0"));
    assert_true(cap_has(&cap, "login hook inst-0: callback answered 200"));
    assert_true(
        cap_has(&cap, "login hook inst-0: hook: signing in alice@example.com with password ***"));
    assert_false(cap_has(&cap, PW_A));
    assert_stats_clean(pool, secrets);

    lingma_pool_free(pool);
    assert_false(cap_has(&cap, PW_A));
    cap_clear(&cap);
    free(hook);
    rt_rmdir(dir);
    assert_int_equal(events_wait(&ev, 1, 0).login_needed, 1); /* one, for the whole test */
    pthread_mutex_destroy(&ev.mu);
}

static void
test_login_hook_fails(void **state)
{
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    char *dir = rt_tempdir();
    char *hook = hook_command(dir, "hook.sh", "echo 'no browser here'\nexit 3\n");
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    (void)state;

    lingma_login_state failed = LINGMA_LOGIN_FAILED;
    cap_init(&cap);
    login_options(&o, dir, env, &cap);
    o.login_hook = hook;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    /* The attempt the instance made by itself, being logged out. */
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_is, &failed, 15000), 0);
    login_view(&v, pool, 0);
    assert_string_equal(v.reason, "login hook exited with status 3");
    assert_non_null(strstr(v.url, "state=")); /* the URL stays visible */
    assert_true(cap_has(&cap, "login hook inst-0: no browser here"));
    assert_auth_status(pool, 1);

    /* A new attempt after a failure runs again (a new URL). */
    login_and_settle(&v, pool);
    assert_int_equal(v.state, LINGMA_LOGIN_FAILED);
    assert_int_equal(urls_generated(dir), 2);
    teardown(pool, &cap, hook, dir);
}

/* 1 while `pid` exists and is not a zombie (a killed grandchild may wait
 * for a reaper that is not us). */
static int
pid_running(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static long
read_pid(const char *dir, const char *name)
{
    char *t = read_text(dir, name);
    long pid = t ? strtol(t, NULL, 10) : 0;
    free(t);
    return pid;
}

static void
test_login_hook_hangs(void **state)
{
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    char *dir = rt_tempdir();
    char *hook =
        hook_command(dir, "hook.sh",
                     "sleep 600 &\n"
                     "echo $! > \"$1/sleep.pid.tmp\"; mv \"$1/sleep.pid.tmp\" \"$1/sleep.pid\"\n"
                     "echo $$ > \"$1/sh.pid.tmp\"; mv \"$1/sh.pid.tmp\" \"$1/sh.pid\"\n"
                     "echo waiting for a browser that never comes\n"
                     "wait\n");
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    struct events ev;
    (void)state;

    cap_init(&cap);
    login_options(&o, dir, env, &cap);
    events_init(&ev, &o);
    o.login_hook = hook;
    o.login_timeout_ms = 1500;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    /* The instance starts the attempt itself (logged out at boot): it is
     * WAITING from the event on. */
    struct events seen = events_wait(&ev, 1, 15000);
    assert_int_equal(seen.with_hook, 1);
    assert_int_equal(rt_wait_instance(pool, 0, pred_has_url, NULL, 5000), 0);
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_settled, NULL, 10000), 0);
    double took = (double)(rt_now_ms() - seen.first_ms) / 1e3;
    login_view(&v, pool, 0);
    assert_int_equal(v.state, LINGMA_LOGIN_FAILED);
    if (strncmp(v.reason, "timed out after 1500 ms", 23) != 0 || !strstr(v.reason, "killed"))
        fail_msg("reason: %s", v.reason);
    assert_true(took >= 1.4 && took < 4.0);

    /* The hook and what it started are gone: its process group was killed. */
    long sh = read_pid(dir, "sh.pid"), sl = read_pid(dir, "sleep.pid");
    assert_true(sh > 0 && sl > 0);
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = !pid_running(sh) && !pid_running(sl);
        if (!gone) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(gone);
    assert_true(cap_has(&cap, "login hook inst-0: waiting for a browser that never comes"));
    teardown(pool, &cap, hook, dir);
    pthread_mutex_destroy(&ev.mu);
}

static void
test_login_by_a_person(void **state)
{
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    char *dir = rt_tempdir();
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    struct events ev;
    struct rt_chat c;
    char nonce[128], port[16], path[256];
    (void)state;

    cap_init(&cap);
    login_options(&o, dir, env, &cap);
    events_init(&ev, &o);
    o.login_timeout_ms = 1500;
    o.login_poll_ms = 10000; /* completion must come from the auth/report push */
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    /* Logged out, no hook: the event says so, nothing else happens. */
    assert_int_equal(rt_wait_health(pool, 0, rt_pred_logged_out, NULL, 15000), 0);
    struct events seen = events_wait(&ev, 1, 5000);
    assert_int_equal(seen.login_needed, 1);
    assert_int_equal(seen.with_hook, 0);
    login_view(&v, pool, 0);
    assert_int_equal(v.state, LINGMA_LOGIN_IDLE);

    /* A chat meanwhile fails at once with EUNAVAIL: its own timeout is far
     * beyond the wait, so this is not a timeout. */
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    co.prompt = "anyone serving?";
    co.timeout_ms = 600000;
    rt_chat_init(&c);
    assert_int_equal(rt_chat_start_opts(&c, NULL, pool, &co), 0);
    assert_int_equal(rt_chat_wait(&c, 10000), 0);
    assert_int_equal(c.error, LINGMA_EUNAVAIL);
    assert_int_equal(c.started, 0);
    rt_chat_clear(&c);

    /* Nobody opens the URL: the attempt times out. */
    assert_int_equal(lingma_instance_login_start(pool, 0), 0);
    login_view(&v, pool, 0);
    assert_int_equal(v.state, LINGMA_LOGIN_WAITING); /* at once, not after the service thread */
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_settled, NULL, 15000), 0);
    login_view(&v, pool, 0);
    assert_int_equal(v.state, LINGMA_LOGIN_FAILED);
    assert_non_null(strstr(v.reason, "timed out after 1500 ms waiting for the login"));

    /* A person opens the URL of the next attempt. */
    assert_int_equal(lingma_instance_login_start(pool, 0), 0);
    assert_int_equal(rt_wait_instance(pool, 0, pred_has_url, NULL, 5000), 0);
    login_view(&v, pool, 0);
    assert_int_equal(v.state, LINGMA_LOGIN_WAITING);
    rt_url_param(nonce, sizeof(nonce), v.url, "state");
    rt_url_param(port, sizeof(port), v.url, "port");
    snprintf(path, sizeof(path), "/auth/callback?state=wrong");
    assert_int_equal(netio_http_get((unsigned)atoi(port), path), 400);
    snprintf(path, sizeof(path), "/auth/callback?state=%s", nonce);
    assert_int_equal(netio_http_get((unsigned)atoi(port), path), 200);
    /* The poll period is 10 s, the timeout 1.5 s: only the auth/report push
     * can make it in time. */
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_settled, NULL, 15000), 0);
    login_view(&v, pool, 0);
    assert_logged_in(&v);
    /* The push also made the instance serve: chats go through now. */
    assert_int_equal(rt_wait_health(pool, 0, rt_pred_serving, NULL, 5000), 0);
    int sc = 0;
    assert_int_equal(chat_once(pool, &sc), 0);
    assert_int_equal(events_wait(&ev, 1, 0).login_needed, 1);
    teardown(pool, &cap, NULL, dir);
    pthread_mutex_destroy(&ev.mu);
}

static void
test_logged_in_at_boot(void **state)
{
    char *dir = rt_tempdir();
    char *hook = hook_command(dir, "hook.sh", "touch \"$1/hook-ran\"\nexit 0\n");
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    lingma_login_state in = LINGMA_LOGIN_LOGGED_IN;
    (void)state;

    struct events ev;
    cap_init(&cap);
    login_options(&o, dir, NULL, &cap);
    events_init(&ev, &o);
    o.login_hook = hook;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    /* No login call: the auth/status after initialize tells. */
    assert_int_equal(rt_wait_instance(pool, 0, pred_login_is, &in, 15000), 0);
    assert_int_equal(rt_wait_health(pool, 0, rt_pred_serving, NULL, 5000), 0);
    /* A start on a logged-in instance checks, finds it logged in, and runs
     * no hook. */
    login_and_settle(&v, pool);
    assert_int_equal(v.state, LINGMA_LOGIN_LOGGED_IN);
    assert_string_equal(v.url, "");
    assert_int_equal(urls_generated(dir), 0);
    char *ran = read_text(dir, "hook-ran");
    assert_null(ran);
    teardown(pool, &cap, hook, dir);
    assert_int_equal(events_wait(&ev, 1, 0).login_needed, 0);
    pthread_mutex_destroy(&ev.mu);
}

static void
test_login_waits_for_a_slow_start(void **state)
{
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", "LINGMA_SIM_FAULT=start_delay_ms:700", NULL};
    char *dir = rt_tempdir();
    char *hook = hook_command(dir, "hook.sh", hook_ok);
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    (void)state;

    cap_init(&cap);
    login_options(&o, dir, env, &cap);
    o.login_hook = hook;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    /* Posted while the instance is still starting: the attempt waits for it. */
    login_and_settle(&v, pool);
    assert_logged_in(&v);
    teardown(pool, &cap, hook, dir);
}

static void
test_login_instance_cannot_start(void **state)
{
    char *dir = rt_tempdir();
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    (void)state;

    cap_init(&cap);
    login_options(&o, dir, NULL, &cap);
    o.binary = "/nonexistent/lingma";
    o.reconnect_max_attempts = 1;
    o.reconnect_initial_ms = 50;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    login_and_settle(&v, pool);
    assert_int_equal(v.state, LINGMA_LOGIN_FAILED);
    if (strncmp(v.reason, "the instance is failed", 22) != 0)
        fail_msg("reason: %s", v.reason);
    assert_int_equal(lingma_instance_login_start(pool, 1), LINGMA_ENOTFOUND);
    assert_int_equal(lingma_instance_login_start(NULL, 0), LINGMA_EINVAL);
    teardown(pool, &cap, NULL, dir);
}

static void
test_two_accounts(void **state)
{
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    const char *secrets[] = {PW_A, PW_B, NULL};
    lingma_account_list *accounts = NULL;
    char err[256];
    char *dir = rt_tempdir();
    char *hook = hook_command(dir, "hook.sh", hook_ok);
    struct logcap cap;
    lingma_pool_options o;
    lingma_pool *pool = NULL;
    struct login_view v;
    (void)state;

    /* The gateway's path: the string form of LINGMA_ACCOUNTS. */
    assert_int_equal(
        lingma_accounts_parse(&accounts, err, sizeof(err), "alice:" PW_A ", bob:" PW_B, NULL, NULL),
        0);
    assert_int_equal(accounts->count, 2);
    size_t n = 0;
    assert_int_equal(lingma_accounts_instance_count(&n, err, sizeof(err), accounts->count, 0), 0);
    assert_int_equal(n, 2);

    cap_init(&cap);
    login_options(&o, dir, env, &cap);
    o.accounts = accounts->accounts;
    o.account_count = accounts->count;
    o.login_hook = hook;
    assert_int_equal(lingma_pool_new(&pool, &o), 0);
    lingma_account_list_free(accounts); /* the pool keeps its own copies */
    assert_int_equal(lingma_pool_instance_count(pool), 2);
    assert_int_equal(lingma_instance_login_start(pool, 0), 0);
    assert_int_equal(lingma_instance_login_start(pool, 1), 0);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(rt_wait_instance(pool, i, pred_login_settled, NULL, 20000), 0);
        login_view(&v, pool, i);
        if (v.state != LINGMA_LOGIN_LOGGED_IN)
            fail_msg("inst-%zu: %s: %s", i, lingma_login_state_name(v.state), v.reason);
        assert_string_equal(v.username, i ? "bob" : "alice");
    }
    char *a = read_text(dir, "hook-inst-0.out"), *b = read_text(dir, "hook-inst-1.out");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, "inst-0 alice\npassword-ok\n");
    assert_string_equal(b, "inst-1 bob\npassword-ok\n");
    free(a);
    free(b);
    /* Each instance has its own work dir, and its own login (the simulator
     * keeps it in <work dir>/cache/user). */
    for (int i = 0; i < 2; i++) {
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/inst-%d/cache/user", dir, i);
        assert_int_equal(access(sub, F_OK), 0);
    }
    assert_stats_clean(pool, secrets);
    assert_false(cap_has(&cap, PW_A));
    assert_false(cap_has(&cap, PW_B));
    lingma_pool_free(pool);
    assert_false(cap_has(&cap, PW_A));
    assert_false(cap_has(&cap, PW_B));
    cap_clear(&cap);
    free(hook);
    rt_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_end_to_end),
        cmocka_unit_test(test_login_hook_fails),
        cmocka_unit_test(test_login_hook_hangs),
        cmocka_unit_test(test_login_by_a_person),
        cmocka_unit_test(test_logged_in_at_boot),
        cmocka_unit_test(test_login_waits_for_a_slow_start),
        cmocka_unit_test(test_login_instance_cannot_start),
        cmocka_unit_test(test_two_accounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
