/*
 * Unit tests of the Responses front-end (api/responses*.c), pure: every
 * parse rule, the golden event sequences of a stream (with and without
 * reasoning, max_output_tokens, a failure after the start), the
 * non-streaming object, and the store on finish: previous_response_id
 * chains, input_items pages, DELETE's answer. The store's own bounds are
 * tested in test-gw-responses-store.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/common.h"

#include "api/responses.h"
#include "openai.h"
#include "randtext.h"
#include "sse.h"

/* ---- helpers -------------------------------------------------------------- */

static gw_chat_request *
parse_ok_store(const char *body, gw_resp_store *store)
{
    gw_chat_request *r = NULL;
    gw_error e;
    int rc = gw_resp_parse(&r, &e, body, strlen(body), store);
    if (rc != 0)
        fail_msg("parse failed (%d): %s [%s]", rc, e.message, e.param);
    return r;
}

static gw_chat_request *
parse_ok(const char *body)
{
    return parse_ok_store(body, NULL);
}

/* Expect a refusal with this status, param (NULL: JSON null) and code. */
static void
parse_bad(const char *body, int status, const char *param, const char *code)
{
    gw_chat_request *r = NULL;
    gw_error e;
    int rc = gw_resp_parse(&r, &e, body, strlen(body), NULL);
    if (rc == 0)
        fail_msg("accepted: %s", body);
    assert_null(r);
    if (e.status != status || strcmp(e.param, param ? param : "") != 0 ||
        strcmp(e.code ? e.code : "", code) != 0)
        fail_msg("%s\n -> %d param '%s' code '%s': %s", body, e.status, e.param,
                 e.code ? e.code : "", e.message);
}

static char *
prompt_of(const gw_chat_request *r)
{
    char *p = NULL;
    assert_int_equal(gw_chat_request_prompt(&p, r), 0);
    return p;
}

static const json_t *
echo_of(const gw_chat_request *r, const char *key)
{
    const gw_resp_request *x = gw_resp_request_of(r);
    assert_non_null(x);
    return json_object_get(x->echo, key);
}

/* ---- parse ------------------------------------------------------------------ */

static void
test_parse_string_input(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok("{\"model\":\"qwen3-coder\",\"input\":\"Say hi\"}");
    assert_string_equal(r->model, "qwen3-coder");
    assert_int_equal(r->n_messages, 1);
    assert_int_equal(r->messages[0].role, GW_ROLE_USER);
    assert_string_equal(r->messages[0].content, "Say hi");
    assert_false(r->stream);
    assert_true(r->show_reasoning);
    assert_int_equal(r->max_tokens, 0);
    assert_null(r->user);
    const gw_resp_request *x = gw_resp_request_of(r);
    assert_true(x->store);
    assert_null(x->previous_response_id);
    /* A string input is stored as one user message item. */
    char *in = json_dumps(x->input, JSON_COMPACT);
    assert_string_equal(
        in, "[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
            "\"text\":\"Say hi\"}]}]");
    free(in);
    /* The echoed defaults. */
    assert_true(json_is_null(echo_of(r, "instructions")));
    assert_true(json_is_true(echo_of(r, "parallel_tool_calls")));
    assert_string_equal(json_string_value(echo_of(r, "tool_choice")), "auto");
    assert_int_equal(json_array_size(echo_of(r, "tools")), 0);
    assert_string_equal(json_string_value(echo_of(r, "truncation")), "disabled");
    assert_true(json_is_true(echo_of(r, "store")));
    assert_int_equal(json_object_size(echo_of(r, "metadata")), 0);
    char *prompt = prompt_of(r);
    assert_string_equal(prompt, "Say hi");
    free(prompt);
    gw_chat_request_free(r);
    assert_null(gw_resp_request_of(NULL));
}

static void
test_parse_items(void **state)
{
    (void)state;
    const char *body =
        "{\"instructions\":\"You are Codex.\",\"stream\":true,\"store\":false,"
        "\"max_output_tokens\":50,\"prompt_cache_key\":\"conv-1\",\"user\":\"u1\","
        "\"input\":["
        "{\"type\":\"message\",\"role\":\"developer\",\"content\":[{\"type\":\"input_text\","
        "\"text\":\"Use the shell.\"}]},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
        "\"<env/>\"},{\"type\":\"input_text\",\"text\":\"List files\"}]},"
        "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],\"encrypted_content\":\"xx\"},"
        "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"shell\","
        "\"arguments\":\"{\\\"command\\\":[\\\"ls\\\"]}\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"a.txt\"},"
        "{\"type\":\"custom_tool_call\",\"call_id\":\"call_2\",\"name\":\"apply_patch\","
        "\"input\":\"*** Begin Patch\"},"
        "{\"type\":\"custom_tool_call_output\",\"call_id\":\"call_2\",\"output\":[{\"type\":"
        "\"input_text\",\"text\":\"Done\"},{\"type\":\"input_image\",\"image_url\":\"x\"}]},"
        "{\"type\":\"local_shell_call\",\"call_id\":\"call_3\",\"status\":\"completed\","
        "\"action\":{\"type\":\"exec\",\"command\":[\"pwd\"]}},"
        "{\"type\":\"local_shell_call_output\",\"id\":\"call_3\",\"output\":\"/w\"},"
        "{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"},"
        "{\"role\":\"assistant\",\"content\":\"Here.\"},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
        "\"text\":\"More.\",\"annotations\":[]},{\"type\":\"refusal\",\"refusal\":\"No.\"}]},"
        "{\"role\":\"system\",\"content\":\"Late system.\"},"
        "{\"role\":\"user\",\"content\":\"Thanks\"}]}";
    gw_chat_request *r = parse_ok(body);
    assert_true(r->stream);
    assert_int_equal(r->max_tokens, 50);
    assert_string_equal(r->user, "conv-1"); /* prompt_cache_key before user */
    const gw_resp_request *x = gw_resp_request_of(r);
    assert_false(x->store);
    assert_int_equal(json_array_size(x->input), 14);
    /* instructions, developer, user, call, result, call, result, call,
     * result, assistant, assistant, system, user: 13 (reasoning and
     * web_search dropped). */
    assert_int_equal(r->n_messages, 13);
    assert_int_equal(r->messages[0].role, GW_ROLE_SYSTEM);
    assert_string_equal(r->messages[0].content, "You are Codex.");
    assert_int_equal(r->messages[1].role, GW_ROLE_DEVELOPER);
    assert_string_equal(r->messages[2].content, "<env/>\nList files");
    assert_int_equal(r->messages[3].role, GW_ROLE_ASSISTANT);
    assert_null(r->messages[3].content);
    assert_int_equal(r->messages[3].n_tool_calls, 1);
    assert_string_equal(r->messages[3].tool_calls[0].id, "call_1");
    assert_string_equal(r->messages[3].tool_calls[0].name, "shell");
    assert_string_equal(r->messages[3].tool_calls[0].arguments, "{\"command\":[\"ls\"]}");
    assert_int_equal(r->messages[4].role, GW_ROLE_TOOL);
    assert_string_equal(r->messages[4].tool_call_id, "call_1");
    assert_string_equal(r->messages[4].name, "shell"); /* found from the call */
    assert_string_equal(r->messages[4].content, "a.txt");
    assert_string_equal(r->messages[5].tool_calls[0].arguments, "{\"input\":\"*** Begin Patch\"}");
    assert_string_equal(r->messages[6].content, "Done\n[input_image omitted]");
    assert_string_equal(r->messages[7].tool_calls[0].name, "local_shell");
    assert_string_equal(r->messages[7].tool_calls[0].arguments,
                        "{\"type\":\"exec\",\"command\":[\"pwd\"]}");
    assert_string_equal(r->messages[8].name, "local_shell");
    assert_string_equal(r->messages[9].content, "Here.");
    assert_string_equal(r->messages[10].content, "More.\nNo.");
    assert_int_equal(r->messages[11].role, GW_ROLE_SYSTEM);
    char *prompt = prompt_of(r);
    assert_non_null(strstr(prompt, "System instructions:\nYou are Codex.\n\nUse the shell.\n\n"
                                   "Late system.\n\nConversation transcript:\nUser: <env/>\n"
                                   "List files\n\nAssistant:\n```tool_call\n{\"name\":\"shell\","
                                   "\"arguments\":{\"command\":[\"ls\"]}}\n```\n\n"
                                   "Tool result (call_1, shell):\n```tool_result\na.txt\n```"));
    assert_non_null(strstr(prompt, "{\"name\":\"apply_patch\",\"arguments\":{\"input\":"
                                   "\"*** Begin Patch\"}}"));
    assert_non_null(strstr(prompt, "User: Thanks\n\nAnswer the latest User message"));
    free(prompt);
    gw_chat_request_free(r);

    r = parse_ok("{\"input\":\"x\",\"user\":\"u1\"}");
    assert_string_equal(r->user, "u1");
    gw_chat_request_free(r);
    /* Nulls mean absent. */
    r = parse_ok("{\"model\":null,\"input\":\"x\",\"instructions\":null,\"store\":null,"
                 "\"max_output_tokens\":null,\"tools\":null,\"tool_choice\":null,\"text\":null,"
                 "\"reasoning\":null,\"metadata\":null,\"truncation\":null,\"include\":null}");
    assert_null(r->model);
    assert_true(gw_resp_request_of(r)->store);
    assert_int_equal(r->n_messages, 1);
    gw_chat_request_free(r);
}

