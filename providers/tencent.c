/* Tencent Hunyuan adaptor: OpenAI chat and embeddings to TencentCloud API 3.0 and back. */
#include "config.h"
#include "providers/tencent.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/provider.h"
#include "providers/tc3.h"

#define TC_VERSION "2023-09-01"
#define TC_SERVICE "hunyuan"
/* Exactly the Content-Type sent: it is part of the signature. */
#define TC_CONTENT_TYPE "application/json"

/* Stream state, in the request arena (ctx->state). */
struct tc_stream {
    struct prov_chunk chunk; /* id, model and created of every chunk */
    int is_role_sent;        /* the first chunk (with the assistant role) went out */
    const char **call_ids;   /* the Id of each tool call begun, by OpenAI index */
    int n_calls, cap_calls;
};

/* Error code prefixes and the status the client sees for them. */
static const struct {
    const char *prefix;
    int status;
} code_status[] = {
    {"AuthFailure", 401},      {"RequestLimitExceeded", 429},  {"LimitExceeded", 429},
    {"InvalidParameter", 400}, {"InvalidParameterValue", 400}, {"MissingParameter", 400},
    {"UnknownParameter", 400}, {"ResourceInsufficient", 403},  {"ResourceUnavailable", 403},
    {"OperationDenied", 403},  {"UnauthorizedOperation", 403}, {"UnsupportedOperation", 400},
};

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

static const char *map_finish(const char *reason)
{
    if (reason && !strcmp(reason, "sensitive"))
        return "content_filter";
    if (reason && (!strcmp(reason, "length") || !strcmp(reason, "tool_calls")))
        return reason;
    /* Unknown (newer) reasons would break SDKs that check the enum; "stop" is always valid. */
    return "stop";
}

/* The model named in answers: what the client asked for, else the one sent upstream. */
static const char *answer_model(const struct prov_ctx *ctx)
{
    if (ctx->origin_model && *ctx->origin_model)
        return ctx->origin_model;
    return ctx->model ? ctx->model : "";
}

/* The first element of array member key of j, or NULL (json-c asserts on a non-array). */
static json_object *first_of(json_object *j, const char *key)
{
    json_object *a = jget(j, key);
    return json_object_is_type(a, json_type_array) && json_object_array_length(a)
               ? json_object_array_get_idx(a, 0)
               : NULL;
}

/* --- errors --- */

/* The Error object of an answer: Response.Error, or a top-level Error. NULL when none. */
static json_object *tc_error_obj(json_object *root)
{
    json_object *e = jget(jget(root, "Response"), "Error");
    if (!json_object_is_type(e, json_type_object))
        e = jget(root, "Error");
    return json_object_is_type(e, json_type_object) ? e : NULL;
}

/* Fills err from a Tencent Error object; returns -1. */
static int tc_fail(struct prov_ctx *ctx, json_object *e, struct prov_error *err)
{
    const char *code = jstr(e, "Code");
    const char *msg = jstr(e, "Message");
    int status = 500;

    for (size_t i = 0; code && i < sizeof code_status / sizeof *code_status; i++) {
        size_t n = strlen(code_status[i].prefix);
        if (!strncmp(code, code_status[i].prefix, n) && (code[n] == '\0' || code[n] == '.')) {
            status = code_status[i].status;
            break;
        }
    }
    return prov_fail(err, status, "upstream_error", code ? arena_strdup(ctx->a, code) : NULL, NULL,
                     arena_strdup(ctx->a, msg && *msg ? msg : "the upstream failed"));
}

static void tc_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    json_object *e = tc_error_obj(root);

    if (e)
        tc_fail(ctx, e, err);
    else
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(root);
}

/* --- request --- */

/* The plain text of an OpenAI content value: a string, or the text parts joined by newlines.
 * In a. */
static const char *content_text(struct arena *a, json_object *content)
{
    struct strbuf sb;

    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    sb_init(&sb, a);
    for (size_t i = 0;
         json_object_is_type(content, json_type_array) && i < json_object_array_length(content);
         i++) {
        json_object *part = json_object_array_get_idx(content, i);
        const char *type = jstr(part, "type"), *t = jstr(part, "text");

        if (type && !strcmp(type, "text") && t) {
            if (sb.len)
                sb_putc(&sb, '\n');
            sb_puts(&sb, t);
        }
    }
    return sb.p ? sb.p : "";
}

