/* request: CGI params, headers, query, cookies, body; buffered and streamed responses. */
#include "config.h"
#include "fcgi/request.h"
#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/error.h"
#include "fcgi/netaddr.h"
#include "fcgi/strlist.h"
#include "fcgi/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

const char *req_param(struct req *r, const char *name)
{
    return r->io->param(r->io->ctx, name);
}

int req_header_at(struct req *r, size_t i, const char **name, const char **value)
{
    if (!r->io->param_at)
        return -1;
    /* Header k is the k-th parameter that is one: HTTP_*, CONTENT_TYPE, CONTENT_LENGTH. */
    for (size_t j = 0, k = 0;; j++) {
        const char *n, *v;
        size_t nl;
        if (r->io->param_at(r->io->ctx, j, &n, &nl, &v) < 0)
            return -1;
        int is_http = nl > 5 && !strncmp(n, "HTTP_", 5);
        int is_content = (nl == 12 && !strncmp(n, "CONTENT_TYPE", 12)) ||
                         (nl == 14 && !strncmp(n, "CONTENT_LENGTH", 14));
        if ((!is_http && !is_content) || k++ != i)
            continue;
        if (is_http)
            n += 5, nl -= 5;
        char *out = arena_strndup(r->a, n, nl);
        for (size_t c = 0; c < nl; c++) {
            int word_start = c == 0 || out[c - 1] == '-';
            out[c] = out[c] == '_' ? '-'
                     : word_start  ? (char)toupper((unsigned char)out[c])
                                   : (char)tolower((unsigned char)out[c]);
        }
        *name = out;
        *value = v ? v : "";
        return 0;
    }
}

