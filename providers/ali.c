/* Ali DashScope native adaptor: OpenAI chat, embeddings and image requests to DashScope's own
 * API, and its answers, event streams and image tasks back in OpenAI's shapes. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/ali.h"
#include "providers/provider.h"

#define ALI_CHAT_PATH "/api/v1/services/aigc/text-generation/generation"
#define ALI_EMBED_PATH "/api/v1/services/embeddings/text-embedding/text-embedding"
#define ALI_IMAGE_PATH "/api/v1/services/aigc/text2image/image-synthesis"
#define ALI_TASK_PATH "/api/v1/tasks/"
/* One API's convention: this model suffix asks for answers grounded in a web search. */
#define ALI_INTERNET_SUFFIX "-internet"
/* DashScope refuses top_p = 1: the interval it accepts is open. */
#define ALI_TOP_P_MAX 0.9999
#define ALI_POLL_MS 1000  /* between two polls of an image task still running */
#define ALI_MAX_IMAGES 16 /* image results kept from one task */

/* Which answer parse_response reads next. */
enum ali_stage {
    ALI_DIRECT,   /* the answer to a chat or embeddings request */
    ALI_TASK,     /* an image task, as created or polled */
    ALI_DOWNLOAD, /* the bytes of image result number `next` */
};

/* What one request's answers share, in the arena (ctx->state). */
struct ali_state {
    enum ali_stage stage;
    struct prov_chunk chunk; /* the fixed part of every chunk sent to a streaming client */
    int n_tools;             /* tool calls streamed so far */
    const char *urls[ALI_MAX_IMAGES];
    int n_urls;
    int next;                /* the result being downloaded */
    struct json_object *b64; /* downloaded images as base64 strings (owned by the arena) */
};

static struct ali_state *ali_state(struct prov_ctx *ctx)
{
    struct ali_state *st = ctx->state;
    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = ctx->request_id ? ctx->request_id : "";
    st->chunk.model = prov_answer_model(ctx);
    st->chunk.created = ctx->created;
    ctx->state = st;
    return st;
}

static int ali_bad_request(struct prov_error *err, const char *param, const char *msg)
{
    return prov_fail(err, 400, "invalid_request_error", "convert_request_failed", param, msg);
}

static int ali_malformed(struct prov_error *err)
{
    return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                     "the upstream answered with malformed JSON");
}

/* --- errors --- */

/* The client status of a DashScope error code: its rate limits are 429 whatever the HTTP
 * status said, so the relay retries them; status is used for the other codes (0: none). */
static int ali_code_status(const char *code, int status)
{
    if (code && !strncmp(code, "Throttling", 10))
        return 429;
    if (code && !strcmp(code, "InvalidApiKey"))
        return 401;
    if (status >= 400)
        return status;
    return code && (!strcmp(code, "InvalidParameter") || !strcmp(code, "Arrearage") ||
                    !strcmp(code, "DataInspectionFailed"))
               ? 400
               : 500;
}

/* err from a DashScope error object {"code","message","request_id"}, with One API's shape:
 * type and code are the DashScope code, param the request id. */
static int ali_error_obj(struct prov_ctx *ctx, json_object *e, int status, struct prov_error *err)
{
    const char *code = jstr(e, "code"), *msg = jstr(e, "message"), *rid = jstr(e, "request_id");
    if (!code || !*code)
        code = "upstream_error";
    if (!msg || !*msg)
        msg = prov_error_message(e);
    return prov_fail(err, ali_code_status(code, status), arena_strdup(ctx->a, code),
                     arena_strdup(ctx->a, code), rid ? arena_strdup(ctx->a, rid) : NULL,
                     msg ? arena_strdup(ctx->a, msg) : "the upstream answered with an error");
}

/* Is root an error instead of an answer (a code and no output)? */
static int ali_is_error(json_object *root)
{
    const char *code = jstr(root, "code");
    return code && *code && !jget(root, "output");
}

