/* utf8: validation and safe truncation. */
#include "config.h"
#include "fcgi/utf8.h"

/* Length of the well-formed sequence at s (at most n bytes available): 1-4, 0 when the bytes
 * there are not a valid sequence, or -1 when they are a valid beginning that n cuts short. */
static int seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    int len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -1;
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return 0;
    }
    return len;
}

size_t utf8_clean(char *s, size_t n)
{
    unsigned char *u = (unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = seq_len(u + i, n - i);
        if (k < 0)
            return i; /* a character cut by the end: drop its start */
        if (k == 0) {
            u[i++] = '?';
            continue;
        }
        i += (size_t)k;
    }
    return n;
}
