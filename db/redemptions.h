/* redemptions table: codes an administrator generates and users redeem for quota. */
#ifndef OA_DB_REDEMPTIONS_H
#define OA_DB_REDEMPTIONS_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct db_conn;

/* redemptions.status values. */
enum { REDEMPTION_ENABLED = 1, REDEMPTION_DISABLED = 2, REDEMPTION_USED = 3 };

/* One redemptions row; strings are borrowed (inserts) or live in the reader's arena. */
struct redemption {
    int64_t id;
    int64_t user_id; /* the administrator who created it */
    const char *key; /* 32 hex characters */
    int64_t status;
    const char *name;
    int64_t quota;
    int64_t created_time, redeemed_time;
    int64_t used_user_id; /* who redeemed it; 0 while unused */
};

/* Inserts r with One API's insert defaults (status 0 -> 1, quota 0 -> 100). Stores the id in
 * *id. 0, DB_CONSTRAINT (duplicate key), or < 0. */
int db_redemptions_insert(struct db_conn *c, const struct redemption *r, int64_t *id);
/* Code id: 1 found (out filled in a), 0 not found, < 0 error. */
int db_redemptions_get(struct db_conn *c, struct arena *a, int64_t id, struct redemption *out);
/* The code whose key is key: 1 found, 0 not found, < 0 error. */
int db_redemptions_by_key(struct db_conn *c, struct arena *a, const char *key,
                          struct redemption *out);
/* A page of codes, id DESC. The array lives in a. 0 or < 0. */
int db_redemptions_list(struct db_conn *c, struct arena *a, int64_t offset, int64_t limit,
                        struct redemption **out, size_t *n);
/* Codes whose id is id_match (-1 for none) or whose name starts with keyword, id DESC. 0 or
 * < 0. */
int db_redemptions_search(struct db_conn *c, struct arena *a, int64_t id_match, const char *keyword,
                          struct redemption **out, size_t *n);
/* Sets name and quota of code id (its status is left alone, so an edit cannot revive a code
 * redeemed meanwhile). Rows changed (0 or 1), or < 0. */
int64_t db_redemptions_update(struct db_conn *c, int64_t id, const char *name, int64_t quota);
/* Sets the status of code id. Rows changed (0 or 1), or < 0. */
int64_t db_redemptions_set_status(struct db_conn *c, int64_t id, int64_t status);
/* Deletes code id. Rows deleted (0 or 1), or < 0. */
int64_t db_redemptions_delete(struct db_conn *c, int64_t id);
/* Marks the enabled code key as used by uid at now, in the caller's transaction: one
 * conditional UPDATE, so that of several concurrent redeemers (threads, processes or nodes)
 * exactly one gets the row. 1 with *quota set when this call took it; 0 when the code is
 * missing, used or disabled; < 0 on error. */
int db_redemptions_take(struct db_conn *c, const char *key, int64_t uid, int64_t now,
                        int64_t *quota);

#endif