static void
test_parse_params(void **state)
{
    (void)state;
    const char *body =
        "{\"input\":\"x\",\"temperature\":0.5,\"top_p\":0.9,\"parallel_tool_calls\":false,"
        "\"reasoning\":{\"effort\":\"high\",\"summary\":\"auto\"},"
        "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"s\",\"schema\":{}},"
        "\"verbosity\":\"low\"},\"include\":[\"reasoning.encrypted_content\"],"
        "\"metadata\":{\"k\":\"v\"},\"truncation\":\"auto\",\"service_tier\":\"auto\","
        "\"stream_options\":{\"include_obfuscation\":false},\"background\":false,"
        "\"prompt_cache_retention\":\"24h\",\"unknown_param\":[1,2]}";
    gw_chat_request *r = parse_ok(body);
    assert_true(r->has_temperature);
    assert_true(r->temperature == 0.5);
    assert_true(r->has_top_p);
    assert_true(json_is_false(echo_of(r, "parallel_tool_calls")));
    assert_string_equal(json_string_value(json_object_get(echo_of(r, "reasoning"), "effort")),
                        "high");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(echo_of(r, "text"), "format"), "type")),
        "json_schema");
    assert_string_equal(json_string_value(json_object_get(echo_of(r, "metadata"), "k")), "v");
    assert_string_equal(json_string_value(echo_of(r, "truncation")), "auto");
    assert_string_equal(json_string_value(echo_of(r, "service_tier")), "auto");
    gw_chat_request_free(r);
}

static void
test_parse_tools(void **state)
{
    (void)state;
    /* Every tool type Codex sends is accepted; function and custom tools
     * are kept in the Chat Completions shape, the others as sent. */
    const char *body =
        "{\"input\":\"x\",\"tool_choice\":\"auto\",\"tools\":["
        "{\"type\":\"function\",\"name\":\"shell\",\"description\":\"Run\",\"strict\":false,"
        "\"parameters\":{\"type\":\"object\",\"properties\":{}}},"
        "{\"type\":\"custom\",\"name\":\"apply_patch\",\"description\":\"Patch\","
        "\"format\":{\"type\":\"grammar\",\"syntax\":\"lark\",\"definition\":\"start: x\"}},"
        "{\"type\":\"local_shell\"},{\"type\":\"web_search\",\"external_web_access\":false},"
        "{\"type\":\"web_search_preview\"},{\"type\":\"namespace\",\"name\":\"mcp\",\"tools\":[]},"
        "{\"type\":\"image_generation\"},{\"type\":\"apply_patch\"},{\"type\":\"shell\"}]}";
    gw_chat_request *r = parse_ok(body);
    assert_int_equal(r->n_tools, 9);
    char *tools = json_dumps(r->tools, JSON_COMPACT);
    assert_non_null(strstr(tools, "{\"type\":\"function\",\"function\":{\"name\":\"shell\","
                                  "\"description\":\"Run\",\"parameters\":{\"type\":\"object\","
                                  "\"properties\":{}},\"strict\":false}}"));
    assert_non_null(strstr(tools, "{\"type\":\"custom\",\"custom\":{\"name\":\"apply_patch\","
                                  "\"description\":\"Patch\",\"format\":{"));
    assert_non_null(strstr(tools, "{\"type\":\"local_shell\"}"));
    free(tools);
    /* The response repeats the tools as sent. */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(echo_of(r, "tools"), 0), "name")),
        "shell");
    assert_string_equal(json_string_value(r->tool_choice), "auto");
    gw_chat_request_free(r);

    r = parse_ok("{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],"
                 "\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"}}");
    char *choice = json_dumps(r->tool_choice, JSON_COMPACT);
    assert_string_equal(choice, "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}");
    free(choice);
    assert_string_equal(json_string_value(json_object_get(echo_of(r, "tool_choice"), "name")), "f");
    gw_chat_request_free(r);
    /* Codex's "responses lite" models declare their tools in an input
     * item: they join the request's tools, the item leaves no message. */
    r = parse_ok("{\"tools\":[{\"type\":\"web_search\"}],\"input\":[{\"type\":"
                 "\"additional_tools\",\"id\":\"at_1\",\"role\":\"developer\",\"tools\":[{\"type\":"
                 "\"namespace\",\"name\":\"functions\",\"tools\":[{\"type\":\"custom\",\"name\":"
                 "\"exec\"}]},{\"type\":\"function\",\"name\":\"sleep\"}]},{\"role\":\"user\","
                 "\"content\":\"hi\"}]}");
    assert_int_equal(r->n_tools, 3);
    assert_int_equal(r->n_messages, 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r->tools, 1), "name")),
                        "functions");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r->tools, 2), "function"), "name")),
                        "sleep");
    assert_int_equal(json_array_size(echo_of(r, "tools")), 1);
    gw_chat_request_free(r);
    r = parse_ok("{\"input\":\"x\",\"tool_choice\":{\"type\":\"allowed_tools\",\"mode\":\"auto\","
                 "\"tools\":[]}}");
    assert_string_equal(json_string_value(json_object_get(r->tool_choice, "type")),
                        "allowed_tools");
    gw_chat_request_free(r);
}

