/* Tests db/ and the writer on SQLite (always) and PostgreSQL (when OA_TEST_PG_DSN is set). */
#include "config.h"
#include "db/channels.h"
#include "db/db.h"
#include "db/users.h"
#include "db/writer.h"
#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "tap.h"
#include "tests/unit/tmpdir.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The columns of One API's tables, written out here independently of db/schema.c. */
static const struct {
    const char *table;
    const char *cols[24];
} expected_cols[] = {
    {"users",
     {"id", "username", "password", "display_name", "role", "status", "email", "github_id",
      "wechat_id", "lark_id", "oidc_id", "access_token", "quota", "used_quota", "request_count",
      "group", "aff_code", "inviter_id", NULL}},
    {"tokens",
     {"id", "user_id", "key", "status", "name", "created_time", "accessed_time", "expired_time",
      "remain_quota", "unlimited_quota", "used_quota", "models", "subnet", "rpm_limit", NULL}},
    {"channels",
     {"id",
      "type",
      "key",
      "status",
      "name",
      "weight",
      "created_time",
      "test_time",
      "response_time",
      "base_url",
      "other",
      "balance",
      "balance_updated_time",
      "models",
      "group",
      "used_quota",
      "model_mapping",
      "priority",
      "config",
      "system_prompt",
      NULL}},
    {"abilities", {"group", "model", "channel_id", "enabled", "priority", NULL}},
    {"options", {"key", "value", NULL}},
    {"redemptions",
     {"id", "user_id", "key", "status", "name", "quota", "created_time", "redeemed_time",
      "used_user_id", NULL}},
    {"logs",
     {"id", "user_id", "created_at", "type", "content", "username", "token_name", "model_name",
      "quota", "prompt_tokens", "completion_tokens", "channel_id", "request_id", "elapsed_time",
      "is_stream", "system_prompt_reset", NULL}},
};

static const char *const expected_indexes[] = {
    "idx_users_username",     "idx_users_display_name", "idx_users_email",
    "idx_users_github_id",    "idx_users_wechat_id",    "idx_users_lark_id",
    "idx_users_oidc_id",      "idx_users_access_token", "idx_users_aff_code",
    "idx_users_inviter_id",   "idx_tokens_key",         "idx_tokens_name",
    "idx_tokens_user_id",     "idx_channels_name",      "idx_abilities_channel_id",
    "idx_abilities_priority", "idx_redemptions_key",    "idx_redemptions_name",
    "idx_logs_user_id",       "idx_created_at_type",    "index_username_model_name",
    "idx_logs_token_name",    "idx_logs_model_name",    "idx_logs_channel_id",
};

static char tmpdir[256];

/* One integer from a query with up to two bound parameters ("i"/"t" in types). */
static int64_t query_int(struct db_conn *c, const char *sql, const char *types, const char *t1,
                         const char *t2)
{
    struct db_stmt *st = db_prepare(c, sql);
    if (!st)
        return INT64_MIN;
    const char *args[2] = {t1, t2};
    for (int i = 0; types && types[i]; i++)
        db_bind_text(st, i + 1, args[i]);
    int64_t v = db_step(st) == DB_ROW ? db_col_int64(st, 0) : INT64_MIN;
    db_done(st);
    return v;
}

static int has_column(struct db_conn *c, const char *table, const char *col)
{
    const char *sql = db_conn_kind(c) == DB_SQLITE
                          ? "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?"
                          : "SELECT count(*) FROM information_schema.columns WHERE "
                            "table_schema = current_schema() AND table_name = ? AND "
                            "column_name = ?";
    return query_int(c, sql, "tt", table, col) == 1;
}

static int has_index(struct db_conn *c, const char *name)
{
    const char *sql = db_conn_kind(c) == DB_SQLITE
                          ? "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?"
                          : "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                            "AND indexname = ?";
    return query_int(c, sql, "t", name, NULL) == 1;
}

static void check_schema(struct db_conn *c, const char *tag)
{
    int missing = 0;
    for (size_t t = 0; t < sizeof expected_cols / sizeof expected_cols[0]; t++)
        for (int i = 0; expected_cols[t].cols[i]; i++)
            if (!has_column(c, expected_cols[t].table, expected_cols[t].cols[i])) {
                note("missing %s.%s", expected_cols[t].table, expected_cols[t].cols[i]);
                missing++;
            }
    is_int(missing, 0, "%s: every expected column exists", tag);
    missing = 0;
    for (size_t i = 0; i < sizeof expected_indexes / sizeof expected_indexes[0]; i++)
        if (!has_index(c, expected_indexes[i])) {
            note("missing index %s", expected_indexes[i]);
            missing++;
        }
    is_int(missing, 0, "%s: every expected index exists", tag);
}

/* Every row of a query, all columns, as one string (heap; caller frees). */
static char *dump(struct db_conn *c, const char *sql)
{
    struct strbuf sb;
    sb_init(&sb, NULL);
    struct db_stmt *st = db_prepare(c, sql);
    if (!st)
        return sb_detach(&sb, NULL);
    while (db_step(st) == DB_ROW) {
        for (int i = 0;; i++) {
            /* Columns past the end read as NULL on SQLite; the queries below have at most 5. */
            if (i == 5)
                break;
            const char *v = db_col_text(st, i);
            sb_puts(&sb, v ? v : "<null>");
            sb_putc(&sb, '|');
        }
        sb_putc(&sb, '\n');
    }
    db_done(st);
    char *p = sb_detach(&sb, NULL);
    return p;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf sb;
    sb_init(&sb, NULL);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_putn(&sb, buf, n);
    fclose(f);
    return sb_detach(&sb, NULL);
}

static char *data_path(const char *name)
{
    const char *src = getenv("srcdir");
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb, "%s/tests/data/%s", src && *src ? src : ".", name);
    return sb_detach(&sb, NULL);
}

/* ---- statements, binding, columns, constraints ------------------------------------------ */

