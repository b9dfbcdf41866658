/*
 * Internal: the instance calls of the public API (lingma_instance_auth_status,
 * _models, _get_endpoint, _update_endpoint, _login_url). A call is made on
 * the caller's thread, posted to the service thread by the pool, run there
 * on a ready connection of its instance, and its answer goes to the
 * caller's callback.
 */
#ifndef LINGMA_INTERNAL_CALLS_H
#define LINGMA_INTERNAL_CALLS_H

#include <stddef.h>

#include <jansson.h>

#include "instance.h"

enum lingma__call_kind {
    LINGMA__CALL_AUTH,
    LINGMA__CALL_MODELS,
    LINGMA__CALL_GET_ENDPOINT,
    LINGMA__CALL_UPDATE_ENDPOINT,
    LINGMA__CALL_LOGIN_URL,
};

struct lingma__call;

/* Any thread: a call for instance `instance` that answers `cb` (the public
 * callback type of `kind`). `params` (NULL: none) is stolen, even on
 * failure. @return 0 or LINGMA_ENOMEM. */
int lingma__call_new(struct lingma__call **out, const lingma_allocator *a,
                     enum lingma__call_kind kind, size_t instance, json_t *params, void (*cb)(void),
                     void *payload);
size_t lingma__call_instance(const struct lingma__call *call);
/* A call never handed to the service thread: freed, no callback. */
void lingma__call_free(struct lingma__call *call);

/* Service thread: send it to `in`. The callback fires exactly once: with
 * the answer, or LINGMA_EUNAVAIL (no ready connection), LINGMA_EIO. */
void lingma__call_run(struct lingma__call *call, struct lingma__inst *in);
/* Service thread: the callback gets `code`; the call is freed. */
void lingma__call_abort(struct lingma__call *call, int code);

#endif
