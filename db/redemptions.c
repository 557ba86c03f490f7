/* redemptions: the redemption codes: generation, administration and the one-time take. */
#include "config.h"
#include "db/redemptions.h"
#include "db/db.h"
#include "fcgi/arena.h"

#define REDEMPTION_COLS                                                                            \
    "id, user_id, \"key\", status, name, quota, created_time, redeemed_time, used_user_id"

#define DEFAULT_QUOTA 100 /* the column's default, which One API's insert puts for a 0 */

int db_redemptions_insert(struct db_conn *c, const struct redemption *r, int64_t *id)
{
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO redemptions (user_id, \"key\", status, name, quota, "
                      "created_time, redeemed_time, used_user_id) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, r->user_id);
    db_bind_text(st, 2, r->key);
    db_bind_int64(st, 3, r->status ? r->status : REDEMPTION_ENABLED);
    db_bind_text(st, 4, r->name ? r->name : "");
    db_bind_int64(st, 5, r->quota ? r->quota : DEFAULT_QUOTA);
    db_bind_int64(st, 6, r->created_time);
    db_bind_int64(st, 7, r->redeemed_time);
    db_bind_int64(st, 8, r->used_user_id);
    int rc = db_step(st);
    if (rc == DB_ROW && id)
        *id = db_col_int64(st, 0);
    db_done(st);
    return rc == DB_ROW ? 0 : rc == DB_DONE ? DB_ERR : rc;
}

static void read_redemption(struct db_stmt *st, struct arena *a, void *row)
{
    struct redemption *r = row;
    r->id = db_col_int64(st, 0);
    r->user_id = db_col_int64(st, 1);
    r->key = db_col_str(st, 2, a);
    r->status = db_col_int64(st, 3);
    r->name = db_col_str(st, 4, a);
    r->quota = db_col_int64(st, 5);
    r->created_time = db_col_int64(st, 6);
    r->redeemed_time = db_col_int64(st, 7);
    r->used_user_id = db_col_int64(st, 8);
}

int db_redemptions_get(struct db_conn *c, struct arena *a, int64_t id, struct redemption *out)
{
    struct db_stmt *st = db_prepare(c, "SELECT " REDEMPTION_COLS " FROM redemptions WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    return db_read_one(st, a, read_redemption, out);
}

int db_redemptions_by_key(struct db_conn *c, struct arena *a, const char *key,
                          struct redemption *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT " REDEMPTION_COLS " FROM redemptions WHERE \"key\" = ?");
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, key);
    return db_read_one(st, a, read_redemption, out);
}

int db_redemptions_list(struct db_conn *c, struct arena *a, int64_t offset, int64_t limit,
                        struct redemption **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT " REDEMPTION_COLS
                                       " FROM redemptions ORDER BY id DESC LIMIT ? OFFSET ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, limit);
    db_bind_int64(st, 2, offset);
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_redemption, n, &rc);
    return rc;
}

int db_redemptions_search(struct db_conn *c, struct arena *a, int64_t id_match, const char *keyword,
                          struct redemption **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT " REDEMPTION_COLS " FROM redemptions "
                                       "WHERE id = ? OR name LIKE ? ORDER BY id DESC");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id_match);
    db_bind_text(st, 2, arena_printf(a, "%s%%", keyword ? keyword : ""));
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_redemption, n, &rc);
    return rc;
}

int64_t db_redemptions_update(struct db_conn *c, int64_t id, const char *name, int64_t quota)
{
    return db_execf(c, "UPDATE redemptions SET name = ?, quota = ? WHERE id = ?", "tii",
                    name ? name : "", quota, id);
}

int64_t db_redemptions_set_status(struct db_conn *c, int64_t id, int64_t status)
{
    return db_execf(c, "UPDATE redemptions SET status = ? WHERE id = ?", "ii", status, id);
}

int64_t db_redemptions_delete(struct db_conn *c, int64_t id)
{
    return db_execf(c, "DELETE FROM redemptions WHERE id = ?", "i", id);
}

int db_redemptions_take(struct db_conn *c, const char *key, int64_t uid, int64_t now,
                        int64_t *quota)
{
    /* The status test is in the UPDATE itself: PostgreSQL re-checks it after waiting for a
     * concurrent redeemer's row lock, SQLite runs writers one at a time. */
    struct db_stmt *st = db_prepare(c, "UPDATE redemptions SET status = ?, redeemed_time = ?, "
                                       "used_user_id = ? WHERE \"key\" = ? AND status = ? "
                                       "RETURNING quota");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, REDEMPTION_USED);
    db_bind_int64(st, 2, now);
    db_bind_int64(st, 3, uid);
    db_bind_text(st, 4, key);
    db_bind_int64(st, 5, REDEMPTION_ENABLED);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *quota = db_col_int64(st, 0);
    /* Drained so that SQLite finishes the statement before the transaction goes on. */
    int end = rc;
    while (end == DB_ROW)
        end = db_step(st);
    db_done(st);
    if (end < 0)
        return end;
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}
