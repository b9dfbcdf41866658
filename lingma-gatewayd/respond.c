/*
 * respond: how every route answers, logs and counts a request. Routes
 * depend on this file, not on the dispatcher (routes.c), so a route can be
 * read and changed on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

double
gw_elapsed_s(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The access log line of a finished request. */
static void
log_request(gw_app *app, const gw_reqinfo *ri, int status, double s, const char *instance)
{
    gw_log_fields f = GW_LOG_FIELDS_INIT;
    f.request_id = ri->request_id;
    f.route = ri->route;
    f.status = status;
    f.duration_ms = s * 1000.0;
    f.instance = instance && *instance ? instance : NULL;
    gw_log_write(app->log, status >= 500 ? LINGMA_LOG_WARN : LINGMA_LOG_INFO, "request", &f);
}

/* Count a finished request in the metrics; returns its duration in s. */
static double
count_request(gw_app *app, const gw_reqinfo *ri, int status)
{
    double s = gw_elapsed_s(&ri->t0);
    gw_metrics_observe_request(app->metrics, ri->route, status, s);
    return s;
}

void
gw_request_done(gw_app *app, const gw_reqinfo *ri, int status, const char *instance)
{
    log_request(app, ri, status, count_request(app, ri, status), instance);
}

/* An answer being counted: the engine tells its outcome before the client
 * can see it (count_answer), the log line is written after. */
struct answer_count {
    gw_app *app;
    const gw_reqinfo *ri;
    int status;
    double seconds;
};

static void
count_answer(int rc, void *payload)
{
    struct answer_count *a = payload;
    /* A client gone before its answer (a deferred one) is counted as 499,
     * as a stream whose write fails. */
    a->status = gw_error_answer_status(a->status, rc);
    a->seconds = count_request(a->app, a->ri, a->status);
}

void
gw_respond_raw(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status,
               const gw_http_header *headers, const char *body, size_t len, const char *instance)
{
    struct answer_count a = {app, ri, status, 0.0};
    gw_http_respond_then(req, status, headers, body, len, count_answer, &a);
    log_request(app, ri, a.status, a.seconds, instance);
}

void
gw_respond_json(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status,
                const gw_http_header *extra, const char *body, size_t len, const char *instance)
{
    gw_http_header h[12];
    size_t n = 0;
    h[n++] = (gw_http_header){"Content-Type", "application/json"};
    for (size_t i = 0; extra && extra[i].name && n < 11; i++)
        h[n++] = extra[i];
    h[n] = (gw_http_header){NULL, NULL};
    if (!body) {
        body = "{}";
        len = 2;
    }
    gw_respond_raw(app, req, ri, status, h, body, len, instance);
}

void
gw_respond_value(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, int status, json_t *v)
{
    gw_buf b = GW_BUF_INIT;
    if (!v || gw_buf_append_json(&b, v) != 0) {
        gw_error e;
        gw_error_internal(&e);
        gw_respond_error(app, req, ri, &e, NULL);
    } else {
        gw_respond_json(app, req, ri, status, NULL, b.data, b.len, NULL);
    }
    json_decref(v);
    gw_buf_free(&b);
}

void
gw_respond_error_with(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, const gw_error *e,
                      const gw_http_header *more, const char *instance)
{
    gw_buf b = GW_BUF_INIT;
    char s_buf[24], ms_buf[24];
    gw_http_header extra[6];
    size_t n = 0;
    if (e->status == 429) {
        extra[n++] =
            (gw_http_header){"Retry-After", gw_error_retry_after_s(s_buf, e->retry_after_ms)};
        extra[n++] =
            (gw_http_header){"retry-after-ms", gw_error_retry_after_ms(ms_buf, e->retry_after_ms)};
    }
    for (size_t i = 0; more && more[i].name && n < 5; i++)
        extra[n++] = more[i];
    extra[n] = (gw_http_header){NULL, NULL};
    if (gw_error_json_for(&b, ri->api, e) != 0) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"param\":null,\"code\":null}}";
        gw_respond_json(app, req, ri, 500, NULL, oom, sizeof(oom) - 1, instance);
        return;
    }
    gw_respond_json(app, req, ri, gw_error_status_for(ri->api, e), extra, b.data, b.len, instance);
    gw_buf_free(&b);
}

void
gw_respond_error(gw_app *app, gw_http_req *req, const gw_reqinfo *ri, const gw_error *e,
                 const char *instance)
{
    gw_respond_error_with(app, req, ri, e, NULL, instance);
}
