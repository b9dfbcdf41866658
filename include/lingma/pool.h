/*
 * liblingma: a pool of supervised Lingma processes.
 *
 * One object model: a pool of one instance is the single-instance case.
 * The pool owns a private service thread (libwebsockets' lws_service loop);
 * every instance, connection, timer and chat lives on that thread. Other
 * threads only post commands. User callbacks fire on the service thread and
 * may call lingma_chat_start() and lingma_chat_cancel(), never
 * lingma_pool_free() or a blocking `_sync` call.
 *
 * Numeric option fields use 0 for "the documented default". Where zero is a
 * meaningful value of its own (an empty queue, no timeout), pass LINGMA_ZERO.
 */
#ifndef LINGMA_POOL_H
#define LINGMA_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque pool handle. */
typedef struct lingma_pool lingma_pool;

/** Pass for a numeric option whose 0 means "default" to request a literal zero. */
#define LINGMA_ZERO ((unsigned int)-1)

/** Most instances (and accounts) a pool takes: a sanity limit against typos. */
#define LINGMA_MAX_INSTANCES 256

/** One Lingma account. Strings are copied by lingma_pool_new(). */
typedef struct lingma_account {
    const char *username;
    const char *password;
} lingma_account;

/** Accounts parsed by lingma_accounts_parse(). Everything belongs to the list. */
typedef struct lingma_account_list {
    size_t count;                   /**< 0 when no account is configured */
    const lingma_account *accounts; /**< `count` entries in the order given; NULL when 0 */
} lingma_account_list;

/**
 * Parse the account configuration of a gateway: `accounts` is the string
 * form of LINGMA_ACCOUNTS (or --accounts), `username` and `password` are
 * LINGMA_USERNAME and LINGMA_PASSWORD. Each may be NULL (unset).
 *
 * Forms of `accounts` (told apart by the first non-blank character):
 *   - CSV  "u1:p1,u2:p2": the username ends at the first ':', the password
 *     may contain ':' but not ','; whitespace around an entry is trimmed.
 *   - JSON [{"username":"u1","password":"p1"}, ...]: exactly these keys,
 *     non-empty strings.
 * Usernames must be unique, non-empty and free of whitespace and control
 * characters; passwords non-empty. An empty or blank `accounts` is unset:
 * then `username` + `password` give one account, neither gives none, one
 * without the other is an error. At most LINGMA_MAX_INSTANCES accounts.
 *
 * The result plugs into lingma_pool_options: `o.accounts = l->accounts;
 * o.account_count = l->count;` (the pool copies them).
 *
 * Ownership: `*out` belongs to the caller: lingma_account_list_free(), which
 *            wipes the passwords. `*out` is NULL on error.
 * Errors: the message in `errbuf` (may be NULL; always terminated) names
 *         the position (1-based entry, byte offset) and the problem; it never
 *         quotes the input, so it never contains a password (nor a username).
 * Threads: any thread; no shared state.
 * @return 0; LINGMA_EINVAL (malformed, or `out` NULL); LINGMA_ENOMEM.
 */
LINGMA_EXPORT LINGMA_WARN_UNUSED int lingma_accounts_parse(lingma_account_list **out, char *errbuf,
                                                           size_t errlen, const char *accounts,
                                                           const char *username,
                                                           const char *password);

/** Wipe the passwords and free the list. NULL is accepted. Any thread. */
LINGMA_EXPORT void lingma_account_list_free(lingma_account_list *list);

/**
 * The instance count rule (LINGMA_INSTANCE_COUNT / --instances): an explicit
 * count (> 0) when given, else the number of accounts, else 1. An explicit
 * count below the number of accounts is an error (an account would go
 * unused); above it is fine (the extra instances have no credentials).
 * lingma_pool_new() applies the same rule to its `instances` option.
 *
 * Threads: any thread. Errors: a message in `errbuf` (may be NULL).
 * @return 0 (`*out` set); LINGMA_EINVAL (below the accounts, above
 *         LINGMA_MAX_INSTANCES, or `out` NULL).
 */
