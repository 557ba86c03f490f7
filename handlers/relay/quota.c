/* quota: in-process reservation counters behind one mutex (an open-addressing map by id),
 * and the sql store's conditional UPDATEs. */
#include "config.h"
#include "handlers/relay/quota.h"
#include "db/db.h"
#include "db/relay.h"
#include "db/writer.h"
#include "fcgi/log.h"
#include "fcgi/xmalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int quota_use_sql(int is_cgi, const char *quota_store)
{
    return is_cgi || (quota_store && !strcmp(quota_store, "sql"));
}

struct slot {
    int64_t id;       /* user id (positive) or -token id; 0 = empty */
    int64_t reserved; /* reservations in flight */
    int64_t pending;  /* charges submitted to the writer, not yet committed */
};

struct quota_store {
    pthread_mutex_t mu;
    struct slot *v;
    size_t cap, used; /* cap is a power of two */
    uint64_t epoch;   /* bumped by every quota_committed */
};

struct quota_store *quota_store_new(void)
{
    struct quota_store *qs = xcalloc(1, sizeof *qs);
    pthread_mutex_init(&qs->mu, NULL);
    qs->cap = 1024;
    qs->v = xcalloc(qs->cap, sizeof *qs->v);
    return qs;
}

void quota_store_free(struct quota_store *qs)
{
    if (!qs)
        return;
    pthread_mutex_destroy(&qs->mu);
    free(qs->v);
    free(qs);
}

static size_t hash(int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 17);
}

/* Caller holds mu. Slots are never removed: ids are few (users and tokens). */
static struct slot *get(struct quota_store *qs, int64_t id)
{
    if (qs->used * 2 >= qs->cap) {
        struct slot *old = qs->v;
        size_t oldcap = qs->cap;
        qs->cap *= 2;
        qs->v = xcalloc(qs->cap, sizeof *qs->v);
        qs->used = 0;
        for (size_t i = 0; i < oldcap; i++) {
            if (!old[i].id)
                continue;
            size_t j = hash(old[i].id) & (qs->cap - 1);
            while (qs->v[j].id)
                j = (j + 1) & (qs->cap - 1);
            qs->v[j] = old[i];
            qs->used++;
        }
        free(old);
    }
    size_t j = hash(id) & (qs->cap - 1);
    while (qs->v[j].id && qs->v[j].id != id)
        j = (j + 1) & (qs->cap - 1);
    if (!qs->v[j].id) {
        qs->v[j].id = id;
        qs->used++;
    }
    return &qs->v[j];
}

uint64_t quota_epoch(struct quota_store *qs)
{
    pthread_mutex_lock(&qs->mu);
    uint64_t e = qs->epoch;
    pthread_mutex_unlock(&qs->mu);
    return e;
}

int quota_reserve(struct quota_store *qs, uint64_t epoch, int64_t uid, int64_t user_quota,
                  int64_t tid, int64_t token_remain, int64_t amount)
{
    pthread_mutex_lock(&qs->mu);
    if (qs->epoch != epoch) {
        pthread_mutex_unlock(&qs->mu);
        return QUOTA_STALE;
    }
    struct slot *u = get(qs, uid);
    struct slot *t = tid ? get(qs, -tid) : NULL;
    int rc = QUOTA_OK;
    if (t && token_remain >= 0 && token_remain - t->reserved - t->pending < amount)
        rc = QUOTA_TOKEN_SHORT;
    else if (user_quota - u->reserved - u->pending < amount)
        rc = QUOTA_USER_SHORT;
    if (rc == QUOTA_OK) {
        u->reserved += amount;
        if (t)
            t->reserved += amount;
    }
    pthread_mutex_unlock(&qs->mu);
    return rc;
}

void quota_release(struct quota_store *qs, int64_t uid, int64_t tid, int64_t amount)
{
    quota_settle(qs, uid, tid, amount, 0);
}

void quota_settle(struct quota_store *qs, int64_t uid, int64_t tid, int64_t reserved,
                  int64_t charge)
{
    pthread_mutex_lock(&qs->mu);
    struct slot *u = get(qs, uid);
    u->reserved -= reserved;
    u->pending += charge;
    if (tid) {
        struct slot *t = get(qs, -tid);
        t->reserved -= reserved;
        t->pending += charge;
    }
    pthread_mutex_unlock(&qs->mu);
}

void quota_committed(void *ud, const struct ledger_entry *e)
{
    struct quota_store *qs = ud;
    if (e->is_net_of_reserve)
        return;
    pthread_mutex_lock(&qs->mu);
    qs->epoch++;
    if (e->user_id)
        get(qs, e->user_id)->pending -= e->user_quota_delta;
    if (e->token_id)
        get(qs, -e->token_id)->pending -= e->user_quota_delta;
    pthread_mutex_unlock(&qs->mu);
}

/* ---------------------------------------------------------------- the sql store */

int quota_sql_reserve(struct db_conn *c, int64_t uid, int64_t tid, int is_limited, int64_t amount)
{
    int rc = db_relay_reserve(c, uid, is_limited ? tid : 0, amount);
    switch (rc) {
    case DB_RESERVED: return QUOTA_OK;
    case DB_RESERVE_TOKEN_SHORT: return QUOTA_TOKEN_SHORT;
    case DB_RESERVE_USER_SHORT: return QUOTA_USER_SHORT;
    default:
        LOG_ERR("quota: reserving %lld for user %lld failed: %s", (long long)amount, (long long)uid,
                db_errmsg(c));
        return QUOTA_DB_ERROR;
    }
}

int quota_sql_release(struct db_conn *c, int64_t uid, int64_t tid, int is_limited, int64_t amount)
{
    if (!amount)
        return 0;
    struct ledger_entry e = {
        .is_net_of_reserve = 1,
        .reserved = amount,
        .user_id = uid,
        .user_quota_delta = -amount,
        .token_id = is_limited ? tid : 0,
        .token_remain_delta = is_limited ? -amount : 0,
    };
    if (writer_commit_one(c, &e) < 0) {
        LOG_ERR("quota: releasing %lld for user %lld (key %lld) failed, it stays taken: %s",
                (long long)amount, (long long)uid, (long long)tid, db_errmsg(c));
        return -1;
    }
    return 0;
}

void quota_sql_settle(struct ledger_entry *e, int64_t reserved, int is_limited)
{
    e->is_net_of_reserve = 1;
    e->reserved = reserved;
    e->user_quota_delta -= reserved;
    if (is_limited)
        e->token_remain_delta -= reserved;
}
