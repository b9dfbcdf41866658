/*
 * chat-stream: ask Lingma one question and print the answer as it streams.
 *
 *     chat-stream [-m MODEL] PROMPT    (LINGMA_BIN, LINGMA_WORK_DIR as chat-once)
 *
 * Deltas are written to stdout as they arrive, reasoning (think-block) text
 * to stderr. The main thread waits on a condition variable for the one
 * terminal event.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lingma/lingma.h>

struct state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    int error;
};

static void
on_event(const lingma_chat_event *ev, void *payload)
{
    struct state *st = payload;

    switch (ev->type) {
    case LINGMA_CHAT_DELTA:
        fwrite(ev->delta.text, 1, ev->delta.len, stdout);
        fflush(stdout);
        return;
    case LINGMA_CHAT_REASONING:
        fwrite(ev->delta.text, 1, ev->delta.len, stderr);
        return;
    case LINGMA_CHAT_STARTED:
    case LINGMA_CHAT_TOOL_CALL: /* this example declares no tools */
        return;
    case LINGMA_CHAT_DONE:
    case LINGMA_CHAT_ERROR:
        if (ev->type == LINGMA_CHAT_ERROR)
            fprintf(stderr, "\nchat-stream: %s: %s\n", lingma_error_name(ev->error.code),
                    ev->error.message);
        pthread_mutex_lock(&st->mu);
        st->error = ev->type == LINGMA_CHAT_ERROR;
        st->finished = 1;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        return;
    }
}

int
main(int argc, char **argv)
{
    lingma_pool_options po = LINGMA_POOL_OPTIONS_INIT;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    struct state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    lingma_pool *pool = NULL;
    lingma_chat_id id;
    int opt, rc;

    while ((opt = getopt(argc, argv, "m:")) != -1) {
        if (opt != 'm')
            return 2;
        co.model = optarg;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: chat-stream [-m MODEL] PROMPT\n");
        return 2;
    }
    po.binary = getenv("LINGMA_BIN");
    po.work_dir = getenv("LINGMA_WORK_DIR");
    if (!po.binary || !po.work_dir || (rc = lingma_pool_new(&pool, &po)) != 0) {
        fprintf(stderr, "chat-stream: set LINGMA_BIN and LINGMA_WORK_DIR\n");
        return 2;
    }
    co.prompt = argv[optind];
    co.on_event = on_event;
    co.payload = &st;
    if ((rc = lingma_chat_start(&id, NULL, pool, &co)) != 0) {
        fprintf(stderr, "chat-stream: %s\n", lingma_strerror(rc));
        lingma_pool_free(pool);
        return 1;
    }
    pthread_mutex_lock(&st.mu);
    while (!st.finished)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);
    printf("\n");
    lingma_pool_free(pool);
    return st.error ? 1 : 0;
}
