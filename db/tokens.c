/* tokens: insert of relay keys (the relay's lookups come with the relay). */
#include "config.h"
#include "db/tokens.h"
#include "db/db.h"

int db_tokens_insert(struct db_conn *c, const struct token *t, int64_t *id)
{
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO tokens (user_id, \"key\", status, name, created_time, "
                      "accessed_time, expired_time, remain_quota, unlimited_quota, "
                      "used_quota, models, subnet) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
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
    int rc = db_step(st);
    if (rc == DB_ROW && id)
        *id = db_col_int64(st, 0);
    db_done(st);
    return rc == DB_ROW ? 0 : rc == DB_DONE ? DB_ERR : rc;
}