static void ali_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                            struct prov_error *err)
{
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    const char *code = jstr(root, "code");
    if (!code || !*code || jget(root, "error")) {
        provider_error_default(ctx->a, status, body, n, err);
        if (code && !strncmp(code, "Throttling", 10))
            err->status = 429;
        return;
    }
    ali_error_obj(ctx, root, status, err);
}

/* --- requests --- */

/* The text of an OpenAI content value: a string, or the text parts of an array joined. */
static json_object *ali_content(struct arena *a, json_object *content)
{
    if (json_object_is_type(content, json_type_string))
        return json_object_get(content);
    struct strbuf sb;
    sb_init(&sb, a);
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = jstr(part, "type");
        json_object *t = jget(part, "text");
        if (type && !strcmp(type, "text") && json_object_is_type(t, json_type_string))
            sb_putn(&sb, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    }
    return prov_str_new(sb.p, sb.len);
}

static int ali_messages(struct prov_ctx *ctx, json_object *input, struct prov_error *err)
{
    json_object *msgs = jget(ctx->req, "messages");
    if (!json_object_is_type(msgs, json_type_array))
        return ali_bad_request(err, "messages", "messages must be an array");
    json_object *out = jnew_arr();
    json_object_object_add(input, "messages", out);
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *v;
        const char *role = jstr(m, "role");
        char *lower = arena_strdup(ctx->a, role ? role : "user");
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_object *o = jnew_obj();
        json_object_object_add(o, "content", ali_content(ctx->a, jget(m, "content")));
        json_object_object_add(o, "role", json_object_new_string(lower));
        if ((v = jget(m, "tool_calls")) != NULL)
            json_object_object_add(o, "tool_calls", jcopy(v));
        if ((v = jget(m, "tool_call_id")) != NULL)
            json_object_object_add(o, "tool_call_id", jcopy(v));
        if ((v = jget(m, "name")) != NULL)
            json_object_object_add(o, "name", jcopy(v));
        json_object_array_add(out, o);
    }
    return 0;
}

static void ali_copy_num(json_object *req, const char *from, json_object *params, const char *to)
{
    json_object *v = jget(req, from);
    if (jis_num(v))
        json_object_object_add(params, to, jcopy(v));
}

static int ali_chat_body(struct prov_ctx *ctx, json_object *body, struct prov_error *err)
{
    const char *model = ctx->model ? ctx->model : "";
    size_t ml = strlen(model), sl = strlen(ALI_INTERNET_SUFFIX);
    int is_internet = ml > sl && !strcmp(model + ml - sl, ALI_INTERNET_SUFFIX);
    json_object_object_add(body, "model",
                           json_object_new_string_len(model, (int)(is_internet ? ml - sl : ml)));
    json_object *input = jnew_obj(), *params = jnew_obj(), *v;
    json_object_object_add(body, "input", input);
    json_object_object_add(body, "parameters", params);
    if (ali_messages(ctx, input, err) < 0)
        return -1;
    json_object *req = ctx->req;
    ali_copy_num(req, "max_completion_tokens", params, "max_tokens");
    ali_copy_num(req, "max_tokens", params, "max_tokens");
    ali_copy_num(req, "temperature", params, "temperature");
    ali_copy_num(req, "top_k", params, "top_k");
    ali_copy_num(req, "seed", params, "seed");
    v = jget(req, "top_p");
    if (jis_num(v))
        json_object_object_add(params, "top_p",
                               json_object_get_double(v) > ALI_TOP_P_MAX
                                   ? json_object_new_double_s(ALI_TOP_P_MAX, "0.9999")
                                   : jcopy(v));
    if ((v = jget(req, "tools")) != NULL && json_object_is_type(v, json_type_array))
        json_object_object_add(params, "tools", jcopy(v));
    if (is_internet)
        json_object_object_add(params, "enable_search", json_object_new_boolean(1));
    if (ctx->is_stream)
        json_object_object_add(params, "incremental_output", json_object_new_boolean(1));
    json_object_object_add(params, "result_format", json_object_new_string("message"));
    return 0;
}

