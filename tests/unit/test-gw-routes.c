/*
 * Unit tests of route_table.c (paths, methods, Allow, auth kinds) and
 * cors.c (origin lists, preflight headers). Pure: no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"

#include "aliases.h"
#include "cors.h"
#include "route_table.h"

static gw_route_id
route_of(const char *path)
{
    gw_route_match m;
    gw_route_match_path(&m, path);
    return m.route;
}

static void
test_paths(void **state)
{
    (void)state;
    assert_int_equal(route_of("/v1/chat/completions"), GW_R_CHAT);
    assert_int_equal(route_of("/chat/completions"), GW_R_CHAT);
    assert_int_equal(route_of("/v1/models"), GW_R_MODELS);
    assert_int_equal(route_of("/models"), GW_R_MODELS);
    assert_int_equal(route_of("/healthz"), GW_R_HEALTHZ);
    assert_int_equal(route_of("/livez"), GW_R_LIVEZ);
    assert_int_equal(route_of("/metrics"), GW_R_METRICS);
    assert_int_equal(route_of("/internal/stats"), GW_R_STATS);
    assert_int_equal(route_of("/internal/auto-login/start"), GW_R_LOGIN_START);
    assert_int_equal(route_of("/internal/auto-login/status"), GW_R_LOGIN_STATUS);
    /* Operations routes exist only without the prefix. */
    assert_int_equal(route_of("/v1/healthz"), GW_R_NONE);
    assert_int_equal(route_of("/v1/livez"), GW_R_NONE);
    assert_int_equal(route_of("/v1/internal/stats"), GW_R_NONE);
    const char *none[] = {"",
                          "/",
                          "/v1",
                          "/v1/",
                          "/v1/chat/completions/",
                          "//v1/models",
                          "/v1/../healthz",
                          "/V1/models",
                          "/v1/models/",
                          "/v1/models/a/b",
                          "/healthz/",
                          "/metrics?x"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (route_of(none[i]) != GW_R_NONE)
            fail_msg("'%s' matched a route", none[i]);

    gw_route_match m;
    gw_route_match_path(&m, "/v1/models/dashscope_qwen3_coder");
    assert_int_equal(m.route, GW_R_MODEL);
    assert_string_equal(m.param, "dashscope_qwen3_coder");
    assert_string_equal(m.label, "/v1/models/{id}");
    assert_true(m.api);
    assert_int_equal(m.param_len, strlen("dashscope_qwen3_coder"));

    /* The Responses API: POST /v1/responses, {id} and {id}/input_items. */
    assert_int_equal(route_of("/v1/responses"), GW_R_RESPONSES);
    assert_int_equal(route_of("/responses"), GW_R_RESPONSES);
    gw_route_match_path(&m, "/v1/responses/resp_abc");
    assert_int_equal(m.route, GW_R_RESPONSE);
    assert_string_equal(m.label, "/v1/responses/{id}");
    assert_int_equal(m.param_len, 8);
    assert_memory_equal(m.param, "resp_abc", 8);
    assert_true(m.api);
    gw_route_match_path(&m, "/v1/responses/resp_abc/input_items");
    assert_int_equal(m.route, GW_R_RESPONSE_ITEMS);
    assert_string_equal(m.label, "/v1/responses/{id}/input_items");
    assert_int_equal(m.param_len, 8);
    assert_memory_equal(m.param, "resp_abc/input_items", 20);
    gw_route_match_path(&m, "/responses/r/input_items");
    assert_int_equal(m.route, GW_R_RESPONSE_ITEMS);
    assert_int_equal(m.param_len, 1);
    const char *not_responses[] = {"/v1/responses/",
                                   "/v1/responses//input_items",
                                   "/v1/responses/r/",
                                   "/v1/responses/r/input_items/",
                                   "/v1/responses/r/cancel",
                                   "/v1/responses/r/x/input_items",
                                   "/v1/responses/input_items/x"};
    for (size_t i = 0; i < sizeof(not_responses) / sizeof(not_responses[0]); i++)
        if (route_of(not_responses[i]) != GW_R_NONE)
            fail_msg("'%s' matched a route", not_responses[i]);

    gw_route_match_path(&m, "/nowhere");
    assert_string_equal(m.label, "other");
    assert_null(m.param);
    assert_false(m.api);
}

