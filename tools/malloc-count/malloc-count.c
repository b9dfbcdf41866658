/*
 * malloc-count: an LD_PRELOAD shim that counts allocation calls (malloc,
 * calloc, realloc, posix_memalign, aligned_alloc) of the process it is
 * loaded into. The count lives in a shared 8-byte file,
 * $MALLOC_COUNT_DIR/malloc-count.<pid> (default /tmp), so that another
 * process (tools/perf-probe) can read it over a measured window.
 *
 * A measurement tool: it forwards to the next allocator with dlsym(RTLD_NEXT)
 * and has a small static arena for the allocations dlsym itself makes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_memalign)(void **, size_t, size_t);
static void *(*real_aligned)(size_t, size_t);

static _Atomic uint64_t local_count;
static _Atomic uint64_t *counter = &local_count;

/* dlsym may calloc before real_calloc is known. */
static char boot[4096];
static size_t boot_used;
static int resolving;

static void
resolve(void)
{
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    resolving = 0;
}

__attribute__((constructor)) static void
init(void)
{
    char path[512];
    const char *dir = getenv("MALLOC_COUNT_DIR");

    resolve();
    snprintf(path, sizeof(path), "%s/malloc-count.%ld", dir && *dir ? dir : "/tmp", (long)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof(uint64_t)) == 0) {
        void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
            counter = p;
    }
    close(fd);
}

static int
in_boot(const void *p)
{
    return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

void *
malloc(size_t n)
{
    resolve();
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    return real_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
    if (!real_calloc) {
        size_t n = (a * b + 15) & ~(size_t)15;
        if (boot_used + n > sizeof(boot))
            return NULL;
        void *p = boot + boot_used;
        boot_used += n;
        return p; /* static: already zero */
    }
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    return real_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    if (in_boot(p)) {
        void *q = real_malloc(n);
        if (q)
            memcpy(q, p, n < sizeof(boot) ? n : sizeof(boot));
        return q;
    }
    return real_realloc(p, n);
}

void
free(void *p)
{
    if (!p || in_boot(p))
        return;
    resolve();
    real_free(p);
}

int
posix_memalign(void **out, size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    return real_memalign(out, align, n);
}

void *
aligned_alloc(size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    return real_aligned(align, n);
}
