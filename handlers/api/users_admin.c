/* users_admin: user management by administrators (list, search, get, create, update, delete,
 * the manage actions) and the top-up of a user's quota through the API. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/respond.h"
#include "db/db.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/jsonin.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <string.h>

static json_object *users_json(const struct user *v, size_t n)
{
    json_object *arr = jnew_arr();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, user_json(&v[i], 0));
    return arr;
}

int users_order_of(const char *order)
{
    if (order && !strcmp(order, "quota"))
        return USERS_BY_QUOTA;
    if (order && !strcmp(order, "used_quota"))
        return USERS_BY_USED_QUOTA;
    if (order && !strcmp(order, "request_count"))
        return USERS_BY_REQUEST_COUNT;
    return USERS_BY_ID;
}

int h_users_list(struct req *r)
{
    int64_t offset = api_page_offset(r);
    struct user *v;
    size_t n;
    if (db_users_list(req_db(r), r->a, users_order_of(req_query(r, "order")), offset, API_PAGE_SIZE,
                      &v, &n) < 0)
        return OA_ERR_DB;
    api_ok(r, users_json(v, n));
    return 0;
}

int users_search(struct req *r, const char *kw, struct user **v, size_t *n)
{
    if (db_users_search(req_db(r), r->a, api_keyword_id(kw), kw ? kw : "", v, n) < 0)
        return OA_ERR_DB;
    return 0;
}

int h_users_search(struct req *r)
{
    struct user *v;
    size_t n;
    int rc = users_search(r, req_query(r, "keyword"), &v, &n);
    if (rc < 0)
        return rc;
    api_ok(r, users_json(v, n));
    return 0;
}

/* Reads user id: 1 found, 0 refused with One API's message in *why, < 0 oa_err. */
static int find_user(struct req *r, int64_t id, struct user *u, const char **why)
{
    if (id == 0) {
        *why = "id 为空！";
        return 0;
    }
    int rc = db_users_by_id(req_db(r), r->a, id, u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        *why = "record not found";
        return 0;
    }
    return 1;
}

/* Whether the caller may act on a user of role target: only on lower roles, except root,
 * who may act on anyone. */
static int outranks(const struct req *r, int64_t target)
{
    return r->role > target || r->role == ROLE_ROOT;
}

int users_get(struct req *r, int64_t id, struct user *u, const char **why)
{
    int rc = find_user(r, id, u, why);
    if (rc <= 0)
        return rc;
    if (!outranks(r, u->role)) {
        *why = "无权获取同级或更高等级用户的信息";
        return 0;
    }
    return 1;
}

/* Answers a refusal (rc 0) with its message; passes other results on. */
static int answer(struct req *r, int rc, const char *why)
{
    if (rc == 0)
        api_fail(r, 200, why);
    return rc;
}

int h_users_get(struct req *r)
{
    int64_t id;
    if (req_path_id(r, 0, &id) < 0) {
        api_fail(r, 200,
                 arena_printf(r->a, "strconv.Atoi: parsing \"%s\": invalid syntax",
                              req_path_param(r, 0)));
        return 0;
    }
    struct user u;
    const char *why = NULL;
    int rc = users_get(r, id, &u, &why);
    if (rc <= 0)
        return answer(r, rc, why);
    api_ok(r, user_json(&u, 0));
    return 0;
}

/* The fields a user body may carry. */
enum user_field {
    UF_ID,
    UF_USERNAME,
    UF_PASSWORD,
    UF_DISPLAY_NAME,
    UF_ROLE,
    UF_STATUS,
    UF_EMAIL,
    UF_GITHUB_ID,
    UF_WECHAT_ID,
    UF_LARK_ID,
    UF_OIDC_ID,
    UF_QUOTA,
    UF_GROUP,
    UF__MAX
};

