/* Unit tests for handlers/relay/quota.c: the in-memory store's reservations and pending charges;
 * the sql store on SQLite (always) and PostgreSQL (when OA_TEST_PG_DSN is set). */
#include "config.h"
#include "handlers/relay/quota.h"
#include "db/db.h"
#include "db/writer.h"
#include "fcgi/strbuf.h"
#include "tests/unit/tap.h"
#include "tests/unit/tmpdir.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct quota_store *qs;

static void *spend(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        if (quota_reserve(qs, quota_epoch(qs), 7, 1000000, 0, -1, 3) == QUOTA_OK)
            quota_release(qs, 7, 0, 3);
    }
    return NULL;
}

/* ---- the sql store ----------------------------------------------------------------------- */

static struct db *sdb;
static int n_spent;
static pthread_mutex_t spent_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t one_int(struct db_conn *c, const char *sql, int64_t id)
{
    struct db_stmt *st = db_prepare(c, sql);
    int64_t v = INT64_MIN;
    if (!st)
        return v;
    db_bind_int64(st, 1, id);
    if (db_step(st) == DB_ROW)
        v = db_col_int64(st, 0);
    db_done(st);
    return v;
}

static int64_t user_quota(struct db_conn *c, int64_t id)
{
    return one_int(c, "SELECT quota FROM users WHERE id = ?", id);
}

static int64_t token_remain(struct db_conn *c, int64_t id)
{
    return one_int(c, "SELECT remain_quota FROM tokens WHERE id = ?", id);
}

/* Reserves 7 on its own connection until the user is short; counts what it got. */
static void *sql_spend(void *arg)
{
    int64_t uid = *(int64_t *)arg;
    struct db_conn *c = db_acquire(sdb);
    int rc, got = 0;
    while ((rc = quota_sql_reserve(c, uid, 0, 0, 7)) == QUOTA_OK)
        got++;
    db_release(c);
    pthread_mutex_lock(&spent_mu);
    n_spent += got;
    if (rc != QUOTA_USER_SHORT)
        n_spent = -1000000;
    pthread_mutex_unlock(&spent_mu);
    return NULL;
}

