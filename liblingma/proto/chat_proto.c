/* Pure chat protocol helpers; see chat_proto.h. */
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "chat_proto.h"

void
lingma_chat_proto_hex_id(char out[33], const unsigned char rnd[16])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[32] = '\0';
}

json_t *
lingma_chat_proto_ask(const struct lingma_ask_spec *spec)
{
    int agent = spec->mode == LINGMA_ASK_AGENT;
    const char *model = spec->model && *spec->model ? spec->model : "auto";
    const char *session = spec->session_id ? spec->session_id : "";

    /* json_pack's "s" validates UTF-8: a bad prompt fails here, not upstream. */
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:b, s:s, s:s, s:s, s:s, s:s, s:n,"
                     " s:{s:b}, s:{s:s, s:s, s:s}, s:{s:{s:s}}}",
                     "requestId", spec->request_id, "sessionId", session, "chatTask", "FREE_INPUT",
                     "sessionType", agent ? "developer" : "chat", "mode", agent ? "agent" : "chat",
                     "stream", 1, "source", 1, "isReply", 0, "taskDefinitionType", "",
                     "questionText", spec->prompt, "codeLanguage", "", "shellType", "",
                     "targetAgent", "", "customModel", "pluginPayloadConfig", "isEnableAutoMemory",
                     0, "chatContext", "text", spec->prompt, "preferredLanguage", "en",
                     "localeLang", "en", "extra", "modelConfig", "key", model);
}

static const char *
str_member(const json_t *obj, const char *key, size_t *len)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

const char *
lingma_chat_proto_request_id(const json_t *params)
{
    return json_is_object(params) ? str_member(params, "requestId", NULL) : NULL;
}

int
lingma_chat_proto_answer(struct lingma_answer *out, const json_t *params)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(params) || !(out->request_id = str_member(params, "requestId", NULL)))
        return LINGMA_EPROTO;
    out->session_id = str_member(params, "sessionId", NULL);
    /* Real Lingma sends `text`; the original gateway also read `content`. */
    out->text = str_member(params, "text", &out->len);
    if (!out->text)
        out->text = str_member(params, "content", &out->len);
    if (!out->text) {
        out->text = "";
        out->len = 0;
    }
    return 0;
}

static int
uint_member(const json_t *obj, const char *a, const char *b, uint64_t *out)
{
    const json_t *v = json_object_get(obj, a);

    if (!v && b)
        v = json_object_get(obj, b);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v) && json_real_value(v) >= 0) {
        *out = (uint64_t)json_real_value(v);
        return 1;
    }
    return 0;
}

void
lingma_chat_proto_usage(lingma_usage *out, const json_t *obj)
{
    if (!json_is_object(obj))
        return;
    const json_t *nested = json_object_get(obj, "usage");
    if (!json_is_object(nested))
        nested = json_object_get(obj, "tokenUsage");
    if (json_is_object(nested))
        obj = nested;
    int found = 0;
    found |= uint_member(obj, "prompt_tokens", "promptTokens", &out->prompt_tokens);
    found |= uint_member(obj, "completion_tokens", "completionTokens", &out->completion_tokens);
    found |= uint_member(obj, "total_tokens", "totalTokens", &out->total_tokens);
    if (found) {
        out->present = 1;
        if (!out->total_tokens)
            out->total_tokens = out->prompt_tokens + out->completion_tokens;
    }
}

int
lingma_chat_proto_finish(struct lingma_finish *out, const json_t *params)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(params) || !(out->request_id = str_member(params, "requestId", NULL)))
        return LINGMA_EPROTO;
    out->session_id = str_member(params, "sessionId", NULL);
    out->status_code = 200;
    const json_t *sc = json_object_get(params, "statusCode");
    if (json_is_integer(sc))
        out->status_code = (int)json_integer_value(sc);
    else if (json_is_string(sc) && *json_string_value(sc))
        out->status_code = (int)strtol(json_string_value(sc), NULL, 10);
    out->reason = str_member(params, "reason", NULL);
    if (!out->reason)
        out->reason = "";
    out->full_answer = str_member(params, "fullAnswer", &out->full_answer_len);
    if (!out->full_answer) {
        out->full_answer = "";
        out->full_answer_len = 0;
    }
    lingma_chat_proto_usage(&out->usage, json_object_get(params, "extra"));
    return 0;
}

int
lingma_chat_proto_is_step_end(const json_t *params)
{
    const char *step = json_is_object(params) ? str_member(params, "step", NULL) : NULL;
    return step && strcmp(step, "step_end") == 0;
}
