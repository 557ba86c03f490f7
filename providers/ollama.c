/* Ollama adaptor: OpenAI chat and embeddings to and from Ollama's native API. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/ollama.h"
#include "providers/provider.h"

/* The error type of a request Ollama cannot be given (400, never retried). */
#define OL_BAD "invalid_request_error"
/* Type and code of errors Ollama reported, as One API names them. */
#define OL_ERR "ollama_error"

/* Stream state, in the arena behind ctx->state. */
struct ol_stream {
    struct prov_chunk chunk; /* id, model and created shared by every chunk */
    int is_started;          /* the first delta (with the role) went out */
    int n_calls;             /* tool_calls indexes used so far */
};

static int ol_malformed(struct prov_error *err)
{
    return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                     "cannot parse the upstream response from Ollama");
}

/* The completion id: "chatcmpl-" + the request id, random when the core gave none. */
static const char *ol_completion_id(struct prov_ctx *ctx)
{
    if (ctx->request_id && *ctx->request_id)
        return arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id);
    char hex[33];
    uuid_hex(hex);
    return arena_printf(ctx->a, "chatcmpl-%s", hex);
}

/* The model name shown to the client. */
static const char *ol_out_model(const struct prov_ctx *ctx)
{
    return ctx->model && *ctx->model ? ctx->model : (ctx->origin_model ? ctx->origin_model : "");
}

/* ---- request ---- */

static const char *ol_url(struct prov_ctx *ctx, const char *path)
{
    const char *base = ctx->ch->base_url ? ctx->ch->base_url : "";
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    return arena_printf(ctx->a, "%.*s%s", (int)n, base, path);
}

