/*
 * reqjson: what every wire API's request parse shares (pure).
 *
 *   - the body loader: one JSON object, duplicate keys refused (two parsers
 *     reading one body differently is a classic smuggling vector), nesting
 *     bounded before jansson recurses, UTF-8 and "\u0000" checked;
 *   - validation errors in OpenAI's wording, each naming the offending
 *     parameter ("Invalid type for 'input[2].content': expected ...");
 *   - the optional scalar parameters (null means absent).
 *
 * Every function that fails fills `err` (a 400, or 500 for out of memory)
 * and returns LINGMA_EINVAL or LINGMA_ENOMEM, so a parser can
 * `return gw_reqjson_...(...)` from wherever it found the problem.
 */
#ifndef GW_REQJSON_H
#define GW_REQJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "errors.h"

/* Nesting deeper than this is refused before parsing. */
#define GW_REQJSON_MAX_DEPTH 64

/* Parse `len` bytes into a JSON object (*out, a new reference). 0,
 * LINGMA_EINVAL (400 invalid_json) or LINGMA_ENOMEM. */
int gw_reqjson_load(json_t **out, gw_error *err, const char *body, size_t len);

/* "an object", "a string", ... "nothing" for NULL. */
const char *gw_reqjson_type_name(const json_t *v);

/* 400 invalid_type: "Invalid type for 'param': expected X, but got Y
 * instead." */
int gw_reqjson_bad_type(gw_error *err, const char *param, const char *expected, const json_t *got);

/* 400 missing_required_parameter. */
int gw_reqjson_missing(gw_error *err, const char *param);

/* 400 unsupported_content_type for a content part of type `type` at
 * `param`; `accepted` ends the sentence ("text parts"). */
int gw_reqjson_unsupported_part(gw_error *err, const char *param, const char *type,
                                const char *accepted);

/* 500 internal error; returns LINGMA_ENOMEM. */
int gw_reqjson_oom(gw_error *err);

/* A parameter name such as "messages[3].content[1]", formatted into `buf`
 * (cut at GW_ERROR_PARAM_MAX); returns buf. */
const char *gw_reqjson_param(char buf[GW_ERROR_PARAM_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* strdup of a JSON string's value. */
int gw_reqjson_dup(char **out, const json_t *v, gw_error *err);

/* Optional parameters: absent or null leave the output untouched. */
int gw_reqjson_string(char **out, const json_t *v, const char *param, gw_error *err);
int gw_reqjson_bool(bool *out, const json_t *v, const char *param, gw_error *err);
/* A number within [min, max]; *has (may be NULL) set when present. */
int gw_reqjson_number(bool *has, double *out, const json_t *v, const char *param, double min,
                      double max, gw_error *err);
/* An integer >= min; *has set when present. */
int gw_reqjson_int(bool *has, json_int_t *out, const json_t *v, const char *param, json_int_t min,
                   gw_error *err);

#endif /* GW_REQJSON_H */
