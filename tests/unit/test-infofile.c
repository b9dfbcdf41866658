/* Unit tests for the port file parser and reader (infofile.c). */
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

#include "infofile_io.h"
#include "tmpdir.h"

static int
parse(struct lingma__info *info, const char *s, char *err, size_t errlen)
{
    return lingma__info_parse(info, s, strlen(s), err, errlen);
}

static void
test_two_lines(void **state)
{
    (void)state;
    struct lingma__info info;
    char err[256];
    assert_int_equal(parse(&info, "36510\n14060\n", err, sizeof(err)), 0);
    assert_int_equal(info.port, 36510);
    assert_int_equal(info.pid, 14060);
    assert_string_equal(info.ipc_path, "");
    assert_int_equal(info.format, LINGMA__INFO_TEXT2);
    /* No final newline, CRLF, blank lines and stray whitespace are all fine. */
    assert_int_equal(parse(&info, "37010\r\n99", err, sizeof(err)), 0);
    assert_int_equal(info.port, 37010);
    assert_int_equal(info.pid, 99);
    assert_int_equal(parse(&info, "\r\n  \n 1 \t\r\n\n\t2\r\n\r\n  ", err, sizeof(err)), 0);
    assert_int_equal(info.port, 1);
    assert_int_equal(info.pid, 2);
    assert_int_equal(parse(&info, "65535\n2147483647\n", err, sizeof(err)), 0);
    assert_int_equal(info.port, 65535);
    assert_int_equal(info.pid, 2147483647);
}

static void
test_three_lines(void **state)
{
    (void)state;
    struct lingma__info info;
    char err[256];
    assert_int_equal(
        parse(&info, "36510\r\n14060\r\n\\\\.\\pipe\\lingma-bf0f32\r\n", err, sizeof(err)), 0);
    assert_int_equal(info.format, LINGMA__INFO_TEXT3);
    assert_string_equal(info.ipc_path, "\\\\.\\pipe\\lingma-bf0f32");
    assert_int_equal(parse(&info, "1\n2\n/tmp/a b/lingma.sock  \n", err, sizeof(err)), 0);
    assert_string_equal(info.ipc_path, "/tmp/a b/lingma.sock");
}

static void
test_json(void **state)
{
    (void)state;
    struct lingma__info info;
    char err[256];
    const char *j = "{\"websocketPort\":36510,\"pid\":14060,"
                    "\"ipcServerPath\":\"\\\\\\\\.\\\\pipe\\\\lingma-bf0f32\",\"isDev\":false}";
    assert_int_equal(parse(&info, j, err, sizeof(err)), 0);
    assert_int_equal(info.format, LINGMA__INFO_JSON);
    assert_int_equal(info.port, 36510);
    assert_int_equal(info.pid, 14060);
    assert_string_equal(info.ipc_path, "\\\\.\\pipe\\lingma-bf0f32");
    assert_int_equal(parse(&info, " \n{\"pid\":5,\"websocketPort\":6}\n", err, sizeof(err)), 0);
    assert_int_equal(info.port, 6);
    assert_string_equal(info.ipc_path, "");
    assert_int_equal(
        parse(&info, "{\"pid\":5,\"websocketPort\":6,\"ipcServerPath\":null}", err, sizeof(err)),
        0);
}

static void
expect_error(const char *s, size_t len, int code, const char *fragment)
{
    struct lingma__info info;
    char err[256] = "";
    int rc = lingma__info_parse(&info, s, len, err, sizeof(err));
    if (rc != code || !strstr(err, fragment))
        fail_msg("input %zu bytes: rc %d want %d, message \"%s\" want \"%s\"", len, rc, code, err,
                 fragment);
    assert_int_equal(info.port, 0);
}

#define EXPECT_ERROR(s, code, frag) expect_error(s, sizeof(s) - 1, code, frag)

