/* Coze v2 chat adaptor: an OpenAI chat request becomes one /open_api/v2/chat call. */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/coze.h"
#include "providers/provider.h"

/* One API's convention for model names that name a bot. */
#define COZE_BOT_PREFIX "bot-"
/* The user Coze sees when neither the channel nor the request names one. */
#define COZE_DEFAULT_USER "oneapi-user"
/* Coze's error code for too many requests. */
#define COZE_RATE_LIMITED 4013

/* Stream state, in the request arena (ctx->state). */
struct coze_stream {
    struct prov_chunk chunk; /* id, model and created of every chunk */
    int is_role_sent;        /* the assistant role went out with a delta */
};

/* --- request --- */

/* config.user_id, else the request's user, else the default; in ctx->a. */
static const char *coze_user(struct prov_ctx *ctx)
{
    const char *u = prov_config_str(ctx, "user_id");
    if (!u) {
        u = jstr(ctx->req, "user");
        u = u && *u ? u : COZE_DEFAULT_USER;
    }
    return u;
}

static int coze_build_request(struct prov_ctx *ctx, struct prov_request *out,
                              struct prov_error *err)
{
    const char *model = ctx->model ? ctx->model : "";
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    if (ctx->mode != RELAY_CHAT)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", NULL,
                         "this relay mode is not supported by this channel");
    /* A line break in the key would smuggle extra headers into the upstream request. */
    if (strpbrk(key, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key contains a line break");
    json_object *msgs = jget(ctx->req, "messages");
    size_t n = json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
    if (!n)
        return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", "messages",
                         "messages must be a non-empty array");
    if (!strncmp(model, COZE_BOT_PREFIX, strlen(COZE_BOT_PREFIX)))
        model += strlen(COZE_BOT_PREFIX);

    json_object *body = jnew_obj(), *history = jnew_arr();
    json_object_object_add(body, "bot_id", json_object_new_string(model));
    json_object_object_add(body, "user", json_object_new_string(coze_user(ctx)));
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *text = prov_content_text(ctx->a, jget(m, "content"));
        if (i == n - 1) {
            json_object_object_add(body, "query", json_object_new_string(text));
            break;
        }
        const char *role = jstr(m, "role");
        json_object *turn = jnew_obj();
        json_object_object_add(turn, "role", json_object_new_string(role ? role : "user"));
        json_object_object_add(turn, "content", json_object_new_string(text));
        json_object_object_add(turn, "content_type", json_object_new_string("text"));
        json_object_array_add(history, turn);
    }
    if (json_object_array_length(history))
        json_object_object_add(body, "chat_history", history);
    else
        json_object_put(history);
    json_object_object_add(body, "stream", json_object_new_boolean(ctx->is_stream));

    out->url = arena_printf(ctx->a, "%s/open_api/v2/chat", ctx->ch->base_url);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    return 0;
}

/* --- errors --- */

/* Fills err from Coze's {code, msg} in o when the code is not 0: 0, else -1. status is the
 * upstream's when it failed, 0 for an error inside a 2xx answer. */
static int coze_error(struct prov_ctx *ctx, json_object *o, int status, struct prov_error *err)
{
    json_object *code = jget(o, "code");
    int64_t c = json_object_get_int64(code);
    if (!code || !c)
        return -1;
    const char *msg = jstr(o, "msg");
    if (c == COZE_RATE_LIMITED)
        status = 429;
    else if (status < 300)
        status = 500;
    prov_fail(err, status, "upstream_error", arena_printf(ctx->a, "%lld", (long long)c),
              arena_printf(ctx->a, "%d", status),
              msg && *msg ? arena_strdup(ctx->a, msg)
                          : arena_printf(ctx->a, "Coze error %lld", (long long)c));
    return 0;
}

static void coze_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                             struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    if (!root || coze_error(ctx, root, status, err) < 0)
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(root);
}

/* --- answers --- */

static const char *chunk_id(struct prov_ctx *ctx, const char *conversation_id)
{
    return conversation_id && *conversation_id
               ? arena_printf(ctx->a, "chatcmpl-%s", conversation_id)
               : arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
}

