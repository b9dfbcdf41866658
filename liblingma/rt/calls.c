/*
 * Instance calls (auth/status, config/queryModels, config/getEndpoint,
 * config/updateEndpoint, login/generateUrl), their blocking forms, and
 * lingma_chat_complete(). Every blocking form is a condition-variable wait
 * over the asynchronous path, never a second implementation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "methods.h"
#include "pool_internal.h"

enum call_kind { CALL_AUTH, CALL_MODELS, CALL_GET_ENDPOINT, CALL_UPDATE_ENDPOINT, CALL_LOGIN_URL };

struct lingma__call {
    enum call_kind kind;
    size_t instance;
    json_t *params;
    void (*cb)(void); /* one of the public callback types, per kind */
    void *payload;
    struct lingma_pool *pool;
};

void lingma__call_run(struct lingma_pool *p, struct lingma__call *call);
void lingma__call_abort(struct lingma_pool *p, struct lingma__call *call, int code);

static const char *
method_of(enum call_kind k)
{
    switch (k) {
    case CALL_AUTH:
        return LINGMA__M_AUTH_STATUS;
    case CALL_MODELS:
        return LINGMA__M_QUERY_MODELS;
    case CALL_GET_ENDPOINT:
        return LINGMA__M_GET_ENDPOINT;
    case CALL_UPDATE_ENDPOINT:
        return LINGMA__M_UPDATE_ENDPOINT;
    default:
        return LINGMA__M_LOGIN_URL;
    }
}

/* Deliver an error (no data) to the caller's callback. */
static void
deliver_error(struct lingma__call *call, int code)
{
    switch (call->kind) {
    case CALL_AUTH:
        ((lingma_auth_cb)call->cb)(code, NULL, call->payload);
        break;
    case CALL_MODELS:
        ((lingma_models_cb)call->cb)(code, NULL, call->payload);
        break;
    default:
        ((lingma_string_cb)call->cb)(code, NULL, call->payload);
        break;
    }
}

static void
call_free(struct lingma__call *call)
{
    json_decref(call->params);
    lingma__free(call->pool->alloc, call);
}

void
lingma__call_abort(struct lingma_pool *p, struct lingma__call *call, int code)
{
    (void)p;
    deliver_error(call, code);
    call_free(call);
}

static void
on_call_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
                 void *payload)
{
    struct lingma__call *call = payload;

    (void)rpc;
    (void)err;
    if (status != 0) {
        deliver_error(call,
                      status == LINGMA_ECLOSED || status == LINGMA_ECANCELED ? LINGMA_EIO : status);
        call_free(call);
        return;
    }
    switch (call->kind) {
    case CALL_AUTH: {
        lingma_auth_info info;
        const char *name;
        int rc = lingma__method_auth(result, &info.status, &name);
        if (rc != 0) {
            deliver_error(call, rc);
            break;
        }
        info.logged_in = info.status == 2;
        info.name = (char *)name;
        ((lingma_auth_cb)call->cb)(0, &info, call->payload);
        break;
    }
    case CALL_MODELS: {
        lingma_model_list l;
        int rc = lingma__method_models_result(result, &l);
        if (rc != 0) {
            deliver_error(call, rc);
            break;
        }
        ((lingma_models_cb)call->cb)(0, &l, call->payload);
        lingma__method_models_clear(&l);
        break;
    }
    case CALL_GET_ENDPOINT:
    case CALL_UPDATE_ENDPOINT: {
        const char *ep;
        int rc = call->kind == CALL_GET_ENDPOINT
                     ? lingma__method_endpoint_result(result, &ep)
                     : lingma__method_update_endpoint_result(result, call->params, &ep);
        ((lingma_string_cb)call->cb)(rc, ep, call->payload);
        break;
    }
    case CALL_LOGIN_URL: {
        const char *url, *why;
        int rc = lingma__method_login_url_result(result, &url, &why);
        if (rc != 0) {
            deliver_error(call, rc);
            break;
        }
        ((lingma_string_cb)call->cb)(0, url, call->payload);
        break;
    }
    }
    call_free(call);
}