static const struct jin_field user_fields[UF__MAX] = {
    [UF_ID] = {"id", JIN_INT},
    [UF_USERNAME] = {"username", JIN_STR},
    [UF_PASSWORD] = {"password", JIN_STR},
    [UF_DISPLAY_NAME] = {"display_name", JIN_STR},
    [UF_ROLE] = {"role", JIN_INT},
    [UF_STATUS] = {"status", JIN_INT},
    [UF_EMAIL] = {"email", JIN_STR},
    [UF_GITHUB_ID] = {"github_id", JIN_STR},
    [UF_WECHAT_ID] = {"wechat_id", JIN_STR},
    [UF_LARK_ID] = {"lark_id", JIN_STR},
    [UF_OIDC_ID] = {"oidc_id", JIN_STR},
    [UF_QUOTA] = {"quota", JIN_INT},
    [UF_GROUP] = {"group", JIN_STR},
};

/* The value of a string field when set and not empty, else NULL (not written). */
static const char *str_in(const struct jin_val *in, enum user_field f)
{
    return in[f].is_set && *in[f].s ? in[f].s : NULL;
}

/* Reads the user body into *u; -1 after answering a malformed one. */
static int read_user_body(struct req *r, struct user_input *u)
{
    struct jin_val in[UF__MAX];
    if (jin_read(r->json, user_fields, UF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return -1;
    }
    *u = (struct user_input){.id = in[UF_ID].i,
                             .username = str_in(in, UF_USERNAME),
                             .password = str_in(in, UF_PASSWORD),
                             .display_name = str_in(in, UF_DISPLAY_NAME),
                             .email = str_in(in, UF_EMAIL),
                             .github_id = str_in(in, UF_GITHUB_ID),
                             .wechat_id = str_in(in, UF_WECHAT_ID),
                             .lark_id = str_in(in, UF_LARK_ID),
                             .oidc_id = str_in(in, UF_OIDC_ID),
                             .group = str_in(in, UF_GROUP),
                             .role = in[UF_ROLE].i,
                             .status = in[UF_STATUS].i,
                             .quota = in[UF_QUOTA].i};
    return 0;
}

/* A string of the input when not empty, else NULL (not written). */
static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* The validation failure of the input's fields, or NULL. */
static const char *input_invalid(struct req *r, const struct user_input *in)
{
    const char *why =
        account_invalid(r, nz(in->username), nz(in->display_name), nz(in->email), nz(in->password));
    return why ? arena_printf(r->a, "输入不合法 %s", why) : NULL;
}

int users_create(struct req *r, const struct user_input *in, const char **why)
{
    if (!nz(in->username) || !nz(in->password)) {
        *why = msg_invalid_parameter(r);
        return 0;
    }
    if ((*why = input_invalid(r, in)) != NULL)
        return 0;
    if (in->role >= r->role) {
        *why = "无法创建权限大于等于自己的用户";
        return 0;
    }
    /* Only the name, display name and password are taken: the account is a common user of
     * the default group, whatever role the body asked for. */
    struct user u = {
        .username = in->username, .display_name = nz(in->display_name), .role = ROLE_COMMON};
    int rc = account_create(r, &u, in->password, 0, NULL);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *why = MSG_USERNAME_TAKEN;
        return 0;
    }
    return 1;
}

int h_users_create(struct req *r)
{
    struct user_input in;
    if (read_user_body(r, &in) < 0)
        return 0;
    const char *why = NULL;
    int rc = users_create(r, &in, &why);
    if (rc <= 0)
        return answer(r, rc, why);
    api_ok(r, NULL);
    return 0;
}

