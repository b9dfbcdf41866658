/*
 * A sans-I/O JSON-RPC 2.0 session. See lingma/sys/rpc.h.
 *
 * Choices, and why:
 *   - Pending requests live in an open-addressing hash table keyed by id
 *     (backward-shift deletion, no tombstones) and, when they have a
 *     deadline, in a binary min-heap that knows each entry's position:
 *     lookup, insert and removal are O(1)/O(log n) with 10,000+ in flight.
 *   - Envelopes are written by hand into a scratch buffer; only params and
 *     results go through jansson (json_dump_callback, no intermediate
 *     string). Output: JSON_COMPACT, UTF-8 passed through, reals with 15
 *     significant digits (JSON_REAL_PRECISION(15)) so that 0.7 goes out as
 *     0.7, not 0.69999999999999996.
 *   - Each queued frame is its own block, so the pointer that
 *     lingma_rpc_mem_send() returns stays put while later calls queue more.
 *   - Input: json_loadb() with the exact body length and JSON_ALLOW_NUL.
 *     Duplicate keys are accepted (the last wins), as Lingma is lenient and
 *     rejecting would lose a message that may be a request to answer.
 *   - Response ids must be JSON integers to match: we only ever send
 *     integers, so 7.0 or "7" are someone else's (counted as unknown).
 *   - Batches (top-level arrays) are not used by Lingma and are counted as
 *     malformed.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lingma/sys/rpc.h"

#include "alloc.h"
#include "frame.h"

#define DUMP_FLAGS   (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))
#define SCRATCH_KEEP ((size_t)256 * 1024)
#define NO_HEAP      SIZE_MAX
#define MIN_TABLE    16

struct pending {
    int64_t id;
    uint64_t deadline; /* 0: none */
    size_t heap_idx;   /* NO_HEAP when not in the heap */
    lingma_rpc_response_cb cb;
    void *payload;
    struct pending *next; /* in a detached list (tick, close) */
};

struct outframe {
    struct outframe *next;
    size_t len;
    char data[];
};

struct lingma_rpc {
    lingma_rpc_options opts;
    const lingma_allocator *alloc;
    lingma_frame_decoder *dec;
    int closed;
    int busy;            /* inside recv, tick or close: those may not re-enter */
    int close_requested; /* close or free was called from a callback anyway */
    int free_requested;
    int64_t next_id;

    struct pending **tab; /* by id; capacity is a power of two, load <= 1/2 */
    size_t tab_cap, count;
    struct pending **heap; /* min-heap by deadline */
    size_t heap_len, heap_cap;

    struct outframe *out_head, *out_tail, *lent;
    size_t out_bytes;

    char *sb; /* scratch for encoding; starts with room for the frame header */
    size_t sb_len, sb_cap;
    int sb_oom;

    const json_t *cur_id; /* the request on_request is handling */
    int cur_answered;

    lingma_rpc_stats stats;
};

/* ---- logging ---- */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void
rpc_log(lingma_rpc *rpc, lingma_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!rpc->opts.log_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rpc->opts.log_fn(level, msg, rpc->opts.payload);
}

static void
malformed(lingma_rpc *rpc, const char *why)
{
    rpc->stats.malformed++;
    rpc_log(rpc, LINGMA_LOG_WARN, "rpc: skipped a malformed message: %s", why);
}

/* ---- pending table: open addressing by id ---- */

