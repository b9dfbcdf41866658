/*
 * The Responses stream's delta events (see responses.h): one per chunk of
 * an answer, so the hot path of a streamed response. The direct writer
 * renders the event with jsonout.h, without a jansson tree; its tree twin
 * is the general path's rendering of the same event, kept as the
 * reference the unit test holds the writer byte-equal to.
 */
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"
#include "jsonout.h"
#include "openai.h"
#include "sse.h"

int
gw_resp_delta_event(gw_buf *out, const gw_resp_delta *d, const char *text, size_t len)
{
    size_t mark = out->len;
    size_t tlen = strlen(d->type);
    /* The event's fixed part and the text, with room for its escapes
     * to grow: one reserve covers the usual delta. */
    int rc = gw_buf_reserve(out, 2 * tlen + strlen(d->item_id) + len + 160);
    rc = rc ? rc : gw_buf_puts(out, "event: ");
    rc = rc ? rc : gw_buf_append(out, d->type, tlen);
    rc = rc ? rc : gw_buf_puts(out, "\ndata: {");
    rc = rc ? rc : gw_jsonout_key(out, "type", true);
    rc = rc ? rc : gw_jsonout_string(out, d->type, tlen);
    rc = rc ? rc : gw_jsonout_key(out, "sequence_number", false);
    rc = rc ? rc : gw_jsonout_int(out, d->seq);
    rc = rc ? rc : gw_jsonout_key(out, "item_id", false);
    rc = rc ? rc : gw_jsonout_string(out, d->item_id, strlen(d->item_id));
    rc = rc ? rc : gw_jsonout_key(out, "output_index", false);
    rc = rc ? rc : gw_jsonout_int(out, (int64_t)d->output_index);
    rc = rc ? rc : gw_jsonout_key(out, d->index_key, false);
    rc = rc ? rc : gw_buf_puts(out, "0");
    rc = rc ? rc : gw_jsonout_key(out, "delta", false);
    rc = rc ? rc : gw_jsonout_text(out, text ? text : "", text ? len : 0);
    if (d->logprobs) {
        rc = rc ? rc : gw_jsonout_key(out, "logprobs", false);
        rc = rc ? rc : gw_buf_puts(out, "[]");
    }
    rc = rc ? rc : gw_buf_puts(out, "}\n\n");
    if (rc != 0)
        gw_buf_truncate(out, mark); /* all or nothing, as every event */
    return rc;
}

int
gw_resp_delta_event_tree(gw_buf *out, const gw_resp_delta *d, const char *text, size_t len)
{
    json_t *ev = json_pack("{s:s,s:I,s:s,s:I,s:i,s:o}", "type", d->type, "sequence_number",
                           (json_int_t)d->seq, "item_id", d->item_id, "output_index",
                           (json_int_t)d->output_index, d->index_key, 0, "delta",
                           gw_json_text(text ? text : "", text ? len : 0));
    int rc = LINGMA_ENOMEM;
    if (ev && (!d->logprobs || json_object_set_new(ev, "logprobs", json_array()) == 0)) {
        gw_buf j = GW_BUF_INIT;
        if (gw_buf_append_json(&j, ev) == 0)
            rc = gw_sse_event(out, d->type, j.data, j.len);
        gw_buf_free(&j);
    }
    json_decref(ev);
    return rc;
}