/* Whether an OpenAI content array holds an image_url part. */
static int has_image(json_object *content)
{
    for (size_t i = 0;
         json_object_is_type(content, json_type_array) && i < json_object_array_length(content);
         i++) {
        const char *type = jstr(json_object_array_get_idx(content, i), "type");
        if (type && !strcmp(type, "image_url"))
            return 1;
    }
    return 0;
}

/* An OpenAI content array with images as Hunyuan's Contents: text and image_url items in
 * order, other parts skipped. Hunyuan fetches http(s) URLs itself and takes data: URLs too.
 * -1 with err filled for an image part without a URL. */
static int add_contents(json_object *content, json_object *o, struct prov_error *err)
{
    json_object *list = jnew_arr();
    json_object_object_add(o, "Contents", list);
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        json_object *part = json_object_array_get_idx(content, i), *item;
        const char *type = jstr(part, "type");
        if (type && !strcmp(type, "text") && jstr(part, "text")) {
            item = jnew_obj();
            json_object_object_add(item, "Type", json_object_new_string("text"));
            json_object_object_add(item, "Text", json_object_new_string(jstr(part, "text")));
        } else if (type && !strcmp(type, "image_url")) {
            json_object *iu = jget(part, "image_url");
            const char *url = json_object_is_type(iu, json_type_string) ? json_object_get_string(iu)
                                                                        : jstr(iu, "url");
            if (!url || !*url)
                return bad_request(err, "messages", "image_url part without a url");
            json_object *img = jnew_obj();
            json_object_object_add(img, "Url", json_object_new_string(url));
            item = jnew_obj();
            json_object_object_add(item, "Type", json_object_new_string("image_url"));
            json_object_object_add(item, "ImageUrl", img);
        } else {
            continue;
        }
        json_object_array_add(list, item);
    }
    return 0;
}

/* An assistant's OpenAI tool_calls as Hunyuan's ToolCalls (arguments stay a JSON string). */
static json_object *calls_in(json_object *calls)
{
    json_object *list = jnew_arr();
    for (size_t i = 0; i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i), *fn = jget(c, "function");
        json_object *o = jnew_obj(), *f = jnew_obj();
        const char *id = jstr(c, "id"), *name = jstr(fn, "name"), *args = jstr(fn, "arguments");
        json_object_object_add(o, "Id", json_object_new_string(id ? id : ""));
        json_object_object_add(o, "Type", json_object_new_string("function"));
        json_object_object_add(f, "Name", json_object_new_string(name ? name : ""));
        json_object_object_add(f, "Arguments", json_object_new_string(args && *args ? args : "{}"));
        json_object_object_add(o, "Function", f);
        json_object_array_add(list, o);
    }
    return list;
}

/* An OpenAI function tool as Hunyuan's Tool, whose Parameters is the schema as a JSON
 * string. NULL for a tool that is not a named function. */
static json_object *tool_in(struct arena *a, json_object *tool)
{
    json_object *fn = jget(tool, "function"), *params = jget(fn, "parameters");
    const char *type = jstr(tool, "type"), *name = jstr(fn, "name"),
               *desc = jstr(fn, "description");
    if ((type && strcmp(type, "function")) || !name || !*name)
        return NULL;
    json_object *o = jnew_obj(), *f = jnew_obj();
    json_object_object_add(o, "Type", json_object_new_string("function"));
    json_object_object_add(f, "Name", json_object_new_string(name));
    if (params) {
        size_t n;
        const char *text = jdump(a, params, &n);
        json_object_object_add(f, "Parameters", prov_str_new(text, n));
    }
    if (desc && *desc)
        json_object_object_add(f, "Description", json_object_new_string(desc));
    json_object_object_add(o, "Function", f);
    return o;
}

