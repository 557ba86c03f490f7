/* schema: db_migrate, One API's seven tables as GORM creates them, added to but never altered. */
#include "config.h"
#include "db/db.h"
#include "db/internal.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"

#include <string.h>

/* One column as One API's GORM AutoMigrate declares it, per dialect. GORM maps Go
 * int/int64 to integer (SQLite) and bigint (PostgreSQL, bigserial for the id), bool to
 * numeric/boolean, float64 to real/decimal and string to text; explicit types such as
 * char(32) and varchar(32) are kept as written. */
struct col {
    const char *name;
    const char *sqlite; /* type and constraints in CREATE TABLE on SQLite */
    const char *pg;     /* the same on PostgreSQL */
    const char *add;    /* type for ALTER TABLE ADD COLUMN when it differs from the above (both
                         * dialects): neither accepts UNIQUE there, nor NOT NULL without a
                         * default on a table with rows */
};

struct table {
    const char *name;
    const char *pk;         /* PRIMARY KEY column list, already quoted */
    const struct col *cols; /* ends with a NULL name */
};

struct index {
    const char *name; /* GORM's name: idx_<table>_<column> unless the model names it */
    const char *table;
    const char *cols; /* column list, already quoted */
    int is_unique;
};

#define INT_COL(n)                                                                                 \
    {                                                                                              \
        n, "integer", "bigint", NULL                                                               \
    }
#define INT_DEF(n, d)                                                                              \
    {                                                                                              \
        n, "integer DEFAULT " d, "bigint DEFAULT " d, NULL                                         \
    }
#define TEXT_COL(n)                                                                                \
    {                                                                                              \
        n, "text", "text", NULL                                                                    \
    }
#define ID_COL                                                                                     \
    {                                                                                              \
        "id", "integer", "bigserial", NULL                                                         \
    }
#define END_COL                                                                                    \
    {                                                                                              \
        NULL, NULL, NULL, NULL                                                                     \
    }

static const struct col users_cols[] = {
    ID_COL,
    {"username", "text UNIQUE", "text UNIQUE", "text"},
    {"password", "text NOT NULL", "text NOT NULL", "text NOT NULL DEFAULT ''"},
    TEXT_COL("display_name"),
    INT_DEF("role", "1"),
    INT_DEF("status", "1"),
    TEXT_COL("email"),
    TEXT_COL("github_id"),
    TEXT_COL("wechat_id"),
    TEXT_COL("lark_id"),
    TEXT_COL("oidc_id"),
    {"access_token", "char(32)", "char(32)", NULL},
    INT_DEF("quota", "0"),
    INT_DEF("used_quota", "0"),
    INT_DEF("request_count", "0"),
    {"group", "varchar(32) DEFAULT 'default'", "varchar(32) DEFAULT 'default'", NULL},
    {"aff_code", "varchar(32)", "varchar(32)", NULL},
    INT_COL("inviter_id"),
    END_COL,
};

static const struct col tokens_cols[] = {
    ID_COL,
    INT_COL("user_id"),
    {"key", "char(48)", "char(48)", NULL},
    INT_DEF("status", "1"),
    TEXT_COL("name"),
    INT_COL("created_time"),
    INT_COL("accessed_time"),
    INT_DEF("expired_time", "-1"),
    INT_DEF("remain_quota", "0"),
    {"unlimited_quota", "numeric DEFAULT false", "boolean DEFAULT false", NULL},
    INT_DEF("used_quota", "0"),
    TEXT_COL("models"),
    {"subnet", "text DEFAULT ''", "text DEFAULT ''", NULL},
    INT_DEF("rpm_limit", "0"), /* ours: relay requests per minute, 0 = no limit */
    END_COL,
};

static const struct col channels_cols[] = {
    ID_COL,
    INT_DEF("type", "0"),
    TEXT_COL("key"),
    INT_DEF("status", "1"),
    TEXT_COL("name"),
    INT_DEF("weight", "0"),
    INT_COL("created_time"),
    INT_COL("test_time"),
    INT_COL("response_time"),
    {"base_url", "text DEFAULT ''", "text DEFAULT ''", NULL},
    TEXT_COL("other"),
    {"balance", "real", "decimal", NULL},
    INT_COL("balance_updated_time"),
    TEXT_COL("models"),
    {"group", "varchar(32) DEFAULT 'default'", "varchar(32) DEFAULT 'default'", NULL},
    INT_DEF("used_quota", "0"),
    {"model_mapping", "varchar(1024) DEFAULT ''", "varchar(1024) DEFAULT ''", NULL},
    INT_DEF("priority", "0"),
    TEXT_COL("config"),
    TEXT_COL("system_prompt"),
    END_COL,
};

