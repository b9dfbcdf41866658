/*
 * Configuration table, precedence and validation; see config.h.
 *
 * One table drives everything: parsing, error messages, --help and
 * --check-config, so a setting cannot be documented in one place and
 * spelled differently in another. tests/unit/test-gw-config.c checks that
 * .env.example mentions every variable of this table.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lingma/version.h"

#include "config.h"
#include "aliases.h"
#include "cors.h"

enum kind {
    K_STRING,       /* any text; "" = none */
    K_SECRET,       /* like K_STRING, masked in --check-config */
    K_ACCOUNTS,     /* secret list, usernames shown */
    K_HOST,         /* non-empty, no blanks */
    K_PORT,         /* 0..65535 */
    K_COUNT,        /* 1..1000000 */
    K_COUNT0,       /* 0..1000000 */
    K_OPT_COUNT,    /* "" (auto) or 1..1024 */
    K_DURATION,     /* 1 s .. 1 year, with an optional s/m/h unit */
    K_DURATION0,    /* the same, 0 allowed */
    K_BYTES,        /* 1 .. 1 GiB, with an optional K/M/G unit (powers of 1024) */
    K_CONN_BYTES,   /* like K_BYTES, 8 KiB .. 1 MiB: MHD's per-connection pool */
    K_LOG_LEVEL,    /* error|warn|info|debug */
    K_ASK_MODE,     /* chat|agent */
    K_SESSION_MODE, /* fresh|reuse */
    K_BOOL,         /* 1/0, true/false, yes/no, on/off */
};

struct setting {
    const char *env;
    const char *flag; /* NULL: environment only (secrets stay out of argv) */
    const char *metavar;
    enum kind kind;
    size_t offset; /* of the field in gw_config */
    const char *dflt;
    const char *help;
};

#define F(field) offsetof(gw_config, field)

