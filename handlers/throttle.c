/* throttle: token buckets per client address and per address and user name; sliding
 * windows per marked key. */
#include "config.h"
#include "handlers/throttle.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/ratelimit.h"
#include "fcgi/request.h"
#include "fcgi/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ADDR_BURST 20 /* One API's critical limit: 20 requests per 20 minutes */
#define ADDR_PER_S (1.0 / 60)
#define NAME_BURST 10 /* failures of one name from one address */
#define NAME_PER_S (1.0 / 60)
#define MAX_KEYS 65536 /* about 10 MB at most: the oldest are forgotten first */
/* Windows keep one time per request up to their limit (8 bytes each, grown as used): 480
 * requests of each of 16,384 addresses would be 63 MB. */
#define MAX_WINDOW_KEYS 16384

struct throttle {
    struct ratelimit *by_addr;
    struct ratelimit *by_name;
    struct ratelimit *windows;
};

struct throttle *throttle_new(void)
{
    struct throttle *t = xcalloc(1, sizeof *t);
    t->by_addr = ratelimit_new(ADDR_BURST, ADDR_PER_S, MAX_KEYS);
    t->by_name = ratelimit_new(NAME_BURST, NAME_PER_S, MAX_KEYS);
    t->windows = ratelimit_window_new(MAX_WINDOW_KEYS);
    return t;
}

void throttle_free(struct throttle *t)
{
    if (!t)
        return;
    ratelimit_free(t->by_addr);
    ratelimit_free(t->by_name);
    ratelimit_free(t->windows);
    free(t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The key of a name tried from r's address ("\1" cannot occur in either). */
static const char *name_key(struct req *r, const char *name)
{
    return arena_printf(r->a, "%s\1%s", r->client_ip, name ? name : "");
}

static int refuse(struct req *r, double wait)
{
    char secs[32];
    snprintf(secs, sizeof secs, "%.0f", ceil(wait > 1 ? wait : 1));
    resp_header(r, "Retry-After", secs);
    return OA_ERR_RATE_LIMIT;
}

int throttle_login_begin(struct throttle *t, struct req *r, const char *name)
{
    double now = now_s(), wait = 0;
    if (!ratelimit_peek(t->by_name, name_key(r, name), now, &wait))
        return refuse(r, wait);
    if (!ratelimit_take(t->by_addr, r->client_ip, now, &wait))
        return refuse(r, wait);
    return 0;
}

void throttle_login_failed(struct throttle *t, struct req *r, const char *name)
{
    ratelimit_take(t->by_name, name_key(r, name), now_s(), NULL);
}

int throttle_window(struct throttle *t, struct req *r, const char *key, unsigned limit,
                    double window)
{
    double wait = 0;
    if (ratelimit_window_take(t->windows, key, limit, window, now_s(), &wait))
        return 0;
    refuse(r, wait);
    return OA_ERR_LIMITED;
}
