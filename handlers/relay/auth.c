/* auth: relay key authentication: the key and its owner read and checked in One API's order,
 * with its messages. */
#include "config.h"
#include "handlers/relay/relay.h"
#include "handlers/app.h"
#include "handlers/relay/quota.h"
#include "handlers/throttle.h"
#include "db/db.h"
#include "db/relay.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/netaddr.h"
#include "fcgi/request.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int auth_fail(struct req *r, int status, const char *msg)
{
    r->err_status = status;
    r->err_msg = msg;
    return OA_ERR_DESCRIBED;
}

int relay_auth(struct req *r)
{
    const char *h = req_header(r, "Authorization");
    if (!h)
        h = "";
    if (!strncmp(h, "Bearer ", 7))
        h += 7;
    if (!strncmp(h, "sk-", 3))
        h += 3;
    const char *dash = strchr(h, '-');
    const char *key = dash ? arena_strndup(r->a, h, (size_t)(dash - h)) : h;
    const char *pin = dash ? dash + 1 : NULL;
    if (!*key)
        return auth_fail(r, 401, "未提供令牌");

    struct relay_auth *au = arena_calloc(r->a, 1, sizeof *au);
    struct app *app = req_app(r);
    int sql_quota = relay_uses_sql_quota(app);
    if (!sql_quota)
        au->quota_epoch = quota_epoch(app->quota);
    /* The key, its user and the routing reads share one SQLite read transaction; it ends
     * before the reservation, which must see the latest commits. */
    db_snapshot_begin(req_db(r));
    int rc = db_relay_token(req_db(r), r->a, key, &au->tok);
    if (rc < 0)
        return req_db_busy(r) ? OA_ERR_DB : auth_fail(r, 401, "令牌验证失败");
    if (rc == 0)
        return auth_fail(r, 401, "无效的令牌");
    struct relay_token *t = &au->tok;
    if (t->status == 4)
        return auth_fail(
            r, 401, arena_printf(r->a, "令牌 %s（#%lld）额度已用尽", t->name, (long long)t->id));
    if (t->status == 3)
        return auth_fail(r, 401, "该令牌已过期");
    if (t->status != 1)
        return auth_fail(r, 401, "该令牌状态不可用");
    if (t->expired_time != -1 && t->expired_time < (int64_t)time(NULL)) {
        db_snapshot_end(req_db(r));
        db_relay_token_status(req_db(r), t->id, 3);
        return auth_fail(r, 401, "该令牌已过期");
    }
    if (!t->unlimited_quota && t->remain_quota <= 0) {
        /* With the sql store remain_quota has reservations in flight taken out, so 0 may be
         * passing: refuse, but leave the status (a release would find the key disabled). */
        if (!sql_quota) {
            db_snapshot_end(req_db(r));
            db_relay_token_status(req_db(r), t->id, 4);
        }
        return auth_fail(r, 401, "该令牌额度已用尽");
    }
    if (*t->subnet && !ip_in_cidr_list(r->client_ip, t->subnet))
        return auth_fail(r, 403,
                         arena_printf(r->a, "该令牌只能在指定网段使用：%s，当前 ip：%s", t->subnet,
                                      r->client_ip));
    rc = db_relay_user(req_db(r), r->a, t->user_id, &au->user);
    if (rc < 0)
        return OA_ERR_DB; /* the database's text goes to the log, never to the client */
    if (rc == 0 || au->user.status != 1)
        return auth_fail(r, 403, "用户已被封禁");
    if (pin && *pin) {
        if (au->user.role < 10)
            return auth_fail(r, 403, "普通用户不支持指定渠道");
        char *end;
        long long id = strtoll(pin, &end, 10);
        if (*end || id <= 0)
            return auth_fail(r, 400, "无效的渠道 Id");
        au->pinned_channel = id;
    }
    /* The key's own requests-per-minute limit, last: only a request that would otherwise be
     * served takes a place in its window. */
    if (t->rpm_limit > 0 &&
        throttle_window(app->login_throttle, r, arena_printf(r->a, "RK%lld", (long long)t->id),
                        t->rpm_limit > 1000000 ? 1000000u : (unsigned)t->rpm_limit, 60) != 0) {
        r->err_code = "rate_limit_exceeded";
        return auth_fail(r, 429,
                         arena_printf(r->a,
                                      "该令牌已达到每分钟请求次数上限 %lld (this key's limit of "
                                      "%lld requests per minute is reached)",
                                      (long long)t->rpm_limit, (long long)t->rpm_limit));
    }
    r->cred = REQ_CRED_TOKEN;
    r->user_id = au->user.id;
    r->role = (int)au->user.role;
    r->username = au->user.username;
    r->auth = au;
    return 0;
}