static int ali_embed_body(struct prov_ctx *ctx, json_object *body, struct prov_error *err)
{
    json_object *in = jget(ctx->req, "input"), *texts = jnew_arr();
    json_object *input = jnew_obj();
    json_object_object_add(body, "model", json_object_new_string(ctx->model ? ctx->model : ""));
    json_object_object_add(input, "texts", texts);
    json_object_object_add(body, "input", input);
    if (json_object_is_type(in, json_type_string)) {
        json_object_array_add(texts, json_object_get(in));
        return 0;
    }
    size_t n = json_object_is_type(in, json_type_array) ? json_object_array_length(in) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(in, i);
        if (!json_object_is_type(t, json_type_string))
            n = 0;
        else
            json_object_array_add(texts, json_object_get(t));
    }
    if (!n)
        return ali_bad_request(err, "input", "input must be a string or an array of strings");
    return 0;
}

/* The image request's response_format: 1 for b64_json, 0 for url; -1 for anything else. */
static int ali_wants_b64(const struct prov_ctx *ctx)
{
    const char *rf = jstr(ctx->req, "response_format");
    if (!rf || !*rf || !strcmp(rf, "url"))
        return 0;
    return !strcmp(rf, "b64_json") ? 1 : -1;
}

static int ali_image_body(struct prov_ctx *ctx, json_object *body, struct prov_error *err)
{
    const char *prompt = jstr(ctx->req, "prompt"), *neg = jstr(ctx->req, "negative_prompt");
    const char *size = jstr(ctx->req, "size");
    if (ali_wants_b64(ctx) < 0)
        return prov_fail(err, 400, "invalid_request_error", "invalid_response_format",
                         "response_format", "response_format must be url or b64_json");
    json_object *input = jnew_obj(), *params = jnew_obj();
    json_object_object_add(body, "model", json_object_new_string(ctx->model ? ctx->model : ""));
    json_object_object_add(body, "input", input);
    json_object_object_add(body, "parameters", params);
    json_object_object_add(input, "prompt", json_object_new_string(prompt ? prompt : ""));
    if (neg && *neg)
        json_object_object_add(input, "negative_prompt", json_object_new_string(neg));
    if (size && *size) {
        /* OpenAI writes 1024x1024, DashScope 1024*1024. */
        char *s = arena_strdup(ctx->a, size);
        char *x = strchr(s, 'x');
        if (x)
            *x = '*';
        json_object_object_add(params, "size", json_object_new_string(s));
    }
    int64_t n = jint(ctx->req, "n");
    json_object_object_add(params, "n", json_object_new_int64(n > 0 ? n : 1));
    return 0;
}

static int ali_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    const char *plugin = prov_config_str(ctx, "plugin");
    const char *path;
    /* A line break would smuggle extra headers into the upstream request. */
    if (strpbrk(key, "\r\n") || (plugin && strpbrk(plugin, "\r\n")))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key or plugin contains a line break");
    if (!json_object_is_type(ctx->req, json_type_object))
        return ali_bad_request(err, NULL, "the request body must be a JSON object");
    json_object *body = jown(ctx->a, jnew_obj());
    int rc;
    struct ali_state *st = ali_state(ctx);
    switch (ctx->mode) {
    case RELAY_CHAT:
        rc = ali_chat_body(ctx, body, err);
        path = ALI_CHAT_PATH;
        break;
    case RELAY_EMBEDDINGS:
        rc = ali_embed_body(ctx, body, err);
        path = ALI_EMBED_PATH;
        break;
    case RELAY_IMAGES:
        rc = ali_image_body(ctx, body, err);
        path = ALI_IMAGE_PATH;
        st->stage = ALI_TASK;
        break;
    default:
        return prov_fail(err, 400, "invalid_request_error", "not_implemented", NULL,
                         "Ali channels serve chat completions, embeddings and image generations");
    }
    if (rc < 0)
        return -1;
    out->url = arena_printf(ctx->a, "%s%s", ctx->ch->base_url, path);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Authorization: Bearer %s", key);
    out->headers[out->n_headers++] = "Content-Type: application/json";
    if (ctx->mode == RELAY_CHAT && ctx->is_stream) {
        out->headers[out->n_headers++] = "Accept: text/event-stream";
        out->headers[out->n_headers++] = "X-DashScope-SSE: enable";
    }
    if (ctx->mode == RELAY_IMAGES)
        out->headers[out->n_headers++] = "X-DashScope-Async: enable";
    if (plugin)
        out->headers[out->n_headers++] = arena_printf(ctx->a, "X-DashScope-Plugin: %s", plugin);
    out->body = jdump(ctx->a, body, &out->body_len);
    return 0;
}

