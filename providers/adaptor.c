/* adaptor: error filling and OpenAI answer pieces shared by the translating adaptors. */
#include "config.h"
#include "providers/adaptor.h"
#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

int prov_fail(struct prov_error *err, int status, const char *type, const char *code,
              const char *param, const char *msg)
{
    err->status = status;
    err->type = type;
    err->code = code;
    err->param = param;
    err->message = msg;
    return -1;
}

int prov_failf(struct prov_error *err, struct arena *a, int status, const char *type,
               const char *code, const char *param, const char *fmt, ...)
{
    struct strbuf sb;
    sb_init(&sb, a);
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    return prov_fail(err, status, type, code, param, sb.p ? sb.p : "");
}

void prov_fail_status(struct prov_error *err, struct arena *a, int status)
{
    prov_fail(err, status, "upstream_error", "bad_response_status_code",
              arena_printf(a, "%d", status),
              arena_printf(a, "bad response status code %d", status));
}

const char *prov_error_message(struct json_object *root)
{
    static const char *const keys[] = {"message", "msg", "err", "error_msg"};
    const char *msg = NULL;
    for (size_t i = 0; (!msg || !*msg) && i < sizeof keys / sizeof *keys; i++)
        msg = jstr(root, keys[i]);
    if (!msg || !*msg)
        msg = jstr(jget(root, "header"), "message");
    if (!msg || !*msg)
        msg = jstr(jget(jget(root, "response"), "error"), "message");
    return msg && *msg ? msg : NULL;
}

struct json_object *prov_parse_object(const char *s, size_t n)
{
    struct json_object *o = jparse(s, n, 0, NULL);
    if (json_object_is_type(o, json_type_object))
        return o;
    json_object_put(o);
    return NULL;
}

const char *prov_answer_model(const struct prov_ctx *ctx)
{
    if (ctx->origin_model && *ctx->origin_model)
        return ctx->origin_model;
    return ctx->model ? ctx->model : "";
}

const char *prov_config_str(struct prov_ctx *ctx, const char *key)
{
    const char *cfg = ctx->ch && ctx->ch->config ? ctx->ch->config : "";
    if (!*cfg)
        return NULL;
    json_object *j = jparse(cfg, strlen(cfg), 0, NULL);
    const char *v = jstr(j, key);
    v = v && *v ? arena_strdup(ctx->a, v) : NULL;
    json_object_put(j);
    return v;
}

/* "data: {id, object, created, model," of every chunk. */
static void chunk_head(struct strbuf *out, const struct prov_chunk *c)
{
    SB_LIT(out, "data: {\"id\":");
    sb_json_str(out, c->id);
    sb_printf(out, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
              (long long)c->created);
    sb_json_str(out, c->model);
}

void prov_chunk_open(struct strbuf *out, const struct prov_chunk *c, int index)
{
    chunk_head(out, c);
    sb_printf(out, ",\"choices\":[{\"index\":%d,\"delta\":", index);
}

void prov_chunk_close(struct strbuf *out, const struct prov_chunk *c, const char *finish)
{
    SB_LIT(out, ",\"finish_reason\":");
    sb_json_str(out, finish);
    SB_LIT(out, "}]");
    if (c->usage_null)
        SB_LIT(out, ",\"usage\":null");
    SB_LIT(out, "}\n\n");
}

void prov_chunk_put(struct strbuf *out, const struct prov_chunk *c, int index,
                    struct json_object *delta, const char *finish)
{
    prov_chunk_open(out, c, index);
    jput(out, delta);
    prov_chunk_close(out, c, finish);
}

void prov_chunk_usage(struct strbuf *out, const struct prov_chunk *c, struct json_object *usage)
{
    chunk_head(out, c);
    SB_LIT(out, ",\"choices\":[],\"usage\":");
    jput(out, usage);
    SB_LIT(out, "}\n\n");
}

struct json_object *prov_str_new(const char *s, size_t n)
{
    return json_object_new_string_len(s ? s : "", n > INT_MAX ? INT_MAX : (int)n);
}

struct json_object *prov_completion_new(const char *id, int64_t created, const char *model,
                                        struct json_object **choices)
{
    struct json_object *o = jnew_obj();
    *choices = jnew_arr();
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "object", json_object_new_string("chat.completion"));
    json_object_object_add(o, "created", json_object_new_int64(created));
    json_object_object_add(o, "model", json_object_new_string(model));
    json_object_object_add(o, "choices", *choices);
    return o;
}

struct json_object *prov_choice_new(int64_t index, const char *key, struct json_object *value,
                                    const char *finish)
{
    struct json_object *c = jnew_obj();
    json_object_object_add(c, "index", json_object_new_int64(index));
    json_object_object_add(c, key, value);
    json_object_object_add(c, "finish_reason", finish ? json_object_new_string(finish) : NULL);
    return c;
}

