/*
 * helper-alloc.c — malloc and memcpy for berth-shim-helper-lite (musl).
 *
 * The helper lives for one request (a create, its start, an exec, a delete)
 * and frees little of what it parses; musl's own malloc (mallocng) and its
 * memcpy (rep movsq, with a start-up cost every time) made parsing
 * config.json 5.6 times slower than glibc's (0.79 against 0.14 ms here),
 * which ate most of what the faster start of a musl program saves.  So:
 *
 * - a bump allocator: 1 MiB chunks from mmap, each block after a 16-byte
 *   header holding its size; free() gives back only the last block (the
 *   common push-pop of a temporary buffer), realloc() grows the last block in
 *   place.  Nothing else is ever reused: the process ends with its request.
 * - memcpy: eight bytes at a time below 256 bytes, rep movsb above (and as
 *   __memcpy_fwd, the name musl's memmove copies forward through).
 *
 * musl takes an application's malloc, calloc, realloc, free and
 * aligned_alloc for everything it hands out (strdup, asprintf, realpath…).
 * The helper has no threads and clones without CLONE_VM (runtime/ns.c), so
 * nothing here is shared.  Built only into the lite helper, with
 * -fno-tree-loop-distribute-patterns (the loops below must not become memcpy
 * calls) and never with a sanitizer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ALIGN 16u
#define CHUNK (1u << 20)

struct block {
        size_t size; /* usable bytes, a multiple of ALIGN */
        size_t pad;
};

static char *cur, *end;    /* the free part of the current chunk */
static struct block *last; /* the block that ends at cur, or NULL */

static void *take(size_t n, size_t align)
{
        if (n == 0)
                n = 1;
        if (n > SIZE_MAX / 4 || align > CHUNK / 4) {
                errno = ENOMEM;
                return NULL;
        }
        n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
        for (;;) {
                uintptr_t p =
                    ((uintptr_t)cur + sizeof(struct block) + align - 1) & ~(uintptr_t)(align - 1);
                if (cur && p + n <= (uintptr_t)end) {
                        struct block *b = (struct block *)p - 1;
                        b->size = n;
                        cur = (char *)(p + n);
                        last = b;
                        return (void *)p;
                }
                size_t want = n + align + sizeof(struct block);
                if (want < CHUNK)
                        want = CHUNK;
                void *m =
                    mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED) {
                        errno = ENOMEM;
                        return NULL;
                }
                cur = m;
                end = (char *)m + want;
                last = NULL;
        }
}

void *malloc(size_t n)
{
        return take(n, ALIGN);
}

void free(void *p)
{
        if (!p)
                return;
        struct block *b = (struct block *)p - 1;
        if (b == last) {
                cur = (char *)b;
                last = NULL;
        }
}

void *calloc(size_t n, size_t size)
{
        if (size && n > SIZE_MAX / size) {
                errno = ENOMEM;
                return NULL;
        }
        /* take(), not malloc(): the compiler folds malloc + memset into calloc */
        void *p = take(n * size, ALIGN);
        if (p)
                memset(p, 0, n * size);
        return p;
}

void *realloc(void *p, size_t n)
{
        if (!p)
                return take(n, ALIGN);
        struct block *b = (struct block *)p - 1;
        if (n <= b->size)
                return p;
        size_t grown = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
        if (b == last && grown >= n && grown <= (size_t)(end - (char *)p)) {
                b->size = grown;
                cur = (char *)p + grown;
                return p;
        }
        void *q = take(n, ALIGN);
        if (q)
                memcpy(q, p, b->size);
        return q;
}

void *aligned_alloc(size_t align, size_t n)
{
        if (align == 0 || (align & (align - 1))) {
                errno = EINVAL;
                return NULL;
        }
        return take(n, align < ALIGN ? ALIGN : align);
}

int posix_memalign(void **ret, size_t align, size_t n)
{
        if (align < sizeof(void *) || (align & (align - 1)))
                return EINVAL;
        void *p = take(n, align < ALIGN ? ALIGN : align);
        if (!p)
                return ENOMEM;
        *ret = p;
        return 0;
}

void *memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n)
{
        return aligned_alloc(align, n);
}

size_t malloc_usable_size(void *p);
size_t malloc_usable_size(void *p)
{
        return p ? ((struct block *)p - 1)->size : 0;
}

typedef uint64_t __attribute__((may_alias, aligned(1))) u64_unaligned;

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
        unsigned char *d = dst;
        const unsigned char *s = src;
        if (n >= 256) {
                __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
                return dst;
        }
        for (; n >= 8; n -= 8, d += 8, s += 8)
                *(u64_unaligned *)d = *(const u64_unaligned *)s;
        while (n--)
                *d++ = *s++;
        return dst;
}

void *__memcpy_fwd(void *restrict dst, const void *restrict src, size_t n);
void *__memcpy_fwd(void *restrict dst, const void *restrict src, size_t n)
{
        return memcpy(dst, src, n);
}
