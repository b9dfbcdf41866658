/*
 * The OpenAI Responses API front-end, in three pure parts shared by the
 * chat route (through gw_fe_responses), the /v1/responses/{id} routes and
 * the unit tests:
 *
 *   responses_parse.c   body -> gw_chat_request (+ gw_resp_request), the
 *                       conversation rebuilt from a stored chain;
 *   responses_input.c   input items -> the request model's messages;
 *   responses_render.c  the response object, output items and stream
 *                       events;
 *   responses.c         the gw_frontend glue and the store on finish;
 *   responses_items.c   GET .../input_items pages and DELETE's answer.
 *
 * doc/responses-compat.md describes the behaviour for users.
 */
#ifndef GW_API_RESPONSES_H
#define GW_API_RESPONSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/frontend.h"
#include "buf.h"
#include "errors.h"
#include "openai.h"
#include "responses_store.h"

/* A conversation rebuilt from previous_response_id may hold at most this
 * many stored responses: a bound on the work one request can ask for. */
#define GW_RESP_MAX_CHAIN 1000

/* The Responses request beyond the shared model (gw_chat_request.extra). */
typedef struct gw_resp_request {
    bool store;                 /* default true */
    char *previous_response_id; /* NULL: none */
    /* This request's input items, normalised: a string input is one user
     * message item; items keep what the client sent. Stored with the
     * response (ids added then) for input_items and later chains. */
    json_t *input;
    /* The request parameters a response object repeats (instructions,
     * max_output_tokens, metadata, parallel_tool_calls, reasoning, text,
     * tool_choice, tools, temperature, top_p, truncation, user, ...),
     * defaults filled in; in the order of the response object. */
    json_t *echo;
} gw_resp_request;

/* The extras of a request parsed by gw_resp_parse (NULL otherwise). */
const gw_resp_request *gw_resp_request_of(const gw_chat_request *req);

/*
 * Parse a POST /v1/responses body. With previous_response_id, the stored
 * chain (from `store`, which may be NULL) is rebuilt into the messages
 * before this request's input. 0; LINGMA_EINVAL (400, `err` names the
 * parameter); LINGMA_ENOTFOUND (404, an unknown, deleted or expired
 * previous_response_id, or a broken chain); LINGMA_ENOMEM.
 */
int gw_resp_parse(gw_chat_request **out, gw_error *err, const char *body, size_t len,
                  gw_resp_store *store);

/* Validate one tool definition (`where` names it in errors: "tools[2]")
 * and append it to the array `norm` in the request model's shape: function
 * and custom tools as Chat Completions has them ({"type":"function",
 * "function":{name, description, parameters, strict}}), every other type
 * as sent. 0, LINGMA_EINVAL or LINGMA_ENOMEM with `err`. */
int gw_resp_tool_add(json_t *norm, const json_t *t, const char *where, gw_error *err);

/* Input items -> messages (responses_input.c): appends to `req`'s
 * messages, which it grows (`cap` is their capacity). */
typedef struct gw_resp_input {
    gw_chat_request *req;
    size_t cap;
    gw_error *err;
} gw_resp_input;

/* A new zeroed message at the end, or NULL on OOM. */
gw_message *gw_resp_input_push(gw_resp_input *in);

/* Every item of the array `items`; `where` names it in errors ("input").
 * 0, LINGMA_EINVAL or LINGMA_ENOMEM with in->err. */
int gw_resp_input_add(gw_resp_input *in, const json_t *items, const char *where);

/* ---- rendering (responses_render.c) ------------------------------------ */

/* The ids of a response's output items, made from the response id's
 * random part so that they are unique without a random source:
 * "resp_<hex>" -> "msg_<hex>", "rs_<hex>". */
#define GW_RESP_ITEM_ID_SIZE 64
void gw_resp_item_id(char out[GW_RESP_ITEM_ID_SIZE], const char *prefix, const char *response_id);

