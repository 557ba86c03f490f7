/* AWS Signature Version 4 for upstream requests (Bedrock): the canonical request, the signing
 * key and the Authorization header, over the exact bytes and host the request is sent with. */
#ifndef OA_PROVIDERS_SIGV4_H
#define OA_PROVIDERS_SIGV4_H
#include <stddef.h>
#include <time.h>

struct arena;

/* Who signs, and for which region and service. */
struct sigv4_key {
    const char *access_key; /* AKID... */
    const char *secret_key;
    const char *region;  /* e.g. "us-east-1" */
    const char *service; /* e.g. "bedrock" */
};

/* The request as it goes on the wire. */
struct sigv4_request {
    const char *method;         /* "POST" */
    const char *path;           /* the path as sent (already percent-encoded), no query */
    const char *query;          /* the query as sent, without '?'; "" when none */
    const char *const *headers; /* "Name: value" lines to sign; Host and X-Amz-Date included */
    int n_headers;
    const char *body; /* the exact body bytes */
    size_t body_len;
};

/* The canonical request of rq: method, the path with every segment percent-encoded once more,
 * the sorted query, the sorted lowercase headers with trimmed values, the signed header names
 * and the hex SHA-256 of the body, joined by '\n'. Allocated in a. */
char *sigv4_canonical_request(struct arena *a, const struct sigv4_request *rq);
/* The semicolon-joined sorted lowercase names of rq's headers (SignedHeaders). In a. */
char *sigv4_signed_headers(struct arena *a, const struct sigv4_request *rq);
/* The day's signing key: HMAC chain over "AWS4" + secret, date (YYYYMMDD), region, service
 * and "aws4_request", into out. */
void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, unsigned char out[32]);
/* The lowercase hex signature of rq at amz_date (YYYYMMDD'T'HHMMSS'Z') into out[65]. */
void sigv4_signature(struct arena *a, const struct sigv4_key *k, const struct sigv4_request *rq,
                     const char *amz_date, char out[65]);
/* The value of the Authorization header for rq signed by k at amz_date:
 * "AWS4-HMAC-SHA256 Credential=AK/scope, SignedHeaders=..., Signature=...". In a. */
char *sigv4_authorization(struct arena *a, const struct sigv4_key *k,
                          const struct sigv4_request *rq, const char *amz_date);
/* t as X-Amz-Date wants it (UTC, YYYYMMDD'T'HHMMSS'Z') into out[17]. */
void sigv4_amz_date(time_t t, char out[17]);

#endif
