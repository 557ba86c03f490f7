/* page_signup: signing up, the mailed code and password reset, the return of a sign-in
 * through GitHub or Feishu, and the chat page. The rules and messages are the /api ones
 * (handlers/api/signup.c, oauth.c): these pages only read forms and show the outcome. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/options.h"
#include "handlers/session.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <string.h>

/* The name of the field Cloudflare's widget adds to the form it sits in. */
#define TURNSTILE_FIELD "cf-turnstile-response"

static void put_str(json_object *d, const char *key, const char *val)
{
    json_object_object_add(d, key, json_object_new_string(val ? val : ""));
}

static void put_bool(json_object *d, const char *key, int val)
{
    json_object_object_add(d, key, json_object_new_boolean(val));
}

/* The widget's site key on pages that show it (console_page then lets its script in). */
static void put_turnstile(struct req *r, json_object *d)
{
    struct options *o = req_app(r)->opts;
    if (options_bool(o, "TurnstileCheckEnabled"))
        put_str(d, "turnstile_site_key", options_get(o, r->a, "TurnstileSiteKey"));
}

/* The Turnstile check of a posted form: 0 to go on, 1 refused with *msg. */
static int form_turnstile(struct req *r, json_object *form, const char **msg)
{
    return signup_turnstile(r, console_field(form, TURNSTILE_FIELD), msg);
}

/* ---------------------------------------------------------------- sign-up */

/* The sign-up page with the values typed so far (form may be NULL) and an error. */
static int register_page(struct req *r, int status, json_object *form, const char *email,
                         const char *aff, const char *error)
{
    struct options *o = req_app(r)->opts;
    json_object *d = jnew_obj();
    const char *closed = NULL;
    if (signup_open(r, &closed))
        put_str(d, "closed", closed);
    put_bool(d, "email_verification", options_bool(o, "EmailVerificationEnabled"));
    put_str(d, "username", form ? console_field(form, "username") : "");
    put_str(d, "email", email);
    put_str(d, "aff", aff);
    if (error)
        put_str(d, "error", error);
    put_turnstile(r, d);
    return console_page(r, status, "register", "Create an account", d);
}

int p_register(struct req *r)
{
    console_identify(r);
    return register_page(r, 200, NULL, req_query(r, "email"), req_query(r, "aff"), NULL);
}

int p_register_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *email = console_field(form, "email"), *aff = console_field(form, "aff");
    const char *msg = NULL;
    int rc = form_turnstile(r, form, &msg);
    if (rc == 0) {
        struct signup_form f = {console_field(form, "username"), console_field(form, "password"),
                                email, console_field(form, "verification_code"), aff};
        rc = signup_register(r, &f, &msg);
    }
    if (rc < 0)
        return rc;
    if (rc == 1)
        return register_page(r, 422, form, email, aff, msg);
    console_flash(r, "ok", "Your account is ready: sign in.");
    console_redirect(r, "/login");
    return 0;
}

int p_register_code_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *email = console_field(form, "email"), *aff = console_field(form, "aff");
    const char *msg = NULL;
    int rc = form_turnstile(r, form, &msg);
    if (rc == 0)
        rc = signup_send_code(r, email, &msg);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return register_page(r, 422, form, email, aff, msg);
    struct strbuf to;
    sb_init(&to, r->a);
    SB_LIT(&to, "/register?email=");
    sb_url(&to, email);
    if (*aff) {
        SB_LIT(&to, "&aff=");
        sb_url(&to, aff);
    }
    console_flash(r, "ok", "A verification code is on its way: see your mailbox.");
    console_redirect(r, to.p);
    return 0;
}

/* ---------------------------------------------------------------- password reset */

static int reset_page(struct req *r, int status, const char *email, const char *error)
{
    json_object *d = jnew_obj();
    put_str(d, "email", email);
    if (error)
        put_str(d, "error", error);
    put_turnstile(r, d);
    return console_page(r, status, "reset", "Reset your password", d);
}

int p_reset(struct req *r)
{
    console_identify(r);
    return reset_page(r, 200, "", NULL);
}

int p_reset_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *email = console_field(form, "email");
    const char *msg = NULL;
    int rc = form_turnstile(r, form, &msg);
    if (rc == 0)
        rc = signup_send_reset(r, email, &msg);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return reset_page(r, 422, email, msg);
    console_flash(r, "ok", "A link to reset your password is on its way: see your mailbox.");
    console_redirect(r, "/reset");
    return 0;
}

