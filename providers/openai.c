/* openai: the OpenAI wire format and its relatives (Azure, the compatible providers of the
 * registry): URL and auth rules, bodies passed through, usage picked from responses. */
#include "config.h"
#include "providers/adaptor.h"
#include "providers/cloudflare.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "providers/spark.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"

#include <json-c/json.h>
#include <string.h>

/* The task path of each mode, as OpenAI spells it after "/v1". */
static const char *const mode_path[RELAY_MODE__MAX] = {
    [RELAY_CHAT] = "/chat/completions",
    [RELAY_COMPLETIONS] = "/completions",
    [RELAY_EMBEDDINGS] = "/embeddings",
    [RELAY_MODERATIONS] = "/moderations",
    [RELAY_EDITS] = "/edits",
    [RELAY_IMAGES] = "/images/generations",
    [RELAY_SPEECH] = "/audio/speech",
    [RELAY_TRANSCRIPTION] = "/audio/transcriptions",
    [RELAY_TRANSLATION] = "/audio/translations",
};

/* Rules that put the task under a fixed prefix and serve chat and embeddings only. */
static const struct {
    enum url_rule rule;
    const char *prefix;
} prefixed[] = {
    {URL_ARK, "/api/v3"},
    {URL_QIANFAN_V2, "/v2"},
    {URL_BAILIAN, "/compatible-mode/v1"},
};

/* Status codes MiniMax reports in base_resp inside HTTP 200 answers, and the HTTP status the
 * client sees for them (others are 500). */
static const struct {
    int64_t code;
    int status;
} base_resp_status[] = {
    {1002, 429}, /* rate limit */
    {1041, 429}, /* connection limit */
    {1004, 401}, /* authentication failed */
    {2049, 401}, /* invalid API key */
    {1008, 402}, /* insufficient balance */
    {1026, 400}, /* input moderation */
    {1027, 400}, /* output moderation */
    {1039, 400}, /* token limit */
    {2013, 400}, /* invalid parameters */
};

/* Stream state, in the request arena (ctx->state). */
struct oa_stream {
    int is_finish_seen;   /* a chunk carried a finish_reason */
    const char *spark_id; /* Spark HTTP: the id of the stream's chunks, once one came */
};

static void add_header(struct prov_ctx *ctx, struct prov_request *out, const char *h)
{
    if (out->n_headers < (int)(sizeof out->headers / sizeof *out->headers))
        out->headers[out->n_headers++] = arena_strdup(ctx->a, h);
}

/* Azure deployments cannot contain dots; One API names them after the model without dots. */
static const char *azure_deployment(struct prov_ctx *ctx)
{
    if (ctx->mode == RELAY_IMAGES || ctx->mode >= RELAY_SPEECH)
        return ctx->model;
    char *d = arena_strdup(ctx->a, ctx->model), *o = d;
    for (const char *s = ctx->model; *s; s++)
        if (*s != '.')
            *o++ = *s;
    *o = '\0';
    return d;
}

/* The path after "/v1" to append to the base: the client's own, query string included, as
 * One API forwards it (so /v1/engines/{model}/embeddings stays what it is); the mode's path
 * when the client's is unknown or not under /v1. */
static const char *client_path(const struct prov_ctx *ctx)
{
    const char *u = ctx->client_uri;
    if (u && !strncmp(u, "/v1/", 4) && !strpbrk(u, " \r\n"))
        return u + 3;
    return mode_path[ctx->mode];
}