static const struct col abilities_cols[] = {
    {"group", "varchar(32)", "varchar(32)", NULL}, TEXT_COL("model"),        INT_COL("channel_id"),
    {"enabled", "numeric", "boolean", NULL},       INT_DEF("priority", "0"), END_COL,
};

static const struct col options_cols[] = {
    TEXT_COL("key"),
    TEXT_COL("value"),
    END_COL,
};

static const struct col redemptions_cols[] = {
    ID_COL,
    INT_COL("user_id"),
    {"key", "char(32)", "char(32)", NULL},
    INT_DEF("status", "1"),
    TEXT_COL("name"),
    INT_DEF("quota", "100"),
    INT_COL("created_time"),
    INT_COL("redeemed_time"),
    /* Not in One API (new-api's name): who redeemed the code. */
    INT_DEF("used_user_id", "0"),
    END_COL,
};

static const struct col logs_cols[] = {
    ID_COL,
    INT_COL("user_id"),
    INT_COL("created_at"),
    INT_COL("type"),
    TEXT_COL("content"),
    {"username", "text DEFAULT ''", "text DEFAULT ''", NULL},
    {"token_name", "text DEFAULT ''", "text DEFAULT ''", NULL},
    {"model_name", "text DEFAULT ''", "text DEFAULT ''", NULL},
    INT_DEF("quota", "0"),
    INT_DEF("prompt_tokens", "0"),
    INT_DEF("completion_tokens", "0"),
    INT_COL("channel_id"),
    {"request_id", "text DEFAULT ''", "text DEFAULT ''", NULL},
    INT_DEF("elapsed_time", "0"),
    {"is_stream", "numeric DEFAULT false", "boolean DEFAULT false", NULL},
    {"system_prompt_reset", "numeric DEFAULT false", "boolean DEFAULT false", NULL},
    END_COL,
};

/* In One API's AutoMigrate order. */
static const struct table tables[] = {
    {"channels", "\"id\"", channels_cols},
    {"tokens", "\"id\"", tokens_cols},
    {"users", "\"id\"", users_cols},
    {"options", "\"key\"", options_cols},
    {"redemptions", "\"id\"", redemptions_cols},
    {"abilities", "\"group\",\"model\",\"channel_id\"", abilities_cols},
    {"logs", "\"id\"", logs_cols},
};

static const struct index indexes[] = {
    {"idx_channels_name", "channels", "\"name\"", 0},
    {"idx_tokens_key", "tokens", "\"key\"", 1},
    {"idx_tokens_name", "tokens", "\"name\"", 0},
    /* Not in One API: per-user token listing scans without it. */
    {"idx_tokens_user_id", "tokens", "\"user_id\"", 0},
    {"idx_users_username", "users", "\"username\"", 0},
    {"idx_users_display_name", "users", "\"display_name\"", 0},
    {"idx_users_email", "users", "\"email\"", 0},
    {"idx_users_github_id", "users", "\"github_id\"", 0},
    {"idx_users_wechat_id", "users", "\"wechat_id\"", 0},
    {"idx_users_lark_id", "users", "\"lark_id\"", 0},
    {"idx_users_oidc_id", "users", "\"oidc_id\"", 0},
    {"idx_users_access_token", "users", "\"access_token\"", 1},
    {"idx_users_aff_code", "users", "\"aff_code\"", 1},
    {"idx_users_inviter_id", "users", "\"inviter_id\"", 0},
    {"idx_redemptions_key", "redemptions", "\"key\"", 1},
    {"idx_redemptions_name", "redemptions", "\"name\"", 0},
    {"idx_abilities_channel_id", "abilities", "\"channel_id\"", 0},
    {"idx_abilities_priority", "abilities", "\"priority\"", 0},
    {"idx_logs_user_id", "logs", "\"user_id\"", 0},
    {"idx_created_at_type", "logs", "\"created_at\",\"type\"", 0},
    {"index_username_model_name", "logs", "\"model_name\",\"username\"", 0},
    {"idx_logs_token_name", "logs", "\"token_name\"", 0},
    {"idx_logs_model_name", "logs", "\"model_name\"", 0},
    {"idx_logs_channel_id", "logs", "\"channel_id\"", 0},
};

#define N_TABLES (sizeof tables / sizeof tables[0])
#define N_INDEXES (sizeof indexes / sizeof indexes[0])
#define MAX_COLS 32 /* more than any table above has */

/* Reads the columns the table has now into have[] (by position in t->cols); returns how many
 * columns the table has in all (0: the table does not exist), or -1 on error. */
