/* Unit tests for the sans-I/O JSON-RPC session (lingma/sys/rpc.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "lingma/lingma.h"
#include "lingma/sys/frame.h"
#include "lingma/sys/rpc.h"

#include "failalloc.h"
#include "push_fast.h"
#include "rpc_int.h"
#include "rpc_pending.h"

/* ---- a transcript of everything the session did ---- */

struct ctx {
    char *log; /* transcript: one event per line */
    size_t len, cap;
    int logs; /* log_fn calls */
    char last_log[512];
    lingma_rpc *rpc;
    /* knobs */
    json_t *deferred[8]; /* ids kept by "defer" */
    int ndeferred;
    int64_t cancel_in_cb; /* cancel this id from a response callback; 0 none */
    int call_in_cb;       /* start a call from a response callback */
    int reentry_rc;       /* what lingma_rpc_recv() returned from inside a callback */
};

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void
ctx_printf(struct ctx *c, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (c->len + n + 2 > c->cap) {
        c->cap = (c->len + n + 2) * 2;
        c->log = realloc(c->log, c->cap);
        assert_non_null(c->log);
    }
    memcpy(c->log + c->len, line, n);
    c->len += n;
    c->log[c->len++] = '\n';
    c->log[c->len] = '\0';
}

static char *
dump(const json_t *v)
{
    if (!v)
        return strdup("-");
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void
on_log(lingma_log_level level, const char *msg, void *payload)
{
    struct ctx *c = payload;

    (void)level;
    c->logs++;
    snprintf(c->last_log, sizeof(c->last_log), "%s", msg);
    assert_null(strchr(msg, '\n'));
}

static void
on_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct ctx *c = payload;
    char *s;

    if (status == 0) {
        assert_non_null(result);
        assert_null(err);
        s = dump(result);
        ctx_printf(c, "response ok %s", s);
        free(s);
    } else if (status == LINGMA_ERPC) {
        assert_null(result);
        assert_non_null(err);
        assert_non_null(err->message);
        s = dump(err->data);
        ctx_printf(c, "response error %d %s %s", err->code, err->message, s);
        free(s);
    } else {
        assert_null(result);
        assert_null(err);
        ctx_printf(c, "response %s", lingma_error_name(status));
    }
    c->reentry_rc = lingma_rpc_recv(rpc, "x", 1);
    if (c->cancel_in_cb) {
        int64_t id = c->cancel_in_cb;
        c->cancel_in_cb = 0;
        ctx_printf(c, "cancel %lld -> %d", (long long)id, lingma_rpc_cancel(rpc, id));
    }
    if (c->call_in_cb) {
        int64_t id = 0;
        int rc;
        c->call_in_cb--;
        rc = lingma_rpc_call(rpc, &id, "from-callback", NULL, 0, on_response, c);
        ctx_printf(c, "call from callback -> %d id %lld", rc, (long long)id);
    }
}

/* Each response callback gets its own tag, to check which fired. */
struct tagged {
    struct ctx *c;
    int tag;
    int calls;
    int status;
};

static void
on_tagged(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct tagged *t = payload;

    (void)rpc;
    (void)result;
    (void)err;
    t->calls++;
    t->status = status;
    if (t->c)
        ctx_printf(t->c, "tag %d %s", t->tag, status ? lingma_error_name(status) : "ok");
}

static int
on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    struct ctx *c = payload;
    char *sid = dump(id), *sp = dump(params);

    ctx_printf(c, "request %s id=%s params=%s", method, sid, sp);
    free(sid);
    free(sp);
    if (strcmp(method, "echo") == 0) {
        assert_int_equal(lingma_rpc_respond(rpc, id, json_incref(params)), 0);
        /* Exactly once: a second answer from the same callback is refused. */
        assert_int_equal(lingma_rpc_respond(rpc, id, NULL), LINGMA_EINVAL);
        return 0;
    }
    if (strcmp(method, "error") == 0) {
        assert_int_equal(lingma_rpc_respond_error(rpc, id, -32001, "nope"), 0);
        return 0;
    }
    if (strcmp(method, "defer") == 0) {
        assert_true(c->ndeferred < 8);
        c->deferred[c->ndeferred++] = json_deep_copy(id);
        return LINGMA_RPC_DEFER;
    }
    if (strcmp(method, "fail") == 0)
        return LINGMA_EIO;
    if (strcmp(method, "fail-after-answer") == 0) {
        assert_int_equal(lingma_rpc_respond(rpc, id, json_true()), 0);
        return LINGMA_EIO;
    }
    if (strcmp(method, "nested") == 0) {
        int64_t nid;
        assert_int_equal(
            lingma_rpc_call(rpc, &nid, "inner", json_pack("{s:i}", "x", 1), 0, on_response, c), 0);
        assert_int_equal(lingma_rpc_notify(rpc, "note", NULL), 0);
        assert_int_equal(lingma_rpc_recv(rpc, "", 0), LINGMA_EINVAL);
        assert_int_equal(lingma_rpc_tick(rpc, UINT64_MAX), 0);
        return 0;
    }
    return 0;
}

static void
on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload)
{
    struct ctx *c = payload;
    char *sp = dump(params);

    (void)rpc;
    ctx_printf(c, "notification %s params=%s", method, sp);
    free(sp);
}

static lingma_rpc *
session(struct ctx *c, int handlers)
{
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc = NULL;

    memset(c, 0, sizeof(*c));
    if (handlers) {
        o.on_request = on_request;
        o.on_notification = on_notification;
    }
    o.log_fn = on_log;
    o.payload = c;
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    c->rpc = rpc;
    return rpc;
}

static void
ctx_free(struct ctx *c)
{
    for (int i = 0; i < c->ndeferred; i++)
        json_decref(c->deferred[i]);
    free(c->log);
}