/* The Tool of tools (Hunyuan's) named name, or NULL. */
static json_object *tool_named(json_object *tools, const char *name)
{
    for (size_t i = 0; name && i < json_object_array_length(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        const char *n = jstr(jget(t, "Function"), "Name");
        if (n && !strcmp(n, name))
            return t;
    }
    return NULL;
}

/* tools and tool_choice as Tools, ToolChoice and CustomTool. Hunyuan's choices are none,
 * auto and custom (one named tool): "required" can only be kept with a single tool, which
 * it forces; with several it is auto, the closest Hunyuan has. */
static void add_tools(struct prov_ctx *ctx, json_object *body)
{
    json_object *tools = jget(ctx->req, "tools"), *list = jnew_arr();
    for (size_t i = 0;
         json_object_is_type(tools, json_type_array) && i < json_object_array_length(tools); i++) {
        json_object *t = tool_in(ctx->a, json_object_array_get_idx(tools, i));
        if (t)
            json_object_array_add(list, t);
    }
    if (!json_object_array_length(list)) {
        json_object_put(list);
        return;
    }
    json_object_object_add(body, "Tools", list);
    json_object *tc = jget(ctx->req, "tool_choice"), *custom = NULL;
    const char *choice =
        json_object_is_type(tc, json_type_string) ? json_object_get_string(tc) : NULL;
    if (json_object_is_type(tc, json_type_object))
        custom = tool_named(list, jstr(jget(tc, "function"), "name"));
    else if (choice && !strcmp(choice, "required"))
        custom = json_object_array_length(list) == 1 ? json_object_array_get_idx(list, 0) : NULL;
    if (custom) {
        json_object_object_add(body, "ToolChoice", json_object_new_string("custom"));
        json_object_object_add(body, "CustomTool", json_object_get(custom));
    } else if (choice && (!strcmp(choice, "none") || !strcmp(choice, "auto"))) {
        json_object_object_add(body, "ToolChoice", json_object_new_string(choice));
    }
}

static int build_chat(struct prov_ctx *ctx, json_object *body, struct prov_error *err)
{
    json_object *msgs = jget(ctx->req, "messages");

    if (!json_object_is_type(msgs, json_type_array))
        return bad_request(err, "messages", "messages must be an array");
    json_object_object_add(body, "Model", json_object_new_string(ctx->model ? ctx->model : ""));
    json_object *list = jnew_arr();
    json_object_object_add(body, "Messages", list);
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *o = jnew_obj();
        json_object *content = jget(m, "content"), *calls = jget(m, "tool_calls");
        const char *role = jstr(m, "role"), *call_id = jstr(m, "tool_call_id");

        json_object_array_add(list, o);
        /* Hunyuan knows no "developer" role: it is OpenAI's new name for system. */
        if (role && !strcmp(role, "developer"))
            role = "system";
        json_object_object_add(o, "Role", json_object_new_string(role ? role : "user"));
        int has_calls =
            json_object_is_type(calls, json_type_array) && json_object_array_length(calls);
        const char *text = content_text(ctx->a, content);
        /* Images go in Contents (the vision models), which stands instead of Content. Hunyuan
         * refuses an empty Content: a call without text has none, as OpenAI's has null. */
        if (has_image(content)) {
            if (add_contents(content, o, err) < 0)
                return -1;
        } else if (*text || !has_calls) {
            json_object_object_add(o, "Content", json_object_new_string(text));
        }
        if (role && !strcmp(role, "tool") && call_id)
            json_object_object_add(o, "ToolCallId", json_object_new_string(call_id));
        if (has_calls)
            json_object_object_add(o, "ToolCalls", calls_in(calls));
    }
    json_object_object_add(body, "Stream", json_object_new_boolean(ctx->is_stream));
    json_object *v = jget(ctx->req, "top_p");
    if (jis_num(v))
        json_object_object_add(body, "TopP", jcopy(v));
    v = jget(ctx->req, "temperature");
    if (jis_num(v))
        json_object_object_add(body, "Temperature", jcopy(v));
    add_tools(ctx, body);
    return 0;
}

static int build_embedding(struct prov_ctx *ctx, json_object *body, struct prov_error *err)
{
    json_object *in = jget(ctx->req, "input"), *list = jnew_arr();

    json_object_object_add(body, "InputList", list);
    if (json_object_is_type(in, json_type_string)) {
        json_object_array_add(list, jcopy(in));
        return 0;
    }
    for (size_t i = 0; json_object_is_type(in, json_type_array) && i < json_object_array_length(in);
         i++) {
        json_object *s = json_object_array_get_idx(in, i);
        if (!json_object_is_type(s, json_type_string))
            return bad_request(err, "input", "input must be a string or an array of strings");
        json_object_array_add(list, jcopy(s));
    }
    if (!json_object_array_length(list))
        return bad_request(err, "input", "input must be a string or an array of strings");
    return 0;
}

/* The "host[:port]" of an absolute URL, in a; NULL when url has no scheme or host. */
static const char *url_host(struct arena *a, const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return NULL;
    p += 3;
    size_t n = strcspn(p, "/?#");
    return n ? arena_strndup(a, p, n) : NULL;
}

