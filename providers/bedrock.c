/* AWS Bedrock adaptor: Claude over InvokeModel / InvokeModelWithResponseStream with SigV4. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/bedrock.h"
#include "providers/claude.h"
#include "providers/provider.h"
#include "providers/sigv4.h"

/* The Anthropic API version Bedrock's Claude models take in the body. */
#define BEDROCK_ANTHROPIC_VERSION "bedrock-2023-05-31"
/* The SigV4 service name of the runtime API (not "bedrock-runtime"). */
#define BEDROCK_SERVICE "bedrock"

/* One API's model table: OpenAI-side name -> Bedrock model id. */
static const struct {
    const char *name;
    const char *id;
} model_ids[] = {
    {"claude-instant-1.2", "anthropic.claude-instant-v1"},
    {"claude-2.0", "anthropic.claude-v2"},
    {"claude-2.1", "anthropic.claude-v2:1"},
    {"claude-3-haiku-20240307", "anthropic.claude-3-haiku-20240307-v1:0"},
    {"claude-3-sonnet-20240229", "anthropic.claude-3-sonnet-20240229-v1:0"},
    {"claude-3-opus-20240229", "anthropic.claude-3-opus-20240229-v1:0"},
    {"claude-3-5-sonnet-20240620", "anthropic.claude-3-5-sonnet-20240620-v1:0"},
    {"claude-3-5-sonnet-20241022", "anthropic.claude-3-5-sonnet-20241022-v2:0"},
    {"claude-3-5-sonnet-latest", "anthropic.claude-3-5-sonnet-20241022-v2:0"},
    {"claude-3-5-haiku-20241022", "anthropic.claude-3-5-haiku-20241022-v1:0"},
};

/* Bedrock's error names by HTTP status, for the code of a normalised error. */
static const struct {
    int status;
    const char *name;
} error_names[] = {
    {400, "ValidationException"},       {403, "AccessDeniedException"},
    {404, "ResourceNotFoundException"}, {408, "ModelTimeoutException"},
    {424, "ModelErrorException"},       {429, "ThrottlingException"},
    {500, "InternalServerException"},   {503, "ServiceUnavailableException"},
};

/* In-stream exception types -> the HTTP status the same failure has outside a stream. */
static const struct {
    const char *type;
    int status;
} exception_status[] = {
    {"throttlingException", 429},         {"validationException", 400},
    {"modelTimeoutException", 408},       {"modelStreamErrorException", 424},
    {"serviceUnavailableException", 503}, {"internalServerException", 500},
};

/* The channel's AWS credentials, in the arena. */
struct creds {
    const char *ak, *sk, *region;
};

const char *bedrock_model_id(const char *model)
{
    for (size_t i = 0; model && i < sizeof model_ids / sizeof *model_ids; i++)
        if (!strcmp(model, model_ids[i].name))
            return model_ids[i].id;
    return NULL;
}

static int config_fail(struct prov_error *err, const char *msg)
{
    return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL, msg);
}

/* Credentials from the key "AK|SK|region" (region optional), else from the config's ak, sk
 * and region; the config's region fills a key without one. */
