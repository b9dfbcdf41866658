/*
 * The pool's service thread: the command queue other threads post to, the
 * wake-up that drains it, the tick, the shutdown, and the instance events,
 * forwarded down to the logins and the chats.
 *
 * Every cross-thread request but a chat start is a command (chat starts
 * have their own list, pool_chat.c). The service thread drains both after
 * every lws_service() return (wake-ups coalesce: it always drains all).
 */
#include <string.h>

#include "alloc.h"
#include "methods.h"
#include "pool.h"

#define TICK_MS 100

/* ---- instance events ---- */

static void
ev_state(struct lingma__inst *in, void *ud)
{
    struct lingma_pool *p = ud;
    lingma__login_on_inst_state(&p->login[in->index]);
    lingma__chats_inst_changed(p->chats, in);
}

static void
ev_conn_ready(struct lingma__inst *in, struct lingma__conn *c, void *ud)
{
    struct lingma_pool *p = ud;
    /* auth/status goes out before the chats that waited for the connection. */
    lingma__login_on_conn_ready(&p->login[in->index], c);
    lingma__chats_conn_ready(p->chats, in);
}

static void
ev_conn_down(struct lingma__inst *in, struct lingma__conn *c, int code, const char *why, void *ud)
{
    struct lingma_pool *p = ud;
    lingma__chats_conn_down(p->chats, in, c, code, why);
}

static void
ev_unavailable(struct lingma__inst *in, int code, const char *why, void *ud)
{
    struct lingma_pool *p = ud;
    lingma__chats_unavailable(p->chats, in, code, why);
}

static int
ev_request(struct lingma__inst *in, struct lingma__conn *c, const json_t *id, const char *method,
           json_t *params, void *ud)
{
    struct lingma_pool *p = ud;

    if (lingma__push_kind(method) == LINGMA__PUSH_AUTH_REPORT) {
        /* Lingma pushes its AuthStatus after a login: no need to wait for
         * the next poll. The session answers null. */
        int st;
        if (lingma__method_auth(params, &st, NULL) == 0)
            lingma__login_on_auth(&p->login[in->index], st);
        return 0;
    }
    return lingma__chats_on_request(p->chats, in, c, id, method, params);
}

static void
ev_notification(struct lingma__inst *in, struct lingma__conn *c, const char *method, json_t *params,
                void *ud)
{
    struct lingma_pool *p = ud;
    lingma__chats_on_notification(p->chats, in, c, method, params);
}

static void
ev_push(struct lingma__inst *in, struct lingma__conn *c, const struct lingma__push_fast *m,
        void *ud)
{
    struct lingma_pool *p = ud;
    lingma__chats_on_push(p->chats, c, m);
}

const struct lingma__inst_events lingma__pool_inst_events = {
    ev_state, ev_conn_ready, ev_conn_down, ev_unavailable, ev_request, ev_notification, ev_push,
};

/* ---- the service loop ---- */

void
lingma__pool_on_tick(void *ud)
{
    struct lingma_pool *p = ud;
    uint64_t now = lingma__now_ms();

    atomic_store_explicit(&p->last_tick_ms, now, memory_order_relaxed);
    for (size_t i = 0; i < p->ninst; i++)
        lingma__inst_tick(&p->inst[i], now);
    if (!p->shut_down)
        lingma__timer_arm(p->tick_timer, TICK_MS);
}

static void
shutdown_all(struct lingma_pool *p)
{
    p->shut_down = 1;
    lingma__pool_end_all_chats(p);
    for (size_t i = 0; i < p->ninst; i++) {
        /* The login first: it must not react to its instance going down. */
        lingma__login_shutdown(&p->login[i]);
        lingma__inst_shutdown(&p->inst[i]);
    }
    lingma__timer_cancel(p->queue_timer);
    lingma__timer_cancel(p->tick_timer);
    lingma__loop_quit(p->loop);
}

void
lingma__pool_on_wake(void *ud)
{
    struct lingma_pool *p = ud;
    struct lingma__cmd *cmds;
    struct lingma__ticket *starts;

    if (p->shut_down)
        return;
    if (!p->tick_timer_armed) {
        /* First run on the service thread: boot every instance. */
        p->tick_timer_armed = 1;
        lingma__timer_arm(p->tick_timer, TICK_MS);
        for (size_t i = 0; i < p->ninst; i++)
            lingma__inst_start(&p->inst[i]);
    }

    pthread_mutex_lock(&p->mu);
    int shutdown = p->closing;
    cmds = p->cmd_head;
    p->cmd_head = p->cmd_tail = NULL;
    starts = p->start_head;
    p->start_head = p->start_tail = NULL;
    pthread_mutex_unlock(&p->mu);

    int queued = lingma__pool_take_starts(p, starts);
    while (cmds) {
        struct lingma__cmd *cmd = cmds;
        cmds = cmd->next;
        if (cmd->type == LINGMA__CMD_CANCEL)
            lingma__pool_cancel_chat(p, cmd->id);
        else if (cmd->type == LINGMA__CMD_LOGIN)
            lingma__login_start(&p->login[cmd->id]);
        else if (shutdown)
            lingma__call_abort(cmd->call, LINGMA_ECLOSED);
        else
            lingma__call_run(cmd->call, &p->inst[lingma__call_instance(cmd->call)]);
        lingma__free(p->alloc, cmd);
    }
    if (shutdown) {
        /* Nothing can be posted any more (closing is set under mu). */
        shutdown_all(p);
        return;
    }
    lingma__pool_route_pending(p);
    lingma__chats_pump_wanted(p->chats);
    if (queued)
        lingma__pool_arm_queue_timer(p);
}

