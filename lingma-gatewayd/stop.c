/* Stop-sequence matcher; see stop.h. */
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "stop.h"
#include "utf8.h"

int
gw_stop_init(gw_stop_matcher *m, char *const *stops, size_t n)
{
    memset(m, 0, sizeof(*m));
    size_t want = 0;
    for (size_t i = 0; i < n && want < GW_MAX_STOP; i++)
        if (stops[i] && stops[i][0])
            want++;
    if (want == 0)
        return 0;
    m->seq = calloc(want, sizeof(*m->seq));
    if (!m->seq)
        return LINGMA_ENOMEM;
    for (size_t i = 0; i < n && m->n < want; i++) {
        if (!stops[i] || !stops[i][0])
            continue;
        m->seq[m->n].s = strdup(stops[i]);
        if (!m->seq[m->n].s) {
            gw_stop_free(m);
            return LINGMA_ENOMEM;
        }
        m->seq[m->n].len = strlen(stops[i]);
        m->n++;
    }
    return 0;
}

void
gw_stop_free(gw_stop_matcher *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->seq[i].s);
    free(m->seq);
    gw_buf_free(&m->held);
    memset(m, 0, sizeof(*m));
}

/* The earliest position of any stop sequence in s[0..len), or len. */
static size_t
earliest(const gw_stop_matcher *m, const char *s, size_t len, size_t *which)
{
    size_t best = len;
    for (size_t i = 0; i < m->n; i++) {
        const char *p = memmem(s, len, m->seq[i].s, m->seq[i].len);
        if (p && (size_t)(p - s) < best) {
            best = (size_t)(p - s);
            *which = i;
        }
    }
    return best;
}

const char *
gw_stop_matched(const gw_stop_matcher *m)
{
    return m->hit && m->hit_index < m->n ? m->seq[m->hit_index].s : NULL;
}

/* The length of the longest suffix of s[0..len) that is a proper prefix of
 * some stop sequence: those bytes might become a match. */
static size_t
holdback(const gw_stop_matcher *m, const char *s, size_t len)
{
    size_t best = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t k = m->seq[i].len - 1 < len ? m->seq[i].len - 1 : len;
        for (; k > best; k--) {
            if (memcmp(s + len - k, m->seq[i].s, k) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}

int
gw_stop_feed(gw_stop_matcher *m, gw_buf *out, const char *text, size_t len, bool *hit)
{
    if (hit)
        *hit = m->hit;
    if (m->hit || len == 0)
        return 0;
    size_t mark = m->held.len;
    if (gw_buf_append(&m->held, text, len) != 0)
        return LINGMA_ENOMEM;
    const char *s = m->held.data;
    size_t n = m->held.len;
    size_t which = 0;
    size_t pos = earliest(m, s, n, &which);
    size_t emit;
    if (pos < n) {
        emit = pos;
    } else {
        emit = n - holdback(m, s, n);
        emit = gw_utf8_complete_prefix(s, emit);
    }
    if (gw_buf_append(out, s, emit) != 0) {
        gw_buf_truncate(&m->held, mark);
        return LINGMA_ENOMEM;
    }
    if (pos < n) {
        m->hit = true;
        m->hit_index = which;
        gw_buf_reset(&m->held);
        if (hit)
            *hit = true;
        return 0;
    }
    memmove(m->held.data, s + emit, n - emit);
    gw_buf_truncate(&m->held, n - emit);
    return 0;
}

int
gw_stop_flush(gw_stop_matcher *m, gw_buf *out)
{
    if (m->hit || m->held.len == 0)
        return 0;
    if (gw_buf_append(out, m->held.data, m->held.len) != 0)
        return LINGMA_ENOMEM;
    gw_buf_reset(&m->held);
    return 0;
}
