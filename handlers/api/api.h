/* Handlers of the management API, one function per route row in handlers/routes.c, one file
 * per /api group. */
#ifndef OA_API_H
#define OA_API_H
#include <stddef.h>
#include <stdint.h>

struct app;
struct channel;
struct json_object;
struct log_filter;
struct log_row;
struct redemption;
struct relay_channel;
struct req;
struct token;
struct user;
struct user_day_stat;

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
/* The caller's own account changes, shared by the API and the console: 1 done; 0 refused
 * with One API's message in *why; < 0 an oa_err. user_self_update writes only the non-empty
 * fields (NULL or "" keep the stored value) and renews a browser's session cookie after a
 * new password; user_self_delete soft-deletes (never root) and signs a browser out;
 * user_access_token_new writes a new access token (32 hex) into tok; user_aff_code gives the
 * invitation code in *code (r's arena), made when the account has none. */
int user_self_update(struct req *r, const char *username, const char *display_name,
                     const char *pass, const char **why);
int user_self_delete(struct req *r, const char **why);
int user_access_token_new(struct req *r, char tok[33], const char **why);
int user_aff_code(struct req *r, const char **code, const char **why);
/* The caller's consumption per UTC day and model over the last 7 days (today included), in
 * r's arena: 0, or -1 on a database error. */
int user_week_stats(struct req *r, struct user_day_stat **v, size_t *n);
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
/* What a user create or update takes: NULL or "" strings and zero numbers are not written. */
struct user_input {
    int64_t id;
    const char *username, *password, *display_name, *email, *group;
    const char *github_id, *wechat_id, *lark_id, *oidc_id;
    int64_t role, status, quota;
};
/* The rules below, shared by the API and the console, return 1 done; 0 refused, with One
 * API's message in *why (static or in r's arena); < 0 an oa_err. */
/* Creates the account of in (username, password, display name; a common user). */
int users_create(struct req *r, const struct user_input *in, const char **why);
/* Updates user in->id with in's non-empty fields (never one of the caller's rank or above,
 * except by root); a changed quota is logged. */
int users_update(struct req *r, const struct user_input *in, const char **why);
/* User id into u (strings in r's arena) when the caller outranks them. */
int users_get(struct req *r, int64_t id, struct user *u, const char **why);
/* One manage action (disable, enable, delete, promote, demote) on the user named username;
 * u is the user after it. */
int users_manage(struct req *r, const char *username, const char *action, struct user *u,
                 const char **why);
/* The users matching keyword (an id, or the start of a name or e-mail) into a new array in
 * r's arena. 0 or OA_ERR_DB. */
int users_search(struct req *r, const char *kw, struct user **v, size_t *n);
/* The enum db_users_order of the listing's "order" value (quota, used_quota, request_count;
 * anything else by id). */
int users_order_of(const char *order);

/* redemption.c: redemption codes (AUTH_ADMIN) and redeeming one (AUTH_USER) */
int h_redemption_list(struct req *r);
int h_redemption_search(struct req *r);
int h_redemption_get(struct req *r);
int h_redemption_create(struct req *r);
int h_redemption_update(struct req *r);
int h_redemption_delete(struct req *r);
int h_user_topup(struct req *r); /* POST /api/user/topup {"key"} */
/* Redeems code key for the caller (shared by the API and the console's top-up page): 1 with
 * the quota added in *quota; 0 refused with One API's message in *why (no code, an unknown or
 * a used one); < 0 an oa_err. */
int redemption_redeem(struct req *r, const char *key, int64_t *quota, const char **why);
/* The codes matching keyword (an id, or the start of a name) into a new array in r's arena.
 * 0 or OA_ERR_DB. */
int redemptions_search(struct req *r, const char *kw, struct redemption **v, size_t *n);
/* The rules below, shared by the API and the console, return 1 done; 0 refused, with One
 * API's message in *why; < 0 an oa_err. */
/* Makes count codes named name worth quota, created by the caller: *keys is a JSON array of
 * the new codes (owned by r's arena), also on a database error part-way (the codes made). */
int redemption_create(struct req *r, const char *name, int64_t count, int64_t quota,
                      struct json_object **keys, const char **why);
/* Sets code id's status (1 enabled, 2 disabled, 3 used). */
int redemption_set_status(struct req *r, int64_t id, int64_t status, const char **why);
/* Deletes code id. */
int redemption_delete(struct req *r, int64_t id, const char **why);

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
/* The validation message (One API's words) for t's name, remain_quota, rpm_limit and subnet,
 * or NULL when they are fine; shared by the API and the console's key form. */
const char *token_invalid(struct req *r, const struct token *t);
/* Why stored token t may not be enabled (expired, or used up), or NULL when it may. */
const char *token_enable_refused(const struct token *t);
/* Stores t as a new key of r's user: a fresh key (in r's arena), status 1, times now, used 0;
 * name, expired_time, quotas, models, subnet and rpm_limit are the caller's. 0 with the new
 * id in *id, or OA_ERR_DB. Validate first with token_invalid. */
