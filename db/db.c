/* db: the driver-independent half of db.h: dispatch, db_execf and the `?` to `$n` rewriter. */
#include "config.h"
#include "db/db.h"
#include "db/internal.h"
#include "fcgi/arena.h"
#include "fcgi/log.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A PostgreSQL DSN: a postgres:// URI or a libpq keyword/value string ("host=... dbname=...").
 * Anything else (a MySQL "user:pass@tcp(...)/db" DSN, say) is not ours. */
static int is_pg_dsn(const char *dsn)
{
    if (!strncasecmp(dsn, "postgres://", 11) || !strncasecmp(dsn, "postgresql://", 13))
        return 1;
    const char *p = dsn;
    while (isspace((unsigned char)*p))
        p++;
    const char *k = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    while (isspace((unsigned char)*p))
        p++;
    return p > k && *p == '=';
}

struct db *db_open(const struct db_opts *o, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (o->dsn && *o->dsn) {
        if (is_pg_dsn(o->dsn))
            return db_pg_open(o, err, errlen);
        /* The DSN itself is not echoed: it may carry a password. */
        snprintf(err, errlen,
                 "unsupported SQL_DSN: only postgres:// (or a libpq conninfo) is supported; "
                 "leave it empty for SQLite");
        return NULL;
    }
    return db_sqlite_open(o, err, errlen);
}

void db_close(struct db *db)
{
    if (db)
        db->drv->close(db);
}

enum db_kind db_kind(const struct db *db)
{
    return db->kind;
}

enum db_kind db_conn_kind(const struct db_conn *c)
{
    return c ? c->db->kind : DB_SQLITE; /* no connection: any dialect, nothing will run */
}

struct db_conn *db_acquire(struct db *db)
{
    return db->drv->acquire(db, -1);
}

struct db_conn *db_acquire_wait(struct db *db, int timeout_ms)
{
    return db->drv->acquire(db, timeout_ms);
}

