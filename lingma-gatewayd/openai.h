/*
 * The OpenAI chat-completions surface, as pure functions:
 *
 *   - request parsing and validation (openai.c): body bytes -> gw_chat_request,
 *     or a gw_error naming the offending `param`;
 *   - prompt flattening and the affinity key (openai_prompt.c);
 *   - model resolution against the Lingma catalogue (openai_model.c);
 *   - response formatting (openai_format.c): chat.completion,
 *     chat.completion.chunk, the models list, as compact JSON text.
 *
 * Nothing here touches a socket, a thread, a clock or a random source: ids
 * and timestamps are passed in. doc/openai-compat.md describes the
 * behaviour for users.
 */
#ifndef GW_OPENAI_H
#define GW_OPENAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/tools.h"

#include "buf.h"
#include "errors.h"
#include "reqjson.h"

/* Limits of a request. */
#define GW_OPENAI_MAX_DEPTH    GW_REQJSON_MAX_DEPTH /* deeper bodies are refused before parsing */
#define GW_OPENAI_MAX_STOP     4                    /* OpenAI's own limit on `stop` */
#define GW_OPENAI_MAX_STOP_LEN 256
#define GW_MAX_STOP            16 /* any API: the request model's room for stop sequences */

typedef enum gw_role {
    GW_ROLE_SYSTEM,
    GW_ROLE_DEVELOPER,
    GW_ROLE_USER,
    GW_ROLE_ASSISTANT,
    GW_ROLE_TOOL,
    GW_ROLE_FUNCTION,
} gw_role;

typedef struct gw_tool_call {
    char *id;        /* may be NULL */
    char *name;      /* function name */
    char *arguments; /* the JSON text the model produced, may be NULL */
} gw_tool_call;

typedef struct gw_message {
    gw_role role;
    /* The text: a string content as is, text parts joined with "\n"; NULL
     * when the content was null or absent (an assistant turn that only
     * called tools). */
    char *content;
    char *name;         /* optional `name` */
    char *tool_call_id; /* `tool_call_id` of a tool result */
    bool is_error;      /* a tool result the client marked failed (Anthropic is_error) */
    gw_tool_call *tool_calls;
    size_t n_tool_calls;
} gw_message;

/* The one request model every wire API parses into (api/frontend.h):
 * Chat Completions fills it directly; the Messages and Responses front-ends
 * map their shapes onto the same roles, texts, tool calls and results. */
typedef struct gw_chat_request {
    char *model; /* NULL when absent or null */
    gw_message *messages;
    size_t n_messages;
    bool stream;
    bool include_usage; /* stream_options.include_usage (only meaningful with stream) */
    char *user;         /* NULL when absent */
    int64_t max_tokens; /* max_completion_tokens, else max_tokens; 0 = no limit */
    bool has_temperature;
    double temperature; /* 0..2 */
    bool has_top_p;
    double top_p; /* 0..1 */
    char *stop[GW_MAX_STOP];
    size_t n_stop; /* empty strings are dropped */
    /* tools / tool_choice as declared, in the Chat Completions shape
     * whatever the API (new references); tools of other types (hosted,
     * custom, namespaces) are kept as sent. */
    json_t *tools;
    size_t n_tools;
    json_t *tool_choice;
    bool single_tool_call; /* parallel_tool_calls false, Anthropic disable_parallel_tool_use */
    /* What gw_chat_request_tools() made of them (toolset.c), for the chat
     * options: the tools Lingma is offered, NULL when none is (no callable
     * tool declared, or tool_choice none). */
    lingma_toolset *toolset;
    lingma_tool_choice choice;
    char *tool_name;     /* the tool of LINGMA_TOOL_CHOICE_NAMED */
    bool show_reasoning; /* render Lingma's think text (Anthropic: thinking enabled) */
    /* A front-end's own parsed extras (the Responses API keeps its input
     * items and `store` here), freed with the request. */
    void *extra;
    void (*extra_free)(void *extra);
} gw_chat_request;

/*
 * Parse and validate a POST /v1/chat/completions body of exactly `len`
 * bytes. Duplicate object keys are refused (two parsers reading one body
 * differently is a classic smuggling vector), as are nesting deeper than
 * GW_OPENAI_MAX_DEPTH, invalid UTF-8 and "\u0000".
 *
 * Returns 0 and a new request in *out; LINGMA_EINVAL with `err` describing
 * the problem (status 400, type invalid_request_error, param naming the
 * field such as "messages[2].content[1]"); or LINGMA_ENOMEM (`err` = 500).
 */
int gw_chat_request_parse(gw_chat_request **out, gw_error *err, const char *body, size_t len);

/* NULL-safe. */
void gw_chat_request_free(gw_chat_request *req);

