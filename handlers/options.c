/* options: defaults table plus the rwlock-guarded cache of the options rows. */
#include "config.h"
#include "handlers/options.h"
#include "db/options.h"
#include "fcgi/arena.h"
#include "fcgi/xmalloc.h"
#include "handlers/relay/ratio.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct option_default {
    const char *key;
    const char *value;
};

/* One API's defaults, in its order. ModelRatio and CompletionRatio come from the ratio
 * tables (handlers/relay/ratio.c). */
static const struct option_default option_defaults[] = {
    {"SystemName", "One API"},
    {"Logo", ""},
    {"Footer", ""},
    {"Notice", ""},
    {"About", ""},
    {"HomePageContent", ""},
    {"ServerAddress", ""},
    {"Theme", "default"},
    {"TopUpLink", ""},
    {"ChatLink", ""},
    {"QuotaPerUnit", "500000"},
    {"DisplayInCurrencyEnabled", "true"},
    {"DisplayTokenStatEnabled", "true"},
    {"PasswordLoginEnabled", "true"},
    {"PasswordRegisterEnabled", "true"},
    {"RegisterEnabled", "true"},
    {"EmailVerificationEnabled", "false"},
    {"EmailDomainRestrictionEnabled", "false"},
    {"EmailDomainWhitelist",
     "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,yahoo.com,foxmail.com"},
    {"GitHubOAuthEnabled", "false"},
    {"GitHubClientId", ""},
    {"GitHubClientSecret", ""},
    {"OidcEnabled", "false"},
    {"WeChatAuthEnabled", "false"},
    {"WeChatServerAddress", ""},
    {"WeChatServerToken", ""},
    {"WeChatAccountQRCodeImageURL", ""},
    {"TurnstileCheckEnabled", "false"},
    {"TurnstileSiteKey", ""},
    {"TurnstileSecretKey", ""},
    {"SMTPServer", ""},
    {"SMTPPort", "587"},
    {"SMTPAccount", ""},
    {"SMTPFrom", ""},
    {"SMTPToken", ""},
    {"MessagePusherAddress", ""},
    {"MessagePusherToken", ""},
    {"QuotaForNewUser", "0"},
    {"QuotaForInviter", "0"},
    {"QuotaForInvitee", "0"},
    {"QuotaRemindThreshold", "1000"},
    {"PreConsumedQuota", "500"},
    {"RetryTimes", "0"},
    {"ChannelDisableThreshold", "5"},
    {"AutomaticDisableChannelEnabled", "false"},
    {"AutomaticEnableChannelEnabled", "false"},
    {"ApproximateTokenEnabled", "false"},
    {"LogConsumeEnabled", "true"},
    {"GroupRatio", "{\"default\":1,\"vip\":1,\"svip\":1}"},
};

struct opt {
    char *key, *value; /* heap */
};

/* One immutable set of values: built whole, then swapped in, so readers never wait for the
 * database. */
struct opt_table {
    struct opt *v;
    size_t n, cap;
};

struct options {
    pthread_rwlock_t lock; /* guards the table pointer; held only to look up or to swap */
    /* Orders the writers (a load, a set): a load that read the rows before a set's row was
     * stored must not put its older table in place after the set. */
    pthread_mutex_t write_mu;
    struct opt_table *t;
    char *theme; /* THEME, over the default of Theme */
};

/* Sets key in a table nobody else sees yet. */
static void table_set(struct opt_table *t, const char *key, const char *value)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->v[i].key, key)) {
            free(t->v[i].value);
            t->v[i].value = xstrdup(value);
            return;
        }
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n].key = xstrdup(key);
    t->v[t->n].value = xstrdup(value);
    t->n++;
}

static void table_free(struct opt_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].key);
        free(t->v[i].value);
    }
    free(t->v);
    free(t);
}

/* A table of the defaults, THEME included. */
static struct opt_table *table_defaults(const char *theme)
{
    struct opt_table *t = xcalloc(1, sizeof *t);
    for (size_t i = 0; i < sizeof option_defaults / sizeof *option_defaults; i++)
        table_set(t, option_defaults[i].key, option_defaults[i].value);
    if (theme && *theme)
        table_set(t, "Theme", theme);
    return t;
}

struct options *options_new(const char *theme)
{
    struct options *o = xcalloc(1, sizeof *o);
    pthread_rwlock_init(&o->lock, NULL);
    pthread_mutex_init(&o->write_mu, NULL);
    o->theme = xstrdup(theme ? theme : "");
    o->t = table_defaults(o->theme);
    return o;
}

void options_free(struct options *o)
{
    if (!o)
        return;
    table_free(o->t);
    free(o->theme);
    pthread_rwlock_destroy(&o->lock);
    pthread_mutex_destroy(&o->write_mu);
    free(o);
}

/* Puts t in place of the table in use and frees the old one. Caller holds write_mu. */
static void swap_in(struct options *o, struct opt_table *t)
{
    pthread_rwlock_wrlock(&o->lock);
    struct opt_table *old = o->t;
    o->t = t;
    pthread_rwlock_unlock(&o->lock);
    table_free(old);
}

static void load_row(const char *key, const char *value, void *ud)
{
    table_set(ud, key, value);
}