/* Frame a body and feed it. */
static int
peer(lingma_rpc *rpc, const char *body)
{
    char *frame;
    size_t len;
    int rc;

    assert_int_equal(lingma_frame_encode(&frame, &len, body, strlen(body), 0, NULL), 0);
    rc = lingma_rpc_recv(rpc, frame, len);
    free(frame);
    return rc;
}

/* Pull the next frame and return its body as a string (caller frees), or NULL. */
static char *
sent(lingma_rpc *rpc)
{
    const char *p;
    size_t n = lingma_rpc_mem_send(rpc, &p);
    char *frame, *body, *out;
    size_t clen;

    if (n == 0) {
        assert_null(p);
        return NULL;
    }
    /* The frame is not NUL-terminated: work on a terminated copy. */
    frame = strndup(p, n);
    assert_non_null(frame);
    assert_int_equal(sscanf(frame, "Content-Length: %zu\r\n\r\n", &clen), 1);
    body = strstr(frame, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal((size_t)(body - frame) + clen, n);
    out = strndup(body, clen);
    free(frame);
    return out;
}

static void
expect_sent(lingma_rpc *rpc, const char *body)
{
    char *s = sent(rpc);

    if (!body) {
        if (s)
            fail_msg("unexpected output: %s", s);
        return;
    }
    if (!s)
        fail_msg("nothing sent, expected %s", body);
    if (strcmp(s, body) != 0)
        fail_msg("sent %s, expected %s", s, body);
    free(s);
}

static void
expect_log(struct ctx *c, const char *text)
{
    if (c->log == NULL || strcmp(c->log, text) != 0)
        fail_msg("transcript:\n%s\nexpected:\n%s", c->log ? c->log : "", text);
    c->len = 0;
    if (c->log)
        c->log[0] = '\0';
}

/* ---- tests ---- */

static void
test_new_bad_arguments(void **state)
{
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc;

    (void)state;
    assert_int_equal(lingma_rpc_new(NULL, &o), LINGMA_EINVAL);
    assert_int_equal(lingma_rpc_new(&rpc, NULL), LINGMA_EINVAL);
    assert_null(rpc);
    o.version = 99;
    assert_int_equal(lingma_rpc_new(&rpc, &o), LINGMA_EINVAL);
    lingma_rpc_free(NULL);
    lingma_rpc_close(NULL);
    assert_int_equal(lingma_rpc_pending_count(NULL), 0);
    assert_int_equal(lingma_rpc_want_write(NULL), 0);
    o.version = LINGMA_RPC_OPTIONS_VERSION;
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, NULL, json_object(), 0, NULL, NULL), LINGMA_EINVAL);
    assert_int_equal(lingma_rpc_notify(rpc, NULL, json_object()), LINGMA_EINVAL);
    assert_int_equal(lingma_rpc_respond(rpc, NULL, json_object()), LINGMA_EINVAL);
    {
        json_t *bad = json_true();
        assert_int_equal(lingma_rpc_respond(rpc, bad, NULL), LINGMA_EINVAL);
        assert_int_equal(lingma_rpc_respond_error(rpc, bad, 1, "x"), LINGMA_EINVAL);
    }
    /* Invalid UTF-8 in a method name is refused, not sent. */
    assert_int_equal(lingma_rpc_call(rpc, NULL, "bad\xff", NULL, 0, NULL, NULL), LINGMA_EINVAL);
    assert_int_equal(lingma_rpc_want_write(rpc), 0);
    assert_int_equal(lingma_rpc_recv(rpc, NULL, 1), LINGMA_EINVAL);
    lingma_rpc_free(rpc);
}

static void
test_call_ids_and_mem_send_order(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    int64_t id = 0;
    const char *p1, *p2;
    size_t n1;

    (void)state;
    assert_int_equal(lingma_rpc_want_write(rpc), 0);
    assert_int_equal(lingma_rpc_call(rpc, &id, "initialize", json_object(), 0, on_response, &c), 0);
    assert_int_equal(id, 1);
    assert_int_equal(lingma_rpc_call(rpc, &id, "chat/ask",
                                     json_pack("{s:s,s:f}", "q", "h\xc3\xa9\n\"", "t", 0.7), 0,
                                     on_response, &c),
                     0);
    assert_int_equal(id, 2);
    assert_int_equal(lingma_rpc_notify(rpc, "initialized", NULL), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "x/\x01", json_pack("[i]", 5), 0, NULL, NULL), 0);
    assert_int_equal(lingma_rpc_pending_count(rpc), 3);
    assert_true(lingma_rpc_want_write(rpc));
    n1 = lingma_rpc_send_queued(rpc);
    assert_true(n1 > 0);

    /* One whole frame per call, in order; the pointer survives later calls
     * until the next mem_send. */
    n1 = lingma_rpc_mem_send(rpc, &p1);
    assert_int_equal(n1, 80);
    assert_memory_equal(p1,
                        "Content-Length: 58\r\n\r\n"
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}",
                        80);
    assert_int_equal(lingma_rpc_notify(rpc, "later", NULL), 0);
    assert_memory_equal(p1, "Content-Length: 58\r\n", 20);
    (void)p2;
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"chat/ask\","
                     "\"params\":{\"q\":\"h\xc3\xa9\\n\\\"\",\"t\":0.7}}");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"initialized\"}");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"x/\\u0001\",\"params\":[5]}");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"later\"}");
    expect_sent(rpc, NULL);
    assert_int_equal(lingma_rpc_send_queued(rpc), 0);
    assert_int_equal(lingma_rpc_want_write(rpc), 0);
    {
        lingma_rpc_stats st;
        lingma_rpc_get_stats(rpc, &st);
        assert_int_equal(st.requests_sent, 3);
        assert_int_equal(st.notifications_sent, 2);
    }
    lingma_rpc_free(rpc);
    expect_log(&c, "response LINGMA_ECLOSED\nresponse LINGMA_ECLOSED\n");
    ctx_free(&c);
}

