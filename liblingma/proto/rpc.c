/*
 * A sans-I/O JSON-RPC 2.0 session. See lingma/sys/rpc.h.
 *
 * Choices, and why:
 *   - Pending requests live in a hash table by id plus a deadline heap
 *     (rpc_pending.c): O(1)/O(log n) per operation with 10,000+ in flight.
 *   - Envelopes are written by hand into a scratch buffer (jsonw.c); only
 *     params and results go through jansson (json_dump_callback, no intermediate
 *     string). Output: JSON_COMPACT, UTF-8 passed through, reals with 15
 *     significant digits (JSON_REAL_PRECISION(15)) so that 0.7 goes out as
 *     0.7, not 0.69999999999999996.
 *   - Each queued frame is its own block, so the pointer that
 *     lingma_rpc_mem_send() returns stays put while later calls queue more.
 *   - Input: json_loadb() with the exact body length and JSON_ALLOW_NUL.
 *     Duplicate keys are accepted (the last wins), as Lingma is lenient and
 *     rejecting would lose a message that may be a request to answer.
 *   - Response ids must be JSON integers to match: we only ever send
 *     integers, so 7.0 or "7" are someone else's (counted as unknown).
 *   - Batches (top-level arrays) are not used by Lingma and are counted as
 *     malformed.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lingma/sys/rpc.h"

#include "alloc.h"
#include "frame.h"
#include "jsonw.h"
#include "rpc_int.h"
#include "rpc_pending.h"

/* A scratch buffer larger than this is released after use, so that one big
 * message does not pin its size for the session's life. */
#define SCRATCH_KEEP ((size_t)256 * 1024)

/* Frames up to this size (ACKs, a chat/ask) are built in blocks of this
 * capacity, kept for reuse once sent: no allocation per frame in the
 * steady state. At most SPARE_MAX blocks are kept per session. */
#define SMALL_FRAME ((size_t)2048)
#define SPARE_MAX   64

struct outframe {
    struct outframe *next;
    size_t len, cap;
    char data[];
};

struct lingma_rpc {
    lingma_rpc_options opts;
    const lingma_allocator *alloc;
    lingma_frame_decoder *dec;
    int closed;
    int busy;            /* inside recv, tick or close: those may not re-enter */
    int close_requested; /* close or free was called from a callback anyway */
    int free_requested;
    int64_t next_id;

    struct lingma__pending_set pending;

    struct outframe *out_head, *out_tail, *lent;
    struct outframe *spare; /* sent small blocks, for reuse */
    size_t nspare;
    size_t out_bytes;

    struct lingma__jsonw w; /* scratch for encoding, header room in front */

    lingma__rpc_raw_fn raw_fn; /* sees bodies before they are parsed (rpc_int.h) */
    void *raw_payload;

    const json_t *cur_id; /* the request on_request is handling */
    int cur_answered;

    lingma_rpc_stats stats;
};

/* ---- logging ---- */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void
rpc_log(lingma_rpc *rpc, lingma_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!rpc->opts.log_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rpc->opts.log_fn(level, msg, rpc->opts.payload);
}

static void
malformed(lingma_rpc *rpc, const char *why)
{
    rpc->stats.malformed++;
    rpc_log(rpc, LINGMA_LOG_WARN, "rpc: skipped a malformed message: %s", why);
}

/* ---- encoding ---- */

/* Echo a peer's id as it came: integer, string, or (leniently) real. */
static int
put_id(struct lingma__jsonw *w, const json_t *id)
{
    if (json_is_integer(id)) {
        lingma__jsonw_int(w, json_integer_value(id));
        return 0;
    }
    if (json_is_string(id))
        return lingma__jsonw_string(w, json_string_value(id), json_string_length(id));
    if (json_is_real(id))
        return lingma__jsonw_value(w, id);
    return LINGMA_EINVAL;
}

static struct outframe *
frame_alloc(lingma_rpc *rpc, size_t n)
{
    struct outframe *f;

    if (n <= SMALL_FRAME && rpc->spare) {
        f = rpc->spare;
        rpc->spare = f->next;
        rpc->nspare--;
        return f;
    }
    size_t cap = n <= SMALL_FRAME ? SMALL_FRAME : n;
    f = lingma__malloc(rpc->alloc, sizeof(*f) + cap);
    if (f)
        f->cap = cap;
    return f;
}