static void
test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int status;
        const char *param;
        const char *code;
    } cases[] = {
        {"", 400, NULL, "invalid_json"},
        {"[1]", 400, NULL, "invalid_json"},
        {"{\"input\":\"a\",\"input\":\"b\"}", 400, NULL, "invalid_json"},
        {"{}", 400, "input", "missing_required_parameter"},
        {"{\"input\":[]}", 400, "input", "empty_array"},
        {"{\"input\":5}", 400, "input", "invalid_type"},
        {"{\"input\":[5]}", 400, "input[0]", "invalid_type"},
        {"{\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}", 400, "input[0].role",
         "invalid_value"},
        {"{\"input\":[{\"content\":\"x\"}]}", 400, "input[0].role", "missing_required_parameter"},
        {"{\"input\":[{\"role\":\"user\"}]}", 400, "input[0].content",
         "missing_required_parameter"},
        {"{\"input\":[{\"role\":\"user\",\"content\":7}]}", 400, "input[0].content",
         "invalid_type"},
        {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":"
         "\"x\"}]}]}",
         400, "input[0].content[0]", "unsupported_content_type"},
        {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\"}]}]}", 400,
         "input[0].content[0].text", "missing_required_parameter"},
        {"{\"input\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}", 400,
         "input[0].content[0].type", "missing_required_parameter"},
        {"{\"input\":[{\"type\":\"mystery\"}]}", 400, "input[0].type", "invalid_value"},
        {"{\"input\":[{\"type\":7}]}", 400, "input[0].type", "invalid_type"},
        {"{\"input\":[{\"type\":\"item_reference\",\"id\":\"x\"}]}", 400, "input[0].type",
         "invalid_value"},
        {"{\"input\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"}]}", 400,
         "input[0].call_id", "missing_required_parameter"},
        {"{\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"arguments\":\"{}\"}]}", 400,
         "input[0].name", "missing_required_parameter"},
        {"{\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\"}]}", 400,
         "input[0].arguments", "missing_required_parameter"},
        {"{\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\","
         "\"arguments\":5}]}",
         400, "input[0].arguments", "invalid_type"},
        {"{\"input\":[{\"type\":\"function_call_output\",\"output\":\"x\"}]}", 400,
         "input[0].call_id", "missing_required_parameter"},
        {"{\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":5}]}", 400,
         "input[0].output", "invalid_type"},
        {"{\"input\":\"x\",\"model\":\"\"}", 400, "model", "invalid_value"},
        {"{\"input\":\"x\",\"model\":3}", 400, "model", "invalid_type"},
        {"{\"input\":\"x\",\"instructions\":[]}", 400, "instructions", "invalid_type"},
        {"{\"input\":\"x\",\"stream\":\"yes\"}", 400, "stream", "invalid_type"},
        {"{\"input\":\"x\",\"store\":1}", 400, "store", "invalid_type"},
        {"{\"input\":\"x\",\"max_output_tokens\":0}", 400, "max_output_tokens",
         "integer_below_min_value"},
        {"{\"input\":\"x\",\"max_output_tokens\":1.5}", 400, "max_output_tokens", "invalid_type"},
        {"{\"input\":\"x\",\"temperature\":3}", 400, "temperature", "decimal_above_max_value"},
        {"{\"input\":\"x\",\"top_p\":-1}", 400, "top_p", "decimal_below_min_value"},
        {"{\"input\":\"x\",\"parallel_tool_calls\":\"no\"}", 400, "parallel_tool_calls",
         "invalid_type"},
        {"{\"input\":\"x\",\"previous_response_id\":5}", 400, "previous_response_id",
         "invalid_type"},
        {"{\"input\":\"x\",\"prompt_cache_key\":5}", 400, "prompt_cache_key", "invalid_type"},
        {"{\"input\":\"x\",\"user\":5}", 400, "user", "invalid_type"},
        {"{\"input\":\"x\",\"tools\":{}}", 400, "tools", "invalid_type"},
        {"{\"input\":\"x\",\"tools\":[5]}", 400, "tools[0]", "invalid_type"},
        {"{\"input\":\"x\",\"tools\":[{}]}", 400, "tools[0].type", "missing_required_parameter"},
        {"{\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}", 400, "tools[0].name",
         "missing_required_parameter"},
        {"{\"input\":\"x\",\"tools\":[{\"type\":\"custom\",\"name\":1}]}", 400, "tools[0].name",
         "invalid_type"},
        {"{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":1}]}",
         400, "tools[0].parameters", "invalid_type"},
        {"{\"input\":\"x\",\"tool_choice\":\"any\"}", 400, "tool_choice", "invalid_value"},
        {"{\"input\":\"x\",\"tool_choice\":5}", 400, "tool_choice", "invalid_type"},
        {"{\"input\":\"x\",\"tool_choice\":{}}", 400, "tool_choice.type",
         "missing_required_parameter"},
        {"{\"input\":\"x\",\"tool_choice\":{\"type\":\"function\"}}", 400, "tool_choice.name",
         "missing_required_parameter"},
        {"{\"input\":\"x\",\"reasoning\":\"high\"}", 400, "reasoning", "invalid_type"},
        {"{\"input\":\"x\",\"reasoning\":{\"effort\":1}}", 400, "reasoning.effort", "invalid_type"},
        {"{\"input\":\"x\",\"text\":{\"format\":{}}}", 400, "text.format.type",
         "missing_required_parameter"},
        {"{\"input\":\"x\",\"text\":{\"verbosity\":1}}", 400, "text.verbosity", "invalid_type"},
        {"{\"input\":\"x\",\"include\":\"all\"}", 400, "include", "invalid_type"},
        {"{\"input\":\"x\",\"include\":[1]}", 400, "include[0]", "invalid_type"},
        {"{\"input\":\"x\",\"metadata\":[]}", 400, "metadata", "invalid_type"},
        {"{\"input\":\"x\",\"metadata\":{\"k\":1}}", 400, "metadata.k", "invalid_type"},
        {"{\"input\":\"x\",\"truncation\":\"never\"}", 400, "truncation", "invalid_value"},
        {"{\"input\":\"x\",\"stream_options\":1}", 400, "stream_options", "invalid_type"},
        {"{\"input\":\"x\",\"conversation\":\"conv_1\"}", 400, "conversation",
         "unsupported_parameter"},
        {"{\"input\":\"x\",\"prompt\":{\"id\":\"p\"}}", 400, "prompt", "unsupported_parameter"},
        {"{\"input\":\"x\",\"background\":true}", 400, "background", "unsupported_value"},
        {"{\"input\":[{\"type\":\"reasoning\",\"summary\":[]}]}", 400, "input", "invalid_value"},
        {"{\"input\":[{\"type\":\"additional_tools\"}]}", 400, "input[0].tools",
         "missing_required_parameter"},
        {"{\"input\":[{\"type\":\"additional_tools\",\"tools\":[{\"type\":\"function\"}]}]}", 400,
         "input[0].tools[0].name", "missing_required_parameter"},
        /* An unknown previous response (no store at all here) is a 404. */
        {"{\"input\":\"x\",\"previous_response_id\":\"resp_gone\"}", 404, "previous_response_id",
         "previous_response_not_found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_bad(cases[i].body, cases[i].status, cases[i].param, cases[i].code);

    /* Metadata bounds. */
    char body[4096];
    int n = snprintf(body, sizeof(body), "{\"input\":\"x\",\"metadata\":{");
    for (int i = 0; i < 17; i++)
        n += snprintf(body + n, sizeof(body) - (size_t)n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(body + n, sizeof(body) - (size_t)n, "}}");
    parse_bad(body, 400, "metadata", "invalid_value");
    char value[600];
    memset(value, 'v', 513);
    value[513] = '\0';
    snprintf(body, sizeof(body), "{\"input\":\"x\",\"metadata\":{\"k\":\"%s\"}}", value);
    parse_bad(body, 400, "metadata.k", "invalid_value");
}

/* ---- rendering: helpers ---------------------------------------------------- */

struct ev {
    char name[64];
    json_t *data;
};

/* Split SSE text into events, checking the framing of each: `event:`
 * equal to data.type, sequence_number counting from *next_seq. */
static size_t
split(struct ev *evs, size_t max, const gw_buf *b, int64_t *next_seq)
{
    size_t n = 0;
    const char *p = b->data, *end = b->data + b->len;
    while (p && p < end) {
        assert_true(n < max);
        assert_memory_equal(p, "event: ", 7);
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        size_t nlen = (size_t)(nl - p - 7);
        assert_true(nlen < sizeof(evs[n].name));
        memcpy(evs[n].name, p + 7, nlen);
        evs[n].name[nlen] = '\0';
        p = nl + 1;
        assert_memory_equal(p, "data: ", 6);
        const char *stop = strstr(p, "\n\n");
        assert_non_null(stop);
        json_error_t je;
        evs[n].data = json_loadb(p + 6, (size_t)(stop - p - 6), 0, &je);
        if (!evs[n].data)
            fail_msg("bad event JSON: %s", je.text);
        assert_string_equal(json_string_value(json_object_get(evs[n].data, "type")), evs[n].name);
        assert_int_equal(json_integer_value(json_object_get(evs[n].data, "sequence_number")),
                         (*next_seq)++);
        p = stop + 2;
        n++;
    }
    return n;
}

static void
free_evs(struct ev *evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(evs[i].data);
}

static void
expect_names(const struct ev *evs, size_t n, const char *const *names)
{
    size_t i = 0;
    for (; names[i]; i++) {
        if (i >= n)
            fail_msg("missing event %zu: %s", i, names[i]);
        if (strcmp(evs[i].name, names[i]) != 0)
            fail_msg("event %zu: %s, expected %s", i, evs[i].name, names[i]);
    }
    assert_int_equal(i, n);
}

/* A parsed request and an answer over it, as the chat route makes them. */
struct fixture {
    gw_chat_request *req;
    gw_answer a;
    void *st;
    gw_buf out;
    int64_t seq;
};

static void
fx_init(struct fixture *f, const char *body, bool stream)
{
    memset(f, 0, sizeof(*f));
    f->req = parse_ok(body);
    f->a.id = "resp_00112233445566778899aabb";
    f->a.created = 1700000000;
    f->a.model = "dashscope_qwen3_coder";
    f->a.stream = stream;
    f->a.show_reasoning = true;
    f->a.req = f->req;
    f->st = gw_fe_responses.state_new(&f->a);
    assert_non_null(f->st);
}

static void
fx_free(struct fixture *f)
{
    gw_fe_responses.state_free(f->st);
    gw_chat_request_free(f->req);
    gw_buf_free(&f->out);
}

static size_t
drain(struct fixture *f, struct ev *evs, size_t max)
{
    size_t n = split(evs, max, &f->out, &f->seq);
    gw_buf_reset(&f->out);
    return n;
}

static const json_t *
field(const json_t *v, const char *path)
{
    char key[64];
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof(key), "%.*s", (int)len, path);
        if (key[0] >= '0' && key[0] <= '9')
            v = json_array_get(v, (size_t)atoi(key));
        else
            v = json_object_get(v, key);
        path += len + (dot ? 1 : 0);
    }
    return v;
}