static int ol_headers(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";

    /* A line break in the key would smuggle a header into the upstream request. */
    if (strpbrk(key, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key contains a line break");
    out->n_headers = 0;
    out->headers[out->n_headers++] = "Content-Type: application/json";
    if (*key)
        out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", key);
    return 0;
}

/* An assistant's OpenAI tool calls as Ollama's: arguments as an object, no ids. */
static json_object *ol_calls_in(json_object *calls)
{
    json_object *res = jnew_arr();
    size_t n = json_object_array_length(calls);

    for (size_t i = 0; i < n; i++) {
        json_object *fn = jget(json_object_array_get_idx(calls, i), "function");
        const char *name = jstr(fn, "name"), *args = jstr(fn, "arguments");
        json_object *c = jnew_obj(), *f = jnew_obj();
        json_object *obj = args && *args ? jparse(args, strlen(args), 0, NULL) : NULL;

        if (!json_object_is_type(obj, json_type_object)) {
            json_object_put(obj);
            obj = jnew_obj();
        }
        json_object_object_add(f, "name", json_object_new_string(name ? name : ""));
        json_object_object_add(f, "arguments", obj);
        json_object_object_add(c, "function", f);
        json_object_array_add(res, c);
    }
    return res;
}

/* The function name of the call id among the assistant messages before msgs[upto], or NULL. */
static const char *ol_call_name(json_object *msgs, size_t upto, const char *id)
{
    for (size_t i = upto; id && i-- > 0;) {
        json_object *calls = jget(json_object_array_get_idx(msgs, i), "tool_calls");
        size_t n =
            json_object_is_type(calls, json_type_array) ? json_object_array_length(calls) : 0;
        for (size_t k = 0; k < n; k++) {
            json_object *c = json_object_array_get_idx(calls, k);
            const char *cid = jstr(c, "id");
            if (cid && strcmp(cid, id) == 0)
                return jstr(jget(c, "function"), "name");
        }
    }
    return NULL;
}

/* msgs[i], an OpenAI message, as an Ollama message (a new reference in *res). */
static int ol_message(struct prov_ctx *ctx, json_object *msgs, size_t i, json_object **res,
                      struct prov_error *err)
{
    json_object *m = json_object_array_get_idx(msgs, i);
    json_object *content = jget(m, "content"), *calls = jget(m, "tool_calls");
    const char *role = jstr(m, "role");
    json_object *o = jnew_obj(), *images = jnew_arr();
    struct strbuf text;

    sb_init(&text, ctx->a);
    if (json_object_is_type(content, json_type_string)) {
        sb_puts(&text, json_object_get_string(content));
    } else if (json_object_is_type(content, json_type_array)) {
        size_t n = json_object_array_length(content);
        for (size_t k = 0; k < n; k++) {
            json_object *p = json_object_array_get_idx(content, k);
            const char *type = jstr(p, "type");
            if (type && strcmp(type, "text") == 0) {
                if (text.len)
                    sb_putc(&text, '\n');
                sb_puts(&text, jstr(p, "text") ? jstr(p, "text") : "");
            } else if (type && strcmp(type, "image_url") == 0) {
                /* Ollama takes the bare base64, without the data: URL around it. */
                struct prov_data_url img;
                if (prov_image_data(p, &img, err) < 0)
                    goto fail;
                json_object_array_add(images, json_object_new_string(img.data));
            } else {
                prov_failf(err, ctx->a, 400, OL_BAD, NULL, "messages",
                           "content parts of type %s cannot be sent to Ollama",
                           type ? type : "(none)");
                goto fail;
            }
        }
    }
    json_object_object_add(o, "role", json_object_new_string(role ? role : "user"));
    json_object_object_add(o, "content", prov_str_new(text.p, text.len));
    if (json_object_array_length(images) > 0)
        json_object_object_add(o, "images", json_object_get(images));
    if (json_object_is_type(calls, json_type_array) && json_object_array_length(calls) > 0)
        json_object_object_add(o, "tool_calls", ol_calls_in(calls));
    /* Ollama pairs a tool result with its call by the function's name: calls have no ids. */
    const char *tool =
        role && strcmp(role, "tool") == 0 ? ol_call_name(msgs, i, jstr(m, "tool_call_id")) : NULL;
    if (tool && *tool)
        json_object_object_add(o, "tool_name", json_object_new_string(tool));
    json_object_put(images);
    *res = o;
    return 0;
fail:
    json_object_put(images);
    json_object_put(o);
    return -1;
}

/* Copies the request's field from into options as to when it is a number. */
static void ol_opt(json_object *req, const char *from, json_object *opts, const char *to,
                   int skip_zero)
{
    json_object *v = jget(req, from);

    if (!jis_num(v) || (skip_zero && json_object_get_double(v) == 0))
        return;
    json_object_object_add(opts, to, json_object_get(v));
}

static json_object *ol_options(json_object *req)
{
    json_object *opts = jnew_obj(), *stop = jget(req, "stop");

    /* Zero is a real temperature or penalty; a zero seed or context size means "unset". */
    ol_opt(req, "seed", opts, "seed", 1);
    ol_opt(req, "temperature", opts, "temperature", 0);
    ol_opt(req, "top_p", opts, "top_p", 0);
    ol_opt(req, "top_k", opts, "top_k", 0);
    if (jget(req, "max_completion_tokens"))
        ol_opt(req, "max_completion_tokens", opts, "num_predict", 1);
    else
        ol_opt(req, "max_tokens", opts, "num_predict", 1);
    ol_opt(req, "num_ctx", opts, "num_ctx", 1);
    ol_opt(req, "frequency_penalty", opts, "frequency_penalty", 0);
    ol_opt(req, "presence_penalty", opts, "presence_penalty", 0);
    if (json_object_is_type(stop, json_type_string)) {
        json_object *a = jnew_arr();
        json_object_array_add(a, json_object_get(stop));
        json_object_object_add(opts, "stop", a);
    } else if (json_object_is_type(stop, json_type_array) && json_object_array_length(stop) > 0) {
        json_object_object_add(opts, "stop", json_object_get(stop));
    }
    return opts;
}

/* response_format -> format: "json" for json_object, the schema for json_schema. */
static void ol_format(json_object *req, json_object *body)
{
    json_object *rf = jget(req, "response_format");
    const char *type = jstr(rf, "type");

    if (!type)
        return;
    if (strcmp(type, "json_object") == 0) {
        json_object_object_add(body, "format", json_object_new_string("json"));
    } else if (strcmp(type, "json_schema") == 0) {
        json_object *schema = jget(jget(rf, "json_schema"), "schema");
        if (json_object_is_type(schema, json_type_object))
            json_object_object_add(body, "format", json_object_get(schema));
    }
}

static int ol_build_chat(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    json_object *msgs = jget(ctx->req, "messages"), *tools = jget(ctx->req, "tools");
    json_object *keep = jget(ctx->req, "keep_alive");

    if (!json_object_is_type(msgs, json_type_array))
        return prov_fail(err, 400, OL_BAD, NULL, "messages", "messages must be an array");
    json_object *body = jnew_obj(), *list = jnew_arr();
    json_object_object_add(body, "model", json_object_new_string(ctx->model));
    json_object_object_add(body, "messages", list);
    size_t n = json_object_array_length(msgs);
    for (size_t i = 0; i < n; i++) {
        json_object *m;
        if (ol_message(ctx, msgs, i, &m, err) < 0) {
            json_object_put(body);
            return -1;
        }
        json_object_array_add(list, m);
    }
    /* Always written: Ollama streams when the field is absent. */
    json_object_object_add(body, "stream", json_object_new_boolean(ctx->is_stream));
    json_object *opts = ol_options(ctx->req);
    if (json_object_object_length(opts) > 0)
        json_object_object_add(body, "options", opts);
    else
        json_object_put(opts);
    if (json_object_is_type(tools, json_type_array) && json_object_array_length(tools) > 0)
        json_object_object_add(body, "tools", json_object_get(tools));
    ol_format(ctx->req, body);
    if (keep)
        json_object_object_add(body, "keep_alive", json_object_get(keep));
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    out->url = ol_url(ctx, "/api/chat");
    return 0;
}

static int ol_build_embed(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    json_object *input = jget(ctx->req, "input");

    if (json_object_is_type(input, json_type_array) && json_object_array_length(input) > 0) {
        size_t n = json_object_array_length(input);
        for (size_t i = 0; i < n; i++) {
            if (!json_object_is_type(json_object_array_get_idx(input, i), json_type_string))
                return prov_fail(err, 400, OL_BAD, NULL, "input",
                                 "Ollama embeddings take strings, not token ids");
        }
    } else if (!json_object_is_type(input, json_type_string)) {
        return prov_fail(err, 400, OL_BAD, NULL, "input",
                         "input must be a string or an array of strings");
    }
    json_object *body = jnew_obj();
    json_object_object_add(body, "model", json_object_new_string(ctx->model));
    json_object_object_add(body, "input", json_object_get(input));
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    out->url = ol_url(ctx, "/api/embed");
    return 0;
}

static int ol_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
        return prov_fail(err, 400, OL_BAD, NULL, NULL,
                         "this endpoint is not supported for Ollama channels");
    if (!ctx->model || !*ctx->model)
        return prov_fail(err, 400, OL_BAD, NULL, "model", "no model to send to Ollama");
    if (ol_headers(ctx, out, err) < 0)
        return -1;
    return ctx->mode == RELAY_CHAT ? ol_build_chat(ctx, out, err) : ol_build_embed(ctx, out, err);
}

/* ---- responses ---- */

/* An error body's message: Ollama's {"error": "..."}, else where One API looks. NULL when
 * there is none; valid while root lives. */
static const char *ol_error_message(json_object *root)
{
    json_object *e = jget(root, "error");

    if (json_object_is_type(e, json_type_string) && json_object_get_string_len(e) > 0)
        return json_object_get_string(e);
    const char *m = jstr(e, "message");
    return m && *m ? m : prov_error_message(root);
}

static void ol_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    const char *msg = ol_error_message(root);

    if (msg)
        prov_fail(err, status, OL_ERR, OL_ERR, NULL, arena_strdup(ctx->a, msg));
    else
        prov_fail_status(err, ctx->a, status);
    json_object_put(root);
}

