/* balance: the balance API of each upstream that has one, over the core's fetch callback. */
#include "config.h"
#include "providers/balance.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

/* The JSON answer of a GET, owned by a; NULL with *why when there is no 200 JSON answer. */
static json_object *get_json(const struct prov_fetch *f, struct arena *a, const char *url,
                             const char *header, const char **why)
{
    long status = 0;
    const char *body = NULL;
    size_t n = 0;
    if (f->get(f->ud, url, header, &status, &body, &n, why) < 0)
        return NULL;
    if (status != 200) {
        *why = arena_printf(a, "status code: %ld", status);
        return NULL;
    }
    json_object *j = jown(a, json_tokener_parse(body));
    if (!j)
        *why = "invalid JSON from the upstream";
    return j;
}

/* GETs path under base with the channel's key as Bearer: the JSON answer, or NULL with *why. */
static json_object *get_bearer(const struct prov_fetch *f, struct arena *a,
                               const struct prov_channel *ch, const char *base, const char *path,
                               const char **why)
{
    return get_json(f, a, arena_printf(a, "%s%s", base, path),
                    arena_printf(a, "Authorization: Bearer %s", ch->key), why);
}

/* Where a balance query goes when the provider's billing host is not its API host: the
 * channel's own base URL when it has one (a proxy in front, a test double), else host. */
static const char *billing_base(struct arena *a, const struct prov_channel *ch, const char *host)
{
    if (ch->is_default_base)
        return host;
    size_t n = strlen(ch->base_url);
    while (n && ch->base_url[n - 1] == '/')
        n--;
    return n ? arena_strndup(a, ch->base_url, n) : host;
}

/* The result of a parsed answer: ok says whether every figure was there. */
static int result(int ok, const char **why)
{
    if (!ok) {
        *why = "unexpected answer from the upstream";
        return -1;
    }
    return 0;
}

/* The number member key of o (NULL: missing) as the balance. */
static int figure(json_object *o, const char *key, double *out, const char **why)
{
    int ok = o != NULL;
    if (ok)
        *out = jnum(o, key, &ok);
    return result(ok, why);
}

int balance_openai(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                   double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, ch->base_url, "/v1/dashboard/billing/subscription", why);
    if (!j)
        return -1;
    int ok = 1;
    double limit = jnum(j, "hard_limit_usd", &ok);
    json_object *hp = jget(j, "has_payment_method");
    int has_payment = hp && json_object_get_boolean(hp);
    time_t now = time(NULL), start = now - 100 * 86400;
    struct tm tm;
    char from[16], to[16];
    gmtime_r(&now, &tm);
    strftime(to, sizeof to, "%Y-%m-%d", &tm);
    if (has_payment) {
        tm.tm_mday = 1;
        strftime(from, sizeof from, "%Y-%m-%d", &tm);
    } else {
        gmtime_r(&start, &tm);
        strftime(from, sizeof from, "%Y-%m-%d", &tm);
    }
    j = get_bearer(
        f, a, ch, ch->base_url,
        arena_printf(a, "/v1/dashboard/billing/usage?start_date=%s&end_date=%s", from, to), why);
    if (!j)
        return -1;
    *out = limit - jnum(j, "total_usage", &ok) / 100;
    return result(ok, why);
}

int balance_deepseek(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                     double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, ch->base_url, "/user/balance", why);
    if (!j)
        return -1;
    int ok = 0;
    json_object *infos = jget(j, "balance_infos");
    if (json_object_is_type(infos, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(infos); i++) {
            json_object *e = json_object_array_get_idx(infos, i);
            const char *cur = jstr(e, "currency");
            if (cur && !strcmp(cur, "CNY")) {
                ok = 1;
                *out = jnum(e, "total_balance", &ok);
            }
        }
    }
    return result(ok, why);
}

int balance_openrouter(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                       double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, ch->base_url, "/v1/credits", why);
    if (!j)
        return -1;
    int ok = 1;
    json_object *d = jget(j, "data");
    if (d)
        *out = jnum(d, "total_credits", &ok) - jnum(d, "total_usage", &ok);
    return result(ok && d, why);
}

int balance_siliconflow(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                        double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, ch->base_url, "/v1/user/info", why);
    if (!j)
        return -1;
    json_object *code = jget(j, "code");
    if (!code || json_object_get_int(code) != 20000)
        return result(0, why);
    return figure(jget(j, "data"), "totalBalance", out, why);
}

int balance_closeai(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                    double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, ch->base_url, "/dashboard/billing/credit_grants", why);
    return j ? figure(j, "total_available", out, why) : -1;
}

int balance_api2gpt(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                    double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, billing_base(a, ch, "https://api.api2gpt.com"),
                                "/dashboard/billing/credit_grants", why);
    return j ? figure(j, "total_remaining", out, why) : -1;
}

int balance_aigc2d(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                   double *out, const char **why)
{
    json_object *j = get_bearer(f, a, ch, billing_base(a, ch, "https://api.aigc2d.com"),
                                "/dashboard/billing/credit_grants", why);
    return j ? figure(j, "total_available", out, why) : -1;
}

int balance_openai_sb(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                      double *out, const char **why)
{
    struct strbuf path;
    sb_init(&path, a);
    SB_LIT(&path, "/sb-api/user/status?api_key=");
    sb_url(&path, ch->key);
    json_object *j =
        get_bearer(f, a, ch, billing_base(a, ch, "https://api.openai-sb.com"), path.p, why);
    return j ? figure(jget(j, "data"), "credit", out, why) : -1;
}

int balance_aiproxy(const struct prov_channel *ch, struct arena *a, const struct prov_fetch *f,
                    double *out, const char **why)
{
    json_object *j = get_json(
        f, a,
        arena_printf(a, "%s/api/report/getUserOverview", billing_base(a, ch, "https://aiproxy.io")),
        arena_printf(a, "Api-Key: %s", ch->key), why);
    if (!j)
        return -1;
    json_object *v = jget(j, "success");
    if (!v || !json_object_get_boolean(v)) {
        json_object *msg = jget(j, "message");
        *why = arena_printf(a, "code: %d, message: %s", json_object_get_int(jget(j, "errorCode")),
                            msg ? json_object_get_string(msg) : "");
        return -1;
    }
    return figure(jget(j, "data"), "totalPoints", out, why);
}
