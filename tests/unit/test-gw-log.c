/* Unit tests for lingma-gatewayd/log_format.c and log.c. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

#include "lingma/common.h"
#include "log.h"

static const struct timespec t0 = {1700000000, 123456789};

static void
test_time(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(gw_log_time(buf, &t0), "2023-11-14T22:13:20.123Z");
    struct timespec epoch = {0, 0};
    assert_string_equal(gw_log_time(buf, &epoch), "1970-01-01T00:00:00.000Z");
    struct timespec leap = {951782400, 999999999}; /* 2000-02-29 */
    assert_string_equal(gw_log_time(buf, &leap), "2000-02-29T00:00:00.999Z");
}

static void
test_format_full(void **state)
{
    (void)state;
    gw_buf b = GW_BUF_INIT;
    gw_log_kv extra[] = {
        {"model", GW_LOG_STR, "qwen", 0, 0, false},    {"tokens", GW_LOG_INT, NULL, 42, 0, false},
        {"ratio", GW_LOG_DOUBLE, NULL, 0, 0.7, false}, {"stream", GW_LOG_BOOL, NULL, 0, 0, true},
        {"status", GW_LOG_INT, NULL, 1, 0, false}, /* clashes: dropped */
        {"none", GW_LOG_STR, NULL, 0, 0, false},       {"nan", GW_LOG_DOUBLE, NULL, 0, NAN, false},
        {NULL, GW_LOG_INT, NULL, 1, 0, false},
    };
    gw_log_fields f = {"req_1", "/v1/chat/completions", 200, 12.5, "inst-0", extra, 8};
    assert_int_equal(gw_log_format(&b, &t0, LINGMA_LOG_INFO, "request", &f, NULL, 0), 0);
    assert_string_equal(b.data, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"info\",\"msg\":"
                                "\"request\",\"request_id\":\"req_1\",\"route\":"
                                "\"/v1/chat/completions\",\"status\":200,\"duration_ms\":12.5,"
                                "\"instance\":\"inst-0\",\"model\":\"qwen\",\"tokens\":42,"
                                "\"ratio\":0.7,\"stream\":true,\"none\":null,\"nan\":null}\n");
    gw_buf_reset(&b);
    assert_int_equal(gw_log_format(&b, &t0, LINGMA_LOG_ERROR, "x\n\"y\"\xff", NULL, NULL, 0), 0);
    assert_string_equal(b.data, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"error\","
                                "\"msg\":\"x\\n\\\"y\\\"\xef\xbf\xbd\"}\n");
    gw_buf_reset(&b);
    gw_log_fields empty = GW_LOG_FIELDS_INIT;
    assert_int_equal(gw_log_format(&b, &t0, LINGMA_LOG_DEBUG, NULL, &empty, NULL, 0), 0);
    assert_string_equal(b.data, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"debug\","
                                "\"msg\":\"\"}\n");
    gw_buf_free(&b);
    assert_string_equal(gw_log_level_name(LINGMA_LOG_WARN), "warn");
}

static char *
redact(const char *s, const char *const *secrets, size_t n)
{
    gw_buf b = GW_BUF_INIT;
    assert_int_equal(gw_log_redact(&b, s, strlen(s), secrets, n), 0);
    return gw_buf_detach(&b, NULL);
}

static void
test_redact(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"nothing secret here", "nothing secret here"},
        {"Authorization: Bearer abc.DEF-123=", "Authorization: Bearer ***"},
        {"header authorization=Basic dXNlcjpwYXNz;", "header authorization=Basic ***;"},
        {"bearer   tok and more", "bearer   *** and more"},
        {"Bearer", "Bearer"},
        {"the cupbearer said", "the cupbearer said"},
        {"password=hunter2 user=bob", "password=*** user=bob"},
        {"db_password: 's3 cret' ok", "db_password: '***' ok"},
        {"{\"password\":\"p\\\"w\",\"x\":1}", "{\"password\":\"***\",\"x\":1}"},
        {"x-api-key: k123, next", "x-api-key: ***, next"},
        {"access_token=abc&b=2", "access_token=***&b=2"},
        {"API_KEY=zzz", "API_KEY=***"},
        {"secret = value", "secret = ***"},
        {"completion_tokens=12 tokens: 5", "completion_tokens=12 tokens: 5"},
        {"mypassword=x", "mypassword=x"},
        {"password=", "password="},
        {"fetch https://alice:pw@host/x and ftp://h/", "fetch https://alice:***@host/x and "
                                                       "ftp://h/"},
        {"key sk-abcdefghijklmnop1234 end", "key sk-*** end"},
        {"short sk-abc stays", "short sk-abc stays"},
        {"task-abcdefghijklmnopqrstu", "task-abcdefghijklmnopqrstu"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *o = redact(cases[i].in, NULL, 0);
        if (strcmp(o, cases[i].want) != 0)
            fail_msg("redact('%s') = '%s', expected '%s'", cases[i].in, o, cases[i].want);
        free(o);
    }
    const char *secrets[] = {"hunter2", "abc", NULL, "TopSecretValue"};
    char *o = redact("pw hunter2hunter2 abc TopSecretValue!", secrets, 4);
    assert_string_equal(o, "pw ****** abc ***!");
    free(o);
    /* Through the formatter: msg and string extras are redacted. */
    gw_buf b = GW_BUF_INIT;
    gw_log_kv kv = {"detail", GW_LOG_STR, "token=zz9", 0, 0, false};
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    f.extra = &kv;
    f.n_extra = 1;
    assert_int_equal(gw_log_format(&b, &t0, LINGMA_LOG_INFO, "login hunter2", &f, secrets, 4), 0);
    assert_null(strstr(b.data, "hunter2"));
    assert_null(strstr(b.data, "zz9"));
    assert_non_null(strstr(b.data, "\"msg\":\"login ***\""));
    gw_buf_free(&b);
}

