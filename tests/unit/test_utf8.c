/* Unit tests for fcgi/utf8.c: what utf8_clean keeps, cuts and replaces. */
#include "config.h"
#include "fcgi/utf8.h"
#include "tests/unit/tap.h"

#include <string.h>

/* utf8_clean of the first n bytes of in, as a NUL-terminated string. */
static const char *clean(const char *in, size_t n)
{
    static char buf[64];
    memcpy(buf, in, n);
    buf[utf8_clean(buf, n)] = '\0';
    return buf;
}

int main(void)
{
    const char *zh = "渠道测试"; /* 3 bytes a character */
    is_str(clean(zh, strlen(zh)), zh, "valid text is kept");
    is_str(clean(zh, 7), "渠道", "a character cut at the end is dropped (7 of 12 bytes)");
    is_str(clean(zh, 8), "渠道", "also with two of its three bytes");
    is_str(clean("a\xf0\x9f\x98\x80", 4), "a", "a cut 4-byte character is dropped");
    is_str(clean("a\xf0\x9f\x98\x80z", 6), "a\xf0\x9f\x98\x80z", "a whole 4-byte one is kept");
    is_str(clean("a\xffz", 3), "a?z", "a byte that starts nothing becomes '?'");
    is_str(clean("a\x80z", 3), "a?z", "a stray continuation byte too");
    is_str(clean("\xc0\xafx", 3), "??x", "an overlong form is not valid");
    is_str(clean("\xed\xa0\x80x", 4), "???x", "nor a surrogate");
    is_str(clean("\xf4\x90\x80\x80", 4), "????", "nor a code point past U+10FFFF");
    is_str(clean("\xe6\xb8z", 3), "??z", "a short sequence before more text is replaced");
    is_int(utf8_clean(NULL, 0), 0, "an empty string stays empty");
    return done_testing();
}
