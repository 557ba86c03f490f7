/* credcache: per-process access tokens of the adaptors with a credential operation, fetched
 * once per channel and shared by its requests. */
#include "config.h"
#include "handlers/relay/credcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/xmalloc.h"
#include "providers/adaptor.h"
#include "providers/provider.h"

/* The token of one channel with one key and config. */
struct cred_entry {
    struct cred_entry *next;
    int64_t id;             /* channel id */
    unsigned char hash[32]; /* SHA-256 of key, NUL, config: a new key gets its own entry */
    char *token;            /* heap copy, or NULL */
    int64_t expires_at;     /* Unix time */
    int is_fetching;        /* an exchange runs: others wait for it */
    uint64_t flights;       /* exchanges finished */
    int is_failed;          /* the last exchange failed with the error below */
    int fail_status;        /* its status */
    char *fail_msg, *fail_type, *fail_code; /* heap copies, NULL when unset */
};

struct credcache {
    pthread_mutex_t mu;
    pthread_cond_t done; /* an exchange finished */
    struct cred_entry *entries;
    uint64_t exchanges;
};

struct credcache *credcache_new(void)
{
    struct credcache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->done, NULL);
    return c;
}

static void entry_fail_clear(struct cred_entry *e)
{
    free(e->fail_msg);
    free(e->fail_type);
    free(e->fail_code);
    e->fail_msg = e->fail_type = e->fail_code = NULL;
    e->is_failed = 0;
}

void credcache_free(struct credcache *c)
{
    if (!c)
        return;
    for (struct cred_entry *e = c->entries, *next; e; e = next) {
        next = e->next;
        if (e->token)
            memset(e->token, 0, strlen(e->token));
        free(e->token);
        entry_fail_clear(e);
        free(e);
    }
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* Performs the exchange described by the adaptor; the token in cred->token. */
static int exchange(const struct provider *p, struct prov_ctx *ctx, credcache_http_fn http,
                    void *ud, struct prov_cred *cred, struct prov_error *err)
{
    memset(cred, 0, sizeof *cred);
    if (p->credential(ctx, cred, err) < 0) {
        if (!err->status)
            err->status = 500;
        return -1;
    }
    if (cred->req.url) {
        long status = 0;
        struct strbuf body;
        sb_init(&body, ctx->a);
        cred->token = NULL;
        if (!http || http(ud, &cred->req, &status, &body, err) < 0) {
            if (!err->status)
                err->status = 500;
            return -1;
        }
        if (!p->credential_parse ||
            p->credential_parse(ctx, (int)status, body.p, body.len, cred, err) < 0) {
            if (!err->status)
                err->status = status >= 200 && status < 300 ? 500 : (int)status;
            /* The token endpoint refusing the channel's own credentials is the channel's
             * problem: another channel may serve the request. */
            if (err->status == 400)
                err->status = 500;
            if (!err->message)
                prov_failf(err, ctx->a, err->status, "one_api_error", "get_access_token_failed",
                           NULL, "the token endpoint answered %ld", status);
            return -1;
        }
    }
    if (!cred->token || !*cred->token)
        return prov_fail(err, 500, "one_api_error", "get_access_token_failed", NULL,
                         "the adaptor gave no access token");
    return 0;
}

int credcache_get(struct credcache *c, const struct provider *p, struct prov_ctx *ctx,
                  credcache_http_fn http, void *ud, struct prov_error *err)
{
    struct prov_cred cred;
    memset(err, 0, sizeof *err);
    if (!c) {
        if (exchange(p, ctx, http, ud, &cred, err) < 0)
            return -1;
        ctx->credential = cred.token;
        return 0;
    }
    const struct prov_channel *ch = ctx->ch;
    const char *key = ch->key ? ch->key : "", *config = ch->config ? ch->config : "";
    size_t kl = strlen(key), cl = strlen(config);
    char *material = xmalloc(kl + cl + 2);
    memcpy(material, key, kl + 1);
    memcpy(material + kl + 1, config, cl + 1);
    unsigned char hash[32];
    sha256(material, kl + cl + 1, hash);
    memset(material, 0, kl + cl + 2);
    free(material);

    pthread_mutex_lock(&c->mu);
    struct cred_entry *e = c->entries;
    while (e && (e->id != ch->id || memcmp(e->hash, hash, sizeof hash) != 0))
        e = e->next;
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->id = ch->id;
        memcpy(e->hash, hash, sizeof hash);
        e->next = c->entries;
        c->entries = e;
    }
    for (;;) {
        if (e->token && e->expires_at - ctx->created > CREDCACHE_REFRESH_SECONDS) {
            ctx->credential = arena_strdup(ctx->a, e->token);
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
        if (!e->is_fetching)
            break;
        uint64_t seen = e->flights;
        while (e->is_fetching)
            pthread_cond_wait(&c->done, &c->mu);
        if (e->flights != seen && e->is_failed) {
            *err = (struct prov_error){
                e->fail_status, e->fail_msg ? arena_strdup(ctx->a, e->fail_msg) : NULL,
                e->fail_type ? arena_strdup(ctx->a, e->fail_type) : NULL, NULL,
                e->fail_code ? arena_strdup(ctx->a, e->fail_code) : NULL};
            pthread_mutex_unlock(&c->mu);
            return -1;
        }
        /* A token just fetched for this request's wait is used even when short-lived. */
        if (e->flights != seen && e->token && e->expires_at > ctx->created) {
            ctx->credential = arena_strdup(ctx->a, e->token);
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
    }
    e->is_fetching = 1;
    pthread_mutex_unlock(&c->mu);

    int rc = exchange(p, ctx, http, ud, &cred, err);

    pthread_mutex_lock(&c->mu);
    e->is_fetching = 0;
    e->flights++;
    c->exchanges++;
    entry_fail_clear(e);
    if (rc == 0) {
        free(e->token);
        e->token = xstrdup(cred.token);
        e->expires_at = cred.expires_at;
        ctx->credential = cred.token;
    } else {
        e->is_failed = 1;
        e->fail_status = err->status;
        e->fail_msg = dup_or_null(err->message);
        e->fail_type = dup_or_null(err->type);
        e->fail_code = dup_or_null(err->code);
    }
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void credcache_drop(struct credcache *c, int64_t id)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    for (struct cred_entry *e = c->entries; e; e = e->next) {
        if (e->id == id && e->token) {
            memset(e->token, 0, strlen(e->token));
            free(e->token);
            e->token = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

uint64_t credcache_exchanges(struct credcache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->exchanges;
    pthread_mutex_unlock(&c->mu);
    return n;
}