int token_create(struct req *r, struct token *t, int64_t *id);
/* The token object as One API prints it, key included: a new json-c object the caller owns. */
struct json_object *token_json(const struct token *t);

/* channel.c */
int h_channel_list(struct req *r);
int h_channel_search(struct req *r);
int h_channel_get(struct req *r);
int h_channel_create(struct req *r);
int h_channel_update(struct req *r);
int h_channel_delete(struct req *r);
int h_channel_delete_disabled(struct req *r);
/* The channel object as One API prints it (the key only when with_key), a new json-c object
 * the caller owns. */
struct json_object *channel_json(const struct channel *ch, int with_key);
/* Creates one channel per non-empty line of base->key (each trimmed), the rest copied from
 * base, created now, with their abilities. The number created; 0 when the key has no line
 * (One API's invalid-parameter message in *why); < 0 an oa_err. */
int channel_create(struct req *r, const struct channel *base, const char **why);
/* Whether channel id (0: a new one) may have type: a type this build has an adaptor for, or
 * the type the stored row already has (so such rows stay editable). 0 with *why NULL when it
 * may, 0 with the refusal in *why (in r's arena) when not, < 0 an oa_err. */
int channel_type_check(struct req *r, int64_t id, int64_t type, const char **why);
/* Writes the fields of ch named in mask (enum channel_field) to channel ch->id as One API's
 * update does: a zero type or status and an empty key, name, models, group or config leave
 * the stored value. 1 updated, 0 no such channel, < 0 an oa_err. */
int channel_update(struct req *r, const struct channel *ch, unsigned mask);
/* Deletes channel id (none: nothing happens). 0 or an oa_err. */
int channel_delete(struct req *r, int64_t id);
/* Deletes every disabled channel (status 2 or 3): how many, or < 0 an oa_err. */
int64_t channel_delete_disabled(struct req *r);

/* channel_test.c */
int h_channel_test(struct req *r);     /* GET /api/channel/test/:id */
int h_channel_test_all(struct req *r); /* GET /api/channel/test */
/* Tests channel id now with the model asked (when its models contain it, else its first
 * one), writes the test log row and test time, and re-enables it when the option says so.
 * 1 tested: *ok, *seconds (0 on failure) and *message (the reply or the error, in r's arena);
 * 0 no such channel; < 0 an oa_err. */
int channel_test_one(struct req *r, int64_t id, const char *asked, int *ok, double *seconds,
                     const char **message);
/* Starts the batch test of every channel (only the disabled ones with only_disabled) on a
 * thread of its own. 0 started, 1 one already runs, < 0 an oa_err. */
int channel_test_start(struct app *app, int only_disabled);
/* Tests every channel now, in the calling thread, unless a batch test already runs in this
 * process (then returns 1 at once); 0 when done. Ends early once app->is_stopping is set.
 * What CHANNEL_TEST_FREQUENCY runs. */
int channel_test_all(struct app *app);

/* balance.c */
int h_channel_update_balance(struct req *r);     /* GET /api/channel/update_balance/:id */
int h_channel_update_balance_all(struct req *r); /* GET /api/channel/update_balance */
/* Asks channel id's upstream for its balance (the API of its type) and stores it with the
 * time. 1 with *balance; 0 with the reason in *why ("record not found", the upstream's
 * failure, or 尚未实现 for a type without a balance API); < 0 an oa_err. */
int channel_balance_update(struct req *r, int64_t id, double *balance, const char **why);

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
/* The filters of r's query string (type, start_timestamp, end_timestamp, token_name,
 * model_name, channel, and username unless self_id > 0, which keeps that user's rows only),
 * strings in r's arena. */
void log_filter_read(struct req *r, int64_t self_id, struct log_filter *f);
/* A log row as One API prints it, a new json-c object the caller owns; hide_id prints id 0
 * (the self routes). */
struct json_object *log_json(const struct log_row *l, int hide_id);

/* option.c: GET and PUT /api/option/ (root), GET /api/group/ (admin) */
int h_option_list(struct req *r);
int h_option_update(struct req *r);
int h_group_list(struct req *r);
/* Whether the option list leaves key out: One API's rule (names ending in Token or Secret),
 * plus the Turnstile secret, which that rule misses. */
int option_is_secret(const char *key);
/* Checks value for key (options_check), stores it and uses it at once (ratio tables are
 * reloaded), as PUT /api/option/ does: 1 saved; 0 refused with the message in *why; < 0 an
 * oa_err. */
int option_save(struct req *r, const char *key, const char *value, const char **why);
/* The group names (GroupRatio's keys) as a new JSON array the caller owns. */
struct json_object *option_groups(struct req *r);

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
