/*
 * Internal: the pieces of tool calling shared by the toolset, the prompt
 * text and the parser (see include/lingma/tools.h and doc/tools.md).
 */
#ifndef LINGMA_INTERNAL_TOOLS_H
#define LINGMA_INTERNAL_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lingma/tools.h"

struct lingma__tool {
    char *name;
    char *description; /* NULL when none */
    json_t *schema;    /* the parameters schema; an object */
};

struct lingma_toolset {
    struct lingma__tool *tools;
    size_t n;
};

/* The declared tool named `name` (n bytes), or NULL. */
const struct lingma__tool *lingma__toolset_find(const lingma_toolset *ts, const char *name,
                                                size_t n);

/* Check `value` against `schema`: types, enum/const, required and
 * properties of objects, items of arrays, anyOf/oneOf (one must match).
 * Returns true, or false with a short sentence in err. */
bool lingma__schema_check(const json_t *schema, const json_t *value, char *err, size_t errlen);

/* Parse the text of a JSON value as models write it: strict JSON first,
 * then with trailing commas dropped and single-quoted strings turned into
 * double-quoted ones. NULL when it still does not parse. */
json_t *lingma__json_lenient(const char *text, size_t len);

/* The top-level JSON objects and arrays of `text` (a call block), found by
 * bracket matching that respects both quote styles, each parsed with
 * lingma__json_lenient and appended to `out` (an array). Returns the
 * number appended. */
size_t lingma__json_values(json_t *out, const char *text, size_t len);

#endif
