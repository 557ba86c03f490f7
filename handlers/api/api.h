/* Handlers of the management API, one function per route row in handlers/routes.c, one file
 * per /api group. */
#ifndef OA_API_H
#define OA_API_H
#include <stddef.h>
#include <stdint.h>

struct app;
struct json_object;
struct relay_channel;
struct req;
struct user;

/* public.c */
int h_status(struct req *r);
int h_notice(struct req *r);
int h_about(struct req *r);
int h_home_page_content(struct req *r);

/* user.c */
int h_user_login(struct req *r);
/* The password sign-in's checks (PasswordLoginEnabled, both fields, the login throttle, the
 * name or e-mail and the password, an enabled account), shared by the API and the console:
 * 1 with the user in u; 0 refused, with One API's message in *why; < 0 an oa_err. */
int user_password_check(struct req *r, const char *name, const char *pass, struct user *u,
                        const char **why);
int h_user_logout(struct req *r);
int h_user_self(struct req *r);
/* Logs u in exactly as password login does (every way of signing in ends here): the session
 * cookie, and data = u's id, username, display_name, role and status, other fields zero. */
void user_login_reply(struct req *r, const struct user *u);
/* The caller's users row (r->user_id), strings in r's arena: 0, or an oa_err (OA_ERR_DB;
 * OA_ERR_NO_LOGIN when the user no longer exists). */
int user_of_caller(struct req *r, struct user *u);
int h_user_self_update(struct req *r); /* PUT /api/user/self */
int h_user_self_delete(struct req *r); /* DELETE /api/user/self */
int h_user_token(struct req *r);       /* GET /api/user/token: a new access token */
int h_user_aff(struct req *r);         /* GET /api/user/aff */
int h_user_dashboard(struct req *r);   /* GET /api/user/dashboard */
/* users.status of a soft-deleted account. */
enum { USER_DELETED = 3 };
/* The user object as One API prints it, a new json-c object the caller owns: password and
 * verification_code always blank, access_token blank unless with_secrets. */
struct json_object *user_json(const struct user *u, int with_secrets);
/* Soft-deletes user id (username deleted_<uuid32>, status 3): the row stays for the logs.
 * 0, or OA_ERR_DB. */
int user_soft_delete(struct req *r, int64_t id);

/* users_admin.c: user management (AUTH_ADMIN) */
int h_users_list(struct req *r);   /* GET /api/user/ */
int h_users_search(struct req *r); /* GET /api/user/search */
int h_users_get(struct req *r);    /* GET /api/user/:id */
int h_users_create(struct req *r); /* POST /api/user/ */
int h_users_update(struct req *r); /* PUT /api/user/ */
int h_users_delete(struct req *r); /* DELETE /api/user/:id */
int h_users_manage(struct req *r); /* POST /api/user/manage */
int h_topup(struct req *r);        /* POST /api/topup */

/* redemption.c: redemption codes (AUTH_ADMIN) and redeeming one (AUTH_USER) */
int h_redemption_list(struct req *r);
int h_redemption_search(struct req *r);
int h_redemption_get(struct req *r);
int h_redemption_create(struct req *r);
int h_redemption_update(struct req *r);
int h_redemption_delete(struct req *r);
int h_user_topup(struct req *r); /* POST /api/user/topup {"key"} */

/* token.c */
int h_token_list(struct req *r);
int h_token_search(struct req *r);
int h_token_get(struct req *r);
int h_token_create(struct req *r);
int h_token_update(struct req *r);
int h_token_delete(struct req *r);
/* A new relay key in One API's format into out: 48 characters, 16 random alphanumerics then
 * the hex of a UUIDv4 with the letters at even positions upper-cased; no '-' (the relay reads
 * what follows a '-' as a channel id). */
void token_key_new(char out[49]);

/* channel.c */
int h_channel_list(struct req *r);
int h_channel_search(struct req *r);
int h_channel_get(struct req *r);
int h_channel_create(struct req *r);
int h_channel_update(struct req *r);
int h_channel_delete(struct req *r);
int h_channel_delete_disabled(struct req *r);
/* The channel the path's :id names, read fresh from the database (keys included) for a
 * test or a balance query: 1 when found; 0 when an answer was written (an invalid id, or no
 * such channel: missing_msg); < 0 (an oa_err) on a database error. */
int channel_from_path(struct req *r, struct relay_channel *ch, const char *missing_msg);

/* channel_test.c */
int h_channel_test(struct req *r);     /* GET /api/channel/test/:id */
int h_channel_test_all(struct req *r); /* GET /api/channel/test */
/* Tests every channel now, in the calling thread, unless a batch test already runs in this
 * process (then returns 1 at once); 0 when done. Ends early once app->is_stopping is set.
 * What CHANNEL_TEST_FREQUENCY runs. */
