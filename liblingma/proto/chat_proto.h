/*
 * The chat part of Lingma's protocol as pure functions over jansson values:
 * build chat/ask params, decode chat/answer, chat/finish and usage pushes
 * (lingma-protocol.md §6). No I/O, no clock, no randomness.
 */
#ifndef LINGMA_INTERNAL_CHAT_PROTO_H
#define LINGMA_INTERNAL_CHAT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lingma/chat.h"

struct lingma_ask_spec {
    const char *request_id; /* 32 hex */
    const char *session_id; /* NULL: "" (Lingma creates one) */
    const char *prompt;
    const char *model;    /* NULL or "": "auto" */
    lingma_ask_mode mode; /* CHAT or AGENT; DEFAULT means CHAT */
};

/* New reference to the chat/ask params object, or NULL (bad UTF-8, ENOMEM). */
json_t *lingma_chat_proto_ask(const struct lingma_ask_spec *spec);

/* Write 32 lowercase hex digits for 16 bytes of `rnd` into out[33]. */
void lingma_chat_proto_hex_id(char out[33], const unsigned char rnd[16]);

/* chat/answer. Strings are borrowed from `params`. */
struct lingma_answer {
    const char *request_id;
    const char *session_id; /* NULL when absent */
    const char *text;       /* never NULL after success ("" when absent) */
    size_t len;
};

/* @return 0 or LINGMA_EPROTO (not an object, no requestId) */
int lingma_chat_proto_answer(struct lingma_answer *out, const json_t *params);

/* chat/finish. Strings are borrowed from `params`. */
struct lingma_finish {
    const char *request_id;
    const char *session_id;  /* NULL when absent */
    int status_code;         /* 200 when absent */
    const char *reason;      /* "" when absent */
    const char *full_answer; /* "" when absent */
    size_t full_answer_len;
    lingma_usage usage; /* from extra, when present */
};

/* @return 0 or LINGMA_EPROTO */
int lingma_chat_proto_finish(struct lingma_finish *out, const json_t *params);

/*
 * Token counts in an object: snake_case or camelCase prompt/completion/total,
 * directly or under "usage" / "tokenUsage". Sets out->present when any was found.
 */
void lingma_chat_proto_usage(lingma_usage *out, const json_t *obj);

/* A params object's requestId, or NULL. */
const char *lingma_chat_proto_request_id(const json_t *params);

/* chat/process_step_callback: 1 when it reports step_end. */
int lingma_chat_proto_is_step_end(const json_t *params);

#endif