/* The runtime's raw hook for results (rt/conn.c): push_fast reads the
 * envelope, lingma__rpc_recv_result() the value. */
static int raw_results;

static int
raw_result_hook(lingma_rpc *rpc, const char *body, size_t len, void *payload)
{
    struct lingma__buf *scratch = payload;
    struct lingma__push_fast m;

    if (lingma__push_fast_decode(&m, scratch, NULL, body, len) != 2)
        return 0;
    raw_results++;
    return lingma__rpc_recv_result(rpc, m.id, m.result, m.result_len) ? 2 : 0;
}

/* With `hook`, through the runtime's raw hook for results (below): the
 * same callbacks, logs and counts. */
static void
responses_matched(int hook)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    lingma_rpc_stats st;
    struct lingma__buf scratch = {0};

    raw_results = 0;
    if (hook)
        lingma__rpc_set_raw(rpc, raw_result_hook, &scratch);
    for (int i = 0; i < 4; i++)
        assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, 0, on_response, &c), 0);
    while (lingma_rpc_want_write(rpc))
        free(sent(rpc));

    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"b\":1,\"a\":[true]}}"),
                     0);
    assert_int_equal(c.reentry_rc, LINGMA_EINVAL);
    assert_int_equal(
        peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"boom\","
                  "\"data\":{\"x\":1}}}"),
        0);
    /* Not integers: never matched. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":3.0,\"result\":1}"), 0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"3\",\"result\":1}"), 0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":1}"), 0);
    assert_non_null(strstr(c.last_log, "unknown id 99"));
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                               "\"message\":\"Parse error\"}}"),
                     0);
    assert_non_null(strstr(c.last_log, "Parse error"));
    /* A second response to the same id is unknown. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":null}"), 0);
    /* "error": null next to a result, an error without a message, null result. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":null,\"error\":null}"), 0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":7}}"), 0);
    expect_log(&c, "response ok {\"a\":[true],\"b\":1}\n"
                   "response error -32000 boom {\"x\":1}\n"
                   "response ok null\n"
                   "response error 7  -\n");
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.responses_received, 4);
    assert_int_equal(st.unknown_responses, 5);
    assert_int_equal(st.malformed, 0);
    assert_int_equal(lingma_rpc_pending_count(rpc), 0);
    /* ids 2, 99, 2 again and 3 are results the hook reads. */
    assert_int_equal(raw_results, hook ? 4 : 0);
    lingma_rpc_free(rpc);
    expect_log(&c, "");
    ctx_free(&c);
    free(scratch.p);
}

static void
test_responses_matched_by_integer_id(void **state)
{
    (void)state;
    responses_matched(0);
}

/* The same through the hook; and a call without a callback
 * (chat/deleteSessionById) is settled without parsing its result. */
static void
test_results_through_the_raw_hook(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    lingma_rpc_stats st;
    struct lingma__buf scratch = {0};

    (void)state;
    responses_matched(1);
    raw_results = 0;
    lingma__rpc_set_raw(rpc, raw_result_hook, &scratch);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "no-callback", NULL, 0, NULL, NULL), 0);
    free(sent(rpc));
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ignored\":[1,2]}}"), 0);
    assert_int_equal(raw_results, 1);
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.responses_received, 1);
    assert_int_equal(st.requests_received, 0);
    assert_int_equal(lingma_rpc_pending_count(rpc), 0);
    lingma_rpc_free(rpc);
    assert_null(c.log); /* no callback, no log */
    ctx_free(&c);
    free(scratch.p);
}

static void
test_deadlines_and_tick(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    struct tagged t[5];
    static const uint64_t deadlines[5] = {30, 10, 0, 20, 10};
    lingma_rpc_stats st;

    (void)state;
    for (int i = 0; i < 5; i++) {
        t[i] = (struct tagged){&c, i, 0, 0};
        assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, deadlines[i], on_tagged, &t[i]), 0);
    }
    assert_int_equal(lingma_rpc_next_deadline(rpc), 10);
    assert_int_equal(lingma_rpc_tick(rpc, 9), 0);
    assert_int_equal(lingma_rpc_tick(rpc, 10), 2);
    assert_int_equal(lingma_rpc_next_deadline(rpc), 20);
    /* A response removes its deadline too. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":1}"), 0);
    assert_int_equal(lingma_rpc_next_deadline(rpc), 30);
    assert_int_equal(lingma_rpc_tick(rpc, 1000), 1);
    assert_int_equal(lingma_rpc_next_deadline(rpc), 0);
    assert_int_equal(lingma_rpc_pending_count(rpc), 1);
    /* A late answer to an expired request is unknown. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":1}"), 0);
    expect_log(&c, "tag 1 LINGMA_ETIMEDOUT\ntag 4 LINGMA_ETIMEDOUT\ntag 3 ok\n"
                   "tag 0 LINGMA_ETIMEDOUT\n");
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.timeouts, 3);
    assert_int_equal(st.unknown_responses, 1);
    lingma_rpc_free(rpc);
    expect_log(&c, "tag 2 LINGMA_ECLOSED\n");
    for (int i = 0; i < 5; i++)
        assert_int_equal(t[i].calls, 1);
    ctx_free(&c);
}

static void
test_requests_from_peer(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    lingma_rpc_stats st;

    (void)state;
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":[1]}"),
                     0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":[1]}");
    assert_int_equal(
        peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"method\":\"echo\",\"params\":{\"a\":1}}"),
        0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":{\"a\":1}}");
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"chat-\\\"q\\\"\",\"method\":\"x\"}"),
                     0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"chat-\\\"q\\\"\",\"result\":null}");
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":-9007199254740993,\"method\":\"x\"}"),
                     0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":-9007199254740993,\"result\":null}");
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}"), 0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":null}");
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"error\"}"), 0);
    expect_sent(rpc,
                "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-32001,\"message\":\"nope\"}}");
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"fail\"}"), 0);
    expect_sent(rpc,
                "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-32603,\"message\":\"Internal "
                "error\"}}");
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"fail-after-answer\"}"),
                     0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":true}");
    expect_sent(rpc, NULL);
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.requests_received, 8);
    assert_int_equal(st.responses_sent, 8);
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

static void
test_defer_and_late_respond(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);

    (void)state;
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"defer\"}"
                               ""),
                     0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"defer\"}"), 0);
    expect_sent(rpc, NULL);
    assert_int_equal(c.ndeferred, 2);
    /* Answered later, in any order, ids echoed verbatim. */
    assert_int_equal(lingma_rpc_respond_error(rpc, c.deferred[1], -32000, "later \xe2\x82\xac"), 0);
    assert_int_equal(lingma_rpc_respond(rpc, c.deferred[0], json_string("done")), 0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":12,\"error\":{\"code\":-32000,\"message\":"
                     "\"later \xe2\x82\xac\"}}");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":\"done\"}");
    /* Invalid UTF-8 in an error message is refused. */
    assert_int_equal(lingma_rpc_respond_error(rpc, c.deferred[1], 1, "\xc0\x80"), LINGMA_EINVAL);
    lingma_rpc_close(rpc);
    assert_int_equal(lingma_rpc_respond(rpc, c.deferred[0], json_null()), LINGMA_ECLOSED);
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

