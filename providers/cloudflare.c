/* Cloudflare Workers AI adaptor: chat and embeddings through Workers AI's OpenAI endpoints,
 * legacy completions through the native /ai/run/{model} endpoint and its envelope. */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/cloudflare.h"
#include "providers/provider.h"
#include "providers/registry.h"

#define CF_GATEWAY_PREFIX "https://gateway.ai.cloudflare.com"
#define CF_GATEWAY_SUFFIX "/workers-ai"

/* Native stream state, in the request arena (ctx->state). */
struct cf_stream {
    const char *id;    /* "cmpl-..." of every chunk */
    const char *model; /* the model the client is shown */
};

static int is_gateway(const char *base)
{
    size_t bl = strlen(base), sl = strlen(CF_GATEWAY_SUFFIX);
    return !strncmp(base, CF_GATEWAY_PREFIX, strlen(CF_GATEWAY_PREFIX)) && bl >= sl &&
           !strcmp(base + bl - sl, CF_GATEWAY_SUFFIX);
}

const char *cloudflare_url(struct prov_ctx *ctx, const char *task, struct prov_error *err)
{
    const char *base = ctx->ch->base_url;
    /* The gateway's base names the account already, and its native path has no "/run". */
    if (is_gateway(base))
        return task ? arena_printf(ctx->a, "%s/v1%s", base, task)
                    : arena_printf(ctx->a, "%s/%s", base, ctx->model);
    const char *id = prov_config_str(ctx, "user_id");
    if (!id) {
        prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                  "the Cloudflare channel needs its account id in config.user_id");
        return NULL;
    }
    return task ? arena_printf(ctx->a, "%s/client/v4/accounts/%s/ai/v1%s", base, id, task)
                : arena_printf(ctx->a, "%s/client/v4/accounts/%s/ai/run/%s", base, id, ctx->model);
}

/* --- requests --- */

/* A chat stream asks the upstream for its usage, so the gateway bills what Cloudflare
 * counted; the OpenAI adaptor keeps the usage chunk from clients that did not ask. */
static void ask_stream_usage(struct prov_ctx *ctx)
{
    json_object *so = jget(ctx->req, "stream_options");
    if (!ctx->is_stream || !json_object_is_type(ctx->req, json_type_object) ||
        json_object_get_boolean(jget(so, "include_usage")))
        return;
    json_object *copy = jcopy(ctx->req);
    so = jget(copy, "stream_options");
    if (!json_object_is_type(so, json_type_object)) {
        so = jnew_obj();
        json_object_object_add(copy, "stream_options", so);
    }
    json_object_object_add(so, "include_usage", json_object_new_boolean(1));
    ctx->body = jdump(ctx->a, copy, &ctx->body_len);
    json_object_put(copy);
}

/* The native body of a legacy completion: the prompt (a string, or an array of one) and the
 * sampling settings Workers AI shares with OpenAI. */
static int native_body(struct prov_ctx *ctx, struct strbuf *out, struct prov_error *err)
{
    static const char *const nums[] = {"max_tokens",        "temperature",      "top_p", "top_k",
                                       "frequency_penalty", "presence_penalty", "seed"};
    json_object *prompt = jget(ctx->req, "prompt");
    if (json_object_is_type(prompt, json_type_array) && json_object_array_length(prompt) == 1)
        prompt = json_object_array_get_idx(prompt, 0);
    if (!json_object_is_type(prompt, json_type_string))
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", "prompt",
                         "this channel takes one prompt string");
    json_object *body = jnew_obj();
    json_object_object_add(body, "prompt", jcopy(prompt));
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        json_object *v = jget(ctx->req, nums[i]);
        if (jis_num(v))
            json_object_object_add(body, nums[i], jcopy(v));
    }
    json_object_object_add(body, "stream", json_object_new_boolean(ctx->is_stream));
    jput(out, body);
    json_object_put(body);
    return 0;
}

static int cf_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (ctx->mode == RELAY_CHAT || ctx->mode == RELAY_EMBEDDINGS) {
        if (ctx->mode == RELAY_CHAT)
            ask_stream_usage(ctx);
        return provider_build_request(&provider_openai, ctx, out, err);
    }
    if (ctx->mode != RELAY_COMPLETIONS)
        return prov_fail(err, 500, "one_api_error", "do_request_failed", NULL,
                         "unsupported relay mode");
    if (strpbrk(ctx->ch->key, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key contains a line break");
    struct strbuf b;
    sb_init(&b, ctx->a);
    if (native_body(ctx, &b, err) < 0)
        return -1;
    out->url = cloudflare_url(ctx, NULL, err);
    if (!out->url)
        return -1;
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", ctx->ch->key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    if (ctx->is_stream)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    out->body = b.p;
    out->body_len = b.len;
    return 0;
}

/* --- errors --- */

/* Cloudflare's envelope error in root (errors[0], or "success": false): 0 with err filled,
 * -1 when root holds none. */
static int envelope_error(struct prov_ctx *ctx, json_object *root, int status,
                          struct prov_error *err)
{
    json_object *errors = jget(root, "errors");
    json_object *e =
        json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0
            ? json_object_array_get_idx(errors, 0)
            : NULL;
    json_object *success = jget(root, "success");
    int failed =
        json_object_is_type(success, json_type_boolean) && !json_object_get_boolean(success);
    if (!e && !failed)
        return -1;
    const char *msg = jstr(e, "message");
    json_object *code = jget(e, "code");
    prov_fail(err, status, "upstream_error",
              code ? arena_strdup(ctx->a, json_object_get_string(code)) : "cloudflare_error",
              arena_printf(ctx->a, "%d", status),
              msg && *msg ? arena_strdup(ctx->a, msg)
                          : arena_printf(ctx->a, "bad response status code %d", status));
    return 0;
}

static void cf_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    /* OpenAI-shaped errors of the compatible endpoints are read as for any OpenAI upstream. */
    if (!root || jget(root, "error") || envelope_error(ctx, root, status, err) < 0)
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(root);
}

