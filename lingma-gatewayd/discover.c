/*
 * discover: the IDE plugin's Lingma binary (see discover.h). Layout seen in
 * the wild (lingma-protocol.md 1.1): ~/.lingma/bin/<version>/<platform>/Lingma
 * and ~/.lingma/bin/config.json naming the active core version.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "discover.h"

const char *
gw_discover_platform(void)
{
#if defined(__x86_64__)
    return "x86_64_linux";
#elif defined(__aarch64__)
    return "aarch64_linux";
#else
    return "unknown_linux";
#endif
}

static char *
candidate(const char *home, const char *version)
{
    if (!version || !*version || strchr(version, '/') || strcmp(version, "..") == 0 ||
        strcmp(version, ".") == 0)
        return NULL;
    size_t n = strlen(home) + strlen(version) + strlen(gw_discover_platform()) + 32;
    char *p = malloc(n);
    if (!p)
        return NULL;
    snprintf(p, n, "%s/.lingma/bin/%s/%s/Lingma", home, version, gw_discover_platform());
    if (access(p, X_OK) == 0)
        return p;
    free(p);
    return NULL;
}

/* The version config.json records, as "cosy.core.version" or nested. */
static char *
configured(const char *home)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.lingma/bin/config.json", home);
    json_t *root = json_load_file(path, 0, NULL);
    if (!root)
        return NULL;
    json_t *v = json_object_get(root, "cosy.core.version");
    if (!json_is_string(v))
        v = json_object_get(json_object_get(json_object_get(root, "cosy"), "core"), "version");
    char *out = json_is_string(v) ? candidate(home, json_string_value(v)) : NULL;
    json_decref(root);
    return out;
}

/* Compare dotted versions numerically, component by component. */
static int
vercmp(const char *a, const char *b)
{
    while (*a || *b) {
        char *ea, *eb;
        unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        if (ea == a || eb == b)
            return strcmp(a, b);
        a = *ea ? ea + 1 : ea;
        b = *eb ? eb + 1 : eb;
    }
    return 0;
}

char *
gw_discover_lingma(const char *home)
{
    if (!home || !*home)
        return NULL;
    char *p = configured(home);
    if (p)
        return p;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/.lingma/bin", home);
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *best = NULL, *best_ver = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *c = candidate(home, e->d_name);
        if (!c)
            continue;
        if (!best_ver || vercmp(e->d_name, best_ver) > 0) {
            char *v = strdup(e->d_name);
            if (!v) {
                free(c);
                continue;
            }
            free(best);
            free(best_ver);
            best = c;
            best_ver = v;
        } else {
            free(c);
        }
    }
    closedir(d);
    free(best_ver);
    return best;
}
