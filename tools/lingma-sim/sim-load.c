/*
 * sim-load: a load generator for lingma-sim (not installed).
 *
 *   sim-load --port N [--connections C] [--asks A] [--inflight K] [--question Q]
 *
 * Opens C WebSocket connections to 127.0.0.1:N, keeps K chat/ask requests
 * in flight (spread over the connections) until A chats have finished,
 * ACKs every push with `true` as a well-behaved client does, and prints
 * pushes/s, chats/s and the peak number of chats in flight. Bounded: it
 * gives up after --timeout seconds (default 300).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsclient.h"

struct load;

struct lconn {
    struct load *L;
    struct wsc *ws;
    lingma_rpc *rpc;
    long inflight;
};

struct load {
    struct lconn *conns;
    int nconns;
    long asks, inflight_cap, sent, finished, failed, pushes, answers, peak, changed;
    const char *question;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    struct lconn *c = payload;
    struct load *L = c->L;
    L->pushes++;
    if (!strcmp(method, "chat/answer")) {
        L->answers++;
    } else if (!strcmp(method, "chat/finish")) {
        L->finished++;
        c->inflight--;
        L->changed++;
        if (json_integer_value(json_object_get(params, "statusCode")) != 200)
            L->failed++;
    }
    lingma_rpc_respond(rpc, id, json_true());
    return 0;
}

static void
on_ask_result(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err,
              void *payload)
{
    struct lconn *c = payload;
    if (status) {
        /* rejected ask: no chat/finish will come */
        c->L->failed++;
        c->L->finished++;
        c->inflight--;
        c->L->changed++;
    }
}

static bool
changed(void *p)
{
    struct load *L = p;
    return L->changed != 0;
}

static void
top_up(struct load *L)
{
    long per = (L->inflight_cap + L->nconns - 1) / L->nconns;
    long total = 0;
    for (int i = 0; i < L->nconns; i++) {
        struct lconn *c = &L->conns[i];
        while (c->inflight < per && L->sent < L->asks) {
            char rid[32];
            snprintf(rid, sizeof(rid), "load-%ld", L->sent++);
            json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:{s:{s:s}}}", "requestId", rid,
                                  "sessionId", "", "sessionType", "chat", "chatTask", "FREE_INPUT",
                                  "stream", 1, "questionText", L->question, "extra", "modelConfig",
                                  "key", "auto");
            if (lingma_rpc_call(c->rpc, NULL, "chat/ask", p, 0, on_ask_result, c))
                break;
            c->inflight++;
        }
        wsc_kick(c->ws);
        total += c->inflight;
    }
    if (total > L->peak)
        L->peak = total;
}

int
main(int argc, char **argv)
{
    struct load L = {.nconns = 4, .asks = 10000, .inflight_cap = 1000, .question = "load"};
    int port = 0, timeout = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--connections"))
            L.nconns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--asks"))
            L.asks = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--inflight"))
            L.inflight_cap = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--question"))
            L.question = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout"))
            timeout = atoi(argv[i + 1]);
    }
    if (port <= 0 || L.nconns <= 0 || L.asks <= 0 || L.inflight_cap <= 0) {
        fprintf(stderr, "usage: sim-load --port N [--connections C] [--asks A] [--inflight K]"
                        " [--question Q] [--timeout S]\n");
        return 2;
    }
    struct wsc_ctx *ctx = wsc_ctx_new();
    L.conns = calloc((size_t)L.nconns, sizeof(*L.conns));
    if (!ctx || !L.conns)
        return 1;
    for (int i = 0; i < L.nconns; i++) {
        struct lconn *c = &L.conns[i];
        c->L = &L;
        lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
        o.on_request = on_request;
        o.payload = c;
        if (lingma_rpc_new(&c->rpc, &o) || !(c->ws = wsc_connect(ctx, port, "/", 5000))) {
            fprintf(stderr, "sim-load: cannot connect to 127.0.0.1:%d\n", port);
            return 1;
        }
        wsc_attach_rpc(c->ws, c->rpc);
        /* ACKs of a burst go out together, so the client is not the bottleneck */
        wsc_set_pack(c->ws, true);
    }

    double t0 = now_s(), deadline = t0 + timeout;
    top_up(&L);
    while (L.finished < L.asks && now_s() < deadline) {
        L.changed = 0;
        wsc_wait(ctx, 100, changed, &L);
        top_up(&L);
    }
    double dt = now_s() - t0;
    printf("connections %d, chats %ld/%ld finished (%ld failed), peak in flight %ld\n", L.nconns,
           L.finished, L.asks, L.failed, L.peak);
    printf("%.2f s: %.0f pushes/s (%ld pushes, %ld chat/answer), %.0f chats/s\n", dt,
           (double)L.pushes / dt, L.pushes, L.answers, (double)L.finished / dt);
    int rc = (L.finished == L.asks && !L.failed) ? 0 : 1;
    for (int i = 0; i < L.nconns; i++) {
        wsc_close(L.conns[i].ws);
        lingma_rpc_free(L.conns[i].rpc);
    }
    free(L.conns);
    wsc_ctx_free(ctx);
    return rc;
}