static void sql_suite(struct db *db, const char *tag)
{
    sdb = db;
    struct db_conn *c = db_acquire(db);
    is_int(db_migrate(c), 0, "%s: schema", tag);
    db_execf(c, "INSERT INTO users (id, username, password, quota) VALUES (?, ?, ?, ?)", "itti",
             (int64_t)1, "u1", "x", (int64_t)100);
    db_execf(c, "INSERT INTO users (id, username, password, quota) VALUES (?, ?, ?, ?)", "itti",
             (int64_t)2, "u2", "x", (int64_t)1000);
    db_execf(c,
             "INSERT INTO tokens (id, user_id, \"key\", name, remain_quota, unlimited_quota, "
             "used_quota) VALUES (?, ?, ?, ?, ?, ?, ?)",
             "iittibi", (int64_t)10, (int64_t)1, "k10", "lim", (int64_t)50, 0, (int64_t)0);
    db_execf(c,
             "INSERT INTO tokens (id, user_id, \"key\", name, remain_quota, unlimited_quota, "
             "used_quota) VALUES (?, ?, ?, ?, ?, ?, ?)",
             "iittibi", (int64_t)11, (int64_t)1, "k11", "unl", (int64_t)0, 1, (int64_t)0);

    is_int(quota_sql_reserve(c, 1, 10, 1, 40), QUOTA_OK, "%s: 40 of 100 (key 50) reserved", tag);
    is_int((int)(user_quota(c, 1) * 1000 + token_remain(c, 10)), 60 * 1000 + 10,
           "%s: ... taken from the user (60) and the key (10)", tag);
    is_int(quota_sql_reserve(c, 1, 10, 1, 20), QUOTA_TOKEN_SHORT,
           "%s: another 20 exceeds the key's 10", tag);
    is_int((int)(user_quota(c, 1) * 1000 + token_remain(c, 10)), 60 * 1000 + 10,
           "%s: ... and neither moved (the user's UPDATE was rolled back)", tag);
    is_int(quota_sql_reserve(c, 1, 11, 0, 70), QUOTA_USER_SHORT,
           "%s: 70 exceeds the user's 60 (an unlimited key is not checked)", tag);
    is_int(quota_sql_reserve(c, 1, 11, 0, 60), QUOTA_OK, "%s: 60 takes the user to 0", tag);
    is_int((int)token_remain(c, 11), 0, "%s: ... the unlimited key's remain_quota untouched", tag);
    is_int(quota_sql_reserve(c, 1, 10, 1, 20), QUOTA_TOKEN_SHORT,
           "%s: user and key both short: the key is reported", tag);
    is_int(quota_sql_reserve(c, 1, 11, 0, 0), QUOTA_OK, "%s: a reservation of 0 passes with 0 left",
           tag);
    is_int(quota_sql_release(c, 1, 11, 0, 60), 0, "%s: release 60", tag);
    is_int((int)user_quota(c, 1), 60, "%s: ... the user has it back", tag);

    /* Settle the first reservation (40) at a charge of 25, as relay.c builds the entry. */
    struct ledger_entry e = {.user_id = 1,
                             .user_quota_delta = 25,
                             .user_used_delta = 25,
                             .user_request_delta = 1,
                             .token_id = 10,
                             .token_remain_delta = 25,
                             .token_used_delta = 25};
    quota_sql_settle(&e, 40, 1);
    ok(e.is_net_of_reserve && e.reserved == 40 && e.user_quota_delta == -15 &&
           e.token_remain_delta == -15 && e.user_used_delta == 25 && e.token_used_delta == 25,
       "%s: settle: the quota deltas become charge - reserved; used stays the charge", tag);
    is_int(writer_commit_one(c, &e), 0, "%s: ... committed", tag);
    is_int((int)(user_quota(c, 1) * 1000 + token_remain(c, 10)), 75 * 1000 + 25,
           "%s: ... user 100 - 25, key 50 - 25: each moved by exactly the charge", tag);
    is_int((int)one_int(c, "SELECT used_quota FROM tokens WHERE id = ?", 10), 25,
           "%s: ... the key's used_quota is the charge", tag);
    struct ledger_entry u = {.user_quota_delta = 9, .token_remain_delta = 0};
    quota_sql_settle(&u, 4, 0);
    ok(u.user_quota_delta == 5 && u.token_remain_delta == 0,
       "%s: settle with an unlimited key leaves remain_quota alone", tag);

    /* Many connections reserving at once never take more than there is. */
    n_spent = 0;
    int64_t uid = 2;
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, sql_spend, &uid);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    is_int(n_spent, 1000 / 7, "%s: 8 connections reserving 7 at a time got exactly %d", tag,
           1000 / 7);
    is_int((int)user_quota(c, 2), 1000 % 7, "%s: ... and left %d", tag, 1000 % 7);
    db_release(c);
}

static char tmpdir[256];

static void sqlite_sql_suite(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/quota.db", tmpdir);
    struct db_opts o = {.sqlite_path = path, .busy_timeout_ms = 5000};
    struct db *db = db_open(&o, err, sizeof err);
    ok(db != NULL, "sqlite: open (%s)", db ? "ok" : err);
    if (!db)
        return;
    sql_suite(db, "sqlite");
    db_close(db);
}

static void pg_sql_suite(const char *dsn)
{
    char err[512], name[64];
    struct db_opts ao = {.dsn = dsn, .pool_size = 1};
    struct db *admin = db_open(&ao, err, sizeof err);
    ok(admin != NULL, "postgres: connect with OA_TEST_PG_DSN (%s)", admin ? "ok" : err);
    if (!admin)
        return;
    snprintf(name, sizeof name, "oa_test_%ld_quota", (long)getpid());
    struct db_conn *ac = db_acquire(admin);
    struct strbuf sb;
    sb_init(&sb, NULL);
    /* Identifiers cannot be bound; name is made here from the pid. */
    sb_printf(&sb, "CREATE DATABASE %s", name);
    if (db_exec(ac, sb.p) == 0) {
        sb_reset(&sb);
        sb_printf(&sb, "%s dbname=%s", dsn, name);
        struct db_opts o = {.dsn = sb.p, .pool_size = 8};
        struct db *db = db_open(&o, err, sizeof err);
        ok(db != NULL, "postgres: open (%s)", db ? "ok" : err);
        if (db) {
            sql_suite(db, "postgres");
            db_close(db);
        }
        sb_reset(&sb);
        sb_printf(&sb, "DROP DATABASE %s", name);
        db_exec(ac, sb.p);
    } else {
        ok(0, "postgres: create database %s", name);
    }
    sb_free(&sb);
    db_release(ac);
    db_close(admin);
}

