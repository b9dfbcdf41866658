/*
 * Integration: lingma-sim chat engine over real WebSockets — push order and
 * shapes, answer modes, reasoning, sessions, overlapping asks, chat/stop,
 * the stream switches, ACK waits and the live sim.json reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simfx.h"

static int
index_of(struct simc *c, const char *method, const char *rid, const char *step)
{
    for (int i = simc_find(c, method, rid, 0); i >= 0; i = simc_find(c, method, rid, i + 1)) {
        json_t *p = json_object_get(json_array_get(c->events, (size_t)i), "params");
        const char *s = json_string_value(json_object_get(p, "step"));
        if (!step || (s && !strcmp(s, step)))
            return i;
    }
    return -1;
}

static void
wait_step_end(struct simfx *f, struct simc *c, const char *rid)
{
    for (int tries = 0;
         tries < 100 && index_of(c, "chat/process_step_callback", rid, "step_end") < 0; tries++)
        simc_pump(f->ctx, SIMFX_WAIT / 100);
    assert_true(index_of(c, "chat/process_step_callback", rid, "step_end") >= 0);
}

static void
test_chat_order_and_shapes(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    simfx_ask(f->c, "r1", "hello", "", "auto");
    json_t *fin = simfx_finish(f, f->c, "r1");
    wait_step_end(f, f->c, "r1");

    assert_string_equal(json_string_value(json_object_get(fin, "reason")), "success");
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 200);
    assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), "ECHO: hello");
    const char *sid = json_string_value(json_object_get(fin, "sessionId"));
    assert_non_null(sid);
    assert_int_equal(strlen(sid), 36);
    char *text = simc_answer_text(f->c, "r1");
    assert_string_equal(text, "ECHO: hello");
    free(text);

    int start = index_of(f->c, "chat/process_step_callback", "r1", "step_start");
    int title = simc_find(f->c, "session/title/update", NULL, 0);
    int first = simc_find(f->c, "chat/answer", "r1", 0);
    int finish = simc_find(f->c, "chat/finish", "r1", 0);
    int end = index_of(f->c, "chat/process_step_callback", "r1", "step_end");
    assert_true(start >= 0 && start < title && title < first && first < finish && finish < end);
    json_t *tp = json_object_get(json_array_get(f->c->events, (size_t)title), "params");
    assert_string_equal(json_string_value(json_object_get(tp, "sessionId")), sid);
    assert_string_equal(json_string_value(json_object_get(tp, "sessionTitle")), "hello");

    /* 8 pieces plus 2 empty deltas, every field present, the same session */
    assert_int_equal(simc_count(f->c, "chat/answer", "r1"), 10);
    int empties = 0;
    for (int i = first; i >= 0; i = simc_find(f->c, "chat/answer", "r1", i + 1)) {
        json_t *e = json_array_get(f->c->events, (size_t)i);
        json_t *p = json_object_get(e, "params");
        assert_string_equal(json_string_value(json_object_get(e, "kind")), "request");
        assert_string_equal(json_string_value(json_object_get(p, "sessionId")), sid);
        assert_true(json_is_false(json_object_get(p, "overwrite")));
        assert_true(json_is_false(json_object_get(p, "isFiltered")));
        assert_true(json_integer_value(json_object_get(p, "timestamp")) > 1600000000000LL);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(p, "extra"), "sessionType")), "chat");
        empties += json_string_length(json_object_get(p, "text")) == 0;
    }
    assert_true(empties >= 2);
    json_t *sp = json_object_get(json_array_get(f->c->events, (size_t)start), "params");
    assert_string_equal(json_string_value(json_object_get(sp, "status")), "done");
    assert_true(json_is_null(json_object_get(sp, "result")));
    simfx_stop(f);
}

