/* sqlite: the SQLite driver: a growing free-list of connections, each with a statement cache. */
#include "config.h"
#include "db/internal.h"
#include "fcgi/log.h"
#include "fcgi/xmalloc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_BUCKETS 64                /* statement cache hash buckets per connection */
#define SQ_DEFAULT_PATH "one-api.db" /* One API's SQLITE_PATH default */
#define SQ_DEFAULT_BUSY_MS 3000      /* One API's SQLITE_BUSY_TIMEOUT default */

struct sq_stmt {
    struct db_stmt base;
    sqlite3_stmt *s;      /* prepared once with SQLITE_PREPARE_PERSISTENT */
    char *sql;            /* owned copy; base.sql points here */
    uint32_t hash;        /* db_hash_sql(sql) */
    int last_rc;          /* DB_ROW while rows remain; the final code once finished */
    int is_finished;      /* stepped to the end or failed: stepping again must not re-run it */
    struct sq_stmt *next; /* hash chain */
};

struct sq_conn {
    struct db_conn base;
    sqlite3 *h;                        /* NULL when the open failed: every call then fails */
    struct sq_stmt *cache[SQ_BUCKETS]; /* statements by SQL text; never evicted, the SQL of
                                        * this program is a fixed set of literals */
    struct sq_conn *next_free;         /* free-list link while pooled */
};

struct sq_db {
    struct db base;
    char *path;           /* SQLITE_PATH */
    int busy_ms;          /* SQLITE_BUSY_TIMEOUT, applied to every connection */
    pthread_mutex_t mu;   /* guards free, n_out and n_open */
    pthread_cond_t cv;    /* a connection was released */
    struct sq_conn *free; /* released connections, ready for any thread */
    int n_out;            /* acquired and not yet released, to catch leaks at close */
    int n_open;           /* connections in existence (pooled or out) */
    int pool_size;        /* most open at once: each costs its page cache and parsed schema,
                           * and 2,000 streams opening one each took 200 MB */
};

static const struct db_driver sq_driver;

static struct sq_conn *sq_conn_new(struct sq_db *d, char *err, size_t errlen)
{
    struct sq_conn *c = xcalloc(1, sizeof *c);
    c->base.db = &d->base;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(d->path, &c->h, flags, NULL);
    if (rc != SQLITE_OK) {
        db_set_err(&c->base, "cannot open SQLite database %s: %s", d->path,
                   c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->h, 1);
    sqlite3_busy_timeout(c->h, d->busy_ms);
    /* WAL lets readers run beside the single writer; NORMAL syncs at checkpoints only, which
     * can lose the last commits on power loss but never corrupts the database. */
    char *msg = NULL;
    if (sqlite3_exec(c->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &msg) != SQLITE_OK) {
        db_set_err(&c->base, "cannot set up SQLite database %s: %s", d->path,
                   msg ? msg : sqlite3_errmsg(c->h));
        sqlite3_free(msg);
        goto fail;
    }
    /* Database pages through a shared mapping instead of a pread each: the relay's reads
     * then cost no syscalls once their pages are cached. Best effort (0 = not supported). */
    sqlite3_exec(c->h, "PRAGMA mmap_size=268435456;", NULL, NULL, NULL);
    return c;
fail:
    snprintf(err, errlen, "%s", c->base.err);
    sqlite3_close_v2(c->h);
    c->h = NULL;
    return c;
}

static void sq_conn_free(struct sq_conn *c)
{
    for (int b = 0; b < SQ_BUCKETS; b++) {
        struct sq_stmt *s = c->cache[b];
        while (s) {
            struct sq_stmt *next = s->next;
            sqlite3_finalize(s->s);
            free(s->sql);
            free(s);
            s = next;
        }
    }
    if (c->h && sqlite3_close_v2(c->h) != SQLITE_OK)
        LOG_BUG("sqlite: close: %s", sqlite3_errmsg(c->h));
    free(c);
}

struct db *db_sqlite_open(const struct db_opts *o, char *err, size_t errlen)
{
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "the SQLite library was built without thread support");
        return NULL;
    }
    struct sq_db *d = xcalloc(1, sizeof *d);
    d->base.drv = &sq_driver;
    d->base.kind = DB_SQLITE;
    d->path = xstrdup(o->sqlite_path && *o->sqlite_path ? o->sqlite_path : SQ_DEFAULT_PATH);
    d->busy_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : SQ_DEFAULT_BUSY_MS;
    d->pool_size = o->pool_size > 0 ? o->pool_size : 16;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    struct sq_conn *c = sq_conn_new(d, err, errlen);
    if (!c->h) {
        sq_conn_free(c);
        pthread_mutex_destroy(&d->mu);
        free(d->path);
        free(d);
        return NULL;
    }
    d->free = c;
    d->n_open = 1;
    LOG_INFO("db: SQLite database %s (WAL, busy timeout %d ms)", d->path, d->busy_ms);
    return &d->base;
}

