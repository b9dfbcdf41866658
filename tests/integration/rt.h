/*
 * Helpers of the liblingma runtime integration tests: temp work dirs, a
 * pool on lingma-sim, and an event recorder with bounded waits.
 */
#ifndef TESTS_RT_H
#define TESTS_RT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lingma/lingma.h"

/* A fresh temp dir (removed by rt_rmdir). Never NULL (the test fails). */
char *rt_tempdir(void);
void rt_rmdir(char *dir);

/* The lingma-sim binary (LINGMA_SIM_BIN, set by meson). */
const char *rt_sim_bin(void);

/* Options for a pool on lingma-sim in `dir` with LINGMA_SIM_* settings
 * `env` (NULL-terminated; may be NULL). Short timeouts for tests. */
void rt_pool_options(lingma_pool_options *o, const char *dir, const char *const *env);
lingma_pool *rt_pool_new(const char *dir, const char *const *env);

/* A TOOL_CALL event, copied. */
struct rt_tool_call {
    size_t index;
    char id[64];
    char name[136];
    char *arguments;
};

#define RT_MAX_CALLS 8

/* Records the events of one chat. */
struct rt_chat {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lingma_chat_id id;
    int started, deltas, reasonings, terminals;
    int done, error;
    int status_code, rpc_code;
    unsigned retry_after_ms;
    lingma_usage usage;
    char *text; /* deltas concatenated */
    size_t len;
    char *reasoning;
    size_t reasoning_len;
    char *done_text; /* DONE's full text */
    char instance[32];
    char message[256];
    int order_ok; /* STARTED before deltas, nothing after the terminal */
    /* TOOL_CALL events (the first RT_MAX_CALLS) and DONE's count; order_ok
     * also requires them after every DELTA and with indexes 0, 1, ... */
    struct rt_tool_call calls[RT_MAX_CALLS];
    int ncalls;
    size_t done_tool_calls;
};

void rt_chat_init(struct rt_chat *c);
void rt_chat_clear(struct rt_chat *c);
void rt_on_event(const lingma_chat_event *ev, void *payload);
/* Wait until the chat has its terminal event; 0 ok, -1 timed out. */
int rt_chat_wait(struct rt_chat *c, int timeout_ms);
/* Wait until STARTED (or a terminal); 0 ok, -1 timed out. */
int rt_chat_wait_started(struct rt_chat *c, int timeout_ms);
/* Whether the chat has ended with `error` and a message containing
 * `needle` (read under the chat's lock). */
int rt_chat_ended_with(struct rt_chat *c, int error, const char *needle);

/* Start a chat on `pool` recording into `c`. Returns lingma_chat_start's code. */
int rt_chat_start(struct rt_chat *c, lingma_pool *pool, const char *prompt, const char *model);

/* rt_chat_start with the caller's options: on_event and payload are set to
 * record into `c`; `admit` may be NULL. */
int rt_chat_start_opts(struct rt_chat *c, lingma_chat_admission *admit, lingma_pool *pool,
                       const lingma_chat_options *o);
/* Init c[0..n) and start each with `prompt`; every start must succeed. */
void rt_chats_start(struct rt_chat *c, int n, lingma_pool *pool, const char *prompt);
/* Fail the test unless chat `i` (`c`) ended with DONE. */
void rt_assert_done(const struct rt_chat *c, int i);
/* Cancel `c`, wait (5 s) for its terminal event, and check its error. */
void rt_cancel_expect(lingma_pool *pool, struct rt_chat *c, int error);

/* lingma_pool_stats_get, which must succeed; free with lingma_pool_stats_free. */
lingma_pool_stats *rt_pool_stats(lingma_pool *pool);
/* Instances 0..n-1 must each become ready and serving (logged in) within
 * timeout_ms. */
void rt_wait_ready(lingma_pool *pool, size_t n, int timeout_ms);

/* Poll the stats (bounded) until instance `i` satisfies `pred`; 0 ok, -1 timeout. */
int rt_wait_instance(lingma_pool *pool, size_t i,
                     int (*pred)(const lingma_instance_stats *, void *), void *arg, int timeout_ms);
int rt_pred_ready(const lingma_instance_stats *s, void *arg);

/* Replace <dir>/sim.json atomically (the simulator re-reads it at every ask). */
void rt_sim_json(const char *dir, const char *json);

/* The same over the health of instance `i` (lingma_pool_stats.health). */
int rt_wait_health(lingma_pool *pool, size_t i, int (*pred)(const lingma_instance_health *, void *),
                   void *arg, int timeout_ms);
int rt_pred_serving(const lingma_instance_health *h, void *arg);
int rt_pred_logged_out(const lingma_instance_health *h, void *arg);

/* `lingma-sim status -o json --workDir dir`: integer field `key`, or -1. */
long rt_sim_status(const char *dir, const char *key);

/* CLOCK_MONOTONIC in milliseconds, for the figures tests print. */
long long rt_now_ms(void);

/* 1 when /proc/<pid> exists, zombies included: "gone" means reaped too. */
int rt_pid_alive(long pid);

/* The value of `key=` in a URL's query, into `out` (the test fails when
 * it is missing or does not fit). */
void rt_url_param(char *out, size_t cap, const char *url, const char *key);

#endif
