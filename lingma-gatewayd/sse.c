/* SSE framing; see sse.h. */
#include <string.h>

#include "lingma/common.h"

#include "sse.h"

int
gw_sse_data(gw_buf *out, const char *json, size_t len)
{
    if (!json || len == 0)
        return LINGMA_EINVAL;
    if (memchr(json, '\n', len) || memchr(json, '\r', len))
        return LINGMA_EINVAL;
    /* Reserve once so the three appends below cannot fail half-way. */
    int rc = gw_buf_reserve(out, len + 8);
    if (rc != 0)
        return rc;
    gw_buf_append(out, "data: ", 6);
    gw_buf_append(out, json, len);
    gw_buf_append(out, "\n\n", 2);
    return 0;
}

int
gw_sse_event(gw_buf *out, const char *name, const char *json, size_t len)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || strpbrk(name, "\r\n"))
        return LINGMA_EINVAL;
    size_t mark = out->len;
    int rc = gw_buf_reserve(out, n + len + 16);
    if (rc == 0) {
        gw_buf_append(out, "event: ", 7);
        gw_buf_append(out, name, n);
        gw_buf_append(out, "\n", 1);
        rc = gw_sse_data(out, json, len);
    }
    if (rc != 0)
        gw_buf_truncate(out, mark); /* all or nothing, as every event */
    return rc;
}

int
gw_sse_done(gw_buf *out)
{
    return gw_buf_puts(out, "data: [DONE]\n\n");
}

int
gw_sse_ping(gw_buf *out)
{
    return gw_buf_puts(out, ": ping\n\n");
}

int
gw_sse_error(gw_buf *out, const gw_error *e)
{
    gw_buf tmp = GW_BUF_INIT;
    int rc = gw_error_json(&tmp, e);
    if (rc == 0)
        rc = gw_sse_data(out, tmp.data, tmp.len);
    gw_buf_free(&tmp);
    return rc;
}