/* In GW_CFG_* order. */
static const struct setting settings[GW_CFG_COUNT] = {
    {"GATEWAY_HOST", "--host", "HOST", K_HOST, F(host), "127.0.0.1",
     "Address to listen on. A non-loopback address needs API_KEYS or --allow-public."},
    {"GATEWAY_PORT", "--port", "PORT", K_PORT, F(port), "8000",
     "Port to listen on; 0 picks a free one (the URL is logged and printed)."},
    {"API_KEYS", "--api-keys", "K1,K2", K_SECRET, F(api_keys), "",
     "Comma-separated API keys accepted as 'Authorization: Bearer' or x-api-key. None: open."},
    {"METRICS_TOKEN", "--metrics-token", "TOKEN", K_SECRET, F(metrics_token), "",
     "Bearer token for /metrics (API keys are accepted too)."},
    {"LOG_LEVEL", "--log-level", "LEVEL", K_LOG_LEVEL, F(log_level), "info",
     "error, warn, info or debug."},
    {"LOG_FILE", "--log-file", "PATH", K_STRING, F(log_file), "",
     "JSON-lines log file, reopened on SIGHUP. Default: stderr."},
    {"LINGMA_BIN", "--lingma-bin", "PATH", K_STRING, F(lingma_bin), "",
     "The Lingma binary. Default: the one an IDE plugin installed under ~/.lingma/bin."},
    {"LINGMA_WORK_DIR", "--work-dir", "DIR", K_STRING, F(work_dir), NULL,
     "Lingma work directory (inst-<i> below it when several instances). Default: "
     "$XDG_STATE_HOME/lingma-gatewayd or ~/.local/state/lingma-gatewayd."},
    {"LINGMA_SOCKET_PORT", "--socket-port", "PORT", K_PORT, F(socket_port), "0",
     "Lingma's WebSocket port with one instance; 0 lets Lingma choose."},
    {"LINGMA_ACCOUNTS", "--accounts", "U:P,...", K_ACCOUNTS, F(accounts), "",
     "Accounts, one per instance: u1:p1,u2:p2 or a JSON array of {username,password}."},
    {"LINGMA_USERNAME", NULL, NULL, K_STRING, F(username), "",
     "Single-account login name, when LINGMA_ACCOUNTS is not set."},
    {"LINGMA_PASSWORD", NULL, NULL, K_SECRET, F(password), "",
     "Single-account password, when LINGMA_ACCOUNTS is not set."},
    {"LINGMA_INSTANCE_COUNT", "--instances", "N", K_OPT_COUNT, F(instances), "",
     "Number of Lingma instances. Default: the number of accounts, else 1."},
    {"LINGMA_STARTUP_TIMEOUT", "--startup-timeout", "SECONDS", K_DURATION, F(startup_timeout), "60",
     "How long an instance may take to start."},
    {"LINGMA_RPC_TIMEOUT", "--rpc-timeout", "SECONDS", K_DURATION, F(rpc_timeout), "120",
     "Timeout of one JSON-RPC call to Lingma."},
    {"LINGMA_CHAT_TIMEOUT", "--chat-timeout", "SECONDS", K_DURATION, F(chat_timeout), "600",
     "Timeout of a whole chat."},
    {"LINGMA_STALL_TIMEOUT", "--stall-timeout", "SECONDS", K_DURATION0, F(stall_timeout), "30",
     "A running chat that receives nothing this long makes the gateway ping Lingma; no answer "
     "within the RPC timeout: Lingma is restarted and its chats fail. 0 disables it."},
    {"LINGMA_DEFAULT_MODEL", "--default-model", "MODEL", K_STRING, F(default_model), "auto",
     "Model used when a request names none or 'auto'."},
    {"LINGMA_ASK_MODE", "--ask-mode", "MODE", K_ASK_MODE, F(ask_mode), "chat",
     "chat (sessionType chat) or agent (sessionType developer, mode agent)."},
    {"LINGMA_SESSION_MODE", "--session-mode", "MODE", K_SESSION_MODE, F(session_mode), "fresh",
     "fresh: a new Lingma session per request, deleted afterwards; reuse: keep sessions."},
    {"LINGMA_LOGIN_HOOK", "--login-hook", "COMMAND", K_STRING, F(login_hook), "",
     "Command run with the login URL when an instance needs a login."},
    {"GATEWAY_MAX_IN_FLIGHT", "--max-in-flight", "N", K_COUNT, F(max_in_flight), "64",
     "Chats running at once."},
    {"GATEWAY_MAX_QUEUE", "--max-queue", "N", K_COUNT0, F(max_queue), "256",
     "Chats waiting for a slot; beyond that, 429 at once."},
    {"GATEWAY_QUEUE_TIMEOUT_SEC", "--queue-timeout", "SECONDS", K_DURATION0, F(queue_timeout), "30",
     "How long a chat may wait for a slot before 429."},
    {"GATEWAY_HEARTBEAT_SEC", "--heartbeat", "SECONDS", K_DURATION0, F(heartbeat), "15",
     "SSE comment heartbeat interval; 0 disables it."},
    {"GATEWAY_DRAIN_TIMEOUT_SEC", "--drain-timeout", "SECONDS", K_DURATION0, F(drain_timeout), "30",
     "On SIGTERM, how long running chats may finish."},
    {"GATEWAY_MAX_BODY_BYTES", "--max-body", "BYTES", K_BYTES, F(max_body), "8MiB",
     "Largest request body; larger ones get 413."},
    {"GATEWAY_CONNECTION_MEMORY", "--connection-memory", "BYTES", K_CONN_BYTES,
     F(connection_memory), "8KiB",
     "Memory per HTTP connection. It also bounds the request head: the header block plus 64 "
     "bytes per header field may use this minus 1KiB; beyond that, 431."},
    {"GATEWAY_MAX_CONNECTIONS", "--max-connections", "N", K_COUNT, F(max_connections), "10000",
     "Open HTTP connections at most."},
    {"GATEWAY_ALLOW_PUBLIC", "--allow-public", NULL, K_BOOL, F(allow_public), "false",
     "Allow a non-loopback GATEWAY_HOST without API_KEYS."},
    {"GATEWAY_CORS_ORIGINS", "--cors-origins", "ORIGINS", K_STRING, F(cors_origins), "",
     "Browser origins allowed to call /v1 (comma list of scheme://host[:port], or *). "
     "Default: none (CORS off)."},
    {"GATEWAY_MODEL_ALIASES", "--model-alias", "PATTERN=MODEL", K_STRING, F(model_aliases),
     GW_ALIASES_DEFAULT,
     "Model names mapped to a Lingma model or auto: glob patterns, first match wins, every API. "
     "The flag repeats; the variable is a comma list. Setting it replaces the default; "
     "'none' turns aliases off."},
    {"GATEWAY_RESPONSES_MAX", "--responses-max", "N", K_COUNT0, F(responses_max), "10000",
     "Responses API: stored responses kept at most (least recently used go first); 0 keeps "
     "none."},
    {"GATEWAY_RESPONSES_MAX_BYTES", "--responses-max-bytes", "BYTES", K_BYTES,
     F(responses_max_bytes), "64MiB", "Responses API: memory the stored responses may use."},
    {"GATEWAY_RESPONSES_TTL_SEC", "--responses-ttl", "SECONDS", K_DURATION, F(responses_ttl), "24h",
     "Responses API: how long a stored response is kept after it was made."},
};

