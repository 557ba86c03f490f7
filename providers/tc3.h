/* TencentCloud API 3.0 request signing (TC3-HMAC-SHA256). Pure: no clock, no I/O. */
#ifndef OA_PROVIDERS_TC3_H
#define OA_PROVIDERS_TC3_H
#include <stddef.h>
#include <stdint.h>

struct arena;

/* What one signature covers. Every string is NUL-terminated and none may be NULL except
 * action. */
struct tc3_input {
    const char *secret_id;
    const char *secret_key;
    const char *service;      /* "hunyuan" */
    const char *host;         /* the Host header sent, byte for byte */
    const char *action;       /* X-TC-Action (signed lowercased), or NULL to sign only
                               * content-type and host */
    const char *content_type; /* the Content-Type header sent, byte for byte */
    int64_t timestamp;        /* X-TC-Timestamp, Unix seconds; its UTC date is signed */
    const char *body;         /* the exact body bytes sent */
    size_t body_len;
};

/* The lowercase hex signature (64 characters and NUL) of a POST / with an empty query string
 * into sig. */
void tc3_signature(const struct tc3_input *in, char sig[65]);

/* The Authorization header value for in: "TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/
 * tc3_request, SignedHeaders=..., Signature=...". In a. */
const char *tc3_authorization(struct arena *a, const struct tc3_input *in);

#endif
