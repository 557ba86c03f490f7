/* The quota store of one FastCGI process: reservations made before an upstream call and
 * charges handed to the writer but not yet committed, per user and per token. The database
 * holds committed quota; available = database value - reserved - pending. */
#ifndef OA_QUOTA_H
#define OA_QUOTA_H
#include <stdint.h>

struct ledger_entry;
struct quota_store;

enum { QUOTA_OK = 0, QUOTA_USER_SHORT = -1, QUOTA_TOKEN_SHORT = -2, QUOTA_STALE = -3 };

/* Heap-owned; free with quota_store_free (accepts NULL). */
struct quota_store *quota_store_new(void);
void quota_store_free(struct quota_store *qs);
/* The commit epoch: it moves whenever a pending charge reaches the database. Take it before
 * reading the quotas that quota_reserve is given. */
uint64_t quota_epoch(struct quota_store *qs);
/* Reserves amount for user uid (whose committed quota is user_quota) and token tid (whose
 * committed remaining quota is token_remain, or < 0 when unlimited), both read after epoch
 * was taken. Checks token first, as One API does. QUOTA_OK, QUOTA_USER_SHORT,
 * QUOTA_TOKEN_SHORT, or QUOTA_STALE when a charge was committed since epoch (the values read
 * may miss it while "pending" no longer has it: read them again). Nothing is reserved unless
 * QUOTA_OK. */
int quota_reserve(struct quota_store *qs, uint64_t epoch, int64_t uid, int64_t user_quota,
                  int64_t tid, int64_t token_remain, int64_t amount);
/* Gives back a reservation that will not be charged. */
void quota_release(struct quota_store *qs, int64_t uid, int64_t tid, int64_t amount);
/* Turns a reservation into a pending charge of charge (handed to the writer). */
void quota_settle(struct quota_store *qs, int64_t uid, int64_t tid, int64_t reserved,
                  int64_t charge);
/* Writer hook: e's charge is now in the database (or failed and was logged). */
void quota_committed(void *qs, const struct ledger_entry *e);

#endif
