/* users table: One API's accounts. */
#ifndef OA_DB_USERS_H
#define OA_DB_USERS_H
#include <stddef.h>
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

/* ---- sign-up, sign-in through other services, password reset ---- */

/* The columns naming an account at another service. */
enum db_users_ext { DB_USERS_GITHUB, DB_USERS_WECHAT, DB_USERS_LARK, DB_USERS_OIDC };
/* The user whose column ext equals ext_id exactly (the lowest id if several): 1, 0 when none
 * (always for an empty ext_id), < 0 on a database error. */
int db_users_by_ext(struct db_conn *c, struct arena *a, enum db_users_ext ext, const char *ext_id,
                    struct user *out);
/* The user whose invitation code is code: 1, 0 when none (always for ""), < 0 on error. */
int db_users_by_aff_code(struct db_conn *c, struct arena *a, const char *code, struct user *out);
/* Sets column ext of user id to ext_id. 0 or < 0. */
int db_users_set_ext(struct db_conn *c, int64_t id, enum db_users_ext ext, const char *ext_id);
/* Sets the e-mail address of user id. 0 or < 0. */
int db_users_set_email(struct db_conn *c, int64_t id, const char *email);
/* Sets the password hash of every user whose e-mail is email. The number of rows changed,
 * or < 0. */
int64_t db_users_set_password_by_email(struct db_conn *c, const char *email, const char *hash);
/* The highest users.id (0 for none), or < 0 on a database error. */
int64_t db_users_max_id(struct db_conn *c);
/* Orders of a user listing (the `order` query of GET /api/user/). */
enum db_users_order {
    USERS_BY_ID,            /* id DESC (default) */
    USERS_BY_QUOTA,         /* quota DESC */
    USERS_BY_USED_QUOTA,    /* used_quota DESC */
    USERS_BY_REQUEST_COUNT, /* request_count DESC */
};
/* A page of the users that are not deleted (status != 3) in the given order (ties by id
 * DESC). The array lives in a. 0 or < 0. */
int db_users_list(struct db_conn *c, struct arena *a, enum db_users_order order, int64_t offset,
                  int64_t limit, struct user **out, size_t *n);
/* Users (deleted ones included) whose id is id_match (pass -1 for none) or whose username,
 * email or display name starts with keyword (LIKE 'kw%'), id DESC. 0 or < 0. */
int db_users_search(struct db_conn *c, struct arena *a, int64_t id_match, const char *keyword,
                    struct user **out, size_t *n);

/* The columns db_users_update may write: a NULL string or an unset flag keeps the stored
 * value, so that a change never writes back what another request changed meanwhile. */
struct user_change {
    const char *username, *password /* a hash */, *display_name, *email, *group;
    const char *github_id, *wechat_id, *lark_id, *oidc_id;
    int has_role, has_status, has_quota;
    int64_t role, status, quota;
};
/* Writes the set fields of ch to user id. Rows changed (0 or 1), DB_CONSTRAINT (username
 * taken), or < 0. */
int64_t db_users_update(struct db_conn *c, int64_t id, const struct user_change *ch);
/* Sets user id's access token. Rows changed (0 or 1), DB_CONSTRAINT when another user has
 * it, or < 0. */
int64_t db_users_set_access_token(struct db_conn *c, int64_t id, const char *token);
/* Sets user id's aff code unless it has one already. Rows changed (0 when it had one or
 * there is no such user), DB_CONSTRAINT when another user has that code, or < 0. */
int64_t db_users_set_aff_code(struct db_conn *c, int64_t id, const char *code);

/* One row of the caller's dashboard: consumption of one model on one day (UTC). */
struct user_day_stat {
    const char *day; /* YYYY-MM-DD */
    const char *model_name;
    int64_t request_count, quota, prompt_tokens, completion_tokens;
};
/* The consume logs (type 2) of user uid created in [from, to], summed per UTC day and
 * model, ordered by day then model. The array lives in a. 0 or < 0. */
int db_users_day_stats(struct db_conn *c, struct arena *a, int64_t uid, int64_t from, int64_t to,
                       struct user_day_stat **out, size_t *n);

#endif
