/**
 * @file tools.h
 * Tool calling over Lingma's chat: the contract and the parser (sans-I/O).
 *
 * Lingma's chat mode answers with text only. liblingma emulates function
 * calling the way proven proxies do: a short contract added to the prompt
 * (the tool section, and calls and results in the transcript in the same
 * notation), and a strict, streaming parser of the answer that hands out
 * text safe to show and complete, validated calls. doc/tools.md is the
 * contract's record.
 *
 * Everything here is pure: no threads, sockets or clocks. A toolset is
 * immutable once made and may be shared by threads; a parser belongs to
 * one answer and one thread at a time.
 *
 * Errors: functions return 0 or a negative LINGMA_E* code (common.h).
 * Strings returned through `char **out` are released with lingma_free().
 */
#ifndef LINGMA_TOOLS_H
#define LINGMA_TOOLS_H

#include <stddef.h>

#include "lingma/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One tool as a client declares it. Strings are copied by lingma_toolset_new(). */
typedef struct lingma_tool {
    const char *name;        /**< required: [A-Za-z0-9_.:-]{1,128} */
    const char *description; /**< may be NULL */
    /** JSON Schema of the arguments, as JSON text; NULL: any object. */
    const char *parameters;
} lingma_tool;

/** What the model may or must do with the tools. */
typedef enum lingma_tool_choice {
    LINGMA_TOOL_CHOICE_AUTO = 0,     /**< call tools or answer in text */
    LINGMA_TOOL_CHOICE_NONE = 1,     /**< no tool section at all */
    LINGMA_TOOL_CHOICE_REQUIRED = 2, /**< at least one call */
    LINGMA_TOOL_CHOICE_NAMED = 3,    /**< only the named tool is offered, and must be called */
} lingma_tool_choice;

/** Declared tools with their schemas parsed once. */
typedef struct lingma_toolset lingma_toolset;

/**
 * Make a toolset from `n` declarations.
 * @return 0; LINGMA_EINVAL (a missing or malformed name, a duplicate name,
 *         parameters that are not a JSON object), with the offending index in
 *         *bad_index when not NULL; or LINGMA_ENOMEM.
 */
LINGMA_EXPORT int lingma_toolset_new(lingma_toolset **out, const lingma_tool *tools, size_t n,
                                     size_t *bad_index);

/** Free a toolset (NULL-safe). */
LINGMA_EXPORT void lingma_toolset_free(lingma_toolset *ts);

/** Number of tools. */
LINGMA_EXPORT size_t lingma_toolset_count(const lingma_toolset *ts);

/** 1 when a tool named `name` was declared, else 0. */
LINGMA_EXPORT int lingma_toolset_has(const lingma_toolset *ts, const char *name);

/** Options of the tool section. Set `version` to LINGMA_TOOL_PROMPT_OPTIONS_VERSION. */
typedef struct lingma_tool_prompt_options {
    unsigned int version;
    lingma_tool_choice choice;
    const char *named; /**< the tool for LINGMA_TOOL_CHOICE_NAMED */
    int parallel;      /**< 0: "Call one tool at a time." */
} lingma_tool_prompt_options;

#define LINGMA_TOOL_PROMPT_OPTIONS_VERSION 1
#define LINGMA_TOOL_PROMPT_OPTIONS_INIT                                                            \
    {                                                                                              \
        LINGMA_TOOL_PROMPT_OPTIONS_VERSION, LINGMA_TOOL_CHOICE_AUTO, NULL, 1                       \
    }

/**
 * The tool section of a prompt (doc/tools.md, "The tool section"), in a
 * malloc'd string, or NULL in *out when there is nothing to add (choice
 * NONE, or no tools).
 * @return 0; LINGMA_EINVAL (choice NAMED with an undeclared name); LINGMA_ENOMEM.
 */
LINGMA_EXPORT int lingma_tool_prompt(char **out, const lingma_toolset *ts,
                                     const lingma_tool_prompt_options *opts);

/**
 * An assistant's earlier call as the transcript shows it: a tool_call
 * block with {"name","arguments"} (arguments: JSON text of an object; NULL
 * or invalid JSON is rendered as {}). Malloc'd into *out.
 */
LINGMA_EXPORT int lingma_tool_call_text(char **out, const char *name, const char *arguments);

/**
 * A tool result as the transcript shows it: "Tool result (ID, NAME):" (or
 * "Tool error" when is_error) and the content in a tool_result fence that the
 * content cannot close. `id` and `name` may be NULL. Malloc'd into *out.
 */
LINGMA_EXPORT int lingma_tool_result_text(char **out, const char *id, const char *name,
                                          const char *content, int is_error);

/** One call found in an answer. Borrowed for the duration of the callback. */
typedef struct lingma_tool_call {
    size_t index;          /**< 0, 1, ... in the order of the answer */
    const char *name;      /**< as the model wrote it */
    const char *arguments; /**< compact JSON text of an object ("{}" when absent) */
    int valid;             /**< 1: a declared tool and arguments that match its schema */
    const char *error;     /**< why not valid (a short English sentence), else NULL */
} lingma_tool_call;

/** Where a parser hands out what it found. Either callback may be NULL. */
typedef struct lingma_tool_parser_callbacks {
    /** Answer text that cannot become part of a call block. */
    void (*on_text)(const char *text, size_t len, void *payload);
    /** A call, once its block closed (or the answer ended inside it). */
    void (*on_call)(const lingma_tool_call *call, void *payload);
} lingma_tool_parser_callbacks;

/** A streaming parser of one answer. */
typedef struct lingma_tool_parser lingma_tool_parser;

/** Make a parser for answers to a prompt made with `ts` (which must outlive it). */
LINGMA_EXPORT int lingma_tool_parser_new(lingma_tool_parser **out, const lingma_toolset *ts);

/**
 * Feed the next delta. Text is handed out as soon as it cannot be the start
 * of a call block; calls when their block closes. Callbacks run inside this
 * call. @return 0 or LINGMA_ENOMEM (the parser is then unusable).
 */
LINGMA_EXPORT int lingma_tool_parser_feed(lingma_tool_parser *p, const char *text, size_t len,
                                          const lingma_tool_parser_callbacks *cb, void *payload);

/**
 * The answer ended: hand out what is held back (a block the model did not
 * close is parsed as if it were closed; one that holds no call is text).
 * @return 0 or LINGMA_ENOMEM.
 */
LINGMA_EXPORT int lingma_tool_parser_finish(lingma_tool_parser *p,
                                            const lingma_tool_parser_callbacks *cb, void *payload);

/** Calls handed out so far, and how many of them were invalid. */
LINGMA_EXPORT size_t lingma_tool_parser_calls(const lingma_tool_parser *p, size_t *invalid);

/** Free a parser (NULL-safe). */
LINGMA_EXPORT void lingma_tool_parser_free(lingma_tool_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* LINGMA_TOOLS_H */
