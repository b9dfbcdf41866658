/*
 * Unit tests of tool calling (include/lingma/tools.h, doc/tools.md): the
 * toolset and its schema checks, the prompt text, and the streaming parser
 * — every split point of a block across deltas, every tolerance, every
 * refusal. Pure: no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lingma/tools.h"

static const lingma_tool weather[] = {
    {"get_weather", "Weather of a city",
     "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
     "\"unit\":{\"enum\":[\"c\",\"f\"]},\"days\":{\"type\":\"integer\"},"
     "\"opts\":{\"type\":\"object\",\"properties\":{\"hourly\":{\"type\":\"boolean\"}},"
     "\"required\":[\"hourly\"]},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
     "\"required\":[\"city\"]}"},
    {"Write", NULL,
     "{\"type\":\"object\",\"properties\":{\"file_path\":{\"type\":\"string\"},"
     "\"content\":{\"type\":\"string\"}},\"required\":[\"file_path\",\"content\"]}"},
    {"noargs", "", NULL},
};

/* What a parser handed out, joined. */
struct got {
    char text[8192];
    size_t text_len;
    char calls[8][512];
    int valid[8];
    char errors[8][200];
    size_t ncalls;
};

static void
on_text(const char *t, size_t n, void *payload)
{
    struct got *g = payload;
    assert_true(g->text_len + n < sizeof(g->text));
    memcpy(g->text + g->text_len, t, n);
    g->text_len += n;
    g->text[g->text_len] = '\0';
}

static void
on_call(const lingma_tool_call *c, void *payload)
{
    struct got *g = payload;
    assert_true(g->ncalls < 8);
    assert_int_equal(c->index, g->ncalls);
    snprintf(g->calls[g->ncalls], sizeof(g->calls[0]), "%s %s", c->name, c->arguments);
    g->valid[g->ncalls] = c->valid;
    snprintf(g->errors[g->ncalls], sizeof(g->errors[0]), "%s", c->error ? c->error : "");
    if (c->valid)
        assert_null(c->error);
    g->ncalls++;
}

static const lingma_tool_parser_callbacks cbs = {on_text, on_call};

static lingma_toolset *
toolset(void)
{
    lingma_toolset *ts = NULL;
    assert_int_equal(lingma_toolset_new(&ts, weather, 3, NULL), 0);
    return ts;
}

/* Feed `answer` in pieces of `step` bytes (0: all at once). */
static void
parse(struct got *g, const lingma_toolset *ts, const char *answer, size_t step)
{
    memset(g, 0, sizeof(*g));
    lingma_tool_parser *p = NULL;
    assert_int_equal(lingma_tool_parser_new(&p, ts), 0);
    size_t n = strlen(answer);
    if (step == 0)
        step = n ? n : 1;
    for (size_t i = 0; i < n; i += step)
        assert_int_equal(
            lingma_tool_parser_feed(p, answer + i, n - i < step ? n - i : step, &cbs, g), 0);
    assert_int_equal(lingma_tool_parser_finish(p, &cbs, g), 0);
    size_t invalid = 0;
    assert_int_equal(lingma_tool_parser_calls(p, &invalid), g->ncalls);
    size_t bad = 0;
    for (size_t i = 0; i < g->ncalls; i++)
        bad += !g->valid[i];
    assert_int_equal(invalid, bad);
    lingma_tool_parser_free(p);
}

static void
test_toolset(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    assert_int_equal(lingma_toolset_count(ts), 3);
    assert_true(lingma_toolset_has(ts, "Write"));
    assert_false(lingma_toolset_has(ts, "write"));
    assert_false(lingma_toolset_has(ts, NULL));
    lingma_toolset_free(ts);

    const lingma_tool bad[][2] = {
        {{"a b", NULL, NULL}, {"ok", NULL, NULL}}, {{"ok", NULL, NULL}, {"ok", NULL, NULL}},
        {{"ok", NULL, "[1]"}, {"x", NULL, NULL}},  {{"ok", NULL, NULL}, {"x", NULL, "{not json"}},
        {{"", NULL, NULL}, {"x", NULL, NULL}},
    };
    const size_t where[] = {0, 1, 0, 1, 0};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        size_t at = 99;
        ts = NULL;
        assert_int_equal(lingma_toolset_new(&ts, bad[i], 2, &at), LINGMA_EINVAL);
        assert_null(ts);
        assert_int_equal(at, where[i]);
    }
    assert_int_equal(lingma_toolset_new(&ts, NULL, 0, NULL), 0);
    assert_int_equal(lingma_toolset_count(ts), 0);
    lingma_toolset_free(ts);
    lingma_toolset_free(NULL);
}