static void
frame_release(lingma_rpc *rpc, struct outframe *f)
{
    if (!f)
        return;
    if (f->cap == SMALL_FRAME && rpc->nspare < SPARE_MAX) {
        f->next = rpc->spare;
        rpc->spare = f;
        rpc->nspare++;
        return;
    }
    lingma__free(rpc->alloc, f);
}

/* Turn the scratch buffer into a queued frame; the header is written in
 * front of the body only now that its length is known. */
static int
queue_frame(lingma_rpc *rpc)
{
    char hdr[LINGMA_FRAME_HEADER_MAX_LEN];
    size_t body_len, hlen;
    struct outframe *f;

    if (rpc->w.oom)
        return LINGMA_ENOMEM;
    body_len = rpc->w.len - LINGMA_FRAME_HEADER_MAX_LEN;
    hlen = lingma__frame_header_fast(hdr, body_len);
    f = frame_alloc(rpc, hlen + body_len);
    if (!f)
        return LINGMA_ENOMEM;
    f->next = NULL;
    f->len = hlen + body_len;
    memcpy(f->data, hdr, hlen);
    memcpy(f->data + hlen, rpc->w.buf + LINGMA_FRAME_HEADER_MAX_LEN, body_len);
    if (rpc->out_tail)
        rpc->out_tail->next = f;
    else
        rpc->out_head = f;
    rpc->out_tail = f;
    rpc->out_bytes += f->len;
    lingma__jsonw_trim(&rpc->w, SCRATCH_KEEP);
    return 0;
}

/* A response's envelope around what the caller wrote between the two. */
static void
begin_response(struct lingma__jsonw *w)
{
    lingma__jsonw_reset(w, LINGMA_FRAME_HEADER_MAX_LEN);
    lingma__jsonw_lit(w, "{\"jsonrpc\":\"2.0\",\"id\":");
}

static int
end_response(lingma_rpc *rpc)
{
    int rc;

    lingma__jsonw_lit(&rpc->w, "}");
    if ((rc = queue_frame(rpc)) == 0)
        rpc->stats.responses_sent++;
    return rc;
}

static int
send_result(lingma_rpc *rpc, const json_t *id, const json_t *result)
{
    struct lingma__jsonw *w = &rpc->w;
    int rc;

    begin_response(w);
    if ((rc = put_id(w, id)) != 0)
        return rc;
    lingma__jsonw_lit(w, ",\"result\":");
    if ((rc = lingma__jsonw_value(w, result)) != 0)
        return rc;
    return end_response(rpc);
}

int
lingma__rpc_respond_literal(lingma_rpc *rpc, int64_t id, const char *result)
{
    if (!rpc || !result)
        return LINGMA_EINVAL;
    if (rpc->closed || rpc->close_requested)
        return LINGMA_ECLOSED;
    begin_response(&rpc->w);
    lingma__jsonw_int(&rpc->w, id);
    lingma__jsonw_lit(&rpc->w, ",\"result\":");
    lingma__jsonw_lit(&rpc->w, result);
    return end_response(rpc);
}

void
lingma__rpc_set_raw(lingma_rpc *rpc, lingma__rpc_raw_fn fn, void *payload)
{
    rpc->raw_fn = fn;
    rpc->raw_payload = payload;
}

static int
send_error(lingma_rpc *rpc, const json_t *id, int code, const char *message)
{
    struct lingma__jsonw *w = &rpc->w;
    int rc;

    begin_response(w);
    if ((rc = put_id(w, id)) != 0)
        return rc;
    lingma__jsonw_lit(w, ",\"error\":{\"code\":");
    lingma__jsonw_int(w, code);
    lingma__jsonw_lit(w, ",\"message\":");
    if ((rc = lingma__jsonw_string(w, message, strlen(message))) != 0)
        return rc;
    lingma__jsonw_lit(w, "}");
    return end_response(rpc);
}

