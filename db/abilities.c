/* abilities: derivation of the routing index from a channel's groups and models. */
#include "config.h"
#include "db/abilities.h"
#include "db/db.h"
#include "fcgi/arena.h"
#include "fcgi/strlist.h"

#include <stdlib.h>
#include <string.h>

int64_t db_abilities_delete_channel(struct db_conn *c, int64_t channel_id)
{
    return db_execf(c, "DELETE FROM abilities WHERE channel_id = ?", "i", channel_id);
}

int db_abilities_rebuild(struct db_conn *c, struct arena *a, int64_t channel_id, const char *groups,
                         const char *models, int is_enabled, int64_t priority)
{
    if (db_abilities_delete_channel(c, channel_id) < 0)
        return DB_ERR;
    size_t n_groups, n_models;
    const char **g = strlist_split(a, groups, &n_groups);
    const char **m = strlist_split(a, models, &n_models);
    for (size_t i = 0; i < n_groups; i++) {
        for (size_t j = 0; j < n_models; j++) {
            int64_t rc = db_execf(c,
                                  "INSERT INTO abilities (\"group\", model, channel_id, enabled, "
                                  "priority) VALUES (?, ?, ?, ?, ?)",
                                  "ttibi", g[i], m[j], channel_id, is_enabled, priority);
            if (rc < 0)
                return (int)rc;
        }
    }
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int db_abilities_group_models(struct db_conn *c, struct arena *a, const char *group,
                              int (*keep_type)(int64_t type), const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct db_stmt *st = db_prepare(c, "SELECT DISTINCT a.model, ch.type FROM abilities a "
                                       "LEFT JOIN channels ch ON ch.id = a.channel_id "
                                       "WHERE a.\"group\" = ? AND a.enabled = ?");
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, group);
    db_bind_bool(st, 2, 1);
    size_t cap = 16, k = 0;
    const char **v = arena_alloc(a, cap * sizeof *v);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        if (k + 1 >= cap) {
            v = arena_realloc(a, v, cap * sizeof *v, 2 * cap * sizeof *v);
            cap *= 2;
        }
        if (keep_type && !keep_type(db_col_int64(st, 1)))
            continue;
        const char *s = db_col_text(st, 0);
        v[k++] = arena_strdup(a, s ? s : "");
    }
    db_done(st);
    if (rc < 0)
        return rc;
    /* ORDER BY would follow PostgreSQL's collation; One API sorts bytewise in Go. */
    qsort(v, k, sizeof *v, cmp_str);
    size_t u = 0; /* a model of several channel types came once per type */
    for (size_t i = 0; i < k; i++)
        if (!u || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    k = u;
    v[k] = NULL;
    *out = v;
    *n = k;
    return 0;
}
