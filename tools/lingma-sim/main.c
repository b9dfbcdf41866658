/*
 * lingma-sim: command line and process lifecycle.
 *
 *   lingma-sim start [--workDir DIR] [--socketPort N] [--httpPort N]
 *                    [--transportType websocket] [--endpoint URL]
 *   lingma-sim version | status -o json [--workDir DIR] | --help
 *
 * Start-up order: settings (exit 2 on a bad one), start faults, cache/id,
 * listen on 127.0.0.1, then .info (atomically), then the service loop.
 * SIGINT/SIGTERM reach the loop through a signalfd, so shutdown runs on
 * the service thread and takes milliseconds.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/exit_with_parent.h"
#include "files.h"
#include "help.h"
#include "reply_script.h"
#include "server.h"
#include "sessions.h"
#include "strmap.h"

extern char **environ;

#define DEFAULT_WS_PORT     37010
#define EARLY_INFO_DELAY_MS 250
#define STALE_INFO_DELAY_MS 300

struct cli {
    const char *cmd;
    const char *work_dir;
    int socket_port; /* -1: not given */
    int http_port;
    const char *output;
    const char *endpoint;
};

static int
parse_port(const char *flag, const char *v, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > 65535) {
        fprintf(stderr, "lingma-sim: --%s: invalid port '%s' (expected 0-65535)\n", flag, v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Flags that take a value; any other flag is ignored, like the real binary does. */
static const char *const value_flags[] = {"workDir",  "socketPort",  "httpPort", "transportType",
                                          "endpoint", "copyDataDir", "o",        "output"};

static int
parse_cli(int argc, char **argv, struct cli *cli)
{
    memset(cli, 0, sizeof(*cli));
    cli->socket_port = cli->http_port = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (!cli->cmd)
                cli->cmd = a;
            continue;
        }
        while (*a == '-')
            a++;
        if (!strcmp(a, "help") || !strcmp(a, "h")) {
            cli->cmd = "help";
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '='), *val = NULL;
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof(name))
            continue;
        memcpy(name, a, nl);
        name[nl] = '\0';
        bool takes = false;
        for (size_t k = 0; k < sizeof(value_flags) / sizeof(*value_flags); k++)
            takes |= !strcmp(name, value_flags[k]);
        if (!takes)
            continue;
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "lingma-sim: --%s needs a value\n", name);
            return -1;
        }
        if (!strcmp(name, "workDir"))
            cli->work_dir = val;
        else if (!strcmp(name, "socketPort") && parse_port(name, val, &cli->socket_port))
            return -1;
        else if (!strcmp(name, "httpPort") && parse_port(name, val, &cli->http_port))
            return -1;
        else if (!strcmp(name, "o") || !strcmp(name, "output"))
            cli->output = val;
        else if (!strcmp(name, "endpoint"))
            cli->endpoint = val;
        /* transportType: websocket is the only transport; copyDataDir: ignored */
    }
    return 0;
}

static char *
resolve_work_dir(const char *dir)
{
    char buf[PATH_MAX];
    if (!dir) {
        if (!getcwd(buf, sizeof(buf)))
            return NULL;
        dir = buf;
    }
    /* mkdir -p, then canonicalise so every path we write is absolute */
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
        return NULL;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
    return realpath(tmp, NULL);
}

/* Settings from LINGMA_SIM_CONFIG and the environment. 0 or -1 (printed). */
static int
load_base_settings(struct sim_settings *s)
{
    char err[512];
    sim_settings_defaults(s);
    const char *cfg = getenv("LINGMA_SIM_CONFIG");
    if (cfg && *cfg) {
        int rc = sim_settings_from_file(s, cfg, err, sizeof(err));
        if (rc == 1)
            snprintf(err, sizeof(err), "LINGMA_SIM_CONFIG: %s: no such file", cfg);
        if (rc) {
            fprintf(stderr, "lingma-sim: %s\n", err);
            return -1;
        }
    }
    if (sim_settings_from_env(s, environ, err, sizeof(err))) {
        fprintf(stderr, "lingma-sim: %s\n", err);
        return -1;
    }
    return 0;
}