struct json_object *prov_message_new(const char *text, size_t text_len, const char *reasoning,
                                     size_t reasoning_len, struct json_object *calls)
{
    struct json_object *m = jnew_obj();
    int has_calls = calls && json_object_array_length(calls) > 0;
    json_object_object_add(m, "role", json_object_new_string("assistant"));
    /* OpenAI sends content null beside tool calls when there is no text, and "" for an empty
     * answer. */
    json_object_object_add(m, "content",
                           text_len || !has_calls ? prov_str_new(text, text_len) : NULL);
    if (reasoning_len)
        json_object_object_add(m, "reasoning_content", prov_str_new(reasoning, reasoning_len));
    if (has_calls)
        json_object_object_add(m, "tool_calls", calls);
    else
        json_object_put(calls);
    return m;
}

struct json_object *prov_tool_call_new(int index, const char *id, const char *name,
                                       const char *arguments)
{
    struct json_object *call = jnew_obj(), *fn = jnew_obj();
    if (index >= 0)
        json_object_object_add(call, "index", json_object_new_int(index));
    json_object_object_add(call, "id", json_object_new_string(id ? id : ""));
    json_object_object_add(call, "type", json_object_new_string("function"));
    json_object_object_add(fn, "name", json_object_new_string(name ? name : ""));
    json_object_object_add(fn, "arguments", json_object_new_string(arguments ? arguments : "{}"));
    json_object_object_add(call, "function", fn);
    return call;
}

/* {key: n} under o's member name. */
static void add_detail(struct json_object *o, const char *name, const char *key, int64_t n)
{
    struct json_object *d = jnew_obj();
    json_object_object_add(d, key, json_object_new_int64(n));
    json_object_object_add(o, name, d);
}

struct json_object *prov_usage_new(const struct prov_usage *u, int64_t total, int64_t cached,
                                   int64_t reasoning)
{
    struct json_object *o = jnew_obj();
    int64_t p = u->prompt_tokens, c = u->completion_tokens;
    json_object_object_add(o, "prompt_tokens", json_object_new_int64(p));
    json_object_object_add(o, "completion_tokens", json_object_new_int64(c));
    json_object_object_add(o, "total_tokens", json_object_new_int64(total > 0 ? total : p + c));
    if (cached > 0)
        add_detail(o, "prompt_tokens_details", "cached_tokens", cached);
    if (reasoning > 0)
        add_detail(o, "completion_tokens_details", "reasoning_tokens", reasoning);
    return o;
}

int prov_b64_floats(struct arena *a, struct json_object *values, struct json_object **res)
{
    size_t n = json_object_array_length(values);
    unsigned char *b = arena_alloc(a, n * 4 + 1);

    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(values, i);
        if (!jis_num(v))
            return -1;
        float f = (float)json_object_get_double(v);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        /* Byte by byte, so the output is little-endian whatever the host is. */
        for (int k = 0; k < 4; k++)
            b[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    struct strbuf sb;
    sb_init(&sb, a);
    b64_put(&sb, b, n * 4);
    *res = prov_str_new(sb.p, sb.len);
    return 0;
}

int prov_embedding_add(struct arena *a, json_object *data, size_t index, json_object *values,
                       int is_b64)
{
    json_object *vec;
    if (!json_object_is_type(values, json_type_array))
        return -1;
    if (is_b64) {
        if (prov_b64_floats(a, values, &vec) < 0)
            return -1;
    } else {
        vec = json_object_get(values);
    }
    json_object *item = jnew_obj();
    json_object_object_add(item, "object", json_object_new_string("embedding"));
    json_object_object_add(item, "index", json_object_new_int64((int64_t)index));
    json_object_object_add(item, "embedding", vec);
    json_object_array_add(data, item);
    return 0;
}

const char *prov_content_text(struct arena *a, json_object *content)
{
    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    struct strbuf sb;
    sb_init(&sb, a);
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i);
        json_object *t = jget(part, "text");
        const char *type = jstr(part, "type");
        if (!type || strcmp(type, "text") || !json_object_is_type(t, json_type_string))
            continue;
        if (sb.len)
            sb_putc(&sb, '\n');
        sb_putn(&sb, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    }
    return sb.p ? sb.p : "";
}

int prov_data_url(const char *url, struct prov_data_url *out)
{
    if (!url || strncasecmp(url, "data:", 5) != 0)
        return -1;
    const char *meta = url + 5, *comma = strchr(meta, ',');
    /* ";base64" is the last parameter when there is one; without it the payload is
     * percent-encoded text, which no adaptor passes on. */
    if (!comma || !comma[1] || comma - meta < 7 || strncasecmp(comma - 7, ";base64", 7) != 0)
        return -1;
    const char *semi = memchr(meta, ';', (size_t)(comma - meta));
    out->mime = meta;
    out->mime_len = (size_t)(semi - meta);
    out->data = comma + 1;
    return 0;
}

int prov_image_data(json_object *part, struct prov_data_url *out, struct prov_error *err)
{
    json_object *iu = jget(part, "image_url");
    const char *url =
        json_object_is_type(iu, json_type_string) ? json_object_get_string(iu) : jstr(iu, "url");
    if (prov_data_url(url, out) == 0)
        return 0;
    return prov_fail(err, 400, "invalid_request_error", NULL, "messages",
                     url && *url ? "image_url must be an http(s) URL or a base64 data: URL"
                                 : "image_url has no url");
}