static int read_creds(struct prov_ctx *ctx, struct creds *c, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    struct json_object *cfg = NULL;
    const char *cfg_region = NULL;

    memset(c, 0, sizeof *c);
    if (ctx->ch->config && *ctx->ch->config)
        cfg = jown(ctx->a, json_tokener_parse(ctx->ch->config));
    cfg_region = jstr(cfg, "region");
    if (*key) {
        const char *bar1 = strchr(key, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;

        if (!bar1)
            return config_fail(err, "the AWS channel key must be AK|SK|region");
        c->ak = arena_strndup(ctx->a, key, (size_t)(bar1 - key));
        c->sk = bar2 ? arena_strndup(ctx->a, bar1 + 1, (size_t)(bar2 - bar1 - 1))
                     : arena_strdup(ctx->a, bar1 + 1);
        c->region = bar2 && bar2[1] ? arena_strdup(ctx->a, bar2 + 1) : cfg_region;
    } else {
        c->ak = jstr(cfg, "ak");
        c->sk = jstr(cfg, "sk");
        c->region = cfg_region;
    }
    if (!c->ak || !*c->ak || !c->sk || !*c->sk)
        return config_fail(err, "the AWS channel has no access key and secret (key AK|SK|region)");
    if (!c->region || !*c->region)
        return config_fail(err, "the AWS channel has no region (key AK|SK|region)");
    /* These go into a header and a host name: a line break or a slash would forge either. */
    if (strpbrk(c->ak, "\r\n /") || strpbrk(c->region, "\r\n /:@?#"))
        return config_fail(err, "the AWS channel's access key or region is malformed");
    return 0;
}

/* The Bedrock model id for ctx->model: the table, a name that already is a Bedrock id or
 * inference profile, else NULL. */
static const char *model_id(const struct prov_ctx *ctx)
{
    const char *m = ctx->model ? ctx->model : "";
    const char *id = bedrock_model_id(m);

    if (id)
        return id;
    if (strstr(m, "anthropic.") || !strncmp(m, "arn:aws", 7))
        return m;
    return NULL;
}

/* The body Bedrock takes: anthropic_version first, then the Anthropic body without the model
 * (it is in the URL) and stream (the endpoint decides). */
static struct json_object *bedrock_body(struct json_object *anthropic)
{
    struct json_object *b = jnew_obj();

    json_object_object_add(b, "anthropic_version",
                           json_object_new_string(BEDROCK_ANTHROPIC_VERSION));
    json_object_object_foreach(anthropic, k, v)
    {
        if (strcmp(k, "model") != 0 && strcmp(k, "stream") != 0)
            json_object_object_add(b, k, json_object_get(v));
    }
    return b;
}

static int bedrock_build_request(struct prov_ctx *ctx, struct prov_request *out,
                                 struct prov_error *err)
{
    struct creds c;
    struct json_object *anthropic;

    if (claude_body_new(ctx, err, &anthropic) != 0)
        return -1;
    struct json_object *body = bedrock_body(anthropic);
    json_object_put(anthropic);
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    if (read_creds(ctx, &c, err) != 0)
        return -1;
    const char *id = model_id(ctx);
    if (!id)
        return config_fail(err, "adaptor not found");

    /* The request goes to the channel's base URL when it has one (a proxy, a VPC endpoint, a
     * test double), and is signed for the host it really reaches. */
    const char *base =
        ctx->ch->base_url && *ctx->ch->base_url && !ctx->ch->is_default_base
            ? ctx->ch->base_url
            : arena_printf(ctx->a, "https://bedrock-runtime.%s.amazonaws.com", c.region);
    const char *auth = strstr(base, "://");
    auth = auth ? auth + 3 : base;
    size_t auth_len = strcspn(auth, "/?#");
    const char *prefix = auth + auth_len;
    if (!auth_len || strpbrk(base, "\r\n") || strpbrk(prefix, "?#"))
        return config_fail(err, "the AWS channel's base URL is malformed");

    struct strbuf path;
    sb_init(&path, ctx->a);
    sb_puts(&path, prefix);
    SB_LIT(&path, "/model/");
    sb_url(&path, id); /* one path segment: ':' and '/' (ARNs) are encoded */
    sb_puts(&path, ctx->is_stream ? "/invoke-with-response-stream" : "/invoke");

    char amz_date[17];
    sigv4_amz_date((time_t)ctx->created, amz_date);
    out->n_headers = 0;
    out->headers[out->n_headers++] =
        ctx->is_stream ? "X-Amzn-Bedrock-Accept: application/json" : "Accept: application/json";
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Host: %.*s", (int)auth_len, auth);
    out->headers[out->n_headers++] = arena_printf(ctx->a, "X-Amz-Date: %s", amz_date);
    struct sigv4_request rq = {.method = "POST",
                               .path = path.p,
                               .query = "",
                               .headers = out->headers,
                               .n_headers = out->n_headers,
                               .body = out->body,
                               .body_len = out->body_len};
    struct sigv4_key k = {c.ak, c.sk, c.region, BEDROCK_SERVICE};
    out->headers[out->n_headers++] =
        arena_printf(ctx->a, "Authorization: %s", sigv4_authorization(ctx->a, &k, &rq, amz_date));
    out->url = arena_printf(ctx->a, "%.*s%s", (int)(prefix - base), base, path.p);
    return 0;
}

static int bedrock_parse_response(struct prov_ctx *ctx, const char *body, size_t n,
                                  struct strbuf *out, struct prov_error *err)
{
    return provider_parse_response(&provider_claude, ctx, body, n, out, err);
}

static const char *error_name(int status)
{
    for (size_t i = 0; i < sizeof error_names / sizeof *error_names; i++)
        if (error_names[i].status == status)
            return error_names[i].name;
    return NULL;
}

/* Bedrock answers {"message": ...} (sometimes "Message", and "__type" with the error name);
 * the status is kept, so a throttled channel is a retryable 429 as the client sees it. */
static void bedrock_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                                struct prov_error *err)
{
    struct json_object *o = prov_parse_object(body, n);
    const char *msg = jstr(o, "message"), *name = jstr(o, "__type");

    if (!msg || !*msg)
        msg = jstr(o, "Message");
    if (!msg || !*msg)
        msg = prov_error_message(o);
    if (name && strchr(name, '#'))
        name = strchr(name, '#') + 1; /* "com.amazon.coral...#ThrottlingException" */
    if (!name || !*name)
        name = error_name(status);
    if (!msg || !*msg) {
        json_object_put(o);
        prov_fail_status(err, ctx->a, status);
        return;
    }
    prov_fail(err, status, status == 429 ? "rate_limit_error" : "upstream_error",
              name ? arena_strdup(ctx->a, name) : "bad_response_status_code", NULL,
              arena_strdup(ctx->a, msg));
    json_object_put(o);
}

