/*
 * malloc-count: an LD_PRELOAD shim that counts allocations into a shared
 * file (see malloc_count.h). It forwards to glibc's __libc_* entry points,
 * so it needs no dlsym (whose own allocations would recurse) and changes
 * nothing of what the allocator does: only the counting is added, two
 * relaxed atomic adds per call. Not for sanitizer builds, whose runtimes
 * replace malloc themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "malloc_count.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

/* Until the constructor has mapped the file (and when there is none). */
static struct malloc_counts early;
static struct malloc_counts *counts = &early;

#define ADD(field, v) __atomic_fetch_add(&counts->field, (uint64_t)(v), __ATOMIC_RELAXED)

static void
count_alloc(size_t n)
{
    ADD(allocs, 1);
    ADD(bytes, n);
}

void *
malloc(size_t n)
{
    count_alloc(n);
    return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
    count_alloc(n * size);
    return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
    if (!p) {
        count_alloc(n);
    } else if (n == 0) {
        ADD(frees, 1);
    } else {
        ADD(reallocs, 1);
        ADD(bytes, n);
    }
    return __libc_realloc(p, n);
}

void
free(void *p)
{
    if (p)
        ADD(frees, 1);
    __libc_free(p);
}

void *
memalign(size_t align, size_t n)
{
    count_alloc(n);
    return __libc_memalign(align, n);
}

void *
aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int
posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *
valloc(size_t n)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

__attribute__((constructor)) static void
malloc_count_init(void)
{
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path || !*path)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    void *m = MAP_FAILED;
    if (ftruncate(fd, sizeof(struct malloc_counts)) == 0)
        m = mmap(NULL, sizeof(struct malloc_counts), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m != MAP_FAILED) {
        struct malloc_counts *c = m;
        memcpy(c, &early, sizeof(*c));
        c->magic = MALLOC_COUNT_MAGIC;
        counts = c;
    }
    /* Children are not ours to count (see malloc_count.h). */
    unsetenv("MALLOC_COUNT_FILE");
    unsetenv("LD_PRELOAD");
}
