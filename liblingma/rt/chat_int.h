/*
 * Internal to the chat module (see chat.h): the chat, the lanes and the
 * chats of a pool, shared by chat.c (the chat: making, chat/ask, the end,
 * the request-id table), chat_lanes.c (the lanes) and chat_push.c (Lingma's
 * pushes and the events they become). Everyone else goes through chat.h.
 *
 * Fields: [init] written before the chat is published, read-only
 * afterwards; [svc] the service thread only.
 */
#ifndef LINGMA_INTERNAL_CHAT_INT_H
#define LINGMA_INTERNAL_CHAT_INT_H

#include <stdint.h>

#include "chat.h"
#include "rng.h"
#include "strbuf.h"
#include "think.h"

enum chat_phase {
    CHAT_IDLE = 0,  /* held by the pool: new, queued, or to be routed again */
    CHAT_WAITING,   /* submitted, waiting in its lane for a connection */
    CHAT_ASKING,    /* chat/ask sent, no answer yet */
    CHAT_STREAMING, /* chat/ask accepted */
    CHAT_ENDED,
};

/* The chats running on one connection of an instance. */
struct slot {
    struct lingma__chat *chats; /* linked by next/prev */
    unsigned nchats;
    unsigned limit; /* learned from "Another chat is in progress"; 0: none */
};

/* The chats of one instance. */
struct lane {
    struct lingma__inst *inst;
    struct lingma__chat *waitq, *waitq_tail; /* submitted, waiting for a connection */
    struct slot *slots;                      /* one per connection of the instance */
    int pump_wanted;                         /* waiting chats may fit now */
};

struct lingma__chats {
    /* [init] */
    struct lingma__chats_cfg cfg;

    /* [svc] */
    struct lingma__chat **rids; /* request-id table, RID_BUCKETS chains */
    struct lingma__buf scratch; /* NUL-terminated copies of reasoning text */
    struct lane *lanes;         /* cfg.ninst */
    int pump_wanted;            /* some lane has pump_wanted set */
    /* Tool call ids: "call_" + salt (8 hex) + base + sequence (16 hex),
     * unique within the pool's life and unlike another pool's. */
    uint32_t call_salt;
    uint64_t call_base, call_seq;
    /* requestIds: seeded once from the OS, then no syscall per chat. */
    struct lingma__rng rng;
};

struct lingma__chat {
    /* [init] written by the thread calling lingma_chat_start() */
    struct lingma__chats *cs;
    const struct lingma__chat_owner *owner;
    void *owner_ud;
    lingma_chat_id id;
    char *prompt, *model, *session_in, *affinity;
    lingma_ask_mode mode;
    uint64_t timeout_ms, first_token_ms;
    lingma_chat_event_fn on_event;
    void *payload;
    uint64_t created_ms;
    struct lingma__chat_tools *tools; /* NULL: no tool calling; then [svc] */

    /* [svc] */
    enum chat_phase phase;
    struct lane *lane;                /* submitted to (WAITING in it, or running) */
    struct lingma__conn *conn;        /* running on */
    struct lingma__chat *next, *prev; /* lane wait list or slot list */
    struct lingma__chat *rnext;       /* request-id table chain */
    char request_id[33];
    uint64_t rid_key;
    int64_t ask_rpc_id; /* 0 when no chat/ask is pending */
    char *session_id;   /* learned from Lingma */
    int started_sent;
    int got_token;     /* of the chat: first_token_ms measures the first ask */
    int attempt_token; /* of the current ask: the first-token deadline's */
    int retried;       /* the tool contract's second ask was made */
    uint64_t ask_sent_ms, first_token_at_ms;
    lingma_usage usage;
    lingma_usage usage_before; /* the first answer's, when retried */
    struct lingma__think think;
    struct lingma__buf text;
    struct lingma__timer *timer;    /* whole-chat deadline */
    struct lingma__timer *ft_timer; /* first-token deadline */
    int retries;                    /* "Another chat is in progress" */
};

static inline struct lane *
lane_of(struct lingma__chats *cs, const struct lingma__inst *in)
{
    return &cs->lanes[in->index];
}

static inline struct slot *
slot_of(struct lane *lane, const struct lingma__conn *conn)
{
    return &lane->slots[conn->index];
}

/* ---- chat.c ---- */

/* Send chat/ask on `conn` (a new request id) and run the chat there.
 * @return 0, or the send's error: then the chat is not on `conn`. */
int lingma__chat_send_ask(struct lingma__chat *c, struct lingma__conn *conn);
/* The whole-chat deadline's timer callback; `ud` is the chat. */
void lingma__chat_on_timeout(void *ud);
/* The request-id table: take the chat out (nothing when it has no id). */
void lingma__chat_rid_remove(struct lingma__chat *c);
/* The chat of requestId `rid`, or NULL (also when `rid` is NULL). */
struct lingma__chat *lingma__chats_rid_find(struct lingma__chats *cs, const char *rid);

/* ---- chat_lanes.c ---- */

/* Take a chat out of its lane and its instance's count. */
void lingma__chat_detach(struct lingma__chat *c);
/* Take a running chat off its connection, back to the head of its lane's
 * wait list, for another ask on the same instance. */
void lingma__chat_requeue_front(struct lingma__chat *c);

/* ---- chat_push.c ---- */

/* The STARTED event, the first time only. */
void lingma__chat_emit_started(struct lingma__chat *c);

#endif
