/* The relay: /v1 requests end to end. relay.c runs the pipeline (parse, check, route, one
 * attempt per channel: price and reserve, the upstream call through the adaptor, settle);
 * auth.c authenticates relay keys, routing.c chooses channels, health.c disables and
 * re-enables them; v1_models.c and billing_compat.c answer locally. */
#ifndef OA_RELAY_H
#define OA_RELAY_H
#include <stddef.h>
#include <stdint.h>

#include "db/relay.h"
#include "providers/provider.h"

struct app;
struct arena;
struct channel_type;
struct credcache;
struct db_conn;
struct json_object;
struct prov_channel;
struct prov_ctx;
struct prov_error;
struct provider;
struct req;
struct strbuf;
struct upstream_answer;

/* ---- auth.c */

/* What relay key authentication found; r->auth points to it after relay_auth succeeds. */
struct relay_auth {
    struct relay_token tok;
    struct relay_user user;
    int64_t pinned_channel; /* from sk-KEY-ID (admins only), 0 = none */
    uint64_t quota_epoch;   /* the quota store's epoch before tok and user were read */
};

/* The router's auth hook for AUTH_RELAY_TOKEN routes: the key (Bearer sk-KEY or sk-KEY-ID),
 * its status, expiry, quota and subnet, then its owner, checked in One API's order with its
 * messages. 0, or OA_ERR_DESCRIBED with r->err_status and r->err_msg set. */
int relay_auth(struct req *r);

/* ---- relay.c */

/* Reservations of this process go through the sql quota store: plain CGI, QUOTA_STORE=sql,
 * or no in-memory store to use. */
int relay_uses_sql_quota(const struct app *app);

/* The model a channel's mapping (a JSON object text) turns model into: single level, an
 * empty target means no mapping. The result is model itself or an arena copy. */
const char *relay_map_model(struct arena *a, const char *mapping, const char *model);

/* What an adaptor sees of channel ch (of type row ct): the base URL (the type's default when
 * the channel has none, without a trailing '/'), the api-version (config, legacy `other`,
 * GEMINI_VERSION for Gemini). Strings point into ch or the arena. */
void relay_prov_channel(struct arena *a, const struct app *app, const struct relay_channel *ch,
                        const struct channel_type *ct, struct prov_channel *out);

/* How relay_call's transfer runs. */
struct relay_call_opts {
    void *curl;                   /* a libcurl handle (the worker's, or a thread's own) */
    long timeout_s;               /* the whole call; 0: none */
    const char *proxy;            /* "" or NULL: none */
    size_t max_answer;            /* a longer answer fails the call (RELAY_CALL_TRANSPORT) */
    int (*should_stop)(void *ud); /* polled about once a second; NULL: never */
    void *ud;                     /* for should_stop */
    struct credcache *creds;      /* the process's credential cache; NULL: none */
};

/* Where relay_call stopped. */
enum relay_call_stage {
    RELAY_CALL_OK,         /* out has the OpenAI body */
    RELAY_CALL_CREDENTIAL, /* no access token for the channel (relay_credential) */
    RELAY_CALL_BUILD,      /* the adaptor could not build the upstream request */
    RELAY_CALL_TRANSPORT,  /* no complete answer: 500 do_request_failed with the reason */
    RELAY_CALL_ABORTED,    /* should_stop ended the transfer; err is empty */
    RELAY_CALL_STATUS,     /* the upstream answered non-2xx: its error, normalised */
    RELAY_CALL_PARSE,      /* the adaptor could not read a 2xx answer */
};

/* One non-stream call of ctx (prepared: mode, channel, model, request, body) through adaptor
 * p: builds the upstream request, performs it, and converts a 200/201 answer into the
 * OpenAI body appended to out, ctx->usage filled when the upstream reported it. The raw
 * answer (status, Content-Type, body) is left in ans, whose body the caller initialised.
 * Returns RELAY_CALL_OK, or the stage that failed with err filled (strings in ctx->a; the
 * HTTP status for the client in err->status). The relay and the channel tests share it. */
int relay_call(const struct relay_call_opts *o, const struct provider *p, struct prov_ctx *ctx,
               struct upstream_answer *ans, struct strbuf *out, struct prov_error *err);
/* For an adaptor with a credential operation (providers/provider.h): the channel's access
 * token into ctx->credential, from o->creds or through a token request performed with o's
 * handle, timeout and proxy. Nothing to do (0) for other adaptors. 0, or -1 with err filled:
 * a channel error (the token endpoint's status, or 500). */
