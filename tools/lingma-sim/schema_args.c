/* lingma-sim: arguments from a JSON Schema, see schema_args.h. */
#include "schema_args.h"

#include <string.h>

/* Schemas nest as deep as their JSON; a bound keeps a hostile one from
 * costing more than a few frames of stack per level. */
#define MAX_DEPTH 64
/* minItems beyond this is honoured only up to it: a call, not a data set. */
#define MAX_ITEMS 16

static json_t *example(const json_t *schema, int depth);

/* The type a value is made for: "type" itself, or its first non-null
 * member when it is a list (["string","null"] is a string), or what the
 * keywords imply. NULL when nothing says. */
static const char *
schema_type(const json_t *schema)
{
    const json_t *t = json_object_get(schema, "type");
    if (json_is_string(t))
        return json_string_value(t);
    if (json_is_array(t)) {
        const char *only_null = NULL;
        size_t i;
        const json_t *v;
        json_array_foreach(t, i, v)
        {
            const char *name = json_string_value(v);
            if (!name)
                continue;
            if (strcmp(name, "null"))
                return name;
            only_null = name;
        }
        return only_null;
    }
    return NULL;
}

static json_t *
object_example(const json_t *schema, int depth)
{
    json_t *out = json_object();
    const json_t *props = json_object_get(schema, "properties");
    size_t i;
    const json_t *name;
    if (!out)
        return NULL;
    json_array_foreach(json_object_get(schema, "required"), i, name)
    {
        const char *key = json_string_value(name);
        if (!key || json_object_get(out, key))
            continue;
        /* A required name without a schema may hold anything: "x" is as good as any. */
        if (json_object_set_new(out, key, example(json_object_get(props, key), depth + 1))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *
array_example(const json_t *schema, int depth)
{
    const json_t *items = json_object_get(schema, "items");
    json_int_t n = json_integer_value(json_object_get(schema, "minItems"));
    json_t *out = json_array();
    if (!out)
        return NULL;
    /* The tuple form (items: [s0, s1, ...]) gets its first schema. */
    if (json_is_array(items))
        items = json_array_get(items, 0);
    if (n < 1)
        n = 1;
    if (n > MAX_ITEMS)
        n = MAX_ITEMS;
    for (json_int_t k = 0; k < n; k++) {
        /* With no items schema any element will do. */
        json_t *v = items ? example(items, depth + 1) : json_string("x");
        if (json_array_append_new(out, v)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *
first_branch(const json_t *schema)
{
    static const char *const keys[] = {"anyOf", "oneOf", "allOf"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        const json_t *b = json_array_get(json_object_get(schema, keys[i]), 0);
        if (json_is_object(b))
            return (json_t *)b;
    }
    return NULL;
}

static json_t *
example(const json_t *schema, int depth)
{
    if (depth > MAX_DEPTH || !json_is_object(schema))
        return json_string("x");
    const json_t *e = json_object_get(schema, "enum");
    if (json_array_size(e) > 0)
        return json_deep_copy(json_array_get(e, 0));
    if (json_object_get(schema, "const"))
        return json_deep_copy(json_object_get(schema, "const"));

    const char *type = schema_type(schema);
    if (!type) {
        const json_t *b = first_branch(schema);
        if (b)
            return example(b, depth + 1);
        /* No type: what the keywords imply, as validators read it. */
        if (json_object_get(schema, "properties") || json_object_get(schema, "required"))
            type = "object";
        else if (json_object_get(schema, "items"))
            type = "array";
        else
            type = "string";
    }
    if (!strcmp(type, "object"))
        return object_example(schema, depth);
    if (!strcmp(type, "array"))
        return array_example(schema, depth);
    if (!strcmp(type, "integer") || !strcmp(type, "number"))
        return json_integer(1);
    if (!strcmp(type, "boolean"))
        return json_true();
    if (!strcmp(type, "null"))
        return json_null();
    return json_string("x"); /* "string", and types no validator knows */
}

json_t *
sim_schema_example(const json_t *schema)
{
    return example(schema, 0);
}

json_t *
sim_schema_arguments(const json_t *parameters)
{
    json_t *v = json_is_object(parameters) ? example(parameters, 0) : json_object();
    if (v && !json_is_object(v)) {
        /* parameters that are not an object schema: a call still needs an object */
        json_decref(v);
        v = json_object();
    }
    return v;
}
