/* oauth: sign-in, sign-up and binding through GitHub, Feishu/Lark, OIDC and a WeChat
 * Server, and binding a mailed-code-verified e-mail address.
 *
 * The OAuth state lives in a signed HttpOnly cookie of its own ("oa_oauth_state"), so only the
 * browser that asked for it can complete the round trip, and it serves once. Accounts are
 * found by the external id alone, compared exactly; a generated username that is taken
 * fails instead of reaching the existing account. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/relay/upstream.h"
#include "handlers/respond.h"
#include "handlers/session.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#define OAUTH_TIMEOUT_S 5       /* every call to another service, as One API */
#define OAUTH_STATE_TTL 1800    /* the sign-in round trip through the provider */
#define OAUTH_ANSWER_MAX 262144 /* a token or a profile: small */

int oauth_http(struct req *r, const char *url, const char *ctype_header, const char *body,
               const char *auth_header, struct json_object **out, char *err, size_t errlen)
{
    req_db_release(r); /* no connection held while another service thinks */
    struct prov_request rq = {.url = url};
    if (body) {
        rq.body = body;
        rq.body_len = strlen(body);
    }
    rq.headers[rq.n_headers++] = "Accept: application/json";
    if (ctype_header)
        rq.headers[rq.n_headers++] = ctype_header;
    if (auth_header)
        rq.headers[rq.n_headers++] = auth_header;
    struct upstream_answer ans;
    sb_init(&ans.body, r->a);
    if (!url || !*url) {
        snprintf(err, errlen, "no URL configured");
        return -1;
    }
    if (upstream_fetch(req_curl(r), &rq, OAUTH_TIMEOUT_S, "", OAUTH_ANSWER_MAX, NULL, NULL, &ans,
                       err, errlen) != UPSTREAM_OK)
        return -1;
    const char *why = NULL;
    json_object *j = jown(r->a, jparse(ans.body.p ? ans.body.p : "", ans.body.len, 32, &why));
    if (!j) {
        snprintf(err, errlen, "HTTP %ld, not JSON: %s", ans.status, why ? why : "");
        return -1;
    }
    *out = j;
    return 0;
}

/* An account at another service, strings in r's arena. */
struct ext_user {
    const char *id;       /* GitHub login, Feishu open_id, OIDC sub, WeChat id */
    const char *name;     /* display name, may be "" */
    const char *email;    /* may be "" */
    const char *username; /* OIDC preferred_username, may be "" */
};

struct provider_def {
    const char *key;          /* for log lines */
    enum db_users_ext ext;    /* the users column */
    const char *flag;         /* option that must be true, or NULL (Feishu has none) */
    const char *disabled_msg; /* when flag is false */
    const char *net_msg;      /* the service could not be reached */
    const char *bound_msg;    /* the external id belongs to an account already */
    const char *prefix;       /* generated usernames: prefix + (max id + 1) */
    const char *display;      /* display name when the service gives none */
    /* Exchanges code for the account; 0, or -1 with the message to answer in *msg. */
    int (*fetch)(struct req *r, const struct provider_def *p, const char *code, struct ext_user *eu,
                 const char **msg);
};

static const char *str_or_empty(json_object *o, const char *key)
{
    const char *s = jstr(o, key);
    return s ? s : "";
}

/* The authorization-code exchange One API does for every provider: a JSON POST, then a GET
 * of the profile with the access token. 0 with *profile, or -1 with *msg. */
static int code_to_profile(struct req *r, const struct provider_def *p, const char *token_url,
                           json_object *token_body, const char *profile_url, json_object **profile,
                           const char **msg)
{
    char err[256];
    json_object *tok = NULL;
    const char *body = jdump(r->a, token_body, NULL);
    if (oauth_http(r, token_url, "Content-Type: application/json", body, NULL, &tok, err,
                   sizeof err) < 0) {
        LOG_WARN("%s sign-in: the token endpoint failed: %s", p->key, err);
        *msg = p->net_msg;
        return -1;
    }
    const char *access = str_or_empty(tok, "access_token");
    if (oauth_http(r, profile_url, NULL, NULL,
                   arena_printf(r->a, "Authorization: Bearer %s", access), profile, err,
                   sizeof err) < 0) {
        LOG_WARN("%s sign-in: the user endpoint failed: %s", p->key, err);
        *msg = p->net_msg;
        return -1;
    }
    return 0;
}