static void
test_reply_modes(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_REPLY=text:héllo wörld ✓", "LINGMA_SIM_CHUNKS=5", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "t1", "q", "", NULL);
    json_t *fin = simfx_finish(f, f->c, "t1");
    assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), "héllo wörld ✓");
    assert_int_equal(simc_count(f->c, "chat/answer", "t1"), 7);

    /* tokens:<n> is deterministic for a seed and changes with it */
    assert_int_equal(
        simproc_write_file(f->p.dir, "sim.json", "{\"reply\":\"tokens:20\",\"seed\":7}"), 0);
    simfx_ask(f->c, "t2", "same question", "", NULL);
    simfx_ask(f->c, "t3", "same question", "", NULL);
    const char *a2 = json_string_value(json_object_get(simfx_finish(f, f->c, "t2"), "fullAnswer"));
    const char *a3 = json_string_value(json_object_get(simfx_finish(f, f->c, "t3"), "fullAnswer"));
    assert_string_equal(a2, a3);
    int words = 1;
    for (const char *p = a2; *p; p++)
        words += *p == ' ';
    assert_int_equal(words, 20);
    assert_int_equal(
        simproc_write_file(f->p.dir, "sim.json", "{\"reply\":\"tokens:20\",\"seed\":8}"), 0);
    simfx_ask(f->c, "t4", "same question", "", NULL);
    const char *a4 = json_string_value(json_object_get(simfx_finish(f, f->c, "t4"), "fullAnswer"));
    assert_string_not_equal(a2, a4);
    simfx_stop(f);
}

static void
test_reasoning_model(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    simfx_ask(f->c, "k1", "why", "", "dashscope_qwen_plus_20250428_thinking");
    json_t *fin = simfx_finish(f, f->c, "k1");
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 200);
    const char *full = json_string_value(json_object_get(fin, "fullAnswer"));
    const char *open = "\n````think::{THINK_TIME}\n";
    assert_memory_equal(full, open, strlen(open));
    const char *close = strstr(full + strlen(open), "\n````\n");
    assert_non_null(close);
    assert_string_equal(close + 6, "ECHO: why");
    /* the block is spread over several deltas */
    int with_think = 0;
    for (int i = simc_find(f->c, "chat/answer", "k1", 0); i >= 0;
         i = simc_find(f->c, "chat/answer", "k1", i + 1))
        with_think +=
            json_string_length(json_object_get(
                json_object_get(json_array_get(f->c->events, (size_t)i), "params"), "text")) > 0;
    assert_true(with_think >= 3);
    simfx_stop(f);
}

static void
test_sessions(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    simfx_ask(f->c, "s1", "first question", "", NULL);
    const char *sid = json_string_value(json_object_get(simfx_finish(f, f->c, "s1"), "sessionId"));
    char *sid_copy = strdup(sid);
    simfx_ask(f->c, "s2", "second question", sid_copy, NULL);
    assert_string_equal(
        json_string_value(json_object_get(simfx_finish(f, f->c, "s2"), "sessionId")), sid_copy);
    simfx_ask(f->c, "s3", "other", "my-own-session", NULL);
    assert_string_equal(
        json_string_value(json_object_get(simfx_finish(f, f->c, "s3"), "sessionId")),
        "my-own-session");

    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "chat/getSessionById",
                               json_pack("{s:s}", "sessionId", sid_copy), &r, NULL, SIMFX_WAIT),
                     0);
    assert_string_equal(json_string_value(json_object_get(r, "sessionTitle")), "first question");
    json_t *recs = json_object_get(r, "chatRecords");
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "question")),
                        "second question");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "answer")),
                        "ECHO: second question");
    json_decref(r);

    assert_int_equal(simc_call(f->c, "chat/listAllSessions", json_object(), &r, NULL, SIMFX_WAIT),
                     0);
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(json_array_size(json_object_get(json_array_get(r, 0), "chatRecords")), 0);
    json_decref(r);

    assert_int_equal(simc_call(f->c, "chat/deleteSessionById",
                               json_pack("{s:s}", "sessionId", sid_copy), &r, NULL, SIMFX_WAIT),
                     0);
    assert_true(json_is_null(r));
    json_decref(r);
    assert_int_equal(simc_call(f->c, "chat/deleteSessionById",
                               json_pack("{s:s}", "id", "my-own-session"), &r, NULL, SIMFX_WAIT),
                     0);
    json_decref(r);
    assert_int_equal(simc_call(f->c, "chat/listAllSessions", json_object(), &r, NULL, SIMFX_WAIT),
                     0);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    assert_int_equal(simc_call(f->c, "chat/getSessionById",
                               json_pack("{s:s}", "sessionId", sid_copy), &r, NULL, SIMFX_WAIT),
                     0);
    assert_true(json_is_null(r));
    json_decref(r);
    free(sid_copy);
    simfx_stop(f);
}