static void
test_methods(void **state)
{
    (void)state;
    assert_int_equal(gw_route_method(GW_R_MODELS, "GET", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_MODELS, "HEAD", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_MODELS, "POST", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_CHAT, "POST", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_CHAT, "HEAD", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_CHAT, "post", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_CHAT, "OPTIONS", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_CHAT, "OPTIONS", true), GW_METHOD_PREFLIGHT);
    /* CORS covers the /v1 API only. */
    assert_int_equal(gw_route_method(GW_R_HEALTHZ, "OPTIONS", true), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_NONE, "GET", true), GW_METHOD_NOT_ALLOWED);
    assert_string_equal(gw_route_allow(GW_R_MODELS, false), "GET, HEAD");
    assert_string_equal(gw_route_allow(GW_R_CHAT, false), "POST");
    assert_string_equal(gw_route_allow(GW_R_CHAT, true), "POST, OPTIONS");
    assert_string_equal(gw_route_allow(GW_R_HEALTHZ, true), "GET, HEAD");
    assert_int_equal(gw_route_method(GW_R_RESPONSES, "POST", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_RESPONSES, "GET", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_RESPONSE, "GET", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_RESPONSE, "DELETE", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_RESPONSE, "POST", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_RESPONSE_ITEMS, "GET", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_RESPONSE_ITEMS, "DELETE", false), GW_METHOD_NOT_ALLOWED);
    assert_string_equal(gw_route_allow(GW_R_RESPONSES, false), "POST");
    assert_string_equal(gw_route_allow(GW_R_RESPONSE, false), "GET, HEAD, DELETE");
    assert_string_equal(gw_route_allow(GW_R_RESPONSE, true), "GET, HEAD, DELETE, OPTIONS");
    assert_string_equal(gw_route_allow(GW_R_RESPONSE_ITEMS, false), "GET, HEAD");
    assert_int_equal(gw_route_auth_kind(GW_R_RESPONSE), GW_AUTH_API_KEY);
    assert_int_equal(gw_route_auth_kind(GW_R_HEALTHZ), GW_AUTH_NONE);
    assert_int_equal(gw_route_auth_kind(GW_R_LIVEZ), GW_AUTH_NONE);
    assert_string_equal(gw_route_allow(GW_R_LIVEZ, true), "GET, HEAD");
    assert_int_equal(gw_route_auth_kind(GW_R_METRICS), GW_AUTH_METRICS);
    assert_int_equal(gw_route_auth_kind(GW_R_LOGIN_START), GW_AUTH_API_KEY);
    assert_int_equal(gw_route_auth_kind(GW_R_NONE), GW_AUTH_API_KEY);
}

