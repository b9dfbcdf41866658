/*
 * Fuzz target for the fast push decoder (liblingma/proto/push_fast.c).
 * Whenever it answers, the full path must see the same message: jansson
 * parses the body (JSON_ALLOW_NUL, as rpc.c does), it is a JSON-RPC 2.0
 * request with that integer id and a method of that kind, and
 * lingma__method_answer() / _finish() / _request_id() / _session_id() on
 * its params give the same fields. When it reads a result instead, the
 * full path must see that response (agree_result).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "push_fast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        abort();
}

static void
same_str(const char *a, const char *b)
{
    check((a == NULL) == (b == NULL));
    check(!a || strcmp(a, b) == 0);
}

static void
same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    check(alen == blen && memcmp(a, b, alen) == 0);
}

/* jansson's parse of the body (JSON_ALLOW_NUL, as rpc.c does): a JSON-RPC
 * 2.0 object with the integer id `id`. */
static json_t *
envelope(const char *body, size_t len, int64_t id)
{
    json_error_t err;
    json_t *msg = json_loadb(body, len, JSON_ALLOW_NUL, &err);

    check(msg != NULL && json_is_object(msg));
    json_t *version = json_object_get(msg, "jsonrpc");
    json_t *jid = json_object_get(msg, "id");
    check(json_is_string(version) && strcmp(json_string_value(version), "2.0") == 0);
    check(json_is_integer(jid) && json_integer_value(jid) == id);
    return msg;
}

static void
agree(const struct lingma__push_fast *m, const char *body, size_t len)
{
    json_t *msg = envelope(body, len, m->id);
    json_t *method = json_object_get(msg, "method");
    json_t *params = json_object_get(msg, "params");
    check(json_is_string(method));
    check(lingma__push_kind(json_string_value(method)) == m->kind);
    if (m->kind == LINGMA__PUSH_OTHER) {
        /* Answered null unread: nothing else to agree on. */
    } else if (m->kind == LINGMA__PUSH_THINK || m->kind == LINGMA__PUSH_STEP) {
        check(json_is_object(params));
        same_str(lingma__method_request_id(params), m->step.request_id);
        same_str(lingma__method_session_id(params), m->step.session_id);
    } else if (m->kind == LINGMA__PUSH_ANSWER) {
        struct lingma__answer a;
        check(lingma__method_answer(&a, params) == 0);
        same_str(a.request_id, m->answer.request_id);
        same_str(a.session_id, m->answer.session_id);
        same_bytes(a.text, a.len, m->answer.text, m->answer.len);
    } else {
        struct lingma__finish f;
        check(m->kind == LINGMA__PUSH_FINISH);
        check(lingma__method_finish(&f, params) == 0);
        same_str(f.request_id, m->finish.request_id);
        same_str(f.session_id, m->finish.session_id);
        check(f.status_code == m->finish.status_code);
        same_str(f.reason, m->finish.reason);
        same_bytes(f.full_answer, f.full_answer_len, m->finish.full_answer,
                   m->finish.full_answer_len);
        check(!f.usage.present && !m->finish.usage.present);
    }
    json_decref(msg);
}

/* A result (return 2): jansson sees a JSON-RPC 2.0 response with that
 * integer id, no "method", no "error" but null, and a "result" equal to
 * the value its bytes give alone (as lingma__rpc_recv_result parses them). */
static void
agree_result(const struct lingma__push_fast *m, const char *body, size_t len)
{
    json_error_t err;
    json_t *msg = envelope(body, len, m->id);
    json_t *error = json_object_get(msg, "error");
    json_t *result = json_object_get(msg, "result");
    check(json_object_get(msg, "method") == NULL);
    check(error == NULL || json_is_null(error));
    check(result != NULL);
    check(m->result >= body && m->result + m->result_len <= body + len);
    json_t *alone = json_loadb(m->result, m->result_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    check(alone != NULL && json_equal(alone, result));
    json_decref(alone);
    json_decref(msg);
}

static void
agree_any(int rc, const struct lingma__push_fast *m, const char *body, size_t len)
{
    if (rc == 1)
        agree(m, body, len);
    else if (rc == 2)
        agree_result(m, body, len);
    else
        check(rc == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lingma__buf scratch = {0};
    struct lingma__push_fast m;
    /* A private copy with nothing after it: reads past the end show. */
    char *body = malloc(size ? size : 1);

    if (!body)
        return 0;
    memcpy(body, data, size);
    agree_any(lingma__push_fast_decode(&m, &scratch, NULL, body, size), &m, body, size);
    /* Decoding again into the used scratch gives the same answer. */
    struct lingma__push_fast again;
    int r1 = lingma__push_fast_decode(&m, &scratch, NULL, body, size);
    int r2 = lingma__push_fast_decode(&again, &scratch, NULL, body, size);
    check(r1 == r2);
    agree_any(r2, &again, body, size);
    free(scratch.p);
    free(body);
    return 0;
}
