/* Cohere v1 chat adaptor: OpenAI chat requests to /v1/chat and the answers back. */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/cohere.h"
#include "providers/provider.h"

/* Default base URL of channel type 35, used when the core hands us an empty one. */
#define COHERE_BASE_URL "https://api.cohere.ai"
/* Cohere's model when the request names none. */
#define COHERE_DEFAULT_MODEL "command-r"
/* One API's convention: this model suffix asks for answers grounded in a web search. */
#define COHERE_INTERNET_SUFFIX "-internet"

/* Cohere finish reasons with an OpenAI counterpart; others map to "stop". */
static const struct {
    const char *from, *to;
} finish_map[] = {
    {"COMPLETE", "stop"},      {"STOP_SEQUENCE", "stop"},         {"MAX_TOKENS", "length"},
    {"ERROR_LIMIT", "length"}, {"ERROR_TOXIC", "content_filter"},
};

/* Stream state, in the request arena (ctx->state). */
struct cohere_stream {
    struct prov_chunk chunk; /* id, model and created of every chunk */
    int is_role_sent;        /* the assistant role chunk went out */
    int n_tools;             /* tool calls sent so far (their OpenAI indexes) */
};

static const char *map_finish(const char *reason, int has_tools)
{
    if (has_tools)
        return "tool_calls";
    if (reason)
        for (size_t i = 0; i < sizeof finish_map / sizeof *finish_map; i++)
            if (!strcmp(reason, finish_map[i].from))
                return finish_map[i].to;
    /* Unknown (newer) reasons would break SDKs that check the enum; "stop" is always valid. */
    return "stop";
}

static int bad_request(struct prov_error *err, const char *param, const char *message)
{
    return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", param, message);
}

static int bad_upstream_json(struct prov_error *err)
{
    return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                     "the upstream answered with malformed JSON");
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* --- request: OpenAI chat -> Cohere v1 chat --- */

/* The plain text of an OpenAI content value: a string, or the text parts newline-joined
 * (Cohere v1 takes no images). In a. */
static const char *content_text(struct arena *a, struct json_object *content)
{
    struct strbuf sb;

    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    sb_init(&sb, a);
    for (size_t i = 0;
         json_object_is_type(content, json_type_array) && i < json_object_array_length(content);
         i++) {
        struct json_object *part = json_object_array_get_idx(content, i);
        struct json_object *t = jget(part, "text");
        const char *type = jstr(part, "type");

        if (type && !strcmp(type, "text") && json_object_is_type(t, json_type_string)) {
            if (sb.len)
                sb_putc(&sb, '\n');
            sb_putn(&sb, json_object_get_string(t), (size_t)json_object_get_string_len(t));
        }
    }
    return sb.p ? sb.p : "";
}

/* Fills message, preamble and chat_history of body from the OpenAI messages. */
static int conv_messages(struct prov_ctx *ctx, struct json_object *body, struct prov_error *err)
{
    struct json_object *msgs = jget(ctx->req, "messages");
    struct strbuf preamble;
    int last_user = -1;

    if (!json_object_is_type(msgs, json_type_array))
        return bad_request(err, "messages", "messages must be an array");
    int n = (int)json_object_array_length(msgs);
    for (int i = 0; i < n; i++) {
        const char *role = jstr(json_object_array_get_idx(msgs, i), "role");

        if (role && !strcmp(role, "user"))
            last_user = i;
    }
    if (last_user < 0)
        return bad_request(err, "messages", "a user message is required by this channel");
    sb_init(&preamble, ctx->a);
    struct json_object *history = jnew_arr();
    for (int i = 0; i < n; i++) {
        struct json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = jstr(m, "role");
        const char *text = content_text(ctx->a, jget(m, "content"));

        if (i == last_user) {
            json_object_object_add(body, "message", json_object_new_string(text));
        } else if (role && (!strcmp(role, "system") || !strcmp(role, "developer"))) {
            if (*text && preamble.len)
                sb_putc(&preamble, '\n');
            sb_puts(&preamble, text);
        } else {
            /* Every user turn is kept, not only the last one as One API does. */
            struct json_object *turn = jnew_obj();
            int is_bot = role && !strcmp(role, "assistant");

            json_object_object_add(turn, "role",
                                   json_object_new_string(is_bot ? "CHATBOT" : "USER"));
            json_object_object_add(turn, "message", json_object_new_string(text));
            json_object_array_add(history, turn);
        }
    }
    if (preamble.len)
        json_object_object_add(body, "preamble",
                               json_object_new_string_len(preamble.p, (int)preamble.len));
    if (json_object_array_length(history))
        json_object_object_add(body, "chat_history", history);
    else
        json_object_put(history);
    return 0;
}