/* --- chat answers --- */

/* A DashScope finish reason as OpenAI's: NULL while the answer goes on ("null" or none). */
static const char *ali_finish(const char *f)
{
    if (!f || !*f || !strcmp(f, "null"))
        return NULL;
    if (!strcmp(f, "length") || !strcmp(f, "tool_calls"))
        return f;
    /* Unknown values would break SDKs that check the enum; "stop" is always valid. */
    return "stop";
}

/* Reads usage into ctx->usage when it counts generated tokens (streams report zeros first). */
static void ali_usage(struct prov_ctx *ctx, json_object *root)
{
    json_object *u = jget(root, "usage");
    if (!json_object_is_type(u, json_type_object))
        return;
    if (ctx->usage.has_usage && !jint(u, "output_tokens"))
        return;
    ctx->usage.prompt_tokens = jint(u, "input_tokens");
    ctx->usage.completion_tokens = jint(u, "output_tokens");
    ctx->usage.has_usage = 1;
}

/* The text of a message's content (a string, or multimodal [{"text"}] parts), in a. */
static const char *ali_text(struct arena *a, json_object *content, size_t *len)
{
    if (json_object_is_type(content, json_type_string)) {
        *len = (size_t)json_object_get_string_len(content);
        return json_object_get_string(content);
    }
    struct strbuf sb;
    sb_init(&sb, a);
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *t = jget(json_object_array_get_idx(content, i), "text");
        if (json_object_is_type(t, json_type_string))
            sb_putn(&sb, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    }
    *len = sb.len;
    return sb.p ? sb.p : "";
}

/* The choices of an answer as (message, finish) pairs: output.choices, or the older
 * output.text with output.finish_reason as one choice. n is their number. */
static json_object *ali_choices(struct arena *a, json_object *output, size_t *n)
{
    json_object *choices = jget(output, "choices");
    if (json_object_is_type(choices, json_type_array)) {
        *n = json_object_array_length(choices);
        return choices;
    }
    json_object *text = jget(output, "text");
    if (!json_object_is_type(text, json_type_string)) {
        *n = 0;
        return NULL;
    }
    json_object *arr = jown(a, jnew_arr()), *c = jnew_obj(), *m = jnew_obj();
    json_object_object_add(m, "role", json_object_new_string("assistant"));
    json_object_object_add(m, "content", json_object_get(text));
    json_object_object_add(c, "message", m);
    json_object *f = jget(output, "finish_reason");
    if (f)
        json_object_object_add(c, "finish_reason", json_object_get(f));
    json_object_array_add(arr, c);
    *n = 1;
    return arr;
}

/* The whole answer as chunks, for a streaming client DashScope answered without a stream. */
static int ali_chat_chunks(struct prov_ctx *ctx, json_object *root, struct strbuf *out);

