/* page_user: a member's own pages: the dashboard with its usage chart, relay keys, top-up and
 * personal settings. Every rule and message comes from the /api handlers' shared functions. */
#include "config.h"
#include "handlers/account.h"
#include "handlers/api/api.h"
#include "handlers/app.h"
#include "handlers/console/chart.h"
#include "handlers/console/console.h"
#include "handlers/console/pages.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "db/db.h"
#include "db/tokens.h"
#include "db/users.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_SECONDS 86400
#define WEEK_DAYS 7

static void put_str(json_object *d, const char *k, const char *v)
{
    json_object_object_add(d, k, json_object_new_string(v ? v : ""));
}

/* A Unix time as "YYYY-MM-DD HH:MM" UTC, in r's arena. */
static const char *fmt_time(struct req *r, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm))
        return "";
    return arena_strdup(r->a, buf);
}

/* ---------------------------------------------------------------- dashboard */

/* Index of s in v[0..*n), appended when missing. */
static size_t intern(const char **v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v[i], s))
            return i;
    v[*n] = s;
    return (*n)++;
}

int p_dashboard(struct req *r)
{
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    struct user_day_stat *v;
    size_t n;
    if (user_week_stats(r, &v, &n) < 0)
        return OA_ERR_DB;
    json_object *d = jnew_obj();
    put_str(d, "quota", console_quota(r, u.quota));
    put_str(d, "used_quota", console_quota(r, u.used_quota));
    json_object_object_add(d, "request_count", json_object_new_int64(u.request_count));
    put_str(d, "group", u.group);

    /* One bar per day of the week, today last, days without use included. */
    const char *days[WEEK_DAYS];
    int64_t now = (int64_t)time(NULL), today = now - now % DAY_SECONDS;
    for (int i = 0; i < WEEK_DAYS; i++)
        days[i] = arena_strndup(r->a, fmt_time(r, today - (WEEK_DAYS - 1 - i) * DAY_SECONDS), 10);
    const char **models = arena_calloc(r->a, n + 1, sizeof *models);
    size_t nm = 0;
    for (size_t i = 0; i < n; i++)
        intern(models, &nm, v[i].model_name);
    double *vals = arena_calloc(r->a, WEEK_DAYS * (nm + 1), sizeof *vals);
    struct options *o = req_app(r)->opts;
    double per_unit = options_double(o, "QuotaPerUnit");
    int usd = options_bool(o, "DisplayInCurrencyEnabled") && per_unit > 0;
    json_object *rows = jnew_arr();
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < WEEK_DAYS; k++)
            if (!strcmp(days[k], v[i].day)) {
                size_t m = intern(models, &nm, v[i].model_name);
                vals[(size_t)k * nm + m] +=
                    usd ? (double)v[i].quota / per_unit : (double)v[i].quota;
            }
        json_object *row = jnew_obj();
        put_str(row, "day", v[i].day);
        put_str(row, "model", v[i].model_name);
        json_object_object_add(row, "requests", json_object_new_int64(v[i].request_count));
        put_str(row, "quota", console_quota(r, v[i].quota));
        json_object_object_add(row, "prompt_tokens", json_object_new_int64(v[i].prompt_tokens));
        json_object_object_add(row, "completion_tokens",
                               json_object_new_int64(v[i].completion_tokens));
        json_object_array_add(rows, row);
    }
    struct strbuf sb;
    sb_init(&sb, r->a);
    if (chart_svg(&sb, "Quota used per day and model, last 7 days", days, WEEK_DAYS, models, nm,
                  vals, usd ? "$" : ""))
        put_str(d, "chart_html", sb.p);
    if (n) {
        json_object_object_add(d, "rows", rows);
        json_object_object_add(d, "has_rows", json_object_new_boolean(1));
    } else
        json_object_put(rows);
    return console_page(r, 200, "dashboard", "Dashboard", d);
}

/* ---------------------------------------------------------------- keys */

static const char *const status_labels[] = {"", "Enabled", "Disabled", "Expired", "Exhausted"};

/* A key as the list and the form show it: token_json plus display fields. */
static json_object *token_view(struct req *r, const struct token *t)
{
    json_object *j = token_json(t);
    put_str(j, "sk", arena_printf(r->a, "sk-%s", t->key));
    put_str(j, "status_label",
            t->status >= 1 && t->status <= 4 ? status_labels[t->status] : "Unknown");
    json_object_object_add(j, "enabled", json_object_new_boolean(t->status == 1));
    put_str(j, "remain", t->unlimited_quota ? "Unlimited" : console_quota(r, t->remain_quota));
    put_str(j, "used", console_quota(r, t->used_quota));
    put_str(j, "created", fmt_time(r, t->created_time));
    put_str(j, "expires", t->expired_time == -1 ? "Never" : fmt_time(r, t->expired_time));
    return j;
}

