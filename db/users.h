/* users table: One API's accounts. */
#ifndef OA_DB_USERS_H
#define OA_DB_USERS_H
#include <stdint.h>

struct arena;
struct db_conn;

/* One users row; strings live in the arena given to the reader. */
struct user {
    int64_t id;
    const char *username, *password, *display_name;
    int64_t role, status;
    const char *email, *github_id, *wechat_id, *lark_id, *oidc_id, *access_token;
    int64_t quota, used_quota, request_count;
    const char *group, *aff_code;
    int64_t inviter_id;
};

/* Lookups: 1 found (out filled, strings in a), 0 not found, < 0 database error. */
int db_users_by_id(struct db_conn *c, struct arena *a, int64_t id, struct user *out);
int db_users_by_username(struct db_conn *c, struct arena *a, const char *name, struct user *out);
int db_users_by_email(struct db_conn *c, struct arena *a, const char *email, struct user *out);
int db_users_by_access_token(struct db_conn *c, struct arena *a, const char *tok, struct user *out);
/* users.used_quota of user id: 1 with *out set, 0 when there is no such user, < 0 on a
 * database error. */
int db_users_used_quota(struct db_conn *c, int64_t id, int64_t *out);
/* The e-mail address of the root user (the first user of role 100), copied into a: 1 with
 * *out ("" when it has none), 0 when there is no root user, < 0 on a database error. */
int db_users_root_email(struct db_conn *c, struct arena *a, const char **out);
/* Number of users rows, or < 0 on error. */
int64_t db_users_count(struct db_conn *c);
/* Inserts u with One API's insert defaults (role/status 0 -> 1, empty group -> default).
 * Stores the new id in *id. 0, DB_CONSTRAINT (duplicate), or < 0. */
int db_users_insert(struct db_conn *c, const struct user *u, int64_t *id);

#endif
