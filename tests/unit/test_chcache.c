/* Unit tests for handlers/relay/chcache.c: what is stored, and that client-chosen model names
 * cannot make it grow. */
#include "config.h"
#include "handlers/relay/chcache.h"
#include "db/relay.h"
#include "fcgi/arena.h"
#include "tests/unit/tap.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
    struct chcache *c = chcache_new();
    struct arena *a = arena_new(4096);
    struct relay_candidate one = {.channel_id = 7, .priority = 0, .weight = 1}, *got = NULL;
    int n = -1;

    chcache_put_candidates(c, chcache_gen(c), "default", "gpt-4o", &one, 1);
    ok(chcache_candidates(c, a, "default", "gpt-4o", &got, &n) && n == 1 && got[0].channel_id == 7,
       "a served (group, model) is stored and found");
    ok(!chcache_candidates(c, a, "default", "gpt-4", &got, &n),
       "a model whose name is a prefix of a stored one is not found (the key is whole)");
    chcache_put_candidates(c, chcache_gen(c), "default", "made-up-model", &one, 0);
    ok(!chcache_candidates(c, a, "default", "made-up-model", &got, &n),
       "an empty candidate list (a model no channel serves) is not stored");
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    chcache_put_candidates(c, chcache_gen(c), "default", longname, &one, 1);
    ok(!chcache_candidates(c, a, "default", longname, &got, &n), "a 399-byte model is not stored");
    uint64_t gen = chcache_gen(c);
    chcache_clear(c);
    chcache_put_candidates(c, gen, "default", "gpt-4o", &one, 1);
    ok(!chcache_candidates(c, a, "default", "gpt-4o", &got, &n),
       "what was read before a clear is not stored after it");

    /* However many names: stored entries stop at the limit (8,192), and a clear resets it. */
    char name[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "m%d", i);
        chcache_put_candidates(c, chcache_gen(c), "default", name, &one, 1);
    }
    ok(chcache_candidates(c, a, "default", "m8191", &got, &n), "the 8,192nd entry is stored");
    ok(!chcache_candidates(c, a, "default", "m8192", &got, &n), "the 8,193rd is not");
    chcache_clear(c);
    chcache_put_candidates(c, chcache_gen(c), "default", "m9999", &one, 1);
    ok(chcache_candidates(c, a, "default", "m9999", &got, &n), "after a clear there is room again");

    arena_free(a);
    chcache_free(c);
    chcache_free(NULL);
    return done_testing();
}
