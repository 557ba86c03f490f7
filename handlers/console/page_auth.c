/* page_auth: the home and about pages, signing in and out. */
#include "config.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/options.h"
#include "handlers/session.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <string.h>

static int is_url(const char *s)
{
    return !strncmp(s, "https://", 8) || !strncmp(s, "http://", 7);
}

/* An admin-written content option as the page shows it: a URL in a frame, else Markdown
 * (HTML allowed, as One API shows it). */
static void put_content(struct req *r, json_object *d, const char *text)
{
    if (is_url(text))
        json_object_object_add(d, "home_url", json_object_new_string(text));
    else if (*text)
        json_object_object_add(d, "home_html", json_object_new_string(console_markdown(r, text)));
}

int p_home(struct req *r)
{
    console_identify(r);
    json_object *d = jnew_obj();
    put_content(r, d, options_get(req_app(r)->opts, r->a, "HomePageContent"));
    json_object_object_add(d, "base_url", json_object_new_string(console_origin(r)));
    return console_page(r, 200, "home", NULL, d);
}

int p_about(struct req *r)
{
    console_identify(r);
    json_object *d = jnew_obj();
    put_content(r, d, options_get(req_app(r)->opts, r->a, "About"));
    return console_page(r, 200, "about", "About", d);
}

/* The sign-in page, with an error and the name typed when a sign-in failed. */
static int login_page(struct req *r, int status, const char *error, const char *username,
                      const char *next)
{
    struct options *o = req_app(r)->opts;
    json_object *d = jnew_obj();
    json_object_object_add(d, "password_login",
                           json_object_new_boolean(options_bool(o, "PasswordLoginEnabled")));
    if (options_bool(o, "GitHubOAuthEnabled"))
        json_object_object_add(d, "github_client_id",
                               json_object_new_string(options_get(o, r->a, "GitHubClientId")));
    const char *lark = options_get(o, r->a, "LarkClientId");
    if (*lark)
        json_object_object_add(d, "lark_client_id", json_object_new_string(lark));
    if (options_bool(o, "WeChatAuthEnabled")) {
        json_object_object_add(d, "wechat", json_object_new_boolean(1));
        json_object_object_add(
            d, "wechat_qr",
            json_object_new_string(options_get(o, r->a, "WeChatAccountQRCodeImageURL")));
    }
    if (error)
        json_object_object_add(d, "error", json_object_new_string(error));
    json_object_object_add(d, "username", json_object_new_string(username ? username : ""));
    json_object_object_add(d, "next", json_object_new_string(next ? next : ""));
    return console_page(r, status, "login", "Sign in", d);
}

/* Where to go after signing in: the page that sent the visitor here, if it is one of ours. */
static const char *after_login(const char *next)
{
    return next && next[0] == '/' && next[1] != '/' && next[1] != '\\' ? next : "/dashboard";
}

int p_login(struct req *r)
{
    console_identify(r);
    if (r->user_id) {
        console_redirect(r, after_login(req_query(r, "next")));
        return 0;
    }
    return login_page(r, 200, NULL, NULL, req_query(r, "next"));
}

int p_login_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *name = console_field(form, "username");
    struct user u;
    const char *why = NULL;
    int rc = user_password_check(r, name, console_field(form, "password"), &u, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return login_page(r, 200, why, name, console_field(form, "next"));
    session_login(r, &u);
    console_redirect(r, after_login(console_field(form, "next")));
    return 0;
}

int p_login_wechat_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    struct user u;
    const char *why = NULL;
    int rc = oauth_complete(r, "wechat", console_field(form, "code"), 0, &u, &why);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return login_page(r, 422, why, NULL, console_field(form, "next"));
    session_login(r, &u);
    console_redirect(r, after_login(console_field(form, "next")));
    return 0;
}

int p_logout_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    session_logout(r);
    console_flash(r, "ok", "You are signed out.");
    console_redirect(r, "/login");
    return 0;
}
