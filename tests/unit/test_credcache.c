/* Checks handlers/relay/credcache.c: tokens reused per channel and key, refreshed before they
 * expire, one exchange for concurrent requests, errors shared with the requests that waited,
 * tokens minted locally. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgi/arena.h"
#include "handlers/relay/credcache.h"
#include "providers/adaptor.h"
#include "providers/provider.h"
#include "tap.h"

#define NOW 1730000000

/* What the fake token endpoint does. */
struct endpoint {
    atomic_int calls;  /* token requests performed */
    int status;        /* its answer's status */
    int expires_in;    /* the lifetime it grants */
    int delay_ms;      /* how long it takes */
    int is_local;      /* the adaptor mints tokens itself instead */
    atomic_int minted; /* tokens minted locally */
};

static struct endpoint ep;

static int fake_credential(struct prov_ctx *ctx, struct prov_cred *out, struct prov_error *err)
{
    (void)err;
    if (ep.is_local) {
        int n = atomic_fetch_add(&ep.minted, 1) + 1;
        out->token = arena_printf(ctx->a, "local-%d", n);
        out->expires_at = ctx->created + ep.expires_in;
        return 0;
    }
    out->req.url = "http://token.test/token";
    out->req.body = arena_printf(ctx->a, "key=%s", ctx->ch->key);
    out->req.body_len = strlen(out->req.body);
    return 0;
}

static int fake_parse(struct prov_ctx *ctx, int status, const char *body, size_t n,
                      struct prov_cred *out, struct prov_error *err)
{
    if (status != 200)
        return prov_failf(err, ctx->a, status, status == 401 ? "authentication_error" : "x",
                          "get_access_token_failed", NULL, "refused: %.*s", (int)n, body);
    out->token = arena_strndup(ctx->a, body, n);
    out->expires_at = ctx->created + ep.expires_in;
    return 0;
}

static const struct provider fake = {
    .name = "fake", .credential = fake_credential, .credential_parse = fake_parse};

