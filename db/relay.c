/* relay: the relay's reads (token, user, channel, candidates) and its health writes. */
#include "config.h"
#include "db/relay.h"
#include "db/db.h"
#include "fcgi/arena.h"

#include <string.h>

static void read_token(struct db_stmt *st, struct arena *a, void *row)
{
    struct relay_token *t = row;
    t->id = db_col_int64(st, 0);
    t->user_id = db_col_int64(st, 1);
    t->status = db_col_int64(st, 2);
    t->expired_time = db_col_int64(st, 3);
    t->remain_quota = db_col_int64(st, 4);
    t->used_quota = db_col_int64(st, 5);
    t->unlimited_quota = db_col_int64(st, 6) != 0;
    t->name = db_col_str(st, 7, a);
    t->key = db_col_str(st, 8, a);
    t->models = db_col_str(st, 9, a);
    t->subnet = db_col_str(st, 10, a);
    t->rpm_limit = db_col_int64(st, 11);
}

int db_relay_token(struct db_conn *c, struct arena *a, const char *key, struct relay_token *out)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT id, user_id, status, expired_time, remain_quota, used_quota, unlimited_quota, "
           "name, \"key\", models, subnet, rpm_limit FROM tokens WHERE \"key\" = ?");
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, key);
    return db_read_one(st, a, read_token, out);
}

static void read_user(struct db_stmt *st, struct arena *a, void *row)
{
    struct relay_user *u = row;
    u->id = db_col_int64(st, 0);
    u->role = db_col_int64(st, 1);
    u->status = db_col_int64(st, 2);
    u->quota = db_col_int64(st, 3);
    u->username = db_col_str(st, 4, a);
    u->group = db_col_str(st, 5, a);
    if (!*u->group)
        u->group = "default";
}

int db_relay_user(struct db_conn *c, struct arena *a, int64_t id, struct relay_user *out)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT id, role, status, quota, username, \"group\" FROM users WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    return db_read_one(st, a, read_user, out);
}

static void read_channel(struct db_stmt *st, struct arena *a, void *row)
{
    struct relay_channel *ch = row;
    ch->id = db_col_int64(st, 0);
    ch->type = db_col_int64(st, 1);
    ch->status = db_col_int64(st, 2);
    ch->priority = db_col_int64(st, 3);
    ch->weight = db_col_int64(st, 4);
    ch->name = db_col_str(st, 5, a);
    ch->key = db_col_str(st, 6, a);
    ch->base_url = db_col_str(st, 7, a);
    ch->other = db_col_str(st, 8, a);
    ch->model_mapping = db_col_str(st, 9, a);
    ch->config = db_col_str(st, 10, a);
    ch->system_prompt = db_col_str(st, 11, a);
    ch->models = db_col_str(st, 12, a);
}

int db_relay_channel(struct db_conn *c, struct arena *a, int64_t id, struct relay_channel *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT id, type, status, priority, weight, name, \"key\", base_url, other, "
                      "model_mapping, config, system_prompt, models FROM channels WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    return db_read_one(st, a, read_channel, out);
}

static void read_candidate(struct db_stmt *st, struct arena *a, void *row)
{
    (void)a;
    struct relay_candidate *c = row;
    c->channel_id = db_col_int64(st, 0);
    c->priority = db_col_int64(st, 1);
    c->weight = db_col_int64(st, 2);
    c->type = db_col_int64(st, 3);
}

int db_relay_candidates(struct db_conn *c, struct arena *a, const char *group, const char *model,
                        struct relay_candidate **out, int *n)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT a.channel_id, COALESCE(a.priority, 0), COALESCE(ch.weight, 0), ch.type "
           "FROM abilities a JOIN channels ch ON ch.id = a.channel_id "
           "WHERE a.\"group\" = ? AND a.model = ? AND a.enabled = ? AND ch.status = 1 "
           "ORDER BY a.priority DESC, a.channel_id");
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, group);
    db_bind_text(st, 2, model);
    db_bind_bool(st, 3, 1);
    size_t k;
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_candidate, &k, &rc);
    *n = (int)k;
    return rc;
}

int db_relay_reserve(struct db_conn *c, int64_t uid, int64_t token_id, int64_t amount)
{
    if (db_begin(c) < 0)
        return DB_ERR;
    /* Users before tokens: the writer's transactions lock rows in that order too, so a
     * reservation never deadlocks with a settlement on PostgreSQL. */
    int64_t n = db_execf(c, "UPDATE users SET quota = quota - ? WHERE id = ? AND quota >= ?", "iii",
                         amount, uid, amount);
    int rc = DB_RESERVED;
    if (n == 0)
        rc = DB_RESERVE_USER_SHORT;
    else if (n > 0 && token_id > 0) {
        n = db_execf(c,
                     "UPDATE tokens SET remain_quota = remain_quota - ? "
                     "WHERE id = ? AND remain_quota >= ?",
                     "iii", amount, token_id, amount);
        if (n == 0)
            rc = DB_RESERVE_TOKEN_SHORT;
    }
    if (n < 0 || rc != DB_RESERVED) {
        db_rollback(c);
        if (n < 0)
            return (int)n;
        if (rc == DB_RESERVE_USER_SHORT && token_id > 0) {
            /* Only to choose the message: the key's shortfall is the one One API reports. */
            struct db_stmt *st = db_prepare(c, "SELECT remain_quota FROM tokens WHERE id = ?");
            if (st) {
                db_bind_int64(st, 1, token_id);
                if (db_step(st) == DB_ROW && db_col_int64(st, 0) < amount)
                    rc = DB_RESERVE_TOKEN_SHORT;
                db_done(st);
            }
        }
        return rc;
    }
    if (db_commit(c) < 0) {
        db_rollback(c);
        return DB_ERR;
    }
    return DB_RESERVED;
}

int db_relay_token_status(struct db_conn *c, int64_t id, int64_t status)
{
    int64_t n = db_execf(c, "UPDATE tokens SET status = ? WHERE id = ?", "ii", status, id);
    return n < 0 ? (int)n : 0;
}

int db_relay_channel_status(struct db_conn *c, int64_t id, int64_t status, int64_t only_if_status)
{
    if (db_begin(c) < 0)
        return DB_ERR;
    int64_t n;
    if (only_if_status >= 0)
        n = db_execf(c, "UPDATE channels SET status = ? WHERE id = ? AND status = ?", "iii", status,
                     id, only_if_status);
    else
        n = db_execf(c, "UPDATE channels SET status = ? WHERE id = ?", "ii", status, id);
    if (n > 0 && db_execf(c, "UPDATE abilities SET enabled = ? WHERE channel_id = ?", "bi",
                          status == 1, id) < 0)
        n = DB_ERR;
    if (n < 0) {
        db_rollback(c);
        return (int)n;
    }
    if (db_commit(c) < 0)
        return DB_ERR;
    return (int)n;
}

int db_relay_channel_tested(struct db_conn *c, int64_t id, int64_t when, int64_t ms)
{
    int64_t n = db_execf(c, "UPDATE channels SET test_time = ?, response_time = ? WHERE id = ?",
                         "iii", when, ms, id);
    return n < 0 ? (int)n : 0;
}