static size_t
id_slot(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static size_t
tab_find(const lingma_rpc *rpc, int64_t id)
{
    size_t i;

    if (!rpc->tab_cap)
        return NO_HEAP;
    for (i = id_slot(id, rpc->tab_cap); rpc->tab[i]; i = (i + 1) & (rpc->tab_cap - 1))
        if (rpc->tab[i]->id == id)
            return i;
    return NO_HEAP;
}

static void
tab_put(struct pending **tab, size_t cap, struct pending *p)
{
    size_t i = id_slot(p->id, cap);

    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = p;
}

static int
tab_reserve(lingma_rpc *rpc)
{
    struct pending **ntab;
    size_t ncap;

    if ((rpc->count + 1) * 2 <= rpc->tab_cap)
        return 0;
    ncap = rpc->tab_cap ? rpc->tab_cap * 2 : MIN_TABLE;
    ntab = lingma__calloc(rpc->alloc, ncap, sizeof(*ntab));
    if (!ntab)
        return LINGMA_ENOMEM;
    for (size_t i = 0; i < rpc->tab_cap; i++)
        if (rpc->tab[i])
            tab_put(ntab, ncap, rpc->tab[i]);
    lingma__free(rpc->alloc, rpc->tab);
    rpc->tab = ntab;
    rpc->tab_cap = ncap;
    return 0;
}

/* Remove slot i, shifting later members of the probe run back so that
 * lookups never need tombstones. */
static void
tab_remove_at(lingma_rpc *rpc, size_t i)
{
    size_t mask = rpc->tab_cap - 1, j = i;

    rpc->tab[i] = NULL;
    rpc->count--;
    for (;;) {
        size_t k;

        j = (j + 1) & mask;
        if (!rpc->tab[j])
            return;
        k = id_slot(rpc->tab[j]->id, rpc->tab_cap);
        /* Move it back unless its home slot lies cyclically in (i, j]. */
        if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
            rpc->tab[i] = rpc->tab[j];
            rpc->tab[j] = NULL;
            i = j;
        }
    }
}

/* ---- deadline heap ---- */

static void
heap_set(lingma_rpc *rpc, size_t i, struct pending *p)
{
    rpc->heap[i] = p;
    p->heap_idx = i;
}

static void
heap_up(lingma_rpc *rpc, size_t i)
{
    struct pending *p = rpc->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (rpc->heap[parent]->deadline <= p->deadline)
            break;
        heap_set(rpc, i, rpc->heap[parent]);
        i = parent;
    }
    heap_set(rpc, i, p);
}

static void
heap_down(lingma_rpc *rpc, size_t i)
{
    struct pending *p = rpc->heap[i];
    size_t n = rpc->heap_len;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && rpc->heap[c + 1]->deadline < rpc->heap[c]->deadline)
            c++;
        if (p->deadline <= rpc->heap[c]->deadline)
            break;
        heap_set(rpc, i, rpc->heap[c]);
        i = c;
    }
    heap_set(rpc, i, p);
}

static int
heap_reserve(lingma_rpc *rpc)
{
    struct pending **nh;
    size_t ncap;

    if (rpc->heap_len < rpc->heap_cap)
        return 0;
    ncap = rpc->heap_cap ? rpc->heap_cap * 2 : MIN_TABLE;
    nh = lingma__realloc(rpc->alloc, rpc->heap, ncap * sizeof(*nh));
    if (!nh)
        return LINGMA_ENOMEM;
    rpc->heap = nh;
    rpc->heap_cap = ncap;
    return 0;
}

static void
heap_remove(lingma_rpc *rpc, struct pending *p)
{
    size_t i = p->heap_idx;
    struct pending *last;

    if (i == NO_HEAP)
        return;
    p->heap_idx = NO_HEAP;
    last = rpc->heap[--rpc->heap_len];
    if (last == p)
        return;
    heap_set(rpc, i, last);
    if (i > 0 && rpc->heap[(i - 1) / 2]->deadline > last->deadline)
        heap_up(rpc, i);
    else
        heap_down(rpc, i);
}

/* Take a pending request out of both structures. */
static void
unlink_pending(lingma_rpc *rpc, size_t slot)
{
    struct pending *p = rpc->tab[slot];

    tab_remove_at(rpc, slot);
    heap_remove(rpc, p);
}

/* ---- encoding ---- */

static void
sb_reset(lingma_rpc *rpc)
{
    /* Leave room in front for the frame header, written last. */
    rpc->sb_len = LINGMA_FRAME_HEADER_MAX_LEN;
    rpc->sb_oom = 0;
}

