/* Rate limits per key (a client address, an address and a user name, a relay key), in
 * process memory, with a bounded number of keys: token buckets, or One API's sliding window
 * by count. Thread-safe. */
#ifndef OA_RATELIMIT_H
#define OA_RATELIMIT_H
#include <stddef.h>

struct ratelimit;

/* Buckets that hold up to burst tokens and gain per_second tokens a second; at most max_keys
 * keys are remembered (the least recently used goes first; a forgotten key starts full, as
 * a key that was never seen). Heap-owned; free with ratelimit_free (accepts NULL). */
struct ratelimit *ratelimit_new(double burst, double per_second, size_t max_keys);
void ratelimit_free(struct ratelimit *rl);
/* Takes a token from key's bucket at time now (seconds, any monotonic origin): 1 when there
 * was one, 0 when the bucket is empty; then *retry_after (when not NULL) gets the seconds
 * until the next token. */
int ratelimit_take(struct ratelimit *rl, const char *key, double now, double *retry_after);
/* Like ratelimit_take without taking: 1 when key's bucket has a token at now. */
int ratelimit_peek(struct ratelimit *rl, const char *key, double now, double *retry_after);
/* A sliding-window limiter: each key keeps the times of its last accepted requests, at most
 * the limit a take names (so one table serves keys of different limits); at most max_keys
 * keys, the least recently used forgotten first. Heap-owned; free with ratelimit_free. */
struct ratelimit *ratelimit_window_new(size_t max_keys);
/* One API's algorithm at time now (seconds): fewer than limit requests of key within the last
 * window seconds -> 1, and now is recorded; else 0, nothing recorded (a refused request does
 * not push the window), and *retry_after (when not NULL) gets the seconds until the oldest
 * recorded request leaves the window. A limit of 0 accepts everything. A key whose limit
 * changed starts over. Only for limiters made by ratelimit_window_new. */
int ratelimit_window_take(struct ratelimit *rl, const char *key, unsigned limit, double window,
                          double now, double *retry_after);
/* Keys remembered, for tests and stats. */
size_t ratelimit_size(struct ratelimit *rl);

#endif