static const char *
str_at(const json_t *v, const char *path)
{
    const char *s = json_string_value(field(v, path));
    if (!s)
        fail_msg("no string at %s", path);
    return s;
}

static json_int_t
int_at(const json_t *v, const char *path)
{
    const json_t *x = field(v, path);
    if (!json_is_integer(x))
        fail_msg("no integer at %s", path);
    return json_integer_value(x);
}

/* ---- rendering: streams ------------------------------------------------------ */

static void
test_stream_text(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true,\"metadata\":{\"a\":\"b\"}}", true);
    const gw_frontend *fe = &gw_fe_responses;
    struct ev evs[32];
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    size_t n = drain(&f, evs, 32);
    static const char *const open_names[] = {"response.created", "response.in_progress", NULL};
    expect_names(evs, n, open_names);
    assert_string_equal(str_at(evs[0].data, "response.id"), "resp_00112233445566778899aabb");
    assert_string_equal(str_at(evs[0].data, "response.object"), "response");
    assert_string_equal(str_at(evs[0].data, "response.status"), "in_progress");
    assert_int_equal(int_at(evs[0].data, "response.created_at"), 1700000000);
    assert_string_equal(str_at(evs[0].data, "response.model"), "dashscope_qwen3_coder");
    assert_int_equal(json_array_size(field(evs[0].data, "response.output")), 0);
    assert_true(json_is_null(field(evs[0].data, "response.usage")));
    assert_string_equal(str_at(evs[0].data, "response.metadata.a"), "b");
    free_evs(evs, n);

    assert_int_equal(fe->stream_text(&f.out, f.st, &f.a, "Hel", 3), 0);
    assert_int_equal(fe->stream_text(&f.out, f.st, &f.a, "lo", 2), 0);
    n = drain(&f, evs, 32);
    static const char *const text_names[] = {
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", NULL};
    expect_names(evs, n, text_names);
    assert_int_equal(int_at(evs[0].data, "output_index"), 0);
    assert_string_equal(str_at(evs[0].data, "item.id"), "msg_00112233445566778899aabb");
    assert_string_equal(str_at(evs[0].data, "item.type"), "message");
    assert_string_equal(str_at(evs[0].data, "item.status"), "in_progress");
    assert_string_equal(str_at(evs[0].data, "item.role"), "assistant");
    assert_int_equal(json_array_size(field(evs[0].data, "item.content")), 0);
    assert_string_equal(str_at(evs[1].data, "item_id"), "msg_00112233445566778899aabb");
    assert_int_equal(int_at(evs[1].data, "content_index"), 0);
    assert_string_equal(str_at(evs[1].data, "part.type"), "output_text");
    assert_string_equal(str_at(evs[1].data, "part.text"), "");
    assert_true(json_is_array(field(evs[1].data, "part.annotations")));
    assert_string_equal(str_at(evs[2].data, "delta"), "Hel");
    assert_true(json_is_array(field(evs[2].data, "logprobs")));
    assert_string_equal(str_at(evs[3].data, "delta"), "lo");
    free_evs(evs, n);

    gw_usage u = {7, 2, 0};
    assert_int_equal(fe->stream_close(&f.out, f.st, &f.a, GW_FINISH_STOP, &u), 0);
    n = drain(&f, evs, 32);
    static const char *const close_names[] = {
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed", NULL};
    expect_names(evs, n, close_names);
    assert_string_equal(str_at(evs[0].data, "text"), "Hello");
    assert_string_equal(str_at(evs[1].data, "part.text"), "Hello");
    assert_string_equal(str_at(evs[2].data, "item.status"), "completed");
    assert_string_equal(str_at(evs[2].data, "item.content.0.text"), "Hello");
    const json_t *resp = field(evs[3].data, "response");
    assert_string_equal(str_at(resp, "status"), "completed");
    assert_true(json_is_null(field(resp, "error")));
    assert_true(json_is_null(field(resp, "incomplete_details")));
    assert_int_equal(json_array_size(field(resp, "output")), 1);
    assert_string_equal(str_at(resp, "output.0.content.0.text"), "Hello");
    assert_int_equal(int_at(resp, "usage.input_tokens"), 7);
    assert_int_equal(int_at(resp, "usage.output_tokens"), 2);
    assert_int_equal(int_at(resp, "usage.total_tokens"), 9);
    assert_int_equal(int_at(resp, "usage.input_tokens_details.cached_tokens"), 0);
    assert_int_equal(int_at(resp, "usage.output_tokens_details.reasoning_tokens"), 0);
    free_evs(evs, n);
    fx_free(&f);
}

static void
test_stream_reasoning(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true}", true);
    const gw_frontend *fe = &gw_fe_responses;
    struct ev evs[32];
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    assert_int_equal(fe->stream_reasoning(&f.out, f.st, &f.a, "Think", 5), 0);
    assert_int_equal(fe->stream_reasoning(&f.out, f.st, &f.a, "ing.", 4), 0);
    assert_int_equal(fe->stream_text(&f.out, f.st, &f.a, "Answer", 6), 0);
    /* Reasoning after the answer began is dropped. */
    assert_int_equal(fe->stream_reasoning(&f.out, f.st, &f.a, "late", 4), 0);
    gw_usage u = {3, 5, 2};
    assert_int_equal(fe->stream_close(&f.out, f.st, &f.a, GW_FINISH_STOP, &u), 0);
    size_t n = drain(&f, evs, 32);
    static const char *const names[] = {"response.created",
                                        "response.in_progress",
                                        "response.output_item.added",
                                        "response.reasoning_summary_part.added",
                                        "response.reasoning_summary_text.delta",
                                        "response.reasoning_summary_text.delta",
                                        "response.reasoning_summary_text.done",
                                        "response.reasoning_summary_part.done",
                                        "response.output_item.done",
                                        "response.output_item.added",
                                        "response.content_part.added",
                                        "response.output_text.delta",
                                        "response.output_text.done",
                                        "response.content_part.done",
                                        "response.output_item.done",
                                        "response.completed",
                                        NULL};
    expect_names(evs, n, names);
    assert_string_equal(str_at(evs[2].data, "item.type"), "reasoning");
    assert_string_equal(str_at(evs[2].data, "item.id"), "rs_00112233445566778899aabb");
    assert_int_equal(json_array_size(field(evs[2].data, "item.summary")), 0);
    assert_int_equal(int_at(evs[3].data, "summary_index"), 0);
    assert_string_equal(str_at(evs[3].data, "part.type"), "summary_text");
    assert_string_equal(str_at(evs[4].data, "delta"), "Think");
    assert_string_equal(str_at(evs[4].data, "item_id"), "rs_00112233445566778899aabb");
    assert_string_equal(str_at(evs[6].data, "text"), "Thinking.");
    assert_string_equal(str_at(evs[7].data, "part.text"), "Thinking.");
    assert_string_equal(str_at(evs[8].data, "item.summary.0.text"), "Thinking.");
    assert_int_equal(int_at(evs[9].data, "output_index"), 1);
    assert_int_equal(int_at(evs[11].data, "output_index"), 1);
    const json_t *resp = field(evs[15].data, "response");
    assert_int_equal(json_array_size(field(resp, "output")), 2);
    assert_string_equal(str_at(resp, "output.0.type"), "reasoning");
    assert_string_equal(str_at(resp, "output.1.content.0.text"), "Answer");
    assert_int_equal(int_at(resp, "usage.output_tokens_details.reasoning_tokens"), 2);
    free_evs(evs, n);
    fx_free(&f);

    /* Thinking alone, no text: the reasoning item is closed and an empty
     * message follows, so a client always finds a message. */
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true}", true);
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    assert_int_equal(fe->stream_reasoning(&f.out, f.st, &f.a, "hm", 2), 0);
    assert_int_equal(fe->stream_close(&f.out, f.st, &f.a, GW_FINISH_STOP, &u), 0);
    n = drain(&f, evs, 32);
    assert_int_equal(n, 14);
    assert_string_equal(evs[7].name, "response.output_item.done");
    assert_string_equal(evs[10].name, "response.output_text.done");
    assert_string_equal(str_at(evs[10].data, "text"), "");
    free_evs(evs, n);
    fx_free(&f);
}