const char *req_header(struct req *r, const char *name)
{
    if (!strcasecmp(name, "Content-Type"))
        return req_param(r, "CONTENT_TYPE");
    if (!strcasecmp(name, "Content-Length"))
        return req_param(r, "CONTENT_LENGTH");
    char key[128] = "HTTP_";
    size_t i = 5;
    for (const char *p = name; *p && i < sizeof key - 1; p++)
        key[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    key[i] = '\0';
    return req_param(r, key);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *url_decode(struct arena *a, const char *s, size_t n, int is_form)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else if (is_form && s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

const char *req_query(struct req *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = r->query; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (kl == nl && !memcmp(p, name, nl)) {
            if (!eq)
                return "";
            return url_decode(r->a, eq + 1, len - kl - 1, 1);
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return NULL;
}

const char *req_cookie(struct req *r, const char *name)
{
    const char *c = req_param(r, "HTTP_COOKIE");
    size_t nl = strlen(name);
    while (c && *c) {
        while (*c == ' ' || *c == ';')
            c++;
        const char *semi = strchr(c, ';');
        size_t len = semi ? (size_t)(semi - c) : strlen(c);
        if (len > nl && c[nl] == '=' && !memcmp(c, name, nl)) {
            const char *v = c + nl + 1;
            size_t vl = len - nl - 1;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
                v++, vl -= 2;
            return arena_strndup(r->a, v, vl);
        }
        c = semi;
    }
    return NULL;
}

const char *req_path_param(struct req *r, int i)
{
    return i >= 0 && i < r->n_params ? r->params[i] : NULL;
}

int parse_decimal(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

int req_path_id(struct req *r, int i, int64_t *id)
{
    return parse_decimal(req_path_param(r, i), id);
}

void make_request_id(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    /* Local time, as Go's time.Now() formats it: the id's date is the server's (TZ). */
    localtime_r(&ts.tv_sec, &tm);
    uint32_t rnd = (uint32_t)(fast_random() >> 32);
    snprintf(buf, n, "%04d%02d%02d%02d%02d%02d%ld%08u", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts.tv_nsec,
             (unsigned)(rnd % 100000000u));
}

/* A header's claim of an address: trimmed, bounded, copied into the arena. It need not be a
 * valid address; one that is not never matches a subnet restriction. */
static const char *claimed_ip(struct arena *a, const char *s, size_t n)
{
    return arena_strndup(a, s, n > 64 ? 64 : n);
}

const char *req_client_ip(struct req *r, const char *trusted)
{
    const char *peer = req_param(r, "REMOTE_ADDR");
    if (!peer)
        peer = "";
    if (!trusted || !*trusted || !ip_in_cidr_list(peer, trusted))
        return peer;
    /* Each proxy appends the address it got the request from, so the list reads left to right
     * from the client: walk it from the right past our own proxies. What is left of the first
     * address we do not trust was written by someone we cannot vouch for. */
    const char *xff = req_param(r, "HTTP_X_FORWARDED_FOR");
    if (xff && *xff) {
        const char *items[64], *item;
        size_t lens[64], n_items = 0, n;
        for (const char *c = xff; strlist_next(&c, &item, &n);) {
            if (n_items == 64) { /* keep the right-most 64 */
                memmove(items, items + 1, 63 * sizeof *items);
                memmove(lens, lens + 1, 63 * sizeof *lens);
                n_items--;
            }
            items[n_items] = item;
            lens[n_items++] = n;
        }
        for (size_t i = n_items; i-- > 0;) {
            char hop[65];
            snprintf(hop, sizeof hop, "%.*s", (int)(lens[i] > 64 ? 64 : lens[i]), items[i]);
            if (i == 0 || !lens[i] || !ip_in_cidr_list(hop, trusted))
                return claimed_ip(r->a, items[i], lens[i]);
        }
    }
    const char *xri = req_param(r, "HTTP_X_REAL_IP");
    if (xri && *xri) {
        const char *item;
        size_t n;
        const char *c = xri;
        strlist_next(&c, &item, &n);
        if (n)
            return claimed_ip(r->a, item, n);
    }
    return peer;
}

void req_init(struct req *r, struct arena *a, const struct req_io *io, void *app, void *worker)
{
    memset(r, 0, sizeof *r);
    r->a = a;
    r->io = io;
    r->app = app;
    r->worker = worker;
    r->status = 200;
    sb_init(&r->headers, a);
    sb_init(&r->out, a);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    char id[64];
    make_request_id(id, sizeof id);
    r->request_id = arena_strdup(a, id);

    const char *m = req_param(r, "REQUEST_METHOD");
    r->method = m && *m ? m : "GET";
    const char *q = req_param(r, "QUERY_STRING");
    r->query = q ? q : "";

    const char *uri = req_param(r, "REQUEST_URI");
    const char *raw;
    size_t rawlen;
    if (uri && *uri) {
        raw = uri;
        rawlen = strcspn(uri, "?");
    } else {
        const char *sn = req_param(r, "SCRIPT_NAME"), *pi = req_param(r, "PATH_INFO");
        raw = arena_printf(a, "%s%s", sn ? sn : "", pi ? pi : "");
        rawlen = strlen(raw);
    }
    r->raw_path = arena_strndup(a, raw, rawlen);
    char *path = url_decode(a, raw, rawlen, 0);
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
        path[--pl] = '\0';
    if (!*path)
        path = arena_strdup(a, "/");
    r->path = path;

    /* Headers that claim another address count only behind a trusted proxy: the application
     * calls req_client_ip with its list. */
    const char *peer = req_param(r, "REMOTE_ADDR");
    r->client_ip = peer ? peer : "";
    r->body = arena_strdup(a, "");
    resp_header(r, "X-Oneapi-Request-Id", r->request_id);
}

/* Whether the body says Content-Encoding: gzip (the one coding clients send). */
static int body_is_gzip(struct req *r)
{
    const char *ce = req_header(r, "Content-Encoding");
    if (!ce)
        return 0;
    while (*ce == ' ' || *ce == '\t')
        ce++;
    size_t n = strlen(ce);
    while (n && (ce[n - 1] == ' ' || ce[n - 1] == '\t'))
        n--;
    return n == 4 && !strncasecmp(ce, "gzip", 4);
}

/* Inflates in (gzip members, one after another) into out[0..cap), or only counts when out
 * is NULL (then scratch, of scratch_len bytes, takes the bytes). *len gets the inflated size.
 * Stops with OA_ERR_TOO_LARGE past max bytes, OA_ERR_BAD_ENCODING on anything but whole
 * gzip members. */
static int inflate_gzip(const char *in, size_t in_len, char *out, size_t cap, char *scratch,
                        size_t scratch_len, size_t max, size_t *len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return OA_ERR_INTERNAL;
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)in_len;
    size_t total = 0;
    int rc = OA_OK;
    for (;;) {
        size_t room = out ? cap - total : scratch_len;
        if (room > (uInt)-1)
            room = (uInt)-1;
        unsigned char *dst = (unsigned char *)(out ? out + total : scratch);
        zs.next_out = dst;
        zs.avail_out = (uInt)room;
        int zr = inflate(&zs, Z_NO_FLUSH);
        total += (size_t)(zs.next_out - dst);
        if (total > max) {
            rc = OA_ERR_TOO_LARGE;
            break;
        }
        if (zr == Z_STREAM_END) {
            if (!zs.avail_in)
                break;
            inflateReset(&zs); /* another member follows */
        } else if (zr == Z_BUF_ERROR && out && total == cap) {
            rc = OA_ERR_INTERNAL; /* the second pass found more than the first */
            break;
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && !zs.avail_out)) {
            rc = OA_ERR_BAD_ENCODING; /* corrupt, or the input ended inside a member */
            break;
        }
    }
    inflateEnd(&zs);
    *len = total;
    return rc;
}

/* Replaces r->body by what it inflates to. Two passes: the first counts, in a small buffer,
 * so that the body is allocated once at its exact size, and a bomb is refused after
 * allocating nothing but that buffer. */
static int gunzip_body(struct req *r, size_t max)
{
    if (!r->body_len)
        return OA_ERR_BAD_ENCODING; /* not even a gzip header */
    enum { SCRATCH = 64 * 1024 };
    char *scratch = xmalloc(SCRATCH);
    size_t n = 0;
    int rc = inflate_gzip(r->body, r->body_len, NULL, 0, scratch, SCRATCH, max, &n);
    free(scratch);
    if (rc)
        return rc;
    char *out = arena_alloc(r->a, n + 1);
    size_t got = 0;
    if (n && (rc = inflate_gzip(r->body, r->body_len, out, n, NULL, 0, max, &got)) != 0)
        return rc;
    out[n] = '\0';
    r->body = out;
    r->body_len = n;
    return OA_OK;
}

static int read_raw_body(struct req *r, size_t max);

int req_read_body(struct req *r, size_t max)
{
    int rc = read_raw_body(r, max);
    if (rc == OA_OK && body_is_gzip(r))
        rc = gunzip_body(r, max);
    return rc;
}

/* The body as sent, at most max bytes. */
static int read_raw_body(struct req *r, size_t max)
{
    const char *cl = req_param(r, "CONTENT_LENGTH");
    long long want = cl && *cl ? strtoll(cl, NULL, 10) : -1;
    if (want > (long long)max)
        return OA_ERR_TOO_LARGE;
    struct strbuf sb;
    sb_init(&sb, r->a);
    /* Straight into the arena buffer: a stack bounce buffer cost every worker 16 KB of
     * resident stack. */
    sb_grow(&sb, want > 0 ? (size_t)want : want == 0 ? 1 : 4096);
    for (;;) {
        if (sb.cap - sb.len < 2)
            sb_grow(&sb, sb.cap); /* unknown length: double */
        size_t room = sb.cap - sb.len - 1;
        long n = r->io->read(r->io->ctx, sb.p + sb.len, room);
        if (n < 0)
            return OA_ERR_BAD_REQUEST;
        if (n == 0)
            break;
        if (sb.len + (size_t)n > max)
            return OA_ERR_TOO_LARGE;
        sb.len += (size_t)n;
        sb.p[sb.len] = '\0';
        if (want >= 0 && sb.len >= (size_t)want)
            break;
    }
    if (sb.len)
        r->body = sb_detach(&sb, &r->body_len);
    return 0;
}

void resp_status(struct req *r, int status)
{
    r->status = status;
}

void resp_header(struct req *r, const char *name, const char *value)
{
    /* Header injection guard: a value never carries CR or LF. */
    sb_puts(&r->headers, name);
    SB_LIT(&r->headers, ": ");
    for (const char *p = value; *p; p++)
        if (*p != '\r' && *p != '\n')
            sb_putc(&r->headers, *p);
    SB_LIT(&r->headers, "\r\n");
}

void resp_write(struct req *r, const char *s, size_t n)
{
    if (r->is_streaming)
        resp_stream_write(r, s, n);
    else
        sb_putn(&r->out, s, n);
}

void resp_json(struct req *r, int status, const char *json, size_t n)
{
    r->status = status;
    resp_header(r, "Content-Type", "application/json; charset=utf-8");
    sb_reset(&r->out);
    resp_write(r, json, n);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static int send_head(struct req *r, long long content_length)
{
    struct strbuf h;
    sb_init(&h, r->a);
    sb_printf(&h, "Status: %d %s\r\n", r->status, reason(r->status));
    sb_putn(&h, r->headers.p, r->headers.len);
    if (content_length >= 0)
        sb_printf(&h, "Content-Length: %lld\r\n", content_length);
    SB_LIT(&h, "\r\n");
    if (r->io->write(r->io->ctx, h.p, h.len) < 0) {
        r->client_gone = 1;
        return -1;
    }
    return 0;
}

int resp_stream_begin(struct req *r)
{
    if (r->is_streaming)
        return r->client_gone ? -1 : 0;
    r->is_streaming = 1;
    if (r->io->stream)
        r->io->stream(r->io->ctx);
    if (send_head(r, -1) < 0 || r->io->flush(r->io->ctx) < 0) {
        r->client_gone = 1;
        return -1;
    }
    return 0;
}

int resp_stream_write(struct req *r, const char *s, size_t n)
{
    if (!r->is_streaming && resp_stream_begin(r) < 0)
        return -1;
    if (r->client_gone)
        return -1;
    if ((n && r->io->write(r->io->ctx, s, n) < 0) || r->io->flush(r->io->ctx) < 0) {
        r->client_gone = 1;
        return -1;
    }
    return 0;
}

void resp_finish(struct req *r)
{
    if (r->is_streaming || r->client_gone)
        return;
    int is_head = !strcmp(r->method, "HEAD");
    if (send_head(r, (long long)r->out.len) < 0)
        return;
    if (!is_head && r->out.len && r->io->write(r->io->ctx, r->out.p, r->out.len) < 0)
        r->client_gone = 1;
}
