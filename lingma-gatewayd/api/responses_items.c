/*
 * A stored response's input items (ids, pages of
 * GET /v1/responses/{id}/input_items) and DELETE's answer; see responses.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"

#define PAGE_DEFAULT 20
#define PAGE_MAX     100

/* A message item in the listed form: "type":"message", content as parts
 * (a string becomes one input_text, or output_text for the assistant)
 * and a status, as OpenAI lists them and the SDK types say. */
static bool
list_form(json_t *item)
{
    bool ok = json_object_set_new(item, "type", json_string("message")) == 0;
    const json_t *content = json_object_get(item, "content");
    if (ok && json_is_string(content)) {
        const char *role = json_string_value(json_object_get(item, "role"));
        bool out = role && strcmp(role, "assistant") == 0;
        ok =
            json_object_set_new(item, "content",
                                json_pack("[{s:s,s:O}]", "type", out ? "output_text" : "input_text",
                                          "text", content)) == 0;
    }
    if (ok && !json_object_get(item, "status"))
        ok = json_object_set_new(item, "status", json_string("completed")) == 0;
    return ok;
}

json_t *
gw_resp_input_with_ids(const json_t *input, const char *response_id)
{
    json_t *copy = json_deep_copy(input);
    const char *u = strchr(response_id, '_');
    const char *hex = u ? u + 1 : response_id;
    size_t i;
    json_t *item;
    json_array_foreach(copy, i, item)
    {
        if (!json_is_object(item))
            continue;
        const char *type = json_string_value(json_object_get(item, "type"));
        bool msg = !type || strcmp(type, "message") == 0;
        bool ok = !msg || list_form(item);
        if (ok && !json_is_string(json_object_get(item, "id"))) {
            char id[GW_RESP_ITEM_ID_SIZE + 16];
            snprintf(id, sizeof(id), "%s_%s_%zu", msg ? "msg" : "item", hex, i);
            ok = json_object_set_new(item, "id", json_string(id)) == 0;
        }
        if (!ok) {
            json_decref(copy);
            return NULL;
        }
    }
    return copy;
}

/* Index of the item with this id in `items`, or -1. */
static long
find(const json_t *items, const char *id)
{
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *s = json_string_value(json_object_get(item, "id"));
        if (s && strcmp(s, id) == 0)
            return (long)i;
    }
    return -1;
}

static int
bad_query(gw_error *err, const char *param, const char *fmt_detail)
{
    gw_error_set(err, 400, GW_TYPE_INVALID_REQUEST, "invalid_value", param,
                 "Invalid value for '%s': %s", param, fmt_detail);
    return LINGMA_EINVAL;
}

int
gw_resp_input_items_page(gw_buf *out, gw_error *err, const char *stored_input, size_t len,
                         const char *limit, const char *order, const char *after,
                         const char *before)
{
    long n = PAGE_DEFAULT;
    if (limit) {
        char *end = NULL;
        n = strtol(limit, &end, 10);
        if (!limit[0] || *end || n < 1 || n > PAGE_MAX)
            return bad_query(err, "limit", "expected an integer from 1 to 100.");
    }
    bool desc = true;
    if (order && strcmp(order, "asc") == 0)
        desc = false;
    else if (order && strcmp(order, "desc") != 0)
        return bad_query(err, "order", "supported values are 'asc' and 'desc'.");
    json_t *stored = json_loadb(stored_input, len, 0, NULL);
    json_t *items = json_array();
    if (!json_is_array(stored) || !items) {
        json_decref(stored);
        json_decref(items);
        gw_error_internal(err);
        return LINGMA_ENOMEM;
    }
    /* The list in the asked order, then the window after/before cut. */
    size_t total = json_array_size(stored);
    bool ok = true;
    for (size_t k = 0; ok && k < total; k++)
        ok = json_array_append(items, json_array_get(stored, desc ? total - 1 - k : k)) == 0;
    long from = after ? find(items, after) + 1 : 0;
    long to = before ? find(items, before) : (long)total;
    if (after && from == 0)
        from = (long)total; /* an unknown cursor: nothing follows it */
    if (to < 0)
        to = 0;
    json_t *data = json_array();
    for (long k = from; ok && data && k < to && k - from < n; k++)
        ok = json_array_append(data, json_array_get(items, (size_t)k)) == 0;
    size_t got = data ? json_array_size(data) : 0;
    json_t *page =
        data && ok
            ? json_pack("{s:s,s:O,s:o,s:o,s:b}", "object", "list", "data", data, "first_id",
                        got ? json_incref(json_object_get(json_array_get(data, 0), "id"))
                            : json_null(),
                        "last_id",
                        got ? json_incref(json_object_get(json_array_get(data, got - 1), "id"))
                            : json_null(),
                        "has_more", from + (long)got < to)
            : NULL;
    int rc = page && gw_buf_append_json(out, page) == 0 ? 0 : LINGMA_ENOMEM;
    if (rc != 0)
        gw_error_internal(err);
    json_decref(page);
    json_decref(data);
    json_decref(items);
    json_decref(stored);
    return rc;
}

int
gw_resp_deleted(gw_buf *out, const char *id)
{
    json_t *v = json_pack("{s:s,s:s,s:b}", "id", id, "object", "response.deleted", "deleted", 1);
    int rc = v && gw_buf_append_json(out, v) == 0 ? 0 : LINGMA_ENOMEM;
    json_decref(v);
    return rc;
}