static int tc_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    const char *bar1 = strchr(key, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;

    if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
        return bad_request(err, NULL, "this relay mode is not supported by this channel");
    if (!json_object_is_type(ctx->req, json_type_object))
        return bad_request(err, NULL, "the request body must be a JSON object");
    /* A line break in the key or base URL would smuggle headers into the upstream request. */
    if (!bar2 || strchr(bar2 + 1, '|') || strpbrk(key, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel key must be AppId|SecretId|SecretKey");
    const char *host = url_host(ctx->a, ctx->ch->base_url);
    if (!host || strpbrk(ctx->ch->base_url, "\r\n"))
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the channel base URL has no host");

    json_object *body = jnew_obj();
    int is_chat = ctx->mode == RELAY_CHAT;
    int rc = is_chat ? build_chat(ctx, body, err) : build_embedding(ctx, body, err);
    if (rc != 0) {
        json_object_put(body);
        return -1;
    }
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);

    const char *action = is_chat ? "ChatCompletions" : "GetEmbedding";
    struct tc3_input in = {
        .secret_id = arena_strndup(ctx->a, bar1 + 1, (size_t)(bar2 - bar1 - 1)),
        .secret_key = bar2 + 1,
        .service = TC_SERVICE,
        .host = host,
        .action = action,
        .content_type = TC_CONTENT_TYPE,
        .timestamp = ctx->created,
        .body = out->body,
        .body_len = out->body_len,
    };
    out->url = arena_printf(ctx->a, "%s/", ctx->ch->base_url);
    out->n_headers = 0;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "Host: %s", host);
    out->headers[out->n_headers++] = "Content-Type: " TC_CONTENT_TYPE;
    out->headers[out->n_headers++] = arena_printf(ctx->a, "X-TC-Action: %s", action);
    out->headers[out->n_headers++] = "X-TC-Version: " TC_VERSION;
    out->headers[out->n_headers++] =
        arena_printf(ctx->a, "X-TC-Timestamp: %lld", (long long)ctx->created);
    out->headers[out->n_headers++] =
        arena_printf(ctx->a, "Authorization: %s", tc3_authorization(ctx->a, &in));
    const char *region = jstr(jown(ctx->a, json_tokener_parse(ctx->ch->config)), "region");
    if (region && *region && !strpbrk(region, "\r\n"))
        out->headers[out->n_headers++] = arena_printf(ctx->a, "X-TC-Region: %s", region);
    if (ctx->is_stream && is_chat)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    return 0;
}

/* --- answers --- */

/* Reads Usage {PromptTokens, CompletionTokens, TotalTokens} into ctx->usage; 1 when there
 * was one. */
static int usage_fill(struct prov_ctx *ctx, json_object *u)
{
    if (!json_object_is_type(u, json_type_object))
        return 0;
    int64_t p = jint(u, "PromptTokens"), c = jint(u, "CompletionTokens");
    int64_t t = jint(u, "TotalTokens");
    if (!p && !c && !t)
        return 0; /* a zero usage is no usage: the core counts the tokens itself */
    if (!p && !c)
        p = t; /* embeddings report the input only */
    ctx->usage.prompt_tokens = p;
    ctx->usage.completion_tokens = c;
    ctx->usage.has_usage = 1;
    return 1;
}

/* Hunyuan's ToolCalls of an answer as OpenAI's tool_calls (a new reference); the arguments
 * also go into ctx->text, so that a count of the answer includes them. */
static json_object *calls_out(struct prov_ctx *ctx, json_object *calls)
{
    json_object *list = jnew_arr();
    for (size_t i = 0;
         json_object_is_type(calls, json_type_array) && i < json_object_array_length(calls); i++) {
        json_object *c = json_object_array_get_idx(calls, i), *fn = jget(c, "Function");
        const char *id = jstr(c, "Id"), *args = jstr(fn, "Arguments");
        if (!id || !*id)
            id = arena_printf(ctx->a, "call_%s_%zu", ctx->request_id ? ctx->request_id : "", i);
        if (args)
            sb_puts(&ctx->text, args);
        json_object_array_add(list, prov_tool_call_new(-1, id, jstr(fn, "Name"), args));
    }
    return list;
}

