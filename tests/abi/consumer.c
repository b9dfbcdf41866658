/* Built out of tree against the installed liblingma, via pkg-config only. */
#include <lingma/lingma.h>
#include <stdio.h>
#include <string.h>

int
main(void)
{
    if (strcmp(lingma_version(), LINGMA_VERSION_STRING) != 0) {
        fprintf(stderr, "version mismatch: %s vs %s\n", lingma_version(), LINGMA_VERSION_STRING);
        return 1;
    }
    if (strcmp(lingma_error_name(LINGMA_EIO), "LINGMA_EIO") != 0)
        return 1;
    printf("liblingma %s: %s\n", lingma_version(), lingma_strerror(LINGMA_EBUSY));
    return 0;
}
