/*
 * Integration: the login flow — login/generateUrl, the browser's GET of
 * /auth/callback on the HTTP port (raw socket, loopback only), auth/report
 * pushes, cache/user, persistence across a respawn, logout, and the
 * WebSocket variant login/auth_callback.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netio.h"
#include "simfx.h"

/* GET `path` from 127.0.0.1:port; returns the status code, body in `body`. */
static int
http_get(int port, const char *path, char *body, size_t blen)
{
    int fd = netio_connect((unsigned)port);
    if (fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (netio_send(fd, req, (size_t)n) != 0) {
        close(fd);
        return -1;
    }
    char resp[8192];
    size_t got = 0;
    long long end = simproc_now_ms() + SIMFX_WAIT;
    while (got < sizeof(resp) - 1 && simproc_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        resp[got] = '\0';
        /* lws keeps the connection when it can: stop once the body is in */
        if (strstr(resp, "</html>"))
            break;
    }
    resp[got] = '\0';
    close(fd);
    int code = -1;
    sscanf(resp, "HTTP/1.%*d %d", &code);
    if (body)
        snprintf(body, blen, "%s", resp);
    return code;
}

static char *
url_param(const char *url, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=", name);
    const char *p = strstr(url, key);
    if (!p)
        return NULL;
    p += strlen(key);
    size_t n = strcspn(p, "&");
    char *v = malloc(n + 1);
    memcpy(v, p, n);
    v[n] = '\0';
    return v;
}

static int
auth_status(struct simc *c)
{
    json_t *r = NULL;
    assert_int_equal(simc_call(c, "auth/status", json_object(), &r, NULL, SIMFX_WAIT), 0);
    int s = (int)json_integer_value(json_object_get(r, "status"));
    json_decref(r);
    return s;
}

static void
test_login_via_http_callback(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    simfx_start(f, env);
    struct simc *other = simfx_connect(f);
    assert_int_equal(auth_status(f->c), 1);

    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "login/generateUrl",
                               json_pack("{s:s}", "loginDedicatedType", ""), &r, NULL, SIMFX_WAIT),
                     0);
    assert_true(json_is_true(json_object_get(r, "success")));
    const char *url = json_string_value(json_object_get(r, "loginUrl"));
    assert_memory_equal(url, "https://", 8);
    char *port = url_param(url, "port"), *nonce = url_param(url, "state");
    assert_int_equal(atoi(port), f->p.http_port);
    assert_int_equal(strlen(nonce), 32);
    char expect[64];
    snprintf(expect, sizeof(expect), "port=%s&state=%s", port, nonce);
    assert_non_null(strstr(url, expect));
    json_decref(r);

    char body[8192], path[256];
    assert_int_equal(http_get(f->p.http_port, "/auth/callback?state=wrong", body, sizeof(body)),
                     400);
    assert_non_null(strstr(body, "Invalid login nonce"));
    assert_int_equal(auth_status(f->c), 1);

    snprintf(path, sizeof(path), "/auth/callback?state=%s&auth=x&token=y&user=alice%%40example.com",
             nonce);
    assert_int_equal(http_get(f->p.http_port, path, body, sizeof(body)), 200);
    /* auth/report reaches every connection */
    json_t *rep = simc_wait_event(f->c, "auth/report", NULL, SIMFX_WAIT);
    assert_non_null(rep);
    assert_int_equal(json_integer_value(json_object_get(rep, "status")), 2);
    assert_non_null(simc_wait_event(other, "auth/report", NULL, SIMFX_WAIT));
    assert_int_equal(auth_status(f->c), 2);
    assert_true(simproc_file_exists(f->p.dir, "cache/user"));
    /* the nonce is spent */
    assert_int_equal(http_get(f->p.http_port, path, body, sizeof(body)), 400);
    assert_int_equal(simc_call(f->c, "config/queryModels", json_object(), &r, NULL, SIMFX_WAIT), 0);
    assert_true(json_object_size(r) > 0);
    json_decref(r);
    json_t *st = simfx_status(f);
    assert_true(json_is_true(json_object_get(st, "logged_in")));
    assert_string_equal(json_string_value(json_object_get(st, "username")), "alice@example.com");
    json_decref(st);
    simc_free(other);
    simfx_stop(f);

    /* login state is per work dir and survives a respawn */
    simfx_start(f, env);
    assert_int_equal(auth_status(f->c), 2);
    assert_int_equal(simc_call(f->c, "auth/logout", json_object(), &r, NULL, SIMFX_WAIT), 0);
    assert_true(json_is_true(json_object_get(r, "success")));
    json_decref(r);
    assert_int_equal(auth_status(f->c), 1);
    assert_false(simproc_file_exists(f->p.dir, "cache/user"));
    rep = simc_wait_event(f->c, "auth/report", NULL, SIMFX_WAIT);
    assert_int_equal(json_integer_value(json_object_get(rep, "status")), 1);
    /* unknown paths on the HTTP port */
    assert_int_equal(http_get(f->p.http_port, "/nothing", NULL, 0), 404);
    simfx_stop(f);
    st = simfx_status(f);
    assert_true(json_is_false(json_object_get(st, "logged_in")));
    json_decref(st);
    free(port);
    free(nonce);
}

static void
test_login_via_websocket(void **state)
{
    struct simfx *f = *state;
    const char *env[] = {"LINGMA_SIM_LOGGED_IN=0", NULL};
    simfx_start(f, env);
    json_t *r = NULL;
    assert_int_equal(simc_call(f->c, "login/generateUrl", json_object(), &r, NULL, SIMFX_WAIT), 0);
    char *nonce = url_param(json_string_value(json_object_get(r, "loginUrl")), "state");
    json_decref(r);
    assert_int_equal(
        simc_call(f->c, "login/auth_callback",
                  json_pack("{s:s, s:s, s:s}", "nonce", "bad", "auth", "", "tokenString", ""), &r,
                  NULL, SIMFX_WAIT),
        0);
    assert_true(json_is_false(json_object_get(r, "success")));
    json_decref(r);
    assert_int_equal(
        simc_call(f->c, "login/auth_callback",
                  json_pack("{s:s, s:s, s:s}", "nonce", nonce, "auth", "", "tokenString", ""), &r,
                  NULL, SIMFX_WAIT),
        0);
    assert_true(json_is_true(json_object_get(r, "success")));
    json_decref(r);
    assert_int_equal(auth_status(f->c), 2);
    free(nonce);
    simfx_stop(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, simfx_setup, simfx_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_login_via_http_callback),
        T(test_login_via_websocket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