/* The Anthropic Messages routes: paths, Anthropic's error family, methods. */
static void
test_messages_routes(void **state)
{
    (void)state;
    assert_int_equal(route_of("/v1/messages"), GW_R_MESSAGES);
    assert_int_equal(route_of("/v1/messages/count_tokens"), GW_R_COUNT_TOKENS);
    assert_int_equal(route_of("/messages"), GW_R_MESSAGES);
    const char *none[] = {"/v1/messages/", "/v1/messages/count_tokens/", "/v1/messages/batches",
                          "/v1/Messages"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (route_of(none[i]) != GW_R_NONE)
            fail_msg("'%s' matched a route", none[i]);
    gw_route_match m;
    gw_route_match_path(&m, "/v1/messages");
    assert_int_equal(m.errors, GW_API_ANTHROPIC);
    assert_string_equal(m.label, "/v1/messages");
    assert_true(m.api);
    gw_route_match_path(&m, "/v1/messages/count_tokens");
    assert_int_equal(m.errors, GW_API_ANTHROPIC);
    assert_string_equal(m.label, "/v1/messages/count_tokens");
    gw_route_match_path(&m, "/v1/chat/completions");
    assert_int_equal(m.errors, GW_API_OPENAI);
    assert_int_equal(gw_route_method(GW_R_MESSAGES, "POST", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_MESSAGES, "GET", false), GW_METHOD_NOT_ALLOWED);
    assert_int_equal(gw_route_method(GW_R_COUNT_TOKENS, "POST", false), GW_METHOD_OK);
    assert_int_equal(gw_route_method(GW_R_COUNT_TOKENS, "OPTIONS", true), GW_METHOD_PREFLIGHT);
    assert_string_equal(gw_route_allow(GW_R_MESSAGES, true), "POST, OPTIONS");
    assert_int_equal(gw_route_auth_kind(GW_R_MESSAGES), GW_AUTH_API_KEY);
    assert_int_equal(gw_route_auth_kind(GW_R_COUNT_TOKENS), GW_AUTH_API_KEY);
}

static void
test_cors(void **state)
{
    (void)state;
    gw_cors *c = NULL;
    char err[256];
    assert_int_equal(gw_cors_new(&c, NULL, err, sizeof(err)), 0);
    assert_null(c);
    assert_int_equal(gw_cors_new(&c, " , ", err, sizeof(err)), 0);
    assert_null(c);
    assert_null(gw_cors_allow_origin(NULL, "https://a.example"));

    assert_int_equal(gw_cors_new(&c, "https://a.example, http://localhost:5173/", err, sizeof(err)),
                     0);
    assert_non_null(c);
    assert_string_equal(gw_cors_allow_origin(c, "https://a.example"), "https://a.example");
    assert_string_equal(gw_cors_allow_origin(c, "HTTPS://A.EXAMPLE"), "https://a.example");
    assert_string_equal(gw_cors_allow_origin(c, "http://localhost:5173"), "http://localhost:5173");
    assert_null(gw_cors_allow_origin(c, "https://b.example"));
    assert_null(gw_cors_allow_origin(c, "https://a.example.evil"));
    assert_null(gw_cors_allow_origin(c, "null"));
    assert_null(gw_cors_allow_origin(c, ""));
    gw_cors_free(c);

    assert_int_equal(gw_cors_new(&c, "*", err, sizeof(err)), 0);
    assert_string_equal(gw_cors_allow_origin(c, "https://any.example"), "*");
    assert_null(gw_cors_allow_origin(c, NULL));
    gw_cors_free(c);

    const char *bad[] = {"a.example", "https://",    "https://a.example/path",
                         "ftp//x",    "https://a b", "https://a\r\nX: y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = NULL;
        if (gw_cors_new(&c, bad[i], err, sizeof(err)) != LINGMA_EINVAL)
            fail_msg("origin '%s' accepted", bad[i]);
        assert_null(c);
        assert_non_null(strstr(err, "GATEWAY_CORS_ORIGINS"));
    }

    char buf[600];
    assert_string_equal(gw_cors_allow_headers(buf, sizeof(buf), "authorization, x-stainless-os"),
                        "authorization, x-stainless-os");
    assert_non_null(strstr(gw_cors_allow_headers(buf, sizeof(buf), "a\r\nb"), "authorization"));
    assert_non_null(strstr(gw_cors_allow_headers(buf, sizeof(buf), NULL), "content-type"));
    char longreq[700];
    memset(longreq, 'a', sizeof(longreq) - 1);
    longreq[sizeof(longreq) - 1] = '\0';
    assert_non_null(strstr(gw_cors_allow_headers(buf, sizeof(buf), longreq), "x-api-key"));
}

static void
test_aliases(void **state)
{
    (void)state;
    gw_aliases *a = NULL;
    char err[256];
    assert_int_equal(gw_aliases_new(&a, GW_ALIASES_DEFAULT, err, sizeof(err)), 0);
    assert_string_equal(gw_aliases_apply(a, "claude-opus-5-5"), "auto");
    assert_string_equal(gw_aliases_apply(a, "Claude-Haiku-4-5-20251001"), "auto");
    assert_null(gw_aliases_apply(a, "gpt-5"));
    assert_null(gw_aliases_apply(a, NULL));
    gw_aliases_free(a);

    assert_int_equal(
        gw_aliases_new(&a, " gpt-5*= dashscope_qwen3_coder ,o?-mini=auto,, *=x", err, sizeof(err)),
        0);
    assert_string_equal(gw_aliases_apply(a, "gpt-5-codex"), "dashscope_qwen3_coder");
    assert_string_equal(gw_aliases_apply(a, "o4-mini"), "auto");
    assert_string_equal(gw_aliases_apply(a, "anything"), "x"); /* first match wins */
    gw_aliases_free(a);

    a = NULL;
    assert_int_equal(gw_aliases_new(&a, "", err, sizeof(err)), 0);
    assert_null(a);
    assert_int_equal(gw_aliases_new(&a, "None", err, sizeof(err)), 0);
    assert_null(a);
    assert_null(gw_aliases_apply(NULL, "claude-x"));
    const char *bad[] = {"claude-*", "=auto", "claude-*=", "a=b,c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = NULL;
        if (gw_aliases_new(&a, bad[i], err, sizeof(err)) != LINGMA_EINVAL)
            fail_msg("alias list '%s' accepted", bad[i]);
        assert_null(a);
        assert_non_null(strstr(err, "GATEWAY_MODEL_ALIASES"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),           cmocka_unit_test(test_methods),
        cmocka_unit_test(test_messages_routes), cmocka_unit_test(test_cors),
        cmocka_unit_test(test_aliases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
