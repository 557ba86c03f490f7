/* The writer thread: group-commits each request's log row together with its quota deltas,
 * so a charge and its log row commit together or not at all. */
#ifndef OA_WRITER_H
#define OA_WRITER_H
#include <stdint.h>

struct db;
struct writer;

/* One request's settlement. Every field is copied by writer_submit. Zero deltas and zero ids
 * are skipped (no UPDATE is issued for them). */
struct ledger_entry {
    /* The SQL quota store took `reserved` from users.quota (and the limited key's
     * remain_quota) before the call: the quota deltas below are net of it, and the in-memory
     * store has nothing pending for the entry. With the in-memory store both are 0. */
    int is_net_of_reserve;
    int64_t reserved;
    int64_t user_id;             /* users row to charge; 0 = none */
    int64_t user_quota_delta;    /* subtracted from users.quota (negative refunds) */
    int64_t user_used_delta;     /* added to users.used_quota */
    int64_t user_request_delta;  /* added to users.request_count */
    int64_t token_id;            /* tokens row; 0 = none */
    int64_t token_remain_delta;  /* subtracted from tokens.remain_quota */
    int64_t token_used_delta;    /* added to tokens.used_quota */
    int64_t token_accessed_time; /* when > 0, tokens.accessed_time := this */
    int64_t channel_id;          /* channels row; 0 = none */
    int64_t channel_used_delta;  /* added to channels.used_quota */
    int has_log;                 /* insert the log row below */
    struct {
        int64_t user_id, created_at, type, quota, prompt_tokens, completion_tokens, channel_id;
        int64_t elapsed_time;
        int is_stream, system_prompt_reset;
        char content[512];
        char username[64];
        char token_name[64];
        char model_name[128];
        char request_id[64];
    } log;
};

/* Starts the writer with a dedicated connection of db. Batches commit at most every
 * max_delay_ms (~20) or max_batch (~512) items. Returns NULL on failure (logged). */
struct writer *writer_start(struct db *db, int max_delay_ms, int max_batch, int queue_cap);
/* Queues e; blocks while the queue is full (back-pressure, never drops). Thread-safe. */
void writer_submit(struct writer *w, const struct ledger_entry *e);
/* Returns once everything submitted before the call is committed (or failed and logged). */
void writer_flush(struct writer *w);
/* Flushes, stops the thread, closes its connection, frees w. Accepts NULL. */
void writer_stop(struct writer *w);
/* Sets fn, called on the writer thread for each entry after its batch was written
 * (committed, or failed and logged). Set it before the first writer_submit. */
void writer_set_done_hook(struct writer *w, void (*fn)(void *ud, const struct ledger_entry *e),
                          void *ud);
/* Commits e at once on c in a transaction of its own (CGI mode has no writer thread).
 * 0 or DB_ERR. */
struct db_conn;
int writer_commit_one(struct db_conn *c, const struct ledger_entry *e);
/* Issues e's statements on c inside a transaction the caller opened (and commits or rolls
 * back), for a quota movement that must commit together with writes of its own (a
 * redemption code's). 0 or DB_ERR. */
int writer_apply(struct db_conn *c, const struct ledger_entry *e);
/* Counters for tests and stats. */
struct writer_stats {
    uint64_t committed, failed, batches;
};
void writer_get_stats(struct writer *w, struct writer_stats *out);

#endif