static void
test_no_handler_answers_null(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 0);
    lingma_rpc_stats st;

    (void)state;
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"chat/answer\","
                               "\"params\":{\"text\":\"hi\"}}"),
                     0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"window/logMessage\"}"), 0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":null}");
    expect_sent(rpc, NULL);
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.notifications_received, 1);
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

static void
test_notifications(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);

    (void)state;
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"telemetry/event\","
                               "\"params\":{\"k\":[1,2]}}"),
                     0);
    assert_int_equal(peer(rpc, "{\"method\":\"x\",\"jsonrpc\":\"2.0\"}"), 0);
    expect_log(&c, "notification telemetry/event params={\"k\":[1,2]}\nnotification x params=-\n");
    expect_sent(rpc, NULL);
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

static void
test_malformed_messages_are_skipped(void **state)
{
    static const char *bad[] = {
        "{",
        "",
        "[]",
        "[{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]",
        "42",
        "{\"method\":\"x\"}",
        "{\"jsonrpc\":\"1.0\",\"method\":\"x\"}",
        "{\"jsonrpc\":2.0,\"method\":\"x\"}",
        "{\"jsonrpc\":\"2.0\"}",
        "{\"jsonrpc\":\"2.0\",\"method\":5}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":null}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":[1]}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"id\":1,\"result\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}\n{}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"\xff\"}",
    };
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    lingma_rpc_stats st;
    int64_t id;

    (void)state;
    assert_int_equal(lingma_rpc_call(rpc, &id, "m", NULL, 0, on_response, &c), 0);
    free(sent(rpc));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int logs = c.logs;
        assert_int_equal(peer(rpc, bad[i]), 0);
        assert_int_equal(c.logs, logs + 1);
        assert_non_null(strstr(c.last_log, "malformed"));
    }
    expect_sent(rpc, NULL);
    /* A request we can address is answered with -32600 all the same. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"1.0\",\"id\":\"q\",\"method\":\"x\"}"), 0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32600,\"message\":"
                     "\"Invalid Request\"}}");
    /* The session goes on. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"fine\"}"), 0);
    expect_log(&c, "response ok \"fine\"\n");
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.malformed, sizeof(bad) / sizeof(bad[0]) + 1);
    assert_int_equal(st.responses_received, 1);
    /* Unframed input, same rules. */
    assert_int_equal(lingma_rpc_recv_message(rpc, "nope", 4), 0);
    assert_int_equal(lingma_rpc_recv_message(rpc, NULL, 0), 0);
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.malformed, sizeof(bad) / sizeof(bad[0]) + 3);
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

static void
test_broken_framing(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);

    (void)state;
    assert_int_equal(lingma_rpc_recv(rpc, "{\"jsonrpc\":\"2.0\"}", 17), LINGMA_EPROTO);
    assert_non_null(strstr(c.last_log, "framing"));
    assert_int_equal(lingma_rpc_recv(rpc, "Content-Length: 2\r\n\r\n{}", 23), LINGMA_EPROTO);
    lingma_rpc_free(rpc);
    ctx_free(&c);

    {
        lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
        o.max_frame = 10;
        assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
        assert_int_equal(lingma_rpc_recv(rpc, "Content-Length: 11\r\n\r\n", 22), LINGMA_EINVAL);
        lingma_rpc_free(rpc);
    }
}

static void
test_chunked_input(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    char buf[1024];
    size_t n = 0;
    static const char *msgs[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[\"\xe2\x82\xac\"]}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"echo\",\"params\":[\"\xf0\x9f\x98\x80\"]}",
    };

    (void)state;
    assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, 0, on_response, &c), 0);
    free(sent(rpc));
    for (int i = 0; i < 3; i++) {
        n += (size_t)lingma_frame_header(buf + n, sizeof(buf) - n, strlen(msgs[i]));
        memcpy(buf + n, msgs[i], strlen(msgs[i]));
        n += strlen(msgs[i]);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lingma_rpc_recv(rpc, buf + i, 1), 0);
    expect_log(&c, "notification a params=[\"\xe2\x82\xac\"]\nresponse ok {}\n"
                   "request echo id=5 params=[\"\xf0\x9f\x98\x80\"]\n");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":[\"\xf0\x9f\x98\x80\"]}");
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

