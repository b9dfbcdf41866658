/*
 * liblingma: chats on a pool.
 *
 * A chat is started with lingma_chat_start() from any thread and is then
 * referred to by its 64-bit id, never by pointer. Its events arrive through
 * one callback on the pool's service thread, in order:
 *
 *     STARTED  (once Lingma accepted chat/ask; absent when the chat fails earlier)
 *     DELTA / REASONING *
 *     TOOL_CALL *  (only with tools in the options: see tools.h)
 *     DONE or ERROR  (exactly one terminal event)
 *
 * No event at all fires when lingma_chat_start() returns an error. Event data
 * is borrowed for the duration of the callback. The callback may call
 * lingma_chat_start() and lingma_chat_cancel(), never lingma_pool_free() or
 * lingma_chat_complete().
 *
 * No silent truncation: a chat whose connection drops or whose Lingma dies
 * before chat/finish ends with LINGMA_EIO, never with DONE; so does one
 * whose Lingma goes silent (lingma_pool_options.stall_timeout_ms).
 *
 * Chats go only to instances that serve (connected and logged in). With
 * none serving, a chat ends at once with LINGMA_EUNAVAIL, unless an
 * instance is still in its first start, which it then waits for.
 */
#ifndef LINGMA_CHAT_H
#define LINGMA_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "lingma/common.h"
#include "lingma/pool.h"
#include "lingma/tools.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A chat id; unique within a pool, never 0. */
typedef uint64_t lingma_chat_id;

typedef enum lingma_chat_event_type {
    LINGMA_CHAT_STARTED = 0,
    LINGMA_CHAT_DELTA = 1,
    LINGMA_CHAT_REASONING = 2,
    LINGMA_CHAT_DONE = 3,
    LINGMA_CHAT_ERROR = 4,
    LINGMA_CHAT_TOOL_CALL = 5, /**< a valid call (options version 2 with tools) */
} lingma_chat_event_type;

/** Token counts, when Lingma reported them. */
typedef struct lingma_usage {
    int present; /**< 0: Lingma sent no usage; the counts are 0 */
    uint64_t prompt_tokens;
    uint64_t completion_tokens;
    uint64_t total_tokens;
} lingma_usage;

/**
 * One event. Only the member matching `type` is meaningful. Every pointer
 * is borrowed for the duration of the callback; text is UTF-8, never split
 * inside a character, and NUL-terminated (len excludes the NUL).
 */
typedef struct lingma_chat_event {
    lingma_chat_event_type type;
    lingma_chat_id id;
    struct {
        const char *instance;   /**< "inst-<i>" */
        const char *session_id; /**< Lingma's session id ("" when not yet known) */
    } started;
    struct {
        const char *text;
        size_t len;
    } delta; /**< DELTA (answer text) and REASONING (think-block text) */
    struct {
        int status_code;    /**< chat/finish statusCode (200) */
        const char *reason; /**< chat/finish reason ("" when absent) */
        const char *text;   /**< the whole answer without the think block */
        size_t len;
        const char *session_id;  /**< the session Lingma used */
        uint64_t first_token_ms; /**< ask sent to first delta; 0 when no delta came */
        uint64_t total_ms;       /**< chat start to finish */
        lingma_usage usage;
        size_t tool_calls; /**< TOOL_CALL events of this chat: > 0 means it ends in calls */
    } done;
    struct {
        int code;                    /**< negative LINGMA_E* */
        const char *message;         /**< detail text, never NULL */
        int status_code;             /**< upstream statusCode for LINGMA_EUPSTREAM, else 0 */
        int rpc_code;                /**< JSON-RPC error code for LINGMA_ERPC, else 0 */
        unsigned int retry_after_ms; /**< for LINGMA_EBUSY, else 0 */
    } error;
    /** TOOL_CALL: one call, after every DELTA of the answer and before DONE. */
    struct {
        size_t index;          /**< 0, 1, ... */
        const char *id;        /**< "call_" + 24 hex digits, unique within the pool's life */
        const char *name;      /**< a declared tool */
        const char *arguments; /**< compact JSON text of an object that matches its schema */
    } tool_call;
} lingma_chat_event;

typedef void (*lingma_chat_event_fn)(const lingma_chat_event *ev, void *payload);

/* Version 2 appended the tool fields (tools and after). Version 1 is still
 * accepted: those fields are then taken as unset. */
#define LINGMA_CHAT_OPTIONS_VERSION 2

/** Options of one chat. Strings are copied by lingma_chat_start(). */
typedef struct lingma_chat_options {
    unsigned int version;     /**< LINGMA_CHAT_OPTIONS_VERSION */
    const char *prompt;       /**< required, non-empty */
    const char *model;        /**< a Lingma model key; NULL: the pool's default model */
    const char *session_id;   /**< continue this Lingma session; NULL or "": a new one */
    const char *affinity_key; /**< chats with the same key prefer the same instance; may be NULL */
    lingma_ask_mode ask_mode; /**< LINGMA_ASK_DEFAULT: the pool's */
    unsigned int timeout_ms;  /**< whole chat; 0: the pool's chat_timeout_ms */
    unsigned int first_token_timeout_ms; /**< 0: the pool's */
    lingma_chat_event_fn on_event;       /**< required for lingma_chat_start() */
    void *payload;
    /**
     * Tool calling (version 2; doc/tools.md). With tools and a choice other
     * than NONE, the tool section of lingma_tool_prompt() goes before the
     * prompt, the answer runs through a lingma_tool_parser, DELTA events
     * carry only text that cannot be part of a call block, and the valid
     * calls come as TOOL_CALL events once the answer is complete. An answer
     * with an invalid call (an undeclared tool, arguments against the
     * schema), or without a call when one is required, is asked once more
     * with a short correction; after that its text is delivered as text
     * (AUTO) or the chat ends with LINGMA_EPROTO (REQUIRED, NAMED). The
     * toolset must outlive the chat.
     */
    const lingma_toolset *tools;    /**< NULL: no tool calling */
    lingma_tool_choice tool_choice; /**< LINGMA_TOOL_CHOICE_AUTO by default */
    const char *tool_name;          /**< the tool of LINGMA_TOOL_CHOICE_NAMED */
    int single_tool_call;           /**< 1: keep only the first call (parallel_tool_calls false) */
} lingma_chat_options;