static void
sb_put(lingma_rpc *rpc, const char *p, size_t n)
{
    if (rpc->sb_oom)
        return;
    if (n > rpc->sb_cap - rpc->sb_len || rpc->sb_len > rpc->sb_cap) {
        size_t need = rpc->sb_len + n, ncap = rpc->sb_cap ? rpc->sb_cap : 512;
        char *nb;

        if (need < n) {
            rpc->sb_oom = 1;
            return;
        }
        while (ncap < need) {
            if (ncap > SIZE_MAX / 2) {
                rpc->sb_oom = 1;
                return;
            }
            ncap *= 2;
        }
        nb = lingma__realloc(rpc->alloc, rpc->sb, ncap);
        if (!nb) {
            rpc->sb_oom = 1;
            return;
        }
        rpc->sb = nb;
        rpc->sb_cap = ncap;
    }
    memcpy(rpc->sb + rpc->sb_len, p, n);
    rpc->sb_len += n;
}

static void
sb_puts(lingma_rpc *rpc, const char *s)
{
    sb_put(rpc, s, strlen(s));
}

static void
sb_put_int(lingma_rpc *rpc, long long v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    sb_put(rpc, tmp + n, sizeof(tmp) - n);
}

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Write a JSON string. Returns LINGMA_EINVAL on invalid UTF-8. */
static int
sb_put_string(lingma_rpc *rpc, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    sb_put(rpc, "\"", 1);
    while (i < len) {
        unsigned char c = p[i];
        char esc[6];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\') {
            size_t n = c < 0x80 ? 1 : utf8_seq(p + i, len - i);
            if (!n)
                return LINGMA_EINVAL;
            i += n;
            continue;
        }
        sb_put(rpc, s + run, i - run);
        esc[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        sb_put(rpc, esc, elen);
        run = ++i;
    }
    sb_put(rpc, s + run, len - run);
    sb_put(rpc, "\"", 1);
    return 0;
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
    lingma_rpc *rpc = data;

    sb_put(rpc, buf, size);
    return rpc->sb_oom ? -1 : 0;
}

static int
sb_put_json(lingma_rpc *rpc, const json_t *v)
{
    if (!v) {
        sb_puts(rpc, "null");
        return 0;
    }
    if (json_dump_callback(v, dump_cb, rpc, DUMP_FLAGS) != 0)
        return LINGMA_ENOMEM;
    return 0;
}

static int
sb_put_id(lingma_rpc *rpc, const json_t *id)
{
    if (json_is_integer(id)) {
        sb_put_int(rpc, json_integer_value(id));
        return 0;
    }
    if (json_is_string(id))
        return sb_put_string(rpc, json_string_value(id), json_string_length(id));
    if (json_is_real(id))
        return sb_put_json(rpc, id);
    return LINGMA_EINVAL;
}

/* Turn the scratch buffer into a queued frame. */
static int
sb_queue(lingma_rpc *rpc)
{
    char hdr[LINGMA_FRAME_HEADER_MAX_LEN];
    size_t body_len, hlen;
    struct outframe *f;

    if (rpc->sb_oom)
        return LINGMA_ENOMEM;
    body_len = rpc->sb_len - LINGMA_FRAME_HEADER_MAX_LEN;
    hlen = lingma__frame_header_fast(hdr, body_len);
    f = lingma__malloc(rpc->alloc, sizeof(*f) + hlen + body_len);
    if (!f)
        return LINGMA_ENOMEM;
    f->next = NULL;
    f->len = hlen + body_len;
    memcpy(f->data, hdr, hlen);
    memcpy(f->data + hlen, rpc->sb + LINGMA_FRAME_HEADER_MAX_LEN, body_len);
    if (rpc->out_tail)
        rpc->out_tail->next = f;
    else
        rpc->out_head = f;
    rpc->out_tail = f;
    rpc->out_bytes += f->len;
    if (rpc->sb_cap > SCRATCH_KEEP) {
        /* One big message should not pin its size for the session's life. */
        lingma__free(rpc->alloc, rpc->sb);
        rpc->sb = NULL;
        rpc->sb_cap = 0;
    }
    return 0;
}

