/* The relay's credential cache: the access tokens of adaptors that have a credential
 * operation (struct prov_cred in providers/provider.h), per process, keyed by channel id and
 * a hash of the channel's key and config. A token is reused until less than
 * CREDCACHE_REFRESH_SECONDS of its life remain; concurrent requests of one channel wait for a
 * single exchange. Keys and tokens are never logged. */
#ifndef OA_CREDCACHE_H
#define OA_CREDCACHE_H
#include <stdint.h>

#include "fcgi/strbuf.h"

struct credcache;
struct prov_ctx;
struct prov_error;
struct prov_request;
struct provider;

/* A token is fetched again when fewer seconds than this remain before it expires. */
#define CREDCACHE_REFRESH_SECONDS 300

/* Performs a token request for the cache: the answer's HTTP status in *status and its body
 * appended to body. 0, or -1 with err filled when no answer came (transport failure). */
typedef int (*credcache_http_fn)(void *ud, const struct prov_request *rq, long *status,
                                 struct strbuf *body, struct prov_error *err);

/* Heap-owned; free with credcache_free (accepts NULL). Entries are never evicted: there is
 * one per channel and key, which only an administrator creates. */
struct credcache *credcache_new(void);
void credcache_free(struct credcache *c);

/* Sets ctx->credential (an arena copy) to the token of ctx->ch through adaptor p, which must
 * have a credential operation: the cached one while it has more than
 * CREDCACHE_REFRESH_SECONDS to live at ctx->created, else a new one (the adaptor's, through
 * http when it describes a token request). c NULL: no caching. 0, or -1 with err filled
 * (strings in ctx->a): the adaptor's error, the token endpoint's (a 400 there becomes a 500,
 * as the client's request cannot be its cause), or 500 when no token came. Requests that
 * waited for another's exchange get that exchange's error without trying again. */
int credcache_get(struct credcache *c, const struct provider *p, struct prov_ctx *ctx,
                  credcache_http_fn http, void *ud, struct prov_error *err);
/* Forgets the token of channel id (the upstream refused it). */
void credcache_drop(struct credcache *c, int64_t id);
/* Number of exchanges made so far (tokens obtained or failed), for tests. */
uint64_t credcache_exchanges(struct credcache *c);

#endif
