/*
 * Internal: the objects behind lingma_pool and how they are shared.
 *
 * Threads (DESIGN.md rule 2). Fields are grouped by who may touch them:
 *   [mu]   under pool->mu, any thread;
 *   [svc]  the service thread only;
 *   [init] written before publication, read-only afterwards.
 * A chat is created by the caller of lingma_chat_start(), published under
 * pool->mu (registry, admission, command queue) and from then on owned by
 * the service thread, which frees it after its terminal event.
 */
#ifndef LINGMA_INTERNAL_POOL_H
#define LINGMA_INTERNAL_POOL_H

#include <pthread.h>
#include <stdint.h>

#include "lingma/chat.h"
#include "lingma/pool.h"
#include "lingma/sys/rpc.h"

#include "admission.h"
#include "proc.h"
#include "router.h"
#include "strbuf.h"
#include "think.h"
#include "logger.h"
#include "loop.h"

/* Bytes a connection may have waiting to be sent before new chats on it are
 * refused (one frame of any size is always accepted below it). */
#define LINGMA__SEND_BACKLOG_MAX ((size_t)32 << 20)

struct lingma_pool;
struct lingma__inst;
struct lingma__lconn;

enum lingma__chat_phase {
    LINGMA__CHAT_NEW = 0,   /* published, not yet seen by the service thread */
    LINGMA__CHAT_QUEUED,    /* waiting in admission */
    LINGMA__CHAT_WAITING,   /* admitted, waiting for its instance / a connection */
    LINGMA__CHAT_ASKING,    /* chat/ask sent, no answer yet */
    LINGMA__CHAT_STREAMING, /* chat/ask accepted */
    LINGMA__CHAT_ENDED,
};

struct lingma__chat {
    /* [init] */
    struct lingma_pool *pool;
    lingma_chat_id id;
    char *prompt, *model, *session_in, *affinity;
    lingma_ask_mode mode;
    uint64_t timeout_ms, first_token_ms;
    lingma_chat_event_fn on_event;
    void *payload;
    uint64_t created_ms;

    /* [mu] */
    struct lingma__adm_entry adm;
    struct lingma__chat *hnext; /* id registry chain */
    struct lingma__chat *cmd_next;
    int start_posted;

    /* [svc] */
    enum lingma__chat_phase phase;
    struct lingma__inst *inst;        /* routed to (WAITING on it, or running) */
    struct lingma__lconn *conn;       /* running on */
    struct lingma__chat *next, *prev; /* instance wait list or connection list */
    struct lingma__chat *rnext;       /* request-id table chain */
    char request_id[33];
    uint64_t rid_key;
    int64_t ask_rpc_id; /* 0 when no chat/ask is pending */
    char *session_id;   /* learned from Lingma */
    int started_sent;
    int got_token;
    uint64_t ask_sent_ms, first_token_at_ms;
    lingma_usage usage;
    struct lingma__think think;
    struct lingma__buf text;
    struct lingma__timer *timer;    /* whole-chat deadline */
    struct lingma__timer *ft_timer; /* first-token deadline */
    struct lingma__chat *pnext;     /* pending-dispatch list */
    int in_pending;
    int retries; /* "Another chat is in progress" */
};

enum lingma__lconn_state {
    LINGMA__LCONN_CONNECTING = 0,
    LINGMA__LCONN_INITIALIZING,
    LINGMA__LCONN_READY,
};

/* One WebSocket connection of an instance with its JSON-RPC session. */
struct lingma__lconn {
    struct lingma__inst *inst;
    unsigned index;
    struct lingma__ws *ws;
    lingma_rpc *rpc;
    enum lingma__lconn_state state;
    unsigned nchats;
    int doomed;                 /* its session failed inside a callback: drop it after */
    unsigned limit;             /* learned from "Another chat is in progress"; 0: none */
    struct lingma__chat *chats; /* running on this connection */
};

/* What other threads may read about an instance: copied under pool->mu. */
struct lingma__inst_pub {
    lingma_instance_state state;
    unsigned in_flight;
    unsigned restarts;
    char last_error[256];
    unsigned port;
    long pid;
    lingma_login_state login_state;
    char *login_url; /* NULL: none */
    char login_reason[256];
};

struct lingma__hook;

/* Where a login attempt is (login.c). The public state is WAITING in every
 * phase but NONE. */
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

/* An instance's login management [svc]. */
struct lingma__login {
    lingma_login_state state;
    enum lingma__login_phase phase;
    enum lingma__login_rpc pending; /* our call in flight (at most one) */
    int hook_failed; /* the hook ended badly: 1 look again, 2 looking (fail unless logged in) */
    int hook_killed; /* the hook ran out of time */
    int url_new;     /* the URL arrived: publish it, start the hook */
    uint64_t started_ms, deadline_ms, next_poll_ms;
    struct lingma__hook *hook; /* may outlive its attempt (LOGGED_IN first), bounded */
    struct lingma__timer *timer;
    char *url;
    char reason[256];
    char hook_outcome[160];
};