static void
test_close_fails_pending_once(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    struct tagged t[3];
    const char *p;

    (void)state;
    for (int i = 0; i < 3; i++) {
        t[i] = (struct tagged){NULL, i, 0, 0};
        assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, (uint64_t)i * 5, on_tagged, &t[i]),
                         0);
    }
    lingma_rpc_close(rpc);
    lingma_rpc_close(rpc);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_int_equal(t[i].status, LINGMA_ECLOSED);
    }
    assert_int_equal(lingma_rpc_pending_count(rpc), 0);
    assert_int_equal(lingma_rpc_next_deadline(rpc), 0);
    assert_int_equal(lingma_rpc_want_write(rpc), 0);
    assert_int_equal(lingma_rpc_mem_send(rpc, &p), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "m", json_object(), 0, on_tagged, &t[0]),
                     LINGMA_ECLOSED);
    assert_int_equal(lingma_rpc_notify(rpc, "m", json_object()), LINGMA_ECLOSED);
    assert_int_equal(lingma_rpc_recv(rpc, "x", 1), LINGMA_ECLOSED);
    assert_int_equal(lingma_rpc_recv_message(rpc, "{}", 2), LINGMA_ECLOSED);
    assert_int_equal(lingma_rpc_tick(rpc, UINT64_MAX), 0);
    assert_int_equal(lingma_rpc_cancel(rpc, 1), LINGMA_ENOTFOUND);
    lingma_rpc_free(rpc);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t[i].calls, 1);
    ctx_free(&c);
}

static void
test_cancel(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    struct tagged t = {NULL, 0, 0, 0};
    int64_t id;

    (void)state;
    assert_int_equal(lingma_rpc_call(rpc, &id, "m", NULL, 50, on_tagged, &t), 0);
    assert_int_equal(lingma_rpc_cancel(rpc, id), 0);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.status, LINGMA_ECANCELED);
    assert_int_equal(lingma_rpc_cancel(rpc, id), LINGMA_ENOTFOUND);
    assert_int_equal(lingma_rpc_next_deadline(rpc), 0);
    assert_int_equal(lingma_rpc_tick(rpc, 100), 0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}"), 0);
    assert_int_equal(t.calls, 1);
    assert_int_equal(lingma_rpc_cancel(NULL, 1), LINGMA_ENOTFOUND);
    lingma_rpc_free(rpc);
    assert_int_equal(t.calls, 1);
    ctx_free(&c);
}

/* Callbacks that call, cancel and close while the session iterates. */
struct reentry {
    lingma_rpc *rpc;
    int64_t victim;
    int fired;
    int victim_calls;
    int victim_status;
    int new_calls;
    int cancel_rc;
    int call_rc;
};

static void
on_victim(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct reentry *r = payload;

    (void)rpc;
    (void)result;
    (void)err;
    r->victim_calls++;
    r->victim_status = status;
}

static void
on_new(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct reentry *r = payload;

    (void)rpc;
    (void)result;
    (void)err;
    (void)status;
    r->new_calls++;
}

static void
on_meddler(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct reentry *r = payload;

    (void)result;
    (void)err;
    (void)status;
    r->fired++;
    r->cancel_rc = lingma_rpc_cancel(rpc, r->victim);
    /* An already expired deadline: must not expire within this tick. */
    r->call_rc = lingma_rpc_call(rpc, NULL, "new", NULL, 1, on_new, r);
}

static void
test_reentrant_callbacks(void **state)
{
    struct reentry r;
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc;

    (void)state;
    /* From a response callback. */
    memset(&r, 0, sizeof(r));
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, 0, on_meddler, &r), 0);
    assert_int_equal(lingma_rpc_call(rpc, &r.victim, "v", NULL, 0, on_victim, &r), 0);
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}"), 0);
    assert_int_equal(r.fired, 1);
    assert_int_equal(r.cancel_rc, 0);
    assert_int_equal(r.victim_calls, 1);
    assert_int_equal(r.victim_status, LINGMA_ECANCELED);
    assert_int_equal(r.call_rc, 0);
    assert_int_equal(lingma_rpc_pending_count(rpc), 1);
    assert_int_equal(lingma_rpc_tick(rpc, 1), 1);
    assert_int_equal(r.new_calls, 1);
    lingma_rpc_free(rpc);

    /* From a timeout callback, with the victim expiring in the same tick
     * (already detached: it times out, once) and with one that does not. */
    for (int same_tick = 0; same_tick < 2; same_tick++) {
        memset(&r, 0, sizeof(r));
        assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
        assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, 5, on_meddler, &r), 0);
        assert_int_equal(
            lingma_rpc_call(rpc, &r.victim, "v", NULL, same_tick ? 6 : 60, on_victim, &r), 0);
        assert_int_equal(lingma_rpc_tick(rpc, 10), same_tick ? 2 : 1);
        assert_int_equal(r.fired, 1);
        assert_int_equal(r.victim_calls, 1);
        assert_int_equal(r.cancel_rc, same_tick ? LINGMA_ENOTFOUND : 0);
        assert_int_equal(r.victim_status, same_tick ? LINGMA_ETIMEDOUT : LINGMA_ECANCELED);
        assert_int_equal(r.new_calls, 0);
        assert_int_equal(lingma_rpc_pending_count(rpc), 1);
        assert_int_equal(lingma_rpc_tick(rpc, 10), 1);
        assert_int_equal(r.new_calls, 1);
        lingma_rpc_free(rpc);
    }

    /* From close: new calls are refused, cancel finds nothing, each
     * callback still runs exactly once. */
    memset(&r, 0, sizeof(r));
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, 5, on_meddler, &r), 0);
    assert_int_equal(lingma_rpc_call(rpc, &r.victim, "v", NULL, 0, on_victim, &r), 0);
    lingma_rpc_close(rpc);
    assert_int_equal(r.fired, 1);
    assert_int_equal(r.victim_calls, 1);
    assert_int_equal(r.victim_status, LINGMA_ECLOSED);
    assert_int_equal(r.cancel_rc, LINGMA_ENOTFOUND);
    assert_int_equal(r.call_rc, LINGMA_ECLOSED);
    lingma_rpc_free(rpc);
}