/*
 * Flatten the conversation into the single question Lingma takes.
 *
 * A conversation of exactly one user message is sent as its text alone,
 * unless tools are offered (req->toolset). Anything else becomes (sections
 * omitted when empty):
 *
 *   System instructions:
 *   <each system/developer message, in order, separated by a blank line>
 *
 *   Conversation transcript:
 *   User: <text>
 *   Assistant: <text>
 *   Assistant:
 *   <text, if any>
 *   ```tool_call
 *   {"name":"<name>","arguments":{...}}      one line per call of the turn
 *   ```
 *   Tool result (<tool_call_id>, <name>):    "Tool error" when is_error
 *   ```tool_result
 *   <text>
 *   ```
 *
 *   Answer the latest User message above. Reply with the answer only,
 *   without a speaker label.
 *
 * Calls and results are in the tool contract's notation (doc/tools.md,
 * lingma_tool_call_text and lingma_tool_result_text): arguments that are
 * not a JSON object show as {}, a result's fence is longer than any
 * backtick run at the start of its lines, and the parts of the label that
 * are absent are left out ("Tool result (c1):", "Tool result:"). A
 * `function` role message is a tool result. With tools offered, the last
 * line asks the model to continue the conversation, calling tools when
 * needed, instead of "the answer only". Transcript entries are separated
 * by a blank line; a multi-line text is kept as is after its label.
 *
 * 0 and a malloc'd NUL-terminated string in *out, or LINGMA_ENOMEM.
 */
int gw_chat_request_prompt(char **out, const gw_chat_request *req);

/*
 * The routing affinity key: the request's `user` when present, else
 * "sys-" + the FNV-1a 64-bit hash (16 hex digits) of the system
 * instructions block (system and developer messages joined by "\n\n"),
 * else none. 0 with a malloc'd string or NULL (no key) in *out, or
 * LINGMA_ENOMEM.
 */
int gw_chat_request_affinity(char **out, const gw_chat_request *req);

/* The header a load balancer hashes on (deploy/haproxy, deploy/nginx). */
#define GW_AFFINITY_HEADER "X-Lingma-Affinity"

/*
 * The affinity key of a request that carried `header` (the value of
 * GW_AFFINITY_HEADER, NULL when absent): a non-empty header wins, so that
 * the conversation the balancer keeps on one host also stays on one
 * instance there; else gw_chat_request_affinity(). Same results.
 */
int gw_chat_affinity_key(char **out, const char *header, const gw_chat_request *req);

/* FNV-1a, 64 bits. */
uint64_t gw_fnv1a64(const void *data, size_t len);

/* One entry of the Lingma model catalogue (config/queryModels). */
typedef struct gw_model_entry {
    const char *key;          /* "dashscope_qwen3_coder" */
    const char *display_name; /* "qwen3-coder"; may be NULL */
    bool is_reasoning;
    bool is_vl;
} gw_model_entry;

/*
 * Resolve a requested model name to a Lingma model key.
 *
 * `requested` NULL, "" or "auto" (any case) means `default_model` (NULL
 * taken as "auto"). The name is then looked up, first match wins:
 *   1. a key, exactly;
 *   2. a display name or a key, ignoring case;
 *   3. an alias: the name and each key/display name are normalized (lower
 *      case; '-', '.', ' ' and '/' become '_'; a leading "lingma_" is
 *      dropped) and compared, also against the key without its vendor
 *      prefix (the part up to the first '_': "dashscope_qwen3_coder" is
 *      also known as "qwen3-coder").
 * "auto" itself, when the catalogue has no such entry, resolves to the key
 * "auto": Lingma's own default choice.
 *
 * With an empty catalogue (not loaded yet) any name passes through
 * unchecked, so that a cold gateway still serves requests.
 *
 * Returns 0 with *key_out pointing into the catalogue (or a static "auto",
 * or `requested` itself for an empty catalogue) and *entry_out the entry
 * or NULL; LINGMA_ENOTFOUND with `err` = 404 model_not_found.
 */
int gw_model_resolve(const char **key_out, const gw_model_entry **entry_out, gw_error *err,
                     const gw_model_entry *catalogue, size_t n, const char *requested,
                     const char *default_model);

/* ---- Responses ---------------------------------------------------------- */

/* What every chunk of one completion shares. `id` and `created` are chosen
 * by the caller (see gw_completion_id) and must not change within a stream. */
typedef struct gw_completion_meta {
    const char *id;
    int64_t created; /* unix seconds */
    const char *model;
    bool include_usage; /* stream_options.include_usage: "usage":null on chunks */
} gw_completion_meta;

typedef struct gw_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    /* The part of completion_tokens that was reasoning (an estimate: Lingma
     * reports totals only); the Responses API's output_tokens_details. */
    int64_t reasoning_tokens;
} gw_usage;

