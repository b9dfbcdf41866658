/*
 * chat-once: ask Lingma one question and print the answer.
 *
 *     chat-once [-m MODEL] PROMPT      ("-" reads the prompt from stdin)
 *
 * The backend comes from LINGMA_BIN (the Lingma binary, or lingma-sim) and
 * LINGMA_WORK_DIR. Uses the blocking lingma_chat_complete().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lingma/lingma.h>

static char *
read_all(FILE *f)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t n;

    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    if (buf)
        buf[len] = '\0';
    return buf;
}

int
main(int argc, char **argv)
{
    lingma_pool_options po = LINGMA_POOL_OPTIONS_INIT;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;
    lingma_pool *pool = NULL;
    char *stdin_prompt = NULL;
    int opt, rc;

    while ((opt = getopt(argc, argv, "m:")) != -1) {
        if (opt != 'm') {
            fprintf(stderr, "usage: chat-once [-m MODEL] PROMPT|-\n");
            return 2;
        }
        co.model = optarg;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: chat-once [-m MODEL] PROMPT|-\n");
        return 2;
    }
    co.prompt = argv[optind];
    if (strcmp(co.prompt, "-") == 0 && !(co.prompt = stdin_prompt = read_all(stdin)))
        return 1;
    po.binary = getenv("LINGMA_BIN");
    po.work_dir = getenv("LINGMA_WORK_DIR");
    if (!po.binary || !po.work_dir) {
        fprintf(stderr, "chat-once: set LINGMA_BIN and LINGMA_WORK_DIR\n");
        free(stdin_prompt);
        return 2;
    }
    if ((rc = lingma_pool_new(&pool, &po)) != 0) {
        fprintf(stderr, "chat-once: %s\n", lingma_strerror(rc));
        free(stdin_prompt);
        return 1;
    }
    rc = lingma_chat_complete(&r, pool, &co);
    if (rc == 0)
        printf("%s\n", r->text);
    else
        fprintf(stderr, "chat-once: %s: %s\n", lingma_error_name(rc),
                r ? r->message : lingma_strerror(rc));
    lingma_chat_result_free(r);
    lingma_pool_free(pool);
    free(stdin_prompt);
    return rc == 0 ? 0 : 1;
}
