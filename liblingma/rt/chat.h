/*
 * Internal: chats, their whole life on one instance of the pool
 * (lingma-protocol.md section 6): waiting for a connection, chat/ask, the
 * chat/answer and chat/finish pushes, chat/stop, the deadlines, the end,
 * the request-id table that routes pushes to chats. Admission and routing
 * are the pool's: it makes a chat, hands it an owner (struct
 * lingma__chat_owner) and submits it to an instance; the chat calls back
 * through the owner only.
 *
 * Threads: lingma__chat_new(), _publish(), _free() and the accessors run on
 * any thread before the chat is published; everything else on the service
 * thread, which frees the chat after its terminal event.
 */
#ifndef LINGMA_INTERNAL_CHAT_H
#define LINGMA_INTERNAL_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/chat.h"
#include "lingma/pool.h"

#include "conn.h"
#include "instance.h"
#include "logger.h"
#include "loop.h"

struct lingma__chat;  /* one chat */
struct lingma__chats; /* the chats of a pool: request-id table, per-instance lanes */

/* What a chat calls back in its owner, which hands one to each chat. */
struct lingma__chat_owner {
    /* The chat ends: free its admission slot. Called before the terminal
     * event, so that the event's callback may start a chat that gets the
     * slot; the chat never calls its owner again. */
    void (*release)(void *ud);
    /* The instance refused it for now ("Another chat is in progress"):
     * route it again. */
    void (*reroute)(void *ud);
};

/* [init] Borrowed: outlives the chats. */
struct lingma__chats_cfg {
    struct lingma__loop *loop;
    const lingma_allocator *alloc;
    const struct lingma__logger *log;
    const lingma_pool_options *o; /* normalised: defaults applied */
    struct lingma__inst *inst;    /* the pool's instances, one lane each */
    size_t ninst;
};

/* Before the service thread runs. @return 0 or LINGMA_ENOMEM. */
int lingma__chats_new(struct lingma__chats **out, const struct lingma__chats_cfg *cfg);
/* After the service thread ended (every chat ended). NULL ok. */
void lingma__chats_free(struct lingma__chats *cs);

/* ---- any thread, before publication ---- */

/* Validate `opts` and copy what the chat keeps. @return 0, LINGMA_EINVAL
 * (see lingma_chat_start) or LINGMA_ENOMEM. */
int lingma__chat_new(struct lingma__chat **out, struct lingma__chats *cs,
                     const lingma_chat_options *opts);
/* Right before the chat is published: its id and its owner. */
void lingma__chat_publish(struct lingma__chat *c, lingma_chat_id id,
                          const struct lingma__chat_owner *owner, void *owner_ud);
/* A chat that was never published: freed, no event. NULL ok. */
void lingma__chat_free(struct lingma__chat *c);
const char *lingma__chat_affinity(const struct lingma__chat *c); /* NULL: none */
uint64_t lingma__chat_created_ms(const struct lingma__chat *c);

/* ---- service thread ---- */

/* Give an admitted chat to instance `in` (the routing `rule`, for the log):
 * it waits there for a connection, starting the instance when needed. The
 * whole-chat deadline starts at the first submit. */
void lingma__chat_submit(struct lingma__chat *c, struct lingma__inst *in, const char *rule);
/* lingma_chat_cancel(): chat/stop when it runs, then a LINGMA_ECANCELED end. */
void lingma__chat_cancel(struct lingma__chat *c);
/* End it with `ev` (DONE or ERROR; ev->id is filled in), release its slot,
 * free it. Nothing happens when it already ended. */
void lingma__chat_end(struct lingma__chat *c, lingma_chat_event *ev);
/* lingma__chat_end() with an ERROR event: `code`, `msg` (NULL: strerror). */
void lingma__chat_fail(struct lingma__chat *c, int code, const char *msg);

/* The events of instance `in`, forwarded by the pool. */
void lingma__chats_conn_ready(struct lingma__chats *cs, struct lingma__inst *in);
void lingma__chats_conn_down(struct lingma__chats *cs, struct lingma__inst *in,
                             struct lingma__conn *conn, int code, const char *why);
void lingma__chats_unavailable(struct lingma__chats *cs, struct lingma__inst *in, int code,
                               const char *why);
/* Instance `in` changed state or login (lingma__inst_avail): its waiting
 * chats go out when it serves, and are routed again when it became a dead
 * end (logged out, reconnecting, failed). */
void lingma__chats_inst_changed(struct lingma__chats *cs, struct lingma__inst *in);
/* A request read by the fast decoder (push_fast.h): answered, then
 * handled exactly as lingma__chats_on_request() handles the same request
 * (one it does not know: answered null, as the session does). */
void lingma__chats_on_push(struct lingma__chats *cs, struct lingma__conn *conn,
                           const struct lingma__push_fast *m);
/* Lingma's chat pushes (chat/answer, chat/finish, chat/think,
 * chat/process_step_callback; anything else is left unanswered). */
int lingma__chats_on_request(struct lingma__chats *cs, struct lingma__inst *in,
                             struct lingma__conn *conn, const json_t *id, const char *method,
                             json_t *params);
void lingma__chats_on_notification(struct lingma__chats *cs, struct lingma__inst *in,
                                   struct lingma__conn *conn, const char *method, json_t *params);

/* From the loop's wake-up: send the waiting chats of instances where a
 * connection got room since. */
void lingma__chats_pump_wanted(struct lingma__chats *cs);

#endif
