/* chat/ask's params without a jansson tree (see ask_write.h). Keep the
 * members and their order in step with lingma__method_ask(). */
#include <string.h>

#include "ask_write.h"

/* ,"key":"value" (no comma before the first member). */
static int
member(struct lingma__jsonw *w, const char *key, const char *value)
{
    lingma__jsonw_lit(w, key);
    return lingma__jsonw_string(w, value, strlen(value));
}

int
lingma__method_ask_write(struct lingma__jsonw *w, const struct lingma__ask_spec *spec)
{
    int agent = spec->mode == LINGMA_ASK_AGENT;
    const char *model = spec->model && *spec->model ? spec->model : "auto";
    const char *session = spec->session_id ? spec->session_id : "";

    if (member(w, "{\"requestId\":", spec->request_id) || member(w, ",\"sessionId\":", session))
        return LINGMA_EINVAL;
    lingma__jsonw_lit(w, ",\"chatTask\":\"FREE_INPUT\",\"sessionType\":");
    lingma__jsonw_lit(w, agent ? "\"developer\",\"mode\":\"agent\"" : "\"chat\",\"mode\":\"chat\"");
    lingma__jsonw_lit(w, ",\"stream\":true,\"source\":1,\"isReply\":false,"
                         "\"taskDefinitionType\":\"\"");
    if (member(w, ",\"questionText\":", spec->prompt))
        return LINGMA_EINVAL;
    lingma__jsonw_lit(w, ",\"codeLanguage\":\"\",\"shellType\":\"\",\"targetAgent\":\"\","
                         "\"customModel\":null,"
                         "\"pluginPayloadConfig\":{\"isEnableAutoMemory\":false}");
    if (member(w, ",\"chatContext\":{\"text\":", spec->prompt))
        return LINGMA_EINVAL;
    lingma__jsonw_lit(w, ",\"preferredLanguage\":\"en\",\"localeLang\":\"en\"}");
    if (member(w, ",\"extra\":{\"modelConfig\":{\"key\":", model))
        return LINGMA_EINVAL;
    lingma__jsonw_lit(w, "}}}");
    return 0;
}

int
lingma__method_delete_session_write(struct lingma__jsonw *w, const char *session_id)
{
    if (member(w, "{\"sessionId\":", session_id))
        return LINGMA_EINVAL;
    lingma__jsonw_lit(w, "}");
    return 0;
}