/* Writes a call's params as a jansson value (`ud` is the json_t). */
static int
write_json_params(struct lingma__jsonw *w, void *ud)
{
    return lingma__jsonw_value(w, ud);
}

/* A request (id > 0) or a notification (id == 0); `write` appends the
 * params (NULL: none). */
static int
send_call(lingma_rpc *rpc, int64_t id, const char *method, lingma__rpc_params_fn write, void *ud)
{
    struct lingma__jsonw *w = &rpc->w;
    int rc;

    lingma__jsonw_reset(w, LINGMA_FRAME_HEADER_MAX_LEN);
    lingma__jsonw_lit(w, "{\"jsonrpc\":\"2.0\",");
    if (id) {
        lingma__jsonw_lit(w, "\"id\":");
        lingma__jsonw_int(w, id);
        lingma__jsonw_lit(w, ",");
    }
    lingma__jsonw_lit(w, "\"method\":");
    if ((rc = lingma__jsonw_string(w, method, strlen(method))) != 0)
        return rc;
    if (write) {
        lingma__jsonw_lit(w, ",\"params\":");
        if ((rc = write(w, ud)) != 0)
            return rc;
    }
    lingma__jsonw_lit(w, "}");
    return queue_frame(rpc);
}

/* ---- lifecycle ---- */

LINGMA_EXPORT int
lingma_rpc_new(lingma_rpc **out, const lingma_rpc_options *opts)
{
    lingma_rpc *rpc;
    int rc;

    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    if (!opts || opts->version != LINGMA_RPC_OPTIONS_VERSION)
        return LINGMA_EINVAL;
    rpc = lingma__calloc(opts->alloc, 1, sizeof(*rpc));
    if (!rpc)
        return LINGMA_ENOMEM;
    rpc->opts = *opts;
    rpc->alloc = opts->alloc;
    rpc->pending.alloc = opts->alloc;
    rpc->w.alloc = opts->alloc;
    rpc->next_id = 1;
    rc = lingma_frame_decoder_new(&rpc->dec, opts->max_frame, opts->alloc);
    if (rc != 0) {
        lingma__free(rpc->alloc, rpc);
        return rc;
    }
    *out = rpc;
    return 0;
}

static void
drop_output(lingma_rpc *rpc)
{
    struct outframe *f = rpc->out_head;

    while (f) {
        struct outframe *next = f->next;
        lingma__free(rpc->alloc, f);
        f = next;
    }
    rpc->out_head = rpc->out_tail = NULL;
    rpc->out_bytes = 0;
    lingma__free(rpc->alloc, rpc->lent);
    rpc->lent = NULL;
    while ((f = rpc->spare) != NULL) {
        rpc->spare = f->next;
        lingma__free(rpc->alloc, f);
    }
    rpc->nspare = 0;
}

static void
do_close(lingma_rpc *rpc)
{
    struct lingma__pending *list;

    rpc->closed = 1;
    /* Detach everything first: callbacks may call lingma_rpc_cancel() or
     * lingma_rpc_call(), which must see an empty, closed session. */
    list = lingma__pending_take_all(&rpc->pending);
    rpc->busy++;
    while (list) {
        struct lingma__pending *p = list;
        list = p->next;
        if (p->cb)
            p->cb(rpc, LINGMA_ECLOSED, NULL, NULL, p->payload);
        lingma__free(rpc->alloc, p);
    }
    rpc->busy--;
    drop_output(rpc);
}

static void really_free(lingma_rpc *rpc);

LINGMA_EXPORT void
lingma_rpc_close(lingma_rpc *rpc)
{
    if (!rpc || rpc->closed)
        return;
    if (rpc->busy) {
        /* Forbidden from a callback; done when the outer call returns. */
        rpc->close_requested = 1;
        return;
    }
    do_close(rpc);
    if (rpc->free_requested)
        really_free(rpc);
}

static void
really_free(lingma_rpc *rpc)
{
    if (!rpc->closed)
        do_close(rpc);
    lingma_frame_decoder_free(rpc->dec);
    lingma__pending_release(&rpc->pending);
    lingma__jsonw_trim(&rpc->w, 0);
    lingma__free(rpc->alloc, rpc);
}