static int
cmd_status(const struct cli *cli)
{
    struct sim_settings s;
    if (load_base_settings(&s)) {
        sim_settings_free(&s);
        return 2;
    }
    char *dir = resolve_work_dir(cli->work_dir);
    if (!dir) {
        fprintf(stderr, "lingma-sim: cannot use the work dir: %s\n", strerror(errno));
        sim_settings_free(&s);
        return 1;
    }
    char *user = NULL;
    bool logged_in;
    if (!sim_cache_id_exists(dir))
        logged_in = s.logged_in; /* a fresh work dir is provisioned as LOGGED_IN says */
    else
        logged_in = sim_cache_user_read(dir, &user) == 0;
    if (logged_in && !user)
        user = strdup(s.username ? s.username : SIM_DEFAULT_USERNAME);

    json_t *out = json_pack("{s:b, s:s}", "logged_in", logged_in, "version", SIM_VERSION);
    if (logged_in) {
        json_object_set_new(out, "username", json_string(user ? user : ""));
        json_object_set_new(out, "user_type", json_string(SIM_USER_TYPE));
    }
    static const char *counters[] = {"unanswered_pushes", "stops_received",      "pushes_sent",
                                     "pushes_acked",      "chats_started",       "chats_finished",
                                     "chats_cancelled",   "connections",         "faults_hit",
                                     "tool_invokes",      "tool_invokes_refused"};
    json_t *st = sim_state_read(dir);
    for (size_t i = 0; i < sizeof(counters) / sizeof(*counters); i++) {
        json_t *v = json_object_get(st, counters[i]);
        json_object_set_new(out, counters[i],
                            json_integer(json_is_integer(v) ? json_integer_value(v) : 0));
    }
    json_int_t pid = json_integer_value(json_object_get(st, "pid"));
    bool running = json_is_true(json_object_get(st, "running")) && pid > 0 &&
                   (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    json_object_set_new(out, "running", json_boolean(running));
    if (running) {
        json_object_set(out, "pid", json_object_get(st, "pid"));
        json_object_set(out, "ws_port", json_object_get(st, "ws_port"));
        json_object_set(out, "http_port", json_object_get(st, "http_port"));
    }
    json_decref(st);

    if (cli->output && !strcmp(cli->output, "json")) {
        char *txt = json_dumps(out, JSON_COMPACT);
        if (txt)
            puts(txt);
        free(txt);
    } else {
        printf("version: %s\nlogged in: %s\n", SIM_VERSION, logged_in ? "yes" : "no");
        if (logged_in)
            printf("username: %s\nuser type: %s\n", user ? user : "", SIM_USER_TYPE);
        printf("unanswered pushes: %lld\nstops received: %lld\n",
               (long long)json_integer_value(json_object_get(out, "unanswered_pushes")),
               (long long)json_integer_value(json_object_get(out, "stops_received")));
    }
    json_decref(out);
    free(user);
    free(dir);
    sim_settings_free(&s);
    return 0;
}

/* Wait `ms` unless a signal arrives first; returns 1 on a signal. */
static int
wait_or_signal(int sigfd, int ms)
{
    struct pollfd p = {.fd = sigfd, .events = POLLIN};
    uint64_t end = sim_now_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        uint64_t now = sim_now_ns();
        if (now >= end)
            return 0;
        int rc = poll(&p, 1, (int)((end - now + 999999) / 1000000));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return 0;
    }
}

static void
sim_teardown(struct sim *sim)
{
    sim_timer_cancel(&sim->state_timer);
    sim_timer_cancel(&sim->exit_timer);
    sim_server_destroy(sim);
    if (sim->sessions)
        sim_sessions_free(sim->sessions);
    strmap_free(sim->chats);
    sim_models_free(&sim->models);
    sim_settings_free(&sim->base);
    sim_settings_free(&sim->cur);
    sim_log_close(&sim->log);
    free(sim->username);
    free(sim->endpoint);
    free(sim->work_dir);
}