/* Copies the number at req[from] to body[to] when the client gave one. */
static void copy_num(struct json_object *req, const char *from, struct json_object *body,
                     const char *to)
{
    struct json_object *v = jget(req, from);

    if (jis_num(v))
        json_object_object_add(body, to, jcopy(v));
}

static void conv_params(struct prov_ctx *ctx, struct json_object *body)
{
    struct json_object *req = ctx->req, *v;

    copy_num(req, "max_completion_tokens", body, "max_tokens");
    copy_num(req, "max_tokens", body, "max_tokens");
    copy_num(req, "temperature", body, "temperature");
    copy_num(req, "top_p", body, "p");
    copy_num(req, "top_k", body, "k");
    copy_num(req, "seed", body, "seed");
    copy_num(req, "frequency_penalty", body, "frequency_penalty");
    copy_num(req, "presence_penalty", body, "presence_penalty");
    struct json_object *stops = jnew_arr();
    v = jget(req, "stop");
    if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v))
        json_object_array_add(stops, jcopy(v));
    for (size_t i = 0; json_object_is_type(v, json_type_array) && i < json_object_array_length(v);
         i++) {
        struct json_object *s = json_object_array_get_idx(v, i);

        if (json_object_is_type(s, json_type_string) && json_object_get_string_len(s))
            json_object_array_add(stops, jcopy(s));
    }
    if (json_object_array_length(stops))
        json_object_object_add(body, "stop_sequences", stops);
    else
        json_object_put(stops);
    json_object_object_add(body, "stream", json_object_new_boolean(ctx->is_stream));
}

static int cohere_build_request(struct prov_ctx *ctx, struct prov_request *out,
                                struct prov_error *err)
{
    const char *base =
        ctx->ch->base_url && *ctx->ch->base_url ? ctx->ch->base_url : COHERE_BASE_URL;
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    const char *model = ctx->model && *ctx->model ? ctx->model : COHERE_DEFAULT_MODEL;
    size_t ml = strlen(model), sl = strlen(COHERE_INTERNET_SUFFIX);
    int is_internet = ml > sl && !strcmp(model + ml - sl, COHERE_INTERNET_SUFFIX);

