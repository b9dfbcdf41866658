/*
 * Unit: lingma-sim's tool-calling reply modes, pure parts — reading the
 * tool contract out of a prompt (doc/tools.md), arguments made from JSON
 * Schemas, the tools answer, and the script rules. Links only the
 * simulator's pure sources.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "reply_script.h"
#include "reply_tools.h"
#include "schema_args.h"
#include "settings.h"

/* The tool section as the contract writes it, for one or two tools. */
#define SECTION_HEAD                                                                               \
    "Tools:\n"                                                                                     \
    "To call tools, end your reply with one block tagged tool_call, one JSON object per line:\n"   \
    "```tool_call\n"                                                                               \
    "{\"name\":\"TOOL\",\"arguments\":{...}}\n"                                                    \
    "```\n"                                                                                        \
    "Use only the tools below, with arguments that follow their JSON Schema; nothing may follow "  \
    "the block. Results come back in tool_result blocks. When no tool is needed, answer in plain " \
    "text.\n" SIM_TOOLS_LIST_LINE "\n"
#define WEATHER                                                                                    \
    "{\"name\":\"get_weather\",\"description\":\"Weather of a city\",\"parameters\":{\"type\":"    \
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}"
#define CLOCK                                                                                      \
    "{\"name\":\"get_time\",\"description\":\"Time\",\"parameters\":{\"type\":\"object\","         \
    "\"properties\":{\"zone\":{\"enum\":[\"UTC\",\"CET\"]},\"verbose\":{\"type\":\"boolean\"}},"   \
    "\"required\":[\"zone\",\"verbose\"]}}"
#define TOOLS2       SECTION_HEAD WEATHER "\n" CLOCK "\n"
#define CALL_WEATHER "```tool_call\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\"}}\n```"

static char *
dumps(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    return s;
}

/* sim_schema_arguments of a schema given as JSON text, compact. */
static char *
args_of(const char *schema_json)
{
    json_t *schema = schema_json ? json_loads(schema_json, 0, NULL) : NULL;
    if (schema_json)
        assert_non_null(schema);
    json_t *args = sim_schema_arguments(schema);
    assert_non_null(args);
    char *s = dumps(args);
    json_decref(args);
    json_decref(schema);
    return s;
}

static void
assert_args(const char *schema_json, const char *want)
{
    char *got = args_of(schema_json);
    assert_string_equal(got, want);
    free(got);
}

static char *
reply_of(const char *prompt, int want_rc)
{
    char *out = NULL;
    assert_int_equal(sim_tools_reply(prompt, &out), want_rc);
    return out;
}

static void
test_section_detection(void **state)
{
    struct sim_tools_prompt p;
    assert_int_equal(sim_tools_prompt_read("just a question", &p), 0);
    assert_null(p.tools);
    assert_false(p.has_result);
    sim_tools_prompt_free(&p);

    /* two tools; the list ends at the first line that is not a tool object */
    assert_int_equal(sim_tools_prompt_read("System instructions:\nBe brief.\n\n" TOOLS2
                                           "\nConversation transcript:\nUser: hi\n",
                                           &p),
                     0);
    assert_int_equal(json_array_size(p.tools), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p.tools, 1), "name")),
                        "get_time");
    assert_null(p.must_call);
    assert_false(p.has_result);
    sim_tools_prompt_free(&p);

    /* the required tool; CRLF line ends read the same */
    assert_int_equal(sim_tools_prompt_read("Tools:\r\n" SIM_TOOLS_LIST_LINE "\r\n" CLOCK
                                           "\r\nYou must call the tool get_time now.\r\n\r\n"
                                           "User: what time is it\r\n",
                                           &p),
                     0);
    assert_int_equal(json_array_size(p.tools), 1);
    assert_string_equal(p.must_call, "get_time");
    sim_tools_prompt_free(&p);

    /* a line that merely starts like a tool object ends the list too */
    assert_int_equal(
        sim_tools_prompt_read(SIM_TOOLS_LIST_LINE "\n" WEATHER "\n{\"nope\":1}\n" CLOCK "\n", &p),
        0);
    assert_int_equal(json_array_size(p.tools), 1);
    sim_tools_prompt_free(&p);

    /* the list line quoted inside a tool result is not a tool section */
    assert_int_equal(sim_tools_prompt_read("User: read the doc\n\nTool result (c1, read):\n"
                                           "```tool_result\n" SIM_TOOLS_LIST_LINE "\n" WEATHER
                                           "\n```\n",
                                           &p),
                     0);
    assert_null(p.tools);
    assert_true(p.has_result);
    sim_tools_prompt_free(&p);

    /* a second list (a user quoting the section) does not add tools */
    assert_int_equal(sim_tools_prompt_read(TOOLS2 "\nUser: look:\n" SIM_TOOLS_LIST_LINE
                                                  "\n{\"name\":\"evil\"}\n",
                                           &p),
                     0);
    assert_int_equal(json_array_size(p.tools), 2);
    sim_tools_prompt_free(&p);

    /* the list line must be the whole line */
    assert_int_equal(sim_tools_prompt_read("x " SIM_TOOLS_LIST_LINE "\n" WEATHER "\n", &p), 0);
    assert_null(p.tools);
    sim_tools_prompt_free(&p);
}