LINGMA_EXPORT int lingma_accounts_instance_count(size_t *out, char *errbuf, size_t errlen,
                                                 size_t account_count, size_t explicit_count);

/** How a chat is asked (lingma-protocol.md §6.1). */
typedef enum lingma_ask_mode {
    LINGMA_ASK_DEFAULT = 0, /**< the pool's setting (chat options only; the pool default is chat) */
    LINGMA_ASK_CHAT = 1,    /**< sessionType "chat", mode "chat" */
    LINGMA_ASK_AGENT = 2,   /**< sessionType "developer", mode "agent" */
} lingma_ask_mode;

/** What happens to the Lingma session a chat created. */
typedef enum lingma_session_mode {
    LINGMA_SESSION_FRESH =
        0, /**< a new session per chat, deleted after it (chat/deleteSessionById) */
    LINGMA_SESSION_KEEP = 1, /**< sessions are left in Lingma's database */
} lingma_session_mode;

/** Where a spawned child's stdout and stderr go. */
typedef enum lingma_child_output {
    LINGMA_CHILD_OUTPUT_LOG = 0,  /**< appended to <instance work dir>/lingma-child.log */
    LINGMA_CHILD_OUTPUT_NONE = 1, /**< /dev/null */
} lingma_child_output;

/** What Lingma last said about its login (auth/status, auth/report). */
typedef enum lingma_auth_state {
    LINGMA_AUTH_UNKNOWN = 0,    /**< not asked yet, or the answer could not be read */
    LINGMA_AUTH_LOGGED_IN = 1,  /**< status 2 */
    LINGMA_AUTH_LOGGED_OUT = 2, /**< any other status: a login is needed */
} lingma_auth_state;

/** "unknown", "logged_in", "logged_out" (the /healthz names); never NULL. */
LINGMA_EXPORT const char *lingma_auth_state_name(lingma_auth_state state);

/** What lingma_pool_options.on_instance_event reports. */
typedef enum lingma_instance_event_type {
    /**
     * Lingma said it is not logged in (on a connection's first auth/status,
     * or in an auth/report push) while it was not known to be logged out:
     * chats avoid the instance until it is. With login_hook configured a
     * login attempt starts by itself right after this event.
     */
    LINGMA_INSTANCE_EVENT_LOGIN_NEEDED = 0,
} lingma_instance_event_type;

/** One instance event. Borrowed for the duration of the callback. */
typedef struct lingma_instance_event {
    lingma_instance_event_type type;
    size_t instance;  /**< its index */
    const char *name; /**< "inst-<i>" */
    int login_hook;   /**< 1 when a login attempt with the hook was started for it */
} lingma_instance_event;

/**
 * Called on the service thread. It may call lingma_instance_login_start(),
 * lingma_chat_start() and the stats, never lingma_pool_free() or a `_sync`
 * call. Fields may be appended to the event: read only those you know.
 */
typedef void (*lingma_instance_event_fn)(const lingma_instance_event *ev, void *payload);

/**
 * Version 2 added the login fields (login_hook and after), version 3 the
 * health fields (stall_timeout_ms and after). Older structs are still
 * accepted: only their fields are read.
 */
#define LINGMA_POOL_OPTIONS_VERSION 3

/**
 * Options of lingma_pool_new(). Strings and arrays are borrowed for the
 * duration of lingma_pool_new() only: the pool copies what it keeps.
 */