static char *
read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void
test_writer_and_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/gw-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], moved[256];
    snprintf(path, sizeof(path), "%s/gw.log", dir);
    snprintf(moved, sizeof(moved), "%s/gw.log.1", dir);
    const char *secrets[] = {"sekrit-value"};
    gw_log *l = NULL;
    assert_int_equal(gw_log_open(&l, path, LINGMA_LOG_INFO, secrets, 1), 0);
    assert_true(gw_log_enabled(l, LINGMA_LOG_ERROR));
    assert_true(gw_log_enabled(l, LINGMA_LOG_INFO));
    assert_false(gw_log_enabled(l, LINGMA_LOG_DEBUG));
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    f.request_id = "req_a";
    assert_int_equal(gw_log_write(l, LINGMA_LOG_INFO, "first sekrit-value", &f), 0);
    assert_int_equal(gw_log_write(l, LINGMA_LOG_DEBUG, "filtered", NULL), 0);
    gw_log_lingma(LINGMA_LOG_WARN, "from the library", l);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    /* logrotate moves the file; SIGHUP makes the daemon reopen. */
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(gw_log_write(l, LINGMA_LOG_ERROR, "still old", NULL), 0);
    assert_int_equal(gw_log_reopen(l), 0);
    gw_log_set_level(l, LINGMA_LOG_DEBUG);
    assert_int_equal(gw_log_write(l, LINGMA_LOG_DEBUG, "new file", NULL), 0);
    assert_int_equal(gw_log_write_line(l, "raw\n", 4), 0);
    gw_log_close(l);
    gw_log_close(NULL);

    char *old = read_all(moved);
    assert_non_null(strstr(old, "\"msg\":\"first ***\",\"request_id\":\"req_a\"}\n"));
    assert_null(strstr(old, "sekrit"));
    assert_null(strstr(old, "filtered"));
    assert_non_null(strstr(old, "\"level\":\"warn\",\"msg\":\"from the library\",\"source\":"
                                "\"liblingma\"}\n"));
    assert_non_null(strstr(old, "still old"));
    /* Every line is a JSON object. */
    for (char *line = old; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        json_error_t e;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &e);
        assert_non_null(j);
        assert_true(json_is_object(j));
        json_decref(j);
        line = nl + 1;
    }
    char *cur = read_all(path);
    assert_non_null(strstr(cur, "new file"));
    assert_non_null(strstr(cur, "raw\n"));
    assert_null(strstr(cur, "still old"));
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

static void
test_open_failures(void **state)
{
    (void)state;
    gw_log *l = (gw_log *)(uintptr_t)1;
    assert_int_equal(gw_log_open(&l, "/nonexistent-dir/x/gw.log", LINGMA_LOG_INFO, NULL, 0),
                     LINGMA_EIO);
    assert_null(l);
    /* stderr writer: reopen is a no-op, close leaves fd 2 alone. */
    assert_int_equal(gw_log_open(&l, NULL, LINGMA_LOG_ERROR, NULL, 0), 0);
    assert_int_equal(gw_log_reopen(l), 0);
    assert_int_equal(gw_log_write(l, LINGMA_LOG_INFO, "dropped", NULL), 0);
    gw_log_close(l);
    assert_true(fcntl(2, F_GETFD) != -1);
}

struct writer {
    gw_log *log;
    int id;
};

static void *
write_many(void *arg)
{
    struct writer *w = arg;
    char msg[160];
    for (int i = 0; i < 500; i++) {
        snprintf(msg, sizeof(msg), "thread %d line %d %s", w->id, i,
                 "padding-padding-padding-padding-padding-padding-padding-padding");
        gw_log_write(w->log, LINGMA_LOG_INFO, msg, NULL);
    }
    return NULL;
}

static void
test_threads_never_interleave(void **state)
{
    (void)state;
    char dir[] = "/tmp/gw-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/gw.log", dir);
    gw_log *l = NULL;
    assert_int_equal(gw_log_open(&l, path, LINGMA_LOG_INFO, NULL, 0), 0);
    pthread_t t[4];
    struct writer w[4];
    for (int i = 0; i < 4; i++) {
        w[i].log = l;
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    gw_log_close(l);
    char *all = read_all(path);
    int lines = 0;
    for (char *line = all; *line; lines++) {
        char *nl = strchr(line, '\n');
        json_error_t e;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &e);
        if (!j)
            fail_msg("line %d is not JSON: %s", lines, e.text);
        json_decref(j);
        line = nl + 1;
    }
    assert_int_equal(lines, 2000);
    unlink(path);
    rmdir(dir);
}

