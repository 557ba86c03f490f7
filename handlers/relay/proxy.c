/* proxy: /v1/oneapi/proxy/:channelid/<target>, One API's raw pass-through to a Proxy channel
 * (type 43). The client's request (method, target, query, headers but its credentials, body)
 * goes to the channel's base URL with the channel's key as Authorization, and the upstream's
 * status, headers and body come back, the body as it arrives. Nothing is reserved, charged or
 * logged, as in One API. Also the rule for which upstream answer headers reach a client,
 * which the relay shares. */
#include "config.h"
#include "handlers/app.h"
#include "handlers/relay/relay.h"
#include "handlers/relay/upstream.h"
#include "handlers/respond.h"
#include "fcgi/arena.h"
#include "fcgi/cfg.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/log.h"
#include "fcgi/request.h"
#include "fcgi/strlist.h"
#include "providers/provider.h"
#include "providers/registry.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PROXY_PREFIX "/v1/oneapi/proxy/"

/* ---------------------------------------------------------------- answer headers */

/* 1 when name (n bytes) equals z, ignoring case. */
static int name_is(const char *name, size_t n, const char *z)
{
    return strlen(z) == n && !strncasecmp(name, z, n);
}

int relay_header_passes(const char *name, size_t n)
{
    /* Hop-by-hop headers belong to one connection; the web server frames the body itself
     * (Content-Length, and Content-Encoding that libcurl has undone); the upstream's cookies,
     * Alt-Svc and HSTS speak for its host, not ours; X-Accel-* and Status would steer the web
     * server; Date, Server, CORS and the request id are the gateway's own. */
    static const char *const drop[] = {
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
        "Content-Encoding",
        "Set-Cookie",
        "Set-Cookie2",
        "Alt-Svc",
        "Strict-Transport-Security",
        "Status",
        "Date",
        "Server",
        "X-Oneapi-Request-Id",
    };
    if (!n || (n >= 8 && !strncasecmp(name, "X-Accel-", 8)) ||
        (n >= 15 && !strncasecmp(name, "Access-Control-", 15)))
        return 0;
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        if (name_is(name, n, drop[i]))
            return 0;
    return 1;
}