void
lingma__call_run(struct lingma_pool *p, struct lingma__call *call)
{
    struct lingma__inst *in = &p->inst[call->instance];
    struct lingma__lconn *lc = lingma__inst_ready_conn(in);

    if (in->state != LINGMA_INSTANCE_READY || !lc) {
        lingma__call_abort(p, call, LINGMA_EUNAVAIL);
        return;
    }
    json_t *params = call->params ? json_incref(call->params) : lingma__method_no_params();
    if (lingma_rpc_call(lc->rpc, NULL, method_of(call->kind), params,
                        lingma__now_ms() + p->o.rpc_timeout_ms, on_call_response, call) != 0) {
        lingma__call_abort(p, call, LINGMA_EIO);
        return;
    }
    lingma__lconn_kick(lc);
}

static int
post(lingma_pool *p, size_t instance, enum call_kind kind, json_t *params, void (*cb)(void),
     void *payload)
{
    if (!p || !cb) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    if (instance >= p->ninst) {
        json_decref(params);
        return LINGMA_ENOTFOUND;
    }
    struct lingma__call *call = lingma__calloc(p->alloc, 1, sizeof(*call));
    if (!call) {
        json_decref(params);
        return LINGMA_ENOMEM;
    }
    call->kind = kind;
    call->instance = instance;
    call->params = params;
    call->cb = cb;
    call->payload = payload;
    call->pool = p;
    int rc = lingma__pool_post_call(p, call);
    if (rc != 0)
        call_free(call);
    return rc;
}

LINGMA_EXPORT int
lingma_instance_auth_status(lingma_pool *p, size_t instance, lingma_auth_cb cb, void *payload)
{
    return post(p, instance, CALL_AUTH, NULL, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_models(lingma_pool *p, size_t instance, lingma_models_cb cb, void *payload)
{
    return post(p, instance, CALL_MODELS, NULL, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_get_endpoint(lingma_pool *p, size_t instance, lingma_string_cb cb, void *payload)
{
    return post(p, instance, CALL_GET_ENDPOINT, NULL, (void (*)(void))cb, payload);
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
    return post(p, instance, CALL_UPDATE_ENDPOINT, params, (void (*)(void))cb, payload);
}

LINGMA_EXPORT int
lingma_instance_login_url(lingma_pool *p, size_t instance, lingma_string_cb cb, void *payload)
{
    json_t *params = lingma__method_login_url();
    return post(p, instance, CALL_LOGIN_URL, params, (void (*)(void))cb, payload);
}

/* ---- blocking forms ---- */

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

static int
string_sync(char **out, lingma_pool *p, size_t instance, enum call_kind kind, const char *arg)
{
    struct waiter w;
    int rc;

    if (!out || !p || lingma__pool_on_service_thread(p))
        return LINGMA_EINVAL;
    *out = NULL;
    waiter_init(&w, out);
    if (kind == CALL_GET_ENDPOINT)
        rc = lingma_instance_get_endpoint(p, instance, sync_string_cb, &w);
    else if (kind == CALL_UPDATE_ENDPOINT)
        rc = lingma_instance_update_endpoint(p, instance, arg, sync_string_cb, &w);
    else
        rc = lingma_instance_login_url(p, instance, sync_string_cb, &w);
    return waiter_wait(&w, rc);
}

LINGMA_EXPORT int
lingma_instance_get_endpoint_sync(char **out, lingma_pool *p, size_t instance)
{
    return string_sync(out, p, instance, CALL_GET_ENDPOINT, NULL);
}

LINGMA_EXPORT int
lingma_instance_update_endpoint_sync(char **out, lingma_pool *p, size_t instance,
                                     const char *endpoint)
{
    return string_sync(out, p, instance, CALL_UPDATE_ENDPOINT, endpoint);
}

LINGMA_EXPORT int
lingma_instance_login_url_sync(char **out, lingma_pool *p, size_t instance)
{
    return string_sync(out, p, instance, CALL_LOGIN_URL, NULL);
}

/* ---- lingma_chat_complete ---- */

struct completion {
    struct waiter w;
    lingma_chat_result *r;
    struct lingma__buf text, reasoning;
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
    o = *opts;
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
    free(r);
}
