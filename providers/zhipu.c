/* Zhipu adaptor: the JWT of a key, OpenAI requests to Zhipu's v4 and v3 APIs, and their
 * answers, events and errors back into OpenAI's shapes. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/crypto.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "providers/zhipu.h"

#define ZHIPU_ERR "zhipu_error"

/* How long a minted token is valid. Zhipu's own SDK uses 3 minutes and One API 24 hours; an
 * hour keeps a leaked token short-lived while the core, which renews 5 minutes before the
 * end, still signs only about once an hour per key. */
#define ZHIPU_TOKEN_LIFE 3600

/* Stream state of one attempt, in the arena behind ctx->state. */
struct zhipu_stream {
    struct prov_chunk chunk; /* id, model and created of every chunk */
    int is_started;          /* the first delta (with the role) went out */
};

char *zhipu_jwt(struct arena *a, const char *key, int64_t now_ms, int64_t exp_ms)
{
    const char *dot = strchr(key, '.');
    if (!dot || dot == key || !dot[1])
        return NULL;
    /* The claims are written by hand so the key order and the integer numbers are exactly
     * those Zhipu's own clients sign. */
    static const char header[] = "{\"alg\":\"HS256\",\"sign_type\":\"SIGN\",\"typ\":\"JWT\"}";
    struct strbuf claims;
    sb_init(&claims, a);
    SB_LIT(&claims, "{\"api_key\":");
    sb_json_strn(&claims, key, (size_t)(dot - key));
    sb_printf(&claims, ",\"exp\":%lld,\"timestamp\":%lld}", (long long)exp_ms, (long long)now_ms);
    size_t hl = sizeof header - 1;
    char *out = arena_alloc(a, 4 * ((hl + claims.len + 32) / 3 + 3) + 8);
    size_t n = b64url_encode(header, hl, out);
    out[n++] = '.';
    n += b64url_encode(claims.p, claims.len, out + n);
    unsigned char mac[32];
    const char *secret = dot + 1;
    hmac_sha256(secret, strlen(secret), out, n, mac);
    out[n++] = '.';
    b64url_encode(mac, sizeof mac, out + n);
    return out;
}

int zhipu_error_status(int64_t code, int http)
{
    switch (code) {
    case 1302: /* too many requests of the key */
    case 1303: /* too many requests of the account */
    case 1304: /* the day's quota of requests is spent */
    case 1305: /* the model is overloaded */ return 429;
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1004: return 401; /* the token is missing, malformed, expired or its key unknown */
    default: break;
    }
    if (http >= 400)
        return http;
    return 400;
}

/* The legacy v3 chat models; everything else is served by v4. */
static int is_v3(const struct prov_ctx *ctx)
{
    static const char *const v3[] = {"chatglm_turbo", "chatglm_pro", "chatglm_std", "chatglm_lite",
                                     "characterglm"};
    if (ctx->mode != RELAY_CHAT)
        return 0;
    for (size_t i = 0; i < sizeof v3 / sizeof *v3; i++)
        if (!strcmp(ctx->model, v3[i]))
            return 1;
    return 0;
}

static int zhipu_credential(struct prov_ctx *ctx, struct prov_cred *out, struct prov_error *err)
{
    int64_t now_ms = ctx->created * 1000;
    char *jwt = zhipu_jwt(ctx->a, ctx->ch->key, now_ms, now_ms + ZHIPU_TOKEN_LIFE * 1000LL);
    if (!jwt)
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the Zhipu key must be id.secret");
    memset(&out->req, 0, sizeof out->req);
    out->token = jwt;
    out->expires_at = ctx->created + ZHIPU_TOKEN_LIFE;
    return 0;
}

/* A number field of o kept within [0, 1]; with is_top_p, 1 becomes 0.99 (Zhipu refuses a
 * top_p of 1). */
static void clamp(json_object *o, const char *key, int is_top_p)
{
    json_object *v = jget(o, key);
    if (!v || !jis_num(v))
        return;
    double d = json_object_get_double(v);
    double c = d < 0 ? 0 : d > 1 ? 1 : d;
    if (is_top_p && c >= 1)
        c = 0.99;
    if (c != d)
        json_object_object_add(o, key, jgo_double(c));
}

