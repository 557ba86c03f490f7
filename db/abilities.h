/* abilities table: the routing index derived from channels, one row per (group, model,
 * channel). */
#ifndef OA_DB_ABILITIES_H
#define OA_DB_ABILITIES_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct db_conn;

/* Replaces channel_id's ability rows by one per (group, model) pair of the comma lists
 * groups and models (split by strlist_split: trimmed, empty names and repeats dropped), with
 * enabled and priority copied from the channel. Must run inside the caller's transaction, so that a
 * failure leaves the old rows. Scratch memory from a. Returns 0, or < 0 on a database error. */
int db_abilities_rebuild(struct db_conn *c, struct arena *a, int64_t channel_id, const char *groups,
                         const char *models, int is_enabled, int64_t priority);
/* Deletes every ability row of channel_id. Rows deleted, or < 0. */
int64_t db_abilities_delete_channel(struct db_conn *c, int64_t channel_id);
/* The distinct models with an enabled ability in group, sorted bytewise ascending (as Go's
 * sort.Strings, the same on SQLite and PostgreSQL). When keep_type is not NULL, only the
 * abilities of channels whose type it accepts count. Array (NULL-terminated) and strings in a;
 * count in *n. Returns 0, or < 0 on a database error. */
int db_abilities_group_models(struct db_conn *c, struct arena *a, const char *group,
                              int (*keep_type)(int64_t type), const char ***out, size_t *n);

#endif