static void
test_stream_incomplete(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true,\"max_output_tokens\":2}", true);
    const gw_frontend *fe = &gw_fe_responses;
    struct ev evs[32];
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    assert_int_equal(fe->stream_text(&f.out, f.st, &f.a, "abcdefgh", 8), 0);
    gw_usage u = {3, 2, 0};
    assert_int_equal(fe->stream_close(&f.out, f.st, &f.a, GW_FINISH_LENGTH, &u), 0);
    size_t n = drain(&f, evs, 32);
    assert_int_equal(n, 9);
    assert_string_equal(evs[8].name, "response.incomplete");
    assert_string_equal(str_at(evs[7].data, "item.status"), "incomplete");
    const json_t *resp = field(evs[8].data, "response");
    assert_string_equal(str_at(resp, "status"), "incomplete");
    assert_string_equal(str_at(resp, "incomplete_details.reason"), "max_output_tokens");
    assert_int_equal(int_at(resp, "max_output_tokens"), 2);
    assert_string_equal(str_at(resp, "output.0.status"), "incomplete");
    free_evs(evs, n);
    fx_free(&f);
}

static void
test_stream_failed(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true}", true);
    const gw_frontend *fe = &gw_fe_responses;
    struct ev evs[32];
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    assert_int_equal(fe->stream_text(&f.out, f.st, &f.a, "part", 4), 0);
    gw_error e;
    gw_error_from_lingma(&e, LINGMA_EIO, 0, 0);
    assert_int_equal(fe->stream_error(&f.out, f.st, &f.a, &e), 0);
    size_t n = drain(&f, evs, 32);
    static const char *const names[] = {"response.created",
                                        "response.in_progress",
                                        "response.output_item.added",
                                        "response.content_part.added",
                                        "response.output_text.delta",
                                        "response.failed",
                                        NULL};
    expect_names(evs, n, names);
    const json_t *resp = field(evs[5].data, "response");
    assert_string_equal(str_at(resp, "status"), "failed");
    assert_string_equal(str_at(resp, "error.code"), "server_error");
    assert_string_equal(str_at(resp, "error.message"), e.message);
    assert_true(json_is_null(field(resp, "usage")));
    /* The cut answer is there, marked incomplete, never completed. */
    assert_string_equal(str_at(resp, "output.0.status"), "incomplete");
    assert_string_equal(str_at(resp, "output.0.content.0.text"), "part");
    /* No top-level "error" key: the SDK would throw instead of handing
     * the event over. */
    assert_null(json_object_get(evs[5].data, "error"));
    free_evs(evs, n);
    fx_free(&f);

    /* A rate limit before any item. */
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true}", true);
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    gw_error_from_lingma(&e, LINGMA_EUPSTREAM, 429, 1000);
    assert_int_equal(fe->stream_error(&f.out, f.st, &f.a, &e), 0);
    n = drain(&f, evs, 32);
    assert_int_equal(n, 3);
    assert_string_equal(str_at(evs[2].data, "response.error.code"), "rate_limit_exceeded");
    assert_int_equal(json_array_size(field(evs[2].data, "response.output")), 0);
    free_evs(evs, n);
    fx_free(&f);
}

static void
test_complete(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"instructions\":\"be brief\",\"user\":\"u\"}", false);
    gw_usage u = {4, 6, 1};
    assert_int_equal(
        gw_fe_responses.complete(&f.out, f.st, &f.a, "Hi!", 3, "plan", 4, GW_FINISH_STOP, &u), 0);
    json_t *r = json_loadb(f.out.data, f.out.len, 0, NULL);
    assert_non_null(r);
    assert_string_equal(str_at(r, "id"), "resp_00112233445566778899aabb");
    assert_string_equal(str_at(r, "status"), "completed");
    assert_string_equal(str_at(r, "instructions"), "be brief");
    assert_string_equal(str_at(r, "user"), "u");
    assert_string_equal(str_at(r, "output.0.type"), "reasoning");
    assert_string_equal(str_at(r, "output.0.summary.0.type"), "summary_text");
    assert_string_equal(str_at(r, "output.0.summary.0.text"), "plan");
    assert_string_equal(str_at(r, "output.1.type"), "message");
    assert_string_equal(str_at(r, "output.1.role"), "assistant");
    assert_string_equal(str_at(r, "output.1.status"), "completed");
    assert_string_equal(str_at(r, "output.1.content.0.type"), "output_text");
    assert_string_equal(str_at(r, "output.1.content.0.text"), "Hi!");
    assert_true(json_is_array(field(r, "output.1.content.0.annotations")));
    assert_int_equal(int_at(r, "usage.total_tokens"), 10);
    /* The keys a strict client reads, in OpenAI's order. */
    static const char *const keys[] = {"id",
                                       "object",
                                       "created_at",
                                       "status",
                                       "background",
                                       "error",
                                       "incomplete_details",
                                       "instructions",
                                       "max_output_tokens",
                                       "max_tool_calls",
                                       "model",
                                       "output",
                                       "parallel_tool_calls",
                                       "previous_response_id",
                                       "prompt_cache_key",
                                       "reasoning",
                                       "safety_identifier",
                                       "service_tier",
                                       "store",
                                       "temperature",
                                       "text",
                                       "tool_choice",
                                       "tools",
                                       "top_logprobs",
                                       "top_p",
                                       "truncation",
                                       "usage",
                                       "user",
                                       "metadata",
                                       NULL};
    void *it = json_object_iter(r);
    for (size_t i = 0; keys[i]; i++, it = json_object_iter_next(r, it)) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), keys[i]);
    }
    assert_null(it);
    json_decref(r);
    fx_free(&f);

    /* Cut by max_output_tokens; no reasoning item without reasoning. */
    fx_init(&f, "{\"input\":\"hi\",\"max_output_tokens\":1}", false);
    assert_int_equal(
        gw_fe_responses.complete(&f.out, f.st, &f.a, "H", 1, NULL, 0, GW_FINISH_LENGTH, &u), 0);
    r = json_loadb(f.out.data, f.out.len, 0, NULL);
    assert_string_equal(str_at(r, "status"), "incomplete");
    assert_string_equal(str_at(r, "incomplete_details.reason"), "max_output_tokens");
    assert_int_equal(json_array_size(field(r, "output")), 1);
    assert_string_equal(str_at(r, "output.0.status"), "incomplete");
    json_decref(r);
    fx_free(&f);

    /* Invalid UTF-8 from upstream becomes U+FFFD, not a failed answer. */
    fx_init(&f, "{\"input\":\"hi\"}", false);
    assert_int_equal(
        gw_fe_responses.complete(&f.out, f.st, &f.a, "a\xff", 2, NULL, 0, GW_FINISH_STOP, &u), 0);
    assert_non_null(strstr(f.out.data, "a\xef\xbf\xbd"));
    fx_free(&f);
}

/* ---- tool calls ------------------------------------------------------------- */

#define FN_TOOL                                                                                    \
    "{\"type\":\"function\",\"name\":\"exec_command\",\"parameters\":{\"type\":\"object\","        \
    "\"properties\":{\"cmd\":{\"type\":\"string\"}},\"required\":[\"cmd\"]}}"

static const gw_tool_call CALL0 = {"call_0123456789abcdef01234567", "exec_command",
                                   "{\"cmd\":\"ls\"}"};
static const gw_tool_call CALL1 = {"call_89abcdef0123456701234567", "exec_command",
                                   "{\"cmd\":\"pwd\"}"};

