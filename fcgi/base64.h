/* Base64 (RFC 4648): the standard alphabet with padding, and the URL-safe one without. */
#ifndef OA_BASE64_H
#define OA_BASE64_H
#include <stddef.h>

struct strbuf;

/* Appends n bytes of in to sb in standard base64 with '=' padding. */
void b64_put(struct strbuf *sb, const void *in, size_t n);
/* base64url without padding of n bytes into out (at least 4 * ceil(n / 3) + 1 bytes, NUL
 * included). Returns the length written. */
size_t b64url_encode(const void *in, size_t n, char *out);

/* Flags of b64_decode. */
enum {
    B64_STRICT = 1, /* the standard alphabet only, '=' padding to a multiple of 4 */
    B64_SPACE = 2,  /* ASCII white space in the input is skipped */
    B64_PREFIX = 4, /* stop quietly once out is full (the first cap bytes of the data) */
};

/* Decodes len bytes of base64 at in into out (room for cap bytes). Without B64_STRICT both
 * alphabets are accepted and padding is optional, but '=' may only end the input. Returns
 * the bytes written, or -1 on a character outside the alphabet, misplaced padding, a final
 * lone digit, or (without B64_PREFIX) output longer than cap. At most 3 * len / 4 bytes come
 * out of len bytes in. */
long b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, unsigned flags);

#endif