#define LINGMA_CHAT_OPTIONS_INIT                                                                   \
    {                                                                                              \
        LINGMA_CHAT_OPTIONS_VERSION                                                                \
    }

/** What admission decided, for callers that want the retry-after hint synchronously. */
typedef struct lingma_chat_admission {
    int queued;                  /**< 1 when the chat waits for a slot */
    unsigned int retry_after_ms; /**< with LINGMA_EBUSY: when a retry may succeed */
} lingma_chat_admission;

/**
 * Start a chat. Never blocks: the chat is admitted, queued (waiting at
 * most queue_timeout_ms, then ending with a LINGMA_EBUSY error event) or
 * rejected at once.
 *
 * @param out    receives the chat id (required)
 * @param admit  optional; receives the admission decision and, on
 *               LINGMA_EBUSY, the retry-after hint
 * Threads: any thread, including an event callback.
 * @return 0 (the callback will fire, ending with one terminal event);
 *         LINGMA_EINVAL (NULL or empty prompt, no on_event, unknown version;
 *         a tool_choice out of range, REQUIRED or NAMED without tools, NAMED
 *         with a tool_name the toolset does not declare);
 *         LINGMA_EBUSY (in-flight limit and queue full); LINGMA_ENOMEM;
 *         LINGMA_ECLOSED (the pool is shutting down).
 */
LINGMA_EXPORT int lingma_chat_start(lingma_chat_id *out, lingma_chat_admission *admit,
                                    lingma_pool *pool, const lingma_chat_options *opts);

/**
 * Cancel a chat: a queued chat leaves the queue and never reaches Lingma; a
 * running one is stopped upstream (chat/stop). Either way the chat ends with
 * a LINGMA_ECANCELED error event, on the service thread, and its slot is freed.
 * Threads: any thread, including an event callback.
 * @return 0 (the cancellation was posted; if the chat finished meanwhile the
 *         terminal event already sent stands); LINGMA_ENOTFOUND (no such
 *         live chat); LINGMA_EINVAL; LINGMA_ECLOSED.
 */
LINGMA_EXPORT int lingma_chat_cancel(lingma_pool *pool, lingma_chat_id id);

/** One tool call of a lingma_chat_result: the TOOL_CALL event, copied. */
typedef struct lingma_chat_tool_call {
    char *id;        /**< "call_" + 24 hex digits */
    char *name;      /**< a declared tool */
    char *arguments; /**< compact JSON text of an object */
} lingma_chat_tool_call;

/** The outcome of lingma_chat_complete(); strings are NUL-terminated and owned by it. */
typedef struct lingma_chat_result {
    int error;       /**< 0 or the terminal error code */
    char *message;   /**< error detail ("" on success) */
    int status_code; /**< chat/finish statusCode, or the upstream code of LINGMA_EUPSTREAM */
    unsigned int retry_after_ms;
    char *text; /**< the answer (without the think block) */
    size_t len;
    char *reasoning; /**< the think-block text ("" when none) */
    size_t reasoning_len;
    char *session_id; /**< "" when unknown */
    char *instance;   /**< "" when the chat never started */
    uint64_t first_token_ms;
    uint64_t total_ms;
    lingma_usage usage;
    /* Appended with LINGMA_CHAT_OPTIONS_VERSION 2 (the library allocates
     * results, so their layout may grow at the end). */
    lingma_chat_tool_call *tool_calls; /**< the TOOL_CALL events in order; NULL when none */
    size_t tool_call_count;            /**< == DONE's tool_calls; 0 on error */
} lingma_chat_result;

/**
 * Run one chat to its end and return its outcome: a wait on a condition
 * variable over lingma_chat_start(), not a second implementation.
 * `opts->on_event` may be NULL; when set it is also called for every event.
 *
 * @param out  receives the result (may be NULL); set whenever the chat
 *             started, whatever its outcome, and for LINGMA_EBUSY at start (with
 *             retry_after_ms); NULL otherwise; release with lingma_chat_result_free()
 * Threads: any thread except the pool's service thread (LINGMA_EINVAL there).
 * @return 0 on DONE, else the terminal error code, or what lingma_chat_start() returned.
 */
LINGMA_EXPORT int lingma_chat_complete(lingma_chat_result **out, lingma_pool *pool,
                                       const lingma_chat_options *opts);

/** Free a result. NULL is accepted. */
LINGMA_EXPORT void lingma_chat_result_free(lingma_chat_result *result);

#ifdef __cplusplus
}
#endif

#endif /* LINGMA_CHAT_H */
