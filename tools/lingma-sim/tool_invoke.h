/*
 * lingma-sim: the tool_invoke fault, Lingma's agent mode asking the client
 * to run one of its built-in tools (lingma-protocol.md, "Agent/tool
 * pushes"). A chat hit by it, asked in mode "agent", sends a tool/invoke
 * request before its answer and waits for the client's response with no
 * time limit, as Lingma waits for a tool's result: a client that never
 * answers stalls the chat, one that refuses lets it go on. The response is
 * logged and counted (tool_invokes, tool_invokes_refused in `status`).
 */
#ifndef LINGMA_SIM_TOOL_INVOKE_H
#define LINGMA_SIM_TOOL_INVOKE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sim.h"

/* Called once the client answered: `answered` false when the connection
 * went first (the chat is being torn down and must not go on). */
typedef void (*sim_tool_invoke_done_fn)(void *payload, bool answered);

/* Send tool/invoke for the chat `request_id` in `session_id` on `c`.
 * Returns 0, or -1 when it could not be sent (`done` is then not called). */
int sim_tool_invoke_push(struct sim_conn *c, const char *request_id, const char *session_id,
                         sim_tool_invoke_done_fn done, void *payload);

/* A clean refusal of the call `tool_call_id`: a ToolInvokeResponse object
 * with that toolCallId, "success": false and a non-empty "errorMessage".
 * Pure: false with a short reason in `why` otherwise. */
bool sim_tool_invoke_refused(const json_t *result, const char *tool_call_id, char *why,
                             size_t whylen);

#endif
