/* Unit tests for the session cookie signing in handlers/session.c. */
#include "config.h"
#include "handlers/session.h"
#include "tests/unit/tap.h"

#include <string.h>

int main(void)
{
    unsigned char key[32], other[32];
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    const char *pw = "$2a$10$abcdefghijklmnopqrstuv0123456789012345678901234567890";
    char c[256];
    ok(session_cookie_make(key, 42, 2000000000, pw, c, sizeof c) > 0, "a cookie is made: %s", c);
    ok(!strpbrk(c, ";, =\""), "it needs no quoting in a Set-Cookie header");
    is_int(session_cookie_uid(c, 1000), 42, "it names its user");
    ok(session_cookie_check(key, c, pw), "and verifies with the same key and password hash");
    ok(!session_cookie_check(other, c, pw), "another SESSION_SECRET rejects it");
    ok(!session_cookie_check(key, c, "$2a$10$changed"), "a password change ends it");
    is_int(session_cookie_uid(c, 2000000001), 0, "it expires");

    char t[256];
    memcpy(t, c, sizeof t);
    t[2] = t[2] == 'A' ? 'B' : 'A';
    ok(!session_cookie_check(key, t, pw), "a tampered payload is rejected");
    /* Forge a cookie for user 1 with the MAC of user 42. */
    char forged[256], f1[256];
    session_cookie_make(key, 1, 2000000000, pw, f1, sizeof f1);
    const char *dot42 = strchr(c, '.'), *dot1 = strchr(f1, '.');
    snprintf(forged, sizeof forged, "%.*s%s", (int)(dot1 - f1), f1, dot42);
    ok(!session_cookie_check(key, forged, pw), "a MAC moved to another payload is rejected");
    is_int(session_cookie_uid("garbage", 0), 0, "garbage names nobody");
    is_int(session_cookie_uid("a.b.c", 0), 0, "a malformed payload names nobody");
    ok(!session_cookie_check(key, "x.", pw), "an empty MAC is rejected");
    return done_testing();
}
