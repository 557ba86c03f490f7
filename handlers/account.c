/* account: opening accounts and the quota movements of the management API. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/relay/quota_math.h"
#include "db/db.h"
#include "db/tokens.h"
#include "db/users.h"
#include "db/writer.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/log.h"
#include "fcgi/strbuf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int account_email_ok(const char *email)
{
    const char *at = strchr(email, '@');
    if (!at || at == email || strchr(at + 1, '@') || strpbrk(email, " \t\r\n<>,;\"()"))
        return 0;
    const char *dot = strrchr(at + 1, '.');
    return dot && dot > at + 1 && dot[1];
}

const char *account_invalid(struct req *r, const char *username, const char *display_name,
                            const char *email, const char *password)
{
    (void)r;
    if (username && (!*username || strlen(username) > 12))
        return "username must be 1 to 12 bytes";
    if (display_name && strlen(display_name) > 20)
        return "display_name must be at most 20 bytes";
    if (email && *email && (strlen(email) > 50 || !account_email_ok(email)))
        return "email must be a valid address of at most 50 bytes";
    if (password && *password && (strlen(password) < 8 || strlen(password) > 20))
        return "password must be 8 to 20 bytes";
    return NULL;
}

void account_aff_code(char out[5])
{
    random_alnum(out, 4);
}

const char *account_quota_text(struct req *r, int64_t quota)
{
    struct app *app = req_app(r);
    struct strbuf sb = {0};
    quota_math_log_quota(&sb, quota, options_bool(app->opts, "DisplayInCurrencyEnabled"),
                         options_double(app->opts, "QuotaPerUnit"));
    const char *s = arena_strdup(r->a, sb.p ? sb.p : "");
    sb_free(&sb);
    return s;
}

/* A ledger entry that writes one log row for uid (and moves amount into users.quota). */
static int commit_log(struct req *r, int64_t uid, int64_t amount, int type, const char *content,
                      int64_t log_quota)
{
    struct user u;
    int rc = db_users_by_id(req_db(r), r->a, uid, &u);
    if (rc < 0)
        return OA_ERR_DB;
    struct ledger_entry e = {0};
    if (amount) {
        e.user_id = uid;
        e.user_quota_delta = -amount; /* the ledger subtracts */
    }
    e.has_log = 1;
    e.log.user_id = uid;
    e.log.created_at = (int64_t)time(NULL);
    e.log.type = type;
    e.log.quota = log_quota;
    snprintf(e.log.content, sizeof e.log.content, "%s", content);
    snprintf(e.log.username, sizeof e.log.username, "%s", rc == 1 ? u.username : "");
    snprintf(e.log.request_id, sizeof e.log.request_id, "%s", r->request_id ? r->request_id : "");
    return writer_commit_one(req_db(r), &e) < 0 ? OA_ERR_DB : 0;
}

int account_credit(struct req *r, int64_t uid, int64_t amount, int type, const char *content,
                   int64_t log_quota)
{
    return commit_log(r, uid, amount, type, content, log_quota);
}

int account_log(struct req *r, int64_t uid, int type, const char *content)
{
    return commit_log(r, uid, 0, type, content, 0);
}

/* The "default" key every new account gets: no expiry, unlimited quota. */
static void default_token(struct req *r, int64_t uid)
{
    char key[49];
    token_key_new(key);
    int64_t now = (int64_t)time(NULL);
    struct token t = {.user_id = uid,
                      .key = key,
                      .status = 1,
                      .name = "default",
                      .created_time = now,
                      .accessed_time = now,
                      .expired_time = -1,
                      .remain_quota = -1,
                      .unlimited_quota = 1};
    if (db_tokens_insert(req_db(r), &t, NULL) < 0)
        LOG_ERR("cannot create the default key of user %lld: %s", (long long)uid,
                db_errmsg(req_db(r)));
}

int account_create(struct req *r, const struct user *in, const char *password, int64_t inviter_id,
                   int64_t *id)
{
    struct app *app = req_app(r);
    char hash[128] = "";
    if (password && *password && pw_hash(password, hash, sizeof hash) < 0)
        return OA_ERR_INTERNAL;
    struct user u = *in;
    u.password = hash;
    if (!u.display_name || !*u.display_name)
        u.display_name = u.username;
    char access[33], aff[5];
    uuid_hex(access);
    u.access_token = access;
    u.quota = (int64_t)options_double(app->opts, "QuotaForNewUser");
    u.used_quota = u.request_count = 0;
    struct user inviter;
    if (inviter_id > 0) {
        int rc = db_users_by_id(req_db(r), r->a, inviter_id, &inviter);
        if (rc < 0)
            return OA_ERR_DB;
        if (rc == 0)
            inviter_id = 0;
    } else {
        inviter_id = 0;
    }
    u.inviter_id = inviter_id;
    int64_t uid = 0;
    int rc = DB_CONSTRAINT;
    /* An aff code collides with one of the 14.7 million others now and then: draw again. A
     * taken username fails every time and ends the loop through the lookup below. */
    for (int attempt = 0; attempt < 5 && rc == DB_CONSTRAINT; attempt++) {
        account_aff_code(aff);
        u.aff_code = aff;
        rc = db_users_insert(req_db(r), &u, &uid);
        if (rc == DB_CONSTRAINT) {
            struct user other;
            int found = db_users_by_username(req_db(r), r->a, u.username, &other);
            if (found < 0)
                return OA_ERR_DB;
            if (found == 1)
                return 1;
        }
    }
    if (rc < 0)
        return OA_ERR_DB;
    if (id)
        *id = uid;
    if (u.quota > 0)
        account_log(r, uid, LOG_SYSTEM,
                    arena_printf(r->a, "新用户注册赠送 %s", account_quota_text(r, u.quota)));
    if (inviter_id) {
        int64_t for_invitee = (int64_t)options_double(app->opts, "QuotaForInvitee");
        int64_t for_inviter = (int64_t)options_double(app->opts, "QuotaForInviter");
        if (for_invitee > 0)
            account_credit(
                r, uid, for_invitee, LOG_SYSTEM,
                arena_printf(r->a, "使用邀请码赠送 %s", account_quota_text(r, for_invitee)), 0);
        if (for_inviter > 0)
            account_credit(
                r, inviter_id, for_inviter, LOG_SYSTEM,
                arena_printf(r->a, "邀请用户赠送 %s", account_quota_text(r, for_inviter)), 0);
    }
    default_token(r, uid);
    return 0;
}
