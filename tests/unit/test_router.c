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
    (void)ctx;
    (void)name;
    return NULL;
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

    /* The real table: unique rows, sane patterns, admin areas guarded. */
    int dup = 0, bad = 0, unguarded = 0;
    for (unsigned i = 0; i < app_n_routes; i++) {
        const struct route *x = &app_routes[i];
        if (!x->handler || x->pattern[0] != '/' || !x->method ||
            (x->flags & AUTH_MASK) > AUTH_RELAY_TOKEN)
            bad++;
        for (unsigned j = i + 1; j < app_n_routes; j++)
            if (!strcmp(x->method, app_routes[j].method) &&
                !strcmp(x->pattern, app_routes[j].pattern))
                dup++;
        int admin_area = !strncmp(x->pattern, "/api/channel", 12) ||
                         !strncmp(x->pattern, "/api/option", 11) ||
                         !strncmp(x->pattern, "/api/redemption", 15);
        if (admin_area && (x->flags & AUTH_MASK) < AUTH_ADMIN)
            unguarded++;
        if ((x->flags & ROUTE_CSRF) && strcmp(x->method, "POST") != 0)
            bad++;
    }
    is_int(dup, 0, "no route is listed twice");
    is_int(bad, 0, "every row has a handler, a method, an absolute pattern and an auth level");
    is_int(unguarded, 0, "admin areas carry an admin flag");
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
