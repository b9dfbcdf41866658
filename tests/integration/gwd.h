/*
 * Helpers of the lingma-gatewayd integration tests: the real daemon as a
 * child process on lingma-sim, libcurl requests, SSE parsing, raw-socket
 * clients for the disconnect windows, and the simulator's counters.
 *
 * Every wait is bounded; polling loops sleep a few milliseconds between
 * looks, never as synchronisation in place of a condition.
 */
#ifndef TESTS_GWD_H
#define TESTS_GWD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "netio.h" /* raw sends: netio_send(), never write() (no SIGPIPE) */

struct gwd {
    pid_t pid;
    char *work;         /* LINGMA_WORK_DIR (a fresh temp dir) */
    char url[128];      /* "http://127.0.0.1:PORT" */
    unsigned port;      /* the gateway's */
    unsigned sock_port; /* LINGMA_SOCKET_PORT */
    char log[4200];     /* the daemon's stderr */
};

/* Start lingma-gatewayd on lingma-sim with `env` ("K=V", NULL-terminated,
 * may be NULL) added to the defaults; read its URL line; wait for /healthz
 * 200 unless `wait_ready` is false. Fails the test on error. */
void gwd_start(struct gwd *g, const char *const *env, bool wait_ready);
/* SIGTERM and a bounded wait; returns the exit status (or -1 on a signal
 * or timeout, after SIGKILL). Removes the work dir. */
int gwd_stop(struct gwd *g);
/* cmocka setup and teardown of a test that starts its own daemon
 * (cmocka_unit_test_setup_teardown): a zeroed struct gwd on the heap in
 * *state for gwd_start; the teardown stops it with gwd_stop unless the test
 * did, also when the test failed half-way, and frees it. */
int gwd_setup(void **state);
int gwd_teardown(void **state);
#define GWD_TEST(test) cmocka_unit_test_setup_teardown(test, gwd_setup, gwd_teardown)
/* Send SIGTERM only (the test then calls gwd_wait_exit). */
void gwd_term(struct gwd *g);
int gwd_wait_exit(struct gwd *g, int timeout_ms);

/* Poll the daemon's log (its stderr, `log`; not LOG_FILE) until it
 * contains `needle`; true when it did within the timeout. */
bool gwd_wait_log(struct gwd *g, const char *needle, int timeout_ms);

/* Write <work>/sim.json (re-read by the simulator at every chat/ask). */
void gwd_sim_config(struct gwd *g, const char *json);
/* `lingma-sim status -o json --workDir <work>`: integer `key`, or -1. */
long gwd_sim_status(struct gwd *g, const char *key);
/* The same for work dir `dir` (an instance's, <work>/inst-<i>, say). */
long gwd_sim_status_in(const char *dir, const char *key);
/* Poll until gwd_sim_status(key) >= target; true when reached in time. */
bool gwd_wait_sim(struct gwd *g, const char *key, long target, int timeout_ms);

struct gwd_resp {
    long status;
    char *body;
    size_t len;
    char *headers; /* raw header block, lower-case names kept as sent */
    json_t *json;  /* the body parsed, NULL when not JSON */
};

/* One request. `headers` NULL-terminated "Name: value" (may be NULL);
 * `body` NULL for none. */
void gwd_req(struct gwd_resp *r, struct gwd *g, const char *method, const char *path,
             const char *body, const char *const *headers);
void gwd_resp_free(struct gwd_resp *r);
/* A response header's value (case-insensitive name) into buf, or NULL. */
const char *gwd_header(const struct gwd_resp *r, const char *name, char *buf, size_t len);
/* GET path and return the JSON body's integer at a dotted path, e.g.
 * "concurrency.in_flight" from /internal/stats. */
long gwd_stat(struct gwd *g, const char *dotted);
/* A cmocka group's daemon: curl_global_init(), gwd_start() ready, and the
 * catalogue listing at least `n` models (gwd_wait_catalogue with
 * `headers`). 0, or -1 when the catalogue did not come. */
int gwd_group_up(struct gwd *g, const char *const *env, const char *const *headers, size_t n);
/* gwd_stop() and curl_global_cleanup(); 0 when the daemon exited 0, else -1. */
int gwd_group_down(struct gwd *g);

/* Poll GET /v1/models (with `headers`, may be NULL) until it lists at least
 * `n` models: the catalogue arrives shortly after the instance is ready.
 * true when it did within the timeout. */
bool gwd_wait_catalogue(struct gwd *g, const char *const *headers, size_t n, int timeout_ms);
/* Poll /internal/stats until `dotted` == target. */
bool gwd_wait_stat(struct gwd *g, const char *dotted, long target, int timeout_ms);
/* Poll GET `path` until its JSON body's integer at `dotted` == target
 * (whatever the status: /healthz answers 503 until an instance serves). */
bool gwd_wait_json(struct gwd *g, const char *path, const char *dotted, long target,
                   int timeout_ms);

/* Split an SSE body into its data payloads (comments skipped). Returns the
 * count; *out receives strdup'd strings (free with gwd_events_free). */
size_t gwd_sse_events(const char *body, char ***out);
void gwd_events_free(char **ev, size_t n);

/* A raw client: connect to the gateway, send a chat request, return the
 * socket. The test reads with gwd_raw_read_until and closes to leave.
 * Further requests on a raw socket go out with netio_send() (netio.h):
 * a connection the daemon closed is then an error code to assert on. */
int gwd_raw_chat(struct gwd *g, const char *json_body);
/* Read until `needle` appears in what was received (or timeout); true when
 * it did. */
bool gwd_raw_read_until(int fd, const char *needle, int timeout_ms);

/* Read everything until `until` appears (NULL: until EOF) or the timeout;
 * returns the malloc'd bytes (NUL-terminated). */
char *gwd_raw_read(int fd, const char *until, int timeout_ms);
/* A plain connected socket to the gateway. */
int gwd_raw_connect(struct gwd *g);

/* Monotonic milliseconds. */
long long gwd_now_ms(void);
/* true when /proc/<pid> exists and is not a zombie. */
bool gwd_pid_alive(long pid);

#endif
