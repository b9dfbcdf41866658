/* Internal allocation helpers: route through a lingma_allocator or libc. */
#ifndef LINGMA_INTERNAL_ALLOC_H
#define LINGMA_INTERNAL_ALLOC_H

#include <stddef.h>

#include "lingma/common.h"

void *lingma__malloc(const lingma_allocator *a, size_t size);
void *lingma__calloc(const lingma_allocator *a, size_t nmemb, size_t size);
void *lingma__realloc(const lingma_allocator *a, void *ptr, size_t size);
void lingma__free(const lingma_allocator *a, void *ptr);
char *lingma__strdup(const lingma_allocator *a, const char *s);
char *lingma__strndup(const lingma_allocator *a, const char *s, size_t n);

#endif
