/* Private to db/: the driver vtable and the base structs that each driver embeds first. */
#ifndef OA_DB_INTERNAL_H
#define OA_DB_INTERNAL_H
#include "db/db.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One driver per database kind. db.c validates arguments and dispatches here; a driver may
 * assume st/c are its own and non-NULL. */
struct db_driver {
    const char *name; /* "sqlite" or "postgres", for logs */
    /* Frees the driver's db (every pooled connection included). */
    void (*close)(struct db *db);
    /* A pooled connection for this thread (a broken one fails every call); waits for one to be
     * released at most timeout_ms (< 0: for ever), then NULL. */
    struct db_conn *(*acquire)(struct db *db, int timeout_ms);
    void (*release)(struct db_conn *c);
    /* A connection outside the pool, or NULL with a reason in err. */
    struct db_conn *(*connect)(struct db *db, char *err, size_t errlen);
    void (*conn_close)(struct db_conn *c);
    /* Nonzero when the connection is lost and calls on it will fail until it reconnects. */
    int (*is_broken)(struct db_conn *c);
    struct db_stmt *(*prepare)(struct db_conn *c, const char *sql);
    void (*bind_int64)(struct db_stmt *st, int idx, int64_t v);
    void (*bind_double)(struct db_stmt *st, int idx, double v);
    void (*bind_textn)(struct db_stmt *st, int idx, const char *s, size_t n);
    void (*bind_null)(struct db_stmt *st, int idx);
    int (*step)(struct db_stmt *st);
    int64_t (*col_int64)(struct db_stmt *st, int col);
    double (*col_double)(struct db_stmt *st, int col);
    const char *(*col_text)(struct db_stmt *st, int col);
    int (*col_is_null)(struct db_stmt *st, int col);
    void (*done)(struct db_stmt *st);
    int (*exec)(struct db_conn *c, const char *sql);
};

/* The head of every driver's database struct. */
struct db {
    const struct db_driver *drv; /* the driver's operations */
    enum db_kind kind;           /* which dialect the SQL above the driver must speak */
};

/* The head of every driver's connection struct. */
struct db_conn {
    struct db *db;   /* owning database */
    char err[512];   /* last error text of this connection, "" when none */
    int in_snapshot; /* db_snapshot_begin'd (SQLite read transaction open) */
};

/* The head of every driver's statement struct. */
struct db_stmt {
    struct db_conn *conn; /* the connection the statement was prepared on */
    const char *sql;      /* the `?` text it was prepared from (owned by the driver) */
    int64_t changes;      /* rows changed by the last completed run */
    int is_in_use;        /* between db_prepare and db_done; the cache skips such entries */
};

/* Driver constructors, chosen by db_open. Heap-owned; NULL with a reason in err. */
struct db *db_sqlite_open(const struct db_opts *o, char *err, size_t errlen);
struct db *db_pg_open(const struct db_opts *o, char *err, size_t errlen);

/* Formats an error into c->err (truncated to fit). */
void db_set_err(struct db_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Nonzero when c has lost its server connection (PostgreSQL); SQLite never does. The writer
 * uses it to wait and retry a batch instead of splitting it into failures. */
int db_conn_broken(struct db_conn *c);
/* The absolute CLOCK_REALTIME time timeout_ms from now, for pthread_cond_timedwait. */
void db_deadline(struct timespec *ts, int timeout_ms);
/* FNV-1a of a NUL-terminated string: the statement caches' key hash. */
uint32_t db_hash_sql(const char *sql);

#endif