static int existing_cols(struct db_conn *c, const struct table *t, int have[MAX_COLS])
{
    const char *sql = db_conn_kind(c) == DB_SQLITE
                          ? "SELECT name FROM pragma_table_info(?)"
                          : "SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = ?";
    struct db_stmt *st = db_prepare(c, sql); /* safe-for-sql: one of two literals */
    if (!st)
        return -1;
    db_bind_text(st, 1, t->name);
    int n = 0, rc;
    memset(have, 0, sizeof(int) * MAX_COLS);
    while ((rc = db_step(st)) == DB_ROW) {
        const char *name = db_col_text(st, 0);
        n++;
        for (int i = 0; name && t->cols[i].name; i++)
            if (!strcmp(t->cols[i].name, name))
                have[i] = 1;
    }
    db_done(st);
    return rc < 0 ? -1 : n;
}

static int index_exists(struct db_conn *c, const char *name)
{
    const char *sql = db_conn_kind(c) == DB_SQLITE
                          ? "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?"
                          : "SELECT 1 FROM pg_indexes "
                            "WHERE schemaname = current_schema() AND indexname = ?";
    struct db_stmt *st = db_prepare(c, sql); /* safe-for-sql: one of two literals */
    if (!st)
        return -1;
    db_bind_text(st, 1, name);
    int rc = db_step(st);
    db_done(st);
    return rc < 0 ? -1 : rc == DB_ROW;
}

static const char *col_type(const struct col *col, enum db_kind k)
{
    return k == DB_SQLITE ? col->sqlite : col->pg;
}

/* DDL cannot take bound parameters; every statement below is assembled only from the static
 * identifier and type tables of this file, never from input (marked safe-for-sql for
 * contrib/lint.sh). */
static int create_table(struct db_conn *c, const struct table *t)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "CREATE TABLE IF NOT EXISTS \"%s\" (", t->name);
    for (const struct col *col = t->cols; col->name; col++)
        sb_printf(&sb, "\"%s\" %s,", col->name, col_type(col, db_conn_kind(c)));
    sb_printf(&sb, "PRIMARY KEY (%s))", t->pk);
    int rc = db_exec(c, sb.p); /* safe-for-sql: static identifiers only */
    sb_free(&sb);
    if (rc == 0)
        LOG_INFO("db: created table %s", t->name);
    return rc;
}

static int add_column(struct db_conn *c, const struct table *t, const struct col *col)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "ALTER TABLE \"%s\" ADD COLUMN \"%s\" %s", t->name, col->name,
              col->add ? col->add : col_type(col, db_conn_kind(c)));
    int rc = db_exec(c, sb.p); /* safe-for-sql: static identifiers only */
    sb_free(&sb);
    if (rc == 0)
        LOG_INFO("db: added column %s.%s", t->name, col->name);
    return rc;
}

static int create_index(struct db_conn *c, const struct index *ix)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "CREATE %sINDEX IF NOT EXISTS \"%s\" ON \"%s\" (%s)",
              ix->is_unique ? "UNIQUE " : "", ix->name, ix->table, ix->cols);
    int rc = db_exec(c, sb.p); /* safe-for-sql: static identifiers only */
    sb_free(&sb);
    if (rc == 0)
        LOG_INFO("db: created index %s on %s", ix->name, ix->table);
    return rc;
}

/* Brings one table up to date: creates it, or adds the columns it lacks. Extra columns (a
 * newer One API, a fork) are left alone. */
static int migrate_table(struct db_conn *c, const struct table *t)
{
    int have[MAX_COLS];
    int n = existing_cols(c, t, have);
    if (n < 0)
        return -1;
    if (n == 0)
        return create_table(c, t);
    for (int i = 0; t->cols[i].name; i++)
        if (!have[i] && add_column(c, t, &t->cols[i]) < 0)
            return -1;
    return 0;
}

int db_migrate(struct db_conn *c)
{
    /* DDL is transactional on both databases: a failed migration leaves nothing half-done. */
    if (db_begin(c) < 0) {
        LOG_ERR("db: migrate: cannot begin: %s", db_errmsg(c));
        return DB_ERR;
    }
    for (size_t i = 0; i < N_TABLES; i++)
        if (migrate_table(c, &tables[i]) < 0)
            goto fail;
    for (size_t i = 0; i < N_INDEXES; i++) {
        int e = index_exists(c, indexes[i].name);
        if (e < 0 || (!e && create_index(c, &indexes[i]) < 0))
            goto fail;
    }
    if (db_commit(c) < 0)
        goto fail;
    return 0;
fail:
    LOG_ERR("db: migrate failed: %s", db_errmsg(c));
    db_rollback(c);
    return DB_ERR;
}