static int ali_chat_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                             struct prov_error *err)
{
    size_t n;
    json_object *choices_in = ali_choices(ctx->a, jget(root, "output"), &n);
    if (!choices_in)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "the upstream answered without choices");
    ali_usage(ctx, root);
    if (ctx->is_stream)
        return ali_chat_chunks(ctx, root, out);
    const char *rid = jstr(root, "request_id");
    json_object *choices;
    json_object *res =
        jown(ctx->a, prov_completion_new(rid && *rid ? rid : ali_state(ctx)->chunk.id, ctx->created,
                                         prov_answer_model(ctx), &choices));
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(choices_in, i), *m = jget(c, "message");
        size_t len, rlen = 0;
        const char *text = ali_text(ctx->a, jget(m, "content"), &len);
        const char *reasoning = jstr(m, "reasoning_content");
        json_object *calls = jget(m, "tool_calls");
        if (reasoning)
            rlen = strlen(reasoning);
        if (i == 0)
            sb_putn(&ctx->text, text, len);
        const char *finish = ali_finish(jstr(c, "finish_reason"));
        json_object_array_add(
            choices,
            prov_choice_new(
                (int64_t)i, "message",
                prov_message_new(text, len, reasoning, rlen,
                                 json_object_is_type(calls, json_type_array) ? jcopy(calls) : NULL),
                finish ? finish : "stop"));
    }
    if (ctx->usage.has_usage)
        json_object_object_add(res, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
    jput(out, res);
    return 0;
}

/* The usage chunk, when the client asked for one and the upstream reported usage. */
static void ali_usage_chunk(struct prov_ctx *ctx, struct ali_state *st, struct strbuf *out)
{
    if (!ctx->include_usage || !ctx->usage.has_usage)
        return;
    json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
    prov_chunk_usage(out, &st->chunk, u);
    json_object_put(u);
}

/* One chunk for the first choice of a result event (or answer); 1 when it finished. */
static int ali_put_chunk(struct prov_ctx *ctx, struct ali_state *st, json_object *choice,
                         const char *default_finish, struct strbuf *out)
{
    json_object *m = jget(choice, "message"), *delta = jnew_obj(), *calls = jget(m, "tool_calls");
    size_t len;
    const char *text = ali_text(ctx->a, jget(m, "content"), &len);
    const char *reasoning = jstr(m, "reasoning_content");
    json_object_object_add(delta, "role", json_object_new_string("assistant"));
    json_object_object_add(delta, "content", prov_str_new(text, len));
    if (reasoning && *reasoning)
        json_object_object_add(delta, "reasoning_content", json_object_new_string(reasoning));
    if (json_object_is_type(calls, json_type_array) && json_object_array_length(calls)) {
        json_object *c = jcopy(calls);
        for (size_t i = 0; i < json_object_array_length(c); i++) {
            json_object *call = json_object_array_get_idx(c, i);
            /* OpenAI clients match the fragments of one call by index. */
            if (!jget(call, "index"))
                json_object_object_add(call, "index", json_object_new_int(st->n_tools));
        }
        st->n_tools += (int)json_object_array_length(c);
        json_object_object_add(delta, "tool_calls", c);
    }
    sb_putn(&ctx->text, text, len);
    const char *finish = ali_finish(jstr(choice, "finish_reason"));
    if (!finish)
        finish = default_finish;
    prov_chunk_put(out, &st->chunk, 0, delta, finish);
    json_object_put(delta);
    return finish != NULL;
}

static int ali_chat_chunks(struct prov_ctx *ctx, json_object *root, struct strbuf *out)
{
    struct ali_state *st = ali_state(ctx);
    size_t n;
    json_object *choices = ali_choices(ctx->a, jget(root, "output"), &n);
    const char *rid = jstr(root, "request_id");
    if (rid && *rid)
        st->chunk.id = arena_strdup(ctx->a, rid);
    if (n)
        ali_put_chunk(ctx, st, json_object_array_get_idx(choices, 0), "stop", out);
    ali_usage_chunk(ctx, st, out);
    ctx->finished = 1;
    return 0;
}

