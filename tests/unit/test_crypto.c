/* Unit tests for fcgi/crypto.c: bcrypt compatibility, HMAC, SHA-256, UUIDs. */
#include "config.h"
#include "fcgi/crypto.h"
#include "tests/unit/tap.h"

#include <string.h>

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int main(void)
{
    /* The classic crypt_blowfish vector, and a $2a$10$ hash made by another implementation
     * (APR's htpasswd, $2y$ renamed to $2a$ as Go's bcrypt writes it). */
    ok(pw_verify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
       "bcrypt $2a$05$ reference vector verifies");
    ok(pw_verify("legacypass1", "$2a$10$VJOQaQfWj3E2kepHl5Guz.YqWkTYf3UhKFnhe02p3GBzQN7RnM7vS"),
       "a $2a$10$ hash from another implementation verifies");
    ok(!pw_verify("legacypass2", "$2a$10$VJOQaQfWj3E2kepHl5Guz.YqWkTYf3UhKFnhe02p3GBzQN7RnM7vS"),
       "a wrong password does not");
    ok(!pw_verify("x", ""), "an empty hash never matches");
    ok(!pw_verify("x", "plain"), "a non-crypt hash never matches");

    char h[128];
    is_int(pw_hash("123456", h, sizeof h), 0, "pw_hash works");
    ok(!strncmp(h, "$2a$10$", 7) && strlen(h) == 60, "it writes One API's $2a$10$ form: %s", h);
    ok(pw_verify("123456", h), "and verifies its own hash");

    /* RFC 4231 test case 2. */
    unsigned char mac[32];
    char mh[65];
    hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex(mac, 32, mh);
    is_str(mh, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "HMAC-SHA256 matches RFC 4231 case 2");

    ok(ct_streq("abc", "abc") && !ct_streq("abc", "abd") && !ct_streq("abc", "ab"),
       "ct_streq compares");

    char u[33];
    uuid_hex(u);
    ok(strlen(u) == 32 && u[12] == '4' && strspn(u, "0123456789abcdef") == 32,
       "uuid_hex is 32 lowercase hex of a v4 UUID");
    return done_testing();
}
