/*
 * One connection to Lingma: a WebSocket pipe of the loop, a JSON-RPC
 * session of proto, the handshake and the stall probe (see conn.h).
 * Service thread only.
 *
 * The stall probe asks Lingma something cheap (`ping`) over the connection
 * that seems stuck, rather than trusting WebSocket pings: lws answers those
 * in its own loop, so a Lingma whose JSON-RPC side hangs would still pong.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "conn.h"
#include "methods.h"
#include "rpc_int.h"

static void
report_fault(struct lingma__conn *c, enum lingma__conn_fault fault, const char *msg)
{
    c->cfg->ev->on_fault(c, fault, msg, c->cfg->ud);
}

void
lingma__conn_init(struct lingma__conn *c, const struct lingma__conn_cfg *cfg, unsigned index)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->index = index;
}

int
lingma__conn_live(const struct lingma__conn *c)
{
    return c->ws != NULL;
}

int
lingma__conn_ready(const struct lingma__conn *c)
{
    return c->ws && c->state == LINGMA__CONN_READY;
}

void
lingma__conn_kick(struct lingma__conn *c)
{
    if (c->ws && c->rpc && lingma_rpc_want_write(c->rpc))
        lingma__ws_kick(c->ws);
}

/* From now on Lingma owes us something: the silence counts from here, not
 * from the last bytes of an idle spell. */
static void
begin_waiting(struct lingma__conn *c, uint64_t now)
{
    if (!c->busy && (!c->rpc || lingma_rpc_pending_count(c->rpc) == 0))
        c->expect_since = now;
}

void
lingma__conn_set_busy(struct lingma__conn *c, int busy)
{
    if (busy && !c->busy)
        begin_waiting(c, lingma__now_ms());
    c->busy = busy != 0;
}

/* A call goes out now: the silence counts, and its deadline is returned. */
static uint64_t
start_call(struct lingma__conn *c)
{
    uint64_t now = lingma__now_ms();
    begin_waiting(c, now);
    return now + c->cfg->rpc_timeout_ms;
}

int
lingma__conn_call(struct lingma__conn *c, int64_t *id, const char *method, json_t *params,
                  lingma_rpc_response_cb cb, void *payload)
{
    if (!c->rpc) {
        json_decref(params);
        return LINGMA_EIO;
    }
    int rc = lingma_rpc_call(c->rpc, id, method, params, start_call(c), cb, payload);
    if (rc == 0)
        lingma__conn_kick(c);
    return rc;
}

int
lingma__conn_call_with(struct lingma__conn *c, int64_t *id, const char *method,
                       lingma__rpc_params_fn write, void *ud, lingma_rpc_response_cb cb,
                       void *payload)
{
    if (!c->rpc)
        return LINGMA_EIO;
    int rc = lingma__rpc_call_with(c->rpc, id, method, write, ud, start_call(c), cb, payload);
    if (rc == 0)
        lingma__conn_kick(c);
    return rc;
}

void
lingma__conn_notify(struct lingma__conn *c, const char *method, json_t *params)
{
    if (c->rpc)
        lingma_rpc_notify(c->rpc, method, params);
    else
        json_decref(params);
}

void
lingma__conn_respond(struct lingma__conn *c, const json_t *id, json_t *result)
{
    if (c->rpc)
        lingma_rpc_respond(c->rpc, id, result);
    else
        json_decref(result);
}

void
lingma__conn_answer_literal(struct lingma__conn *c, int64_t id, const char *result)
{
    if (c->rpc)
        lingma__rpc_respond_literal(c->rpc, id, result);
}

void
lingma__conn_cancel(struct lingma__conn *c, int64_t id)
{
    if (c->rpc)
        lingma_rpc_cancel(c->rpc, id);
}

size_t
lingma__conn_backlog(const struct lingma__conn *c)
{
    return c->rpc ? lingma_rpc_send_queued(c->rpc) : 0;
}

/* A failure that happened inside a callback of the session is reported
 * once the session returned, so that the owner may drop it. */
static void
check_doomed(struct lingma__conn *c)
{
    if (!c->doomed)
        return;
    c->doomed = 0;
    report_fault(c, c->doom_fault, c->doom_msg);
}

/* A failure noticed inside a callback of the session: reported by
 * check_doomed() once the session returned. */
