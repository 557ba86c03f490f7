/* Unit tests for handlers/options.c: defaults, loads over them, a failed load, and readers that
 * never wait for the database (PostgreSQL, when OA_TEST_PG_DSN is set). */
#include "config.h"
#include "handlers/options.h"
#include "db/db.h"
#include "db/options.h"
#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "tests/unit/tap.h"
#include "tests/unit/tmpdir.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void semantics(struct db *db, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    is_int(db_migrate(c), 0, "%s: schema", tag);
    struct options *o = options_new("air");
    struct arena *a = arena_new(1024);
    is_str(options_get(o, a, "Theme"), "air", "%s: THEME seeds Theme", tag);
    ok(options_double(o, "QuotaPerUnit") == 500000, "%s: defaults before a load", tag);
    db_execf(c, "DELETE FROM options", "");
    is_int(
        db_execf(c, "INSERT INTO options (\"key\", value) VALUES (?, ?)", "tt", "RetryTimes", "3"),
        1, "%s: a row", tag);
    is_int(options_load(o, c), 0, "%s: load", tag);
    ok(options_double(o, "RetryTimes") == 3, "%s: the row wins over the default", tag);
    ok(options_bool(o, "LogConsumeEnabled"), "%s: the other defaults stay", tag);
    db_execf(c, "DELETE FROM options WHERE \"key\" = ?", "t", "RetryTimes");
    is_int(options_load(o, c), 0, "%s: load again", tag);
    ok(options_double(o, "RetryTimes") == 0, "%s: a row deleted since falls back to its default",
       tag);
    db_execf(c, "INSERT INTO options (\"key\", value) VALUES (?, ?)", "tt", "RetryTimes", "5");
    options_load(o, c);
    db_exec(c, "ALTER TABLE options RENAME TO options_away");
    note("%s: a failing read is logged on purpose below", tag);
    ok(options_load(o, c) < 0, "%s: a load that cannot read fails", tag);
    ok(options_double(o, "RetryTimes") == 5, "%s: and the values in use stay", tag);
    db_exec(c, "ALTER TABLE options_away RENAME TO options");
    arena_free(a);
    options_free(o);
    db_release(c);
}

struct loader {
    struct options *o;
    struct db *db;
    atomic_int done;
};

static void *load_in_thread(void *p)
{
    struct loader *l = p;
    struct db_conn *c = db_acquire(l->db);
    options_load(l->o, c);
    db_release(c);
    atomic_store(&l->done, 1);
    return NULL;
}

/* While a load waits on a locked options table, readers get the values in use at once. */
static void readers_do_not_wait(struct db *db, const char *tag)
{
    struct options *o = options_new("");
    struct db_conn *c = db_acquire(db);
    options_load(o, c);
    db_release(c);
    char err[256];
    struct db_conn *locker = db_connect_dedicated(db, err, sizeof err);
    ok(locker && db_begin(locker) == 0 &&
           db_exec(locker, "LOCK TABLE options IN ACCESS EXCLUSIVE MODE") == 0,
       "%s: the options table is locked by another session", tag);
    struct loader l = {.o = o, .db = db};
    pthread_t th;
    pthread_create(&th, NULL, load_in_thread, &l);
    usleep(300 * 1000); /* the loader is now waiting for the table */
    int before = options_bool(o, "LogConsumeEnabled");
    ok(before && !atomic_load(&l.done),
       "%s: a reader gets its value while the load still waits for the database", tag);
    db_rollback(locker);
    pthread_join(th, NULL);
    ok(atomic_load(&l.done), "%s: the load finishes once the lock goes", tag);
    db_conn_close(locker);
    options_free(o);
}

/* options_set applies at once; db_options_put is an upsert; a later load reads the row. */
static void set_and_put(struct db *db, const char *tag)
{
    struct db_conn *c = db_acquire(db);
    struct options *o = options_new("");
    struct arena *a = arena_new(1024);
    db_execf(c, "DELETE FROM options", "");
    is_int(db_options_put(c, "SystemName", "First"), 0, "%s: put a new row", tag);
    is_int(db_options_put(c, "SystemName", "Second"), 0, "%s: put the same key again", tag);
    struct db_stmt *st = db_prepare(c, "SELECT COUNT(*), MAX(value) FROM options");
    ok(st && db_step(st) == DB_ROW && db_col_int64(st, 0) == 1 &&
           !strcmp(db_col_text(st, 1), "Second"),
       "%s: ... one row, holding the last value", tag);
    db_done(st);
    options_set(o, "SystemName", "Set here");
    is_str(options_get(o, a, "SystemName"), "Set here", "%s: a set applies at once", tag);
    options_set(o, "BrandNewKey", "x");
    const char **keys, **values;
    size_t n = options_snapshot(o, a, &keys, &values);
    int found = 0, has_default = 0;
    for (size_t i = 0; i < n; i++) {
        found |= !strcmp(keys[i], "BrandNewKey") && !strcmp(values[i], "x");
        has_default |= !strcmp(keys[i], "QuotaPerUnit") && !strcmp(values[i], "500000");
    }
    ok(found && has_default, "%s: the snapshot holds a new key and the defaults", tag);
    is_int(options_load(o, c), 0, "%s: load", tag);
    is_str(options_get(o, a, "SystemName"), "Second", "%s: a load reads the stored row", tag);
    arena_free(a);
    options_free(o);
    db_release(c);
}

