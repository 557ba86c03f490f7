/* strlist: iteration, lookup and splitting of comma-separated lists. */
#include "config.h"
#include "fcgi/strlist.h"
#include "fcgi/arena.h"

#include <string.h>

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

int strlist_next(const char **cursor, const char **item, size_t *n)
{
    const char *p = *cursor;
    if (!p)
        return 0;
    size_t len = strcspn(p, ",");
    const char *b = p, *e = p + len;
    while (b < e && is_space(*b))
        b++;
    while (e > b && is_space(e[-1]))
        e--;
    *item = b;
    *n = (size_t)(e - b);
    *cursor = p[len] ? p + len + 1 : NULL;
    return 1;
}

int strlist_has(const char *list, const char *s)
{
    size_t sl = strlen(s);
    const char *item;
    size_t n;
    for (const char *c = list; strlist_next(&c, &item, &n);)
        if (n && n == sl && !memcmp(item, s, n))
            return 1;
    return 0;
}

const char **strlist_split(struct arena *a, const char *list, size_t *n)
{
    size_t cap = 1;
    for (const char *p = list ? list : ""; *p; p++)
        cap += *p == ',';
    const char **v = arena_calloc(a, cap + 1, sizeof *v);
    size_t k = 0;
    const char *item;
    size_t len;
    for (const char *c = list; strlist_next(&c, &item, &len);) {
        if (!len)
            continue;
        /* Lists are short (a channel's models): a linear scan beats a hash here. */
        size_t i = 0;
        while (i < k && (strlen(v[i]) != len || memcmp(v[i], item, len) != 0))
            i++;
        if (i == k)
            v[k++] = arena_strndup(a, item, len);
    }
    v[k] = NULL;
    if (n)
        *n = k;
    return v;
}

const char *strlist_first(struct arena *a, const char *list)
{
    const char *item;
    size_t n;
    for (const char *c = list; strlist_next(&c, &item, &n);)
        if (n)
            return arena_strndup(a, item, n);
    return NULL;
}
