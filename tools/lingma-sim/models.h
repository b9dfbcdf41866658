/*
 * lingma-sim: the model catalogue behind config/queryModels and the model
 * check of chat/ask.
 *
 * Built in: `auto`, `dashscope_qwen3_coder` and the reasoning model
 * `dashscope_qwen_plus_20250428_thinking`, listed under every scene.
 * LINGMA_SIM_MODELS=<file> replaces it with either a JSON array of items
 * (listed under every scene) or an object scene -> array of items, the
 * shape config/queryModels returns. An item needs `key`; the other fields
 * (displayName, format, source, isReasoning, isVl, url, apiKey, model) get
 * defaults. `auto` and "" always select the default (first) model.
 */
#ifndef LINGMA_SIM_MODELS_H
#define LINGMA_SIM_MODELS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct sim_models {
    json_t *scenes; /* scene -> array of items */
    json_t *byKey;  /* key -> item (borrowed from scenes) */
    json_t *first;  /* the default model item */
};

/* Load the catalogue (file NULL: built-in). 0, or -1 with `err` set. */
int sim_models_load(struct sim_models *m, const char *file, char *err, size_t errlen);
void sim_models_free(struct sim_models *m);
/* The item for `key` (NULL or "" or "auto": the default), borrowed; NULL when unknown. */
const json_t *sim_models_find(const struct sim_models *m, const char *key);

#endif
