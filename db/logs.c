/* logs: the console's queries on the logs table. A filtered query is one statement built from
 * a fixed set of clause literals, one per filter in use, so that every value is bound and each
 * combination is a statement of its own in the connection's cache (an unused filter costs
 * nothing, where "(? = 0 OR type = ?)" would keep the database from using an index). */
#include "config.h"
#include "db/logs.h"
#include "db/db.h"
#include "fcgi/arena.h"
#include "fcgi/request.h"

#include <stdio.h>
#include <string.h>

#define LOG_COLS                                                                                   \
    "id, user_id, created_at, type, content, username, token_name, model_name, quota, "            \
    "prompt_tokens, completion_tokens, channel_id, request_id, elapsed_time, is_stream, "          \
    "system_prompt_reset"

static void read_log(struct db_stmt *st, struct arena *a, void *row)
{
    struct log_row *l = row;
    l->id = db_col_int64(st, 0);
    l->user_id = db_col_int64(st, 1);
    l->created_at = db_col_int64(st, 2);
    l->type = db_col_int64(st, 3);
    l->content = db_col_str(st, 4, a);
    l->username = db_col_str(st, 5, a);
    l->token_name = db_col_str(st, 6, a);
    l->model_name = db_col_str(st, 7, a);
    l->quota = db_col_int64(st, 8);
    l->prompt_tokens = db_col_int64(st, 9);
    l->completion_tokens = db_col_int64(st, 10);
    l->channel_id = db_col_int64(st, 11);
    l->request_id = db_col_str(st, 12, a);
    l->elapsed_time = db_col_int64(st, 13);
    l->is_stream = db_col_int64(st, 14) != 0;
    l->system_prompt_reset = db_col_int64(st, 15) != 0;
}

/* The filter clauses, in binding order. */
enum filter_clause {
    FC_USER,
    FC_TYPE,
    FC_START,
    FC_END,
    FC_USERNAME,
    FC_TOKEN,
    FC_MODEL,
    FC_CHANNEL,
    FC__MAX
};

static const char *const clause_sql[FC__MAX] = {
    [FC_USER] = "user_id = ?",     [FC_TYPE] = "type = ?",          [FC_START] = "created_at >= ?",
    [FC_END] = "created_at <= ?",  [FC_USERNAME] = "username = ?",  [FC_TOKEN] = "token_name = ?",
    [FC_MODEL] = "model_name = ?", [FC_CHANNEL] = "channel_id = ?",
};

/* Longest WHERE: every clause and its " AND ". */
#define WHERE_MAX 256

static int is_set(const char *s)
{
    return s && *s;
}

/* The clauses f uses, as a bit set of enum filter_clause; consume_only forces type = 2. */
static unsigned clauses_of(const struct log_filter *f, int consume_only)
{
    unsigned m = 0;
    if (f->user_id > 0)
        m |= 1u << FC_USER;
    if (consume_only || f->type != 0)
        m |= 1u << FC_TYPE;
    if (f->start_ts != 0)
        m |= 1u << FC_START;
    if (f->end_ts != 0)
        m |= 1u << FC_END;
    if (is_set(f->username))
        m |= 1u << FC_USERNAME;
    if (is_set(f->token_name))
        m |= 1u << FC_TOKEN;
    if (is_set(f->model_name))
        m |= 1u << FC_MODEL;
    if (f->channel_id != 0)
        m |= 1u << FC_CHANNEL;
    return m;
}

/* " WHERE a = ? AND b = ?" (or "") from the clause literals in m. */
static void where_sql(unsigned m, char out[WHERE_MAX])
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < FC__MAX; i++) {
        if (!(m & (1u << i)))
            continue;
        n += (size_t)snprintf(out + n, WHERE_MAX - n, "%s%s", n ? " AND " : " WHERE ",
                              clause_sql[i]);
    }
}

/* Binds f's values for the clauses in m from parameter 1; returns the next index. */
static int bind_filter(struct db_stmt *st, unsigned m, const struct log_filter *f, int consume_only)
{
    int i = 1;
    if (m & (1u << FC_USER))
        db_bind_int64(st, i++, f->user_id);
    if (m & (1u << FC_TYPE))
        db_bind_int64(st, i++, consume_only ? 2 : f->type);
    if (m & (1u << FC_START))
        db_bind_int64(st, i++, f->start_ts);
    if (m & (1u << FC_END))
        db_bind_int64(st, i++, f->end_ts);
    if (m & (1u << FC_USERNAME))
        db_bind_text(st, i++, f->username);
    if (m & (1u << FC_TOKEN))
        db_bind_text(st, i++, f->token_name);
    if (m & (1u << FC_MODEL))
        db_bind_text(st, i++, f->model_name);
    if (m & (1u << FC_CHANNEL))
        db_bind_int64(st, i++, f->channel_id);
    return i;
}

