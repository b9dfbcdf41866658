/*
 * lingma-gatewayd: the process lifecycle, and nothing else.
 *
 *   configuration -> log -> pool (instances start in the background) ->
 *   catalogue -> HTTP engine -> "listening" -> wait for signals -> drain ->
 *   stop HTTP -> free the pool (children stopped) -> exit 0
 *
 * Signals: SIGINT, SIGTERM and SIGHUP are blocked in every thread before
 * the first thread is created and taken synchronously by sigwaitinfo() in
 * main, so no async-signal handler exists at all (the children get a clean
 * mask from liblingma's spawn). SIGHUP reopens the log file; SIGINT and
 * SIGTERM drain: stop accepting, let running requests finish for up to
 * GATEWAY_DRAIN_TIMEOUT_SEC, then end the rest (streams get an error event
 * and [DONE]). Start-up never waits for Lingma: a gateway whose Lingma is
 * not ready yet still serves /healthz (503) and retries lazily.
 *
 * Under systemd (notify.c): READY=1 after "listening", STOPPING=1 when the
 * drain starts, and WATCHDOG=1 from the wait and drain loops below while
 * the daemon's own loops answer (loops_turn).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tools/common/exit_with_parent.h"
#include "discover.h"
#include "gateway.h"
#include "notify.h"
#include "responses_store.h"

extern char **environ;

#define EXIT_CONFIG 2

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    gw_buf b = GW_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (gw_buf_append(&b, chunk, n) != 0)
            break;
    fclose(f);
    if (!b.data && gw_buf_append(&b, "", 0) != 0)
        return NULL;
    return gw_buf_detach(&b, len);
}

/* Secrets the log must never show: every API key, the metrics token and
 * the account passwords. */
static size_t
collect_secrets(const gw_config *cfg, char **store, const char **out, size_t max)
{
    size_t n = 0;
    *store = cfg->api_keys ? strdup(cfg->api_keys) : NULL;
    for (char *save = NULL, *k = *store ? strtok_r(*store, ", ", &save) : NULL; k && n < max;
         k = strtok_r(NULL, ", ", &save))
        out[n++] = k;
    if (cfg->metrics_token && n < max)
        out[n++] = cfg->metrics_token;
    for (size_t i = 0; i < cfg->n_accounts && n < max; i++)
        if (cfg->account_list[i].password)
            out[n++] = cfg->account_list[i].password;
    return n;
}

static void
http_log(lingma_log_level level, const char *msg, void *payload)
{
    gw_app *app = payload; /* gw_http passes its one payload, the app */
    gw_log_write(app->log, level, msg, NULL);
}

static void
log_msg(gw_log *log, lingma_log_level level, const char *msg, const char *key, const char *val)
{
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    gw_log_kv kv = {key, GW_LOG_STR, val, 0, 0, false};
    if (key) {
        f.extra = &kv;
        f.n_extra = 1;
    }
    gw_log_write(log, level, msg, &f);
}

/* liblingma's instance events (its service thread): a logged-out instance
 * is something an operator must act on, so it gets its own log line. */
static void
on_instance_event(const lingma_instance_event *ev, void *payload)
{
    gw_app *app = payload;
    if (ev->type != LINGMA_INSTANCE_EVENT_LOGIN_NEEDED)
        return;
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    gw_log_kv kv = {"login_hook", GW_LOG_BOOL, NULL, 0, 0, ev->login_hook != 0};
    f.instance = ev->name;
    f.extra = &kv;
    f.n_extra = 1;
    gw_log_write(app->log, LINGMA_LOG_WARN, "login needed", &f);
}