    if (ctx->mode != RELAY_CHAT)
        return bad_request(err, NULL, "this relay mode is not supported by this channel");
    if (!json_object_is_type(ctx->req, json_type_object))
        return bad_request(err, NULL, "the request body must be a JSON object");
    /* A line break in the key would smuggle extra headers into the upstream request. */
    if (strpbrk(key, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key contains a line break");
    struct json_object *v = jget(ctx->req, "n");
    if (jis_num(v) && json_object_get_int64(v) > 1)
        return bad_request(err, "n", "n > 1 is not supported by this channel");

    struct json_object *body = jnew_obj();
    json_object_object_add(body, "model",
                           json_object_new_string_len(model, (int)(is_internet ? ml - sl : ml)));
    if (conv_messages(ctx, body, err) != 0) {
        json_object_put(body);
        return -1;
    }
    conv_params(ctx, body);
    if (is_internet) {
        struct json_object *conns = jnew_arr(), *c = jnew_obj();

        json_object_object_add(c, "id", json_object_new_string("web-search"));
        json_object_array_add(conns, c);
        json_object_object_add(body, "connectors", conns);
    }
    out->url = arena_printf(ctx->a, "%s/v1/chat", base);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    return 0;
}

/* --- answers --- */

/* Reads the usage of a Cohere response's meta into ctx->usage; 1 when there was one. */
static int usage_fill(struct prov_ctx *ctx, struct json_object *meta)
{
    struct json_object *u = jget(meta, "billed_units");

    if (!json_object_is_type(u, json_type_object))
        u = jget(meta, "tokens");
    if (!json_object_is_type(u, json_type_object))
        return 0;
    ctx->usage.prompt_tokens = jint(u, "input_tokens");
    ctx->usage.completion_tokens = jint(u, "output_tokens");
    ctx->usage.has_usage = 1;
    return 1;
}

/* The OpenAI tool call of Cohere call c (which has no id: "call_<k>" stands in); its
 * arguments also go to ctx->text. A new reference. */
static struct json_object *tool_call(struct prov_ctx *ctx, int index, int k, struct json_object *c)
{
    struct json_object *p = jget(c, "parameters");
    const char *args = p ? jdump(ctx->a, p, NULL) : "{}";

    sb_puts(&ctx->text, args);
    return prov_tool_call_new(index, arena_printf(ctx->a, "call_%d", k), jstr(c, "name"), args);
}

/* An error the upstream put in a 2xx body ({"message": ...} without an answer). */
static int error_in_body(struct prov_ctx *ctx, struct json_object *in, struct prov_error *err)
{
    const char *msg = prov_error_message(in);

    return prov_fail(err, 500, "upstream_error", "bad_response_body", NULL,
                     msg ? arena_strdup(ctx->a, msg) : "the upstream answered without a text");
}

static int cohere_parse_response(struct prov_ctx *ctx, const char *body, size_t n,
                                 struct strbuf *out, struct prov_error *err)
{
    struct json_object *in = prov_parse_object(body, n);

    if (!in)
        return bad_upstream_json(err);
    struct json_object *t = jget(in, "text"), *calls_in = jget(in, "tool_calls");
    if (!json_object_is_type(t, json_type_string) &&
        !json_object_is_type(calls_in, json_type_array)) {
        error_in_body(ctx, in, err);
        json_object_put(in);
        return -1;
    }
    const char *text = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : "";
    size_t text_len =
        json_object_is_type(t, json_type_string) ? (size_t)json_object_get_string_len(t) : 0;
    sb_putn(&ctx->text, text, text_len);
    struct json_object *calls = jnew_arr();
    for (size_t i = 0;
         json_object_is_type(calls_in, json_type_array) && i < json_object_array_length(calls_in);
         i++)
        json_object_array_add(calls,
                              tool_call(ctx, -1, (int)i, json_object_array_get_idx(calls_in, i)));
    int has_tools = json_object_array_length(calls) > 0;

    const char *id = jstr(in, "response_id");
    struct json_object *choices;
    struct json_object *res = prov_completion_new(
        arena_printf(ctx->a, "chatcmpl-%s", id ? id : (ctx->request_id ? ctx->request_id : "")),
        ctx->created, prov_answer_model(ctx), &choices);
    json_object_array_add(
        choices, prov_choice_new(0, "message", prov_message_new(text, text_len, NULL, 0, calls),
                                 map_finish(jstr(in, "finish_reason"), has_tools)));
    if (usage_fill(ctx, jget(in, "meta")))
        json_object_object_add(res, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
    jput(out, res);
    json_object_put(res);
    json_object_put(in);
    return 0;
}

/* --- streaming (NDJSON: one event object per line) --- */

static struct cohere_stream *stream_state(struct prov_ctx *ctx)
{
    struct cohere_stream *st = ctx->state;

    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
    st->chunk.model = prov_answer_model(ctx);
    st->chunk.created = ctx->created;
    ctx->state = st;
    return st;
}

/* The assistant role chunk, once, before any content. */
static void emit_role(struct cohere_stream *st, struct strbuf *out)
{
    if (st->is_role_sent)
        return;
    prov_chunk_open(out, &st->chunk, 0);
    SB_LIT(out, "{\"role\":\"assistant\",\"content\":\"\"}");
    prov_chunk_close(out, &st->chunk, NULL);
    st->is_role_sent = 1;
}

static void on_text(struct prov_ctx *ctx, struct cohere_stream *st, struct json_object *ev,
                    struct strbuf *out)
{
    struct json_object *t = jget(ev, "text");

    if (!json_object_is_type(t, json_type_string) || !json_object_get_string_len(t))
        return;
    emit_role(st, out);
    prov_chunk_open(out, &st->chunk, 0);
    SB_LIT(out, "{\"content\":");
    sb_json_strn(out, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    SB_LIT(out, "}");
    prov_chunk_close(out, &st->chunk, NULL);
    sb_putn(&ctx->text, json_object_get_string(t), (size_t)json_object_get_string_len(t));
}

/* tool-calls-generation carries the complete calls: each goes out whole in one delta. */
static void on_tool_calls(struct prov_ctx *ctx, struct cohere_stream *st, struct json_object *ev,
                          struct strbuf *out)
{
    struct json_object *calls = jget(ev, "tool_calls");

    for (size_t i = 0;
         json_object_is_type(calls, json_type_array) && i < json_object_array_length(calls); i++) {
        struct json_object *delta = jnew_obj(), *arr = jnew_arr();
        int k = st->n_tools++;

        emit_role(st, out);
        json_object_array_add(arr, tool_call(ctx, k, k, json_object_array_get_idx(calls, i)));
        json_object_object_add(delta, "tool_calls", arr);
        prov_chunk_put(out, &st->chunk, 0, delta, NULL);
        json_object_put(delta);
    }
}

/* The end: the finishing chunk, the usage chunk when asked for, and ctx->finished. */
static void finish(struct prov_ctx *ctx, struct cohere_stream *st, struct strbuf *out,
                   const char *reason)
{
    emit_role(st, out);
    prov_chunk_open(out, &st->chunk, 0);
    SB_LIT(out, "{}");
    prov_chunk_close(out, &st->chunk, map_finish(reason, st->n_tools > 0));
    if (ctx->include_usage && ctx->usage.has_usage) {
        struct json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);

        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
    ctx->finished = 1;
}

static void on_stream_end(struct prov_ctx *ctx, struct cohere_stream *st, struct json_object *ev,
                          struct strbuf *out)
{
    struct json_object *resp = jget(ev, "response");
    const char *reason = jstr(ev, "finish_reason");

    if (!reason)
        reason = jstr(resp, "finish_reason");
    usage_fill(ctx, jget(resp, "meta"));
    finish(ctx, st, out, reason);
}

static int cohere_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                              struct strbuf *out, struct prov_error *err)
{
    struct cohere_stream *st = stream_state(ctx);

    (void)event;
    if (!data) {
        /* Closed without stream-end: clients still wait for a finish_reason. */
        if (!ctx->finished)
            finish(ctx, st, out, NULL);
        return 0;
    }
    if (is_blank(data, n))
        return 0;
    struct json_object *ev = prov_parse_object(data, n);
    if (!ev)
        return bad_upstream_json(err);
    const char *type = jstr(ev, "event_type");
    if (!type) {
        /* Not an event: the upstream failed mid-stream with an error object. */
        const char *msg = prov_error_message(ev);

        prov_fail(err, 500, "upstream_error", NULL, NULL,
                  msg ? arena_strdup(ctx->a, msg) : "the upstream stream failed");
        json_object_put(ev);
        return -1;
    }
    if (!strcmp(type, "stream-start")) {
        const char *gid = jstr(ev, "generation_id");

        if (gid && *gid && !st->is_role_sent)
            st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s", gid);
        emit_role(st, out);
    } else if (!strcmp(type, "text-generation")) {
        on_text(ctx, st, ev, out);
    } else if (!strcmp(type, "tool-calls-generation")) {
        on_tool_calls(ctx, st, ev, out);
    } else if (!strcmp(type, "stream-end")) {
        on_stream_end(ctx, st, ev, out);
    }
    /* Search, citation and tool-call-chunk events carry nothing this adaptor forwards. */
    json_object_put(ev);
    return 0;
}

const struct provider provider_cohere = {
    .name = "cohere",
    .build_request = cohere_build_request,
    .parse_response = cohere_parse_response,
    .parse_event = cohere_parse_event,
    .parse_error = NULL, /* Cohere errors are {"message": ...}: the default reads them */
};