/* An exception or error frame inside a 200 stream, as the error the client gets. */
static int stream_exception(struct prov_ctx *ctx, const char *type, const char *data, size_t n,
                            struct prov_error *err)
{
    int status = 500;
    struct json_object *o = data ? prov_parse_object(data, n) : NULL;
    const char *msg = jstr(o, "message");

    for (size_t i = 0; i < sizeof exception_status / sizeof *exception_status; i++)
        if (!strcmp(type, exception_status[i].type))
            status = exception_status[i].status;
    if (!msg || !*msg)
        msg = jstr(o, "originalMessage");
    if (!msg || !*msg)
        msg = arena_printf(ctx->a, "the upstream stream failed: %s", type);
    prov_fail(err, status, status == 429 ? "rate_limit_error" : "upstream_error",
              arena_strdup(ctx->a, type), NULL, arena_strdup(ctx->a, msg));
    json_object_put(o);
    return -1;
}

static int bedrock_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                               struct strbuf *out, struct prov_error *err)
{
    if (!data)
        return provider_parse_event(&provider_claude, ctx, "", NULL, 0, out, err);
    if (event && !strncmp(event, "exception:", 10))
        return stream_exception(ctx, event + 10, data, n, err);
    if (event && !strncmp(event, "error:", 6)) {
        const char *msg = n ? arena_strndup(ctx->a, data, n) : "the upstream stream failed";

        return prov_fail(err, 500, "upstream_error", arena_strdup(ctx->a, event + 6), NULL, msg);
    }
    if (event && *event && strcmp(event, "chunk") != 0)
        return 0; /* event types newer than this adaptor */

    struct json_object *o = prov_parse_object(data, n), *b = jget(o, "bytes");
    if (!json_object_is_type(b, json_type_string)) {
        json_object_put(o);
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "a Bedrock stream chunk without bytes");
    }
    /* The base64 of the Anthropic event; "p" is padding against length analysis. */
    size_t blen = (size_t)json_object_get_string_len(b);
    unsigned char *ev = arena_alloc(ctx->a, blen / 4 * 3 + 4);
    long evn = b64_decode(json_object_get_string(b), blen, ev, blen / 4 * 3 + 3, B64_STRICT);
    json_object_put(o);
    if (evn < 0)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "a Bedrock stream chunk whose bytes are not base64");
    return provider_parse_event(&provider_claude, ctx, "", (const char *)ev, (size_t)evn, out, err);
}

const struct provider provider_bedrock = {
    .name = "aws",
    .build_request = bedrock_build_request,
    .parse_response = bedrock_parse_response,
    .parse_event = bedrock_parse_event,
    .parse_error = bedrock_parse_error,
};