/* An error line or body inside a 2xx answer into err. */
static int ol_inline_error(struct prov_ctx *ctx, json_object *root, struct prov_error *err)
{
    const char *msg = ol_error_message(root);
    return prov_fail(err, 500, OL_ERR, OL_ERR, NULL,
                     arena_strdup(ctx->a, msg ? msg : "Ollama reported an error"));
}

/* done_reason -> OpenAI finish_reason; tool calls win, unknown values are "stop". */
static const char *ol_finish(const char *reason, int has_calls)
{
    if (has_calls)
        return "tool_calls";
    return reason && strcmp(reason, "length") == 0 ? "length" : "stop";
}

/* Reads the counters of a done object into ctx->usage. */
static void ol_usage_read(struct prov_ctx *ctx, json_object *root)
{
    if (!jget(root, "prompt_eval_count") && !jget(root, "eval_count"))
        return;
    ctx->usage.prompt_tokens = jint(root, "prompt_eval_count");
    ctx->usage.completion_tokens = jint(root, "eval_count");
    ctx->usage.has_usage = 1;
}

/* Ollama's tool calls as OpenAI's, "index" from first on when first >= 0 (the stream form);
 * names and arguments also go to ctx->text for counting. NULL when there are none. */
static json_object *ol_calls_out(struct prov_ctx *ctx, json_object *calls, int first, int *n_out)
{
    size_t n = json_object_is_type(calls, json_type_array) ? json_object_array_length(calls) : 0;
    json_object *res = NULL;

    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *fn = jget(json_object_array_get_idx(calls, i), "function");
        json_object *args = jget(fn, "arguments");
        const char *name = jstr(fn, "name");
        const char *a = json_object_is_type(args, json_type_string) ? json_object_get_string(args)
                        : args                                      ? jdump(ctx->a, args, NULL)
                                                                    : "{}";
        char hex[33];
        uuid_hex(hex);
        if (!res)
            res = jnew_arr();
        sb_puts(&ctx->text, name ? name : "");
        sb_puts(&ctx->text, a);
        json_object_array_add(res,
                              prov_tool_call_new(first >= 0 ? first + *n_out : -1,
                                                 arena_printf(ctx->a, "call_%s", hex), name, a));
        (*n_out)++;
    }
    return res;
}