/* The token request's client credentials and code (and, with redirect, OAuth's
 * grant_type and redirect_uri), as One API sends them. */
static json_object *token_body(struct req *r, const char *id_key, const char *secret_key,
                               const char *code, const char *redirect)
{
    struct app *app = req_app(r);
    json_object *b = jown(r->a, jnew_obj());
    json_object_object_add(b, "client_id",
                           json_object_new_string(options_get(app->opts, r->a, id_key)));
    json_object_object_add(b, "client_secret",
                           json_object_new_string(options_get(app->opts, r->a, secret_key)));
    json_object_object_add(b, "code", json_object_new_string(code));
    if (redirect) {
        const char *addr = options_get(app->opts, r->a, "ServerAddress");
        json_object_object_add(b, "grant_type", json_object_new_string("authorization_code"));
        json_object_object_add(
            b, "redirect_uri",
            json_object_new_string(arena_printf(r->a, "%s/oauth/%s",
                                                *addr ? addr : "http://localhost:3000", redirect)));
    }
    return b;
}

static int fetch_github(struct req *r, const struct provider_def *p, const char *code,
                        struct ext_user *eu, const char **msg)
{
    const struct config *cfg = req_app(r)->cfg;
    json_object *u;
    if (code_to_profile(r, p, cfg_str(cfg, CFG_GITHUB_OAUTH_TOKEN_URL),
                        token_body(r, "GitHubClientId", "GitHubClientSecret", code, NULL),
                        cfg_str(cfg, CFG_GITHUB_USER_URL), &u, msg) < 0)
        return -1;
    *eu = (struct ext_user){str_or_empty(u, "login"), str_or_empty(u, "name"),
                            str_or_empty(u, "email"), ""};
    return 0;
}

static int fetch_lark(struct req *r, const struct provider_def *p, const char *code,
                      struct ext_user *eu, const char **msg)
{
    const struct config *cfg = req_app(r)->cfg;
    json_object *u;
    if (code_to_profile(r, p, cfg_str(cfg, CFG_LARK_OAUTH_TOKEN_URL),
                        token_body(r, "LarkClientId", "LarkClientSecret", code, "lark"),
                        cfg_str(cfg, CFG_LARK_USER_INFO_URL), &u, msg) < 0)
        return -1;
    *eu = (struct ext_user){str_or_empty(u, "open_id"), str_or_empty(u, "name"), "", ""};
    return 0;
}

static int fetch_oidc(struct req *r, const struct provider_def *p, const char *code,
                      struct ext_user *eu, const char **msg)
{
    struct options *o = req_app(r)->opts;
    json_object *u;
    if (code_to_profile(r, p, options_get(o, r->a, "OidcTokenEndpoint"),
                        token_body(r, "OidcClientId", "OidcClientSecret", code, "oidc"),
                        options_get(o, r->a, "OidcUserinfoEndpoint"), &u, msg) < 0)
        return -1;
    *eu = (struct ext_user){str_or_empty(u, "sub"), str_or_empty(u, "name"),
                            str_or_empty(u, "email"), str_or_empty(u, "preferred_username")};
    return 0;
}

/* The WeChat Server turns the code the user read off the official account into an id. */
static int fetch_wechat(struct req *r, const struct provider_def *p, const char *code,
                        struct ext_user *eu, const char **msg)
{
    struct app *app = req_app(r);
    struct strbuf url;
    sb_init(&url, r->a);
    sb_puts(&url, options_get(app->opts, r->a, "WeChatServerAddress"));
    SB_LIT(&url, "/api/wechat/user?code=");
    sb_url(&url, code);
    const char *token = options_get(app->opts, r->a, "WeChatServerToken");
    if (strpbrk(token, "\r\n"))
        token = ""; /* a line break would start another header */
    json_object *ans = NULL;
    char err[256];
    if (oauth_http(r, url.p, NULL, NULL, arena_printf(r->a, "Authorization: %s", token), &ans, err,
                   sizeof err) < 0) {
        LOG_WARN("%s sign-in: the WeChat Server failed: %s", p->key, err);
        *msg = p->net_msg;
        return -1;
    }
    json_object *ok = jget(ans, "success");
    if (!ok || !json_object_get_boolean(ok)) {
        const char *m = jstr(ans, "message");
        *msg = m && *m ? m : "验证码错误或已过期";
        return -1;
    }
    const char *id = jstr(ans, "data");
    if (!id || !*id) {
        *msg = "验证码错误或已过期";
        return -1;
    }
    *eu = (struct ext_user){id, "", "", ""};
    return 0;
}

