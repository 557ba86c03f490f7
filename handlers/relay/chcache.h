/* The channel cache of MEMORY_CACHE_ENABLED: routing candidates per (group, model) and
 * channel rows, per process. Cleared whenever this process changes a channel, and every
 * SYNC_FREQUENCY seconds so that other nodes' changes arrive. */
#ifndef OA_CHCACHE_H
#define OA_CHCACHE_H
#include <stdint.h>

struct arena;
struct chcache;
struct relay_candidate;
struct relay_channel;

/* Heap-owned; free with chcache_free (accepts NULL). */
struct chcache *chcache_new(void);
void chcache_free(struct chcache *c);
/* The generation: take it before reading what a put will store. */
uint64_t chcache_gen(struct chcache *c);
/* Forgets everything (a channel changed). */
void chcache_clear(struct chcache *c);
/* Candidates of (group, model): 1 and an arena copy in *out, *n on a hit; 0 on a miss. */
int chcache_candidates(struct chcache *c, struct arena *a, const char *group, const char *model,
                       struct relay_candidate **out, int *n);
/* Stores the n candidates of (group, model) read since gen. Stores nothing for an empty list
 * (a model no channel serves), for a group and model longer than 255 bytes together, or once
 * the cache holds its limit of entries: what a client names must not grow memory. */
void chcache_put_candidates(struct chcache *c, uint64_t gen, const char *group, const char *model,
                            const struct relay_candidate *v, int n);
/* Channel row id: 1 and a copy (strings in the arena) on a hit; 0 on a miss. */
int chcache_channel(struct chcache *c, struct arena *a, int64_t id, struct relay_channel *out);
void chcache_put_channel(struct chcache *c, uint64_t gen, const struct relay_channel *ch);

#endif
