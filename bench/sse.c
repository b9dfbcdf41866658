/*
 * lingma-bench: an incremental SSE reader, just enough of the format for
 * measuring: lines split at any byte boundary, events classified by their
 * `event:` line or their data's first bytes and text found with a substring
 * search, never a JSON parse (the benchmark must not spend its CPU share on
 * the client side), comments (heartbeats) ignored. The shapes of the three
 * wire APIs are in http.h.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "http.h"

/* A single event line of the gateway is a few hundred bytes; anything
 * beyond this is a broken stream, not a long answer. */
#define SSE_MAX_LINE (1u << 20)

/* What an event is to the benchmark. */
enum {
    EV_UNNAMED, /* no `event:` line: the data decides */
    EV_OTHER,   /* named, and nothing to measure (starts, stops, pings, done events) */
    EV_DELTA,   /* carries answer text */
    EV_DONE,    /* the stream ended successfully */
    EV_ERROR,   /* the stream failed */
};

/* The shape of one API's stream. The keys end in `":"`, which cannot occur
 * inside a JSON string (its quotes are escaped), so the first match in a
 * delta event is the key itself; the stamp's characters need no escaping
 * either, so they are read in the raw text. */
struct shape {
    const char *delta_event; /* NULL: every data line may be a delta (chat) */
    const char *text_key;
    const char *done_event; /* NULL: data: [DONE] (chat) */
    const char *error_event;
};

static const struct shape shapes[API_COUNT] = {
    [API_CHAT] = {NULL, "\"content\":\"", NULL, "error"},
    /* Only text_delta has a "text" key: thinking_delta's is "thinking", so
     * reasoning is not counted as answer tokens, as for chat, whose
     * reasoning_content does not match "content". */
    [API_MESSAGES] = {"content_block_delta", "\"text\":\"", "message_stop", "error"},
    /* Only the answer's deltas: reasoning_summary_text.delta has a "delta"
     * key too, and output_text.done repeats the whole stamped text. */
    [API_RESPONSES] = {"response.output_text.delta", "\"delta\":\"", "response.completed",
                       "response.failed"},
};

static int
is(const char *p, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n == k && !memcmp(p, name, k);
}

/* The kind of an event named `p` (its `event:` line or its data's type). */
static int
classify(enum bench_api api, const char *p, size_t n)
{
    const struct shape *sh = &shapes[api];
    /* `event: error` is a failure in every API (Anthropic's own name). */
    if (is(p, n, sh->error_event) || is(p, n, "error"))
        return EV_ERROR;
    if (!sh->delta_event)
        return EV_UNNAMED; /* chat: data lines alone carry the meaning */
    if (is(p, n, sh->delta_event))
        return EV_DELTA;
    if (is(p, n, sh->done_event))
        return EV_DONE;
    return EV_OTHER;
}

static const char type_key[] = "{\"type\":\"";

/* An event without an `event:` line: what its data says it is. */
static int
classify_data(enum bench_api api, const char *p, size_t n)
{
    if (n >= 8 && !memcmp(p, "{\"error\"", 8))
        return EV_ERROR;
    if (api == API_CHAT)
        return n == 6 && !memcmp(p, "[DONE]", 6) ? EV_DONE : EV_DELTA;
    /* {"type":"<name>", ...: the gateway renders "type" first. */
    if (n > sizeof(type_key) - 1 && !memcmp(p, type_key, sizeof(type_key) - 1)) {
        const char *name = p + sizeof(type_key) - 1;
        const char *q = memchr(name, '"', n - (size_t)(name - p));
        if (q)
            return classify(api, name, (size_t)(q - name));
    }
    return EV_OTHER;
}

/* Strip a field's name and the one optional space after the colon. */
static int
field(const char **p, size_t *n, const char *name, size_t len)
{
    if (*n < len || memcmp(*p, name, len) != 0)
        return 0;
    *p += len;
    *n -= len;
    if (*n && **p == ' ') {
        (*p)++;
        (*n)--;
    }
    return 1;
}

static void
on_line(struct sse *s, const char *p, size_t n, sse_chunk_fn on_chunk, void *arg)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (!n) {
        s->event = EV_UNNAMED; /* the blank line ends the event */
        return;
    }
    if (field(&p, &n, "event:", 6)) {
        s->event = classify(s->api, p, n);
        return;
    }
    if (!field(&p, &n, "data:", 5))
        return; /* a comment (": ping") or another field */
    s->events++;
    int kind = s->event != EV_UNNAMED ? s->event : classify_data(s->api, p, n);
    if (kind == EV_DONE) {
        s->done = 1;
        return;
    }
    if (kind == EV_ERROR) {
        s->error = 1;
        return;
    }
    if (kind != EV_DELTA)
        return;
    const char *key = shapes[s->api].text_key;
    size_t klen = strlen(key);
    const char *c = memmem(p, n, key, klen);
    if (!c)
        return;
    c += klen;
    size_t rest = n - (size_t)(c - p);
    /* An empty text (chat's role chunk) is not a token. */
    if (!rest || *c == '"')
        return;
    uint64_t stamp = 0;
    stamp_parse(c, rest, &stamp);
    s->tokens++;
    on_chunk(stamp, arg);
}

int
sse_feed(struct sse *s, const char *buf, size_t n, sse_chunk_fn on_chunk, void *arg)
{
    while (n) {
        const char *nl = memchr(buf, '\n', n);
        size_t take = nl ? (size_t)(nl - buf) : n;
        if (!s->len && nl) {
            /* The common case: a whole line inside this buffer, no copy. */
            on_line(s, buf, take, on_chunk, arg);
        } else {
            if (s->len + take > SSE_MAX_LINE)
                return -1;
            if (s->len + take > s->cap) {
                size_t cap = s->cap ? s->cap : 512;
                while (cap < s->len + take)
                    cap *= 2;
                char *l = realloc(s->line, cap);
                if (!l)
                    return -1;
                s->line = l;
                s->cap = cap;
            }
            memcpy(s->line + s->len, buf, take);
            s->len += take;
            if (nl) {
                on_line(s, s->line, s->len, on_chunk, arg);
                s->len = 0;
            }
        }
        if (!nl)
            break;
        buf += take + 1;
        n -= take + 1;
    }
    return 0;
}

void
sse_reset(struct sse *s, enum bench_api api)
{
    s->len = 0;
    s->api = api;
    s->event = EV_UNNAMED;
    s->done = s->error = s->tokens = s->events = 0;
}

const char *
sse_end_name(enum bench_api api)
{
    return shapes[api].done_event ? shapes[api].done_event : "[DONE]";
}

void
sse_free(struct sse *s)
{
    free(s->line);
    memset(s, 0, sizeof(*s));
}
