/* Unit tests for lingma-gatewayd/openai.c, openai_prompt.c and openai_model.c:
 * request parsing and validation, prompt flattening, affinity, models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "lingma/common.h"
#include "openai.h"
#include "toolset.h"

static gw_chat_request *
parse_ok(const char *body)
{
    gw_chat_request *r = NULL;
    gw_error err;
    memset(&err, 0, sizeof(err));
    int rc = gw_chat_request_parse(&r, &err, body, strlen(body));
    if (rc != 0)
        fail_msg("unexpected error for %s: %s", body, err.message);
    assert_non_null(r);
    return r;
}

/* Parse `body` expecting a 400 with `code` and `param` ("" = null); returns
 * the message for further checks (static storage). */
static const char *
parse_bad_n(const char *body, size_t len, const char *code, const char *param)
{
    static gw_error err;
    gw_chat_request *r = (gw_chat_request *)(uintptr_t)1;
    memset(&err, 0, sizeof(err));
    int rc = gw_chat_request_parse(&r, &err, body, len);
    if (rc != LINGMA_EINVAL)
        fail_msg("expected EINVAL for %.*s, got %d", (int)len, body, rc);
    assert_null(r);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    if (!err.code || strcmp(err.code, code) != 0)
        fail_msg("code %s, expected %s (%s)", err.code ? err.code : "(null)", code, err.message);
    assert_string_equal(err.param, param);
    assert_true(err.message[0] != '\0');
    return err.message;
}

static const char *
parse_bad(const char *body, const char *code, const char *param)
{
    return parse_bad_n(body, strlen(body), code, param);
}

#define MSG1 "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void
test_minimal(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok("{" MSG1 "}");
    assert_null(r->model);
    assert_int_equal(r->n_messages, 1);
    assert_int_equal(r->messages[0].role, GW_ROLE_USER);
    assert_string_equal(r->messages[0].content, "hi");
    assert_false(r->stream);
    assert_false(r->include_usage);
    assert_null(r->user);
    assert_int_equal(r->max_tokens, 0);
    assert_false(r->has_temperature);
    assert_false(r->has_top_p);
    assert_int_equal(r->n_stop, 0);
    assert_null(r->tools);
    assert_null(r->tool_choice);
    gw_chat_request_free(r);
    gw_chat_request_free(NULL);
}

static void
test_full(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok(
        "{\"model\":\"qwen3-coder\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\"}]},"
        "{\"role\":\"user\",\"content\":\"What?\",\"name\":\"bob\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"get\",\"arguments\":\"{\\\"x\\\":1}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"},"
        "{\"role\":\"function\",\"name\":\"f\",\"content\":\"r\"}],"
        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"u-1\","
        "\"max_tokens\":100,\"max_completion_tokens\":50,\"temperature\":0.7,\"top_p\":1,"
        "\"stop\":[\"END\",\"\",\"STOP\"],\"n\":1,"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get\",\"parameters\":{}}}],"
        "\"tool_choice\":\"auto\",\"seed\":7,\"presence_penalty\":0,\"logprobs\":false,"
        "\"response_format\":{\"type\":\"text\"},\"unknown_field\":[1,2,3]}");
    assert_string_equal(r->model, "qwen3-coder");
    assert_int_equal(r->n_messages, 6);
    assert_int_equal(r->messages[0].role, GW_ROLE_SYSTEM);
    assert_int_equal(r->messages[1].role, GW_ROLE_DEVELOPER);
    assert_string_equal(r->messages[1].content, "a\nb");
    assert_string_equal(r->messages[2].name, "bob");
    assert_int_equal(r->messages[3].role, GW_ROLE_ASSISTANT);
    assert_null(r->messages[3].content);
    assert_int_equal(r->messages[3].n_tool_calls, 1);
    assert_string_equal(r->messages[3].tool_calls[0].id, "c1");
    assert_string_equal(r->messages[3].tool_calls[0].name, "get");
    assert_string_equal(r->messages[3].tool_calls[0].arguments, "{\"x\":1}");
    assert_int_equal(r->messages[4].role, GW_ROLE_TOOL);
    assert_string_equal(r->messages[4].tool_call_id, "c1");
    assert_int_equal(r->messages[5].role, GW_ROLE_FUNCTION);
    assert_true(r->stream);
    assert_true(r->include_usage);
    assert_string_equal(r->user, "u-1");
    assert_int_equal(r->max_tokens, 50);
    assert_true(r->has_temperature);
    assert_true(r->temperature > 0.69 && r->temperature < 0.71);
    assert_true(r->has_top_p);
    assert_int_equal(r->n_stop, 2);
    assert_string_equal(r->stop[0], "END");
    assert_string_equal(r->stop[1], "STOP");
    assert_non_null(r->tools);
    assert_int_equal(r->n_tools, 1);
    assert_string_equal(json_string_value(r->tool_choice), "auto");
    gw_chat_request_free(r);
}