static void
test_toolset(void **state)
{
    (void)state;
    /* Function tools (top level and additional_tools) are offered; custom,
     * namespace and hosted tools are not. parallel_tool_calls false. */
    gw_chat_request *r = parse_ok(
        "{\"tools\":[" FN_TOOL ",{\"type\":\"custom\",\"name\":\"apply_patch\"},{\"type\":"
        "\"web_search\"},{\"type\":\"namespace\",\"name\":\"ns\",\"tools\":[]}],"
        "\"parallel_tool_calls\":false,\"input\":[{\"type\":\"additional_tools\",\"tools\":["
        "{\"type\":\"function\",\"name\":\"wait\"}]},{\"role\":\"user\",\"content\":\"hi\"}]}");
    assert_int_equal(lingma_toolset_count(r->toolset), 2);
    assert_true(lingma_toolset_has(r->toolset, "exec_command"));
    assert_true(lingma_toolset_has(r->toolset, "wait"));
    assert_true(r->single_tool_call);
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_AUTO);
    gw_chat_request_free(r);
    r = parse_ok("{\"tools\":[" FN_TOOL "],\"tool_choice\":{\"type\":\"function\",\"name\":"
                 "\"exec_command\"},\"input\":\"hi\"}");
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_NAMED);
    assert_string_equal(r->tool_name, "exec_command");
    gw_chat_request_free(r);
    /* Refusals name the field. */
    parse_bad("{\"tools\":[{\"type\":\"function\",\"name\":\"a b\"}],\"input\":\"hi\"}", 400,
              "tools[0].name", "invalid_value");
    parse_bad("{\"tools\":[" FN_TOOL "," FN_TOOL "],\"input\":\"hi\"}", 400, "tools[1].name",
              "invalid_value");
    parse_bad("{\"tools\":[" FN_TOOL
              "],\"input\":[{\"type\":\"additional_tools\",\"tools\":[" FN_TOOL "]}]}",
              400, "input", "invalid_value");
    parse_bad("{\"tools\":[{\"type\":\"custom\",\"name\":\"apply_patch\"}],\"tool_choice\":"
              "{\"type\":\"custom\",\"name\":\"apply_patch\"},\"input\":\"hi\"}",
              400, "tool_choice", "invalid_value");
    parse_bad("{\"tools\":[" FN_TOOL "],\"tool_choice\":{\"type\":\"function\",\"name\":\"x\"},"
              "\"input\":\"hi\"}",
              400, "tool_choice", "invalid_value");
}

static void
test_stream_tool_calls(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true,\"tools\":[" FN_TOOL "]}", true);
    const gw_frontend *fe = &gw_fe_responses;
    struct ev evs[40];
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    assert_int_equal(fe->stream_text(&f.out, f.st, &f.a, "Let me look.", 12), 0);
    assert_int_equal(fe->tool_call(&f.out, f.st, &f.a, 0, &CALL0), 0);
    assert_int_equal(fe->tool_call(&f.out, f.st, &f.a, 1, &CALL1), 0);
    gw_usage u = {3, 5, 0};
    assert_int_equal(fe->stream_close(&f.out, f.st, &f.a, GW_FINISH_TOOL_CALLS, &u), 0);
    size_t n = drain(&f, evs, 40);
    static const char *const names[] = {"response.created",
                                        "response.in_progress",
                                        "response.output_item.added",
                                        "response.content_part.added",
                                        "response.output_text.delta",
                                        "response.output_text.done",
                                        "response.content_part.done",
                                        "response.output_item.done",
                                        "response.output_item.added",
                                        "response.function_call_arguments.delta",
                                        "response.function_call_arguments.done",
                                        "response.output_item.done",
                                        "response.output_item.added",
                                        "response.function_call_arguments.delta",
                                        "response.function_call_arguments.done",
                                        "response.output_item.done",
                                        "response.completed",
                                        NULL};
    expect_names(evs, n, names);
    assert_string_equal(str_at(evs[7].data, "item.status"), "completed");
    assert_string_equal(str_at(evs[7].data, "item.content.0.text"), "Let me look.");
    /* The announced item: in progress, arguments "", ids from the call's. */
    assert_int_equal(int_at(evs[8].data, "output_index"), 1);
    assert_string_equal(str_at(evs[8].data, "item.id"), "fc_0123456789abcdef01234567");
    assert_string_equal(str_at(evs[8].data, "item.type"), "function_call");
    assert_string_equal(str_at(evs[8].data, "item.status"), "in_progress");
    assert_string_equal(str_at(evs[8].data, "item.arguments"), "");
    assert_string_equal(str_at(evs[8].data, "item.call_id"), "call_0123456789abcdef01234567");
    assert_string_equal(str_at(evs[8].data, "item.name"), "exec_command");
    assert_string_equal(str_at(evs[9].data, "item_id"), "fc_0123456789abcdef01234567");
    assert_int_equal(int_at(evs[9].data, "output_index"), 1);
    assert_string_equal(str_at(evs[9].data, "delta"), "{\"cmd\":\"ls\"}");
    assert_string_equal(str_at(evs[10].data, "arguments"), "{\"cmd\":\"ls\"}");
    assert_string_equal(str_at(evs[10].data, "name"), "exec_command");
    assert_string_equal(str_at(evs[11].data, "item.status"), "completed");
    assert_string_equal(str_at(evs[11].data, "item.arguments"), "{\"cmd\":\"ls\"}");
    assert_int_equal(int_at(evs[12].data, "output_index"), 2);
    assert_string_equal(str_at(evs[12].data, "item.id"), "fc_89abcdef0123456701234567");
    const json_t *resp = field(evs[16].data, "response");
    assert_string_equal(str_at(resp, "status"), "completed");
    assert_int_equal(json_array_size(field(resp, "output")), 3);
    assert_string_equal(str_at(resp, "output.0.type"), "message");
    assert_string_equal(str_at(resp, "output.1.type"), "function_call");
    assert_string_equal(str_at(resp, "output.2.arguments"), "{\"cmd\":\"pwd\"}");
    free_evs(evs, n);
    fx_free(&f);

    /* Reasoning then a call alone: no (empty) message item. */
    fx_init(&f, "{\"input\":\"hi\",\"stream\":true,\"tools\":[" FN_TOOL "]}", true);
    assert_int_equal(fe->stream_open(&f.out, f.st, &f.a), 0);
    assert_int_equal(fe->stream_reasoning(&f.out, f.st, &f.a, "hm", 2), 0);
    assert_int_equal(fe->tool_call(&f.out, f.st, &f.a, 0, &CALL0), 0);
    assert_int_equal(fe->stream_close(&f.out, f.st, &f.a, GW_FINISH_TOOL_CALLS, &u), 0);
    n = drain(&f, evs, 40);
    static const char *const alone[] = {"response.created",
                                        "response.in_progress",
                                        "response.output_item.added",
                                        "response.reasoning_summary_part.added",
                                        "response.reasoning_summary_text.delta",
                                        "response.reasoning_summary_text.done",
                                        "response.reasoning_summary_part.done",
                                        "response.output_item.done",
                                        "response.output_item.added",
                                        "response.function_call_arguments.delta",
                                        "response.function_call_arguments.done",
                                        "response.output_item.done",
                                        "response.completed",
                                        NULL};
    expect_names(evs, n, alone);
    resp = field(evs[12].data, "response");
    assert_int_equal(json_array_size(field(resp, "output")), 2);
    assert_string_equal(str_at(resp, "output.1.call_id"), "call_0123456789abcdef01234567");
    free_evs(evs, n);
    fx_free(&f);
}

