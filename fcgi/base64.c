/* base64: encoders for both alphabets and one decoder with strictness flags. */
#include "config.h"
#include "fcgi/base64.h"
#include "fcgi/strbuf.h"

#include <stdint.h>

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes with alphabet tab into out; pads with '=' when pad. Returns the length. */
static size_t encode(const char *tab, int pad, const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)p[i] << 16;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (left > 1)
            out[o++] = tab[v >> 6 & 63];
        else if (pad)
            out[o++] = '=';
        if (left > 2)
            out[o++] = tab[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

void b64_put(struct strbuf *sb, const void *in, size_t n)
{
    size_t need = (n + 2) / 3 * 4;
    sb_grow(sb, need + 1);
    sb->len += encode(std_alphabet, 1, in, n, sb->p + sb->len);
}

size_t b64url_encode(const void *in, size_t n, char *out)
{
    return encode(url_alphabet, 0, in, n, out);
}

/* The value of a base64 digit, or -1. The URL-safe digits count unless is_strict. */
static int digit(unsigned char c, int is_strict)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || (c == '-' && !is_strict))
        return 62;
    if (c == '/' || (c == '_' && !is_strict))
        return 63;
    return -1;
}

long b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, unsigned flags)
{
    int is_strict = (flags & B64_STRICT) != 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, n_digits = 0, n_pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((flags & B64_SPACE) && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            continue;
        if (c == '=') {
            n_pad++;
            continue;
        }
        int v = digit(c, is_strict);
        if (v < 0 || n_pad)
            return -1; /* not base64, or a digit after the padding */
        n_digits++;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return (flags & B64_PREFIX) ? (long)o : -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (n_digits % 4 == 1 || n_pad > 2)
        return -1; /* a lone final digit holds less than a byte */
    if (is_strict && n_pad != (4 - n_digits % 4) % 4)
        return -1;
    return (long)o;
}