static void
test_calls_from_request_handler(void **state)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);

    (void)state;
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nested\"}"), 0);
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"inner\",\"params\":{\"x\":1}}");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"method\":\"note\"}");
    expect_sent(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}");
    assert_int_equal(lingma_rpc_pending_count(rpc), 1);
    /* Our id 1 and the peer's id 1 are separate spaces. */
    assert_int_equal(peer(rpc, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":2}"), 0);
    expect_log(&c, "request nested id=1 params=-\nresponse ok 2\n");
    lingma_rpc_free(rpc);
    ctx_free(&c);
}

/* close and free called from a callback, although forbidden, are deferred
 * to the end of the outer call instead of pulling the session away. */
static int
on_request_closer(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params,
                  void *payload)
{
    (void)id;
    (void)params;
    (void)payload;
    if (strcmp(method, "free") == 0)
        lingma_rpc_free(rpc);
    else
        lingma_rpc_close(rpc);
    return 0;
}

static void
test_close_from_callback_is_deferred(void **state)
{
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc;
    struct tagged t = {NULL, 0, 0, 0};
    static const char *b1 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"c\"}";
    static const char *b2 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}";
    static const char *b3 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"free\"}";
    char buf[512];
    int n = 0;

    (void)state;
    o.on_request = on_request_closer;
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "m", NULL, 0, on_tagged, &t), 0);
    n += lingma_frame_header(buf, sizeof(buf), strlen(b1));
    n += sprintf(buf + n, "%s", b1);
    n += lingma_frame_header(buf + n, sizeof(buf) - (size_t)n, strlen(b2));
    n += sprintf(buf + n, "%s", b2);
    assert_int_equal(lingma_rpc_recv(rpc, buf, (size_t)n), LINGMA_ECLOSED);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.status, LINGMA_ECLOSED);
    lingma_rpc_free(rpc);

    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    assert_int_equal(lingma_rpc_recv_message(rpc, b3, strlen(b3)), LINGMA_ECLOSED);
    /* rpc is gone; ASan/valgrind check that nothing leaked or was reused. */
}

/* Many requests in flight: every callback exactly once, timeouts in
 * deadline order, lookups by id through a table that grows and shrinks. */
struct many {
    int calls;
    int status;
    uint64_t deadline;
};

static uint64_t last_expired;
static int order_ok;

static void
on_many(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct many *m = payload;

    (void)rpc;
    (void)result;
    (void)err;
    m->calls++;
    m->status = status;
    if (status == LINGMA_ETIMEDOUT) {
        if (m->deadline < last_expired)
            order_ok = 0;
        last_expired = m->deadline;
    }
}

static void
test_many_pending(void **state)
{
    const int n = 20000;
    struct many *m = calloc((size_t)n, sizeof(*m));
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc;
    uint64_t seed = 12345;
    lingma_rpc_stats st;
    size_t expired = 0;

    (void)state;
    assert_non_null(m);
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    for (int i = 0; i < n; i++) {
        int64_t id;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        m[i].deadline = (i % 7 == 0) ? 0 : 1 + (seed >> 33) % 100000;
        assert_int_equal(lingma_rpc_call(rpc, &id, "m", NULL, m[i].deadline, on_many, &m[i]), 0);
        assert_int_equal(id, i + 1);
    }
    while (lingma_rpc_want_write(rpc)) {
        const char *p;
        lingma_rpc_mem_send(rpc, &p);
    }
    /* Answer every third, in reverse order. */
    for (int i = n - 1; i >= 0; i -= 3) {
        char body[96];
        snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":%d}", i + 1, i);
        assert_int_equal(peer(rpc, body), 0);
    }
    /* Cancel every fifth that is still pending. */
    for (int i = 0; i < n; i += 5)
        if (m[i].calls == 0)
            assert_int_equal(lingma_rpc_cancel(rpc, i + 1), 0);
    last_expired = 0;
    order_ok = 1;
    for (uint64_t now = 0; now <= 100000; now += 997)
        expired += lingma_rpc_tick(rpc, now);
    expired += lingma_rpc_tick(rpc, 100000);
    assert_true(order_ok);
    lingma_rpc_get_stats(rpc, &st);
    assert_int_equal(st.timeouts, expired);
    assert_int_equal(st.unknown_responses, 0);
    assert_int_equal(lingma_rpc_next_deadline(rpc), 0);
    lingma_rpc_free(rpc);
    for (int i = 0; i < n; i++) {
        assert_int_equal(m[i].calls, 1);
        if ((n - 1 - i) % 3 == 0)
            assert_int_equal(m[i].status, 0);
        else if (m[i].deadline == 0 && m[i].status != LINGMA_ECANCELED)
            assert_int_equal(m[i].status, LINGMA_ECLOSED);
    }
    free(m);
}

/* The pending set against a naive model: random inserts, takes by id and
 * by deadline; the hash table's backward-shift deletion is the subtle part. */
