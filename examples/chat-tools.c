/*
 * chat-tools: one round of an agent's loop. Declare a tool, let Lingma
 * call it, "run" it, and send the result back for the answer.
 *
 *     chat-tools [QUESTION]
 *
 * The backend comes from LINGMA_BIN (the Lingma binary, or lingma-sim with
 * LINGMA_SIM_REPLY=tools) and LINGMA_WORK_DIR. Prints the call, then the
 * answer. Uses the blocking lingma_chat_complete().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lingma/lingma.h>

static const lingma_tool weather = {"get_weather", "The current weather of a city",
                                    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
                                    "\"string\"}},\"required\":[\"city\"]}"};

/* The tool itself: a real program would look the weather up. */
static void
get_weather(char *out, size_t n, const char *arguments)
{
    snprintf(out, n, "{\"arguments\":%s,\"temp_c\":21,\"sky\":\"clear\"}", arguments);
}

int
main(int argc, char **argv)
{
    const char *question = argc > 1 ? argv[1] : "What is the weather in Paris?";
    lingma_pool_options po = LINGMA_POOL_OPTIONS_INIT;
    lingma_chat_options co = LINGMA_CHAT_OPTIONS_INIT;
    lingma_chat_result *r = NULL;
    lingma_toolset *tools = NULL;
    lingma_pool *pool = NULL;
    char *call = NULL, *result = NULL, *transcript = NULL, output[1024];
    int rc;

    po.binary = getenv("LINGMA_BIN");
    po.work_dir = getenv("LINGMA_WORK_DIR");
    if (!po.binary || !po.work_dir) {
        fprintf(stderr, "chat-tools: set LINGMA_BIN and LINGMA_WORK_DIR\n");
        return 2;
    }
    if ((rc = lingma_toolset_new(&tools, &weather, 1, NULL)) != 0 ||
        (rc = lingma_pool_new(&pool, &po)) != 0)
        goto out;

    /* 1. The question, with the tool on offer. */
    co.prompt = question;
    co.tools = tools;
    if ((rc = lingma_chat_complete(&r, pool, &co)) != 0)
        goto out;
    if (r->tool_call_count == 0) { /* Lingma answered without the tool */
        printf("%s\n", r->text);
        goto out;
    }
    const lingma_chat_tool_call *tc = &r->tool_calls[0];
    printf("call %s %s\n", tc->name, tc->arguments);

    /* 2. Run it, and ask again with the call and its result in the
     * transcript, in the notation of the tool contract. */
    get_weather(output, sizeof(output), tc->arguments);
    if ((rc = lingma_tool_call_text(&call, tc->name, tc->arguments)) != 0 ||
        (rc = lingma_tool_result_text(&result, tc->id, tc->name, output, 0)) != 0)
        goto out;
    size_t n = strlen(question) + strlen(call) + strlen(result) + 64;
    if (!(transcript = malloc(n))) {
        rc = LINGMA_ENOMEM;
        goto out;
    }
    snprintf(transcript, n, "User: %s\n\nAssistant:\n%s\n\n%s", question, call, result);
    lingma_chat_result_free(r);
    co.prompt = transcript;
    if ((rc = lingma_chat_complete(&r, pool, &co)) == 0)
        printf("%s\n", r->text);

out:
    if (rc != 0)
        fprintf(stderr, "chat-tools: %s: %s\n", lingma_error_name(rc),
                r ? r->message : lingma_strerror(rc));
    lingma_chat_result_free(r);
    lingma_free(call);
    lingma_free(result);
    free(transcript);
    lingma_pool_free(pool);
    lingma_toolset_free(tools);
    return rc == 0 ? 0 : 1;
}
