/*
 * Fuzz target: the gateway's request path for POST /v1/chat/completions.
 * Parses the body, and when it is accepted runs everything the daemon then
 * does with it (prompt, affinity, model resolution, stop matching, token
 * counting, response formatting), so that any accepted request is known to
 * survive the whole pure pipeline.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openai.h"
#include "sse.h"
#include "stop.h"
#include "tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const gw_model_entry catalogue[] = {
    {"auto", "Auto", false, false},
    {"dashscope_qwen3_coder", "qwen3-coder", false, false},
    {"dashscope_qwen_plus_20250428_thinking", "qwen3-thinking", true, false},
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_chat_request *req = NULL;
    gw_error err;
    gw_buf out = GW_BUF_INIT;
    if (gw_chat_request_parse(&req, &err, (const char *)data, size) != 0) {
        /* Every refusal must still make a valid envelope and SSE event. */
        if (gw_error_json(&out, &err) != 0 || gw_sse_error(&out, &err) != 0)
            abort();
        gw_buf_free(&out);
        return 0;
    }
    char *prompt = NULL;
    char *affinity = NULL;
    if (gw_chat_request_prompt(&prompt, req) == 0 &&
        gw_chat_request_affinity(&affinity, req) == 0) {
        const char *key = NULL;
        gw_model_resolve(&key, NULL, &err, catalogue, 3, req->model, "auto");
        gw_completion_meta meta = {"chatcmpl-fuzz", 1700000000, key ? key : "auto",
                                   req->include_usage};
        gw_stop_matcher m;
        if (gw_stop_init(&m, req->stop, req->n_stop) == 0) {
            /* Replay the prompt as if it were the answer, in odd pieces. */
            gw_buf text = GW_BUF_INIT;
            gw_token_counter tc = GW_TOKEN_COUNTER_INIT;
            size_t len = prompt ? strlen(prompt) : 0;
            bool hit = false;
            for (size_t i = 0; i < len && !hit; i += 7) {
                size_t k = len - i < 7 ? len - i : 7;
                size_t before = text.len;
                if (gw_stop_feed(&m, &text, prompt + i, k, &hit) != 0)
                    break;
                size_t take =
                    gw_token_counter_take(&tc, text.data + before, text.len - before,
                                          req->max_tokens ? (uint64_t)req->max_tokens : UINT64_MAX);
                if (gw_openai_chunk_content(&out, &meta, text.data + before, take) != 0)
                    break;
            }
            if (!hit)
                gw_stop_flush(&m, &text);
            gw_usage u = {(int64_t)gw_token_estimate(prompt, len),
                          (int64_t)gw_token_counter_total(&tc)};
            gw_openai_completion(&out, &meta, text.data, text.len, NULL, 0, "stop", &u);
            gw_buf_free(&text);
            gw_stop_free(&m);
        }
    }
    free(prompt);
    free(affinity);
    gw_buf_free(&out);
    gw_chat_request_free(req);
    return 0;
}
