/*
 * Integration: every lingma-sim method outside the chat engine, and the
 * framing rules on both sides (split, packed, binary, bare JSON, /ws).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lingma/sys/frame.h"
#include "simfx.h"

static json_t *
call_ok(struct simc *c, const char *method, json_t *params)
{
    json_t *r = NULL;
    assert_int_equal(simc_call(c, method, params ? params : json_object(), &r, NULL, SIMFX_WAIT),
                     0);
    return r;
}

static void
test_lifecycle(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    json_t *r = call_ok(f->c, "initialize", json_object());
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "serverInfo"), "version")), "2.11.1");
    assert_true(json_is_object(json_object_get(r, "capabilities")));
    assert_true(json_is_object(json_object_get(r, "experimental")));
    json_decref(r);
    assert_int_equal(lingma_rpc_notify(f->c->rpc, "initialized", json_object()), 0);
    assert_int_equal(lingma_rpc_notify(f->c->rpc, "some/unknownNotification", NULL), 0);
    r = call_ok(f->c, "ping", NULL);
    assert_true(json_is_true(json_object_get(r, "success")));
    json_decref(r);
    r = call_ok(f->c, "shutdown", NULL);
    assert_true(json_is_null(r));
    json_decref(r);
    /* nothing but responses came back for the notifications */
    assert_int_equal(json_array_size(f->c->events), 0);
    simfx_stop(f);
}

static void
test_auth_and_models(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    json_t *r = call_ok(f->c, "auth/status", NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "whitelist")), 3);
    static const char *fields[] = {"name",
                                   "id",
                                   "accountId",
                                   "token",
                                   "refreshToken",
                                   "expireTime",
                                   "quota",
                                   "orgId",
                                   "orgName",
                                   "yxUid",
                                   "avatarUrl",
                                   "userType",
                                   "cloudType",
                                   "privacyPolicyAgreed",
                                   "email",
                                   "isSubAccount",
                                   "userTag",
                                   "messageId",
                                   "isPrivacyPolicyModifiable"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
        assert_non_null(json_object_get(r, fields[i]));
    assert_true(json_string_length(json_object_get(r, "token")) > 0);
    assert_string_equal(json_string_value(json_object_get(r, "userType")), "personal_standard");
    json_decref(r);

    r = call_ok(f->c, "config/queryModels", NULL);
    static const char *scenes[] = {"assistant", "chat", "developer", "inline", "quest"};
    for (size_t s = 0; s < 5; s++) {
        json_t *list = json_object_get(r, scenes[s]);
        assert_int_equal(json_array_size(list), 3);
        json_t *item = json_array_get(list, 2);
        assert_string_equal(json_string_value(json_object_get(item, "key")),
                            "dashscope_qwen_plus_20250428_thinking");
        assert_true(json_is_true(json_object_get(item, "isReasoning")));
        static const char *keys[] = {"displayName", "format", "source", "isVl",
                                     "url",         "apiKey", "model"};
        for (size_t k = 0; k < 7; k++)
            assert_non_null(json_object_get(item, keys[k]));
    }
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(r, "chat"), 0), "key")),
        "auto");
    json_decref(r);
    simfx_stop(f);
}

static void
test_logged_out(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    simfx_start(f, env);
    json_t *r = call_ok(f->c, "auth/status", NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 1);
    assert_string_equal(json_string_value(json_object_get(r, "token")), "");
    assert_string_equal(json_string_value(json_object_get(r, "refreshToken")), "");
    assert_string_equal(json_string_value(json_object_get(r, "accountId")), "");
    json_decref(r);
    r = call_ok(f->c, "config/queryModels", NULL);
    assert_int_equal(json_object_size(r), 0);
    json_decref(r);
    assert_false(simproc_file_exists(f->p.dir, "cache/user"));
    assert_true(simproc_file_exists(f->p.dir, "cache/id"));
    simfx_ask(f->c, "lo", "q", "", NULL);
    json_t *fin = simfx_finish(f, f->c, "lo");
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 401);
    simfx_stop(f);
}

