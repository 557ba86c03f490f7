/* The relay's hot-path reads and its rare writes (token expiry/exhaustion, channel health).
 * Gathered in one file so that a cache can later front all of them at once. */
#ifndef OA_DB_RELAY_H
#define OA_DB_RELAY_H
#include <stdint.h>

struct arena;
struct db_conn;

/* A tokens row as the relay needs it; strings in the arena. */
struct relay_token {
    int64_t id, user_id, status, expired_time, remain_quota, used_quota;
    int64_t rpm_limit; /* relay requests per minute, 0 = no limit */
    int unlimited_quota;
    const char *name, *key, *models, *subnet;
};

/* The owner of a token. */
struct relay_user {
    int64_t id, role, status, quota;
    const char *username, *group;
};

/* A channel as the relay needs it. */
struct relay_channel {
    int64_t id, type, status, priority, weight;
    const char *name, *key, *base_url, *other, *model_mapping, *config, *system_prompt;
    const char *models; /* comma list of served models */
};

/* One enabled channel able to serve (group, model). */
struct relay_candidate {
    int64_t channel_id, priority, weight;
    int64_t type; /* channels.type */
};

/* Lookups: 1 found, 0 not found, < 0 database error. */
int db_relay_token(struct db_conn *c, struct arena *a, const char *key, struct relay_token *out);
int db_relay_user(struct db_conn *c, struct arena *a, int64_t id, struct relay_user *out);
int db_relay_channel(struct db_conn *c, struct arena *a, int64_t id, struct relay_channel *out);
/* Enabled abilities of enabled channels for (group, model), highest priority first.
 * *out is an arena array of *n rows. 0 or < 0. */
int db_relay_candidates(struct db_conn *c, struct arena *a, const char *group, const char *model,
                        struct relay_candidate **out, int *n);
/* What db_relay_reserve found. */
enum { DB_RESERVED = 0, DB_RESERVE_USER_SHORT = 1, DB_RESERVE_TOKEN_SHORT = 2 };
/* Takes amount from users.quota of uid and, when token_id > 0 (a limited key), from
 * tokens.remain_quota of token_id, in one transaction and only where the value stays >= 0
 * (conditional UPDATEs: safe across processes and nodes). Either both are taken or neither.
 * DB_RESERVED, DB_RESERVE_TOKEN_SHORT (reported first when both are short, as One API checks
 * the key first), DB_RESERVE_USER_SHORT, or < 0 on a database error (nothing taken). Must
 * not be called inside a transaction. */
int db_relay_reserve(struct db_conn *c, int64_t uid, int64_t token_id, int64_t amount);
/* Sets a token's status (3 expired, 4 exhausted). 0 or < 0. */
int db_relay_token_status(struct db_conn *c, int64_t id, int64_t status);
/* Sets a channel's status and its abilities' enabled flag in one transaction. When
 * only_if_status >= 0 the change applies only if the current status equals it (auto-enable
 * never revives a channel an admin disabled). Returns rows changed (0/1) or < 0. */
int db_relay_channel_status(struct db_conn *c, int64_t id, int64_t status, int64_t only_if_status);
/* Records a channel test: test_time and response_time (ms). */
int db_relay_channel_tested(struct db_conn *c, int64_t id, int64_t when, int64_t ms);

#endif
