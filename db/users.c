/* users: lookups and inserts of One API's users rows. */
#include "config.h"
#include "db/users.h"
#include "db/db.h"
#include "fcgi/arena.h"

#include <string.h>

#define ROOT_ROLE 100 /* users.role of the root user */

#define USER_COLS                                                                                  \
    "id, username, password, display_name, role, status, email, github_id, wechat_id, "            \
    "lark_id, oidc_id, access_token, quota, used_quota, request_count, \"group\", aff_code, "      \
    "inviter_id"

static void read_user(struct db_stmt *st, struct arena *a, void *row)
{
    struct user *u = row;
    u->id = db_col_int64(st, 0);
    u->username = db_col_str(st, 1, a);
    u->password = db_col_str(st, 2, a);
    u->display_name = db_col_str(st, 3, a);
    u->role = db_col_int64(st, 4);
    u->status = db_col_int64(st, 5);
    u->email = db_col_str(st, 6, a);
    u->github_id = db_col_str(st, 7, a);
    u->wechat_id = db_col_str(st, 8, a);
    u->lark_id = db_col_str(st, 9, a);
    u->oidc_id = db_col_str(st, 10, a);
    u->access_token = db_col_str(st, 11, a);
    u->quota = db_col_int64(st, 12);
    u->used_quota = db_col_int64(st, 13);
    u->request_count = db_col_int64(st, 14);
    u->group = db_col_str(st, 15, a);
    u->aff_code = db_col_str(st, 16, a);
    u->inviter_id = db_col_int64(st, 17);
}

/* Runs a one-parameter SELECT of USER_COLS and reads the first row. */
static int lookup(struct db_conn *c, struct arena *a, const char *sql, const char *text,
                  int64_t num, struct user *out)
{
    struct db_stmt *st = db_prepare(c, sql); /* safe-for-sql: a literal SELECT of callers */
    if (!st)
        return DB_ERR;
    if (text)
        db_bind_text(st, 1, text);
    else
        db_bind_int64(st, 1, num);
    return db_read_one(st, a, read_user, out);
}

int db_users_by_id(struct db_conn *c, struct arena *a, int64_t id, struct user *out)
{
    return lookup(c, a, "SELECT " USER_COLS " FROM users WHERE id = ?", NULL, id, out);
}

int db_users_by_username(struct db_conn *c, struct arena *a, const char *name, struct user *out)
{
    return lookup(c, a, "SELECT " USER_COLS " FROM users WHERE username = ?", name, 0, out);
}

int db_users_by_email(struct db_conn *c, struct arena *a, const char *email, struct user *out)
{
    if (!email || !*email)
        return 0;
    return lookup(c, a, "SELECT " USER_COLS " FROM users WHERE email = ? ORDER BY id LIMIT 1",
                  email, 0, out);
}

int db_users_by_access_token(struct db_conn *c, struct arena *a, const char *tok, struct user *out)
{
    if (!tok || !*tok)
        return 0;
    return lookup(c, a, "SELECT " USER_COLS " FROM users WHERE access_token = ?", tok, 0, out);
}

int db_users_used_quota(struct db_conn *c, int64_t id, int64_t *out)
{
    struct db_stmt *st = db_prepare(c, "SELECT used_quota FROM users WHERE id = ?");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, id);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *out = db_col_int64(st, 0);
    db_done(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}

int db_users_root_email(struct db_conn *c, struct arena *a, const char **out)
{
    struct db_stmt *st =
        db_prepare(c, "SELECT email FROM users WHERE role = ? ORDER BY id LIMIT 1");
    if (!st)
        return DB_ERR;
    db_bind_int64(st, 1, ROOT_ROLE);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *out = db_col_str(st, 0, a);
    db_done(st);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : rc;
}

int64_t db_users_count(struct db_conn *c)
{
    struct db_stmt *st = db_prepare(c, "SELECT COUNT(*) FROM users");
    if (!st)
        return DB_ERR;
    int rc = db_step(st);
    int64_t n = rc == DB_ROW ? db_col_int64(st, 0) : DB_ERR;
    db_done(st);
    return n;
}

static void bind_text_or_null(struct db_stmt *st, int i, const char *s)
{
    /* GORM writes "" for unset strings; NULL would break One API's equality lookups. */
    db_bind_text(st, i, s ? s : "");
}

