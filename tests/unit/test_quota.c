/* Unit tests for handlers/quota.c: reservations and pending charges. */
#include "config.h"
#include "handlers/quota.h"
#include "db/writer.h"
#include "tests/unit/tap.h"

#include <pthread.h>

static struct quota_store *qs;

static void *spend(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        if (quota_reserve(qs, quota_epoch(qs), 7, 1000000, 0, -1, 3) == QUOTA_OK)
            quota_release(qs, 7, 0, 3);
    }
    return NULL;
}

int main(void)
{
    qs = quota_store_new();
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 10, 50, 40), QUOTA_OK, "40 of 100 (token 50) reserves");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 10, 50, 20), QUOTA_TOKEN_SHORT,
           "another 20 exceeds the token's 50");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 0, -1, 70), QUOTA_USER_SHORT,
           "70 more exceeds the user's 100 with 40 reserved");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 11, -1, 60), QUOTA_OK,
           "an unlimited token only checks the user");
    quota_settle(qs, 1, 10, 40, 25);
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 0, -1, 16), QUOTA_USER_SHORT,
           "a settled charge stays pending until committed (25 + 60 reserved)");
    struct ledger_entry e = {.user_id = 1, .user_quota_delta = 25, .token_id = 10};
    uint64_t before = quota_epoch(qs);
    quota_committed(qs, &e);
    is_int(quota_reserve(qs, before, 1, 100, 0, -1, 1), QUOTA_STALE,
           "a quota read before a commit is refused as stale");
    /* The database now shows 75 left; reservations see only what is still in flight. */
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 75, 0, -1, 15), QUOTA_OK, "after commit the DB value counts");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 75, 0, -1, 1), QUOTA_USER_SHORT, "and nothing was lost");
    quota_release(qs, 1, 0, 15);
    quota_release(qs, 1, 11, 60);
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 75, 10, 25, 25), QUOTA_OK, "releases give everything back");
    quota_release(qs, 1, 10, 25);

    for (int64_t id = 100; id < 5000; id++)
        quota_reserve(qs, quota_epoch(qs), id, 10, 0, -1, 1);
    is_int(quota_reserve(qs, quota_epoch(qs), 100, 10, 0, -1, 9), QUOTA_OK, "the map grows and keeps its counts");
    is_int(quota_reserve(qs, quota_epoch(qs), 100, 10, 0, -1, 1), QUOTA_USER_SHORT, "(1 + 9 of 10 reserved)");

    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, spend, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    is_int(quota_reserve(qs, quota_epoch(qs), 7, 10, 0, -1, 10), QUOTA_OK,
           "40,000 concurrent reserve/release pairs leave nothing behind");
    quota_store_free(qs);
    quota_store_free(NULL);
    return done_testing();
}
