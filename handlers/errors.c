/* errors: maps each oa_err to One API's response shape for the path it happened on. */
#include "config.h"
#include "handlers/errors.h"
#include "handlers/app.h"
#include "handlers/console/console.h"
#include "handlers/respond.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/error.h"
#include "fcgi/request.h"
#include "fcgi/router.h"

#include <string.h>

/* Relay-style paths answer OpenAI error bodies; everything else the /api envelope. */
static int is_relay_path(const char *p)
{
    return !strncmp(p, "/v1/", 4) || !strcmp(p, "/v1") || !strncmp(p, "/dashboard/", 11);
}

void errors_render(struct req *r, int code)
{
    struct app *app = req_app(r);
    int relay = is_relay_path(r->path);
    /* A query that failed for want of a connection is a busy server, not a broken one. */
    if (code == OA_ERR_DB && req_db_busy(r))
        code = OA_ERR_DB_BUSY;
    /* The bare answers are the same everywhere, pages included. */
    if (console_is_page_path(r->path) && code != OA_ERR_LIMITED && code != OA_ERR_BAD_ENCODING) {
        console_error(r, code);
        return;
    }
    switch (code) {
    case OA_ERR_NOT_FOUND:
    case OA_ERR_METHOD:
        /* gin has no method-not-allowed answer: a known path with another method is as
         * unknown as any other URL. */
        openai_error(r, 404, arena_printf(r->a, "Invalid URL (%s %s)", r->method, r->raw_path),
                     "invalid_request_error", "", 0);
        return;
    case OA_ERR_BAD_ENCODING: /* One API's gzip decoder aborts with a bare status */
        resp_status(r, 400);
        return;
    case OA_ERR_LIMITED: /* One API's limiters too; the hook added Retry-After */
        resp_status(r, 429);
        return;
    case OA_ERR_TOO_LARGE: {
        const char *msg = arena_printf(r->a, "request body too large (limit %lld MiB)",
                                       cfg_int(app->cfg, CFG_MAX_BODY_MB));
        if (relay)
            openai_error(r, 413, msg, "one_api_error", "request_body_too_large", 1);
        else
            api_fail(r, 413, msg);
        return;
    }
    case OA_ERR_BAD_JSON:
    case OA_ERR_BAD_REQUEST:
        if (relay)
            openai_error(r, 400, msg_invalid_parameter(r), "one_api_error", "invalid_request", 1);
        else if (r->route && (r->route->flags & BODY_JSON_400))
            api_fail(r, 400, msg_invalid_parameter(r));
        else /* One API's management handlers answer their bind errors with a 200 */
            api_fail(r, 200, msg_invalid_parameter(r));
        return;
    case OA_ERR_NO_LOGIN: api_fail(r, 401, "无权进行此操作，未登录且未提供 access token"); return;
    case OA_ERR_BAD_TOKEN: api_fail(r, 200, "无权进行此操作，access token 无效"); return;
    case OA_ERR_FORBIDDEN: api_fail(r, 200, "无权进行此操作，权限不足"); return;
    case OA_ERR_BANNED: api_fail(r, 200, "用户已被封禁"); return;
    case OA_ERR_DESCRIBED:
        if (relay)
            openai_error(r, r->err_status, r->err_msg ? r->err_msg : "", "one_api_error",
                         r->err_code, 1);
        else
            api_fail(r, r->err_status, r->err_msg ? r->err_msg : "");
        return;
    case OA_ERR_CROSS_SITE:
        /* One API's forbidden answer: a browser shows it like any refused write. */
        api_fail(r, 403, "无权进行此操作，请求来自其他站点 (cross-site request refused)");
        return;
    case OA_ERR_MEDIA_TYPE: {
        const char *want = r->route && (r->route->flags & BODY_FORM)
                               ? "multipart/form-data or application/x-www-form-urlencoded"
                               : "application/json";
        const char *msg = arena_printf(r->a, "Content-Type must be %s", want);
        if (relay)
            openai_error(r, 415, msg, "one_api_error", "invalid_request", 1);
        else
            api_fail(r, 415, msg);
        return;
    }
    case OA_ERR_RATE_LIMIT: /* the limiter added Retry-After */
        if (relay)
            openai_error(r, 429, "too many requests, please retry later", "one_api_error",
                         "rate_limited", 1);
        else
            api_fail(r, 429, "请求过于频繁，请稍后再试 (too many requests, please retry later)");
        return;
    case OA_ERR_DB_BUSY:
        resp_header(r, "Retry-After", "1");
        if (relay)
            openai_error(r, 503, "database busy, please retry", "one_api_error", "database_busy",
                         1);
        else
            api_fail(r, 503, "database busy, please retry");
        return;
    case OA_ERR_BUSY:
        resp_header(r, "Retry-After", "1");
        if (relay)
            openai_error(r, 503, "server busy, please retry", "one_api_error", "server_busy", 1);
        else
            api_fail(r, 503, "server busy, please retry");
        return;
    case OA_ERR_DB:
        if (relay) {
            openai_error(r, 500, oa_strerror(code), "one_api_error", "internal_error", 1);
        } else {
            /* One API answers a failed query with a 200 envelope; the database's own text
             * stays in the log (it may quote what users typed). */
            api_fail(r, 200, oa_strerror(code));
        }
        return;
    default:
        if (relay)
            openai_error(r, 500, oa_strerror(code), "one_api_error", "internal_error", 1);
        else
            api_fail(r, 500, oa_strerror(code));
        return;
    }
}
