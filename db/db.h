/* One small interface over sqlite3 and libpq. SQL is written once with `?` placeholders and
 * double-quoted identifiers ("group", "key"); the PostgreSQL driver rewrites `?` to `$n`. */
#ifndef OA_DB_H
#define OA_DB_H
#include <stddef.h>
#include <stdint.h>

enum db_kind { DB_SQLITE, DB_POSTGRES };

/* What db_step returns when it did not fail. */
enum db_step_result { DB_DONE = 0, DB_ROW = 1 };

/* The DB layer's error codes. Their range starts at -100, apart from the handlers' enum
 * oa_err (-1 and below, fcgi/error.h), so that a database code passed on by mistake can
 * never render as, say, a 404; a handler converts one to OA_ERR_DB itself. Functions below
 * that say "< 0" return one of these. */
enum db_err {
    DB_ERR = -100,        /* the database failed (the text is in db_errmsg) */
    DB_CONSTRAINT = -101, /* a UNIQUE or NOT NULL constraint refused the write */
};

/* Lookups that return an int follow one convention, said at each: 1 found (the row is read),
 * 0 not found, < 0 a database error (enum db_err). */

struct arena;
struct db;      /* a database: a pool of connections (PostgreSQL) or per-use connections (SQLite) */
struct db_conn; /* one connection, used by one thread at a time */
struct db_stmt; /* a prepared statement bound to one connection */

struct db_opts {
    const char *dsn;         /* SQL_DSN: "postgres://..." or "postgresql://..."; NULL/"" = SQLite */
    const char *sqlite_path; /* SQLITE_PATH, used when dsn is empty */
    int busy_timeout_ms;     /* SQLITE_BUSY_TIMEOUT */
    int pool_size;           /* PostgreSQL connections shared by request threads (8-16) */
};

/* Opens the database (connects once to check it). Heap-owned; free with db_close.
 * Returns NULL and writes a reason (no secrets: the DSN password is not included) into err. */
struct db *db_open(const struct db_opts *o, char *err, size_t errlen);
/* Closes every pooled connection. All connections must have been released. Accepts NULL. */
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);
/* The kind of the database c belongs to, for SQL that differs between dialects. */
enum db_kind db_conn_kind(const struct db_conn *c);

/* Takes a connection for the calling thread; blocks while the pool is empty.
 * Reconnects a broken PostgreSQL connection. Never NULL. Give it back with db_release. */
struct db_conn *db_acquire(struct db *db);
/* db_acquire that waits at most timeout_ms (< 0: for ever) for a connection to be released;
 * NULL when none came. Every function below taking a connection accepts that NULL and fails
 * (DB_ERR, a NULL statement, or the message "no database connection"), so a request can run
 * its queries and answer "busy" from a single check. */
struct db_conn *db_acquire_wait(struct db *db, int timeout_ms);
void db_release(struct db_conn *c);
/* A connection of its own, outside the pool (the writer thread's). Free with db_conn_close. */
struct db_conn *db_connect_dedicated(struct db *db, char *err, size_t errlen);
void db_conn_close(struct db_conn *c);

/* Prepares sql on c. Statements are cached per connection keyed by the sql text, so calling
 * this again with the same sql is cheap. Returns NULL on error (logged). The statement
 * belongs to c; call db_done(st) when finished with it (resets it for reuse). */
struct db_stmt *db_prepare(struct db_conn *c, const char *sql);
/* Bind parameter idx (1-based). Text is copied. */
void db_bind_int64(struct db_stmt *st, int idx, int64_t v);
void db_bind_double(struct db_stmt *st, int idx, double v);
void db_bind_text(struct db_stmt *st, int idx, const char *s); /* NULL binds SQL NULL */
void db_bind_textn(struct db_stmt *st, int idx, const char *s, size_t n);
void db_bind_null(struct db_stmt *st, int idx);
/* Binds a boolean in the dialect's form (1/0 on SQLite, true/false on PostgreSQL). */
void db_bind_bool(struct db_stmt *st, int idx, int v);
/* Runs the statement (first call) and moves to the next row: DB_ROW, DB_DONE, or < 0.
 * A UNIQUE/NOT NULL violation returns DB_CONSTRAINT. */
