/* chcache: a small rwlock-guarded hash of routing candidates and channel rows. */
#include "config.h"
#include "handlers/relay/chcache.h"
#include "db/relay.h"
#include "fcgi/arena.h"
#include "fcgi/xmalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHCACHE_BUCKETS 1024 /* entries are a few per (group, model) served */
/* Model names come from clients. Only (group, model) pairs that some channel serves are
 * stored, which the database bounds; these caps are a second fence, so that no request can
 * make the cache grow: longer names are looked up in the database every time, and a full
 * cache stores nothing more until its next clear. */
#define CHCACHE_MAX_KEY 256
#define CHCACHE_MAX_ENTRIES 8192

struct entry {
    struct entry *next;
    char *key;                 /* "c\1group\1model" or "#<id>" */
    struct relay_candidate *v; /* candidates, or NULL */
    int n;
    struct relay_channel ch; /* channel row (strings are heap copies) */
    int is_channel;
};

struct chcache {
    pthread_rwlock_t lock;
    uint64_t gen; /* bumped by every clear: a value read before it is not stored */
    size_t n_entries;
    struct entry *b[CHCACHE_BUCKETS];
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % CHCACHE_BUCKETS;
}

struct chcache *chcache_new(void)
{
    struct chcache *c = xcalloc(1, sizeof *c);
    pthread_rwlock_init(&c->lock, NULL);
    return c;
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->v);
    if (e->is_channel) {
        const char **s[] = {&e->ch.name,          &e->ch.key,           &e->ch.base_url,
                            &e->ch.other,         &e->ch.model_mapping, &e->ch.config,
                            &e->ch.system_prompt, &e->ch.models};
        for (size_t i = 0; i < sizeof s / sizeof *s; i++)
            free((char *)*s[i]);
    }
    free(e);
}

/* Caller holds the write lock. */
static void clear_locked(struct chcache *c)
{
    for (int i = 0; i < CHCACHE_BUCKETS; i++) {
        for (struct entry *e = c->b[i], *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
        c->b[i] = NULL;
    }
    c->n_entries = 0;
}

void chcache_free(struct chcache *c)
{
    if (!c)
        return;
    clear_locked(c);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

uint64_t chcache_gen(struct chcache *c)
{
    pthread_rwlock_rdlock(&c->lock);
    uint64_t g = c->gen;
    pthread_rwlock_unlock(&c->lock);
    return g;
}

void chcache_clear(struct chcache *c)
{
    pthread_rwlock_wrlock(&c->lock);
    c->gen++;
    clear_locked(c);
    pthread_rwlock_unlock(&c->lock);
}

/* Caller holds a lock. */
static struct entry *find(struct chcache *c, const char *key)
{
    for (struct entry *e = c->b[hash(key)]; e; e = e->next)
        if (!strcmp(e->key, key))
            return e;
    return NULL;
}

/* Inserts e unless its key is there already (another thread was first) or the cache was
 * cleared since gen (e may predate the change that cleared it). */
static void insert(struct chcache *c, uint64_t gen, struct entry *e)
{
    pthread_rwlock_wrlock(&c->lock);
    if (c->gen != gen || c->n_entries >= CHCACHE_MAX_ENTRIES || find(c, e->key)) {
        pthread_rwlock_unlock(&c->lock);
        entry_free(e);
        return;
    }
    unsigned h = hash(e->key);
    e->next = c->b[h];
    c->b[h] = e;
    c->n_entries++;
    pthread_rwlock_unlock(&c->lock);
}

static char *cand_key(struct arena *a, const char *group, const char *model)
{
    return arena_printf(a, "c\1%s\1%s", group, model);
}

/* Whether (group, model) may be stored: see CHCACHE_MAX_KEY. */
static int key_fits(const char *group, const char *model)
{
    return strnlen(group, CHCACHE_MAX_KEY) + strnlen(model, CHCACHE_MAX_KEY) < CHCACHE_MAX_KEY;
}

int chcache_candidates(struct chcache *c, struct arena *a, const char *group, const char *model,
                       struct relay_candidate **out, int *n)
{
    if (!key_fits(group, model))
        return 0;
    const char *key = cand_key(a, group, model);
    pthread_rwlock_rdlock(&c->lock);
    struct entry *e = find(c, key);
    if (e) {
        *n = e->n;
        *out = arena_alloc(a, (size_t)(e->n ? e->n : 1) * sizeof **out);
        if (e->n)
            memcpy(*out, e->v, (size_t)e->n * sizeof **out);
    }
    pthread_rwlock_unlock(&c->lock);
    return e != NULL;
}

void chcache_put_candidates(struct chcache *c, uint64_t gen, const char *group, const char *model,
                            const struct relay_candidate *v, int n)
{
    /* No channel for the pair: a name a client made up, most likely. Not stored, or every
     * made-up name would take memory until the next clear. */
    if (n == 0 || !key_fits(group, model))
        return;
    struct entry *e = xcalloc(1, sizeof *e);
    size_t kl = strlen(group) + strlen(model) + 4; /* "c", two separators, the NUL */
    e->key = xmalloc(kl);
    snprintf(e->key, kl, "c\1%s\1%s", group, model);
    e->n = n;
    if (n) {
        e->v = xmalloc((size_t)n * sizeof *v);
        memcpy(e->v, v, (size_t)n * sizeof *v);
    }
    insert(c, gen, e);
}

int chcache_channel(struct chcache *c, struct arena *a, int64_t id, struct relay_channel *out)
{
    char key[32];
    snprintf(key, sizeof key, "#%lld", (long long)id);
    pthread_rwlock_rdlock(&c->lock);
    struct entry *e = find(c, key);
    if (e) {
        *out = e->ch;
        const char **s[] = {&out->name,          &out->key,    &out->base_url,      &out->other,
                            &out->model_mapping, &out->config, &out->system_prompt, &out->models};
        for (size_t i = 0; i < sizeof s / sizeof *s; i++)
            *s[i] = arena_strdup(a, *s[i]);
    }
    pthread_rwlock_unlock(&c->lock);
    return e != NULL;
}

void chcache_put_channel(struct chcache *c, uint64_t gen, const struct relay_channel *ch)
{
    struct entry *e = xcalloc(1, sizeof *e);
    char key[32];
    snprintf(key, sizeof key, "#%lld", (long long)ch->id);
    e->key = xstrdup(key);
    e->is_channel = 1;
    e->ch = *ch;
    const char **s[] = {&e->ch.name,          &e->ch.key,    &e->ch.base_url,      &e->ch.other,
                        &e->ch.model_mapping, &e->ch.config, &e->ch.system_prompt, &e->ch.models};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        *s[i] = xstrdup(*s[i] ? *s[i] : "");
    insert(c, gen, e);
}
