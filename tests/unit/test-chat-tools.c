/*
 * Unit tests of a chat's tool calling (liblingma/rt/chat_tools.c), which
 * does no I/O: what streams and what is held at every split point of an
 * answer, the verdicts, the exact retry prompt (doc/tools.md, "The retry")
 * and the options it refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat_tools.h"
#include "strbuf.h"

/* What the chat would have turned into events. */
struct rec {
    struct lingma__buf text, reasoning, calls; /* calls: "name args\n" each */
    int texts_before_finish;
    int finishing;
};

static int
on_text(void *ud, const char *text, size_t len)
{
    struct rec *r = ud;
    if (!r->finishing)
        r->texts_before_finish++;
    return lingma__buf_append(NULL, &r->text, text, len);
}

static int
on_reasoning(void *ud, const char *text, size_t len)
{
    struct rec *r = ud;
    return lingma__buf_append(NULL, &r->reasoning, text, len);
}

static int
on_call(void *ud, size_t index, const char *name, const char *arguments)
{
    struct rec *r = ud;
    char line[512];
    snprintf(line, sizeof(line), "%zu %s %s\n", index, name, arguments);
    return lingma__buf_append(NULL, &r->calls, line, strlen(line));
}

static const struct lingma__chat_tools_sink sink = {on_text, on_reasoning, on_call};

static void
rec_clear(struct rec *r)
{
    free(r->text.p);
    free(r->reasoning.p);
    free(r->calls.p);
    memset(r, 0, sizeof(*r));
}

static const char *
str(const struct lingma__buf *b)
{
    return b->p ? b->p : "";
}

static lingma_toolset *
toolset(void)
{
    static const lingma_tool tools[] = {
        {"get_weather", NULL,
         "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
         "\"required\":[\"city\"]}"},
        {"get_time", NULL, NULL},
    };
    lingma_toolset *ts = NULL;
    assert_int_equal(lingma_toolset_new(&ts, tools, 2, NULL), 0);
    return ts;
}

static struct lingma__chat_tools *
make(const lingma_toolset *ts, lingma_tool_choice choice, const char *name, int single,
     char **prompt)
{
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    struct lingma__chat_tools *t = NULL;
    o.prompt = "Q?";
    o.tools = ts;
    o.tool_choice = choice;
    o.tool_name = name;
    o.single_tool_call = single;
    assert_int_equal(lingma__chat_tools_new(&t, prompt, NULL, &o), 0);
    assert_non_null(t);
    return t;
}

/* Feed `answer` cut at `k` (two deltas), then finish. */
static enum lingma__tools_verdict
feed(struct lingma__chat_tools *t, const char *answer, size_t k, struct rec *r, size_t *ncalls)
{
    enum lingma__tools_verdict v;
    size_t n = strlen(answer);
    assert_int_equal(lingma__chat_tools_text(t, answer, k, &sink, r), 0);
    assert_int_equal(lingma__chat_tools_text(t, answer + k, n - k, &sink, r), 0);
    r->finishing = 1;
    assert_int_equal(lingma__chat_tools_finish(t, &v, ncalls, &sink, r), 0);
    return v;
}

static const char valid[] = "Pre.\n```tool_call\n{\"name\":\"get_weather\",\"arguments\":"
                            "{\"city\":\"Oslo\"}}\n```\nPost.";
static const char invalid[] = "Pre.\n```tool_call\n{\"name\":\"nope\",\"arguments\":{}}\n```";

/* AUTO, at every split point: the prose before the block streams, nothing
 * of the block is text, the prose after it comes at the end, then the
 * call. */
static void
test_auto_every_split(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    for (size_t k = 0; k <= strlen(valid); k++) {
        char *prompt = NULL;
        struct lingma__chat_tools *t = make(ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 0, &prompt);
        struct rec r = {0};
        size_t n = 0;
        assert_int_equal(feed(t, valid, k, &r, &n), LINGMA__TOOLS_DONE);
        assert_int_equal(n, 1);
        assert_string_equal(str(&r.text), "Pre.\nPost.");
        assert_string_equal(str(&r.calls), "0 get_weather {\"city\":\"Oslo\"}\n");
        assert_null(strstr(str(&r.text), "`"));
        if (k >= 5)
            assert_true(r.texts_before_finish > 0); /* "Pre.\n" streamed */
        rec_clear(&r);
        lingma__chat_tools_free(t);
        free(prompt);
    }
    lingma_toolset_free(ts);
}