static void
test_overlap_one_connection(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_CHUNK_MS=5", NULL};
    simfx_start(f, env);
    long long ids[3];
    const char *rids[] = {"o1", "o2", "o3"};
    for (int i = 0; i < 3; i++) {
        char q[16];
        snprintf(q, sizeof(q), "q%d", i);
        assert_int_equal(
            simc_call_async(f->c, "chat/ask", simc_ask_params(rids[i], q, "", NULL), &ids[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof(want), "ECHO: q%d", i);
        json_t *fin = simfx_finish(f, f->c, rids[i]);
        assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), want);
        char *t = simc_answer_text(f->c, rids[i]);
        assert_string_equal(t, want);
        free(t);
    }
    /* they really overlapped: o3 answered before o1 finished */
    assert_true(simc_find(f->c, "chat/answer", "o3", 0) < simc_find(f->c, "chat/finish", "o1", 0));
    simfx_stop(f);
}

static void
test_overlap_connections(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_CHUNK_MS=2", NULL};
    simfx_start(f, env);
    struct simc *c2 = simfx_connect(f), *c3 = simfx_connect(f);
    struct simc *cs[] = {f->c, c2, c3};
    const char *rids[] = {"c1", "c2", "c3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            simc_call_async(cs[i], "chat/ask", simc_ask_params(rids[i], rids[i], "", NULL), NULL),
            0);
    for (int i = 0; i < 3; i++) {
        json_t *fin = simfx_finish(f, cs[i], rids[i]);
        char want[16];
        snprintf(want, sizeof(want), "ECHO: %s", rids[i]);
        assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), want);
    }
    /* every push went only to the connection that asked */
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            if (i != j)
                assert_int_equal(simc_count(cs[i], "chat/answer", rids[j]), 0);
        }
    }
    simc_free(c2);
    simc_free(c3);
    simfx_stop(f);
}

static void
test_chat_stop(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_CHUNK_MS=40", "LINGMA_SIM_CHUNKS=50", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "stop-me", "a long answer please", "", NULL);
    assert_non_null(simc_wait_event(f->c, "chat/answer", "stop-me", SIMFX_WAIT));
    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "chat/stop",
                               json_pack("{s:s, s:s}", "requestId", "stop-me", "sessionId", ""), &r,
                               NULL, SIMFX_WAIT),
                     0);
    assert_true(json_is_object(r) && json_object_size(r) == 0);
    json_decref(r);
    json_t *fin = simfx_finish(f, f->c, "stop-me");
    assert_string_equal(json_string_value(json_object_get(fin, "reason")), "cancelled");
    assert_int_equal(json_integer_value(json_object_get(fin, "statusCode")), 200);
    /* fullAnswer of a cancelled chat: exactly the text that was sent */
    char *sent = simc_answer_text(f->c, "stop-me");
    assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), sent);
    assert_true(strlen(sent) < strlen("ECHO: a long answer please"));
    free(sent);
    wait_step_end(f, f->c, "stop-me");
    assert_true(simc_count(f->c, "chat/answer", "stop-me") < 52);
    /* no more deltas after the finish */
    int after =
        simc_find(f->c, "chat/answer", "stop-me", simc_find(f->c, "chat/finish", "stop-me", 0));
    assert_int_equal(after, -1);
    /* a stop for an unknown request is answered too */
    assert_int_equal(
        simc_call(f->c, "chat/stop", json_pack("{s:s}", "requestId", "nope"), &r, NULL, SIMFX_WAIT),
        0);
    json_decref(r);

    json_t *st = simfx_status(f);
    assert_int_equal(json_integer_value(json_object_get(st, "stops_received")), 2);
    json_decref(st);
    assert_int_equal(simproc_wait_file_contains(f->p.dir, "logs/lingma.log",
                                                "chat/stop requestId=stop-me", SIMFX_WAIT),
                     0);
    simfx_stop(f);
}

