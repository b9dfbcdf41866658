/*
 * The tools a request offers Lingma (doc/tools.md, "In the gateway").
 *
 * Every front-end keeps `tools` and `tool_choice` in the one Chat
 * Completions shape (openai.h); this module makes them, once per request,
 * into what the chat options carry: a lingma_toolset, a choice, the named
 * tool and single_tool_call (already in the request). It runs at the end of
 * each front-end's parse, so that a tool list Lingma cannot be offered is a
 * 400 naming the field, and so that the prompt and the token estimate know
 * whether tools are offered.
 *
 * Offered are the function tools with a name, except those an agent marks
 * as not loaded (`defer_loading: true`, Claude Code's placeholders): the
 * model could not call them usefully. Hosted tools (web search, MCP),
 * custom (grammar) tools and namespaces are left out: the contract has no
 * way to express them, and the client would not expect a call to them in
 * the function-call form.
 *
 * Pure: no I/O, no clock.
 */
#ifndef GW_TOOLSET_H
#define GW_TOOLSET_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "openai.h"

/* How a front-end names a tool's fields in its errors. */
typedef struct gw_tool_names {
    bool dotted;            /* "tools.1.name" (Anthropic), else "tools[1].name" */
    const char *name;       /* the name's path inside a tool: "function.name", "name" */
    const char *parameters; /* the schema's: "function.parameters", "input_schema" */
    const char *choice;     /* a tool_choice that names a tool: "tool_choice.name" */
    /* The tools past this many came from elsewhere in the request (the
     * Responses input's additional_tools): their param is "input". */
    size_t listed;
} gw_tool_names;

/* A refusal, for the front-end to word in its API's error form. */
typedef struct gw_tool_refusal {
    char param[GW_ERROR_PARAM_MAX]; /* "tools[1].function.name", "tool_choice" */
    char message[192];              /* what is wrong: a sentence for the client */
} gw_tool_refusal;

/*
 * Set r->toolset, r->choice and r->tool_name from r->tools and
 * r->tool_choice. tool_choice "none" (or no offerable tool with "auto")
 * leaves r->toolset NULL. Returns 0; LINGMA_EINVAL with *why filled (a
 * malformed or repeated name, parameters that are not a JSON Schema
 * object, a tool_choice that names or requires a tool not offered); or
 * LINGMA_ENOMEM.
 */
int gw_chat_request_tools(gw_chat_request *r, const gw_tool_names *names, gw_tool_refusal *why);

/* The tool section the runtime will put before the prompt (for the token
 * estimate and count_tokens), or NULL in *out when no tool is offered.
 * 0 or LINGMA_ENOMEM; release with lingma_free(). */
int gw_chat_request_tool_section(char **out, const gw_chat_request *r);

#endif /* GW_TOOLSET_H */
