/* Prometheus registry and text formatting; see metrics.h. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "metrics.h"
#include "utf8.h"

static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                          2.5,   5,    10,    30,   60,  120,  300, 600};
static const double ttft_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60};

#define N_DURATION (sizeof(duration_buckets) / sizeof(duration_buckets[0]))
#define N_TTFT     (sizeof(ttft_buckets) / sizeof(ttft_buckets[0]))
#define MAX_STATUS 8 /* distinct statuses kept per route; more go to the last slot */

struct histogram {
    uint64_t buckets[N_DURATION]; /* per bucket, not cumulative; sized for the larger set */
    uint64_t count;
    double sum;
};

struct route {
    char name[GW_METRICS_ROUTE_MAX];
    int status[MAX_STATUS];
    uint64_t requests[MAX_STATUS];
    size_t n_status;
    struct histogram duration;
};

struct registry {
    struct route routes[GW_METRICS_MAX_ROUTES];
    size_t n_routes;
    struct histogram ttft;
};

struct gw_metrics {
    pthread_mutex_t lock;
    struct registry reg; /* under lock */
};

int
gw_metrics_new(gw_metrics **out)
{
    gw_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return LINGMA_ENOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return LINGMA_ENOMEM;
    }
    *out = m;
    return 0;
}

void
gw_metrics_free(gw_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void
observe(struct histogram *h, const double *bounds, size_t n, double v)
{
    if (isnan(v) || v < 0)
        return;
    size_t i = 0;
    while (i < n && v > bounds[i])
        i++;
    if (i < n)
        h->buckets[i]++;
    h->count++;
    h->sum += v;
}

/* The route slot for `name`, creating it; "other" once the table is full.
 * Called under the lock. */
static struct route *
route_slot(struct registry *m, const char *name)
{
    char key[GW_METRICS_ROUTE_MAX];
    size_t n = name ? strlen(name) : 0;
    n = gw_utf8_floor(name ? name : "", n, sizeof(key) - 1);
    memcpy(key, name ? name : "", n);
    key[n] = '\0';
    for (;;) {
        for (size_t i = 0; i < m->n_routes; i++)
            if (strcmp(m->routes[i].name, key) == 0)
                return &m->routes[i];
        if (m->n_routes < GW_METRICS_MAX_ROUTES - 1 ||
            (m->n_routes == GW_METRICS_MAX_ROUTES - 1 && strcmp(key, "other") == 0)) {
            struct route *r = &m->routes[m->n_routes++];
            memcpy(r->name, key, n + 1);
            return r;
        }
        /* Keep the last slot for "other". */
        memcpy(key, "other", 6);
        n = 5;
    }
}

void
gw_metrics_observe_request(gw_metrics *m, const char *route, int status, double seconds)
{
    pthread_mutex_lock(&m->lock);
    struct route *r = route_slot(&m->reg, route);
    size_t i = 0;
    while (i < r->n_status && r->status[i] != status)
        i++;
    if (i == r->n_status) {
        if (r->n_status < MAX_STATUS)
            r->status[r->n_status++] = status;
        else
            i = MAX_STATUS - 1; /* absurdly many statuses: lump them in the last one */
    }
    r->requests[i]++;
    observe(&r->duration, duration_buckets, N_DURATION, seconds);
    pthread_mutex_unlock(&m->lock);
}

void
gw_metrics_observe_ttft(gw_metrics *m, double seconds)
{
    pthread_mutex_lock(&m->lock);
    observe(&m->reg.ttft, ttft_buckets, N_TTFT, seconds);
    pthread_mutex_unlock(&m->lock);
}

int
gw_metrics_escape_label(gw_buf *out, const char *value)
{
    size_t mark = out->len;
    int rc = 0;
    for (const char *p = value ? value : ""; rc == 0 && *p; p++) {
        if (*p == '\\')
            rc = gw_buf_puts(out, "\\\\");
        else if (*p == '"')
            rc = gw_buf_puts(out, "\\\"");
        else if (*p == '\n')
            rc = gw_buf_puts(out, "\\n");
        else
            rc = gw_buf_append(out, p, 1);
    }
    if (rc != 0)
        gw_buf_truncate(out, mark);
    return rc;
}

static int
family(gw_buf *out, const char *name, const char *type, const char *help)
{
    return gw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's samples. `label` is `route="..."` or NULL. */
static int
histogram_lines(gw_buf *out, const char *name, const char *label, const struct histogram *h,
                const double *bounds, size_t n)
{
    const char *sep = label ? "," : "";
    const char *lab = label ? label : "";
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cum += h->buckets[i];
        rc = gw_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lab, sep, bounds[i],
                           (unsigned long long)cum);
    }
    if (rc == 0)
        rc = gw_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lab, sep,
                           (unsigned long long)h->count);
    if (rc == 0)
        rc = gw_buf_printf(out,
                           label ? "%s_sum{%s} %.15g\n%s_count{%s} %llu\n"
                                 : "%s_sum%s %.15g\n%s_count%s %llu\n",
                           name, lab, h->sum, name, lab, (unsigned long long)h->count);
    return rc;
}

static int
route_label(gw_buf *lab, const char *route)
{
    gw_buf_reset(lab);
    int rc = gw_buf_puts(lab, "route=\"");
    if (rc == 0)
        rc = gw_metrics_escape_label(lab, route);
    if (rc == 0)
        rc = gw_buf_puts(lab, "\"");
    return rc;
}

