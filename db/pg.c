/* pg: the PostgreSQL driver: a lazy, bounded libpq pool with per-connection prepared statements. */
#include "config.h"
#include "db/internal.h"
#include "fcgi/log.h"
#include "fcgi/xmalloc.h"

#include <assert.h>
#include <libpq-fe.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PG_BUCKETS 64     /* statement cache hash buckets per connection */
#define PG_DEFAULT_POOL 8 /* connections shared by the workers (8-16 serve hundreds of them) */
#define PG_SMALL 32       /* parameter values up to this size live inside the statement */

/* One bound parameter in text format; val NULL means SQL NULL. */
struct pg_param {
    const char *val;      /* small or heap, or NULL */
    int len;              /* bytes of val */
    char small[PG_SMALL]; /* numbers and short strings, without a malloc per bind */
    char *heap;           /* longer values; kept between binds to be reused */
    size_t heap_cap;
};

struct pg_stmt {
    struct db_stmt base;
    char name[24];           /* server-side prepared statement name, unique per connection */
    char *sql;               /* owned `?` text; base.sql points here */
    char *pgsql;             /* the same with $n placeholders, to prepare again after a reconnect */
    uint32_t hash;           /* db_hash_sql(sql) */
    unsigned gen;            /* the connection's gen when prepared on the server */
    int n_params;            /* placeholders counted by the rewrite */
    struct pg_param *params; /* n_params entries */
    const char **vals;       /* scratch for PQexecPrepared */
    int *lens;               /* scratch for PQexecPrepared */
    PGresult *res;           /* result of the current run, or NULL before the first step */
    int row;                 /* current row of res; -1 before the first */
    int last_rc;             /* once finished: the code every further step returns */
    int is_finished;         /* stepped to the end or failed: do not run it again */
    struct pg_stmt *next;    /* hash chain */
};

struct pg_conn {
    struct db_conn base;
    PGconn *pg;                        /* may be CONNECTION_BAD; reconnected on next use */
    struct pg_stmt *cache[PG_BUCKETS]; /* statements by SQL text; kept across reconnects and
                                        * prepared again on the new session when next run */
    unsigned n_prepared;               /* names the next statement */
    unsigned gen;                      /* bumped by every (re)connect */
    PGTransactionStatusType last_txn;  /* transaction state after the last command */
    int is_txn_lost;                   /* the session died inside a transaction: everything
                                        * fails until the caller's ROLLBACK */
    int is_pooled;                     /* counted in the pool (not a dedicated connection) */
};

struct pg_db {
    struct db base;
    char *conninfo;        /* secret: holds the password; never logged */
    int pool_size;         /* most connections open at once */
    pthread_mutex_t mu;    /* guards free, n_free, n_open */
    pthread_cond_t cv;     /* signalled when a connection is released */
    struct pg_conn **free; /* released connections, pool_size slots */
    int n_free;            /* entries used in free */
    int n_open;            /* connections created (free or in use) */
};

static const struct db_driver pg_driver;

/* Frees every cached statement and its result; only when the connection itself goes. */
static void pg_cache_free(struct pg_conn *c)
{
    for (int b = 0; b < PG_BUCKETS; b++) {
        struct pg_stmt *s = c->cache[b];
        while (s) {
            struct pg_stmt *next = s->next;
            PQclear(s->res);
            for (int i = 0; i < s->n_params; i++)
                free(s->params[i].heap);
            free(s->params);
            free(s->vals);
            free(s->lens);
            free(s->pgsql);
            free(s->sql);
            free(s);
            s = next;
        }
        c->cache[b] = NULL;
    }
}

/* Records a failed command's error in c->err: the primary message and the SQLSTATE, never the
 * DETAIL, HINT or CONTEXT fields (they may quote a row's values). Without a result (the
 * connection failed), libpq's connection message. */
static void pg_result_err(struct pg_conn *c, const PGresult *r)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (msg)
        db_set_err(&c->base, "%s (SQLSTATE %s)", msg, state ? state : "?");
    else
        db_set_err(&c->base, "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
}

/* Copies libpq's message of the connection into c->err. */
static void pg_conn_err(struct pg_conn *c, const char *what)
{
    db_set_err(&c->base, "%s: %s", what, c->pg ? PQerrorMessage(c->pg) : "out of memory");
}

