/*
 * The Anthropic Messages API (POST /v1/messages, /v1/messages/count_tokens,
 * and the Anthropic shape of GET /v1/models), as pure functions:
 *
 *   - messages_parse.c: a Messages body -> the one request model
 *     (gw_chat_request), or a gw_error naming the field the way Anthropic
 *     does ("messages.1.content.0.type: ...");
 *   - messages.c: the front-end (gw_fe_messages): the event model -> the
 *     Messages answer or its named SSE events;
 *   - anthropic_models.c: the models list and one model.
 *
 * doc/anthropic-compat.md describes the behaviour for users;
 * tests/unit/test-gw-messages.c pins it.
 */
#ifndef GW_API_MESSAGES_H
#define GW_API_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errors.h"
#include "frontend.h"
#include "openai.h"

/* The least thinking budget Anthropic accepts. */
#define GW_MESSAGES_MIN_THINKING_BUDGET 1024

/*
 * Parse and validate a Messages body of exactly `len` bytes (the same body
 * checks as every API: gw_json_body_load). `count_only` is the
 * count_tokens form, where max_tokens is not part of the request.
 *
 * The mapping onto the request model: `system` (a string or text blocks)
 * is the first system message; user and assistant text blocks are joined
 * with "\n"; an assistant's tool_use blocks are its tool calls (input as
 * compact JSON); every tool_result block is a tool message of its own
 * (named after the tool_use it answers, is_error kept), before the user
 * text of its turn; thinking blocks are dropped; image, document and
 * other blocks are refused. `tools` and `tool_choice` are validated and
 * kept in the Chat Completions shape (a custom tool becomes
 * {"type":"function","function":{name, description, parameters}},
 * defer_loading kept, tool_choice auto/any/none/tool becomes
 * "auto"/"required"/"none"/{function name}, disable_parallel_tool_use
 * single_tool_call), so the tool layer (toolset.c) reads one shape
 * whatever the API.
 *
 * 0 and a new request in *out; LINGMA_EINVAL with `err` (400); or
 * LINGMA_ENOMEM.
 */
int gw_messages_parse(gw_chat_request **out, gw_error *err, const char *body, size_t len,
                      bool count_only);

/* The front-end of POST /v1/messages. */
extern const gw_frontend gw_fe_messages;

/* The signature of the thinking block of answer `id`: Lingma signs
 * nothing, but clients keep and resend it, so it is stable and marked as
 * the gateway's. Appends to `out`; 0 or LINGMA_ENOMEM. */
int gw_messages_signature(gw_buf *out, const char *id);

/* count_tokens' answer: {"input_tokens":N}. 0 or LINGMA_ENOMEM. */
int gw_anthropic_count(gw_buf *out, int64_t input_tokens);

/* GET /v1/models for an Anthropic client:
 * {"data":[{"type":"model","id","display_name","created_at"}...],
 *  "has_more":false,"first_id","last_id"} (ids null when empty), with
 * created_at the RFC 3339 UTC form of `created` (unix seconds). */
int gw_anthropic_models(gw_buf *out, const gw_model_entry *catalogue, size_t n, int64_t created);

/* GET /v1/models/{id}: one {"type":"model","id","display_name","created_at"}. */
int gw_anthropic_model(gw_buf *out, const gw_model_entry *entry, int64_t created);

#endif /* GW_API_MESSAGES_H */