/* prompt + completion, saturated: the counts are estimates that no real
 * answer brings near the limits, but a sum must never overflow. */
static inline int64_t
gw_usage_total(const gw_usage *u)
{
    int64_t a = u->prompt_tokens, b = u->completion_tokens;
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Size of a completion id: "chatcmpl-" + 2 * GW_COMPLETION_ID_BYTES + NUL. */
#define GW_COMPLETION_ID_BYTES 12
#define GW_COMPLETION_ID_SIZE  (9 + 2 * GW_COMPLETION_ID_BYTES + 1)

/* "chatcmpl-<24 hex digits>" from caller-supplied random bytes. */
void gw_completion_id(char out[GW_COMPLETION_ID_SIZE],
                      const uint8_t random[GW_COMPLETION_ID_BYTES]);

/*
 * The formatters below append one compact JSON object (no newline) to
 * `out`, or nothing on failure. Text arguments are (pointer, length) and
 * must be valid UTF-8 (what the stop matcher and the token counter hand
 * out); invalid bytes are replaced by U+FFFD rather than failing the
 * response. `finish_reason` is "stop", "length", ... Return 0 or
 * LINGMA_ENOMEM.
 */

/* A JSON string from text that should be UTF-8: invalid bytes become
 * U+FFFD rather than failing the whole response. NULL only on OOM. */
json_t *gw_json_text(const char *s, size_t len);

/* A non-streaming chat.completion. `reasoning` may be NULL (the key
 * reasoning_content is then absent); `usage` may be NULL (no usage key). */
int gw_openai_completion(gw_buf *out, const gw_completion_meta *meta, const char *content,
                         size_t content_len, const char *reasoning, size_t reasoning_len,
                         const char *finish_reason, const gw_usage *usage);

/* The same with the calls the model made: message.tool_calls
 * [{id, type "function", function {name, arguments}}] when n_calls > 0. */
int gw_openai_completion_calls(gw_buf *out, const gw_completion_meta *meta, const char *content,
                               size_t content_len, const char *reasoning, size_t reasoning_len,
                               const gw_tool_call *calls, size_t n_calls, const char *finish_reason,
                               const gw_usage *usage);

/* The general (jansson tree) versions behind gw_openai_completion_calls
 * and the content/reasoning chunks, which write the common cases directly
 * (jsonout.h); exposed for the test that holds the two byte-equal. `key`
 * is "content" or "reasoning_content". */
int gw_openai_completion_tree(gw_buf *out, const gw_completion_meta *meta, const char *content,
                              size_t content_len, const char *reasoning, size_t reasoning_len,
                              const gw_tool_call *calls, size_t n_calls, const char *finish_reason,
                              const gw_usage *usage);
int gw_openai_chunk_text_tree(gw_buf *out, const gw_completion_meta *meta, const char *key,
                              const char *text, size_t len);

/* The first chunk: delta {"role":"assistant","content":""}. */
int gw_openai_chunk_role(gw_buf *out, const gw_completion_meta *meta);

/* A content delta: delta {"content": text}. */
int gw_openai_chunk_content(gw_buf *out, const gw_completion_meta *meta, const char *text,
                            size_t len);

/* A reasoning delta: delta {"reasoning_content": text} (DeepSeek/vLLM
 * convention, read by most OpenAI-compatible clients that show thinking). */
int gw_openai_chunk_reasoning(gw_buf *out, const gw_completion_meta *meta, const char *text,
                              size_t len);

/* A tool call fragment: delta {"tool_calls":[{index, ...}]}. With `id`
 * it is a call's first fragment (id, type "function", function {name,
 * arguments}); without, a continuation (function {arguments}). */
int gw_openai_chunk_tool_call(gw_buf *out, const gw_completion_meta *meta, size_t index,
                              const char *id, const char *name, const char *arguments);

/* The last choice chunk: empty delta and the finish reason. */
int gw_openai_chunk_finish(gw_buf *out, const gw_completion_meta *meta, const char *finish_reason);

/* The usage chunk sent before [DONE] when include_usage: "choices":[]. */
int gw_openai_chunk_usage(gw_buf *out, const gw_completion_meta *meta, const gw_usage *usage);

/* GET /v1/models: {"object":"list","data":[model...]}; ids are the keys. */
int gw_openai_models(gw_buf *out, const gw_model_entry *catalogue, size_t n, int64_t created,
                     const char *owned_by);

/* GET /v1/models/{id}: one {"id","object":"model","created","owned_by"}. */
int gw_openai_model(gw_buf *out, const gw_model_entry *entry, int64_t created,
                    const char *owned_by);

#endif