static int openai_build(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const struct channel_type *ct = channel_type_get(ctx->ch->type);
    const char *base = ctx->ch->base_url;
    const char *task = mode_path[ctx->mode];
    enum url_rule rule = ct ? ct->url_rule : URL_APPEND;
    if (!*base)
        return prov_fail(err, 500, "one_api_error", "do_request_failed", NULL,
                         "the channel has no base URL");
    switch (rule) {
    case URL_AZURE: {
        const char *ver = *ctx->ch->api_version ? ctx->ch->api_version : "2024-03-01-preview";
        /* Through Cloudflare AI Gateway the base already ends where deployments begin. */
        int cf = !strncmp(base, "https://gateway.ai.cloudflare.com", 32);
        out->url = arena_printf(ctx->a, "%s%s/%s%s?api-version=%s", base,
                                cf ? "" : "/openai/deployments", azure_deployment(ctx), task, ver);
        add_header(ctx, out, arena_printf(ctx->a, "api-key: %s", ctx->ch->key));
        break;
    }
    case URL_CHAT_ONLY:
        if (ctx->mode != RELAY_CHAT)
            return prov_fail(err, 400, "one_api_error", "convert_request_failed", NULL,
                             "unsupported relay mode for this channel");
        out->url = arena_printf(ctx->a, "%s%s", base, task);
        break;
    case URL_CLOUDFLARE:
        if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
            return prov_fail(err, 400, "one_api_error", "convert_request_failed", NULL,
                             "unsupported relay mode for Cloudflare Workers AI");
        out->url = cloudflare_url(ctx, task, err);
        if (!out->url)
            return -1;
        break;
    case URL_STRIP_V1: out->url = arena_printf(ctx->a, "%s%s", base, client_path(ctx)); break;
    case URL_MINIMAX:
        if (ctx->mode != RELAY_CHAT)
            return prov_fail(err, 400, "one_api_error", "convert_request_failed", NULL,
                             "unsupported relay mode for MiniMax");
        out->url = arena_printf(ctx->a, "%s/v1/text/chatcompletion_v2", base);
        break;
    case URL_ARK:
    case URL_QIANFAN_V2:
    case URL_BAILIAN: {
        const char *prefix = "";
        for (size_t i = 0; i < sizeof prefixed / sizeof *prefixed; i++)
            if (prefixed[i].rule == rule)
                prefix = prefixed[i].prefix;
        if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
            return prov_fail(err, 400, "one_api_error", "convert_request_failed", NULL,
                             "unsupported relay mode for this channel");
        out->url = arena_printf(ctx->a, "%s%s%s", base, prefix, task);
        break;
    }
    case URL_APPEND:
    default:
        /* Cloudflare AI Gateway's OpenAI endpoint takes the path without "/v1". */
        out->url = arena_printf(
            ctx->a, "%s%s%s", base,
            !strncmp(base, "https://gateway.ai.cloudflare.com", 32) ? "" : "/v1", client_path(ctx));
        break;
    }
    if (rule != URL_AZURE)
        add_header(ctx, out, arena_printf(ctx->a, "Authorization: Bearer %s", ctx->ch->key));
    add_header(ctx, out,
               arena_printf(ctx->a, "Content-Type: %s",
                            ctx->content_type && *ctx->content_type ? ctx->content_type
                                                                    : "application/json"));
    if (ctx->is_stream)
        add_header(ctx, out, "Accept: text/event-stream");
    if (ct && ct->extra_headers) {
        const char *h = ct->extra_headers;
        while (*h) {
            const char *nl = strchr(h, '\n');
            size_t len = nl ? (size_t)(nl - h) : strlen(h);
            add_header(ctx, out, arena_strndup(ctx->a, h, len));
            h += len + (nl ? 1 : 0);
        }
    }
    out->body = ctx->body;
    out->body_len = ctx->body_len;
    return 0;
}

/* The usage object of a response or chunk: top level, else choices[i].usage (Moonshot), else
 * x_groq.usage (Groq). NULL when there is none. */
static json_object *find_usage(json_object *j)
{
    json_object *u = jget(j, "usage");
    if (json_object_is_type(u, json_type_object))
        return u;
    json_object *choices = jget(j, "choices");
    for (size_t i = 0;
         json_object_is_type(choices, json_type_array) && i < json_object_array_length(choices);
         i++) {
        u = jget(json_object_array_get_idx(choices, i), "usage");
        if (json_object_is_type(u, json_type_object))
            return u;
    }
    u = jget(jget(j, "x_groq"), "usage");
    return json_object_is_type(u, json_type_object) ? u : NULL;
}

/* Keeps the most recent usage report. Counts are read as json-c reads them, so numbers given
 * as strings still count. */
static void take_usage(struct prov_ctx *ctx, json_object *j)
{
    json_object *u = find_usage(j);
    if (!u)
        return;
    int64_t p = json_object_get_int64(jget(u, "prompt_tokens"));
    int64_t c = json_object_get_int64(jget(u, "completion_tokens"));
    int64_t t = json_object_get_int64(jget(u, "total_tokens"));
    if (!p && !c && !t)
        return; /* a zero usage is no usage: the core counts the tokens itself */
    if (t > 0 && !p) {
        /* Some upstreams report only the total: the prompt is the local estimate and the
         * completion the rest, as One API splits it (never below 0). */
        p = ctx->prompt_estimate;
        c = t > p ? t - p : 0;
    } else if (!c && t > p) {
        c = t - p;
    }
    ctx->usage.prompt_tokens = p;
    ctx->usage.completion_tokens = c;
    ctx->usage.has_usage = 1;
}