typedef struct lingma_pool_options {
    unsigned int version; /**< LINGMA_POOL_OPTIONS_VERSION */

    const char *binary;   /**< the Lingma (or lingma-sim) executable; required */
    const char *work_dir; /**< base work dir; 1 instance uses it as is, N use <work_dir>/inst-<i> */
    unsigned int instances; /**< 0: the number of accounts, else 1; fewer than accounts: EINVAL */
    /**
     * 1 instance: when a Lingma already listens on this port it is used
     * pre-warmed, without spawning; otherwise it is passed as --socketPort.
     * N instances: ignored, the pool picks a free --socketPort/--httpPort each.
     */
    unsigned int socket_port;
    const lingma_account *accounts; /**< may be NULL */
    size_t account_count;

    unsigned int startup_timeout_ms;     /**< spawn to ready; 0: 60000 */
    unsigned int rpc_timeout_ms;         /**< every request but chat/ask's stream; 0: 120000 */
    unsigned int chat_timeout_ms;        /**< whole chat; 0: 600000; LINGMA_ZERO: none */
    unsigned int first_token_timeout_ms; /**< ask to first delta; 0: none */
    unsigned int reconnect_initial_ms;   /**< 0: 1000, doubling */
    unsigned int reconnect_max_ms;       /**< 0: 30000 */
    unsigned int
        reconnect_max_attempts; /**< per outage, then "failed" until a chat retries; 0: 8 */

    unsigned int max_in_flight;    /**< admitted chats at once; 0: 64 */
    unsigned int max_queue;        /**< chats waiting for a slot; 0: 256; LINGMA_ZERO: no queue */
    unsigned int queue_timeout_ms; /**< 0: 30000 */
    unsigned int max_per_instance; /**< chats on one instance; 0: unlimited */
    unsigned int connections_per_instance; /**< WebSocket connections each; 0: 1 */
    unsigned int max_chats_per_connection; /**< 0: unlimited */

    const char *default_model;        /**< Lingma model key; NULL: "auto" */
    lingma_ask_mode ask_mode;         /**< LINGMA_ASK_DEFAULT means LINGMA_ASK_CHAT */
    lingma_session_mode session_mode; /**< default LINGMA_SESSION_FRESH */
    lingma_child_output child_output; /**< default LINGMA_CHILD_OUTPUT_LOG */
    const char *const *extra_env;     /**< NULL-terminated "NAME=value" added to the child's */

    lingma_log_fn log_fn; /**< may be NULL: then nothing is logged */
    void *log_payload;
    lingma_log_level log_level;    /**< most verbose level passed to log_fn; 0 is ERROR */
    const lingma_allocator *alloc; /**< NULL: malloc(3); must outlive the pool */

    /* ---- version 2 ---- */
    /**
     * A shell command (`/bin/sh -c`) run by every login attempt once the
     * login URL is known, so that browser automation can complete the login.
     * NULL or "": none (a person opens the URL). See lingma_instance_login_start().
     */
    const char *login_hook;
    unsigned int login_timeout_ms; /**< one login attempt, the hook included; 0: 300000 */
    unsigned int login_poll_ms;    /**< auth/status period while waiting; 0: 2000 */

    /* ---- version 3 ---- */
    /**
     * Stall detection: when a connection that has chats running (or a
     * request of ours waiting) has received nothing for this long, Lingma is
     * pinged over that connection; no answer, and nothing else received,
     * within rpc_timeout_ms means Lingma went silent: the chats on the
     * instance end with LINGMA_EIO and the instance restarts its Lingma
     * (reconnects, when it did not spawn it). 0: 30000; LINGMA_ZERO: off.
     */
    unsigned int stall_timeout_ms;
    lingma_instance_event_fn on_instance_event; /**< may be NULL */
    void *instance_event_payload;
} lingma_pool_options;

#define LINGMA_POOL_OPTIONS_INIT                                                                   \
    {                                                                                              \
        LINGMA_POOL_OPTIONS_VERSION                                                                \
    }

/**
 * Create a pool, start its service thread and begin starting every instance
 * in the background. A start failure is not an error here: it is logged,
 * retried with backoff, and retried again by the next chat.
 *
 * Ownership: `*out` belongs to the caller and is released with lingma_pool_free().
 * Threads: any thread.
 * @return 0; LINGMA_EINVAL (NULL argument, unknown version, no binary, fewer
 *         instances than accounts, more than LINGMA_MAX_INSTANCES); LINGMA_ENOMEM;
 *         LINGMA_ERROR (the service thread or the libwebsockets context could
 *         not be created).
 */
LINGMA_EXPORT LINGMA_WARN_UNUSED int lingma_pool_new(lingma_pool **out,
                                                     const lingma_pool_options *opts);