/* Records the session's transaction state after a command, to know later whether a lost
 * session took an open transaction with it. */
static void pg_note_txn(struct pg_conn *c)
{
    /* A dead session reports UNKNOWN: keep the state it had when it was last alive. */
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t != PQTRANS_UNKNOWN)
        c->last_txn = t;
}

/* Server notices (NOTICE, WARNING) go to our log instead of libpq's default, stderr. */
static void pg_notice(void *arg, const PGresult *r)
{
    (void)arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (sev && !strcmp(sev, "WARNING"))
        LOG_WARN("db: PostgreSQL: %s", msg ? msg : "?");
    else
        LOG_DEBUG("db: PostgreSQL %s: %s", sev ? sev : "notice", msg ? msg : "?");
}

/* Makes c usable if it can: connects the first time, reconnects a lost session. Returns 0
 * when commands may run. A session lost inside a transaction is reconnected, but commands keep
 * failing until the caller rolls back: running the rest of the transaction's statements in
 * autocommit on the new session would commit half of it. */
static int pg_ensure(struct pg_conn *c)
{
    struct pg_db *d = (struct pg_db *)c->base.db;
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        int was_open = c->pg != NULL;
        if (c->last_txn == PQTRANS_INTRANS || c->last_txn == PQTRANS_INERROR ||
            c->last_txn == PQTRANS_ACTIVE)
            c->is_txn_lost = 1;
        c->last_txn = PQTRANS_IDLE;
        c->gen++; /* the server forgot our prepared statements */
        if (c->pg)
            PQreset(c->pg);
        else
            c->pg = PQconnectdb(d->conninfo);
        if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
            pg_conn_err(c, "cannot connect to PostgreSQL");
            return -1;
        }
        PQsetNoticeReceiver(c->pg, pg_notice, NULL);
        /* Only the primary message in errors: a DETAIL line quotes the row's values (a unique
         * violation on tokens.key prints the key), and error texts reach the log. */
        PQsetErrorVerbosity(c->pg, PQERRORS_TERSE);
        PQsetErrorContextVisibility(c->pg, PQSHOW_CONTEXT_NEVER);
        if (was_open)
            LOG_WARN("db: reconnected to PostgreSQL");
    }
    if (c->is_txn_lost) {
        db_set_err(&c->base, "connection to PostgreSQL lost inside a transaction; roll back");
        return -1;
    }
    return 0;
}

static void pg_conn_free(struct pg_conn *c)
{
    pg_cache_free(c);
    PQfinish(c->pg);
    free(c);
}

/* A new connection struct, connected if the server answers (errors stay in c->err). */
static struct pg_conn *pg_conn_new(struct pg_db *d)
{
    struct pg_conn *c = xcalloc(1, sizeof *c);
    c->base.db = &d->base;
    c->last_txn = PQTRANS_IDLE;
    pg_ensure(c);
    return c;
}

struct db *db_pg_open(const struct db_opts *o, char *err, size_t errlen)
{
    if (!PQisthreadsafe()) {
        snprintf(err, errlen, "libpq was built without thread support");
        return NULL;
    }
    struct pg_db *d = xcalloc(1, sizeof *d);
    d->base.drv = &pg_driver;
    d->base.kind = DB_POSTGRES;
    d->conninfo = xstrdup(o->dsn);
    d->pool_size = o->pool_size > 0 ? o->pool_size : PG_DEFAULT_POOL;
    d->free = xcalloc((size_t)d->pool_size, sizeof *d->free);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* Connect once now so a wrong DSN stops start-up; the connection opens the pool. */
    struct pg_conn *c = pg_conn_new(d);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        /* libpq's messages name host, port, user and database but never the password. */
        snprintf(err, errlen, "%s", c->base.err);
        pg_conn_free(c);
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d->free);
        explicit_bzero(d->conninfo, strlen(d->conninfo));
        free(d->conninfo);
        free(d);
        return NULL;
    }
    c->is_pooled = 1;
    d->free[d->n_free++] = c;
    d->n_open = 1;
    const char *host = PQhost(c->pg);
    LOG_INFO("db: PostgreSQL %d, database %s on %s, pool of %d", PQserverVersion(c->pg),
             PQdb(c->pg), host && *host ? host : "the default socket", d->pool_size);
    return &d->base;
}

