/* The relay: /v1 requests end to end (key auth, channel choice, reservation, upstream call
 * through the adaptor, retries, settlement). */
#ifndef OA_RELAY_H
#define OA_RELAY_H
#include <stddef.h>
#include <stdint.h>

#include "db/relay.h"

struct arena;
struct req;

/* What relay key authentication found; r->auth points to it after relay_auth succeeds. */
struct relay_auth {
    struct relay_token tok;
    struct relay_user user;
    int64_t pinned_channel; /* from sk-KEY-ID (admins only), 0 = none */
    uint64_t quota_epoch;   /* the quota store's epoch before tok and user were read */
};

/* The router's auth hook for AUTH_RELAY_TOKEN routes (spec 2.3 checks 1-9): 0, or
 * OA_ERR_DESCRIBED with r->err_status and r->err_msg set. */
int relay_auth(struct req *r);

/* The model a channel's mapping (a JSON object text) turns model into: single level, an
 * empty target means no mapping (spec 7.6). The result is model itself or an arena copy. */
const char *relay_map_model(struct arena *a, const char *mapping, const char *model);

/* What an adaptor sees of channel ch (of type row ct): the base URL (the type's default when
 * the channel has none, without a trailing '/'), the api-version (config, legacy `other`,
 * GEMINI_VERSION for Gemini). Strings point into ch or the arena. */
struct app;
struct channel_type;
struct prov_channel;
void relay_prov_channel(struct arena *a, const struct app *app, const struct relay_channel *ch,
                        const struct channel_type *ct, struct prov_channel *out);

/* Spec 5.4: does error e mean the channel itself is unusable (auth, billing, a banned
 * account) rather than a passing failure? */
struct prov_error;
int relay_should_disable(const struct prov_error *e);
/* Normalises a non-2xx upstream answer to OpenAI's error shape (spec 10.1, providers-intl
 * 1.2): an OpenAI-shaped error is kept, else the first message-like field; strings in a. */
void relay_upstream_error(struct arena *a, int status, const char *body, size_t n,
                          struct prov_error *err);

/* Channel id as the relay reads it (the memory cache when enabled): 1, 0 (none), < 0. */
int relay_load_channel(struct req *r, int64_t id, struct relay_channel *out);

/* Route handlers. */
int h_relay(struct req *r);                 /* chat, completions, embeddings, moderations, images,
                                             * audio */
int h_relay_not_implemented(struct req *r); /* 501 routes of spec 3.11 */
int h_v1_models(struct req *r);
int h_v1_model(struct req *r);
int h_billing_subscription(struct req *r);
int h_billing_usage(struct req *r);
int h_channel_test(struct req *r);           /* GET /api/channel/test/:id */
int h_channel_test_all(struct req *r);       /* GET /api/channel/test */
int h_channel_update_balance(struct req *r); /* GET /api/channel/update_balance/:id */

#endif
