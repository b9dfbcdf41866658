/*
 * lingma-gatewayd configuration (DESIGN.md, "Gateway configuration").
 *
 * Precedence: flag > environment > --env-file > default. Parsing is pure:
 * the caller passes argv, an environ-like array and the text of the env
 * file (read after gw_config_env_file_arg() told it which file), so the
 * whole thing is unit-tested without touching the process environment.
 *
 * Environment and env-file values that are empty count as unset. A flag
 * given an empty value sets the value to empty (for strings: none).
 * Unknown keys in the env file are ignored (it may be shared with
 * lingma-sim); unknown flags are errors.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"

#include "buf.h"

typedef enum gw_ask_mode {
    GW_ASK_CHAT,  /* sessionType chat, mode chat */
    GW_ASK_AGENT, /* sessionType developer, mode agent */
} gw_ask_mode;

typedef enum gw_session_mode {
    GW_SESSION_FRESH, /* a new Lingma session per request, deleted afterwards */
    GW_SESSION_REUSE, /* keep Lingma sessions (its local database grows) */
} gw_session_mode;

/* Where a value came from, for --check-config. */
typedef enum gw_config_source {
    GW_SRC_DEFAULT,
    GW_SRC_ENV_FILE,
    GW_SRC_ENV,
    GW_SRC_FLAG,
} gw_config_source;

typedef enum gw_config_action {
    GW_CONFIG_RUN,
    GW_CONFIG_HELP,
    GW_CONFIG_VERSION,
    GW_CONFIG_CHECK, /* --check-config: print gw_config_dump() and exit */
} gw_config_action;

typedef struct gw_account {
    char *username;
    char *password;
} gw_account;

/* Number of settings in the table (GW_CFG_* below index `source`). */
enum {
    GW_CFG_HOST,
    GW_CFG_PORT,
    GW_CFG_API_KEYS,
    GW_CFG_METRICS_TOKEN,
    GW_CFG_LOG_LEVEL,
    GW_CFG_LOG_FILE,
    GW_CFG_LINGMA_BIN,
    GW_CFG_WORK_DIR,
    GW_CFG_SOCKET_PORT,
    GW_CFG_ACCOUNTS,
    GW_CFG_USERNAME,
    GW_CFG_PASSWORD,
    GW_CFG_INSTANCES,
    GW_CFG_STARTUP_TIMEOUT,
    GW_CFG_RPC_TIMEOUT,
    GW_CFG_CHAT_TIMEOUT,
    GW_CFG_STALL_TIMEOUT,
    GW_CFG_DEFAULT_MODEL,
    GW_CFG_ASK_MODE,
    GW_CFG_SESSION_MODE,
    GW_CFG_LOGIN_HOOK,
    GW_CFG_MAX_IN_FLIGHT,
    GW_CFG_MAX_QUEUE,
    GW_CFG_QUEUE_TIMEOUT,
    GW_CFG_HEARTBEAT,
    GW_CFG_DRAIN_TIMEOUT,
    GW_CFG_MAX_BODY,
    GW_CFG_CONNECTION_MEMORY,
    GW_CFG_MAX_CONNECTIONS,
    GW_CFG_ALLOW_PUBLIC,
    GW_CFG_CORS_ORIGINS,
    GW_CFG_MODEL_ALIASES,
    GW_CFG_RESPONSES_MAX,
    GW_CFG_RESPONSES_MAX_BYTES,
    GW_CFG_RESPONSES_TTL,
    GW_CFG_COUNT
};