/* REQUIRED, at every split point: nothing before the answer is complete. */
static void
test_required_holds_everything(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    for (size_t k = 0; k <= strlen(valid); k++) {
        char *prompt = NULL;
        struct lingma__chat_tools *t = make(ts, LINGMA_TOOL_CHOICE_REQUIRED, NULL, 0, &prompt);
        struct rec r = {0};
        size_t n = 0;
        assert_int_equal(lingma__chat_tools_reasoning(t, "hmm", 3, &sink, &r), 0);
        assert_int_equal(r.reasoning.len, 0);
        assert_int_equal(feed(t, valid, k, &r, &n), LINGMA__TOOLS_DONE);
        assert_int_equal(r.texts_before_finish, 0);
        assert_string_equal(str(&r.reasoning), "hmm");
        assert_string_equal(str(&r.text), "Pre.\nPost.");
        assert_int_equal(n, 1);
        rec_clear(&r);
        lingma__chat_tools_free(t);
        free(prompt);
    }
    lingma_toolset_free(ts);
}

/* AUTO refused twice: the second answer's text is the answer exactly,
 * whatever streamed before the block, at every split point. */
static void
test_auto_fallback_every_split(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    for (size_t k = 0; k <= strlen(invalid); k++) {
        char *prompt = NULL, *retry = NULL;
        struct lingma__chat_tools *t = make(ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 0, &prompt);
        struct rec r = {0};
        size_t n = 0;
        assert_int_equal(feed(t, invalid, k, &r, &n), LINGMA__TOOLS_RETRY);
        assert_int_equal(lingma__chat_tools_retry_prompt(t, &retry, prompt), 0);
        rec_clear(&r);
        assert_int_equal(feed(t, invalid, k, &r, &n), LINGMA__TOOLS_DONE);
        assert_int_equal(n, 0);
        assert_string_equal(str(&r.text), invalid);
        assert_int_equal(r.calls.len, 0);
        rec_clear(&r);
        lingma__chat_tools_free(t);
        free(prompt);
        free(retry);
    }
    lingma_toolset_free(ts);
}

/* The prompt, the retry's prompt and correction, byte for byte. */
static void
test_prompts(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    char *section = NULL, *prompt = NULL, *retry = NULL, want[4096];
    lingma_tool_prompt_options po = LINGMA_TOOL_PROMPT_OPTIONS_INIT;
    po.choice = LINGMA_TOOL_CHOICE_REQUIRED;
    assert_int_equal(lingma_tool_prompt(&section, ts, &po), 0);

    struct lingma__chat_tools *t = make(ts, LINGMA_TOOL_CHOICE_REQUIRED, NULL, 0, &prompt);
    snprintf(want, sizeof(want), "%s\nQ?", section);
    assert_string_equal(prompt, want);
    struct rec r = {0};
    size_t n;
    assert_int_equal(feed(t, "Just text.", 3, &r, &n), LINGMA__TOOLS_RETRY);
    assert_string_equal(lingma__chat_tools_error(t), "no tool was called");
    assert_int_equal(lingma__chat_tools_retry_prompt(t, &retry, prompt), 0);
    snprintf(want, sizeof(want),
             "%s\n\nAssistant:\nJust text.\n\nUser:\nYour reply above called no tool.\n"
             "Call only the tools listed in the Tools section, with arguments that follow their "
             "JSON Schema, in a tool_call block at the end of your reply.\n"
             "You must call at least one tool now.",
             prompt);
    assert_string_equal(retry, want);
    rec_clear(&r);
    /* Refused again: an error, nothing shown. */
    assert_int_equal(feed(t, "Still text.", 3, &r, &n), LINGMA__TOOLS_FAIL);
    assert_int_equal(r.text.len, 0);
    assert_string_equal(lingma__chat_tools_error(t), "Lingma called no tool although one is "
                                                     "required, also after a correction");
    rec_clear(&r);
    lingma__chat_tools_free(t);
    free(prompt);
    free(retry);

    /* NAMED: another declared tool is refused, and the correction names
     * both. */
    t = make(ts, LINGMA_TOOL_CHOICE_NAMED, "get_weather", 0, &prompt);
    assert_int_equal(
        feed(t, "```tool_call\n{\"name\":\"get_time\",\"arguments\":{}}\n```", 0, &r, &n),
        LINGMA__TOOLS_RETRY);
    assert_int_equal(lingma__chat_tools_retry_prompt(t, &retry, prompt), 0);
    assert_non_null(strstr(retry, "\nUser:\nYour reply above is not valid: only the tool "
                                  "get_weather may be called, not 'get_time'.\n"));
    assert_non_null(strstr(retry, "\nYou must call the tool get_weather now."));
    rec_clear(&r);
    lingma__chat_tools_free(t);
    free(prompt);
    free(retry);
    lingma_free(section);
    lingma_toolset_free(ts);
}

