/* Allocators that never return NULL: out of memory aborts the process, so no caller checks. */
#ifndef OA_XMALLOC_H
#define OA_XMALLOC_H
#include <stddef.h>

/* malloc(n); aborts on failure. Caller frees with free(). */
void *xmalloc(size_t n);
/* calloc(n, sz) with overflow check; aborts on failure. */
void *xcalloc(size_t n, size_t sz);
/* realloc(p, n); aborts on failure. */
void *xrealloc(void *p, size_t n);
/* strdup(s) on the heap; aborts on failure. */
char *xstrdup(const char *s);
/* Heap copy of the first n bytes of s, NUL-terminated. */
char *xstrndup(const char *s, size_t n);

#endif
