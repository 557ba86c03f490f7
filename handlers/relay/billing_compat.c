/* billing_compat: OpenAI's old /dashboard/billing routes, which some clients still read,
 * answered from the relay key's or its owner's quota. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/options.h"
#include "handlers/respond.h"
#include "db/users.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <stdint.h>

/* The limit and usage the routes print: the key's figures when DisplayTokenStatEnabled, else
 * its owner's; in US$ when DisplayInCurrencyEnabled. */
static void billing_figures(struct req *r, double *limit, int64_t *access_until, double *used)
{
    struct app *app = req_app(r);
    struct relay_auth *au = r->auth;
    double per_unit = options_double(app->opts, "QuotaPerUnit");
    if (per_unit <= 0)
        per_unit = 500000;
    double amount, spent;
    *access_until = 0;
    if (options_bool(app->opts, "DisplayTokenStatEnabled")) {
        amount = au->tok.unlimited_quota
                     ? 100000000.0
                     : (double)au->tok.remain_quota + (double)au->tok.used_quota;
        spent = (double)au->tok.used_quota;
        *access_until = au->tok.expired_time > 0 ? au->tok.expired_time : 0;
    } else {
        /* The limit is the user's whole quota, used included: One API shows what remains
         * only (docs/compatibility.md). An unreadable used_quota counts 0. */
        struct relay_user *u = &au->user;
        int64_t used_quota = 0;
        if (db_users_used_quota(req_db(r), u->id, &used_quota) <= 0)
            used_quota = 0;
        amount = (double)u->quota + (double)used_quota; /* in double: int64 could overflow */
        spent = (double)used_quota;
    }
    if (options_bool(app->opts, "DisplayInCurrencyEnabled")) {
        amount /= per_unit;
        spent /= per_unit;
    }
    *limit = amount;
    *used = spent * 100;
}

int h_billing_subscription(struct req *r)
{
    double limit, used;
    int64_t until;
    billing_figures(r, &limit, &until, &used);
    json_object *j = jown(r->a, jnew_obj());
    json_object_object_add(j, "object", json_object_new_string("billing_subscription"));
    json_object_object_add(j, "has_payment_method", json_object_new_boolean(1));
    json_object_object_add(j, "soft_limit_usd", json_object_new_double(limit));
    json_object_object_add(j, "hard_limit_usd", json_object_new_double(limit));
    json_object_object_add(j, "system_hard_limit_usd", json_object_new_double(limit));
    json_object_object_add(j, "access_until", json_object_new_int64(until));
    respond_json(r, 200, j);
    return 0;
}

int h_billing_usage(struct req *r)
{
    double limit, used;
    int64_t until;
    billing_figures(r, &limit, &until, &used);
    json_object *j = jown(r->a, jnew_obj());
    json_object_object_add(j, "object", json_object_new_string("list"));
    json_object_object_add(j, "total_usage", json_object_new_double(used));
    respond_json(r, 200, j);
    return 0;
}
