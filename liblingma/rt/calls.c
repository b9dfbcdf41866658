/*
 * Instance calls (auth/status, config/queryModels, config/getEndpoint,
 * config/updateEndpoint, login/generateUrl): one RPC on a ready connection
 * of the instance, its answer decoded by methods.c and delivered to the
 * caller's callback (see calls.h).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "calls.h"
#include "methods.h"

struct lingma__call {
    /* [init] written by the posting thread, then owned by the service thread */
    enum lingma__call_kind kind;
    size_t instance;
    json_t *params;
    void (*cb)(void); /* one of the public callback types, per kind */
    void *payload;
    const lingma_allocator *alloc;
};

int
lingma__call_new(struct lingma__call **out, const lingma_allocator *a, enum lingma__call_kind kind,
                 size_t instance, json_t *params, void (*cb)(void), void *payload)
{
    struct lingma__call *call = lingma__calloc(a, 1, sizeof(*call));

    *out = NULL;
    if (!call) {
        json_decref(params);
        return LINGMA_ENOMEM;
    }
    call->kind = kind;
    call->instance = instance;
    call->params = params;
    call->cb = cb;
    call->payload = payload;
    call->alloc = a;
    *out = call;
    return 0;
}

size_t
lingma__call_instance(const struct lingma__call *call)
{
    return call->instance;
}

static const char *
method_of(enum lingma__call_kind k)
{
    switch (k) {
    case LINGMA__CALL_AUTH:
        return LINGMA__M_AUTH_STATUS;
    case LINGMA__CALL_MODELS:
        return LINGMA__M_QUERY_MODELS;
    case LINGMA__CALL_GET_ENDPOINT:
        return LINGMA__M_GET_ENDPOINT;
    case LINGMA__CALL_UPDATE_ENDPOINT:
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
    case LINGMA__CALL_AUTH:
        ((lingma_auth_cb)call->cb)(code, NULL, call->payload);
        break;
    case LINGMA__CALL_MODELS:
        ((lingma_models_cb)call->cb)(code, NULL, call->payload);
        break;
    default:
        ((lingma_string_cb)call->cb)(code, NULL, call->payload);
        break;
    }
}

void
lingma__call_free(struct lingma__call *call)
{
    json_decref(call->params);
    lingma__free(call->alloc, call);
}

void
lingma__call_abort(struct lingma__call *call, int code)
{
    deliver_error(call, code);
    lingma__call_free(call);
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
        lingma__call_free(call);
        return;
    }
    switch (call->kind) {
    case LINGMA__CALL_AUTH: {
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
    case LINGMA__CALL_MODELS: {
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
    case LINGMA__CALL_GET_ENDPOINT:
    case LINGMA__CALL_UPDATE_ENDPOINT: {
        const char *ep;
        int rc = call->kind == LINGMA__CALL_GET_ENDPOINT
                     ? lingma__method_endpoint_result(result, &ep)
                     : lingma__method_update_endpoint_result(result, call->params, &ep);
        ((lingma_string_cb)call->cb)(rc, ep, call->payload);
        break;
    }
    case LINGMA__CALL_LOGIN_URL: {
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
    lingma__call_free(call);
}

void
lingma__call_run(struct lingma__call *call, struct lingma__inst *in)
{
    struct lingma__conn *c = lingma__inst_ready_conn(in);

    if (in->state != LINGMA_INSTANCE_READY || !c) {
        lingma__call_abort(call, LINGMA_EUNAVAIL);
        return;
    }
    json_t *params = call->params ? json_incref(call->params) : lingma__method_no_params();
    if (lingma__conn_call(c, NULL, method_of(call->kind), params, on_call_response, call) != 0)
        lingma__call_abort(call, LINGMA_EIO);
}