static const struct provider_def GITHUB = {"GitHub",
                                           DB_USERS_GITHUB,
                                           "GitHubOAuthEnabled",
                                           "管理员未开启通过 GitHub 登录以及注册",
                                           "无法连接至 GitHub 服务器，请稍后重试！",
                                           "该 GitHub 账户已被绑定",
                                           "github_",
                                           "GitHub User",
                                           fetch_github};
static const struct provider_def LARK = {"Lark",
                                         DB_USERS_LARK,
                                         NULL,
                                         NULL,
                                         "无法连接至飞书服务器，请稍后重试！",
                                         "该飞书账户已被绑定",
                                         "lark_",
                                         "Lark User",
                                         fetch_lark};
static const struct provider_def OIDC = {"OIDC",
                                         DB_USERS_OIDC,
                                         "OidcEnabled",
                                         "管理员未开启通过 OIDC 登录以及注册",
                                         "无法连接至 OIDC 服务器，请稍后重试！",
                                         "该 OIDC 账户已被绑定",
                                         "oidc_",
                                         "OIDC User",
                                         fetch_oidc};
static const struct provider_def WECHAT = {"WeChat",
                                           DB_USERS_WECHAT,
                                           "WeChatAuthEnabled",
                                           "管理员未开启通过微信登录以及注册",
                                           "无法连接至微信服务器，请稍后重试！",
                                           "该微信账号已被绑定",
                                           "wechat_",
                                           "WeChat User",
                                           fetch_wechat};

/* The feature flag, the code, and the exchange: 0 with *eu, or 1 refused with *msg. */
static int external_user(struct req *r, const struct provider_def *p, const char *code,
                         struct ext_user *eu, const char **msg)
{
    if (p->flag && !options_bool(req_app(r)->opts, p->flag)) {
        *msg = p->disabled_msg;
        return 1;
    }
    if (!code || !*code) {
        *msg = "无效的参数";
        return 1;
    }
    if (p->fetch(r, p, code, eu, msg) < 0)
        return 1;
    if (!eu->id || !*eu->id) {
        *msg = "返回值非法，用户字段为空，请稍后重试！";
        return 1;
    }
    return 0;
}

/* Binds eu's id to the caller (r->user_id) unless another account has it: 0, 1 with *msg, or
 * an oa_err. */
static int bind_ext(struct req *r, const struct provider_def *p, const struct ext_user *eu,
                    const char **msg)
{
    struct user other;
    int rc = db_users_by_ext(req_db(r), r->a, p->ext, eu->id, &other);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 1) {
        *msg = p->bound_msg;
        return 1;
    }
    if (db_users_set_ext(req_db(r), r->user_id, p->ext, eu->id) < 0)
        return OA_ERR_DB;
    LOG_INFO("user %lld bound a %s account", (long long)r->user_id, p->key);
    return 0;
}

/* The account bound to eu's id in *u, opening one when there is none and sign-up is on: 0, 1
 * with *msg, or an oa_err. */
static int login_ext(struct req *r, const struct provider_def *p, const struct ext_user *eu,
                     struct user *u, const char **msg)
{
    struct app *app = req_app(r);
    int rc = db_users_by_ext(req_db(r), r->a, p->ext, eu->id, u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        if (!options_bool(app->opts, "RegisterEnabled")) {
            *msg = "管理员关闭了新用户注册";
            return 1;
        }
        int64_t max = db_users_max_id(req_db(r));
        if (max < 0)
            return OA_ERR_DB;
        struct user nu = {.username =
                              eu->username && *eu->username
                                  ? eu->username
                                  : arena_printf(r->a, "%s%lld", p->prefix, (long long)max + 1),
                          .display_name = eu->name && *eu->name ? eu->name : p->display,
                          .email = eu->email ? eu->email : "",
                          .role = ROLE_COMMON,
                          .status = 1};
        switch (p->ext) {
        case DB_USERS_GITHUB: nu.github_id = eu->id; break;
        case DB_USERS_WECHAT: nu.wechat_id = eu->id; break;
        case DB_USERS_LARK: nu.lark_id = eu->id; break;
        case DB_USERS_OIDC: nu.oidc_id = eu->id; break;
        }
        int64_t id = 0;
        rc = account_create(r, &nu, NULL, 0, &id);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *msg = MSG_USERNAME_TAKEN;
            return 1;
        }
        LOG_INFO("user %lld signed up through %s from %s", (long long)id, p->key, r->client_ip);
        rc = db_users_by_id(req_db(r), r->a, id, u);
        if (rc <= 0)
            return OA_ERR_DB;
    }
    if (u->status != 1) {
        *msg = "用户已被封禁";
        return 1;
    }
    return 0;
}

