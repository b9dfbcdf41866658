/*
 * Fuzz target: the tool-call parser (include/lingma/tools.h). An answer
 * is fed whole, then split at a point the input chooses, then byte by
 * byte; beyond memory safety it checks what the contract promises:
 *   - the result does not depend on how the answer was split into deltas
 *     (same text, same calls, same validity);
 *   - an answer with no call is handed out as text unchanged, byte for byte;
 *   - every call's arguments are the JSON text of an object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lingma/tools.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    struct lingma__buf text;
    struct lingma__buf calls;
    size_t n;
};

static void
on_text(const char *t, size_t n, void *payload)
{
    struct out *o = payload;
    if (lingma__buf_append(NULL, &o->text, t, n) != 0)
        abort();
}

static void
on_call(const lingma_tool_call *c, void *payload)
{
    struct out *o = payload;
    json_t *args = json_loads(c->arguments, 0, NULL);
    if (!json_is_object(args))
        abort();
    json_decref(args);
    if (c->valid != (c->error == NULL))
        abort();
    if (lingma__buf_append(NULL, &o->calls, c->name, strlen(c->name)) != 0 ||
        lingma__buf_append(NULL, &o->calls, c->valid ? "+" : "-", 1) != 0 ||
        lingma__buf_append(NULL, &o->calls, c->arguments, strlen(c->arguments)) != 0 ||
        lingma__buf_append(NULL, &o->calls, "\n", 1) != 0)
        abort();
    o->n++;
}

static const lingma_tool_parser_callbacks cbs = {on_text, on_call};

static void
run(struct out *o, const lingma_toolset *ts, const char *s, size_t n, size_t step, size_t cut)
{
    memset(o, 0, sizeof(*o));
    lingma_tool_parser *p = NULL;
    if (lingma_tool_parser_new(&p, ts) != 0)
        abort();
    if (step == 0)
        step = n ? n : 1;
    if (cut > 0 && cut < n) {
        if (lingma_tool_parser_feed(p, s, cut, &cbs, o) != 0 ||
            lingma_tool_parser_feed(p, s + cut, n - cut, &cbs, o) != 0)
            abort();
    } else {
        for (size_t i = 0; i < n; i += step)
            if (lingma_tool_parser_feed(p, s + i, n - i < step ? n - i : step, &cbs, o) != 0)
                abort();
    }
    if (lingma_tool_parser_finish(p, &cbs, o) != 0)
        abort();
    lingma_tool_parser_free(p);
}

static void
same(const struct out *a, const struct out *b)
{
    if (a->text.len != b->text.len || a->calls.len != b->calls.len || a->n != b->n ||
        (a->text.len && memcmp(a->text.p, b->text.p, a->text.len) != 0) ||
        (a->calls.len && memcmp(a->calls.p, b->calls.p, a->calls.len) != 0))
        abort();
}

static void
release(struct out *o)
{
    free(o->text.p);
    free(o->calls.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const lingma_tool tools[] = {
        {"get_weather", "w",
         "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"n\":{\"type\":"
         "\"integer\"},\"u\":{\"enum\":[\"c\",\"f\"]}},\"required\":[\"city\"]}"},
        {"noargs", NULL, NULL},
    };
    if (size < 1 || size > 16384)
        return 0;
    lingma_toolset *ts = NULL;
    if (lingma_toolset_new(&ts, tools, 2, NULL) != 0)
        abort();
    size_t cut = data[0] % size; /* the first byte chooses the split */
    const char *s = (const char *)data + 1;
    size_t n = size - 1;

    struct out whole, split, bytes;
    run(&whole, ts, s, n, 0, 0);
    run(&split, ts, s, n, 0, cut);
    run(&bytes, ts, s, n, 1, 0);
    same(&whole, &split);
    same(&whole, &bytes);
    if (whole.n == 0 && (whole.text.len != n || (n && memcmp(whole.text.p, s, n) != 0)))
        abort();
    release(&whole);
    release(&split);
    release(&bytes);
    lingma_toolset_free(ts);
    return 0;
}