/**
 * Shut the pool down and free it. Every queued or in-flight chat gets its
 * terminal LINGMA_ECLOSED error event first; pending instance calls get
 * LINGMA_ECLOSED. Spawned children are stopped (SIGINT, then SIGKILL after
 * 3 s) and reaped; the service thread is joined. NULL is accepted.
 *
 * Threads: any thread except the service thread (never from a callback).
 * The pool must not be used by other threads during or after the call.
 */
LINGMA_EXPORT void lingma_pool_free(lingma_pool *pool);

/** Instance states, as reported in stats. */
typedef enum lingma_instance_state {
    LINGMA_INSTANCE_STOPPED = 0,
    LINGMA_INSTANCE_STARTING = 1,
    LINGMA_INSTANCE_READY = 2,
    LINGMA_INSTANCE_RECONNECTING = 3,
    LINGMA_INSTANCE_FAILED = 4,
    LINGMA_INSTANCE_CLOSED = 5,
} lingma_instance_state;

/** "stopped", "starting", "ready", "reconnecting", "failed", "closed"; never NULL. */
LINGMA_EXPORT const char *lingma_instance_state_name(lingma_instance_state state);

/** Login states of an instance, as reported in stats. */
typedef enum lingma_login_state {
    LINGMA_LOGIN_IDLE = 0,      /**< no attempt running; not known to be logged in */
    LINGMA_LOGIN_WAITING = 1,   /**< an attempt runs: waiting for the user or the hook */
    LINGMA_LOGIN_LOGGED_IN = 2, /**< auth/status reported status 2 */
    LINGMA_LOGIN_FAILED = 3,    /**< the last attempt failed: see login_reason */
} lingma_login_state;

/** "idle", "waiting", "logged_in", "failed" (the /internal/auto-login/status names); never NULL. */
LINGMA_EXPORT const char *lingma_login_state_name(lingma_login_state state);

/** One instance in a stats snapshot. Strings belong to the snapshot. */
typedef struct lingma_instance_stats {
    char name[16]; /**< "inst-<i>" */
    lingma_instance_state state;
    int ready;              /**< 1 when state is READY */
    unsigned int in_flight; /**< chats currently on this instance */
    unsigned int restarts;  /**< respawns and reconnects after the first start */
    const char *last_error; /**< "" when none */
    unsigned int port;      /**< WebSocket port, 0 when unknown */
    long pid;               /**< child pid, 0 when none (or pre-warmed) */
    const char *username;   /**< "" when none; the password is never exposed */
    lingma_login_state login_state;
    const char *login_url;    /**< the URL of the current or last attempt; "" when none */
    const char *login_reason; /**< why the last attempt failed; "" otherwise */
} lingma_instance_stats;

/**
 * The health of one instance, in lingma_pool_stats.health (parallel to
 * `instances`). Kept apart from lingma_instance_stats because that one is
 * an array element whose size programs built against 0.1.0 already know;
 * this struct is never extended either: later facts get an array of their own.
 */
typedef struct lingma_instance_health {
    /** READY and logged in (or Lingma does not tell): the instance takes chats. */
    int serving;
    lingma_auth_state login; /**< the last thing Lingma said; kept while it reconnects */
    unsigned int stalls;     /**< times it was found silent (stall_timeout_ms) and restarted */
} lingma_instance_health;

/** A consistent snapshot of the pool. */
typedef struct lingma_pool_stats {
    unsigned int in_flight; /**< admitted chats not yet terminated */
    unsigned int queued;    /**< chats waiting for a slot */
    uint64_t accepted_total;
    uint64_t rejected_total;
    unsigned int max_in_flight;
    unsigned int max_queue;
    unsigned int ready; /**< instances in state READY */
    size_t instance_count;
    lingma_instance_stats *instances;

    /*
     * ---- appended after 0.1.0: health ----
     * The snapshot is allocated by the library, so programs built before
     * these fields existed are not affected by them.
     */
    unsigned int serving;           /**< instances serving (see lingma_instance_health) */
    unsigned int logged_out;        /**< READY instances that Lingma says are not logged in */
    lingma_instance_health *health; /**< instance_count entries, parallel to `instances` */
    /**
     * Milliseconds since the pool's service thread last ran its periodic
     * tick (every 100 ms while it turns). Far above that, the thread is
     * stuck: what a liveness probe looks at.
     */
    uint64_t service_idle_ms;
} lingma_pool_stats;