static int ali_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                           struct strbuf *out, struct prov_error *err)
{
    struct ali_state *st = ali_state(ctx);
    if (!data) {
        /* Closed without a finish reason: clients still wait for one. */
        json_object *delta = jnew_obj();
        prov_chunk_put(out, &st->chunk, 0, delta, "stop");
        json_object_put(delta);
        ali_usage_chunk(ctx, st, out);
        ctx->finished = 1;
        return 0;
    }
    json_object *root = jown(ctx->a, prov_parse_object(data, n));
    int is_error_event = event && !strcmp(event, "error");
    if (!root)
        return is_error_event ? prov_fail(err, 500, "upstream_error", "upstream_error", NULL,
                                          arena_strndup(ctx->a, data, n))
                              : ali_malformed(err);
    if (is_error_event || ali_is_error(root))
        /* The frame's :HTTP_STATUS comment is not passed on: the code decides, and an error
         * without a known code is the request's fault, as DashScope streams report. */
        return ali_error_obj(ctx, root, 400, err);
    const char *rid = jstr(root, "request_id");
    if (rid && *rid)
        st->chunk.id = arena_strdup(ctx->a, rid);
    ali_usage(ctx, root);
    size_t nc;
    json_object *choices = ali_choices(ctx->a, jget(root, "output"), &nc);
    if (!nc)
        return 0;
    if (ali_put_chunk(ctx, st, json_object_array_get_idx(choices, 0), NULL, out)) {
        ali_usage_chunk(ctx, st, out);
        ctx->finished = 1;
    }
    return 0;
}

/* --- embeddings --- */

static int ali_embed_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                              struct prov_error *err)
{
    json_object *embs = jget(jget(root, "output"), "embeddings");
    const char *fmt = jstr(ctx->req, "encoding_format");
    int is_b64 = fmt && !strcmp(fmt, "base64");
    if (!json_object_is_type(embs, json_type_array))
        return ali_malformed(err);
    json_object *res = jown(ctx->a, jnew_obj()), *data = jnew_arr();
    json_object_object_add(res, "object", json_object_new_string("list"));
    json_object_object_add(res, "data", data);
    for (size_t i = 0; i < json_object_array_length(embs); i++) {
        json_object *e = json_object_array_get_idx(embs, i);
        json_object *idx = jget(e, "text_index");
        if (prov_embedding_add(ctx->a, data, idx ? (size_t)jint(e, "text_index") : i,
                               jget(e, "embedding"), is_b64) < 0)
            return ali_malformed(err);
    }
    json_object_object_add(res, "model", json_object_new_string(prov_answer_model(ctx)));
    int64_t total = jint(jget(root, "usage"), "total_tokens");
    ctx->usage.prompt_tokens = total;
    ctx->usage.completion_tokens = 0;
    ctx->usage.has_usage = jget(root, "usage") != NULL;
    json_object *u = jnew_obj();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64(total));
    json_object_object_add(u, "total_tokens", json_object_new_int64(total));
    json_object_object_add(res, "usage", u);
    jput(out, res);
    return 0;
}

/* --- images --- */

/* A follow-up GET of url, with the key unless it is a download. */
static int ali_follow(struct prov_ctx *ctx, const char *url, int with_key, int delay_ms)
{
    struct prov_request *rq = arena_calloc(ctx->a, 1, sizeof *rq);
    rq->url = url;
    if (with_key)
        rq->headers[rq->n_headers++] =
            arena_printf(ctx->a, "Authorization: Bearer %s", ctx->ch->key);
    rq->delay_ms = delay_ms;
    ctx->follow_up = rq;
    return PROV_FOLLOW_UP;
}

