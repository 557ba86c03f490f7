/* Router: one table of routes whose rows carry the auth level and body kind; the router
 * checks them before the handler runs. The rows live in handlers/routes.c. */
#ifndef OA_ROUTER_H
#define OA_ROUTER_H
#include <stddef.h>

struct req;

/* Route flags. The low three bits are the auth level. */
enum route_flag {
    AUTH_NONE = 0,        /* public */
    AUTH_USER = 1,        /* logged-in user (role >= 1) */
    AUTH_ADMIN = 2,       /* role >= 10 */
    AUTH_ROOT = 3,        /* role >= 100 */
    AUTH_RELAY_TOKEN = 4, /* an sk- relay key */
    AUTH_MASK = 7,
    BODY_JSON = 1 << 4,      /* body must be JSON (or empty); parsed into r->json. A browser
                              * (a cookie, or no credential) must say Content-Type:
                              * application/json, which a page on another site cannot send
                              * without the browser asking first */
    BODY_FORM = 1 << 5,      /* body is multipart/form-data or urlencoded (or empty); left raw */
    LIMIT_CRITICAL = 1 << 6, /* sign-up, sign-in, mail and OAuth: the strict per-address
                              * limit of the router's admit hook also applies */
    BODY_JSON_400 = 1 << 7,  /* with BODY_JSON: a body that does not parse is an HTTP 400,
                              * where other management routes answer 200 success:false */
    ROUTE__FLAGS = AUTH_MASK | BODY_JSON | BODY_FORM | LIMIT_CRITICAL | BODY_JSON_400, /* every
                                                                                        * flag the
                                                                                        * router
                                                                                        * knows */
};

typedef int (*route_handler)(struct req *r);

/* What a before hook returns when it has written the whole answer (a CORS preflight). */
#define ROUTER_ANSWERED 1

struct route {
    const char *method;  /* "GET", "POST", ... (GET also serves HEAD) */
    const char *pattern; /* "/api/user/:id"; a last segment "*" matches the rest */
    route_handler handler;
    unsigned flags; /* enum route_flag */
    int arg;        /* a value the row gives its handler (r->route->arg), so that one handler
                     * can serve several rows; 0 when the handler takes none */
};

struct router {
    const struct route *routes;
    size_t n_routes;
    size_t max_body; /* bytes */
    /* Addresses and CIDR blocks of our own proxies (TRUSTED_PROXIES), for req_client_ip. */
    const char *trusted_proxies;
    /* Authenticates r for level (AUTH_USER...); fills r->user_id/role/username. 0 or oa_err. */
    int (*auth)(struct req *r, unsigned level);
    /* Writes the response for an error code (status and body in One API's shapes). */
    void (*render_error)(struct req *r, int code);
    /* Optional: runs before matching, once r->client_ip is known, for every request (CORS
     * headers, preflights, limits of paths no row may match). 0 to go on, ROUTER_ANSWERED when
     * it wrote the whole answer, or an oa_err to render. */
    int (*before)(struct req *r);
    /* Optional: runs after matching (r->route set) and before the body is read and the caller
     * authenticated (per-address limits of a route group). 0 or an oa_err to render. */
    int (*admit)(struct req *r);
};

/* Checks the table before it serves: flags the router does not enforce, auth levels past
 * AUTH_RELAY_TOKEN, patterns that are not absolute, rows listed twice, and rows that can never
 * match because an earlier row of the same method matches every path they match (first
 * match wins). 0, or -1 with the first problem in err. */
int router_check(const struct route *routes, size_t n, char *err, size_t errlen);
/* Finds the row for r->method and r->path and fills r->route and r->params. Returns 0,
 * OA_ERR_NOT_FOUND, or OA_ERR_METHOD (after adding an Allow header). */
int router_match(const struct router *rt, struct req *r);
/* Runs the before hook, matches, runs the admit hook, checks body size, authenticates, refuses a
 * browser session's write that another site sent (Sec-Fetch-Site, else Origin against Host; a
 * client that sends neither is not a browser), reads the body, checks its Content-Type and parses
 * it, runs the handler, and renders any error it returns. Returns the final code (0 or oa_err). */
int router_dispatch(const struct router *rt, struct req *r);
/* Does pattern match path? Fills params (arena-free: pointers into a copy the caller owns
 * are not made; params are arena strings of r). Exposed for tests. */
int route_pattern_match(struct req *r, const char *pattern, const char *path);

#endif