static void
test_step_end_first_noisy_usage_timestamps(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_STEP_END_FIRST=1", "LINGMA_SIM_NOISY=1", "LINGMA_SIM_USAGE=1",
                         "LINGMA_SIM_TIMESTAMPS=1", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "n1", "noisy", "", NULL);
    json_t *fin = simfx_finish(f, f->c, "n1");
    int end = index_of(f->c, "chat/process_step_callback", "n1", "step_end");
    assert_true(end >= 0 && end < simc_find(f->c, "chat/answer", "n1", 0));
    assert_true(simc_find(f->c, "window/logMessage", NULL, 0) >= 0);
    assert_true(simc_find(f->c, "telemetry/event", NULL, 0) >= 0);
    assert_true(simc_find(f->c, "sim/unknownServerRequest", NULL, 0) >= 0);
    json_t *usage = simc_wait_event(f->c, "context/usage/sync", NULL, SIMFX_WAIT);
    assert_non_null(usage);
    assert_true(json_integer_value(json_object_get(usage, "usedTokens")) > 0);
    json_t *u = json_object_get(json_object_get(fin, "extra"), "usage");
    assert_true(json_integer_value(json_object_get(u, "total_tokens")) > 0);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")),
                     json_integer_value(json_object_get(u, "prompt_tokens")) +
                         json_integer_value(json_object_get(u, "completion_tokens")));
    /* timestamps: "@<ns>@" in front of every non-empty delta, not in fullAnswer */
    size_t total = 0;
    for (int i = simc_find(f->c, "chat/answer", "n1", 0); i >= 0;
         i = simc_find(f->c, "chat/answer", "n1", i + 1)) {
        const char *t = json_string_value(json_object_get(
            json_object_get(json_array_get(f->c->events, (size_t)i), "params"), "text"));
        if (!*t)
            continue;
        assert_int_equal(t[0], '@');
        char *endp;
        unsigned long long ns = strtoull(t + 1, &endp, 10);
        assert_true(ns > 0);
        assert_int_equal(*endp, '@');
        total += strlen(endp + 1);
    }
    assert_int_equal(total, strlen("ECHO: noisy"));
    assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), "ECHO: noisy");
    simfx_stop(f);
}

static void
test_one_chat_per_connection(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_ONE_CHAT_PER_CONNECTION=1", "LINGMA_SIM_CHUNK_MS=30", NULL};
    simfx_start(f, env);
    simfx_ask(f->c, "a1", "x", "", NULL);
    int code = 0;
    json_t *r = NULL;
    assert_int_equal(
        simc_call(f->c, "chat/ask", simc_ask_params("a2", "y", "", NULL), &r, &code, SIMFX_WAIT),
        LINGMA_ERPC);
    assert_int_equal(code, -32602);
    struct simc *c2 = simfx_connect(f);
    simfx_ask(c2, "a3", "z", "", NULL);
    simfx_finish(f, c2, "a3");
    simfx_finish(f, f->c, "a1");
    /* after the finish the connection takes a new chat */
    simfx_ask(f->c, "a4", "w", "", NULL);
    simfx_finish(f, f->c, "a4");
    simc_free(c2);
    simfx_stop(f);
}

static void
test_bad_asks_and_models(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    int code = 0;
    json_t *r = NULL;
    assert_int_equal(
        simc_call(f->c, "chat/ask", json_pack("{s:s}", "questionText", "q"), &r, &code, SIMFX_WAIT),
        LINGMA_ERPC);
    assert_int_equal(code, -32602);
    assert_int_equal(
        simc_call(f->c, "chat/ask", json_pack("{s:s}", "requestId", "x"), &r, &code, SIMFX_WAIT),
        LINGMA_ERPC);
    assert_int_equal(code, -32602);
    simfx_ask(f->c, "m1", "q", "", "no-such-model");
    json_t *fin = simfx_finish(f, f->c, "m1");
    assert_int_not_equal(json_integer_value(json_object_get(fin, "statusCode")), 200);
    assert_string_equal(json_string_value(json_object_get(fin, "reason")), "error");
    assert_int_equal(simc_count(f->c, "chat/answer", "m1"), 0);
    simfx_stop(f);
}

static void
test_ack_wait(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_ACK_WAIT_MS=20", NULL};
    simfx_start(f, env);
    /* a client that never ACKs still gets the whole answer */
    struct simc *mute = simfx_connect(f);
    mute->ack = SIMC_ACK_NONE;
    simfx_ask(mute, "mute", "quiet", "", NULL);
    json_t *fin = simfx_finish(f, mute, "mute");
    assert_string_equal(json_string_value(json_object_get(fin, "fullAnswer")), "ECHO: quiet");
    wait_step_end(f, mute, "mute");
    /* a client that ACKs with null leaves nothing unanswered */
    f->c->ack = SIMC_ACK_NULL;
    simfx_ask(f->c, "acks", "loud", "", NULL);
    simfx_finish(f, f->c, "acks");
    wait_step_end(f, f->c, "acks");
    simc_free(mute);
    simfx_stop(f);
    json_t *st = simfx_status(f);
    /* 14 pushes of the mute chat: step_start, title, 10 deltas, finish, step_end */
    assert_int_equal(json_integer_value(json_object_get(st, "unanswered_pushes")), 14);
    assert_true(json_integer_value(json_object_get(st, "pushes_acked")) >= 14);
    assert_false(json_is_true(json_object_get(st, "running")));
    json_decref(st);
}

