/* writer: one thread that group-commits ledger entries (quota deltas plus their log row). */
#include "config.h"
#include "db/writer.h"
#include "db/db.h"
#include "db/internal.h"
#include "fcgi/log.h"
#include "fcgi/utf8.h"
#include "fcgi/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define W_DEFAULT_DELAY_MS 20 /* a batch commits after at most ~20 ms ... */
#define W_DEFAULT_BATCH 512   /* ... or 512 items per transaction */
#define W_DEFAULT_QUEUE 8192  /* entries queued before submitters block */
#define W_BROKEN_RETRIES 5    /* batch retries while the connection is down, before giving up */

struct writer {
    struct db_conn *conn;       /* the writer thread's own connection */
    pthread_t th;               /* runs writer_main */
    pthread_mutex_t mu;         /* guards everything below */
    pthread_cond_t cv_work;     /* to the thread: entries, a flush or stop (monotonic clock) */
    pthread_cond_t cv_space;    /* to submitters: the queue has room */
    pthread_cond_t cv_done;     /* to flushers: n_done moved */
    struct ledger_entry *ring;  /* queue of cap entries, len of them from head */
    size_t cap, head, len;      /* ring size, oldest entry, entries queued */
    uint64_t n_submitted;       /* sequence number of the last submitted entry */
    uint64_t n_done;            /* entries committed or failed, in submission order */
    int n_flushers;             /* threads in writer_flush: commit now, do not wait */
    int is_stopping;            /* writer_stop: drain, then end the thread */
    int max_delay_ms;           /* group-commit window */
    size_t max_batch;           /* entries per transaction at most */
    struct writer_stats st;     /* counters for writer_get_stats */
    struct ledger_entry *batch; /* the thread's private copy of the batch being written */
    /* Called by the writer thread for each entry once its batch is written (committed, or
     * failed and logged); lets an in-memory quota store drop the entry from "pending". */
    void (*done_hook)(void *ud, const struct ledger_entry *e);
    void *done_ud;
};

static const char SQL_USER[] = "UPDATE users SET quota = quota - ?, used_quota = used_quota + ?, "
                               "request_count = request_count + ? WHERE id = ?";
/* The casts fix the parameter's type for PostgreSQL, which would otherwise infer integer
 * (32 bits) from the comparison with 0. */
static const char SQL_TOKEN[] =
    "UPDATE tokens SET remain_quota = remain_quota - ?, used_quota = used_quota + ?, "
    "accessed_time = CASE WHEN CAST(? AS BIGINT) > 0 THEN CAST(? AS BIGINT) "
    "ELSE accessed_time END WHERE id = ?";
static const char SQL_CHANNEL[] = "UPDATE channels SET used_quota = used_quota + ? WHERE id = ?";
static const char SQL_LOG[] =
    "INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, "
    "quota, prompt_tokens, completion_tokens, channel_id, request_id, elapsed_time, is_stream, "
    "system_prompt_reset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* Binds a fixed-size char array that should hold a C string, without reading past it, as
 * valid UTF-8: the fields are filled with snprintf, which cuts at a byte count, and may hold
 * an upstream's error text. PostgreSQL refuses a row with invalid UTF-8, and the charge that
 * commits with the row would be lost with it. */
static void bind_fixed(struct db_stmt *st, int idx, const char *arr, size_t size)
{
    char buf[512];
    size_t n = strnlen(arr, size);
    if (n > sizeof buf)
        n = sizeof buf;
    memcpy(buf, arr, n);
    db_bind_textn(st, idx, buf, utf8_clean(buf, n));
}
#define BIND_FIXED(st, idx, arr) bind_fixed((st), (idx), (arr), sizeof(arr))

/* Runs one prepared statement to completion. */
static int run(struct db_stmt *st)
{
    int rc = db_step(st);
    while (rc == DB_ROW)
        rc = db_step(st);
    db_done(st);
    return rc < 0 ? -1 : 0;
}