void db_deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    long long ns = ts->tv_nsec + (long long)(timeout_ms % 1000) * 1000000LL;
    ts->tv_sec += timeout_ms / 1000 + (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

void db_release(struct db_conn *c)
{
    if (!c)
        return;
    db_snapshot_end(c);
    c->db->drv->release(c);
}

struct db_conn *db_connect_dedicated(struct db *db, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    return db->drv->connect(db, err, errlen);
}

void db_conn_close(struct db_conn *c)
{
    if (c)
        c->db->drv->conn_close(c);
}

int db_conn_broken(struct db_conn *c)
{
    return c->db->drv->is_broken(c);
}

void db_set_err(struct db_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    /* libpq messages span lines (ERROR, LINE, caret, CONTEXT); a log entry is one line. */
    size_t n = strlen(c->err);
    while (n && isspace((unsigned char)c->err[n - 1]))
        c->err[--n] = '\0';
    for (char *p = c->err; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

uint32_t db_hash_sql(const char *sql)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

struct db_stmt *db_prepare(struct db_conn *c, const char *sql)
{
    if (!c)
        return NULL;
    return c->db->drv->prepare(c, sql);
}

/* Binding through a NULL statement is a caller bug that already logged at prepare time. */
void db_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    if (st)
        st->conn->db->drv->bind_int64(st, idx, v);
}

void db_bind_double(struct db_stmt *st, int idx, double v)
{
    if (st)
        st->conn->db->drv->bind_double(st, idx, v);
}

void db_bind_text(struct db_stmt *st, int idx, const char *s)
{
    if (!st)
        return;
    if (s)
        st->conn->db->drv->bind_textn(st, idx, s, strlen(s));
    else
        st->conn->db->drv->bind_null(st, idx);
}

void db_bind_textn(struct db_stmt *st, int idx, const char *s, size_t n)
{
    if (!st)
        return;
    if (s)
        st->conn->db->drv->bind_textn(st, idx, s, n);
    else
        st->conn->db->drv->bind_null(st, idx);
}

void db_bind_null(struct db_stmt *st, int idx)
{
    if (st)
        st->conn->db->drv->bind_null(st, idx);
}

void db_bind_bool(struct db_stmt *st, int idx, int v)
{
    if (!st)
        return;
    /* SQLite has no boolean type (GORM stores 1/0); PostgreSQL's boolean takes true/false. */
    if (st->conn->db->kind == DB_POSTGRES)
        st->conn->db->drv->bind_textn(st, idx, v ? "true" : "false", v ? 4 : 5);
    else
        st->conn->db->drv->bind_int64(st, idx, v ? 1 : 0);
}

int db_step(struct db_stmt *st)
{
    if (!st)
        return DB_ERR;
    return st->conn->db->drv->step(st);
}

int64_t db_col_int64(struct db_stmt *st, int col)
{
    return st->conn->db->drv->col_int64(st, col);
}

double db_col_double(struct db_stmt *st, int col)
{
    return st->conn->db->drv->col_double(st, col);
}

const char *db_col_text(struct db_stmt *st, int col)
{
    return st->conn->db->drv->col_text(st, col);
}

int db_col_is_null(struct db_stmt *st, int col)
{
    return st->conn->db->drv->col_is_null(st, col);
}

const char *db_col_str(struct db_stmt *st, int col, struct arena *a)
{
    const char *s = db_col_text(st, col);
    return arena_strdup(a, s ? s : "");
}

const char *db_col_str_or_null(struct db_stmt *st, int col, struct arena *a)
{
    const char *s = db_col_text(st, col);
    return s ? arena_strdup(a, s) : NULL;
}

int db_read_one(struct db_stmt *st, struct arena *a, db_row_reader read, void *row)
{
    int rc = db_step(st);
    if (rc == DB_ROW)
        read(st, a, row);
    db_done(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}

void *db_read_rows(struct db_stmt *st, struct arena *a, size_t size, db_row_reader read, size_t *n,
                   int *rc)
{
    size_t cap = 10, k = 0;
    char *v = arena_alloc(a, cap * size);
    while ((*rc = db_step(st)) == DB_ROW) {
        if (k == cap) {
            v = arena_realloc(a, v, cap * size, 2 * cap * size);
            cap *= 2;
        }
        read(st, a, v + k++ * size);
    }
    db_done(st);
    *n = k;
    if (*rc > 0)
        *rc = 0;
    return v;
}

int64_t db_changes(struct db_stmt *st)
{
    return st ? st->changes : 0;
}

void db_done(struct db_stmt *st)
{
    if (st)
        st->conn->db->drv->done(st);
}

const char *db_errmsg(struct db_conn *c)
{
    return c ? c->err : "no database connection";
}

int db_exec(struct db_conn *c, const char *sql)
{
    if (!c)
        return DB_ERR;
    return c->db->drv->exec(c, sql);
}

int db_begin(struct db_conn *c)
{
    if (!c)
        return DB_ERR;
    /* IMMEDIATE takes SQLite's write lock up front, so a transaction never fails half-way
     * with SQLITE_BUSY on its first write (the busy timeout covers the wait instead). */
    return db_exec(c, c->db->kind == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN");
}

int db_commit(struct db_conn *c)
{
    return db_exec(c, "COMMIT");
}

int db_rollback(struct db_conn *c)
{
    return db_exec(c, "ROLLBACK");
}

void db_snapshot_begin(struct db_conn *c)
{
    if (!c || c->db->kind != DB_SQLITE || c->in_snapshot)
        return;
    /* db_execf, not db_exec: the statement is compiled once per connection and cached. */
    if (db_execf(c, "BEGIN", "") >= 0)
        c->in_snapshot = 1;
}

void db_snapshot_end(struct db_conn *c)
{
    if (!c || !c->in_snapshot)
        return;
    c->in_snapshot = 0;
    if (db_execf(c, "COMMIT", "") < 0)
        db_exec(c, "ROLLBACK");
}

int64_t db_execf(struct db_conn *c, const char *sql, const char *types, ...)
{
    struct db_stmt *st = db_prepare(c, sql);
    if (!st)
        return DB_ERR;
    va_list ap;
    va_start(ap, types);
    int idx = 1;
    for (const char *t = types ? types : ""; *t; t++, idx++) {
        switch (*t) {
        case 'i': db_bind_int64(st, idx, va_arg(ap, int64_t)); break;
        case 't': db_bind_text(st, idx, va_arg(ap, const char *)); break;
        case 'd': db_bind_double(st, idx, va_arg(ap, double)); break;
        case 'b': db_bind_bool(st, idx, va_arg(ap, int)); break;
        case 'n': db_bind_null(st, idx); break;
        default:
            /* The varargs cannot be walked past an unknown type: give up on the call. */
            va_end(ap);
            LOG_BUG("db_execf: unknown type '%c' in \"%s\"", *t, types);
            assert(!"db_execf: a type letter the callers' literals never use");
            db_done(st);
            return DB_ERR;
        }
    }
    va_end(ap);
    int rc;
    /* Drain rows so that SQLite's change count (known only at the end) is final, e.g. for
     * INSERT ... RETURNING. */
    while ((rc = db_step(st)) == DB_ROW)
        ;
    int64_t n = rc < 0 ? rc : db_changes(st);
    db_done(st);
    return n;
}

/* The one scanner behind db_pg_rewrite_len and db_pg_rewrite: out NULL only counts.
 * Skips `?` inside '...' strings (with '' escapes), E'...' strings (with backslash escapes),
 * "..." identifiers (with "" escapes), -- line comments and (nested) block comments.
 * Dollar-quoted strings are not recognised: our SQL never uses them. Returns the bytes the
 * rewritten text needs, NUL included. */
static size_t pg_rewrite(const char *sql, char *out)
{
    size_t o = 0;
    unsigned n = 0;
    const char *p = sql;
/* ch is evaluated exactly once (it is often *p++), also when only counting. */
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        char put_ = (ch);                                                                          \
        if (out)                                                                                   \
            out[o] = put_;                                                                         \
        o++;                                                                                       \
    } while (0)
    while (*p) {
        char ch = *p;
        if (ch == '?') {
            char num[16];
            int k = snprintf(num, sizeof num, "$%u", ++n);
            for (int i = 0; i < k; i++)
                PUT(num[i]);
            p++;
        } else if (ch == '\'' || ch == '"') {
            /* E'...' takes backslash escapes; an E that ends an identifier (tablE'x') is not
             * a prefix, but that is not valid SQL anyway. */
            int backslash = ch == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                            (p - 1 == sql || !(isalnum((unsigned char)p[-2]) || p[-2] == '_'));
            PUT(*p++);
            while (*p) {
                if (backslash && *p == '\\' && p[1]) {
                    PUT(*p++);
                    PUT(*p++);
                } else if (*p == ch && p[1] == ch) {
                    PUT(*p++);
                    PUT(*p++);
                } else if (*p == ch) {
                    PUT(*p++);
                    break;
                } else {
                    PUT(*p++);
                }
            }
        } else if (ch == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                PUT(*p++);
        } else if (ch == '/' && p[1] == '*') {
            int depth = 0;
            while (*p) {
                if (*p == '/' && p[1] == '*') {
                    depth++;
                    PUT(*p++);
                    PUT(*p++);
                } else if (*p == '*' && p[1] == '/') {
                    depth--;
                    PUT(*p++);
                    PUT(*p++);
                    if (!depth)
                        break;
                } else {
                    PUT(*p++);
                }
            }
        } else {
            PUT(*p++);
        }
    }
    PUT('\0');
#undef PUT
    return o;
}

size_t db_pg_rewrite_len(const char *sql)
{
    return pg_rewrite(sql, NULL);
}

void db_pg_rewrite(const char *sql, char *out)
{
    pg_rewrite(sql, out);
}