static int coze_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                               struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    if (!root)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "the upstream answered with malformed JSON");
    if (coze_error(ctx, root, 0, err) == 0) {
        json_object_put(root);
        return -1;
    }
    json_object *msgs = jget(root, "messages");
    const char *text = "";
    size_t tlen = 0;
    for (size_t i = 0;
         json_object_is_type(msgs, json_type_array) && i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *c = jget(m, "content");
        const char *type = jstr(m, "type");
        if (type && !strcmp(type, "answer") && json_object_is_type(c, json_type_string)) {
            text = json_object_get_string(c);
            tlen = (size_t)json_object_get_string_len(c);
            break;
        }
    }
    sb_putn(&ctx->text, text, tlen);
    json_object *choices;
    json_object *res = prov_completion_new(chunk_id(ctx, jstr(root, "conversation_id")),
                                           ctx->created, prov_answer_model(ctx), &choices);
    json_object_array_add(
        choices,
        prov_choice_new(0, "message", prov_message_new(text, tlen, NULL, 0, NULL), "stop"));
    jput(out, res);
    json_object_put(res);
    json_object_put(root);
    return 0;
}

/* --- streaming --- */

static void finish(struct prov_ctx *ctx, struct coze_stream *st, struct strbuf *out)
{
    json_object *delta = jnew_obj();
    if (!st->is_role_sent)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    prov_chunk_put(out, &st->chunk, 0, delta, "stop");
    json_object_put(delta);
    ctx->finished = 1;
}

static void on_message(struct prov_ctx *ctx, struct coze_stream *st, json_object *ev,
                       struct strbuf *out)
{
    json_object *m = jget(ev, "message"), *c = jget(m, "content");
    const char *type = jstr(m, "type");
    if (!type || strcmp(type, "answer") || !json_object_is_type(c, json_type_string) ||
        !json_object_get_string_len(c))
        return;
    if (!st->is_role_sent) {
        /* Every chunk of a stream carries the same id: take the conversation's now. */
        st->chunk.id = chunk_id(ctx, jstr(ev, "conversation_id"));
    }
    json_object *delta = jnew_obj();
    if (!st->is_role_sent)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    json_object_object_add(delta, "content", json_object_get(c));
    prov_chunk_put(out, &st->chunk, 0, delta, NULL);
    json_object_put(delta);
    st->is_role_sent = 1;
    sb_putn(&ctx->text, json_object_get_string(c), (size_t)json_object_get_string_len(c));
}

static int coze_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                            struct strbuf *out, struct prov_error *err)
{
    struct coze_stream *st = ctx->state;
    (void)event;
    if (!st) {
        st = arena_calloc(ctx->a, 1, sizeof *st);
        st->chunk.id = chunk_id(ctx, NULL);
        st->chunk.model = prov_answer_model(ctx);
        st->chunk.created = ctx->created;
        st->chunk.usage_null = ctx->include_usage;
        ctx->state = st;
    }
    if (!data) {
        /* Closed without "done": clients still wait for a finish_reason. */
        if (!ctx->finished)
            finish(ctx, st, out);
        return 0;
    }
    json_object *ev = prov_parse_object(data, n);
    if (!ev)
        return 0; /* not an event: nothing to forward */
    const char *type = jstr(ev, "event");
    int rc = 0;
    if (!type) {
        if (coze_error(ctx, ev, 500, err) == 0)
            rc = -1;
    } else if (!strcmp(type, "message")) {
        on_message(ctx, st, ev, out);
    } else if (!strcmp(type, "done")) {
        finish(ctx, st, out);
    } else if (!strcmp(type, "error")) {
        if (coze_error(ctx, jget(ev, "error_information"), 500, err) < 0)
            prov_fail(err, 500, "upstream_error", NULL, NULL, "the Coze stream failed");
        rc = -1;
    }
    json_object_put(ev);
    return rc;
}

const struct provider provider_coze = {
    .name = "coze",
    .build_request = coze_build_request,
    .parse_response = coze_parse_response,
    .parse_event = coze_parse_event,
    .parse_error = coze_parse_error,
};
