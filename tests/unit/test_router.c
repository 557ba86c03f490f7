/* Unit tests for fcgi/router.c and a self-test of the route table (handlers/routes.c). */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/request.h"
#include "fcgi/router.h"
#include "handlers/app.h"
#include "handlers/relay/relay.h"
#include "providers/provider.h"
#include "tests/unit/tap.h"

#include <string.h>

static int h_dummy(struct req *r)
{
    (void)r;
    return 0;
}

static const struct route table[] = {
    {"GET", "/api/status", h_dummy, AUTH_NONE, 0},
    {"GET", "/api/user/:id", h_dummy, AUTH_ADMIN, 0},
    {"DELETE", "/api/user/:id", h_dummy, AUTH_ADMIN, 0},
    {"GET", "/api/user/self", h_dummy, AUTH_USER, 0},
    {"POST", "/v1/oneapi/proxy/:cid/*", h_dummy, AUTH_RELAY_TOKEN, 0},
};

static const char *fake_param(void *ctx, const char *name)
{
    const char *const *p = ctx;
    for (; p && *p; p += 2)
        if (!strcmp(p[0], name))
            return p[1];
    return NULL;
}

/* The body the fake transport serves, once. */
static const char *body_left;

static long fake_read(void *ctx, char *buf, size_t n)
{
    (void)ctx;
    size_t k = strlen(body_left);
    if (k > n)
        k = n;
    memcpy(buf, body_left, k);
    body_left += k;
    return (long)k;
}

static int h_ok_json(struct req *r)
{
    (void)r;
    return 0;
}

/* The auth hook's part: the credential the request names in its X-Cred header. */
static int fake_auth(struct req *r, unsigned level)
{
    (void)level;
    const char *c = req_header(r, "X-Cred");
    r->cred = !c || !strcmp(c, "none") ? REQ_CRED_NONE
              : !strcmp(c, "cookie")   ? REQ_CRED_COOKIE
                                       : REQ_CRED_TOKEN;
    return 0;
}

/* The hooks' part: what ran, in order ('b' before, 'a' admit, 'u' auth, 'h' handler). */
static char trace[16];

static void mark(char c)
{
    size_t n = strlen(trace);
    if (n + 1 < sizeof trace)
        trace[n] = c, trace[n + 1] = '\0';
}

static int traced_auth(struct req *r, unsigned level)
{
    mark('u');
    return fake_auth(r, level);
}

static int traced_handler(struct req *r)
{
    (void)r;
    mark('h');
    return 0;
}

/* A preflight is answered; X-Before: refuse stops everything. */
static int fake_before(struct req *r)
{
    mark('b');
    const char *x = req_header(r, "X-Before");
    if (x && !strcmp(x, "refuse"))
        return OA_ERR_LIMITED;
    if (!strcmp(r->method, "OPTIONS")) {
        resp_status(r, 204);
        return ROUTER_ANSWERED;
    }
    return 0;
}

/* X-Admit: refuse is over a limit; the row is known by then. */
static int fake_admit(struct req *r)
{
    mark(r->route ? 'a' : '?');
    const char *x = req_header(r, "X-Admit");
    return x && !strcmp(x, "refuse") ? OA_ERR_LIMITED : 0;
}

static void fake_render(struct req *r, int code)
{
    (void)r;
    (void)code;
}

/* Dispatches a request with CGI params p (NULL values skipped) and body; the final code. */
static int dispatch_with(const struct router *rt, struct arena *a, const char *const *p,
                         const char *body)
{
    const char *kept[32];
    size_t k = 0;
    for (; p[0]; p += 2)
        if (p[1] && k + 2 < sizeof kept / sizeof *kept)
            kept[k++] = p[0], kept[k++] = p[1];
    kept[k] = NULL;
    struct req_io io = {.param = fake_param, .read = fake_read, .ctx = kept};
    struct req r;
    body_left = body;
    req_init(&r, a, &io, NULL, NULL);
    return router_dispatch(rt, &r);
}