/* The write checks: One API's messages, and the rules added to them. */
static void checks(void)
{
    struct options *o = options_new("");
    struct arena *a = arena_new(1024);
    is_str(options_check(o, a, "GitHubOAuthEnabled", "true"),
           "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！",
           "GitHub OAuth needs a client id");
    options_set(o, "GitHubClientId", "id");
    ok(!options_check(o, a, "GitHubOAuthEnabled", "true"), "... and passes once it is set");
    ok(!options_check(o, a, "WeChatAuthEnabled", "false"), "turning a switch off needs nothing");
    is_str(options_check(o, a, "WeChatAuthEnabled", "true"),
           "无法启用微信登录，请先填入微信登录相关配置信息！", "WeChat login needs its server");
    is_str(options_check(o, a, "TurnstileCheckEnabled", "true"),
           "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！",
           "Turnstile needs a site key");
    ok(!options_check(o, a, "EmailDomainRestrictionEnabled", "true"),
       "the default domain list allows the restriction");
    options_set(o, "EmailDomainWhitelist", "");
    is_str(options_check(o, a, "EmailDomainRestrictionEnabled", "true"),
           "无法启用邮箱域名限制，请先填入限制的邮箱域名！", "... an empty one does not");
    is_str(options_check(o, a, "Theme", "neon"), "无效的主题", "an unknown theme");
    ok(!options_check(o, a, "Theme", "berry"), "a known theme");
    is_str(options_check(o, a, "LogConsumeEnabled", "1"),
           "LogConsumeEnabled must be \"true\" or \"false\"", "a switch is true or false");
    ok(!options_check(o, a, "MadeUpEnabled", "false"), "... any *Enabled key");
    is_str(options_check(o, a, "RetryTimes", "1.5"), "RetryTimes must be a whole number >= 0",
           "a count is whole");
    ok(options_check(o, a, "QuotaForInviter", "") != NULL, "... and not empty");
    ok(!options_check(o, a, "ChannelDisableThreshold", "0"), "... 0 is one");
    is_str(options_check(o, a, "QuotaPerUnit", "abc"), "QuotaPerUnit must be a number > 0",
           "QuotaPerUnit is a number");
    ok(!options_check(o, a, "QuotaPerUnit", "0.5"), "... a fraction is fine");
    const char *m = options_check(o, a, "ModelRatio", "{\"gpt-4\": \"15\"}");
    ok(m && !strncmp(m, "ModelRatio", 10), "a ratio must be a number (%s)", m ? m : "accepted");
    ok(options_check(o, a, "GroupRatio", "{\"default\":-1}") != NULL, "... not a negative one");
    ok(options_check(o, a, "CompletionRatio", "") != NULL, "... and the table not empty text");
    ok(!options_check(o, a, "GroupRatio", "{\"default\":1,\"gold\":0.5}"), "a good table");
    ok(!options_check(o, a, "Anything", "at all"), "an unknown key takes any value");
    arena_free(a);
    options_free(o);
}

int main(void)
{
    checks();
    char dir[256], path[300], err[256];
    if (tmpdir_make(dir, sizeof dir, "oa-test-options") < 0)
        return 1;
    snprintf(path, sizeof path, "%s/o.db", dir);
    struct db_opts so = {.sqlite_path = path, .busy_timeout_ms = 2000};
    struct db *db = db_open(&so, err, sizeof err);
    ok(db != NULL, "sqlite: open (%s)", db ? "ok" : err);
    if (db) {
        semantics(db, "sqlite");
        set_and_put(db, "sqlite");
        db_close(db);
    }
    tmpdir_remove(dir);

    const char *dsn = getenv("OA_TEST_PG_DSN");
    if (!dsn || !*dsn) {
        note("OA_TEST_PG_DSN not set: PostgreSQL tests skipped");
        return done_testing();
    }
    /* A database of its own, dropped afterwards. */
    struct db_opts ao = {.dsn = dsn, .pool_size = 1};
    struct db *admin = db_open(&ao, err, sizeof err);
    ok(admin != NULL, "postgres: connect (%s)", admin ? "ok" : err);
    if (!admin)
        return done_testing();
    char name[64], stmt[128];
    snprintf(name, sizeof name, "oa_test_%ld_options", (long)getpid());
    struct db_conn *ac = db_acquire(admin);
    snprintf(stmt, sizeof stmt, "DROP DATABASE IF EXISTS %s", name);
    db_exec(ac, stmt); /* safe-for-sql: a name made from our pid */
    snprintf(stmt, sizeof stmt, "CREATE DATABASE %s", name);
    if (db_exec(ac, stmt) == 0) { /* safe-for-sql: as above */
        struct strbuf sb;
        sb_init(&sb, NULL);
        sb_printf(&sb, "%s dbname=%s", dsn, name);
        struct db_opts po = {.dsn = sb.p, .pool_size = 4};
        db = db_open(&po, err, sizeof err);
        sb_free(&sb);
        ok(db != NULL, "postgres: open (%s)", db ? "ok" : err);
        if (db) {
            semantics(db, "postgres");
            set_and_put(db, "postgres");
            readers_do_not_wait(db, "postgres");
            db_close(db);
        }
        snprintf(stmt, sizeof stmt, "DROP DATABASE %s", name);
        db_exec(ac, stmt); /* safe-for-sql: as above */
    }
    db_release(ac);
    db_close(admin);
    return done_testing();
}
