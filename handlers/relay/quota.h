/* The quota store: reservations made before an upstream call, in two implementations.
 * - memory (one FastCGI process, the default): reservations and charges handed to the writer
 *   but not yet committed, per user and per token. The database holds committed quota;
 *   available = database value - reserved - pending. Exact, but blind to other processes.
 * - sql (plain CGI, or QUOTA_STORE=sql when several processes or nodes share the database):
 *   a reservation is a conditional UPDATE of users.quota and tokens.remain_quota; the
 *   settlement commits charge - reserved with the log row, a release gives it all back. */
#ifndef OA_QUOTA_H
#define OA_QUOTA_H
#include <stdint.h>

struct db_conn;
struct ledger_entry;
struct quota_store;

/* What a reservation found. The failures have a range of their own (from -200), apart from
 * enum oa_err and the DB layer's codes, so that one passed on by mistake cannot read as
 * another family's. */
enum quota_result {
    QUOTA_OK = 0,
    QUOTA_USER_SHORT = -200,  /* the user's quota is short */
    QUOTA_TOKEN_SHORT = -201, /* the key's remaining quota is short */
    QUOTA_STALE = -202,       /* memory store: read the quotas again */
    QUOTA_DB_ERROR = -203,    /* sql store: the database failed; nothing reserved */
};

/* Whether a process uses the sql store: always in plain CGI (each request its own process),
 * else when the QUOTA_STORE setting says "sql". */
int quota_use_sql(int is_cgi, const char *quota_store);

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
/* Writer hook: e's charge is now in the database (or failed and was logged). Entries of the
 * sql store are ignored. */
void quota_committed(void *qs, const struct ledger_entry *e);

/* The sql store. Reserves amount on c for user uid and, when is_limited, key tid, both or
 * neither; checks the key first, as One API does. QUOTA_OK, QUOTA_TOKEN_SHORT,
 * QUOTA_USER_SHORT or QUOTA_DB_ERROR (logged). */
int quota_sql_reserve(struct db_conn *c, int64_t uid, int64_t tid, int is_limited, int64_t amount);
/* Gives a whole reservation back, committed on c at once (a retry on another channel
 * reserves again right after). 0, or < 0 when it failed (logged: the amount stays taken). */
int quota_sql_release(struct db_conn *c, int64_t uid, int64_t tid, int is_limited, int64_t amount);
/* Turns settlement e, built with the whole charge in user_quota_delta (and, for a limited
 * key, token_remain_delta), into the difference charge - reserved (negative refunds), since
 * the reservation already left the database. Committed with its log row, it moves the
 * quota by exactly the charge. */
void quota_sql_settle(struct ledger_entry *e, int64_t reserved, int is_limited);

#endif
