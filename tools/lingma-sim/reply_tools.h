/*
 * lingma-sim: LINGMA_SIM_REPLY=tools, a model that follows the gateway's
 * tool contract (doc/tools.md). Pure, no I/O.
 *
 * The prompt is read line by line, the way the contract writes it:
 * - the tool section: the line SIM_TOOLS_LIST_LINE, then one JSON object
 *   per line ({"name","description","parameters"}) up to the first line
 *   that is not one;
 * - "You must call the tool NAME now." names the tool to call;
 * - transcript labels at the start of a line: "User:" opens a user turn,
 *   "Tool result" / "Tool error" (with "(...)" and ":") a tool result,
 *   whose text is the content of the ```tool_result fence that follows (or,
 *   without a fence, the rest of the label line).
 * Only the contract's own fences (```tool_call, ```tool_result, three or
 * more backticks, closed by a line of at least as many) hide what is in
 * them: a result that holds "User:" lines is still one result. Other code
 * fences are ordinary text, so that an unclosed one in a user message
 * cannot hide the turns after it.
 */
#ifndef LINGMA_SIM_REPLY_TOOLS_H
#define LINGMA_SIM_REPLY_TOOLS_H

#include <stdbool.h>

#include <jansson.h>

#define SIM_TOOLS_LIST_LINE                                                                        \
    "Available tools (name, description, parameters), one JSON object per line:"
#define SIM_TOOLS_MUST_PREFIX "You must call the tool "
#define SIM_TOOLS_MUST_SUFFIX " now."
#define SIM_TOOLS_DONE        "DONE: "

/* What a prompt tells a contract-following model. */
struct sim_tools_prompt {
    json_t *tools;   /* the declared tool objects in order; NULL: no tool section */
    char *must_call; /* NAME of "You must call the tool NAME now.", or NULL */
    bool has_result; /* a tool result (or error) follows the last user turn */
    char *result;    /* the text of the last of them, when has_result */
};

/* Read `prompt` into `out`. 0, or -1 when out of memory (out then empty). */
int sim_tools_prompt_read(const char *prompt, struct sim_tools_prompt *out);
void sim_tools_prompt_free(struct sim_tools_prompt *p);

/*
 * The call block for tool `name` with `arguments` (malloc'd), exactly as
 * the contract shows it: "```tool_call\n" + {"name","arguments"} compact on
 * one line + "\n```". NULL when out of memory.
 */
char *sim_tools_call_block(const char *name, const json_t *arguments);

/*
 * The answer of the tools mode to `prompt`: "DONE: " + the last tool result
 * when one follows the last user turn, else one call of the required tool
 * (or the first declared one) with arguments from its schema
 * (schema_args.h). Returns 0 with *out (malloc'd), 1 when the prompt has
 * no tool section (the caller echoes), -1 when out of memory.
 */
int sim_tools_reply(const char *prompt, char **out);

#endif