static void
doom(struct lingma__conn *c, enum lingma__conn_fault fault)
{
    c->doomed = 1;
    c->doom_fault = fault;
}

/* ---- the stall probe ---- */

static void
on_probe(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct lingma__conn *c = payload;

    (void)rpc;
    (void)result;
    (void)err;
    if (status == LINGMA_ECLOSED || status == LINGMA_ECANCELED)
        return; /* the session is going away: so is the probe (lingma__conn_drop) */
    c->probe_id = 0;
    /* Any answer, an error included, and any other bytes since the ping
     * went out, mean that Lingma still talks. */
    if (status != LINGMA_ETIMEDOUT || c->last_rx_ms > c->probe_sent_ms)
        return;
    uint64_t now = lingma__now_ms();
    snprintf(c->doom_msg, sizeof(c->doom_msg),
             "Lingma went silent: no answer to ping within %u ms, nothing received for %" PRIu64
             " ms",
             c->cfg->rpc_timeout_ms, now - c->last_rx_ms);
    doom(c, LINGMA__CONN_SILENT);
}

static void
probe(struct lingma__conn *c, uint64_t now, size_t expired)
{
    uint64_t stall = c->cfg->stall_ms;

    if (!stall || c->state != LINGMA__CONN_READY || c->probe_id || c->doomed)
        return;
    uint64_t since = c->last_rx_ms > c->expect_since ? c->last_rx_ms : c->expect_since;
    int waiting = c->busy || lingma_rpc_pending_count(c->rpc) > 0;
    /* A stall longer than the RPC timeout would let a call expire first:
     * a call that expired on a connection silent for as long also probes. */
    int due = (waiting && now - since >= stall) ||
              (expired && now - c->last_rx_ms >= c->cfg->rpc_timeout_ms);
    if (!due)
        return;
    lingma__logf(c->cfg->log, LINGMA_LOG_INFO,
                 "%s: conn %u: nothing from Lingma for %" PRIu64 " ms: ping", c->cfg->name,
                 c->index, now - c->last_rx_ms);
    c->probe_sent_ms = now;
    if (lingma__conn_call(c, &c->probe_id, LINGMA__M_PING, lingma__method_no_params(), on_probe,
                          c) != 0)
        c->probe_id = 0; /* out of memory: the next tick tries again */
}

void
lingma__conn_tick(struct lingma__conn *c, uint64_t now)
{
    if (!c->rpc)
        return;
    size_t expired = lingma_rpc_tick(c->rpc, now);
    probe(c, now, expired);
    lingma__conn_kick(c);
    check_doomed(c);
}

void
lingma__conn_drop(struct lingma__conn *c, int code, const char *why)
{
    if (c->ws) {
        lingma__ws_close(c->ws);
        c->ws = NULL;
    }
    c->cfg->ev->on_down(c, code, why, c->cfg->ud);
    if (c->rpc) {
        lingma_rpc *rpc = c->rpc;
        c->rpc = NULL;
        lingma_rpc_free(rpc); /* pending calls get LINGMA_ECLOSED */
    }
    c->doomed = 0;
    c->busy = 0;
    c->probe_id = 0;
    c->state = LINGMA__CONN_CONNECTING;
    lingma__conn_dispose(c);
}

void
lingma__conn_dispose(struct lingma__conn *c)
{
    lingma__free(c->cfg->alloc, c->push_scratch.p);
    memset(&c->push_scratch, 0, sizeof(c->push_scratch));
}

/* ---- the handshake ---- */

static void
on_initialize(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
              void *payload)
{
    struct lingma__conn *c = payload;

    (void)rpc;
    (void)result;
    if (status == LINGMA_ECLOSED || status == LINGMA_ECANCELED)
        return;
    if (status != 0) {
        snprintf(c->doom_msg, sizeof(c->doom_msg), "initialize failed: %s",
                 status == LINGMA_ERPC && err ? err->message : lingma_strerror(status));
        doom(c, LINGMA__CONN_REFUSED);
        return;
    }
    lingma__conn_notify(c, LINGMA__M_INITIALIZED, lingma__method_no_params());
    c->state = LINGMA__CONN_READY;
    lingma__conn_kick(c);
    c->cfg->ev->on_ready(c, c->cfg->ud);
}