int db_step(struct db_stmt *st);
/* Column values of the current row (0-based). Text stays valid until the next step or done.
 * Booleans read as int64 0/1 on both databases ('t'/'f' from PostgreSQL included). NULL reads
 * as 0 / NULL text. */
int64_t db_col_int64(struct db_stmt *st, int col);
double db_col_double(struct db_stmt *st, int col);
const char *db_col_text(struct db_stmt *st, int col);
int db_col_is_null(struct db_stmt *st, int col);
/* The text of column col copied into a: "" for SQL NULL (db_col_str), or NULL
 * (db_col_str_or_null, for the columns One API reads as JSON null). */
const char *db_col_str(struct db_stmt *st, int col, struct arena *a);
const char *db_col_str_or_null(struct db_stmt *st, int col, struct arena *a);
/* Row readers: fill the row at row (a struct of the caller's) from st's current row, strings
 * copied into a. */
typedef void (*db_row_reader)(struct db_stmt *st, struct arena *a, void *row);
/* Runs st, reads its first row with read into row and db_done's it: 1 when there was a row,
 * 0 when none, < 0 on a database error. */
int db_read_one(struct db_stmt *st, struct arena *a, db_row_reader read, void *row);
/* Steps st to its end and db_done's it, reading each row with read into a new array of rows
 * of size bytes in a: returns the array (never NULL) and its length in *n; *rc is 0, or < 0
 * when a step failed (the rows read so far are kept). */
void *db_read_rows(struct db_stmt *st, struct arena *a, size_t size, db_row_reader read, size_t *n,
                   int *rc);
/* Rows changed by the last INSERT/UPDATE/DELETE run on st. */
int64_t db_changes(struct db_stmt *st);
/* Resets st and clears its bindings so the next db_prepare of the same sql reuses it. */
void db_done(struct db_stmt *st);
/* Last error text of the connection (for logs). */
const char *db_errmsg(struct db_conn *c);

/* Runs sql without parameters or rows (DDL, BEGIN, COMMIT). 0 or DB_ERR. */
int db_exec(struct db_conn *c, const char *sql);
int db_begin(struct db_conn *c); /* BEGIN IMMEDIATE on SQLite, BEGIN on PostgreSQL */
int db_commit(struct db_conn *c);
int db_rollback(struct db_conn *c);
/* SQLite: the SELECTs up to db_snapshot_end share one read transaction (a deferred BEGIN):
 * one snapshot, and the WAL read lock taken once instead of once per statement (each is a
 * pair of fcntl calls). No-op on PostgreSQL, where a BEGIN is one more round trip. End it
 * before writing on c: a write inside an old snapshot fails with SQLITE_BUSY_SNAPSHOT.
 * db_release ends an open one. */
void db_snapshot_begin(struct db_conn *c);
void db_snapshot_end(struct db_conn *c);

/* Convenience for one-shot statements: prepare, bind "i" (int64), "t" (text), "d" (double),
 * "b" (bool), "n" (null) from varargs in order, step once, done. Returns rows changed or < 0. */
int64_t db_execf(struct db_conn *c, const char *sql, const char *types, ...);

/* Rewrites `?` placeholders outside quoted strings and identifiers to $1..$n. out must hold
 * strlen(sql) + 4 * (placeholders) + 1 bytes; db_pg_rewrite_len tells how many. Pure; tested. */
size_t db_pg_rewrite_len(const char *sql);
void db_pg_rewrite(const char *sql, char *out);

/* Creates or upgrades One API's seven tables and their indexes, as its GORM models declare
 * them, on c.
 * Idempotent; never drops or rewrites existing data; adds missing columns and indexes.
 * Returns 0 or DB_ERR (logged). */
int db_migrate(struct db_conn *c);

#endif
