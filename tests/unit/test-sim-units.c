/*
 * Unit: the pure parts of lingma-sim — settings and fault parsing, answer
 * generation and chunking, base64, the hash map and the session store.
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
#include "files.h"
#include "sessions.h"
#include "settings.h"
#include "strmap.h"

static void
test_settings_defaults_and_set(void **state)
{
    struct sim_settings s;
    char err[256];
    sim_settings_defaults(&s);
    assert_true(s.logged_in);
    assert_int_equal(s.chunks, 8);
    assert_int_equal(s.reply, SIM_REPLY_ECHO);
    assert_int_equal(s.info, SIM_INFO_2LINE);
    assert_int_equal(s.fault.drop_after, -1);

    assert_int_equal(sim_settings_set(&s, "LINGMA_SIM_CHUNKS", "3", err, sizeof(err)), 0);
    assert_int_equal(s.chunks, 3);
    assert_int_equal(sim_settings_set(&s, "chunks", "4", err, sizeof(err)), 0);
    assert_int_equal(s.chunks, 4);
    assert_int_equal(sim_settings_set(&s, "lingma_sim_reply", "text:a:b", err, sizeof(err)), 0);
    assert_int_equal(s.reply, SIM_REPLY_TEXT);
    assert_string_equal(s.reply_text, "a:b");
    assert_int_equal(sim_settings_set(&s, "REPLY", "tokens:12", err, sizeof(err)), 0);
    assert_int_equal(s.reply_tokens, 12);
    assert_int_equal(sim_settings_set(&s, "INFO", "json", err, sizeof(err)), 0);
    assert_int_equal(s.info, SIM_INFO_JSON);
    assert_int_equal(sim_settings_set(&s, "SPLIT", "true", err, sizeof(err)), 0);
    assert_true(s.split);
    assert_int_equal(sim_settings_set(&s, "SEED", "18446744073709551615", err, sizeof(err)), 0);
    assert_true(s.seed == UINT64_MAX);
    assert_int_equal(sim_settings_set(&s, "LINGMA_SIM_BIN", "/x", err, sizeof(err)), 1);

    assert_int_equal(sim_settings_set(&s, "CHUNKS", "x", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LINGMA_SIM_CHUNKS"));
    assert_int_equal(s.chunks, 4);
    assert_int_equal(sim_settings_set(&s, "FIRST_TOKEN_MS", "-5", err, sizeof(err)), -1);
    assert_int_equal(sim_settings_set(&s, "REPLY", "tokens:x", err, sizeof(err)), -1);
    assert_int_equal(sim_settings_set(&s, "MODELS", "", err, sizeof(err)), -1);

    struct sim_settings copy;
    assert_int_equal(sim_settings_copy(&copy, &s), 0);
    assert_int_equal(sim_settings_set(&copy, "REPLY", "text:other", err, sizeof(err)), 0);
    assert_string_equal(s.reply_text, "a:b");
    sim_settings_free(&copy);
    sim_settings_free(&s);
}

static void
test_settings_env_and_file(void **state)
{
    struct sim_settings s;
    char err[256];
    sim_settings_defaults(&s);
    char *env[] = {"PATH=/bin",          "LINGMA_SIM_CHUNK_MS=7",
                   "LINGMA_SIM_NOISY=1", "LINGMA_SIM_CONFIG=/nope",
                   "LINGMA_SIM_BIN=/x",  NULL};
    assert_int_equal(sim_settings_from_env(&s, env, err, sizeof(err)), 0);
    assert_int_equal(s.chunk_ms, 7);
    assert_true(s.noisy);
    char *bad[] = {"LINGMA_SIM_USAGE=2", NULL};
    assert_int_equal(sim_settings_from_env(&s, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LINGMA_SIM_USAGE"));

    char path[] = "/tmp/lingma-sim-unit-XXXXXX";
    int fd = mkstemp(path);
    const char *js = "{\"reply\":\"text:hi\",\"chunks\":4,\"usage\":true,\"ignored_key\":1,"
                     "\"LINGMA_SIM_FAULT\":\"drop_after:2, finish:429\",\"seed\":null}";
    assert_int_equal(write(fd, js, strlen(js)), (ssize_t)strlen(js));
    close(fd);
    assert_int_equal(sim_settings_from_file(&s, path, err, sizeof(err)), 0);
    assert_string_equal(s.reply_text, "hi");
    assert_int_equal(s.chunks, 4);
    assert_true(s.usage);
    assert_int_equal(s.fault.drop_after, 2);
    assert_int_equal(s.fault.finish_code, 429);
    assert_string_equal(s.fault_text, "drop_after:2, finish:429");
    unlink(path);
    assert_int_equal(sim_settings_from_file(&s, path, err, sizeof(err)), 1);
    sim_settings_free(&s);
}

static void
test_faults(void **state)
{
    struct sim_faults f;
    char err[512];
    assert_int_equal(sim_faults_parse(&f,
                                      "drop_after:1,exit_after:2,hang,ask_delay_ms:3,finish:500,"
                                      "rpc_error,exit_at_start,start_delay_ms:4,stale_info,"
                                      "logged_out",
                                      err, sizeof(err)),
                     0);
    assert_int_equal(f.drop_after, 1);
    assert_int_equal(f.exit_after, 2);
    assert_true(f.hang && f.rpc_error && f.exit_at_start && f.stale_info && f.logged_out);
    assert_int_equal(f.ask_delay_ms, 3);
    assert_int_equal(f.finish_code, 500);
    assert_int_equal(f.start_delay_ms, 4);
    assert_true(sim_faults_chat_active(&f));
    assert_true(sim_faults_start_active(&f));
    assert_int_equal(sim_faults_parse(&f, "", err, sizeof(err)), 0);
    assert_false(sim_faults_chat_active(&f));
    assert_false(sim_faults_start_active(&f));
    assert_int_equal(sim_faults_parse(&f, "hang:1", err, sizeof(err)), -1);
    assert_int_equal(sim_faults_parse(&f, "drop_after", err, sizeof(err)), -1);
    assert_int_equal(sim_faults_parse(&f, "finish:99", err, sizeof(err)), -1);
    assert_int_equal(sim_faults_parse(&f, "hangs", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LINGMA_SIM_FAULT"));
}

static void
test_answers_and_chunks(void **state)
{
    struct sim_settings s;
    char err[256];
    sim_settings_defaults(&s);
    char *a = sim_answer_text(&s, "pong?", false, err, sizeof(err));
    assert_string_equal(a, "ECHO: pong?");
    free(a);
    a = sim_answer_text(&s, "q", true, err, sizeof(err));
    assert_memory_equal(a, SIM_THINK_OPEN, strlen(SIM_THINK_OPEN));
    assert_non_null(strstr(a, SIM_THINK_CLOSE "ECHO: q"));
    free(a);

    /* every chunk count: the deltas rebuild the text, never split UTF-8 */
    const char *text = "héllo wörld ✓ 漢字 and more text";
    size_t len = strlen(text);
    for (int chunks = 1; chunks <= 40; chunks++) {
        int n = sim_answer_delta_count(chunks);
        char buf[128] = "";
        size_t at = 0;
        int empties = 0;
        for (int d = 0; d < n; d++) {
            size_t off, cnt;
            sim_answer_delta(text, len, chunks, d, &off, &cnt);
            assert_int_equal(off, at);
            if (cnt) {
                assert_true(((unsigned char)text[off] & 0xc0) != 0x80);
                assert_true(off + cnt == len || ((unsigned char)text[off + cnt] & 0xc0) != 0x80);
            }
            memcpy(buf + at, text + off, cnt);
            at += cnt;
            empties += cnt == 0;
        }
        buf[at] = '\0';
        assert_string_equal(buf, text);
        assert_true(empties >= 1);
    }
    /* tokens:<n> depends on the seed and the question only */
    s.reply = SIM_REPLY_TOKENS;
    s.reply_tokens = 5;
    char *t1 = sim_answer_text(&s, "x", false, err, sizeof(err)),
         *t2 = sim_answer_text(&s, "x", false, err, sizeof(err));
    assert_string_equal(t1, t2);
    s.seed = 1;
    char *t3 = sim_answer_text(&s, "x", false, err, sizeof(err));
    assert_string_not_equal(t1, t3);
    free(t1);
    free(t2);
    free(t3);
    assert_int_equal(sim_answer_tokens(""), 0);
    assert_int_equal(sim_answer_tokens("abcde"), 2);
    sim_settings_free(&s);
}

