/*
 * Fuzz target for the JSON-RPC session. The input is a little program: each
 * byte is an operation (low 3 bits) and an argument (high 5 bits); a recv
 * operation takes its next arg+1 bytes from the input as peer data, so the
 * peer stream arrives in arbitrary chunks between calls, cancels, ticks and
 * answers. Checked on the way:
 *   - every request we start gets exactly one callback by the end;
 *   - everything we send is well-formed: it goes through a second session
 *     that must see no framing error and no malformed message;
 *   - ASan/UBSan/LSan watch the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/sys/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEFER 4

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz-rpc: check failed at line %d: %s\n", __LINE__, #c);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct state {
    lingma_rpc *rpc;
    lingma_rpc *mirror; /* receives everything rpc sends */
    json_t *deferred[MAX_DEFER];
    int ndeferred;
    long started, finished;
    unsigned knob; /* varies handler behaviour */
    int64_t last_id;
};

static void
on_response(lingma_rpc *rpc, int status, json_t *result, const lingma_rpc_error *err, void *payload)
{
    struct state *s = payload;

    CHECK((status == 0) == (result != NULL) && (status == LINGMA_ERPC) == (err != NULL));
    CHECK(!err || err->message);
    s->finished++;
    /* Meddle while the session iterates. */
    if (s->knob & 1)
        (void)lingma_rpc_cancel(rpc, s->last_id);
    if ((s->knob & 6) == 2 && s->started < 64) {
        int64_t id;
        if (lingma_rpc_call(rpc, &id, "again", NULL, s->knob, on_response, s) == 0) {
            s->started++;
            s->last_id = id;
        }
    }
}

static int
on_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params, void *payload)
{
    struct state *s = payload;
    unsigned k = s->knob++ % 5;

    (void)method;
    switch (k) {
    case 0:
        return 0;
    case 1:
        (void)lingma_rpc_respond(rpc, id, json_incref(params));
        return 0;
    case 2:
        if (s->ndeferred < MAX_DEFER) {
            s->deferred[s->ndeferred++] = json_deep_copy(id);
            return LINGMA_RPC_DEFER;
        }
        return LINGMA_EIO;
    case 3:
        (void)lingma_rpc_respond_error(rpc, id, -1, method);
        return LINGMA_EIO;
    default:
        return LINGMA_ENOMEM;
    }
}

static void
on_notification(lingma_rpc *rpc, const char *method, json_t *params, void *payload)
{
    struct state *s = payload;

    (void)method;
    (void)params;
    if (s->knob++ % 3 == 0)
        (void)lingma_rpc_notify(rpc, "ack", NULL);
}

static void
drain(struct state *s)
{
    const char *p;
    size_t n;

    while ((n = lingma_rpc_mem_send(s->rpc, &p)) > 0) {
        lingma_rpc_stats st;
        CHECK(lingma_rpc_recv(s->mirror, p, n) == 0);
        lingma_rpc_get_stats(s->mirror, &st);
        CHECK(st.malformed == 0);
    }
    while ((n = lingma_rpc_mem_send(s->mirror, &p)) > 0)
        ; /* the mirror's answers are dropped */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lingma_rpc_options o = LINGMA_RPC_OPTIONS_INIT;
    lingma_rpc_options mo = LINGMA_RPC_OPTIONS_INIT;
    struct state s;
    size_t i = 0;
    uint64_t now = 0;

    memset(&s, 0, sizeof(s));
    o.max_frame = 4096;
    o.on_request = on_request;
    o.on_notification = on_notification;
    o.payload = &s;
    CHECK(lingma_rpc_new(&s.rpc, &o) == 0 && lingma_rpc_new(&s.mirror, &mo) == 0);

    while (i < size) {
        unsigned op = data[i] & 7, arg = data[i] >> 3;
        i++;
        switch (op) {
        case 0:
        case 1: { /* recv the next arg+1 bytes */
            size_t n = (size_t)arg + 1;
            if (n > size - i)
                n = size - i;
            (void)lingma_rpc_recv(s.rpc, data + i, n);
            i += n;
            break;
        }
        case 2: { /* call */
            int64_t id;
            json_t *params =
                (arg & 1) ? json_pack("{s:i,s:s}", "n", (int)arg, "s", "\xc3\xa9") : NULL;
            if (lingma_rpc_call(s.rpc, &id, (arg & 2) ? "chat/ask" : "x", params,
                                (arg & 4) ? now + arg : 0, on_response, &s) == 0) {
                s.started++;
                s.last_id = id;
                CHECK(!(arg & 4) || lingma_rpc_next_deadline(s.rpc) <= now + 32);
            }
            break;
        }
        case 3: /* cancel */
            (void)lingma_rpc_cancel(s.rpc, (int64_t)arg);
            break;
        case 4: { /* time passes */
            long before = s.started;
            now += arg;
            (void)lingma_rpc_tick(s.rpc, now);
            /* Calls made by the expiry callbacks wait for the next tick. */
            if (s.started == before)
                CHECK(lingma_rpc_next_deadline(s.rpc) == 0 ||
                      lingma_rpc_next_deadline(s.rpc) > now);
            break;
        }
        case 5: /* answer a deferred request */
            if (s.ndeferred) {
                json_t *id = s.deferred[--s.ndeferred];
                if (arg & 1)
                    (void)lingma_rpc_respond(s.rpc, id, json_integer(arg));
                else
                    (void)lingma_rpc_respond_error(s.rpc, id, -(int)arg, "late");
                json_decref(id);
            }
            break;
        case 6:
            (void)lingma_rpc_notify(s.rpc, "note", (arg & 1) ? json_array() : NULL);
            s.knob ^= arg;
            break;
        default:
            if (arg == 31)
                lingma_rpc_close(s.rpc);
            else
                drain(&s);
            break;
        }
    }
    drain(&s);
    lingma_rpc_free(s.rpc);
    CHECK(s.started == s.finished);
    lingma_rpc_free(s.mirror);
    for (int k = 0; k < s.ndeferred; k++)
        json_decref(s.deferred[k]);
    return 0;
}
