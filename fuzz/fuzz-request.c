/*
 * Fuzz target: the request path of lingma-gatewayd up to the choice of a
 * route. Raw bytes of one or more pipelined HTTP/1.1 requests go through
 * the same pure code the engine and the dispatcher use: the head checks
 * and the target parser (http_head.c) and the route table
 * (route_table.c). libmicrohttpd's own parsing is stood in for by
 * gw_head_split(), which mirrors what 0.9.75 hands the engine.
 *
 * Beyond memory safety it checks the promises a route relies on:
 *   - a head that passes has at most one Content-Length, never one with
 *     Transfer-Encoding, and its target parses (the check covers every
 *     refusal of the parser);
 *   - a decoded path or argument never holds a NUL or a control byte, so
 *     what a route compares is what the client sent;
 *   - a matched {id} lies inside the path, is not empty and holds no '/',
 *     and every verdict maps to its documented status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lingma/common.h"

#include "http_head.h"
#include "route_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT      7168u
#define MAX_FIELDS 128

static void
no_controls(const char *s, size_t n)
{
    if (strlen(s) != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7F)
            abort();
}

static size_t
one_request(const char *p, size_t n)
{
    gw_head_field fields[MAX_FIELDS];
    gw_head head;
    size_t used = 0;
    if (gw_head_split(&head, fields, MAX_FIELDS, p, n, &used) != 0)
        return 0;
    gw_head_verdict v = gw_head_check(&head, LIMIT);
    int status = gw_head_verdict_status(v);
    if (v == GW_HEAD_OK ? status != 200 : status != 400 && status != 431)
        abort();
    if ((v == GW_HEAD_TOO_LARGE) != (status == 431))
        abort();
    if (v != GW_HEAD_OK)
        return 0; /* the engine closes the connection after a refusal */

    size_t ncl = gw_head_count(&head, "content-length");
    size_t nte = gw_head_count(&head, "transfer-encoding");
    if (ncl > 1 || nte > 1 || (ncl && nte) || head.hidden_bytes || head.block_size > LIMIT)
        abort();

    gw_target t;
    int rc = gw_target_parse(&t, head.target, head.target_len);
    if (rc == LINGMA_EINVAL)
        abort(); /* the check let through a target the parser refuses */
    if (rc != LINGMA_OK)
        return 0;
    no_controls(t.path, t.path_len);
    for (size_t i = 0; i < t.nargs; i++) {
        no_controls(t.args[i].name, t.args[i].name_len);
        no_controls(t.args[i].value, t.args[i].value_len);
    }

    gw_route_match m;
    gw_route_match_path(&m, t.path);
    if (m.param && (m.param < t.path || m.param + m.param_len > t.path + t.path_len))
        abort();
    /* A routed {id} is never empty and never holds a '/': a stored
     * response's id is all the Responses routes look up. */
    if (m.param && (m.param_len == 0 || memchr(m.param, '/', m.param_len)))
        abort();
    if (m.route == GW_R_RESPONSE_ITEMS && strcmp(m.param + m.param_len, "/input_items") != 0)
        abort();
    char method[16];
    const char *sp = memchr(head.method, ' ', (size_t)(head.target - head.method));
    size_t mlen = sp ? (size_t)(sp - head.method) : 0;
    if (mlen < sizeof(method)) {
        memcpy(method, head.method, mlen);
        method[mlen] = '\0';
        gw_method_verdict mv = gw_route_method(m.route, method, true);
        if (m.route == GW_R_NONE && mv != GW_METHOD_NOT_ALLOWED)
            abort();
        (void)gw_route_allow(m.route, true);
        (void)gw_route_auth_kind(m.route);
    }
    gw_target_free(&t);

    /* Skip a Content-Length body to reach a pipelined request. */
    for (size_t i = 0; i < head.nfields; i++) {
        const gw_head_field *f = &head.fields[i];
        if (f->name_len == 14 && strncasecmp(f->name, "content-length", 14) == 0) {
            uint64_t cl = 0;
            for (size_t k = 0; k < f->value_len && cl < n; k++)
                cl = cl * 10 + (uint64_t)(f->value[k] - '0');
            if (cl > n - used)
                return 0;
            used += (size_t)cl;
        }
    }
    return used;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    for (int k = 0; k < 8 && size > 0; k++) {
        size_t used = one_request(p, size);
        if (used == 0 || used > size)
            break;
        p += used;
        size -= used;
    }
    return 0;
}