static void
test_prompt(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    char *s = NULL;
    lingma_tool_prompt_options o = LINGMA_TOOL_PROMPT_OPTIONS_INIT;
    assert_int_equal(lingma_tool_prompt(&s, ts, &o), 0);
    assert_non_null(strstr(s, "```tool_call\n{\"name\":\"TOOL\",\"arguments\":{...}}\n```\n"));
    assert_non_null(strstr(s, "Available tools (name, description, parameters), one JSON "
                              "object per line:\n{\"name\":\"get_weather\",\"description\":"
                              "\"Weather of a city\",\"parameters\":{\"type\":\"object\""));
    assert_non_null(strstr(s, "\n{\"name\":\"noargs\",\"description\":\"\",\"parameters\":"
                              "{\"type\":\"object\"}}\n"));
    assert_null(strstr(s, "You must"));
    assert_null(strstr(s, "one tool at a time"));
    lingma_free(s);

    o.choice = LINGMA_TOOL_CHOICE_REQUIRED;
    o.parallel = 0;
    assert_int_equal(lingma_tool_prompt(&s, ts, &o), 0);
    assert_non_null(strstr(s, "You must call at least one tool now.\nCall one tool at a time.\n"));
    lingma_free(s);

    o.choice = LINGMA_TOOL_CHOICE_NAMED;
    o.named = "Write";
    o.parallel = 1;
    assert_int_equal(lingma_tool_prompt(&s, ts, &o), 0);
    assert_null(strstr(s, "get_weather"));
    assert_non_null(strstr(s, "{\"name\":\"Write\""));
    assert_non_null(strstr(s, "You must call the tool Write now.\n"));
    lingma_free(s);

    o.named = "nope";
    assert_int_equal(lingma_tool_prompt(&s, ts, &o), LINGMA_EINVAL);
    assert_null(s);
    o.choice = LINGMA_TOOL_CHOICE_NONE;
    assert_int_equal(lingma_tool_prompt(&s, ts, &o), 0);
    assert_null(s);
    assert_int_equal(lingma_tool_prompt(&s, ts, NULL), 0);
    assert_non_null(s);
    lingma_free(s);
    lingma_toolset_free(ts);
}

static void
test_transcript_notation(void **state)
{
    (void)state;
    char *s = NULL;
    assert_int_equal(lingma_tool_call_text(&s, "get_weather", "{\"city\": \"Paris\"}"), 0);
    assert_string_equal(
        s, "```tool_call\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n```");
    lingma_free(s);
    assert_int_equal(lingma_tool_call_text(&s, "noargs", "not json"), 0);
    assert_string_equal(s, "```tool_call\n{\"name\":\"noargs\",\"arguments\":{}}\n```");
    lingma_free(s);

    assert_int_equal(lingma_tool_result_text(&s, "call_1", "get_weather", "{\"temp_c\":21}", 0), 0);
    assert_string_equal(s,
                        "Tool result (call_1, get_weather):\n```tool_result\n{\"temp_c\":21}\n```");
    lingma_free(s);
    /* A result holding a fence gets a longer one. */
    assert_int_equal(lingma_tool_result_text(&s, NULL, "x", "a\n```\nb\n````\n", 1), 0);
    assert_string_equal(s, "Tool error (x):\n`````tool_result\na\n```\nb\n````\n`````");
    lingma_free(s);
    assert_int_equal(lingma_tool_result_text(&s, NULL, NULL, NULL, 0), 0);
    assert_string_equal(s, "Tool result:\n```tool_result\n```");
    lingma_free(s);
}

