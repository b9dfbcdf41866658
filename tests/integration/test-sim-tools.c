/*
 * Integration: lingma-sim's tool-calling reply modes over real WebSockets —
 * LINGMA_SIM_REPLY=tools answering the tool contract of doc/tools.md (a
 * call, then DONE after the result, echo without tools, reasoning models),
 * and script:FILE (rules re-read at every ask, live switches through
 * LINGMA_SIM_CONFIG and sim.json, a broken file at start-up and at an ask).
 * Answers go out in many small deltas, as the gateway's parser must take them.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simfx.h"
#include "tmpdir.h"

/* A private directory for rules and config files, outside the work dir. */
static char files_dir[PATH_MAX];

static int
setup(void **state)
{
    if (tmpdir_make(files_dir, sizeof(files_dir), "sim-tools"))
        return -1;
    return simfx_setup(state);
}

static int
teardown(void **state)
{
    int rc = simfx_teardown(state);
    tmpdir_remove(files_dir);
    return rc;
}

static const char list_line[] =
    "Available tools (name, description, parameters), one JSON object per line:\n";
static const char read_tool[] =
    "{\"name\":\"Read\",\"description\":\"Read a file\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"file_path\":{\"type\":\"string\"},\"limit\":{\"type\":\"integer\"}},"
    "\"required\":[\"file_path\"]}}\n";
static const char todo_tool[] =
    "{\"name\":\"TodoWrite\",\"description\":\"Todos\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"todos\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":"
    "{\"content\":{\"type\":\"string\"},\"status\":{\"enum\":[\"pending\",\"done\"]}},"
    "\"required\":[\"content\",\"status\"]}}},\"required\":[\"todos\"]}}\n";
static const char read_call[] =
    "```tool_call\n{\"name\":\"Read\",\"arguments\":{\"file_path\":\"x\"}}\n```";

/* "System instructions + tool section (+ extra line) + transcript" (malloc'd). */
static char *
prompt(const char *extra, const char *transcript)
{
    size_t n = 256 + strlen(list_line) + strlen(read_tool) + strlen(todo_tool) +
               strlen(transcript) + (extra ? strlen(extra) : 0);
    char *p = malloc(n);
    assert_non_null(p);
    int len = snprintf(p, n,
                       "System instructions:\nYou are a coding agent.\n\nTools:\n"
                       "To call tools, end your reply with one block tagged tool_call.\n%s%s%s%s\n"
                       "Conversation transcript:\n%s\n\nAnswer the latest User message above.",
                       list_line, read_tool, todo_tool, extra ? extra : "", transcript);
    assert_true(len > 0 && (size_t)len < n);
    return p;
}

/* Ask and wait; returns the fullAnswer (malloc'd) after checking that the
 * deltas carry exactly that text. */
static char *
ask_full(struct simfx *f, const char *rid, const char *q, const char *model)
{
    simfx_ask(f->c, rid, q, "", model);
    json_t *fin = simfx_finish(f, f->c, rid);
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 200);
    const char *full = json_string_value(json_object_get(fin, "fullAnswer"));
    char *streamed = simc_answer_text(f->c, rid);
    assert_string_equal(streamed, full);
    free(streamed);
    return strdup(full);
}

/* The longest chat/answer text of `rid` and how many were not empty. */
static size_t
longest_delta(const struct simc *c, const char *rid, int *nonempty)
{
    size_t longest = 0;
    *nonempty = 0;
    for (int i = simc_find(c, "chat/answer", rid, 0); i >= 0;
         i = simc_find(c, "chat/answer", rid, i + 1)) {
        size_t n = json_string_length(json_object_get(
            json_object_get(json_array_get(c->events, (size_t)i), "params"), "text"));
        *nonempty += n > 0;
        if (n > longest)
            longest = n;
    }
    return longest;
}