int oauth_complete(struct req *r, const char *provider, const char *code, int bind, struct user *u,
                   const char **msg)
{
    const struct provider_def *p = !strcmp(provider, "github")   ? &GITHUB
                                   : !strcmp(provider, "lark")   ? &LARK
                                   : !strcmp(provider, "oidc")   ? &OIDC
                                   : !strcmp(provider, "wechat") ? &WECHAT
                                                                 : NULL;
    if (!p) {
        *msg = "无效的参数";
        return 1;
    }
    struct ext_user eu;
    if (external_user(r, p, code, &eu, msg))
        return 1;
    return bind ? bind_ext(r, p, &eu, msg) : login_ext(r, p, &eu, u, msg);
}

/* The API's answer to a round trip's return: One API's bind message ("bind" for the OAuth
 * providers, "" for WeChat), or the signed-in user. */
static int api_complete(struct req *r, const char *provider, int bind)
{
    struct user u;
    const char *msg = NULL;
    int rc = oauth_complete(r, provider, req_query(r, "code"), bind, &u, &msg);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        api_fail(r, 200, msg);
        return 0;
    }
    if (!bind) {
        user_login_reply(r, &u);
        return 0;
    }
    json_object *j = jnew_obj();
    json_object_object_add(j, "success", json_object_new_boolean(1));
    json_object_object_add(j, "message",
                           json_object_new_string(strcmp(provider, "wechat") ? "bind" : ""));
    respond_json(r, 200, j);
    json_object_put(j);
    return 0;
}

const char *oauth_state_new(struct req *r)
{
    char state[13];
    random_alnum(state, 12);
    state[12] = '\0';
    session_flow_set(r, "oauth_state", state, OAUTH_STATE_TTL);
    return arena_strdup(r->a, state);
}

int h_oauth_state(struct req *r)
{
    api_ok(r, json_object_new_string(oauth_state_new(r)));
    return 0;
}

int oauth_state_ok(struct req *r)
{
    const char *state = req_query(r, "state");
    const char *want = session_flow_get(r, "oauth_state");
    if (!state || !*state || !want || !ct_streq(state, want))
        return 0;
    session_flow_set(r, "oauth_state", "", 0); /* one round trip per state */
    return 1;
}

/* GitHub, Feishu and OIDC: the state check, then bind (signed in) or sign in. */
static int oauth_flow(struct req *r, const char *provider)
{
    if (!oauth_state_ok(r)) {
        api_fail(r, 403, "state is empty or not same");
        return 0;
    }
    int rc = session_auth(r, AUTH_USER);
    if (rc == OA_ERR_DB)
        return rc;
    return api_complete(r, provider, rc == 0);
}

int h_oauth_github(struct req *r)
{
    return oauth_flow(r, "github");
}

int h_oauth_lark(struct req *r)
{
    return oauth_flow(r, "lark");
}

int h_oauth_oidc(struct req *r)
{
    return oauth_flow(r, "oidc");
}

int h_oauth_wechat(struct req *r)
{
    return api_complete(r, "wechat", 0);
}

int h_oauth_wechat_bind(struct req *r)
{
    return api_complete(r, "wechat", 1);
}
int h_oauth_email_bind(struct req *r)
{
    const char *email = req_query(r, "email");
    const char *code = req_query(r, "code");
    if (!email || !code || !signup_code_ok(r, email, code)) {
        api_fail(r, 200, "验证码错误或已过期");
        return 0;
    }
    if (db_users_set_email(req_db(r), r->user_id, email) < 0)
        return OA_ERR_DB;
    api_ok(r, NULL);
    return 0;
}