typedef struct gw_config {
    char *host;          /* GATEWAY_HOST, never NULL */
    unsigned port;       /* GATEWAY_PORT, 0 = ephemeral */
    char *api_keys;      /* API_KEYS comma list, NULL = none */
    char *metrics_token; /* METRICS_TOKEN, NULL = none */
    lingma_log_level log_level;
    char *log_file;           /* LOG_FILE, NULL = stderr */
    char *lingma_bin;         /* LINGMA_BIN, NULL = discover the IDE plugin's binary */
    char *work_dir;           /* LINGMA_WORK_DIR, never NULL */
    unsigned socket_port;     /* LINGMA_SOCKET_PORT, 0 = Lingma chooses */
    char *accounts;           /* LINGMA_ACCOUNTS as given, NULL = none */
    char *username;           /* LINGMA_USERNAME */
    char *password;           /* LINGMA_PASSWORD */
    gw_account *account_list; /* accounts, else the username/password pair */
    size_t n_accounts;
    unsigned instances;       /* LINGMA_INSTANCE_COUNT, resolved (>= 1) */
    unsigned startup_timeout; /* seconds */
    unsigned rpc_timeout;
    unsigned chat_timeout;
    unsigned stall_timeout; /* seconds, 0 = no stall detection */
    char *default_model;    /* never NULL ("auto") */
    gw_ask_mode ask_mode;
    gw_session_mode session_mode;
    char *login_hook;           /* NULL = none */
    unsigned max_in_flight;     /* >= 1 */
    unsigned max_queue;         /* 0 = reject at once when full */
    unsigned queue_timeout;     /* seconds */
    unsigned heartbeat;         /* seconds, 0 = no SSE heartbeat */
    unsigned drain_timeout;     /* seconds */
    uint64_t max_body;          /* bytes */
    uint64_t connection_memory; /* bytes, MHD's per-connection pool */
    unsigned max_connections;
    bool allow_public;
    char *cors_origins;  /* GATEWAY_CORS_ORIGINS, NULL = CORS off */
    char *model_aliases; /* GATEWAY_MODEL_ALIASES, PATTERN=MODEL list; NULL = none */
    /* The stored Responses (responses_store.h): entries, bytes, seconds. */
    unsigned responses_max; /* 0 = keep none */
    uint64_t responses_max_bytes;
    unsigned responses_ttl;
    char *env_file; /* --env-file, NULL = none */
    gw_config_source source[GW_CFG_COUNT];
} gw_config;

/*
 * The path given with --env-file (either "--env-file PATH" or
 * "--env-file=PATH"), the last one winning, or NULL. The caller reads that
 * file and passes its text to gw_config_parse(); a missing file is the
 * caller's error to report.
 */
const char *gw_config_env_file_arg(int argc, char *const argv[]);

/*
 * Build the configuration. argv[0] is the program name; `envp` is a
 * NULL-terminated "KEY=VALUE" array (may be NULL); the env file text may be
 * NULL. On success returns 0, fills `cfg` (free it with gw_config_free)
 * and sets *action: for HELP and VERSION the rest of `cfg` is still valid
 * defaults. On error returns LINGMA_EINVAL with a one-line message in `err`
 * naming the variable or flag and the accepted form (cfg is then empty),
 * or LINGMA_ENOMEM.
 */
int gw_config_parse(gw_config *cfg, gw_config_action *action, char *err, size_t errlen, int argc,
                    char *const argv[], char *const envp[], const char *env_file_text,
                    size_t env_file_len);

/* NULL-safe; leaves `cfg` zeroed. */
void gw_config_free(gw_config *cfg);

/* Parse LINGMA_ACCOUNTS: "u1:p1,u2:p2" (the password is everything after
 * the first ':'; use JSON for passwords with commas) or a JSON array of
 * {"username","password"} objects. 0, LINGMA_EINVAL (err says which entry,
 * never echoing a password) or LINGMA_ENOMEM. */
int gw_config_parse_accounts(gw_account **out, size_t *n, char *err, size_t errlen,
                             const char *text);
void gw_accounts_free(gw_account *list, size_t n);

/* Parse env-file text into (key, value) pairs, calling `fn` for each: lines
 * are KEY=VALUE, optionally prefixed by "export "; blank lines and lines
 * starting with '#' are skipped; values may be single-quoted (literal),
 * double-quoted (\n \t \" \\ \$ escapes) or bare (trimmed, and a " #"
 * starts a comment). 0, LINGMA_EINVAL (err names the line) or the first
 * non-zero value `fn` returned. */
typedef int (*gw_env_fn)(const char *key, const char *value, unsigned line, void *payload);
int gw_config_parse_env_file(const char *text, size_t len, char *err, size_t errlen, gw_env_fn fn,
                             void *payload);

/* True for "localhost", 127.0.0.0/8 and ::1 (bracketed or not). */
bool gw_config_host_is_loopback(const char *host);

/* --help text. */
int gw_config_help(gw_buf *out, const char *argv0);

/* --version text: "lingma-gatewayd <version>\n". */
int gw_config_version(gw_buf *out);

/* --check-config text: one "KEY=value  # source" line per setting, in an
 * env-file syntax, with API_KEYS, METRICS_TOKEN, LINGMA_PASSWORD and the
 * passwords inside LINGMA_ACCOUNTS masked. */
int gw_config_dump(gw_buf *out, const gw_config *cfg);

#endif
