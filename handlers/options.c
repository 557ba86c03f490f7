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

struct options {
    pthread_rwlock_t lock;
    struct opt *v;
    size_t n, cap;
};

/* Caller holds the write lock. */
static void set_locked(struct options *o, const char *key, const char *value)
{
    for (size_t i = 0; i < o->n; i++) {
        if (!strcmp(o->v[i].key, key)) {
            free(o->v[i].value);
            o->v[i].value = xstrdup(value);
            return;
        }
    }
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->v = xrealloc(o->v, o->cap * sizeof *o->v);
    }
    o->v[o->n].key = xstrdup(key);
    o->v[o->n].value = xstrdup(value);
    o->n++;
}

struct options *options_new(const char *theme)
{
    struct options *o = xcalloc(1, sizeof *o);
    pthread_rwlock_init(&o->lock, NULL);
    for (size_t i = 0; i < sizeof option_defaults / sizeof *option_defaults; i++)
        set_locked(o, option_defaults[i].key, option_defaults[i].value);
    if (theme && *theme)
        set_locked(o, "Theme", theme);
    return o;
}

void options_free(struct options *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].key);
        free(o->v[i].value);
    }
    free(o->v);
    pthread_rwlock_destroy(&o->lock);
    free(o);
}

static void load_row(const char *key, const char *value, void *ud)
{
    set_locked(ud, key, value);
}

int options_load(struct options *o, struct db_conn *c)
{
    pthread_rwlock_wrlock(&o->lock);
    int rc = db_options_each(c, load_row, o);
    pthread_rwlock_unlock(&o->lock);
    return rc;
}

const char *options_get(struct options *o, struct arena *a, const char *key)
{
    const char *out = "";
    pthread_rwlock_rdlock(&o->lock);
    for (size_t i = 0; i < o->n; i++) {
        if (!strcmp(o->v[i].key, key)) {
            out = arena_strdup(a, o->v[i].value);
            break;
        }
    }
    pthread_rwlock_unlock(&o->lock);
    return out;
}

int options_bool(struct options *o, const char *key)
{
    int v = 0;
    pthread_rwlock_rdlock(&o->lock);
    for (size_t i = 0; i < o->n; i++) {
        if (!strcmp(o->v[i].key, key)) {
            v = !strcmp(o->v[i].value, "true");
            break;
        }
    }
    pthread_rwlock_unlock(&o->lock);
    return v;
}

double options_double(struct options *o, const char *key)
{
    double v = 0;
    pthread_rwlock_rdlock(&o->lock);
    for (size_t i = 0; i < o->n; i++) {
        if (!strcmp(o->v[i].key, key)) {
            v = strtod(o->v[i].value, NULL);
            break;
        }
    }
    pthread_rwlock_unlock(&o->lock);
    return v;
}
