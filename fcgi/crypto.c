/* crypto: thin wrappers over libxcrypt and OpenSSL with the formats One API uses. */
#include "config.h"
#include "fcgi/crypto.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int pw_verify(const char *password, const char *hash)
{
    if (!password || !hash || !*hash || hash[0] != '$')
        return 0;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        abort();
    const char *out = crypt_r(password, hash, cd);
    int ok = out && out[0] != '*' && ct_streq(out, hash);
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

int pw_hash(const char *password, char *out, size_t outlen)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    unsigned char rnd[16];
    random_bytes(rnd, sizeof rnd);
    if (!crypt_gensalt_rn("$2a$", 10, (const char *)rnd, sizeof rnd, salt, sizeof salt))
        return -1;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        abort();
    const char *h = crypt_r(password, salt, cd);
    int rc = -1;
    if (h && h[0] == '$' && strlen(h) < outlen) {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return rc;
}

void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                 unsigned char mac[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, mac, &len);
}

void sha256(const void *msg, size_t n, unsigned char out[32])
{
    SHA256(msg, n, out);
}

int ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

int ct_streq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return ct_equal(a, b, la);
}

void random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0)
            abort();
        p += got;
        n -= (size_t)got;
    }
}

/* splitmix64 per thread, seeded from the kernel on first use. Request ids and the weighted
 * channel draw need spread, not secrecy, and a getrandom per request was a syscall on the hot
 * path. Thread-local, so no lock and no state shared between workers. */
uint64_t fast_random(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local int seeded;
    if (!seeded) {
        random_bytes(&state, sizeof state);
        seeded = 1;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void random_alnum(char *out, size_t n)
{
    static const char set[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t i = 0;
    while (i < n) {
        unsigned char r[64];
        random_bytes(r, sizeof r);
        for (size_t j = 0; j < sizeof r && i < n; j++)
            if (r[j] < 248) /* 248 = 4 * 62: rejection keeps the draw uniform */
                out[i++] = set[r[j] % 62];
    }
    out[n] = '\0';
}

void uuid_hex(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char u[16];
    random_bytes(u, sizeof u);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[u[i] >> 4];
        out[2 * i + 1] = hex[u[i] & 15];
    }
    out[32] = '\0';
}