/* Values before conversion, and where they came from. */
struct raw {
    const char *value[GW_CFG_COUNT];
    unsigned line[GW_CFG_COUNT]; /* env-file line */
    char *owned[GW_CFG_COUNT];   /* env-file copies */
    gw_config_source source[GW_CFG_COUNT];
    char *work_dir_default;
};

static void
raw_free(struct raw *r)
{
    for (int i = 0; i < GW_CFG_COUNT; i++)
        free(r->owned[i]);
    free(r->work_dir_default);
}

static int
find_env(const char *key)
{
    for (int i = 0; i < GW_CFG_COUNT; i++)
        if (strcmp(settings[i].env, key) == 0)
            return i;
    return -1;
}

static const char *
getenv_from(char *const envp[], const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], key, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    return NULL;
}

static int
env_file_cb(const char *key, const char *value, unsigned line, void *payload)
{
    struct raw *r = payload;
    int i = find_env(key);
    if (i < 0 || !value[0])
        return 0;
    char *copy = strdup(value);
    if (!copy)
        return LINGMA_ENOMEM;
    free(r->owned[i]);
    r->owned[i] = copy;
    r->value[i] = copy;
    r->line[i] = line;
    r->source[i] = GW_SRC_ENV_FILE;
    return 0;
}

/* The name a message should use for setting i, given its source. */
static void
name_of(char *buf, size_t size, const struct raw *r, int i)
{
    if (r->source[i] == GW_SRC_FLAG)
        snprintf(buf, size, "%s", settings[i].flag);
    else if (r->source[i] == GW_SRC_ENV_FILE)
        snprintf(buf, size, "%s (env file line %u)", settings[i].env, r->line[i]);
    else
        snprintf(buf, size, "%s", settings[i].env);
}

static const char *
accepted_form(enum kind k)
{
    switch (k) {
    case K_HOST:
        return "a host name or IP address";
    case K_PORT:
        return "an integer 0-65535";
    case K_COUNT:
        return "an integer 1-1000000";
    case K_COUNT0:
        return "an integer 0-1000000";
    case K_OPT_COUNT:
        return "an integer 1-1024";
    case K_DURATION:
        return "a duration of at least 1 second: N, Ns, Nm or Nh";
    case K_DURATION0:
        return "a duration: N, Ns, Nm or Nh (seconds by default)";
    case K_BYTES:
        return "a size of 1 byte to 1GiB: N, NK, NM or NG (KiB, MiB, GiB)";
    case K_CONN_BYTES:
        return "a size of 8KiB to 1MiB: N, NK or NM (KiB, MiB)";
    case K_LOG_LEVEL:
        return "error, warn, info or debug";
    case K_ASK_MODE:
        return "chat or agent";
    case K_SESSION_MODE:
        return "fresh or reuse (auto = fresh)";
    case K_BOOL:
        return "true or false";
    default:
        return "text";
    }
}

