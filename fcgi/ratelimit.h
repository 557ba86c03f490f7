/* Rate limits: a token bucket per key (a client address, an address and a user name), in
 * process memory, with a bounded number of keys. Thread-safe. */
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
/* Keys remembered, for tests and stats. */
size_t ratelimit_size(struct ratelimit *rl);

#endif
