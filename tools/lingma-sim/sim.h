/*
 * lingma-sim: process state shared by the modules.
 *
 * Everything runs on the one lws service thread: no locks. The only
 * object that crosses modules by pointer is a connection (owned by the
 * server, torn down in LWS_CALLBACK_CLOSED) and the chats it carries
 * (owned by the connection).
 */
#ifndef LINGMA_SIM_SIM_H
#define LINGMA_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "lingma/sys/frame.h"
#include "lingma/sys/rpc.h"
#include "log.h"
#include "models.h"
#include "settings.h"
#include "timer.h"

#define SIM_VERSION     "2.11.1"
#define SIM_SERVER_NAME "lingma"

struct sim_chat;
struct sim;

struct sim_conn {
    struct sim *sim;
    void *wsi; /* struct lws */
    uint64_t id;
    lingma_rpc *rpc;
    lingma_frame_decoder *dec;
    struct sim_conn *prev, *next; /* sim->conns */
    struct sim_chat *chats;       /* every chat of this connection */
    int open_chats;               /* chats that have not sent chat/finish yet */
    bool closing;                 /* teardown in progress: chats must not push */
    bool skip_msg;                /* rest of the current WS message is ignored */
    bool drop_when_flushed;       /* drop_after fault */
    bool exit_when_flushed;       /* exit_after fault */
    unsigned char *tx;            /* LWS_PRE + outgoing WS message */
    size_t tx_cap;
    size_t split_off, split_len; /* SPLIT: the part of tx still to send */
    int split_left;              /* SPLIT: messages still to send for this frame */
};

struct sim_stats {
    uint64_t connections;
    uint64_t pushes_sent;
    uint64_t pushes_acked;
    uint64_t unanswered_pushes;
    uint64_t stops_received;
    uint64_t chats_started;
    uint64_t chats_finished;
    uint64_t chats_cancelled;
    uint64_t faults_hit;
    uint64_t tool_invokes;         /* tool/invoke requests sent (tool_invoke fault) */
    uint64_t tool_invokes_refused; /* ... answered with a clean refusal */
};

struct sim {
    char *work_dir;
    struct sim_settings base; /* defaults < LINGMA_SIM_CONFIG < environment */
    struct sim_settings cur;  /* base < sim.json, as of the last chat/ask */
    struct sim_models models;
    struct sim_sessions *sessions;
    struct strmap *chats; /* requestId -> struct sim_chat (latest with that id) */
    struct sim_log log;
    void *lws_ctx;
    int ws_port;
    int http_port;

    bool logged_in;
    char *username;
    char nonce[33]; /* pending login state, "" when none */
    char *endpoint;

    struct sim_conn *conns;
    uint64_t next_conn_id;
    struct sim_stats stats;

    bool hang; /* the hang fault fired: answer nothing any more */
    bool stop; /* leave the service loop */
    int exit_code;
    bool leave_info; /* stale_info: do not remove .info at exit */
    struct sim_timer state_timer;
    struct sim_timer exit_timer;          /* exit_after: the grace period before _exit */
    struct sim_timer_queue *timer_queues; /* server.c: one FIFO per distinct delay */
    bool timers_frozen;                   /* server.c: context destroy in progress */
};

static inline uint64_t
sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline long long
sim_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* server.c */
void sim_conn_kick(struct sim_conn *c); /* ask for a writable callback */
void sim_request_exit(struct sim *sim, int code);

/* methods.c: the rpc callbacks of every connection (payload: struct sim_conn) */
int sim_on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params,
                   void *payload);
void sim_on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload);
void sim_rpc_log(lingma_log_level level, const char *msg, void *payload);

/* state.c-like helpers in methods.c */
json_t *sim_state_json(const struct sim *sim, bool running);
void sim_state_init(struct sim *sim);  /* after the lws context exists */
void sim_state_dirty(struct sim *sim); /* write cache/sim-state.json soon */
void sim_state_flush(struct sim *sim); /* write it now */
/* Send a push that is not part of a chat (auth/report, noise). */
void sim_conn_push(struct sim_conn *c, const char *method, json_t *params);
/* Reload sim.json over the base settings into sim->cur. */
void sim_reload_settings(struct sim *sim);

/* login.c */
json_t *sim_auth_status(const struct sim *sim);
bool sim_effective_logged_in(const struct sim *sim);
json_t *sim_login_generate_url(struct sim *sim);
/* Complete a login with `state`; returns 0, or -1 for a wrong nonce. */
int sim_login_complete(struct sim *sim, const char *state, const char *user);
void sim_logout(struct sim *sim);

/* chat.c */
int sim_chat_ask(struct sim_conn *c, const json_t *id, json_t *params);
void sim_chat_stop(struct sim *sim, const char *request_id);
void sim_conn_free_chats(struct sim_conn *c);

#endif
