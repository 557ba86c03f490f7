/* relay: the relay's reads (token, user, channel, candidates) and its health writes. */
#include "config.h"
#include "db/relay.h"
#include "db/db.h"
#include "fcgi/arena.h"

#include <string.h>

static const char *col(struct db_stmt *st, struct arena *a, int i)
{
    const char *s = db_col_text(st, i);
    return arena_strdup(a, s ? s : "");
}

int db_relay_token(struct db_conn *c, struct arena *a, const char *key, struct relay_token *out)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT id, user_id, status, expired_time, remain_quota, used_quota, unlimited_quota, "
           "name, \"key\", models, subnet FROM tokens WHERE \"key\" = ?");
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, key);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        out->id = db_col_int64(st, 0);
        out->user_id = db_col_int64(st, 1);
        out->status = db_col_int64(st, 2);
        out->expired_time = db_col_int64(st, 3);
        out->remain_quota = db_col_int64(st, 4);
        out->used_quota = db_col_int64(st, 5);
        out->unlimited_quota = db_col_int64(st, 6) != 0;
        out->name = col(st, a, 7);
        out->key = col(st, a, 8);
        out->models = col(st, a, 9);
        out->subnet = col(st, a, 10);
    }
    db_done(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}

int db_relay_user(struct db_conn *c, struct arena *a, int64_t id, struct relay_user *out)
{
    struct db_stmt *st = db_prepare(
        c, "SELECT id, role, status, quota, username, \"group\" FROM users WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        out->id = db_col_int64(st, 0);
        out->role = db_col_int64(st, 1);
        out->status = db_col_int64(st, 2);
        out->quota = db_col_int64(st, 3);
        out->username = col(st, a, 4);
        out->group = col(st, a, 5);
        if (!*out->group)
            out->group = "default";
    }
    db_done(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}

int db_relay_channel(struct db_conn *c, struct arena *a, int64_t id, struct relay_channel *out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT id, type, status, priority, weight, name, \"key\", base_url, other, "
                      "model_mapping, config, system_prompt, models FROM channels WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        out->id = db_col_int64(st, 0);
        out->type = db_col_int64(st, 1);
        out->status = db_col_int64(st, 2);
        out->priority = db_col_int64(st, 3);
        out->weight = db_col_int64(st, 4);
        out->name = col(st, a, 5);
        out->key = col(st, a, 6);
        out->base_url = col(st, a, 7);
        out->other = col(st, a, 8);
        out->model_mapping = col(st, a, 9);
        out->config = col(st, a, 10);
        out->system_prompt = col(st, a, 11);
        out->models = col(st, a, 12);
    }
    db_done(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}

int db_relay_candidates(struct db_conn *c, struct arena *a, const char *group, const char *model,
                        struct relay_candidate **out, int *n)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT a.channel_id, COALESCE(a.priority, 0), COALESCE(ch.weight, 0) "
                      "FROM abilities a JOIN channels ch ON ch.id = a.channel_id "
                      "WHERE a.\"group\" = ? AND a.model = ? AND a.enabled = ? AND ch.status = 1 "
                      "ORDER BY a.priority DESC, a.channel_id");
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, group);
    db_bind_text(st, 2, model);
    db_bind_bool(st, 3, 1);
    int cap = 8, rc;
    *n = 0;
    *out = arena_alloc(a, (size_t)cap * sizeof **out);
    while ((rc = db_step(st)) == DB_ROW) {
        if (*n == cap) {
            *out =
                arena_realloc(a, *out, (size_t)cap * sizeof **out, (size_t)cap * 2 * sizeof **out);
            cap *= 2;
        }
        (*out)[*n].channel_id = db_col_int64(st, 0);
        (*out)[*n].priority = db_col_int64(st, 1);
        (*out)[*n].weight = db_col_int64(st, 2);
        (*n)++;
    }
    db_done(st);
    return rc < 0 ? rc : 0;
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
