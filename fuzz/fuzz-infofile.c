/*
 * Fuzz target: the port file parser. Any input must give 0 with a valid
 * result, or an error code with a terminated message; never a crash, a
 * read past the buffer (the input is not NUL-terminated) or a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infofile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that ASan catches any read past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    struct lingma__info info;
    char err[128];
    err[0] = '\0';
    int rc = lingma__info_parse(&info, buf, size, err, sizeof(err));
    if (rc == 0) {
        if (info.port < 1 || info.port > 65535 || info.pid < 1 ||
            strlen(info.ipc_path) >= sizeof(info.ipc_path))
            abort();
    } else if (rc != LINGMA_EPROTO && rc != LINGMA_ENOTFOUND) {
        abort();
    } else if (memchr(err, '\0', sizeof(err)) == NULL) {
        abort();
    }
    lingma__info_parse_text(&info, buf, size, NULL, 0);
    free(buf);
    return 0;
}
