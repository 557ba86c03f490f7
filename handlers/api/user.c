/* user: login, logout and the caller's own account. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "handlers/session.h"
#include "handlers/throttle.h"
#include "db/db.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/jsonin.h"
#include "fcgi/log.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

json_object *user_json(const struct user *u, int with_secrets)
{
    json_object *j = jnew_obj();
    json_object_object_add(j, "id", json_object_new_int64(u->id));
    json_object_object_add(j, "username", json_object_new_string(u->username));
    json_object_object_add(j, "password", json_object_new_string(""));
    json_object_object_add(j, "display_name", json_object_new_string(u->display_name));
    json_object_object_add(j, "role", json_object_new_int64(u->role));
    json_object_object_add(j, "status", json_object_new_int64(u->status));
    json_object_object_add(j, "email", json_object_new_string(u->email));
    json_object_object_add(j, "github_id", json_object_new_string(u->github_id));
    json_object_object_add(j, "wechat_id", json_object_new_string(u->wechat_id));
    json_object_object_add(j, "lark_id", json_object_new_string(u->lark_id));
    json_object_object_add(j, "oidc_id", json_object_new_string(u->oidc_id));
    json_object_object_add(j, "verification_code", json_object_new_string(""));
    json_object_object_add(j, "access_token",
                           json_object_new_string(with_secrets ? u->access_token : ""));
    json_object_object_add(j, "quota", json_object_new_int64(u->quota));
    json_object_object_add(j, "used_quota", json_object_new_int64(u->used_quota));
    json_object_object_add(j, "request_count", json_object_new_int64(u->request_count));
    json_object_object_add(j, "group", json_object_new_string(u->group));
    json_object_object_add(j, "aff_code", json_object_new_string(u->aff_code));
    json_object_object_add(j, "inviter_id", json_object_new_int64(u->inviter_id));
    return j;
}

/* A bcrypt hash with One API's cost (10) that no account has. */
#define DUMMY_HASH "$2a$10$VJOQaQfWj3E2kepHl5Guz.YqWkTYf3UhKFnhe02p3GBzQN7RnM7vS"

void user_login_reply(struct req *r, const struct user *u)
{
    session_login(r, u);
    /* Login answers only these fields filled; the rest stay zero, as One API does. */
    struct user shown = {.id = u->id,
                         .username = u->username,
                         .display_name = u->display_name,
                         .role = u->role,
                         .status = u->status,
                         .password = "",
                         .email = "",
                         .github_id = "",
                         .wechat_id = "",
                         .lark_id = "",
                         .oidc_id = "",
                         .access_token = "",
                         .group = "",
                         .aff_code = ""};
    api_ok(r, user_json(&shown, 0));
}

int user_password_check(struct req *r, const char *name, const char *pass, struct user *u,
                        const char **why)
{
    struct app *app = req_app(r);
    if (!options_bool(app->opts, "PasswordLoginEnabled")) {
        *why = "管理员关闭了密码登录";
        return 0;
    }
    if (!name || !*name || !pass || !*pass) {
        *why = msg_invalid_parameter(r);
        return 0;
    }
    int rc = throttle_login_begin(app->login_throttle, r, name);
    if (rc < 0)
        return rc;
    rc = db_users_by_username(req_db(r), r->a, name, u);
    if (rc == 0)
        rc = db_users_by_email(req_db(r), r->a, name, u);
    if (rc < 0)
        return OA_ERR_DB;
    /* An unknown name costs a bcrypt too, so the answer's timing does not tell which names
     * exist. */
    int match = pw_verify(pass, rc == 1 ? u->password : DUMMY_HASH);
    if (rc == 0 || !match || u->status != 1) {
        throttle_login_failed(app->login_throttle, r, name);
        LOG_INFO("login failed for a user from %s", r->client_ip);
        *why = "用户名或密码错误，或用户已被封禁";
        return 0;
    }
    return 1;
}

