/* Crypto helpers: bcrypt through libxcrypt, HMAC-SHA256, randomness. */
#ifndef OA_CRYPTO_H
#define OA_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

/* Checks password against a crypt(3) hash ($2a$/$2b$/$2y$ bcrypt and others libxcrypt
 * knows). Constant-time comparison. 1 = match, 0 = no match or unusable hash. */
int pw_verify(const char *password, const char *hash);
/* bcrypt hash of password with cost 10 and the $2a$ prefix One API (Go) writes, into out
 * (at least 64 bytes). 0 or -1. */
int pw_hash(const char *password, char *out, size_t outlen);

/* HMAC-SHA256 of msg with key into mac[32]. */
void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                 unsigned char mac[32]);
/* SHA-256 of msg into out[32]. */
void sha256(const void *msg, size_t n, unsigned char out[32]);
/* Equal-length constant-time comparison: 1 when a and b (n bytes) are equal. */
int ct_equal(const void *a, const void *b, size_t n);
/* Constant-time comparison of two NUL-terminated strings (length leaks, content does not). */
int ct_streq(const char *a, const char *b);

/* n cryptographically random bytes; aborts if the kernel cannot supply them. */
void random_bytes(void *buf, size_t n);
/* A fast, uniformly spread, NOT unpredictable 64-bit number (per-thread generator): for
 * request ids and load balancing, never for keys, tokens or salts. */
uint64_t fast_random(void);
/* n random characters of [0-9a-zA-Z] plus NUL into out (n+1 bytes). */
void random_alnum(char *out, size_t n);
/* 32 lowercase hex chars of a fresh UUIDv4 (dashes removed) plus NUL into out[33]. */
void uuid_hex(char out[33]);

#endif