struct lingma__inst {
    struct lingma_pool *pool;
    size_t index;
    char name[16];
    char *work_dir;
    char *legacy_home; /* $HOME for the ~/.lingma/.info fallback; single instance only */
    char *username;    /* NULL: no account */
    char *password;    /* wiped when freed; only ever passed to the login hook */

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
    struct lingma__timer *timer; /* start polling / reconnect backoff */
    struct lingma__lconn *conns; /* connections_per_instance entries */
    unsigned nconns;
    struct lingma__chat *waitq, *waitq_tail; /* admitted chats waiting for a connection */
    unsigned in_flight;                      /* waiting + running */
    int logged_in;                           /* from auth/status: -1 unknown */
    int pump_wanted;                         /* waiting chats may fit now: pump from the loop */
    char last_error[256];
    struct lingma__login login;
};

struct lingma__cmd;

struct lingma_pool {
    /* [init] */
    lingma_pool_options o; /* strings point into the copies below */
    const lingma_allocator *alloc;
    char *binary, *work_dir, *default_model, *login_hook;
    char **extra_env;
    size_t ninst;
    struct lingma__inst *inst;
    struct lingma__loop *loop;
    struct lingma__logger log;

    /* [mu] */
    pthread_mutex_t mu;
    struct lingma__cmd *cmd_head, *cmd_tail;
    struct lingma__chat *start_head, *start_tail;
    int closing;
    struct lingma__admission adm;
    struct lingma__chat **reg; /* chat id registry, nbuckets chains */
    size_t nreg_buckets;
    lingma_chat_id next_id;

    /* [svc] */
    int shut_down;
    struct lingma__router router;
    struct lingma__chat **rids; /* request id table */
    size_t nrid_buckets;
    struct lingma__chat *pending_head, *pending_tail; /* to dispatch */
    struct lingma__timer *queue_timer;
    struct lingma__timer *tick_timer;
    struct lingma__buf scratch; /* NUL-terminated copies of event text */
    int pump_wanted;            /* some instance has pump_wanted set */
    int tick_timer_armed;       /* instances were booted */
};

struct lingma__call;
int lingma__pool_post_call(struct lingma_pool *p, struct lingma__call *call);
int lingma__pool_on_service_thread(const struct lingma_pool *p);
void lingma__pool_post_shutdown(struct lingma_pool *p);
void lingma__pool_on_wake(void *ud);
void lingma__pool_on_queue_timer(void *ud);
void lingma__pool_on_tick(void *ud);

/* pool.c */
void lingma__inst_publish(struct lingma__inst *in);
/* Service thread: end a chat with its terminal event (ev is DONE or ERROR),
 * release its slot and free it. */
void lingma__chat_end(struct lingma_pool *p, struct lingma__chat *c, lingma_chat_event *ev);
void lingma__chat_fail(struct lingma_pool *p, struct lingma__chat *c, int code, const char *msg);
/* Service thread: route an admitted chat (later, from the loop). */
void lingma__pool_schedule(struct lingma_pool *p, struct lingma__chat *c);
uint64_t lingma__chat_timeout(const struct lingma_pool *p, const struct lingma__chat *c);

/* instance.c (service thread) */
int lingma__inst_init(struct lingma__inst *in, struct lingma_pool *p, size_t index);
void lingma__inst_dispose(struct lingma__inst *in);
void lingma__inst_start(struct lingma__inst *in);
void lingma__inst_submit(struct lingma__inst *in, struct lingma__chat *c);
void lingma__inst_detach_chat(struct lingma__inst *in, struct lingma__chat *c);
void lingma__inst_pump(struct lingma__inst *in);
void lingma__inst_pump_later(struct lingma__inst *in);
void lingma__inst_tick(struct lingma__inst *in, uint64_t now);
void lingma__inst_shutdown(struct lingma__inst *in);
struct lingma__lconn *lingma__inst_ready_conn(struct lingma__inst *in);
void lingma__lconn_kick(struct lingma__lconn *lc);

/* login.c (service thread unless noted) */
int lingma__login_init(struct lingma__inst *in);
void lingma__login_dispose(struct lingma__inst *in); /* after the service thread ended */
void lingma__login_start(struct lingma__inst *in);
/* An auth/status result or an auth/report push: status 2 is logged in. */
void lingma__login_on_auth(struct lingma__inst *in, int status);
/* The instance changed state: a waiting attempt may proceed or fail. */
void lingma__login_on_inst_state(struct lingma__inst *in);
void lingma__login_shutdown(struct lingma__inst *in);
/* Any thread (pool.c): publish WAITING and post the start command. */
int lingma__pool_post_login(struct lingma_pool *p, size_t instance);

/* chat.c (service thread) */
int lingma__chat_send(struct lingma__lconn *lc, struct lingma__chat *c);
void lingma__chat_stop_upstream(struct lingma__chat *c);
int lingma__chat_on_request(struct lingma__lconn *lc, const json_t *id, const char *method,
                            json_t *params);
void lingma__chat_on_notification(struct lingma__lconn *lc, const char *method, json_t *params);
void lingma__chat_conn_lost(struct lingma__lconn *lc, int code, const char *why);
void lingma__chat_release(struct lingma_pool *p, struct lingma__chat *c);
void lingma__rid_remove(struct lingma_pool *p, struct lingma__chat *c);
void lingma__chat_free(struct lingma_pool *p, struct lingma__chat *c);

#endif