static int
format_registry(gw_buf *out, const struct registry *m)
{
    gw_buf lab = GW_BUF_INIT;
    int rc = family(out, "gateway_requests_total", "counter",
                    "HTTP requests handled, by route template and status.");
    for (size_t i = 0; rc == 0 && i < m->n_routes; i++) {
        const struct route *r = &m->routes[i];
        rc = route_label(&lab, r->name);
        for (size_t s = 0; rc == 0 && s < r->n_status; s++)
            rc = gw_buf_printf(out, "gateway_requests_total{%s,status=\"%d\"} %llu\n", lab.data,
                               r->status[s], (unsigned long long)r->requests[s]);
    }
    if (rc == 0)
        rc = family(out, "gateway_request_duration_seconds", "histogram",
                    "Time from the request to the end of its response, by route template.");
    for (size_t i = 0; rc == 0 && i < m->n_routes; i++) {
        rc = route_label(&lab, m->routes[i].name);
        if (rc == 0)
            rc = histogram_lines(out, "gateway_request_duration_seconds", lab.data,
                                 &m->routes[i].duration, duration_buckets, N_DURATION);
    }
    if (rc == 0)
        rc = family(out, "gateway_time_to_first_token_seconds", "histogram",
                    "Time from a chat request to its first content.");
    if (rc == 0)
        rc = histogram_lines(out, "gateway_time_to_first_token_seconds", NULL, &m->ttft,
                             ttft_buckets, N_TTFT);
    gw_buf_free(&lab);
    return rc;
}

static int
format_pool(gw_buf *out, const gw_metrics_snapshot *s)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } scalars[] = {
        {"gateway_in_flight", "gauge", "Chats running now.",
         offsetof(gw_metrics_snapshot, in_flight)},
        {"gateway_queued", "gauge", "Chats waiting for a slot.",
         offsetof(gw_metrics_snapshot, queued)},
        {"gateway_accepted_total", "counter", "Chats admitted.",
         offsetof(gw_metrics_snapshot, accepted_total)},
        {"gateway_rejected_total", "counter", "Chats rejected by admission control.",
         offsetof(gw_metrics_snapshot, rejected_total)},
        {"gateway_max_in_flight", "gauge", "Configured limit of chats running at once.",
         offsetof(gw_metrics_snapshot, max_in_flight)},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        int64_t v = *(const int64_t *)((const char *)s + scalars[i].offset);
        rc = family(out, scalars[i].name, scalars[i].type, scalars[i].help);
        if (rc == 0)
            rc = gw_buf_printf(out, "%s %lld\n", scalars[i].name, (long long)v);
    }
    if (rc == 0)
        rc = family(out, "gateway_instances", "gauge",
                    "Lingma instances by health: serving (connected and logged in), logged_out "
                    "(connected, not logged in), down.");
    if (rc == 0)
        rc = gw_buf_printf(out,
                           "gateway_instances{state=\"serving\"} %lld\n"
                           "gateway_instances{state=\"logged_out\"} %lld\n"
                           "gateway_instances{state=\"down\"} %lld\n",
                           (long long)s->serving, (long long)s->logged_out, (long long)s->down);
    static const struct {
        const char *name, *type, *help;
    } per[] = {
        {"gateway_pool_instance_in_flight", "gauge", "Chats running on each Lingma instance."},
        {"gateway_pool_instance_ready", "gauge", "1 when the instance is ready, else 0."},
        {"gateway_pool_instance_restarts_total", "counter",
         "Times each Lingma instance was restarted."},
        {"gateway_pool_instance_stalls_total", "counter",
         "Times each Lingma instance stopped answering (stall timeout) and was restarted."},
    };
    gw_buf lab = GW_BUF_INIT;
    for (size_t f = 0; rc == 0 && f < sizeof(per) / sizeof(per[0]); f++) {
        rc = family(out, per[f].name, per[f].type, per[f].help);
        for (size_t i = 0; rc == 0 && i < s->n_instances; i++) {
            const gw_metrics_instance *in = &s->instances[i];
            long long v = f == 0   ? (long long)in->in_flight
                          : f == 1 ? (long long)in->ready
                          : f == 2 ? (long long)in->restarts
                                   : (long long)in->stalls;
            gw_buf_reset(&lab);
            rc = gw_metrics_escape_label(&lab, in->name);
            if (rc == 0)
                rc = gw_buf_printf(out, "%s{name=\"%s\"} %lld\n", per[f].name,
                                   lab.data ? lab.data : "", v);
        }
    }
    gw_buf_free(&lab);
    return rc;
}

int
gw_metrics_format(gw_buf *out, gw_metrics *m, const gw_metrics_snapshot *snap)
{
    size_t mark = out->len;
    /* Copy the registry under the lock and format outside it, so a slow
     * formatter never holds up the request threads. */
    struct registry *copy = malloc(sizeof(*copy));
    if (!copy)
        return LINGMA_ENOMEM;
    pthread_mutex_lock(&m->lock);
    *copy = m->reg;
    pthread_mutex_unlock(&m->lock);
    int rc = format_registry(out, copy);
    free(copy);
    if (rc == 0 && snap)
        rc = format_pool(out, snap);
    if (rc != 0)
        gw_buf_truncate(out, mark);
    return rc;
}
