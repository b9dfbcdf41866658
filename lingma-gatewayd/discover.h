/*
 * discover: find the Lingma binary an IDE plugin installed, for a gateway
 * started without LINGMA_BIN.
 */
#ifndef GW_DISCOVER_H
#define GW_DISCOVER_H

#include <stddef.h>

/* The platform directory name Lingma uses for this build ("x86_64_linux"). */
const char *gw_discover_platform(void);

/*
 * Look under <home>/.lingma/bin: first the version recorded in config.json
 * ("cosy.core.version", flat or nested), then the newest version directory
 * (by version order) that has <platform>/Lingma executable. Returns a
 * malloc'd path or NULL (nothing found, or out of memory).
 */
char *gw_discover_lingma(const char *home);

#endif