static int fake_http(void *ud, const struct prov_request *rq, long *status, struct strbuf *body,
                     struct prov_error *err)
{
    (void)ud;
    (void)err;
    int n = atomic_fetch_add(&ep.calls, 1) + 1;
    if (ep.delay_ms) {
        struct timespec ts = {0, (long)ep.delay_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    *status = ep.status;
    sb_printf(body, "tok-%d-%s", n, rq->body);
    return 0;
}

/* One request's view of channel id with key, at time now. */
struct call {
    struct credcache *c;
    int64_t id;
    const char *key;
    int64_t now;
    int rc;
    char token[128];
    int status;
};

static void *run_call(void *p)
{
    struct call *k = p;
    struct arena *a = arena_new(1024);
    struct prov_channel ch = {.id = k->id, .key = k->key, .config = "{}"};
    struct prov_ctx ctx = {.a = a, .ch = &ch, .created = k->now};
    struct prov_error err;
    k->rc = credcache_get(k->c, &fake, &ctx, fake_http, NULL, &err);
    snprintf(k->token, sizeof k->token, "%s", k->rc == 0 ? ctx.credential : "");
    k->status = k->rc == 0 ? 0 : err.status;
    arena_free(a);
    return NULL;
}

static struct call call(struct credcache *c, int64_t id, const char *key, int64_t now)
{
    struct call k = {.c = c, .id = id, .key = key, .now = now};
    run_call(&k);
    return k;
}

static void reset(int status, int expires_in, int delay_ms)
{
    atomic_store(&ep.calls, 0);
    atomic_store(&ep.minted, 0);
    ep.status = status;
    ep.expires_in = expires_in;
    ep.delay_ms = delay_ms;
    ep.is_local = 0;
}

static void test_reuse_and_refresh(void)
{
    struct credcache *c = credcache_new();
    reset(200, 3600, 0);
    struct call k = call(c, 1, "a", NOW);
    is_str(k.token, "tok-1-key=a", "first request: a token from the endpoint");
    k = call(c, 1, "a", NOW + 10);
    is_str(k.token, "tok-1-key=a", "second request: the cached token");
    is_int(atomic_load(&ep.calls), 1, "two requests: one exchange");
    k = call(c, 2, "a", NOW + 10);
    is_str(k.token, "tok-2-key=a", "another channel: its own token");
    k = call(c, 1, "b", NOW + 10);
    is_str(k.token, "tok-3-key=b", "a changed key: a new token");
    k = call(c, 1, "a", NOW + 3600 - CREDCACHE_REFRESH_SECONDS - 1);
    is_str(k.token, "tok-1-key=a", "more than 5 minutes left: still the cached token");
    k = call(c, 1, "a", NOW + 3600 - CREDCACHE_REFRESH_SECONDS);
    is_str(k.token, "tok-4-key=a", "5 minutes left: refreshed");
    is_int((int)credcache_exchanges(c), 4, "exchanges counted");
    credcache_drop(c, 1);
    k = call(c, 1, "a", NOW + 3600);
    is_str(k.token, "tok-5-key=a", "dropped (the upstream refused it): fetched again");
    credcache_free(c);
}

static void test_single_flight(void)
{
    struct credcache *c = credcache_new();
    reset(200, 3600, 200);
    enum { N = 8 };
    struct call k[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        k[i] = (struct call){.c = c, .id = 7, .key = "k", .now = NOW};
        pthread_create(&t[i], NULL, run_call, &k[i]);
    }
    int same = 1;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        same &= k[i].rc == 0 && !strcmp(k[i].token, "tok-1-key=k");
    }
    is_int(atomic_load(&ep.calls), 1, "8 concurrent requests: one exchange");
    ok(same, "8 concurrent requests: all got its token");

    /* A short-lived token is still shared by the requests that waited for it. */
    reset(200, 60, 200);
    for (int i = 0; i < N; i++) {
        k[i] = (struct call){.c = c, .id = 8, .key = "k", .now = NOW};
        pthread_create(&t[i], NULL, run_call, &k[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    is_int(atomic_load(&ep.calls), 1, "a short-lived token: still one exchange for the waiters");

    /* A failed exchange: the waiters get its error, they do not each try. */
    reset(401, 3600, 200);
    int all_failed = 1;
    for (int i = 0; i < N; i++) {
        k[i] = (struct call){.c = c, .id = 9, .key = "k", .now = NOW};
        pthread_create(&t[i], NULL, run_call, &k[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        all_failed &= k[i].rc == -1 && k[i].status == 401;
    }
    is_int(atomic_load(&ep.calls), 1, "a refused exchange: made once");
    ok(all_failed, "a refused exchange: every waiting request fails with its 401");
    credcache_free(c);
}

static void test_errors_and_local(void)
{
    struct credcache *c = credcache_new();
    reset(400, 3600, 0);
    struct call k = call(c, 1, "a", NOW);
    ok(k.rc == -1 && k.status == 500, "the endpoint's 400: a 500 channel error");
    reset(503, 3600, 0);
    k = call(c, 1, "a", NOW);
    ok(k.rc == -1 && k.status == 503, "the endpoint's 503: its status");
    reset(200, 3600, 0);
    k = call(c, 1, "a", NOW);
    ok(k.rc == 0, "after a failure the next request tries again");

    reset(200, 1800, 0);
    ep.is_local = 1;
    k = call(c, 3, "z", NOW);
    is_str(k.token, "local-1", "a locally minted token: used");
    k = call(c, 3, "z", NOW + 60);
    is_str(k.token, "local-1", "a locally minted token: cached");
    is_int(atomic_load(&ep.calls), 0, "a locally minted token: no request made");
    credcache_free(c);

    /* No cache: every call makes its own exchange. */
    reset(200, 3600, 0);
    call(NULL, 1, "a", NOW);
    call(NULL, 1, "a", NOW);
    is_int(atomic_load(&ep.calls), 2, "without a cache: an exchange per call");
}

int main(void)
{
    test_reuse_and_refresh();
    test_single_flight();
    test_errors_and_local();
    return done_testing();
}
