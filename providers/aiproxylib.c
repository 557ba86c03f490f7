/* AI Proxy Library adaptor: an OpenAI chat request becomes one /api/library/ask question. */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/aiproxylib.h"
#include "providers/provider.h"

/* Stream state, in the request arena (ctx->state). */
struct lib_stream {
    struct prov_chunk chunk; /* id, model and created of every chunk */
    json_object *documents;  /* the last documents seen (the arena owns them), or NULL */
    int is_role_sent;        /* the assistant role went out with a delta */
};

/* config.library_id, else the legacy column; "" when neither is set. In ctx->a. */
static const char *library_id(struct prov_ctx *ctx)
{
    const char *id = prov_config_str(ctx, "library_id");
    return id ? id : (ctx->ch->api_version ? ctx->ch->api_version : "");
}

static int lib_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    if (ctx->mode != RELAY_CHAT)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", NULL,
                         "this relay mode is not supported by this channel");
    if (strpbrk(key, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key contains a line break");
    const char *lib = library_id(ctx);
    if (!*lib)
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the AI Proxy Library channel needs config.library_id");
    json_object *msgs = jget(ctx->req, "messages");
    size_t n = json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
    if (!n)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", "messages",
                         "messages must be a non-empty array");
    const char *query =
        prov_content_text(ctx->a, jget(json_object_array_get_idx(msgs, n - 1), "content"));

    json_object *body = jnew_obj();
    json_object_object_add(body, "model", json_object_new_string(ctx->model ? ctx->model : ""));
    json_object_object_add(body, "query", json_object_new_string(query));
    json_object_object_add(body, "libraryId", json_object_new_string(lib));
    json_object_object_add(body, "stream", json_object_new_boolean(ctx->is_stream));
    out->url = arena_printf(ctx->a, "%s/api/library/ask", ctx->ch->base_url);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    return 0;
}

/* Fills err from {errCode, message} in o when errCode is not 0: 0, else -1. status is the
 * upstream's when it failed, 0 for an error inside a 2xx answer. */
static int lib_error(struct prov_ctx *ctx, json_object *o, int status, struct prov_error *err)
{
    int64_t c = jint(o, "errCode");
    if (!c)
        return -1;
    if (status < 300)
        status = 500;
    const char *msg = jstr(o, "message");
    prov_fail(err, status, "upstream_error", arena_printf(ctx->a, "%lld", (long long)c),
              arena_printf(ctx->a, "%d", status),
              msg && *msg ? arena_strdup(ctx->a, msg)
                          : arena_printf(ctx->a, "AI Proxy Library error %lld", (long long)c));
    return 0;
}

static void lib_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                            struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    if (!root || lib_error(ctx, root, status, err) < 0)
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(root);
}

/* Appends the documents as One API lists them after an answer; nothing when there are none. */
static void put_documents(struct strbuf *out, json_object *docs)
{
    size_t n = json_object_is_type(docs, json_type_array) ? json_object_array_length(docs) : 0;
    if (!n)
        return;
    sb_puts(out, "\n\n参考文档：\n");
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(docs, i);
        const char *title = jstr(d, "title"), *url = jstr(d, "url");
        sb_printf(out, "%zu. [%s](%s)\n", i + 1, title ? title : "", url ? url : "");
    }
}

static int lib_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                              struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    if (!root)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "the upstream answered with malformed JSON");
    if (lib_error(ctx, root, 0, err) == 0) {
        json_object_put(root);
        return -1;
    }
    struct strbuf text;
    sb_init(&text, ctx->a);
    const char *answer = jstr(root, "answer");
    sb_puts(&text, answer ? answer : "");
    put_documents(&text, jget(root, "documents"));
    sb_putn(&ctx->text, text.p ? text.p : "", text.len);
    json_object *choices;
    json_object *res = prov_completion_new(
        arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : ""), ctx->created,
        prov_answer_model(ctx), &choices);
    json_object_array_add(
        choices,
        prov_choice_new(0, "message",
                        prov_message_new(text.p ? text.p : "", text.len, NULL, 0, NULL), "stop"));
    jput(out, res);
    json_object_put(res);
    json_object_put(root);
    return 0;
}

/* Writes one chunk; an empty text with no finish is skipped. */
static void put_delta(struct prov_ctx *ctx, struct lib_stream *st, const char *text, size_t n,
                      const char *finish, struct strbuf *out)
{
    if (!n && !finish)
        return;
    json_object *delta = jnew_obj();
    if (!st->is_role_sent)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    if (n)
        json_object_object_add(delta, "content", prov_str_new(text, n));
    prov_chunk_put(out, &st->chunk, 0, delta, finish);
    json_object_put(delta);
    st->is_role_sent = 1;
    sb_putn(&ctx->text, text, n);
}

static void finish(struct prov_ctx *ctx, struct lib_stream *st, struct strbuf *out)
{
    struct strbuf docs;
    sb_init(&docs, ctx->a);
    put_documents(&docs, st->documents);
    put_delta(ctx, st, docs.p ? docs.p : "", docs.len, "stop", out);
    ctx->finished = 1;
}

static int lib_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                           struct strbuf *out, struct prov_error *err)
{
    struct lib_stream *st = ctx->state;
    (void)event;
    if (!st) {
        st = arena_calloc(ctx->a, 1, sizeof *st);
        st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
        st->chunk.model = prov_answer_model(ctx);
        st->chunk.created = ctx->created;
        st->chunk.usage_null = ctx->include_usage;
        ctx->state = st;
    }
    if (!data || (n == 6 && !memcmp(data, "[DONE]", 6))) {
        if (!ctx->finished)
            finish(ctx, st, out);
        return 0;
    }
    json_object *ev = prov_parse_object(data, n);
    if (!ev)
        return 0;
    if (lib_error(ctx, ev, 500, err) == 0) {
        json_object_put(ev);
        return -1;
    }
    json_object *docs = jget(ev, "documents"), *c = jget(ev, "content");
    if (json_object_is_type(docs, json_type_array) && json_object_array_length(docs))
        st->documents = jown(ctx->a, json_object_get(docs));
    if (json_object_is_type(c, json_type_string))
        put_delta(ctx, st, json_object_get_string(c), (size_t)json_object_get_string_len(c), NULL,
                  out);
    if (json_object_get_boolean(jget(ev, "finish")))
        finish(ctx, st, out);
    json_object_put(ev);
    return 0;
}

const struct provider provider_aiproxylib = {
    .name = "aiproxylib",
    .build_request = lib_build_request,
    .parse_response = lib_parse_response,
    .parse_event = lib_parse_event,
    .parse_error = lib_parse_error,
};
