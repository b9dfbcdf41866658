/* Prints a representative /metrics exposition on stdout, for
 * `promtool check metrics` (tests/unit/gw-promtool-check.sh). */
#include <stdio.h>

#include "metrics.h"

int
main(void)
{
    gw_metrics *m = NULL;
    if (gw_metrics_new(&m) != 0)
        return 1;
    gw_metrics_observe_request(m, "/v1/chat/completions", 200, 0.42);
    gw_metrics_observe_request(m, "/v1/chat/completions", 429, 0.002);
    gw_metrics_observe_request(m, "/v1/models", 200, 0.001);
    gw_metrics_observe_request(m, "odd \"route\"\\\n", 404, 0.001);
    gw_metrics_observe_ttft(m, 0.8);
    gw_metrics_instance inst[] = {{"inst-0", 2, true, 0, 0}, {"inst-1", 0, false, 3, 1}};
    gw_metrics_snapshot s = {2, 0, 10, 1, 64, inst, 2, 1, 0, 1};
    gw_buf b = GW_BUF_INIT;
    int rc = gw_metrics_format(&b, m, &s);
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    gw_buf_free(&b);
    gw_metrics_free(m);
    return rc == 0 ? 0 : 1;
}
