/*
 * Every Lingma method and push that liblingma uses, as pure functions over
 * jansson values (lingma-protocol.md): the method names, the params we
 * send, and what we read out of results and pushes. No I/O, no clock, no
 * randomness. Strings read out of a value are borrowed from it.
 */
#ifndef LINGMA_INTERNAL_METHODS_H
#define LINGMA_INTERNAL_METHODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/chat.h"
#include "lingma/pool.h"

/* ---- methods we call ---- */

#define LINGMA__M_INITIALIZE      "initialize"
#define LINGMA__M_INITIALIZED     "initialized" /* a notification */
#define LINGMA__M_AUTH_STATUS     "auth/status"
#define LINGMA__M_LOGIN_URL       "login/generateUrl"
#define LINGMA__M_QUERY_MODELS    "config/queryModels"
#define LINGMA__M_GET_ENDPOINT    "config/getEndpoint"
#define LINGMA__M_UPDATE_ENDPOINT "config/updateEndpoint"
#define LINGMA__M_CHAT_ASK        "chat/ask"
#define LINGMA__M_CHAT_STOP       "chat/stop"
#define LINGMA__M_DELETE_SESSION  "chat/deleteSessionById"

/* The params of the methods that take none: initialized, auth/status,
 * config/queryModels, config/getEndpoint. */
json_t *lingma__method_no_params(void);

/* initialize: the workspace is `work_dir`, named `name`. Never NULL but on
 * ENOMEM: a work dir that is not UTF-8 gives {}, which Lingma takes too. */
json_t *lingma__method_initialize(long pid, const char *client_version, const char *work_dir,
                                  const char *name);

struct lingma__ask_spec {
    const char *request_id; /* 32 hex */
    const char *session_id; /* NULL: "" (Lingma creates one) */
    const char *prompt;
    const char *model;    /* NULL or "": "auto" */
    lingma_ask_mode mode; /* CHAT or AGENT; DEFAULT means CHAT */
};

/* 1 when `prompt` can be sent in a chat/ask (valid UTF-8). */
bool lingma__method_ask_prompt_ok(const char *prompt);

/* New reference to the chat/ask params object, or NULL (bad UTF-8, ENOMEM). */
json_t *lingma__method_ask(const struct lingma__ask_spec *spec);

/* A chat/ask result: 0 accepted, LINGMA_ERPC refused ("success" or
 * "isSuccess" false); `*why` gets "errorMessage" or NULL. */
int lingma__method_ask_result(const json_t *result, const char **why);

/* Write 32 lowercase hex digits for 16 bytes of `rnd` into out[33]: a
 * chat/ask requestId. */
void lingma__method_hex_id(char out[33], const unsigned char rnd[16]);

json_t *lingma__method_stop(const char *request_id, const char *session_id);
json_t *lingma__method_delete_session(const char *session_id);
json_t *lingma__method_login_url(void);
/* NULL when `endpoint` is not UTF-8 (or ENOMEM). */
json_t *lingma__method_update_endpoint(const char *endpoint);

/* An auth/status result or an auth/report push: 0 with `*status` (2 is
 * logged in) and `*name` (may be NULL; "" when absent), or LINGMA_EPROTO. */
int lingma__method_auth(const json_t *v, int *status, const char **name);

/* A login/generateUrl result: 0 with `*url` (may be ""); LINGMA_EPROTO
 * without a loginUrl string; LINGMA_ERPC when "success" is false. `*why`
 * gets "errorMsg" or NULL in every case. */
int lingma__method_login_url_result(const json_t *result, const char **url, const char **why);

/* config/getEndpoint: 0 with `*endpoint`, or LINGMA_EPROTO. */
int lingma__method_endpoint_result(const json_t *result, const char **endpoint);

/* config/updateEndpoint, given the params it was sent with: 0 with the
 * endpoint now set; LINGMA_ERPC when "success" is false; LINGMA_EPROTO. */
int lingma__method_update_endpoint_result(const json_t *result, const json_t *params,
                                          const char **endpoint);

/* config/queryModels: scene -> [item]; not logged in gives {} (an empty
 * list). Fills `out` (zeroed first; strings and array from malloc, freed
 * with lingma__method_models_clear()); an item that cannot be copied is
 * left out. @return 0 or LINGMA_EPROTO (not an object). */
int lingma__method_models_result(const json_t *result, lingma_model_list *out);
void lingma__method_models_clear(lingma_model_list *l);

/* ---- pushes Lingma sends ---- */

/* What we answer to a chat push (Lingma waits for it before the next). */
json_t *lingma__method_ack(void);

enum lingma__push {
    LINGMA__PUSH_OTHER = 0,
    LINGMA__PUSH_ANSWER,      /* chat/answer (request) */
    LINGMA__PUSH_FINISH,      /* chat/finish (request) */
    LINGMA__PUSH_THINK,       /* chat/think (request) */
    LINGMA__PUSH_STEP,        /* chat/process_step_callback (request) */
    LINGMA__PUSH_AUTH_REPORT, /* auth/report (request) */
    LINGMA__PUSH_USAGE,       /* context/usage/sync (notification) */
    LINGMA__PUSH_TOOL_INVOKE, /* tool/invoke (request, agent mode) */
};

enum lingma__push lingma__push_kind(const char *method);

/* chat/answer. Strings are borrowed from `params`. */
struct lingma__answer {
    const char *request_id;
    const char *session_id; /* NULL when absent */
    const char *text;       /* never NULL after success ("" when absent) */
    size_t len;
};

/* @return 0 or LINGMA_EPROTO (not an object, no requestId) */
int lingma__method_answer(struct lingma__answer *out, const json_t *params);

/* chat/finish. Strings are borrowed from `params`. */
struct lingma__finish {
    const char *request_id;
    const char *session_id;  /* NULL when absent */
    int status_code;         /* 200 when absent */
    const char *reason;      /* "" when absent */
    const char *full_answer; /* "" when absent */
    size_t full_answer_len;
    lingma_usage usage; /* from extra, when present */
};

/* @return 0 or LINGMA_EPROTO */
int lingma__method_finish(struct lingma__finish *out, const json_t *params);

/*
 * Token counts in an object: snake_case or camelCase prompt/completion/total,
 * directly or under "usage" / "tokenUsage". Sets out->present when any was found.
 */
void lingma__method_usage(lingma_usage *out, const json_t *obj);

/* context/usage/sync: the counts above, else "usedTokens" as the prompt
 * (and total) count. `out` is zeroed first. */
void lingma__method_context_usage(lingma_usage *out, const json_t *params);

/* tool/invoke {requestId, toolCallId, name, parameters, async}: what it
 * names, borrowed from `params` ("" when absent). */
struct lingma__tool_invoke {
    const char *request_id, *tool_call_id, *name;
};
void lingma__method_tool_invoke(struct lingma__tool_invoke *out, const json_t *params);

/* The ToolInvokeResponse that refuses a tool/invoke: {toolCallId, name,
 * success: false, errorMessage: `why`, result: null, startTime:
 * `start_ms` (epoch ms), timeConsuming: 0}. NULL on ENOMEM or a `why`
 * that is not UTF-8. */
json_t *lingma__method_tool_invoke_refusal(const struct lingma__tool_invoke *ti, const char *why,
                                           int64_t start_ms);

/* A params object's requestId, or NULL. */
const char *lingma__method_request_id(const json_t *params);

/* A params object's sessionId, or NULL. */
const char *lingma__method_session_id(const json_t *params);

/* chat/process_step_callback: 1 when it reports step_end. */
int lingma__method_is_step_end(const json_t *params);

#endif