static void sq_close(struct db *db)
{
    struct sq_db *d = (struct sq_db *)db;
    if (d->n_out)
        LOG_BUG("db: closing with %d SQLite connections still acquired", d->n_out);
    struct sq_conn *c = d->free;
    while (c) {
        struct sq_conn *next = c->next_free;
        sq_conn_free(c);
        c = next;
    }
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d->path);
    free(d);
}

static struct db_conn *sq_acquire(struct db *db, int timeout_ms)
{
    struct sq_db *d = (struct sq_db *)db;
    struct timespec until;
    if (timeout_ms >= 0)
        db_deadline(&until, timeout_ms);
    pthread_mutex_lock(&d->mu);
    while (!d->free && d->n_open >= d->pool_size) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&d->cv, &d->mu);
        } else if (pthread_cond_timedwait(&d->cv, &d->mu, &until) == ETIMEDOUT && !d->free &&
                   d->n_open >= d->pool_size) {
            pthread_mutex_unlock(&d->mu);
            return NULL;
        }
    }
    struct sq_conn *c = d->free;
    if (c)
        d->free = c->next_free;
    else
        d->n_open++; /* reserve the slot, open outside the lock */
    d->n_out++;
    pthread_mutex_unlock(&d->mu);
    if (!c) {
        char err[256];
        /* The pool grows to the number of threads that use it at once; an open failure is
         * kept in the connection (every call then fails) since db_acquire never returns NULL. */
        c = sq_conn_new(d, err, sizeof err);
        if (!c->h)
            LOG_ERR("db: %s", err);
    }
    c->next_free = NULL;
    c->base.err[0] = '\0';
    return &c->base;
}

/* Resets statements a caller forgot to db_done: an unfinished SELECT would hold a read
 * snapshot open and stop WAL checkpoints. */
static void sq_reset_all(struct sq_conn *c)
{
    for (int b = 0; b < SQ_BUCKETS; b++)
        for (struct sq_stmt *s = c->cache[b]; s; s = s->next)
            if (s->base.is_in_use) {
                LOG_BUG("db: statement not finished with db_done: %.120s", s->sql);
                sq_driver.done(&s->base);
            }
}