static void
test_pending_set_model(void **state)
{
    enum { N = 1024 };
    struct lingma__pending_set set = {0};
    struct lingma__pending *e = calloc(N, sizeof(*e));
    unsigned char *in = calloc(N, 1);
    uint64_t seed = 99;
    size_t count = 0;

    (void)state;
    assert_non_null(e);
    assert_non_null(in);
    for (int step = 0; step < 100000; step++) {
        unsigned op, k;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        op = (unsigned)(seed >> 60) % 4;
        k = (unsigned)(seed >> 20) % N;
        if (op <= 1 && !in[k]) {
            e[k].id = (int64_t)k * 7 + 1; /* strided ids collide more */
            e[k].deadline = (seed >> 8) % 3 ? 1 + (seed >> 30) % 1000 : 0;
            assert_int_equal(lingma__pending_reserve(&set, e[k].deadline != 0), 0);
            lingma__pending_insert(&set, &e[k]);
            in[k] = 1;
            count++;
        } else if (op == 2) {
            struct lingma__pending *p = lingma__pending_take(&set, (int64_t)k * 7 + 1);
            assert_true(p == (in[k] ? &e[k] : NULL));
            if (p) {
                in[k] = 0;
                count--;
            }
        } else if (op == 3) {
            uint64_t now = (seed >> 40) % 1000, min = 0;
            struct lingma__pending *p;
            for (unsigned i = 0; i < N; i++)
                if (in[i] && e[i].deadline && (!min || e[i].deadline < min))
                    min = e[i].deadline;
            assert_int_equal(lingma__pending_next_deadline(&set), min);
            p = lingma__pending_take_expired(&set, now);
            if (min && min <= now) {
                assert_non_null(p);
                assert_int_equal(p->deadline, min);
                in[p - e] = 0;
                count--;
            } else {
                assert_null(p);
            }
        }
        assert_int_equal(set.count, count);
    }
    for (struct lingma__pending *p = lingma__pending_take_all(&set); p; p = p->next) {
        assert_true(in[p - e]);
        in[p - e] = 0;
        count--;
    }
    assert_int_equal(count, 0);
    assert_int_equal(lingma__pending_next_deadline(&set), 0);
    lingma__pending_release(&set);
    free(e);
    free(in);
}

/* ---- golden transcripts: tests/data/rpc/NAME.in (peer bytes) and NAME.out ---- */

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Run one golden case with the input cut into chunks of `chunk` bytes. */
static char *
golden_transcript(const char *in, size_t in_len, size_t chunk)
{
    struct ctx c;
    lingma_rpc *rpc = session(&c, 1);
    lingma_rpc_stats st;
    int rc = 0;
    char *s;

    /* Three requests of ours are in flight: ids 1, 2 and 3 (3 with a deadline). */
    assert_int_equal(lingma_rpc_call(rpc, NULL, "a", NULL, 0, on_response, &c), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "b", NULL, 0, on_response, &c), 0);
    assert_int_equal(lingma_rpc_call(rpc, NULL, "c", NULL, 100, on_response, &c), 0);
    while (lingma_rpc_want_write(rpc))
        free(sent(rpc));
    for (size_t i = 0; i < in_len && rc == 0; i += chunk)
        rc = lingma_rpc_recv(rpc, in + i, in_len - i < chunk ? in_len - i : chunk);
    if (rc)
        ctx_printf(&c, "recv %s", lingma_error_name(rc));
    while ((s = sent(rpc)) != NULL) {
        ctx_printf(&c, "sent %s", s);
        free(s);
    }
    for (int i = 0; i < c.ndeferred; i++) {
        assert_int_equal(lingma_rpc_respond(rpc, c.deferred[i], json_string("late")), 0);
        s = sent(rpc);
        ctx_printf(&c, "sent %s", s);
        free(s);
    }
    lingma_rpc_get_stats(rpc, &st);
    ctx_printf(&c,
               "stats requests=%llu notifications=%llu responses=%llu malformed=%llu "
               "unknown=%llu sent=%llu pending=%zu",
               (unsigned long long)st.requests_received,
               (unsigned long long)st.notifications_received,
               (unsigned long long)st.responses_received, (unsigned long long)st.malformed,
               (unsigned long long)st.unknown_responses, (unsigned long long)st.responses_sent,
               lingma_rpc_pending_count(rpc));
    lingma_rpc_free(rpc);
    s = strdup(c.log);
    ctx_free(&c);
    return s;
}

static void
test_golden(void **state)
{
    const char *root = getenv("LINGMA_TEST_DATA");
    int update = getenv("LINGMA_GOLDEN_UPDATE") != NULL;
    char dir[512];
    DIR *d;
    struct dirent *e;
    int cases = 0;

    (void)state;
    assert_non_null(root);
    snprintf(dir, sizeof(dir), "%s/rpc", root);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), in_len, out_len;
        char path[1024], *in, *out, *got;

        if (len < 4 || strcmp(e->d_name + len - 3, ".in") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        in = read_file(path, &in_len);
        assert_non_null(in);
        got = golden_transcript(in, in_len, in_len ? in_len : 1);
        path[strlen(path) - 3] = '\0';
        strcat(path, ".out");
        if (update) {
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            fputs(got, f);
            fclose(f);
        }
        out = read_file(path, &out_len);
        if (!out)
            fail_msg("%s missing", path);
        if (strcmp(got, out) != 0)
            fail_msg("%s:\n%s\nexpected:\n%s", e->d_name, got, out);
        /* Same transcript whatever the chunking. */
        for (size_t chunk = 1; chunk <= 13; chunk += 4) {
            char *again = golden_transcript(in, in_len, chunk);
            if (strcmp(again, out) != 0)
                fail_msg("%s in chunks of %zu:\n%s", e->d_name, chunk, again);
            free(again);
        }
        free(got);
        free(out);
        free(in);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 5);
}

/* ---- allocation failures, ours and jansson's ---- */

static void
on_any(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    int *calls = payload;

    (void)rpc;
    (void)status;
    (void)result;
    (void)err;
    (*calls)++;
}

static int
on_request_fa(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    json_t **keep = payload;

    (void)params;
    if (strcmp(method, "defer") == 0 && !*keep) {
        *keep = json_deep_copy(id);
        return *keep ? LINGMA_RPC_DEFER : LINGMA_ENOMEM;
    }
    if (strcmp(method, "echo") == 0) {
        (void)lingma_rpc_respond(rpc, id, json_pack("{s:[i,s]}", "r", 1, "two"));
        return 0;
    }
    return LINGMA_EIO;
}

