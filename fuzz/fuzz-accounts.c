/*
 * Fuzz target: LINGMA_ACCOUNTS parsing. Beyond memory safety it checks the
 * promise that matters: an error message never contains a password. On
 * error nobody knows which bytes were meant as the password, so the check
 * is stronger: every word of the message must come from the fixed
 * vocabulary of accounts.c; numbers and punctuation are free. The public
 * wrapper (lingma_accounts_parse) must agree with the internal parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every message is made of these words, digits, spaces and punctuation. */
static int
message_is_fixed_text(const char *msg)
{
    static const char *const allowed[] = {
        "accounts",   "entry",    "byte",
        "is",         "empty",    "a",
        "trailing",   "comma",    "missing",
        "between",    "username", "and",
        "password",   "the",      "contains",
        "whitespace", "or",       "control",
        "character",  "same",     "as",
        "invalid",    "JSON",     "at",
        "must",       "be",       "an",
        "array",      "not",      "object",
        "unexpected", "key",      "only",
        "are",        "allowed",  "string",
        "more",       "than",     "entries",
        "syntax",     "error",    "out",
        "of",         "memory",   "form",
        "line",       "column",   "LINGMA_USERNAME",
        "set",        "but",      "LINGMA_PASSWORD",
    };
    const char *p = msg;
    while (*p) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) {
            p++;
            continue;
        }
        const char *w = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')
            p++;
        size_t len = (size_t)(p - w);
        int ok = 0;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !ok; i++)
            ok = strlen(allowed[i]) == len && memcmp(allowed[i], w, len) == 0;
        if (!ok)
            return 0;
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct lingma__accounts acc;
    char err[256] = "";
    int rc = lingma__accounts_parse(&acc, s, NULL, NULL, NULL, err, sizeof(err));
    if (rc == 0) {
        for (size_t i = 0; i < acc.n; i++)
            if (!acc.v[i].username[0] || !acc.v[i].password[0])
                abort();
    } else if (rc != LINGMA_EINVAL || !message_is_fixed_text(err)) {
        abort();
    }
    /* The public wrapper: the same verdict, the same message, the same list. */
    lingma_account_list *l = NULL;
    char perr[256] = "";
    if (lingma_accounts_parse(&l, perr, sizeof(perr), s, NULL, NULL) != rc || strcmp(perr, err))
        abort();
    if (rc == 0) {
        if (!l || l->count != acc.n)
            abort();
        for (size_t i = 0; i < acc.n; i++)
            if (strcmp(l->accounts[i].username, acc.v[i].username) ||
                strcmp(l->accounts[i].password, acc.v[i].password))
                abort();
    } else if (l) {
        abort();
    }
    lingma_account_list_free(l);
    lingma__accounts_free(&acc);
    free(s);
    return 0;
}