static void test_basics(struct db *db, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    is_int(db_migrate(c), 0, "%s: migrate an empty database", tag);
    is_int(db_migrate(c), 0, "%s: migrate again (idempotent)", tag);
    check_schema(c, tag);

    is_int(db_execf(c,
                    "INSERT INTO users (username, password, quota, \"group\") "
                    "VALUES (?, ?, ?, ?)",
                    "ttit", "alice", "hash?'\"", (int64_t)4500000, "vip"),
           1, "%s: execf insert changes one row", tag);
    is_int(db_execf(c, "INSERT INTO users (username, password) VALUES (?, ?)", "tt", "alice", "x"),
           DB_CONSTRAINT, "%s: duplicate username is DB_CONSTRAINT", tag);
    is_int(db_execf(c, "INSERT INTO users (username, password) VALUES (?, ?)", "tn", "bob"),
           DB_CONSTRAINT, "%s: NULL password is DB_CONSTRAINT", tag);
    is_int(db_execf(c, "INSERT INTO users (username, password) VALUES (?, ?)", "tt", "bob", "pw"),
           1, "%s: a second user", tag);
    is_int(db_execf(c, "INSERT INTO users (username, password, access_token) VALUES (?, ?, ?)",
                    "ttt", "carol", "pw", "0123456789abcdef0123456789abcdef"),
           1, "%s: a third user", tag);
    is_int(db_execf(c, "INSERT INTO users (username, password, access_token) VALUES (?, ?, ?)",
                    "ttt", "dave", "pw", "0123456789abcdef0123456789abcdef"),
           DB_CONSTRAINT, "%s: duplicate access_token (unique index) is DB_CONSTRAINT", tag);

    const char *sel = "SELECT id, username, password, quota, \"group\", display_name, role "
                      "FROM users WHERE username = ?";
    struct db_stmt *st = db_prepare(c, sel);
    ok(st != NULL, "%s: prepare select", tag);
    db_bind_text(st, 1, "alice");
    is_int(db_step(st), DB_ROW, "%s: a row", tag);
    ok(db_col_int64(st, 0) > 0, "%s: id assigned", tag);
    is_str(db_col_text(st, 1), "alice", "%s: text column", tag);
    is_str(db_col_text(st, 2), "hash?'\"", "%s: quotes and ? in a bound value survive", tag);
    is_int(db_col_int64(st, 3), 4500000, "%s: int column", tag);
    is_str(db_col_text(st, 4), "vip", "%s: \"group\" column", tag);
    ok(db_col_is_null(st, 5), "%s: NULL column is null", tag);
    ok(db_col_text(st, 5) == NULL, "%s: NULL reads as NULL text", tag);
    is_int(db_col_int64(st, 5), 0, "%s: NULL reads as 0", tag);
    is_int(db_col_int64(st, 6), 1, "%s: role default 1", tag);
    ok(!db_col_is_null(st, 1), "%s: non-NULL column is not null", tag);
    is_int(db_step(st), DB_DONE, "%s: done", tag);
    is_int(db_step(st), DB_DONE, "%s: stepping after done stays done", tag);
    db_done(st);

    struct db_stmt *again = db_prepare(c, sel);
    ok(again == st, "%s: the statement cache returns the same statement", tag);
    struct db_stmt *nested = db_prepare(c, sel);
    ok(nested && nested != again, "%s: a statement in use is not handed out twice", tag);
    db_bind_text(again, 1, "bob");
    db_bind_text(nested, 1, "alice");
    is_int(db_step(again), DB_ROW, "%s: outer row", tag);
    is_int(db_step(nested), DB_ROW, "%s: nested row", tag);
    is_str(db_col_text(again, 1), "bob", "%s: outer statement keeps its row", tag);
    is_str(db_col_text(nested, 1), "alice", "%s: nested statement has its own", tag);
    db_done(nested);
    db_done(again);
    st = db_prepare(c, sel);
    is_int(db_step(st), DB_DONE, "%s: bindings are cleared by db_done (NULL matches none)", tag);
    db_done(st);

    st = db_prepare(c, "UPDATE users SET quota = quota + ? WHERE username <> ?");
    db_bind_int64(st, 1, 10);
    db_bind_text(st, 2, "nobody");
    is_int(db_step(st), DB_DONE, "%s: update runs", tag);
    is_int(db_changes(st), 3, "%s: db_changes counts updated rows", tag);
    db_done(st);
    is_int(
        db_execf(c, "UPDATE users SET quota = ? WHERE id = ?", "ii", (int64_t)1, (int64_t)999999),
        0, "%s: no row matched", tag);
    is_int(db_execf(c, "UPDATE users SET quota = ? WHERE username = ?", "it",
                    (int64_t)9000000000000LL, "bob"),
           1, "%s: int64 beyond 32 bits", tag);
    is_int(query_int(c, "SELECT quota FROM users WHERE username = ?", "t", "bob", NULL),
           9000000000000LL, "%s: int64 read back", tag);

    /* Booleans and GORM's insert defaults. */
    int64_t uid = query_int(c, "SELECT id FROM users WHERE username = ?", "t", "alice", NULL);
    st = db_prepare(c, "INSERT INTO tokens (user_id, \"key\", name, unlimited_quota) "
                       "VALUES (?, ?, ?, ?)");
    db_bind_int64(st, 1, uid);
    db_bind_text(st, 2, "k1");
    db_bind_text(st, 3, "one");
    db_bind_bool(st, 4, 1);
    is_int(db_step(st), DB_DONE, "%s: insert token with a bool", tag);
    db_done(st);
    is_int(db_execf(c,
                    "INSERT INTO tokens (user_id, \"key\", name, unlimited_quota) "
                    "VALUES (?, ?, ?, ?)",
                    "ittb", uid, "k2", "two", 0),
           1, "%s: execf with a bool", tag);
    st = db_prepare(c, "SELECT unlimited_quota, expired_time, status, subnet, remain_quota "
                       "FROM tokens WHERE \"key\" = ?");
    db_bind_text(st, 1, "k1");
    is_int(db_step(st), DB_ROW, "%s: token row", tag);
    is_int(db_col_int64(st, 0), 1, "%s: true reads as 1", tag);
    is_int(db_col_int64(st, 1), -1, "%s: expired_time default -1", tag);
    is_int(db_col_int64(st, 2), 1, "%s: status default 1", tag);
    is_str(db_col_text(st, 3), "", "%s: subnet default ''", tag);
    db_done(st);
    st = db_prepare(c, "SELECT unlimited_quota, expired_time, status, subnet, remain_quota "
                       "FROM tokens WHERE \"key\" = ?");
    db_bind_text(st, 1, "k2");
    is_int(db_step(st), DB_ROW, "%s: second token row", tag);
    is_int(db_col_int64(st, 0), 0, "%s: false reads as 0", tag);
    db_done(st);
    st = db_prepare(c, "SELECT count(*) FROM tokens WHERE unlimited_quota = ?");
    db_bind_bool(st, 1, 1);
    is_int(db_step(st), DB_ROW, "%s: count by bool", tag);
    is_int(db_col_int64(st, 0), 1, "%s: bool parameter matches", tag);
    db_done(st);
    is_int(db_execf(c, "INSERT INTO tokens (user_id, \"key\", name) VALUES (?, ?, ?)", "itt", uid,
                    "k1", "dup"),
           DB_CONSTRAINT, "%s: duplicate token key is DB_CONSTRAINT", tag);
    /* Error texts reach the log: they must not quote the row (PostgreSQL's DETAIL does). */
    is_int(db_execf(c, "INSERT INTO tokens (user_id, \"key\", name) VALUES (?, ?, ?)", "itt", uid,
                    "Sup3rSecretKey", "s1"),
           1, "%s: insert a token with a secret key", tag);
    is_int(db_execf(c, "INSERT INTO tokens (user_id, \"key\", name) VALUES (?, ?, ?)", "itt", uid,
                    "Sup3rSecretKey", "s2"),
           DB_CONSTRAINT, "%s: the same key again is DB_CONSTRAINT", tag);
    ok(db_errmsg(c)[0] && !strstr(db_errmsg(c), "Sup3rSecretKey"),
       "%s: and the error text does not quote the key: %s", tag, db_errmsg(c));
    db_execf(c, "DELETE FROM tokens WHERE \"key\" = ?", "t", "Sup3rSecretKey");

    /* Doubles and text with odd bytes. */
    is_int(db_execf(c, "INSERT INTO channels (name, balance, models, \"key\") VALUES (?, ?, ?, ?)",
                    "tdtt", "ch", 12.5, "gpt-4o,gpt-4o-mini", "sk-'?\"日本"),
           1, "%s: insert channel", tag);
    st = db_prepare(c, "SELECT balance, \"group\", status, \"key\", priority FROM channels "
                       "WHERE name = ?");
    db_bind_text(st, 1, "ch");
    is_int(db_step(st), DB_ROW, "%s: channel row", tag);
    ok(db_col_double(st, 0) == 12.5, "%s: double column", tag);
    is_str(db_col_text(st, 1), "default", "%s: group default 'default'", tag);
    is_int(db_col_int64(st, 2), 1, "%s: channel status default 1", tag);
    is_str(db_col_text(st, 3), "sk-'?\"日本", "%s: UTF-8 and quotes round-trip", tag);
    is_int(db_col_int64(st, 4), 0, "%s: priority default 0", tag);
    db_done(st);
    st = db_prepare(c, "SELECT count(*) FROM channels WHERE name = ? AND models LIKE ?");
    db_bind_textn(st, 1, "chXYZ", 2);
    db_bind_text(st, 2, "%mini");
    is_int(db_step(st), DB_ROW, "%s: textn select", tag);
    is_int(db_col_int64(st, 0), 1, "%s: db_bind_textn binds only n bytes", tag);
    db_done(st);
    is_int(db_execf(c, "INSERT INTO redemptions (user_id, \"key\", name) VALUES (?, ?, ?)", "itt",
                    uid, "r1", "promo"),
           1, "%s: insert redemption", tag);
    is_int(query_int(c, "SELECT quota FROM redemptions WHERE name = ?", "t", "promo", NULL), 100,
           "%s: redemption quota default 100", tag);
    is_int(db_execf(c, "INSERT INTO options (\"key\", value) VALUES (?, ?)", "tt", "A", "1"), 1,
           "%s: insert option", tag);
    is_int(db_execf(c, "INSERT INTO options (\"key\", value) VALUES (?, ?)", "tt", "A", "2"),
           DB_CONSTRAINT, "%s: duplicate option key is DB_CONSTRAINT", tag);
    is_int(db_execf(c,
                    "INSERT INTO abilities (\"group\", model, channel_id, enabled) "
                    "VALUES (?, ?, ?, ?)",
                    "ttib", "default", "gpt-4o", (int64_t)1, 1),
           1, "%s: insert ability", tag);
    is_int(db_execf(c,
                    "INSERT INTO abilities (\"group\", model, channel_id, enabled) "
                    "VALUES (?, ?, ?, ?)",
                    "ttib", "default", "gpt-4o", (int64_t)1, 0),
           DB_CONSTRAINT, "%s: duplicate ability is DB_CONSTRAINT (composite key)", tag);

    /* Transactions. */
    is_int(db_begin(c), 0, "%s: begin", tag);
    db_execf(c, "INSERT INTO options (\"key\", value) VALUES (?, ?)", "tt", "B", "1");
    is_int(db_rollback(c), 0, "%s: rollback", tag);
    is_int(query_int(c, "SELECT count(*) FROM options WHERE \"key\" = ?", "t", "B", NULL), 0,
           "%s: rolled back insert is gone", tag);
    is_int(db_begin(c), 0, "%s: begin again", tag);
    db_execf(c, "INSERT INTO options (\"key\", value) VALUES (?, ?)", "tt", "B", "1");
    is_int(db_commit(c), 0, "%s: commit", tag);
    is_int(query_int(c, "SELECT count(*) FROM options WHERE \"key\" = ?", "t", "B", NULL), 1,
           "%s: committed insert is there", tag);

    /* Errors. */
    note("%s: two errors are logged on purpose below", tag);
    ok(db_prepare(c, "SELEKT nonsense") == NULL, "%s: bad SQL does not prepare", tag);
    ok(db_errmsg(c)[0] != '\0', "%s: errmsg is set", tag);
    is_int(db_exec(c, "CREATE TABLE"), DB_ERR, "%s: bad DDL fails with DB_ERR", tag);
    is_int(db_exec(c, "CREATE TABLE IF NOT EXISTS oa_scratch (a integer)"), 0, "%s: exec DDL", tag);
    db_release(c);
}

