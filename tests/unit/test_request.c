/* Unit tests for fcgi/request.c: who the client is behind proxies, query and cookie parsing. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/request.h"
#include "tests/unit/tap.h"

#include <string.h>

/* CGI params of the fake transport: name, value, name, value, ..., NULL. */
static const char *const *params;

static const char *fake_param(void *ctx, const char *name)
{
    (void)ctx;
    for (const char *const *p = params; p && *p; p += 2)
        if (!strcmp(p[0], name))
            return p[1];
    return NULL;
}

/* The client address req_client_ip finds for a request with these params. */
static const char *client(struct arena *a, const char *const *with, const char *trusted)
{
    static const struct req_io io = {.param = fake_param};
    struct req r;
    params = with;
    req_init(&r, a, &io, NULL, NULL);
    return req_client_ip(&r, trusted);
}

int main(void)
{
    struct arena *a = arena_new(4096);
    const char *const spoof[] = {"REMOTE_ADDR", "127.0.0.1",      "HTTP_X_FORWARDED_FOR",
                                 "10.1.2.3",    "HTTP_X_REAL_IP", "10.9.9.9",
                                 NULL};
    is_str(client(a, spoof, ""), "127.0.0.1",
           "without trusted proxies, X-Forwarded-For and X-Real-IP are ignored");
    is_str(client(a, spoof, "192.168.0.0/16"), "127.0.0.1",
           "they are ignored too when the peer is not a trusted proxy");
    is_str(client(a, spoof, "127.0.0.1"), "10.1.2.3",
           "behind a trusted proxy X-Forwarded-For counts");

    const char *const chain[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR",
                                 "6.6.6.6, 203.0.113.7 , 10.0.0.9", NULL};
    is_str(client(a, chain, "10.0.0.0/8"), "203.0.113.7",
           "the right-most untrusted hop wins over what the client wrote on the left");
    is_str(client(a, chain, "10.0.0.0/8, 203.0.113.0/24"), "6.6.6.6", "past every trusted hop");
    const char *const all_trusted[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR",
                                       "10.0.0.7,10.0.0.8", NULL};
    is_str(client(a, all_trusted, "10.0.0.0/8"), "10.0.0.7", "all trusted: the left-most");
    const char *const junk[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR",
                                "not-an-ip, 10.0.0.3", NULL};
    is_str(client(a, junk, "10.0.0.0/8"), "not-an-ip",
           "a claim that is no address is kept as claimed (it matches no subnet)");
    const char *const real_ip[] = {"REMOTE_ADDR", "::1", "HTTP_X_REAL_IP", " 198.51.100.4 ", NULL};
    is_str(client(a, real_ip, "::1"), "198.51.100.4", "X-Real-IP behind a trusted proxy");
    const char *const none[] = {"REMOTE_ADDR", "::1", NULL};
    is_str(client(a, none, "::1"), "::1", "a trusted proxy that says nothing is the client");
    const char *const mapped[] = {"REMOTE_ADDR", "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR",
                                  "192.0.2.1", NULL};
    is_str(client(a, mapped, "127.0.0.1"), "192.0.2.1",
           "an IPv4 peer seen through a dual-stack socket is matched as IPv4");
    const char *const no_peer[] = {NULL};
    is_str(client(a, no_peer, "127.0.0.1"), "", "no REMOTE_ADDR at all: empty, never NULL");

    char big[4096] = "";
    for (int i = 0; i < 200; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s", i ? ",10.0.0.1" : "192.0.2.99");
    const char *const long_chain[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR", big, NULL};
    is_str(client(a, long_chain, "10.0.0.0/8"), "10.0.0.1",
           "a list longer than 64 hops is read from its right-most 64");

    /* Query and cookies. */
    struct req r;
    const char *const q[] = {"QUERY_STRING", "a=1&model=gpt%2D4o+x&empty", "HTTP_COOKIE",
                             "x=1; session=\"abc.def\"; y=2", NULL};
    params = q;
    static const struct req_io io = {.param = fake_param};
    req_init(&r, a, &io, NULL, NULL);
    is_str(req_query(&r, "model"), "gpt-4o x", "query values are decoded ('+' is a space)");
    is_str(req_query(&r, "empty"), "", "a key without '=' is empty");
    ok(!req_query(&r, "mode"), "a missing key is NULL");
    is_str(req_cookie(&r, "session"), "abc.def", "a quoted cookie value is unquoted");
    ok(!req_cookie(&r, "sess"), "a cookie name must match whole");
    arena_free(a);
    return done_testing();
}