int db_logs_list(struct db_conn *c, struct arena *a, const struct log_filter *f, int64_t offset,
                 int64_t limit, struct log_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    unsigned m = clauses_of(f, 0);
    char where[WHERE_MAX], sql[WHERE_MAX + 256];
    where_sql(m, where);
    snprintf(sql, sizeof sql, "SELECT " LOG_COLS " FROM logs%s ORDER BY id DESC LIMIT ? OFFSET ?",
             where);
    struct db_stmt *st = db_prepare(c, sql); /* safe-for-sql: literals and the clause literals */
    if (!st)
        return DB_ERR;
    int i = bind_filter(st, m, f, 0);
    db_bind_int64(st, i, limit);
    db_bind_int64(st, i + 1, offset);
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_log, n, &rc);
    return rc;
}

int db_logs_sum_quota(struct db_conn *c, const struct log_filter *f, int64_t *sum)
{
    *sum = 0;
    unsigned m = clauses_of(f, 1);
    char where[WHERE_MAX], sql[WHERE_MAX + 128];
    where_sql(m, where);
    snprintf(sql, sizeof sql, "SELECT COALESCE(SUM(quota), 0) FROM logs%s", where);
    struct db_stmt *st = db_prepare(c, sql); /* safe-for-sql: literals and the clause literals */
    if (!st)
        return DB_ERR;
    bind_filter(st, m, f, 1);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *sum = db_col_int64(st, 0);
    db_done(st);
    return rc < 0 ? rc : 0;
}

/* keyword% for LIKE ... ESCAPE '!', with the pattern characters taken literally. */
static const char *like_prefix(struct arena *a, const char *kw)
{
    size_t n = strlen(kw);
    char *p = arena_alloc(a, 2 * n + 2), *o = p;
    for (size_t i = 0; i < n; i++) {
        if (kw[i] == '%' || kw[i] == '_' || kw[i] == '!')
            *o++ = '!';
        *o++ = kw[i];
    }
    *o++ = '%';
    *o = '\0';
    return p;
}

int db_logs_search(struct db_conn *c, struct arena *a, int64_t user_id, const char *keyword,
                   int with_content, int64_t limit, struct log_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!keyword)
        keyword = "";
    /* type is an integer column: a keyword that is not a number matches no type (bound as
     * NULL) instead of making PostgreSQL refuse the comparison. */
    int64_t type = 0;
    int is_num = parse_decimal(keyword, &type) == 0;
    /* The user's search matches the type only; the admin's also the start of the content. */
    static const char *const sql[2][2] = {
        {"SELECT " LOG_COLS " FROM logs WHERE type = ? ORDER BY id DESC LIMIT ?",
         "SELECT " LOG_COLS " FROM logs WHERE type = ? OR content LIKE ? ESCAPE '!' "
         "ORDER BY id DESC LIMIT ?"},
        {"SELECT " LOG_COLS " FROM logs WHERE user_id = ? AND type = ? ORDER BY id DESC LIMIT ?",
         "SELECT " LOG_COLS " FROM logs WHERE user_id = ? AND (type = ? OR content LIKE ? "
         "ESCAPE '!') ORDER BY id DESC LIMIT ?"},
    };
    struct db_stmt *st =
        db_prepare(c, sql[user_id > 0][with_content != 0]); /* safe-for-sql: literals above */
    if (!st)
        return DB_ERR;
    int i = 1;
    if (user_id > 0)
        db_bind_int64(st, i++, user_id);
    if (is_num)
        db_bind_int64(st, i++, type);
    else
        db_bind_null(st, i++);
    if (with_content)
        db_bind_text(st, i++, like_prefix(a, keyword));
    db_bind_int64(st, i, limit);
    int rc;
    *out = db_read_rows(st, a, sizeof **out, read_log, n, &rc);
    return rc;
}

int64_t db_logs_delete_before(struct db_conn *c, int64_t ts)
{
    return db_execf(c, "DELETE FROM logs WHERE created_at < ?", "i", ts);
}
