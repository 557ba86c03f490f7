/* Unit tests for handlers/options.c: defaults, loads over them, a failed load, and readers that
 * never wait for the database (PostgreSQL, when OA_TEST_PG_DSN is set). */
#include "config.h"
#include "handlers/options.h"
#include "db/db.h"
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

int main(void)
{
    char dir[256], path[300], err[256];
    if (tmpdir_make(dir, sizeof dir, "oa-test-options") < 0)
        return 1;
    snprintf(path, sizeof path, "%s/o.db", dir);
    struct db_opts so = {.sqlite_path = path, .busy_timeout_ms = 2000};
    struct db *db = db_open(&so, err, sizeof err);
    ok(db != NULL, "sqlite: open (%s)", db ? "ok" : err);
    if (db) {
        semantics(db, "sqlite");
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