/* Appends the generated text of a response or chunk to ctx->text (for counting): content and
 * tool-call arguments of choices[i].<field> ("message" or "delta"), else choices[i].text
 * (completions). */
static void take_text(struct prov_ctx *ctx, json_object *j, const char *field)
{
    json_object *choices = jget(j, "choices");
    if (!json_object_is_type(choices, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(choices); i++) {
        json_object *c = json_object_array_get_idx(choices, i), *m = NULL;
        if (!json_object_object_get_ex(c, field, &m)) {
            const char *text = jstr(c, "text");
            if (text)
                sb_puts(&ctx->text, text);
            continue;
        }
        const char *content = jstr(m, "content");
        if (content)
            sb_puts(&ctx->text, content);
        json_object *tc = jget(m, "tool_calls");
        for (size_t k = 0;
             json_object_is_type(tc, json_type_array) && k < json_object_array_length(tc); k++) {
            json_object *a = jget(jget(json_object_array_get_idx(tc, k), "function"), "arguments");
            if (a)
                sb_puts(&ctx->text, json_object_get_string(a));
        }
    }
}

/* An error reported inside a 2xx answer or chunk: MiniMax's base_resp with a non-zero
 * status_code, or, from iFlytek Spark's HTTP API, a top-level code other than 0 beside its
 * message (its successful answers carry code 0). Fills err and returns -1; 0 when j carries
 * none. */
static int base_resp_error(struct prov_ctx *ctx, json_object *j, struct prov_error *err)
{
    if (ctx->ch && ctx->ch->type == CHANNEL_TYPE_XUNFEI_V2) {
        json_object *c = jget(j, "code");
        int64_t code = json_object_is_type(c, json_type_int) ? json_object_get_int64(c) : 0;
        if (!code)
            return 0;
        const char *msg = jstr(j, "message");
        return prov_fail(err, spark_error_status(code), "upstream_error",
                         arena_printf(ctx->a, "%lld", (long long)code), NULL,
                         arena_strdup(ctx->a, msg && *msg ? msg : "the upstream failed"));
    }
    json_object *br = jget(j, "base_resp");
    int64_t code = jint(br, "status_code");
    int status = 500;

    if (!code)
        return 0;
    for (size_t i = 0; i < sizeof base_resp_status / sizeof *base_resp_status; i++)
        if (base_resp_status[i].code == code)
            status = base_resp_status[i].status;
    const char *msg = jstr(br, "status_msg");
    return prov_fail(err, status, "upstream_error", arena_printf(ctx->a, "%lld", (long long)code),
                     NULL, arena_strdup(ctx->a, msg && *msg ? msg : "the upstream failed"));
}

static int is_spark_http(const struct prov_ctx *ctx)
{
    return ctx->ch && ctx->ch->type == CHANNEL_TYPE_XUNFEI_V2;
}

/* iFlytek Spark's HTTP answers and chunks lack OpenAI's id, object, model and created, and
 * its choices their finish_reason, which clients read: fills in what is missing (whole:
 * a chat.completion, whose choices all end with "stop"; else a chunk). */
static void spark_http_fill(struct prov_ctx *ctx, json_object *j, int whole)
{
    if (!jstr(j, "id")) {
        const char *sid = jstr(j, "sid");
        json_object_object_add(j, "id",
                               json_object_new_string(arena_printf(
                                   ctx->a, "chatcmpl-%s", sid && *sid ? sid : ctx->request_id)));
    }
    if (!jstr(j, "object"))
        json_object_object_add(
            j, "object",
            json_object_new_string(whole ? "chat.completion" : "chat.completion.chunk"));
    if (!jget(j, "created"))
        json_object_object_add(j, "created", json_object_new_int64(ctx->created));
    if (!jstr(j, "model"))
        json_object_object_add(j, "model", json_object_new_string(prov_answer_model(ctx)));
    json_object *choices = jget(j, "choices");
    for (size_t i = 0; whole && json_object_is_type(choices, json_type_array) &&
                       i < json_object_array_length(choices);
         i++) {
        json_object *c = json_object_array_get_idx(choices, i);
        const char *fr = jstr(c, "finish_reason");
        if (json_object_is_type(c, json_type_object) && !(fr && *fr))
            json_object_object_add(c, "finish_reason", json_object_new_string("stop"));
    }
}

/* Appends the data event of a chunk to out as the upstream sent it. An event of several data
 * lines comes joined by '\n': each line goes out as a data line of its own, so the client
 * reads back the same data and no line (an empty one would end the event) escapes it. */
static void forward(struct strbuf *out, const char *data, size_t n)
{
    const char *end = data + n, *nl;
    while ((nl = memchr(data, '\n', (size_t)(end - data)))) {
        SB_LIT(out, "data: ");
        sb_putn(out, data, (size_t)(nl - data));
        SB_LIT(out, "\n");
        data = nl + 1;
    }
    SB_LIT(out, "data: ");
    sb_putn(out, data, (size_t)(end - data));
    SB_LIT(out, "\n\n");
}

static int openai_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                           struct prov_error *err)
{
    /* Audio speech is binary and transcriptions may be text: pass them through untouched. */
    if (ctx->mode == RELAY_SPEECH) {
        sb_putn(out, body, n);
        return 0;
    }
    if (ctx->mode == RELAY_TRANSCRIPTION || ctx->mode == RELAY_TRANSLATION) {
        /* The transcript is what gets billed: "text" of json/verbose_json, else the body
         * (text, srt, vtt) as it is. */
        json_object *j = prov_parse_object(body, n), *t = jget(j, "text");
        if (t)
            sb_puts(&ctx->text, json_object_get_string(t));
        else
            sb_putn(&ctx->text, body, n);
        json_object_put(j);
        sb_putn(out, body, n);
        return 0;
    }
    json_object *j = prov_parse_object(body, n);
    if (!j)
        return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                         "unmarshal_response_body_failed");
    if (base_resp_error(ctx, j, err) < 0) {
        json_object_put(j);
        return -1;
    }
    /* A 200 that still carries error.type is an error; the client sees the upstream's status
     * (200) and its error object, as One API shows it. */
    json_object *e = jget(j, "error");
    const char *type = jstr(e, "type");
    if (type && *type) {
        json_object *m = jget(e, "message"), *c = jget(e, "code"), *p = jget(e, "param");
        prov_fail(err, 200, arena_strdup(ctx->a, type),
                  c ? arena_strdup(ctx->a, json_object_get_string(c)) : NULL,
                  p ? arena_strdup(ctx->a, json_object_get_string(p)) : NULL,
                  arena_strdup(ctx->a, m ? json_object_get_string(m) : ""));
        json_object_put(j);
        return -1;
    }
    take_usage(ctx, j);
    take_text(ctx, j, "message");
    if (is_spark_http(ctx)) {
        spark_http_fill(ctx, j, 1);
        jput(out, j);
    } else {
        sb_putn(out, body, n);
    }
    json_object_put(j);
    return 0;
}

