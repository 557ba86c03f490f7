/* channels: queries of the channels table; each change rebuilds abilities in its transaction. */
#include "config.h"
#include "db/channels.h"
#include "db/abilities.h"
#include "db/db.h"
#include "fcgi/arena.h"
#include "fcgi/log.h"

#include <assert.h>
#include <string.h>

/* Columns in struct channel order; CH_COLS_NOKEY never reads the secret at all. */
#define CH_COLS_HEAD "id, type, "
#define CH_COLS_TAIL                                                                               \
    ", status, name, weight, created_time, test_time, response_time, base_url, other, "            \
    "balance, balance_updated_time, models, \"group\", used_quota, model_mapping, priority, "      \
    "config, system_prompt"
#define CH_COLS CH_COLS_HEAD "\"key\"" CH_COLS_TAIL
#define CH_COLS_NOKEY CH_COLS_HEAD "'' AS \"key\"" CH_COLS_TAIL

static void read_channel(struct db_stmt *st, struct arena *a, void *row)
{
    struct channel *ch = row;
    ch->id = db_col_int64(st, 0);
    ch->type = db_col_int64(st, 1);
    ch->key = db_col_str(st, 2, a);
    ch->status = db_col_int64(st, 3);
    ch->name = db_col_str(st, 4, a);
    ch->has_weight = !db_col_is_null(st, 5);
    ch->weight = db_col_int64(st, 5);
    ch->created_time = db_col_int64(st, 6);
    ch->test_time = db_col_int64(st, 7);
    ch->response_time = db_col_int64(st, 8);
    ch->base_url = db_col_str_or_null(st, 9, a);
    ch->other = db_col_str_or_null(st, 10, a);
    ch->balance = db_col_double(st, 11);
    ch->balance_updated_time = db_col_int64(st, 12);
    ch->models = db_col_str(st, 13, a);
    ch->group = db_col_str(st, 14, a);
    ch->used_quota = db_col_int64(st, 15);
    ch->model_mapping = db_col_str_or_null(st, 16, a);
    ch->has_priority = !db_col_is_null(st, 17);
    ch->priority = db_col_int64(st, 17);
    ch->config = db_col_str(st, 18, a);
    ch->system_prompt = db_col_str_or_null(st, 19, a);
}

/* Undoes the open transaction and passes rc on. */
static int rollback_with(struct db_conn *c, int rc)
{
    db_rollback(c);
    return rc < 0 ? rc : DB_ERR;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Inserts one channel with the insert defaults and builds its abilities; inside a
 * transaction. 0 or < 0. */
static int insert_one(struct db_conn *c, struct arena *a, const struct channel *ch, int64_t *id)
{
    int64_t status = ch->status ? ch->status : 1;
    const char *group = ch->group && *ch->group ? ch->group : "default";
    int64_t priority = ch->has_priority ? ch->priority : 0;
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO channels (type, \"key\", status, name, weight, created_time, "
                      "test_time, response_time, base_url, other, balance, "
                      "balance_updated_time, models, \"group\", used_quota, model_mapping, "
                      "priority, config, system_prompt) "
                      "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, 0, 0, ?, ?, 0, ?, ?, ?, ?) "
                      "RETURNING id");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, ch->type);
    db_bind_text(st, 2, or_empty(ch->key));
    db_bind_int64(st, 3, status);
    db_bind_text(st, 4, or_empty(ch->name));
    db_bind_int64(st, 5, ch->has_weight ? ch->weight : 0);
    db_bind_int64(st, 6, ch->created_time);
    db_bind_text(st, 7, or_empty(ch->base_url));
    db_bind_text(st, 8, ch->other);
    db_bind_text(st, 9, or_empty(ch->models));
    db_bind_text(st, 10, group);
    db_bind_text(st, 11, or_empty(ch->model_mapping));
    db_bind_int64(st, 12, priority);
    db_bind_text(st, 13, or_empty(ch->config));
    db_bind_text(st, 14, ch->system_prompt);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *id = db_col_int64(st, 0);
    db_done(st);
    if (rc != DB_ROW)
        return rc < 0 ? rc : DB_ERR;
    return db_abilities_rebuild(c, a, *id, group, ch->models, status == 1, priority);
}