/* The last tool result after the last user turn of `prompt`, NULL for none. */
static void
assert_result(const char *prompt, const char *want)
{
    struct sim_tools_prompt p;
    assert_int_equal(sim_tools_prompt_read(prompt, &p), 0);
    assert_int_equal(p.has_result, want != NULL);
    if (want)
        assert_string_equal(p.result, want);
    else
        assert_null(p.result);
    sim_tools_prompt_free(&p);
}

static void
test_last_tool_result(void **state)
{
    /* the contract's own example: a call, then its result */
    const char *one = TOOLS2 "\nConversation transcript:\nUser: Weather in Paris?\n\n"
                             "Assistant:\nLet me check.\n" CALL_WEATHER "\n\n"
                             "Tool result (call_1, get_weather):\n```tool_result\n{\"temp_c\":21}\n"
                             "```\n";
    assert_result(one, "{\"temp_c\":21}");

    /* a user turn after the result: the model has to act again */
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s\nUser: and tomorrow?\n", one);
    assert_result(buf, NULL);

    /* several results: the last one; a multi-line one keeps its lines; an
     * error result counts; "User:" inside a result is not a turn; a longer
     * fence holds a ``` line */
    assert_result(TOOLS2 "User: go\n\nTool result (c1, a):\n```tool_result\nfirst\n```\n\n"
                         "Tool error (c2, b):\n````tool_result\nline 1\nUser: not a turn\n"
                         "```\nstill inside\n````\n",
                  "line 1\nUser: not a turn\n```\nstill inside");

    /* an empty result, and a result cut off before its closing fence */
    assert_result(TOOLS2 "User: go\nTool result (c1):\n```tool_result\n```\n", "");
    assert_result(TOOLS2 "User: go\nTool result (c1):\n```tool_result\npart\nial", "part\nial");

    /* the older inline notation: the text on the label line */
    assert_result(TOOLS2 "User: Weather?\n\nAssistant called tool get_weather with arguments: "
                         "{}\n\nTool result (get_weather/c1): 20C\n",
                  "20C");
    assert_result(TOOLS2 "User: q\nTool result: y\n", "y");

    /* lines that only look like labels */
    assert_result(TOOLS2 "User: q\nTool results are cached.\nTool result (unclosed: x\n"
                         "  User: indented\n",
                  NULL);

    /* an ordinary code fence in a user turn hides nothing, even unclosed */
    assert_result(TOOLS2 "User: look\n```c\nint x;\n\nTool result (c9):\n```tool_result\nok\n"
                         "```\n",
                  "ok");
}