static const char one_call[] =
    "Let me check.\n```tool_call\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n"
    "```\n";

/* Every split point of a block across two deltas, and byte by byte. */
static void
test_every_split(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    struct got g;
    for (size_t step = 0; step <= 7; step++) {
        parse(&g, ts, one_call, step);
        assert_string_equal(g.text, "Let me check.\n");
        assert_int_equal(g.ncalls, 1);
        assert_string_equal(g.calls[0], "get_weather {\"city\":\"Paris\"}");
        assert_int_equal(g.valid[0], 1);
    }
    size_t n = strlen(one_call);
    for (size_t cut = 1; cut < n; cut++) {
        memset(&g, 0, sizeof(g));
        lingma_tool_parser *p = NULL;
        assert_int_equal(lingma_tool_parser_new(&p, ts), 0);
        assert_int_equal(lingma_tool_parser_feed(p, one_call, cut, &cbs, &g), 0);
        /* Nothing of the block ever leaks as text. */
        assert_null(strstr(g.text, "```"));
        assert_int_equal(lingma_tool_parser_feed(p, one_call + cut, n - cut, &cbs, &g), 0);
        assert_int_equal(lingma_tool_parser_finish(p, &cbs, &g), 0);
        assert_string_equal(g.text, "Let me check.\n");
        assert_int_equal(g.ncalls, 1);
        lingma_tool_parser_free(p);
    }
    lingma_toolset_free(ts);
}