static void pg_close(struct db *db)
{
    struct pg_db *d = (struct pg_db *)db;
    if (d->n_free != d->n_open)
        LOG_BUG("db: closing with %d PostgreSQL connections still acquired", d->n_open - d->n_free);
    for (int i = 0; i < d->n_free; i++)
        pg_conn_free(d->free[i]);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->free);
    /* The conninfo holds the password: wipe it before it goes back to the allocator. */
    explicit_bzero(d->conninfo, strlen(d->conninfo));
    free(d->conninfo);
    free(d);
}

static struct db_conn *pg_acquire(struct db *db, int timeout_ms)
{
    struct pg_db *d = (struct pg_db *)db;
    struct pg_conn *c = NULL;
    struct timespec until;
    if (timeout_ms >= 0)
        db_deadline(&until, timeout_ms);
    pthread_mutex_lock(&d->mu);
    while (!d->n_free && d->n_open >= d->pool_size) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&d->cv, &d->mu);
        } else if (pthread_cond_timedwait(&d->cv, &d->mu, &until) == ETIMEDOUT && !d->n_free &&
                   d->n_open >= d->pool_size) {
            pthread_mutex_unlock(&d->mu);
            return NULL;
        }
    }
    if (d->n_free)
        c = d->free[--d->n_free];
    else
        d->n_open++; /* reserve the slot, connect outside the lock */
    pthread_mutex_unlock(&d->mu);
    if (!c) {
        c = pg_conn_new(d);
        c->is_pooled = 1;
    } else {
        pg_ensure(c);
    }
    /* A broken connection is still handed out (db_acquire never fails): its calls fail with
     * the reason below, and the next acquire tries to reconnect. */
    if (c->base.err[0])
        LOG_ERR("db: %s", c->base.err);
    return &c->base;
}

/* Finishes statements a caller forgot to db_done and leaves no transaction open, so the next
 * thread gets a clean session. */
static void pg_tidy(struct pg_conn *c)
{
    for (int b = 0; b < PG_BUCKETS; b++)
        for (struct pg_stmt *s = c->cache[b]; s; s = s->next)
            if (s->base.is_in_use) {
                LOG_BUG("db: statement not finished with db_done: %.120s", s->sql);
                pg_driver.done(&s->base);
            }
    if (c->is_txn_lost) {
        LOG_BUG("db: connection released without rolling back its lost transaction");
        c->is_txn_lost = 0;
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        LOG_BUG("db: connection released inside a transaction; rolling back");
        PQclear(PQexec(c->pg, "ROLLBACK"));
        pg_note_txn(c);
    }
    c->base.err[0] = '\0';
}

static void pg_release(struct db_conn *conn)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    struct pg_db *d = (struct pg_db *)conn->db;
    pg_tidy(c);
    pthread_mutex_lock(&d->mu);
    d->free[d->n_free++] = c;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static struct db_conn *pg_connect(struct db *db, char *err, size_t errlen)
{
    struct pg_conn *c = pg_conn_new((struct pg_db *)db);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", c->base.err);
        pg_conn_free(c);
        return NULL;
    }
    return &c->base;
}

static void pg_conn_close(struct db_conn *conn)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    if (c->is_pooled)
        LOG_BUG("db: db_conn_close on a pooled connection (use db_release)");
    assert(!c->is_pooled);
    pg_tidy(c);
    pg_conn_free(c);
}

static int pg_is_broken(struct db_conn *conn)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    return !c->pg || PQstatus(c->pg) != CONNECTION_OK;
}

/* Prepares s on the current session under its name. 0 or -1 (error in s's connection). */
static int pg_server_prepare(struct pg_conn *c, struct pg_stmt *s)
{
    PGresult *r = PQprepare(c->pg, s->name, s->pgsql, 0, NULL);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_result_err(c, r);
        rc = -1;
    } else {
        s->gen = c->gen;
    }
    PQclear(r);
    pg_note_txn(c);
    return rc;
}

