/* options: read every row of the options table. */
#include "config.h"
#include "db/options.h"
#include "db/db.h"

int db_options_each(struct db_conn *c, void (*fn)(const char *key, const char *value, void *ud),
                    void *ud)
{
    struct db_stmt *st = db_prepare(c, "SELECT \"key\", value FROM options");
    if (!st)
        return DB_ERR;
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *k = db_col_text(st, 0), *v = db_col_text(st, 1);
        if (k)
            fn(k, v ? v : "", ud);
    }
    db_done(st);
    return rc < 0 ? rc : 0;
}

int db_options_put(struct db_conn *c, const char *key, const char *value)
{
    int64_t n = db_execf(c,
                         "INSERT INTO options (\"key\", value) VALUES (?, ?) "
                         "ON CONFLICT (\"key\") DO UPDATE SET value = excluded.value",
                         "tt", key, value);
    return n < 0 ? (int)n : 0;
}