/* Decimal digits only, into *out; false on anything else or overflow. */
static bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* A number followed by an optional unit from `units` (each with its
 * multiplier); the unit match ignores case. */
static bool
parse_scaled(const char *s, const char *const *units, const uint64_t *mult, uint64_t *out)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    uint64_t v;
    if (!parse_u64(s, n, &v))
        return false;
    const char *u = s + n;
    uint64_t m = 1;
    if (*u) {
        size_t i = 0;
        while (units[i] && strcasecmp(units[i], u) != 0)
            i++;
        if (!units[i])
            return false;
        m = mult[i];
    }
    if (v > UINT64_MAX / m)
        return false;
    *out = v * m;
    return true;
}

static bool
parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool
pick(const char *s, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

/* Convert one raw value into its field. Returns 0, LINGMA_EINVAL or
 * LINGMA_ENOMEM. */
static int
convert(gw_config *cfg, int i, const char *v)
{
    const struct setting *s = &settings[i];
    char *field = (char *)cfg + s->offset;
    static const char *const dur_units[] = {"s", "m", "h", NULL};
    static const uint64_t dur_mult[] = {1, 60, 3600};
    static const char *const byte_units[] = {"k", "kb", "kib", "m", "mb", "mib",
                                             "g", "gb", "gib", "b", NULL};
    static const uint64_t byte_mult[] = {1024,    1024,    1024,    1048576, 1048576,
                                         1048576, 1 << 30, 1 << 30, 1 << 30, 1};
    uint64_t u = 0;
    int choice = 0;
    switch (s->kind) {
    case K_STRING:
    case K_SECRET:
    case K_ACCOUNTS:
        if (!v[0])
            return 0; /* stays NULL: none */
        *(char **)field = strdup(v);
        return *(char **)field ? 0 : LINGMA_ENOMEM;
    case K_HOST:
        if (!v[0] || strpbrk(v, " \t\r\n/"))
            return LINGMA_EINVAL;
        *(char **)field = strdup(v);
        return *(char **)field ? 0 : LINGMA_ENOMEM;
    case K_PORT:
        if (!parse_u64(v, strlen(v), &u) || u > 65535)
            return LINGMA_EINVAL;
        *(unsigned *)field = (unsigned)u;
        return 0;
    case K_COUNT:
    case K_COUNT0:
        if (!parse_u64(v, strlen(v), &u) || u > 1000000 || (s->kind == K_COUNT && u == 0))
            return LINGMA_EINVAL;
        *(unsigned *)field = (unsigned)u;
        return 0;
    case K_OPT_COUNT:
        if (!v[0])
            return 0;
        if (!parse_u64(v, strlen(v), &u) || u == 0 || u > 1024)
            return LINGMA_EINVAL;
        *(unsigned *)field = (unsigned)u;
        return 0;
    case K_DURATION:
    case K_DURATION0:
        if (!parse_scaled(v, dur_units, dur_mult, &u) || u > 31536000 ||
            (s->kind == K_DURATION && u == 0))
            return LINGMA_EINVAL;
        *(unsigned *)field = (unsigned)u;
        return 0;
    case K_BYTES:
        if (!parse_scaled(v, byte_units, byte_mult, &u) || u == 0 || u > (1u << 30))
            return LINGMA_EINVAL;
        *(uint64_t *)field = u;
        return 0;
    case K_CONN_BYTES:
        /* Below 8 KiB MHD cannot hold a typical request's headers and its
         * buffers; above 1 MiB it is no longer a per-connection pool. */
        if (!parse_scaled(v, byte_units, byte_mult, &u) || u < 8192 || u > (1u << 20))
            return LINGMA_EINVAL;
        *(uint64_t *)field = u;
        return 0;
    case K_LOG_LEVEL: {
        static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
        if (strcasecmp(v, "warning") == 0)
            choice = LINGMA_LOG_WARN;
        else if (!pick(v, levels, &choice))
            return LINGMA_EINVAL;
        *(lingma_log_level *)field = (lingma_log_level)choice;
        return 0;
    }
    case K_ASK_MODE: {
        static const char *const modes[] = {"chat", "agent", NULL};
        if (!pick(v, modes, &choice))
            return LINGMA_EINVAL;
        *(gw_ask_mode *)field = (gw_ask_mode)choice;
        return 0;
    }
    case K_SESSION_MODE: {
        /* "auto" is the original gateway's name for fresh. */
        static const char *const modes[] = {"fresh", "reuse", "auto", NULL};
        if (!pick(v, modes, &choice))
            return LINGMA_EINVAL;
        *(gw_session_mode *)field = choice == 1 ? GW_SESSION_REUSE : GW_SESSION_FRESH;
        return 0;
    }
    case K_BOOL:
        if (!parse_bool_text(v, (bool *)field))
            return LINGMA_EINVAL;
        return 0;
    }
    return LINGMA_EINVAL;
}

const char *
gw_config_env_file_arg(int argc, char *const argv[])
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--env-file=", 11) == 0)
            path = argv[i] + 11;
    }
    return path;
}