static struct db_stmt *pg_prepare(struct db_conn *conn, const char *sql)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    uint32_t h = db_hash_sql(sql);
    struct pg_stmt **bucket = &c->cache[h % PG_BUCKETS];
    for (struct pg_stmt *s = *bucket; s; s = s->next)
        if (s->hash == h && !s->base.is_in_use && !strcmp(s->sql, sql)) {
            /* Prepared again at its next run if the session has changed since. */
            s->base.is_in_use = 1;
            return &s->base;
        }
    if (pg_ensure(c) < 0) {
        LOG_ERR("db: %s; sql: %.200s", conn->err, sql);
        return NULL;
    }
    struct pg_stmt *s = xcalloc(1, sizeof *s);
    s->base.conn = conn;
    s->pgsql = xmalloc(db_pg_rewrite_len(sql));
    db_pg_rewrite(sql, s->pgsql);
    /* Names never repeat on a connection, so a reconnect cannot collide with an old one. */
    snprintf(s->name, sizeof s->name, "oa%u", ++c->n_prepared);
    if (pg_server_prepare(c, s) < 0) {
        LOG_ERR("db: prepare failed: %s; sql: %.200s", conn->err, sql);
        free(s->pgsql);
        free(s);
        return NULL;
    }
    /* The server's count is exact: a `?` inside a string literal is no parameter. */
    PGresult *desc = PQdescribePrepared(c->pg, s->name);
    if (PQresultStatus(desc) == PGRES_COMMAND_OK) {
        s->n_params = PQnparams(desc);
    } else {
        for (const char *p = s->pgsql; *p; p++)
            s->n_params += *p == '$'; /* an upper bound, should describe ever fail */
    }
    PQclear(desc);
    s->sql = xstrdup(sql);
    s->base.sql = s->sql;
    s->base.is_in_use = 1;
    s->hash = h;
    s->params = xcalloc((size_t)s->n_params + 1, sizeof *s->params);
    s->vals = xcalloc((size_t)s->n_params + 1, sizeof *s->vals);
    s->lens = xcalloc((size_t)s->n_params + 1, sizeof *s->lens);
    s->row = -1;
    s->next = *bucket;
    *bucket = s;
    return &s->base;
}

static struct pg_param *pg_param(struct db_stmt *st, int idx)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    if (idx < 1 || idx > s->n_params) {
        LOG_BUG("db: bind index %d out of range 1..%d; sql: %.200s", idx, s->n_params, s->sql);
        assert(!"db_bind: an index the statement's placeholders do not have");
        return NULL;
    }
    return &s->params[idx - 1];
}

static void pg_bind_textn(struct db_stmt *st, int idx, const char *t, size_t n)
{
    struct pg_param *p = pg_param(st, idx);
    if (!p)
        return;
    if (n > INT32_MAX - 1) {
        LOG_BUG("db: parameter %d too long (%zu bytes)", idx, n);
        p->val = NULL;
        return;
    }
    char *dst = p->small;
    if (n >= PG_SMALL) {
        if (p->heap_cap < n + 1) {
            p->heap = xrealloc(p->heap, n + 1);
            p->heap_cap = n + 1;
        }
        dst = p->heap;
    }
    memcpy(dst, t, n);
    /* libpq reads text-format parameters as C strings and ignores their lengths. */
    dst[n] = '\0';
    p->val = dst;
    p->len = (int)n;
}

static void pg_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    pg_bind_textn(st, idx, buf, (size_t)n);
}

static void pg_bind_double(struct db_stmt *st, int idx, double v)
{
    char buf[32];
    /* The shortest text that reads back as v: a NUMERIC column (GORM makes float64 fields
     * "decimal") keeps every digit sent, so 56.78 must not go as 56.780000000000001. */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    pg_bind_textn(st, idx, buf, (size_t)n);
}

static void pg_bind_null(struct db_stmt *st, int idx)
{
    struct pg_param *p = pg_param(st, idx);
    if (p)
        p->val = NULL;
}

/* Class 23 is integrity_constraint_violation: unique, not null, foreign key, check. */
static int pg_is_constraint(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return state && state[0] == '2' && state[1] == '3';
}

