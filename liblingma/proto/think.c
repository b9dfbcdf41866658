/* Streaming think-block splitter; see think.h. */
#include <string.h>

#include "think.h"

static const char open_marker[] = "\n````think::";
static const char close_marker[] = "\n````\n";

/*
 * Both markers start with '\n' and contain no other '\n' before their last
 * byte, so after a mismatch no suffix of the held bytes can start a new
 * match: the held bytes are plain text and only the current byte needs
 * a second look. That keeps the matcher a simple counter.
 */

void
lingma__think_init(struct lingma__think *t)
{
    memset(t, 0, sizeof(*t));
    /* A virtual newline lets a block at the very start match the marker. */
    t->held[0] = '\n';
    t->held_len = 1;
    t->held_virtual = 1;
}

static int
emit_held(struct lingma__think *t, int reasoning, lingma__think_emit_fn emit, void *payload)
{
    const char *p = t->held;
    size_t n = t->held_len;
    int rc = 0;

    if (t->held_virtual) {
        p++;
        n--;
    }
    if (n)
        rc = emit(reasoning, p, n, payload);
    t->held_len = 0;
    t->held_virtual = 0;
    return rc;
}

static int
emit_run(const char *text, size_t from, size_t to, int reasoning, lingma__think_emit_fn emit,
         void *payload)
{
    return to > from ? emit(reasoning, text + from, to - from, payload) : 0;
}

int
lingma__think_feed(struct lingma__think *t, const char *text, size_t len,
                   lingma__think_emit_fn emit, void *payload)
{
    size_t run = 0; /* start of the pending output run in `text` */
    int rc;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (t->state == LINGMA__THINK_HEADER) {
            if (c == '\n') {
                t->state = LINGMA__THINK_BODY;
                run = i + 1;
            }
            continue;
        }

        int reasoning = t->state == LINGMA__THINK_BODY;
        const char *m = reasoning ? close_marker : open_marker;
        size_t mlen = reasoning ? sizeof(close_marker) - 1 : sizeof(open_marker) - 1;

        if (t->held_len > 0 && c != m[t->held_len]) {
            /* Mismatch: the held bytes were text after all. */
            if ((rc = emit_held(t, reasoning, emit, payload)) != 0)
                return rc;
            run = i;
        }
        if (t->held_len == 0) {
            if (c != m[0])
                continue;
            if ((rc = emit_run(text, run, i, reasoning, emit, payload)) != 0)
                return rc;
        }
        t->held[t->held_len++] = c;
        run = i + 1;
        if (t->held_len == mlen) {
            t->held_len = 0;
            t->held_virtual = 0;
            t->state = reasoning ? LINGMA__THINK_TEXT : LINGMA__THINK_HEADER;
        }
    }
    if (t->held_len == 0 && t->state != LINGMA__THINK_HEADER)
        return emit_run(text, run, len, t->state == LINGMA__THINK_BODY, emit, payload);
    return 0;
}

int
lingma__think_finish(struct lingma__think *t, lingma__think_emit_fn emit, void *payload)
{
    int rc = 0;

    if (t->state == LINGMA__THINK_BODY) {
        /* A block closed by "\n````" at the very end lacks only its newline. */
        if (!(t->held_len == sizeof(close_marker) - 2 &&
              memcmp(t->held, close_marker, t->held_len) == 0))
            rc = emit_held(t, 1, emit, payload);
    } else if (t->state == LINGMA__THINK_TEXT) {
        rc = emit_held(t, 0, emit, payload);
    }
    lingma__think_init(t);
    return rc;
}