static int ali_image_answer(struct prov_ctx *ctx, struct strbuf *out)
{
    struct ali_state *st = ali_state(ctx);
    json_object *res = jown(ctx->a, jnew_obj()), *data = jnew_arr();
    json_object_object_add(res, "created", json_object_new_int64(ctx->created));
    for (int i = 0; i < st->n_urls; i++) {
        json_object *item = jnew_obj();
        if (st->b64)
            json_object_object_add(item, "b64_json",
                                   json_object_get(json_object_array_get_idx(st->b64, (size_t)i)));
        else
            json_object_object_add(item, "url", json_object_new_string(st->urls[i]));
        json_object_array_add(data, item);
    }
    json_object_object_add(res, "data", data);
    jput(out, res);
    ctx->finished = 1;
    return 0;
}

static int ali_task(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                    struct prov_error *err)
{
    struct ali_state *st = ali_state(ctx);
    json_object *output = jget(root, "output");
    const char *status = jstr(output, "task_status"), *id = jstr(output, "task_id");
    if (!status)
        status = "";
    if (!strcmp(status, "SUCCEEDED")) {
        json_object *results = jget(output, "results");
        size_t n =
            json_object_is_type(results, json_type_array) ? json_object_array_length(results) : 0;
        for (size_t i = 0; i < n && st->n_urls < ALI_MAX_IMAGES; i++) {
            const char *url = jstr(json_object_array_get_idx(results, i), "url");
            if (url && *url)
                st->urls[st->n_urls++] = arena_strdup(ctx->a, url);
        }
        if (!st->n_urls)
            return prov_fail(err, 500, "one_api_error", "image_task_failed", NULL,
                             "the image task succeeded without an image");
        if (ali_wants_b64(ctx) != 1)
            return ali_image_answer(ctx, out);
        st->b64 = jown(ctx->a, jnew_arr());
        st->stage = ALI_DOWNLOAD;
        st->next = 0;
        return ali_follow(ctx, st->urls[0], 0, 0);
    }
    if (!strcmp(status, "FAILED") || !strcmp(status, "CANCELED") || !strcmp(status, "UNKNOWN")) {
        const char *msg = jstr(output, "message"), *code = jstr(output, "code");
        return prov_failf(err, ctx->a, 500, "one_api_error", "image_task_failed", NULL,
                          "image task %s: %s%s%s", status, code ? code : "",
                          code && msg ? ": " : "", msg ? msg : "");
    }
    if (!id || !*id || strpbrk(id, "/?#% \r\n"))
        return prov_fail(err, 500, "one_api_error", "image_task_failed", NULL,
                         "the upstream answered without a task to poll");
    /* The channel's base URL, not a fixed DashScope host: overrides and proxies keep working. */
    return ali_follow(ctx, arena_printf(ctx->a, "%s%s%s", ctx->ch->base_url, ALI_TASK_PATH, id), 1,
                      ALI_POLL_MS);
}

static int ali_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                              struct prov_error *err)
{
    struct ali_state *st = ali_state(ctx);
    if (st->stage == ALI_DOWNLOAD) {
        struct strbuf b64;
        sb_init(&b64, ctx->a);
        b64_put(&b64, body, n);
        json_object_array_add(st->b64, prov_str_new(b64.p, b64.len));
        if (++st->next < st->n_urls)
            return ali_follow(ctx, st->urls[st->next], 0, 0);
        return ali_image_answer(ctx, out);
    }
    json_object *root = jown(ctx->a, prov_parse_object(body, n));
    if (!root)
        return ali_malformed(err);
    if (ali_is_error(root))
        return ali_error_obj(ctx, root, 0, err);
    if (st->stage == ALI_TASK)
        return ali_task(ctx, root, out, err);
    if (ctx->mode == RELAY_EMBEDDINGS)
        return ali_embed_response(ctx, root, out, err);
    return ali_chat_response(ctx, root, out, err);
}

const struct provider provider_ali = {
    .name = "ali",
    .build_request = ali_build_request,
    .parse_response = ali_parse_response,
    .parse_event = ali_parse_event,
    .parse_error = ali_parse_error,
    .may_follow_up = 1,
};
