/* tokens table: relay keys (spec 4.2). */
#ifndef OA_DB_TOKENS_H
#define OA_DB_TOKENS_H
#include <stdint.h>

struct db_conn;

/* One tokens row for inserts; strings are borrowed. */
struct token {
    int64_t user_id;
    const char *key; /* without sk- */
    int64_t status;
    const char *name;
    int64_t created_time, accessed_time, expired_time;
    int64_t remain_quota;
    int unlimited_quota;
    int64_t used_quota;
    const char *models; /* NULL = all */
    const char *subnet;
};

/* Inserts t with One API's insert defaults (status 0 -> 1, expired_time 0 -> -1). Stores the
 * id in *id. 0, DB_CONSTRAINT (duplicate key), or < 0. */
int db_tokens_insert(struct db_conn *c, const struct token *t, int64_t *id);

#endif