int p_token_list(struct req *r)
{
    const char *kw = req_query(r, "keyword");
    struct token *v;
    size_t n;
    int64_t p = 0;
    json_object *d = jnew_obj();
    if (kw && *kw) {
        if (db_tokens_search(req_db(r), r->a, r->user_id, kw, &v, &n) < 0)
            return OA_ERR_DB;
        put_str(d, "keyword", kw);
    } else {
        if (parse_decimal(req_query(r, "p"), &p) < 0 || p < 0)
            p = 0;
        if (db_tokens_list(req_db(r), r->a, r->user_id, TOKENS_BY_ID, p * API_PAGE_SIZE,
                           API_PAGE_SIZE, &v, &n) < 0)
            return OA_ERR_DB;
        if (p > 0)
            put_str(d, "prev_p", arena_printf(r->a, "%lld", (long long)(p - 1)));
        if (n == API_PAGE_SIZE)
            put_str(d, "next_p", arena_printf(r->a, "%lld", (long long)(p + 1)));
        if (p > 0 || n == API_PAGE_SIZE)
            json_object_object_add(d, "page", json_object_new_int64(p + 1));
    }
    if (n) {
        json_object *arr = jnew_arr();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(arr, token_view(r, &v[i]));
        json_object_object_add(d, "tokens", arr);
        json_object_object_add(d, "has_tokens", json_object_new_boolean(1));
    }
    return console_page(r, 200, "token", "Keys", d);
}

/* Which form field a validation message of token_invalid is about. */
static const char *token_error_field(const char *msg)
{
    if (strstr(msg, "名称"))
        return "err_name";
    if (strstr(msg, "额度"))
        return "err_quota";
    if (strstr(msg, "rpm_limit"))
        return "err_rpm";
    if (strstr(msg, "网段"))
        return "err_subnet";
    return "error";
}

/* The key form, for a new key (t NULL) or an edit; form (may be NULL) refills what was typed
 * after an error. */
static int token_form(struct req *r, int status, const struct token *t, json_object *form,
                      const char *error)
{
    json_object *d = jnew_obj();
    if (t) {
        json_object_object_add(d, "id", json_object_new_int64(t->id));
        put_str(d, "name", t->name);
        if (t->expired_time != -1) {
            /* What a datetime-local field takes: a 'T' between the date and the time. */
            char *when = arena_strndup(r->a, fmt_time(r, t->expired_time), 16);
            if (strlen(when) == 16)
                when[10] = 'T';
            put_str(d, "expires", when);
        }
        json_object_object_add(d, "never", json_object_new_boolean(t->expired_time == -1));
        json_object_object_add(d, "remain_quota", json_object_new_int64(t->remain_quota));
        json_object_object_add(d, "unlimited", json_object_new_boolean(t->unlimited_quota));
        put_str(d, "models", t->models);
        put_str(d, "subnet", t->subnet);
        json_object_object_add(d, "rpm_limit", json_object_new_int64(t->rpm_limit));
    } else {
        json_object_object_add(d, "never", json_object_new_boolean(1));
        json_object_object_add(d, "unlimited", json_object_new_boolean(1));
        json_object_object_add(d, "remain_quota", json_object_new_int64(0));
        json_object_object_add(d, "rpm_limit", json_object_new_int64(0));
    }
    if (form) {
        static const char *const keep[] = {"name",   "expires", "remain_quota",
                                           "models", "subnet",  "rpm_limit"};
        for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
            put_str(d, keep[i], console_field(form, keep[i]));
        json_object_object_add(d, "never",
                               json_object_new_boolean(*console_field(form, "never") != '\0'));
        json_object_object_add(d, "unlimited",
                               json_object_new_boolean(*console_field(form, "unlimited") != '\0'));
    }
    if (error)
        put_str(d, token_error_field(error), error);
    json_object_object_add(d, "is_edit", json_object_new_boolean(t != NULL));
    return console_page(r, status, "token_edit", t ? "Edit key" : "New key", d);
}

int p_token_new(struct req *r)
{
    return token_form(r, 200, NULL, NULL, NULL);
}

