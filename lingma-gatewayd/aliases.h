/*
 * aliases: model names a client sends that Lingma does not know, mapped to
 * ones it does (pure). Coding agents send their vendor's names (Claude
 * Code: "claude-opus-…", "claude-haiku-…"; Codex: whatever its config
 * says); GATEWAY_MODEL_ALIASES maps glob patterns to a Lingma model key or
 * "auto" (the default model), first match wins, for every API. The default,
 * "claude-*=auto", lets `claude -p` work with nothing but a base URL and a
 * key. A name no alias matches is resolved as before (and stays 404 when
 * unknown).
 */
#ifndef GW_ALIASES_H
#define GW_ALIASES_H

#include <stddef.h>

typedef struct gw_aliases gw_aliases;

#define GW_ALIASES_DEFAULT "claude-*=auto"

/* Parse "PATTERN=MODEL[,PATTERN=MODEL...]" (fnmatch(3) patterns, matched
 * case-insensitively; whitespace around items is ignored; "" or "none":
 * no aliases).
 * 0, LINGMA_EINVAL with a message in err, or LINGMA_ENOMEM. *out is NULL
 * for an empty list. */
int gw_aliases_new(gw_aliases **out, const char *spec, char *err, size_t errlen);
void gw_aliases_free(gw_aliases *a);

/* The model `requested` maps to, or NULL when no pattern matches (or
 * requested is NULL). The string belongs to `a`. */
const char *gw_aliases_apply(const gw_aliases *a, const char *requested);

#endif /* GW_ALIASES_H */