static void
test_garbage(void **state)
{
    (void)state;
    EXPECT_ERROR("", LINGMA_ENOTFOUND, "empty");
    EXPECT_ERROR(" \r\n\n\t", LINGMA_ENOTFOUND, "empty");
    EXPECT_ERROR("36510\n", LINGMA_EPROTO, "only one line");
    EXPECT_ERROR("0\n5\n", LINGMA_EPROTO, "out of range");
    EXPECT_ERROR("65536\n5\n", LINGMA_EPROTO, "port 65536 out of range");
    EXPECT_ERROR("99999999999999999999999\n5\n", LINGMA_EPROTO, "out of range");
    EXPECT_ERROR("-1\n5\n", LINGMA_EPROTO, "line 1: port is not");
    EXPECT_ERROR("+80\n5\n", LINGMA_EPROTO, "line 1");
    EXPECT_ERROR("80x\n5\n", LINGMA_EPROTO, "line 1");
    EXPECT_ERROR("80 81\n5\n", LINGMA_EPROTO, "line 1");
    EXPECT_ERROR("0x50\n5\n", LINGMA_EPROTO, "line 1");
    EXPECT_ERROR("80\n0\n", LINGMA_EPROTO, "line 2: pid 0 out of range");
    EXPECT_ERROR("\n\n80\n\nabc\n", LINGMA_EPROTO, "line 5: pid is not");
    EXPECT_ERROR("80\n2147483648\n", LINGMA_EPROTO, "out of range");
    EXPECT_ERROR("80\n5\npath\nmore\n", LINGMA_EPROTO, "line 4: more than 3");
    EXPECT_ERROR("80\n5\npa\x01th\n", LINGMA_EPROTO, "control character");
    EXPECT_ERROR("80\n5\0\n", LINGMA_EPROTO, "NUL");
    EXPECT_ERROR("{", LINGMA_EPROTO, "invalid JSON");
    EXPECT_ERROR("{}", LINGMA_EPROTO, "no websocketPort");
    EXPECT_ERROR("{\"websocketPort\":80}", LINGMA_EPROTO, "no pid");
    EXPECT_ERROR("{\"websocketPort\":\"80\",\"pid\":1}", LINGMA_EPROTO, "websocketPort");
    EXPECT_ERROR("{\"websocketPort\":80.0,\"pid\":1}", LINGMA_EPROTO, "websocketPort");
    EXPECT_ERROR("{\"websocketPort\":-80,\"pid\":1}", LINGMA_EPROTO, "out of range");
    EXPECT_ERROR("{\"websocketPort\":80,\"pid\":-1}", LINGMA_EPROTO, "pid -1 out of range");
    EXPECT_ERROR("{\"websocketPort\":80,\"pid\":1,\"ipcServerPath\":5}", LINGMA_EPROTO,
                 "not a string");
    EXPECT_ERROR("{\"websocketPort\":80,\"websocketPort\":81,\"pid\":1}", LINGMA_EPROTO,
                 "invalid JSON");
    EXPECT_ERROR("{\"websocketPort\":80,\"pid\":1} x", LINGMA_EPROTO, "invalid JSON");
}

static void
test_long_ipc_path(void **state)
{
    (void)state;
    char buf[LINGMA__INFO_IPC_MAX + 32];
    int n = snprintf(buf, sizeof(buf), "1\n2\n");
    memset(buf + n, 'p', LINGMA__INFO_IPC_MAX - 1);
    buf[n + LINGMA__INFO_IPC_MAX - 1] = '\0';
    struct lingma__info info;
    assert_int_equal(lingma__info_parse(&info, buf, strlen(buf), NULL, 0), 0);
    assert_int_equal(strlen(info.ipc_path), LINGMA__INFO_IPC_MAX - 1);
    strcat(buf, "p");
    assert_int_equal(lingma__info_parse(&info, buf, strlen(buf), NULL, 0), LINGMA_EPROTO);
}

/* A temporary directory per test, removed afterwards. */
struct tmp {
    char dir[256];
    char home[300];
};

static void
write_file(const char *dir, const char *name, const char *content)
{
    assert_int_equal(tmpdir_write(dir, name, content, 0600), 0);
}

static int
tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    if (tmpdir_make(t->dir, sizeof(t->dir), "info") != 0)
        return -1;
    snprintf(t->home, sizeof(t->home), "%s/home", t->dir);
    char legacy[320];
    snprintf(legacy, sizeof(legacy), "%s/.lingma", t->home);
    if (mkdir(t->home, 0700) || mkdir(legacy, 0700))
        return -1;
    *state = t;
    return 0;
}