int h_user_login(struct req *r)
{
    struct user u;
    const char *why = NULL;
    int rc = user_password_check(r, jstr(r->json, "username"), jstr(r->json, "password"), &u, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    user_login_reply(r, &u);
    return 0;
}

int h_user_logout(struct req *r)
{
    session_logout(r);
    api_ok(r, NULL);
    return 0;
}

int user_of_caller(struct req *r, struct user *u)
{
    int rc = db_users_by_id(req_db(r), r->a, r->user_id, u);
    if (rc < 0)
        return OA_ERR_DB;
    return rc == 0 ? OA_ERR_NO_LOGIN : 0; /* deleted since the session was made */
}

int h_user_self(struct req *r)
{
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    api_ok(r, user_json(&u, 0));
    return 0;
}

int user_soft_delete(struct req *r, int64_t id)
{
    char uuid[33];
    uuid_hex(uuid);
    struct user_change ch = {.username = arena_printf(r->a, "deleted_%s", uuid),
                             .has_status = 1,
                             .status = USER_DELETED};
    return db_users_update(req_db(r), id, &ch) < 0 ? OA_ERR_DB : 0;
}

/* The fields PUT /api/user/self takes. */
enum self_field { SF_USERNAME, SF_DISPLAY_NAME, SF_PASSWORD, SF__MAX };

static const struct jin_field self_fields[SF__MAX] = {
    [SF_USERNAME] = {"username", JIN_STR},
    [SF_DISPLAY_NAME] = {"display_name", JIN_STR},
    [SF_PASSWORD] = {"password", JIN_STR},
};

/* s when set and not empty, else NULL: One API writes only the non-empty fields. */
static const char *nonempty(const struct jin_val *v)
{
    return v->is_set && *v->s ? v->s : NULL;
}

int user_self_update(struct req *r, const char *username, const char *display_name,
                     const char *pass, const char **why)
{
    struct user_change ch = {.username = username && *username ? username : NULL,
                             .display_name = display_name && *display_name ? display_name : NULL};
    if (pass && !*pass)
        pass = NULL;
    const char *bad = account_invalid(r, ch.username, ch.display_name, NULL, pass);
    if (bad) {
        *why = arena_printf(r->a, "输入不合法 %s", bad);
        return 0;
    }
    char hash[128];
    if (pass) {
        if (pw_hash(pass, hash, sizeof hash) < 0)
            return OA_ERR_INTERNAL;
        ch.password = hash;
    }
    int64_t rc = db_users_update(req_db(r), r->user_id, &ch);
    if (rc == DB_CONSTRAINT) {
        *why = MSG_USERNAME_TAKEN;
        return 0;
    }
    if (rc < 0)
        return OA_ERR_DB;
    /* The session cookie is bound to the password hash: a browser that changed its password
     * gets a fresh cookie instead of being logged out by its own change. */
    if (pass && r->cred == REQ_CRED_COOKIE) {
        struct user u;
        int found = user_of_caller(r, &u);
        if (found < 0)
            return found;
        session_login(r, &u);
    }
    return 1;
}

int h_user_self_update(struct req *r)
{
    struct jin_val in[SF__MAX];
    if (jin_read(r->json, self_fields, SF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    const char *why = NULL;
    int rc = user_self_update(r, nonempty(&in[SF_USERNAME]), nonempty(&in[SF_DISPLAY_NAME]),
                              nonempty(&in[SF_PASSWORD]), &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}

int user_self_delete(struct req *r, const char **why)
{
    if (r->role == ROLE_ROOT) {
        *why = "不能删除超级管理员账户";
        return 0;
    }
    int rc = user_soft_delete(r, r->user_id);
    if (rc < 0)
        return rc;
    if (r->cred == REQ_CRED_COOKIE)
        session_logout(r);
    return 1;
}

int h_user_self_delete(struct req *r)
{
    const char *why = NULL;
    int rc = user_self_delete(r, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}

int user_access_token_new(struct req *r, char tok[33], const char **why)
{
    uuid_hex(tok);
    int64_t rc = db_users_set_access_token(req_db(r), r->user_id, tok);
    if (rc == DB_CONSTRAINT) {
        *why = "请重试，系统生成的 UUID 竟然重复了！";
        return 0;
    }
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0)
        return OA_ERR_NO_LOGIN; /* deleted since it authenticated */
    return 1;
}

int h_user_token(struct req *r)
{
    char tok[33];
    const char *why = NULL;
    int rc = user_access_token_new(r, tok, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    api_ok(r, json_object_new_string(tok));
    return 0;
}

int user_aff_code(struct req *r, const char **code, const char **why)
{
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    /* A code drawn at random may be another user's (4 characters): draw again. */
    for (int attempt = 0; !*u.aff_code && attempt < 5; attempt++) {
        char fresh[5];
        account_aff_code(fresh);
        int64_t n = db_users_set_aff_code(req_db(r), u.id, fresh);
        if (n == DB_CONSTRAINT)
            continue;
        if (n < 0)
            return OA_ERR_DB;
        /* Read back: a concurrent request of the same user may have set one first. */
        if ((rc = user_of_caller(r, &u)) < 0)
            return rc;
    }
    if (!*u.aff_code) {
        *why = "请重试，系统生成的邀请码重复了";
        return 0;
    }
    *code = u.aff_code;
    return 1;
}

int h_user_aff(struct req *r)
{
    const char *code = NULL, *why = NULL;
    int rc = user_aff_code(r, &code, &why);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        api_fail(r, 200, why);
        return 0;
    }
    api_ok(r, json_object_new_string(code));
    return 0;
}

#define DAY_SECONDS 86400

int user_week_stats(struct req *r, struct user_day_stat **v, size_t *n)
{
    /* The last 7 days in UTC: from 00:00 six days ago to 23:59:59 today. */
    int64_t now = (int64_t)time(NULL);
    int64_t today = now - now % DAY_SECONDS;
    return db_users_day_stats(req_db(r), r->a, r->user_id, today - 6 * DAY_SECONDS,
                              today + DAY_SECONDS - 1, v, n) < 0
               ? -1
               : 0;
}

int h_user_dashboard(struct req *r)
{
    struct user_day_stat *v;
    size_t n;
    if (user_week_stats(r, &v, &n) < 0) {
        api_fail(r, 200, "无法获取统计信息");
        return 0;
    }
    /* Capitalised keys: One API's struct has no JSON tags. */
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++) {
        json_object *j = jnew_obj();
        json_object_object_add(j, "Day", json_object_new_string(v[i].day));
        json_object_object_add(j, "ModelName", json_object_new_string(v[i].model_name));
        json_object_object_add(j, "RequestCount", json_object_new_int64(v[i].request_count));
        json_object_object_add(j, "Quota", json_object_new_int64(v[i].quota));
        json_object_object_add(j, "PromptTokens", json_object_new_int64(v[i].prompt_tokens));
        json_object_object_add(j, "CompletionTokens",
                               json_object_new_int64(v[i].completion_tokens));
        json_object_array_add(arr, j);
    }
    api_ok(r, arr);
    return 0;
}
