/* tokens: relay keys of one owner: insert, lookups, listing, update and delete. */
#include "config.h"
#include "db/tokens.h"
#include "db/db.h"
#include "fcgi/arena.h"

#define TOKEN_COLS                                                                                 \
    "id, user_id, \"key\", status, name, created_time, accessed_time, expired_time, "              \
    "remain_quota, unlimited_quota, used_quota, models, subnet, rpm_limit"

int db_tokens_insert(struct db_conn *c, const struct token *t, int64_t *id)
{
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO tokens (user_id, \"key\", status, name, created_time, "
                      "accessed_time, expired_time, remain_quota, unlimited_quota, "
                      "used_quota, models, subnet, rpm_limit) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, t->user_id);
    db_bind_text(st, 2, t->key);
    db_bind_int64(st, 3, t->status ? t->status : 1);
    db_bind_text(st, 4, t->name ? t->name : "");
    db_bind_int64(st, 5, t->created_time);
    db_bind_int64(st, 6, t->accessed_time);
    db_bind_int64(st, 7, t->expired_time ? t->expired_time : -1);
    db_bind_int64(st, 8, t->remain_quota);
    db_bind_bool(st, 9, t->unlimited_quota);
    db_bind_int64(st, 10, t->used_quota);
    db_bind_text(st, 11, t->models);
    db_bind_text(st, 12, t->subnet ? t->subnet : "");
    db_bind_int64(st, 13, t->rpm_limit);
    int rc = db_step(st);
    if (rc == DB_ROW && id)
        *id = db_col_int64(st, 0);
    db_done(st);
    return rc == DB_ROW ? 0 : rc == DB_DONE ? DB_ERR : rc;
}

static void read_token(struct db_stmt *st, struct arena *a, void *row)
{
    struct token *t = row;
    t->id = db_col_int64(st, 0);
    t->user_id = db_col_int64(st, 1);
    t->key = db_col_str(st, 2, a);
    t->status = db_col_int64(st, 3);
    t->name = db_col_str(st, 4, a);
    t->created_time = db_col_int64(st, 5);
    t->accessed_time = db_col_int64(st, 6);
    t->expired_time = db_col_int64(st, 7);
    t->remain_quota = db_col_int64(st, 8);
    t->unlimited_quota = db_col_int64(st, 9) != 0;
    t->used_quota = db_col_int64(st, 10);
    t->models = db_col_str_or_null(st, 11, a);
    t->subnet = db_col_str_or_null(st, 12, a);
    t->rpm_limit = db_col_int64(st, 13);
}

int db_tokens_get(struct db_conn *c, struct arena *a, int64_t id, int64_t user_id,
                  struct token *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT " TOKEN_COLS " FROM tokens WHERE id = ? AND user_id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    db_bind_int64(st, 2, user_id);
    return db_read_one(st, a, read_token, out);
}

int db_tokens_list(struct db_conn *c, struct arena *a, int64_t user_id, enum db_tokens_order order,
                   int64_t offset, int64_t limit, struct token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st;
    /* One literal per order: ORDER BY cannot take a bound parameter. */
    switch (order) {
    case TOKENS_BY_REMAIN_QUOTA:
        st = db_prepare(c, "SELECT " TOKEN_COLS " FROM tokens WHERE user_id = ? "
                           "ORDER BY unlimited_quota DESC, remain_quota DESC, id DESC "
                           "LIMIT ? OFFSET ?");
        break;
    case TOKENS_BY_USED_QUOTA:
        st = db_prepare(c, "SELECT " TOKEN_COLS " FROM tokens WHERE user_id = ? "
                           "ORDER BY used_quota DESC, id DESC LIMIT ? OFFSET ?");
        break;
    default:
        st = db_prepare(c, "SELECT " TOKEN_COLS " FROM tokens WHERE user_id = ? "
                           "ORDER BY id DESC LIMIT ? OFFSET ?");
        break;
    }
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, user_id);
    db_bind_int64(st, 2, limit);
    db_bind_int64(st, 3, offset);
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_token, n, &rc);
    return rc;
}

int db_tokens_search(struct db_conn *c, struct arena *a, int64_t user_id, const char *keyword,
                     struct token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT " TOKEN_COLS " FROM tokens "
                                       "WHERE user_id = ? AND name LIKE ? ORDER BY id DESC");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, user_id);
    db_bind_text(st, 2, arena_printf(a, "%s%%", keyword ? keyword : ""));
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_token, n, &rc);
    return rc;
}

int64_t db_tokens_update(struct db_conn *c, const struct token *t)
{
    return db_execf(c,
                    "UPDATE tokens SET name = ?, status = ?, expired_time = ?, remain_quota = ?, "
                    "unlimited_quota = ?, models = ?, subnet = ?, rpm_limit = ? "
                    "WHERE id = ? AND user_id = ?",
                    "tiiibttiii", t->name ? t->name : "", t->status, t->expired_time,
                    t->remain_quota, t->unlimited_quota, t->models, t->subnet, t->rpm_limit, t->id,
                    t->user_id);
}

int64_t db_tokens_delete(struct db_conn *c, int64_t id, int64_t user_id)
{
    return db_execf(c, "DELETE FROM tokens WHERE id = ? AND user_id = ?", "ii", id, user_id);
}
