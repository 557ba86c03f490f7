/* AWS Signature Version 4, as the AWS services other than S3 verify it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/strbuf.h"
#include "providers/sigv4.h"

/* One "name:value" entry of the canonical headers. */
struct canon_header {
    const char *name; /* lowercase */
    size_t name_len;
    const char *value; /* trimmed, inner blank runs collapsed */
};

/* One query parameter, both parts in canonical encoding. */
struct canon_param {
    const char *name;
    const char *value;
};

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The n bytes at s with %XX sequences decoded (a malformed one is kept as it is). In a. */
static char *uri_decode(struct arena *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1), *o = out;

    for (size_t i = 0; i < n; i++) {
        int h, l;

        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int cmp_header(const void *x, const void *y)
{
    const struct canon_header *a = x, *b = y;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);

    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static int cmp_param(const void *x, const void *y)
{
    const struct canon_param *a = x, *b = y;
    int c = strcmp(a->name, b->name);

    return c ? c : strcmp(a->value, b->value);
}

/* rq's headers in canonical form, sorted by name; their count in *n. */
static struct canon_header *canon_headers(struct arena *a, const struct sigv4_request *rq, int *n)
{
    struct canon_header *h = arena_calloc(a, rq->n_headers ? (size_t)rq->n_headers : 1, sizeof *h);

    *n = 0;
    for (int i = 0; i < rq->n_headers; i++) {
        const char *line = rq->headers[i], *colon = strchr(line, ':');

        if (!colon)
            continue;
        size_t nl = (size_t)(colon - line);
        char *name = arena_strndup(a, line, nl);
        for (size_t k = 0; k < nl; k++)
            if (name[k] >= 'A' && name[k] <= 'Z')
                name[k] = (char)(name[k] + 32);
        struct strbuf v;
        sb_init(&v, a);
        int in_blank = 0;
        for (const char *p = colon + 1; *p; p++) {
            if (*p == ' ' || *p == '\t') {
                in_blank = 1;
                continue;
            }
            if (in_blank && v.len)
                sb_putc(&v, ' ');
            in_blank = 0;
            sb_putc(&v, *p);
        }
        h[*n].name = name;
        h[*n].name_len = nl;
        h[*n].value = v.p ? v.p : "";
        (*n)++;
    }
    qsort(h, (size_t)*n, sizeof *h, cmp_header);
    return h;
}

char *sigv4_signed_headers(struct arena *a, const struct sigv4_request *rq)
{
    int n;
    struct canon_header *h = canon_headers(a, rq, &n);
    struct strbuf sb;

    sb_init(&sb, a);
    for (int i = 0; i < n; i++) {
        if (i)
            sb_putc(&sb, ';');
        sb_putn(&sb, h[i].name, h[i].name_len);
    }
    return sb.p ? sb.p : arena_strdup(a, "");
}

/* The query string with every parameter decoded, re-encoded canonically and sorted. */
static void put_canon_query(struct arena *a, struct strbuf *sb, const char *q)
{
    size_t cap = 1;
    for (const char *p = q; *p; p++)
        cap += *p == '&';
    struct canon_param *params = arena_calloc(a, cap, sizeof *params);
    size_t n = 0;

    while (*q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        const char *eq = memchr(q, '=', len);

        if (len) {
            size_t nl = eq ? (size_t)(eq - q) : len;
            const char *name = uri_decode(a, q, nl);
            const char *value = eq ? uri_decode(a, eq + 1, len - nl - 1) : "";
            struct strbuf en, ev;

            sb_init(&en, a);
            sb_init(&ev, a);
            sb_url(&en, name);
            sb_url(&ev, value);
            params[n].name = en.p ? en.p : "";
            params[n].value = ev.p ? ev.p : "";
            n++;
        }
        q += len + (end != NULL);
    }
    qsort(params, n, sizeof *params, cmp_param);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(sb, '&');
        sb_printf(sb, "%s=%s", params[i].name, params[i].value);
    }
}

char *sigv4_canonical_request(struct arena *a, const struct sigv4_request *rq)
{
    struct strbuf sb;
    unsigned char digest[32];
    char body_hash[65];
    int n;
    struct canon_header *h = canon_headers(a, rq, &n);
    const char *path = rq->path && *rq->path ? rq->path : "/";

    sb_init(&sb, a);
    sb_printf(&sb, "%s\n", rq->method);
    /* Each segment is encoded again on top of the encoding it travels with (not for S3). */
    for (const char *p = path; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        sb_url(&sb, arena_strndup(a, p, len));
        if (slash)
            sb_putc(&sb, '/');
        p += len + (slash != NULL);
    }
    sb_putc(&sb, '\n');
    put_canon_query(a, &sb, rq->query ? rq->query : "");
    sb_putc(&sb, '\n');
    for (int i = 0; i < n; i++) {
        sb_putn(&sb, h[i].name, h[i].name_len);
        sb_putc(&sb, ':');
        sb_puts(&sb, h[i].value);
        sb_putc(&sb, '\n');
    }
    sb_putc(&sb, '\n');
    sb_puts(&sb, sigv4_signed_headers(a, rq));
    sb_putc(&sb, '\n');
    sha256(rq->body ? rq->body : "", rq->body_len, digest);
    hex(digest, 32, body_hash);
    sb_puts(&sb, body_hash);
    return sb.p;
}

void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, unsigned char out[32])
{
    size_t sl = strlen(secret);
    char *k = malloc(sl + 5);
    unsigned char k1[32], k2[32], k3[32];

    if (!k)
        abort();
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, sl + 1);
    hmac_sha256(k, sl + 4, date, strlen(date), k1);
    explicit_bzero(k, sl + 4);
    free(k);
    hmac_sha256(k1, 32, region, strlen(region), k2);
    hmac_sha256(k2, 32, service, strlen(service), k3);
    hmac_sha256(k3, 32, "aws4_request", 12, out);
    explicit_bzero(k1, sizeof k1);
    explicit_bzero(k2, sizeof k2);
    explicit_bzero(k3, sizeof k3);
}

void sigv4_signature(struct arena *a, const struct sigv4_key *k, const struct sigv4_request *rq,
                     const char *amz_date, char out[65])
{
    char date[9], creq_hash[65];
    unsigned char digest[32], key[32];
    const char *creq = sigv4_canonical_request(a, rq);

    snprintf(date, sizeof date, "%.8s", amz_date);
    sha256(creq, strlen(creq), digest);
    hex(digest, 32, creq_hash);
    const char *sts = arena_printf(a, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date,
                                   date, k->region, k->service, creq_hash);
    sigv4_signing_key(k->secret_key, date, k->region, k->service, key);
    hmac_sha256(key, 32, sts, strlen(sts), digest);
    explicit_bzero(key, sizeof key);
    hex(digest, 32, out);
}

char *sigv4_authorization(struct arena *a, const struct sigv4_key *k,
                          const struct sigv4_request *rq, const char *amz_date)
{
    char sig[65];

    sigv4_signature(a, k, rq, amz_date, sig);
    return arena_printf(a,
                        "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
                        "SignedHeaders=%s, Signature=%s",
                        k->access_key, amz_date, k->region, k->service, sigv4_signed_headers(a, rq),
                        sig);
}

void sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