static int
send_result(lingma_rpc *rpc, const json_t *id, const json_t *result)
{
    int rc;

    sb_reset(rpc);
    sb_puts(rpc, "{\"jsonrpc\":\"2.0\",\"id\":");
    if ((rc = sb_put_id(rpc, id)) != 0)
        return rc;
    sb_puts(rpc, ",\"result\":");
    if ((rc = sb_put_json(rpc, result)) != 0)
        return rc;
    sb_puts(rpc, "}");
    if ((rc = sb_queue(rpc)) == 0)
        rpc->stats.responses_sent++;
    return rc;
}

static int
send_error(lingma_rpc *rpc, const json_t *id, int code, const char *message)
{
    int rc;

    sb_reset(rpc);
    sb_puts(rpc, "{\"jsonrpc\":\"2.0\",\"id\":");
    if ((rc = sb_put_id(rpc, id)) != 0)
        return rc;
    sb_puts(rpc, ",\"error\":{\"code\":");
    sb_put_int(rpc, code);
    sb_puts(rpc, ",\"message\":");
    if ((rc = sb_put_string(rpc, message, strlen(message))) != 0)
        return rc;
    sb_puts(rpc, "}}");
    if ((rc = sb_queue(rpc)) == 0)
        rpc->stats.responses_sent++;
    return rc;
}

/* A request (id > 0) or a notification (id == 0). */
static int
send_call(lingma_rpc *rpc, int64_t id, const char *method, const json_t *params)
{
    int rc;

    sb_reset(rpc);
    sb_puts(rpc, "{\"jsonrpc\":\"2.0\",");
    if (id) {
        sb_puts(rpc, "\"id\":");
        sb_put_int(rpc, id);
        sb_puts(rpc, ",");
    }
    sb_puts(rpc, "\"method\":");
    if ((rc = sb_put_string(rpc, method, strlen(method))) != 0)
        return rc;
    if (params) {
        sb_puts(rpc, ",\"params\":");
        if ((rc = sb_put_json(rpc, params)) != 0)
            return rc;
    }
    sb_puts(rpc, "}");
    return sb_queue(rpc);
}

/* ---- lifecycle ---- */

LINGMA_EXPORT int
lingma_rpc_new(lingma_rpc **out, const lingma_rpc_options *opts)
{
    lingma_rpc *rpc;
    int rc;

    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    if (!opts || opts->version != LINGMA_RPC_OPTIONS_VERSION)
        return LINGMA_EINVAL;
    rpc = lingma__calloc(opts->alloc, 1, sizeof(*rpc));
    if (!rpc)
        return LINGMA_ENOMEM;
    rpc->opts = *opts;
    rpc->alloc = opts->alloc;
    rpc->next_id = 1;
    rc = lingma_frame_decoder_new(&rpc->dec, opts->max_frame, opts->alloc);
    if (rc != 0) {
        lingma__free(rpc->alloc, rpc);
        return rc;
    }
    *out = rpc;
    return 0;
}

static void
drop_output(lingma_rpc *rpc)
{
    struct outframe *f = rpc->out_head;

    while (f) {
        struct outframe *next = f->next;
        lingma__free(rpc->alloc, f);
        f = next;
    }
    rpc->out_head = rpc->out_tail = NULL;
    rpc->out_bytes = 0;
    lingma__free(rpc->alloc, rpc->lent);
    rpc->lent = NULL;
}

static void
do_close(lingma_rpc *rpc)
{
    struct pending *list = NULL;

    rpc->closed = 1;
    /* Detach everything first: callbacks may call lingma_rpc_cancel() or
     * lingma_rpc_call(), which must see an empty, closed session. */
    for (size_t i = 0; i < rpc->tab_cap; i++) {
        struct pending *p = rpc->tab[i];
        if (p) {
            p->next = list;
            list = p;
            rpc->tab[i] = NULL;
        }
    }
    rpc->count = 0;
    rpc->heap_len = 0;
    rpc->busy++;
    while (list) {
        struct pending *p = list;
        list = p->next;
        if (p->cb)
            p->cb(rpc, LINGMA_ECLOSED, NULL, NULL, p->payload);
        lingma__free(rpc->alloc, p);
    }
    rpc->busy--;
    drop_output(rpc);
}