/* ---- the WebSocket pipe ---- */

static void
ws_on_open(struct lingma__ws *ws, void *ud)
{
    struct lingma__conn *c = ud;

    (void)ws;
    c->state = LINGMA__CONN_INITIALIZING;
    c->last_rx_ms = lingma__now_ms();
    json_t *params =
        lingma__method_initialize((long)getpid(), lingma_version(), c->cfg->work_dir, c->cfg->name);
    if (lingma__conn_call(c, NULL, LINGMA__M_INITIALIZE, params, on_initialize, c) != 0)
        report_fault(c, LINGMA__CONN_UNSENT, "initialize could not be sent");
}

static void
ws_on_data(struct lingma__ws *ws, const void *data, size_t len, void *ud)
{
    struct lingma__conn *c = ud;
    char msg[300];

    (void)ws;
    c->last_rx_ms = lingma__now_ms();
    int rc = lingma_rpc_recv(c->rpc, data, len);
    if (rc < 0 && rc != LINGMA_ENOMEM) {
        snprintf(msg, sizeof(msg), "Lingma broke the protocol (%s)", lingma_strerror(rc));
        report_fault(c, LINGMA__CONN_BROKEN, msg);
        return;
    }
    lingma__conn_kick(c);
    check_doomed(c);
}

static size_t
ws_pull(struct lingma__ws *ws, const char **out, void *ud)
{
    struct lingma__conn *c = ud;
    (void)ws;
    return c->rpc ? lingma_rpc_mem_send(c->rpc, out) : 0;
}

static void
ws_on_close(struct lingma__ws *ws, int opened, const char *why, void *ud)
{
    struct lingma__conn *c = ud;

    (void)ws;
    c->ws = NULL; /* the loop frees it */
    c->cfg->ev->on_closed(c, opened, why, c->cfg->ud);
}

static const struct lingma__ws_cbs ws_cbs = {ws_on_open, ws_on_data, ws_pull, ws_on_close};

/* ---- the session ---- */

static int
rpc_on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    struct lingma__conn *c = payload;
    (void)rpc;
    return c->cfg->ev->on_request(c, id, method, params, c->cfg->ud);
}

static void
rpc_on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload)
{
    struct lingma__conn *c = payload;
    (void)rpc;
    c->cfg->ev->on_notification(c, method, params, c->cfg->ud);
}

/* chat/answer and chat/finish, and the results of calls, read without a
 * jansson tree when the fast decoder is sure of them; anything else goes
 * the usual way. */
static int
rpc_raw(lingma_rpc *rpc, const char *body, size_t len, void *payload)
{
    struct lingma__conn *c = payload;
    struct lingma__push_fast m;

    int rc = lingma__push_fast_decode(&m, &c->push_scratch, c->cfg->alloc, body, len);
    if (rc == 2)
        return lingma__rpc_recv_result(rpc, m.id, m.result, m.result_len) ? 2 : 0;
    if (rc != 1)
        return 0;
    c->cfg->ev->on_push(c, &m, c->cfg->ud);
    return 1;
}

static void
rpc_log(lingma_log_level lvl, const char *msg, void *payload)
{
    struct lingma__conn *c = payload;
    lingma__logf(c->cfg->log, lvl, "%s: rpc: %s", c->cfg->name, msg);
}

int
lingma__conn_dial(struct lingma__conn *c, int port)
{
    lingma_rpc_options ro = LINGMA_RPC_OPTIONS_INIT;

    ro.alloc = c->cfg->alloc;
    ro.on_request = rpc_on_request;
    ro.on_notification = rpc_on_notification;
    ro.log_fn = c->cfg->log->fn ? rpc_log : NULL;
    ro.payload = c;
    int rc = lingma_rpc_new(&c->rpc, &ro);
    if (rc != 0)
        return rc;
    if (c->cfg->ev->on_push)
        lingma__rpc_set_raw(c->rpc, rpc_raw, c);
    c->state = LINGMA__CONN_CONNECTING;
    rc = lingma__ws_open(&c->ws, c->cfg->loop, port, &ws_cbs, c);
    if (rc != 0) {
        c->ws = NULL;
        lingma_rpc_free(c->rpc);
        c->rpc = NULL;
    }
    return rc;
}