int users_update(struct req *r, const struct user_input *in, const char **why)
{
    if (in->id == 0) {
        *why = msg_invalid_parameter(r);
        return 0;
    }
    if ((*why = input_invalid(r, in)) != NULL)
        return 0;
    struct user old;
    int rc = find_user(r, in->id, &old, why);
    if (rc <= 0)
        return rc;
    if (!outranks(r, old.role)) {
        *why = "无权更新同权限等级或更高权限等级的用户信息";
        return 0;
    }
    if (!outranks(r, in->role)) {
        *why = "无权将其他用户权限等级提升到大于等于自己的权限等级";
        return 0;
    }
    /* Every non-zero field is written, as One API's update does; the counters (used quota,
     * request count) and the codes (access token, aff code, inviter) are not the form's. */
    struct user_change ch = {.username = nz(in->username),
                             .display_name = nz(in->display_name),
                             .email = nz(in->email),
                             .group = nz(in->group),
                             .github_id = nz(in->github_id),
                             .wechat_id = nz(in->wechat_id),
                             .lark_id = nz(in->lark_id),
                             .oidc_id = nz(in->oidc_id),
                             .has_role = in->role != 0,
                             .role = in->role,
                             .has_status = in->status != 0,
                             .status = in->status,
                             .has_quota = in->quota != 0,
                             .quota = in->quota};
    char hash[128];
    if (nz(in->password)) {
        if (pw_hash(in->password, hash, sizeof hash) < 0)
            return OA_ERR_INTERNAL;
        ch.password = hash;
    }
    int64_t n = db_users_update(req_db(r), old.id, &ch);
    if (n == DB_CONSTRAINT) {
        *why = MSG_USERNAME_TAKEN;
        return 0;
    }
    if (n < 0)
        return OA_ERR_DB;
    if (ch.has_quota && ch.quota != old.quota) {
        const char *from = account_quota_text(r, old.quota);
        const char *to = account_quota_text(r, ch.quota);
        if (account_log(r, old.id, LOG_MANAGE,
                        arena_printf(r->a, "管理员将用户额度从 %s修改为 %s", from, to)) < 0)
            return OA_ERR_DB;
    }
    return 1;
}

int h_users_update(struct req *r)
{
    struct user_input in;
    if (read_user_body(r, &in) < 0)
        return 0;
    const char *why = NULL;
    int rc = users_update(r, &in, &why);
    if (rc <= 0)
        return answer(r, rc, why);
    api_ok(r, NULL);
    return 0;
}

int h_users_delete(struct req *r)
{
    int64_t id;
    if (req_path_id(r, 0, &id) < 0) {
        api_fail(r, 200,
                 arena_printf(r->a, "strconv.Atoi: parsing \"%s\": invalid syntax",
                              req_path_param(r, 0)));
        return 0;
    }
    struct user u;
    const char *why = NULL;
    int rc = find_user(r, id, &u, &why);
    if (rc <= 0)
        return answer(r, rc, why);
    /* Stricter than the other routes: root cannot delete root either. */
    if (r->role <= u.role) {
        api_fail(r, 200, "无权删除同权限等级或更高权限等级的用户");
        return 0;
    }
    rc = user_soft_delete(r, u.id);
    if (rc < 0)
        return rc;
    api_ok(r, NULL);
    return 0;
}

enum manage_field { MF_USERNAME, MF_ACTION, MF__MAX };

static const struct jin_field manage_fields[MF__MAX] = {
    [MF_USERNAME] = {"username", JIN_STR},
    [MF_ACTION] = {"action", JIN_STR},
};

/* The change one manage action makes to u, or the refusal's message. */
static const char *manage_action(const struct req *r, const char *action, const struct user *u,
                                 struct user_change *ch, int *is_delete)
{
    *is_delete = 0;
    if (!strcmp(action, "disable")) {
        if (u->role == ROLE_ROOT)
            return "无法禁用超级管理员用户";
        ch->has_status = 1;
        ch->status = 2;
    } else if (!strcmp(action, "enable")) {
        ch->has_status = 1;
        ch->status = 1;
    } else if (!strcmp(action, "delete")) {
        if (u->role == ROLE_ROOT)
            return "无法删除超级管理员用户";
        *is_delete = 1;
    } else if (!strcmp(action, "promote")) {
        if (r->role != ROLE_ROOT)
            return "普通管理员用户无法提升其他用户为管理员";
        if (u->role >= ROLE_ADMIN)
            return "该用户已经是管理员";
        ch->has_role = 1;
        ch->role = ROLE_ADMIN;
    } else if (!strcmp(action, "demote")) {
        if (u->role == ROLE_ROOT)
            return "无法降级超级管理员用户";
        if (u->role == ROLE_COMMON)
            return "该用户已经是普通用户";
        ch->has_role = 1;
        ch->role = ROLE_COMMON;
    }
    /* Another action changes nothing and succeeds, as in One API. */
    return NULL;
}

