/* router: path matching with :params and trailing *, then the row's checks, then the handler. */
#include "config.h"
#include "fcgi/router.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/json.h"
#include "fcgi/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int route_pattern_match(struct req *r, const char *pat, const char *path)
{
    int np = 0;
    const char *captured[REQ_MAX_PARAMS];
    size_t caplen[REQ_MAX_PARAMS];
    while (*pat && *path) {
        if (*pat != '/' || *path != '/')
            return 0;
        pat++, path++;
        size_t pl = strcspn(pat, "/"), sl = strcspn(path, "/");
        if (pl == 1 && pat[0] == '*') {
            if (np < REQ_MAX_PARAMS)
                captured[np] = path, caplen[np] = strlen(path), np++;
            path += strlen(path);
            pat += 1;
            break;
        }
        if (pat[0] == ':') {
            if (sl == 0 || np >= REQ_MAX_PARAMS)
                return 0;
            captured[np] = path, caplen[np] = sl, np++;
        } else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return 0;
        }
        pat += pl, path += sl;
    }
    /* A pattern ending in "/ *" (a star segment) also matches with an empty rest. */
    if (!strcmp(pat, "/*") && !*path) {
        if (np < REQ_MAX_PARAMS)
            captured[np] = path, caplen[np] = 0, np++;
        pat += 2;
    }
    if (*pat || *path)
        return 0;
    if (r) {
        for (int i = 0; i < np; i++)
            r->params[i] = arena_strndup(r->a, captured[i], caplen[i]);
        r->n_params = np;
    }
    return 1;
}

/* Does pattern a match every path pattern b matches? Segments compare as: a literal covers the
 * same literal, ":x" covers any one segment, a final "*" covers the rest (even nothing). */
static int pattern_covers(const char *a, const char *b)
{
    for (;;) {
        if (!*a || !*b)
            return !*a && !*b;
        a++, b++; /* the '/' of each */
        size_t al = strcspn(a, "/"), bl = strcspn(b, "/");
        if (al == 1 && *a == '*' && !a[1])
            return 1;
        if (bl == 1 && *b == '*')
            return 0; /* b takes any tail; a takes less */
        if (*a == ':') {
            if (*b != ':' && bl == 0)
                return 0;
        } else if (*b == ':' || al != bl || memcmp(a, b, al) != 0) {
            return 0;
        }
        a += al, b += bl;
    }
}

int router_check(const struct route *routes, size_t n, char *err, size_t errlen)
{
    for (size_t j = 0; j < n; j++) {
        const struct route *b = &routes[j];
        unsigned level = b->flags & AUTH_MASK;
        if (!b->method || !b->pattern || !b->handler || b->pattern[0] != '/') {
            snprintf(err, errlen, "route %zu: a method, an absolute pattern and a handler", j);
            return -1;
        }
        if (b->flags & ~(unsigned)ROUTE__FLAGS || level > AUTH_RELAY_TOKEN) {
            snprintf(err, errlen, "%s %s: flags 0x%x that the router does not enforce", b->method,
                     b->pattern, b->flags);
            return -1;
        }
        if ((b->flags & BODY_JSON_400) && !(b->flags & BODY_JSON)) {
            snprintf(err, errlen, "%s %s: BODY_JSON_400 without BODY_JSON", b->method, b->pattern);
            return -1;
        }
        if ((b->flags & BODY_JSON) && (b->flags & BODY_FORM)) {
            snprintf(err, errlen, "%s %s: both BODY_JSON and BODY_FORM", b->method, b->pattern);
            return -1;
        }
        for (size_t i = 0; i < j; i++) {
            const struct route *a = &routes[i];
            if (!strcmp(a->method, b->method) && pattern_covers(a->pattern, b->pattern)) {
                snprintf(err, errlen, "%s %s can never match: %s above it takes its paths",
                         b->method, b->pattern, a->pattern);
                return -1;
            }
        }
    }
    return 0;
}

static int method_ok(const char *row, const char *m)
{
    return !strcmp(row, m) || (!strcmp(row, "GET") && !strcmp(m, "HEAD"));
}

int router_match(const struct router *rt, struct req *r)
{
    int path_seen = 0;
    for (size_t i = 0; i < rt->n_routes; i++) {
        const struct route *ro = &rt->routes[i];
        if (!route_pattern_match(NULL, ro->pattern, r->path))
            continue;
        path_seen = 1;
        if (method_ok(ro->method, r->method)) {
            route_pattern_match(r, ro->pattern, r->path);
            r->route = ro;
            return 0;
        }
    }
    if (!path_seen)
        return OA_ERR_NOT_FOUND;
    struct strbuf allow;
    sb_init(&allow, r->a);
    for (size_t i = 0; i < rt->n_routes; i++) {
        const struct route *ro = &rt->routes[i];
        if (!route_pattern_match(NULL, ro->pattern, r->path) || strstr(allow.p, ro->method))
            continue;
        if (allow.len)
            SB_LIT(&allow, ", ");
        sb_puts(&allow, ro->method);
    }
    resp_header(r, "Allow", allow.p);
    return OA_ERR_METHOD;
}

