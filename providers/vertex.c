/* Vertex AI adaptor: Gemini and Claude requests on Vertex's publisher endpoints, through the
 * Gemini and Claude adaptors, with a service account's OAuth token. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/claude.h"
#include "providers/gemini.h"
#include "providers/provider.h"
#include "providers/vertex.h"

/* Where the service account's token is exchanged when its key names no token_uri. */
#define VX_TOKEN_URI "https://oauth2.googleapis.com/token"
/* What the token may be used for: every Google Cloud API, Vertex included. */
#define VX_SCOPE "https://www.googleapis.com/auth/cloud-platform"
/* Life of the signed assertion; Google refuses more than an hour. */
#define VX_JWT_SECONDS 3600
/* An access token's life when the token endpoint does not say. */
#define VX_DEFAULT_EXPIRES 3600
/* The longest lifetime believed: a day. */
#define VX_MAX_EXPIRES 86400

/* The channel's Vertex settings. */
struct vx_conf {
    const char *region;
    const char *project;
    const char *adc; /* the service account's JSON key, as text */
};

static int vx_fail(struct prov_error *err, const char *message)
{
    return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL, message);
}

/* Reads region, project and key from the config, else from the key `region|project|adc`. */
static int vx_conf_read(struct prov_ctx *ctx, struct vx_conf *c, struct prov_error *err)
{
    const struct prov_channel *ch = ctx->ch;
    *c = (struct vx_conf){"", "", ""};
    if (ch->config && *ch->config) {
        json_object *cfg = jown(ctx->a, jparse(ch->config, strlen(ch->config), 0, NULL));
        const char *r = jstr(cfg, "region"), *p = jstr(cfg, "vertex_ai_project_id"),
                   *adc = jstr(cfg, "vertex_ai_adc");
        c->region = r ? r : "";
        c->project = p ? p : "";
        c->adc = adc ? adc : "";
    }
    const char *key = ch->key ? ch->key : "";
    const char *bar1 = strchr(key, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
    if (!*c->region && bar2) {
        c->region = arena_strndup(ctx->a, key, (size_t)(bar1 - key));
        c->project = arena_strndup(ctx->a, bar1 + 1, (size_t)(bar2 - bar1 - 1));
        c->adc = bar2 + 1;
    }
    if (!*c->region || !*c->project)
        return vx_fail(err, "the Vertex AI channel needs a region and a project id");
    /* Both go into the URL's path and host. */
    for (const char *s = c->region; *s; s++)
        if (!(*s == '-' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return vx_fail(err, "the Vertex AI region is not a region name");
    return 0;
}

static int vx_is_claude(const struct prov_ctx *ctx)
{
    return ctx->model && !strncmp(ctx->model, "claude", 6);
}

static int vx_is_gemini(const struct prov_ctx *ctx)
{
    return ctx->model && !strncmp(ctx->model, "gemini", 6);
}

/* ---- the credential ---- */

/* base64url of n bytes at p, appended to sb. */
static void vx_b64url(struct strbuf *sb, const void *p, size_t n)
{
    char *out = arena_alloc(sb->a, 4 * ((n + 2) / 3) + 1);
    size_t len = b64url_encode(p, n, out);
    sb_putn(sb, out, len);
}

/* Appends the RS256 signature of the first sb->len bytes of sb, base64url, to sb. 0, or -1
 * when pem is not a usable private key. */
static int vx_sign(struct strbuf *sb, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = -1;

    if (key && md && EVP_PKEY_base_id(key) == EVP_PKEY_RSA &&
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)sb->p, sb->len) == 1) {
        sig = arena_alloc(sb->a, siglen);
        if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)sb->p, sb->len) == 1) {
            sb_putc(sb, '.');
            vx_b64url(sb, sig, siglen);
            rc = 0;
        }
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    BIO_free(bio);
    return rc;
}

