/*
 * Fuzz target for chat/ask's direct writer (liblingma/proto/ask_write.c):
 * for any prompt, model and session id (the input, cut at NUL bytes; its
 * first byte picks the mode), it must give the JSON lingma__method_ask()
 * builds, or fail exactly when that one does (a string not UTF-8). The
 * session id also goes through chat/deleteSessionById's writer, held equal
 * to lingma__method_delete_session() the same way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ask_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The writer's outcome (rc, the bytes in `w`) against the tree `ref`
 * (consumed): both fail, or both give the same JSON, member order too. */
static void
same(json_t *ref, int rc, const struct lingma__jsonw *w)
{
    if ((ref == NULL) != (rc != 0) || w->oom)
        abort();
    if (ref) {
        json_error_t err;
        json_t *got = json_loadb(w->buf, w->len, JSON_ALLOW_NUL, &err);
        if (!got || !json_equal(got, ref))
            abort();
        /* Same members in the same order: the same bytes once dumped. */
        char *a = json_dumps(got, JSON_COMPACT), *b = json_dumps(ref, JSON_COMPACT);
        if (!a || !b || strcmp(a, b) != 0)
            abort();
        free(a);
        free(b);
        json_decref(got);
    }
    json_decref(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lingma__ask_spec spec = {"0123456789abcdef0123456789abcdef", NULL, "", NULL,
                                    LINGMA_ASK_CHAT};
    struct lingma__jsonw w = {0};
    char *in = malloc(size + 1);
    const char *parts[3] = {"", NULL, NULL};

    if (!in)
        return 0;
    if (size > 0) {
        spec.mode = data[0] & 1 ? LINGMA_ASK_AGENT : LINGMA_ASK_CHAT;
        memcpy(in, data + 1, size - 1);
        in[size - 1] = '\0';
        /* prompt \0 model \0 session */
        size_t at = 0, len = size - 1;
        for (int k = 0; k < 3 && at <= len; k++) {
            parts[k] = in + at;
            at += strlen(in + at) + 1;
        }
    } else {
        in[0] = '\0';
    }
    spec.prompt = parts[0];
    spec.model = parts[1];
    spec.session_id = parts[2];

    lingma__jsonw_reset(&w, 0);
    same(lingma__method_ask(&spec), lingma__method_ask_write(&w, &spec), &w);
    if (spec.session_id) {
        lingma__jsonw_reset(&w, 0);
        same(lingma__method_delete_session(spec.session_id),
             lingma__method_delete_session_write(&w, spec.session_id), &w);
    }
    lingma__jsonw_trim(&w, 0);
    free(in);
    return 0;
}