/* Runs s on the server: the first step. Returns DB_ROW/DB_DONE via the row walk, or < 0. */
static int pg_run(struct pg_stmt *s)
{
    struct db_stmt *st = &s->base;
    struct pg_conn *c = (struct pg_conn *)st->conn;
    if (pg_ensure(c) < 0 || (s->gen != c->gen && pg_server_prepare(c, s) < 0)) {
        LOG_ERR("db: %s; sql: %.200s", st->conn->err, s->sql);
        return DB_ERR;
    }
    for (int i = 0; i < s->n_params; i++) {
        s->vals[i] = s->params[i].val;
        s->lens[i] = s->params[i].len;
    }
    s->res = PQexecPrepared(c->pg, s->name, s->n_params, s->vals, s->lens, NULL, 0);
    pg_note_txn(c);
    ExecStatusType es = PQresultStatus(s->res);
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
        /* PQcmdTuples also counts the rows a SELECT returned; SQLite reports 0 there. */
        const char *n = PQcmdTuples(s->res);
        st->changes = *n && strncmp(PQcmdStatus(s->res), "SELECT", 6) ? strtoll(n, NULL, 10) : 0;
        s->row = -1;
        return DB_ROW;
    }
    pg_result_err(c, s->res);
    if (s->res && pg_is_constraint(s->res))
        return DB_CONSTRAINT;
    LOG_ERR("db: %s; sql: %.200s", st->conn->err, s->sql);
    return DB_ERR;
}

static int pg_step(struct db_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    if (s->is_finished)
        return s->last_rc;
    if (!s->res) {
        int rc = pg_run(s);
        if (rc < 0) {
            s->is_finished = 1;
            return s->last_rc = rc;
        }
    }
    if (++s->row < PQntuples(s->res))
        return DB_ROW;
    s->is_finished = 1;
    return s->last_rc = DB_DONE;
}

static const char *pg_value(struct db_stmt *st, int col)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    if (!s->res || s->row < 0 || s->row >= PQntuples(s->res) || col < 0 ||
        col >= PQnfields(s->res)) {
        LOG_BUG("db: column %d read without a current row; sql: %.200s", col, s->sql);
        assert(!"db_col: read without a current row or past the last column");
        return NULL;
    }
    if (PQgetisnull(s->res, s->row, col))
        return NULL;
    return PQgetvalue(s->res, s->row, col);
}

static int64_t pg_col_int64(struct db_stmt *st, int col)
{
    const char *v = pg_value(st, col);
    if (!v)
        return 0;
    /* A boolean column arrives as t/f in text format. */
    if (v[0] == 't' && !v[1])
        return 1;
    if (v[0] == 'f' && !v[1])
        return 0;
    return strtoll(v, NULL, 10);
}

static double pg_col_double(struct db_stmt *st, int col)
{
    const char *v = pg_value(st, col);
    return v ? strtod(v, NULL) : 0.0;
}

static const char *pg_col_text(struct db_stmt *st, int col)
{
    return pg_value(st, col);
}

static int pg_col_is_null(struct db_stmt *st, int col)
{
    return pg_value(st, col) == NULL;
}

static void pg_done(struct db_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    PQclear(s->res);
    s->res = NULL;
    s->row = -1;
    s->is_finished = 0;
    s->last_rc = DB_DONE;
    for (int i = 0; i < s->n_params; i++)
        s->params[i].val = NULL;
    st->is_in_use = 0;
}

static int pg_exec(struct db_conn *conn, const char *sql)
{
    struct pg_conn *c = (struct pg_conn *)conn;
    if (c->is_txn_lost && !strcasecmp(sql, "ROLLBACK")) {
        /* The server already rolled the lost transaction back with the session. */
        c->is_txn_lost = 0;
        conn->err[0] = '\0';
        return 0;
    }
    if (pg_ensure(c) < 0) {
        LOG_ERR("db: %s; sql: %.200s", conn->err, sql);
        return DB_ERR;
    }
    PGresult *r = PQexec(c->pg, sql);
    pg_note_txn(c);
    ExecStatusType es = PQresultStatus(r);
    int rc = 0;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY) {
        pg_result_err(c, r);
        LOG_ERR("db: %s; sql: %.200s", conn->err, sql);
        rc = DB_ERR;
    }
    PQclear(r);
    return rc;
}

static const struct db_driver pg_driver = {
    .name = "postgres",
    .close = pg_close,
    .acquire = pg_acquire,
    .release = pg_release,
    .connect = pg_connect,
    .conn_close = pg_conn_close,
    .is_broken = pg_is_broken,
    .prepare = pg_prepare,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_textn = pg_bind_textn,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_int64 = pg_col_int64,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_is_null = pg_col_is_null,
    .done = pg_done,
    .exec = pg_exec,
};
