/* Deterministic random inputs (see randtext.h). */
#include "randtext.h"

unsigned
test_pick(uint32_t *state, unsigned n)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 8) % n;
}

size_t
test_random_text(uint32_t *state, char *out, size_t cap)
{
    static const char alphabet[] =
        "ab Z\"\\/\n\t\r\b\f\x01\x1f\x7f\xc3\xa9\xe2\x80\xa8\xff\xf0\x9f\x98\x80";
    size_t n = test_pick(state, (unsigned)cap);
    for (size_t i = 0; i < n; i++)
        out[i] = test_pick(state, 20) ? alphabet[test_pick(state, sizeof(alphabet) - 1)] : '\0';
    out[n] = '\0';
    return n;
}