int channel_test_all(struct app *app);

/* balance.c */
int h_channel_update_balance(struct req *r);     /* GET /api/channel/update_balance/:id */
int h_channel_update_balance_all(struct req *r); /* GET /api/channel/update_balance */

/* models.c */
int h_models(struct req *r);
int h_channel_models(struct req *r);
int h_user_available_models(struct req *r);

/* log.c: GET /api/log/ (admin), /api/log/self, their /stat and /search, DELETE /api/log/ */
int h_log_list(struct req *r);
int h_log_self(struct req *r);
int h_log_stat(struct req *r);
int h_log_self_stat(struct req *r);
int h_log_search(struct req *r);
int h_log_self_search(struct req *r);
int h_log_delete(struct req *r);

/* option.c: GET and PUT /api/option/ (root), GET /api/group/ (admin) */
int h_option_list(struct req *r);
int h_option_update(struct req *r);
int h_group_list(struct req *r);

/* signup.c: sign-up, mailed codes, password reset, Turnstile */
int h_user_register(struct req *r);  /* POST /api/user/register */
int h_verification(struct req *r);   /* GET /api/verification */
int h_reset_password(struct req *r); /* GET /api/reset_password */
int h_user_reset(struct req *r);     /* POST /api/user/reset */
/* Whether email holds a valid verification code ('v') for it now. */
int signup_code_ok(struct req *r, const char *email, const char *code);
/* The steps below are shared by /api and the console's pages. Each returns 0 when done, 1
 * when refused with One API's message in *msg (static or in r's arena), or < 0 an oa_err. */
/* The Turnstile check when TurnstileCheckEnabled: token is the widget's answer; a success is
 * remembered in a signed cookie for the rest of the visit. */
int signup_turnstile(struct req *r, const char *token, const char **msg);
/* Mails a sign-up verification code to email (valid, allowed domain, not taken). */
int signup_send_code(struct req *r, const char *email, const char **msg);
/* Mails a password-reset link (ServerAddress/user/reset?email=&token=) to a known email. */
int signup_send_reset(struct req *r, const char *email, const char **msg);
/* Checks a mailed reset link's token and sets a new random password on email's accounts,
 * returned in *password (r's arena). */
int signup_reset(struct req *r, const char *email, const char *token, const char **password,
                 const char **msg);
/* Whether sign-up with a password is open (RegisterEnabled, PasswordRegisterEnabled). */
int signup_open(struct req *r, const char **msg);
/* A sign-up form's fields; NULL counts as "". */
struct signup_form {
    const char *username, *password, *email, *code, *aff_code;
};
/* Opens a common account from f (the checks of signup_open, the fields, the mailed code when
 * EmailVerificationEnabled, the inviter's aff code); no session is made. */
int signup_register(struct req *r, const struct signup_form *f, const char **msg);

/* oauth.c: sign-in and binding through GitHub, Feishu/Lark, OIDC and WeChat */
int h_oauth_state(struct req *r);       /* GET /api/oauth/state */
int h_oauth_github(struct req *r);      /* GET /api/oauth/github */
int h_oauth_lark(struct req *r);        /* GET /api/oauth/lark */
int h_oauth_oidc(struct req *r);        /* GET /api/oauth/oidc */
int h_oauth_wechat(struct req *r);      /* GET /api/oauth/wechat */
int h_oauth_wechat_bind(struct req *r); /* GET /api/oauth/wechat/bind */
int h_oauth_email_bind(struct req *r);  /* GET /api/oauth/email/bind */
/* A fresh OAuth state for this browser (12 characters, kept in a signed cookie), in r's
 * arena. */
const char *oauth_state_new(struct req *r);
/* Whether ?state= is the browser's OAuth state; a state serves once. */
int oauth_state_ok(struct req *r);
/* The return of a sign-in round trip through provider ("github", "lark", "oidc", "wechat")
 * with its code: with bind, binds the account there to the caller (r->user_id); else finds
 * (or, when sign-up is open, opens) the account bound to it, in *u, and the caller signs it
 * in. 0 done; 1 refused with One API's message in *msg; < 0 an oa_err. */
int oauth_complete(struct req *r, const char *provider, const char *code, int bind, struct user *u,
                   const char **msg);
/* A call to another service in the request's worker (5 s; the database connection is given
 * back first): POST body with the ctype_header line when body is not NULL, else GET;
 * auth_header ("Authorization: ...") may be NULL. 0 with the answer's JSON in *out (owned by
 * r's arena), or -1 with a reason in err (transport failure, or an answer that is not JSON). */
int oauth_http(struct req *r, const char *url, const char *ctype_header, const char *body,
               const char *auth_header, struct json_object **out, char *err, size_t errlen);

#endif