/* ---- pool: several threads at once -------------------------------------------------------- */

struct pool_arg {
    struct db *db;
    int bad; /* reads that went wrong */
};

static void *pool_thread(void *p)
{
    struct pool_arg *a = p;
    for (int i = 0; i < 100; i++) {
        struct db_conn *c = db_acquire(a->db);
        if (query_int(c, "SELECT count(*) FROM users WHERE username = ?", "t", "alice", NULL) != 1)
            a->bad++;
        db_release(c);
    }
    return NULL;
}

static void test_pool(struct db *db, const char *tag)
{
    pthread_t th[6];
    struct pool_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (struct pool_arg){db, 0};
        pthread_create(&th[i], NULL, pool_thread, &args[i]);
    }
    int bad = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        bad += args[i].bad;
    }
    is_int(bad, 0, "%s: 6 threads x 100 acquire/query/release", tag);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct late_release {
    struct db_conn *c;
    int after_ms;
};

static void *release_later(void *p)
{
    struct late_release *l = p;
    usleep((useconds_t)l->after_ms * 1000);
    db_release(l->c);
    return NULL;
}

/* A request must not wait for ever for a connection: with the pool of pool_size taken, a
 * timed acquire gives up (NULL) after its timeout, and every call accepts that NULL. */
static void test_pool_timeout(struct db *db, const char *tag, int pool_size)
{
    struct db_conn *held[64];
    for (int i = 0; i < pool_size; i++)
        held[i] = db_acquire(db);
    double t0 = now_ms();
    struct db_conn *none = db_acquire_wait(db, 150);
    double waited = now_ms() - t0;
    ok(none == NULL, "%s: a full pool answers NULL after the timeout", tag);
    ok(waited >= 140 && waited < 2000, "%s: after about the timeout (%.0f ms)", tag, waited);
    ok(db_prepare(none, "SELECT 1") == NULL, "%s: db_prepare on no connection is NULL", tag);
    is_int(db_execf(none, "SELECT 1", ""), DB_ERR, "%s: db_execf on no connection fails", tag);
    ok(db_begin(none) < 0 && db_exec(none, "SELECT 1") < 0, "%s: begin and exec fail too", tag);
    db_snapshot_begin(none);
    db_snapshot_end(none);
    db_release(none);
    ok(strstr(db_errmsg(none), "no database connection") != NULL, "%s: and say why: %s", tag,
       db_errmsg(none));

    struct late_release l = {held[pool_size - 1], 100};
    pthread_t th;
    pthread_create(&th, NULL, release_later, &l);
    t0 = now_ms();
    struct db_conn *got = db_acquire_wait(db, 5000);
    waited = now_ms() - t0;
    ok(got != NULL && waited < 4000, "%s: a connection released meanwhile is taken (%.0f ms)", tag,
       waited);
    pthread_join(th, NULL);
    is_int(query_int(got, "SELECT count(*) FROM users WHERE username = ?", "t", "alice", NULL), 1,
           "%s: and works", tag);
    db_release(got);
    for (int i = 0; i < pool_size - 1; i++)
        db_release(held[i]);
}