static void
test_endpoint_and_other_methods(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    json_t *r = call_ok(f->c, "config/getEndpoint", NULL);
    assert_string_equal(json_string_value(json_object_get(r, "endpoint")), "");
    json_decref(r);
    r = call_ok(f->c, "config/updateEndpoint",
                json_pack("{s:s}", "endpoint", "https://lingma.alibabacloud.com"));
    assert_true(json_is_true(json_object_get(r, "success")));
    json_decref(r);
    r = call_ok(f->c, "config/getEndpoint", NULL);
    assert_string_equal(json_string_value(json_object_get(r, "endpoint")),
                        "https://lingma.alibabacloud.com");
    json_decref(r);

    static const char *plugin[] = {"chat/like", "config/getGlobal", "model/queryClasses",
                                   "chat/clearAllSessions", "user/plan"};
    for (size_t i = 0; i < 5; i++) {
        r = call_ok(f->c, plugin[i], NULL);
        assert_true(json_is_object(r) || json_is_null(r));
        json_decref(r);
    }
    int code = 0;
    assert_int_equal(simc_call(f->c, "no/suchMethod", json_object(), &r, &code, SIMFX_WAIT),
                     LINGMA_ERPC);
    assert_int_equal(code, -32601);
    assert_int_equal(simc_call(f->c, "frobnicate", NULL, &r, &code, SIMFX_WAIT), LINGMA_ERPC);
    assert_int_equal(code, -32601);
    simfx_stop(f);
}

/* ---- raw framing ------------------------------------------------------ */

struct frames {
    json_t *list;
};

static int
collect(const char *body, size_t len, void *payload)
{
    struct frames *fr = payload;
    json_t *j = json_loadb(body, len, 0, NULL);
    if (j)
        json_array_append_new(fr->list, j);
    return 0;
}

struct raw_wait {
    struct wsc *ws;
    lingma_frame_decoder *dec;
    struct frames fr;
    size_t want;
};

static bool
raw_have(void *p)
{
    struct raw_wait *w = p;
    size_t n;
    const unsigned char *b = wsc_rx(w->ws, &n);
    if (n) {
        lingma_frame_decoder_feed(w->dec, b, n, collect, &w->fr);
        wsc_rx_consume(w->ws, n);
    }
    return json_array_size(w->fr.list) >= w->want;
}

static char *
frame_of(const char *json, size_t *len)
{
    char *out;
    assert_int_equal(lingma_frame_encode(&out, len, json, strlen(json), 0, NULL), 0);
    return out;
}

static void
test_client_framing(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    struct wsc *ws = wsc_connect(f->ctx, f->p.port, "/ws", SIMFX_WAIT);
    assert_non_null(ws);
    struct raw_wait w = {.ws = ws, .fr.list = json_array()};
    assert_int_equal(lingma_frame_decoder_new(&w.dec, 0, NULL), 0);

    /* one frame split over three messages: inside the header and the body */
    size_t n;
    char *fr = frame_of(
        "{\"jsonrpc\":\"2.0\",\"id\":\"init-1\",\"method\":\"initialize\",\"params\":{}}", &n);
    wsc_send(ws, fr, 7, false);
    wsc_send(ws, fr + 7, 30, false);
    wsc_send(ws, fr + 37, n - 37, true);
    free(fr);
    w.want = 1;
    assert_int_equal(wsc_wait(f->ctx, SIMFX_WAIT, raw_have, &w), 0);
    json_t *resp = json_array_get(w.fr.list, 0);
    assert_string_equal(json_string_value(json_object_get(resp, "id")), "init-1");

    /* bare JSON is ignored (no reply); three frames packed in one message */
    const char *bare = "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"ping\"}";
    wsc_send(ws, bare, strlen(bare), false);
    char packed[1024];
    size_t plen = 0;
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}", 10 + i);
        char *one = frame_of(body, &n);
        memcpy(packed + plen, one, n);
        plen += n;
        free(one);
    }
    wsc_send(ws, packed, plen, false);
    w.want = 4;
    assert_int_equal(wsc_wait(f->ctx, SIMFX_WAIT, raw_have, &w), 0);
    for (int i = 0; i < 3; i++) {
        json_t *r = json_array_get(w.fr.list, (size_t)(1 + i));
        assert_int_equal(json_integer_value(json_object_get(r, "id")), 10 + i);
        assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "success")));
    }
    /* a round trip later the bare JSON has still not been answered */
    fr = frame_of("{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"ping\"}", &n);
    wsc_send(ws, fr, n, false);
    free(fr);
    w.want = 5;
    assert_int_equal(wsc_wait(f->ctx, SIMFX_WAIT, raw_have, &w), 0);
    assert_int_equal(json_array_size(w.fr.list), 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_not_equal(
            json_integer_value(json_object_get(json_array_get(w.fr.list, i), "id")), 99);
    assert_int_equal(simproc_wait_file_contains(f->p.dir, "logs/lingma.log",
                                                "Unknown message header", SIMFX_WAIT),
                     0);
    lingma_frame_decoder_free(w.dec);
    json_decref(w.fr.list);
    wsc_close(ws);
    simfx_stop(f);
}

