/* Baidu ERNIE adaptor: OpenAI chat and embeddings to and from the wenxinworkshop API. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/baidu.h"
#include "providers/provider.h"

/* Type of the errors Baidu reported, as One API names them. */
#define BD_ERR "baidu_error"
/* The longest token life believed: Baidu's own 30 days. */
#define BD_MAX_EXPIRES 2592000

/* Stream state, in the arena behind ctx->state. */
struct bd_stream {
    struct prov_chunk chunk; /* model and created shared by every chunk; id from Baidu */
};

static int bd_malformed(struct prov_error *err)
{
    return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                     "cannot parse the upstream response from Baidu");
}

static int bd_convert_fail(struct prov_error *err, const char *message)
{
    return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL, message);
}

static const char *bd_base(struct prov_ctx *ctx)
{
    const char *base = ctx->ch->base_url ? ctx->ch->base_url : "";
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    return arena_strndup(ctx->a, base, n);
}

/* ---- the access token ---- */

/* Splits the key "APIKey|SecretKey". -1 with err when it has not that shape. */
static int bd_key(struct prov_ctx *ctx, const char **ak, const char **sk, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    const char *bar = strchr(key, '|');
    if (!bar || bar == key || !bar[1] || strchr(bar + 1, '|'))
        return bd_convert_fail(err, "the Baidu channel key must be APIKey|SecretKey");
    *ak = arena_strndup(ctx->a, key, (size_t)(bar - key));
    *sk = bar + 1;
    return 0;
}

static int bd_credential(struct prov_ctx *ctx, struct prov_cred *out, struct prov_error *err)
{
    const char *ak = NULL, *sk = NULL;
    if (bd_key(ctx, &ak, &sk, err) < 0)
        return -1;
    struct strbuf url;
    sb_init(&url, ctx->a);
    sb_puts(&url, bd_base(ctx));
    SB_LIT(&url, "/oauth/2.0/token?grant_type=client_credentials&client_id=");
    sb_url(&url, ak);
    SB_LIT(&url, "&client_secret=");
    sb_url(&url, sk);
    out->req.url = url.p;
    out->req.n_headers = 0;
    out->req.headers[out->req.n_headers++] = "Content-Type: application/json";
    out->req.headers[out->req.n_headers++] = "Accept: application/json";
    out->req.body = ""; /* Baidu wants a POST with nothing in it */
    out->req.body_len = 0;
    return 0;
}

static int bd_credential_parse(struct prov_ctx *ctx, int status, const char *body, size_t n,
                               struct prov_cred *out, struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    const char *code = jstr(root, "error"), *desc = jstr(root, "error_description");
    int is_ok = status >= 200 && status <= 299;
    if (!is_ok || (code && *code)) {
        if (!is_ok && !code && !desc) {
            prov_fail_status(err, ctx->a, status);
            return -1;
        }
        /* A refused key (invalid_client) must disable the channel as a 401 does, even when
         * the endpoint said so with another status. */
        int is_refused = status == 401 || (code && !strcmp(code, "invalid_client"));
        return prov_failf(err, ctx->a, is_refused ? 401 : (is_ok ? 500 : status),
                          is_refused ? "authentication_error" : "upstream_error",
                          "get_access_token_failed", NULL, "%s: %s", code && *code ? code : "error",
                          desc ? desc : "no reason given");
    }
    const char *token = jstr(root, "access_token");
    if (!token || !*token)
        return prov_fail(err, 500, "one_api_error", "get_access_token_failed", NULL,
                         "the Baidu token endpoint answered no access_token");
    int64_t expires = jint(root, "expires_in");
    if (expires <= 0 || expires > BD_MAX_EXPIRES)
        expires = expires > 0 ? BD_MAX_EXPIRES : BAIDU_DEFAULT_EXPIRES;
    out->token = arena_strdup(ctx->a, token);
    out->expires_at = ctx->created + expires;
    return 0;
}

/* ---- requests ---- */