static void really_free(lingma_rpc *rpc);

LINGMA_EXPORT void
lingma_rpc_close(lingma_rpc *rpc)
{
    if (!rpc || rpc->closed)
        return;
    if (rpc->busy) {
        /* Forbidden from a callback; done when the outer call returns. */
        rpc->close_requested = 1;
        return;
    }
    do_close(rpc);
    if (rpc->free_requested)
        really_free(rpc);
}

static void
really_free(lingma_rpc *rpc)
{
    if (!rpc->closed)
        do_close(rpc);
    lingma_frame_decoder_free(rpc->dec);
    lingma__free(rpc->alloc, rpc->tab);
    lingma__free(rpc->alloc, rpc->heap);
    lingma__free(rpc->alloc, rpc->sb);
    lingma__free(rpc->alloc, rpc);
}

LINGMA_EXPORT void
lingma_rpc_free(lingma_rpc *rpc)
{
    if (!rpc)
        return;
    if (rpc->busy) {
        rpc->close_requested = rpc->free_requested = 1;
        return;
    }
    really_free(rpc);
}

/* Run deferred close/free after recv or tick. Returns 1 when freed. */
static int
finish_busy(lingma_rpc *rpc)
{
    rpc->busy--;
    if (rpc->busy)
        return 0;
    if (rpc->close_requested && !rpc->closed)
        do_close(rpc);
    if (rpc->free_requested) {
        really_free(rpc);
        return 1;
    }
    return 0;
}

/* ---- sending ---- */

LINGMA_EXPORT int
lingma_rpc_call(lingma_rpc *rpc, int64_t *out_id, const char *method, json_t *params,
                uint64_t deadline, lingma_rpc_response_cb cb, void *payload)
{
    struct pending *p;
    int rc;

    if (!rpc || !method) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    if (rpc->closed || rpc->close_requested) {
        json_decref(params);
        return LINGMA_ECLOSED;
    }
    if (rpc->next_id == INT64_MAX) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    p = lingma__malloc(rpc->alloc, sizeof(*p));
    if (!p || tab_reserve(rpc) != 0 || (deadline && heap_reserve(rpc) != 0)) {
        lingma__free(rpc->alloc, p);
        json_decref(params);
        return LINGMA_ENOMEM;
    }
    p->id = rpc->next_id;
    p->deadline = deadline;
    p->heap_idx = NO_HEAP;
    p->cb = cb;
    p->payload = payload;
    p->next = NULL;
    rc = send_call(rpc, p->id, method, params);
    json_decref(params);
    if (rc != 0) {
        lingma__free(rpc->alloc, p);
        return rc;
    }
    /* Nothing can fail past this point: the request is on its way. */
    rpc->next_id++;
    tab_put(rpc->tab, rpc->tab_cap, p);
    rpc->count++;
    if (deadline) {
        rpc->heap[rpc->heap_len] = p;
        p->heap_idx = rpc->heap_len++;
        heap_up(rpc, p->heap_idx);
    }
    rpc->stats.requests_sent++;
    if (out_id)
        *out_id = p->id;
    return 0;
}

LINGMA_EXPORT int
lingma_rpc_cancel(lingma_rpc *rpc, int64_t id)
{
    struct pending *p;
    size_t slot;

    if (!rpc)
        return LINGMA_ENOTFOUND;
    slot = tab_find(rpc, id);
    if (slot == NO_HEAP)
        return LINGMA_ENOTFOUND;
    p = rpc->tab[slot];
    unlink_pending(rpc, slot);
    if (p->cb)
        p->cb(rpc, LINGMA_ECANCELED, NULL, NULL, p->payload);
    lingma__free(rpc->alloc, p);
    return 0;
}