static int ol_chat_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out)
{
    json_object *msg = jget(root, "message"), *choices;
    json_object *content = jget(msg, "content"), *thinking = jget(msg, "thinking");
    const char *text =
        json_object_is_type(content, json_type_string) ? json_object_get_string(content) : "";
    const char *think =
        json_object_is_type(thinking, json_type_string) ? json_object_get_string(thinking) : "";
    int n_calls;
    json_object *calls = ol_calls_out(ctx, jget(msg, "tool_calls"), -1, &n_calls);

    sb_puts(&ctx->text, text);
    json_object *resp =
        prov_completion_new(ol_completion_id(ctx), ctx->created, ol_out_model(ctx), &choices);
    json_object *m = prov_message_new(text, strlen(text), think, strlen(think), calls);
    json_object_array_add(
        choices, prov_choice_new(0, "message", m, ol_finish(jstr(root, "done_reason"), n_calls)));
    ol_usage_read(ctx, root);
    if (ctx->usage.has_usage)
        json_object_object_add(resp, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
    jput(out, resp);
    json_object_put(resp);
    return 0;
}

static int ol_embed_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *embs = jget(root, "embeddings");
    const char *fmt = jstr(ctx->req, "encoding_format");
    int is_b64 = fmt && strcmp(fmt, "base64") == 0;

    if (!json_object_is_type(embs, json_type_array))
        return ol_malformed(err);
    json_object *resp = jnew_obj(), *data = jnew_arr();
    json_object_object_add(resp, "object", json_object_new_string("list"));
    json_object_object_add(resp, "data", data);
    size_t n = json_object_array_length(embs);
    for (size_t i = 0; i < n; i++) {
        json_object *values = json_object_array_get_idx(embs, i);
        if (prov_embedding_add(ctx->a, data, i, values, is_b64) < 0)
            goto malformed;
    }
    json_object_object_add(resp, "model", json_object_new_string(ol_out_model(ctx)));
    if (jget(root, "prompt_eval_count")) {
        ctx->usage.prompt_tokens = jint(root, "prompt_eval_count");
        ctx->usage.completion_tokens = 0;
        ctx->usage.has_usage = 1;
    }
    json_object *usage = jnew_obj();
    json_object_object_add(usage, "prompt_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(usage, "total_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(resp, "usage", usage);
    jput(out, resp);
    json_object_put(resp);
    return 0;
malformed:
    json_object_put(resp);
    return ol_malformed(err);
}

static int ol_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    int rc;

    if (!root)
        return ol_malformed(err);
    if (jget(root, "error"))
        rc = ol_inline_error(ctx, root, err);
    else if (ctx->mode == RELAY_EMBEDDINGS)
        rc = ol_embed_response(ctx, root, out, err);
    else
        rc = ol_chat_response(ctx, root, out);
    json_object_put(root);
    return rc;
}