/* The text of an OpenAI message content: the string, or its text parts joined. */
static const char *flat_content(struct prov_ctx *ctx, json_object *c)
{
    if (json_object_is_type(c, json_type_string))
        return json_object_get_string(c);
    struct strbuf sb;
    sb_init(&sb, ctx->a);
    SB_LIT(&sb, "");
    for (size_t i = 0; json_object_is_type(c, json_type_array) && i < json_object_array_length(c);
         i++) {
        const char *t = jstr(json_object_array_get_idx(c, i), "text");
        if (t)
            sb_puts(&sb, t);
    }
    return sb.p;
}

static json_object *v3_body(struct prov_ctx *ctx)
{
    json_object *body = jnew_obj(), *prompt = jnew_arr();
    json_object *msgs = jget(ctx->req, "messages");
    for (size_t i = 0;
         json_object_is_type(msgs, json_type_array) && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *p = jnew_obj();
        const char *role = jstr(m, "role");
        json_object_object_add(p, "role", json_object_new_string(role ? role : "user"));
        json_object_object_add(p, "content",
                               json_object_new_string(flat_content(ctx, jget(m, "content"))));
        json_object_array_add(prompt, p);
    }
    json_object_object_add(body, "prompt", prompt);
    static const char *const keep[] = {"temperature", "top_p"};
    for (size_t i = 0; i < 2; i++) {
        json_object *v = jget(ctx->req, keep[i]);
        if (v)
            json_object_object_add(body, keep[i], jcopy(v));
    }
    clamp(body, "temperature", 0);
    clamp(body, "top_p", 1);
    return body;
}

static int bad_request(struct prov_error *err, const char *msg)
{
    return prov_fail(err, 400, "one_api_error", "convert_request_failed", NULL, msg);
}

/* The body of a v4 request, or NULL with err filled. */
static json_object *v4_body(struct prov_ctx *ctx, struct prov_error *err)
{
    if (ctx->mode == RELAY_CHAT) {
        json_object *b = jcopy(ctx->req);
        clamp(b, "temperature", 0);
        clamp(b, "top_p", 1);
        return b;
    }
    json_object *b = jnew_obj();
    json_object_object_add(b, "model", json_object_new_string(ctx->model));
    if (ctx->mode == RELAY_EMBEDDINGS) {
        json_object *in = jget(ctx->req, "input");
        if (json_object_is_type(in, json_type_array)) {
            if (json_object_array_length(in) != 1) {
                json_object_put(b);
                bad_request(err, "Zhipu embeddings take a single input");
                return NULL;
            }
            in = json_object_array_get_idx(in, 0);
        }
        if (!json_object_is_type(in, json_type_string)) {
            json_object_put(b);
            bad_request(err, "Zhipu embeddings take a string input");
            return NULL;
        }
        json_object_object_add(b, "input", jcopy(in));
    } else {
        const char *prompt = jstr(ctx->req, "prompt");
        json_object_object_add(b, "prompt", json_object_new_string(prompt ? prompt : ""));
    }
    return b;
}

static int zhipu_build_request(struct prov_ctx *ctx, struct prov_request *out,
                               struct prov_error *err)
{
    if (!ctx->credential)
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the Zhipu key must be id.secret");
    if (!ctx->req)
        return bad_request(err, "the request body is not JSON");
    const char *base = ctx->ch->base_url;
    json_object *body;
    if (is_v3(ctx)) {
        out->url = arena_printf(ctx->a, "%s/api/paas/v3/model-api/%s/%s", base, ctx->model,
                                ctx->is_stream ? "sse-invoke" : "invoke");
        body = v3_body(ctx);
    } else {
        const char *path = ctx->mode == RELAY_CHAT         ? "chat/completions"
                           : ctx->mode == RELAY_EMBEDDINGS ? "embeddings"
                           : ctx->mode == RELAY_IMAGES     ? "images/generations"
                                                           : NULL;
        if (!path)
            return bad_request(err, "unsupported relay mode for Zhipu");
        out->url = arena_printf(ctx->a, "%s/api/paas/v4/%s", base, path);
        body = v4_body(ctx, err);
        if (!body)
            return -1;
    }
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: %s", ctx->credential);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    if (ctx->is_stream)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    return 0;
}