static int parse_json_body(struct req *r)
{
    if (!r->body_len)
        return 0;
    /* The arena owns the tree: it is released on every exit path of the request. */
    r->json = jown(r->a, jparse(r->body, r->body_len, 0, NULL));
    return r->json ? 0 : OA_ERR_BAD_JSON;
}

/* A write the browser says another site sent: Sec-Fetch-Site when the browser sends it,
 * else Origin compared with Host. A client that sends neither is not a browser (curl, a
 * script holding the cookie), and a browser that sends neither is too old to matter. */
static int is_cross_site(struct req *r)
{
    const char *site = req_header(r, "Sec-Fetch-Site");
    if (site && *site)
        return strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
    const char *origin = req_header(r, "Origin");
    if (!origin || !*origin)
        return 0;
    const char *host = req_header(r, "Host");
    const char *sep = strstr(origin, "://");
    if (!host || !*host || !sep) /* "Origin: null" comes from sandboxed or file pages */
        return 1;
    return strcasecmp(sep + 3, host) != 0;
}

/* Whether the Content-Type header names mime (parameters such as charset allowed). */
static int content_type_is(struct req *r, const char *mime)
{
    const char *ct = req_header(r, "Content-Type");
    size_t n = strlen(mime);
    if (!ct || strncasecmp(ct, mime, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* The row's body rule: 0 or OA_ERR_MEDIA_TYPE. */
static int check_body_type(const struct route *ro, struct req *r)
{
    if (!r->body_len)
        return 0;
    /* Scripts with an access token are trusted to send what they send; a browser is held to
     * the type, since that is what keeps another site's forms out. */
    if ((ro->flags & BODY_JSON) && r->cred != REQ_CRED_TOKEN &&
        !content_type_is(r, "application/json"))
        return OA_ERR_MEDIA_TYPE;
    if ((ro->flags & BODY_FORM) && !content_type_is(r, "multipart/form-data") &&
        !content_type_is(r, "application/x-www-form-urlencoded"))
        return OA_ERR_MEDIA_TYPE;
    return 0;
}

/* The checks before the body is read, in order; 0 or the first refusal. */
static int admit(const struct router *rt, struct req *r)
{
    int rc;
    if (rt->admit && (rc = rt->admit(r)) != 0)
        return rc;
    const char *cl = req_param(r, "CONTENT_LENGTH");
    if (cl && *cl && strtoll(cl, NULL, 10) > (long long)rt->max_body)
        return OA_ERR_TOO_LARGE;
    unsigned level = r->route->flags & AUTH_MASK;
    if (level != AUTH_NONE && (rc = rt->auth(r, level)) != 0)
        return rc;
    if (r->cred == REQ_CRED_COOKIE && strcmp(r->method, "GET") && strcmp(r->method, "HEAD") &&
        strcmp(r->method, "OPTIONS") && is_cross_site(r))
        return OA_ERR_CROSS_SITE;
    return 0;
}

static int dispatch(const struct router *rt, struct req *r)
{
    r->client_ip = req_client_ip(r, rt->trusted_proxies);
    int rc = rt->before ? rt->before(r) : 0;
    if (rc == ROUTER_ANSWERED)
        return 0;
    if (!rc && (rc = router_match(rt, r)) == 0)
        rc = admit(rt, r);
    if (rc) {
        /* Refused before its body was read: read it anyway (it is within the limit), or the
         * web server, whose request is not finished, drops the client's kept-alive
         * connection and the next request on it fails. */
        if (rc != OA_ERR_TOO_LARGE)
            req_read_body(r, rt->max_body);
        return rc;
    }
    if ((rc = req_read_body(r, rt->max_body)) != 0)
        return rc;
    if ((rc = check_body_type(r->route, r)) != 0)
        return rc;
    if ((r->route->flags & BODY_JSON) && (rc = parse_json_body(r)) != 0)
        return rc;
    return r->route->handler(r);
}

int router_dispatch(const struct router *rt, struct req *r)
{
    int rc = dispatch(rt, r);
    if (rc < 0 && rc != OA_ERR_CLIENT_GONE && !r->is_streaming)
        rt->render_error(r, rc);
    return rc;
}
