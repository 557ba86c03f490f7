/* PaLM 2 adaptor: OpenAI chat to and from generateMessage. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/palm.h"
#include "providers/provider.h"

/* The text of one message's content: a string, or the text parts of an array, concatenated. */
static void palm_content_text(json_object *content, struct strbuf *out)
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

/* Copies the client's field from (a number) into body as to. */
static void palm_copy_num(json_object *req, const char *from, json_object *body, const char *to)
{
    json_object *v = jget(req, from);
    if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
        json_object_object_add(body, to, json_object_get(v));
}

static int palm_build_request(struct prov_ctx *ctx, struct prov_request *out,
                              struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT)
        return prov_fail(err, 400, "invalid_request_error", "unsupported_mode", NULL,
                         "PaLM channels serve chat completions only");
    json_object *msgs = jget(ctx->req, "messages");
    size_t n = json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
    json_object *body = jnew_obj(), *prompt = jnew_obj(), *list = jnew_arr();
    struct strbuf context;
    sb_init(&context, ctx->a);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = jstr(m, "role");
        struct strbuf text;
        sb_init(&text, ctx->a);
        palm_content_text(jget(m, "content"), &text);
        if (role && !strcmp(role, "system")) {
            if (context.len)
                SB_LIT(&context, "\n");
            sb_putn(&context, text.p ? text.p : "", text.len);
            continue;
        }
        json_object *pm = jnew_obj();
        json_object_object_add(pm, "author",
                               json_object_new_string(role && !strcmp(role, "user") ? "0" : "1"));
        json_object_object_add(pm, "content", prov_str_new(text.p, text.len));
        json_object_array_add(list, pm);
    }
    if (context.len)
        json_object_object_add(prompt, "context", prov_str_new(context.p, context.len));
    json_object_object_add(prompt, "messages", list);
    json_object_object_add(body, "prompt", prompt);
    palm_copy_num(ctx->req, "temperature", body, "temperature");
    palm_copy_num(ctx->req, "n", body, "candidateCount");
    palm_copy_num(ctx->req, "top_p", body, "topP");
    palm_copy_num(ctx->req, "top_k", body, "topK");
    struct strbuf b;
    sb_init(&b, ctx->a);
    jput(&b, body);
    json_object_put(body);

    out->url =
        arena_printf(ctx->a, "%s/v1beta2/models/chat-bison-001:generateMessage", ctx->ch->base_url);
    out->headers[out->n_headers++] = arena_printf(ctx->a, "x-goog-api-key: %s", ctx->ch->key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->body = b.p;
    out->body_len = b.len;
    return 0;
}

/* Google's error object inside a 2xx body or an error answer: 0 when root holds one. */
static int palm_error_from(struct prov_ctx *ctx, json_object *root, int status,
                           struct prov_error *err)
{
    json_object *e = jget(root, "error");
    const char *msg = jstr(e, "message");
    if (!msg || !*msg)
        return -1;
    const char *code = jstr(e, "status");
    prov_fail(err, status, "upstream_error", code ? arena_strdup(ctx->a, code) : NULL,
              arena_printf(ctx->a, "%d", status), arena_strdup(ctx->a, msg));
    return 0;
}

static int palm_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                               struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    if (!root)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "the upstream answered with malformed JSON");
    if (jget(root, "error")) {
        int rc = palm_error_from(ctx, root, 500, err);
        json_object_put(root);
        return rc == 0 ? -1 : prov_fail(err, 500, "upstream_error", NULL, NULL, "PaLM error");
    }
    json_object *cands = jget(root, "candidates");
    size_t nc = json_object_is_type(cands, json_type_array) ? json_object_array_length(cands) : 0;
    const char *id = arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
    struct prov_chunk c = {id, prov_answer_model(ctx), ctx->created, ctx->include_usage};
    json_object *choices = NULL;
    json_object *res =
        ctx->is_stream ? NULL
                       : prov_completion_new(id, ctx->created, prov_answer_model(ctx), &choices);
    /* No candidate means the prompt was filtered: one empty choice says so. */
    size_t nchoice = nc ? nc : 1;
    const char *finish = nc ? "stop" : "content_filter";
    for (size_t i = 0; i < nchoice; i++) {
        json_object *text = nc ? jget(json_object_array_get_idx(cands, i), "content") : NULL;
        const char *t =
            json_object_is_type(text, json_type_string) ? json_object_get_string(text) : "";
        size_t tlen = strlen(t);
        sb_putn(&ctx->text, t, tlen);
        if (ctx->is_stream) {
            json_object *delta = jnew_obj();
            json_object_object_add(delta, "role", json_object_new_string("assistant"));
            json_object_object_add(delta, "content", prov_str_new(t, tlen));
            prov_chunk_put(out, &c, (int)i, delta, finish);
            json_object_put(delta);
        } else {
            json_object_array_add(choices, prov_choice_new((int64_t)i, "message",
                                                           prov_message_new(t, tlen, NULL, 0, NULL),
                                                           finish));
        }
    }
    if (res) {
        jput(out, res);
        json_object_put(res);
    }
    ctx->finished = 1;
    json_object_put(root);
    return 0;
}

/* PaLM never streams: the whole answer is converted by parse_response. */
static int palm_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
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

static void palm_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                             struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    if (!root || palm_error_from(ctx, root, status, err) != 0)
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(root);
}

const struct provider provider_palm = {
    .name = "palm",
    .build_request = palm_build_request,
    .parse_response = palm_parse_response,
    .parse_event = palm_parse_event,
    .parse_error = palm_parse_error,
    .is_stream_emulated = 1,
};