static void
test_base64_uuid(void **state)
{
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = sim_base64_encode(in[i], strlen(in[i]));
        assert_string_equal(e, out[i]);
        size_t n;
        char *d = sim_base64_decode(e, &n);
        assert_int_equal(n, strlen(in[i]));
        assert_memory_equal(d, in[i], n);
        free(d);
        free(e);
    }
    char u1[37], u2[37];
    sim_uuid(u1);
    sim_uuid(u2);
    assert_int_equal(strlen(u1), 36);
    assert_string_not_equal(u1, u2);
    assert_true(sim_dead_pid() > 1);
}

static void
test_strmap_and_sessions(void **state)
{
    struct strmap *m = strmap_new();
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(strmap_put(m, key, (void *)(intptr_t)(i + 1)), 0);
    }
    assert_int_equal(strmap_count(m), 5000);
    assert_int_equal((intptr_t)strmap_get(m, "k4321"), 4322);
    strmap_del(m, "k4321", (void *)1); /* wrong value: kept */
    assert_non_null(strmap_get(m, "k4321"));
    strmap_del(m, "k4321", NULL);
    assert_null(strmap_get(m, "k4321"));
    assert_int_equal(strmap_count(m), 4999);
    strmap_free(m);

    struct sim_sessions *ss = sim_sessions_new();
    const char *id = sim_sessions_open(ss, "", "a question", "chat");
    assert_int_equal(strlen(id), 36);
    assert_string_equal(sim_sessions_open(ss, id, "other", "chat"), id);
    assert_string_equal(sim_sessions_title(ss, id), "a question");
    sim_sessions_add_record(ss, id, "r1", NULL, "a question", "answer");
    json_t *s = sim_sessions_get(ss, id);
    assert_int_equal(json_array_size(json_object_get(s, "chatRecords")), 1);
    json_decref(s);
    assert_int_equal(sim_sessions_delete(ss, id), 0);
    assert_int_equal(sim_sessions_delete(ss, "nope"), -1);
    sim_sessions_free(ss);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_defaults_and_set),
        cmocka_unit_test(test_settings_env_and_file),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_answers_and_chunks),
        cmocka_unit_test(test_base64_uuid),
        cmocka_unit_test(test_strmap_and_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