/* ---- the writer and the ledger invariant ------------------------------------------------ */

#define W_THREADS 8
#define W_PER_THREAD 250
#define W_START_QUOTA 1000000000LL

struct writer_arg {
    struct writer *w;
    int t;
    int64_t user_id, token_id, channel_ids[2];
};

static int64_t delta_of(int i)
{
    return i % 13 + 1;
}

static void *writer_thread(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < W_PER_THREAD; i++) {
        struct ledger_entry e;
        memset(&e, 0, sizeof e);
        int64_t d = delta_of(i);
        e.user_id = a->user_id;
        e.user_quota_delta = d;
        e.user_used_delta = d;
        e.user_request_delta = 1;
        e.token_id = a->token_id;
        e.token_remain_delta = d;
        e.token_used_delta = d;
        e.token_accessed_time = 1718000000 + i;
        e.channel_id = a->channel_ids[i % 2];
        e.channel_used_delta = d;
        e.has_log = 1;
        e.log.user_id = a->user_id;
        e.log.created_at = 1718000000 + i;
        e.log.type = 2;
        e.log.quota = d;
        e.log.prompt_tokens = 10;
        e.log.completion_tokens = 5;
        e.log.channel_id = e.channel_id;
        e.log.elapsed_time = 100 + i;
        e.log.is_stream = i % 2;
        snprintf(e.log.content, sizeof e.log.content, "倍率：%.2f × %.2f", 0.07, 1.0);
        snprintf(e.log.username, sizeof e.log.username, "w%d", a->t);
        snprintf(e.log.token_name, sizeof e.log.token_name, "tok'%d", a->t);
        snprintf(e.log.model_name, sizeof e.log.model_name, "gpt-4o-mini");
        snprintf(e.log.request_id, sizeof e.log.request_id, "req-%d-%d", a->t, i);
        writer_submit(a->w, &e);
    }
    return NULL;
}

static int64_t id_of(struct db_conn *c, const char *sql, const char *name)
{
    return query_int(c, sql, "t", name, NULL);
}

