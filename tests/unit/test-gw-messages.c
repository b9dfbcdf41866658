/*
 * Unit tests of the Anthropic Messages front-end (api/messages*.c,
 * api/anthropic_models.c): every parse rule and refusal, the golden event
 * sequences of a stream (with and without thinking, stop_sequence,
 * max_tokens, an error after the start), the non-streaming message, the
 * models shapes, and Anthropic's error types and statuses. Pure: no
 * sockets. doc/anthropic-compat.md describes what is pinned here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/messages.h"
#include "failalloc.h"
#include "lingma/common.h"
#include "sse.h"

/* ---- parse -------------------------------------------------------------- */

static gw_chat_request *
parse_ok(const char *body, bool count_only)
{
    gw_chat_request *r = NULL;
    gw_error e;
    int rc = gw_messages_parse(&r, &e, body, strlen(body), count_only);
    if (rc != 0)
        fail_msg("refused (%s): %s", e.param, e.message);
    return r;
}

static char *
prompt_of(const char *body)
{
    gw_chat_request *r = parse_ok(body, false);
    char *p = NULL;
    assert_int_equal(gw_chat_request_prompt(&p, r), 0);
    gw_chat_request_free(r);
    return p;
}

#define MIN_HEAD "{\"model\":\"claude-opus-5-5\",\"max_tokens\":100,"

static void
test_parse_minimal(void **state)
{
    (void)state;
    gw_chat_request *r =
        parse_ok(MIN_HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}", false);
    assert_string_equal(r->model, "claude-opus-5-5");
    assert_int_equal(r->max_tokens, 100);
    assert_false(r->stream);
    assert_false(r->show_reasoning);
    assert_null(r->user);
    assert_int_equal(r->n_messages, 1);
    assert_int_equal(r->messages[0].role, GW_ROLE_USER);
    assert_string_equal(r->messages[0].content, "Hello");
    assert_null(r->tools);
    assert_null(r->tool_choice);
    gw_chat_request_free(r);
    /* A lone user turn goes to Lingma as it is, blocks joined with "\n". */
    char *p = prompt_of(MIN_HEAD "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                                 "\"text\",\"text\":\"a\",\"cache_control\":{\"type\":"
                                 "\"ephemeral\"}},{\"type\":\"text\",\"text\":\"b\"}]}]}");
    assert_string_equal(p, "a\nb");
    free(p);
}

