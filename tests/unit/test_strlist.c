/* Unit tests for fcgi/strlist.c: trimming, empty entries, lookup, split without duplicates. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/strlist.h"
#include "tests/unit/tap.h"

#include <string.h>

int main(void)
{
    const char *item, *c = " a ,\tbb,, c\n";
    size_t n;
    char got[128] = "";
    while (strlist_next(&c, &item, &n)) {
        strncat(got, "[", sizeof got - strlen(got) - 1);
        strncat(got, item, n < sizeof got - strlen(got) - 1 ? n : 0);
        strncat(got, "]", sizeof got - strlen(got) - 1);
    }
    is_str(got, "[a][bb][][c]", "entries are trimmed; an empty one is reported");
    c = NULL;
    ok(!strlist_next(&c, &item, &n), "a NULL list has no entries");
    c = "";
    ok(strlist_next(&c, &item, &n) && n == 0 && !strlist_next(&c, &item, &n),
       "an empty list is one empty entry");

    ok(strlist_has("gpt-4o, gpt-4o-mini", "gpt-4o-mini"), "has finds a trimmed entry");
    ok(!strlist_has("gpt-4o, gpt-4o-mini", "gpt-4"), "has does not match a prefix");
    ok(!strlist_has("a,,b", ""), "an empty entry never matches");

    struct arena *a = arena_new(1024);
    const char **v = strlist_split(a, "x, y ,x,,z", &n);
    ok(n == 3 && !strcmp(v[0], "x") && !strcmp(v[1], "y") && !strcmp(v[2], "z") && !v[3],
       "split keeps the first of each entry, in order, NULL-terminated");
    v = strlist_split(a, NULL, &n);
    ok(n == 0 && !v[0], "split of NULL is empty");
    is_str(strlist_first(a, " , gpt-4o ,x"), "gpt-4o", "first skips empty entries");
    ok(!strlist_first(a, " , "), "first of a list of empties is NULL");
    arena_free(a);
    return done_testing();
}