static void
server_framing(struct simfx *f, const char *setting, bool more_messages)
{
    const char *env[] = {setting, NULL};
    simfx_start(f, env);
    struct wsc *ws = wsc_connect(f->ctx, f->p.port, "/", SIMFX_WAIT);
    assert_non_null(ws);
    struct raw_wait w = {.ws = ws, .fr.list = json_array()};
    assert_int_equal(lingma_frame_decoder_new(&w.dec, 0, NULL), 0);
    size_t n;
    json_t *ask = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method", "chat/ask",
                            "params", simc_ask_params("sf", "framing", "", NULL));
    char *body = json_dumps(ask, JSON_COMPACT);
    json_decref(ask);
    char *fr = frame_of(body, &n);
    free(body);
    wsc_send(ws, fr, n, false);
    free(fr);
    /* ask result + step_start + title + 10 answers + finish + step_end */
    w.want = 15;
    size_t before = wsc_messages(ws);
    assert_int_equal(wsc_wait(f->ctx, SIMFX_WAIT, raw_have, &w), 0);
    size_t msgs = wsc_messages(ws) - before;
    if (more_messages)
        assert_true(msgs >= 3 * 15);
    else
        assert_true(msgs < 15);
    size_t nfin = 0;
    for (size_t i = 0; i < json_array_size(w.fr.list); i++) {
        json_t *m = json_array_get(w.fr.list, i);
        const char *meth = json_string_value(json_object_get(m, "method"));
        if (meth && !strcmp(meth, "chat/finish")) {
            nfin++;
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(m, "params"), "fullAnswer")),
                "ECHO: framing");
        }
    }
    assert_int_equal(nfin, 1);
    lingma_frame_decoder_free(w.dec);
    json_decref(w.fr.list);
    wsc_close(ws);
    simfx_stop(f);
}

static void
test_server_split(void **state)
{
    server_framing(*state, "LINGMA_SIM_SPLIT=1", true);
}

static void
test_server_coalesce(void **state)
{
    server_framing(*state, "LINGMA_SIM_COALESCE=1", false);
}

static void
test_exit_notification(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    assert_int_equal(lingma_rpc_notify(f->c->rpc, "exit", NULL), 0);
    wsc_flush(f->c->ws, SIMFX_WAIT);
    int st = -1;
    assert_int_equal(simproc_wait_exit(&f->p, simproc_scale(3000), &st), 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_false(simproc_file_exists(f->p.dir, ".info"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, simfx_setup, simfx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lifecycle),       T(test_auth_and_models),
        T(test_logged_out),      T(test_endpoint_and_other_methods),
        T(test_client_framing),  T(test_server_split),
        T(test_server_coalesce), T(test_exit_notification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