bool
gw_config_host_is_loopback(const char *host)
{
    unsigned char a[16];
    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
        return true;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        return memcmp(a, one, 16) == 0;
    }
    return false;
}

/* The default work dir from the environment (pure: envp is an input). */
static int
default_work_dir(struct raw *r, char *const envp[])
{
    const char *xdg = getenv_from(envp, "XDG_STATE_HOME");
    const char *home = getenv_from(envp, "HOME");
    gw_buf b = GW_BUF_INIT;
    int rc;
    if (xdg && xdg[0] == '/')
        rc = gw_buf_printf(&b, "%s/lingma-gatewayd", xdg);
    else if (home && home[0] == '/')
        rc = gw_buf_printf(&b, "%s/.local/state/lingma-gatewayd", home);
    else
        return 0; /* no default: a later check asks for LINGMA_WORK_DIR */
    if (rc != 0) {
        gw_buf_free(&b);
        return LINGMA_ENOMEM;
    }
    r->work_dir_default = gw_buf_detach(&b, NULL);
    r->value[GW_CFG_WORK_DIR] = r->work_dir_default;
    return 0;
}

/* Flags: "--name value", "--name=value"; --allow-public takes no value. */
static int
parse_argv(struct raw *r, gw_config *cfg, gw_config_action *action, char *err, size_t errlen,
           int argc, char *const argv[])
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            *action = GW_CONFIG_HELP;
            continue;
        }
        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            if (*action != GW_CONFIG_HELP)
                *action = GW_CONFIG_VERSION;
            continue;
        }
        if (strcmp(arg, "--check-config") == 0) {
            if (*action == GW_CONFIG_RUN)
                *action = GW_CONFIG_CHECK;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen == 10 && strncmp(arg, "--env-file", 10) == 0) {
            const char *path = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
            if (!path || !path[0]) {
                snprintf(err, errlen, "--env-file needs a value (a file of KEY=VALUE lines)");
                return LINGMA_EINVAL;
            }
            free(cfg->env_file);
            cfg->env_file = strdup(path);
            if (!cfg->env_file)
                return LINGMA_ENOMEM;
            continue;
        }
        int i = 0;
        while (i < GW_CFG_COUNT && !(settings[i].flag && strlen(settings[i].flag) == nlen &&
                                     strncmp(settings[i].flag, arg, nlen) == 0))
            i++;
        if (i == GW_CFG_COUNT) {
            if (arg[0] == '-')
                snprintf(err, errlen, "unknown option '%.64s' (see --help)", arg);
            else
                snprintf(err, errlen, "unexpected argument '%.64s' (see --help)", arg);
            return LINGMA_EINVAL;
        }
        const char *value;
        if (settings[i].kind == K_BOOL) {
            value = eq ? eq + 1 : "true";
        } else if (eq) {
            value = eq + 1;
        } else if (a + 1 < argc) {
            value = argv[++a];
        } else {
            snprintf(err, errlen, "%s needs a value (%s)", settings[i].flag,
                     accepted_form(settings[i].kind));
            return LINGMA_EINVAL;
        }
        if (i == GW_CFG_MODEL_ALIASES && r->source[i] == GW_SRC_FLAG) {
            /* --model-alias repeats: the occurrences join into one list. */
            size_t n = strlen(r->value[i]) + strlen(value) + 2;
            char *joined = malloc(n);
            if (!joined)
                return LINGMA_ENOMEM;
            snprintf(joined, n, "%s,%s", r->value[i], value);
            free(r->owned[i]);
            r->owned[i] = joined;
            value = joined;
        }
        r->value[i] = value;
        r->source[i] = GW_SRC_FLAG;
    }
    return 0;
}