/* The first element of array member key of j, or NULL (json-c asserts on a non-array). */
static json_object *first_of(json_object *j, const char *key)
{
    json_object *a = jget(j, key);
    return json_object_is_type(a, json_type_array) && json_object_array_length(a)
               ? json_object_array_get_idx(a, 0)
               : NULL;
}

/* 1 when j is a whole chat.completion (choices[0].message, no delta) where a chunk was
 * expected. */
static int is_whole_answer(json_object *j)
{
    const char *object = jstr(j, "object");
    json_object *c0 = first_of(j, "choices");
    return object && !strcmp(object, "chat.completion") && jget(c0, "message") &&
           !jget(c0, "delta");
}

/* MiniMax ends its stream with the whole answer, whose text was streamed already: it becomes
 * the finishing chunk (unless one came) and the usage chunk (when asked for). */
static void whole_answer(struct prov_ctx *ctx, struct oa_stream *st, json_object *j,
                         struct strbuf *out)
{
    const char *id = jstr(j, "id"), *model = jstr(j, "model");
    struct prov_chunk c = {
        .id = id && *id ? id : arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id),
        .model = model && *model ? model : ctx->origin_model,
        .created = jint(j, "created") ? jint(j, "created") : ctx->created,
        .usage_null = 0,
    };
    if (!st->is_finish_seen) {
        const char *fr = jstr(first_of(j, "choices"), "finish_reason");
        json_object *delta = jnew_obj();
        prov_chunk_put(out, &c, 0, delta, fr && *fr ? fr : "stop");
        json_object_put(delta);
        st->is_finish_seen = 1;
    }
    if (ctx->include_usage && ctx->usage.has_usage) {
        json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
        prov_chunk_usage(out, &c, u);
        json_object_put(u);
    }
    ctx->finished = 1;
}