int p_token_edit(struct req *r)
{
    int64_t id;
    struct token t;
    if (parse_decimal(req_query(r, "id"), &id) < 0)
        return OA_ERR_NOT_FOUND;
    int rc = db_tokens_get(req_db(r), r->a, id, r->user_id, &t);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0)
        return OA_ERR_NOT_FOUND;
    return token_form(r, 200, &t, NULL, NULL);
}

/* "YYYY-MM-DDTHH:MM" (what a datetime-local field sends; a space works too) as Unix seconds
 * UTC: 0, or -1 when it is not one. */
static int parse_when(const char *s, int64_t *out)
{
    int y, mo, da, h, mi, len = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d%n", &y, &mo, &da, &h, &mi, &len) != 5 ||
        s[len] != '\0' || mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59)
        return -1;
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = da, .tm_hour = h, .tm_min = mi};
    *out = (int64_t)timegm(&tm);
    return 0;
}

int p_token_save(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int64_t id = 0;
    struct token stored, t = {0};
    const struct token *shown = NULL;
    if (*console_field(form, "id")) {
        if (parse_decimal(console_field(form, "id"), &id) < 0)
            return OA_ERR_NOT_FOUND;
        int rc = db_tokens_get(req_db(r), r->a, id, r->user_id, &stored);
        if (rc < 0)
            return OA_ERR_DB;
        if (rc == 0)
            return OA_ERR_NOT_FOUND;
        t = stored;
        shown = &stored;
    }
    t.name = console_field(form, "name");
    const char *msg = NULL;
    t.expired_time = -1;
    if (!*console_field(form, "never") &&
        parse_when(console_field(form, "expires"), &t.expired_time) < 0)
        msg = "Choose an expiry date and time, or \"never\".";
    t.unlimited_quota = *console_field(form, "unlimited") != '\0';
    const char *q = console_field(form, "remain_quota"), *rpm = console_field(form, "rpm_limit");
    t.remain_quota = 0;
    t.rpm_limit = 0;
    if (!msg && ((*q && parse_decimal(q, &t.remain_quota) < 0) ||
                 (*rpm && parse_decimal(rpm, &t.rpm_limit) < 0)))
        msg = msg_invalid_parameter(r);
    t.models = console_field(form, "models");
    t.subnet = console_field(form, "subnet");
    if (!msg)
        msg = token_invalid(r, &t);
    if (msg)
        return token_form(r, 422, shown, form, msg);
    if (id) {
        if (db_tokens_update(req_db(r), &t) < 0)
            return OA_ERR_DB;
        console_flash(r, "ok", "The key is saved.");
    } else {
        int rc = token_create(r, &t, &id);
        if (rc < 0)
            return rc;
        console_flash(r, "ok", "The key is created.");
    }
    console_redirect(r, "/token");
    return 0;
}

int p_token_status(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int64_t id, status;
    struct token t;
    if (parse_decimal(console_field(form, "id"), &id) < 0 ||
        parse_decimal(console_field(form, "status"), &status) < 0 || status < 1 || status > 2)
        return OA_ERR_BAD_REQUEST;
    int rc = db_tokens_get(req_db(r), r->a, id, r->user_id, &t);
    if (rc < 0)
        return OA_ERR_DB;
    if (rc == 0)
        return OA_ERR_NOT_FOUND;
    const char *why = status == 1 ? token_enable_refused(&t) : NULL;
    if (why) {
        console_flash(r, "error", why);
    } else {
        t.status = status;
        if (db_tokens_update(req_db(r), &t) < 0)
            return OA_ERR_DB;
        console_flash(r, "ok", status == 1 ? "The key is enabled." : "The key is disabled.");
    }
    console_redirect(r, "/token");
    return 0;
}

int p_token_delete(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    int64_t id;
    if (parse_decimal(console_field(form, "id"), &id) < 0)
        return OA_ERR_BAD_REQUEST;
    int64_t n = db_tokens_delete(req_db(r), id, r->user_id);
    if (n < 0)
        return OA_ERR_DB;
    console_flash(r, n ? "ok" : "error", n ? "The key is deleted." : "record not found");
    console_redirect(r, "/token");
    return 0;
}

/* ---------------------------------------------------------------- top-up */