typedef enum gw_resp_status {
    GW_RESP_IN_PROGRESS,
    GW_RESP_COMPLETED,
    GW_RESP_INCOMPLETE, /* max_output_tokens cut the answer */
    GW_RESP_FAILED,
} gw_resp_status;

/* A message output item: {"id","type":"message","status","role":"assistant",
 * "content":[output_text]}; `text` NULL gives "content":[] (the item as
 * it is announced). NULL on OOM. */
json_t *gw_resp_message_item(const char *id, gw_resp_status st, const char *text, size_t len);

/* A reasoning output item: {"id","type":"reasoning","summary":[...]},
 * the summary empty when `text` is NULL. NULL on OOM. */
json_t *gw_resp_reasoning_item(const char *id, const char *text, size_t len);

/* A function_call output item: {"id","type":"function_call","status",
 * "arguments","call_id","name"}; `arguments` NULL gives "" (the item as
 * it is announced). NULL on OOM. */
json_t *gw_resp_function_call_item(const char *id, gw_resp_status st, const char *call_id,
                                   const char *name, const char *arguments);

/* The usage object: input/output/total tokens and the details objects
 * the SDK types require (cached_tokens 0, reasoning_tokens). */
json_t *gw_resp_usage(const gw_usage *u);

/*
 * The response object. `output` (an array; NULL = []) is shared, not
 * copied: dump the object before changing it;
 * `usage` and `error` may be NULL (JSON null). The request's echo
 * parameters are copied in. NULL on OOM.
 */
json_t *gw_resp_object(const gw_answer *a, gw_resp_status st, const json_t *output,
                       const gw_usage *usage, const gw_error *error);

/* ---- delta events (responses_delta.c) ----------------------------------- */

/* One delta event of an item's text: `event: <type>` and data
 * {"type","sequence_number","item_id","output_index",<index_key>:0,
 * "delta"[,"logprobs":[]]}, in that order. */
typedef struct gw_resp_delta {
    const char *type;    /* "response.output_text.delta", ... (ASCII) */
    int64_t seq;         /* sequence_number */
    const char *item_id; /* gw_resp_item_id()'s (ASCII) */
    size_t output_index;
    const char *index_key; /* "content_index" or "summary_index" */
    bool logprobs;         /* output text deltas carry "logprobs":[] */
} gw_resp_delta;

/* Append the event, written directly (no tree); `text` of any bytes
 * (invalid UTF-8 becomes U+FFFD). All or nothing: 0 or LINGMA_ENOMEM. */
int gw_resp_delta_event(gw_buf *out, const gw_resp_delta *d, const char *text, size_t len);

/* ---- input items and DELETE (responses_items.c) ------------------------- */

/*
 * The input items as stored: a copy of `input` where every item has an
 * id (the client's, else "<msg|item>_<response hex>_<index>") and every
 * message item the listed form ("type":"message", content parts, a
 * status). New reference, NULL on OOM.
 */
json_t *gw_resp_input_with_ids(const json_t *input, const char *response_id);

/* One page of GET /v1/responses/{id}/input_items over the stored input
 * items text: {"object":"list","data":[...],"first_id","last_id",
 * "has_more"}. `limit` NULL means 20 (1..100); `order` "asc" or "desc"
 * (default, newest first); `after`/`before` an item id of the list.
 * 0, LINGMA_EINVAL (400 naming the query parameter) or LINGMA_ENOMEM. */
int gw_resp_input_items_page(gw_buf *out, gw_error *err, const char *stored_input, size_t len,
                             const char *limit, const char *order, const char *after,
                             const char *before);

/* DELETE's answer: {"id","object":"response.deleted","deleted":true}. */
int gw_resp_deleted(gw_buf *out, const char *id);

/* 404 for a response id that is not stored (param `param`, may be NULL). */
void gw_resp_error_not_found(gw_error *e, const char *id, const char *param);

#endif /* GW_API_RESPONSES_H */