int users_manage(struct req *r, const char *username, const char *action, struct user *u,
                 const char **why)
{
    /* An empty name finds nobody (One API's query would drop the condition and take the
     * first user, root). */
    int rc = 0;
    if (username && *username)
        rc = db_users_by_username(req_db(r), r->a, username, u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        *why = "用户不存在";
        return 0;
    }
    if (!outranks(r, u->role)) {
        *why = "无权更新同权限等级或更高权限等级的用户信息";
        return 0;
    }
    struct user_change ch = {0};
    int is_delete;
    if ((*why = manage_action(r, action ? action : "", u, &ch, &is_delete)) != NULL)
        return 0;
    if (is_delete) {
        if ((rc = user_soft_delete(r, u->id)) < 0)
            return rc;
        u->status = USER_DELETED;
    } else if (ch.has_role || ch.has_status) {
        if (db_users_update(req_db(r), u->id, &ch) < 0)
            return OA_ERR_DB;
        if (ch.has_role)
            u->role = ch.role;
        if (ch.has_status)
            u->status = ch.status;
    }
    return 1;
}

int h_users_manage(struct req *r)
{
    struct jin_val in[MF__MAX];
    if (jin_read(r->json, manage_fields, MF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    struct user u;
    const char *why = NULL;
    int rc = users_manage(r, in[MF_USERNAME].is_set ? in[MF_USERNAME].s : "",
                          in[MF_ACTION].is_set ? in[MF_ACTION].s : "", &u, &why);
    if (rc <= 0)
        return answer(r, rc, why);
    /* One API answers a user object with only role and status filled. */
    struct user shown = {.role = u.role,
                         .status = u.status,
                         .username = "",
                         .display_name = "",
                         .email = "",
                         .github_id = "",
                         .wechat_id = "",
                         .lark_id = "",
                         .oidc_id = "",
                         .access_token = "",
                         .group = "",
                         .aff_code = ""};
    api_ok(r, user_json(&shown, 0));
    return 0;
}

enum topup_field { TF_USER_ID, TF_QUOTA, TF_REMARK, TF__MAX };

static const struct jin_field topup_fields[TF__MAX] = {
    [TF_USER_ID] = {"user_id", JIN_INT},
    [TF_QUOTA] = {"quota", JIN_INT},
    [TF_REMARK] = {"remark", JIN_STR},
};

int h_topup(struct req *r)
{
    struct jin_val in[TF__MAX];
    if (jin_read(r->json, topup_fields, TF__MAX, in) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    int64_t amount = in[TF_QUOTA].i;
    if (amount < 0) {
        api_fail(r, 200, "quota 不能为负数！");
        return 0;
    }
    struct user u;
    int rc = db_users_by_id(req_db(r), r->a, in[TF_USER_ID].i, &u);
    if (rc < 0)
        return OA_ERR_DB;
    /* One API credits nobody and still logs a top-up for an unknown id. */
    if (rc == 0) {
        api_fail(r, 200, "用户不存在");
        return 0;
    }
    const char *remark =
        in[TF_REMARK].is_set && *in[TF_REMARK].s
            ? in[TF_REMARK].s
            : arena_printf(r->a, "通过 API 充值 %s", account_quota_text(r, amount));
    if ((rc = account_credit(r, u.id, amount, LOG_TOPUP, remark, amount)) < 0)
        return rc;
    api_ok(r, NULL);
    return 0;
}
