/*
 * The Responses stream's delta events (see responses.h): one per chunk of
 * an answer, so the hot path of a streamed response, rendered with
 * jsonout.h without a jansson tree. test-gw-responses holds it byte-equal
 * to the same event built as a tree, the way every other event is.
 */
#include <string.h>

#include "lingma/common.h"

#include "api/responses.h"
#include "jsonout.h"

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