static void
test_complete_tool_calls(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, "{\"input\":\"hi\",\"tools\":[" FN_TOOL "]}", false);
    const gw_frontend *fe = &gw_fe_responses;
    gw_usage u = {4, 6, 0};
    /* Not streaming: the call is kept, nothing is written. */
    assert_int_equal(fe->tool_call(&f.out, f.st, &f.a, 0, &CALL0), 0);
    assert_int_equal(f.out.len, 0);
    assert_int_equal(fe->complete(&f.out, f.st, &f.a, "", 0, NULL, 0, GW_FINISH_TOOL_CALLS, &u), 0);
    json_t *r = json_loadb(f.out.data, f.out.len, 0, NULL);
    assert_string_equal(str_at(r, "status"), "completed");
    assert_int_equal(json_array_size(field(r, "output")), 1);
    static const char *const keys[] = {"id",      "type", "status", "arguments",
                                       "call_id", "name", NULL};
    const json_t *item = field(r, "output.0");
    void *it = json_object_iter((json_t *)item);
    for (size_t i = 0; keys[i]; i++, it = json_object_iter_next((json_t *)item, it))
        assert_string_equal(json_object_iter_key(it), keys[i]);
    assert_string_equal(str_at(item, "id"), "fc_0123456789abcdef01234567");
    assert_string_equal(str_at(item, "type"), "function_call");
    assert_string_equal(str_at(item, "status"), "completed");
    assert_string_equal(str_at(item, "arguments"), "{\"cmd\":\"ls\"}");
    assert_string_equal(str_at(item, "call_id"), "call_0123456789abcdef01234567");
    json_decref(r);
    fx_free(&f);
    /* Text and calls: the message first. */
    fx_init(&f, "{\"input\":\"hi\",\"tools\":[" FN_TOOL "]}", false);
    assert_int_equal(fe->tool_call(&f.out, f.st, &f.a, 0, &CALL0), 0);
    assert_int_equal(fe->tool_call(&f.out, f.st, &f.a, 1, &CALL1), 0);
    assert_int_equal(fe->complete(&f.out, f.st, &f.a, "ok", 2, NULL, 0, GW_FINISH_TOOL_CALLS, &u),
                     0);
    r = json_loadb(f.out.data, f.out.len, 0, NULL);
    assert_int_equal(json_array_size(field(r, "output")), 3);
    assert_string_equal(str_at(r, "output.0.content.0.text"), "ok");
    assert_string_equal(str_at(r, "output.2.call_id"), "call_89abcdef0123456701234567");
    json_decref(r);
    fx_free(&f);
}

/* ---- the store on finish ---------------------------------------------------- */

static gw_resp_store *
new_store(void)
{
    gw_resp_store_options o = {100, 1 << 20, 3600000, NULL, NULL};
    gw_resp_store *s = NULL;
    assert_int_equal(gw_resp_store_new(&s, &o), 0);
    return s;
}

/* Answer `body` (non-streaming) with `text` as response `id`, finishing
 * with `ok`, against `store`. */
static void
answer(gw_resp_store *store, const char *id, const char *body, const char *text, bool ok)
{
    gw_parse_ctx ctx = {store};
    gw_chat_request *req = parse_ok_store(body, store);
    gw_answer a = {id, 1700000000, "auto", false, false, true, NULL, req};
    void *st = gw_fe_responses.state_new(&a);
    gw_buf out = GW_BUF_INIT;
    gw_usage u = {1, 1, 0};
    assert_int_equal(
        gw_fe_responses.complete(&out, st, &a, text, strlen(text), NULL, 0, GW_FINISH_STOP, &u), 0);
    gw_fe_responses.finished(st, &a, ok, &ctx);
    gw_buf_free(&out);
    gw_fe_responses.state_free(st);
    gw_chat_request_free(req);
}

static bool
stored(gw_resp_store *s, const char *id)
{
    gw_resp_entry e;
    int rc = gw_resp_store_get(s, &e, id);
    gw_resp_entry_clear(&e);
    return rc == 0;
}

static void
test_store_and_chain(void **state)
{
    (void)state;
    gw_resp_store *s = new_store();
    answer(s, "resp_1", "{\"input\":\"one\",\"instructions\":\"sys1\"}", "A1", true);
    answer(s, "resp_nostore", "{\"input\":\"x\",\"store\":false}", "A", true);
    answer(s, "resp_failed", "{\"input\":\"x\"}", "A", false);
    assert_true(stored(s, "resp_1"));
    assert_false(stored(s, "resp_nostore"));
    assert_false(stored(s, "resp_failed"));

    /* GET returns the object exactly as delivered. */
    gw_resp_entry e;
    assert_int_equal(gw_resp_store_get(s, &e, "resp_1"), 0);
    json_t *r = json_loadb(e.response, e.response_len, 0, NULL);
    assert_string_equal(str_at(r, "output.0.content.0.text"), "A1");
    json_decref(r);
    gw_resp_entry_clear(&e);

    answer(s, "resp_2",
           "{\"previous_response_id\":\"resp_1\",\"instructions\":\"sys2\",\"input\":[{\"role\":"
           "\"user\",\"content\":\"two\"}]}",
           "A2", true);
    /* The chain: resp_1's input and output, resp_2's, then this input.
     * Only this request's instructions apply. */
    gw_chat_request *req = parse_ok_store(
        "{\"previous_response_id\":\"resp_2\",\"input\":\"three\",\"store\":false}", s);
    assert_int_equal(req->n_messages, 5);
    assert_int_equal(req->messages[0].role, GW_ROLE_USER);
    assert_string_equal(req->messages[0].content, "one");
    assert_int_equal(req->messages[1].role, GW_ROLE_ASSISTANT);
    assert_string_equal(req->messages[1].content, "A1");
    assert_string_equal(req->messages[2].content, "two");
    assert_string_equal(req->messages[3].content, "A2");
    assert_string_equal(req->messages[4].content, "three");
    assert_string_equal(gw_resp_request_of(req)->previous_response_id, "resp_2");
    gw_chat_request_free(req);
    /* input may be left out when continuing. */
    req = parse_ok_store("{\"previous_response_id\":\"resp_1\"}", s);
    assert_int_equal(req->n_messages, 2);
    gw_chat_request_free(req);

    /* A link gone breaks the chain: 404 naming it. */
    assert_int_equal(gw_resp_store_delete(s, "resp_1"), 0);
    gw_chat_request *bad = NULL;
    gw_error err;
    const char *cont = "{\"previous_response_id\":\"resp_2\",\"input\":\"x\"}";
    assert_int_equal(gw_resp_parse(&bad, &err, cont, strlen(cont), s), LINGMA_ENOTFOUND);
    assert_int_equal(err.status, 404);
    assert_string_equal(err.param, "previous_response_id");
    assert_non_null(strstr(err.message, "'resp_1'"));
    gw_resp_store_free(s);
}

/* A stored answer that called a tool, continued with the call's output
 * through previous_response_id: the transcript holds the call and the
 * result in the contract's notation. */
static void
test_chain_tool_calls(void **state)
{
    (void)state;
    gw_resp_store *s = new_store();
    gw_parse_ctx ctx = {s};
    const char *body = "{\"input\":\"run ls\",\"tools\":[" FN_TOOL "]}";
    gw_chat_request *req = parse_ok_store(body, s);
    gw_answer a = {"resp_aa", 1700000000, "auto", false, false, true, NULL, req};
    void *st = gw_fe_responses.state_new(&a);
    gw_buf out = GW_BUF_INIT;
    gw_usage u = {1, 1, 0};
    assert_int_equal(gw_fe_responses.tool_call(&out, st, &a, 0, &CALL0), 0);
    assert_int_equal(
        gw_fe_responses.complete(&out, st, &a, "", 0, NULL, 0, GW_FINISH_TOOL_CALLS, &u), 0);
    gw_fe_responses.finished(st, &a, true, &ctx);
    gw_buf_free(&out);
    gw_fe_responses.state_free(st);
    gw_chat_request_free(req);

    req = parse_ok_store("{\"previous_response_id\":\"resp_aa\",\"tools\":[" FN_TOOL "],"
                         "\"input\":[{\"type\":\"function_call_output\",\"call_id\":"
                         "\"call_0123456789abcdef01234567\",\"output\":\"a.txt\"}]}",
                         s);
    assert_int_equal(req->n_messages, 3);
    assert_string_equal(req->messages[1].tool_calls[0].id, "call_0123456789abcdef01234567");
    assert_string_equal(req->messages[2].name, "exec_command");
    char *p = prompt_of(req);
    assert_non_null(strstr(p, "User: run ls\n\nAssistant:\n```tool_call\n{\"name\":"
                              "\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}\n```\n\n"
                              "Tool result (call_0123456789abcdef01234567, exec_command):\n"
                              "```tool_result\na.txt\n```\n\n"));
    free(p);
    gw_chat_request_free(req);
    gw_resp_store_free(s);
}

