/* Arena allocator: a chain of blocks; a reset keeps the first block for reuse. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16 /* enough for max_align_t on x86_64 and aarch64 */

struct block {
    struct block *next; /* older block */
    size_t size;        /* usable bytes in data[] */
    size_t used;        /* bytes handed out */
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

/* A cleanup to run at the next reset (arena_defer); the record lives in the arena. */
struct defer {
    struct defer *next; /* registered before this one: runs after it */
    void (*fn)(void *);
    void *p;
};

struct arena {
    struct defer *defers; /* cleanups, last registered first */
    struct block *head;   /* block being filled; older ones follow */
    struct block *first;  /* the warm block kept across resets */
    size_t block_size;    /* default size of a new block */
    size_t footprint;     /* heap bytes held */
    void *last;           /* most recent allocation, for in-place realloc */
};

static struct block *block_new(struct arena *a, size_t min)
{
    size_t size = a->block_size;
    if (size < min)
        size = min;
    struct block *b = xmalloc(sizeof *b + size);
    b->size = size;
    b->used = 0;
    b->next = NULL;
    a->footprint += size;
    return b;
}

struct arena *arena_new(size_t block_size)
{
    struct arena *a = xcalloc(1, sizeof *a);
    a->block_size = block_size < 1024 ? 1024 : block_size;
    a->first = a->head = block_new(a, 0);
    return a;
}

/* Runs and forgets the cleanups, newest first (a later object may refer to an earlier one). */
static void run_defers(struct arena *a)
{
    while (a->defers) {
        struct defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->p);
    }
}

void arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
    struct defer *d = arena_alloc(a, sizeof *d);
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    run_defers(a);
    for (struct block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

static size_t align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t need = align_up(n ? n : 1);
    if (need < n) /* overflow */
        abort();
    struct block *b = a->head;
    if (b->size - b->used < need) {
        /* A big request gets a block of its own behind the current one, so the
         * space left in the current block is not wasted. */
        if (need > a->block_size / 4) {
            struct block *big = block_new(a, need);
            big->next = b->next;
            b->next = big;
            big->used = need;
            a->last = NULL;
            return big->data;
        }
        b = block_new(a, need);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->last = p;
    return p;
}

void *arena_calloc(struct arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        abort();
    void *p = arena_alloc(a, n * sz);
    memset(p, 0, n * sz);
    return p;
}

void *arena_realloc(struct arena *a, void *p, size_t old, size_t n)
{
    if (!p)
        return arena_alloc(a, n);
    if (n <= old)
        return p;
    struct block *b = a->head;
    if (p == a->last) {
        size_t off = (size_t)((unsigned char *)p - b->data);
        size_t need = align_up(n);
        if (off + need <= b->size) {
            b->used = off + need;
            return p;
        }
    }
    void *q = arena_alloc(a, n);
    memcpy(q, p, old);
    return q;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_reset(struct arena *a)
{
    run_defers(a);
    for (struct block *b = a->head, *n; b; b = n) {
        n = b->next;
        if (b != a->first) {
            a->footprint -= b->size;
            free(b);
        }
    }
    a->head = a->first;
    a->first->next = NULL;
    a->first->used = 0;
    a->last = NULL;
}

size_t arena_footprint(const struct arena *a)
{
    return a->footprint;
}