/* Text that is not a block is released as soon as it cannot become one. */
static void
test_text_is_not_held(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    struct got g;
    memset(&g, 0, sizeof(g));
    lingma_tool_parser *p = NULL;
    assert_int_equal(lingma_tool_parser_new(&p, ts), 0);
    assert_int_equal(lingma_tool_parser_feed(p, "Hello", 5, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello");
    assert_int_equal(lingma_tool_parser_feed(p, " world\n", 7, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello world\n");
    /* A line start that might open a block is held... */
    assert_int_equal(lingma_tool_parser_feed(p, "``", 2, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello world\n");
    /* ...and released the moment it cannot. */
    assert_int_equal(lingma_tool_parser_feed(p, "`py", 3, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello world\n```py");
    /* Mid-line, a fence is just text. */
    assert_int_equal(lingma_tool_parser_feed(p, " ```tool_call\n", 14, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello world\n```py ```tool_call\n");
    assert_int_equal(lingma_tool_parser_feed(p, "   ", 3, &cbs, &g), 0);
    assert_int_equal(lingma_tool_parser_feed(p, " x", 2, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello world\n```py ```tool_call\n    x");
    /* A partial fence at the very end is text. */
    assert_int_equal(lingma_tool_parser_feed(p, "\n```tool_ca", 11, &cbs, &g), 0);
    assert_int_equal(lingma_tool_parser_finish(p, &cbs, &g), 0);
    assert_string_equal(g.text, "Hello world\n```py ```tool_call\n    x\n```tool_ca");
    assert_int_equal(g.ncalls, 0);
    lingma_tool_parser_free(p);
    lingma_toolset_free(ts);
}

static void
test_tolerances(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    struct got g;
    /* Several calls, several blocks, text after, CRLF, spaced fence, "tool_calls". */
    parse(&g, ts,
          "A\r\n```tool_call\r\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"A\"}}\r\n"
          "{\"name\":\"noargs\"}\r\n```\r\nB\n  ``` tool_calls\n"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"B\"}}\n```\nafter",
          3);
    assert_int_equal(g.ncalls, 3);
    assert_string_equal(g.calls[0], "get_weather {\"city\":\"A\"}");
    assert_string_equal(g.calls[1], "noargs {}");
    assert_string_equal(g.calls[2], "get_weather {\"city\":\"B\"}");
    assert_string_equal(g.text, "A\r\nB\nafter");

    /* A missing closing fence at the end; pretty-printed JSON. */
    parse(&g, ts,
          "```tool_call\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\n    \"city\": "
          "\"C\"\n  }\n}",
          5);
    assert_int_equal(g.ncalls, 1);
    assert_string_equal(g.calls[0], "get_weather {\"city\":\"C\"}");
    assert_string_equal(g.text, "");

    /* Trailing commas, single quotes, arguments as a JSON string, an array. */
    parse(&g, ts,
          "```tool_call\n[{'name': 'get_weather', 'arguments': {'city': 'D \"q\"', 'days': 3,},},\n"
          "{\"name\":\"Write\",\"arguments\":\"{\\\"file_path\\\":\\\"/t\\\",\\\"content\\\":"
          "\\\"hi\\\"}\"}]\n```",
          0);
    assert_int_equal(g.ncalls, 2);
    assert_string_equal(g.calls[0], "get_weather {\"city\":\"D \\\"q\\\"\",\"days\":3}");
    assert_int_equal(g.valid[0], 1);
    assert_string_equal(g.calls[1], "Write {\"file_path\":\"/t\",\"content\":\"hi\"}");
    assert_int_equal(g.valid[1], 1);

    /* Other spellings: parameters, input, {"function":{...}}, "tool". */
    parse(
        &g, ts,
        "```tool_call\n{\"name\":\"noargs\",\"parameters\":{}}\n{\"tool\":\"noargs\",\"input\":{}}"
        "\n{\"function\":{\"name\":\"noargs\",\"arguments\":\"{}\"}}\n```",
        0);
    assert_int_equal(g.ncalls, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(g.calls[i], "noargs {}");
    lingma_toolset_free(ts);
}

static void
test_refusals(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    struct got g;
    /* A code sample that merely shows JSON is never a call. */
    const char *sample = "Example:\n```json\n{\"name\":\"get_weather\",\"arguments\":{}}\n```\n";
    parse(&g, ts, sample, 2);
    assert_int_equal(g.ncalls, 0);
    assert_string_equal(g.text, sample);
    /* Nor is a mention in prose. */
    parse(&g, ts, "I would call {\"name\":\"get_weather\"} with ```tool_call fences.", 4);
    assert_int_equal(g.ncalls, 0);
    /* A tool_call block without any call is handed out as the text it was. */
    const char *empty = "```tool_call\nI cannot decide.\n```\nSorry.";
    parse(&g, ts, empty, 3);
    assert_int_equal(g.ncalls, 0);
    assert_string_equal(g.text, empty);

    /* Undeclared tools and bad arguments are reported invalid, with why. */
    parse(&g, ts,
          "```tool_call\n{\"name\":\"rm_rf\",\"arguments\":{}}\n"
          "{\"name\":\"get_weather\",\"arguments\":{}}\n"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":7}}\n"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\",\"unit\":\"k\"}}\n"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\",\"opts\":{}}}\n"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\",\"tags\":[\"a\",2]}}\n"
          "{\"name\":\"get_weather\",\"arguments\":[1]}\n"
          "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\",\"days\":2.0,\"extra\":1}}\n"
          "```",
          0);
    assert_int_equal(g.ncalls, 8);
    const char *why[] = {"no tool named 'rm_rf'",      "lacks the required property 'city'",
                         "arguments.city is a number", "arguments.unit is not one of",
                         "arguments.opts lacks",       "arguments.tags[1] is a number",
                         "are not a JSON object",      NULL};
    for (int i = 0; i < 8; i++) {
        if (!why[i]) {
            assert_int_equal(g.valid[i], 1); /* 2.0 is an integer; extras are allowed */
            continue;
        }
        assert_int_equal(g.valid[i], 0);
        if (!strstr(g.errors[i], why[i]))
            fail_msg("call %d: '%s' lacks '%s'", i, g.errors[i], why[i]);
    }
    /* A broken object is skipped whole: its nested object is not a call. */
    parse(&g, ts,
          "```tool_call\n{\"name\":\"get_weather\" \"arguments\":{\"name\":\"noargs\"}}\n```", 0);
    assert_int_equal(g.ncalls, 0);
    lingma_toolset_free(ts);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toolset),
        cmocka_unit_test(test_prompt),
        cmocka_unit_test(test_transcript_notation),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_text_is_not_held),
        cmocka_unit_test(test_tolerances),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