static int
check_consistency(gw_config *cfg, char *err, size_t errlen)
{
    char tmp[256] = "";
    int rc;
    if (!cfg->work_dir) {
        snprintf(err, errlen,
                 "LINGMA_WORK_DIR: no default (neither XDG_STATE_HOME nor HOME is set); set "
                 "LINGMA_WORK_DIR or --work-dir to a directory");
        return LINGMA_EINVAL;
    }
    if (cfg->accounts) {
        rc = gw_config_parse_accounts(&cfg->account_list, &cfg->n_accounts, tmp, sizeof(tmp),
                                      cfg->accounts);
        if (rc != 0) {
            snprintf(err, errlen, "%s", tmp);
            return rc;
        }
    }
    if (cfg->n_accounts == 0 && (cfg->username || cfg->password)) {
        if (!cfg->username || !cfg->password) {
            snprintf(err, errlen,
                     "LINGMA_USERNAME and LINGMA_PASSWORD: set both or neither (or use "
                     "LINGMA_ACCOUNTS=user:password)");
            return LINGMA_EINVAL;
        }
        cfg->account_list = calloc(1, sizeof(*cfg->account_list));
        if (!cfg->account_list)
            return LINGMA_ENOMEM;
        cfg->n_accounts = 1;
        cfg->account_list[0].username = strdup(cfg->username);
        cfg->account_list[0].password = strdup(cfg->password);
        if (!cfg->account_list[0].username || !cfg->account_list[0].password)
            return LINGMA_ENOMEM;
    }
    if (cfg->instances == 0) {
        cfg->instances = cfg->n_accounts ? (unsigned)cfg->n_accounts : 1;
    } else if (cfg->instances < cfg->n_accounts) {
        snprintf(err, errlen,
                 "LINGMA_INSTANCE_COUNT: %u is fewer than the %zu accounts configured (expected "
                 "at least %zu, or leave it unset)",
                 cfg->instances, cfg->n_accounts, cfg->n_accounts);
        return LINGMA_EINVAL;
    }
    bool has_keys = false;
    for (const char *p = cfg->api_keys; p && *p && !has_keys; p++)
        has_keys = *p != ',' && *p != ' ' && *p != '\t';
    if (!has_keys && !cfg->allow_public && !gw_config_host_is_loopback(cfg->host)) {
        snprintf(err, errlen,
                 "GATEWAY_HOST: refusing to listen on %.64s without API_KEYS; set API_KEYS, "
                 "bind a loopback address, or pass --allow-public",
                 cfg->host);
        return LINGMA_EINVAL;
    }
    gw_cors *cors = NULL;
    int crc = gw_cors_new(&cors, cfg->cors_origins, err, errlen);
    gw_cors_free(cors);
    if (crc != 0)
        return crc;
    gw_aliases *aliases = NULL;
    crc = gw_aliases_new(&aliases, cfg->model_aliases, err, errlen);
    gw_aliases_free(aliases);
    if (crc != 0)
        return crc;
    return 0;
}