/* Has the response a header called name (n bytes) already? */
static int resp_has_header(const struct req *r, const char *name, size_t n)
{
    const char *p = r->headers.p, *end = p + r->headers.len;
    while (p && p < end) {
        if ((size_t)(end - p) > n && p[n] == ':' && !strncasecmp(p, name, n))
            return 1;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

void relay_pass_header(struct req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (!relay_header_passes(name, nlen) || memchr(name, ' ', nlen) ||
        resp_has_header(r, name, nlen))
        return;
    resp_header(r, arena_strndup(r->a, name, nlen), arena_strndup(r->a, value, vlen));
}

void relay_pass_headers(struct req *r, const char *pairs, size_t len)
{
    for (size_t i = 0; i < len;) {
        const char *n = pairs + i, *v = n + strlen(n) + 1;
        relay_pass_header(r, n, strlen(n), v, strlen(v));
        i = (size_t)(v + strlen(v) + 1 - pairs);
    }
}

/* ---------------------------------------------------------------- the request */

/* Does the client's header name go upstream? Not its credentials (the channel's key replaces
 * them; the gateway's session cookie is not the upstream's business), not what describes the
 * client's own connection and body framing (libcurl sets its own). */
static int request_header_passes(const char *name)
{
    static const char *const drop[] = {
        "Host",
        "Content-Length",
        "Accept-Encoding",
        "Connection",
        "Authorization",
        "Cookie",
        "Keep-Alive",
        "Proxy-Connection",
        "TE",
        "Upgrade",
        "Transfer-Encoding",
        "Expect",
        "Proxy-Authorization",
    };
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        if (!strcasecmp(name, drop[i]))
            return 0;
    return 1;
}

/* The upstream URL: the base, then the client's URI without /v1/oneapi/proxy/<id>, query
 * kept. */
static const char *target_url(struct req *r, const char *base)
{
    const char *p = r->raw_path + strlen(PROXY_PREFIX);
    p += strcspn(p, "/");
    return *r->query ? arena_printf(r->a, "%s%s?%s", base, p, r->query)
                     : arena_printf(r->a, "%s%s", base, p);
}

/* What the transfer's callbacks share. */
struct proxy_xfer {
    struct req *r;
    int started; /* the client has the status and headers */
};

static void px_header(void *ud, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct proxy_xfer *x = ud;
    relay_pass_header(x->r, name, nlen, value, vlen);
}

static void px_head(void *ud, long status, const char *ctype)
{
    (void)ctype; /* passed with the other headers */
    struct proxy_xfer *x = ud;
    x->started = 1;
    resp_status(x->r, (int)status);
    /* The body goes out as it arrives: a stream must not wait in the web server's buffer. */
    resp_header(x->r, "X-Accel-Buffering", "no");
    resp_stream_begin(x->r);
}

static int px_body(void *ud, const char *p, size_t n)
{
    struct proxy_xfer *x = ud;
    return resp_stream_write(x->r, p, n);
}

static int px_tick(void *ud)
{
    struct proxy_xfer *x = ud;
    return x->r->client_gone ? -1 : 0;
}

/* A refusal in One API's relay error shape, with the request id. */
static int proxy_fail(struct req *r, int status, const char *msg, const char *code)
{
    openai_error(r, status, msg, "one_api_error", code, 1);
    return 0;
}

int h_relay_proxy(struct req *r)
{
    struct relay_auth *au = r->auth;
    if (!au)
        return OA_ERR_INTERNAL;
    /* A JSON body naming a model the key may not use is refused, as for the other routes. */
    json_object *body = jown(r->a, jparse(r->body, r->body_len, 0, NULL));
    const char *model = jstr(body, "model");
    if (*au->tok.models && model && *model && !strlist_has(au->tok.models, model)) {
        openai_error(r, 403, arena_printf(r->a, "该令牌无权使用模型：%s", model), "one_api_error",
                     NULL, 1);
        return 0;
    }
    int64_t id;
    struct relay_channel ch;
    int found = req_path_id(r, 0, &id) < 0 ? 0 : relay_load_channel(r, id, &ch);
    if (found < 0)
        return OA_ERR_DB;
    if (found == 0) {
        openai_error(r, 400, "无效的渠道 Id", "one_api_error", NULL, 1);
        return 0;
    }
    if (ch.status != 1) {
        openai_error(r, 403, "该渠道已被禁用", "one_api_error", NULL, 1);
        return 0;
    }
    if (ch.type != CHANNEL_TYPE_PROXY)
        return proxy_fail(r, 400, arena_printf(r->a, "invalid api type: %lld", (long long)ch.type),
                          "invalid_api_type");
    const char *base = ch.base_url;
    size_t bl = strlen(base);
    if (bl && base[bl - 1] == '/')
        base = arena_strndup(r->a, base, bl - 1);

    struct prov_request rq = {0};
    rq.url = target_url(r, base);
    rq.method = r->method;
    if (r->body_len) {
        rq.body = r->body;
        rq.body_len = r->body_len;
    }
    /* The channel's key as it is, without "Bearer": the admin stores what the upstream wants. */
    rq.headers[rq.n_headers++] = arena_printf(r->a, "Authorization: %s", ch.key);
    size_t n = 0, cap = 16;
    const char **more = arena_alloc(r->a, cap * sizeof *more);
    const char *name, *value;
    for (size_t i = 0; req_header_at(r, i, &name, &value) == 0; i++) {
        if (!request_header_passes(name) || strpbrk(value, "\r\n"))
            continue;
        if (n == cap) {
            more = arena_realloc(r->a, more, cap * sizeof *more, 2 * cap * sizeof *more);
            cap *= 2;
        }
        more[n++] = arena_printf(r->a, "%s: %s", name, value);
    }
    /* Without a Content-Type of the client's, libcurl would call a body a form. */
    if (r->body_len && !req_header(r, "Content-Type"))
        rq.headers[rq.n_headers++] = "Content-Type:";
    rq.more_headers = more;
    rq.n_more = (int)n;

    struct app *app = req_app(r);
    struct proxy_xfer x = {.r = r};
    struct upstream_cb cb = {.on_head = px_head,
                             .on_body = px_body,
                             .on_tick = px_tick,
                             .ud = &x,
                             .on_header = px_header};
    char errbuf[256] = "";
    req_db_release(r); /* an answer may stream for minutes: hold no connection meanwhile */
    int rc = upstream_perform(req_curl(r), &rq, (long)cfg_int(app->cfg, CFG_RELAY_TIMEOUT),
                              cfg_str(app->cfg, CFG_RELAY_PROXY), &cb, errbuf, sizeof errbuf);
    if (x.started) {
        if (rc == UPSTREAM_TRANSPORT)
            LOG_WARN("request %s: proxy channel #%lld broke mid-answer: %s", r->request_id,
                     (long long)ch.id, errbuf);
        return 0;
    }
    return proxy_fail(r, 500, rc == UPSTREAM_TRANSPORT ? errbuf : "upstream request failed",
                      "do_request_failed");
}