LINGMA_EXPORT void
lingma_rpc_free(lingma_rpc *rpc)
{
    if (!rpc)
        return;
    if (rpc->busy) {
        rpc->close_requested = rpc->free_requested = 1;
        return;
    }
    really_free(rpc);
}

/* Run deferred close/free after recv or tick. Returns 1 when freed. */
static int
finish_busy(lingma_rpc *rpc)
{
    rpc->busy--;
    if (rpc->busy)
        return 0;
    if (rpc->close_requested && !rpc->closed)
        do_close(rpc);
    if (rpc->free_requested) {
        really_free(rpc);
        return 1;
    }
    return 0;
}

/* ---- sending ---- */

/* lingma_rpc_call() and lingma__rpc_call_with(): `params` (stolen; may be
 * NULL) is freed here, whatever `write` is. */
static int
call(lingma_rpc *rpc, int64_t *out_id, const char *method, json_t *params,
     lingma__rpc_params_fn write, void *ud, uint64_t deadline, lingma_rpc_response_cb cb,
     void *payload)
{
    struct lingma__pending *p;
    int rc;

    if (!rpc || !method) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    if (rpc->closed || rpc->close_requested) {
        json_decref(params);
        return LINGMA_ECLOSED;
    }
    if (rpc->next_id == INT64_MAX) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    p = lingma__malloc(rpc->alloc, sizeof(*p));
    if (!p || lingma__pending_reserve(&rpc->pending, deadline != 0) != 0) {
        lingma__free(rpc->alloc, p);
        json_decref(params);
        return LINGMA_ENOMEM;
    }
    p->id = rpc->next_id;
    p->deadline = deadline;
    p->cb = cb;
    p->payload = payload;
    p->next = NULL;
    rc = send_call(rpc, p->id, method, write, ud);
    json_decref(params);
    if (rc != 0) {
        lingma__free(rpc->alloc, p);
        return rc;
    }
    /* Nothing can fail past this point: the request is on its way. */
    rpc->next_id++;
    lingma__pending_insert(&rpc->pending, p);
    rpc->stats.requests_sent++;
    if (out_id)
        *out_id = p->id;
    return 0;
}

LINGMA_EXPORT int
lingma_rpc_call(lingma_rpc *rpc, int64_t *out_id, const char *method, json_t *params,
                uint64_t deadline, lingma_rpc_response_cb cb, void *payload)
{
    return call(rpc, out_id, method, params, params ? write_json_params : NULL, params, deadline,
                cb, payload);
}

int
lingma__rpc_call_with(lingma_rpc *rpc, int64_t *out_id, const char *method,
                      lingma__rpc_params_fn write, void *ud, uint64_t deadline,
                      lingma_rpc_response_cb cb, void *payload)
{
    if (!write)
        return LINGMA_EINVAL;
    return call(rpc, out_id, method, NULL, write, ud, deadline, cb, payload);
}

LINGMA_EXPORT int
lingma_rpc_cancel(lingma_rpc *rpc, int64_t id)
{
    struct lingma__pending *p;

    if (!rpc || !(p = lingma__pending_take(&rpc->pending, id)))
        return LINGMA_ENOTFOUND;
    if (p->cb)
        p->cb(rpc, LINGMA_ECANCELED, NULL, NULL, p->payload);
    lingma__free(rpc->alloc, p);
    return 0;
}

LINGMA_EXPORT int
lingma_rpc_notify(lingma_rpc *rpc, const char *method, json_t *params)
{
    int rc;

    if (!rpc || !method) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    if (rpc->closed || rpc->close_requested) {
        json_decref(params);
        return LINGMA_ECLOSED;
    }
    rc = send_call(rpc, 0, method, params ? write_json_params : NULL, params);
    json_decref(params);
    if (rc == 0)
        rpc->stats.notifications_sent++;
    return rc;
}

/* Checks shared by the two respond functions; marks the request that
 * on_request is handling as answered. */