/* Issues e's statements inside the caller's transaction. 0 or -1. */
static int apply(struct db_conn *c, const struct ledger_entry *e)
{
    struct db_stmt *st;
    if (e->user_id && (e->user_quota_delta || e->user_used_delta || e->user_request_delta)) {
        if (!(st = db_prepare(c, SQL_USER)))
            return -1;
        db_bind_int64(st, 1, e->user_quota_delta);
        db_bind_int64(st, 2, e->user_used_delta);
        db_bind_int64(st, 3, e->user_request_delta);
        db_bind_int64(st, 4, e->user_id);
        if (run(st) < 0)
            return -1;
    }
    if (e->token_id &&
        (e->token_remain_delta || e->token_used_delta || e->token_accessed_time > 0)) {
        if (!(st = db_prepare(c, SQL_TOKEN)))
            return -1;
        db_bind_int64(st, 1, e->token_remain_delta);
        db_bind_int64(st, 2, e->token_used_delta);
        db_bind_int64(st, 3, e->token_accessed_time);
        db_bind_int64(st, 4, e->token_accessed_time);
        db_bind_int64(st, 5, e->token_id);
        if (run(st) < 0)
            return -1;
    }
    if (e->channel_id && e->channel_used_delta) {
        if (!(st = db_prepare(c, SQL_CHANNEL)))
            return -1;
        db_bind_int64(st, 1, e->channel_used_delta);
        db_bind_int64(st, 2, e->channel_id);
        if (run(st) < 0)
            return -1;
    }
    if (e->has_log) {
        if (!(st = db_prepare(c, SQL_LOG)))
            return -1;
        db_bind_int64(st, 1, e->log.user_id);
        db_bind_int64(st, 2, e->log.created_at);
        db_bind_int64(st, 3, e->log.type);
        BIND_FIXED(st, 4, e->log.content);
        BIND_FIXED(st, 5, e->log.username);
        BIND_FIXED(st, 6, e->log.token_name);
        BIND_FIXED(st, 7, e->log.model_name);
        db_bind_int64(st, 8, e->log.quota);
        db_bind_int64(st, 9, e->log.prompt_tokens);
        db_bind_int64(st, 10, e->log.completion_tokens);
        db_bind_int64(st, 11, e->log.channel_id);
        BIND_FIXED(st, 12, e->log.request_id);
        db_bind_int64(st, 13, e->log.elapsed_time);
        db_bind_bool(st, 14, e->log.is_stream);
        db_bind_bool(st, 15, e->log.system_prompt_reset);
        if (run(st) < 0)
            return -1;
    }
    return 0;
}

