/* gate: the router's hooks: CORS on the relay, billing and web paths (preflights answered
 * here), and One API's per-address rate limits of the management, billing, web and critical
 * routes. */
#ifndef OA_GATE_H
#define OA_GATE_H

struct req;

/* The router's before hook: CORS headers, an OPTIONS preflight answered with 204, and the web
 * limit on paths outside /api, /v1 and billing. 0, ROUTER_ANSWERED, or OA_ERR_LIMITED (with
 * Retry-After). */
int gate_before(struct req *r);
/* The router's admit hook: the global API limit on /api and billing rows, then the critical
 * limit on LIMIT_CRITICAL rows. 0 or OA_ERR_LIMITED (with Retry-After). */
int gate_admit(struct req *r);

#endif
