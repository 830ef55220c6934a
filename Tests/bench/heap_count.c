/* Heap accounting for Tests/bench/board_memory.py; never part of a product build.
 *
 * Counts the blocks the program holds: live bytes (the allocator's usable size of each block,
 * so size-class rounding is included, allocator metadata is not), live blocks, the peak of live
 * bytes, and successful allocation calls. Two ways in:
 *  - HEAP_COUNT_WRAP: linked into a static board binary with ld --wrap=malloc,... (valgrind
 *    cannot replace malloc in a static executable: it has no dynamic loader to preload into);
 *  - otherwise: an LD_PRELOAD library for a dynamic glibc build, forwarding to __libc_*.
 * The script reads `tether_heap_count` from /proc/<pid>/mem at stage boundaries (address from
 * the symbol table, plus the load address of the preloaded library): nothing runs in the agent
 * besides the counting itself. musl's own libc-internal allocations (time zone, locale,
 * atexit) use __libc_malloc directly and are not counted. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

struct heap_count {
    uint64_t magic;        /* "heapcnt1": the reader checks it found the right address */
    uint64_t live_bytes;
    uint64_t live_blocks;
    uint64_t peak_bytes;
    uint64_t allocs;
};

__attribute__((used, visibility("default")))
struct heap_count tether_heap_count = { 0x31746e6370616568ULL, 0, 0, 0, 0 };

/* An allocator entry point that calls another one (musl's calloc -> malloc) must count once. */
static __thread int depth __attribute__((tls_model("initial-exec")));

static void count_new(void *p) {
    if (!p) return;
    uint64_t n = malloc_usable_size(p);
    uint64_t live = __atomic_add_fetch(&tether_heap_count.live_bytes, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&tether_heap_count.live_blocks, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&tether_heap_count.allocs, 1, __ATOMIC_RELAXED);
    uint64_t peak = __atomic_load_n(&tether_heap_count.peak_bytes, __ATOMIC_RELAXED);
    while (live > peak && !__atomic_compare_exchange_n(&tether_heap_count.peak_bytes, &peak, live,
                                                       1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

static void count_gone(void *p) {
    if (!p) return;
    __atomic_sub_fetch(&tether_heap_count.live_bytes, (uint64_t)malloc_usable_size(p), __ATOMIC_RELAXED);
    __atomic_sub_fetch(&tether_heap_count.live_blocks, 1, __ATOMIC_RELAXED);
}

#ifdef HEAP_COUNT_WRAP
#define REAL(name) __real_##name
#define ENTRY(name) __wrap_##name
#define REAL_MEMALIGN(align, n) __real_aligned_alloc(align, n)
void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_aligned_alloc(size_t align, size_t n);
#else
#define REAL(name) __libc_##name
#define ENTRY(name) name
#define REAL_MEMALIGN(align, n) __libc_memalign(align, n)
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t count, size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t n);
#endif

#define COUNTED(call, p) do { depth++; p = (call); depth--; if (!depth) count_new(p); } while (0)

__attribute__((visibility("default"))) void *ENTRY(malloc)(size_t n) {
    void *p; COUNTED(REAL(malloc)(n), p); return p;
}

__attribute__((visibility("default"))) void *ENTRY(calloc)(size_t count, size_t n) {
    void *p; COUNTED(REAL(calloc)(count, n), p); return p;
}

__attribute__((visibility("default"))) void ENTRY(free)(void *p) {
    if (!depth) count_gone(p);
    depth++; REAL(free)(p); depth--;
}

__attribute__((visibility("default"))) void *ENTRY(realloc)(void *p, size_t n) {
    uint64_t old = (p && !depth) ? malloc_usable_size(p) : 0;
    depth++; void *r = REAL(realloc)(p, n); depth--;
    if (depth) return r;
    if (r) {  /* the old block (if any) is gone, a new one is live */
        if (p) {
            __atomic_sub_fetch(&tether_heap_count.live_bytes, old, __ATOMIC_RELAXED);
            __atomic_sub_fetch(&tether_heap_count.live_blocks, 1, __ATOMIC_RELAXED);
        }
        count_new(r);
    } else if (p && n == 0) {  /* glibc: realloc(p, 0) frees p and returns NULL */
        __atomic_sub_fetch(&tether_heap_count.live_bytes, old, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&tether_heap_count.live_blocks, 1, __ATOMIC_RELAXED);
    }
    return r;
}

__attribute__((visibility("default"))) void *ENTRY(reallocarray)(void *p, size_t count, size_t n) {
    if (n && count > SIZE_MAX / n) { errno = ENOMEM; return NULL; }
    return ENTRY(realloc)(p, count * n);
}

__attribute__((visibility("default"))) void *ENTRY(aligned_alloc)(size_t align, size_t n) {
    void *p; COUNTED(REAL_MEMALIGN(align, n), p); return p;
}

__attribute__((visibility("default"))) void *ENTRY(memalign)(size_t align, size_t n) {
    void *p; COUNTED(REAL_MEMALIGN(align, n), p); return p;
}

#ifndef HEAP_COUNT_WRAP
/* glibc's other aligned entry points, so that no block reaches free() uncounted. */
__attribute__((visibility("default"))) void *valloc(size_t n) {
    void *p; COUNTED(__libc_memalign(4096, n), p); return p;
}

__attribute__((visibility("default"))) void *pvalloc(size_t n) {
    void *p; COUNTED(__libc_memalign(4096, (n + 4095) & ~(size_t)4095), p); return p;
}
#endif

__attribute__((visibility("default"))) int ENTRY(posix_memalign)(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p; COUNTED(REAL_MEMALIGN(align, n), p);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