static void
test_tools_mode(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_REPLY=tools", "LINGMA_SIM_CHUNKS=64", NULL};
    simfx_start(f, env);

    /* a call of the first declared tool, its block cut into bytes */
    char *q = prompt(NULL, "User: What is in main.c?");
    char *a = ask_full(f, "t1", q, NULL);
    assert_string_equal(a, read_call);
    int nonempty;
    assert_true(longest_delta(f->c, "t1", &nonempty) <= 2);
    assert_true(nonempty >= 32);
    free(a);
    free(q);

    /* the required tool, nested arguments from its schema */
    q = prompt("You must call the tool TodoWrite now.\n", "User: plan it");
    a = ask_full(f, "t2", q, NULL);
    assert_string_equal(a, "```tool_call\n{\"name\":\"TodoWrite\",\"arguments\":{\"todos\":[{"
                           "\"content\":\"x\",\"status\":\"pending\"}]}}\n```");
    free(a);
    free(q);

    /* the result came back: DONE + its text, even with a fence and a "User:" inside */
    q = prompt(NULL, "User: What is in main.c?\n\nAssistant:\n```tool_call\n{\"name\":\"Read\","
                     "\"arguments\":{\"file_path\":\"main.c\"}}\n```\n\n"
                     "Tool result (call_1, Read):\n````tool_result\nint main(void);\n```\n"
                     "User: quoted\n````");
    a = ask_full(f, "t3", q, NULL);
    assert_string_equal(a, "DONE: int main(void);\n```\nUser: quoted");
    free(a);
    free(q);

    /* a new user turn after the result: a call again */
    q = prompt(NULL, "User: a\n\nTool result (call_1, Read):\n```tool_result\nok\n```\n\n"
                     "User: and again");
    a = ask_full(f, "t4", q, NULL);
    assert_string_equal(a, read_call);
    free(a);
    free(q);

    /* no tool section: like echo */
    a = ask_full(f, "t5", "plain question", NULL);
    assert_string_equal(a, "ECHO: plain question");
    free(a);

    /* a reasoning model: the think block first, then the call */
    q = prompt(NULL, "User: think first");
    a = ask_full(f, "t6", q, "dashscope_qwen_plus_20250428_thinking");
    const char *open = "\n````think::{THINK_TIME}\n", *close = "\n````\n";
    assert_memory_equal(a, open, strlen(open));
    const char *body = strstr(a + strlen(open), close);
    assert_non_null(body);
    assert_string_equal(body + strlen(close), read_call);
    free(a);
    free(q);
    simfx_stop(f);
}

/* Write files_dir/name. */
static void
put(const char *name, const char *text)
{
    assert_int_equal(simproc_write_file(files_dir, name, text), 0);
}