int main(void)
{
    struct arena *a = arena_new(4096);
    struct req_io io = {.param = fake_param};
    struct router rt = {.routes = table, .n_routes = sizeof table / sizeof *table};
    struct req r;

    ok(route_pattern_match(NULL, "/a/b", "/a/b"), "literal path matches");
    ok(!route_pattern_match(NULL, "/a/b", "/a/bc"), "prefix is not a match");
    ok(!route_pattern_match(NULL, "/a/:x", "/a"), "a parameter needs a segment");
    ok(route_pattern_match(NULL, "/p/:c/*", "/p/5"), "the tail may be empty");

    req_init(&r, a, &io, NULL, NULL);
    r.path = "/api/user/42";
    r.method = "GET";
    is_int(router_match(&rt, &r), 0, "GET /api/user/42 matches");
    ok(r.route == &table[1], "the first matching row wins");
    is_str(req_path_param(&r, 0), "42", ":id is captured");

    r.path = "/api/user/self";
    r.route = NULL;
    is_int(router_match(&rt, &r), 0, "/api/user/self matches a row");

    r.path = "/v1/oneapi/proxy/7/v1/chat/completions";
    r.method = "POST";
    is_int(router_match(&rt, &r), 0, "a * tail matches the rest");
    is_str(req_path_param(&r, 0), "7", "the channel id is captured");
    is_str(req_path_param(&r, 1), "v1/chat/completions", "the tail is captured");

    arena_reset(a);
    req_init(&r, a, &io, NULL, NULL);
    r.path = "/api/status";
    r.method = "HEAD";
    is_int(router_match(&rt, &r), 0, "HEAD is served by GET rows");
    r.method = "POST";
    is_int(router_match(&rt, &r), OA_ERR_METHOD, "a known path with another method is 405");
    ok(strstr(r.headers.p, "Allow: GET\r\n") != NULL, "with an Allow header");
    r.path = "/api/nope";
    is_int(router_match(&rt, &r), OA_ERR_NOT_FOUND, "an unknown path is 404");

    /* The real table passes the check the app runs at start, and its admin areas are guarded
     * by an admin level (a relay key is a different kind of credential, not a higher one). */
    char why[256] = "";
    is_int(router_check(app_routes, app_n_routes, why, sizeof why), 0, "the route table checks: %s",
           why);
    int unguarded = 0;
    for (unsigned i = 0; i < app_n_routes; i++) {
        const struct route *x = &app_routes[i];
        unsigned level = x->flags & AUTH_MASK;
        int admin_area = !strncmp(x->pattern, "/api/channel", 12) ||
                         !strncmp(x->pattern, "/api/option", 11) ||
                         !strncmp(x->pattern, "/api/redemption", 15);
        if (admin_area && level != AUTH_ADMIN && level != AUTH_ROOT)
            unguarded++;
    }
    is_int(unguarded, 0, "admin areas carry an admin or root level");

    /* The check catches what a table edit can break. */
    static const struct route shadowed[] = {
        {"GET", "/api/channel/:id", h_dummy, AUTH_ADMIN, 0},
        {"GET", "/api/channel/search", h_dummy, AUTH_ADMIN, 0},
    };
    is_int(router_check(shadowed, 2, why, sizeof why), -1, "a literal row below a :param row");
    ok(strstr(why, "/api/channel/search can never match") != NULL, "is named: %s", why);
    static const struct route tail[] = {
        {"POST", "/v1/assistants/*", h_dummy, AUTH_RELAY_TOKEN, 0},
        {"POST", "/v1/assistants/:id/runs", h_dummy, AUTH_RELAY_TOKEN, 0},
    };
    is_int(router_check(tail, 2, why, sizeof why), -1, "a row below a * tail that covers it: %s",
           why);
    static const struct route fine[] = {
        {"GET", "/api/channel/search", h_dummy, AUTH_ADMIN, 0},
        {"GET", "/api/channel/:id", h_dummy, AUTH_ADMIN, 0},
        {"DELETE", "/api/channel/:id", h_dummy, AUTH_ADMIN, 0},
        {"GET", "/api/channel/:id/x", h_dummy, AUTH_ADMIN, 0},
        {"GET", "/v1/a/*", h_dummy, AUTH_RELAY_TOKEN, 0},
        {"GET", "/v1/b/:x/*", h_dummy, AUTH_RELAY_TOKEN, 0},
    };
    is_int(router_check(fine, 6, why, sizeof why), 0, "literal above :param, other methods: %s",
           why);
    static const struct route twice[] = {
        {"GET", "/api/status", h_dummy, AUTH_NONE, 0},
        {"GET", "/api/status", h_dummy, AUTH_NONE, 0},
    };
    is_int(router_check(twice, 2, why, sizeof why), -1, "a row listed twice: %s", why);
    static const struct route unknown_flag[] = {{"GET", "/x", h_dummy, AUTH_USER | (1u << 9), 0}};
    is_int(router_check(unknown_flag, 1, why, sizeof why), -1, "a flag the router ignores: %s",
           why);
    static const struct route bad_level[] = {{"GET", "/x", h_dummy, 5, 0}};
    is_int(router_check(bad_level, 1, why, sizeof why), -1, "an auth level past the last: %s", why);
    static const struct route relative[] = {{"GET", "x", h_dummy, 0, 0}};
    is_int(router_check(relative, 1, why, sizeof why), -1, "a relative pattern: %s", why);

    /* Dispatch: a browser session's write from another site, and a body of the wrong type. */
    static const struct route writes[] = {
        {"POST", "/api/token", h_ok_json, AUTH_USER | BODY_JSON, 0},
        {"POST", "/v1/audio/transcriptions", h_ok_json, AUTH_RELAY_TOKEN | BODY_FORM, 0},
    };
    struct router wr = {.routes = writes,
                        .n_routes = 2,
                        .max_body = 1 << 20,
                        .auth = fake_auth,
                        .render_error = fake_render};
    struct {
        const char *cred, *method, *ctype, *site, *origin;
        int want;
        const char *what;
    } cases[] = {
        {"cookie", "POST", "application/json", "cross-site", NULL, OA_ERR_CROSS_SITE,
         "a cookie write with Sec-Fetch-Site: cross-site is refused"},
        {"cookie", "POST", "application/json", "same-site", NULL, OA_ERR_CROSS_SITE,
         "same-site is another origin too"},
        {"cookie", "POST", "application/json", "same-origin", NULL, 0, "same-origin passes"},
        {"cookie", "POST", "application/json", NULL, "https://evil.example", OA_ERR_CROSS_SITE,
         "without Sec-Fetch-Site, an Origin that is not the Host is refused"},
        {"cookie", "POST", "application/json", NULL, "null", OA_ERR_CROSS_SITE,
         "Origin: null is refused"},
        {"cookie", "POST", "application/json", NULL, "http://gw.example:3000", 0,
         "an Origin equal to the Host passes"},
        {"cookie", "POST", "application/json", NULL, NULL, 0, "no browser header: not a browser"},
        {"token", "POST", "application/json", "cross-site", NULL, 0,
         "an access token is not a session another site can ride"},
        {"cookie", "POST", "text/plain", "same-origin", NULL, OA_ERR_MEDIA_TYPE,
         "a browser posting text/plain to a JSON route is refused"},
        {"none", "POST", "application/x-www-form-urlencoded", NULL, NULL, OA_ERR_MEDIA_TYPE,
         "so is a form without a credential"},
        {"cookie", "POST", "application/json; charset=utf-8", "same-origin", NULL, 0,
         "a charset parameter is fine"},
        {"token", "POST", "application/x-www-form-urlencoded", NULL, NULL, 0,
         "a script with an access token is not held to the type (curl -d)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *p[] = {"REQUEST_METHOD",
                           cases[i].method,
                           "REQUEST_URI",
                           "/api/token",
                           "CONTENT_TYPE",
                           cases[i].ctype,
                           "CONTENT_LENGTH",
                           "2",
                           "HTTP_HOST",
                           "gw.example:3000",
                           "HTTP_X_CRED",
                           cases[i].cred,
                           "HTTP_SEC_FETCH_SITE",
                           cases[i].site,
                           "HTTP_ORIGIN",
                           cases[i].origin,
                           NULL};
        arena_reset(a);
        int rc = dispatch_with(&wr, a, p, "{}");
        is_int(rc, cases[i].want, "%s", cases[i].what);
    }
    const char *mp[] = {"REQUEST_METHOD",
                        "POST",
                        "REQUEST_URI",
                        "/v1/audio/transcriptions",
                        "CONTENT_TYPE",
                        "application/json",
                        "CONTENT_LENGTH",
                        "2",
                        "HTTP_X_CRED",
                        "token",
                        NULL};
    arena_reset(a);
    is_int(dispatch_with(&wr, a, mp, "{}"), OA_ERR_MEDIA_TYPE, "a form route refuses a JSON body");
    mp[5] = "multipart/form-data; boundary=x";
    arena_reset(a);
    is_int(dispatch_with(&wr, a, mp, "{}"), 0, "and takes multipart");
    /* Hooks: before runs first on every path, admit after matching and before auth. */
    static const struct route hooked[] = {
        {"POST", "/v1/chat/completions", traced_handler, AUTH_RELAY_TOKEN, 0},
    };
    struct router hr = {.routes = hooked,
                        .n_routes = 1,
                        .max_body = 1 << 20,
                        .auth = traced_auth,
                        .render_error = fake_render,
                        .before = fake_before,
                        .admit = fake_admit};
    struct {
        const char *method, *path, *before, *admit, *trace;
        int want;
        const char *what;
    } hook_cases[] = {
        {"POST", "/v1/chat/completions", NULL, NULL, "bauh", 0,
         "hooks: before, admit, auth, handler in that order"},
        {"OPTIONS", "/v1/chat/completions", NULL, NULL, "b", 0,
         "a before hook that answers ends the request: no match, no auth"},
        {"OPTIONS", "/nowhere", NULL, NULL, "b", 0, "even on a path no row matches"},
        {"GET", "/nowhere", NULL, NULL, "b", OA_ERR_NOT_FOUND,
         "an unmatched path runs before but not admit"},
        {"GET", "/nowhere", "refuse", NULL, "b", OA_ERR_LIMITED,
         "a before hook's error is rendered in place of the match's"},
        {"POST", "/v1/chat/completions", NULL, "refuse", "ba", OA_ERR_LIMITED,
         "an admit refusal comes before auth and the handler"},
    };
    for (size_t i = 0; i < sizeof hook_cases / sizeof *hook_cases; i++) {
        const char *p[] = {"REQUEST_METHOD",
                           hook_cases[i].method,
                           "REQUEST_URI",
                           hook_cases[i].path,
                           "HTTP_X_CRED",
                           "token",
                           "HTTP_X_BEFORE",
                           hook_cases[i].before,
                           "HTTP_X_ADMIT",
                           hook_cases[i].admit,
                           NULL};
        arena_reset(a);
        trace[0] = '\0';
        int rc = dispatch_with(&hr, a, p, "");
        ok(rc == hook_cases[i].want && !strcmp(trace, hook_cases[i].trace), "%s (%d, %s)",
           hook_cases[i].what, rc, trace);
    }
    static const struct route json400[] = {{"PUT", "/x", h_dummy, AUTH_ADMIN | BODY_JSON_400, 0}};
    is_int(router_check(json400, 1, why, sizeof why), -1, "BODY_JSON_400 needs BODY_JSON: %s", why);
    static const struct route json400ok[] = {
        {"PUT", "/x", h_dummy, AUTH_ADMIN | BODY_JSON | BODY_JSON_400, 0}};
    is_int(router_check(json400ok, 1, why, sizeof why), 0, "BODY_JSON_400 with BODY_JSON passes");

    unsigned modes = 0, bad_mode = 0;
    for (unsigned i = 0; i < app_n_routes; i++) {
        if (app_routes[i].handler != h_relay)
            continue;
        if (app_routes[i].arg < 0 || app_routes[i].arg >= RELAY_MODE__MAX)
            bad_mode++;
        else
            modes |= 1u << app_routes[i].arg;
    }
    is_int(bad_mode, 0, "every relay row carries a relay mode");
    is_int(modes, (1u << RELAY_MODE__MAX) - 1, "every relay mode has a row");

    arena_free(a);
    return done_testing();
}