LINGMA_EXPORT int
lingma_rpc_notify(lingma_rpc *rpc, const char *method, json_t *params)
{
    int rc;

    if (!rpc || !method) {
        json_decref(params);
        return LINGMA_EINVAL;
    }
    if (rpc->closed || rpc->close_requested) {
        json_decref(params);
        return LINGMA_ECLOSED;
    }
    rc = send_call(rpc, 0, method, params);
    json_decref(params);
    if (rc == 0)
        rpc->stats.notifications_sent++;
    return rc;
}

/* Checks shared by the two respond functions; marks the request that
 * on_request is handling as answered. */
static int
respond_check(lingma_rpc *rpc, const json_t *id, int *is_current)
{
    *is_current = 0;
    if (!rpc || !id || !(json_is_number(id) || json_is_string(id)))
        return LINGMA_EINVAL;
    if (rpc->closed || rpc->close_requested)
        return LINGMA_ECLOSED;
    if (rpc->cur_id && (id == rpc->cur_id || json_equal((json_t *)id, (json_t *)rpc->cur_id))) {
        if (rpc->cur_answered)
            return LINGMA_EINVAL; /* answered twice from its own callback */
        *is_current = 1;
    }
    return 0;
}

LINGMA_EXPORT int
lingma_rpc_respond(lingma_rpc *rpc, const json_t *id, json_t *result)
{
    int current, rc = respond_check(rpc, id, &current);

    if (rc == 0)
        rc = send_result(rpc, id, result);
    json_decref(result);
    if (rc == 0 && current)
        rpc->cur_answered = 1;
    return rc;
}

LINGMA_EXPORT int
lingma_rpc_respond_error(lingma_rpc *rpc, const json_t *id, int code, const char *message)
{
    int current, rc = respond_check(rpc, id, &current);

    if (rc == 0)
        rc = send_error(rpc, id, code, message ? message : "");
    if (rc == 0 && current)
        rpc->cur_answered = 1;
    return rc;
}

LINGMA_EXPORT size_t
lingma_rpc_mem_send(lingma_rpc *rpc, const char **out)
{
    struct outframe *f;

    if (out)
        *out = NULL;
    if (!rpc || !out)
        return 0;
    lingma__free(rpc->alloc, rpc->lent);
    rpc->lent = NULL;
    f = rpc->out_head;
    if (!f)
        return 0;
    rpc->out_head = f->next;
    if (!rpc->out_head)
        rpc->out_tail = NULL;
    rpc->out_bytes -= f->len;
    rpc->lent = f;
    *out = f->data;
    return f->len;
}

LINGMA_EXPORT int
lingma_rpc_want_write(const lingma_rpc *rpc)
{
    return rpc && rpc->out_head != NULL;
}

LINGMA_EXPORT size_t
lingma_rpc_send_queued(const lingma_rpc *rpc)
{
    return rpc ? rpc->out_bytes : 0;
}

/* ---- receiving ---- */

static int
handle_request(lingma_rpc *rpc, const json_t *id, const char *method, json_t *params)
{
    int rc = 0, answered;

    rpc->stats.requests_received++;
    rpc->cur_id = id;
    rpc->cur_answered = 0;
    if (rpc->opts.on_request)
        rc = rpc->opts.on_request(rpc, id, method, params, rpc->opts.payload);
    answered = rpc->cur_answered;
    rpc->cur_id = NULL;
    if (rc == LINGMA_RPC_DEFER || answered || rpc->closed || rpc->close_requested)
        return 0;
    if (rc < 0)
        rc = send_error(rpc, id, LINGMA_RPC_INTERNAL_ERROR, "Internal error");
    else
        rc = send_result(rpc, id, NULL);
    if (rc != 0)
        rpc_log(rpc, LINGMA_LOG_ERROR, "rpc: could not answer request '%.64s': %s", method,
                lingma_strerror(rc));
    return rc;
}