static int chat_response(struct prov_ctx *ctx, json_object *resp, struct strbuf *out)
{
    json_object *choice = first_of(resp, "Choices");
    json_object *msg = jget(choice, "Message");
    const char *text = jstr(msg, "Content");
    const char *id = jstr(resp, "Id");

    if (!id || !*id)
        id = jstr(resp, "RequestId");
    if (!text)
        text = "";
    sb_puts(&ctx->text, text);
    json_object *choices;
    json_object *res =
        prov_completion_new(arena_printf(ctx->a, "chatcmpl-%s", id ? id : ctx->request_id),
                            ctx->created, answer_model(ctx), &choices);
    json_object_array_add(choices,
                          prov_choice_new(0, "message",
                                          prov_message_new(text, strlen(text), NULL, 0,
                                                           calls_out(ctx, jget(msg, "ToolCalls"))),
                                          map_finish(jstr(choice, "FinishReason"))));
    if (usage_fill(ctx, jget(resp, "Usage")))
        json_object_object_add(
            res, "usage",
            prov_usage_new(&ctx->usage, jint(jget(resp, "Usage"), "TotalTokens"), 0, 0));
    jput(out, res);
    json_object_put(res);
    return 0;
}

static int embedding_response(struct prov_ctx *ctx, json_object *resp, struct strbuf *out,
                              struct prov_error *err)
{
    json_object *items = jget(resp, "Data");
    const char *fmt = jstr(ctx->req, "encoding_format");
    int is_b64 = fmt && !strcmp(fmt, "base64");

    if (!json_object_is_type(items, json_type_array))
        return bad_upstream_json(err);
    json_object *res = jnew_obj(), *data = jnew_arr();
    json_object_object_add(res, "object", json_object_new_string("list"));
    json_object_object_add(res, "data", data);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);
        json_object *idx = jget(it, "Index");
        size_t index = idx ? (size_t)json_object_get_int64(idx) : i;
        if (prov_embedding_add(ctx->a, data, index, jget(it, "Embedding"), is_b64) < 0) {
            json_object_put(res);
            return bad_upstream_json(err);
        }
    }
    json_object_object_add(res, "model", json_object_new_string(answer_model(ctx)));
    usage_fill(ctx, jget(resp, "Usage"));
    json_object *u = jnew_obj();
    json_object_object_add(u, "prompt_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(u, "total_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(res, "usage", u);
    jput(out, res);
    json_object_put(res);
    return 0;
}

static int tc_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    int rc;

    if (!root)
        return bad_upstream_json(err);
    json_object *e = tc_error_obj(root), *resp = jget(root, "Response");
    if (e)
        rc = tc_fail(ctx, e, err);
    else if (!json_object_is_type(resp, json_type_object))
        rc = bad_upstream_json(err);
    else if (ctx->mode == RELAY_EMBEDDINGS)
        rc = embedding_response(ctx, resp, out, err);
    else
        rc = chat_response(ctx, resp, out);
    json_object_put(root);
    return rc;
}

/* --- streaming (SSE, events not wrapped in Response, no [DONE]) --- */

static struct tc_stream *stream_state(struct prov_ctx *ctx, const char *id)
{
    struct tc_stream *st = ctx->state;

    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = arena_printf(ctx->a, "chatcmpl-%s",
                                id && *id ? id : (ctx->request_id ? ctx->request_id : ""));
    st->chunk.model = answer_model(ctx);
    st->chunk.created = ctx->created;
    st->chunk.usage_null = ctx->include_usage;
    ctx->state = st;
    return st;
}

/* The OpenAI index of the streamed tool call with Hunyuan Id id, a new one when the Id is
 * new. Hunyuan repeats the Id on every piece of a call; a piece without one continues the
 * last call. *is_new tells whether the call begins here. */
static int call_index(struct prov_ctx *ctx, struct tc_stream *st, const char *id, int *is_new)
{
    *is_new = 0;
    if (!id || !*id) {
        if (st->n_calls)
            return st->n_calls - 1;
        id = "";
    }
    for (int i = 0; *id && i < st->n_calls; i++)
        if (!strcmp(st->call_ids[i], id))
            return i;
    if (st->n_calls == st->cap_calls) {
        int cap = st->cap_calls ? 2 * st->cap_calls : 4;
        const char **ids = arena_alloc(ctx->a, (size_t)cap * sizeof *ids);
        if (st->n_calls)
            memcpy(ids, st->call_ids, (size_t)st->n_calls * sizeof *ids);
        st->call_ids = ids;
        st->cap_calls = cap;
    }
    st->call_ids[st->n_calls] = arena_strdup(ctx->a, id);
    *is_new = 1;
    return st->n_calls++;
}