static int
respond_check(lingma_rpc *rpc, const json_t *id, int *is_current)
{
    *is_current = 0;
    if (!rpc || !id || !(json_is_number(id) || json_is_string(id)))
        return LINGMA_EINVAL;
    if (rpc->closed || rpc->close_requested)
        return LINGMA_ECLOSED;
    if (rpc->cur_id && (id == rpc->cur_id || json_equal((json_t *)id, (json_t *)rpc->cur_id))) {
        if (rpc->cur_answered)
            return LINGMA_EINVAL; /* answered twice from its own callback */
        *is_current = 1;
    }
    return 0;
}

LINGMA_EXPORT int
lingma_rpc_respond(lingma_rpc *rpc, const json_t *id, json_t *result)
{
    int current, rc = respond_check(rpc, id, &current);

    if (rc == 0)
        rc = send_result(rpc, id, result);
    json_decref(result);
    if (rc == 0 && current)
        rpc->cur_answered = 1;
    return rc;
}

LINGMA_EXPORT int
lingma_rpc_respond_error(lingma_rpc *rpc, const json_t *id, int code, const char *message)
{
    int current, rc = respond_check(rpc, id, &current);

    if (rc == 0)
        rc = send_error(rpc, id, code, message ? message : "");
    if (rc == 0 && current)
        rpc->cur_answered = 1;
    return rc;
}

LINGMA_EXPORT size_t
lingma_rpc_mem_send(lingma_rpc *rpc, const char **out)
{
    struct outframe *f;

    if (out)
        *out = NULL;
    if (!rpc || !out)
        return 0;
    frame_release(rpc, rpc->lent);
    rpc->lent = NULL;
    f = rpc->out_head;
    if (!f)
        return 0;
    rpc->out_head = f->next;
    if (!rpc->out_head)
        rpc->out_tail = NULL;
    rpc->out_bytes -= f->len;
    rpc->lent = f;
    *out = f->data;
    return f->len;
}

LINGMA_EXPORT int
lingma_rpc_want_write(const lingma_rpc *rpc)
{
    return rpc && rpc->out_head != NULL;
}

LINGMA_EXPORT size_t
lingma_rpc_send_queued(const lingma_rpc *rpc)
{
    return rpc ? rpc->out_bytes : 0;
}

/* ---- receiving ---- */

static int
handle_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params)
{
    int rc = 0, answered;

    rpc->stats.requests_received++;
    rpc->cur_id = id;
    rpc->cur_answered = 0;
    if (rpc->opts.on_request)
        rc = rpc->opts.on_request(rpc, id, method, params, rpc->opts.payload);
    answered = rpc->cur_answered;
    rpc->cur_id = NULL;
    if (rc == LINGMA_RPC_DEFER || answered || rpc->closed || rpc->close_requested)
        return 0;
    if (rc < 0)
        rc = send_error(rpc, id, LINGMA_RPC_INTERNAL_ERROR, "Internal error");
    else
        rc = send_result(rpc, id, NULL);
    if (rc != 0)
        rpc_log(rpc, LINGMA_LOG_ERROR, "rpc: could not answer request '%.64s': %s", method,
                lingma_strerror(rc));
    return rc;
}

/* The call's callback gets the result or the error; `p` is freed. */
static void
deliver(lingma_rpc *rpc, struct lingma__pending *p, json_t *result, json_t *error)
{
    rpc->stats.responses_received++;
    if (p->cb) {
        if (error) {
            json_t *code = json_object_get(error, "code");
            json_t *message = json_object_get(error, "message");
            lingma_rpc_error e;
            json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;

            e.code = c > INT_MAX ? INT_MAX : c < INT_MIN ? INT_MIN : (int)c;
            e.message = json_is_string(message) ? json_string_value(message)
                        : json_is_string(error) ? json_string_value(error)
                                                : "";
            e.data = json_is_object(error) ? json_object_get(error, "data") : error;
            p->cb(rpc, LINGMA_ERPC, NULL, &e, p->payload);
        } else {
            p->cb(rpc, 0, result, NULL, p->payload);
        }
    }
    lingma__free(rpc->alloc, p);
}

static void
unknown_id(lingma_rpc *rpc, int64_t id)
{
    rpc->stats.unknown_responses++;
    rpc_log(rpc, LINGMA_LOG_WARN, "rpc: response to unknown id %lld", (long long)id);
}

