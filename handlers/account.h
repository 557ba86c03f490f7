/* account: what every way of opening an account shares (sign-up, admin create, OAuth), the
 * input limits of the users table, and the log rows that move quota outside the relay. */
#ifndef OA_ACCOUNT_H
#define OA_ACCOUNT_H
#include <stdint.h>

struct req;
struct user;

/* users.role values. */
enum { ROLE_COMMON = 1, ROLE_ADMIN = 10, ROLE_ROOT = 100 };
/* logs.type values. */
enum { LOG_TOPUP = 1, LOG_CONSUME = 2, LOG_MANAGE = 3, LOG_SYSTEM = 4, LOG_TEST = 5 };

/* The answer to a username that another account has (sign-up, admin create and edit, OAuth). */
#define MSG_USERNAME_TAKEN "用户名已被占用"

/* The users table's input limits (username <= 12 bytes, display name <= 20, e-mail <= 50
 * and well-formed, password 8 to 20 when given; NULL fields are not checked). NULL when
 * valid, else a short English reason in r's arena. */
const char *account_invalid(struct req *r, const char *username, const char *display_name,
                            const char *email, const char *password);
/* Whether email looks like an address (one '@', a dot in the domain, no spaces). */
int account_email_ok(const char *email);

/* Opens an account the way One API does for every sign-up: u's username, display_name (the
 * username when empty), email, github_id, wechat_id, lark_id, oidc_id, role and group are
 * taken; password is the plain text (NULL or "" for OAuth accounts, which cannot log in with
 * one). quota := QuotaForNewUser, a fresh access token and aff code, the "new user" log, the
 * invitation rewards when inviter_id is an existing user, and a "default" key with
 * unlimited quota. The new id in *id. 0; 1 when the username is taken (nothing created); or
 * an oa_err. */
int account_create(struct req *r, const struct user *u, const char *password, int64_t inviter_id,
                   int64_t *id);

/* Adds amount to users.quota of uid (negative takes) and writes a log row of type with
 * content, in one transaction. log_quota is the log row's quota column. 0 or an oa_err. */
int account_credit(struct req *r, int64_t uid, int64_t amount, int type, const char *content,
                   int64_t log_quota);
/* Writes a log row with no quota movement (a management note). 0 or an oa_err. */
int account_log(struct req *r, int64_t uid, int type, const char *content);
/* One API's wording of an amount of quota in logs: "＄0.002000 额度" when
 * DisplayInCurrencyEnabled, else "1000 点额度". In r's arena. */
const char *account_quota_text(struct req *r, int64_t quota);
/* A fresh invitation code: 4 characters of [0-9a-zA-Z]. */
void account_aff_code(char out[5]);

#endif