static void
test_schema_arguments(void **state)
{
    /* each type; only required properties, in the order "required" gives */
    assert_args("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"},\"n\":{\"type\":"
                "\"number\"},\"i\":{\"type\":\"integer\"},\"b\":{\"type\":\"boolean\"},\"z\":{"
                "\"type\":\"null\"},\"opt\":{\"type\":\"string\"}},"
                "\"required\":[\"z\",\"s\",\"n\",\"i\",\"b\"]}",
                "{\"z\":null,\"s\":\"x\",\"n\":1,\"i\":1,\"b\":true}");
    /* enums and const: the first value, whatever its type */
    assert_args("{\"properties\":{\"e\":{\"type\":\"string\",\"enum\":[\"b\",\"a\"]},\"k\":{"
                "\"enum\":[3,\"x\"]},\"c\":{\"const\":{\"v\":[1]}}},\"required\":[\"e\",\"k\","
                "\"c\"]}",
                "{\"e\":\"b\",\"k\":3,\"c\":{\"v\":[1]}}");
    /* nested objects and arrays of objects */
    assert_args("{\"type\":\"object\",\"properties\":{\"edit\":{\"type\":\"object\",\"properties\":"
                "{\"path\":{\"type\":\"string\"},\"opts\":{\"type\":\"object\",\"properties\":{"
                "\"deep\":{\"type\":\"integer\"}},\"required\":[\"deep\"]},\"extra\":{\"type\":"
                "\"string\"}},\"required\":[\"path\",\"opts\"]},\"todos\":{\"type\":\"array\","
                "\"items\":{\"type\":\"object\",\"properties\":{\"status\":{\"enum\":[\"pending\","
                "\"done\"]}},\"required\":[\"status\"]}}},\"required\":[\"edit\",\"todos\"]}",
                "{\"edit\":{\"path\":\"x\",\"opts\":{\"deep\":1}},\"todos\":[{\"status\":"
                "\"pending\"}]}");
    /* arrays: one element, minItems when larger, tuple form, no items */
    assert_args("{\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},"
                "\"minItems\":3},\"t\":{\"type\":\"array\",\"items\":[{\"type\":\"boolean\"},{"
                "\"type\":\"string\"}]},\"u\":{\"type\":\"array\"},\"m\":{\"type\":\"array\","
                "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"null\"}}}},"
                "\"required\":[\"a\",\"t\",\"u\",\"m\"]}",
                "{\"a\":[1,1,1],\"t\":[true],\"u\":[\"x\"],\"m\":[[null]]}");
    /* type lists, combinators, schemas that say nothing */
    assert_args("{\"properties\":{\"n\":{\"type\":[\"null\",\"integer\"]},\"o\":{\"type\":["
                "\"null\"]},\"any\":{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"string\"}]},"
                "\"one\":{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"q\":{\"type\":"
                "\"number\"}},\"required\":[\"q\"]}]},\"free\":{},\"missing\":true},"
                "\"required\":[\"n\",\"o\",\"any\",\"one\",\"free\",\"missing\",\"undeclared\"]}",
                "{\"n\":1,\"o\":null,\"any\":true,\"one\":{\"q\":1},\"free\":\"x\",\"missing\":"
                "\"x\",\"undeclared\":\"x\"}");
    /* no parameters, or parameters that are not an object schema: {} */
    assert_args(NULL, "{}");
    assert_args("{\"type\":\"object\",\"properties\":{}}", "{}");
    assert_args("{\"type\":\"string\"}", "{}");
    assert_args("[1,2]", "{}");
    /* a duplicate in "required" is filled once */
    assert_args("{\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\",\"a\",7]}",
                "{\"a\":1}");

    /* a very deep schema ends (in "x") instead of exhausting the stack */
    json_t *deep = json_pack("{s:s}", "type", "string");
    for (int i = 0; i < 500; i++)
        deep = json_pack("{s:s, s:{s:o}, s:[s]}", "type", "object", "properties", "p", deep,
                         "required", "p");
    json_t *args = sim_schema_arguments(deep);
    assert_true(json_is_object(args));
    char *s = dumps(args);
    assert_non_null(strstr(s, "\"x\""));
    free(s);
    json_decref(args);
    json_decref(deep);

    json_t *v = sim_schema_example(NULL);
    assert_string_equal(json_string_value(v), "x");
    json_decref(v);
}

