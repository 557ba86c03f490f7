/* Unit tests for fcgi/arena.c. */
#include "config.h"
#include "fcgi/arena.h"
#include "tests/unit/tap.h"

#include <stdint.h>
#include <string.h>

static char order[16];

/* A cleanup that records that it ran. */
static void note_run(void *p)
{
    size_t n = strlen(order);
    if (n + 1 < sizeof order) {
        order[n] = (char)(uintptr_t)p;
        order[n + 1] = '\0';
    }
}

int main(void)
{
    struct arena *a = arena_new(4096);
    size_t warm = arena_footprint(a);
    ok(warm >= 4096, "a new arena holds one block of the asked size");

    char *p = arena_alloc(a, 10);
    memset(p, 'x', 10);
    void *q = arena_alloc(a, 1);
    ok(((uintptr_t)p % 16) == 0 && ((uintptr_t)q % 16) == 0, "allocations are 16-byte aligned");

    int *z = arena_calloc(a, 100, sizeof(int));
    int zero = 1;
    for (int i = 0; i < 100; i++)
        zero &= z[i] == 0;
    ok(zero, "arena_calloc zero-fills");

    char *big = arena_alloc(a, 100000);
    memset(big, 1, 100000);
    ok(arena_footprint(a) >= warm + 100000, "a large allocation gets a block of its own");

    char *s = arena_strdup(a, "hello");
    is_str(s, "hello", "arena_strdup copies");
    is_str(arena_printf(a, "%d-%s", 42, "x"), "42-x", "arena_printf formats");
    is_str(arena_strndup(a, "abcdef", 3), "abc", "arena_strndup stops at n");

    char *g = arena_alloc(a, 8);
    memcpy(g, "1234567", 8);
    char *g2 = arena_realloc(a, g, 8, 64);
    ok(g2 == g, "the last allocation grows in place");
    is_str(g2, "1234567", "and keeps its contents");
    char *other = arena_alloc(a, 8);
    char *g3 = arena_realloc(a, g2, 64, 128);
    ok(g3 != g2 && !strcmp(g3, "1234567"), "an older allocation moves when it grows");
    (void)other;

    for (int i = 0; i < 1000; i++)
        arena_alloc(a, 500);
    arena_reset(a);
    is_int(arena_footprint(a), warm, "reset keeps only the warm first block");
    char *again = arena_alloc(a, 16);
    ok(again != NULL, "the arena serves again after a reset");

    /* Cleanups run at reset, newest first, once; and at free. */
    order[0] = '\0';
    arena_defer(a, note_run, (void *)(uintptr_t)'1');
    arena_defer(a, note_run, (void *)(uintptr_t)'2');
    for (int i = 0; i < 100; i++) /* records outlive block growth */
        arena_alloc(a, 900);
    arena_reset(a);
    is_str(order, "21", "arena_reset runs the cleanups, newest first");
    arena_reset(a);
    is_str(order, "21", "and only once");
    arena_defer(a, note_run, (void *)(uintptr_t)'3');
    arena_free(a);
    is_str(order, "213", "arena_free runs them too");
    arena_free(NULL); /* must not crash: valgrind and ASan runs check it */
    return done_testing();
}
