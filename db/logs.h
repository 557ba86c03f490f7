/* logs table: the console's log views (list, sums, search) and the clean-up by age. The rows
 * are written by the ledger writer (db/writer.c) and by handlers/account.c. */
#ifndef OA_DB_LOGS_H
#define OA_DB_LOGS_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct db_conn;

/* One logs row; strings in the caller's arena ("" for SQL NULL). */
struct log_row {
    int64_t id, user_id, created_at;
    int64_t type;
    const char *content, *username, *token_name, *model_name, *request_id;
    int64_t quota, prompt_tokens, completion_tokens, channel_id, elapsed_time;
    int is_stream, system_prompt_reset;
};

/* What a list or a sum keeps. Every member is an exact match; 0 or NULL/"" leaves it open.
 * start_ts and end_ts bound created_at inclusively. */
struct log_filter {
    int64_t user_id; /* the self routes: only this user's rows */
    int64_t type;
    int64_t start_ts, end_ts;
    const char *username, *token_name, *model_name;
    int64_t channel_id;
};

/* The rows f keeps, newest (highest id) first, limit rows from offset, into a new array in a
 * (*n rows; never NULL). 0 or < 0 (enum db_err). */
int db_logs_list(struct db_conn *c, struct arena *a, const struct log_filter *f, int64_t offset,
                 int64_t limit, struct log_row **out, size_t *n);
/* The sum of quota over the consume rows (type 2) f keeps; f->type is not used. 0 or < 0. */
int db_logs_sum_quota(struct db_conn *c, const struct log_filter *f, int64_t *sum);
/* The newest limit rows whose type is the decimal keyword, or (when with_content) whose
 * content starts with keyword, taken literally (% and _ match only themselves); user_id > 0
 * keeps that user's rows only. 0 or < 0. */
int db_logs_search(struct db_conn *c, struct arena *a, int64_t user_id, const char *keyword,
                   int with_content, int64_t limit, struct log_row **out, size_t *n);
/* Deletes the rows created before ts (created_at < ts). Rows deleted, or < 0. */
int64_t db_logs_delete_before(struct db_conn *c, int64_t ts);

#endif