static int
handle_response(lingma_rpc *rpc, json_t *id, json_t *result, json_t *error)
{
    struct lingma__pending *p = NULL;

    if (json_is_integer(id))
        p = lingma__pending_take(&rpc->pending, json_integer_value(id));
    if (!p) {
        if (json_is_integer(id)) {
            unknown_id(rpc, json_integer_value(id));
            return 0;
        }
        rpc->stats.unknown_responses++;
        if (error)
            rpc_log(rpc, LINGMA_LOG_WARN, "rpc: peer reported an error (id %s): %.200s",
                    json_is_null(id) ? "null" : "not an integer",
                    json_string_value(json_object_get(error, "message"))
                        ? json_string_value(json_object_get(error, "message"))
                        : "");
        else
            rpc_log(rpc, LINGMA_LOG_WARN, "rpc: response with a non-integer id");
        return 0;
    }
    deliver(rpc, p, result, error);
    return 0;
}

int
lingma__rpc_recv_result(lingma_rpc *rpc, int64_t id, const char *result, size_t len)
{
    const struct lingma__pending *peek = lingma__pending_find(&rpc->pending, id);
    json_t *v = NULL;

    /* Only a callback reads the result: parse it alone, or not at all. */
    if (peek && peek->cb) {
        json_error_t jerr;
        v = json_loadb(result, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!v)
            return 0; /* out of memory: the full path says so */
    }
    struct lingma__pending *p = lingma__pending_take(&rpc->pending, id);
    if (p)
        deliver(rpc, p, v, NULL);
    else
        unknown_id(rpc, id);
    json_decref(v);
    return 1;
}

static int
dispatch(lingma_rpc *rpc, json_t *msg)
{
    json_t *version, *method, *id, *result, *error;
    int version_ok;

    if (!json_is_object(msg)) {
        malformed(rpc, json_is_array(msg) ? "batches are not supported" : "not an object");
        return 0;
    }
    version = json_object_get(msg, "jsonrpc");
    method = json_object_get(msg, "method");
    id = json_object_get(msg, "id");
    version_ok = json_is_string(version) && strcmp(json_string_value(version), "2.0") == 0;

    if (method) {
        int id_ok = id && (json_is_number(id) || json_is_string(id));

        if (!version_ok || !json_is_string(method) || (id && !id_ok)) {
            malformed(rpc, !version_ok               ? "missing or wrong \"jsonrpc\""
                           : !json_is_string(method) ? "\"method\" is not a string"
                                                     : "\"id\" is not a number or a string");
            /* Still answer a request we can address, so the peer does not
             * wait for ever. */
            if (id_ok) {
                int rc = send_error(rpc, id, LINGMA_RPC_INVALID_REQUEST, "Invalid Request");
                return rc == LINGMA_ENOMEM ? rc : 0;
            }
            return 0;
        }
        if (!id) {
            rpc->stats.notifications_received++;
            if (rpc->opts.on_notification)
                rpc->opts.on_notification(rpc, json_string_value(method),
                                          json_object_get(msg, "params"), rpc->opts.payload);
            return 0;
        }
        return handle_request(rpc, id, json_string_value(method), json_object_get(msg, "params"));
    }

    if (!version_ok) {
        malformed(rpc, "missing or wrong \"jsonrpc\"");
        return 0;
    }
    if (!id) {
        malformed(rpc, "neither \"method\" nor \"id\"");
        return 0;
    }
    result = json_object_get(msg, "result");
    error = json_object_get(msg, "error");
    if (json_is_null(error) && result)
        error = NULL; /* some peers send "error": null next to a result */
    if (!error && !result) {
        malformed(rpc, "response without \"result\" or \"error\"");
        return 0;
    }
    return handle_response(rpc, id, result, error);
}