int relay_credential(const struct relay_call_opts *o, const struct provider *p,
                     struct prov_ctx *ctx, struct prov_error *err);

/* ---- proxy.c */

/* GET/POST/PUT/PATCH/DELETE /v1/oneapi/proxy/:channelid/<target>: the request passed to a
 * Proxy channel (type 43) and its answer streamed back, without quota, billing or log. */
int h_relay_proxy(struct req *r);
/* May an upstream answer header called name (n bytes) reach the client? Not hop-by-hop
 * headers, body framing (Content-Length, Content-Encoding), cookies, the upstream host's
 * Alt-Svc and HSTS, X-Accel-* and Status, or the gateway's own (Date, Server, CORS, request
 * id). */
int relay_header_passes(const char *name, size_t n);
/* Adds upstream header (name, value; lengths given) to r's answer when it passes and the
 * answer has none of that name yet (so the first value wins). */
void relay_pass_header(struct req *r, const char *name, size_t nlen, const char *value,
                       size_t vlen);
/* relay_pass_header for each "name\0value\0" pair of pairs (len bytes, as
 * upstream_answer.headers holds them). */
void relay_pass_headers(struct req *r, const char *pairs, size_t len);

/* ---- validate.c */

/* One API's checks of a text request's fields for mode, after max_tokens: model (the one the
 * request names, or its default) non-empty; chat messages a non-empty array; a completions
 * prompt or a moderations input not the empty string; an edits instruction a non-empty
 * string. NULL when body passes (and for the modes that are not text), else the message of
 * the 400 invalid_text_request (static). */
const char *relay_text_invalid(enum relay_mode mode, struct json_object *body, const char *model);

/* ---- routing.c */

#define RELAY_MAX_TRIED 64 /* channels one request may try */

/* The channels a request may be routed to, and those it has tried. */
struct relay_route {
    struct relay_candidate *cands; /* enabled channels able to serve (group, model), arena */
    int n_cands;
    int64_t tried[RELAY_MAX_TRIED]; /* channel ids already picked, in order */
    int n_tried;
};

/* Channel id as the relay reads it (from the channel cache when MEMORY_CACHE_ENABLED):
 * 1 found (out filled, strings in r's arena), 0 no such channel, < 0 a database error. */
int relay_load_channel(struct req *r, int64_t id, struct relay_channel *out);
/* The candidates of (group, model) into rt (from the cache when there is one), without the
 * channels whose type this build has no adaptor for. 0, or < 0 on a database error. */
int relay_load_candidates(struct req *r, const char *group, const char *model,
                          struct relay_route *rt);
/* The next channel to try: the highest priority tier among the untried candidates, weighted
 * random inside it (weight 0 counts as 1; One API ignores weights: docs/compatibility.md).
 * Records it as tried. 0 when none is left, and after RELAY_MAX_TRIED picks. */
int64_t relay_pick_channel(struct relay_route *rt);
/* Can the relay route requests to a channel of type (it has an adaptor in this build)? The
 * Proxy type cannot: its channels serve only the proxy route. */
int relay_type_routable(int64_t type);
/* Removes from rt the candidates whose channel type has no adaptor in this build (or is not
 * a known type): such a channel could only fail, so the relay falls through to the others. */
void relay_drop_unservable(struct relay_route *rt);

/* ---- health.c */

/* Does upstream error e mean the channel itself is unusable (401, a key, billing or policy
 * error by its type, code or message) rather than a passing failure? */
int relay_should_disable(const struct prov_error *e);
/* Moves ch to "automatically disabled" (3) on c if it is still enabled; then drops the cached
 * routing, logs "disabled <how>: <why>" and tells root. */
void relay_disable_channel(struct app *app, struct db_conn *c, const struct relay_channel *ch,
                           const char *why, const char *how);
/* Moves ch back to enabled on c if the gateway disabled it (status 3); then drops the cached
 * routing, logs it and tells root. */
void relay_enable_channel(struct app *app, struct db_conn *c, const struct relay_channel *ch);

/* ---- route handlers */

int h_relay(struct req *r);                 /* chat, completions, embeddings, moderations, images,
                                             * audio */
int h_relay_not_implemented(struct req *r); /* One API's routes with no implementation: 501 */
int h_v1_models(struct req *r);             /* v1_models.c */
int h_v1_model(struct req *r);
int h_billing_subscription(struct req *r); /* billing_compat.c */
int h_billing_usage(struct req *r);

#endif