int options_load(struct options *o, struct db_conn *c)
{
    /* The rows are read without the read-write lock: a slow database must not stall every
     * request that reads an option. A failed read keeps the values in use. */
    pthread_mutex_lock(&o->write_mu);
    struct opt_table *t = table_defaults(o->theme);
    int rc = db_options_each(c, load_row, t);
    if (rc < 0) {
        pthread_mutex_unlock(&o->write_mu);
        table_free(t);
        return rc;
    }
    swap_in(o, t);
    pthread_mutex_unlock(&o->write_mu);
    return rc;
}

void options_set(struct options *o, const char *key, const char *value)
{
    pthread_mutex_lock(&o->write_mu);
    /* Only writers change o->t, and they hold write_mu: it can be read here unlocked. */
    struct opt_table *t = xcalloc(1, sizeof *t);
    for (size_t i = 0; i < o->t->n; i++)
        table_set(t, o->t->v[i].key, o->t->v[i].value);
    table_set(t, key, value);
    swap_in(o, t);
    pthread_mutex_unlock(&o->write_mu);
}

size_t options_snapshot(struct options *o, struct arena *a, const char ***keys,
                        const char ***values)
{
    pthread_rwlock_rdlock(&o->lock);
    size_t n = o->t->n;
    *keys = arena_calloc(a, n ? n : 1, sizeof **keys);
    *values = arena_calloc(a, n ? n : 1, sizeof **values);
    for (size_t i = 0; i < n; i++) {
        (*keys)[i] = arena_strdup(a, o->t->v[i].key);
        (*values)[i] = arena_strdup(a, o->t->v[i].value);
    }
    pthread_rwlock_unlock(&o->lock);
    return n;
}

/* The value of key in the current table, or NULL. Caller holds the read lock. */
static const char *lookup(struct options *o, const char *key)
{
    for (size_t i = 0; i < o->t->n; i++)
        if (!strcmp(o->t->v[i].key, key))
            return o->t->v[i].value;
    return NULL;
}

const char *options_get(struct options *o, struct arena *a, const char *key)
{
    pthread_rwlock_rdlock(&o->lock);
    const char *v = lookup(o, key);
    const char *out = arena_strdup(a, v ? v : "");
    pthread_rwlock_unlock(&o->lock);
    return out;
}

int options_bool(struct options *o, const char *key)
{
    pthread_rwlock_rdlock(&o->lock);
    const char *v = lookup(o, key);
    int b = v && !strcmp(v, "true");
    pthread_rwlock_unlock(&o->lock);
    return b;
}

double options_double(struct options *o, const char *key)
{
    pthread_rwlock_rdlock(&o->lock);
    const char *v = lookup(o, key);
    double d = v ? strtod(v, NULL) : 0;
    pthread_rwlock_unlock(&o->lock);
    return d;
}

/* The options read as numbers: a value that is not one would be read as 0 (One API ignores
 * the parse error), which for QuotaPerUnit divides by zero. */
static const char *const integer_keys[] = {
    "QuotaForNewUser",  "QuotaForInviter", "QuotaForInvitee",         "QuotaRemindThreshold",
    "PreConsumedQuota", "RetryTimes",      "ChannelDisableThreshold",
};

/* Whether s ends with suffix. */
static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* s is a whole decimal number >= 0 (digits only, at most 18 of them). */
static int is_count(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 18 && s[n] == '\0';
}

const char *options_check(struct options *o, struct arena *a, const char *key, const char *value)
{
    int is_true = !strcmp(value, "true");
    /* A switch that needs other settings first: One API's messages. */
    static const char *const needs[][3] = {
        {"GitHubOAuthEnabled", "GitHubClientId",
         "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！"},
        {"EmailDomainRestrictionEnabled", "EmailDomainWhitelist",
         "无法启用邮箱域名限制，请先填入限制的邮箱域名！"},
        {"WeChatAuthEnabled", "WeChatServerAddress",
         "无法启用微信登录，请先填入微信登录相关配置信息！"},
        {"TurnstileCheckEnabled", "TurnstileSiteKey",
         "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！"},
    };
    if (ends_with(key, "Enabled") && !is_true && strcmp(value, "false") != 0)
        return arena_printf(a, "%s must be \"true\" or \"false\"", key);
    for (size_t i = 0; i < sizeof needs / sizeof *needs; i++)
        if (is_true && !strcmp(key, needs[i][0]) && !*options_get(o, a, needs[i][1]))
            return needs[i][2];
    if (!strcmp(key, "Theme") && strcmp(value, "default") != 0 && strcmp(value, "dark") != 0 &&
        strcmp(value, "berry") != 0 && strcmp(value, "air") != 0)
        return "无效的主题";
    for (size_t i = 0; i < sizeof integer_keys / sizeof *integer_keys; i++)
        if (!strcmp(key, integer_keys[i]) && !is_count(value))
            return arena_printf(a, "%s must be a whole number >= 0", key);
    if (!strcmp(key, "QuotaPerUnit")) {
        char *end;
        double d = strtod(value, &end);
        if (end == value || *end || !isfinite(d) || d <= 0)
            return "QuotaPerUnit must be a number > 0";
    }
    for (int k = 0; k < RATIO__MAX; k++) {
        if (strcmp(key, ratio_kind_name(k)) != 0)
            continue;
        char err[256];
        if (ratio_json_validate(k, value, err, sizeof err) < 0)
            return arena_strdup(a, err);
    }
    return NULL;
}