/* One transaction over n entries. 0, or -1 after rolling back. */
static int commit_entries(struct db_conn *c, const struct ledger_entry *e, size_t n)
{
    if (db_begin(c) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (apply(c, &e[i]) < 0)
            goto fail;
    /* A connection lost during COMMIT leaves its outcome unknown; it is then treated as
     * failed, which is the rare case where a retry below may apply an entry twice. */
    if (db_commit(c) < 0)
        goto fail;
    return 0;
fail:
    db_rollback(c);
    return -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Writes a batch; returns how many entries failed. A failed batch is retried once per entry
 * so that one bad entry does not take the others with it. While the database is unreachable
 * the whole batch waits and retries instead, since every entry would fail alike. */
static size_t write_batch(struct writer *w, size_t n, uint64_t *n_txn)
{
    for (int attempt = 0;; attempt++) {
        if (commit_entries(w->conn, w->batch, n) == 0) {
            (*n_txn)++;
            return 0;
        }
        if (!db_conn_broken(w->conn) || attempt >= W_BROKEN_RETRIES)
            break;
        LOG_WARN("db: writer: database unreachable, retrying %zu entries", n);
        sleep_ms(100L << attempt);
    }
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ledger_entry *e = &w->batch[i];
        if (commit_entries(w->conn, e, 1) == 0) {
            (*n_txn)++;
            continue;
        }
        failed++;
        /* The charge is lost from the database (the in-memory quota already has it; an SQL
         * reservation stays taken): name it precisely so it can be reconciled by hand. */
        LOG_ERR(
            "db: writer: ledger entry lost: user %lld quota -%lld used +%lld, token %lld "
            "remain -%lld, channel %lld +%lld, reservation %lld still taken, log %s "
            "request %.64s: %s",
            (long long)e->user_id, (long long)e->user_quota_delta, (long long)e->user_used_delta,
            (long long)e->token_id, (long long)e->token_remain_delta, (long long)e->channel_id,
            (long long)e->channel_used_delta, (long long)(e->is_net_of_reserve ? e->reserved : 0),
            e->has_log ? "yes" : "no", e->has_log ? e->log.request_id : "-", db_errmsg(w->conn));
    }
    return failed;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->len && !w->is_stopping)
            pthread_cond_wait(&w->cv_work, &w->mu);
        if (!w->len)
            break; /* stopping with nothing left */
        /* Group commit: gather entries for up to max_delay_ms unless the batch fills, or a
         * flush or stop wants them now. */
        struct timespec until;
        deadline_in(&until, w->max_delay_ms);
        while (w->len < w->max_batch && !w->n_flushers && !w->is_stopping)
            if (pthread_cond_timedwait(&w->cv_work, &w->mu, &until) == ETIMEDOUT)
                break;
        size_t n = w->len < w->max_batch ? w->len : w->max_batch;
        for (size_t i = 0; i < n; i++)
            w->batch[i] = w->ring[(w->head + i) % w->cap];
        w->head = (w->head + n) % w->cap;
        w->len -= n;
        pthread_cond_broadcast(&w->cv_space);
        pthread_mutex_unlock(&w->mu);

        uint64_t n_txn = 0;
        size_t failed = write_batch(w, n, &n_txn);
        if (w->done_hook)
            for (size_t i = 0; i < n; i++)
                w->done_hook(w->done_ud, &w->batch[i]);

        pthread_mutex_lock(&w->mu);
        w->n_done += n;
        w->st.committed += n - failed;
        w->st.failed += failed;
        w->st.batches += n_txn;
        pthread_cond_broadcast(&w->cv_done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct writer *writer_start(struct db *db, int max_delay_ms, int max_batch, int queue_cap)
{
    char err[512];
    struct db_conn *c = db_connect_dedicated(db, err, sizeof err);
    if (!c) {
        LOG_ERR("db: writer: cannot connect: %s", err);
        return NULL;
    }
    struct writer *w = xcalloc(1, sizeof *w);
    w->conn = c;
    w->max_delay_ms = max_delay_ms > 0 ? max_delay_ms : W_DEFAULT_DELAY_MS;
    w->cap = queue_cap > 0 ? (size_t)queue_cap : W_DEFAULT_QUEUE;
    w->max_batch = max_batch > 0 ? (size_t)max_batch : W_DEFAULT_BATCH;
    if (w->max_batch > w->cap)
        w->max_batch = w->cap;
    w->ring = xcalloc(w->cap, sizeof *w->ring);
    w->batch = xcalloc(w->max_batch, sizeof *w->batch);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv_work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->cv_space, NULL);
    pthread_cond_init(&w->cv_done, NULL);
    int e = pthread_create(&w->th, NULL, writer_main, w);
    if (e) {
        LOG_ERR("db: writer: cannot start thread: %s", strerror(e));
        pthread_cond_destroy(&w->cv_done);
        pthread_cond_destroy(&w->cv_space);
        pthread_cond_destroy(&w->cv_work);
        pthread_mutex_destroy(&w->mu);
        free(w->batch);
        free(w->ring);
        db_conn_close(c);
        free(w);
        return NULL;
    }
    return w;
}

void writer_submit(struct writer *w, const struct ledger_entry *e)
{
    pthread_mutex_lock(&w->mu);
    while (w->len == w->cap)
        pthread_cond_wait(&w->cv_space, &w->mu);
    w->ring[(w->head + w->len) % w->cap] = *e;
    w->len++;
    w->n_submitted++;
    /* Wake the thread when it idles (first entry) or when its batch is full; in between it is
     * sleeping out its group-commit window on purpose. */
    if (w->len == 1 || w->len == w->max_batch)
        pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
}

void writer_flush(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->n_submitted;
    if (w->n_done < target) {
        w->n_flushers++;
        pthread_cond_signal(&w->cv_work);
        while (w->n_done < target)
            pthread_cond_wait(&w->cv_done, &w->mu);
        w->n_flushers--;
    }
    pthread_mutex_unlock(&w->mu);
}

void writer_stop(struct writer *w)
{
    if (!w)
        return;
    writer_flush(w);
    pthread_mutex_lock(&w->mu);
    w->is_stopping = 1;
    pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    struct writer_stats st = w->st;
    LOG_INFO("db: writer stopped: %llu entries committed in %llu transactions, %llu failed",
             (unsigned long long)st.committed, (unsigned long long)st.batches,
             (unsigned long long)st.failed);
    pthread_cond_destroy(&w->cv_done);
    pthread_cond_destroy(&w->cv_space);
    pthread_cond_destroy(&w->cv_work);
    pthread_mutex_destroy(&w->mu);
    db_conn_close(w->conn);
    free(w->batch);
    free(w->ring);
    free(w);
}

int writer_commit_one(struct db_conn *c, const struct ledger_entry *e)
{
    return commit_entries(c, e, 1) < 0 ? DB_ERR : 0;
}

int writer_apply(struct db_conn *c, const struct ledger_entry *e)
{
    return apply(c, e) < 0 ? DB_ERR : 0;
}

void writer_set_done_hook(struct writer *w, void (*fn)(void *ud, const struct ledger_entry *e),
                          void *ud)
{
    pthread_mutex_lock(&w->mu);
    w->done_hook = fn;
    w->done_ud = ud;
    pthread_mutex_unlock(&w->mu);
}

void writer_get_stats(struct writer *w, struct writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}