static void test_writer(struct db *db, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    struct writer_arg args[W_THREADS];
    int64_t ch[2];
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "wch%d", i);
        db_execf(c, "INSERT INTO channels (name) VALUES (?)", "t", name);
        ch[i] = id_of(c, "SELECT id FROM channels WHERE name = ?", name);
    }
    for (int t = 0; t < W_THREADS; t++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", t);
        db_execf(c, "INSERT INTO users (username, password, quota) VALUES (?, ?, ?)", "tti", name,
                 "x", (int64_t)W_START_QUOTA);
        db_execf(c,
                 "INSERT INTO tokens (user_id, \"key\", name, remain_quota) "
                 "VALUES (?, ?, ?, ?)",
                 "itti", id_of(c, "SELECT id FROM users WHERE username = ?", name), name, name,
                 (int64_t)W_START_QUOTA);
        args[t] = (struct writer_arg){NULL,
                                      t,
                                      id_of(c, "SELECT id FROM users WHERE username = ?", name),
                                      id_of(c, "SELECT id FROM tokens WHERE name = ?", name),
                                      {ch[0], ch[1]}};
    }
    /* A small queue so that submitters meet back-pressure. */
    struct writer *w = writer_start(db, 5, 64, 256);
    ok(w != NULL, "%s: writer started", tag);
    if (!w) {
        db_release(c);
        return;
    }
    pthread_t th[W_THREADS];
    for (int t = 0; t < W_THREADS; t++) {
        args[t].w = w;
        pthread_create(&th[t], NULL, writer_thread, &args[t]);
    }
    for (int t = 0; t < W_THREADS; t++)
        pthread_join(th[t], NULL);
    writer_flush(w);

    int64_t per_user = 0;
    for (int i = 0; i < W_PER_THREAD; i++)
        per_user += delta_of(i);
    int64_t total = per_user * W_THREADS;
    int64_t n = (int64_t)W_THREADS * W_PER_THREAD;
    struct writer_stats ws;
    writer_get_stats(w, &ws);
    is_int(ws.committed, n, "%s: every entry committed", tag);
    is_int(ws.failed, 0, "%s: none failed", tag);
    ok(ws.batches >= 1 && ws.batches < (uint64_t)n, "%s: grouped into %llu transactions", tag,
       (unsigned long long)ws.batches);

    is_int(query_int(c, "SELECT count(*) FROM logs WHERE username LIKE ?", "t", "w%", NULL), n,
           "%s: one log row per entry", tag);
    int64_t removed =
        W_START_QUOTA * W_THREADS -
        query_int(c, "SELECT sum(quota) FROM users WHERE username LIKE ?", "t", "w%", NULL);
    int64_t logged =
        query_int(c, "SELECT sum(quota) FROM logs WHERE username LIKE ?", "t", "w%", NULL);
    is_int(removed, total, "%s: users.quota went down by the sum of the deltas", tag);
    is_int(removed, logged, "%s: ledger: quota removed == sum of log quota", tag);
    is_int(query_int(c, "SELECT sum(used_quota) FROM users WHERE username LIKE ?", "t", "w%", NULL),
           total, "%s: users.used_quota", tag);
    is_int(
        query_int(c, "SELECT sum(request_count) FROM users WHERE username LIKE ?", "t", "w%", NULL),
        n, "%s: users.request_count", tag);
    is_int(
        W_START_QUOTA * W_THREADS -
            query_int(c, "SELECT sum(remain_quota) FROM tokens WHERE name LIKE ?", "t", "w%", NULL),
        total, "%s: tokens.remain_quota", tag);
    is_int(query_int(c, "SELECT sum(used_quota) FROM tokens WHERE name LIKE ?", "t", "w%", NULL),
           total, "%s: tokens.used_quota", tag);
    is_int(query_int(c, "SELECT max(accessed_time) FROM tokens WHERE name LIKE ?", "t", "w%", NULL),
           1718000000 + W_PER_THREAD - 1, "%s: tokens.accessed_time set", tag);
    is_int(
        query_int(c, "SELECT sum(used_quota) FROM channels WHERE name LIKE ?", "t", "wch%", NULL),
        total, "%s: channels.used_quota", tag);
    struct db_stmt *st = db_prepare(c, "SELECT count(*) FROM logs WHERE is_stream = ? AND "
                                       "username LIKE ?");
    db_bind_bool(st, 1, 1);
    db_bind_text(st, 2, "w%");
    db_step(st);
    is_int(db_col_int64(st, 0), n / 2, "%s: log booleans", tag);
    db_done(st);
    is_int(query_int(c, "SELECT count(*) FROM logs WHERE token_name = ? AND request_id = ?", "tt",
                     "tok'3", "req-3-17"),
           1, "%s: log text fields", tag);

    /* One poisoned entry in a batch: the others still commit, and the ledger still balances. */
    int rc;
    if (db_kind(db) == DB_SQLITE)
        rc = db_exec(c, "CREATE TRIGGER oa_poison BEFORE INSERT ON logs "
                        "WHEN NEW.content = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    else
        rc = db_exec(c, "CREATE FUNCTION oa_poison() RETURNS trigger LANGUAGE plpgsql AS $$ "
                        "BEGIN IF NEW.content = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; "
                        "RETURN NEW; END $$; "
                        "CREATE TRIGGER oa_poison BEFORE INSERT ON logs FOR EACH ROW "
                        "EXECUTE FUNCTION oa_poison()");
    is_int(rc, 0, "%s: poison trigger installed", tag);
    int64_t before = query_int(c, "SELECT quota FROM users WHERE username = ?", "t", "w0", NULL);
    note("%s: one poisoned ledger entry is logged on purpose below", tag);
    for (int i = 0; i < 20; i++) {
        struct ledger_entry e;
        memset(&e, 0, sizeof e);
        e.user_id = args[0].user_id;
        e.user_quota_delta = 10;
        e.has_log = 1;
        e.log.user_id = e.user_id;
        e.log.quota = 10;
        snprintf(e.log.username, sizeof e.log.username, "p0");
        snprintf(e.log.content, sizeof e.log.content, "%s", i == 7 ? "poison" : "fine");
        writer_submit(w, &e);
    }
    writer_flush(w);
    writer_get_stats(w, &ws);
    is_int(ws.failed, 1, "%s: the poisoned entry failed", tag);
    is_int(ws.committed, n + 19, "%s: the other 19 committed", tag);
    is_int(before - query_int(c, "SELECT quota FROM users WHERE username = ?", "t", "w0", NULL),
           190, "%s: only the committed entries were charged", tag);
    is_int(query_int(c, "SELECT count(*) FROM logs WHERE username = ?", "t", "p0", NULL), 19,
           "%s: and logged", tag);

    /* A content cut mid-character by its fixed size (an upstream's Chinese error text, say),
     * and a byte that is no UTF-8 at all: the row and its charge still commit. */
    struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.user_id = args[0].user_id;
    e.user_quota_delta = 1;
    e.has_log = 1;
    e.log.user_id = e.user_id;
    snprintf(e.log.username, sizeof e.log.username, "utf8");
    struct strbuf long_text;
    sb_init(&long_text, NULL);
    sb_puts(&long_text, "x\xff");
    for (int i = 0; i < 300; i++)
        sb_puts(&long_text, "渠道");
    snprintf(e.log.content, sizeof e.log.content, "%s", long_text.p);
    sb_free(&long_text);
    ok((unsigned char)e.log.content[sizeof e.log.content - 2] >= 0x80,
       "%s: the content is cut inside a character", tag);
    writer_submit(w, &e);
    writer_flush(w);
    writer_get_stats(w, &ws);
    is_int(ws.failed, 1, "%s: a content cut mid-character does not fail its entry", tag);
    st = db_prepare(c, "SELECT content FROM logs WHERE username = ?");
    db_bind_text(st, 1, "utf8");
    const char *stored = db_step(st) == DB_ROW ? db_col_text(st, 0) : NULL;
    ok(stored && !strncmp(stored, "x?渠道", strlen("x?渠道")) && strlen(stored) == 509,
       "%s: it is stored, the stray byte as '?', the cut character dropped", tag);
    db_done(st);
    writer_stop(w);
    writer_stop(NULL);
    db_release(c);
}

