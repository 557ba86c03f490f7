/* user: login, logout and the caller's own account. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "handlers/session.h"
#include "handlers/throttle.h"
#include "db/users.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/log.h"

#include <json-c/json.h>
#include <string.h>

/* The user object as One API prints it; secrets are blanked unless asked for. */
static json_object *user_json(const struct user *u, int with_secrets)
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

int h_user_login(struct req *r)
{
    struct app *app = req_app(r);
    if (!options_bool(app->opts, "PasswordLoginEnabled")) {
        api_fail(r, 200, "管理员关闭了密码登录");
        return 0;
    }
    const char *name = jstr(r->json, "username");
    const char *pass = jstr(r->json, "password");
    if (!name || !*name || !pass || !*pass) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    int rc = throttle_login_begin(app->login_throttle, r, name);
    if (rc < 0)
        return rc;
    struct user u;
    rc = db_users_by_username(req_db(r), r->a, name, &u);
    if (rc == 0)
        rc = db_users_by_email(req_db(r), r->a, name, &u);
    if (rc < 0)
        return OA_ERR_DB;
    /* An unknown name costs a bcrypt too, so the answer's timing does not tell which names
     * exist. */
    int match = pw_verify(pass, rc == 1 ? u.password : DUMMY_HASH);
    if (rc == 0 || !match || u.status != 1) {
        throttle_login_failed(app->login_throttle, r, name);
        LOG_INFO("login failed for a user from %s", r->client_ip);
        api_fail(r, 200, "用户名或密码错误，或用户已被封禁");
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
