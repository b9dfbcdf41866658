/*
 * Prometheus metrics (text exposition format 0.0.4).
 *
 * The registry holds what the HTTP threads observe (request counts and
 * durations, time to first token) behind one mutex: MHD calls in from
 * several threads, and an observation costs a lock and a few additions.
 * Pool and admission figures are not kept here: the caller takes a
 * liblingma stats snapshot and passes it to gw_metrics_format(), which is
 * otherwise a pure formatter.
 *
 * Route labels must come from a small fixed set chosen by the daemon (the
 * route template such as "/v1/models/{id}", never the raw URL): each
 * distinct (route, status) is a time series. Past GW_METRICS_MAX_ROUTES
 * routes, further ones are counted under route="other".
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define GW_METRICS_MAX_ROUTES 32
#define GW_METRICS_ROUTE_MAX  64 /* longest route label kept, bytes */

typedef struct gw_metrics gw_metrics;

/* 0 or LINGMA_ENOMEM. */
int gw_metrics_new(gw_metrics **out);
void gw_metrics_free(gw_metrics *m); /* NULL-safe */

/* Count one finished request. Thread-safe. A negative or NaN duration
 * counts the request but observes no duration. */
void gw_metrics_observe_request(gw_metrics *m, const char *route, int status, double seconds);

/* Observe the time from request to the first content of a chat.
 * Thread-safe. */
void gw_metrics_observe_ttft(gw_metrics *m, double seconds);

typedef struct gw_metrics_instance {
    const char *name; /* "inst-0" */
    int64_t in_flight;
    bool ready;
    int64_t restarts;
    int64_t stalls; /* times found silent and restarted */
} gw_metrics_instance;

typedef struct gw_metrics_snapshot {
    int64_t in_flight;
    int64_t queued;
    int64_t accepted_total;
    int64_t rejected_total;
    int64_t max_in_flight;
    const gw_metrics_instance *instances;
    size_t n_instances;
    /* Instances by health: serving (connected, logged in), logged_out
     * (connected, not logged in), down (the rest). */
    int64_t serving;
    int64_t logged_out;
    int64_t down;
} gw_metrics_snapshot;

/* Append the whole exposition: the registry's families, then the
 * admission and pool families from `snap` (omitted when NULL). Every family
 * has its HELP and TYPE lines. Thread-safe. 0 or LINGMA_ENOMEM (out
 * unchanged). */
int gw_metrics_format(gw_buf *out, gw_metrics *m, const gw_metrics_snapshot *snap);

/* Append a label value escaped per the format (\\, \" and \n). */
int gw_metrics_escape_label(gw_buf *out, const char *value);

#endif