/* ---- migrating an existing database -------------------------------------------------------- */

/* Besides idx_tokens_user_id, migrate adds our own column tokens.rpm_limit (which SQLite
 * writes into the table's DDL): the snapshots leave both out, and check_schema finds them. */
static const char *const snapshot_sql[2][2] = {
    /* SQLite: every table and index with its DDL. */
    {"SELECT type, name, tbl_name, replace(replace(sql, ', \"rpm_limit\" integer DEFAULT 0', ''), "
     "', \"used_user_id\" integer DEFAULT 0', '') "
     "FROM sqlite_master WHERE name <> ? ORDER BY name",
     NULL},
    /* PostgreSQL: columns with types and defaults, and indexes with their definitions. */
    {"SELECT table_name, column_name, data_type, column_default, is_nullable "
     "FROM information_schema.columns WHERE table_schema = current_schema() AND "
     "table_name <> ? AND NOT (table_name = 'tokens' AND column_name = 'rpm_limit') "
     "AND NOT (table_name = 'redemptions' AND column_name = 'used_user_id') "
     "ORDER BY table_name, column_name",
     "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
     "AND indexname <> ? ORDER BY indexname"},
};

/* The schema as text, leaving out what migrate adds to One API's (idx_tokens_user_id,
 * tokens.rpm_limit, redemptions.used_user_id). */
static char *snapshot(struct db_conn *c)
{
    int k = db_conn_kind(c) == DB_SQLITE ? 0 : 1;
    struct strbuf sb;
    sb_init(&sb, NULL);
    for (int q = 0; q < 2 && snapshot_sql[k][q]; q++) {
        struct db_stmt *st = db_prepare(c, snapshot_sql[k][q]);
        if (!st)
            continue;
        db_bind_text(st, 1, "idx_tokens_user_id");
        while (db_step(st) == DB_ROW) {
            for (int i = 0; i < (k ? (q ? 2 : 5) : 4); i++) {
                const char *v = db_col_text(st, i);
                sb_puts(&sb, v ? v : "<null>");
                sb_putc(&sb, '|');
            }
            sb_putc(&sb, '\n');
        }
        db_done(st);
    }
    return sb_detach(&sb, NULL);
}

