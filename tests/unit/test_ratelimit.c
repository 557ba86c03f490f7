/* Unit tests for fcgi/ratelimit.c: burst, refill, independent keys, bounded memory; the
 * sliding window by count. */
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

    /* The sliding window: 5 per 180 s. */
    struct ratelimit *w = ratelimit_window_new(100);
    allowed = 0;
    for (int i = 0; i < 5; i++)
        allowed += ratelimit_window_take(w, "GA1", 5, 180, 1000 + i, NULL);
    is_int(allowed, 5, "window: the first 5 in the window pass");
    wait = 0;
    int took = ratelimit_window_take(w, "GA1", 5, 180, 1010, &wait);
    ok(!took && wait > 169.9 && wait < 170.1,
       "the 6th is refused until the oldest leaves the window (%.1f s)", wait);
    for (int i = 0; i < 50; i++)
        ratelimit_window_take(w, "GA1", 5, 180, 1100, NULL);
    ok(ratelimit_window_take(w, "GA1", 5, 180, 1180, NULL),
       "refused requests are not recorded: 180 s after the first, one more passes");
    ok(!ratelimit_window_take(w, "GA1", 5, 180, 1180.5, NULL),
       "and only one: the second oldest is still in the window");
    ok(ratelimit_window_take(w, "GA1", 5, 180, 1181, NULL), "until it leaves too");
    ok(ratelimit_window_take(w, "GA2", 5, 180, 1010, NULL), "another key has its own window");
    allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += ratelimit_window_take(w, "GA3", 0, 180, 1010, NULL);
    is_int(allowed, 1000, "a limit of 0 takes everything");
    allowed = 0;
    for (int i = 0; i < 700; i++)
        allowed += ratelimit_window_take(w, "big", 480, 180, 2000 + i * 0.01, NULL);
    is_int(allowed, 480, "a large limit: the ring grows to it and no further");
    ok(ratelimit_window_take(w, "big", 480, 180, 2180.001, NULL) &&
           !ratelimit_window_take(w, "big", 480, 180, 2180.002, NULL),
       "and slides by one when the oldest leaves");
    ok(ratelimit_window_take(w, "big", 3, 60, 2180.003, NULL),
       "a key whose limit changed starts over");
    allowed = 0;
    for (int i = 0; i < 3; i++)
        allowed += ratelimit_window_take(w, "big", 3, 60, 2180.004, NULL);
    is_int(allowed, 2, "under its new limit");
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "w%d", i);
        ratelimit_window_take(w, key, 10, 60, 3000, NULL);
    }
    is_int(ratelimit_size(w), 100, "windows: the key table stays bounded");
    ratelimit_free(w);
    return done_testing();
}