/* The direct writer against the tree, byte for byte, over random lines:
 * escapes of every control byte, quotes, backslashes, invalid UTF-8,
 * secrets to redact, reals of every magnitude, extreme integers and
 * duplicated extra keys (which gw_log_format sends to the tree). */
static uint64_t rng_state = 42;
static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void
random_text(char *out, size_t cap)
{
    static const char *const pieces[] = {
        "a",
        "Z",
        " ",
        "\"",
        "\\",
        "/",
        "\n",
        "\t",
        "\x01",
        "\x1f",
        "\x7f",
        "\xc3\xa9",
        "\xe2\x80\xa8",
        "\xf0\x9f\x98\x80",
        "\xff",
        "\xc3",
        "Bearer abc.def",
        "password=hunter2",
        "sk-abcdefghijklmnop",
        "top-secret-value",
        "https://u:pw@h/",
        "\"token\":\"x\"",
        "{}",
    };
    size_t n = 0, k = rng() % 12;
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[rng() % (sizeof(pieces) / sizeof(*pieces))];
        size_t len = strlen(p);
        if (n + len + 1 > cap)
            break;
        memcpy(out + n, p, len + 1);
        n += len;
    }
}

static double
random_real(void)
{
    static const double fixed[] = {0.0,       -0.0, 1.0,     12.5,      0.7,
                                   1e20,      1e-5, 1.5e300, -2.5e-300, 123456789012345678.0,
                                   0.1 + 0.2, 3.0,  1e15,    1e16,      4.9e-324};
    if (rng() % 2)
        return fixed[rng() % (sizeof(fixed) / sizeof(*fixed))];
    double m = (double)(rng() % 2000000) / 1000.0 - 1000.0;
    return ldexp(m, (int)(rng() % 200) - 100);
}

static void
test_direct_equals_tree(void **state)
{
    (void)state;
    static const char *const keys[] = {"model", "tokens", "k",     "status", "x\ny",
                                       "\xff",  "msg",    "ratio", "\"q\""};
    static const char *const secrets[] = {"top-secret-value", "abc"};
    char texts[8][256];
    gw_log_kv extra[6];
    for (int iter = 0; iter < 20000; iter++) {
        for (int i = 0; i < 8; i++)
            random_text(texts[i], sizeof(texts[i]));
        size_t n_extra = rng() % 7;
        for (size_t i = 0; i < n_extra; i++) {
            gw_log_kv *kv = &extra[i];
            memset(kv, 0, sizeof(*kv));
            kv->key = rng() % 10 ? keys[rng() % (sizeof(keys) / sizeof(*keys))] : NULL;
            kv->kind = (gw_log_kind)(rng() % 4);
            kv->s = rng() % 5 ? texts[3 + i % 5] : NULL;
            kv->i =
                rng() % 3 ? (int64_t)(rng() % 100000) - 50000 : (rng() % 2 ? INT64_MIN : INT64_MAX);
            kv->d = rng() % 8 ? random_real() : (rng() % 2 ? NAN : INFINITY);
            kv->b = rng() % 2;
        }
        gw_log_fields f = {rng() % 3 ? texts[0] : NULL,
                           rng() % 3 ? texts[1] : NULL,
                           (int)(rng() % 3 ? rng() % 600 : 0),
                           rng() % 3 ? fabs(random_real()) : -1.0,
                           rng() % 3 ? texts[2] : NULL,
                           extra,
                           n_extra};
        const gw_log_fields *fp = rng() % 10 ? &f : NULL;
        struct timespec ts = {(time_t)(rng() % 4000000000u), (long)(rng() % 1000000000u)};
        lingma_log_level lvl = (lingma_log_level)(rng() % 4);
        size_t ns = rng() % 3;
        gw_buf a = GW_BUF_INIT, b = GW_BUF_INIT, c = GW_BUF_INIT;
        int rt = gw_log_format_tree(&a, &ts, lvl, texts[7], fp, secrets, ns);
        int rf = gw_log_format(&b, &ts, lvl, texts[7], fp, secrets, ns);
        assert_int_equal(rf, rt);
        if (rt == 0)
            assert_string_equal(b.data, a.data);
        /* The direct writer alone agrees wherever the keys are distinct. */
        bool dup = false;
        for (size_t i = 0; fp && i < n_extra; i++)
            for (size_t j = 0; j < i; j++)
                dup = dup || (extra[i].key && extra[j].key && !strcmp(extra[i].key, extra[j].key));
        if (!dup && rt == 0) {
            assert_int_equal(gw_log_format_direct(&c, &ts, lvl, texts[7], fp, secrets, ns), 0);
            assert_string_equal(c.data, a.data);
        }
        gw_buf_free(&a);
        gw_buf_free(&b);
        gw_buf_free(&c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_format_full),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_writer_and_reopen),
        cmocka_unit_test(test_open_failures),
        cmocka_unit_test(test_threads_never_interleave),
        cmocka_unit_test(test_direct_equals_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
