/*
 * The blocking forms of the public API: the instance calls' _sync
 * functions and lingma_chat_complete(). Each is a condition-variable wait
 * over the asynchronous path, never a second implementation; they use the
 * public API only (and refuse to block the service thread).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/chat.h"
#include "lingma/pool.h"

#include "methods.h"
#include "pool.h"
#include "strbuf.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int error;
    void *out; /* kind-specific destination */
};

static void
waiter_init(struct waiter *w, void *out)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done = 0;
    w->error = 0;
    w->out = out;
}

static void
waiter_signal(struct waiter *w, int error)
{
    pthread_mutex_lock(&w->mu);
    w->error = error;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int
waiter_wait(struct waiter *w, int rc)
{
    if (rc == 0) {
        pthread_mutex_lock(&w->mu);
        while (!w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        rc = w->error;
        pthread_mutex_unlock(&w->mu);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return rc;
}

static void
sync_auth_cb(int error, const lingma_auth_info *info, void *payload)
{
    struct waiter *w = payload;
    lingma_auth_info *out = w->out;
    if (!error) {
        out->status = info->status;
        out->logged_in = info->logged_in;
        out->name = strdup(info->name);
        if (!out->name)
            error = LINGMA_ENOMEM;
    }
    waiter_signal(w, error);
}

LINGMA_EXPORT int
lingma_instance_auth_status_sync(lingma_auth_info *out, lingma_pool *p, size_t instance)
{
    struct waiter w;
    if (!out || !p || lingma__pool_on_service_thread(p))
        return LINGMA_EINVAL;
    memset(out, 0, sizeof(*out));
    waiter_init(&w, out);
    return waiter_wait(&w, lingma_instance_auth_status(p, instance, sync_auth_cb, &w));
}

LINGMA_EXPORT void
lingma_auth_info_clear(lingma_auth_info *info)
{
    if (info) {
        free(info->name);
        info->name = NULL;
    }
}

static void
sync_models_cb(int error, const lingma_model_list *l, void *payload)
{
    struct waiter *w = payload;
    lingma_model_list **out = w->out;
    if (!error) {
        lingma_model_list *c = calloc(1, sizeof(*c));
        if (c && l->count)
            c->models = calloc(l->count, sizeof(*c->models));
        if (!c || (l->count && !c->models)) {
            free(c);
            error = LINGMA_ENOMEM;
        } else {
            for (size_t i = 0; i < l->count && !error; i++) {
                const lingma_model *s = &l->models[i];
                lingma_model *d = &c->models[i];
                *d = *s;
                d->scene = s->scene ? strdup(s->scene) : NULL;
                d->key = s->key ? strdup(s->key) : NULL;
                d->display_name = s->display_name ? strdup(s->display_name) : NULL;
                c->count++;
                if ((s->scene && !d->scene) || (s->key && !d->key) ||
                    (s->display_name && !d->display_name))
                    error = LINGMA_ENOMEM;
            }
            if (error)
                lingma_model_list_free(c);
            else
                *out = c;
        }
    }
    waiter_signal(w, error);
}

LINGMA_EXPORT int
lingma_instance_models_sync(lingma_model_list **out, lingma_pool *p, size_t instance)
{
    struct waiter w;
    if (!out || !p || lingma__pool_on_service_thread(p))
        return LINGMA_EINVAL;
    *out = NULL;
    waiter_init(&w, out);
    return waiter_wait(&w, lingma_instance_models(p, instance, sync_models_cb, &w));
}

LINGMA_EXPORT void
lingma_model_list_free(lingma_model_list *l)
{
    if (!l)
        return;
    lingma__method_models_clear(l);
    free(l);
}

static void
sync_string_cb(int error, const char *value, void *payload)
{
    struct waiter *w = payload;
    char **out = w->out;
    if (!error && !(*out = strdup(value)))
        error = LINGMA_ENOMEM;
    waiter_signal(w, error);
}

enum string_call { GET_ENDPOINT, UPDATE_ENDPOINT, LOGIN_URL };

static int
string_sync(char **out, lingma_pool *p, size_t instance, enum string_call kind, const char *arg)
{
    struct waiter w;
    int rc;

    if (!out || !p || lingma__pool_on_service_thread(p))
        return LINGMA_EINVAL;
    *out = NULL;
    waiter_init(&w, out);
    if (kind == GET_ENDPOINT)
        rc = lingma_instance_get_endpoint(p, instance, sync_string_cb, &w);
    else if (kind == UPDATE_ENDPOINT)
        rc = lingma_instance_update_endpoint(p, instance, arg, sync_string_cb, &w);
    else
        rc = lingma_instance_login_url(p, instance, sync_string_cb, &w);
    return waiter_wait(&w, rc);
}

LINGMA_EXPORT int
lingma_instance_get_endpoint_sync(char **out, lingma_pool *p, size_t instance)
{
    return string_sync(out, p, instance, GET_ENDPOINT, NULL);
}

LINGMA_EXPORT int
lingma_instance_update_endpoint_sync(char **out, lingma_pool *p, size_t instance,
                                     const char *endpoint)
{
    return string_sync(out, p, instance, UPDATE_ENDPOINT, endpoint);
}

LINGMA_EXPORT int
lingma_instance_login_url_sync(char **out, lingma_pool *p, size_t instance)
{
    return string_sync(out, p, instance, LOGIN_URL, NULL);
}

/* ---- lingma_chat_complete ---- */

struct completion {
    struct waiter w;
    lingma_chat_result *r;
    struct lingma__buf text, reasoning;
    lingma_chat_tool_call *calls; /* the TOOL_CALL events, copied */
    size_t ncalls, cap;
    lingma_chat_event_fn user_fn;
    void *user_payload;
    int oom;
};

static void
set_str(char **dst, const char *s, int *oom)
{
    free(*dst);
    *dst = strdup(s ? s : "");
    if (!*dst)
        *oom = 1;
}

static void
add_call(struct completion *cp, const lingma_chat_event *ev)
{
    if (cp->ncalls == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 4;
        lingma_chat_tool_call *c = realloc(cp->calls, cap * sizeof(*c));
        if (!c) {
            cp->oom = 1;
            return;
        }
        cp->calls = c;
        cp->cap = cap;
    }
    lingma_chat_tool_call *c = &cp->calls[cp->ncalls++];
    memset(c, 0, sizeof(*c));
    set_str(&c->id, ev->tool_call.id, &cp->oom);
    set_str(&c->name, ev->tool_call.name, &cp->oom);
    set_str(&c->arguments, ev->tool_call.arguments, &cp->oom);
}

static void
free_calls(lingma_chat_tool_call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(calls[i].id);
        free(calls[i].name);
        free(calls[i].arguments);
    }
    free(calls);
}

static void
complete_cb(const lingma_chat_event *ev, void *payload)
{
    struct completion *cp = payload;
    lingma_chat_result *r = cp->r;

    if (cp->user_fn)
        cp->user_fn(ev, cp->user_payload);
    switch (ev->type) {
    case LINGMA_CHAT_STARTED:
        set_str(&r->instance, ev->started.instance, &cp->oom);
        set_str(&r->session_id, ev->started.session_id, &cp->oom);
        return;
    case LINGMA_CHAT_DELTA:
        if (lingma__buf_append(NULL, &cp->text, ev->delta.text, ev->delta.len) != 0)
            cp->oom = 1;
        return;
    case LINGMA_CHAT_REASONING:
        if (lingma__buf_append(NULL, &cp->reasoning, ev->delta.text, ev->delta.len) != 0)
            cp->oom = 1;
        return;
    case LINGMA_CHAT_TOOL_CALL:
        add_call(cp, ev);
        return;
    case LINGMA_CHAT_DONE:
        r->error = 0;
        r->status_code = ev->done.status_code;
        r->first_token_ms = ev->done.first_token_ms;
        r->total_ms = ev->done.total_ms;
        r->usage = ev->done.usage;
        set_str(&r->session_id, ev->done.session_id, &cp->oom);
        set_str(&r->message, "", &cp->oom);
        break;
    case LINGMA_CHAT_ERROR:
        r->error = ev->error.code;
        r->status_code = ev->error.status_code;
        r->retry_after_ms = ev->error.retry_after_ms;
        set_str(&r->message, ev->error.message, &cp->oom);
        break;
    }
    waiter_signal(&cp->w, r->error);
}

LINGMA_EXPORT int
lingma_chat_complete(lingma_chat_result **out, lingma_pool *p, const lingma_chat_options *opts)
{
    struct completion cp;
    lingma_chat_options o;
    lingma_chat_admission adm;
    lingma_chat_id id;

    if (out)
        *out = NULL;
    if (!p || !opts || lingma__pool_on_service_thread(p))
        return LINGMA_EINVAL;
    memset(&cp, 0, sizeof(cp));
    cp.r = calloc(1, sizeof(*cp.r));
    if (!cp.r)
        return LINGMA_ENOMEM;
    cp.user_fn = opts->on_event;
    cp.user_payload = opts->payload;
    /* A version 1 struct ends before the tool fields: read only its part. */
    memset(&o, 0, sizeof(o));
    memcpy(&o, opts, opts->version == 1 ? offsetof(lingma_chat_options, tools) : sizeof(o));
    o.on_event = complete_cb;
    o.payload = &cp;
    waiter_init(&cp.w, NULL);
    int rc = lingma_chat_start(&id, &adm, p, &o);
    if (rc != 0 && out && rc == LINGMA_EBUSY) {
        /* Report the synchronous retry-after hint too. */
        cp.r->error = rc;
        cp.r->retry_after_ms = adm.retry_after_ms;
    }
    if (rc != 0 && rc != LINGMA_EBUSY) {
        waiter_wait(&cp.w, rc);
        free(cp.r);
        return rc;
    }
    rc = waiter_wait(&cp.w, rc);
    lingma_chat_result *r = cp.r;
    if (cp.oom && rc == 0)
        rc = LINGMA_ENOMEM;
    r->error = rc;
    r->text = cp.text.p ? cp.text.p : strdup("");
    r->len = cp.text.len;
    r->reasoning = cp.reasoning.p ? cp.reasoning.p : strdup("");
    r->reasoning_len = cp.reasoning.len;
    /* A chat that ended in an error made no calls the caller may run. */
    if (rc == 0 && cp.ncalls) {
        r->tool_calls = cp.calls;
        r->tool_call_count = cp.ncalls;
    } else {
        free_calls(cp.calls, cp.ncalls);
    }
    if (!r->message)
        r->message = strdup(rc ? lingma_strerror(rc) : "");
    if (!r->session_id)
        r->session_id = strdup("");
    if (!r->instance)
        r->instance = strdup("");
    if (!r->text || !r->reasoning || !r->message || !r->session_id || !r->instance) {
        lingma_chat_result_free(r);
        return LINGMA_ENOMEM;
    }
    if (out)
        *out = r;
    else
        lingma_chat_result_free(r);
    return rc;
}

LINGMA_EXPORT void
lingma_chat_result_free(lingma_chat_result *r)
{
    if (!r)
        return;
    free(r->message);
    free(r->text);
    free(r->reasoning);
    free(r->session_id);
    free(r->instance);
    free_calls(r->tool_calls, r->tool_call_count);
    free(r);
}