/* The mailed link's page: before (a button), after (the new password) or refused. */
static int reset_confirm_page(struct req *r, int status, const char *email, const char *token,
                              const char *password, const char *error)
{
    json_object *d = jnew_obj();
    put_str(d, "email", email);
    put_str(d, "token", token);
    if (password)
        put_str(d, "password", password);
    if (error)
        put_str(d, "error", error);
    return console_page(r, status, "reset_confirm", "Reset your password", d);
}

int p_user_reset(struct req *r)
{
    console_identify(r);
    return reset_confirm_page(r, 200, req_query(r, "email"), req_query(r, "token"), NULL, NULL);
}

int p_user_reset_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *email = console_field(form, "email"), *token = console_field(form, "token");
    const char *msg = NULL, *pw = NULL;
    int rc = signup_reset(r, email, token, &pw, &msg);
    if (rc < 0)
        return rc;
    /* The new password is shown by this answer alone (no-store), never put in a cookie or a
     * redirect's address. */
    if (rc == 1)
        return reset_confirm_page(r, 422, email, token, NULL, msg);
    return reset_confirm_page(r, 200, email, "", pw, NULL);
}

/* ---------------------------------------------------------------- GitHub and Feishu */

/* The page of a sign-in round trip that went wrong. */
static int oauth_error(struct req *r, int status, const char *msg)
{
    json_object *d = jnew_obj();
    put_str(d, "message", msg);
    console_identify(r);
    return console_page(r, status, "oauth", "Sign-in failed", d);
}

/* 303 to another site's address (console_redirect keeps to ours). */
static void redirect_away(struct req *r, const char *url)
{
    resp_status(r, 303);
    resp_header(r, "Location", url);
    resp_header(r, "Cache-Control", "no-store");
    resp_write(r, "", 0);
}

int p_oauth_github_start(struct req *r)
{
    struct options *o = req_app(r)->opts;
    if (!options_bool(o, "GitHubOAuthEnabled"))
        return oauth_error(r, 403, "管理员未开启通过 GitHub 登录以及注册");
    struct strbuf u;
    sb_init(&u, r->a);
    SB_LIT(&u, "https://github.com/login/oauth/authorize?client_id=");
    sb_url(&u, options_get(o, r->a, "GitHubClientId"));
    SB_LIT(&u, "&state=");
    sb_url(&u, oauth_state_new(r));
    SB_LIT(&u, "&scope=user:email");
    redirect_away(r, u.p);
    return 0;
}

int p_oauth_lark_start(struct req *r)
{
    struct options *o = req_app(r)->opts;
    const char *id = options_get(o, r->a, "LarkClientId");
    if (!*id)
        return oauth_error(r, 403, "The administrator has not set up sign-in with Feishu.");
    const char *addr = options_get(o, r->a, "ServerAddress");
    struct strbuf u;
    sb_init(&u, r->a);
    SB_LIT(&u, "https://open.feishu.cn/open-apis/authen/v1/index?redirect_uri=");
    sb_url(&u, arena_printf(r->a, "%s/oauth/lark", *addr ? addr : "http://localhost:3000"));
    SB_LIT(&u, "&app_id=");
    sb_url(&u, id);
    SB_LIT(&u, "&state=");
    sb_url(&u, oauth_state_new(r));
    redirect_away(r, u.p);
    return 0;
}

/* The provider sent the browser back: bind when signed in, else sign in (or up). */
static int oauth_landing(struct req *r, const char *provider, const char *label)
{
    if (!oauth_state_ok(r))
        return oauth_error(r, 403, "state is empty or not same");
    int rc = session_auth(r, AUTH_USER);
    if (rc == OA_ERR_DB)
        return rc;
    int bind = rc == 0;
    if (!bind)
        r->user_id = 0;
    struct user u;
    const char *msg = NULL;
    rc = oauth_complete(r, provider, req_query(r, "code"), bind, &u, &msg);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return oauth_error(r, 400, msg);
    if (bind) {
        console_flash(r, "ok", arena_printf(r->a, "Your %s account is now bound.", label));
        console_redirect(r, "/setting");
        return 0;
    }
    session_login(r, &u);
    console_flash(r, "ok", arena_printf(r->a, "Signed in with %s.", label));
    console_redirect(r, "/dashboard");
    return 0;
}

int p_oauth_github(struct req *r)
{
    return oauth_landing(r, "github", "GitHub");
}

int p_oauth_lark(struct req *r)
{
    return oauth_landing(r, "lark", "Feishu");
}

/* ---------------------------------------------------------------- chat */

int p_chat(struct req *r)
{
    const char *link = options_get(req_app(r)->opts, r->a, "ChatLink");
    if (!*link)
        return OA_ERR_NOT_FOUND;
    json_object *d = jnew_obj();
    put_str(d, "chat_link", link);
    return console_page(r, 200, "chat", "Chat", d);
}
