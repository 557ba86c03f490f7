/* Unit tests for fcgi/request.c: who the client is behind proxies, query and cookie parsing,
 * gzip request bodies. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/request.h"
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/* CGI params of the fake transport: name, value, name, value, ..., NULL. */
static const char *const *params;

static const char *fake_param(void *ctx, const char *name)
{
    (void)ctx;
    for (const char *const *p = params; p && *p; p += 2)
        if (!strcmp(p[0], name))
            return p[1];
    return NULL;
}

/* The client address req_client_ip finds for a request with these params. */
static const char *client(struct arena *a, const char *const *with, const char *trusted)
{
    static const struct req_io io = {.param = fake_param};
    struct req r;
    params = with;
    req_init(&r, a, &io, NULL, NULL);
    return req_client_ip(&r, trusted);
}

/* The body the fake transport reads. */
static const char *body_p;
static size_t body_left;

static long fake_read(void *ctx, char *buf, size_t n)
{
    (void)ctx;
    if (n > body_left)
        n = body_left;
    memcpy(buf, body_p, n);
    body_p += n, body_left -= n;
    return (long)n;
}

/* in as one gzip member, appended to out (heap, *len bytes). */
static void gzip_append(const char *in, size_t n, char **out, size_t *len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&zs, (uLong)n);
    *out = realloc(*out, *len + cap);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (unsigned char *)*out + *len;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    *len += cap - zs.avail_out;
    deflateEnd(&zs);
}

/* Reads a body of n bytes with Content-Encoding enc into r: req_read_body's code. */
static int read_body(struct req *r, struct arena *a, const char *enc, const char *b, size_t n,
                     size_t max)
{
    static char cl[32];
    snprintf(cl, sizeof cl, "%zu", n);
    static const char *with[7];
    with[0] = "CONTENT_LENGTH", with[1] = cl, with[2] = enc ? "HTTP_CONTENT_ENCODING" : NULL;
    with[3] = enc, with[4] = NULL;
    params = with;
    static const struct req_io io = {.param = fake_param, .read = fake_read};
    body_p = b, body_left = n;
    req_init(r, a, &io, NULL, NULL);
    return req_read_body(r, max);
}

static void test_gzip(struct arena *a)
{
    struct req r;
    const char *json = "{\"model\":\"gpt-4o\",\"messages\":[]}";
    char *gz = NULL;
    size_t gzlen = 0;
    gzip_append(json, strlen(json), &gz, &gzlen);
    is_int(read_body(&r, a, "gzip", gz, gzlen, 1024), 0, "a gzip body is read");
    ok(r.body_len == strlen(json) && !strcmp(r.body, json), "and inflated: %s", r.body);
    is_int(read_body(&r, a, " GZIP ", gz, gzlen, 1024), 0, "the coding name is case-blind");
    ok(!strcmp(r.body, json), "inflated too");
    is_int(read_body(&r, a, NULL, gz, gzlen, 1024), 0, "without the header the body is raw");
    ok(r.body_len == gzlen && r.body[0] == '\x1f', "left as sent");
    gzip_append("{}", 2, &gz, &gzlen);
    is_int(read_body(&r, a, "gzip", gz, gzlen, 1024), 0, "two gzip members one after another");
    ok(r.body_len == strlen(json) + 2 && !strcmp(r.body + strlen(json), "{}"),
       "inflate to their concatenation");
    is_int(read_body(&r, a, "gzip", "{\"a\":1}", 7, 1024), OA_ERR_BAD_ENCODING,
           "a body that is not gzip: malformed");
    is_int(read_body(&r, a, "gzip", gz, gzlen - 5, 1024), OA_ERR_BAD_ENCODING,
           "a truncated gzip body: malformed");
    is_int(read_body(&r, a, "gzip", "", 0, 1024), OA_ERR_BAD_ENCODING,
           "an empty body that says gzip: malformed");
    char bad[64];
    memcpy(bad, gz, 20);
    memset(bad + 10, 0xff, 8);
    is_int(read_body(&r, a, "gzip", bad, 20, 1024), OA_ERR_BAD_ENCODING,
           "corrupt deflate data: malformed");

    /* A bomb: 8 MiB of zeros is a few KB of gzip. */
    size_t big = 8u << 20;
    char *zeros = calloc(1, big);
    free(gz);
    gz = NULL, gzlen = 0;
    gzip_append(zeros, big, &gz, &gzlen);
    ok(gzlen < 16384, "the bomb is small (%zu bytes)", gzlen);
    size_t before = arena_footprint(a);
    is_int(read_body(&r, a, "gzip", gz, gzlen, 1u << 20), OA_ERR_TOO_LARGE,
           "inflating past the body limit: too large");
    ok(arena_footprint(a) - before < 64 * 1024,
       "and the request arena did not grow by the inflated size (%zu bytes)",
       arena_footprint(a) - before);
    is_int(read_body(&r, a, "gzip", gz, gzlen, big), 0, "a body exactly at the limit is read");
    ok(r.body_len == big && r.body[big - 1] == 0 && r.body[0] == 0, "whole");
    free(zeros);
    free(gz);
}

/* The id's timestamp is local time, as One API's: under TZ=UTC-14 it is 14 hours ahead of
 * UTC. */