static void
test_nulls_are_absent(void **state)
{
    (void)state;
    gw_chat_request *r =
        parse_ok("{\"model\":null," MSG1 ",\"stream\":null,\"stream_options\":null,\"user\":null,"
                 "\"max_tokens\":null,\"temperature\":null,\"top_p\":null,\"stop\":null,\"n\":null,"
                 "\"tools\":null,\"tool_choice\":null,\"seed\":null}");
    assert_null(r->model);
    assert_false(r->stream);
    assert_false(r->has_temperature);
    assert_int_equal(r->n_stop, 0);
    gw_chat_request_free(r);
    r = parse_ok("{" MSG1 ",\"stop\":\"\\n\\n\",\"max_tokens\":1}");
    assert_int_equal(r->n_stop, 1);
    assert_string_equal(r->stop[0], "\n\n");
    assert_int_equal(r->max_tokens, 1);
    gw_chat_request_free(r);
    /* stream_options without stream is accepted and unused. */
    r = parse_ok("{" MSG1 ",\"stream_options\":{\"include_usage\":false}}");
    assert_false(r->include_usage);
    gw_chat_request_free(r);
}

static void
test_invalid_json(void **state)
{
    (void)state;
    const char *m = parse_bad("", "invalid_json", "");
    assert_non_null(strstr(m, "empty"));
    parse_bad("{", "invalid_json", "");
    parse_bad("{\"messages\":[}", "invalid_json", "");
    parse_bad("nope", "invalid_json", "");
    parse_bad("{" MSG1 "} trailing", "invalid_json", "");
    m = parse_bad("[1,2]", "invalid_json", "");
    assert_non_null(strstr(m, "must be a JSON object"));
    parse_bad("\"str\"", "invalid_json", "");
    parse_bad("42", "invalid_json", "");
    /* Numbers JSON cannot hold. */
    parse_bad("{" MSG1 ",\"temperature\":NaN}", "invalid_json", "");
    parse_bad("{" MSG1 ",\"temperature\":1e400}", "invalid_json", "");
    parse_bad("{" MSG1 ",\"max_tokens\":9223372036854775808}", "invalid_json", "");
    /* Duplicate keys are refused. */
    m = parse_bad("{" MSG1 ",\"model\":\"a\",\"model\":\"b\"}", "invalid_json", "");
    assert_non_null(strstr(m, "duplicate"));
    /* \u0000 and lone surrogates. */
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}", "invalid_json", "");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}", "invalid_json", "");
    /* A NUL byte inside the exact length. */
    const char nul[] = "{" MSG1 "}\0";
    parse_bad_n(nul, sizeof(nul) - 1, "invalid_json", "");
}

static void
test_invalid_utf8(void **state)
{
    (void)state;
    const char *bodies[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\x80\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xe2\x82\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}",
        "{\"model\":\"\xf5\x80\x80\x80\"," MSG1 "}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        const char *m = parse_bad(bodies[i], "invalid_json", "");
        assert_non_null(strstr(m, "UTF-8"));
    }
}

static void
test_too_deep(void **state)
{
    (void)state;
    char body[512];
    /* 64 levels in total is fine (the root object counts as one). */
    int n = snprintf(body, sizeof(body), "{" MSG1 ",\"metadata\":{\"x\":");
    for (int i = 0; i < GW_OPENAI_MAX_DEPTH - 2; i++)
        body[n++] = '[';
    for (int i = 0; i < GW_OPENAI_MAX_DEPTH - 2; i++)
        body[n++] = ']';
    n += snprintf(body + n, sizeof(body) - (size_t)n, "}}");
    gw_chat_request *r = parse_ok(body);
    gw_chat_request_free(r);
    /* One more level is refused before parsing. */
    n = snprintf(body, sizeof(body), "{" MSG1 ",\"metadata\":{\"x\":");
    for (int i = 0; i < GW_OPENAI_MAX_DEPTH - 1; i++)
        body[n++] = '[';
    for (int i = 0; i < GW_OPENAI_MAX_DEPTH - 1; i++)
        body[n++] = ']';
    n += snprintf(body + n, sizeof(body) - (size_t)n, "}}");
    const char *m = parse_bad(body, "invalid_json", "");
    assert_non_null(strstr(m, "nested"));
    /* Brackets inside strings do not count, escaped quotes included. */
    char deep_string[300];
    n = snprintf(deep_string, sizeof(deep_string),
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"\\\"");
    for (int i = 0; i < 100; i++)
        deep_string[n++] = '[';
    snprintf(deep_string + n, sizeof(deep_string) - (size_t)n, "\"}]}");
    r = parse_ok(deep_string);
    assert_int_equal(strlen(r->messages[0].content), 101);
    gw_chat_request_free(r);
    /* A huge flat bracket run that jansson would have recursed into. */
    size_t big = 100000;
    char *b = malloc(big);
    memset(b, '[', big);
    parse_bad_n(b, big, "invalid_json", "");
    free(b);
}