static void
alloc_scenario(struct failalloc *fa, long fail_at, long *failures)
{
    static const char *in_msgs[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":[1,2,{\"b\":\"c\"}]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"echo\",\"params\":{\"x\":\"\xc3\xa9\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"defer\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"fail\"}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"note\",\"params\":[1,2,3]}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-1,\"message\":\"m\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":77,\"result\":1}",
        "not json",
    };
    lingma_allocator a = failalloc_allocator(fa);
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc = NULL;
    json_t *keep = NULL;
    int calls = 0, started = 0, rc;
    char buf[2048];
    size_t n = 0;

    failalloc_arm(fa, fail_at);
    o.alloc = &a;
    o.on_request = on_request_fa;
    o.payload = &keep;
    rc = lingma_rpc_new(&rpc, &o);
    if (rc != 0) {
        assert_int_equal(rc, LINGMA_ENOMEM);
        assert_null(rpc);
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        rc = lingma_rpc_call(rpc, NULL, "m", json_pack("{s:s,s:f}", "k", "v", "t", 0.5),
                             i == 3 ? 10 : 0, on_any, &calls);
        assert_true(rc == 0 || rc == LINGMA_ENOMEM);
        started += rc == 0;
    }
    rc = lingma_rpc_notify(rpc, "n", json_array());
    assert_true(rc == 0 || rc == LINGMA_ENOMEM);
    for (size_t i = 0; i < sizeof(in_msgs) / sizeof(in_msgs[0]); i++) {
        size_t len = strlen(in_msgs[i]);
        n += (size_t)lingma_frame_header(buf + n, sizeof(buf) - n, len);
        memcpy(buf + n, in_msgs[i], len);
        n += len;
    }
    /* Feed in two uneven parts; on ENOMEM go on with the rest anyway (a
     * message may be lost; the session must stay sound). */
    rc = lingma_rpc_recv(rpc, buf, 100);
    assert_true(rc == 0 || rc == LINGMA_ENOMEM);
    rc = lingma_rpc_recv(rpc, buf + 100, n - 100);
    assert_true(rc == 0 || rc == LINGMA_ENOMEM || rc == LINGMA_EPROTO);
    for (int i = 0; i < 3; i++) {
        rc = lingma_rpc_recv(rpc, NULL, 0);
        assert_true(rc == 0 || rc == LINGMA_ENOMEM || rc == LINGMA_EPROTO);
    }
    if (keep) {
        rc = lingma_rpc_respond(rpc, keep, json_string("late"));
        assert_true(rc == 0 || rc == LINGMA_ENOMEM);
        json_decref(keep);
    }
    {
        const char *p;
        while (lingma_rpc_mem_send(rpc, &p) > 0)
            assert_non_null(p);
    }
    (void)lingma_rpc_tick(rpc, 10);
    lingma_rpc_free(rpc);
    assert_int_equal(calls, started);
out:
    *failures = fa->failures;
    assert_int_equal(fa->live, 0);
}

static void
test_alloc_failures(void **state)
{
    struct failalloc fa = {0};
    long failures = 0;
    long n;

    (void)state;
    failalloc_hook_jansson(&fa);
    for (n = 0; n < 100000; n++) {
        alloc_scenario(&fa, n, &failures);
        if (failures == 0)
            break;
    }
    failalloc_hook_jansson(NULL);
    assert_true(n > 20);
    assert_int_equal(failures, 0);
}

/* Small frames reuse the blocks of frames already sent: once warm, a burst
 * of ACKs allocates nothing. Each pulled frame stays put while more are
 * queued, and a large frame still goes out whole. */
static void
test_frame_blocks_reused(void **state)
{
    struct failalloc fa = {0};
    lingma_allocator a = failalloc_allocator(&fa);
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc *rpc;
    const char *out;
    char expect[64];
    (void)state;

    failalloc_arm(&fa, -1);
    o.alloc = &a;
    assert_int_equal(lingma_rpc_new(&rpc, &o), 0);
    for (int round = 0; round < 3; round++) {
        long before = fa.count;
        for (int i = 1; i <= 8; i++)
            assert_int_equal(lingma__rpc_respond_literal(rpc, i, "true"), 0);
        if (round > 0)
            assert_int_equal(fa.count, before); /* the blocks of round 0 */
        for (int i = 1; i <= 8; i++) {
            size_t n = lingma_rpc_mem_send(rpc, &out);
            snprintf(expect, sizeof(expect), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":true}", i);
            assert_true(n > strlen(expect));
            /* Queued meanwhile: the lent frame does not move. */
            assert_int_equal(lingma__rpc_respond_literal(rpc, 100 + i, "null"), 0);
            assert_memory_equal(out + n - strlen(expect), expect, strlen(expect));
        }
        while (lingma_rpc_mem_send(rpc, &out) > 0)
            ;
    }
    char *text = malloc(10000);
    assert_non_null(text);
    memset(text, 'x', 10000);
    json_t *big = json_stringn(text, 10000);
    free(text);
    assert_int_equal(lingma_rpc_notify(rpc, "big", json_pack("{s:o}", "t", big)), 0);
    assert_true(lingma_rpc_mem_send(rpc, &out) > 10000);
    assert_int_equal(lingma_rpc_mem_send(rpc, &out), 0);
    lingma_rpc_free(rpc);
    assert_int_equal(fa.live, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_bad_arguments),
        cmocka_unit_test(test_call_ids_and_mem_send_order),
        cmocka_unit_test(test_responses_matched_by_integer_id),
        cmocka_unit_test(test_results_through_the_raw_hook),
        cmocka_unit_test(test_deadlines_and_tick),
        cmocka_unit_test(test_requests_from_peer),
        cmocka_unit_test(test_defer_and_late_respond),
        cmocka_unit_test(test_no_handler_answers_null),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_malformed_messages_are_skipped),
        cmocka_unit_test(test_broken_framing),
        cmocka_unit_test(test_chunked_input),
        cmocka_unit_test(test_close_fails_pending_once),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_reentrant_callbacks),
        cmocka_unit_test(test_calls_from_request_handler),
        cmocka_unit_test(test_close_from_callback_is_deferred),
        cmocka_unit_test(test_many_pending),
        cmocka_unit_test(test_pending_set_model),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_frame_blocks_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