static int
start_pool(gw_app *app, const gw_config *cfg, const char *bin, const lingma_account_list *acc)
{
    lingma_pool_options o = LINGMA_POOL_OPTIONS_INIT;
    o.binary = bin;
    o.work_dir = cfg->work_dir;
    o.instances = cfg->instances;
    o.socket_port = cfg->socket_port;
    o.accounts = acc ? acc->accounts : NULL;
    o.account_count = acc ? acc->count : 0;
    o.login_hook = cfg->login_hook;
    o.startup_timeout_ms = cfg->startup_timeout * 1000u;
    o.rpc_timeout_ms = cfg->rpc_timeout * 1000u;
    o.chat_timeout_ms = cfg->chat_timeout ? cfg->chat_timeout * 1000u : LINGMA_ZERO;
    o.stall_timeout_ms = cfg->stall_timeout ? cfg->stall_timeout * 1000u : LINGMA_ZERO;
    o.on_instance_event = on_instance_event;
    o.instance_event_payload = app;
    o.max_in_flight = cfg->max_in_flight;
    o.max_queue = cfg->max_queue ? cfg->max_queue : LINGMA_ZERO;
    o.queue_timeout_ms = cfg->queue_timeout ? cfg->queue_timeout * 1000u : 1;
    o.default_model = cfg->default_model;
    o.ask_mode = cfg->ask_mode == GW_ASK_AGENT ? LINGMA_ASK_AGENT : LINGMA_ASK_CHAT;
    o.session_mode =
        cfg->session_mode == GW_SESSION_REUSE ? LINGMA_SESSION_KEEP : LINGMA_SESSION_FRESH;
    o.child_output = LINGMA_CHILD_OUTPUT_LOG;
    o.log_fn = gw_log_lingma;
    o.log_payload = app->log;
    o.log_level = cfg->log_level;
    return lingma_pool_new(&app->pool, &o);
}

static int
start_http(gw_app *app, const gw_config *cfg)
{
    gw_http_options o = GW_HTTP_OPTIONS_INIT;
    o.host = cfg->host;
    o.port = cfg->port;
    o.max_connections = cfg->max_connections;
    o.max_body = (size_t)cfg->max_body;
    o.connection_memory = (size_t)cfg->connection_memory;
    o.heartbeat_ms = cfg->heartbeat * 1000u;
    o.handler = gw_routes_handler;
    o.on_request = gw_routes_on_request;
    o.on_headers = gw_routes_on_headers;
    o.on_gone = gw_routes_on_gone;
    o.on_shutdown = gw_routes_on_shutdown;
    o.error_body = gw_routes_error_body;
    o.log = http_log;
    o.payload = app;
    int rc = gw_http_new(&app->http, &o);
    if (rc == 0)
        rc = gw_http_start(app->http);
    return rc;
}

static void
announce(gw_app *app, const gw_config *cfg)
{
    char url[300];
    bool v6 = strchr(cfg->host, ':') && cfg->host[0] != '[';
    snprintf(url, sizeof(url), "http://%s%s%s:%u", v6 ? "[" : "", cfg->host, v6 ? "]" : "",
             gw_http_port(app->http));
    log_msg(app->log, LINGMA_LOG_INFO, "listening", "url", url);
    /* One line on stdout: scripts and tests read the URL from it. */
    printf("%s\n", url);
    fflush(stdout);
    gw_notify_ready(url);
}

/* Whether the daemon's loops still answer, checked before each WATCHDOG=1:
 * the pool's stats snapshot takes the lock that the service thread and
 * every route share, so a thread stuck while holding it starves the
 * watchdog and systemd restarts the daemon. */
static bool
loops_turn(gw_app *app)
{
    lingma_pool_stats *st = NULL;
    if (lingma_pool_stats_get(&st, app->pool) != 0)
        return false;
    lingma_pool_stats_free(st);
    return true;
}

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* WATCHDOG=1 when it is due (every `every_ms`; 0: no watchdog). */
static void
watchdog_tick(gw_app *app, unsigned every_ms, long long *next)
{
    if (!every_ms || now_ms() < *next)
        return;
    if (loops_turn(app))
        gw_notify_watchdog();
    *next = now_ms() + every_ms;
}

/* Wait for SIGINT/SIGTERM, reopening the log on SIGHUP. */
static int
wait_for_stop(gw_app *app, const sigset_t *set)
{
    unsigned wd = gw_notify_watchdog_interval_ms();
    long long next = 0;
    for (;;) {
        siginfo_t si;
        int sig;
        if (wd) {
            watchdog_tick(app, wd, &next);
            long long left = next - now_ms();
            left = left < 1 ? 1 : left;
            struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
            sig = sigtimedwait(set, &si, &ts);
            if (sig < 0 && errno == EAGAIN)
                continue;
        } else {
            sig = sigwaitinfo(set, &si);
        }
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return SIGTERM;
        }
        if (sig == SIGHUP) {
            if (gw_log_reopen(app->log) != 0)
                log_msg(app->log, LINGMA_LOG_WARN, "log reopen failed", NULL, NULL);
            else
                log_msg(app->log, LINGMA_LOG_INFO, "log reopened", NULL, NULL);
            continue;
        }
        return sig;
    }
}