/**
 * Take a snapshot of the pool's counters and instance states.
 *
 * Ownership: `*out` belongs to the caller; release it with lingma_pool_stats_free().
 * Threads: any thread, including callbacks (it never waits for the service thread).
 * @return 0, LINGMA_EINVAL or LINGMA_ENOMEM
 */
LINGMA_EXPORT int lingma_pool_stats_get(lingma_pool_stats **out, lingma_pool *pool);

/** Free a snapshot. NULL is accepted. */
LINGMA_EXPORT void lingma_pool_stats_free(lingma_pool_stats *stats);

/** Number of instances (fixed for the pool's life). Any thread. */
LINGMA_EXPORT size_t lingma_pool_instance_count(const lingma_pool *pool);

/**
 * The index of the instance named `name` ("inst-3") or given as a decimal
 * index ("3"). Any thread. @return the index, or LINGMA_ENOTFOUND / LINGMA_EINVAL
 */
LINGMA_EXPORT int lingma_pool_find_instance(const lingma_pool *pool, const char *name);

/* ------------------------------------------------------------------------
 * Instance calls. Each has an asynchronous form, whose callback fires once
 * on the service thread with borrowed data (none if the call returned an
 * error), and a blocking `_sync` form, a wait over the asynchronous one,
 * which must not be called from the service thread (LINGMA_EINVAL).
 * Error codes of the callback and of `_sync`: LINGMA_EUNAVAIL (instance not
 * ready), LINGMA_ERPC, LINGMA_ETIMEDOUT (rpc_timeout_ms), LINGMA_EIO,
 * LINGMA_EPROTO (unexpected result shape), LINGMA_ECLOSED, LINGMA_ENOMEM.
 * Immediate errors: LINGMA_EINVAL, LINGMA_ENOTFOUND (index), LINGMA_ECLOSED.
 * ------------------------------------------------------------------------ */

/** auth/status. `name` is "" when not logged in. */
typedef struct lingma_auth_info {
    int status;    /**< AuthStateEnum: 1 not logged in, 2 logged in, 3 expired, ... */
    int logged_in; /**< status == 2 */
    char *name;    /**< account name; owned by the struct */
} lingma_auth_info;

typedef void (*lingma_auth_cb)(int error, const lingma_auth_info *info, void *payload);
LINGMA_EXPORT int lingma_instance_auth_status(lingma_pool *pool, size_t instance, lingma_auth_cb cb,
                                              void *payload);
/** Fills `*out` (release its strings with lingma_auth_info_clear()). */
LINGMA_EXPORT int lingma_instance_auth_status_sync(lingma_auth_info *out, lingma_pool *pool,
                                                   size_t instance);
LINGMA_EXPORT void lingma_auth_info_clear(lingma_auth_info *info);

/** One model of config/queryModels. */
typedef struct lingma_model {
    char *scene; /**< "chat", "developer", ... */
    char *key;   /**< what lingma_chat_options.model takes */
    char *display_name;
    int reasoning; /**< isReasoning */
    int vision;    /**< isVl */
} lingma_model;

typedef struct lingma_model_list {
    size_t count;
    lingma_model *models;
} lingma_model_list;

typedef void (*lingma_models_cb)(int error, const lingma_model_list *models, void *payload);
LINGMA_EXPORT int lingma_instance_models(lingma_pool *pool, size_t instance, lingma_models_cb cb,
                                         void *payload);
/** `*out` belongs to the caller: lingma_model_list_free(). */
LINGMA_EXPORT int lingma_instance_models_sync(lingma_model_list **out, lingma_pool *pool,
                                              size_t instance);
LINGMA_EXPORT void lingma_model_list_free(lingma_model_list *models);

/**
 * A string-valued call: config/getEndpoint (the endpoint), config/updateEndpoint
 * (the echoed endpoint on success) and login/generateUrl (the login URL).
 */