static void
test_script_mode(void **state)
{
    struct simfx *f = *state;
    char cfg[PATH_MAX + 32], sim_json[PATH_MAX + 64];
    put("rules.json",
        "[{\"match\": \"^User: hello$\", \"reply\": \"Hello! You said:\\n{{prompt}}\"},\n"
        " {\"match\": \"broken\", \"reply\": \"Sure.\\n```tool_call\\n{\\\"name\\\":"
        "\\\"Read\\\",\\\"arguments\\\":{'file_path':'a',}}\\n\"}]");
    snprintf(sim_json, sizeof(sim_json), "{\"reply\":\"script:%s/rules.json\",\"chunks\":40}",
             files_dir);
    put("config.json", sim_json);
    snprintf(cfg, sizeof(cfg), "LINGMA_SIM_CONFIG=%s/config.json", files_dir);
    const char *env[] = {cfg, NULL};
    simfx_start(f, env);

    char *a = ask_full(f, "s1", "System:\nx\nUser: hello", NULL);
    assert_string_equal(a, "Hello! You said:\nSystem:\nx\nUser: hello");
    free(a);
    /* a malformed block, streamed in bytes, exactly as written */
    a = ask_full(f, "s2", "give me something broken", NULL);
    assert_string_equal(a, "Sure.\n```tool_call\n{\"name\":\"Read\",\"arguments\":{'file_path':"
                           "'a',}}\n");
    int nonempty;
    assert_true(longest_delta(f->c, "s2", &nonempty) <= 3);
    assert_true(nonempty >= 20);
    free(a);
    a = ask_full(f, "s3", "no rule for this", NULL);
    assert_string_equal(a, "ECHO: no rule for this");
    free(a);

    /* the file is read at every ask */
    put("rules.json", "[{\"match\": \"rule\", \"reply\": \"changed\"}]");
    a = ask_full(f, "s4", "no rule for this", NULL);
    assert_string_equal(a, "changed");
    free(a);

    /* sim.json switches a running simulator to tools, and back by going away */
    assert_int_equal(simproc_write_file(f->p.dir, "sim.json", "{\"reply\":\"tools\"}"), 0);
    char *q = prompt(NULL, "User: rule");
    a = ask_full(f, "s5", q, NULL);
    assert_string_equal(a, read_call);
    free(a);
    free(q);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/sim.json", f->p.dir);
    assert_int_equal(remove(path), 0);
    a = ask_full(f, "s6", "rule", NULL);
    assert_string_equal(a, "changed");
    free(a);

    /* a broken file: the chat fails and says why; the next good file works */
    put("rules.json", "[{\"match\": \"(\", \"reply\": \"x\"}]");
    simfx_ask(f->c, "s7", "anything", "", NULL);
    json_t *fin = simfx_finish(f, f->c, "s7");
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 500);
    assert_string_equal(json_string_value(json_object_get(fin, "reason")), "error");
    const char *why =
        json_string_value(json_object_get(json_object_get(fin, "extra"), "errorMessage"));
    assert_non_null(why);
    assert_non_null(strstr(why, "rules.json: rule 1: bad regular expression"));
    assert_int_equal(simc_count(f->c, "chat/answer", "s7"), 0);
    assert_int_equal(simproc_wait_file_contains(f->p.dir, "logs/lingma.log",
                                                "LINGMA_SIM_REPLY script: ", SIMFX_WAIT),
                     0);
    put("rules.json", "[{\"match\": \".\", \"reply\": \"fixed\"}]");
    a = ask_full(f, "s8", "anything", NULL);
    assert_string_equal(a, "fixed");
    free(a);
    simfx_stop(f);
}

static void
expect_exit_2(const char *reply, const char *needle)
{
    char dir[PATH_MAX], setting[PATH_MAX + 64], out[1024], err[2048];
    assert_int_equal(tmpdir_make(dir, sizeof(dir), "sim-tools-bad"), 0);
    snprintf(setting, sizeof(setting), "LINGMA_SIM_REPLY=%s", reply);
    const char *env[] = {setting, NULL};
    const char *args[] = {"start", "--workDir", dir, "--socketPort", "0", NULL};
    int rc = simproc_run(args, env, out, sizeof(out), err, sizeof(err), SIMFX_WAIT);
    bool named = strstr(err, needle) != NULL, info = simproc_file_exists(dir, ".info");
    tmpdir_remove(dir);
    assert_int_equal(rc, 2);
    if (!named)
        fail_msg("stderr '%s' does not say '%s'", err, needle);
    assert_false(info);
}

static void
test_script_checked_at_start(void **state)
{
    char reply[PATH_MAX + 32];
    snprintf(reply, sizeof(reply), "script:%s/missing.json", files_dir);
    expect_exit_2(reply, "missing.json: No such file");
    put("bad.json", "[{\"match\": \"a\", \"text\": \"b\"}]");
    snprintf(reply, sizeof(reply), "script:%s/bad.json", files_dir);
    expect_exit_2(reply, "unknown key 'text'");
    expect_exit_2("script:", "LINGMA_SIM_REPLY");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tools_mode),
        T(test_script_mode),
        T(test_script_checked_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
