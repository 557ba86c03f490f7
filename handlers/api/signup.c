/* signup: sign-up with a password, the mailed verification code, password reset by a mailed
 * link, and the Turnstile check in front of them.
 *
 * Codes are not stored anywhere: each is an HMAC of the session key over its purpose, the
 * address and a 10-minute period (and, for a reset, the password hash it replaces), so any
 * process or node with the same SESSION_SECRET checks what another one mailed. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/notify.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "handlers/session.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/jsonin.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"
#include "fcgi/strlist.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

#define TURNSTILE_PASS_TTL (24 * 3600) /* one solved challenge covers this much of a visit */
#define CODE_LEN 6                     /* verification code, hex digits */
#define RESET_TOKEN_LEN 32             /* reset token, hex digits */

static int is_zh(struct req *r)
{
    const char *al = req_header(r, "Accept-Language");
    return al && !strncmp(al, "zh", 2);
}

static const char *msg_invalid_input(struct req *r)
{
    return is_zh(r) ? "无效的输入，请检查您的输入" : "Invalid input, please check your input";
}

/* One API's "failed to send email: <why>", localised. */
static const char *msg_send_failed(struct req *r, const char *why)
{
    return arena_printf(r->a, "%s%s", is_zh(r) ? "发送邮件失败：" : "failed to send email: ", why);
}

int signup_turnstile(struct req *r, const char *token, const char **msg)
{
    struct app *app = req_app(r);
    if (!options_bool(app->opts, "TurnstileCheckEnabled"))
        return 0;
    const char *flag = session_flow_get(r, "turnstile");
    if (flag && !strcmp(flag, "1"))
        return 0;
    if (!token || !*token) {
        *msg = "Turnstile token 为空";
        return 1;
    }
    struct strbuf body;
    sb_init(&body, r->a);
    SB_LIT(&body, "secret=");
    sb_url(&body, options_get(app->opts, r->a, "TurnstileSecretKey"));
    SB_LIT(&body, "&response=");
    sb_url(&body, token);
    SB_LIT(&body, "&remoteip=");
    sb_url(&body, r->client_ip ? r->client_ip : "");
    json_object *ans = NULL;
    char err[256];
    if (oauth_http(r, cfg_str(app->cfg, CFG_TURNSTILE_VERIFY_URL),
                   "Content-Type: application/x-www-form-urlencoded", body.p, NULL, &ans, err,
                   sizeof err) < 0) {
        LOG_WARN("Turnstile check failed: %s", err);
        *msg = arena_strdup(r->a, err);
        return 1;
    }
    json_object *ok = jget(ans, "success");
    if (!ok || !json_object_get_boolean(ok)) {
        *msg = "Turnstile 校验失败，请刷新重试！";
        return 1;
    }
    session_flow_set(r, "turnstile", "1", TURNSTILE_PASS_TTL);
    return 0;
}

/* The API's Turnstile check (the token in ?turnstile=): 1 to go on, 0 when the answer is
 * written. */
static int turnstile_pass(struct req *r)
{
    const char *msg = NULL;
    if (signup_turnstile(r, req_query(r, "turnstile"), &msg) == 0)
        return 1;
    api_fail(r, 200, msg);
    return 0;
}

/* An API answer for a shared step's result: rc < 0 is returned as the oa_err, 1 answers msg,
 * 0 answers success with data (taken). */
static int api_answer(struct req *r, int rc, const char *msg, json_object *data)
{
    if (rc < 0) {
        json_object_put(data);
        return rc;
    }
    if (rc == 1) {
        json_object_put(data);
        api_fail(r, 200, msg);
        return 0;
    }
    api_ok(r, data);
    return 0;
}

int signup_code_ok(struct req *r, const char *email, const char *code)
{
    return session_code_check(req_app(r)->session_key, 'v', email, NULL, (int64_t)time(NULL),
                              CODE_LEN, code);
}

/* Whether email's domain is on EmailDomainWhitelist. */
static int domain_allowed(struct req *r, const char *email)
{
    const char *at = strrchr(email, '@');
    return at && strlist_has(options_get(req_app(r)->opts, r->a, "EmailDomainWhitelist"), at + 1);
}