int db_users_insert(struct db_conn *c, const struct user *u, int64_t *id)
{
    struct db_stmt *st =
        db_prepare(c, "INSERT INTO users (username, password, display_name, role, status, email, "
                      "github_id, wechat_id, lark_id, oidc_id, access_token, quota, used_quota, "
                      "request_count, \"group\", aff_code, inviter_id) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    if (!st)
        return DB_ERR;
    bind_text_or_null(st, 1, u->username);
    bind_text_or_null(st, 2, u->password);
    bind_text_or_null(st, 3, u->display_name);
    db_bind_int64(st, 4, u->role ? u->role : 1);
    db_bind_int64(st, 5, u->status ? u->status : 1);
    bind_text_or_null(st, 6, u->email);
    bind_text_or_null(st, 7, u->github_id);
    bind_text_or_null(st, 8, u->wechat_id);
    bind_text_or_null(st, 9, u->lark_id);
    bind_text_or_null(st, 10, u->oidc_id);
    /* access_token and aff_code are UNIQUE: an empty one is stored as NULL so that several
     * users without one do not collide (GORM's "" would). */
    if (u->access_token && *u->access_token)
        db_bind_text(st, 11, u->access_token);
    else
        db_bind_null(st, 11);
    db_bind_int64(st, 12, u->quota);
    db_bind_int64(st, 13, u->used_quota);
    db_bind_int64(st, 14, u->request_count);
    db_bind_text(st, 15, u->group && *u->group ? u->group : "default");
    if (u->aff_code && *u->aff_code)
        db_bind_text(st, 16, u->aff_code);
    else
        db_bind_null(st, 16);
    db_bind_int64(st, 17, u->inviter_id);
    int rc = db_step(st);
    if (rc == DB_ROW && id)
        *id = db_col_int64(st, 0);
    db_done(st);
    return rc == DB_ROW ? 0 : rc == DB_DONE ? DB_ERR : rc;
}

/* ---------------------------------------------------------------- other services */

int db_users_by_ext(struct db_conn *c, struct arena *a, enum db_users_ext ext, const char *ext_id,
                    struct user *out)
{
    if (!ext_id || !*ext_id)
        return 0; /* "" is every account that never bound one */
    static const char *const sql[] = {
        [DB_USERS_GITHUB] =
            "SELECT " USER_COLS " FROM users WHERE github_id = ? ORDER BY id LIMIT 1",
        [DB_USERS_WECHAT] =
            "SELECT " USER_COLS " FROM users WHERE wechat_id = ? ORDER BY id LIMIT 1",
        [DB_USERS_LARK] = "SELECT " USER_COLS " FROM users WHERE lark_id = ? ORDER BY id LIMIT 1",
        [DB_USERS_OIDC] = "SELECT " USER_COLS " FROM users WHERE oidc_id = ? ORDER BY id LIMIT 1",
    };
    return lookup(c, a, sql[ext], ext_id, 0, out);
}

int db_users_by_aff_code(struct db_conn *c, struct arena *a, const char *code, struct user *out)
{
    if (!code || !*code)
        return 0;
    return lookup(c, a, "SELECT " USER_COLS " FROM users WHERE aff_code = ?", code, 0, out);
}

int db_users_set_ext(struct db_conn *c, int64_t id, enum db_users_ext ext, const char *ext_id)
{
    int64_t n = DB_ERR;
    switch (ext) {
    case DB_USERS_GITHUB:
        n = db_execf(c, "UPDATE users SET github_id = ? WHERE id = ?", "ti", ext_id, id);
        break;
    case DB_USERS_WECHAT:
        n = db_execf(c, "UPDATE users SET wechat_id = ? WHERE id = ?", "ti", ext_id, id);
        break;
    case DB_USERS_LARK:
        n = db_execf(c, "UPDATE users SET lark_id = ? WHERE id = ?", "ti", ext_id, id);
        break;
    case DB_USERS_OIDC:
        n = db_execf(c, "UPDATE users SET oidc_id = ? WHERE id = ?", "ti", ext_id, id);
        break;
    }
    return n < 0 ? DB_ERR : 0;
}

int db_users_set_email(struct db_conn *c, int64_t id, const char *email)
{
    return db_execf(c, "UPDATE users SET email = ? WHERE id = ?", "ti", email, id) < 0 ? DB_ERR : 0;
}

int64_t db_users_set_password_by_email(struct db_conn *c, const char *email, const char *hash)
{
    if (!email || !*email)
        return 0;
    return db_execf(c, "UPDATE users SET password = ? WHERE email = ?", "tt", hash, email);
}

int64_t db_users_max_id(struct db_conn *c)
{
    struct db_stmt *st = db_prepare(c, "SELECT COALESCE(MAX(id), 0) FROM users");
    if (!st)
        return DB_ERR;
    int rc = db_step(st);
    int64_t n = rc == DB_ROW ? db_col_int64(st, 0) : DB_ERR;
    db_done(st);
    return n;
}