int main(void)
{
    is_int(quota_use_sql(1, "memory"), 1, "plain CGI always uses the sql store");
    is_int(quota_use_sql(0, "memory"), 0, "FastCGI uses memory by default");
    is_int(quota_use_sql(0, "sql"), 1, "... and sql when QUOTA_STORE=sql");
    qs = quota_store_new();
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 10, 50, 40), QUOTA_OK,
           "40 of 100 (token 50) reserves");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 10, 50, 20), QUOTA_TOKEN_SHORT,
           "another 20 exceeds the token's 50");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 0, -1, 70), QUOTA_USER_SHORT,
           "70 more exceeds the user's 100 with 40 reserved");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 11, -1, 60), QUOTA_OK,
           "an unlimited token only checks the user");
    quota_settle(qs, 1, 10, 40, 25);
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 100, 0, -1, 16), QUOTA_USER_SHORT,
           "a settled charge stays pending until committed (25 + 60 reserved)");
    struct ledger_entry e = {.user_id = 1, .user_quota_delta = 25, .token_id = 10};
    uint64_t before = quota_epoch(qs);
    quota_committed(qs, &e);
    is_int(quota_reserve(qs, before, 1, 100, 0, -1, 1), QUOTA_STALE,
           "a quota read before a commit is refused as stale");
    /* The database now shows 75 left; reservations see only what is still in flight. */
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 75, 0, -1, 15), QUOTA_OK,
           "after commit the DB value counts");
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 75, 0, -1, 1), QUOTA_USER_SHORT,
           "and nothing was lost");
    quota_release(qs, 1, 0, 15);
    quota_release(qs, 1, 11, 60);
    is_int(quota_reserve(qs, quota_epoch(qs), 1, 75, 10, 25, 25), QUOTA_OK,
           "releases give everything back");
    quota_release(qs, 1, 10, 25);

    for (int64_t id = 100; id < 5000; id++)
        quota_reserve(qs, quota_epoch(qs), id, 10, 0, -1, 1);
    is_int(quota_reserve(qs, quota_epoch(qs), 100, 10, 0, -1, 9), QUOTA_OK,
           "the map grows and keeps its counts");
    is_int(quota_reserve(qs, quota_epoch(qs), 100, 10, 0, -1, 1), QUOTA_USER_SHORT,
           "(1 + 9 of 10 reserved)");

    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, spend, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    is_int(quota_reserve(qs, quota_epoch(qs), 7, 10, 0, -1, 10), QUOTA_OK,
           "40,000 concurrent reserve/release pairs leave nothing behind");
    struct ledger_entry net = {.is_net_of_reserve = 1, .user_id = 7, .user_quota_delta = 5};
    uint64_t ep = quota_epoch(qs);
    quota_committed(qs, &net);
    is_int((int)(quota_epoch(qs) - ep), 0, "an sql-store entry does not touch the memory store");
    quota_store_free(qs);
    quota_store_free(NULL);

    if (tmpdir_make(tmpdir, sizeof tmpdir, "oa-test-quota") < 0)
        return 1;
    sqlite_sql_suite();
    const char *dsn = getenv("OA_TEST_PG_DSN");
    if (dsn && *dsn)
        pg_sql_suite(dsn);
    else
        note("OA_TEST_PG_DSN not set: PostgreSQL tests skipped");
    tmpdir_remove(tmpdir);
    return done_testing();
}