/* The signed assertion: header.claims.signature. */
static const char *vx_jwt(struct prov_ctx *ctx, json_object *sa, const char *aud,
                          struct prov_error *err)
{
    const char *email = jstr(sa, "client_email"), *pem = jstr(sa, "private_key"),
               *kid = jstr(sa, "private_key_id");
    if (!email || !*email || !pem || !*pem) {
        vx_fail(err, "the Vertex AI service account key has no client_email or private_key");
        return NULL;
    }
    json_object *hdr = jown(ctx->a, jnew_obj()), *claims = jown(ctx->a, jnew_obj());
    json_object_object_add(hdr, "alg", json_object_new_string("RS256"));
    json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
    if (kid && *kid)
        json_object_object_add(hdr, "kid", json_object_new_string(kid));
    json_object_object_add(claims, "iss", json_object_new_string(email));
    json_object_object_add(claims, "scope", json_object_new_string(VX_SCOPE));
    json_object_object_add(claims, "aud", json_object_new_string(aud));
    json_object_object_add(claims, "iat", json_object_new_int64(ctx->created));
    json_object_object_add(claims, "exp", json_object_new_int64(ctx->created + VX_JWT_SECONDS));
    size_t n;
    const char *s = jdump(ctx->a, hdr, &n);
    struct strbuf sb;
    sb_init(&sb, ctx->a);
    vx_b64url(&sb, s, n);
    sb_putc(&sb, '.');
    s = jdump(ctx->a, claims, &n);
    vx_b64url(&sb, s, n);
    if (vx_sign(&sb, pem) < 0) {
        vx_fail(err, "the Vertex AI service account's private_key is not an RSA key in PEM");
        return NULL;
    }
    return sb.p;
}

static int vx_credential(struct prov_ctx *ctx, struct prov_cred *out, struct prov_error *err)
{
    struct vx_conf c;
    if (vx_conf_read(ctx, &c, err) < 0)
        return -1;
    json_object *sa = jown(ctx->a, jparse(c.adc, strlen(c.adc), 0, NULL));
    if (!json_object_is_type(sa, json_type_object))
        return vx_fail(err, "vertex_ai_adc is not a service account key (JSON)");
    const char *aud = jstr(sa, "token_uri");
    if (!aud || !*aud)
        aud = VX_TOKEN_URI;
    if (strncmp(aud, "https://", 8) && strncmp(aud, "http://", 7))
        return vx_fail(err, "the service account's token_uri is not an http(s) URL");
    const char *jwt = vx_jwt(ctx, sa, aud, err);
    if (!jwt)
        return -1;
    out->req.url = arena_strdup(ctx->a, aud);
    out->req.n_headers = 0;
    out->req.headers[out->req.n_headers++] = "Content-Type: application/x-www-form-urlencoded";
    out->req.headers[out->req.n_headers++] = "Accept: application/json";
    /* A JWT is made of URL-safe characters: nothing to escape. */
    out->req.body = arena_printf(
        ctx->a,
        "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s", jwt);
    out->req.body_len = strlen(out->req.body);
    return 0;
}

static int vx_credential_parse(struct prov_ctx *ctx, int status, const char *body, size_t n,
                               struct prov_cred *out, struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    if (status < 200 || status > 299) {
        /* OAuth's {"error": "invalid_grant", "error_description": ...}, or Google's own. */
        const char *desc = jstr(root, "error_description"), *code = jstr(root, "error");
        if (!desc || !*desc)
            desc = jstr(jget(root, "error"), "message");
        if (!desc || !*desc)
            desc = code && *code ? code : "no reason given";
        /* The key was refused (Google answers a bad signature or an unknown account with
         * 400 invalid_grant): a channel to disable, as an upstream 401 or 403 would be. */
        int is_refused =
            status == 401 ||
            (code && (!strcmp(code, "invalid_grant") || !strcmp(code, "invalid_client")));
        const char *type = is_refused      ? "authentication_error"
                           : status == 403 ? "permission_error"
                                           : "upstream_error";
        return prov_failf(err, ctx->a, status, type, "get_access_token_failed", NULL,
                          "Vertex AI access token request failed (status %d): %s", status, desc);
    }
    const char *token = jstr(root, "access_token");
    if (!token || !*token)
        return prov_fail(err, 500, "one_api_error", "get_access_token_failed", NULL,
                         "the token endpoint answered no access_token");
    int64_t expires = jint(root, "expires_in");
    /* Google's tokens live an hour; a missing, negative or absurd lifetime is not trusted. */
    if (expires <= 0 || expires > VX_MAX_EXPIRES)
        expires = expires > 0 ? VX_MAX_EXPIRES : VX_DEFAULT_EXPIRES;
    out->token = arena_strdup(ctx->a, token);
    out->expires_at = ctx->created + expires;
    return 0;
}

