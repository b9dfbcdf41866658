/*
 * GET /v1/models in Anthropic's shape (routes.c picks it when the request
 * carries anthropic-version), and count_tokens' answer; see messages.h.
 * The catalogue is small and served whole: has_more is always false, so
 * the SDK's pager stops after one page.
 */
#include <stdio.h>
#include <time.h>

#include "lingma/common.h"

#include "messages.h"

static json_t *
model_json(const gw_model_entry *e, int64_t created)
{
    char at[32];
    struct tm tm;
    time_t t = (time_t)created;
    if (!gmtime_r(&t, &tm) || strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(at, sizeof(at), "1970-01-01T00:00:00Z");
    const char *name = e->display_name && e->display_name[0] ? e->display_name : e->key;
    return json_pack("{s:s,s:s,s:s,s:s}", "type", "model", "id", e->key, "display_name", name,
                     "created_at", at);
}

static int
dump(gw_buf *out, json_t *v)
{
    if (!v)
        return LINGMA_ENOMEM;
    int rc = gw_buf_append_json(out, v);
    json_decref(v);
    return rc;
}

int
gw_anthropic_models(gw_buf *out, const gw_model_entry *catalogue, size_t n, int64_t created)
{
    json_t *data = json_array();
    for (size_t i = 0; data && i < n; i++) {
        if (json_array_append_new(data, model_json(&catalogue[i], created)) != 0) {
            json_decref(data);
            data = NULL;
        }
    }
    if (!data)
        return LINGMA_ENOMEM;
    return dump(out,
                json_pack("{s:o,s:b,s:s?,s:s?}", "data", data, "has_more", 0, "first_id",
                          n ? catalogue[0].key : NULL, "last_id", n ? catalogue[n - 1].key : NULL));
}

int
gw_anthropic_model(gw_buf *out, const gw_model_entry *entry, int64_t created)
{
    return dump(out, model_json(entry, created));
}

int
gw_anthropic_count(gw_buf *out, int64_t input_tokens)
{
    return dump(out, json_pack("{s:I}", "input_tokens", (json_int_t)input_tokens));
}
