/*
 * The calls of one answer and their ids; see calls.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lingma/common.h"

#include "api/calls.h"

void
gw_call_id(char out[GW_CALL_ID_SIZE], const char *prefix, const char *runtime_id)
{
    const char *u = strchr(runtime_id, '_');
    snprintf(out, GW_CALL_ID_SIZE, "%s%s", prefix, u ? u + 1 : runtime_id);
}

int
gw_calls_add(gw_calls *l, const gw_tool_call *c)
{
    gw_tool_call *v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v)
        return LINGMA_ENOMEM;
    l->v = v;
    gw_tool_call t = {strdup(c->id ? c->id : ""), strdup(c->name ? c->name : ""),
                      strdup(c->arguments ? c->arguments : "{}")};
    if (!t.id || !t.name || !t.arguments) {
        free(t.id);
        free(t.name);
        free(t.arguments);
        return LINGMA_ENOMEM;
    }
    l->v[l->n++] = t;
    return 0;
}

void
gw_calls_free(gw_calls *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].name);
        free(l->v[i].arguments);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