int signup_send_code(struct req *r, const char *email, const char **msg)
{
    struct app *app = req_app(r);
    if (!email || !*email || strlen(email) > 50 || !account_email_ok(email)) {
        *msg = msg_invalid_parameter(r);
        return 1;
    }
    if (options_bool(app->opts, "EmailDomainRestrictionEnabled") && !domain_allowed(r, email)) {
        *msg = "管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中";
        return 1;
    }
    struct user u;
    int rc = db_users_by_email(req_db(r), r->a, email, &u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 1) {
        *msg = "邮箱地址已被占用";
        return 1;
    }
    req_db_release(r); /* the mail server may take seconds */
    char code[CODE_LEN + 1];
    session_code(app->session_key, 'v', email, (int64_t)time(NULL) / SESSION_CODE_PERIOD, NULL,
                 CODE_LEN, code);
    const char *system_name = options_get(app->opts, r->a, "SystemName");
    struct strbuf sb;
    sb_init(&sb, r->a);
    SB_LIT(&sb, "<p>您好，你正在进行");
    sb_html(&sb, system_name);
    sb_printf(&sb,
              "邮箱验证。</p>\n<p>您的验证码为: <strong>%s</strong></p>\n"
              "<p>验证码 %d 分钟内有效，如果不是本人操作，请忽略。</p>",
              code, SESSION_CODE_PERIOD / 60);
    char err[512];
    if (notify_mail_now(app, r->a, email, arena_printf(r->a, "%s 邮箱验证邮件", system_name), sb.p,
                        err, sizeof err) < 0) {
        LOG_WARN("verification mail not sent: %s", err);
        *msg = msg_send_failed(r, err);
        return 1;
    }
    return 0;
}

int h_verification(struct req *r)
{
    if (!turnstile_pass(r))
        return 0;
    const char *msg = NULL;
    int rc = signup_send_code(r, req_query(r, "email"), &msg);
    return api_answer(r, rc, msg, NULL);
}

int signup_send_reset(struct req *r, const char *email, const char **msg)
{
    struct app *app = req_app(r);
    if (!email || !*email || !account_email_ok(email)) {
        *msg = msg_invalid_parameter(r);
        return 1;
    }
    struct user u;
    int rc = db_users_by_email(req_db(r), r->a, email, &u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        *msg = "该邮箱地址未注册";
        return 1;
    }
    req_db_release(r);
    char token[RESET_TOKEN_LEN + 1];
    session_code(app->session_key, 'r', email, (int64_t)time(NULL) / SESSION_CODE_PERIOD,
                 u.password, RESET_TOKEN_LEN, token);
    const char *addr = options_get(app->opts, r->a, "ServerAddress");
    struct strbuf link;
    sb_init(&link, r->a);
    sb_puts(&link, *addr ? addr : "http://localhost:3000");
    SB_LIT(&link, "/user/reset?email=");
    sb_url(&link, email);
    sb_printf(&link, "&token=%s", token);
    const char *system_name = options_get(app->opts, r->a, "SystemName");
    struct strbuf sb;
    sb_init(&sb, r->a);
    SB_LIT(&sb, "<p>您好，你正在进行");
    sb_html(&sb, system_name);
    SB_LIT(&sb, "密码重置。</p>\n<p>点击 <a href=\"");
    sb_html(&sb, link.p);
    SB_LIT(&sb, "\">此处</a> 进行密码重置。</p>\n"
                "<p>如果链接无法点击，请尝试点击下面的链接或将其复制到浏览器中打开：<br> ");
    sb_html(&sb, link.p);
    sb_printf(&sb, " </p>\n<p>重置链接 %d 分钟内有效，如果不是本人操作，请忽略。</p>",
              SESSION_CODE_PERIOD / 60);
    char err[512];
    if (notify_mail_now(app, r->a, email, arena_printf(r->a, "%s 密码重置", system_name), sb.p, err,
                        sizeof err) < 0) {
        LOG_WARN("password reset mail not sent: %s", err);
        *msg = msg_send_failed(r, err);
        return 1;
    }
    return 0;
}

int h_reset_password(struct req *r)
{
    if (!turnstile_pass(r))
        return 0;
    const char *msg = NULL;
    int rc = signup_send_reset(r, req_query(r, "email"), &msg);
    return api_answer(r, rc, msg, NULL);
}

