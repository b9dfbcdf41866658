/*
 * Request JSON helpers shared by the wire APIs' parsers; see reqjson.h.
 * Error messages follow OpenAI's wording so that clients and humans see
 * familiar text ("Invalid type for 'temperature': expected a number, but
 * got a string instead.").
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "reqjson.h"

/* ---- error helpers ------------------------------------------------------- */

const char *
gw_reqjson_type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int
gw_reqjson_bad_type(gw_error *err, const char *param, const char *expected, const json_t *got)
{
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_type", param,
                 "Invalid type for '%s': expected %s, but got %s instead.", param, expected,
                 gw_reqjson_type_name(got));
    return LINGMA_EINVAL;
}

int
gw_reqjson_missing(gw_error *err, const char *param)
{
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "missing_required_parameter", param,
                 "Missing required parameter: '%s'.", param);
    return LINGMA_EINVAL;
}

int
gw_reqjson_unsupported_part(gw_error *err, const char *param, const char *type,
                            const char *accepted)
{
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "unsupported_content_type", param,
                 "Invalid content part '%s': type '%.64s' is not supported; this gateway only "
                 "accepts %s.",
                 param, type, accepted);
    return LINGMA_EINVAL;
}

int
gw_reqjson_oom(gw_error *err)
{
    gw_error_from_lingma(err, LINGMA_ENOMEM, 0, 0);
    return LINGMA_ENOMEM;
}

/* "messages[3].content[1]" style names, built into a caller's buffer. */
const char *
gw_reqjson_param(char buf[GW_ERROR_PARAM_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, GW_ERROR_PARAM_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

int
gw_reqjson_dup(char **out, const json_t *v, gw_error *err)
{
    *out = strdup(json_string_value(v));
    return *out ? 0 : gw_reqjson_oom(err);
}

/* ---- body pre-checks ----------------------------------------------------- */

/*
 * Refuse nesting deeper than GW_REQJSON_MAX_DEPTH before jansson recurses
 * into it: a few kilobytes of "[[[[" would otherwise cost 2048 stack frames
 * per request, and no chat request needs more than a dozen levels. Brackets
 * inside strings do not count; the scan need not validate anything else.
 */
static bool
too_deep(const char *s, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > GW_REQJSON_MAX_DEPTH)
                return true;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return false;
}

int
gw_reqjson_load(json_t **out, gw_error *err, const char *body, size_t len)
{
    json_error_t jerr;
    *out = NULL;
    if (len == 0) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                     "We could not parse the JSON body of your request: the body is empty. "
                     "The API expects a JSON object.");
        return LINGMA_EINVAL;
    }
    if (too_deep(body, len)) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                     "We could not parse the JSON body of your request: it is nested more than "
                     "%d levels deep.",
                     GW_REQJSON_MAX_DEPTH);
        return LINGMA_EINVAL;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson leaves the error text empty when its very first
         * allocation fails; any parse error would have described itself. */
        if (jerr.text[0] == '\0')
            return gw_reqjson_oom(err);
        switch (json_error_code(&jerr)) {
        case json_error_out_of_memory:
            return gw_reqjson_oom(err);
        case json_error_invalid_utf8:
            gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                         "We could not parse the JSON body of your request: it is not valid "
                         "UTF-8 (at byte %d).",
                         jerr.position);
            return LINGMA_EINVAL;
        default:
            gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                         "We could not parse the JSON body of your request: %s (line %d, column "
                         "%d).",
                         jerr.text, jerr.line, jerr.column);
            return LINGMA_EINVAL;
        }
    }
    if (!json_is_object(root)) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                     "The request body must be a JSON object, but got %s.",
                     gw_reqjson_type_name(root));
        json_decref(root);
        return LINGMA_EINVAL;
    }
    *out = root;
    return 0;
}

int
gw_reqjson_string(char **out, const json_t *v, const char *param, gw_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return gw_reqjson_bad_type(err, param, "a string", v);
    return gw_reqjson_dup(out, v, err);
}

/* ---- scalar parameters --------------------------------------------------- */

int
gw_reqjson_bool(bool *out, const json_t *v, const char *param, gw_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return gw_reqjson_bad_type(err, param, "a boolean", v);
    *out = json_is_true(v);
    return 0;
}

int
gw_reqjson_number(bool *has, double *out, const json_t *v, const char *param, double min,
                  double max, gw_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return gw_reqjson_bad_type(err, param, "a number", v);
    double d = json_number_value(v);
    /* jansson never yields NaN or an infinity, but be defensive: they would
     * sail through the range checks below. */
    if (!isfinite(d) || d < min) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "decimal_below_min_value", param,
                     "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got "
                     "%.15g instead.",
                     param, min, d);
        return LINGMA_EINVAL;
    }
    if (d > max) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "decimal_above_max_value", param,
                     "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got "
                     "%.15g instead.",
                     param, max, d);
        return LINGMA_EINVAL;
    }
    if (has)
        *has = true;
    *out = d;
    return 0;
}

int
gw_reqjson_int(bool *has, json_int_t *out, const json_t *v, const char *param, json_int_t min,
               gw_error *err)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return gw_reqjson_bad_type(err, param, "an integer", v);
    json_int_t i = json_integer_value(v);
    if (i < min) {
        gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "integer_below_min_value", param,
                     "Invalid '%s': integer below minimum value. Expected a value >= %lld, but "
                     "got %lld instead.",
                     param, (long long)min, (long long)i);
        return LINGMA_EINVAL;
    }
    *has = true;
    *out = i;
    return 0;
}