/* ---- the command queue (any thread) ---- */

/* Append to the command queue. (mu) The caller unlocks, then wakes the
 * service thread with lingma__loop_wake(). */
static void
enqueue_locked(struct lingma_pool *p, struct lingma__cmd *cmd)
{
    if (p->cmd_tail)
        p->cmd_tail->next = cmd;
    else
        p->cmd_head = cmd;
    p->cmd_tail = cmd;
}

/* A new command of `type` for the service thread, queued (and the thread
 * woken), or freed here when it cannot be. @return 0, LINGMA_ENOMEM or
 * LINGMA_ECLOSED. */
static int
post_new(struct lingma_pool *p, enum lingma__cmd_type type, lingma_chat_id id,
         struct lingma__call *call)
{
    struct lingma__cmd *cmd = lingma__calloc(p->alloc, 1, sizeof(*cmd));
    if (!cmd)
        return LINGMA_ENOMEM;
    cmd->type = type;
    cmd->id = id;
    cmd->call = call;
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        lingma__free(p->alloc, cmd);
        return LINGMA_ECLOSED;
    }
    enqueue_locked(p, cmd);
    pthread_mutex_unlock(&p->mu);
    lingma__loop_wake(p->loop);
    return 0;
}

void
lingma__pool_post_shutdown(struct lingma_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_mutex_unlock(&p->mu);
    lingma__loop_wake(p->loop);
}

int
lingma__pool_on_service_thread(const struct lingma_pool *p)
{
    return lingma__loop_on_thread(p->loop);
}

/* ---- public: cancels, instance calls and logins ---- */

LINGMA_EXPORT int
lingma_chat_cancel(lingma_pool *p, lingma_chat_id id)
{
    if (!p || !id)
        return LINGMA_EINVAL;
    if (!lingma__pool_has_chat(p, id))
        return LINGMA_ENOTFOUND;
    return post_new(p, LINGMA__CMD_CANCEL, id, NULL);
}

static int
post_call(lingma_pool *p, size_t instance, enum lingma__call_kind kind, json_t *params,
          void (*cb)(void), void *payload)
{
    struct lingma__call *call;

    if (!p || !cb) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    if (instance >= p->ninst) {
        json_decref(params);
        return LINGMA_ENOTFOUND;
    }
    int rc = lingma__call_new(&call, p->alloc, kind, instance, params, cb, payload);
    if (rc != 0)
        return rc;
    rc = post_new(p, LINGMA__CMD_CALL, 0, call);
    if (rc != 0)
        lingma__call_free(call);
    return rc;
}

LINGMA_EXPORT int
lingma_instance_auth_status(lingma_pool *p, size_t instance, lingma_auth_cb cb, void *payload)
{
    return post_call(p, instance, LINGMA__CALL_AUTH, NULL, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_models(lingma_pool *p, size_t instance, lingma_models_cb cb, void *payload)
{
    return post_call(p, instance, LINGMA__CALL_MODELS, NULL, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_get_endpoint(lingma_pool *p, size_t instance, lingma_string_cb cb, void *payload)
{
    return post_call(p, instance, LINGMA__CALL_GET_ENDPOINT, NULL, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_update_endpoint(lingma_pool *p, size_t instance, const char *endpoint,
                                lingma_string_cb cb, void *payload)
{
    if (!endpoint)
        return LINGMA_EINVAL;
    json_t *params = lingma__method_update_endpoint(endpoint);
    if (!params)
        return LINGMA_EINVAL;
    return post_call(p, instance, LINGMA__CALL_UPDATE_ENDPOINT, params, (void (*)(void))cb,
                     payload);
}

LINGMA_EXPORT int
lingma_instance_login_url(lingma_pool *p, size_t instance, lingma_string_cb cb, void *payload)
{
    json_t *params = lingma__method_login_url();
    return post_call(p, instance, LINGMA__CALL_LOGIN_URL, params, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_login_start(lingma_pool *p, size_t instance)
{
    if (!p)
        return LINGMA_EINVAL;
    if (instance >= p->ninst)
        return LINGMA_ENOTFOUND;
    struct lingma__cmd *cmd = lingma__calloc(p->alloc, 1, sizeof(*cmd));
    if (!cmd)
        return LINGMA_ENOMEM;
    cmd->type = LINGMA__CMD_LOGIN;
    cmd->id = instance;
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        lingma__free(p->alloc, cmd);
        return LINGMA_ECLOSED;
    }
    lingma__login_mark_waiting(&p->login[instance]);
    enqueue_locked(p, cmd);
    pthread_mutex_unlock(&p->mu);
    lingma__loop_wake(p->loop);
    return 0;
}
