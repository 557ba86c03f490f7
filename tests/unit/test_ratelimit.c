/* Unit tests for fcgi/ratelimit.c: burst, refill, independent keys, bounded memory. */
#include "config.h"
#include "fcgi/ratelimit.h"
#include "tests/unit/tap.h"

#include <stdio.h>

int main(void)
{
    /* One API's critical limit: 20 requests, then one a minute (20 per 20 minutes). */
    struct ratelimit *rl = ratelimit_new(20, 1.0 / 60, 100);
    int allowed = 0;
    for (int i = 0; i < 30; i++)
        allowed += ratelimit_take(rl, "10.0.0.1", 1000, NULL);
    is_int(allowed, 20, "30 tries at once: the burst of 20 passes, 10 are refused");
    double wait = 0;
    ok(!ratelimit_take(rl, "10.0.0.1", 1000, &wait) && wait > 59 && wait <= 60,
       "and the next one is told to wait a minute (%.1f s)", wait);
    ok(ratelimit_take(rl, "10.0.0.2", 1000, NULL), "another key has its own bucket");
    ok(!ratelimit_take(rl, "10.0.0.1", 1030, NULL), "half a minute later: still empty");
    ok(ratelimit_take(rl, "10.0.0.1", 1061, NULL), "a minute later: one token");
    ok(!ratelimit_take(rl, "10.0.0.1", 1062, NULL), "and only one");
    ok(!ratelimit_peek(rl, "10.0.0.1", 1062, NULL), "peek sees it empty");
    ok(ratelimit_peek(rl, "10.0.0.1", 1200, NULL) && ratelimit_peek(rl, "10.0.0.1", 1200, NULL),
       "peek takes nothing");
    allowed = 0;
    for (int i = 0; i < 25; i++)
        allowed += ratelimit_take(rl, "10.0.0.1", 100000, NULL);
    is_int(allowed, 20, "after a long pause the bucket is full again, never fuller");

    /* A flood of keys (addresses a client cannot choose, but user names it can): memory
     * stays bounded, and the least recently used key goes first. */
    for (int i = 0; i < 20; i++)
        ratelimit_take(rl, "busy", 2000, NULL);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ratelimit_take(rl, key, 2000, NULL);
        if (i % 10 == 0)
            ratelimit_peek(rl, "busy", 2000, NULL); /* keep it recently used */
    }
    is_int(ratelimit_size(rl), 100, "1,000 keys: 100 remembered");
    ok(!ratelimit_take(rl, "busy", 2000, NULL), "a key in use keeps its empty bucket");
    ratelimit_free(rl);
    ratelimit_free(NULL);
    return done_testing();
}