/* A Delta's ToolCalls as OpenAI's streamed tool_calls (a new reference; NULL when there are
 * none): a call's first piece has its id, type and name, the next ones only their index and
 * the arguments to append, since SDKs concatenate every string they are sent again. */
static json_object *stream_calls(struct prov_ctx *ctx, struct tc_stream *st, json_object *calls)
{
    size_t n = json_object_is_type(calls, json_type_array) ? json_object_array_length(calls) : 0;
    if (!n)
        return NULL;
    json_object *list = jnew_arr();
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(calls, i), *fn = jget(c, "Function");
        const char *id = jstr(c, "Id"), *args = jstr(fn, "Arguments");
        int is_new, index = call_index(ctx, st, id, &is_new);
        if (args)
            sb_puts(&ctx->text, args);
        if (is_new) {
            if (!id || !*id)
                id = arena_printf(ctx->a, "call_%s_%d", ctx->request_id ? ctx->request_id : "",
                                  index);
            json_object_array_add(
                list, prov_tool_call_new(index, id, jstr(fn, "Name"), args ? args : ""));
            continue;
        }
        json_object *o = jnew_obj(), *f = jnew_obj();
        json_object_object_add(o, "index", json_object_new_int(index));
        json_object_object_add(f, "arguments", json_object_new_string(args ? args : ""));
        json_object_object_add(o, "function", f);
        json_object_array_add(list, o);
    }
    return list;
}

/* One chunk with content text and the tool calls (consumed; NULL for none), finish_reason
 * finish. The first chunk also names the role. Beside tool calls an empty text is null, as
 * in OpenAI's streams. */
static void emit(struct tc_stream *st, struct strbuf *out, const char *text, json_object *calls,
                 const char *finish)
{
    prov_chunk_open(out, &st->chunk, 0);
    SB_LIT(out, "{");
    if (!st->is_role_sent)
        SB_LIT(out, "\"role\":\"assistant\",");
    SB_LIT(out, "\"content\":");
    if (calls && !*text)
        SB_LIT(out, "null");
    else
        sb_json_str(out, text);
    if (calls) {
        SB_LIT(out, ",\"tool_calls\":");
        jput(out, calls);
        json_object_put(calls);
    }
    SB_LIT(out, "}");
    prov_chunk_close(out, &st->chunk, finish);
    st->is_role_sent = 1;
}

/* The end: the usage chunk when asked for, and ctx->finished. */
static void finish(struct prov_ctx *ctx, struct tc_stream *st, struct strbuf *out)
{
    if (ctx->include_usage && ctx->usage.has_usage) {
        json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
    ctx->finished = 1;
}

static int tc_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    (void)event;
    if (!data) {
        /* Closed without a FinishReason: clients still wait for one. */
        struct tc_stream *st = stream_state(ctx, NULL);
        emit(st, out, "", NULL, "stop");
        finish(ctx, st, out);
        return 0;
    }
    if (is_blank(data, n))
        return 0;
    json_object *ev = prov_parse_object(data, n);
    if (!ev)
        return bad_upstream_json(err);
    json_object *e = tc_error_obj(ev);
    if (e) {
        tc_fail(ctx, e, err);
        json_object_put(ev);
        return -1;
    }
    struct tc_stream *st = stream_state(ctx, jstr(ev, "Id"));
    json_object *choice = first_of(ev, "Choices");
    json_object *delta = jget(choice, "Delta");
    const char *text = jstr(delta, "Content");
    const char *reason = jstr(choice, "FinishReason");
    int is_last = reason && *reason;

    usage_fill(ctx, jget(ev, "Usage"));
    if (text)
        sb_puts(&ctx->text, text);
    if (choice)
        emit(st, out, text ? text : "", stream_calls(ctx, st, jget(delta, "ToolCalls")),
             is_last ? map_finish(reason) : NULL);
    if (is_last)
        finish(ctx, st, out);
    json_object_put(ev);
    return 0;
}

const struct provider provider_tencent = {
    .name = "tencent",
    .build_request = tc_build_request,
    .parse_response = tc_parse_response,
    .parse_event = tc_parse_event,
    .parse_error = tc_parse_error,
};
