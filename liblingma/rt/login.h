/*
 * Internal: the login management of one instance (doc/pool.md "Login
 * management"): logged-in detection (what it learns goes to the instance,
 * lingma__inst_set_auth, which routing reads), the login-needed event, the
 * attempt state machine, the login hook. Service thread only, but for `pub`
 * ([mu], under cfg->mu) and lingma__login_mark_waiting().
 */
#ifndef LINGMA_INTERNAL_LOGIN_H
#define LINGMA_INTERNAL_LOGIN_H

#include <pthread.h>
#include <stdint.h>

#include "lingma/pool.h"

#include "conn.h"
#include "instance.h"
#include "logger.h"
#include "loop.h"

struct lingma__hook;

/* Where an attempt is. The public state is WAITING in every phase but NONE. */
enum lingma__login_phase {
    LINGMA__LOGIN_NONE = 0,  /* no attempt running */
    LINGMA__LOGIN_WAIT_INST, /* waiting for the instance to be ready */
    LINGMA__LOGIN_CHECK,     /* auth/status: maybe logged in already */
    LINGMA__LOGIN_URL,       /* login/generateUrl */
    LINGMA__LOGIN_POLL,      /* URL published, hook running or done; auth/status polls */
};

enum lingma__login_rpc {
    LINGMA__LOGIN_RPC_NONE = 0,
    LINGMA__LOGIN_RPC_AUTH,
    LINGMA__LOGIN_RPC_URL
};

/* [init] What the logins of a pool share. Borrowed: it outlives them. */
struct lingma__login_cfg {
    struct lingma__loop *loop;
    const lingma_allocator *alloc;
    const struct lingma__logger *log;
    pthread_mutex_t *mu;          /* guards every login's `pub` */
    const lingma_pool_options *o; /* login_hook, login_timeout_ms, login_poll_ms */
};

/* What other threads may read: copied under cfg->mu. */
struct lingma__login_pub {
    lingma_login_state state;
    char *url; /* NULL: none */
    char reason[256];
};

struct lingma__login {
    /* [init] */
    const struct lingma__login_cfg *cfg;
    struct lingma__inst *inst;

    /* [mu] */
    struct lingma__login_pub pub;

    /* [svc] */
    lingma_login_state state;
    enum lingma__login_phase phase;
    enum lingma__login_rpc pending; /* our call in flight (at most one) */
    int hook_failed; /* the hook ended badly: 1 look again, 2 looking (fail unless logged in) */
    int hook_killed; /* the hook ran out of time */
    int url_new;     /* the URL arrived: publish it, start the hook */
    int closing;     /* the pool is shutting down: react to nothing */
    uint64_t started_ms, deadline_ms, next_poll_ms;
    struct lingma__hook *hook; /* may outlive its attempt (LOGGED_IN first), bounded */
    struct lingma__timer *timer;
    char *url;
    char reason[256];
    char hook_outcome[160];
};

/* Before the service thread runs. @return 0 or LINGMA_ENOMEM. */
int lingma__login_init(struct lingma__login *L, const struct lingma__login_cfg *cfg,
                       struct lingma__inst *in);
/* After the service thread ended. NULL cfg (never initialised) is fine. */
void lingma__login_dispose(struct lingma__login *L);

/* Any thread, with cfg->mu held: show WAITING at once (a start is posted). */
void lingma__login_mark_waiting(struct lingma__login *L);

/* ---- service thread ---- */

/* Start an attempt; a no-op while one runs. */
void lingma__login_start(struct lingma__login *L);
/* An auth/report push (or an auth/status result): status 2 is logged in.
 * Another status on an instance not known to be logged out emits the
 * login-needed event (and starts an attempt when a hook is configured). */
void lingma__login_on_auth(struct lingma__login *L, int status);
/* The instance changed state: a waiting attempt may proceed or fail. */
void lingma__login_on_inst_state(struct lingma__login *L);
/* A connection of the instance finished its handshake: ask auth/status. */
void lingma__login_on_conn_ready(struct lingma__login *L, struct lingma__conn *c);
/* Pool free, before the instance shuts down: kill the hook, stop. */
void lingma__login_shutdown(struct lingma__login *L);

#endif