/* Fills err from a Zhipu error body (v4's {"error":{...}} or v3's {"code","msg"}) and returns
 * -1; http is the answer's status (200 for an error inside a success). 0 when j holds none. */
static int zhipu_error_of(struct prov_ctx *ctx, json_object *j, int http, struct prov_error *err)
{
    json_object *e = jget(j, "error"), *code;
    const char *msg;
    if (json_object_is_type(e, json_type_object)) {
        code = jget(e, "code");
        msg = jstr(e, "message");
    } else if (json_object_is_type(jget(j, "success"), json_type_boolean) &&
               !json_object_get_boolean(jget(j, "success"))) {
        code = jget(j, "code");
        msg = jstr(j, "msg");
    } else {
        return 0;
    }
    const char *cs = code ? arena_strdup(ctx->a, json_object_get_string(code)) : NULL;
    int64_t c = code ? json_object_get_int64(code) : 0;
    const char *type = jstr(e, "type");
    return prov_fail(err, zhipu_error_status(c, http == 200 ? 0 : http),
                     arena_strdup(ctx->a, type && *type ? type : ZHIPU_ERR), cs, NULL,
                     arena_strdup(ctx->a, msg && *msg ? msg : "Zhipu answered an error"));
}

static void zhipu_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                              struct prov_error *err)
{
    json_object *j = prov_parse_object(body, n);
    if (!j || !zhipu_error_of(ctx, j, status, err))
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(j);
}

/* A v3 answer content is often a JSON string literal ("\" text\\n\""): decode it. */
static const char *v3_content(struct prov_ctx *ctx, const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        json_object *v = jparse(s, n, 0, NULL);
        const char *d = json_object_is_type(v, json_type_string)
                            ? arena_strdup(ctx->a, json_object_get_string(v))
                            : arena_strndup(ctx->a, s + 1, n - 2);
        json_object_put(v);
        return d;
    }
    return s;
}

static void take_usage(struct prov_ctx *ctx, json_object *u)
{
    if (!json_object_is_type(u, json_type_object))
        return;
    int64_t p = jint(u, "prompt_tokens"), c = jint(u, "completion_tokens");
    if (!p && !c)
        return;
    ctx->usage.prompt_tokens = p;
    ctx->usage.completion_tokens = c;
    ctx->usage.has_usage = 1;
}

static int v3_response(struct prov_ctx *ctx, json_object *j, struct strbuf *out)
{
    json_object *data = jget(j, "data");
    const char *id = jstr(data, "task_id");
    json_object *choices;
    json_object *resp =
        prov_completion_new(id ? id : ctx->request_id, ctx->created, ctx->origin_model, &choices);
    json_object *cs = jget(data, "choices");
    size_t nc = json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
    for (size_t i = 0; i < nc; i++) {
        const char *c = jstr(json_object_array_get_idx(cs, i), "content");
        c = v3_content(ctx, c ? c : "");
        sb_puts(&ctx->text, c);
        json_object *m = prov_message_new(c, strlen(c), NULL, 0, NULL);
        json_object_array_add(
            choices, prov_choice_new((int64_t)i, "message", m, i + 1 == nc ? "stop" : NULL));
    }
    take_usage(ctx, jget(data, "usage"));
    if (ctx->usage.has_usage)
        json_object_object_add(
            resp, "usage",
            prov_usage_new(&ctx->usage, jint(jget(data, "usage"), "total_tokens"), 0, 0));
    jput(out, resp);
    json_object_put(resp);
    return 0;
}