static int
handle_body(lingma_rpc *rpc, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *msg;
    int rc;

    int raw = rpc->raw_fn ? rpc->raw_fn(rpc, body, len, rpc->raw_payload) : 0;
    if (raw > 0) {
        if (raw == 1)
            rpc->stats.requests_received++;
        return 0;
    }
    memset(&jerr, 0, sizeof(jerr));
    msg = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (!msg) {
        /* jansson leaves the error empty on some allocation failures. */
        if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0') {
            rpc_log(rpc, LINGMA_LOG_ERROR, "rpc: out of memory parsing a message; it was lost");
            return LINGMA_ENOMEM;
        }
        rpc->stats.malformed++;
        rpc_log(rpc, LINGMA_LOG_WARN, "rpc: skipped a malformed message: invalid JSON: %s",
                jerr.text);
        return 0;
    }
    rc = dispatch(rpc, msg);
    json_decref(msg);
    return rc;
}

static int
on_frame(const char *body, size_t len, void *payload)
{
    lingma_rpc *rpc = payload;

    if (rpc->close_requested)
        return LINGMA_ECLOSED;
    return handle_body(rpc, body, len);
}

/* The guard shared by both receive entry points: refuse re-entry from a
 * callback and a closed session, then mark the session busy. */
static int
recv_enter(lingma_rpc *rpc, const void *data, size_t len)
{
    if (!rpc || (!data && len))
        return LINGMA_EINVAL;
    if (rpc->busy)
        return LINGMA_EINVAL;
    if (rpc->closed)
        return LINGMA_ECLOSED;
    rpc->busy++;
    return 0;
}

/* Run what callbacks deferred (close, free); the session may be gone when
 * finish_busy() says so, so nothing is read after it. */
static int
recv_leave(lingma_rpc *rpc, int rc)
{
    if (finish_busy(rpc) || rpc->closed)
        return LINGMA_ECLOSED;
    return rc;
}

LINGMA_EXPORT int
lingma_rpc_recv(lingma_rpc *rpc, const void *data, size_t len)
{
    int rc = recv_enter(rpc, data, len);

    if (rc != 0)
        return rc;
    rc = lingma_frame_decoder_feed(rpc->dec, data, len, on_frame, rpc);
    if (rc == LINGMA_EPROTO || rc == LINGMA_EINVAL)
        rpc_log(rpc, LINGMA_LOG_ERROR, "rpc: broken framing: %s",
                lingma_frame_decoder_errmsg(rpc->dec));
    return recv_leave(rpc, rc);
}

LINGMA_EXPORT int
lingma_rpc_recv_message(lingma_rpc *rpc, const char *body, size_t len)
{
    int rc = recv_enter(rpc, body, len);

    if (rc != 0)
        return rc;
    return recv_leave(rpc, handle_body(rpc, body ? body : "", len));
}

/* ---- time ---- */

LINGMA_EXPORT size_t
lingma_rpc_tick(lingma_rpc *rpc, uint64_t now)
{
    struct lingma__pending *list = NULL, **tail = &list, *p;
    size_t n = 0;

    if (!rpc || rpc->closed || rpc->busy)
        return 0;
    /* Detach the expired ones first, in deadline order, so that callbacks
     * may call or cancel freely while we walk the list. */
    while ((p = lingma__pending_take_expired(&rpc->pending, now)) != NULL) {
        p->next = NULL;
        *tail = p;
        tail = &p->next;
    }
    rpc->busy++;
    while (list) {
        p = list;
        list = p->next;
        n++;
        rpc->stats.timeouts++;
        if (p->cb)
            p->cb(rpc, LINGMA_ETIMEDOUT, NULL, NULL, p->payload);
        lingma__free(rpc->alloc, p);
    }
    finish_busy(rpc);
    return n;
}

LINGMA_EXPORT uint64_t
lingma_rpc_next_deadline(const lingma_rpc *rpc)
{
    return rpc ? lingma__pending_next_deadline(&rpc->pending) : 0;
}

LINGMA_EXPORT size_t
lingma_rpc_pending_count(const lingma_rpc *rpc)
{
    return rpc ? rpc->pending.count : 0;
}

LINGMA_EXPORT void
lingma_rpc_get_stats(const lingma_rpc *rpc, lingma_rpc_stats *out)
{
    if (!out)
        return;
    if (!rpc) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = rpc->stats;
}
