/* Unit tests for fcgi/ticker.c: runs repeat, a stop is prompt and ends the runs. */
#include "config.h"
#include "fcgi/ticker.h"
#include "tests/unit/tap.h"

#include <stdatomic.h>
#include <time.h>

static void count(void *ud)
{
    atomic_fetch_add((_Atomic int *)ud, 1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    _Atomic int runs = 0;
    struct ticker *tk = ticker_start(0.01, count, &runs);
    ok(tk != NULL, "a ticker starts");
    double until = now_s() + 5;
    while (atomic_load(&runs) < 3 && now_s() < until)
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    ok(atomic_load(&runs) >= 3, "the job runs again every period (%d runs)", atomic_load(&runs));
    ticker_stop(tk);
    int after_stop = atomic_load(&runs);
    nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    is_int(atomic_load(&runs), after_stop, "no run after ticker_stop returned");

    _Atomic int never = 0;
    tk = ticker_start(3600, count, &never);
    double t0 = now_s();
    ticker_stop(tk);
    ok(now_s() - t0 < 1, "a stop does not wait for the period to end");
    is_int(atomic_load(&never), 0, "the first run waits one period");
    ticker_stop(NULL); /* accepted: it would crash otherwise */
    return done_testing();
}
