/*
 * tools_set: declared tools and the JSON Schema subset their arguments are
 * checked against (see include/lingma/tools.h).
 *
 * The check covers what decides whether a call can work at all: types,
 * enum/const, required properties, nested properties and array items, and
 * anyOf/oneOf. Formats, patterns, lengths and additionalProperties are not
 * checked: models add harmless extras, and the tool itself reports the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools_int.h"

#define NAME_MAX_LEN 128
#define SCHEMA_DEPTH 32

static bool
name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

LINGMA_EXPORT void
lingma_toolset_free(lingma_toolset *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->tools[i].name);
        free(ts->tools[i].description);
        json_decref(ts->tools[i].schema);
    }
    free(ts->tools);
    free(ts);
}

LINGMA_EXPORT int
lingma_toolset_new(lingma_toolset **out, const lingma_tool *tools, size_t n, size_t *bad_index)
{
    if (!out)
        return LINGMA_EINVAL;
    *out = NULL;
    if (n > 0 && !tools)
        return LINGMA_EINVAL;
    lingma_toolset *ts = calloc(1, sizeof(*ts));
    if (!ts || (n > 0 && !(ts->tools = calloc(n, sizeof(*ts->tools))))) {
        free(ts);
        return LINGMA_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = LINGMA_EINVAL;
        if (!name_ok(tools[i].name) ||
            lingma__toolset_find(ts, tools[i].name, strlen(tools[i].name)))
            goto fail;
        json_t *schema = NULL;
        if (tools[i].parameters && *tools[i].parameters) {
            schema = json_loads(tools[i].parameters, JSON_REJECT_DUPLICATES, NULL);
            if (!json_is_object(schema)) {
                json_decref(schema);
                goto fail;
            }
        } else {
            schema = json_pack("{s:s}", "type", "object");
        }
        struct lingma__tool *t = &ts->tools[ts->n];
        t->schema = schema;
        t->name = strdup(tools[i].name);
        t->description = tools[i].description ? strdup(tools[i].description) : NULL;
        ts->n++;
        if (!schema || !t->name || (tools[i].description && !t->description)) {
            rc = LINGMA_ENOMEM;
            goto fail;
        }
        continue;
    fail:
        if (bad_index)
            *bad_index = i;
        lingma_toolset_free(ts);
        return rc;
    }
    *out = ts;
    return LINGMA_OK;
}

LINGMA_EXPORT size_t
lingma_toolset_count(const lingma_toolset *ts)
{
    return ts ? ts->n : 0;
}

const struct lingma__tool *
lingma__toolset_find(const lingma_toolset *ts, const char *name, size_t n)
{
    for (size_t i = 0; ts && i < ts->n; i++)
        if (strlen(ts->tools[i].name) == n && memcmp(ts->tools[i].name, name, n) == 0)
            return &ts->tools[i];
    return NULL;
}

LINGMA_EXPORT int
lingma_toolset_has(const lingma_toolset *ts, const char *name)
{
    return name && lingma__toolset_find(ts, name, strlen(name)) != NULL;
}

/* JSON Schema types ------------------------------------------------------ */

static bool
type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "integer") == 0) {
        if (json_is_integer(v))
            return true;
        /* 2.0 is an integer to JSON Schema; no libm needed for the test. */
        double d = json_is_real(v) ? json_real_value(v) : 0.5;
        return d > -9e15 && d < 9e15 && d == (double)(int64_t)d;
    }
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return true; /* an unknown type name constrains nothing we know of */
}

static bool
type_ok(const json_t *type, const json_t *v)
{
    if (json_is_string(type))
        return type_matches(json_string_value(type), v);
    if (json_is_array(type)) {
        size_t i;
        const json_t *t;
        json_array_foreach(type, i, t)
        {
            if (json_is_string(t) && type_matches(json_string_value(t), v))
                return true;
        }
        return json_array_size(type) == 0;
    }
    return true;
}

static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static bool check(const json_t *schema, const json_t *v, const char *where, char *err,
                  size_t errlen, int depth);

static bool
check_any(const json_t *list, const json_t *v, const char *where, char *err, size_t errlen,
          int depth)
{
    size_t i;
    const json_t *alt;
    json_array_foreach(list, i, alt)
    {
        if (check(alt, v, where, err, errlen, depth + 1))
            return true;
    }
    if (json_array_size(list) == 0)
        return true;
    snprintf(err, errlen, "%s matches none of the allowed schemas", where);
    return false;
}

static bool
check_object(const json_t *schema, const json_t *v, const char *where, char *err, size_t errlen,
             int depth)
{
    const json_t *required = json_object_get(schema, "required");
    size_t i;
    const json_t *r;
    json_array_foreach(required, i, r)
    {
        if (json_is_string(r) && !json_object_get(v, json_string_value(r))) {
            snprintf(err, errlen, "%s lacks the required property '%.64s'", where,
                     json_string_value(r));
            return false;
        }
    }
    const json_t *props = json_object_get(schema, "properties");
    const char *key;
    const json_t *sub;
    json_object_foreach((json_t *)props, key, sub)
    {
        const json_t *val = json_object_get(v, key);
        if (!val)
            continue;
        char at[96];
        snprintf(at, sizeof(at), "%.40s.%.40s", where, key);
        if (!check(sub, val, at, err, errlen, depth + 1))
            return false;
    }
    return true;
}

static bool
check(const json_t *schema, const json_t *v, const char *where, char *err, size_t errlen, int depth)
{
    if (!json_is_object(schema) || depth > SCHEMA_DEPTH)
        return true; /* true/false schemas and very deep ones: accepted */
    const json_t *type = json_object_get(schema, "type");
    if (type && !type_ok(type, v)) {
        snprintf(err, errlen, "%s is %s, which its schema does not allow", where, type_name(v));
        return false;
    }
    const json_t *cnst = json_object_get(schema, "const");
    if (cnst && !json_equal((json_t *)cnst, (json_t *)v)) {
        snprintf(err, errlen, "%s is not the value its schema requires", where);
        return false;
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *e;
        json_array_foreach(en, i, e)
        {
            if (json_equal((json_t *)e, (json_t *)v))
                found = true;
        }
        if (!found) {
            snprintf(err, errlen, "%s is not one of its allowed values", where);
            return false;
        }
    }
    const json_t *any = json_object_get(schema, "anyOf");
    if (!any)
        any = json_object_get(schema, "oneOf");
    if (json_is_array(any) && !check_any(any, v, where, err, errlen, depth))
        return false;
    if (json_is_object(v) && !check_object(schema, v, where, err, errlen, depth))
        return false;
    const json_t *items = json_object_get(schema, "items");
    if (json_is_array(v) && json_is_object(items)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            char at[96];
            snprintf(at, sizeof(at), "%.60s[%zu]", where, i);
            if (!check(items, e, at, err, errlen, depth + 1))
                return false;
        }
    }
    return true;
}

bool
lingma__schema_check(const json_t *schema, const json_t *value, char *err, size_t errlen)
{
    return check(schema, value, "arguments", err, errlen, 0);
}
