/*
 * Internal: the object behind lingma_pool, owned by the pool module
 * (pool.c: the service thread and its command queue; pool_chat.c: the
 * chats' admission, registry and routing; pool_life.c: new, free, stats).
 * It owns the instances, their logins and the chats, calls down into them,
 * and is called back through the instance events and each chat's owner.
 *
 * Threads (DESIGN.md rule 2). Fields are grouped by who may touch them:
 *   [mu]   under pool->mu, any thread;
 *   [svc]  the service thread only;
 *   [init] written before publication, read-only afterwards;
 *   [atomic] any thread, C11 atomics.
 * A chat is made by the caller of lingma_chat_start(), published under
 * pool->mu (registry, admission, start list) and from then on owned by the
 * service thread, which frees it after its terminal event.
 */
#ifndef LINGMA_INTERNAL_POOL_H
#define LINGMA_INTERNAL_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lingma/chat.h"
#include "lingma/pool.h"

#include "admission.h"
#include "calls.h"
#include "chat.h"
#include "instance.h"
#include "logger.h"
#include "login.h"
#include "loop.h"
#include "router.h"

/* What the pool keeps of a chat, from lingma_chat_start() to its end. */
struct lingma__ticket {
    /* [init] */
    struct lingma_pool *pool;
    lingma_chat_id id;
    struct lingma__chat *chat;

    /* [mu] */
    struct lingma__adm_entry adm;
    struct lingma__ticket *hnext;      /* id registry chain */
    struct lingma__ticket *start_next; /* start list */

    /* [svc] */
    enum {
        LINGMA__TICKET_NEW = 0, /* on the start list, not seen by the service thread yet */
        LINGMA__TICKET_QUEUED,  /* waiting in admission */
        LINGMA__TICKET_ADMITTED /* holds a slot: to route, or routed */
    } state;
    struct lingma__ticket *pnext; /* the list of chats to route (or of expired ones) */
    int in_pending;
};

enum lingma__cmd_type { LINGMA__CMD_CANCEL, LINGMA__CMD_CALL, LINGMA__CMD_LOGIN };

/* A request of another thread to the service thread. */
struct lingma__cmd {
    enum lingma__cmd_type type;
    struct lingma__cmd *next;
    lingma_chat_id id; /* CANCEL: the chat; LOGIN: the instance index */
    struct lingma__call *call;
};

struct lingma_pool {
    /* [init] */
    lingma_pool_options o; /* strings point into the copies below */
    const lingma_allocator *alloc;
    char *binary, *work_dir, *default_model, *login_hook;
    char **extra_env;
    size_t ninst;
    struct lingma__inst *inst;   /* ninst */
    struct lingma__login *login; /* ninst, the login of inst[i] */
    struct lingma__chats *chats; /* its contents are the service thread's */
    struct lingma__loop *loop;
    struct lingma__logger log;
    struct lingma__inst_cfg inst_cfg;
    struct lingma__login_cfg login_cfg;
    struct lingma__chats_cfg chats_cfg;

    /* [mu] */
    pthread_mutex_t mu;
    struct lingma__cmd *cmd_head, *cmd_tail;
    struct lingma__ticket *start_head, *start_tail;
    int closing;
    struct lingma__admission adm;
    struct lingma__ticket **reg; /* chat id registry, nreg_buckets chains */
    size_t nreg_buckets;
    lingma_chat_id next_id;

    /* [atomic] When the service thread last ran its tick (lingma__now_ms),
     * for the liveness figure of the stats (service_idle_ms). */
    _Atomic uint64_t last_tick_ms;

    /* [svc] */
    int shut_down;
    struct lingma__router router;
    struct lingma__ticket *pending_head, *pending_tail; /* to route */
    struct lingma__timer *queue_timer;
    struct lingma__timer *tick_timer;
    int tick_timer_armed; /* instances were booted */
};

/* ---- pool.c ---- */

/* The instance events, forwarded to the logins and the chats. */
extern const struct lingma__inst_events lingma__pool_inst_events;
/* Service thread: the loop woke up (drain the start list and the commands)
 * and the 100 ms tick. */
void lingma__pool_on_wake(void *ud);
void lingma__pool_on_tick(void *ud);
/* Any thread: lingma_pool_free() has begun. */
void lingma__pool_post_shutdown(struct lingma_pool *p);
int lingma__pool_on_service_thread(const struct lingma_pool *p);

/* ---- pool_chat.c ---- */

/* Service thread: the chats lingma_chat_start() published, taken off the
 * start list; admitted ones are routed. @return 1 when some wait in the
 * queue (then arm the queue timer once the wake-up is done). */
int lingma__pool_take_starts(struct lingma_pool *p, struct lingma__ticket *starts);
void lingma__pool_arm_queue_timer(struct lingma_pool *p);
void lingma__pool_route_pending(struct lingma_pool *p);
void lingma__pool_cancel_chat(struct lingma_pool *p, lingma_chat_id id);
/* Any thread: 1 while chat `id` has not ended. */
int lingma__pool_has_chat(struct lingma_pool *p, lingma_chat_id id);
void lingma__pool_end_all_chats(struct lingma_pool *p);
void lingma__pool_on_queue_timer(void *ud);

#endif
