/*
 * lingma-sim: arguments made from a tool's JSON Schema, the way the tools
 * reply mode (reply_tools.h) fills in a call. Pure, deterministic.
 *
 * The values are the smallest a schema-following model would write and
 * that liblingma's argument check accepts (doc/tools.md, "Refusals"):
 * required properties only; strings "x", numbers and integers 1, booleans
 * true, null for type null, enums (and const) their first value, objects
 * their required properties, arrays one element (minItems when larger).
 * anyOf/oneOf/allOf take their first branch. Keywords the contract does
 * not check (minLength, pattern, format, minimum, ...) are not honoured.
 */
#ifndef LINGMA_SIM_SCHEMA_ARGS_H
#define LINGMA_SIM_SCHEMA_ARGS_H

#include <jansson.h>

/* A value for `schema` (new reference); "x" for a schema that says nothing
 * usable (not an object, no type). NULL only when out of memory. */
json_t *sim_schema_example(const json_t *schema);

/* The arguments object of a call: the example of `parameters` when that is
 * an object, else {} (a tool without parameters). NULL when out of memory. */
json_t *sim_schema_arguments(const json_t *parameters);

#endif
