/* router: path matching with :params and trailing *, then the row's checks, then the handler. */
#include "config.h"
#include "fcgi/router.h"
#include "fcgi/arena.h"
#include "fcgi/error.h"
#include "fcgi/request.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

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
    json_tokener *tok = json_tokener_new();
    json_object *j = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    /* Trailing garbage after a complete value is malformed too. */
    int trailing =
        j && tok->char_offset < (int)r->body_len &&
        strspn(r->body + tok->char_offset, " \t\r\n") != r->body_len - (size_t)tok->char_offset;
    json_tokener_free(tok);
    if (!j || e != json_tokener_success || trailing) {
        json_object_put(j);
        return OA_ERR_BAD_JSON;
    }
    r->json = j;
    return 0;
}

static int dispatch(const struct router *rt, struct req *r)
{
    r->client_ip = req_client_ip(r, rt->trusted_proxies);
    int rc = router_match(rt, r);
    if (rc)
        return rc;
    const char *cl = req_param(r, "CONTENT_LENGTH");
    if (cl && *cl && strtoll(cl, NULL, 10) > (long long)rt->max_body)
        return OA_ERR_TOO_LARGE;
    unsigned level = r->route->flags & AUTH_MASK;
    if (level != AUTH_NONE && (rc = rt->auth(r, level)) != 0)
        return rc;
    if ((rc = req_read_body(r, rt->max_body)) != 0)
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
    if (r->json) {
        json_object_put(r->json);
        r->json = NULL;
    }
    return rc;
}
