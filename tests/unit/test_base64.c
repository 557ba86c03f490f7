/* Unit tests for fcgi/base64.c: RFC 4648 vectors, both alphabets, the decoder's flags. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/strbuf.h"
#include "tests/unit/tap.h"

#include <string.h>

/* Decodes s with flags into a NUL-terminated buffer; the length or -1. */
static long dec(const char *s, unsigned flags, char *out, size_t cap)
{
    long n = b64_decode(s, strlen(s), (unsigned char *)out, cap, flags);
    if (n >= 0)
        out[n] = '\0';
    return n;
}

int main(void)
{
    /* RFC 4648 section 10. */
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    struct strbuf sb;
    sb_init(&sb, NULL);
    char out[64];
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        sb_reset(&sb);
        b64_put(&sb, vec[i][0], strlen(vec[i][0]));
        is_str(sb.p, vec[i][1], "b64_put(\"%s\")", vec[i][0]);
        is_int(dec(vec[i][1], B64_STRICT, out, sizeof out), (long)strlen(vec[i][0]),
               "strict decode of \"%s\"", vec[i][1]);
        is_str(out, vec[i][0], "gives \"%s\"", vec[i][0]);
    }
    sb_free(&sb);

    char enc[64];
    b64url_encode("\xfb\xff\xbf", 3, enc);
    is_str(enc, "-_-_", "base64url uses - and _");
    b64url_encode("ab", 2, enc);
    is_str(enc, "YWI", "base64url has no padding");

    is_int(dec("YWI", 0, out, sizeof out), 2, "padding is optional by default");
    is_str(out, "ab", "and the bytes are right");
    is_int(dec("-_-_", 0, out, sizeof out), 3, "the URL-safe alphabet is read by default");
    ok(!memcmp(out, "\xfb\xff\xbf", 3), "to the same bytes");
    is_int(dec("-_-_", B64_STRICT, out, sizeof out), -1, "but not when strict");
    is_int(dec("YWI", B64_STRICT, out, sizeof out), -1, "strict wants the padding");
    is_int(dec("Zg===", 0, out, sizeof out), -1, "three '=' are refused");
    is_int(dec("Zg=a", 0, out, sizeof out), -1, "a digit after '=' is refused");
    is_int(dec("Y", 0, out, sizeof out), -1, "a lone final digit is refused");
    is_int(dec("Y$WI", 0, out, sizeof out), -1, "a foreign character is refused");
    is_int(dec("Zm9v\nYmFy", 0, out, sizeof out), -1, "white space is refused by default");
    is_int(dec("Zm9v\r\nYm Fy", B64_SPACE, out, sizeof out), 6, "and skipped with B64_SPACE");
    is_str(out, "foobar", "to the same bytes");
    is_int(dec("Zm9vYmFy", 0, out, 4), -1, "output over cap is an error");
    is_int(dec("Zm9vYmFy", B64_PREFIX, out, 4), 4, "with B64_PREFIX the first cap bytes come out");
    ok(!memcmp(out, "foob", 4), "and they are the right ones");
    return done_testing();
}