int db_channels_insert(struct db_conn *c, struct arena *a, const struct channel *chs, size_t n,
                       int64_t *ids)
{
    if (db_begin(c) < 0)
        return DB_ERR;
    for (size_t i = 0; i < n; i++) {
        int64_t id = 0;
        int rc = insert_one(c, a, &chs[i], &id);
        if (rc < 0)
            return rollback_with(c, rc);
        if (ids)
            ids[i] = id;
    }
    return db_commit(c) < 0 ? rollback_with(c, DB_ERR) : 0;
}

/* One literal UPDATE per writable field: the SQL stays a constant with bound values. */
static const struct {
    unsigned field; /* enum channel_field */
    const char *sql;
} update_sql[] = {
    {CH_TYPE, "UPDATE channels SET type = ? WHERE id = ?"},
    {CH_KEY, "UPDATE channels SET \"key\" = ? WHERE id = ?"},
    {CH_STATUS, "UPDATE channels SET status = ? WHERE id = ?"},
    {CH_NAME, "UPDATE channels SET name = ? WHERE id = ?"},
    {CH_WEIGHT, "UPDATE channels SET weight = ? WHERE id = ?"},
    {CH_BASE_URL, "UPDATE channels SET base_url = ? WHERE id = ?"},
    {CH_OTHER, "UPDATE channels SET other = ? WHERE id = ?"},
    {CH_MODELS, "UPDATE channels SET models = ? WHERE id = ?"},
    {CH_GROUP, "UPDATE channels SET \"group\" = ? WHERE id = ?"},
    {CH_MODEL_MAPPING, "UPDATE channels SET model_mapping = ? WHERE id = ?"},
    {CH_PRIORITY, "UPDATE channels SET priority = ? WHERE id = ?"},
    {CH_CONFIG, "UPDATE channels SET config = ? WHERE id = ?"},
    {CH_SYSTEM_PROMPT, "UPDATE channels SET system_prompt = ? WHERE id = ?"},
};

/* Binds the value of one field of ch as parameter 1. */
static void bind_field(struct db_stmt *st, const struct channel *ch, unsigned field)
{
    switch (field) {
    case CH_TYPE: db_bind_int64(st, 1, ch->type); break;
    case CH_KEY: db_bind_text(st, 1, or_empty(ch->key)); break;
    case CH_STATUS: db_bind_int64(st, 1, ch->status); break;
    case CH_NAME: db_bind_text(st, 1, or_empty(ch->name)); break;
    case CH_WEIGHT: db_bind_int64(st, 1, ch->weight); break;
    case CH_BASE_URL: db_bind_text(st, 1, ch->base_url); break;
    case CH_OTHER: db_bind_text(st, 1, ch->other); break;
    case CH_MODELS: db_bind_text(st, 1, or_empty(ch->models)); break;
    case CH_GROUP: db_bind_text(st, 1, or_empty(ch->group)); break;
    case CH_MODEL_MAPPING: db_bind_text(st, 1, ch->model_mapping); break;
    case CH_PRIORITY: db_bind_int64(st, 1, ch->priority); break;
    case CH_CONFIG: db_bind_text(st, 1, or_empty(ch->config)); break;
    case CH_SYSTEM_PROMPT: db_bind_text(st, 1, ch->system_prompt); break;
    default:
        LOG_BUG("unknown channel field %#x", field);
        assert(!"bind_field: a field missing from update_sql");
        db_bind_null(st, 1);
        break;
    }
}

/* Rebuilds the abilities of channel id from its stored row; inside a transaction.
 * 1 done, 0 no such channel, < 0 error. */
static int rebuild_from_row(struct db_conn *c, struct arena *a, int64_t id)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT status, models, \"group\", priority FROM channels WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    int rc = db_step(st);
    if (rc != DB_ROW) {
        db_done(st);
        return rc == DB_DONE ? 0 : rc;
    }
    int64_t status = db_col_int64(st, 0);
    const char *models = db_col_str(st, 1, a);
    const char *group = db_col_str(st, 2, a);
    int64_t priority = db_col_int64(st, 3);
    db_done(st);
    rc = db_abilities_rebuild(c, a, id, group, models, status == 1, priority);
    return rc < 0 ? rc : 1;
}