static void
test_messages_errors(void **state)
{
    (void)state;
    const char *m = parse_bad("{}", "missing_required_parameter", "messages");
    assert_string_equal(m, "Missing required parameter: 'messages'.");
    m = parse_bad("{\"messages\":{}}", "invalid_type", "messages");
    assert_string_equal(m, "Invalid type for 'messages': expected an array, but got an object "
                           "instead.");
    parse_bad("{\"messages\":\"hi\"}", "invalid_type", "messages");
    parse_bad("{\"messages\":null}", "invalid_type", "messages");
    m = parse_bad("{\"messages\":[]}", "empty_array", "messages");
    parse_bad("{\"messages\":[1]}", "invalid_type", "messages[0]");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},[]]}", "invalid_type",
              "messages[1]");
    parse_bad("{\"messages\":[{\"content\":\"a\"}]}", "missing_required_parameter",
              "messages[0].role");
    parse_bad("{\"messages\":[{\"role\":7,\"content\":\"a\"}]}", "invalid_type",
              "messages[0].role");
    m = parse_bad("{\"messages\":[{\"role\":\"robot\",\"content\":\"a\"}]}", "invalid_value",
                  "messages[0].role");
    assert_non_null(strstr(m, "'robot'"));
    parse_bad("{\"messages\":[{\"role\":\"User\",\"content\":\"a\"}]}", "invalid_value",
              "messages[0].role");
    parse_bad("{\"messages\":[{\"role\":\"user\"}]}", "missing_required_parameter",
              "messages[0].content");
    parse_bad("{\"messages\":[{\"role\":\"system\",\"content\":null}]}",
              "missing_required_parameter", "messages[0].content");
    parse_bad("{\"messages\":[{\"role\":\"tool\"}]}", "missing_required_parameter",
              "messages[0].content");
    m = parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "invalid_type",
                  "messages[0].content");
    assert_string_equal(m, "Invalid type for 'messages[0].content': expected one of a string or "
                           "an array of objects, but got an integer instead.");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":{}}]}", "invalid_type",
              "messages[0].content");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":true}]}", "invalid_type",
              "messages[0].content");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"name\":1}]}", "invalid_type",
              "messages[0].name");
    parse_bad("{\"messages\":[{\"role\":\"tool\",\"content\":\"a\",\"tool_call_id\":[]}]}",
              "invalid_type", "messages[0].tool_call_id");
}

static void
test_content_parts(void **state)
{
    (void)state;
    gw_chat_request *r =
        parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":[]},{\"role\":\"assistant\","
                 "\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"}]}]}");
    assert_string_equal(r->messages[0].content, "");
    assert_string_equal(r->messages[1].content, "no");
    gw_chat_request_free(r);

    const char *m = parse_bad(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":"
        "\"b\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":"
        "\"image_url\",\"image_url\":{\"url\":\"http://x\"}}]}]}",
        "unsupported_content_type", "messages[2].content[1]");
    assert_non_null(strstr(m, "image_url"));
    assert_non_null(strstr(m, "messages[2].content[1]"));
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
              "unsupported_content_type", "messages[0].content[0]");
    /* A refusal part is only an assistant's. */
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"refusal\","
              "\"refusal\":\"x\"}]}]}",
              "unsupported_content_type", "messages[0].content[0]");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[\"text\"]}]}", "invalid_type",
              "messages[0].content[0]");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"a\"}]}]}",
              "missing_required_parameter", "messages[0].content[0].type");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":1}]}]}", "invalid_type",
              "messages[0].content[0].type");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
              "missing_required_parameter", "messages[0].content[0].text");
    parse_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":null}]}"
              "]}",
              "invalid_type", "messages[0].content[0].text");
}

static void
test_tool_calls_in_messages(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok(
        "{\"messages\":[{\"role\":\"assistant\",\"function_call\":{\"name\":\"f\",\"arguments\":"
        "\"{}\"}},{\"role\":\"assistant\",\"tool_calls\":[]},{\"role\":\"assistant\","
        "\"tool_calls\":[{\"function\":{\"name\":\"g\"}}]}]}");
    assert_int_equal(r->messages[0].n_tool_calls, 1);
    assert_string_equal(r->messages[0].tool_calls[0].name, "f");
    assert_null(r->messages[0].tool_calls[0].id);
    assert_int_equal(r->messages[1].n_tool_calls, 0);
    assert_null(r->messages[2].tool_calls[0].arguments);
    gw_chat_request_free(r);
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}", "invalid_type",
              "messages[0].tool_calls");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[1]}]}", "invalid_type",
              "messages[0].tool_calls[0]");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{}]}]}",
              "missing_required_parameter", "messages[0].tool_calls[0].function");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":[]}]}]}",
              "invalid_type", "messages[0].tool_calls[0].function");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{}}]}]}",
              "missing_required_parameter", "messages[0].tool_calls[0].function.name");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":"
              "\"f\",\"arguments\":{}}}]}]}",
              "invalid_type", "messages[0].tool_calls[0].function.arguments");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":5,\"function\":{"
              "\"name\":\"f\"}}]}]}",
              "invalid_type", "messages[0].tool_calls[0].id");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"function_call\":{\"name\":3}}]}",
              "invalid_type", "messages[0].function_call.name");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"function_call\":{}}]}",
              "missing_required_parameter", "messages[0].function_call.name");
    parse_bad("{\"messages\":[{\"role\":\"assistant\",\"function_call\":\"x\"}]}", "invalid_type",
              "messages[0].function_call");
}

