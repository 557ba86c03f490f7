/* channels table: upstream providers; every change keeps its abilities in step. */
#ifndef OA_DB_CHANNELS_H
#define OA_DB_CHANNELS_H
#include <stddef.h>
#include <stdint.h>

struct arena;
struct db_conn;

/* One channels row. Text fields marked nullable are NULL for SQL NULL (JSON null); the
 * others read as "" when NULL. Strings live in the reader's arena or are borrowed. */
struct channel {
    int64_t id;
    int64_t type; /* channel type id (providers/registry.c) */
    const char *key;
    int64_t status; /* 1 enabled, 2 manually disabled, 3 automatically disabled */
    const char *name;
    int64_t weight;
    int has_weight; /* weight is not NULL */
    int64_t created_time, test_time, response_time;
    const char *base_url; /* nullable */
    const char *other;    /* nullable */
    double balance;
    int64_t balance_updated_time;
    const char *models; /* comma list */
    const char *group;  /* comma list */
    int64_t used_quota;
    const char *model_mapping; /* nullable */
    int64_t priority;
    int has_priority; /* priority is not NULL */
    const char *config;
    const char *system_prompt; /* nullable */
};

/* The writable fields of a channel, for partial updates. */
enum channel_field {
    CH_TYPE = 1u << 0,
    CH_KEY = 1u << 1,
    CH_STATUS = 1u << 2,
    CH_NAME = 1u << 3,
    CH_WEIGHT = 1u << 4,
    CH_BASE_URL = 1u << 5,
    CH_OTHER = 1u << 6,
    CH_MODELS = 1u << 7,
    CH_GROUP = 1u << 8,
    CH_MODEL_MAPPING = 1u << 9,
    CH_PRIORITY = 1u << 10,
    CH_CONFIG = 1u << 11,
    CH_SYSTEM_PROMPT = 1u << 12,
};

/* Inserts the n channels of chs and their abilities in one transaction (a batch add is all or
 * nothing), applying One API's insert defaults: status 0 -> 1, empty group -> "default",
 * NULL base_url/model_mapping -> "", no weight/priority -> 0; abilities are built from the
 * defaulted values. ids (may be NULL) receives the new ids. Scratch in a.
 * Returns 0, DB_CONSTRAINT, or < 0. */
int db_channels_insert(struct db_conn *c, struct arena *a, const struct channel *chs, size_t n,
                       int64_t *ids);
/* Writes the fields of ch named in the mask (enum channel_field) to row ch->id, then
 * rebuilds its abilities from the row as stored, in one transaction. Returns 1 when updated,
 * 0 when there is no such channel, < 0 on a database error. */
int db_channels_update(struct db_conn *c, struct arena *a, const struct channel *ch,
                       unsigned fields);
/* Deletes channel id and its abilities in one transaction. Rows deleted (0 or 1), or < 0. */
int64_t db_channels_delete(struct db_conn *c, int64_t id);
/* Deletes every channel with status 2 or 3 and their abilities (One API leaves those behind:
 * docs/compatibility.md) in one transaction. Channels deleted, or < 0. */
int64_t db_channels_delete_disabled(struct db_conn *c);

/* Every channel id, ascending, into an array in a (count in *n). 0 or < 0. */
int db_channels_ids(struct db_conn *c, struct arena *a, int64_t **out, size_t *n);
/* Stores a balance query's result: balance and balance_updated_time of channel id. Rows
 * changed (0 or 1), or < 0. */
int64_t db_channels_set_balance(struct db_conn *c, int64_t id, double balance, int64_t when);

/* One channel: 1 found (out filled in a), 0 not found, < 0 error. with_key 0 reads key as "". */
int db_channels_get(struct db_conn *c, struct arena *a, int64_t id, int with_key,
                    struct channel *out);
/* A page of channels, id descending, keys blanked. Array in a, count in *n. 0 or < 0. */
int db_channels_list(struct db_conn *c, struct arena *a, int64_t offset, int64_t limit,
                     struct channel **out, size_t *n);
/* Channels whose id equals id_kw (pass 0 when the keyword is not a number) or whose name
 * starts with keyword (LIKE 'kw%'), id descending, keys blanked. 0 or < 0. */
int db_channels_search(struct db_conn *c, struct arena *a, const char *keyword, int64_t id_kw,
                       struct channel **out, size_t *n);

#endif
