/* Per-request arena: bump allocation from chained blocks, freed in one go. */
#ifndef OA_ARENA_H
#define OA_ARENA_H
#include <stddef.h>

struct arena;

/* A new arena whose blocks are at least block_size bytes. Heap-owned; free with arena_free. */
struct arena *arena_new(size_t block_size);
/* Frees the arena and every block. Accepts NULL. */
void arena_free(struct arena *a); /* runs the cleanups first */
/* n bytes aligned for any type, from a; never NULL (aborts on OOM). Valid until reset. */
void *arena_alloc(struct arena *a, size_t n);
/* As arena_alloc, zero-filled; n * sz is checked for overflow. */
void *arena_calloc(struct arena *a, size_t n, size_t sz);
/* Grows the most recent allocation p (of old bytes) to n bytes, in place when it is the last one.
 */
void *arena_realloc(struct arena *a, void *p, size_t old, size_t n);
/* Copies of a string in a. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* printf into a; the result lives in a. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes a run fn(p) when it is next reset or freed, before its memory goes: for heap objects
 * that belong to the request (json-c trees), so that every exit path releases them. Cleanups
 * run newest first. The record is allocated from a. */
void arena_defer(struct arena *a, void (*fn)(void *), void *p);
/* Runs the cleanups of arena_defer, then releases everything allocated from a; keeps the first
 * block warm for the next request (large one-off blocks go back to the heap). Invalidates every
 * pointer into a. */
void arena_reset(struct arena *a);
/* Bytes currently held from the heap (blocks), for tests and stats. */
size_t arena_footprint(const struct arena *a);

#endif