int
gw_config_parse(gw_config *cfg, gw_config_action *action, char *err, size_t errlen, int argc,
                char *const argv[], char *const envp[], const char *env_file_text,
                size_t env_file_len)
{
    struct raw r;
    memset(&r, 0, sizeof(r));
    memset(cfg, 0, sizeof(*cfg));
    *action = GW_CONFIG_RUN;
    int rc;
    for (int i = 0; i < GW_CFG_COUNT; i++) {
        r.value[i] = settings[i].dflt;
        r.source[i] = GW_SRC_DEFAULT;
    }
    if ((rc = default_work_dir(&r, envp)) != 0)
        goto fail;
    if (env_file_text) {
        rc = gw_config_parse_env_file(env_file_text, env_file_len, err, errlen, env_file_cb, &r);
        if (rc != 0)
            goto fail;
    }
    for (int i = 0; i < GW_CFG_COUNT; i++) {
        const char *v = getenv_from(envp, settings[i].env);
        if (v && v[0]) {
            r.value[i] = v;
            r.source[i] = GW_SRC_ENV;
        }
    }
    if ((rc = parse_argv(&r, cfg, action, err, errlen, argc, argv)) != 0)
        goto fail;
    for (int i = 0; i < GW_CFG_COUNT; i++) {
        if (!r.value[i])
            continue;
        rc = convert(cfg, i, r.value[i]);
        if (rc == LINGMA_EINVAL) {
            char name[96];
            name_of(name, sizeof(name), &r, i);
            bool secret = settings[i].kind == K_SECRET || settings[i].kind == K_ACCOUNTS;
            snprintf(err, errlen, "%s: invalid value '%.64s' (expected %s)", name,
                     secret ? "***" : r.value[i], accepted_form(settings[i].kind));
        }
        if (rc != 0)
            goto fail;
        cfg->source[i] = r.source[i];
    }
    if (*action == GW_CONFIG_RUN || *action == GW_CONFIG_CHECK) {
        if ((rc = check_consistency(cfg, err, errlen)) != 0)
            goto fail;
    }
    raw_free(&r);
    return 0;
fail:
    if (rc == LINGMA_ENOMEM)
        snprintf(err, errlen, "out of memory");
    raw_free(&r);
    gw_config_free(cfg);
    return rc;
}

void
gw_config_free(gw_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < GW_CFG_COUNT; i++) {
        enum kind k = settings[i].kind;
        if (k == K_STRING || k == K_SECRET || k == K_ACCOUNTS || k == K_HOST) {
            char **p = (char **)((char *)cfg + settings[i].offset);
            if (*p && k != K_STRING && k != K_HOST)
                memset(*p, 0, strlen(*p)); /* do not leave secrets in freed memory */
            free(*p);
        }
    }
    gw_accounts_free(cfg->account_list, cfg->n_accounts);
    free(cfg->env_file);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- text output --------------------------------------------------------- */

int
gw_config_version(gw_buf *out)
{
    return gw_buf_printf(out, "lingma-gatewayd %s\n", LINGMA_VERSION_STRING);
}

int
gw_config_help(gw_buf *out, const char *argv0)
{
    size_t mark = out->len;
    int rc = gw_buf_printf(out,
                           "Usage: %s [OPTIONS]\n\n"
                           "An OpenAI-compatible HTTP gateway in front of Alibaba's Lingma agent.\n"
                           "Every setting is a flag or an environment variable; precedence is\n"
                           "flag > environment > --env-file > default.\n\nOptions:\n",
                           argv0 && argv0[0] ? argv0 : "lingma-gatewayd");
    for (int i = 0; rc == 0 && i < GW_CFG_COUNT; i++) {
        const struct setting *s = &settings[i];
        char left[64];
        if (!s->flag)
            continue;
        snprintf(left, sizeof(left), "%s%s%s", s->flag, s->metavar ? " " : "",
                 s->metavar ? s->metavar : "");
        rc = gw_buf_printf(out, "  %-28s %s", left, s->env);
        if (rc == 0 && s->dflt && s->dflt[0])
            rc = gw_buf_printf(out, " (default %s)", s->dflt);
        if (rc == 0)
            rc = gw_buf_printf(out, "\n  %-28s %s\n", "", s->help);
    }
    if (rc == 0)
        rc = gw_buf_printf(out,
                           "  %-28s %s\n  %-28s %s\n  %-28s %s\n  %-28s %s\n\n"
                           "Environment only (keeps passwords out of the process list):\n",
                           "--env-file PATH", "Read KEY=VALUE lines (export, quotes, # comments).",
                           "--check-config", "Print the effective configuration, secrets masked.",
                           "-h, --help", "Show this help.", "-V, --version", "Show the version.");
    for (int i = 0; rc == 0 && i < GW_CFG_COUNT; i++)
        if (!settings[i].flag)
            rc = gw_buf_printf(out, "  %-28s %s\n", settings[i].env, settings[i].help);
    if (rc != 0)
        gw_buf_truncate(out, mark);
    return rc;
}