/* single_tool_call: the first call alone, and what follows it in the block
 * is not judged. */
static void
test_single(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    char *prompt = NULL;
    struct lingma__chat_tools *t = make(ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 1, &prompt);
    struct rec r = {0};
    size_t n = 0;
    assert_non_null(strstr(prompt, "Call one tool at a time.\n"));
    assert_int_equal(feed(t,
                          "```tool_call\n{\"name\":\"get_time\",\"arguments\":{}}\n"
                          "{\"name\":\"nope\",\"arguments\":{}}\n```",
                          7, &r, &n),
                     LINGMA__TOOLS_DONE);
    assert_int_equal(n, 1);
    assert_string_equal(str(&r.calls), "0 get_time {}\n");
    rec_clear(&r);
    lingma__chat_tools_free(t);
    free(prompt);
    lingma_toolset_free(ts);
}

/* A reason cut inside a UTF-8 character (names are truncated at a byte
 * count) loses the partial character, never yields invalid UTF-8. */
static void
test_reason_utf8(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    char *prompt = NULL, answer[256], name[80];
    /* 63 bytes of 'a' then "é": '%.64s' keeps the first byte of it. */
    memset(name, 'a', 63);
    strcpy(name + 63, "\xc3\xa9");
    snprintf(answer, sizeof(answer), "```tool_call\n{\"name\":\"%s\",\"arguments\":{}}\n```", name);
    struct lingma__chat_tools *t = make(ts, LINGMA_TOOL_CHOICE_AUTO, NULL, 0, &prompt);
    struct rec r = {0};
    size_t n;
    assert_int_equal(feed(t, answer, 0, &r, &n), LINGMA__TOOLS_RETRY);
    const char *why = lingma__chat_tools_error(t);
    char want[160];
    snprintf(want, sizeof(want), "no tool named '%.63s' was declared", name);
    assert_string_equal(why, want);
    rec_clear(&r);
    lingma__chat_tools_free(t);
    free(prompt);
    lingma_toolset_free(ts);
}

static void
test_options(void **state)
{
    (void)state;
    lingma_toolset *ts = toolset();
    lingma_chat_options o = LINGMA_CHAT_OPTIONS_INIT;
    struct lingma__chat_tools *t = (void *)1;
    char *prompt = (void *)1;
    o.prompt = "Q?";
    /* No tools, or NONE: no tool calling, the prompt unchanged. */
    assert_int_equal(lingma__chat_tools_new(&t, &prompt, NULL, &o), 0);
    assert_null(t);
    assert_null(prompt);
    o.tools = ts;
    o.tool_choice = LINGMA_TOOL_CHOICE_NONE;
    assert_int_equal(lingma__chat_tools_new(&t, &prompt, NULL, &o), 0);
    assert_null(t);
    /* Refused: a required call with no tools, a named tool not declared,
     * a choice out of range. */
    o.tools = NULL;
    o.tool_choice = LINGMA_TOOL_CHOICE_REQUIRED;
    assert_int_equal(lingma__chat_tools_new(&t, &prompt, NULL, &o), LINGMA_EINVAL);
    o.tools = ts;
    o.tool_choice = LINGMA_TOOL_CHOICE_NAMED;
    assert_int_equal(lingma__chat_tools_new(&t, &prompt, NULL, &o), LINGMA_EINVAL);
    o.tool_name = "nope";
    assert_int_equal(lingma__chat_tools_new(&t, &prompt, NULL, &o), LINGMA_EINVAL);
    o.tool_choice = (lingma_tool_choice)4;
    assert_int_equal(lingma__chat_tools_new(&t, &prompt, NULL, &o), LINGMA_EINVAL);
    lingma_toolset_free(ts);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_every_split),
        cmocka_unit_test(test_required_holds_everything),
        cmocka_unit_test(test_auto_fallback_every_split),
        cmocka_unit_test(test_prompts),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_reason_utf8),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