static int topup_page(struct req *r, int status, const char *error, const char *code)
{
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    json_object *d = jnew_obj();
    put_str(d, "quota", console_quota(r, u.quota));
    const char *link = options_get(req_app(r)->opts, r->a, "TopUpLink");
    if (*link) {
        /* What One API's page appends, so the shop knows who pays. */
        char txn[33];
        uuid_hex(txn);
        struct strbuf sb;
        sb_init(&sb, r->a);
        sb_puts(&sb, link);
        sb_puts(&sb, strchr(link, '?') ? "&username=" : "?username=");
        sb_url(&sb, u.username);
        sb_printf(&sb, "&user_id=%lld&transaction_id=%s", (long long)u.id, txn);
        put_str(d, "top_up_url", sb.p);
    }
    if (error)
        put_str(d, "error", error);
    put_str(d, "code", code);
    return console_page(r, status, "topup", "Top up", d);
}

int p_topup(struct req *r)
{
    return topup_page(r, 200, NULL, NULL);
}

int p_topup_post(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *key = console_field(form, "key");
    int64_t quota = 0;
    const char *why = NULL;
    int rc = redemption_redeem(r, key, &quota, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return topup_page(r, 422, why, key);
    console_flash(r, "ok", arena_printf(r->a, "Redeemed: %s added.", console_quota(r, quota)));
    console_redirect(r, "/topup");
    return 0;
}

/* ---------------------------------------------------------------- settings */

/* The settings page; extra (may be NULL) carries what one form's answer adds: its error
 * beside it, or a new access token shown once. */
static int setting_page(struct req *r, int status, json_object *extra)
{
    struct user u;
    int rc = user_of_caller(r, &u);
    if (rc < 0)
        return rc;
    json_object *d = extra ? extra : jnew_obj();
    json_object_object_add(d, "user", user_json(&u, 0));
    const char *code = NULL, *why = NULL;
    rc = user_aff_code(r, &code, &why);
    if (rc < 0)
        return rc;
    if (rc == 1)
        put_str(d, "invite_url", arena_printf(r->a, "%s/register?aff=%s", console_origin(r), code));
    json_object *bound = jnew_arr();
    const struct {
        const char *label, *value;
    } ids[] = {{"E-mail", u.email},
               {"GitHub", u.github_id},
               {"WeChat", u.wechat_id},
               {"Feishu", u.lark_id}};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        json_object *b = jnew_obj();
        put_str(b, "label", ids[i].label);
        put_str(b, "value", ids[i].value);
        json_object_array_add(bound, b);
    }
    json_object_object_add(d, "bound", bound);
    json_object_object_add(d, "can_delete", json_object_new_boolean(r->role < ROLE_ROOT));
    /* Root's system settings come below the personal ones on the same page. */
    if (r->role >= ROLE_ROOT)
        setting_admin_data(r, d, NULL, NULL, NULL);
    return console_page(r, status, "setting", "Settings", d);
}

static int setting_error(struct req *r, const char *field, const char *msg)
{
    json_object *d = jnew_obj();
    put_str(d, field, msg);
    return setting_page(r, 422, d);
}

int p_setting(struct req *r)
{
    return setting_page(r, 200, NULL);
}

int p_setting_profile(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *why = NULL;
    int rc = user_self_update(r, console_field(form, "username"),
                              console_field(form, "display_name"), NULL, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return setting_error(r, "err_profile", why);
    console_flash(r, "ok", "Your profile is saved.");
    console_redirect(r, "/setting");
    return 0;
}

int p_setting_password(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *pass = console_field(form, "password");
    if (!*pass || strcmp(pass, console_field(form, "password2")))
        return setting_error(r, "err_password", "Type the same new password twice.");
    const char *why = NULL;
    int rc = user_self_update(r, NULL, NULL, pass, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return setting_error(r, "err_password", why);
    console_flash(r, "ok", "Your password is changed.");
    console_redirect(r, "/setting");
    return 0;
}

int p_setting_access_token(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    char tok[33];
    const char *why = NULL;
    int rc = user_access_token_new(r, tok, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return setting_error(r, "err_access_token", why);
    /* Shown in this answer only: it is a secret, so it never goes into a redirect or a flash
     * cookie. */
    json_object *d = jnew_obj();
    put_str(d, "access_token", tok);
    return setting_page(r, 200, d);
}

int p_setting_delete(struct req *r)
{
    json_object *form;
    if (!console_form(r, &form))
        return 0;
    const char *why = NULL;
    int rc = user_self_delete(r, &why);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return setting_error(r, "err_delete", why);
    console_flash(r, "ok", "Your account is deleted.");
    console_redirect(r, "/login");
    return 0;
}