static void test_fixture(struct db *db, const char *file, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    char *path = data_path(file);
    char *sql = read_file(path);
    ok(sql != NULL, "%s: read %s", tag, path);
    if (!sql) {
        free(path);
        db_release(c);
        return;
    }
    is_int(db_exec(c, sql), 0, "%s: GORM-created schema and rows loaded", tag);
    char *before = snapshot(c);
    char *rows = dump(c, "SELECT id, username, password, role, status FROM users");
    is_int(db_migrate(c), 0, "%s: migrate the existing database", tag);
    is_int(db_migrate(c), 0, "%s: and again", tag);
    char *after = snapshot(c);
    ok(strlen(before) > 1000, "%s: snapshot is not empty", tag);
    is_str(after, before, "%s: tables, columns and indexes unchanged", tag);
    char *rows_after = dump(c, "SELECT id, username, password, role, status FROM users");
    is_str(rows_after, rows, "%s: users rows unchanged", tag);
    check_schema(c, tag);
    struct db_stmt *st = db_prepare(c, "SELECT password, role, status, quota, used_quota, "
                                       "\"group\", aff_code FROM users WHERE username = ?");
    db_bind_text(st, 1, "legacy");
    is_int(db_step(st), DB_ROW, "%s: legacy user is there", tag);
    is_str(db_col_text(st, 0), "$2a$10$ql8waHA77q366CQE2e8dneLiVHqsX4OQOZkk2tveNfA6l/82CjZhq",
           "%s: bcrypt hash intact", tag);
    is_int(db_col_int64(st, 1), 1, "%s: role", tag);
    is_int(db_col_int64(st, 2), 1, "%s: status", tag);
    is_int(db_col_int64(st, 3), 4500000, "%s: quota", tag);
    is_int(db_col_int64(st, 4), 500000, "%s: used_quota", tag);
    is_str(db_col_text(st, 5), "default", "%s: group", tag);
    is_str(db_col_text(st, 6), "x7Qa", "%s: aff_code", tag);
    db_done(st);
    st = db_prepare(c, "SELECT t.\"key\", t.unlimited_quota, t.expired_time, u.username "
                       "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.name = ?");
    db_bind_text(st, 1, "legacy-key");
    is_int(db_step(st), DB_ROW, "%s: legacy token is there", tag);
    is_str(db_col_text(st, 0), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV", "%s: key", tag);
    is_int(db_col_int64(st, 1), 1, "%s: unlimited_quota true", tag);
    is_int(db_col_int64(st, 2), -1, "%s: expired_time", tag);
    is_str(db_col_text(st, 3), "legacy", "%s: owner", tag);
    db_done(st);
    is_int(query_int(c, "SELECT count(*) FROM options WHERE \"key\" = ? AND value = ?", "tt",
                     "SystemName", "Legacy API"),
           1, "%s: option is there", tag);
    /* New rows get ids after the existing ones (SQLite rowid, PostgreSQL sequence). */
    is_int(db_execf(c, "INSERT INTO users (username, password) VALUES (?, ?)", "tt", "newbie", "x"),
           1, "%s: insert a new user", tag);
    is_int(query_int(c, "SELECT id FROM users WHERE username = ?", "t", "newbie", NULL), 2,
           "%s: new user id follows", tag);
    free(rows);
    free(rows_after);
    free(before);
    free(after);
    free(sql);
    free(path);
    db_release(c);
}

/* An older One API database: tables lacking columns added by later versions. */
static void test_old_schema(struct db *db, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    int rc = db_exec(c, "CREATE TABLE users (id integer, username text UNIQUE, "
                        "password text NOT NULL, quota integer DEFAULT 0, PRIMARY KEY (id));"
                        "INSERT INTO users (id, username, password, quota) "
                        "VALUES (7, 'old', 'h', 42);"
                        "CREATE TABLE tokens (id integer, user_id integer, \"key\" char(48), "
                        "PRIMARY KEY (id));"
                        "INSERT INTO tokens (id, user_id, \"key\") VALUES (3, 7, 'oldkey');");
    is_int(rc, 0, "%s: old tables created", tag);
    is_int(db_migrate(c), 0, "%s: migrate adds what is missing", tag);
    check_schema(c, tag);
    struct db_stmt *st = db_prepare(c, "SELECT quota, \"group\", role, status, lark_id "
                                       "FROM users WHERE username = ?");
    db_bind_text(st, 1, "old");
    is_int(db_step(st), DB_ROW, "%s: old row kept", tag);
    is_int(db_col_int64(st, 0), 42, "%s: old value kept", tag);
    is_str(db_col_text(st, 1), "default", "%s: added column takes its default", tag);
    is_int(db_col_int64(st, 2), 1, "%s: added role defaults to 1", tag);
    is_int(db_col_int64(st, 3), 1, "%s: added status defaults to 1", tag);
    ok(db_col_is_null(st, 4), "%s: added column without default is NULL", tag);
    db_done(st);
    is_int(query_int(c, "SELECT expired_time FROM tokens WHERE \"key\" = ?", "t", "oldkey", NULL),
           -1, "%s: added token column default", tag);
    is_int(query_int(c, "SELECT rpm_limit FROM tokens WHERE \"key\" = ?", "t", "oldkey", NULL), 0,
           "%s: a key of an older database gets rpm_limit 0 (no limit)", tag);
    is_int(db_migrate(c), 0, "%s: migrate again", tag);
    db_release(c);
}

/* The column and row readers of db.c, and the queries the handlers use through them. */
static void test_readers(struct db *db, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    struct arena *a = arena_new(4096);
    struct db_stmt *st = db_prepare(c, "SELECT NULL, 'x', ''");
    is_int(db_step(st), DB_ROW, "%s: a row of NULL and text", tag);
    is_str(db_col_str(st, 0, a), "", "%s: db_col_str reads NULL as \"\"", tag);
    ok(db_col_str_or_null(st, 0, a) == NULL, "%s: db_col_str_or_null keeps NULL", tag);
    is_str(db_col_str_or_null(st, 1, a), "x", "%s: ... and copies text", tag);
    is_str(db_col_str_or_null(st, 2, a), "", "%s: ... an empty text is not NULL", tag);
    db_done(st);

    const char *email = "unset";
    is_int(db_users_root_email(c, a, &email), 0, "%s: no root user yet", tag);
    is_int(db_execf(c,
                    "INSERT INTO users (username, password, role, email, used_quota) "
                    "VALUES (?, ?, ?, ?, ?)",
                    "ttiti", "root", "pw", (int64_t)100, "root@example.com", (int64_t)42),
           1, "%s: a root user", tag);
    is_int(db_users_root_email(c, a, &email), 1, "%s: the root user is found", tag);
    is_str(email, "root@example.com", "%s: with its e-mail address", tag);
    int64_t id = query_int(c, "SELECT id FROM users WHERE username = ?", "t", "root", NULL);
    int64_t used = -1;
    ok(db_users_used_quota(c, id, &used) == 1 && used == 42, "%s: db_users_used_quota", tag);
    is_int(db_users_used_quota(c, 999999, &used), 0, "%s: ... of no such user", tag);

    int64_t *ids;
    size_t n;
    is_int(db_channels_ids(c, a, &ids, &n), 0, "%s: db_channels_ids", tag);
    int64_t count = query_int(c, "SELECT count(*) FROM channels", NULL, NULL, NULL);
    int ascending = 1;
    for (size_t i = 1; i < n; i++)
        ascending &= ids[i - 1] < ids[i];
    ok(count > 0 && (int64_t)n == count && ascending, "%s: every channel id, ascending (%zu)", tag,
       n);
    is_int(db_channels_set_balance(c, ids[0], 12.5, 1700000000), 1, "%s: db_channels_set_balance",
           tag);
    st = db_prepare(c, "SELECT balance, balance_updated_time FROM channels WHERE id = ?");
    db_bind_int64(st, 1, ids[0]);
    ok(db_step(st) == DB_ROW && db_col_double(st, 0) == 12.5 && db_col_int64(st, 1) == 1700000000,
       "%s: ... stores the balance and its time", tag);
    db_done(st);
    arena_free(a);
    db_release(c);
}

/* ---- drivers ------------------------------------------------------------------------------- */

static struct db *open_sqlite(const char *name)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    struct db_opts o = {.sqlite_path = path, .busy_timeout_ms = 5000};
    struct db *db = db_open(&o, err, sizeof err);
    if (!db)
        note("cannot open %s: %s", path, err);
    return db;
}

static void sqlite_suite(void)
{
    struct db *db = open_sqlite("main.db");
    ok(db != NULL, "sqlite: open");
    if (!db)
        return;
    is_int(db_kind(db), DB_SQLITE, "sqlite: kind");
    struct db_conn *c = db_acquire(db);
    struct db_stmt *st = db_prepare(c, "PRAGMA journal_mode");
    db_step(st);
    is_str(db_col_text(st, 0), "wal", "sqlite: WAL mode");
    db_done(st);
    st = db_prepare(c, "PRAGMA synchronous");
    db_step(st);
    is_int(db_col_int64(st, 0), 1, "sqlite: synchronous=NORMAL");
    db_done(st);
    db_release(c);
    test_basics(db, "sqlite");
    test_readers(db, "sqlite");
    test_pool(db, "sqlite");
    test_pool_timeout(db, "sqlite", 16);
    test_writer(db, "sqlite");
    db_close(db);

    db = open_sqlite("fixture.db");
    if (db) {
        test_fixture(db, "oneapi-sqlite.sql", "sqlite fixture");
        db_close(db);
    }
    db = open_sqlite("old.db");
    if (db) {
        test_old_schema(db, "sqlite old");
        db_close(db);
    }
}