static int zhipu_parse_response(struct prov_ctx *ctx, const char *body, size_t n,
                                struct strbuf *out, struct prov_error *err)
{
    json_object *j = prov_parse_object(body, n);
    if (!j)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "unmarshal_response_body_failed");
    int rc;
    if (zhipu_error_of(ctx, j, 200, err))
        rc = -1;
    else if (is_v3(ctx))
        rc = v3_response(ctx, j, out);
    else
        rc = provider_openai.parse_response(ctx, body, n, out, err);
    json_object_put(j);
    return rc;
}

static struct zhipu_stream *stream_state(struct prov_ctx *ctx)
{
    struct zhipu_stream *st = ctx->state;
    if (!st) {
        st = arena_calloc(ctx->a, 1, sizeof *st);
        st->chunk.id = ctx->request_id;
        st->chunk.model = ctx->origin_model;
        st->chunk.created = ctx->created;
        st->chunk.usage_null = ctx->include_usage;
        ctx->state = st;
    }
    return st;
}

/* A v3 content chunk of the n bytes at s (the first one carries the role). */
static void v3_delta(struct zhipu_stream *st, const char *s, size_t n, const char *finish,
                     struct strbuf *out)
{
    json_object *delta = jnew_obj();
    if (!st->is_started)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    if (s)
        json_object_object_add(delta, "content", prov_str_new(s, n));
    prov_chunk_put(out, &st->chunk, 0, delta, finish);
    json_object_put(delta);
    st->is_started = 1;
}

/* The end of a v3 stream: the stop chunk, then usage when the client asked for it. */
static void v3_end(struct prov_ctx *ctx, struct zhipu_stream *st, struct strbuf *out)
{
    v3_delta(st, NULL, 0, "stop", out);
    ctx->finished = 1;
    if (ctx->include_usage) {
        json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
}

/* v3 events: "add" text, "finish" (an empty text, usage in its meta: line, which the SSE
 * parser hands over as a "meta" event), "error" and "interrupted". Their data is raw text. */
static int v3_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                    struct strbuf *out, struct prov_error *err)
{
    struct zhipu_stream *st = stream_state(ctx);
    if (ctx->finished)
        return 0;
    if (!data) {
        v3_end(ctx, st, out); /* closed without its meta: the core counts the tokens */
        return 0;
    }
    if (!strcmp(event, "meta")) {
        json_object *m = prov_parse_object(data, n);
        take_usage(ctx, jget(m, "usage"));
        const char *rid = jstr(m, "request_id");
        if (rid && *rid)
            st->chunk.id = arena_strdup(ctx->a, rid);
        json_object_put(m);
        v3_end(ctx, st, out);
        return 0;
    }
    if (!strcmp(event, "error") || !strcmp(event, "interrupted"))
        return prov_failf(err, ctx->a, 502, ZHIPU_ERR, "stream_interrupted", NULL,
                          "Zhipu ended the stream with %s: %.*s", event, (int)n, data);
    if (!n)
        return 0; /* the finish event's empty text */
    sb_putn(&ctx->text, data, n);
    v3_delta(st, data, n, NULL, out);
    return 0;
}

static int zhipu_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                             struct strbuf *out, struct prov_error *err)
{
    if (is_v3(ctx))
        return v3_event(ctx, event, data, n, out, err);
    /* v4 is SSE as usual: the space the parser kept (for v3's sake) is the separator. */
    if (data && n && *data == ' ')
        data++, n--;
    json_object *j = data ? prov_parse_object(data, n) : NULL;
    if (j && zhipu_error_of(ctx, j, 200, err)) {
        json_object_put(j);
        return -1;
    }
    /* Zhipu's chunks leave out "object", which OpenAI's clients may check. */
    if (j && !jget(j, "object") && jget(j, "choices")) {
        json_object_object_add(j, "object", json_object_new_string("chat.completion.chunk"));
        data = jdump(ctx->a, j, &n);
    }
    json_object_put(j);
    return provider_openai.parse_event(ctx, event, data, n, out, err);
}

const struct provider provider_zhipu = {
    .name = "zhipu",
    .build_request = zhipu_build_request,
    .parse_response = zhipu_parse_response,
    .parse_event = zhipu_parse_event,
    .parse_error = zhipu_parse_error,
    .credential = zhipu_credential,
    .sse_keeps_data_space = 1,
};
