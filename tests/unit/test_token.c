/* Unit tests for handlers/api/token.c: the relay key format. */
#include "config.h"
#include "handlers/api/api.h"
#include "tests/unit/tap.h"

#include <ctype.h>
#include <string.h>

int main(void)
{
    char k[49], k2[49];
    token_key_new(k);
    token_key_new(k2);
    int upper_ok = 1, hex_ok = 1;
    for (int i = 16; i < 48; i++) {
        unsigned char c = (unsigned char)k[i];
        hex_ok &= isxdigit(c) != 0;
        if (i % 2 == 0)
            upper_ok &= !islower(c);
    }
    ok(strlen(k) == 48 && !strchr(k, '-') && upper_ok, "relay keys are 48 chars, no '-': %s", k);
    ok(strspn(k, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == 48 && hex_ok,
       "all alphanumeric, the last 32 hex digits");
    ok(strcmp(k, k2) != 0, "two keys differ");
    return done_testing();
}