static void
test_sim_json_live_reload(void **state)
{
    struct simfx *f = *state;
    simfx_start(f, NULL);
    simfx_ask(f->c, "l1", "q", "", NULL);
    assert_string_equal(
        json_string_value(json_object_get(simfx_finish(f, f->c, "l1"), "fullAnswer")), "ECHO: q");
    assert_int_equal(simproc_write_file(f->p.dir, "sim.json",
                                        "{\"LINGMA_SIM_REPLY\":\"text:changed\",\"chunks\":2}"),
                     0);
    simfx_ask(f->c, "l2", "q", "", NULL);
    assert_string_equal(
        json_string_value(json_object_get(simfx_finish(f, f->c, "l2"), "fullAnswer")), "changed");
    assert_int_equal(simc_count(f->c, "chat/answer", "l2"), 4);
    /* a broken sim.json is logged and ignored: the last good settings stay */
    assert_int_equal(simproc_write_file(f->p.dir, "sim.json", "{\"chunks\":\"many\"}"), 0);
    simfx_ask(f->c, "l3", "q", "", NULL);
    assert_string_equal(
        json_string_value(json_object_get(simfx_finish(f, f->c, "l3"), "fullAnswer")), "changed");
    assert_int_equal(
        simproc_wait_file_contains(f->p.dir, "logs/lingma.log", "ignoring sim.json", SIMFX_WAIT),
        0);
    /* removed: back to the start-up settings */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/sim.json", f->p.dir);
    assert_int_equal(remove(path), 0);
    simfx_ask(f->c, "l4", "q", "", NULL);
    assert_string_equal(
        json_string_value(json_object_get(simfx_finish(f, f->c, "l4"), "fullAnswer")), "ECHO: q");
    simfx_stop(f);
}

static void
test_models_file(void **state)
{
    struct simfx *f = *state;
    char models[] = "/tmp/lingma-sim-models-XXXXXX";
    int fd = mkstemp(models);
    assert_true(fd >= 0);
    const char *js = "[{\"key\":\"m-one\",\"displayName\":\"Model One\"},"
                     "{\"key\":\"m-think\",\"isReasoning\":true}]";
    assert_int_equal(write(fd, js, strlen(js)), (int)strlen(js));
    close(fd);
    char envm[PATH_MAX + 32];
    snprintf(envm, sizeof(envm), "LINGMA_SIM_MODELS=%s", models);
    const char *env[] = {envm, NULL};
    simfx_start(f, env);
    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "config/queryModels", json_object(), &r, NULL, SIMFX_WAIT), 0);
    json_t *chat = json_object_get(r, "chat");
    assert_int_equal(json_array_size(chat), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(chat, 0), "displayName")),
                        "Model One");
    assert_string_equal(json_string_value(json_object_get(json_array_get(chat, 1), "format")),
                        "openai");
    json_decref(r);
    simfx_ask(f->c, "f1", "q", "", "m-think");
    json_t *fin = simfx_finish(f, f->c, "f1");
    assert_non_null(strstr(json_string_value(json_object_get(fin, "fullAnswer")), "think::"));
    simfx_ask(f->c, "f2", "q", "", "dashscope_qwen3_coder");
    assert_int_not_equal(
        json_integer_value(json_object_get(simfx_finish(f, f->c, "f2"), "statusCode")), 200);
    simfx_ask(f->c, "f3", "q", "", "auto"); /* auto: the first model */
    assert_int_equal(json_integer_value(json_object_get(simfx_finish(f, f->c, "f3"), "statusCode")),
                     200);
    simfx_stop(f);
    unlink(models);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, simfx_setup, simfx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_chat_order_and_shapes),
        T(test_reply_modes),
        T(test_reasoning_model),
        T(test_sessions),
        T(test_overlap_one_connection),
        T(test_overlap_connections),
        T(test_chat_stop),
        T(test_step_end_first_noisy_usage_timestamps),
        T(test_one_chat_per_connection),
        T(test_bad_asks_and_models),
        T(test_ack_wait),
        T(test_sim_json_live_reload),
        T(test_models_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