static void sq_release(struct db_conn *conn)
{
    struct sq_conn *c = (struct sq_conn *)conn;
    struct sq_db *d = (struct sq_db *)conn->db;
    pthread_mutex_lock(&d->mu);
    d->n_out--;
    if (!c->h) {
        d->n_open--;
        pthread_cond_signal(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    if (!c->h) {
        sq_conn_free(c); /* the next acquire tries a fresh open */
        return;
    }
    sq_reset_all(c);
    if (!sqlite3_get_autocommit(c->h)) {
        LOG_BUG("db: connection released inside a transaction; rolling back");
        sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_lock(&d->mu);
    c->next_free = d->free;
    d->free = c;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static struct db_conn *sq_connect(struct db *db, char *err, size_t errlen)
{
    struct sq_conn *c = sq_conn_new((struct sq_db *)db, err, errlen);
    if (!c->h) {
        sq_conn_free(c);
        return NULL;
    }
    return &c->base;
}

static void sq_conn_close(struct db_conn *conn)
{
    struct sq_conn *c = (struct sq_conn *)conn;
    if (c->h)
        sq_reset_all(c);
    sq_conn_free(c);
}

static int sq_is_broken(struct db_conn *conn)
{
    return ((struct sq_conn *)conn)->h == NULL;
}

static struct db_stmt *sq_prepare(struct db_conn *conn, const char *sql)
{
    struct sq_conn *c = (struct sq_conn *)conn;
    if (!c->h) {
        LOG_ERR("db: prepare on a connection that failed to open: %s", c->base.err);
        return NULL;
    }
    uint32_t h = db_hash_sql(sql);
    struct sq_stmt **bucket = &c->cache[h % SQ_BUCKETS];
    for (struct sq_stmt *s = *bucket; s; s = s->next)
        if (s->hash == h && !s->base.is_in_use && !strcmp(s->sql, sql)) {
            s->base.is_in_use = 1;
            return &s->base;
        }
    /* Not cached, or every cached copy is in use (the same query nested in its own loop):
     * prepare another copy, cached beside the first. */
    sqlite3_stmt *ps = NULL;
    int rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &ps, NULL);
    if (rc != SQLITE_OK) {
        db_set_err(conn, "%s", sqlite3_errmsg(c->h));
        LOG_ERR("db: prepare failed: %s; sql: %.200s", conn->err, sql);
        sqlite3_finalize(ps);
        return NULL;
    }
    if (!ps) {
        db_set_err(conn, "empty statement");
        LOG_BUG("db: prepare of an empty statement");
        assert(!"db_prepare: every statement of ours is a literal with SQL in it");
        return NULL;
    }
    struct sq_stmt *s = xcalloc(1, sizeof *s);
    s->base.conn = conn;
    s->sql = xstrdup(sql);
    s->base.sql = s->sql;
    s->base.is_in_use = 1;
    s->s = ps;
    s->hash = h;
    s->next = *bucket;
    *bucket = s;
    return &s->base;
}

static void sq_bind_rc(struct sq_stmt *s, int idx, int rc)
{
    if (rc != SQLITE_OK)
        LOG_BUG("db: bind %d failed (%s); sql: %.200s", idx, sqlite3_errstr(rc), s->sql);
}

static void sq_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    sq_bind_rc(s, idx, sqlite3_bind_int64(s->s, idx, v));
}

static void sq_bind_double(struct db_stmt *st, int idx, double v)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    sq_bind_rc(s, idx, sqlite3_bind_double(s->s, idx, v));
}

static void sq_bind_textn(struct db_stmt *st, int idx, const char *t, size_t n)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    sq_bind_rc(s, idx, sqlite3_bind_text64(s->s, idx, t, n, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static void sq_bind_null(struct db_stmt *st, int idx)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    sq_bind_rc(s, idx, sqlite3_bind_null(s->s, idx));
}

static int sq_step(struct db_stmt *st)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    /* sqlite3_step after SQLITE_DONE would silently run the statement again. */
    if (s->is_finished)
        return s->last_rc;
    int rc = sqlite3_step(s->s);
    if (rc == SQLITE_ROW)
        return s->last_rc = DB_ROW;
    s->is_finished = 1;
    sqlite3 *h = sqlite3_db_handle(s->s);
    if (rc == SQLITE_DONE) {
        st->changes = sqlite3_stmt_readonly(s->s) ? 0 : sqlite3_changes64(h);
        return s->last_rc = DB_DONE;
    }
    db_set_err(st->conn, "%s", sqlite3_errmsg(h));
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return s->last_rc = DB_CONSTRAINT;
    LOG_ERR("db: %s; sql: %.200s", st->conn->err, s->sql);
    return s->last_rc = DB_ERR;
}

static int64_t sq_col_int64(struct db_stmt *st, int col)
{
    return sqlite3_column_int64(((struct sq_stmt *)st)->s, col);
}

static double sq_col_double(struct db_stmt *st, int col)
{
    return sqlite3_column_double(((struct sq_stmt *)st)->s, col);
}

static const char *sq_col_text(struct db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(((struct sq_stmt *)st)->s, col);
}

static int sq_col_is_null(struct db_stmt *st, int col)
{
    return sqlite3_column_type(((struct sq_stmt *)st)->s, col) == SQLITE_NULL;
}

static void sq_done(struct db_stmt *st)
{
    struct sq_stmt *s = (struct sq_stmt *)st;
    /* reset repeats the last step's error code, which was already reported. */
    sqlite3_reset(s->s);
    sqlite3_clear_bindings(s->s);
    s->is_finished = 0;
    s->last_rc = DB_DONE;
    st->is_in_use = 0;
}

static int sq_exec(struct db_conn *conn, const char *sql)
{
    struct sq_conn *c = (struct sq_conn *)conn;
    if (!c->h) {
        LOG_ERR("db: exec on a connection that failed to open: %s", conn->err);
        return DB_ERR;
    }
    char *msg = NULL;
    if (sqlite3_exec(c->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        db_set_err(conn, "%s", msg ? msg : sqlite3_errmsg(c->h));
        sqlite3_free(msg);
        LOG_ERR("db: %s; sql: %.200s", conn->err, sql);
        return DB_ERR;
    }
    return 0;
}

static const struct db_driver sq_driver = {
    .name = "sqlite",
    .close = sq_close,
    .acquire = sq_acquire,
    .release = sq_release,
    .connect = sq_connect,
    .conn_close = sq_conn_close,
    .is_broken = sq_is_broken,
    .prepare = sq_prepare,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_textn = sq_bind_textn,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_int64 = sq_col_int64,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .col_is_null = sq_col_is_null,
    .done = sq_done,
    .exec = sq_exec,
};