int signup_reset(struct req *r, const char *email, const char *token, const char **password,
                 const char **msg)
{
    if (!email || !*email || !token || !*token) {
        *msg = msg_invalid_parameter(r);
        return 1;
    }
    struct user u;
    int rc = db_users_by_email(req_db(r), r->a, email, &u);
    if (rc < 0)
        return OA_ERR_DB;
    /* The token was made over the first account's password hash: once the password below
     * replaces it, the same link no longer checks. */
    if (rc == 0 || !session_code_check(req_app(r)->session_key, 'r', email, u.password,
                                       (int64_t)time(NULL), RESET_TOKEN_LEN, token)) {
        *msg = "重置链接非法或已过期";
        return 1;
    }
    char uuid[33], hash[128];
    uuid_hex(uuid);
    uuid[12] = '\0';
    if (pw_hash(uuid, hash, sizeof hash) < 0)
        return OA_ERR_INTERNAL;
    if (db_users_set_password_by_email(req_db(r), email, hash) < 0)
        return OA_ERR_DB;
    LOG_INFO("password of the accounts of user %lld's e-mail address reset by mail",
             (long long)u.id);
    *password = arena_strdup(r->a, uuid);
    return 0;
}

int h_user_reset(struct req *r)
{
    static const struct jin_field fields[] = {{"email", JIN_STR}, {"token", JIN_STR}};
    struct jin_val v[2];
    if (!r->json || jin_read(r->json, fields, 2, v) < 0 || !v[0].is_set || !v[1].is_set) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    const char *msg = NULL, *pw = NULL;
    int rc = signup_reset(r, v[0].s, v[1].s, &pw, &msg);
    return api_answer(r, rc, msg, rc == 0 ? json_object_new_string(pw) : NULL);
}

int signup_open(struct req *r, const char **msg)
{
    struct app *app = req_app(r);
    if (!options_bool(app->opts, "RegisterEnabled")) {
        *msg = "管理员关闭了新用户注册";
        return 1;
    }
    if (!options_bool(app->opts, "PasswordRegisterEnabled")) {
        *msg = "管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册";
        return 1;
    }
    return 0;
}

int signup_register(struct req *r, const struct signup_form *f, const char **msg)
{
    struct app *app = req_app(r);
    int rc = signup_open(r, msg);
    if (rc)
        return rc;
    const char *username = f->username ? f->username : "";
    const char *password = f->password ? f->password : "";
    const char *email = f->email ? f->email : "";
    const char *code = f->code ? f->code : "";
    const char *why = account_invalid(r, username, NULL, email, password);
    if (why || !*password) {
        *msg = msg_invalid_input(r);
        return 1;
    }
    int is_verified = options_bool(app->opts, "EmailVerificationEnabled");
    if (is_verified) {
        if (!*email || !*code) {
            *msg = "管理员开启了邮箱验证，请输入邮箱地址和验证码";
            return 1;
        }
        if (!signup_code_ok(r, email, code)) {
            *msg = "验证码错误或已过期";
            return 1;
        }
    }
    int64_t inviter = 0;
    if (f->aff_code && *f->aff_code) {
        struct user iu;
        rc = db_users_by_aff_code(req_db(r), r->a, f->aff_code, &iu);
        if (rc < 0)
            return OA_ERR_DB;
        inviter = rc == 1 ? iu.id : 0; /* an unknown code is ignored, as One API does */
    }
    struct user u = {.username = username,
                     .display_name = username,
                     .email = is_verified ? email : "",
                     .role = ROLE_COMMON,
                     .status = 1};
    int64_t id = 0;
    rc = account_create(r, &u, password, inviter, &id);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *msg = MSG_USERNAME_TAKEN;
        return 1;
    }
    LOG_INFO("user %lld registered from %s", (long long)id, r->client_ip);
    return 0;
}

int h_user_register(struct req *r)
{
    if (!turnstile_pass(r))
        return 0;
    const char *msg = NULL;
    /* Closed sign-up answers before the body is looked at. */
    if (signup_open(r, &msg))
        return api_answer(r, 1, msg, NULL);
    enum { F_USERNAME, F_PASSWORD, F_EMAIL, F_CODE, F_AFF, F_N };
    static const struct jin_field fields[F_N] = {{"username", JIN_STR},
                                                 {"password", JIN_STR},
                                                 {"email", JIN_STR},
                                                 {"verification_code", JIN_STR},
                                                 {"aff_code", JIN_STR}};
    struct jin_val v[F_N];
    if (!r->json || jin_read(r->json, fields, F_N, v) < 0) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    struct signup_form f = {
        .username = v[F_USERNAME].is_set ? v[F_USERNAME].s : "",
        .password = v[F_PASSWORD].is_set ? v[F_PASSWORD].s : "",
        .email = v[F_EMAIL].is_set ? v[F_EMAIL].s : "",
        .code = v[F_CODE].is_set ? v[F_CODE].s : "",
        .aff_code = v[F_AFF].is_set ? v[F_AFF].s : "",
    };
    int rc = signup_register(r, &f, &msg);
    return api_answer(r, rc, msg, NULL);
}