static void
drain_and_stop(gw_app *app, const gw_config *cfg, int sig)
{
    atomic_store(&app->draining, true);
    gw_notify_stopping();
    log_msg(app->log, LINGMA_LOG_INFO, "draining", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gw_http_quiesce(app->http);
    /* In slices of the watchdog interval, so that a long drain still pings. */
    unsigned wd = gw_notify_watchdog_interval_ms();
    long long end = now_ms() + (long long)cfg->drain_timeout * 1000, next = 0;
    size_t left;
    for (;;) {
        watchdog_tick(app, wd, &next);
        long long rest = end - now_ms();
        unsigned slice = rest > 0 ? (unsigned)rest : 0;
        if (wd && slice > wd)
            slice = wd;
        left = gw_http_drain(app->http, slice);
        if (left == 0 || now_ms() >= end)
            break;
    }
    if (left) {
        gw_log_fields f = GW_LOG_FIELDS_INIT;
        gw_log_kv kv = {"requests", GW_LOG_INT, NULL, (int64_t)left, 0, false};
        f.extra = &kv;
        f.n_extra = 1;
        gw_log_write(app->log, LINGMA_LOG_WARN, "drain timeout: ending the remaining requests", &f);
    }
    /* on_shutdown cancels each remaining chat; its terminal event writes the
     * error event and [DONE] on the service thread within the grace. */
    gw_http_stop(app->http, 3000);
}

int
main(int argc, char **argv)
{
    /* First: before any thread, and before the pool copies the environment
     * for the simulators it spawns. */
    if (exit_with_parent_arm() != 0) {
        fprintf(stderr, "lingma-gatewayd: the parent process is gone (" EXIT_WITH_PARENT_ENV ")\n");
        return 1;
    }
    const char *env_path = gw_config_env_file_arg(argc, argv);
    char *env_text = NULL;
    size_t env_len = 0;
    if (env_path && !(env_text = read_file(env_path, &env_len))) {
        fprintf(stderr, "lingma-gatewayd: --env-file %s: %s\n", env_path, strerror(errno));
        return EXIT_CONFIG;
    }
    gw_config cfg;
    gw_config_action action;
    char err[512];
    int rc =
        gw_config_parse(&cfg, &action, err, sizeof(err), argc, argv, environ, env_text, env_len);
    free(env_text);
    if (rc != 0) {
        fprintf(stderr, "lingma-gatewayd: %s\n", rc == LINGMA_ENOMEM ? "out of memory" : err);
        return EXIT_CONFIG;
    }
    if (action != GW_CONFIG_RUN) {
        gw_buf b = GW_BUF_INIT;
        if (action == GW_CONFIG_HELP)
            gw_config_help(&b, argv[0]);
        else if (action == GW_CONFIG_VERSION)
            gw_config_version(&b);
        else
            gw_config_dump(&b, &cfg);
        fwrite(b.data ? b.data : "", 1, b.len, stdout);
        gw_buf_free(&b);
        gw_config_free(&cfg);
        return 0;
    }
    if (!cfg.api_keys && !gw_config_host_is_loopback(cfg.host) && !cfg.allow_public) {
        fprintf(stderr,
                "lingma-gatewayd: GATEWAY_HOST %s is not a loopback address and API_KEYS is "
                "not set; set API_KEYS or pass --allow-public\n",
                cfg.host);
        gw_config_free(&cfg);
        return EXIT_CONFIG;
    }
    char *bin = cfg.lingma_bin ? strdup(cfg.lingma_bin) : gw_discover_lingma(getenv("HOME"));
    if (!bin) {
        fprintf(stderr,
                "lingma-gatewayd: no Lingma binary found under ~/.lingma/bin (%s); set "
                "LINGMA_BIN (or --lingma-bin) to the Lingma executable\n",
                gw_discover_platform());
        gw_config_free(&cfg);
        return EXIT_CONFIG;
    }

    /* The accounts through liblingma's own parser: the pool and the gateway
     * then agree on every form (CSV, JSON, the username/password pair). */
    lingma_account_list *accounts = NULL;
    if (lingma_accounts_parse(&accounts, err, sizeof(err), cfg.accounts, cfg.username,
                              cfg.password) != 0) {
        fprintf(stderr, "lingma-gatewayd: LINGMA_ACCOUNTS: %s\n", err);
        free(bin);
        gw_config_free(&cfg);
        return EXIT_CONFIG;
    }

    gw_app app;
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.started_unix = (int64_t)time(NULL);
    atomic_init(&app.draining, false);
    atomic_init(&app.chats_live, 0);
    gw_resp_store *responses = NULL;
    char *secret_store = NULL;
    const char *secrets[64];
    size_t n_secrets = collect_secrets(&cfg, &secret_store, secrets, 64);
    int status = 1;
    if (gw_log_open(&app.log, cfg.log_file, cfg.log_level, secrets, n_secrets) != 0) {
        fprintf(stderr, "lingma-gatewayd: LOG_FILE %s: %s\n", cfg.log_file, strerror(errno));
        goto out;
    }
    if (gw_auth_new(&app.auth, err, sizeof(err), cfg.api_keys, cfg.metrics_token) != 0) {
        fprintf(stderr, "lingma-gatewayd: %s\n", err);
        status = EXIT_CONFIG;
        goto out;
    }
    if (gw_cors_new(&app.cors, cfg.cors_origins, err, sizeof(err)) != 0 ||
        gw_aliases_new(&app.aliases, cfg.model_aliases, err, sizeof(err)) != 0) {
        fprintf(stderr, "lingma-gatewayd: %s\n", err);
        status = EXIT_CONFIG;
        goto out;
    }
    if (gw_metrics_new(&app.metrics) != 0 || gw_routes_init() != 0)
        goto out;
    gw_resp_store_options so = {cfg.responses_max, cfg.responses_max_bytes,
                                (uint64_t)cfg.responses_ttl * 1000u, NULL, NULL};
    if (gw_resp_store_new(&responses, &so) != 0)
        goto out;
    app.parse_ctx.store = responses;

    /* Before any thread exists, so that every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = start_pool(&app, &cfg, bin, accounts)) != 0) {
        log_msg(app.log, LINGMA_LOG_ERROR, "cannot create the Lingma pool", "error",
                lingma_strerror(rc));
        goto out;
    }
    if ((rc = gw_catalogue_new(&app.catalogue, app.pool, app.log, 300)) != 0) {
        log_msg(app.log, LINGMA_LOG_ERROR, "cannot start the model catalogue", "error",
                lingma_strerror(rc));
        goto out;
    }
    if ((rc = start_http(&app, &cfg)) != 0) {
        log_msg(app.log, LINGMA_LOG_ERROR, "cannot listen", "error", lingma_strerror(rc));
        goto out;
    }
    announce(&app, &cfg);

    int sig = wait_for_stop(&app, &set);
    drain_and_stop(&app, &cfg, sig);
    status = 0;
out:
    gw_catalogue_stop(app.catalogue);
    if (app.http)
        gw_http_stop(app.http, 0);
    /* Every chat still alive gets its terminal event here, which finishes
     * the requests it still owns; the children are stopped and reaped. */
    lingma_pool_free(app.pool);
    gw_http_free(app.http);
    gw_catalogue_free(app.catalogue);
    /* After the pool: its last chats store their answers on finishing. */
    gw_resp_store_free(responses);
    if (app.log)
        log_msg(app.log, LINGMA_LOG_INFO, "stopped", NULL, NULL);
    gw_metrics_free(app.metrics);
    gw_auth_free(app.auth);
    gw_cors_free(app.cors);
    gw_aliases_free(app.aliases);
    gw_log_close(app.log);
    free(secret_store);
    lingma_account_list_free(accounts);
    free(bin);
    gw_config_free(&cfg);
    return status;
}