static const char *const source_names[] = {"default", "env-file", "environment", "flag"};

/* Quote a value for an env file when it is not a plain word. */
static int
put_value(gw_buf *out, const char *v)
{
    if (!v[0] || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                           "._-/:,@+*") == strlen(v))
        return gw_buf_puts(out, v);
    int rc = gw_buf_puts(out, "\"");
    for (const char *p = v; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\' || *p == '$')
            rc = gw_buf_printf(out, "\\%c", *p);
        else if (*p == '\n')
            rc = gw_buf_puts(out, "\\n");
        else
            rc = gw_buf_append(out, p, 1);
    }
    return rc == 0 ? gw_buf_puts(out, "\"") : rc;
}

static int
dump_one(gw_buf *out, const gw_config *cfg, int i)
{
    const struct setting *s = &settings[i];
    const char *field = (const char *)cfg + s->offset;
    char num[32];
    const char *v = "";
    gw_buf acc = GW_BUF_INIT;
    int rc = 0;
    switch (s->kind) {
    case K_STRING:
    case K_HOST:
        v = *(char *const *)field ? *(char *const *)field : "";
        break;
    case K_SECRET:
        v = *(char *const *)field ? "***" : "";
        break;
    case K_ACCOUNTS:
        for (size_t a = 0; cfg->accounts && rc == 0 && a < cfg->n_accounts; a++)
            rc = gw_buf_printf(&acc, "%s%s:***", a ? "," : "", cfg->account_list[a].username);
        v = acc.data ? acc.data : "";
        break;
    case K_PORT:
    case K_COUNT:
    case K_COUNT0:
    case K_OPT_COUNT:
    case K_DURATION:
    case K_DURATION0:
        snprintf(num, sizeof(num), "%u", *(const unsigned *)field);
        v = num;
        break;
    case K_BYTES:
    case K_CONN_BYTES:
        snprintf(num, sizeof(num), "%llu", (unsigned long long)*(const uint64_t *)field);
        v = num;
        break;
    case K_LOG_LEVEL: {
        static const char *const n[] = {"error", "warn", "info", "debug"};
        v = n[*(const lingma_log_level *)field & 3];
        break;
    }
    case K_ASK_MODE:
        v = *(const gw_ask_mode *)field == GW_ASK_AGENT ? "agent" : "chat";
        break;
    case K_SESSION_MODE:
        v = *(const gw_session_mode *)field == GW_SESSION_REUSE ? "reuse" : "fresh";
        break;
    case K_BOOL:
        v = *(const bool *)field ? "true" : "false";
        break;
    }
    if (rc == 0)
        rc = gw_buf_printf(out, "%s=", s->env);
    if (rc == 0)
        rc = put_value(out, v);
    if (rc == 0)
        rc = gw_buf_printf(out, "  # %s\n", source_names[cfg->source[i] & 3]);
    gw_buf_free(&acc);
    return rc;
}

int
gw_config_dump(gw_buf *out, const gw_config *cfg)
{
    size_t mark = out->len;
    int rc = 0;
    for (int i = 0; rc == 0 && i < GW_CFG_COUNT; i++)
        rc = dump_one(out, cfg, i);
    if (rc != 0)
        gw_buf_truncate(out, mark);
    return rc;
}
