/* lingma-sim: deterministic answers, see answer.h. */
#include "answer.h"

#include "reply_script.h"
#include "reply_tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
mix(uint64_t x)
{
    /* splitmix64 finaliser: a cheap, well-spread deterministic stream */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t
hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static char *
tokens_text(uint64_t seed, const char *question, int n)
{
    static const char *words[] = {"lorem", "ipsum", "dolor",  "sit",    "amet",  "code",
                                  "model", "token", "lingma", "stream", "delta", "answer",
                                  "quick", "brown", "fox",    "jumps"};
    size_t cap = (size_t)n * 8 + 1, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    uint64_t state = seed ^ hash_text(question);
    for (int i = 0; i < n; i++) {
        state = mix(state);
        const char *w = words[state % (sizeof(words) / sizeof(*words))];
        size_t wl = strlen(w);
        if (i)
            out[len++] = ' ';
        memcpy(out + len, w, wl);
        len += wl;
    }
    out[len] = '\0';
    return out;
}

static char *
echo_text(const char *question)
{
    char *body = malloc(strlen(question) + 7);
    if (body)
        sprintf(body, "ECHO: %s", question);
    return body;
}

char *
sim_answer_text(const struct sim_settings *s, const char *question, bool reasoning, char *err,
                size_t errlen)
{
    char *body = NULL;
    int rc;
    err[0] = '\0';
    switch (s->reply) {
    case SIM_REPLY_TEXT:
        body = strdup(s->reply_text ? s->reply_text : "");
        break;
    case SIM_REPLY_TOKENS:
        body = tokens_text(s->seed, question, s->reply_tokens);
        break;
    case SIM_REPLY_TOOLS:
        /* 1: no tool section, so the "model" answers like echo */
        rc = sim_tools_reply(question, &body);
        if (rc == 1)
            body = echo_text(question);
        break;
    case SIM_REPLY_SCRIPT:
        if (sim_script_reply(s->reply_script, question, &body, err, errlen))
            return NULL;
        if (!body) /* no rule matched */
            body = echo_text(question);
        break;
    default:
        body = echo_text(question);
        break;
    }
    if (!body || !reasoning)
        return body;

    static const char think[] = "Thinking about the question.";
    size_t need =
        strlen(SIM_THINK_OPEN) + strlen(think) + strlen(SIM_THINK_CLOSE) + strlen(body) + 1;
    char *full = malloc(need);
    if (full)
        snprintf(full, need, "%s%s%s%s", SIM_THINK_OPEN, think, SIM_THINK_CLOSE, body);
    free(body);
    return full;
}

int
sim_answer_delta_count(int chunks)
{
    return chunks + (chunks >= 2 ? 2 : 1);
}

static size_t
cut(const char *text, size_t len, int chunks, int i)
{
    if (i <= 0)
        return 0;
    if (i >= chunks)
        return len;
    size_t at = (size_t)((unsigned long long)len * (unsigned)i / (unsigned)chunks);
    /* never split a UTF-8 sequence: move forward past continuation bytes */
    while (at < len && ((unsigned char)text[at] & 0xc0) == 0x80)
        at++;
    return at;
}

void
sim_answer_delta(const char *text, size_t len, int chunks, int d, size_t *off, size_t *n)
{
    int count = sim_answer_delta_count(chunks);
    int piece;
    if (d == count - 1 || (chunks >= 2 && d == 2)) {
        /* an empty delta sits where the previous piece ended */
        *off = d == count - 1 ? len : cut(text, len, chunks, 2);
        *n = 0;
        return;
    }
    piece = (chunks >= 2 && d > 2) ? d - 1 : d;
    size_t a = cut(text, len, chunks, piece);
    size_t b = cut(text, len, chunks, piece + 1);
    if (b < a)
        b = a;
    *off = a;
    *n = b - a;
}

int
sim_answer_tokens(const char *text)
{
    size_t l = strlen(text);
    return l ? (int)((l + 3) / 4) : 0;
}