/* --- native answers --- */

/* Reads result.usage (when Cloudflare reports one) into ctx->usage. */
static void take_usage(struct prov_ctx *ctx, json_object *u)
{
    int64_t p = jint(u, "prompt_tokens"), c = jint(u, "completion_tokens");
    if (!json_object_is_type(u, json_type_object) || (!p && !c))
        return;
    ctx->usage.prompt_tokens = p;
    ctx->usage.completion_tokens = c;
    ctx->usage.has_usage = 1;
}

static json_object *completion_head(const char *id, const struct prov_ctx *ctx)
{
    json_object *o = jnew_obj();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "object", json_object_new_string("text_completion"));
    json_object_object_add(o, "created", json_object_new_int64(ctx->created));
    json_object_object_add(o, "model", json_object_new_string(prov_answer_model(ctx)));
    return o;
}

/* A text_completion choice; finish NULL writes null. A new reference. */
static json_object *completion_choice(const char *text, size_t n, const char *finish)
{
    json_object *c = jnew_obj();
    json_object_object_add(c, "text", prov_str_new(text, n));
    json_object_object_add(c, "index", json_object_new_int(0));
    json_object_object_add(c, "logprobs", NULL);
    json_object_object_add(c, "finish_reason", finish ? json_object_new_string(finish) : NULL);
    return c;
}

static int cf_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    if (ctx->mode != RELAY_COMPLETIONS)
        return provider_parse_response(&provider_openai, ctx, body, n, out, err);
    json_object *root = prov_parse_object(body, n);
    if (!root)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "the upstream answered with malformed JSON");
    json_object *result = jget(root, "result");
    json_object *resp = jget(result, "response");
    if (!json_object_is_type(resp, json_type_string)) {
        if (envelope_error(ctx, root, 500, err) < 0)
            prov_fail(err, 500, "upstream_error", "bad_response_body", NULL,
                      "the upstream answered without a response");
        json_object_put(root);
        return -1;
    }
    const char *t = json_object_get_string(resp);
    size_t tlen = (size_t)json_object_get_string_len(resp);
    sb_putn(&ctx->text, t, tlen);
    take_usage(ctx, jget(result, "usage"));
    json_object *res = completion_head(
        arena_printf(ctx->a, "cmpl-%s", ctx->request_id ? ctx->request_id : ""), ctx);
    json_object *choices = jnew_arr();
    json_object_array_add(choices, completion_choice(t, tlen, "stop"));
    json_object_object_add(res, "choices", choices);
    if (ctx->usage.has_usage)
        json_object_object_add(res, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
    jput(out, res);
    json_object_put(res);
    json_object_put(root);
    return 0;
}

static void put_event(struct strbuf *out, json_object *o)
{
    SB_LIT(out, "data: ");
    jput(out, o);
    SB_LIT(out, "\n\n");
    json_object_put(o);
}

/* The closing chunk (finish_reason stop) and, when asked for and known, the usage chunk. */
static void native_finish(struct prov_ctx *ctx, struct cf_stream *st, struct strbuf *out)
{
    json_object *c = completion_head(st->id, ctx), *choices = jnew_arr();
    json_object_array_add(choices, completion_choice("", 0, "stop"));
    json_object_object_add(c, "choices", choices);
    put_event(out, c);
    if (ctx->include_usage && ctx->usage.has_usage) {
        json_object *u = completion_head(st->id, ctx);
        json_object_object_add(u, "choices", jnew_arr());
        json_object_object_add(u, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
        put_event(out, u);
    }
    ctx->finished = 1;
}

static int cf_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    if (ctx->mode != RELAY_COMPLETIONS)
        return provider_parse_event(&provider_openai, ctx, event, data, n, out, err);
    struct cf_stream *st = ctx->state;
    if (!st) {
        st = arena_calloc(ctx->a, 1, sizeof *st);
        st->id = arena_printf(ctx->a, "cmpl-%s", ctx->request_id ? ctx->request_id : "");
        ctx->state = st;
    }
    if (!data || (n == 6 && !memcmp(data, "[DONE]", 6))) {
        if (!ctx->finished)
            native_finish(ctx, st, out);
        return 0;
    }
    json_object *ev = prov_parse_object(data, n);
    if (!ev)
        return 0; /* keep-alives and anything else that is not an event */
    json_object *resp = jget(ev, "response");
    if (!json_object_is_type(resp, json_type_string)) {
        int rc = envelope_error(ctx, ev, 500, err);
        if (rc < 0)
            take_usage(ctx, jget(ev, "usage"));
        json_object_put(ev);
        return rc == 0 ? -1 : 0;
    }
    take_usage(ctx, jget(ev, "usage"));
    const char *t = json_object_get_string(resp);
    size_t tlen = (size_t)json_object_get_string_len(resp);
    if (tlen) {
        sb_putn(&ctx->text, t, tlen);
        json_object *c = completion_head(st->id, ctx), *choices = jnew_arr();
        json_object_array_add(choices, completion_choice(t, tlen, NULL));
        json_object_object_add(c, "choices", choices);
        put_event(out, c);
    }
    json_object_put(ev);
    return 0;
}

const struct provider provider_cloudflare = {
    .name = "cloudflare",
    .build_request = cf_build_request,
    .parse_response = cf_parse_response,
    .parse_event = cf_parse_event,
    .parse_error = cf_parse_error,
};
