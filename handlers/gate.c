/* gate: CORS and per-address rate limits, run by the router around matching. */
#include "config.h"
#include "handlers/gate.h"
#include "handlers/app.h"
#include "handlers/throttle.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/error.h"
#include "fcgi/request.h"
#include "fcgi/router.h"

#include <string.h>

#define API_WINDOW 180.0 /* seconds, One API's */
#define WEB_WINDOW 180.0
#define CRITICAL_WINDOW 1200.0

/* Is path prefix itself or below it ("/api", "/api/x"; not "/apix")? */
static int under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

static int is_billing(const char *path)
{
    return under(path, "/dashboard/billing") || under(path, "/v1/dashboard/billing");
}

/* Allows a page of any site to call the relay with a key, as One API does (any origin, with
 * credentials). /api gets none: the console is same-origin, and its session cookie must never
 * be readable by another site's scripts. */
static int cors(struct req *r)
{
    const char *origin = req_header(r, "Origin");
    if (!origin || !*origin)
        return 0; /* not a cross-origin request: nothing to allow */
    /* With credentials allowed, "*" is not valid: the origin is echoed. */
    resp_header(r, "Access-Control-Allow-Origin", origin);
    resp_header(r, "Access-Control-Allow-Credentials", "true");
    resp_header(r, "Vary", "Origin");
    if (strcmp(r->method, "OPTIONS") != 0)
        return 0;
    resp_header(r, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    const char *want = req_header(r, "Access-Control-Request-Headers");
    if (want && *want)
        resp_header(r, "Access-Control-Allow-Headers", want);
    resp_header(r, "Access-Control-Max-Age", "43200");
    resp_status(r, 204);
    return ROUTER_ANSWERED;
}

/* Counts r against the window of mark for its address; limit 0 or DEBUG turn it off. */
static int limit(struct req *r, const char *mark, enum cfg_key setting, double window)
{
    struct app *app = req_app(r);
    long long n = cfg_int(app->cfg, setting);
    if (n <= 0 || cfg_int(app->cfg, CFG_DEBUG))
        return 0;
    return throttle_window(app->login_throttle, r, arena_printf(r->a, "%s%s", mark, r->client_ip),
                           (unsigned)n, window);
}

int gate_before(struct req *r)
{
    if (under(r->path, "/api"))
        return 0;
    int rc = cors(r);
    if (rc)
        return rc;
    if (under(r->path, "/v1") || is_billing(r->path))
        return 0;
    return limit(r, "GW", CFG_GLOBAL_WEB_RATE_LIMIT, WEB_WINDOW);
}

int gate_admit(struct req *r)
{
    int rc = 0;
    if (under(r->path, "/api") || is_billing(r->path))
        rc = limit(r, "GA", CFG_GLOBAL_API_RATE_LIMIT, API_WINDOW);
    if (!rc && (r->route->flags & LIMIT_CRITICAL))
        rc = limit(r, "CT", CFG_CRITICAL_RATE_LIMIT, CRITICAL_WINDOW);
    return rc;
}