static int
tmp_teardown(void **state)
{
    struct tmp *t = *state;
    int rc = tmpdir_remove(t->dir);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void
test_read_order(void **state)
{
    struct tmp *t = *state;
    struct lingma__info info;
    char err[512];
    assert_int_equal(lingma__info_read(&info, t->dir, NULL, err, sizeof(err)), LINGMA_ENOTFOUND);
    assert_non_null(strstr(err, "no .info"));

    /* Legacy only when asked for (single instance). */
    char legacy[320];
    snprintf(legacy, sizeof(legacy), "%s/.lingma", t->home);
    write_file(legacy, ".info", "36510\n7\n");
    assert_int_equal(lingma__info_read(&info, t->dir, NULL, err, sizeof(err)), LINGMA_ENOTFOUND);
    assert_int_equal(lingma__info_read(&info, t->dir, t->home, err, sizeof(err)), 0);
    assert_int_equal(info.source, LINGMA__INFO_FROM_LEGACY);
    assert_int_equal(info.port, 36510);

    write_file(t->dir, ".info.json", "{\"websocketPort\":4000,\"pid\":8}");
    assert_int_equal(lingma__info_read(&info, t->dir, t->home, err, sizeof(err)), 0);
    assert_int_equal(info.source, LINGMA__INFO_FROM_INFO_JSON);
    assert_int_equal(info.port, 4000);

    write_file(t->dir, ".info", "5000\n9\n");
    assert_int_equal(lingma__info_read(&info, t->dir, t->home, err, sizeof(err)), 0);
    assert_int_equal(info.source, LINGMA__INFO_FROM_INFO);
    assert_int_equal(info.port, 5000);
    assert_int_equal(info.pid, 9);

    /* A half-written .info decides: never fall through to an older file. */
    write_file(t->dir, ".info", "50");
    assert_int_equal(lingma__info_read(&info, t->dir, t->home, err, sizeof(err)), LINGMA_EPROTO);
    assert_non_null(strstr(err, "/.info: only one line"));
    write_file(t->dir, ".info", "");
    assert_int_equal(lingma__info_read(&info, t->dir, t->home, err, sizeof(err)), LINGMA_ENOTFOUND);

    assert_int_equal(lingma__info_remove(t->dir, err, sizeof(err)), 0);
    assert_int_equal(lingma__info_remove(t->dir, err, sizeof(err)), 0);
    assert_int_equal(lingma__info_read(&info, t->dir, NULL, err, sizeof(err)), LINGMA_ENOTFOUND);
}

static void
test_read_too_large(void **state)
{
    struct tmp *t = *state;
    char *big = malloc(LINGMA__INFO_MAX_BYTES + 2);
    memset(big, ' ', LINGMA__INFO_MAX_BYTES + 1);
    memcpy(big, "1\n2\n", 4);
    big[LINGMA__INFO_MAX_BYTES + 1] = '\0';
    write_file(t->dir, ".info", big);
    struct lingma__info info;
    char err[512];
    assert_int_equal(lingma__info_read(&info, t->dir, NULL, err, sizeof(err)), LINGMA_EPROTO);
    assert_non_null(strstr(err, "larger than"));
    big[LINGMA__INFO_MAX_BYTES] = '\0';
    write_file(t->dir, ".info", big);
    assert_int_equal(lingma__info_read(&info, t->dir, NULL, err, sizeof(err)), 0);
    free(big);
}

static void
test_read_unreadable(void **state)
{
    struct tmp *t = *state;
    char path[320];
    snprintf(path, sizeof(path), "%s/.info", t->dir);
    assert_int_equal(mkdir(path, 0700), 0); /* a directory named .info */
    struct lingma__info info;
    char err[512];
    assert_int_equal(lingma__info_read(&info, t->dir, NULL, err, sizeof(err)), LINGMA_EIO);
    assert_int_equal(lingma__info_read(&info, "", NULL, err, sizeof(err)), LINGMA_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_lines),
        cmocka_unit_test(test_three_lines),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_long_ipc_path),
        cmocka_unit_test_setup_teardown(test_read_order, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_read_too_large, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_read_unreadable, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