/* ---- streaming ---- */

static struct ol_stream *ol_stream_state(struct prov_ctx *ctx)
{
    struct ol_stream *st = ctx->state;

    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = ol_completion_id(ctx);
    st->chunk.model = ol_out_model(ctx);
    st->chunk.created = ctx->created;
    /* Chunks carry "usage": null when the client asked for usage, as OpenAI's do. */
    st->chunk.usage_null = ctx->include_usage;
    ctx->state = st;
    return st;
}

/* The end of the stream: the finishing chunk, then the usage chunk when asked for. */
static void ol_stream_end(struct prov_ctx *ctx, struct ol_stream *st, const char *reason,
                          struct strbuf *out)
{
    json_object *delta = jnew_obj();

    if (!st->is_started)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    prov_chunk_put(out, &st->chunk, 0, delta, ol_finish(reason, st->n_calls > 0));
    json_object_put(delta);
    ctx->finished = 1;
    if (ctx->include_usage) {
        json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
}

static int ol_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    struct ol_stream *st = ol_stream_state(ctx);

    (void)event; /* NDJSON has no event names */
    if (ctx->finished)
        return 0; /* nothing may follow the done line */
    if (!data) {
        ol_stream_end(ctx, st, NULL, out);
        return 0;
    }
    while (n > 0 && isspace((unsigned char)data[n - 1]))
        n--;
    while (n > 0 && isspace((unsigned char)*data)) {
        data++;
        n--;
    }
    if (n == 0)
        return 0;
    json_object *root = prov_parse_object(data, n);
    if (!root)
        return ol_malformed(err);
    if (jget(root, "error")) {
        int rc = ol_inline_error(ctx, root, err);
        json_object_put(root);
        return rc;
    }
    json_object *msg = jget(root, "message");
    const char *text = jstr(msg, "content"), *think = jstr(msg, "thinking");
    int n_calls;
    json_object *calls = ol_calls_out(ctx, jget(msg, "tool_calls"), st->n_calls, &n_calls);
    json_object *delta = jnew_obj();

    st->n_calls += n_calls;
    if (!st->is_started)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    if (text && *text) {
        json_object_object_add(delta, "content", json_object_new_string(text));
        sb_puts(&ctx->text, text);
    }
    if (think && *think)
        json_object_object_add(delta, "reasoning_content", json_object_new_string(think));
    if (calls)
        json_object_object_add(delta, "tool_calls", calls);
    /* A delta with nothing but the role waits for one with content. */
    if (json_object_object_length(delta) > (st->is_started ? 0 : 1)) {
        prov_chunk_put(out, &st->chunk, 0, delta, NULL);
        st->is_started = 1;
    }
    json_object_put(delta);
    if (json_object_get_boolean(jget(root, "done"))) {
        ol_usage_read(ctx, root);
        ol_stream_end(ctx, st, jstr(root, "done_reason"), out);
    }
    json_object_put(root);
    return 0;
}

const struct provider provider_ollama = {
    .name = "ollama",
    .build_request = ol_build_request,
    .parse_response = ol_parse_response,
    .parse_event = ol_parse_event,
    .parse_error = ol_parse_error,
    .needs_inline_images = 1, /* the core turns image URLs into data: URLs */
};
