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
    /* Signed transient values (the OAuth state, the Turnstile pass). */
    char sv[256], got[64];
    ok(session_signed_make(key, "oauth_state", "AbCdEf123456", 5000, sv, sizeof sv) > 0,
       "a signed value is made: %s", sv);
    ok(!strpbrk(sv, ";, =\""), "it needs no quoting in a Set-Cookie header");
    ok(session_signed_value(key, "oauth_state", sv, 4000, got, sizeof got) &&
           !strcmp(got, "AbCdEf123456"),
       "it reads back before it expires");
    ok(!session_signed_value(key, "oauth_state", sv, 5001, got, sizeof got), "it expires");
    ok(!session_signed_value(other, "oauth_state", sv, 4000, got, sizeof got),
       "another key rejects it");
    ok(!session_signed_value(key, "turnstile", sv, 4000, got, sizeof got),
       "a value signed for one name is refused under another");
    memcpy(t, sv, sizeof t);
    t[3] = t[3] == 'A' ? 'B' : 'A';
    ok(!session_signed_value(key, "oauth_state", t, 4000, got, sizeof got),
       "a tampered value is rejected");
    ok(!session_signed_value(key, "oauth_state", sv, 4000, got, 5), "a value that does not fit "
                                                                    "is refused");
    ok(!session_signed_value(key, "oauth_state", "", 0, got, sizeof got) &&
           !session_signed_value(key, "oauth_state", NULL, 0, got, sizeof got),
       "an empty or missing cookie is refused");

    /* Mailed codes. */
    char c1[65], c2[65], c3[65];
    int64_t now = 1700000000, b = now / SESSION_CODE_PERIOD;
    session_code(key, 'v', "a@example.com", b, NULL, 6, c1);
    is_int((long long)strlen(c1), 6, "a verification code has 6 characters: %s", c1);
    ok(strspn(c1, "0123456789abcdef") == 6, "... of lowercase hex");
    ok(session_code_check(key, 'v', "a@example.com", NULL, now, 6, c1), "... and checks");
    ok(session_code_check(key, 'v', "a@example.com", "", now + SESSION_CODE_PERIOD, 6, c1),
       "... in the next period too");
    ok(!session_code_check(key, 'v', "a@example.com", NULL, now + 2 * SESSION_CODE_PERIOD, 6, c1),
       "... not in the one after");
    ok(!session_code_check(key, 'v', "b@example.com", NULL, now, 6, c1),
       "... not for another address");
    ok(!session_code_check(key, 'r', "a@example.com", NULL, now, 6, c1),
       "... not for another purpose");
    ok(!session_code_check(other, 'v', "a@example.com", NULL, now, 6, c1),
       "... not with another key (another SESSION_SECRET)");
    session_code(key, 'r', "a@example.com", b, "$2a$10$old", 32, c2);
    session_code(key, 'r', "a@example.com", b, "$2a$10$new", 32, c3);
    is_int((long long)strlen(c2), 32, "a reset token has 32 characters");
    ok(strcmp(c2, c3) != 0, "the reset token depends on the password hash");
    ok(session_code_check(key, 'r', "a@example.com", "$2a$10$old", now, 32, c2),
       "... it checks against the hash it was made for");
    ok(!session_code_check(key, 'r', "a@example.com", "$2a$10$new", now, 32, c2),
       "... and dies once the password changed");
    ok(!session_code_check(key, 'v', "a@example.com", NULL, now, 6, "") &&
           !session_code_check(key, 'v', "a@example.com", NULL, now, 6, NULL) &&
           !session_code_check(key, 'v', "", NULL, now, 6, c1),
       "empty codes and addresses never check");
    return done_testing();
}