static void
test_parse_params(void **state)
{
    (void)state;
    gw_chat_request *r =
        parse_ok("{\"model\":\"claude-opus-5-5\",\"max_tokens\":1025,\"stream\":true,"
                 "\"temperature\":0.5,\"top_p\":1,\"top_k\":40,"
                 "\"stop_sequences\":[\"END\",\"\",\"STOP\"],\"metadata\":{\"user_id\":\"u-1\"},"
                 "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
                 "\"unknown_field\":{\"x\":[1]},\"service_tier\":\"auto\","
                 "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                 false);
    assert_true(r->stream);
    assert_true(r->has_temperature);
    assert_true(r->temperature == 0.5);
    assert_true(r->has_top_p);
    assert_int_equal(r->n_stop, 2); /* the empty one is dropped */
    assert_string_equal(r->stop[0], "END");
    assert_string_equal(r->stop[1], "STOP");
    assert_string_equal(r->user, "u-1");
    assert_true(r->show_reasoning);
    gw_chat_request_free(r);

    static const struct {
        const char *thinking;
        bool shown;
    } thinking[] = {
        {"{\"type\":\"disabled\"}", false},
        {"{\"type\":\"adaptive\"}", true},
        {"{\"type\":\"adaptive\",\"display\":\"summarized\"}", true},
        {"{\"type\":\"adaptive\",\"display\":\"omitted\"}", false},
        {"{\"type\":\"between_tools\"}", true},
        {"{\"type\":\"enabled\",\"budget_tokens\":2048,\"display\":null}", true},
        {"null", false},
    };
    for (size_t i = 0; i < sizeof(thinking) / sizeof(thinking[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"model\":\"m\",\"max_tokens\":4096,\"thinking\":%s,\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"x\"}]}",
                 thinking[i].thinking);
        r = parse_ok(body, false);
        if (r->show_reasoning != thinking[i].shown)
            fail_msg("thinking %s: show_reasoning %d", thinking[i].thinking, r->show_reasoning);
        gw_chat_request_free(r);
    }

    /* count_tokens: no max_tokens; stream and a budget above nothing pass. */
    r = parse_ok("{\"model\":\"m\",\"stream\":\"ignored\",\"thinking\":{\"type\":\"enabled\","
                 "\"budget_tokens\":5000},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                 true);
    assert_int_equal(r->max_tokens, 0);
    assert_false(r->stream);
    gw_chat_request_free(r);
    /* null means absent for every optional field. */
    r = parse_ok(MIN_HEAD "\"system\":null,\"stream\":null,\"temperature\":null,\"top_p\":null,"
                          "\"top_k\":null,\"stop_sequences\":null,\"metadata\":null,"
                          "\"tools\":null,\"tool_choice\":null,\"messages\":[{\"role\":\"user\","
                          "\"content\":\"x\"}]}",
                 false);
    assert_false(r->has_temperature);
    assert_int_equal(r->n_stop, 0);
    gw_chat_request_free(r);
    r = parse_ok(MIN_HEAD "\"metadata\":{\"user_id\":null},\"messages\":[{\"role\":\"user\","
                          "\"content\":\"x\"}]}",
                 false);
    assert_null(r->user);
    gw_chat_request_free(r);
}

static void
test_parse_conversation(void **state)
{
    (void)state;
    /* system as blocks, a system message, assistant text + tool_use with
     * thinking dropped, user tool_result (text blocks, is_error) then text. */
    const char *body = MIN_HEAD
        "\"system\":[{\"type\":\"text\",\"text\":\"Be terse.\"},{\"type\":\"text\",\"text\":"
        "\"Use tools.\"}],"
        "\"messages\":["
        "{\"role\":\"user\",\"content\":\"List files\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\","
        "\"signature\":\"s\"},{\"type\":\"redacted_thinking\",\"data\":\"x\"},{\"type\":\"text\","
        "\"text\":\"Let me look.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\","
        "\"input\":{\"command\":\"ls\",\"n\":[1,2]}},{\"type\":\"tool_use\",\"id\":\"toolu_2\","
        "\"name\":\"Read\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
        "\"content\":[{\"type\":\"text\",\"text\":\"a.c\"},{\"type\":\"text\",\"text\":\"b.c\"}]},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":\"no such file\","
        "\"is_error\":true},{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_9\"},"
        "{\"type\":\"text\",\"text\":\"Now summarise.\"}]},"
        "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"Mid-way note.\"}]}"
        "]}";
    gw_chat_request *r = parse_ok(body, false);
    assert_int_equal(r->n_messages, 8);
    assert_int_equal(r->messages[0].role, GW_ROLE_SYSTEM);
    assert_string_equal(r->messages[0].content, "Be terse.\nUse tools.");
    assert_int_equal(r->messages[2].role, GW_ROLE_ASSISTANT);
    assert_string_equal(r->messages[2].content, "Let me look.");
    assert_int_equal(r->messages[2].n_tool_calls, 2);
    assert_string_equal(r->messages[2].tool_calls[0].id, "toolu_1");
    assert_string_equal(r->messages[2].tool_calls[0].name, "Bash");
    assert_string_equal(r->messages[2].tool_calls[0].arguments, "{\"command\":\"ls\",\"n\":[1,2]}");
    assert_string_equal(r->messages[2].tool_calls[1].arguments, "{}");
    assert_int_equal(r->messages[3].role, GW_ROLE_TOOL);
    assert_string_equal(r->messages[3].tool_call_id, "toolu_1");
    assert_string_equal(r->messages[3].name, "Bash");
    assert_string_equal(r->messages[3].content, "a.c\nb.c");
    assert_string_equal(r->messages[4].content, "no such file");
    assert_true(r->messages[4].is_error);
    assert_false(r->messages[3].is_error);
    assert_null(r->messages[5].name); /* an id no tool_use had */
    assert_string_equal(r->messages[5].content, "");
    assert_int_equal(r->messages[6].role, GW_ROLE_USER);
    assert_string_equal(r->messages[6].content, "Now summarise.");
    assert_int_equal(r->messages[7].role, GW_ROLE_SYSTEM);
    gw_chat_request_free(r);

    char *p = prompt_of(body);
    /* Calls and results in the tool contract's notation (doc/tools.md). */
    assert_string_equal(
        p, "System instructions:\nBe terse.\nUse tools.\n\nMid-way note.\n\n"
           "Conversation transcript:\nUser: List files\n\nAssistant:\nLet me look.\n"
           "```tool_call\n{\"name\":\"Bash\",\"arguments\":{\"command\":\"ls\",\"n\":[1,2]}}\n"
           "{\"name\":\"Read\",\"arguments\":{}}\n```\n\n"
           "Tool result (toolu_1, Bash):\n```tool_result\na.c\nb.c\n```\n\n"
           "Tool error (toolu_2, Read):\n```tool_result\nno such file\n```\n\n"
           "Tool result (toolu_9):\n```tool_result\n```\n\nUser: Now summarise.\n\n"
           "Answer the latest User message above. Reply with the answer only, without a speaker "
           "label.");
    free(p);

    /* A user turn's tool results come first, its text after them (one
     * message): a turn of results alone has no User label. */
    r = parse_ok(MIN_HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"Go\"},{\"role\":"
                          "\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
                          "\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":["
                          "{\"type\":\"text\",\"text\":\"first\"},{\"type\":\"tool_result\","
                          "\"tool_use_id\":\"t1\",\"content\":\"r\"},{\"type\":\"text\","
                          "\"text\":\"after\"}]}]}",
                 false);
    assert_int_equal(r->n_messages, 4);
    assert_int_equal(r->messages[2].role, GW_ROLE_TOOL);
    assert_int_equal(r->messages[3].role, GW_ROLE_USER);
    assert_string_equal(r->messages[3].content, "first\nafter");
    gw_chat_request_free(r);

    /* Claude Code's billing header is metadata, not an instruction: dropped
     * from the system prompt (only there). */
    p = prompt_of(MIN_HEAD "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: "
                           "cc_version=2.1.332.0b8; cc_entrypoint=sdk-cli;\"},{\"type\":\"text\","
                           "\"text\":\"You are an agent.\"}],\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x-anthropic-billing-header: kept\"}]}");
    assert_string_equal(p, "System instructions:\nYou are an agent.\n\nConversation transcript:\n"
                           "User: x-anthropic-billing-header: kept\n\nAnswer the latest User "
                           "message above. Reply with the answer only, without a speaker label.");
    free(p);

    /* Turns left without text: an assistant turn of thinking only, a user
     * turn of an empty block list. An empty system prompt adds nothing. */
    r = parse_ok(MIN_HEAD "\"system\":\"\",\"messages\":[{\"role\":\"user\",\"content\":[]},"
                          "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
                          "\"thinking\":\"t\",\"signature\":\"s\"}]},{\"role\":\"user\","
                          "\"content\":[{\"type\":\"redacted_thinking\",\"data\":\"d\"}]}]}",
                 false);
    assert_int_equal(r->n_messages, 3);
    assert_string_equal(r->messages[0].content, "");
    assert_null(r->messages[1].content);
    assert_int_equal(r->messages[1].n_tool_calls, 0);
    assert_string_equal(r->messages[2].content, "");
    gw_chat_request_free(r);
}

static void
test_parse_tools(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok(
        MIN_HEAD "\"tools\":[{\"name\":\"Bash\",\"description\":\"Run\",\"input_schema\":{"
                 "\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}}},"
                 "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"custom\",\"name\":"
                 "\"Read\",\"input_schema\":{\"type\":\"object\"}},{\"type\":"
                 "\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":5},{\"type\":"
                 "\"mcp_toolset\",\"mcp_server_name\":\"m\"}],"
                 "\"tool_choice\":{\"type\":\"tool\",\"name\":\"Bash\","
                 "\"disable_parallel_tool_use\":true},"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        false);
    assert_int_equal(r->n_tools, 4);
    char *t = json_dumps(r->tools, JSON_COMPACT);
    assert_string_equal(
        t, "[{\"type\":\"function\",\"function\":{\"name\":\"Bash\","
           "\"description\":\"Run\",\"parameters\":{\"type\":\"object\","
           "\"properties\":{\"command\":{\"type\":\"string\"}}}}},"
           "{\"type\":\"function\",\"function\":{\"name\":\"Read\",\"parameters\":"
           "{\"type\":\"object\"}}},{\"type\":\"web_search_20250305\",\"name\":"
           "\"web_search\",\"max_uses\":5},{\"type\":\"mcp_toolset\",\"mcp_server_name\":"
           "\"m\"}]");
    free(t);
    t = json_dumps(r->tool_choice, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_string_equal(t, "{\"type\":\"function\",\"function\":{\"name\":\"Bash\"}}");
    free(t);
    gw_chat_request_free(r);

    static const char *const choice[][2] = {
        {"auto", "auto"},
        {"any", "required"},
        {"none", "none"},
    };
    static const lingma_tool_choice made[] = {LINGMA_TOOL_CHOICE_AUTO, LINGMA_TOOL_CHOICE_REQUIRED,
                                              LINGMA_TOOL_CHOICE_NONE};
    for (size_t i = 0; i < 3; i++) {
        char body[384];
        snprintf(body, sizeof(body),
                 MIN_HEAD "\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],\"tool_choice\":"
                          "{\"type\":\"%s\"},\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"x\"}]}",
                 choice[i][0]);
        r = parse_ok(body, false);
        assert_string_equal(json_string_value(r->tool_choice), choice[i][1]);
        assert_int_equal(r->choice, made[i]);
        assert_true((r->toolset != NULL) == (made[i] != LINGMA_TOOL_CHOICE_NONE));
        gw_chat_request_free(r);
    }
}

/* What is offered to Lingma: custom tools but not Anthropic's typed ones
 * or Claude Code's deferred placeholders; disable_parallel_tool_use. */
static void
test_toolset(void **state)
{
    (void)state;
    gw_chat_request *r = parse_ok(
        MIN_HEAD "\"tools\":[{\"name\":\"DeferredToolPlaceholder\",\"defer_loading\":true,"
                 "\"input_schema\":{\"type\":\"object\"}},{\"name\":\"Write\",\"input_schema\":"
                 "{\"type\":\"object\",\"required\":[\"file_path\"]}},{\"type\":"
                 "\"web_search_20250305\",\"name\":\"web_search\"}],\"tool_choice\":{\"type\":"
                 "\"auto\",\"disable_parallel_tool_use\":true},\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}]}",
        false);
    assert_int_equal(r->n_tools, 3);
    assert_int_equal(lingma_toolset_count(r->toolset), 1);
    assert_true(lingma_toolset_has(r->toolset, "Write"));
    assert_true(r->single_tool_call);
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_AUTO);
    gw_chat_request_free(r);
    r = parse_ok(MIN_HEAD "\"tools\":[{\"name\":\"Write\",\"input_schema\":{}}],\"tool_choice\":"
                          "{\"type\":\"tool\",\"name\":\"Write\"},\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"x\"}]}",
                 false);
    assert_int_equal(r->choice, LINGMA_TOOL_CHOICE_NAMED);
    assert_string_equal(r->tool_name, "Write");
    assert_false(r->single_tool_call);
    gw_chat_request_free(r);
}

/* Every refusal: 400, Anthropic's "<path>: <problem>" message, the path in
 * param. */
static void
test_parse_refusals(void **state)
{
    (void)state;
#define MSGS    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define WITH(x) MIN_HEAD x "," MSGS "}"
#define USER(c) MIN_HEAD "\"messages\":[{\"role\":\"user\",\"content\":" c "}]}"
#define ASST(c)                                                                                    \
    MIN_HEAD "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\","        \
             "\"content\":" c "}]}"
    static const struct {
        const char *body;
        const char *param;   /* "" = none (the body checks) */
        const char *message; /* a substring */
    } cases[] = {
        {"", "", "empty"},
        {"[1]", "", "JSON object"},
        {"{\"model\":\"m\",\"model\":\"n\"}", "", "parse"},
        {"{\"max_tokens\":1," MSGS "}", "model", "model: Field required"},
        {"{\"model\":7,\"max_tokens\":1," MSGS "}", "model", "Input should be a valid string"},
        {"{\"model\":\"\",\"max_tokens\":1," MSGS "}", "model", "at least 1 character"},
        {"{\"model\":\"m\"," MSGS "}", "max_tokens", "max_tokens: Field required"},
        {"{\"model\":\"m\",\"max_tokens\":null," MSGS "}", "max_tokens", "Field required"},
        {"{\"model\":\"m\",\"max_tokens\":0," MSGS "}", "max_tokens", "greater than or equal to 1"},
        {"{\"model\":\"m\",\"max_tokens\":\"5\"," MSGS "}", "max_tokens", "a valid integer"},
        {"{\"model\":\"m\",\"max_tokens\":1.5," MSGS "}", "max_tokens", "a valid integer"},
        {MIN_HEAD "\"x\":1}", "messages", "messages: Field required"},
        {MIN_HEAD "\"messages\":{}}", "messages", "a valid list"},
        {MIN_HEAD "\"messages\":[]}", "messages", "at least one message"},
        {MIN_HEAD "\"messages\":[\"hi\"]}", "messages.0", "a valid dictionary"},
        {MIN_HEAD "\"messages\":[{\"content\":\"x\"}]}", "messages.0.role", "Field required"},
        {MIN_HEAD "\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages.0.role",
         "'user', 'assistant' or 'system'"},
        {MIN_HEAD "\"messages\":[{\"role\":\"user\"}]}", "messages.0.content", "Field required"},
        {USER("null"), "messages.0.content", "a valid string or a list"},
        {USER("3"), "messages.0.content", "a valid string or a list"},
        {USER("[3]"), "messages.0.content.0", "a valid dictionary"},
        {USER("[{\"text\":\"x\"}]"), "messages.0.content.0.type", "Field required"},
        {USER("[{\"type\":1}]"), "messages.0.content.0.type", "a valid string"},
        {USER("[{\"type\":\"text\"}]"), "messages.0.content.0.text", "Field required"},
        {USER("[{\"type\":\"text\",\"text\":null}]"), "messages.0.content.0.text",
         "a valid string"},
        {USER("[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
              "\"data\":\"AA==\"}}]"),
         "messages.0.content.0", "image content blocks are not supported"},
        {USER("[{\"type\":\"document\",\"source\":{}}]"), "messages.0.content.0",
         "document content blocks are not supported"},
        {USER("[{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\",\"input\":{}}]"),
         "messages.0.content.0", "'server_tool_use' are not supported"},
        {USER("[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}}]"),
         "messages.0.content.0", "tool_use blocks belong in assistant messages"},
        {ASST("[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"}]"), "messages.1.content.0",
         "tool_result blocks belong in user messages"},
        {ASST("[{\"type\":\"tool_use\",\"name\":\"n\",\"input\":{}}]"), "messages.1.content.0.id",
         "Field required"},
        {ASST("[{\"type\":\"tool_use\",\"id\":\"t\",\"input\":{}}]"), "messages.1.content.0.name",
         "Field required"},
        {ASST("[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\"}]"),
         "messages.1.content.0.input", "Field required"},
        {ASST("[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":\"{}\"}]"),
         "messages.1.content.0.input", "a valid dictionary"},
        {USER("[{\"type\":\"tool_result\"}]"), "messages.0.content.0.tool_use_id",
         "Field required"},
        {USER("[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"is_error\":1}]"),
         "messages.0.content.0.is_error", "a valid boolean"},
        {USER("[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":7}]"),
         "messages.0.content.0.content", "a valid string or a list of text blocks"},
        {USER("[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":\"image\","
              "\"source\":{}}]}]"),
         "messages.0.content.0.content.0", "image content blocks are not supported"},
        {MIN_HEAD "\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image\"}]}]}",
         "messages.0.content.0", "image content blocks"},
        {WITH("\"system\":5"), "system", "a valid string or a list of text blocks"},
        {WITH("\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\"}]"), "system.1",
         "image content blocks"},
        {WITH("\"system\":[\"a\"]"), "system.0", "a valid dictionary"},
        {WITH("\"stop_sequences\":\"END\""), "stop_sequences", "a valid list"},
        {WITH("\"stop_sequences\":[1]"), "stop_sequences.0", "a valid string"},
        {WITH("\"stop_sequences\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
              "\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]"),
         "stop_sequences", "at most 16"},
        {WITH("\"stream\":\"yes\""), "stream", "a valid boolean"},
        {WITH("\"temperature\":1.5"), "temperature", "between 0 and 1"},
        {WITH("\"temperature\":-0.1"), "temperature", "between 0 and 1"},
        {WITH("\"temperature\":\"hot\""), "temperature", "a valid number"},
        {WITH("\"top_p\":2"), "top_p", "between 0 and 1"},
        {WITH("\"top_k\":-1"), "top_k", "greater than or equal to 0"},
        {WITH("\"top_k\":1.5"), "top_k", "a valid integer"},
        {WITH("\"metadata\":[]"), "metadata", "a valid dictionary"},
        {WITH("\"metadata\":{\"user_id\":5}"), "metadata.user_id", "a valid string"},
        {WITH("\"thinking\":true"), "thinking", "a valid dictionary"},
        {WITH("\"thinking\":{}"), "thinking.type", "Field required"},
        {WITH("\"thinking\":{\"type\":\"on\"}"), "thinking.type", "'enabled', 'disabled'"},
        {WITH("\"thinking\":{\"type\":\"enabled\"}"), "thinking.budget_tokens", "Field required"},
        {WITH("\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1023}"),
         "thinking.budget_tokens", "greater than or equal to 1024"},
        {"{\"model\":\"m\",\"max_tokens\":2000,\"thinking\":{\"type\":\"enabled\","
         "\"budget_tokens\":2000}," MSGS "}",
         "max_tokens", "must be greater than thinking.budget_tokens"},
        {WITH("\"thinking\":{\"type\":\"adaptive\",\"display\":\"full\"}"), "thinking.display",
         "'summarized' or 'omitted'"},
        {WITH("\"tools\":{}"), "tools", "a valid list"},
        {WITH("\"tools\":[1]"), "tools.0", "a valid dictionary"},
        {WITH("\"tools\":[{\"input_schema\":{}}]"), "tools.0.name", "Field required"},
        {WITH("\"tools\":[{\"name\":\"a\"}]"), "tools.0.input_schema", "Field required"},
        {WITH("\"tools\":[{\"name\":\"a\",\"input_schema\":[]}]"), "tools.0.input_schema",
         "a valid dictionary"},
        {WITH("\"tools\":[{\"name\":\"a\",\"input_schema\":{},\"description\":1}]"),
         "tools.0.description", "a valid string"},
        {WITH("\"tools\":[{\"name\":\"a\",\"type\":3}]"), "tools.0.type", "a valid string"},
        {WITH("\"tool_choice\":\"auto\""), "tool_choice", "a valid dictionary"},
        {WITH("\"tool_choice\":{}"), "tool_choice.type", "Field required"},
        {WITH("\"tool_choice\":{\"type\":\"required\"}"), "tool_choice.type",
         "'auto', 'any', 'tool' or 'none'"},
        {WITH("\"tool_choice\":{\"type\":\"tool\"}"), "tool_choice.name", "Field required"},
        {WITH("\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":\"no\"}"),
         "tool_choice.disable_parallel_tool_use", "a valid boolean"},
        /* What the toolset refuses. */
        {WITH("\"tools\":[{\"name\":\"a b\",\"input_schema\":{}}]"), "tools.0.name",
         "tools.0.name: 'a b' is not a valid tool name"},
        {WITH("\"tools\":[{\"name\":\"a\",\"input_schema\":{}},{\"name\":\"a\","
              "\"input_schema\":{}}]"),
         "tools.1.name", "declared twice"},
        {WITH("\"tools\":[{\"name\":\"a\",\"input_schema\":{}}],\"tool_choice\":{\"type\":"
              "\"tool\",\"name\":\"b\"}"),
         "tool_choice.name", "'b' is not among the function tools"},
        {WITH("\"tool_choice\":{\"type\":\"any\"}"), "tool_choice",
         "needs at least one function tool"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_chat_request *r = (gw_chat_request *)1;
        gw_error e;
        int rc = gw_messages_parse(&r, &e, cases[i].body, strlen(cases[i].body), false);
        if (rc != LINGMA_EINVAL)
            fail_msg("case %zu accepted (rc %d): %s", i, rc, cases[i].body);
        assert_null(r);
        assert_int_equal(e.status, 400);
        if (strcmp(e.param, cases[i].param) != 0 || !strstr(e.message, cases[i].message))
            fail_msg("case %zu: param '%s' message '%s'", i, e.param, e.message);
        /* The Anthropic envelope of every refusal. */
        gw_buf b = GW_BUF_INIT;
        assert_int_equal(gw_error_json_for(&b, GW_API_ANTHROPIC, &e), 0);
        assert_non_null(strstr(b.data, "{\"type\":\"error\",\"error\":{\"type\":"
                                       "\"invalid_request_error\",\"message\":"));
        gw_buf_free(&b);
    }
#undef MSGS
#undef WITH
#undef USER
#undef ASST
}

/* ---- render ------------------------------------------------------------- */

static const gw_chat_request no_req = {0};

static gw_answer
answer(bool stream, bool thinking)
{
    gw_answer a = {0};
    a.id = "msg_01";
    a.created = 1700000000;
    a.model = "auto";
    a.stream = stream;
    a.show_reasoning = thinking;
    a.req = &no_req;
    a.input_tokens = 9;
    return a;
}

/* One step of a scripted stream. */
typedef enum { OPEN, TEXT, THINK, CLOSE, ERROR } step_kind;
typedef struct step {
    step_kind kind;
    const char *text; /* TEXT, THINK */
    gw_finish why;    /* CLOSE */
} step;

static char *
run(const gw_answer *a, const step *steps, size_t n, const gw_error *e)
{
    const gw_frontend *fe = &gw_fe_messages;
    gw_buf out = GW_BUF_INIT;
    void *st = fe->state_new(a);
    assert_non_null(st);
    gw_usage u = {9, 4};
    for (size_t i = 0; i < n; i++) {
        const step *s = &steps[i];
        int rc = 0;
        switch (s->kind) {
        case OPEN:
            rc = fe->stream_open(&out, st, a);
            break;
        case TEXT:
            rc = fe->stream_text(&out, st, a, s->text, strlen(s->text));
            break;
        case THINK:
            rc = fe->stream_reasoning(&out, st, a, s->text, strlen(s->text));
            break;
        case CLOSE:
            rc = fe->stream_close(&out, st, a, s->why, &u);
            break;
        case ERROR:
            rc = fe->stream_error(&out, st, a, e);
            break;
        }
        assert_int_equal(rc, 0);
    }
    fe->state_free(st);
    return gw_buf_detach(&out, NULL);
}

#define EV(name, json) "event: " name "\ndata: " json "\n\n"
#define USAGE(in, out)                                                                             \
    "{\"input_tokens\":" #in ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"   \
    "\"output_tokens\":" #out "}"
#define START                                                                                      \
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":"     \
                        "\"message\",\"role\":\"assistant\",\"model\":\"auto\",\"content\":[],"    \
                        "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" USAGE(9, 0) "}}")
#define BLOCK_START(i, block)                                                                      \
    EV("content_block_start",                                                                      \
       "{\"type\":\"content_block_start\",\"index\":" #i ",\"content_block\":" block "}")
#define TEXT_START(i) BLOCK_START(i, "{\"type\":\"text\",\"text\":\"\"}")
#define DELTA(i, type, key, text)                                                                  \
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" #i                    \
                              ",\"delta\":{\"type\":\"" type "\",\"" key "\":\"" text "\"}}")
#define BLOCK_STOP(i) EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" #i "}")
#define END(reason, seq)                                                                           \
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" reason         \
                        "\",\"stop_sequence\":" seq "},\"usage\":" USAGE(9, 4) "}")                \
    EV("message_stop", "{\"type\":\"message_stop\"}")

static void
test_stream_text(void **state)
{
    (void)state;
    gw_answer a = answer(true, false);
    const step s[] = {
        {OPEN, NULL, 0}, {TEXT, "Hel", 0}, {TEXT, "lo \"x\"\n", 0}, {CLOSE, NULL, GW_FINISH_STOP}};
    char *got = run(&a, s, 4, NULL);
    assert_string_equal(got, START TEXT_START(0) DELTA(0, "text_delta", "text", "Hel")
                                 DELTA(0, "text_delta", "text", "lo \\\"x\\\"\\n") BLOCK_STOP(0)
                                     END("end_turn", "null"));
    free(got);
}

static void
test_stream_thinking(void **state)
{
    (void)state;
    gw_answer a = answer(true, true);
    const step s[] = {{OPEN, NULL, 0}, {THINK, "Let me", 0}, {THINK, " see.", 0},
                      {TEXT, "Hi", 0}, {TEXT, "!", 0},       {CLOSE, NULL, GW_FINISH_STOP}};
    char *got = run(&a, s, 6, NULL);
    assert_string_equal(
        got, START BLOCK_START(0, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}")
                 DELTA(0, "thinking_delta", "thinking", "Let me")
                     DELTA(0, "thinking_delta", "thinking", " see.")
                         DELTA(0, "signature_delta", "signature", "lingma-gatewayd:msg_01")
                             BLOCK_STOP(0) TEXT_START(1) DELTA(1, "text_delta", "text", "Hi")
                                 DELTA(1, "text_delta", "text", "!") BLOCK_STOP(1)
                                     END("end_turn", "null"));
    free(got);
    /* Thinking that only starts after text opens a new block each time the
     * kind changes; the last open block is closed at the end. */
    const step late[] = {
        {OPEN, NULL, 0}, {TEXT, "a", 0}, {THINK, "b", 0}, {CLOSE, NULL, GW_FINISH_STOP}};
    got = run(&a, late, 4, NULL);
    assert_string_equal(
        got, START TEXT_START(0) DELTA(0, "text_delta", "text", "a") BLOCK_STOP(0)
                 BLOCK_START(1, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}")
                     DELTA(1, "thinking_delta", "thinking", "b")
                         DELTA(1, "signature_delta", "signature", "lingma-gatewayd:msg_01")
                             BLOCK_STOP(1) END("end_turn", "null"));
    free(got);
}

static void
test_stream_stop_reasons(void **state)
{
    (void)state;
    gw_answer a = answer(true, false);
    a.stop_sequence = "END";
    const step seq[] = {{OPEN, NULL, 0}, {TEXT, "x", 0}, {CLOSE, NULL, GW_FINISH_STOP_SEQUENCE}};
    char *got = run(&a, seq, 3, NULL);
    assert_string_equal(got, START TEXT_START(0) DELTA(0, "text_delta", "text", "x") BLOCK_STOP(0)
                                 END("stop_sequence", "\"END\""));
    free(got);
    const step len[] = {{OPEN, NULL, 0}, {TEXT, "x", 0}, {CLOSE, NULL, GW_FINISH_LENGTH}};
    got = run(&a, len, 3, NULL);
    assert_string_equal(got, START TEXT_START(0) DELTA(0, "text_delta", "text", "x") BLOCK_STOP(0)
                                 END("max_tokens", "null"));
    free(got);
    /* An empty answer is one empty text block. */
    const step empty[] = {{OPEN, NULL, 0}, {CLOSE, NULL, GW_FINISH_STOP}};
    got = run(&a, empty, 2, NULL);
    assert_string_equal(got, START TEXT_START(0) BLOCK_STOP(0) END("end_turn", "null"));
    free(got);
}

static void
test_stream_error(void **state)
{
    (void)state;
    gw_answer a = answer(true, false);
    gw_error e;
    gw_error_from_lingma(&e, LINGMA_EIO, 0, 0);
    const step s[] = {{OPEN, NULL, 0}, {TEXT, "x", 0}, {ERROR, NULL, 0}};
    char *got = run(&a, s, 3, &e);
    /* No content_block_stop, no message_delta: a cut answer never looks
     * finished. */
    assert_string_equal(
        got, START TEXT_START(0) DELTA(0, "text_delta", "text", "x")
                 EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
                             "\"The connection to the Lingma backend was lost before the answer "
                             "was complete.\"}}"));
    free(got);
    gw_error_from_lingma(&e, LINGMA_ECLOSED, 0, 0);
    const step drain[] = {{OPEN, NULL, 0}, {ERROR, NULL, 0}};
    got = run(&a, drain, 2, &e);
    assert_string_equal(got, START EV("error", "{\"type\":\"error\",\"error\":{\"type\":"
                                               "\"overloaded_error\",\"message\":\"The gateway is "
                                               "shutting down.\"}}"));
    free(got);
}