static int
handle_response(lingma_rpc *rpc, json_t *id, json_t *result, json_t *error)
{
    struct pending *p;
    size_t slot;

    if (!json_is_integer(id) || (slot = tab_find(rpc, json_integer_value(id))) == NO_HEAP) {
        rpc->stats.unknown_responses++;
        if (json_is_integer(id))
            rpc_log(rpc, LINGMA_LOG_WARN, "rpc: response to unknown id %lld",
                    (long long)json_integer_value(id));
        else if (error)
            rpc_log(rpc, LINGMA_LOG_WARN, "rpc: peer reported an error (id %s): %.200s",
                    json_is_null(id) ? "null" : "not an integer",
                    json_string_value(json_object_get(error, "message"))
                        ? json_string_value(json_object_get(error, "message"))
                        : "");
        else
            rpc_log(rpc, LINGMA_LOG_WARN, "rpc: response with a non-integer id");
        return 0;
    }
    p = rpc->tab[slot];
    unlink_pending(rpc, slot);
    rpc->stats.responses_received++;
    if (p->cb) {
        if (error) {
            json_t *code = json_object_get(error, "code");
            json_t *message = json_object_get(error, "message");
            lingma_rpc_error e;
            json_int_t c = json_is_integer(code) ? json_integer_value(code) : 0;

            e.code = c > INT_MAX ? INT_MAX : c < INT_MIN ? INT_MIN : (int)c;
            e.message = json_is_string(message) ? json_string_value(message)
                        : json_is_string(error) ? json_string_value(error)
                                                : "";
            e.data = json_is_object(error) ? json_object_get(error, "data") : error;
            p->cb(rpc, LINGMA_ERPC, NULL, &e, p->payload);
        } else {
            p->cb(rpc, 0, result, NULL, p->payload);
        }
    }
    lingma__free(rpc->alloc, p);
    return 0;
}

static int
dispatch(lingma_rpc *rpc, json_t *msg)
{
    json_t *version, *method, *id, *result, *error;
    int version_ok;

    if (!json_is_object(msg)) {
        malformed(rpc, json_is_array(msg) ? "batches are not supported" : "not an object");
        return 0;
    }
    version = json_object_get(msg, "jsonrpc");
    method = json_object_get(msg, "method");
    id = json_object_get(msg, "id");
    version_ok = json_is_string(version) && strcmp(json_string_value(version), "2.0") == 0;

    if (method) {
        int id_ok = id && (json_is_number(id) || json_is_string(id));

        if (!version_ok || !json_is_string(method) || (id && !id_ok)) {
            malformed(rpc, !version_ok               ? "missing or wrong \"jsonrpc\""
                           : !json_is_string(method) ? "\"method\" is not a string"
                                                     : "\"id\" is not a number or a string");
            /* Still answer a request we can address, so the peer does not
             * wait for ever. */
            if (id_ok) {
                int rc = send_error(rpc, id, LINGMA_RPC_INVALID_REQUEST, "Invalid Request");
                return rc == LINGMA_ENOMEM ? rc : 0;
            }
            return 0;
        }
        if (!id) {
            rpc->stats.notifications_received++;
            if (rpc->opts.on_notification)
                rpc->opts.on_notification(rpc, json_string_value(method),
                                          json_object_get(msg, "params"), rpc->opts.payload);
            return 0;
        }
        return handle_request(rpc, id, json_string_value(method), json_object_get(msg, "params"));
    }

    if (!version_ok) {
        malformed(rpc, "missing or wrong \"jsonrpc\"");
        return 0;
    }
    if (!id) {
        malformed(rpc, "neither \"method\" nor \"id\"");
        return 0;
    }
    result = json_object_get(msg, "result");
    error = json_object_get(msg, "error");
    if (json_is_null(error) && result)
        error = NULL; /* some peers send "error": null next to a result */
    if (!error && !result) {
        malformed(rpc, "response without \"result\" or \"error\"");
        return 0;
    }
    return handle_response(rpc, id, result, error);
}