static void
test_input_items(void **state)
{
    (void)state;
    gw_resp_store *s = new_store();
    answer(s, "resp_ab12",
           "{\"input\":[{\"role\":\"user\",\"content\":\"u1\"},{\"type\":\"function_call\","
           "\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},{\"type\":"
           "\"function_call_output\",\"call_id\":\"c1\",\"output\":\"r\"},{\"id\":\"mine\","
           "\"role\":\"assistant\",\"content\":\"a\"}]}",
           "x", true);
    gw_resp_entry e;
    assert_int_equal(gw_resp_store_get(s, &e, "resp_ab12"), 0);
    gw_buf out = GW_BUF_INIT;
    gw_error err;
    /* Default: newest first, 20 at most. */
    assert_int_equal(
        gw_resp_input_items_page(&out, &err, e.input, e.input_len, NULL, NULL, NULL, NULL), 0);
    json_t *p = json_loadb(out.data, out.len, 0, NULL);
    assert_string_equal(str_at(p, "object"), "list");
    assert_int_equal(json_array_size(field(p, "data")), 4);
    assert_string_equal(str_at(p, "data.0.id"), "mine");
    assert_string_equal(str_at(p, "data.0.type"), "message");
    assert_string_equal(str_at(p, "data.0.content.0.type"), "output_text");
    assert_string_equal(str_at(p, "data.1.id"), "item_ab12_2");
    assert_string_equal(str_at(p, "data.1.type"), "function_call_output");
    assert_string_equal(str_at(p, "data.3.id"), "msg_ab12_0");
    assert_string_equal(str_at(p, "data.3.content.0.type"), "input_text");
    assert_string_equal(str_at(p, "data.3.content.0.text"), "u1");
    assert_string_equal(str_at(p, "data.3.status"), "completed");
    assert_string_equal(str_at(p, "first_id"), "mine");
    assert_string_equal(str_at(p, "last_id"), "msg_ab12_0");
    assert_true(json_is_false(field(p, "has_more")));
    json_decref(p);
    gw_buf_reset(&out);
    /* Ascending, two at a time, then the rest after the cursor. */
    assert_int_equal(
        gw_resp_input_items_page(&out, &err, e.input, e.input_len, "2", "asc", NULL, NULL), 0);
    p = json_loadb(out.data, out.len, 0, NULL);
    assert_int_equal(json_array_size(field(p, "data")), 2);
    assert_string_equal(str_at(p, "data.0.id"), "msg_ab12_0");
    assert_true(json_is_true(field(p, "has_more")));
    json_decref(p);
    gw_buf_reset(&out);
    assert_int_equal(
        gw_resp_input_items_page(&out, &err, e.input, e.input_len, "2", "asc", "item_ab12_1", NULL),
        0);
    p = json_loadb(out.data, out.len, 0, NULL);
    assert_int_equal(json_array_size(field(p, "data")), 2);
    assert_string_equal(str_at(p, "data.0.id"), "item_ab12_2");
    assert_true(json_is_false(field(p, "has_more")));
    json_decref(p);
    gw_buf_reset(&out);
    assert_int_equal(gw_resp_input_items_page(&out, &err, e.input, e.input_len, NULL, "asc", NULL,
                                              "item_ab12_2"),
                     0);
    p = json_loadb(out.data, out.len, 0, NULL);
    assert_int_equal(json_array_size(field(p, "data")), 2);
    json_decref(p);
    gw_buf_reset(&out);
    assert_int_equal(gw_resp_input_items_page(&out, &err, e.input, e.input_len, NULL, NULL,
                                              "no-such-item", NULL),
                     0);
    p = json_loadb(out.data, out.len, 0, NULL);
    assert_int_equal(json_array_size(field(p, "data")), 0);
    assert_true(json_is_null(field(p, "first_id")));
    json_decref(p);
    gw_buf_reset(&out);
    /* Bad query values name themselves. */
    static const char *const limits[] = {"0", "101", "x", ""};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            gw_resp_input_items_page(&out, &err, e.input, e.input_len, limits[i], NULL, NULL, NULL),
            LINGMA_EINVAL);
        assert_string_equal(err.param, "limit");
    }
    assert_int_equal(
        gw_resp_input_items_page(&out, &err, e.input, e.input_len, NULL, "up", NULL, NULL),
        LINGMA_EINVAL);
    assert_string_equal(err.param, "order");
    assert_int_equal(out.len, 0);
    gw_resp_entry_clear(&e);

    assert_int_equal(gw_resp_deleted(&out, "resp_ab12"), 0);
    assert_string_equal(out.data,
                        "{\"id\":\"resp_ab12\",\"object\":\"response.deleted\",\"deleted\":true}");
    gw_buf_free(&out);
    gw_resp_store_free(s);
}

static void
test_ids_and_errors(void **state)
{
    (void)state;
    char id[GW_RESP_ITEM_ID_SIZE];
    gw_resp_item_id(id, "msg", "resp_0a1b");
    assert_string_equal(id, "msg_0a1b");
    gw_resp_item_id(id, "rs", "odd");
    assert_string_equal(id, "rs_odd");
    gw_error e;
    gw_resp_error_not_found(&e, "resp_x", NULL);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.code, "not_found");
    assert_string_equal(e.message, "Response with id 'resp_x' not found.");
    assert_string_equal(gw_fe_responses.id_prefix, "resp_");
    assert_int_equal(gw_fe_responses.errors, GW_API_OPENAI);
}

/* The delta writer against its tree twin, byte for byte, over random
 * texts: bytes chosen to hit every escape, NUL, DEL, multi-byte and
 * invalid UTF-8, and extreme sequence numbers and indexes. */
static uint32_t lcg = 11;
static unsigned
pick(unsigned n)
{
    return test_pick(&lcg, n);
}

/* The reference: the delta event as a jansson tree, rendered the way
 * responses.c renders every other event (gw_buf_append_json, then
 * gw_sse_event). */
static int
delta_event_tree(gw_buf *out, const gw_resp_delta *d, const char *text, size_t len)
{
    json_t *ev = json_pack("{s:s,s:I,s:s,s:I,s:i,s:o}", "type", d->type, "sequence_number",
                           (json_int_t)d->seq, "item_id", d->item_id, "output_index",
                           (json_int_t)d->output_index, d->index_key, 0, "delta",
                           gw_json_text(text ? text : "", text ? len : 0));
    int rc = LINGMA_ENOMEM;
    if (ev && (!d->logprobs || json_object_set_new(ev, "logprobs", json_array()) == 0)) {
        gw_buf j = GW_BUF_INIT;
        if (gw_buf_append_json(&j, ev) == 0)
            rc = gw_sse_event(out, d->type, j.data, j.len);
        gw_buf_free(&j);
    }
    json_decref(ev);
    return rc;
}

static void
test_delta_direct_equals_tree(void **state)
{
    (void)state;
    static const int64_t seqs[] = {0, 1, 7, 4096, INT64_MAX};
    static const size_t idxs[] = {0, 1, 3, 1u << 20};
    char text[80];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = test_random_text(&lcg, text, sizeof(text));
        bool out_text = pick(2);
        gw_resp_delta d = {out_text ? "response.output_text.delta"
                                    : "response.reasoning_summary_text.delta",
                           seqs[pick(5)],
                           out_text ? "msg_0123abcd" : "rs_0123abcd",
                           idxs[pick(4)],
                           out_text ? "content_index" : "summary_index",
                           out_text};
        const char *t = pick(10) ? text : NULL;
        gw_buf a = GW_BUF_INIT, b = GW_BUF_INIT;
        gw_buf_puts(&b, "kept"); /* appends after what is there */
        int rt = delta_event_tree(&a, &d, t, len);
        int rd = gw_resp_delta_event(&b, &d, t, len);
        assert_int_equal(rt, 0);
        assert_int_equal(rd, 0);
        assert_int_equal(b.len, a.len + 4);
        assert_memory_equal(b.data, "kept", 4);
        assert_memory_equal(b.data + 4, a.data, a.len);
        gw_buf_free(&a);
        gw_buf_free(&b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_string_input), cmocka_unit_test(test_parse_items),
        cmocka_unit_test(test_parse_params),       cmocka_unit_test(test_parse_tools),
        cmocka_unit_test(test_parse_errors),       cmocka_unit_test(test_stream_text),
        cmocka_unit_test(test_stream_reasoning),   cmocka_unit_test(test_stream_incomplete),
        cmocka_unit_test(test_stream_failed),      cmocka_unit_test(test_complete),
        cmocka_unit_test(test_store_and_chain),    cmocka_unit_test(test_input_items),
        cmocka_unit_test(test_ids_and_errors),     cmocka_unit_test(test_toolset),
        cmocka_unit_test(test_stream_tool_calls),  cmocka_unit_test(test_complete_tool_calls),
        cmocka_unit_test(test_chain_tool_calls),   cmocka_unit_test(test_delta_direct_equals_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
