/*
 * tools_json: JSON as models write it inside a call block (see
 * tools_int.h). Strict JSON is tried first; only when it fails are the two
 * slips models make most often repaired: trailing commas, and
 * single-quoted strings (Python-style dicts). Nothing else is guessed.
 */
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "tools_int.h"

/* Rewrite `s` into `b`: single-quoted strings become double-quoted ones
 * (a '"' inside is escaped, "\'" becomes "'"), and a ',' followed only by
 * whitespace before '}' or ']' is dropped. Strings are copied verbatim. */
static int
repair(struct lingma__buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"' || c == '\'') {
            char q = c;
            if (lingma__buf_append(NULL, b, "\"", 1) != 0)
                return LINGMA_ENOMEM;
            for (i++; i < n && s[i] != q; i++) {
                const char *piece = s + i;
                size_t len = 1;
                if (s[i] == '\\' && i + 1 < n) {
                    if (q == '\'' && s[i + 1] == '\'') {
                        piece = "'";
                    } else {
                        len = 2; /* keep the escape as it is */
                    }
                    i++;
                } else if (q == '\'' && s[i] == '"') {
                    piece = "\\\"";
                    len = 2;
                }
                if (lingma__buf_append(NULL, b, piece, len) != 0)
                    return LINGMA_ENOMEM;
            }
            if (lingma__buf_append(NULL, b, "\"", 1) != 0)
                return LINGMA_ENOMEM;
            i++; /* the closing quote (or the end) */
            continue;
        }
        if (c == ',') {
            size_t k = i + 1;
            while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
                k++;
            if (k < n && (s[k] == '}' || s[k] == ']')) {
                i++;
                continue;
            }
        }
        if (lingma__buf_append(NULL, b, &c, 1) != 0)
            return LINGMA_ENOMEM;
        i++;
    }
    return LINGMA_OK;
}

json_t *
lingma__json_lenient(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (v)
        return v;
    struct lingma__buf b = {0};
    if (repair(&b, text, len) == 0 && b.p)
        v = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL);
    free(b.p);
    return v;
}

/* The end of the value that opens at text[i] ('{' or '['): one past its
 * closing bracket, or 0 when it does not close within len. */
static size_t
value_end(const char *text, size_t len, size_t i)
{
    int depth = 0;
    char quote = 0;
    for (; i < len; i++) {
        char c = text[i];
        if (quote) {
            if (c == '\\')
                i++;
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '"' || c == '\'')
            quote = c;
        else if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
    }
    return 0;
}

size_t
lingma__json_values(json_t *out, const char *text, size_t len)
{
    size_t found = 0;
    size_t i = 0;
    while (i < len) {
        if (text[i] != '{' && text[i] != '[') {
            i++;
            continue;
        }
        size_t end = value_end(text, len, i);
        bool closed = end != 0;
        if (!closed)
            end = len; /* unclosed: let the lenient parse decide */
        json_t *v = lingma__json_lenient(text + i, end - i);
        if (v && json_array_append_new(out, v) == 0)
            found++;
        if (!v && !closed)
            break;
        /* A value that does not parse is skipped whole: an object nested
         * in a broken call must not pass for a call of its own. */
        i = end;
    }
    return found;
}