static int
handle_body(lingma_rpc *rpc, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *msg;
    int rc;

    memset(&jerr, 0, sizeof(jerr));
    msg = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (!msg) {
        /* jansson leaves the error empty on some allocation failures. */
        if (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0') {
            rpc_log(rpc, LINGMA_LOG_ERROR, "rpc: out of memory parsing a message; it was lost");
            return LINGMA_ENOMEM;
        }
        rpc->stats.malformed++;
        rpc_log(rpc, LINGMA_LOG_WARN, "rpc: skipped a malformed message: invalid JSON: %s",
                jerr.text);
        return 0;
    }
    rc = dispatch(rpc, msg);
    json_decref(msg);
    return rc;
}

static int
on_frame(const char *body, size_t len, void *payload)
{
    lingma_rpc *rpc = payload;

    if (rpc->close_requested)
        return LINGMA_ECLOSED;
    return handle_body(rpc, body, len);
}

LINGMA_EXPORT int
lingma_rpc_recv(lingma_rpc *rpc, const void *data, size_t len)
{
    int rc;

    if (!rpc || (!data && len))
        return LINGMA_EINVAL;
    if (rpc->busy)
        return LINGMA_EINVAL;
    if (rpc->closed)
        return LINGMA_ECLOSED;
    rpc->busy++;
    rc = lingma_frame_decoder_feed(rpc->dec, data, len, on_frame, rpc);
    if (rc == LINGMA_EPROTO || rc == LINGMA_EINVAL)
        rpc_log(rpc, LINGMA_LOG_ERROR, "rpc: broken framing: %s",
                lingma_frame_decoder_errmsg(rpc->dec));
    if (finish_busy(rpc))
        return LINGMA_ECLOSED;
    if (rpc->closed)
        return LINGMA_ECLOSED;
    return rc;
}

LINGMA_EXPORT int
lingma_rpc_recv_message(lingma_rpc *rpc, const char *body, size_t len)
{
    int rc;

    if (!rpc || (!body && len))
        return LINGMA_EINVAL;
    if (rpc->busy)
        return LINGMA_EINVAL;
    if (rpc->closed)
        return LINGMA_ECLOSED;
    rpc->busy++;
    rc = handle_body(rpc, body ? body : "", len);
    if (finish_busy(rpc))
        return LINGMA_ECLOSED;
    if (rpc->closed)
        return LINGMA_ECLOSED;
    return rc;
}

/* ---- time ---- */

LINGMA_EXPORT size_t
lingma_rpc_tick(lingma_rpc *rpc, uint64_t now)
{
    struct pending *list = NULL, **tail = &list;
    size_t n = 0;

    if (!rpc || rpc->closed || rpc->busy)
        return 0;
    /* Detach the expired ones first, in deadline order, so that callbacks
     * may call or cancel freely while we walk the list. */
    while (rpc->heap_len && rpc->heap[0]->deadline <= now) {
        struct pending *p = rpc->heap[0];
        heap_remove(rpc, p);
        tab_remove_at(rpc, tab_find(rpc, p->id));
        p->next = NULL;
        *tail = p;
        tail = &p->next;
    }
    rpc->busy++;
    while (list) {
        struct pending *p = list;
        list = p->next;
        n++;
        rpc->stats.timeouts++;
        if (p->cb)
            p->cb(rpc, LINGMA_ETIMEDOUT, NULL, NULL, p->payload);
        lingma__free(rpc->alloc, p);
    }
    finish_busy(rpc);
    return n;
}

LINGMA_EXPORT uint64_t
lingma_rpc_next_deadline(const lingma_rpc *rpc)
{
    return rpc && rpc->heap_len ? rpc->heap[0]->deadline : 0;
}

LINGMA_EXPORT size_t
lingma_rpc_pending_count(const lingma_rpc *rpc)
{
    return rpc ? rpc->count : 0;
}

LINGMA_EXPORT void
lingma_rpc_get_stats(const lingma_rpc *rpc, lingma_rpc_stats *out)
{
    if (!out)
        return;
    if (!rpc) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = rpc->stats;
}