static void
test_heartbeat(void **state)
{
    (void)state;
    assert_string_equal(gw_fe_messages.heartbeat, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    assert_string_equal(gw_fe_messages.id_prefix, "msg_");
    assert_int_equal(gw_fe_messages.errors, GW_API_ANTHROPIC);
}

static char *
complete(const gw_answer *a, const char *text, const char *reasoning, gw_finish why)
{
    gw_buf out = GW_BUF_INIT;
    gw_usage u = {9, 4};
    void *st = gw_fe_messages.state_new(a);
    assert_int_equal(gw_fe_messages.complete(&out, st, a, text, text ? strlen(text) : 0, reasoning,
                                             reasoning ? strlen(reasoning) : 0, why, &u),
                     0);
    gw_fe_messages.state_free(st);
    return gw_buf_detach(&out, NULL);
}

#define MESSAGE(content, reason, seq)                                                              \
    "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"auto\","           \
    "\"content\":" content ",\"stop_reason\":\"" reason "\",\"stop_sequence\":" seq                \
    ",\"usage\":" USAGE(9, 4) "}"

static void
test_complete(void **state)
{
    (void)state;
    gw_answer a = answer(false, false);
    char *got = complete(&a, "Hello", NULL, GW_FINISH_STOP);
    assert_string_equal(got,
                        MESSAGE("[{\"type\":\"text\",\"text\":\"Hello\"}]", "end_turn", "null"));
    free(got);
    /* Reasoning shows only when thinking was asked for. */
    got = complete(&a, "Hi", "hm", GW_FINISH_LENGTH);
    assert_string_equal(got,
                        MESSAGE("[{\"type\":\"text\",\"text\":\"Hi\"}]", "max_tokens", "null"));
    free(got);
    a.show_reasoning = true;
    a.stop_sequence = "##";
    got = complete(&a, "Hi", "hm", GW_FINISH_STOP_SEQUENCE);
    assert_string_equal(got, MESSAGE("[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":"
                                     "\"lingma-gatewayd:msg_01\"},{\"type\":\"text\",\"text\":"
                                     "\"Hi\"}]",
                                     "stop_sequence", "\"##\""));
    free(got);
    /* Invalid UTF-8 from upstream becomes U+FFFD; an empty answer is an
     * empty text block. */
    got = complete(&a, "a\xff", NULL, GW_FINISH_STOP);
    assert_non_null(strstr(got, "\"text\":\"a\xef\xbf\xbd\""));
    free(got);
    got = complete(&a, NULL, NULL, GW_FINISH_STOP);
    assert_non_null(strstr(got, "\"content\":[{\"type\":\"text\",\"text\":\"\"}]"));
    free(got);
}

/* ---- tool calls ----------------------------------------------------------- */

static const gw_tool_call WRITE = {"call_0123456789abcdef01234567", "Write",
                                   "{\"file_path\":\"/tmp/x\",\"content\":\"hi\"}"};
static const gw_tool_call BASH = {"call_89abcdef0123456701234567", "Bash", "{\"command\":\"ls\"}"};

#define TOOL_USE(i, id, name, partial)                                                             \
    BLOCK_START(i, "{\"type\":\"tool_use\",\"id\":\"" id "\",\"name\":\"" name "\",\"input\":{}}") \
    EV("content_block_delta",                                                                      \
       "{\"type\":\"content_block_delta\",\"index\":" #i                                           \
       ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"" partial "\"}}")             \
    BLOCK_STOP(i)

static void
test_stream_tool_use(void **state)
{
    (void)state;
    const gw_frontend *fe = &gw_fe_messages;
    gw_answer a = answer(true, true);
    gw_usage u = {9, 4};
    gw_buf out = GW_BUF_INIT;
    void *st = fe->state_new(&a);
    /* Thinking, text, two calls: each call a tool_use block of its own,
     * its input whole in one input_json_delta; stop_reason tool_use. */
    assert_int_equal(fe->stream_open(&out, st, &a), 0);
    assert_int_equal(fe->stream_reasoning(&out, st, &a, "t", 1), 0);
    assert_int_equal(fe->stream_text(&out, st, &a, "Sure.", 5), 0);
    assert_int_equal(fe->tool_call(&out, st, &a, 0, &WRITE), 0);
    assert_int_equal(fe->tool_call(&out, st, &a, 1, &BASH), 0);
    assert_int_equal(fe->stream_close(&out, st, &a, GW_FINISH_TOOL_CALLS, &u), 0);
    assert_string_equal(
        out.data,
        START BLOCK_START(0, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}")
            DELTA(0, "thinking_delta", "thinking", "t")
                DELTA(0, "signature_delta", "signature", "lingma-gatewayd:msg_01") BLOCK_STOP(0)
                    TEXT_START(1) DELTA(1, "text_delta", "text", "Sure.") BLOCK_STOP(1)
                        TOOL_USE(2, "toolu_0123456789abcdef01234567", "Write",
                                 "{\\\"file_path\\\":\\\"/tmp/x\\\",\\\"content\\\":\\\"hi\\\"}")
                            TOOL_USE(3, "toolu_89abcdef0123456701234567", "Bash",
                                     "{\\\"command\\\":\\\"ls\\\"}") END("tool_use", "null"));
    fe->state_free(st);
    gw_buf_reset(&out);
    /* A call alone: message_start first, no text block. */
    a = answer(true, false);
    st = fe->state_new(&a);
    assert_int_equal(fe->stream_open(&out, st, &a), 0);
    assert_int_equal(fe->tool_call(&out, st, &a, 0, &BASH), 0);
    assert_int_equal(fe->stream_close(&out, st, &a, GW_FINISH_TOOL_CALLS, &u), 0);
    assert_string_equal(out.data,
                        START TOOL_USE(0, "toolu_89abcdef0123456701234567", "Bash",
                                       "{\\\"command\\\":\\\"ls\\\"}") END("tool_use", "null"));
    fe->state_free(st);
    gw_buf_free(&out);
}

static void
test_complete_tool_use(void **state)
{
    (void)state;
    const gw_frontend *fe = &gw_fe_messages;
    gw_answer a = answer(false, false);
    gw_usage u = {9, 4};
    gw_buf out = GW_BUF_INIT;
    void *st = fe->state_new(&a);
    /* Not streaming: the calls are kept, nothing is written until the
     * message, where input is the arguments object. */
    assert_int_equal(fe->tool_call(&out, st, &a, 0, &WRITE), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(fe->complete(&out, st, &a, "", 0, NULL, 0, GW_FINISH_TOOL_CALLS, &u), 0);
    assert_string_equal(out.data, MESSAGE("[{\"type\":\"tool_use\",\"id\":"
                                          "\"toolu_0123456789abcdef01234567\",\"name\":\"Write\","
                                          "\"input\":{\"file_path\":\"/tmp/x\",\"content\":"
                                          "\"hi\"}}]",
                                          "tool_use", "null"));
    fe->state_free(st);
    gw_buf_reset(&out);
    st = fe->state_new(&a);
    assert_int_equal(fe->tool_call(&out, st, &a, 0, &BASH), 0);
    assert_int_equal(fe->complete(&out, st, &a, "On it.", 6, NULL, 0, GW_FINISH_TOOL_CALLS, &u), 0);
    assert_string_equal(out.data, MESSAGE("[{\"type\":\"text\",\"text\":\"On it.\"},{\"type\":"
                                          "\"tool_use\",\"id\":\"toolu_89abcdef0123456701234567\","
                                          "\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}]",
                                          "tool_use", "null"));
    fe->state_free(st);
    gw_buf_free(&out);
}

/* ---- errors, models, count ---------------------------------------------- */

static void
expect_type(const gw_error *e, const char *type)
{
    char want[96];
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_error_json_for(&b, GW_API_ANTHROPIC, e), 0);
    snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
    if (!strstr(b.data, want))
        fail_msg("%s: %s", type, b.data);
    gw_buf_free(&b);
}

static void
test_error_types(void **state)
{
    (void)state;
    static const struct {
        int lingma;   /* 0: use status */
        int upstream; /* for LINGMA_EUPSTREAM */
        int status;   /* the answer's status */
        const char *type;
    } cases[] = {
        {LINGMA_EINVAL, 0, 400, "invalid_request_error"},
        {LINGMA_EBUSY, 0, 429, "rate_limit_error"},
        {LINGMA_EUPSTREAM, 429, 429, "rate_limit_error"},
        {LINGMA_ENOMEM, 0, 500, "api_error"},
        {LINGMA_EIO, 0, 502, "api_error"},
        {LINGMA_EPROTO, 0, 502, "api_error"},
        {LINGMA_ERPC, 0, 502, "api_error"},
        {LINGMA_EUPSTREAM, 500, 502, "api_error"},
        {LINGMA_EUNAVAIL, 0, 529, "overloaded_error"},
        {LINGMA_ESPAWN, 0, 529, "overloaded_error"},
        {LINGMA_ECLOSED, 0, 529, "overloaded_error"},
        {LINGMA_EUPSTREAM, 401, 529, "overloaded_error"},
        {LINGMA_ETIMEDOUT, 0, 504, "api_error"},
        {LINGMA_EUPSTREAM, 408, 504, "api_error"},
        {LINGMA_ENOTFOUND, 0, 404, "not_found_error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gw_error e;
        gw_error_from_lingma(&e, cases[i].lingma, cases[i].upstream, 1500);
        assert_int_equal(gw_error_status_for(GW_API_ANTHROPIC, &e), cases[i].status);
        gw_buf b = GW_BUF_INIT;
        assert_int_equal(gw_error_json_for(&b, GW_API_ANTHROPIC, &e), 0);
        char want[128];
        snprintf(want, sizeof(want),
                 "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", cases[i].type);
        if (strncmp(b.data, want, strlen(want)) != 0)
            fail_msg("case %zu: %s", i, b.data);
        gw_buf_free(&b);
    }
    /* The gateway's own HTTP answers on an Anthropic route. */
    gw_error e;
    gw_error_invalid_api_key(&e);
    expect_type(&e, "authentication_error");
    gw_error_not_found(&e, "GET", "/v1/nope");
    expect_type(&e, "not_found_error");
    gw_error_model_not_found(&e, "claude-x");
    expect_type(&e, "not_found_error");
    gw_error_method_not_allowed(&e, "GET", "/v1/messages");
    expect_type(&e, "invalid_request_error");
    gw_error_request_too_large(&e, 10);
    expect_type(&e, "request_too_large");
    gw_buf b = GW_BUF_INIT;
    gw_error_set(&e, 403, GW_TYPE_INVALID_REQUEST, "cors_not_allowed", NULL, "no");
    assert_int_equal(gw_error_json_for(&b, GW_API_ANTHROPIC, &e), 0);
    assert_string_equal(b.data,
                        "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\",\"message\":"
                        "\"no\"}}");
    gw_buf_free(&b);
    assert_string_equal(gw_error_anthropic_type(431), "invalid_request_error");
}

static void
test_models_and_count(void **state)
{
    (void)state;
    static const gw_model_entry cat[] = {{"auto", NULL, false, false},
                                         {"dashscope_qwen3_coder", "qwen3-coder", false, false}};
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_anthropic_models(&b, cat, 2, 1700000000), 0);
    assert_string_equal(b.data, "{\"data\":[{\"type\":\"model\",\"id\":\"auto\",\"display_name\":"
                                "\"auto\",\"created_at\":\"2023-11-14T22:13:20Z\"},{\"type\":"
                                "\"model\",\"id\":\"dashscope_qwen3_coder\",\"display_name\":"
                                "\"qwen3-coder\",\"created_at\":\"2023-11-14T22:13:20Z\"}],"
                                "\"has_more\":false,\"first_id\":\"auto\",\"last_id\":"
                                "\"dashscope_qwen3_coder\"}");
    gw_buf_reset(&b);
    assert_int_equal(gw_anthropic_models(&b, cat, 0, 0), 0);
    assert_string_equal(b.data,
                        "{\"data\":[],\"has_more\":false,\"first_id\":null,\"last_id\":null}");
    gw_buf_reset(&b);
    assert_int_equal(gw_anthropic_model(&b, &cat[1], 0), 0);
    assert_string_equal(b.data, "{\"type\":\"model\",\"id\":\"dashscope_qwen3_coder\","
                                "\"display_name\":\"qwen3-coder\",\"created_at\":"
                                "\"1970-01-01T00:00:00Z\"}");
    gw_buf_reset(&b);
    assert_int_equal(gw_anthropic_count(&b, 42), 0);
    assert_string_equal(b.data, "{\"input_tokens\":42}");
    gw_buf_free(&b);
}

/* Every parse and render path with each jansson allocation failing in
 * turn: success, or LINGMA_ENOMEM with nothing appended and nothing leaked. */
static void
test_oom(void **state)
{
    (void)state;
    static const char body[] =
        MIN_HEAD "\"system\":[{\"type\":\"text\",\"text\":\"s\"}],\"stop_sequences\":[\"E\"],"
                 "\"tools\":[{\"name\":\"a\",\"description\":\"d\",\"input_schema\":{}}],"
                 "\"tool_choice\":{\"type\":\"tool\",\"name\":\"a\"},\"metadata\":{\"user_id\":"
                 "\"u\"},\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":"
                 "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"t\"},{\"type\":"
                 "\"tool_use\",\"id\":\"i\",\"name\":\"a\",\"input\":{\"k\":1}}]},{\"role\":"
                 "\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"i\","
                 "\"content\":\"r\",\"is_error\":true},{\"type\":\"text\",\"text\":\"go\"}]}]}";
    gw_answer a = answer(true, true);
    gw_usage u = {1, 2};
    gw_error err;
    gw_error_from_lingma(&err, LINGMA_EIO, 0, 0);
    gw_answer kept = a;
    kept.stream = false;
    for (int which = 0; which < 11; which++) {
        struct failalloc fa = {0};
        bool done = false;
        for (long n = 0; n < 400 && !done; n++) {
            gw_buf b = GW_BUF_INIT;
            gw_buf_puts(&b, "prefix");
            void *st = gw_fe_messages.state_new(&a);
            assert_non_null(st);
            /* A thinking block open, so that close and text have work. */
            if ((which >= 4 && which <= 6) || which == 9)
                assert_int_equal(gw_fe_messages.stream_reasoning(&b, st, &a, "r", 1), 0);
            if (which == 10)
                assert_int_equal(gw_fe_messages.tool_call(&b, st, &kept, 0, &WRITE), 0);
            size_t before = b.len;
            failalloc_arm(&fa, n);
            failalloc_hook_jansson(&fa);
            int rc = -1;
            gw_chat_request *r = NULL;
            gw_error e;
            switch (which) {
            case 0:
                rc = gw_messages_parse(&r, &e, body, sizeof(body) - 1, false);
                break;
            case 1:
                rc = gw_fe_messages.stream_open(&b, st, &a);
                break;
            case 2:
                rc = gw_fe_messages.stream_text(&b, st, &a, "x\xff", 2);
                break;
            case 3:
                rc = gw_fe_messages.stream_reasoning(&b, st, &a, "x", 1);
                break;
            case 4:
                rc = gw_fe_messages.stream_close(&b, st, &a, GW_FINISH_STOP, &u);
                break;
            case 5:
                rc = gw_fe_messages.stream_text(&b, st, &a, "x", 1);
                break;
            case 6:
                rc = gw_fe_messages.stream_error(&b, st, &a, &err);
                break;
            case 7:
                rc = gw_fe_messages.complete(&b, st, &a, "x", 1, "r", 1, GW_FINISH_STOP, &u);
                break;
            case 9:
                rc = gw_fe_messages.tool_call(&b, st, &a, 0, &BASH);
                break;
            case 10:
                rc = gw_fe_messages.complete(&b, st, &kept, "x", 1, NULL, 0, GW_FINISH_TOOL_CALLS,
                                             &u);
                break;
            default: {
                static const gw_model_entry cat[] = {{"a", "A", false, false},
                                                     {"b", NULL, false, false}};
                rc = gw_anthropic_models(&b, cat, 2, 0);
                break;
            }
            }
            gw_chat_request_free(r);
            failalloc_hook_jansson(NULL);
            if (rc == 0) {
                done = fa.failures == 0;
            } else if (which == 0 && rc == LINGMA_EINVAL) {
                /* jansson reports some allocation failures inside its lexer
                 * as syntax errors (as test-gw-openai notes). */
                assert_string_equal(e.code, "invalid_json");
            } else {
                if (rc != LINGMA_ENOMEM)
                    fail_msg("case %d, allocation %ld: rc %d (%s)", which, n, rc,
                             which == 0 ? e.message : "");
                assert_int_equal(b.len, before);
            }
            gw_fe_messages.state_free(st);
            assert_int_equal(fa.live, 0);
            gw_buf_free(&b);
        }
        if (!done)
            fail_msg("case %d never succeeded", which);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_minimal),
        cmocka_unit_test(test_parse_params),
        cmocka_unit_test(test_parse_conversation),
        cmocka_unit_test(test_parse_tools),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_toolset),
        cmocka_unit_test(test_stream_text),
        cmocka_unit_test(test_stream_thinking),
        cmocka_unit_test(test_stream_stop_reasons),
        cmocka_unit_test(test_stream_error),
        cmocka_unit_test(test_heartbeat),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_error_types),
        cmocka_unit_test(test_stream_tool_use),
        cmocka_unit_test(test_complete_tool_use),
        cmocka_unit_test(test_models_and_count),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
