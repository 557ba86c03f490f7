/* options: defaults table plus the rwlock-guarded cache of the options rows. */
#include "config.h"
#include "handlers/options.h"
#include "db/options.h"
#include "fcgi/arena.h"
#include "fcgi/xmalloc.h"

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
    free(o);
}

static void load_row(const char *key, const char *value, void *ud)
{
    table_set(ud, key, value);
}

int options_load(struct options *o, struct db_conn *c)
{
    /* The rows are read without the lock: a slow database must not stall every request that
     * reads an option. A failed read keeps the values in use. */
    struct opt_table *t = table_defaults(o->theme);
    int rc = db_options_each(c, load_row, t);
    if (rc < 0) {
        table_free(t);
        return rc;
    }
    pthread_rwlock_wrlock(&o->lock);
    struct opt_table *old = o->t;
    o->t = t;
    pthread_rwlock_unlock(&o->lock);
    table_free(old);
    return rc;
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
