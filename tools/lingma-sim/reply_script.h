/*
 * lingma-sim: LINGMA_SIM_REPLY=script:FILE, replies chosen by rules.
 *
 * FILE is a JSON array of rules, tried in order, the first match wins:
 *
 *   [{"match": "Tool result", "reply": "DONE"},
 *    {"match": "^User: (hi|hello)$", "icase": true, "reply": "Hello!"},
 *    {"match": "broken", "reply": "```tool_call\n{\"name\":\"x\",\n"}]
 *
 * "match" is a POSIX extended regular expression searched in the prompt
 * (the chat/ask question text) like `grep -E`: ^ and $ match at line
 * boundaries and . does not match a newline; "icase": true ignores case.
 * "reply" is the answer; "{{prompt}}" in it stands for the prompt. JSON
 * strings let a reply hold newlines and fences exactly. No rule matches:
 * the caller echoes. Any other key, a rule that is not an object with
 * string "match" and "reply", or a bad expression makes the file invalid.
 */
#ifndef LINGMA_SIM_REPLY_SCRIPT_H
#define LINGMA_SIM_REPLY_SCRIPT_H

#include <stddef.h>

#include <jansson.h>

struct sim_script; /* compiled rules */

/* Compile the rules of a parsed file. 0 with *out, or -1 with `err` set. */
int sim_script_from_json(const json_t *rules, struct sim_script **out, char *err, size_t errlen);
/* Read and compile FILE. 0 with *out, or -1 with `err` set (names the file). */
int sim_script_load(const char *path, struct sim_script **out, char *err, size_t errlen);
void sim_script_free(struct sim_script *s);

/* The reply of the first rule that matches `prompt` (borrowed), or NULL. */
const char *sim_script_match(const struct sim_script *s, const char *prompt);

/* `reply` with every "{{prompt}}" replaced by `prompt` (malloc'd; NULL: out of memory). */
char *sim_script_expand(const char *reply, const char *prompt);

/*
 * The whole step of one chat/ask: read FILE (anew, so a test may rewrite
 * it between asks), match, expand. 0 with *out (NULL when no rule matched),
 * or -1 with `err` set (a bad file, or out of memory).
 */
int sim_script_reply(const char *path, const char *prompt, char **out, char *err, size_t errlen);

#endif
