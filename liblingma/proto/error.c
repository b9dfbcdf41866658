/* Error codes, their descriptions, and the run-time version. */
#include "lingma/common.h"

struct error_entry {
    int code;
    const char *name;
    const char *text;
};

/* Indexed by -code: keep in the order of enum lingma_error. */
static const struct error_entry error_table[] = {
    {LINGMA_OK, "LINGMA_OK", "success"},
    {LINGMA_ERROR, "LINGMA_ERROR", "unspecified error"},
    {LINGMA_EINVAL, "LINGMA_EINVAL", "invalid argument or request"},
    {LINGMA_ENOMEM, "LINGMA_ENOMEM", "out of memory"},
    {LINGMA_EPROTO, "LINGMA_EPROTO", "protocol violation by the peer"},
    {LINGMA_EIO, "LINGMA_EIO", "transport failure or connection lost"},
    {LINGMA_ESPAWN, "LINGMA_ESPAWN", "Lingma could not be started"},
    {LINGMA_ETIMEDOUT, "LINGMA_ETIMEDOUT", "timed out"},
    {LINGMA_EBUSY, "LINGMA_EBUSY", "too busy: admission rejected"},
    {LINGMA_EUNAVAIL, "LINGMA_EUNAVAIL", "no instance available"},
    {LINGMA_ECANCELED, "LINGMA_ECANCELED", "cancelled"},
    {LINGMA_ERPC, "LINGMA_ERPC", "remote JSON-RPC error"},
    {LINGMA_EUPSTREAM, "LINGMA_EUPSTREAM", "upstream failure reported by Lingma"},
    {LINGMA_ECLOSED, "LINGMA_ECLOSED", "closed or shutting down"},
    {LINGMA_ENOTFOUND, "LINGMA_ENOTFOUND", "not found"},
};

static const struct error_entry *
error_lookup(int error)
{
    if (error > 0 || error < LINGMA_ERROR_LAST)
        return NULL;
    return &error_table[-error];
}

LINGMA_EXPORT const char *
lingma_strerror(int error)
{
    const struct error_entry *e = error_lookup(error);
    return e ? e->text : "unknown error";
}

LINGMA_EXPORT const char *
lingma_error_name(int error)
{
    const struct error_entry *e = error_lookup(error);
    return e ? e->name : NULL;
}

LINGMA_EXPORT const char *
lingma_version(void)
{
    return LINGMA_VERSION_STRING;
}

/* The table must cover every code exactly once, in order. */
_Static_assert(sizeof(error_table) / sizeof(error_table[0]) == (size_t)(1 - LINGMA_ERROR_LAST),
               "error_table out of sync with enum lingma_error");
