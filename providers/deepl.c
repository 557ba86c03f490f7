/* DeepL adaptor: an OpenAI chat request becomes one /v2/translate call. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/deepl.h"
#include "providers/provider.h"

/* The host of DeepL's Pro plan; the free plan's is the channel type's default base URL. */
#define DEEPL_PRO_BASE "https://api.deepl.com"

/* The text of one message's content: a string, or the text parts of an array, concatenated. */
static void deepl_content_text(json_object *content, struct strbuf *out)
{
    if (json_object_is_type(content, json_type_string)) {
        sb_putn(out, json_object_get_string(content), (size_t)json_object_get_string_len(content));
        return;
    }
    if (!json_object_is_type(content, json_type_array))
        return;
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = jstr(part, "type");
        json_object *text = jget(part, "text");
        if (type && !strcmp(type, "text") && json_object_is_type(text, json_type_string))
            sb_putn(out, json_object_get_string(text), (size_t)json_object_get_string_len(text));
    }
}

/* The source text: the last message's text only, as DeepL translates one text. */
static void deepl_source(const struct prov_ctx *ctx, struct strbuf *out)
{
    json_object *msgs = jget(ctx->req, "messages");
    size_t n = json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
    if (n)
        deepl_content_text(jget(json_object_array_get_idx(msgs, n - 1), "content"), out);
}

/* UTF-8 code points in s: DeepL bills characters, not bytes. */
static int64_t deepl_chars(const char *s, size_t n)
{
    int64_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static int deepl_build_request(struct prov_ctx *ctx, struct prov_request *out,
                               struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT)
        return prov_fail(err, 400, "invalid_request_error", "unsupported_mode", NULL,
                         "DeepL channels serve chat completions only");
    const char *dash = ctx->model ? strchr(ctx->model, '-') : NULL;
    const char *lang = dash && dash[1] ? dash + 1 : "ZH";
    struct strbuf text;
    sb_init(&text, ctx->a);
    deepl_source(ctx, &text);

    json_object *body = jnew_obj(), *texts = jnew_arr();
    json_object_array_add(texts, prov_str_new(text.p, text.len));
    json_object_object_add(body, "text", texts);
    json_object_object_add(body, "target_lang", json_object_new_string(lang));
    struct strbuf b;
    sb_init(&b, ctx->a);
    jput(&b, body);
    json_object_put(body);

    /* Free-plan keys end in ":fx" and work only on the free host, which is the type's
     * default; any other key is a Pro key, which the free host refuses with a 403. */
    const char *key = ctx->ch->key;
    size_t klen = strlen(key);
    int is_free = klen >= 3 && !strcmp(key + klen - 3, ":fx");
    const char *base = ctx->ch->is_default_base && !is_free ? DEEPL_PRO_BASE : ctx->ch->base_url;
    out->url = arena_printf(ctx->a, "%s/v2/translate", base);
    out->headers[out->n_headers++] =
        arena_printf(ctx->a, "Authorization: DeepL-Auth-Key %s", ctx->ch->key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->body = b.p;
    out->body_len = b.len;
    return 0;
}

static int deepl_parse_response(struct prov_ctx *ctx, const char *body, size_t n,
                                struct strbuf *out, struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    json_object *trs = jget(root, "translations");
    json_object *text =
        json_object_is_type(trs, json_type_array) && json_object_array_length(trs) > 0
            ? jget(json_object_array_get_idx(trs, 0), "text")
            : NULL;
    if (!json_object_is_type(text, json_type_string)) {
        json_object_put(root);
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "the upstream answered without a translation");
    }
    const char *t = json_object_get_string(text);
    size_t tlen = (size_t)json_object_get_string_len(text);
    sb_putn(&ctx->text, t, tlen);

    struct strbuf src;
    sb_init(&src, ctx->a);
    deepl_source(ctx, &src);
    ctx->usage.prompt_tokens = deepl_chars(src.p, src.len);
    ctx->usage.completion_tokens = 0;
    ctx->usage.has_usage = 1;
    ctx->finished = 1;

    const char *id = arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
    json_object *usage = prov_usage_new(&ctx->usage, 0, 0, 0);
    if (ctx->is_stream) {
        struct prov_chunk c = {id, prov_answer_model(ctx), ctx->created, ctx->include_usage};
        json_object *delta = jnew_obj();
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
        json_object_object_add(delta, "content", prov_str_new(t, tlen));
        prov_chunk_put(out, &c, 0, delta, "stop");
        json_object_put(delta);
        if (ctx->include_usage)
            prov_chunk_usage(out, &c, usage);
    } else {
        json_object *choices;
        json_object *res = prov_completion_new(id, ctx->created, prov_answer_model(ctx), &choices);
        json_object_array_add(
            choices,
            prov_choice_new(0, "message", prov_message_new(t, tlen, NULL, 0, NULL), "stop"));
        json_object_object_add(res, "usage", json_object_get(usage));
        jput(out, res);
        json_object_put(res);
    }
    json_object_put(usage);
    json_object_put(root);
    return 0;
}

/* DeepL never streams: the whole answer is converted by parse_response. */
static int deepl_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                             struct strbuf *out, struct prov_error *err)
{
    (void)event;
    (void)data;
    (void)n;
    (void)out;
    (void)err;
    ctx->finished = 1;
    return 0;
}

static void deepl_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                              struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    const char *msg = root ? prov_error_message(root) : NULL;
    if (msg)
        prov_fail(err, status, "upstream_error", "deepl_error", arena_printf(ctx->a, "%d", status),
                  arena_strdup(ctx->a, msg));
    else
        prov_fail_status(err, ctx->a, status);
    json_object_put(root);
}

const struct provider provider_deepl = {
    .name = "deepl",
    .build_request = deepl_build_request,
    .parse_response = deepl_parse_response,
    .parse_event = deepl_parse_event,
    .parse_error = deepl_parse_error,
    .is_stream_emulated = 1,
};
