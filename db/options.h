/* options table: the key/value settings the console stores (handlers/options.c). */
#ifndef OA_DB_OPTIONS_H
#define OA_DB_OPTIONS_H

struct db_conn;

/* Calls fn(key, value, ud) for every row. 0 or < 0 on error. */
int db_options_each(struct db_conn *c, void (*fn)(const char *key, const char *value, void *ud),
                    void *ud);
/* Stores value under key, replacing the row of that key (an upsert, one statement). 0 or < 0
 * (enum db_err). */
int db_options_put(struct db_conn *c, const char *key, const char *value);

#endif