/* Runs fn on a fresh PostgreSQL database created for it and dropped afterwards. */
static void on_pg_database(struct db *admin, const char *dsn, const char *name,
                           void (*fn)(struct db *, const char *), const char *tag)
{
    struct db_conn *ac = db_acquire(admin);
    struct strbuf sb;
    sb_init(&sb, NULL);
    /* Identifiers cannot be bound; name is made by this test from its pid. */
    sb_printf(&sb, "DROP DATABASE IF EXISTS %s", name);
    db_exec(ac, sb.p);
    sb_reset(&sb);
    sb_printf(&sb, "CREATE DATABASE %s", name);
    int rc = db_exec(ac, sb.p);
    is_int(rc, 0, "%s: database %s created", tag, name);
    if (rc == 0) {
        sb_reset(&sb);
        sb_printf(&sb, "%s dbname=%s", dsn, name);
        char err[512];
        struct db_opts o = {.dsn = sb.p, .pool_size = 4};
        struct db *db = db_open(&o, err, sizeof err);
        ok(db != NULL, "%s: open (%s)", tag, db ? "ok" : err);
        if (db) {
            is_int(db_kind(db), DB_POSTGRES, "%s: kind", tag);
            fn(db, tag);
            db_close(db);
        }
        sb_reset(&sb);
        sb_printf(&sb, "DROP DATABASE %s", name);
        db_exec(ac, sb.p);
    }
    sb_free(&sb);
    db_release(ac);
}

static void pg_main(struct db *db, const char *tag)
{
    test_basics(db, tag);
    test_readers(db, tag);
    test_pool(db, tag);
    test_pool_timeout(db, tag, 4);
    test_writer(db, tag);

    /* A session killed by the server: the failed call reports it, the next one reconnects,
     * and a transaction it was in is never silently continued in autocommit. */
    char err[256];
    struct db_conn *killer = db_connect_dedicated(db, err, sizeof err);
    ok(killer != NULL, "%s: dedicated connection", tag);
    struct db_conn *c = db_acquire(db);
    int64_t pid = query_int(c, "SELECT pg_backend_pid()", NULL, NULL, NULL);
    is_int(db_begin(c), 0, "%s: begin before the kill", tag);
    is_int(db_execf(c, "UPDATE users SET quota = quota + 1 WHERE username = ?", "t", "alice"), 1,
           "%s: update in the transaction", tag);
    is_int(db_execf(killer, "SELECT pg_terminate_backend(?)", "i", pid), 0,
           "%s: backend terminated", tag);
    note("%s: connection errors are logged on purpose below", tag);
    ok(db_execf(c, "UPDATE users SET quota = quota + 1 WHERE username = ?", "t", "alice") < 0,
       "%s: the call on the dead session fails", tag);
    ok(db_execf(c, "UPDATE users SET quota = quota + 1 WHERE username = ?", "t", "alice") < 0,
       "%s: the next one is refused: its transaction was lost", tag);
    ok(db_commit(c) < 0, "%s: commit of the lost transaction fails", tag);
    is_int(db_rollback(c), 0, "%s: rollback clears it", tag);
    int64_t q = query_int(c, "SELECT quota FROM users WHERE username = ?", "t", "alice", NULL);
    is_int(db_execf(c, "UPDATE users SET quota = quota + 1 WHERE username = ?", "t", "alice"), 1,
           "%s: reconnected: works again", tag);
    is_int(query_int(c, "SELECT quota FROM users WHERE username = ?", "t", "alice", NULL), q + 1,
           "%s: with the cached statement prepared on the new session", tag);
    ok(query_int(c, "SELECT pg_backend_pid()", NULL, NULL, NULL) != pid, "%s: a new backend", tag);
    db_release(c);
    db_conn_close(killer);
}

static void pg_fixture(struct db *db, const char *tag)
{
    test_fixture(db, "oneapi-postgres.sql", tag);
}

static void pg_old(struct db *db, const char *tag)
{
    test_old_schema(db, tag);
}

static void pg_suite(const char *dsn)
{
    char err[512];
    struct db_opts o = {.dsn = dsn, .pool_size = 2};
    struct db *admin = db_open(&o, err, sizeof err);
    ok(admin != NULL, "postgres: connect with OA_TEST_PG_DSN (%s)", admin ? "ok" : err);
    if (!admin)
        return;
    char name[3][64];
    snprintf(name[0], sizeof name[0], "oa_test_%ld_main", (long)getpid());
    snprintf(name[1], sizeof name[1], "oa_test_%ld_fixture", (long)getpid());
    snprintf(name[2], sizeof name[2], "oa_test_%ld_old", (long)getpid());
    on_pg_database(admin, dsn, name[0], pg_main, "postgres");
    on_pg_database(admin, dsn, name[1], pg_fixture, "postgres fixture");
    on_pg_database(admin, dsn, name[2], pg_old, "postgres old");
    db_close(admin);
}

static void test_open_errors(void)
{
    char err[256];
    struct db_opts o = {.dsn = "root:s3cret@tcp(localhost:3306)/oneapi?charset=utf8mb4"};
    ok(db_open(&o, err, sizeof err) == NULL, "MySQL DSN refused");
    ok(strstr(err, "s3cret") == NULL && err[0], "the reason does not echo the password");
    struct db_opts p = {.dsn = "postgres://u:s3cret@127.0.0.1:1/x?sslmode=disable&"
                               "connect_timeout=2"};
    ok(db_open(&p, err, sizeof err) == NULL, "unreachable PostgreSQL refused");
    ok(strstr(err, "s3cret") == NULL && err[0], "the reason does not echo the password");
    struct db_opts q = {.sqlite_path = "/nonexistent-dir/x/y.db"};
    ok(db_open(&q, err, sizeof err) == NULL, "SQLite in a missing directory refused");
}

int main(void)
{
    if (tmpdir_make(tmpdir, sizeof tmpdir, "oa-test-db") < 0)
        return 1;
    test_open_errors();
    sqlite_suite();
    const char *dsn = getenv("OA_TEST_PG_DSN");
    if (dsn && *dsn)
        pg_suite(dsn);
    else
        note("OA_TEST_PG_DSN not set: PostgreSQL tests skipped");
    tmpdir_remove(tmpdir);
    return done_testing();
}