/* Model names with an endpoint of their own; every other name is lower-cased. */
static const struct {
    const char *model, *endpoint;
} BD_ENDPOINTS[] = {
    {"ERNIE-4.0-8K", "chat/completions_pro"},
    {"ERNIE-4.0", "chat/completions_pro"},
    {"ERNIE-Bot-4", "chat/completions_pro"},
    {"ERNIE-3.5-8K", "chat/completions"},
    {"ERNIE-Bot", "chat/completions"},
    {"ERNIE-3.5-8K-0205", "chat/ernie-3.5-8k-0205"},
    {"ERNIE-3.5-8K-1222", "chat/ernie-3.5-8k-1222"},
    {"ERNIE-3.5-4K-0205", "chat/ernie-3.5-4k-0205"},
    {"ERNIE-Bot-8K", "chat/ernie_bot_8k"},
    {"ERNIE-Speed-8K", "chat/ernie_speed"},
    {"ERNIE-Speed", "chat/ernie_speed"},
    {"ERNIE-Speed-128K", "chat/ernie-speed-128k"},
    {"ERNIE-Lite-8K-0922", "chat/eb-instant"},
    {"ERNIE-Bot-turbo", "chat/eb-instant"},
    {"ERNIE-Lite-8K-0308", "chat/ernie-lite-8k"},
    {"ERNIE-Tiny-8K", "chat/ernie-tiny-8k"},
    {"BLOOMZ-7B", "chat/bloomz_7b1"},
    {"Embedding-V1", "embeddings/embedding-v1"},
    {"bge-large-zh", "embeddings/bge_large_zh"},
    {"bge-large-en", "embeddings/bge_large_en"},
    {"tao-8k", "embeddings/tao_8k"},
};

const char *baidu_endpoint(struct arena *a, const char *model, enum relay_mode mode)
{
    const char *prefix = mode == RELAY_EMBEDDINGS ? "embeddings/" : "chat/";
    model = model ? model : "";
    for (size_t i = 0; i < sizeof BD_ENDPOINTS / sizeof *BD_ENDPOINTS; i++)
        if (!strcmp(model, BD_ENDPOINTS[i].model) &&
            !strncmp(BD_ENDPOINTS[i].endpoint, prefix, strlen(prefix)))
            return BD_ENDPOINTS[i].endpoint;
    struct strbuf sb;
    sb_init(&sb, a);
    sb_puts(&sb, prefix);
    for (const char *s = model; *s; s++)
        sb_putc(&sb, (char)tolower((unsigned char)*s));
    return sb.p;
}

/* A message's content as text: a string, or the text parts of an array joined by "\n". */
static const char *bd_text(struct prov_ctx *ctx, json_object *content)
{
    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    struct strbuf sb;
    sb_init(&sb, ctx->a);
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t k = 0; k < n; k++) {
        json_object *p = json_object_array_get_idx(content, k);
        const char *type = jstr(p, "type"), *text = jstr(p, "text");
        if (type && !strcmp(type, "text") && text) {
            if (sb.len)
                sb_putc(&sb, '\n');
            sb_puts(&sb, text);
        }
    }
    return sb.len ? sb.p : "";
}

/* The number field of the request, when it is one. */
static json_object *bd_num(json_object *req, const char *name)
{
    json_object *v = jget(req, name);
    return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int) ? v
                                                                                             : NULL;
}

static json_object *bd_chat_body(struct prov_ctx *ctx)
{
    json_object *req = ctx->req, *body = jnew_obj(), *msgs = jnew_arr();
    json_object *in = jget(req, "messages");
    const char *system = NULL;
    size_t n = json_object_is_type(in, json_type_array) ? json_object_array_length(in) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(in, i);
        const char *role = jstr(m, "role");
        const char *text = bd_text(ctx, jget(m, "content"));
        /* Baidu takes the system prompt beside the messages; the last one wins. */
        if (role && !strcmp(role, "system")) {
            system = text;
            continue;
        }
        json_object *o = jnew_obj();
        json_object_object_add(o, "role", json_object_new_string(role ? role : "user"));
        json_object_object_add(o, "content", json_object_new_string(text));
        json_object_array_add(msgs, o);
    }
    json_object_object_add(body, "messages", msgs);
    json_object *v;
    if ((v = bd_num(req, "temperature")))
        json_object_object_add(body, "temperature", json_object_get(v));
    if ((v = bd_num(req, "top_p")))
        json_object_object_add(body, "top_p", json_object_get(v));
    /* Baidu's penalty_score lies in [1, 2]: OpenAI's usual 0 would be refused. */
    if ((v = bd_num(req, "frequency_penalty")) && json_object_get_double(v) >= 1.0)
        json_object_object_add(body, "penalty_score", json_object_get(v));
    if (ctx->is_stream)
        json_object_object_add(body, "stream", json_object_new_boolean(1));
    if (system)
        json_object_object_add(body, "system", json_object_new_string(system));
    if ((v = bd_num(req, "max_tokens"))) {
        int64_t max = json_object_get_int64(v);
        /* Baidu refuses fewer than 2. */
        json_object_object_add(body, "max_output_tokens", json_object_new_int64(max < 2 ? 2 : max));
    }
    const char *user = jstr(req, "user");
    if (user && *user)
        json_object_object_add(body, "user_id", json_object_new_string(user));
    return body;
}