static void
test_scalar_errors(void **state)
{
    (void)state;
    parse_bad("{\"model\":5," MSG1 "}", "invalid_type", "model");
    parse_bad("{\"model\":\"\"," MSG1 "}", "invalid_value", "model");
    parse_bad("{" MSG1 ",\"stream\":\"true\"}", "invalid_type", "stream");
    parse_bad("{" MSG1 ",\"stream\":1}", "invalid_type", "stream");
    parse_bad("{" MSG1 ",\"stream_options\":true}", "invalid_type", "stream_options");
    parse_bad("{" MSG1 ",\"stream_options\":{\"include_usage\":\"yes\"}}", "invalid_type",
              "stream_options.include_usage");
    parse_bad("{" MSG1 ",\"user\":42}", "invalid_type", "user");
    parse_bad("{" MSG1 ",\"max_tokens\":\"10\"}", "invalid_type", "max_tokens");
    parse_bad("{" MSG1 ",\"max_tokens\":10.5}", "invalid_type", "max_tokens");
    parse_bad("{" MSG1 ",\"max_tokens\":0}", "integer_below_min_value", "max_tokens");
    parse_bad("{" MSG1 ",\"max_tokens\":-9223372036854775807}", "integer_below_min_value",
              "max_tokens");
    parse_bad("{" MSG1 ",\"max_completion_tokens\":[]}", "invalid_type", "max_completion_tokens");
    const char *m =
        parse_bad("{" MSG1 ",\"temperature\":3}", "decimal_above_max_value", "temperature");
    assert_string_equal(m, "Invalid 'temperature': decimal above maximum value. Expected a value "
                           "<= 2, but got 3 instead.");
    parse_bad("{" MSG1 ",\"temperature\":-0.1}", "decimal_below_min_value", "temperature");
    parse_bad("{" MSG1 ",\"temperature\":\"hot\"}", "invalid_type", "temperature");
    parse_bad("{" MSG1 ",\"temperature\":1e308}", "decimal_above_max_value", "temperature");
    parse_bad("{" MSG1 ",\"top_p\":1.5}", "decimal_above_max_value", "top_p");
    parse_bad("{" MSG1 ",\"top_p\":false}", "invalid_type", "top_p");
    parse_bad("{" MSG1 ",\"n\":2}", "unsupported_value", "n");
    parse_bad("{" MSG1 ",\"n\":0}", "integer_below_min_value", "n");
    parse_bad("{" MSG1 ",\"n\":1.0}", "invalid_type", "n");
    parse_bad("{" MSG1 ",\"stop\":5}", "invalid_type", "stop");
    parse_bad("{" MSG1 ",\"stop\":[\"a\",5]}", "invalid_type", "stop[1]");
    parse_bad("{" MSG1 ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "array_above_max_length",
              "stop");
    char body[1024];
    char longstop[GW_OPENAI_MAX_STOP_LEN + 2];
    memset(longstop, 'x', sizeof(longstop) - 1);
    longstop[sizeof(longstop) - 1] = '\0';
    snprintf(body, sizeof(body), "{" MSG1 ",\"stop\":\"%s\"}", longstop);
    parse_bad(body, "string_above_max_length", "stop");
    parse_bad("{" MSG1 ",\"presence_penalty\":3}", "decimal_above_max_value", "presence_penalty");
    parse_bad("{" MSG1 ",\"frequency_penalty\":\"x\"}", "invalid_type", "frequency_penalty");
    parse_bad("{" MSG1 ",\"seed\":1.5}", "invalid_type", "seed");
    parse_bad("{" MSG1 ",\"logprobs\":1}", "invalid_type", "logprobs");
    parse_bad("{" MSG1 ",\"top_logprobs\":21}", "decimal_above_max_value", "top_logprobs");
    parse_bad("{" MSG1 ",\"response_format\":\"json\"}", "invalid_type", "response_format");
    parse_bad("{" MSG1 ",\"parallel_tool_calls\":\"no\"}", "invalid_type", "parallel_tool_calls");
}

static void
test_tools_errors(void **state)
{
    (void)state;
    /* Tools of other types are kept, not offered. */
    gw_chat_request *r = parse_ok("{" MSG1 ",\"tools\":[{\"type\":\"custom\",\"x\":1}],"
                                  "\"tool_choice\":\"auto\"}");
    assert_int_equal(r->n_tools, 1);
    assert_null(r->toolset);
    gw_chat_request_free(r);
    parse_bad("{" MSG1 ",\"tools\":{}}", "invalid_type", "tools");
    parse_bad("{" MSG1 ",\"tools\":[1]}", "invalid_type", "tools[0]");
    parse_bad("{" MSG1 ",\"tools\":[{}]}", "missing_required_parameter", "tools[0].type");
    parse_bad("{" MSG1 ",\"tools\":[{\"type\":[]}]}", "invalid_type", "tools[0].type");
    parse_bad("{" MSG1 ",\"tools\":[{\"type\":\"function\"}]}", "missing_required_parameter",
              "tools[0].function");
    parse_bad("{" MSG1 ",\"tools\":[{\"type\":\"function\",\"function\":1}]}", "invalid_type",
              "tools[0].function");
    parse_bad("{" MSG1 ",\"tools\":[{\"type\":\"function\",\"function\":{}}]}",
              "missing_required_parameter", "tools[0].function.name");
    parse_bad("{" MSG1 ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":null}}]}",
              "invalid_type", "tools[0].function.name");
    parse_bad("{" MSG1 ",\"tool_choice\":\"sometimes\"}", "invalid_value", "tool_choice");
    parse_bad("{" MSG1 ",\"tool_choice\":3}", "invalid_type", "tool_choice");
}