/* ---- requests ---- */

/* The inner adaptor's context: the channel without its key, so that nothing of it can reach
 * a header the inner adaptor writes. */
static void vx_inner(struct prov_ctx *ctx, struct prov_ctx *ic, struct prov_channel *ich)
{
    *ich = *ctx->ch;
    ich->key = "";
    *ic = *ctx;
    ic->ch = ich;
}

/* The Claude body as Vertex takes it: no model, Vertex's anthropic_version. */
static int vx_claude_body(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    json_object *body = jown(ctx->a, prov_parse_object(out->body, out->body_len));
    if (!body)
        return vx_fail(err, "cannot read the Claude request body");
    json_object_object_del(body, "model");
    json_object_object_add(body, "anthropic_version",
                           json_object_new_string(VERTEX_ANTHROPIC_VERSION));
    out->body = jdump(ctx->a, body, &out->body_len);
    return 0;
}

static int vx_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", NULL,
                         "this relay mode is not supported by Vertex AI channels");
    int is_claude = vx_is_claude(ctx);
    if (!is_claude && !vx_is_gemini(ctx))
        return vx_fail(err, "adaptor not found");
    /* The model goes into the path as it is: Vertex's names carry an '@' that escaping
     * would hide, so anything beyond a model name's characters is refused. */
    for (const char *m = ctx->model; *m; m++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@", *m))
            return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", "model",
                             "the model name has characters Vertex AI model names do not");
    struct vx_conf c;
    if (vx_conf_read(ctx, &c, err) < 0)
        return -1;
    const char *token = ctx->credential ? ctx->credential : "";
    if (!*token || strpbrk(token, "\r\n"))
        return vx_fail(err, "no usable Vertex AI access token");

    struct prov_ctx ic;
    struct prov_channel ich;
    vx_inner(ctx, &ic, &ich);
    const struct provider *p = is_claude ? &provider_claude : &provider_gemini;
    if (provider_build_request(p, &ic, out, err) < 0)
        return -1;
    if (is_claude && vx_claude_body(ctx, out, err) < 0)
        return -1;

    struct strbuf url;
    sb_init(&url, ctx->a);
    if (ctx->ch->is_default_base || !ctx->ch->base_url || !*ctx->ch->base_url)
        sb_printf(&url, "https://%s-aiplatform.googleapis.com", c.region);
    else
        sb_puts(&url, ctx->ch->base_url);
    SB_LIT(&url, "/v1/projects/");
    sb_url(&url, c.project);
    SB_LIT(&url, "/locations/");
    sb_url(&url, c.region);
    sb_puts(&url, is_claude ? "/publishers/anthropic/models/" : "/publishers/google/models/");
    sb_puts(&url, ctx->model);
    if (is_claude)
        sb_puts(&url, ctx->is_stream ? ":streamRawPredict?alt=sse" : ":rawPredict");
    else
        sb_puts(&url, ctx->is_stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    out->url = url.p;
    out->n_headers = 0;
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", token);
    if (ctx->is_stream)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    return 0;
}

/* ---- answers ---- */

static const struct provider *vx_family(const struct prov_ctx *ctx)
{
    return vx_is_claude(ctx) ? &provider_claude : &provider_gemini;
}

static int vx_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    return provider_parse_response(vx_family(ctx), ctx, body, n, out, err);
}

static int vx_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    return provider_parse_event(vx_family(ctx), ctx, event, data, n, out, err);
}

/* Vertex itself answers errors the Google way ({"error":{"code","message","status"}}), Claude
 * models' own errors come in Anthropic's shape. */
static void vx_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    const char *gstatus = jstr(jget(root, "error"), "status");
    const struct provider *p = gstatus && *gstatus ? &provider_gemini : vx_family(ctx);
    provider_parse_error(p, ctx, status, body, n, err);
}

const struct provider provider_vertex = {
    .name = "vertexai",
    .build_request = vx_build_request,
    .parse_response = vx_parse_response,
    .parse_event = vx_parse_event,
    .parse_error = vx_parse_error,
    .credential = vx_credential,
    .credential_parse = vx_credential_parse,
};