static json_object *bd_embed_body(struct prov_ctx *ctx)
{
    json_object *body = jnew_obj(), *input = jget(ctx->req, "input"), *arr = jnew_arr();
    if (json_object_is_type(input, json_type_array)) {
        size_t n = json_object_array_length(input);
        for (size_t i = 0; i < n; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(input, i));
            json_object_array_add(arr, json_object_new_string(s ? s : ""));
        }
    } else {
        const char *s = input ? json_object_get_string(input) : "";
        json_object_array_add(arr, json_object_new_string(s ? s : ""));
    }
    json_object_object_add(body, "input", arr);
    return body;
}

static int bd_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", NULL,
                         "this relay mode is not supported by Baidu channels");
    const char *token = ctx->credential ? ctx->credential : "";
    if (!*token)
        return bd_convert_fail(err, "no Baidu access token");
    struct strbuf url;
    sb_init(&url, ctx->a);
    sb_puts(&url, bd_base(ctx));
    SB_LIT(&url, "/rpc/2.0/ai_custom/v1/wenxinworkshop/");
    const char *ep = baidu_endpoint(ctx->a, ctx->model, ctx->mode);
    /* The endpoint is a path: a name from outside the table keeps only path-safe bytes. */
    for (const char *s = ep; *s; s++) {
        if (*s == '/' && s == strchr(ep, '/'))
            sb_putc(&url, '/');
        else if (isalnum((unsigned char)*s) || strchr("-._~", *s))
            sb_putc(&url, *s);
        else
            sb_printf(&url, "%%%02X", (unsigned char)*s);
    }
    SB_LIT(&url, "?access_token=");
    sb_url(&url, token);
    out->url = url.p;
    out->n_headers = 0;
    out->headers[out->n_headers++] = "Content-Type: application/json";
    if (ctx->is_stream)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    json_object *body =
        jown(ctx->a, ctx->mode == RELAY_EMBEDDINGS ? bd_embed_body(ctx) : bd_chat_body(ctx));
    out->body = jdump(ctx->a, body, &out->body_len);
    return 0;
}

/* ---- answers ---- */

/* The HTTP status a Baidu error_code stands for. */
static int bd_code_status(int64_t code)
{
    switch (code) {
    case 17:     /* daily request limit */
    case 18:     /* QPS limit */
    case 336501: /* requests per minute */
    case 336502: /* tokens per minute */ return 429;
    case 110: /* token invalid */
    case 111: /* token expired */ return 401;
    case 336003: /* parameter error */ return 400;
    case 336100: /* service busy */ return 503;
    default: return 500;
    }
}

/* Fills err from a body with error_code set: -1. */
static int bd_error_code(struct prov_ctx *ctx, json_object *root, struct prov_error *err)
{
    int64_t code = jint(root, "error_code");
    const char *msg = jstr(root, "error_msg");
    return prov_fail(err, bd_code_status(code), BD_ERR,
                     arena_printf(ctx->a, "%lld", (long long)code), NULL,
                     arena_strdup(ctx->a, msg && *msg ? msg : "Baidu reported an error"));
}

static int bd_has_error(json_object *root)
{
    json_object *c = jget(root, "error_code");
    return c && json_object_get_int64(c) != 0;
}

static void bd_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    if (bd_has_error(root))
        bd_error_code(ctx, root, err);
    else
        provider_error_default(ctx->a, status, body, n, err);
}

/* Baidu's finish_reason as OpenAI's. */
static const char *bd_finish(const char *reason)
{
    if (reason && !strcmp(reason, "length"))
        return "length";
    if (reason && !strcmp(reason, "content_filter"))
        return "content_filter";
    if (reason && !strcmp(reason, "function_call"))
        return "tool_calls";
    return "stop";
}

/* Reads usage into ctx->usage when it counts anything. */
static void bd_usage_read(struct prov_ctx *ctx, json_object *root)
{
    json_object *u = jget(root, "usage");
    int64_t prompt = jint(u, "prompt_tokens"), total = jint(u, "total_tokens");
    if (!u || total == 0)
        return;
    ctx->usage.prompt_tokens = prompt;
    ctx->usage.completion_tokens = total - prompt;
    ctx->usage.has_usage = 1;
}

