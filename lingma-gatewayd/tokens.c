/* Token estimation; the heuristic is described in tokens.h. */
#include "tokens.h"
#include "utf8.h"

enum cls { WORD, WORD2, SPACE, NEWLINE, ONE, TWO };

static enum cls
classify(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
            cp == '_')
            return WORD;
        if (cp == ' ' || cp == '\t')
            return SPACE;
        if (cp == '\n' || cp == '\r')
            return NEWLINE;
        return ONE;
    }
    if ((cp >= 0x2E80 && cp <= 0x9FFF) || /* CJK radicals .. unified ideographs, kana */
        (cp >= 0xAC00 && cp <= 0xD7AF) || /* Hangul syllables */
        (cp >= 0xF900 && cp <= 0xFAFF) || /* CJK compatibility ideographs */
        (cp >= 0xFF00 && cp <= 0xFFEF) || /* half- and full-width forms */
        (cp >= 0x20000 && cp <= 0x3FFFF)) /* CJK extensions B.. */
        return ONE;
    if (cp >= 0x10000)
        return TWO; /* emoji and other astral symbols */
    if (cp == 0xA0 || cp == 0x3000)
        return SPACE;
    return WORD2;
}

static uint64_t
run_tokens(uint64_t run)
{
    return (run + 3) / 4;
}

uint64_t
gw_token_counter_total(const gw_token_counter *c)
{
    return c->closed + run_tokens(c->run);
}

/* The counter after one more character of class k. */
static gw_token_counter
step(gw_token_counter c, enum cls k)
{
    if (k == WORD || k == WORD2) {
        c.run += k == WORD ? 1 : 2;
        c.newline = false;
        return c;
    }
    c.closed += run_tokens(c.run);
    c.run = 0;
    switch (k) {
    case NEWLINE:
        if (!c.newline)
            c.closed++;
        c.newline = true;
        return c;
    case SPACE:
        break;
    case ONE:
        c.closed++;
        break;
    default:
        c.closed += 2;
        break;
    }
    c.newline = false;
    return c;
}

size_t
gw_token_counter_take(gw_token_counter *c, const char *text, size_t len, uint64_t limit)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp = 0xFFFD;
        size_t n = gw_utf8_decode(text + i, len - i, &cp);
        if (n == 0)
            n = 1;
        gw_token_counter next = step(*c, classify(cp));
        if (gw_token_counter_total(&next) > limit)
            break;
        *c = next;
        i += n;
    }
    return i;
}

void
gw_token_counter_feed(gw_token_counter *c, const char *text, size_t len)
{
    gw_token_counter_take(c, text, len, UINT64_MAX);
}

uint64_t
gw_token_estimate(const char *text, size_t len)
{
    gw_token_counter c = GW_TOKEN_COUNTER_INIT;
    gw_token_counter_feed(&c, text, len);
    return gw_token_counter_total(&c);
}
