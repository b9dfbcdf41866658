/* lingma-sim: model catalogue, see models.h. */
#include "models.h"

#include <stdio.h>
#include <string.h>

static const char *const scene_names[] = {"assistant", "chat", "developer", "inline", "quest"};

static json_t *
item_new(const char *key, const char *display, bool reasoning)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:s}", "key", key, "displayName",
                     display, "format", "openai", "source", "system", "isReasoning", reasoning,
                     "isVl", 0, "url", "", "apiKey", "", "model", "");
}

/* Give an item from a file every field a client may read. */
static int
item_complete(json_t *item)
{
    const char *key = json_string_value(json_object_get(item, "key"));
    if (!json_is_object(item) || !key || !*key)
        return -1;
    if (!json_object_get(item, "displayName"))
        json_object_set_new(item, "displayName", json_string(key));
    static const char *strs[][2] = {
        {"format", "openai"}, {"source", "system"}, {"url", ""}, {"apiKey", ""}, {"model", ""}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
        if (!json_object_get(item, strs[i][0]))
            json_object_set_new(item, strs[i][0], json_string(strs[i][1]));
    }
    if (!json_object_get(item, "isReasoning"))
        json_object_set_new(item, "isReasoning", json_false());
    if (!json_object_get(item, "isVl"))
        json_object_set_new(item, "isVl", json_false());
    return 0;
}

static int
index_items(struct sim_models *m)
{
    const char *scene;
    json_t *list;
    m->byKey = json_object();
    if (!m->byKey)
        return -1;
    json_object_foreach(m->scenes, scene, list)
    {
        size_t i;
        json_t *item;
        if (!json_is_array(list))
            return -1;
        json_array_foreach(list, i, item)
        {
            if (item_complete(item))
                return -1;
            const char *key = json_string_value(json_object_get(item, "key"));
            if (!json_object_get(m->byKey, key))
                json_object_set(m->byKey, key, item);
            if (!m->first)
                m->first = item;
        }
    }
    return m->first ? 0 : -1;
}

int
sim_models_load(struct sim_models *m, const char *file, char *err, size_t errlen)
{
    json_t *items = NULL;
    memset(m, 0, sizeof(*m));
    if (file) {
        json_error_t jerr;
        json_t *root = json_load_file(file, 0, &jerr);
        if (!root) {
            snprintf(err, errlen, "LINGMA_SIM_MODELS: %s: %s", file, jerr.text);
            return -1;
        }
        if (json_is_array(root))
            items = root;
        else if (json_is_object(root))
            m->scenes = root;
        else
            json_decref(root);
    } else {
        items =
            json_pack("[o,o,o]", item_new("auto", "Auto", false),
                      item_new("dashscope_qwen3_coder", "qwen3-coder", false),
                      item_new("dashscope_qwen_plus_20250428_thinking", "qwen3-thinking", true));
    }
    if (items) {
        m->scenes = json_object();
        for (size_t i = 0; m->scenes && i < sizeof(scene_names) / sizeof(*scene_names); i++)
            json_object_set_new(m->scenes, scene_names[i], json_deep_copy(items));
        json_decref(items);
    }
    if (!m->scenes || index_items(m)) {
        snprintf(err, errlen,
                 "LINGMA_SIM_MODELS: %s: expected a JSON array of models or an object "
                 "scene -> array, every model with a non-empty \"key\"",
                 file ? file : "(built-in)");
        sim_models_free(m);
        return -1;
    }
    return 0;
}

void
sim_models_free(struct sim_models *m)
{
    json_decref(m->byKey);
    json_decref(m->scenes);
    memset(m, 0, sizeof(*m));
}

const json_t *
sim_models_find(const struct sim_models *m, const char *key)
{
    if (!key || !*key || !strcmp(key, "auto")) {
        const json_t *a = json_object_get(m->byKey, "auto");
        return a ? a : m->first;
    }
    return json_object_get(m->byKey, key);
}
