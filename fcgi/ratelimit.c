/* ratelimit: token buckets or sliding windows in a hash table with a least-recently-used
 * list. */
#include "config.h"
#include "fcgi/ratelimit.h"
#include "fcgi/xmalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 256 /* longer keys are cut: they come from clients */

struct bucket {
    struct bucket *next_hash;     /* chain of its hash slot */
    struct bucket *newer, *older; /* LRU list */
    double tokens;                /* at time `at` */
    double at;                    /* when tokens was computed */
    /* Sliding windows: a ring of accepted times, oldest at head; it grows as the key uses it,
     * up to limit, so that a key seen once costs a few bytes whatever its limit. */
    double *ring;
    unsigned limit, cap, n, head;
    char key[];
};

struct ratelimit {
    pthread_mutex_t mu;
    double burst, per_second;
    size_t max_keys, n_keys;
    struct bucket **slots;
    size_t n_slots;
    struct bucket *newest, *oldest;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct ratelimit *ratelimit_new(double burst, double per_second, size_t max_keys)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    pthread_mutex_init(&rl->mu, NULL);
    rl->burst = burst;
    rl->per_second = per_second;
    rl->max_keys = max_keys ? max_keys : 1;
    rl->n_slots = 64;
    while (rl->n_slots < rl->max_keys && rl->n_slots < ((size_t)1 << 20))
        rl->n_slots *= 2;
    rl->slots = xcalloc(rl->n_slots, sizeof *rl->slots);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (struct bucket *b = rl->newest, *n; b; b = n) {
        n = b->older;
        free(b->ring);
        free(b);
    }
    free(rl->slots);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static void lru_unlink(struct ratelimit *rl, struct bucket *b)
{
    if (b->newer)
        b->newer->older = b->older;
    else
        rl->newest = b->older;
    if (b->older)
        b->older->newer = b->newer;
    else
        rl->oldest = b->newer;
    b->newer = b->older = NULL;
}

static void lru_push(struct ratelimit *rl, struct bucket *b)
{
    b->older = rl->newest;
    b->newer = NULL;
    if (rl->newest)
        rl->newest->newer = b;
    rl->newest = b;
    if (!rl->oldest)
        rl->oldest = b;
}

static void forget_oldest(struct ratelimit *rl)
{
    struct bucket *b = rl->oldest;
    struct bucket **pp = &rl->slots[hash(b->key) & (rl->n_slots - 1)];
    while (*pp != b)
        pp = &(*pp)->next_hash;
    *pp = b->next_hash;
    lru_unlink(rl, b);
    free(b->ring);
    free(b);
    rl->n_keys--;
}

/* key's bucket, refilled up to now, made the most recent; created full when new. Caller
 * holds mu. */
static struct bucket *find(struct ratelimit *rl, const char *key, double now)
{
    char k[KEY_MAX + 1];
    size_t kl = strnlen(key, KEY_MAX);
    memcpy(k, key, kl);
    k[kl] = '\0';
    struct bucket **slot = &rl->slots[hash(k) & (rl->n_slots - 1)];
    struct bucket *b = *slot;
    while (b && strcmp(b->key, k))
        b = b->next_hash;
    if (!b) {
        if (rl->n_keys >= rl->max_keys)
            forget_oldest(rl);
        b = xcalloc(1, sizeof *b + kl + 1);
        memcpy(b->key, k, kl + 1);
        b->tokens = rl->burst;
        b->at = now;
        b->next_hash = *slot;
        *slot = b;
        rl->n_keys++;
    } else {
        lru_unlink(rl, b);
        if (now > b->at) {
            b->tokens += (now - b->at) * rl->per_second;
            if (b->tokens > rl->burst)
                b->tokens = rl->burst;
            b->at = now;
        }
    }
    lru_push(rl, b);
    return b;
}

static int check(struct ratelimit *rl, const char *key, double now, double *retry_after, int take)
{
    pthread_mutex_lock(&rl->mu);
    struct bucket *b = find(rl, key, now);
    int ok = b->tokens >= 1;
    if (ok && take)
        b->tokens -= 1;
    if (!ok && retry_after)
        *retry_after = rl->per_second > 0 ? (1 - b->tokens) / rl->per_second : 0;
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

int ratelimit_take(struct ratelimit *rl, const char *key, double now, double *retry_after)
{
    return check(rl, key, now, retry_after, 1);
}

int ratelimit_peek(struct ratelimit *rl, const char *key, double now, double *retry_after)
{
    return check(rl, key, now, retry_after, 0);
}

struct ratelimit *ratelimit_window_new(size_t max_keys)
{
    return ratelimit_new(0, 0, max_keys);
}

/* Room for one more time in b's ring (b->n < limit): doubles it, oldest first again. */
static void ring_grow(struct bucket *b)
{
    unsigned cap = b->cap ? b->cap * 2 : 4;
    if (cap > b->limit)
        cap = b->limit;
    double *ring = xmalloc(cap * sizeof *ring);
    for (unsigned i = 0; i < b->n; i++)
        ring[i] = b->ring[(b->head + i) % b->cap];
    free(b->ring);
    b->ring = ring;
    b->cap = cap;
    b->head = 0;
}

int ratelimit_window_take(struct ratelimit *rl, const char *key, unsigned limit, double window,
                          double now, double *retry_after)
{
    if (!limit)
        return 1;
    pthread_mutex_lock(&rl->mu);
    struct bucket *b = find(rl, key, now);
    if (b->limit != limit) {
        free(b->ring);
        b->ring = NULL;
        b->limit = limit;
        b->cap = b->n = b->head = 0;
    }
    int ok = 1;
    if (b->n < b->limit) {
        if (b->n == b->cap)
            ring_grow(b);
        b->ring[(b->head + b->n) % b->cap] = now;
        b->n++;
    } else if (now - b->ring[b->head] < window) {
        ok = 0;
        if (retry_after)
            *retry_after = window - (now - b->ring[b->head]);
    } else {
        b->ring[b->head] = now; /* the oldest leaves, now becomes the newest */
        b->head = (b->head + 1) % b->cap;
    }
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

size_t ratelimit_size(struct ratelimit *rl)
{
    pthread_mutex_lock(&rl->mu);
    size_t n = rl->n_keys;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