/* ---- the toolset ----------------------------------------------------------- */

#define TOOL(name, params)                                                                         \
    "{\"type\":\"function\",\"function\":{\"name\":\"" name "\",\"description\":\"d\","            \
    "\"parameters\":" params "}}"
#define OBJ "{\"type\":\"object\"}"

static void
test_toolset(void **state)
{
    (void)state;
    /* Function tools are offered, other types left out; auto by default. */
    gw_chat_request *r = parse_ok("{" MSG1 ",\"tools\":[" TOOL(
        "get_weather", OBJ) ",{\"type\":\"custom\","
                            "\"custom\":{\"name\":\"apply_patch\"}}," TOOL("a.b:c-d", "null") "]}");
    assert_non_null(r->toolset);
    assert_int_equal(lingma_toolset_count(r->toolset), 2);
    assert_true(lingma_toolset_has(r->toolset, "get_weather"));
    assert_true(lingma_toolset_has(r->toolset, "a.b:c-d"));
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_AUTO);
    assert_false(r->single_tool_call);
    assert_null(r->tool_name);
    gw_chat_request_free(r);
    /* required, a named function, parallel_tool_calls false. */
    r = parse_ok("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "],\"tool_choice\":\"required\","
                                                        "\"parallel_tool_calls\":false}");
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_REQUIRED);
    assert_true(r->single_tool_call);
    gw_chat_request_free(r);
    r = parse_ok("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "," TOOL(
        "g", OBJ) "],"
                  "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}}}");
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_NAMED);
    assert_string_equal(r->tool_name, "g");
    gw_chat_request_free(r);
    /* none: nothing offered. A deferred tool is not offered either. */
    r = parse_ok("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "],\"tool_choice\":\"none\"}");
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_NONE);
    assert_null(r->toolset);
    gw_chat_request_free(r);
    r = parse_ok("{" MSG1 ",\"tools\":[{\"type\":\"function\",\"defer_loading\":true,"
                 "\"function\":{\"name\":\"f\"}}]}");
    assert_null(r->toolset);
    gw_chat_request_free(r);

    /* What the toolset refuses, named. */
    const char *m = parse_bad("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "," TOOL("bad name", OBJ) "]}",
                              "invalid_value", "tools[1].function.name");
    assert_non_null(strstr(m, "'bad name' is not a valid tool name"));
    parse_bad("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "," TOOL("f", OBJ) "]}", "invalid_value",
              "tools[1].function.name");
    parse_bad("{" MSG1 ",\"tools\":[" TOOL("f", "\"x\"") "]}", "invalid_value",
              "tools[0].function.parameters");
    parse_bad("{" MSG1 ",\"tools\":[" TOOL("f", "[]") "]}", "invalid_value",
              "tools[0].function.parameters");
    m = parse_bad("{" MSG1
                  ",\"tools\":[" TOOL("f", OBJ) "],\"tool_choice\":{\"type\":"
                                                "\"function\",\"function\":{\"name\":\"g\"}}}",
                  "invalid_value", "tool_choice");
    assert_non_null(strstr(m, "'g' is not among the function tools"));
    parse_bad("{" MSG1 ",\"tools\":[{\"type\":\"custom\",\"x\":1}],\"tool_choice\":{\"type\":"
              "\"function\",\"function\":{\"name\":\"f\"}}}",
              "invalid_value", "tool_choice");
    parse_bad("{" MSG1 ",\"tool_choice\":\"required\"}", "invalid_value", "tool_choice");
    /* With none, the tools are not looked at. */
    r = parse_ok("{" MSG1 ",\"tools\":[" TOOL("bad name", OBJ) "],\"tool_choice\":\"none\"}");
    gw_chat_request_free(r);

    /* The section the runtime will add, as the estimate counts it. */
    r = parse_ok("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "],\"parallel_tool_calls\":false,"
                                                        "\"tool_choice\":\"required\"}");
    char *section = NULL;
    assert_int_equal(gw_chat_request_tool_section(&section, r), 0);
    assert_non_null(strstr(section, "{\"name\":\"f\",\"description\":\"d\",\"parameters\":"
                                    "{\"type\":\"object\"}}\nYou must call at least one tool "
                                    "now.\nCall one tool at a time.\n"));
    lingma_free(section);
    gw_chat_request_free(r);
    r = parse_ok("{" MSG1 "}");
    section = (char *)1;
    assert_int_equal(gw_chat_request_tool_section(&section, r), 0);
    assert_null(section);
    gw_chat_request_free(r);
}

/* ---- prompt flattening --------------------------------------------------- */

