/* lingma-sim: settings and fault switches, see settings.h. */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define PREFIX "LINGMA_SIM_"

void
sim_settings_defaults(struct sim_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->logged_in = true;
    s->reply = SIM_REPLY_ECHO;
    s->chunks = 8;
    s->info = SIM_INFO_2LINE;
    s->fault.drop_after = -1;
    s->fault.exit_after = -1;
    /* Short enough that a client which never ACKs still gets its answer
     * quickly, long enough that a loopback ACK always makes it. */
    s->ack_wait_ms = 100;
}

void
sim_settings_free(struct sim_settings *s)
{
    free(s->reply_text);
    free(s->reply_script);
    free(s->models_file);
    free(s->fault_text);
    free(s->username);
    s->reply_text = s->reply_script = s->models_file = s->fault_text = s->username = NULL;
}

static int
dup_field(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

int
sim_settings_copy(struct sim_settings *dst, const struct sim_settings *src)
{
    *dst = *src;
    if (dup_field(&dst->reply_text, src->reply_text) ||
        dup_field(&dst->reply_script, src->reply_script) ||
        dup_field(&dst->models_file, src->models_file) ||
        dup_field(&dst->fault_text, src->fault_text) || dup_field(&dst->username, src->username)) {
        sim_settings_free(dst);
        sim_settings_defaults(dst);
        return -1;
    }
    return 0;
}

static int
parse_int(const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static int
parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++) {
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static bool
fault_kw(const char *item, const char *kw, const char **arg)
{
    size_t n = strlen(kw);
    if (strncmp(item, kw, n))
        return false;
    if (item[n] == '\0') {
        *arg = NULL;
        return true;
    }
    if (item[n] == ':') {
        *arg = item + n + 1;
        return true;
    }
    return false;
}

static int
fault_item(struct sim_faults *f, const char *item, char *err, size_t errlen)
{
    const char *arg;
    long n;
    int *num = NULL;
    bool *flag = NULL;
    long min = 0, max = 3600000;

    if (fault_kw(item, "drop_after", &arg))
        num = &f->drop_after;
    else if (fault_kw(item, "exit_after", &arg))
        num = &f->exit_after;
    else if (fault_kw(item, "ask_delay_ms", &arg))
        num = &f->ask_delay_ms;
    else if (fault_kw(item, "start_delay_ms", &arg))
        num = &f->start_delay_ms;
    else if (fault_kw(item, "finish", &arg)) {
        num = &f->finish_code;
        min = 100;
        max = 599;
    } else if (fault_kw(item, "hang", &arg))
        flag = &f->hang;
    else if (fault_kw(item, "rpc_error", &arg))
        flag = &f->rpc_error;
    else if (fault_kw(item, "exit_at_start", &arg))
        flag = &f->exit_at_start;
    else if (fault_kw(item, "stale_info", &arg))
        flag = &f->stale_info;
    else if (fault_kw(item, "logged_out", &arg))
        flag = &f->logged_out;
    else if (fault_kw(item, "tool_invoke", &arg))
        flag = &f->tool_invoke;
    else {
        snprintf(err, errlen,
                 "LINGMA_SIM_FAULT: unknown fault '%s' (known: drop_after:N, exit_after:N, hang, "
                 "ask_delay_ms:N, finish:408|429|500, rpc_error, exit_at_start, "
                 "start_delay_ms:N, stale_info, logged_out, tool_invoke)",
                 item);
        return -1;
    }
    if (flag) {
        if (arg) {
            snprintf(err, errlen, "LINGMA_SIM_FAULT: '%s' takes no value", item);
            return -1;
        }
        *flag = true;
        return 0;
    }
    if (!arg || parse_int(arg, min, max, &n) || (num == &f->finish_code && n == 200)) {
        snprintf(err, errlen, "LINGMA_SIM_FAULT: '%s' needs a number%s", item,
                 num == &f->finish_code ? " (a non-200 HTTP status, e.g. finish:500)"
                                        : " (e.g. drop_after:3)");
        return -1;
    }
    *num = (int)n;
    return 0;
}

int
sim_faults_parse(struct sim_faults *f, const char *text, char *err, size_t errlen)
{
    struct sim_faults nf;
    memset(&nf, 0, sizeof(nf));
    nf.drop_after = nf.exit_after = -1;
    char *copy = strdup(text);
    if (!copy) {
        snprintf(err, errlen, "LINGMA_SIM_FAULT: out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*tok)
            continue;
        if (fault_item(&nf, tok, err, errlen)) {
            free(copy);
            return -1;
        }
    }
    free(copy);
    *f = nf;
    return 0;
}

bool
sim_faults_chat_active(const struct sim_faults *f)
{
    return f->drop_after >= 0 || f->exit_after >= 0 || f->hang || f->ask_delay_ms > 0 ||
           f->finish_code || f->rpc_error || f->logged_out || f->tool_invoke;
}

bool
sim_faults_start_active(const struct sim_faults *f)
{
    return f->exit_at_start || f->start_delay_ms > 0 || f->stale_info;
}

enum kind { K_BOOL, K_INT, K_U64, K_STR, K_SPECIAL };

struct setting {
    const char *name; /* without the prefix */
    enum kind kind;
    size_t off;
    long min, max;
    const char *expect;
};

#define OFF(f) offsetof(struct sim_settings, f)
static const struct setting table[] = {
    {"LOGGED_IN", K_BOOL, OFF(logged_in), 0, 0, "0 or 1"},
    {"SEED", K_U64, OFF(seed), 0, 0, "an unsigned integer"},
    {"REPLY", K_SPECIAL, 0, 0, 0, "echo, text:<s>, tokens:<n>, tools or script:<file>"},
    {"CHUNKS", K_INT, OFF(chunks), 1, 100000, "an integer from 1 to 100000"},
    {"FIRST_TOKEN_MS", K_INT, OFF(first_token_ms), 0, 3600000, "milliseconds (0-3600000)"},
    {"CHUNK_MS", K_INT, OFF(chunk_ms), 0, 3600000, "milliseconds (0-3600000)"},
    {"MODELS", K_STR, OFF(models_file), 0, 0, "a file name"},
    {"INFO", K_SPECIAL, 0, 0, 0, "2line, 3line, json or early"},
    {"SPLIT", K_BOOL, OFF(split), 0, 0, "0 or 1"},
    {"COALESCE", K_BOOL, OFF(coalesce), 0, 0, "0 or 1"},
    {"STEP_END_FIRST", K_BOOL, OFF(step_end_first), 0, 0, "0 or 1"},
    {"NOISY", K_BOOL, OFF(noisy), 0, 0, "0 or 1"},
    {"ONE_CHAT_PER_CONNECTION", K_BOOL, OFF(one_chat_per_connection), 0, 0, "0 or 1"},
    {"USAGE", K_BOOL, OFF(usage), 0, 0, "0 or 1"},
    {"TIMESTAMPS", K_BOOL, OFF(timestamps), 0, 0, "0 or 1"},
    {"FAULT", K_SPECIAL, 0, 0, 0, "a comma list of faults"},
    {"FAULT_LIMIT", K_INT, OFF(fault_limit), 0, INT_MAX, "a count >= 0 (0: no limit)"},
    {"ACK_WAIT_MS", K_INT, OFF(ack_wait_ms), 0, 600000, "milliseconds (0-600000)"},
    {"USERNAME", K_STR, OFF(username), 0, 0, "an account name"},
};

/* Replace an owned string field; -1 when out of memory (field unchanged). */
static int
replace_str(char **field, const char *v)
{
    char *t = strdup(v);
    if (!t)
        return -1;
    free(*field);
    *field = t;
    return 0;
}

static int
set_special(struct sim_settings *s, const char *name, const char *v, char *err, size_t errlen)
{
    if (!strcmp(name, "REPLY")) {
        long n;
        if (!strcmp(v, "echo")) {
            s->reply = SIM_REPLY_ECHO;
        } else if (!strncmp(v, "text:", 5)) {
            if (replace_str(&s->reply_text, v + 5))
                goto nomem;
            s->reply = SIM_REPLY_TEXT;
        } else if (!strncmp(v, "tokens:", 7) && !parse_int(v + 7, 0, 1000000, &n)) {
            s->reply = SIM_REPLY_TOKENS;
            s->reply_tokens = (int)n;
        } else if (!strcmp(v, "tools")) {
            s->reply = SIM_REPLY_TOOLS;
        } else if (!strncmp(v, "script:", 7) && v[7]) {
            /* the file is read at every chat/ask; start-up checks it once */
            if (replace_str(&s->reply_script, v + 7))
                goto nomem;
            s->reply = SIM_REPLY_SCRIPT;
        } else {
            return -1;
        }
        return 0;
    }
    if (!strcmp(name, "INFO")) {
        static const char *names[] = {"2line", "3line", "json", "early"};
        for (int i = 0; i < 4; i++) {
            if (!strcmp(v, names[i])) {
                s->info = (enum sim_info_kind)i;
                return 0;
            }
        }
        return -1;
    }
    /* FAULT */
    if (sim_faults_parse(&s->fault, v, err, errlen))
        return -2; /* err already says what is wrong */
    free(s->fault_text);
    s->fault_text = NULL;
    if (*v && !(s->fault_text = strdup(v)))
        goto nomem;
    return 0;
nomem:
    snprintf(err, errlen, PREFIX "%s: out of memory", name);
    return -2;
}

int
sim_settings_set(struct sim_settings *s, const char *key, const char *value, char *err,
                 size_t errlen)
{
    char name[64];
    size_t i;
    if (!strncasecmp(key, PREFIX, strlen(PREFIX)))
        key += strlen(PREFIX);
    for (i = 0; key[i] && i + 1 < sizeof(name); i++)
        name[i] = (char)toupper((unsigned char)key[i]);
    name[i] = '\0';

    for (i = 0; i < sizeof(table) / sizeof(*table); i++) {
        const struct setting *t = &table[i];
        if (strcmp(t->name, name))
            continue;
        char *base = (char *)s;
        int rc = 0;
        long n;
        switch (t->kind) {
        case K_BOOL:
            rc = parse_bool(value, (bool *)(base + t->off));
            break;
        case K_INT:
            rc = parse_int(value, t->min, t->max, &n);
            if (!rc)
                *(int *)(base + t->off) = (int)n;
            break;
        case K_U64: {
            char *end;
            errno = 0;
            unsigned long long u = strtoull(value, &end, 10);
            rc = (errno || end == value || *end || value[0] == '-') ? -1 : 0;
            if (!rc)
                *(uint64_t *)(base + t->off) = u;
            break;
        }
        case K_STR: {
            char **field = (char **)(base + t->off);
            if (!*value) {
                rc = -1;
                break;
            }
            char *c = strdup(value);
            if (!c) {
                snprintf(err, errlen, PREFIX "%s: out of memory", name);
                return -1;
            }
            free(*field);
            *field = c;
            break;
        }
        case K_SPECIAL:
            rc = set_special(s, name, value, err, errlen);
            if (rc == -2)
                return -1;
            break;
        }
        if (rc) {
            snprintf(err, errlen, PREFIX "%s: invalid value '%s' (expected %s)", name, value,
                     t->expect);
            return -1;
        }
        return 0;
    }
    return 1;
}

int
sim_settings_from_env(struct sim_settings *s, char *const *envp, char *err, size_t errlen)
{
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        if (strncmp(e, PREFIX, strlen(PREFIX)))
            continue;
        const char *eq = strchr(e, '=');
        if (!eq)
            continue;
        char key[64];
        size_t klen = (size_t)(eq - e);
        if (klen >= sizeof(key))
            continue;
        memcpy(key, e, klen);
        key[klen] = '\0';
        if (sim_settings_set(s, key, eq + 1, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int
sim_settings_from_file(struct sim_settings *s, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "%s: not a JSON object of settings (%s, line %d)", path,
                 root ? "wrong type" : jerr.text, jerr.line);
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        char buf[64];
        const char *val = buf;
        if (json_is_string(v))
            val = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_boolean(v))
            snprintf(buf, sizeof(buf), "%d", json_is_true(v) ? 1 : 0);
        else if (json_is_null(v))
            continue;
        else {
            snprintf(err, errlen, "%s: setting '%s' must be a string, number or boolean", path,
                     key);
            rc = -1;
            break;
        }
        char e2[256];
        if (sim_settings_set(s, key, val, e2, sizeof(e2)) < 0) {
            snprintf(err, errlen, "%s: %s", path, e2);
            rc = -1;
            break;
        }
    }
    json_decref(root);
    return rc;
}