static int
start_faults(struct sim *sim)
{
    const struct sim_faults *f = &sim->cur.fault;
    if (!sim_faults_start_active(f))
        return 0;
    if (sim->cur.fault_limit > 0 &&
        sim_counter_read(sim->work_dir, "fault-starts") >= sim->cur.fault_limit) {
        sim->cur.fault.exit_at_start = sim->cur.fault.stale_info = false;
        sim->cur.fault.start_delay_ms = 0;
        return 0;
    }
    sim_counter_bump(sim->work_dir, "fault-starts");
    if (f->exit_at_start) {
        sim_logf(&sim->log, "WARN", "fault exit_at_start: exiting");
        fprintf(stderr, "lingma-sim: exit_at_start fault\n");
        return 3;
    }
    return 0;
}

static int
cmd_start(const struct cli *cli)
{
    struct sim sim;
    char err[512], path[PATH_MAX];
    int rc = 1, sigfd = -1;
    bool info_written = false;

    memset(&sim, 0, sizeof(sim));
    sim.work_dir = resolve_work_dir(cli->work_dir);
    if (!sim.work_dir) {
        fprintf(stderr, "lingma-sim: cannot use the work dir: %s\n", strerror(errno));
        return 1;
    }
    if (load_base_settings(&sim.base)) {
        rc = 2;
        goto out;
    }
    if (sim_settings_copy(&sim.cur, &sim.base))
        goto out;
    snprintf(path, sizeof(path), "%s/sim.json", sim.work_dir);
    if (sim_settings_from_file(&sim.cur, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "lingma-sim: %s\n", err);
        rc = 2;
        goto out;
    }
    if (sim_models_load(&sim.models, sim.cur.models_file, err, sizeof(err))) {
        fprintf(stderr, "lingma-sim: %s\n", err);
        rc = 2;
        goto out;
    }
    if (sim.cur.reply == SIM_REPLY_SCRIPT) {
        /* Read at every chat/ask, but checked here too, so that a missing or
         * broken file exits 2 at start-up like every other bad setting. */
        struct sim_script *script;
        if (sim_script_load(sim.cur.reply_script, &script, err, sizeof(err))) {
            fprintf(stderr, "lingma-sim: LINGMA_SIM_REPLY: %s\n", err);
            rc = 2;
            goto out;
        }
        sim_script_free(script);
    }
    sim.sessions = sim_sessions_new();
    sim.chats = strmap_new();
    sim.endpoint = strdup(cli->endpoint ? cli->endpoint : "");
    if (!sim.sessions || !sim.chats || !sim.endpoint)
        goto out;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        goto out;

    sim_log_open(&sim.log, sim.work_dir);
    sim_logf(&sim.log, "INFO", "lingma-sim %s starting, pid %ld, work dir %s", SIM_VERSION,
             (long)getpid(), sim.work_dir);
    if ((rc = start_faults(&sim)) != 0)
        goto out;
    rc = 1;

    bool created;
    if (sim_cache_id_ensure(sim.work_dir, &created)) {
        fprintf(stderr, "lingma-sim: cannot write %s/cache/id\n", sim.work_dir);
        goto out;
    }
    if (created && sim.cur.logged_in)
        sim_cache_user_write(sim.work_dir,
                             sim.cur.username ? sim.cur.username : SIM_DEFAULT_USERNAME);
    sim.logged_in = sim_cache_user_read(sim.work_dir, &sim.username) == 0;

    if (sim.cur.fault.stale_info) {
        /* protocol notes §11.20: a stale .info (dead pid, closed port)
         * before the real one; kept behind at exit as well */
        sim_info_write(sim.work_dir, SIM_INFO_2LINE, sim_pick_port(0), 0, sim_dead_pid());
        sim.leave_info = true;
    }

    sim_server_quiet_logs();
    if (sim_server_create(&sim, sigfd)) {
        fprintf(stderr, "lingma-sim: cannot create the lws context\n");
        goto out;
    }
    int sigwait_fd = sigfd; /* still ours to poll before the loop runs */
    sigfd = -1;             /* lws owns it now and closes it */
    sim_state_init(&sim);

    int ws_req = cli->socket_port >= 0 ? cli->socket_port : DEFAULT_WS_PORT;
    int http_req = cli->http_port >= 0 ? cli->http_port : 0;
    int delay = sim.cur.fault.start_delay_ms;
    if (sim.cur.fault.stale_info && !delay)
        delay = STALE_INFO_DELAY_MS;
    if (sim.cur.info == SIM_INFO_EARLY) {
        ws_req = sim_pick_port(ws_req);
        sim_info_write(sim.work_dir, SIM_INFO_2LINE, ws_req, 0, (long)getpid());
        info_written = true;
        if (wait_or_signal(sigwait_fd, delay ? delay : EARLY_INFO_DELAY_MS)) {
            rc = 0;
            goto out;
        }
    }
    if (sim_server_listen(&sim, ws_req, http_req)) {
        fprintf(stderr, "lingma-sim: cannot listen on 127.0.0.1\n");
        goto out;
    }
    if (sim.cur.info != SIM_INFO_EARLY && delay && wait_or_signal(sigwait_fd, delay)) {
        rc = 0;
        goto out;
    }
    /* the ready line goes first: whoever sees .info finds it in the log */
    sim_logf(&sim.log, "INFO", "Communication servers ready - WebSocket: %d, HTTP: %d", sim.ws_port,
             sim.http_port);
    printf("Communication servers ready - WebSocket: %d, HTTP: %d\n", sim.ws_port, sim.http_port);
    fflush(stdout);
    if (sim.cur.info != SIM_INFO_EARLY || sim.ws_port != ws_req) {
        if (sim_info_write(sim.work_dir, sim.cur.info, sim.ws_port, sim.http_port,
                           (long)getpid())) {
            fprintf(stderr, "lingma-sim: cannot write %s/.info\n", sim.work_dir);
            goto out;
        }
        info_written = true;
    }
    sim_state_flush(&sim);

    sim_server_run(&sim);
    rc = sim.exit_code;

out:
    sim.stop = true;
    if (sim.lws_ctx) {
        sim_timer_cancel(&sim.state_timer);
        sim_server_destroy(&sim); /* closes connections: final counters */
        json_t *st = sim_state_json(&sim, false);
        if (st)
            sim_state_write(sim.work_dir, st);
        json_decref(st);
    }
    if (info_written && !sim.leave_info)
        sim_info_remove(sim.work_dir);
    if (rc == 0 || rc == 3)
        sim_logf(&sim.log, "INFO", "lingma-sim exiting (%d)", rc);
    if (sigfd >= 0)
        close(sigfd);
    sim_teardown(&sim);
    return rc;
}

int
main(int argc, char **argv)
{
    struct cli cli;
    if (exit_with_parent_arm() != 0) {
        fprintf(stderr, "lingma-sim: the parent process is gone (" EXIT_WITH_PARENT_ENV ")\n");
        return 1;
    }
    if (parse_cli(argc, argv, &cli))
        return 2;
    if (!cli.cmd || !strcmp(cli.cmd, "help")) {
        sim_print_help(stdout);
        return cli.cmd ? 0 : 2;
    }
    if (!strcmp(cli.cmd, "version")) {
        printf("version: %s\n", SIM_VERSION);
        return 0;
    }
    if (!strcmp(cli.cmd, "status"))
        return cmd_status(&cli);
    if (!strcmp(cli.cmd, "start"))
        return cmd_start(&cli);
    fprintf(stderr, "lingma-sim: unknown command '%s' (try --help)\n", cli.cmd);
    return 2;
}