/* 1 when a choice of chunk j has a finish_reason. */
static int has_finish(json_object *j)
{
    json_object *choices = jget(j, "choices");
    for (size_t i = 0;
         json_object_is_type(choices, json_type_array) && i < json_object_array_length(choices);
         i++) {
        const char *fr = jstr(json_object_array_get_idx(choices, i), "finish_reason");
        if (fr && *fr)
            return 1;
    }
    return 0;
}

/* Spark's HTTP streams end without a finish_reason: the closing chunk clients wait for. */
static void spark_http_finish(struct prov_ctx *ctx, struct oa_stream *st, struct strbuf *out)
{
    if (st->is_finish_seen)
        return;
    struct prov_chunk c = {
        .id = st->spark_id ? st->spark_id : arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id),
        .model = prov_answer_model(ctx),
        .created = ctx->created};
    json_object *delta = jnew_obj();
    prov_chunk_put(out, &c, 0, delta, "stop");
    json_object_put(delta);
    st->is_finish_seen = 1;
}

static int openai_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                        struct strbuf *out, struct prov_error *err)
{
    (void)event;
    if (!ctx->state)
        ctx->state = arena_calloc(ctx->a, 1, sizeof(struct oa_stream));
    struct oa_stream *st = ctx->state;
    if (!data || (n == 6 && !memcmp(data, "[DONE]", 6))) {
        if (is_spark_http(ctx) && st->spark_id)
            spark_http_finish(ctx, st, out);
        /* Otherwise an OpenAI stream that ends without [DONE] needs no closing. */
        if (data)
            ctx->finished = 1;
        return 0;
    }
    json_object *j = prov_parse_object(data, n);
    if (!j) {
        /* Not JSON: forward it as the upstream sent it, as One API does. */
        forward(out, data, n);
        return 0;
    }
    if (base_resp_error(ctx, j, err) < 0) {
        json_object_put(j);
        return -1;
    }
    take_usage(ctx, j);
    if (is_whole_answer(j)) {
        whole_answer(ctx, st, j, out);
        json_object_put(j);
        return 0;
    }
    if (has_finish(j))
        st->is_finish_seen = 1;
    json_object *choices = jget(j, "choices");
    int empty_choices =
        json_object_is_type(choices, json_type_array) && json_object_array_length(choices) == 0;
    int has_usage = json_object_is_type(jget(j, "usage"), json_type_object);
    take_text(ctx, j, "delta");
    /* Azure's prompt-filter chunks carry no choices and no usage: drop them. A usage-only
     * chunk reaches the client only when it asked for usage. */
    if (empty_choices && (!has_usage || !ctx->include_usage)) {
        json_object_put(j);
        return 0;
    }
    if (is_spark_http(ctx)) {
        spark_http_fill(ctx, j, 0);
        if (!st->spark_id)
            st->spark_id = arena_strdup(ctx->a, jstr(j, "id"));
        SB_LIT(out, "data: ");
        jput(out, j);
        SB_LIT(out, "\n\n");
    } else {
        forward(out, data, n);
    }
    json_object_put(j);
    return 0;
}

/* OpenAI's errors are what the default normalisation expects; a base_resp error (MiniMax
 * answering JSON where a stream was asked for) is read first. */
static void openai_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                         struct prov_error *err)
{
    json_object *j = prov_parse_object(body, n);
    int is_base_resp = j && base_resp_error(ctx, j, err) < 0;
    json_object_put(j);
    if (!is_base_resp)
        provider_error_default(ctx->a, status, body, n, err);
}

const struct provider provider_openai = {
    .name = "openai",
    .build_request = openai_build,
    .parse_response = openai_response,
    .parse_event = openai_event,
    .parse_error = openai_error,
};