static void
test_tools_reply(void **state)
{
    /* no tool section: the caller echoes */
    assert_null(reply_of("User: hi", 1));
    assert_null(reply_of(SIM_TOOLS_LIST_LINE "\n\nUser: hi", 1));

    /* the first declared tool, exactly as the contract shows a call */
    char *r = reply_of(TOOLS2 "\nUser: Weather in Paris?\n", 0);
    assert_string_equal(r, CALL_WEATHER);
    free(r);

    /* the required tool, with an enum and a boolean */
    r = reply_of(TOOLS2 "You must call the tool get_time now.\n\nUser: time?\n", 0);
    assert_string_equal(r, "```tool_call\n{\"name\":\"get_time\",\"arguments\":{\"zone\":\"UTC\","
                           "\"verbose\":true}}\n```");
    free(r);
    /* a required name that is not listed is still obeyed, without arguments */
    r = reply_of(TOOLS2 "You must call the tool ghost now.\nUser: q\n", 0);
    assert_string_equal(r, "```tool_call\n{\"name\":\"ghost\",\"arguments\":{}}\n```");
    free(r);
    /* "required" (any tool): the first one */
    r = reply_of(TOOLS2 "You must call at least one tool now.\nUser: q\n", 0);
    assert_string_equal(r, CALL_WEATHER);
    free(r);

    /* a tool without parameters; a name that needs escaping */
    r = reply_of(SIM_TOOLS_LIST_LINE "\n{\"name\":\"odd\\\"n\\u00e9\"}\nUser: q", 0);
    assert_string_equal(r, "```tool_call\n{\"name\":\"odd\\\"n\xc3\xa9\",\"arguments\":{}}\n```");
    free(r);

    /* after the result: DONE */
    r = reply_of(TOOLS2 "User: Weather?\n\nAssistant:\n" CALL_WEATHER
                        "\n\nTool result (call_1, get_weather):\n```tool_result\nsunny, 21 "
                        "C\n```\n\nAnswer the latest User message above.",
                 0);
    assert_string_equal(r, "DONE: sunny, 21 C");
    free(r);

    /* through sim_answer_text, with a reasoning model's think block */
    struct sim_settings s;
    char err[256];
    sim_settings_defaults(&s);
    assert_int_equal(sim_settings_set(&s, "REPLY", "tools", err, sizeof(err)), 0);
    char *a = sim_answer_text(&s, TOOLS2 "User: q\n", true, err, sizeof(err));
    assert_non_null(a);
    assert_memory_equal(a, SIM_THINK_OPEN, strlen(SIM_THINK_OPEN));
    const char *body = strstr(a, SIM_THINK_CLOSE);
    assert_non_null(body);
    assert_string_equal(body + strlen(SIM_THINK_CLOSE), CALL_WEATHER);
    free(a);
    a = sim_answer_text(&s, "no tools here", false, err, sizeof(err));
    assert_string_equal(a, "ECHO: no tools here");
    free(a);
    sim_settings_free(&s);
}

static char *
script_file(const char *content)
{
    char tmpl[] = "/tmp/lingma-sim-script-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return strdup(tmpl);
}

static int
script_error(const char *rules_json, char *err, size_t errlen)
{
    json_t *rules = json_loads(rules_json, 0, NULL);
    assert_non_null(rules);
    struct sim_script *s = NULL;
    int rc = sim_script_from_json(rules, &s, err, errlen);
    json_decref(rules);
    sim_script_free(s);
    return rc;
}

