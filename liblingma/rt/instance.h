/*
 * Internal: one Lingma instance (doc/pool.md "Instances"): its process,
 * its connections and its state machine. What happens to it goes up to
 * its owner (the pool) through struct lingma__inst_events; it knows
 * nothing of chats or logins.
 *
 * Threads: [init] written before the pool is published, read-only after;
 * [mu] under the pool's mutex (cfg->mu), any thread; [svc] the service
 * thread only.
 */
#ifndef LINGMA_INTERNAL_INSTANCE_H
#define LINGMA_INTERNAL_INSTANCE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/pool.h"

#include "conn.h"
#include "logger.h"
#include "loop.h"
#include "proc.h"

struct lingma__inst;

/* What Lingma says about its login on the instance's current connections.
 * The login module learns it (auth/status, auth/report) and tells the
 * instance; routing reads it through lingma__inst_avail(). */
enum lingma__auth {
    LINGMA__AUTH_PENDING = 0, /* not answered on the current connections yet */
    LINGMA__AUTH_IN,          /* status 2 */
    LINGMA__AUTH_OUT,         /* another status: a login is needed */
    LINGMA__AUTH_UNREADABLE,  /* auth/status failed or made no sense: taken as serving */
};

/* Whether an instance can take chats, for routing and health. */
enum lingma__inst_avail {
    LINGMA__INST_SERVING = 0, /* READY and logged in (or Lingma does not tell) */
    LINGMA__INST_COMING,      /* its first start runs, or READY and its login is being asked */
    LINGMA__INST_LOGGED_OUT,  /* READY, but Lingma says it is not logged in */
    LINGMA__INST_DOWN,        /* anything else: reconnecting, failed, stopped, closed */
};

/* What an instance reports to its owner; `ud` is lingma__inst_cfg.ud. */
struct lingma__inst_events {
    /* Its state, or its login (lingma__inst_avail), changed (already published). */
    void (*on_state)(struct lingma__inst *in, void *ud);
    /* Connection `c` finished its handshake (the instance is READY). */
    void (*on_conn_ready)(struct lingma__inst *in, struct lingma__conn *c, void *ud);
    /* Connection `c` goes down: what runs on it ends now with `code`. */
    void (*on_conn_down)(struct lingma__inst *in, struct lingma__conn *c, int code, const char *why,
                         void *ud);
    /* Whatever waits for the instance to serve must give up, with `code`. */
    void (*on_unavailable)(struct lingma__inst *in, int code, const char *why, void *ud);
    /* Lingma's requests and notifications on connection `c`. */
    int (*on_request)(struct lingma__inst *in, struct lingma__conn *c, const json_t *id,
                      const char *method, json_t *params, void *ud);
    void (*on_notification)(struct lingma__inst *in, struct lingma__conn *c, const char *method,
                            json_t *params, void *ud);
    /* A request that the fast decoder read (conn.h on_push). */
    void (*on_push)(struct lingma__inst *in, struct lingma__conn *c,
                    const struct lingma__push_fast *m, void *ud);
};

/* [init] What the instances of a pool share. Borrowed: it outlives them. */
struct lingma__inst_cfg {
    struct lingma__loop *loop;
    const lingma_allocator *alloc;
    const struct lingma__logger *log;
    pthread_mutex_t *mu;          /* guards every instance's `pub` */
    const lingma_pool_options *o; /* normalised: defaults applied */
    const char *const *extra_env; /* for Lingma's environment; may be NULL */
    size_t ninst;
    const struct lingma__inst_events *ev;
    void *ud;
};

/* What other threads may read about an instance: copied under cfg->mu. */
struct lingma__inst_pub {
    lingma_instance_state state;
    unsigned in_flight;
    unsigned restarts;
    char last_error[256];
    unsigned port;
    long pid;
    int serving;             /* lingma__inst_avail() == LINGMA__INST_SERVING */
    int logged_out;          /* lingma__inst_avail() == LINGMA__INST_LOGGED_OUT */
    lingma_auth_state login; /* the last thing Lingma said */
    unsigned stalls;
};

struct lingma__inst {
    /* [init] */
    const struct lingma__inst_cfg *cfg;
    size_t index;
    char name[16];
    char *work_dir;
    char *legacy_home; /* $HOME for the ~/.lingma/.info fallback; single instance only */
    char *username;    /* NULL: no account */
    char *password;    /* wiped when freed; only ever passed to the login hook */
    struct lingma__conn_cfg conn_cfg;

    /* [mu] */
    struct lingma__inst_pub pub;

    /* [svc] */
    lingma_instance_state state;
    int prewarmed; /* connected to an existing Lingma, nothing spawned */
    int ever_ready;
    struct lingma__proc proc;
    int spawned;
    int port;
    uint64_t start_deadline_ms;
    unsigned dial_step;          /* poll-dial backoff index */
    unsigned attempts;           /* reconnect attempts in this outage */
    int outage_alive;            /* the outage began with the process alive (backoff.h) */
    int first_start_done;        /* the first start attempt succeeded or failed */
    enum lingma__auth auth;      /* on the current connections; PENDING when not READY */
    lingma_auth_state login;     /* the last definite answer, kept across reconnects */
    unsigned stalls;             /* times found silent (LINGMA__CONN_SILENT) */
    struct lingma__timer *timer; /* start polling / reconnect backoff */
    struct lingma__conn *conns;  /* connections_per_instance entries */
    unsigned nconns;
    unsigned in_flight; /* chats assigned to it: waiting for it or running on it */
    char last_error[256];
};

/* Before the service thread runs. @return 0, LINGMA_EINVAL or LINGMA_ENOMEM
 * (then lingma__inst_dispose() frees what was made). */
int lingma__inst_init(struct lingma__inst *in, const struct lingma__inst_cfg *cfg, size_t index);
/* After the service thread ended: stop the process (bounded) and free. */
void lingma__inst_dispose(struct lingma__inst *in);

/* ---- service thread ---- */

/* Start it when it is stopped or failed (lazy start); else nothing. */
void lingma__inst_start(struct lingma__inst *in);
/* The pool's tick: RPC deadlines, the process's health. */
void lingma__inst_tick(struct lingma__inst *in, uint64_t now);
/* Pool free: give up waiters, drop every connection, SIGINT the process,
 * CLOSED. */
void lingma__inst_shutdown(struct lingma__inst *in);

/* A connection that serves, or NULL. */
struct lingma__conn *lingma__inst_ready_conn(struct lingma__inst *in);

/* Whether it can take chats (routing, health). */
enum lingma__inst_avail lingma__inst_avail(const struct lingma__inst *in);
/* What Lingma said about its login (the login module): published, and
 * on_state when that changes whether the instance serves. */
void lingma__inst_set_auth(struct lingma__inst *in, enum lingma__auth auth);
/* Why it does not serve, for an error message ("not logged in",
 * "reconnecting: connection to Lingma lost (...)"); "serving" when it does. */
void lingma__inst_describe(const struct lingma__inst *in, char *buf, size_t len);

/* A chat was assigned to the instance, or left it (in_flight, published). */
void lingma__inst_assign(struct lingma__inst *in);
void lingma__inst_unassign(struct lingma__inst *in);

#endif