int db_channels_update(struct db_conn *c, struct arena *a, const struct channel *ch,
                       unsigned fields)
{
    if (db_begin(c) < 0)
        return DB_ERR;
    for (size_t i = 0; i < sizeof update_sql / sizeof update_sql[0]; i++) {
        if (!(fields & update_sql[i].field))
            continue;
        struct db_stmt *st = db_prepare(c, update_sql[i].sql); /* safe-for-sql: literals above */
        if (!st)
            return rollback_with(c, DB_ERR);
        bind_field(st, ch, update_sql[i].field);
        db_bind_int64(st, 2, ch->id);
        int rc = db_step(st);
        db_done(st);
        if (rc < 0)
            return rollback_with(c, rc);
    }
    int rc = rebuild_from_row(c, a, ch->id);
    if (rc <= 0) {
        db_rollback(c);
        return rc;
    }
    return db_commit(c) < 0 ? rollback_with(c, DB_ERR) : 1;
}

int64_t db_channels_delete(struct db_conn *c, int64_t id)
{
    if (db_begin(c) < 0)
        return DB_ERR;
    if (db_abilities_delete_channel(c, id) < 0)
        return rollback_with(c, DB_ERR);
    int64_t n = db_execf(c, "DELETE FROM channels WHERE id = ?", "i", id);
    if (n < 0)
        return rollback_with(c, (int)n);
    return db_commit(c) < 0 ? rollback_with(c, DB_ERR) : n;
}

int64_t db_channels_delete_disabled(struct db_conn *c)
{
    if (db_begin(c) < 0)
        return DB_ERR;
    int64_t rc = db_execf(c,
                          "DELETE FROM abilities WHERE channel_id IN "
                          "(SELECT id FROM channels WHERE status = 2 OR status = 3)",
                          NULL);
    if (rc < 0)
        return rollback_with(c, (int)rc);
    int64_t n = db_execf(c, "DELETE FROM channels WHERE status = 2 OR status = 3", NULL);
    if (n < 0)
        return rollback_with(c, (int)n);
    return db_commit(c) < 0 ? rollback_with(c, DB_ERR) : n;
}

static void read_id(struct db_stmt *st, struct arena *a, void *row)
{
    (void)a;
    *(int64_t *)row = db_col_int64(st, 0);
}

int db_channels_ids(struct db_conn *c, struct arena *a, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT id FROM channels ORDER BY id");
    if (!st)
        return DB_ERR;
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_id, n, &rc);
    return rc;
}

int64_t db_channels_set_balance(struct db_conn *c, int64_t id, double balance, int64_t when)
{
    return db_execf(c, "UPDATE channels SET balance = ?, balance_updated_time = ? WHERE id = ?",
                    "dii", balance, when, id);
}

int db_channels_get(struct db_conn *c, struct arena *a, int64_t id, int with_key,
                    struct channel *out)
{
    struct db_stmt *st = with_key
                             ? db_prepare(c, "SELECT " CH_COLS " FROM channels WHERE id = ?")
                             : db_prepare(c, "SELECT " CH_COLS_NOKEY " FROM channels WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    return db_read_one(st, a, read_channel, out);
}

int db_channels_list(struct db_conn *c, struct arena *a, int64_t offset, int64_t limit,
                     struct channel **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT " CH_COLS_NOKEY " FROM channels "
                                       "ORDER BY id DESC LIMIT ? OFFSET ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, limit);
    db_bind_int64(st, 2, offset);
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_channel, n, &rc);
    return rc;
}

int db_channels_search(struct db_conn *c, struct arena *a, const char *keyword, int64_t id_kw,
                       struct channel **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT " CH_COLS_NOKEY " FROM channels "
                                       "WHERE id = ? OR name LIKE ? ORDER BY id DESC");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id_kw);
    db_bind_text(st, 2, arena_printf(a, "%s%%", keyword ? keyword : ""));
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_channel, n, &rc);
    return rc;
}