static void
test_script_rules(void **state)
{
    char err[256];
    /* what makes a file invalid, each named */
    assert_int_equal(script_error("{\"match\":\"a\",\"reply\":\"b\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "array"));
    assert_int_equal(script_error("[{\"match\":\"a\",\"reply\":\"b\"},3]", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "rule 2"));
    assert_int_equal(script_error("[{\"match\":\"a\"}]", err, sizeof(err)), -1);
    assert_int_equal(script_error("[{\"match\":\"a\",\"reply\":1}]", err, sizeof(err)), -1);
    assert_int_equal(
        script_error("[{\"regex\":\"a\",\"match\":\"a\",\"reply\":\"b\"}]", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'regex'"));
    assert_int_equal(script_error("[{\"match\":\"a(\",\"reply\":\"b\"}]", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad regular expression 'a('"));
    assert_int_equal(
        script_error("[{\"match\":\"a\",\"reply\":\"b\",\"icase\":\"yes\"}]", err, sizeof(err)),
        -1);
    assert_int_equal(script_error("[]", err, sizeof(err)), 0);

    /* first match wins; grep -E semantics: ^ and $ per line, . not across lines */
    json_t *rules = json_loads("[{\"match\":\"^User: (hi|hello)$\",\"reply\":\"greeting\"},"
                               "{\"match\":\"Tool result\",\"reply\":\"DONE\"},"
                               "{\"match\":\"start.*end\",\"reply\":\"one line\"},"
                               "{\"match\":\"WEATHER\",\"icase\":true,\"reply\":\"```tool_call\\n{"
                               "\\\"name\\\":\\\"w\\\"\"},"
                               "{\"match\":\"weather\",\"reply\":\"never: the rule above wins\"}]",
                               0, NULL);
    assert_non_null(rules);
    struct sim_script *s;
    assert_int_equal(sim_script_from_json(rules, &s, err, sizeof(err)), 0);
    json_decref(rules);
    assert_string_equal(sim_script_match(s, "System:\nx\nUser: hello\nmore"), "greeting");
    assert_string_equal(sim_script_match(s, "User: hello\nTool result (c1):"), "greeting");
    assert_string_equal(sim_script_match(s, "User: hello there\nTool result (c1):"), "DONE");
    assert_string_equal(sim_script_match(s, "start and end"), "one line");
    assert_null(sim_script_match(s, "start\nend"));
    assert_string_equal(sim_script_match(s, "the Weather today"), "```tool_call\n{\"name\":\"w\"");
    assert_null(sim_script_match(s, "nothing to see"));
    sim_script_free(s);

    /* {{prompt}} */
    char *x = sim_script_expand("<{{prompt}}|{{prompt}}>{{prompt", "P");
    assert_string_equal(x, "<P|P>{{prompt");
    free(x);
    x = sim_script_expand("plain", "P");
    assert_string_equal(x, "plain");
    free(x);
}

static void
test_script_file_and_settings(void **state)
{
    char err[512];
    char *path =
        script_file("[{\"match\":\"ping\",\"reply\":\"pong: {{prompt}}\"},\n"
                    "{\"match\":\"block\",\"reply\":\"text\\n```tool_call\\n{\\\"name\\\":1}\"}]");
    char *out = NULL;
    assert_int_equal(sim_script_reply(path, "a ping", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "pong: a ping");
    free(out);
    assert_int_equal(sim_script_reply(path, "block", &out, err, sizeof(err)), 0);
    assert_string_equal(out, "text\n```tool_call\n{\"name\":1}");
    free(out);
    assert_int_equal(sim_script_reply(path, "none", &out, err, sizeof(err)), 0);
    assert_null(out);

    /* the setting, and the echo fallback and the error through sim_answer_text */
    struct sim_settings st, copy;
    sim_settings_defaults(&st);
    char setting[600];
    snprintf(setting, sizeof(setting), "script:%s", path);
    assert_int_equal(sim_settings_set(&st, "LINGMA_SIM_REPLY", setting, err, sizeof(err)), 0);
    assert_int_equal(st.reply, SIM_REPLY_SCRIPT);
    assert_string_equal(st.reply_script, path);
    assert_int_equal(sim_settings_copy(&copy, &st), 0);
    assert_string_equal(copy.reply_script, path);
    sim_settings_free(&copy);
    char *a = sim_answer_text(&st, "nothing", false, err, sizeof(err));
    assert_string_equal(a, "ECHO: nothing");
    free(a);
    a = sim_answer_text(&st, "ping", false, err, sizeof(err));
    assert_string_equal(a, "pong: ping");
    free(a);

    /* the file is read anew at every answer; a broken one is an error, named */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[{\"match\":\"(\",\"reply\":\"x\"}]", f);
    fclose(f);
    assert_null(sim_answer_text(&st, "ping", false, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "rule 1"));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not json", f);
    fclose(f);
    assert_int_equal(sim_script_reply(path, "x", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not JSON"));
    unlink(path);
    assert_int_equal(sim_script_reply(path, "x", &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));

    assert_int_equal(sim_settings_set(&st, "REPLY", "tools", err, sizeof(err)), 0);
    assert_int_equal(st.reply, SIM_REPLY_TOOLS);
    assert_int_equal(sim_settings_set(&st, "REPLY", "script:", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "script:<file>"));
    assert_int_equal(sim_settings_set(&st, "REPLY", "tool", err, sizeof(err)), -1);
    assert_int_equal(st.reply, SIM_REPLY_TOOLS);
    sim_settings_free(&st);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section_detection), cmocka_unit_test(test_last_tool_result),
        cmocka_unit_test(test_schema_arguments),  cmocka_unit_test(test_tools_reply),
        cmocka_unit_test(test_script_rules),      cmocka_unit_test(test_script_file_and_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