static void test_request_id(void)
{
    char id[64];
    setenv("TZ", "UTC-14", 1);
    tzset();
    time_t now = time(NULL);
    make_request_id(id, sizeof id);
    time_t ahead = now + 14 * 3600;
    struct tm tm;
    gmtime_r(&ahead, &tm);
    char want[64];
    snprintf(want, sizeof want, "%04d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour);
    ok(!strncmp(id, want, 10), "the request id's date and hour are local time (%s, %s)", id, want);
    unsetenv("TZ");
    tzset();
}

/* params as the transport lists them. */
static int fake_param_at(void *ctx, size_t i, const char **name, size_t *nlen, const char **value)
{
    (void)ctx;
    for (size_t k = 0; k < i; k++)
        if (!params[2 * k])
            return -1;
    if (!params[2 * i])
        return -1;
    *name = params[2 * i];
    *nlen = strlen(*name);
    *value = params[2 * i + 1];
    return 0;
}

/* req_header_at lists the request headers with their HTTP names, and nothing else. */
static void test_header_list(struct arena *a)
{
    static const char *const with[] = {"REQUEST_METHOD",
                                       "POST",
                                       "HTTP_X_STAINLESS_OS",
                                       "Linux",
                                       "CONTENT_TYPE",
                                       "text/plain",
                                       "HTTP_ACCEPT",
                                       "*/*",
                                       "SCRIPT_NAME",
                                       "/x",
                                       "CONTENT_LENGTH",
                                       "3",
                                       "HTTP_",
                                       "empty",
                                       NULL};
    static const struct req_io io = {.param = fake_param, .param_at = fake_param_at};
    static const struct req_io no_list = {.param = fake_param};
    struct req r;
    const char *name, *value;
    struct strbuf got;

    params = with;
    req_init(&r, a, &io, NULL, NULL);
    sb_init(&got, a);
    for (size_t i = 0; req_header_at(&r, i, &name, &value) == 0; i++)
        sb_printf(&got, "%s=%s;", name, value);
    is_str(got.p, "X-Stainless-Os=Linux;Content-Type=text/plain;Accept=*/*;Content-Length=3;",
           "headers in order, named as HTTP spells them; other params left out");
    req_init(&r, a, &no_list, NULL, NULL);
    is_int(req_header_at(&r, 0, &name, &value), -1, "a transport that cannot list has none");
}

int main(void)
{
    struct arena *a = arena_new(4096);
    test_header_list(a);
    const char *const spoof[] = {"REMOTE_ADDR", "127.0.0.1",      "HTTP_X_FORWARDED_FOR",
                                 "10.1.2.3",    "HTTP_X_REAL_IP", "10.9.9.9",
                                 NULL};
    is_str(client(a, spoof, ""), "127.0.0.1",
           "without trusted proxies, X-Forwarded-For and X-Real-IP are ignored");
    is_str(client(a, spoof, "192.168.0.0/16"), "127.0.0.1",
           "they are ignored too when the peer is not a trusted proxy");
    is_str(client(a, spoof, "127.0.0.1"), "10.1.2.3",
           "behind a trusted proxy X-Forwarded-For counts");

    const char *const chain[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR",
                                 "6.6.6.6, 203.0.113.7 , 10.0.0.9", NULL};
    is_str(client(a, chain, "10.0.0.0/8"), "203.0.113.7",
           "the right-most untrusted hop wins over what the client wrote on the left");
    is_str(client(a, chain, "10.0.0.0/8, 203.0.113.0/24"), "6.6.6.6", "past every trusted hop");
    const char *const all_trusted[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR",
                                       "10.0.0.7,10.0.0.8", NULL};
    is_str(client(a, all_trusted, "10.0.0.0/8"), "10.0.0.7", "all trusted: the left-most");
    const char *const junk[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR",
                                "not-an-ip, 10.0.0.3", NULL};
    is_str(client(a, junk, "10.0.0.0/8"), "not-an-ip",
           "a claim that is no address is kept as claimed (it matches no subnet)");
    const char *const real_ip[] = {"REMOTE_ADDR", "::1", "HTTP_X_REAL_IP", " 198.51.100.4 ", NULL};
    is_str(client(a, real_ip, "::1"), "198.51.100.4", "X-Real-IP behind a trusted proxy");
    const char *const none[] = {"REMOTE_ADDR", "::1", NULL};
    is_str(client(a, none, "::1"), "::1", "a trusted proxy that says nothing is the client");
    const char *const mapped[] = {"REMOTE_ADDR", "::ffff:127.0.0.1", "HTTP_X_FORWARDED_FOR",
                                  "192.0.2.1", NULL};
    is_str(client(a, mapped, "127.0.0.1"), "192.0.2.1",
           "an IPv4 peer seen through a dual-stack socket is matched as IPv4");
    const char *const no_peer[] = {NULL};
    is_str(client(a, no_peer, "127.0.0.1"), "", "no REMOTE_ADDR at all: empty, never NULL");

    char big[4096] = "";
    for (int i = 0; i < 200; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s", i ? ",10.0.0.1" : "192.0.2.99");
    const char *const long_chain[] = {"REMOTE_ADDR", "10.0.0.2", "HTTP_X_FORWARDED_FOR", big, NULL};
    is_str(client(a, long_chain, "10.0.0.0/8"), "10.0.0.1",
           "a list longer than 64 hops is read from its right-most 64");

    /* Query and cookies. */
    struct req r;
    const char *const q[] = {"QUERY_STRING", "a=1&model=gpt%2D4o+x&empty", "HTTP_COOKIE",
                             "x=1; session=\"abc.def\"; y=2", NULL};
    params = q;
    static const struct req_io io = {.param = fake_param};
    req_init(&r, a, &io, NULL, NULL);
    is_str(req_query(&r, "model"), "gpt-4o x", "query values are decoded ('+' is a space)");
    is_str(req_query(&r, "empty"), "", "a key without '=' is empty");
    ok(!req_query(&r, "mode"), "a missing key is NULL");
    is_str(req_cookie(&r, "session"), "abc.def", "a quoted cookie value is unquoted");
    ok(!req_cookie(&r, "sess"), "a cookie name must match whole");
    test_gzip(a);
    test_request_id();
    arena_free(a);
    return done_testing();
}