static int bd_chat_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out)
{
    json_object *choices;
    const char *id = jstr(root, "id"), *text = jstr(root, "result");
    int64_t created = jint(root, "created");
    text = text ? text : "";
    sb_puts(&ctx->text, text);
    json_object *resp =
        prov_completion_new(id && *id ? id : ctx->request_id, created ? created : ctx->created,
                            prov_answer_model(ctx), &choices);
    json_object *m = prov_message_new(text, strlen(text), NULL, 0, NULL);
    json_object_array_add(choices,
                          prov_choice_new(0, "message", m, bd_finish(jstr(root, "finish_reason"))));
    bd_usage_read(ctx, root);
    if (ctx->usage.has_usage)
        json_object_object_add(resp, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
    jput(out, resp);
    json_object_put(resp);
    return 0;
}

static int bd_embed_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *in = jget(root, "data");
    const char *fmt = jstr(ctx->req, "encoding_format");
    int is_b64 = fmt && !strcmp(fmt, "base64");
    if (!json_object_is_type(in, json_type_array))
        return bd_malformed(err);
    json_object *resp = jown(ctx->a, jnew_obj()), *data = jnew_arr();
    json_object_object_add(resp, "object", json_object_new_string("list"));
    json_object_object_add(resp, "data", data);
    size_t n = json_object_array_length(in);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(in, i);
        json_object *idx = jget(e, "index");
        if (prov_embedding_add(ctx->a, data, idx ? (size_t)json_object_get_int64(idx) : i,
                               jget(e, "embedding"), is_b64) < 0)
            return bd_malformed(err);
    }
    json_object_object_add(resp, "model", json_object_new_string(prov_answer_model(ctx)));
    json_object *u = jget(root, "usage");
    if (u) {
        ctx->usage.prompt_tokens = jint(u, "prompt_tokens");
        ctx->usage.completion_tokens = 0;
        ctx->usage.has_usage = 1;
    }
    json_object_object_add(resp, "usage",
                           prov_usage_new(&ctx->usage, u ? jint(u, "total_tokens") : 0, 0, 0));
    jput(out, resp);
    return 0;
}

static int bd_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    if (!root)
        return bd_malformed(err);
    if (bd_has_error(root))
        return bd_error_code(ctx, root, err);
    if (ctx->mode == RELAY_EMBEDDINGS)
        return bd_embed_response(ctx, root, out, err);
    return bd_chat_response(ctx, root, out);
}

/* ---- streaming ---- */

static struct bd_stream *bd_stream_state(struct prov_ctx *ctx)
{
    struct bd_stream *st = ctx->state;
    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = ctx->request_id ? ctx->request_id : "";
    st->chunk.model = prov_answer_model(ctx);
    st->chunk.created = ctx->created;
    st->chunk.usage_null = ctx->include_usage;
    ctx->state = st;
    return st;
}

/* The usage chunk, when the client asked for it. */
static void bd_stream_usage(struct prov_ctx *ctx, struct bd_stream *st, struct strbuf *out)
{
    if (!ctx->include_usage)
        return;
    json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
    prov_chunk_usage(out, &st->chunk, u);
    json_object_put(u);
}

static int bd_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    struct bd_stream *st = bd_stream_state(ctx);
    (void)event;
    if (ctx->finished)
        return 0;
    if (!data) {
        /* Closed without is_end: close the choice so the client sees an end. */
        json_object *delta = jnew_obj();
        prov_chunk_put(out, &st->chunk, 0, delta, "stop");
        json_object_put(delta);
        ctx->finished = 1;
        bd_stream_usage(ctx, st, out);
        return 0;
    }
    while (n > 0 && isspace((unsigned char)data[n - 1]))
        n--;
    if (n == 0)
        return 0;
    json_object *root = jown(ctx->a, prov_parse_object(data, n));
    if (!root)
        return bd_malformed(err);
    if (bd_has_error(root))
        return bd_error_code(ctx, root, err);
    const char *id = jstr(root, "id"), *text = jstr(root, "result");
    int64_t created = jint(root, "created");
    if (id && *id)
        st->chunk.id = arena_strdup(ctx->a, id);
    if (created)
        st->chunk.created = created;
    text = text ? text : "";
    sb_puts(&ctx->text, text);
    bd_usage_read(ctx, root);
    int is_end = json_object_get_boolean(jget(root, "is_end"));
    json_object *delta = jnew_obj();
    json_object_object_add(delta, "content", json_object_new_string(text));
    prov_chunk_put(out, &st->chunk, 0, delta,
                   is_end ? bd_finish(jstr(root, "finish_reason")) : NULL);
    json_object_put(delta);
    if (is_end) {
        ctx->finished = 1;
        bd_stream_usage(ctx, st, out);
    }
    return 0;
}

const struct provider provider_baidu = {
    .name = "baidu",
    .build_request = bd_build_request,
    .parse_response = bd_parse_response,
    .parse_event = bd_parse_event,
    .parse_error = bd_parse_error,
    .credential = bd_credential,
    .credential_parse = bd_credential_parse,
};
