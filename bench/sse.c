/*
 * lingma-bench: an incremental SSE reader, just enough of the format for
 * measuring: lines split at any byte boundary, `data:` lines classified
 * without a JSON parse (the benchmark must not spend its CPU share on the
 * client side), comments (heartbeats) ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "http.h"

/* A single event line of the gateway is a few hundred bytes; anything
 * beyond this is a broken stream, not a long answer. */
#define SSE_MAX_LINE (1u << 20)

static const char content_key[] = "\"content\":\"";

static void
on_line(struct sse *s, const char *p, size_t n, sse_chunk_fn on_chunk, void *arg)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (n < 5 || memcmp(p, "data:", 5) != 0)
        return; /* blank separator, comment (": ping") or another field */
    p += 5;
    n -= 5;
    if (n && *p == ' ') {
        p++;
        n--;
    }
    s->events++;
    if (n == 6 && !memcmp(p, "[DONE]", 6)) {
        s->done = 1;
        return;
    }
    if (n >= 8 && !memcmp(p, "{\"error\"", 8)) {
        s->error = 1;
        return;
    }
    /* The delta's content string; the stamp's characters need no JSON
     * escaping, so it is matched in the raw text. An empty content (the
     * role chunk) is not a token. */
    const char *c = memmem(p, n, content_key, sizeof(content_key) - 1);
    if (!c)
        return;
    c += sizeof(content_key) - 1;
    size_t rest = n - (size_t)(c - p);
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
sse_reset(struct sse *s)
{
    s->len = 0;
    s->done = s->error = s->tokens = s->events = 0;
}

void
sse_free(struct sse *s)
{
    free(s->line);
    memset(s, 0, sizeof(*s));
}
