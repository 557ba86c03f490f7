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

/* The Turnstile check of the mail and sign-up routes: 1 to go on, 0 when the answer is
 * written. A success is remembered in a signed cookie for the rest of the visit. */
static int turnstile_pass(struct req *r)
{
    struct app *app = req_app(r);
    if (!options_bool(app->opts, "TurnstileCheckEnabled"))
        return 1;
    const char *flag = session_flow_get(r, "turnstile");
    if (flag && !strcmp(flag, "1"))
        return 1;
    const char *tok = req_query(r, "turnstile");
    if (!tok || !*tok) {
        api_fail(r, 200, "Turnstile token 为空");
        return 0;
    }
    struct strbuf body;
    sb_init(&body, r->a);
    SB_LIT(&body, "secret=");
    sb_url(&body, options_get(app->opts, r->a, "TurnstileSecretKey"));
    SB_LIT(&body, "&response=");
    sb_url(&body, tok);
    SB_LIT(&body, "&remoteip=");
    sb_url(&body, r->client_ip ? r->client_ip : "");
    json_object *ans = NULL;
    char err[256];
    if (oauth_http(r, cfg_str(app->cfg, CFG_TURNSTILE_VERIFY_URL),
                   "Content-Type: application/x-www-form-urlencoded", body.p, NULL, &ans, err,
                   sizeof err) < 0) {
        LOG_WARN("Turnstile check failed: %s", err);
        api_fail(r, 200, err);
        return 0;
    }
    json_object *ok = jget(ans, "success");
    if (!ok || !json_object_get_boolean(ok)) {
        api_fail(r, 200, "Turnstile 校验失败，请刷新重试！");
        return 0;
    }
    session_flow_set(r, "turnstile", "1", TURNSTILE_PASS_TTL);
    return 1;
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

int h_verification(struct req *r)
{
    if (!turnstile_pass(r))
        return 0;
    struct app *app = req_app(r);
    const char *email = req_query(r, "email");
    if (!email || !*email || strlen(email) > 50 || !account_email_ok(email)) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    if (options_bool(app->opts, "EmailDomainRestrictionEnabled") && !domain_allowed(r, email)) {
        api_fail(r, 200, "管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中");
        return 0;
    }
    struct user u;
    int rc = db_users_by_email(req_db(r), r->a, email, &u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 1) {
        api_fail(r, 200, "邮箱地址已被占用");
        return 0;
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
        api_fail(r, 200, msg_send_failed(r, err));
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}

int h_reset_password(struct req *r)
{
    if (!turnstile_pass(r))
        return 0;
    struct app *app = req_app(r);
    const char *email = req_query(r, "email");
    if (!email || !*email || !account_email_ok(email)) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    struct user u;
    int rc = db_users_by_email(req_db(r), r->a, email, &u);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0) {
        api_fail(r, 200, "该邮箱地址未注册");
        return 0;
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
        api_fail(r, 200, msg_send_failed(r, err));
        return 0;
    }
    api_ok(r, NULL);
    return 0;
}

int h_user_reset(struct req *r)
{
    static const struct jin_field fields[] = {{"email", JIN_STR}, {"token", JIN_STR}};
    struct jin_val v[2];
    if (!r->json || jin_read(r->json, fields, 2, v) < 0 || !v[0].is_set || !*v[0].s ||
        !v[1].is_set || !*v[1].s) {
        api_fail(r, 200, msg_invalid_parameter(r));
        return 0;
    }
    const char *email = v[0].s, *token = v[1].s;
    struct user u;
    int rc = db_users_by_email(req_db(r), r->a, email, &u);
    if (rc < 0)
        return OA_ERR_DB;
    /* The token was made over the first account's password hash: once the password below
     * replaces it, the same link no longer checks. */
    if (rc == 0 || !session_code_check(req_app(r)->session_key, 'r', email, u.password,
                                       (int64_t)time(NULL), RESET_TOKEN_LEN, token)) {
        api_fail(r, 200, "重置链接非法或已过期");
        return 0;
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
    api_ok(r, json_object_new_string(uuid));
    return 0;
}

int h_user_register(struct req *r)
{
    if (!turnstile_pass(r))
        return 0;
    struct app *app = req_app(r);
    if (!options_bool(app->opts, "RegisterEnabled")) {
        api_fail(r, 200, "管理员关闭了新用户注册");
        return 0;
    }
    if (!options_bool(app->opts, "PasswordRegisterEnabled")) {
        api_fail(r, 200, "管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册");
        return 0;
    }
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
    const char *username = v[F_USERNAME].is_set ? v[F_USERNAME].s : "";
    const char *password = v[F_PASSWORD].is_set ? v[F_PASSWORD].s : "";
    const char *email = v[F_EMAIL].is_set ? v[F_EMAIL].s : "";
    const char *code = v[F_CODE].is_set ? v[F_CODE].s : "";
    const char *why = account_invalid(r, username, NULL, email, password);
    if (why || !*password) {
        api_fail(r, 200, msg_invalid_input(r));
        return 0;
    }
    int is_verified = options_bool(app->opts, "EmailVerificationEnabled");
    if (is_verified) {
        if (!*email || !*code) {
            api_fail(r, 200, "管理员开启了邮箱验证，请输入邮箱地址和验证码");
            return 0;
        }
        if (!signup_code_ok(r, email, code)) {
            api_fail(r, 200, "验证码错误或已过期");
            return 0;
        }
    }
    int64_t inviter = 0;
    if (v[F_AFF].is_set && *v[F_AFF].s) {
        struct user iu;
        int rc = db_users_by_aff_code(req_db(r), r->a, v[F_AFF].s, &iu);
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
    int rc = account_create(r, &u, password, inviter, &id);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        api_fail(r, 200, MSG_USERNAME_TAKEN);
        return 0;
    }
    LOG_INFO("user %lld registered from %s", (long long)id, r->client_ip);
    api_ok(r, NULL);
    return 0;
}
