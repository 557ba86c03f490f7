/* tokens table: relay keys, always scoped to their owner. */
#ifndef OA_DB_TOKENS_H
#define OA_DB_TOKENS_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct db_conn;

/* One tokens row; strings are borrowed (inserts) or live in the reader's arena. */
struct token {
    int64_t id;
    int64_t user_id;
    const char *key; /* without sk- */
    int64_t status;  /* 1 enabled, 2 disabled, 3 expired, 4 exhausted */
    const char *name;
    int64_t created_time, accessed_time, expired_time;
    int64_t remain_quota;
    int unlimited_quota;
    int64_t used_quota;
    const char *models; /* NULL = all (JSON null) */
    const char *subnet; /* NULL = any (JSON null) */
    int64_t rpm_limit;  /* relay requests per minute through this process; 0 = no limit */
};

/* Orders of a token listing (the `order` query of GET /api/token/). */
enum db_tokens_order {
    TOKENS_BY_ID,           /* id DESC (default) */
    TOKENS_BY_REMAIN_QUOTA, /* unlimited_quota DESC, remain_quota DESC */
    TOKENS_BY_USED_QUOTA,   /* used_quota DESC */
};

/* Inserts t with One API's insert defaults (status 0 -> 1, expired_time 0 -> -1). Stores the
 * id in *id. 0, DB_CONSTRAINT (duplicate key), or < 0. */
int db_tokens_insert(struct db_conn *c, const struct token *t, int64_t *id);
/* Token id of user_id: 1 found (out filled in a), 0 not found, < 0 error. */
int db_tokens_get(struct db_conn *c, struct arena *a, int64_t id, int64_t user_id,
                  struct token *out);
/* A page of user_id's tokens in the given order (ties by id DESC). Array in a. 0 or < 0. */
int db_tokens_list(struct db_conn *c, struct arena *a, int64_t user_id, enum db_tokens_order order,
                   int64_t offset, int64_t limit, struct token **out, size_t *n);
/* user_id's tokens whose name starts with keyword (LIKE 'kw%'), id DESC. 0 or < 0. */
int db_tokens_search(struct db_conn *c, struct arena *a, int64_t user_id, const char *keyword,
                     struct token **out, size_t *n);
/* Writes name, status, expired_time, remain_quota, unlimited_quota, models, subnet and
 * rpm_limit of t to row t->id of t->user_id (zero values and NULLs included). Rows changed (0 or
 * 1), or < 0. */
int64_t db_tokens_update(struct db_conn *c, const struct token *t);
/* Deletes token id of user_id. Rows deleted (0 or 1), or < 0. */
int64_t db_tokens_delete(struct db_conn *c, int64_t id, int64_t user_id);

#endif