static char *
prompt_of(const char *body)
{
    gw_chat_request *r = parse_ok(body);
    char *p = NULL;
    assert_int_equal(gw_chat_request_prompt(&p, r), 0);
    gw_chat_request_free(r);
    return p;
}

static void
test_prompt_lone_user(void **state)
{
    (void)state;
    char *p = prompt_of("{\"messages\":[{\"role\":\"user\",\"content\":\"Line 1\\nLine 2\"}]}");
    assert_string_equal(p, "Line 1\nLine 2");
    free(p);
    p = prompt_of("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                  "\"x\"},{\"type\":\"text\",\"text\":\"y\"}]}]}");
    assert_string_equal(p, "x\ny");
    free(p);
}

static void
test_prompt_transcript(void **state)
{
    (void)state;
    char *p = prompt_of(
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"developer\",\"content\":\"Use French.\"},"
        "{\"role\":\"user\",\"content\":\"Weather?\"},"
        "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":[{\"id\":\"c1\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "{\"role\":\"tool\",\"name\":\"get_weather\",\"tool_call_id\":\"c1\",\"content\":\"20C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"x\"},"
        "{\"role\":\"function\",\"content\":\"y\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"function\":{\"name\":\"g\"}}]}"
        ","
        "{\"role\":\"assistant\",\"content\":\"\"},"
        "{\"role\":\"user\",\"content\":\"And tomorrow?\"}]}");
    /* Calls and results in the tool contract's notation (doc/tools.md). */
    assert_string_equal(p, "System instructions:\n"
                           "Be brief.\n\nUse French.\n\n"
                           "Conversation transcript:\n"
                           "User: Weather?\n\n"
                           "Assistant:\nChecking.\n"
                           "```tool_call\n"
                           "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n"
                           "```\n\n"
                           "Tool result (c1, get_weather):\n```tool_result\n20C\n```\n\n"
                           "Tool result (c2):\n```tool_result\nx\n```\n\n"
                           "Tool result:\n```tool_result\ny\n```\n\n"
                           "Assistant:\n```tool_call\n{\"name\":\"g\",\"arguments\":{}}\n```\n\n"
                           "Assistant: \n\n"
                           "User: And tomorrow?\n\n"
                           "Answer the latest User message above. Reply with the answer only, "
                           "without a speaker label.");
    free(p);
}

static void
test_prompt_tools(void **state)
{
    (void)state;
    /* With tools offered, even a lone user message is a transcript, and
     * the last line asks to continue rather than for "the answer only". */
    char *p = prompt_of("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "]}");
    assert_string_equal(p, "Conversation transcript:\nUser: hi\n\nContinue the conversation "
                           "above: answer the latest User message, calling tools as described "
                           "when they are needed. Reply without a speaker label.");
    free(p);
    /* tool_choice none: sent as before. */
    p = prompt_of("{" MSG1 ",\"tools\":[" TOOL("f", OBJ) "],\"tool_choice\":\"none\"}");
    assert_string_equal(p, "hi");
    free(p);
    /* Several calls in one block, one line each; arguments that are not
     * an object become {}; a result that holds a fence gets a longer one. */
    p = prompt_of("{\"messages\":[{\"role\":\"user\",\"content\":\"Go\"},"
                  "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
                  "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"a\","
                  "\"arguments\":\"{'x': 1,}\"}},"
                  "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"b\","
                  "\"arguments\":\"[1]\"}}]},"
                  "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"```\\nx\\n```\"},"
                  "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"ok\\n\"}],"
                  "\"tools\":[" TOOL("a", OBJ) "," TOOL("b", OBJ) "]}");
    assert_string_equal(p, "Conversation transcript:\nUser: Go\n\n"
                           "Assistant:\n```tool_call\n"
                           "{\"name\":\"a\",\"arguments\":{\"x\":1}}\n"
                           "{\"name\":\"b\",\"arguments\":{}}\n"
                           "```\n\n"
                           "Tool result (c1):\n````tool_result\n```\nx\n```\n````\n\n"
                           "Tool result (c2):\n```tool_result\nok\n```\n\n"
                           "Continue the conversation above: answer the latest User message, "
                           "calling tools as described when they are needed. Reply without a "
                           "speaker label.");
    free(p);
}

static void
test_prompt_shapes(void **state)
{
    (void)state;
    /* System + one user: not "lone", so flattened. */
    char *p = prompt_of("{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":"
                        "\"user\",\"content\":\"Q\"}]}");
    assert_string_equal(p, "System instructions:\nS\n\nConversation transcript:\nUser: Q\n\n"
                           "Answer the latest User message above. Reply with the answer only, "
                           "without a speaker label.");
    free(p);
    /* No system message: no instructions block. */
    p = prompt_of("{\"messages\":[{\"role\":\"user\",\"content\":\"A\"},{\"role\":\"assistant\","
                  "\"content\":\"B\"},{\"role\":\"user\",\"content\":\"C\"}]}");
    assert_string_equal(p, "Conversation transcript:\nUser: A\n\nAssistant: B\n\nUser: C\n\n"
                           "Answer the latest User message above. Reply with the answer only, "
                           "without a speaker label.");
    free(p);
    /* Only system messages (and an empty one skipped). */
    p = prompt_of("{\"messages\":[{\"role\":\"system\",\"content\":\"\"},{\"role\":\"system\","
                  "\"content\":\"S\"}]}");
    assert_string_equal(p, "System instructions:\nS\n\nAnswer the latest User message above. "
                           "Reply with the answer only, without a speaker label.");
    free(p);
    /* A lone assistant message. */
    p = prompt_of("{\"messages\":[{\"role\":\"assistant\",\"content\":\"B\"}]}");
    assert_string_equal(p, "Conversation transcript:\nAssistant: B\n\nAnswer the latest User "
                           "message above. Reply with the answer only, without a speaker label.");
    free(p);
    /* Deterministic: the same request gives the same bytes. */
    char *a = prompt_of("{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":"
                        "\"user\",\"content\":\"Q\"}]}");
    char *b = prompt_of("{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":"
                        "\"user\",\"content\":\"Q\"}]}");
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void
test_affinity(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok("{" MSG1 ",\"user\":\"alice\"}");
    char *k = NULL;
    assert_int_equal(gw_chat_request_affinity(&k, r), 0);
    assert_string_equal(k, "alice");
    free(k);
    gw_chat_request_free(r);

    r = parse_ok("{" MSG1 "}");
    k = (char *)"x";
    assert_int_equal(gw_chat_request_affinity(&k, r), 0);
    assert_null(k);
    gw_chat_request_free(r);

    /* FNV-1a 64 of "S1\n\nS2" (both system messages, in order). */
    r = parse_ok("{\"messages\":[{\"role\":\"system\",\"content\":\"S1\"},{\"role\":"
                 "\"developer\",\"content\":\"S2\"},{\"role\":\"user\",\"content\":\"q\"}],"
                 "\"user\":\"\"}");
    assert_int_equal(gw_chat_request_affinity(&k, r), 0);
    char want[32];
    snprintf(want, sizeof(want), "sys-%016llx", (unsigned long long)gw_fnv1a64("S1\n\nS2", 6));
    assert_string_equal(k, want);
    free(k);
    gw_chat_request_free(r);

    /* The balancer's header wins over `user`; an empty one does not count. */
    r = parse_ok("{" MSG1 ",\"user\":\"alice\"}");
    assert_int_equal(gw_chat_affinity_key(&k, "conv-7", r), 0);
    assert_string_equal(k, "conv-7");
    free(k);
    assert_int_equal(gw_chat_affinity_key(&k, "", r), 0);
    assert_string_equal(k, "alice");
    free(k);
    assert_int_equal(gw_chat_affinity_key(&k, NULL, r), 0);
    assert_string_equal(k, "alice");
    free(k);
    gw_chat_request_free(r);

    /* Known FNV-1a 64 vectors. */
    assert_true(gw_fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(gw_fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(gw_fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

/* ---- models -------------------------------------------------------------- */

static const gw_model_entry catalogue[] = {
    {"dashscope_qwen3_coder_default", "Auto", false, false},
    {"dashscope_qwen3_coder", "qwen3-coder", false, false},
    {"dashscope_qwen_plus_20250428_thinking", "qwen3-thinking", true, false},
    {"dashscope_qwen_max_latest", "qwen2.5-max", false, false},
    {"kmodel", "Kimi-K2.6", false, true},
    {"nodisplay_model", NULL, false, false},
};
#define NCAT (sizeof(catalogue) / sizeof(catalogue[0]))

static const char *
resolve(const char *requested, const char *dflt)
{
    const char *key = NULL;
    const gw_model_entry *e = NULL;
    gw_error err;
    int rc = gw_model_resolve(&key, &e, &err, catalogue, NCAT, requested, dflt);
    if (rc != 0)
        fail_msg("resolve %s: %s", requested, err.message);
    if (e)
        assert_ptr_equal(key, e->key);
    return key;
}

static void
test_model_resolve(void **state)
{
    (void)state;
    assert_string_equal(resolve("dashscope_qwen3_coder", NULL), "dashscope_qwen3_coder");
    assert_string_equal(resolve("qwen3-coder", NULL), "dashscope_qwen3_coder");
    assert_string_equal(resolve("QWEN3-CODER", NULL), "dashscope_qwen3_coder");
    assert_string_equal(resolve("Qwen3-Thinking", NULL), "dashscope_qwen_plus_20250428_thinking");
    assert_string_equal(resolve("kimi-k2.6", NULL), "kmodel");
    assert_string_equal(resolve("kimi_k2_6", NULL), "kmodel");
    assert_string_equal(resolve("KMODEL", NULL), "kmodel");
    assert_string_equal(resolve("qwen2.5-max", NULL), "dashscope_qwen_max_latest");
    assert_string_equal(resolve("qwen_max_latest", NULL), "dashscope_qwen_max_latest");
    assert_string_equal(resolve("lingma/qwen3-coder", NULL), "dashscope_qwen3_coder");
    assert_string_equal(resolve("model", NULL), "nodisplay_model");
    /* "auto" and absent go to the default; display name "Auto" matches. */
    assert_string_equal(resolve(NULL, NULL), "dashscope_qwen3_coder_default");
    assert_string_equal(resolve("", "auto"), "dashscope_qwen3_coder_default");
    assert_string_equal(resolve("AUTO", NULL), "dashscope_qwen3_coder_default");
    assert_string_equal(resolve(NULL, "qwen3-coder"), "dashscope_qwen3_coder");
    assert_string_equal(resolve("auto", "kmodel"), "kmodel");
    /* An explicit model ignores the default. */
    assert_string_equal(resolve("kmodel", "qwen3-coder"), "kmodel");

    /* Without an "auto"-like entry, auto is Lingma's own "auto". */
    const char *key = NULL;
    const gw_model_entry *e = (const gw_model_entry *)&catalogue[0];
    gw_error err;
    assert_int_equal(gw_model_resolve(&key, &e, &err, catalogue + 1, 2, "auto", NULL), 0);
    assert_string_equal(key, "auto");
    assert_null(e);

    /* Empty catalogue: pass through. */
    assert_int_equal(gw_model_resolve(&key, &e, &err, NULL, 0, "whatever", NULL), 0);
    assert_string_equal(key, "whatever");
    assert_int_equal(gw_model_resolve(&key, NULL, &err, NULL, 0, NULL, "m1"), 0);
    assert_string_equal(key, "m1");
}

static void
test_model_not_found(void **state)
{
    (void)state;
    const char *key = "x";
    const gw_model_entry *e = NULL;
    gw_error err;
    assert_int_equal(gw_model_resolve(&key, &e, &err, catalogue, NCAT, "gpt-4o", NULL),
                     LINGMA_ENOTFOUND);
    assert_null(key);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.type, "invalid_request_error");
    assert_string_equal(err.code, "model_not_found");
    assert_string_equal(err.param, "");
    assert_string_equal(err.message,
                        "The model `gpt-4o` does not exist or you do not have access to it.");
    /* A bad default names itself. */
    assert_int_equal(gw_model_resolve(&key, &e, &err, catalogue, NCAT, NULL, "nope"),
                     LINGMA_ENOTFOUND);
    assert_non_null(strstr(err.message, "`nope`"));
    /* Vendor prefix alone, or a prefix of a name, is no alias. */
    assert_int_equal(gw_model_resolve(&key, &e, &err, catalogue, NCAT, "dashscope", NULL),
                     LINGMA_ENOTFOUND);
    assert_int_equal(gw_model_resolve(&key, &e, &err, catalogue, NCAT, "qwen3", NULL),
                     LINGMA_ENOTFOUND);
    /* A very long name is cut on a character boundary in the message. */
    char longname[600];
    size_t n = 0;
    while (n + 3 < sizeof(longname)) {
        memcpy(longname + n, "\xe4\xbd\xa0", 3); /* 你 */
        n += 3;
    }
    longname[n] = '\0';
    assert_int_equal(gw_model_resolve(&key, &e, &err, catalogue, NCAT, longname, NULL),
                     LINGMA_ENOTFOUND);
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_error_json(&b, &err), 0);
    gw_buf_free(&b);
}

/* ---- out of memory ------------------------------------------------------- */

static void
test_oom_loop(void **state)
{
    (void)state;
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"1\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"1\",\"content\":\"r\"}],"
        "\"stop\":[\"x\"],\"user\":\"u\",\"tools\":[{\"type\":\"function\",\"function\":{"
        "\"name\":\"f\"}}],\"tool_choice\":\"auto\"}";
    struct failalloc fa = {0};
    bool succeeded = false;
    for (long n = 0; n < 500 && !succeeded; n++) {
        failalloc_arm(&fa, n);
        failalloc_hook_jansson(&fa);
        gw_chat_request *r = NULL;
        gw_error err;
        int rc = gw_chat_request_parse(&r, &err, body, sizeof(body) - 1);
        if (rc == 0) {
            succeeded = fa.failures == 0;
            gw_chat_request_free(r);
        } else if (rc == LINGMA_EINVAL) {
            /* jansson reports some allocation failures inside its lexer as
             * syntax errors ("string or '}' expected"); all we can ask is
             * that they are reported as such, without leaks. */
            assert_string_equal(err.code, "invalid_json");
        } else {
            if (rc != LINGMA_ENOMEM)
                fail_msg("allocation %ld: rc %d: %s", n, rc, err.message);
            assert_int_equal(err.status, 500);
        }
        failalloc_hook_jansson(NULL);
        assert_int_equal(fa.live, 0);
    }
    assert_true(succeeded);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_nulls_are_absent),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_messages_errors),
        cmocka_unit_test(test_content_parts),
        cmocka_unit_test(test_tool_calls_in_messages),
        cmocka_unit_test(test_scalar_errors),
        cmocka_unit_test(test_tools_errors),
        cmocka_unit_test(test_prompt_lone_user),
        cmocka_unit_test(test_prompt_transcript),
        cmocka_unit_test(test_prompt_tools),
        cmocka_unit_test(test_toolset),
        cmocka_unit_test(test_prompt_shapes),
        cmocka_unit_test(test_affinity),
        cmocka_unit_test(test_model_resolve),
        cmocka_unit_test(test_model_not_found),
        cmocka_unit_test(test_oom_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