typedef void (*lingma_string_cb)(int error, const char *value, void *payload);
LINGMA_EXPORT int lingma_instance_get_endpoint(lingma_pool *pool, size_t instance,
                                               lingma_string_cb cb, void *payload);
LINGMA_EXPORT int lingma_instance_update_endpoint(lingma_pool *pool, size_t instance,
                                                  const char *endpoint, lingma_string_cb cb,
                                                  void *payload);
LINGMA_EXPORT int lingma_instance_login_url(lingma_pool *pool, size_t instance, lingma_string_cb cb,
                                            void *payload);
/** Blocking forms; `*out` is a NUL-terminated string released with lingma_free(). */
LINGMA_EXPORT int lingma_instance_get_endpoint_sync(char **out, lingma_pool *pool, size_t instance);
LINGMA_EXPORT int lingma_instance_update_endpoint_sync(char **out, lingma_pool *pool,
                                                       size_t instance, const char *endpoint);
LINGMA_EXPORT int lingma_instance_login_url_sync(char **out, lingma_pool *pool, size_t instance);

/* ------------------------------------------------------------------------
 * Login management (lingma-protocol.md section 4, doc/pool.md).
 * ------------------------------------------------------------------------ */

/**
 * Start a login attempt on an instance and return at once. Its progress is
 * read from the stats snapshot (login_state, login_url, login_reason); the
 * state is WAITING as soon as this call returned 0.
 *
 * On the service thread the attempt:
 *   1. waits for the instance to be ready, starting it when it is stopped
 *      or failed;
 *   2. asks auth/status: still logged in means LOGGED_IN at once;
 *   3. asks login/generateUrl and publishes the URL (login_url);
 *   4. runs login_hook, when configured (contract below);
 *   5. asks auth/status every login_poll_ms (and at once when Lingma pushes
 *      auth/report or the hook ends) until status 2: LOGGED_IN.
 * It becomes FAILED, with login_reason, when login_timeout_ms passes
 * ("timed out ..."; a hook still running is killed with its process group),
 * when the hook exits non-zero or dies of a signal while the login is not
 * complete ("login hook exited with status N"), when the hook cannot be
 * started, when login/generateUrl fails, or when the instance fails.
 * A respawn of Lingma during step 5 invalidates the URL; start again then.
 *
 * The hook contract: `/bin/sh -c login_hook` in its own process group,
 * stdin from /dev/null, the library's environment plus LINGMA_LOGIN_URL,
 * LINGMA_INSTANCE ("inst-<i>"), LINGMA_USERNAME and LINGMA_PASSWORD (the
 * instance's account; empty strings when it has none). Each line of its
 * stdout and stderr goes to log_fn at LINGMA_LOG_INFO as "login hook
 * inst-<i>: <line>", redacted first: the password, values of password=,
 * token=, secret=... keys, Bearer/Basic credentials and JWTs become "***".
 * Exit status 0 means "done my part": the attempt keeps polling until the
 * login shows or the timeout; any other outcome fails the attempt unless the
 * login completed anyway. The hook is bounded by what is left of
 * login_timeout_ms.
 *
 * Idempotent: while an attempt runs (WAITING) another call returns 0 and
 * does nothing. After LOGGED_IN or FAILED a call starts a new attempt.
 * Logged-in detection also runs without this call: every (re)connection asks
 * auth/status, which sets LOGGED_IN (or IDLE when the login was lost). An
 * instance found logged out emits LINGMA_INSTANCE_EVENT_LOGIN_NEEDED and,
 * with login_hook configured, starts an attempt by itself; until it is
 * logged in it takes no chats (lingma_instance_health.serving).
 *
 * Threads: any thread, including callbacks; never blocks.
 * @return 0 (posted); LINGMA_EINVAL (NULL pool); LINGMA_ENOTFOUND (no such
 *         instance); LINGMA_ENOMEM; LINGMA_ECLOSED (the pool is shutting down).
 */
LINGMA_EXPORT int lingma_instance_login_start(lingma_pool *pool, size_t instance);

/* lingma_free() is declared in common.h. */

#ifdef __cplusplus
}
#endif

#endif /* LINGMA_POOL_H */
