/* Google Gemini adaptor: OpenAI chat and embeddings to and from generateContent. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/crypto.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/gemini.h"
#include "providers/provider.h"

/* Gemini's default base URL, used when the channel has none. */
#define GM_DEFAULT_BASE "https://generativelanguage.googleapis.com"
/* URL version when neither the channel nor the model rule picks one (One API's GEMINI_VERSION). */
#define GM_DEFAULT_VERSION "v1"
/* Threshold for every harm category (One API's GEMINI_SAFETY_SETTING default). */
#define GM_DEFAULT_SAFETY "BLOCK_NONE"
/* Choice indexes the stream state tracks; Gemini caps candidateCount at 8. */
#define GM_MAX_CAND 16
/* Gemini rejects more than five stop sequences. */
#define GM_MAX_STOP 5
/* The error type of a request Gemini cannot be given (400, never retried). */
#define GM_BAD "invalid_request_error"

/* The channel-level settings of one attempt. */
struct gm_conf {
    const char *version; /* URL version segment */
    const char *safety;  /* threshold for every harm category */
};

/* One chat request being converted; the json-c trees are heap objects released by the caller. */
struct gm_conv {
    struct prov_ctx *ctx;
    struct prov_error *err;
    json_object *msgs;      /* the client's messages (borrowed from ctx->req) */
    json_object *contents;  /* Gemini turns built so far */
    json_object *sys_parts; /* systemInstruction parts */
    const char *last_role;  /* role of the last turn in contents ("user"/"model"), or NULL */
    int last_is_tool;       /* the last turn holds function responses */
};

/* One candidate read from a GenerateContentResponse. */
struct gm_cand {
    struct strbuf text;    /* visible text parts, concatenated */
    struct strbuf thought; /* parts flagged thought: true, concatenated */
    json_object *calls;    /* OpenAI tool_calls array (owned), or NULL when none */
    int n_calls;           /* entries in calls */
    const char *finish;    /* the upstream finishReason (borrowed), or NULL */
};

/* Usage details beyond prov_usage, kept so the stream's usage chunk can carry them. */
struct gm_usage_extra {
    int64_t total;     /* totalTokenCount, 0 when absent */
    int64_t cached;    /* cachedContentTokenCount */
    int64_t reasoning; /* thoughtsTokenCount */
};

/* Stream state, in the arena behind ctx->state. */
struct gm_stream {
    struct prov_chunk chunk;               /* id, model and created shared by every chunk */
    unsigned char is_started[GM_MAX_CAND]; /* the role chunk went out for this choice */
    unsigned char is_done[GM_MAX_CAND];    /* its finish_reason went out */
    unsigned char has_calls[GM_MAX_CAND];  /* a function call was seen for it */
    int n_calls[GM_MAX_CAND];              /* tool_calls indexes used so far */
    int n_done;                            /* choices finished */
    int n_want;                            /* choices the client asked for (n) */
    int is_usage_sent;                     /* the usage chunk went out */
    struct gm_usage_extra u;               /* details of the last usageMetadata */
};

/* ---- small helpers ---- */

static int gm_internal(struct prov_error *err, const char *code, const char *message)
{
    return prov_fail(err, 500, "one_api_error", code, NULL, message);
}

static int gm_malformed(struct prov_error *err)
{
    return gm_internal(err, "unmarshal_response_body_failed",
                       "cannot parse the upstream response from Gemini");
}

/* The completion id: "chatcmpl-" + the request id, random when the core gave none. */
static const char *gm_completion_id(struct prov_ctx *ctx)
{
    if (ctx->request_id && *ctx->request_id)
        return arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id);
    char hex[33];
    uuid_hex(hex);
    return arena_printf(ctx->a, "chatcmpl-%s", hex);
}

/* The model as it goes in the URL: Gemini's own "models/" prefix is accepted and dropped. */
static const char *gm_model(const struct prov_ctx *ctx)
{
    const char *m = ctx->model ? ctx->model : "";
    return strncmp(m, "models/", 7) == 0 ? m + 7 : m;
}

/* The model name shown to the client. */
static const char *gm_out_model(const struct prov_ctx *ctx)
{
    return ctx->model && *ctx->model ? ctx->model : (ctx->origin_model ? ctx->origin_model : "");
}

/* ---- settings and URL ---- */

/* Reads the version and safety setting. Order: the channel's config api_version; then v1beta
 * for gemini-1.5/2.0 models; then ch->api_version, which is the legacy `other` column or, when
 * the channel has neither, GEMINI_VERSION as the core passes it; then v1. The config is read
 * here because ch->api_version alone cannot tell a version the channel pinned from the process
 * default, and the model rule must sit between the two. */
static void gm_conf_read(struct prov_ctx *ctx, struct gm_conf *c)
{
    const struct prov_channel *ch = ctx->ch;
    const char *model = gm_model(ctx), *pinned = NULL;

    c->safety = ch->gemini_safety && *ch->gemini_safety ? ch->gemini_safety : GM_DEFAULT_SAFETY;
    if (ch->config && *ch->config) {
        /* A broken config must not break the channel: it only loses the optional keys. */
        json_object *cfg = jparse(ch->config, strlen(ch->config), 0, NULL);
        const char *v = jstr(cfg, "api_version"), *s = jstr(cfg, "gemini_safety_setting");
        if (v && *v)
            pinned = arena_strdup(ctx->a, v);
        if (s && *s)
            c->safety = arena_strdup(ctx->a, s);
        json_object_put(cfg);
    }
    if (pinned)
        c->version = pinned;
    else if (strstr(model, "gemini-1.5") || strstr(model, "gemini-2.0"))
        c->version = "v1beta";
    else if (ch->api_version && *ch->api_version)
        c->version = ch->api_version;
    else
        c->version = GM_DEFAULT_VERSION;
}

/* <base>/<version>/models/<model>:<method>, in the arena. Version and model are
 * percent-encoded so a strange value cannot change the path or add a query. */
static const char *gm_url(struct prov_ctx *ctx, const struct gm_conf *c, const char *method)
{
    const char *base =
        ctx->ch->base_url && *ctx->ch->base_url ? ctx->ch->base_url : GM_DEFAULT_BASE;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    struct strbuf sb;
    sb_init(&sb, ctx->a);
    sb_putn(&sb, base, n);
    sb_putc(&sb, '/');
    sb_url(&sb, c->version);
    SB_LIT(&sb, "/models/");
    sb_url(&sb, gm_model(ctx));
    sb_putc(&sb, ':');
    sb_puts(&sb, method);
    return sb.p;
}

static int gm_headers(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const char *key = ctx->ch->key ? ctx->ch->key : "";

    /* A line break in the key would smuggle a header into the upstream request. */
    if (strpbrk(key, "\r\n"))
        return gm_internal(err, "convert_request_failed", "the channel key contains a line break");
    out->n_headers = 0;
    out->headers[out->n_headers++] = "Content-Type: application/json";
    out->headers[out->n_headers++] = arena_printf(ctx->a, "x-goog-api-key: %s", key);
    if (ctx->mode == RELAY_CHAT && ctx->is_stream)
        out->headers[out->n_headers++] = "Accept: text/event-stream";
    return 0;
}

/* ---- request conversion: content parts ---- */

static void gm_add_text(json_object *parts, const char *s, size_t n)
{
    json_object *p = jnew_obj();
    json_object_object_add(p, "text", prov_str_new(s, n));
    json_object_array_add(parts, p);
}

static void gm_add_inline(json_object *parts, const char *mime, size_t mime_len, const char *data)
{
    json_object *p = jnew_obj(), *d = jnew_obj();
    json_object_object_add(d, "mimeType", prov_str_new(mime, mime_len));
    json_object_object_add(d, "data", json_object_new_string(data));
    json_object_object_add(p, "inlineData", d);
    json_object_array_add(parts, p);
}

/* A base64 data: URL as an inlineData part. */
static void gm_add_data_url(json_object *parts, const struct prov_data_url *d)
{
    if (d->mime_len == 0)
        gm_add_inline(parts, "application/octet-stream", 24, d->data);
    else
        gm_add_inline(parts, d->mime, d->mime_len, d->data);
}

/* Appends the parts of an OpenAI message content (string or array of parts) to parts.
 * what names the message kind for errors; text_only refuses media. */
static int gm_add_content(struct gm_conv *cv, json_object *content, json_object *parts,
                          const char *what, int text_only)
{
    struct arena *a = cv->ctx->a;

    if (!content || json_object_is_type(content, json_type_null))
        return 0;
    if (json_object_is_type(content, json_type_string)) {
        /* Gemini rejects empty text parts; an empty string carries nothing anyway. */
        if (json_object_get_string_len(content) > 0)
            gm_add_text(parts, json_object_get_string(content),
                        (size_t)json_object_get_string_len(content));
        return 0;
    }
    if (!json_object_is_type(content, json_type_array))
        return prov_failf(cv->err, a, 400, GM_BAD, NULL, "messages",
                          "%s content must be a string or an array of parts", what);
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(content, i);
        const char *type = jstr(item, "type");

        if (json_object_is_type(item, json_type_string)) {
            const char *s = json_object_get_string(item);
            if (*s)
                gm_add_text(parts, s, strlen(s));
        } else if (!type || strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            const char *s = jstr(item, type && strcmp(type, "refusal") == 0 ? "refusal" : "text");
            if (s && *s)
                gm_add_text(parts, s, strlen(s));
        } else if (text_only) {
            return prov_failf(cv->err, a, 400, GM_BAD, NULL, "messages",
                              "%s messages may only hold text", what);
        } else if (strcmp(type, "image_url") == 0) {
            struct prov_data_url d;
            if (prov_image_data(item, &d, cv->err) < 0)
                return -1;
            gm_add_data_url(parts, &d);
        } else if (strcmp(type, "input_audio") == 0) {
            json_object *ia = jget(item, "input_audio");
            const char *data = jstr(ia, "data"), *fmt = jstr(ia, "format");
            if (!data || !*data || !fmt || !*fmt)
                return prov_fail(cv->err, 400, GM_BAD, NULL, "messages",
                                 "input_audio needs data and format");
            char *mime = arena_printf(a, "audio/%s", fmt);
            gm_add_inline(parts, mime, strlen(mime), data);
        } else if (strcmp(type, "file") == 0) {
            struct prov_data_url d;
            if (prov_data_url(jstr(jget(item, "file"), "file_data"), &d) < 0)
                return prov_fail(cv->err, 400, GM_BAD, NULL, "messages",
                                 "file parts need file_data as a base64 data URL");
            gm_add_data_url(parts, &d);
        } else {
            return prov_failf(cv->err, a, 400, GM_BAD, NULL, "messages",
                              "unsupported content part type '%s'", type);
        }
    }
    return 0;
}

/* Joined text of a content (string or text parts), in the arena. */
static const char *gm_content_text(struct prov_ctx *ctx, json_object *content)
{
    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    struct strbuf sb;
    sb_init(&sb, ctx->a);
    size_t n =
        json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(content, i);
        const char *s = json_object_is_type(item, json_type_string) ? json_object_get_string(item)
                                                                    : jstr(item, "text");
        if (s)
            sb_puts(&sb, s);
    }
    return sb.p;
}

/* ---- request conversion: turns ---- */

/* Adds parts (consumed) as a turn, merged into the previous turn when it has the same role and
 * kind: Gemini wants the answers to parallel calls in one turn, and merging adjacent user or
 * model messages loses nothing. An empty parts array adds nothing, since Gemini rejects empty
 * turns. */
static void gm_turn(struct gm_conv *cv, const char *role, int is_tool, json_object *parts)
{
    size_t n = json_object_array_length(parts), nt = json_object_array_length(cv->contents);

    if (n == 0) {
        json_object_put(parts);
        return;
    }
    if (nt > 0 && cv->last_role && strcmp(cv->last_role, role) == 0 &&
        cv->last_is_tool == is_tool) {
        json_object *prev = jget(json_object_array_get_idx(cv->contents, nt - 1), "parts");
        for (size_t i = 0; i < n; i++)
            json_object_array_add(prev, json_object_get(json_object_array_get_idx(parts, i)));
        json_object_put(parts);
        return;
    }
    json_object *turn = jnew_obj();
    json_object_object_add(turn, "role", json_object_new_string(role));
    json_object_object_add(turn, "parts", parts);
    json_object_array_add(cv->contents, turn);
    cv->last_role = role;
    cv->last_is_tool = is_tool;
}

/* Function-call arguments as Gemini's args object. Models sometimes produce arguments that are
 * not an object; they are kept under "arguments" rather than failing the whole conversation. */
static json_object *gm_args(const char *s)
{
    const char *p = s ? s : "";
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return jnew_obj();
    json_object *o = prov_parse_object(p, strlen(p));
    if (o)
        return o;
    json_object *w = jnew_obj();
    json_object_object_add(w, "arguments", json_object_new_string(s));
    return w;
}

static void gm_add_call(json_object *parts, const char *name, const char *args)
{
    json_object *p = jnew_obj(), *fc = jnew_obj();
    json_object_object_add(fc, "name", json_object_new_string(name));
    json_object_object_add(fc, "args", gm_args(args));
    json_object_object_add(p, "functionCall", fc);
    json_object_array_add(parts, p);
}

/* The function name of the tool call with this id, searched in messages before upto. */
static const char *gm_call_name(json_object *msgs, size_t upto, const char *id)
{
    for (size_t i = upto; i-- > 0;) {
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

/* A tool result as a functionResponse part: a JSON object result is passed as is, anything
 * else is wrapped as {"content": text} because Gemini's response field must be an object. */
static void gm_add_response(struct gm_conv *cv, json_object *parts, const char *name,
                            json_object *content)
{
    const char *text = gm_content_text(cv->ctx, content);
    json_object *resp = prov_parse_object(text, strlen(text));
    if (!resp) {
        resp = jnew_obj();
        json_object_object_add(resp, "content", json_object_new_string(text));
    }
    json_object *p = jnew_obj(), *fr = jnew_obj();
    json_object_object_add(fr, "name", json_object_new_string(name));
    json_object_object_add(fr, "response", resp);
    json_object_object_add(p, "functionResponse", fr);
    json_object_array_add(parts, p);
}

static int gm_assistant(struct gm_conv *cv, json_object *m, json_object *parts)
{
    json_object *calls = jget(m, "tool_calls"), *fc = jget(m, "function_call");
    size_t n = json_object_is_type(calls, json_type_array) ? json_object_array_length(calls) : 0;

    if (gm_add_content(cv, jget(m, "content"), parts, "assistant", 1) < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        json_object *fn = jget(json_object_array_get_idx(calls, k), "function");
        const char *name = jstr(fn, "name");
        if (!name || !*name)
            return prov_fail(cv->err, 400, GM_BAD, NULL, "messages",
                             "an assistant tool call has no name");
        gm_add_call(parts, name, jstr(fn, "arguments"));
    }
    if (json_object_is_type(fc, json_type_object)) { /* the legacy single function call */
        const char *name = jstr(fc, "name");
        if (!name || !*name)
            return prov_fail(cv->err, 400, GM_BAD, NULL, "messages",
                             "an assistant function_call has no name");
        gm_add_call(parts, name, jstr(fc, "arguments"));
    }
    return 0;
}

/* One message into cv; i is its position, for tool-call lookups and errors. */
static int gm_message(struct gm_conv *cv, json_object *m, size_t i)
{
    struct arena *a = cv->ctx->a;
    const char *role = jstr(m, "role");
    json_object *content = jget(m, "content");

    if (!role)
        return prov_failf(cv->err, a, 400, GM_BAD, NULL, "messages", "message %zu has no role", i);
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return gm_add_content(cv, content, cv->sys_parts, role, 1);
    json_object *parts = jnew_arr();
    if (strcmp(role, "user") == 0) {
        if (gm_add_content(cv, content, parts, role, 0) < 0)
            goto fail;
        gm_turn(cv, "user", 0, parts);
    } else if (strcmp(role, "assistant") == 0) {
        if (gm_assistant(cv, m, parts) < 0)
            goto fail;
        gm_turn(cv, "model", 0, parts);
    } else if (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0) {
        const char *id = jstr(m, "tool_call_id");
        /* Gemini matches results by name; OpenAI by id, so the name comes from the call. */
        const char *name = id ? gm_call_name(cv->msgs, i, id) : NULL;
        if (!name)
            name = jstr(m, "name");
        if (!name || !*name) {
            prov_failf(cv->err, a, 400, GM_BAD, NULL, "messages",
                       "message %zu answers a tool call that is not in the conversation", i);
            goto fail;
        }
        gm_add_response(cv, parts, name, content);
        gm_turn(cv, "user", 1, parts);
    } else {
        prov_failf(cv->err, a, 400, GM_BAD, NULL, "messages",
                   "message %zu has an unknown role '%s'", i, role);
        goto fail;
    }
    return 0;
fail:
    json_object_put(parts);
    return -1;
}

static int gm_messages(struct gm_conv *cv)
{
    cv->msgs = jget(cv->ctx->req, "messages");
    if (!json_object_is_type(cv->msgs, json_type_array) || json_object_array_length(cv->msgs) == 0)
        return prov_fail(cv->err, 400, GM_BAD, NULL, "messages",
                         "messages must be a non-empty array");
    size_t n = json_object_array_length(cv->msgs);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(cv->msgs, i);
        if (!json_object_is_type(m, json_type_object))
            return prov_failf(cv->err, cv->ctx->a, 400, GM_BAD, NULL, "messages",
                              "message %zu is not an object", i);
        if (gm_message(cv, m, i) < 0)
            return -1;
    }
    if (json_object_array_length(cv->contents) == 0) {
        /* Gemini requires at least one turn; a system-only request becomes the user's turn. */
        if (json_object_array_length(cv->sys_parts) == 0)
            return prov_fail(cv->err, 400, GM_BAD, NULL, "messages",
                             "the messages hold no content");
        gm_turn(cv, "user", 0, cv->sys_parts);
        cv->sys_parts = jnew_arr();
    }
    return 0;
}

/* ---- request conversion: tools, generation config, safety ---- */

/* Strips from a JSON schema (in place) the keywords Gemini's OpenAPI subset rejects. Only
 * schema positions are visited, so a property that happens to be called "strict" survives. */
static void gm_schema_clean(json_object *s)
{
    static const char *const drop[] = {
        "additionalProperties", "$schema", "$defs", "definitions", "$ref", "$id", "strict"};
    static const char *const lists[] = {"anyOf", "oneOf", "allOf"};

    if (!json_object_is_type(s, json_type_object))
        return;
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        json_object_object_del(s, drop[i]);
    json_object *props = jget(s, "properties");
    if (json_object_is_type(props, json_type_object)) {
        json_object_object_foreach(props, key, val)
        {
            (void)key;
            gm_schema_clean(val);
        }
    }
    json_object *items = jget(s, "items");
    if (json_object_is_type(items, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(items); i++)
            gm_schema_clean(json_object_array_get_idx(items, i));
    } else {
        gm_schema_clean(items);
    }
    for (size_t k = 0; k < sizeof lists / sizeof *lists; k++) {
        json_object *l = jget(s, lists[k]);
        for (size_t i = 0;
             json_object_is_type(l, json_type_array) && i < json_object_array_length(l); i++)
            gm_schema_clean(json_object_array_get_idx(l, i));
    }
}

/* An OpenAI function definition into decls. */
static int gm_decl(struct gm_conv *cv, json_object *fn, json_object *decls)
{
    const char *name = jstr(fn, "name"), *desc = jstr(fn, "description");
    json_object *params = jget(fn, "parameters");

    if (!name || !*name)
        return prov_fail(cv->err, 400, GM_BAD, NULL, "tools", "a function has no name");
    json_object *d = jnew_obj();
    json_object_object_add(d, "name", json_object_new_string(name));
    if (desc)
        json_object_object_add(d, "description", json_object_new_string(desc));
    if (json_object_is_type(params, json_type_object)) {
        json_object *c = jcopy(params);
        gm_schema_clean(c);
        json_object *props = jget(c, "properties");
        /* Gemini rejects an object schema without properties; no parameters means the same. */
        if (json_object_is_type(props, json_type_object) && json_object_object_length(props) > 0)
            json_object_object_add(d, "parameters", c);
        else
            json_object_put(c);
    }
    json_object_array_add(decls, d);
    return 0;
}

/* tool_choice (or the legacy function_call) as Gemini's toolConfig on body. */
static void gm_tool_config(json_object *req, json_object *body)
{
    json_object *tc = jget(req, "tool_choice");
    const char *mode = NULL, *only = NULL;

    if (!tc)
        tc = jget(req, "function_call");
    if (json_object_is_type(tc, json_type_string)) {
        const char *s = json_object_get_string(tc);
        if (strcmp(s, "none") == 0)
            mode = "NONE";
        else if (strcmp(s, "auto") == 0)
            mode = "AUTO";
        else if (strcmp(s, "required") == 0)
            mode = "ANY";
    } else if (json_object_is_type(tc, json_type_object)) {
        only = jstr(jget(tc, "function"), "name");
        if (!only)
            only = jstr(tc, "name"); /* legacy function_call: {"name": ...} */
        if (only)
            mode = "ANY";
    }
    if (!mode)
        return;
    json_object *fcc = jnew_obj(), *tcfg = jnew_obj();
    json_object_object_add(fcc, "mode", json_object_new_string(mode));
    if (only) {
        json_object *names = jnew_arr();
        json_object_array_add(names, json_object_new_string(only));
        json_object_object_add(fcc, "allowedFunctionNames", names);
    }
    json_object_object_add(tcfg, "functionCallingConfig", fcc);
    json_object_object_add(body, "toolConfig", tcfg);
}

static int gm_tools(struct gm_conv *cv, json_object *body)
{
    json_object *req = cv->ctx->req, *tools = jget(req, "tools"), *fns = jget(req, "functions");
    json_object *decls = jnew_arr();

    size_t n = json_object_is_type(tools, json_type_array) ? json_object_array_length(tools) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        const char *type = jstr(t, "type");
        if (type && strcmp(type, "function") != 0)
            continue; /* built-in OpenAI tools have no Gemini function equivalent */
        if (gm_decl(cv, jget(t, "function"), decls) < 0)
            goto fail;
    }
    n = json_object_is_type(fns, json_type_array) ? json_object_array_length(fns) : 0;
    for (size_t i = 0; i < n; i++) {
        if (gm_decl(cv, json_object_array_get_idx(fns, i), decls) < 0)
            goto fail;
    }
    if (json_object_array_length(decls) == 0) {
        json_object_put(decls);
        return 0;
    }
    json_object *w = jnew_obj(), *list = jnew_arr();
    json_object_object_add(w, "functionDeclarations", decls);
    json_object_array_add(list, w);
    json_object_object_add(body, "tools", list);
    gm_tool_config(req, body);
    return 0;
fail:
    json_object_put(decls);
    return -1;
}

static void gm_copy_num(json_object *req, const char *from, json_object *gc, const char *to)
{
    json_object *v = jget(req, from);
    if (jis_num(v))
        json_object_object_add(gc, to, jcopy(v));
}

/* stop (a string or an array of strings) as stopSequences, at most GM_MAX_STOP of them. */
static void gm_stop(json_object *stop, json_object *gc)
{
    json_object *a = jnew_arr();

    if (json_object_is_type(stop, json_type_string) && json_object_get_string_len(stop) > 0) {
        json_object_array_add(a, jcopy(stop));
    } else if (json_object_is_type(stop, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(stop); i++) {
            json_object *s = json_object_array_get_idx(stop, i);
            if (json_object_array_length(a) < GM_MAX_STOP &&
                json_object_is_type(s, json_type_string))
                json_object_array_add(a, jcopy(s));
        }
    }
    if (json_object_array_length(a) > 0)
        json_object_object_add(gc, "stopSequences", a);
    else
        json_object_put(a);
}

static void gm_gen_config(struct gm_conv *cv, json_object *body)
{
    json_object *req = cv->ctx->req, *gc = jnew_obj();

    gm_copy_num(req, "temperature", gc, "temperature");
    gm_copy_num(req, "top_p", gc, "topP");
    gm_copy_num(req, "top_k", gc, "topK");
    json_object *max = jget(req, "max_completion_tokens");
    if (!jis_num(max))
        max = jget(req, "max_tokens");
    if (jis_num(max) && json_object_get_int64(max) > 0)
        json_object_object_add(gc, "maxOutputTokens",
                               json_object_new_int64(json_object_get_int64(max)));
    gm_stop(jget(req, "stop"), gc);
    json_object *n = jget(req, "n");
    if (json_object_is_type(n, json_type_int) && json_object_get_int64(n) >= 1)
        json_object_object_add(gc, "candidateCount",
                               json_object_new_int64(json_object_get_int64(n)));
    gm_copy_num(req, "seed", gc, "seed");
    gm_copy_num(req, "presence_penalty", gc, "presencePenalty");
    gm_copy_num(req, "frequency_penalty", gc, "frequencyPenalty");
    json_object *rf = jget(req, "response_format");
    const char *rft = jstr(rf, "type");
    if (rft && strcmp(rft, "text") == 0) {
        json_object_object_add(gc, "responseMimeType", json_object_new_string("text/plain"));
    } else if (rft && (strcmp(rft, "json_object") == 0 || strcmp(rft, "json_schema") == 0)) {
        json_object *schema = jget(jget(rf, "json_schema"), "schema");
        json_object_object_add(gc, "responseMimeType", json_object_new_string("application/json"));
        if (strcmp(rft, "json_schema") == 0 && json_object_is_type(schema, json_type_object)) {
            json_object *c = jcopy(schema);
            gm_schema_clean(c);
            json_object_object_add(gc, "responseSchema", c);
        }
    }
    if (json_object_object_length(gc) > 0)
        json_object_object_add(body, "generationConfig", gc);
    else
        json_object_put(gc);
}

static void gm_safety(const struct gm_conf *c, json_object *body)
{
    static const char *const categories[] = {
        "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY"};
    json_object *a = jnew_arr();

    for (size_t i = 0; i < sizeof categories / sizeof *categories; i++) {
        json_object *s = jnew_obj();
        json_object_object_add(s, "category", json_object_new_string(categories[i]));
        json_object_object_add(s, "threshold", json_object_new_string(c->safety));
        json_object_array_add(a, s);
    }
    json_object_object_add(body, "safetySettings", a);
}

static int gm_build_chat(struct prov_ctx *ctx, const struct gm_conf *c, struct prov_request *out,
                         struct prov_error *err)
{
    struct gm_conv cv = {.ctx = ctx, .err = err, .contents = jnew_arr(), .sys_parts = jnew_arr()};
    json_object *body = jnew_obj();
    int rc = -1;

    if (gm_messages(&cv) < 0)
        goto done;
    if (json_object_array_length(cv.sys_parts) > 0) {
        json_object *si = jnew_obj();
        json_object_object_add(si, "parts", json_object_get(cv.sys_parts));
        json_object_object_add(body, "systemInstruction", si);
    }
    json_object_object_add(body, "contents", json_object_get(cv.contents));
    if (gm_tools(&cv, body) < 0)
        goto done;
    gm_gen_config(&cv, body);
    gm_safety(c, body);
    out->body = jdump(ctx->a, body, &out->body_len);
    out->url = gm_url(ctx, c, ctx->is_stream ? "streamGenerateContent?alt=sse" : "generateContent");
    rc = 0;
done:
    json_object_put(body);
    json_object_put(cv.contents);
    json_object_put(cv.sys_parts);
    return rc;
}

/* ---- request conversion: embeddings ---- */

static int gm_build_embed(struct prov_ctx *ctx, const struct gm_conf *c, struct prov_request *out,
                          struct prov_error *err)
{
    json_object *input = jget(ctx->req, "input"), *dims = jget(ctx->req, "dimensions");
    const char *task = jstr(ctx->req, "task_type");
    size_t n;

    if (json_object_is_type(input, json_type_string)) {
        n = 1;
    } else if (json_object_is_type(input, json_type_array) && json_object_array_length(input) > 0) {
        n = json_object_array_length(input);
        for (size_t i = 0; i < n; i++) {
            if (!json_object_is_type(json_object_array_get_idx(input, i), json_type_string))
                return prov_fail(err, 400, GM_BAD, NULL, "input",
                                 "Gemini embeddings take strings, not token ids");
        }
    } else {
        return prov_fail(err, 400, GM_BAD, NULL, "input",
                         "input must be a string or an array of strings");
    }
    const char *model = arena_printf(ctx->a, "models/%s", gm_model(ctx));
    json_object *body = jnew_obj(), *reqs = jnew_arr();
    json_object_object_add(body, "requests", reqs);
    for (size_t i = 0; i < n; i++) {
        json_object *s = n == 1 && json_object_is_type(input, json_type_string)
                             ? input
                             : json_object_array_get_idx(input, i);
        json_object *r = jnew_obj(), *content = jnew_obj(), *parts = jnew_arr();

        json_object_object_add(r, "model", json_object_new_string(model));
        gm_add_text(parts, json_object_get_string(s), (size_t)json_object_get_string_len(s));
        json_object_object_add(content, "parts", parts);
        json_object_object_add(r, "content", content);
        if (json_object_is_type(dims, json_type_int) && json_object_get_int64(dims) > 0)
            json_object_object_add(r, "outputDimensionality",
                                   json_object_new_int64(json_object_get_int64(dims)));
        if (task && *task)
            json_object_object_add(r, "taskType", json_object_new_string(task));
        json_object_array_add(reqs, r);
    }
    out->body = jdump(ctx->a, body, &out->body_len);
    json_object_put(body);
    out->url = gm_url(ctx, c, "batchEmbedContents");
    return 0;
}

static int gm_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
        return prov_fail(err, 400, GM_BAD, NULL, NULL,
                         "this endpoint is not supported for Gemini channels");
    if (!*gm_model(ctx))
        return prov_fail(err, 400, GM_BAD, NULL, "model", "no model to send to Gemini");
    struct gm_conf c;
    gm_conf_read(ctx, &c);
    if (gm_headers(ctx, out, err) < 0)
        return -1;
    return ctx->mode == RELAY_CHAT ? gm_build_chat(ctx, &c, out, err)
                                   : gm_build_embed(ctx, &c, out, err);
}

/* ---- responses ---- */

/* Gemini finishReason -> OpenAI finish_reason; unknown values are "stop" because SDKs with
 * strict enums reject anything else. */
static const char *gm_finish(const char *fr)
{
    static const char *const filtered[] = {
        "SAFETY", "RECITATION",   "BLOCKLIST", "PROHIBITED_CONTENT",
        "SPII",   "IMAGE_SAFETY", "LANGUAGE",  "OTHER"};

    if (!fr)
        return "stop";
    if (strcmp(fr, "MAX_TOKENS") == 0)
        return "length";
    for (size_t i = 0; i < sizeof filtered / sizeof *filtered; i++) {
        if (strcmp(fr, filtered[i]) == 0)
            return "content_filter";
    }
    return "stop";
}

/* Reads usageMetadata into ctx->usage (the last report wins) and x. 0 when um is absent. */
static int gm_usage_read(struct prov_ctx *ctx, json_object *um, struct gm_usage_extra *x)
{
    if (!json_object_is_type(um, json_type_object))
        return 0;
    x->reasoning = jint(um, "thoughtsTokenCount");
    x->cached = jint(um, "cachedContentTokenCount");
    x->total = jint(um, "totalTokenCount");
    ctx->usage.prompt_tokens = jint(um, "promptTokenCount") + jint(um, "toolUsePromptTokenCount");
    ctx->usage.completion_tokens = jint(um, "candidatesTokenCount") + x->reasoning;
    ctx->usage.has_usage = 1;
    return 1;
}

/* OpenAI usage object from ctx->usage and x. */
static json_object *gm_usage_json(const struct prov_ctx *ctx, const struct gm_usage_extra *x)
{
    return prov_usage_new(&ctx->usage, x->total, x->cached, x->reasoning);
}

/* A functionCall part as an OpenAI tool call; "index" from index on when index >= 0 (the
 * stream form). Its name and arguments are also appended to ctx->text for counting. */
static json_object *gm_tool_call(struct prov_ctx *ctx, json_object *fc, int index)
{
    json_object *args = jget(fc, "args");
    const char *name = jstr(fc, "name"), *id = jstr(fc, "id");
    const char *a = args ? jdump(ctx->a, args, NULL) : "{}";

    if (!id || !*id) {
        char hex[33];
        uuid_hex(hex);
        id = arena_printf(ctx->a, "call_%s", hex);
    }
    sb_puts(&ctx->text, name ? name : "");
    sb_puts(&ctx->text, a);
    return prov_tool_call_new(index, id, name, a);
}

/* Reads a candidate's parts. Tool calls get "index" from first_index on when with_index (the
 * stream form). Text and call arguments are also appended to ctx->text for counting. */
static void gm_cand_read(struct prov_ctx *ctx, json_object *cand, int first_index, int with_index,
                         struct gm_cand *c)
{
    json_object *parts = jget(jget(cand, "content"), "parts");
    size_t n = json_object_is_type(parts, json_type_array) ? json_object_array_length(parts) : 0;

    sb_init(&c->text, ctx->a);
    sb_init(&c->thought, ctx->a);
    c->calls = NULL;
    c->n_calls = 0;
    c->finish = jstr(cand, "finishReason");
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(parts, i), *fc = jget(p, "functionCall");
        json_object *text = jget(p, "text"), *thought = jget(p, "thought");

        if (json_object_is_type(fc, json_type_object)) {
            if (!c->calls)
                c->calls = jnew_arr();
            json_object_array_add(
                c->calls, gm_tool_call(ctx, fc, with_index ? first_index + c->n_calls : -1));
            c->n_calls++;
        } else if (json_object_is_type(text, json_type_string)) {
            struct strbuf *dst = json_object_get_boolean(thought) ? &c->thought : &c->text;
            size_t len = (size_t)json_object_get_string_len(text);
            sb_putn(dst, json_object_get_string(text), len);
            sb_putn(&ctx->text, json_object_get_string(text), len);
        }
    }
}

/* An HTTP-200 answer without candidates: a blocked prompt is the client's 400. */
static int gm_no_candidates(struct prov_ctx *ctx, json_object *root, struct prov_error *err)
{
    json_object *pf = jget(root, "promptFeedback");
    const char *br = jstr(pf, "blockReason"), *brm = jstr(pf, "blockReasonMessage");

    if (br)
        return prov_failf(err, ctx->a, 400, GM_BAD, "prompt_blocked", NULL,
                          "the prompt was blocked by Gemini (blockReason: %s)%s%s", br,
                          brm ? ": " : "", brm ? brm : "");
    return prov_fail(err, 500, "upstream_error", "empty_response", NULL,
                     "Gemini returned no candidates");
}

/* Fills err from a Google error body ({"error":{code,message,status}}, possibly wrapped in an
 * array) or the other places One API looks for a message. status is the HTTP status, 0 when
 * the error arrived inside a 200 answer. Returns 1 when a message was found. */
static int gm_error_from(struct prov_ctx *ctx, int status, json_object *root,
                         struct prov_error *err)
{
    if (json_object_is_type(root, json_type_array) && json_object_array_length(root) > 0)
        root = json_object_array_get_idx(root, 0);
    json_object *e = jget(root, "error");
    const char *msg = jstr(e, "message");
    if (!msg || !*msg)
        msg = prov_error_message(root);
    if (!msg && json_object_is_type(e, json_type_string) && json_object_get_string_len(e) > 0)
        msg = json_object_get_string(e);
    if (!msg)
        return 0;
    int64_t code = jint(e, "code");
    if (status < 400)
        status = code >= 400 && code <= 599 ? (int)code : 500;
    const char *gstatus = jstr(e, "status");
    gstatus = gstatus && *gstatus ? arena_strdup(ctx->a, gstatus) : NULL;
    /* Google's status names the error kind, so it is both type and code. */
    prov_fail(err, status, gstatus ? gstatus : "upstream_error", gstatus, NULL,
              arena_strdup(ctx->a, msg));
    return 1;
}

static void gm_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = jparse(body, n, 0, NULL);

    if (!gm_error_from(ctx, status, root, err))
        prov_fail_status(err, ctx->a, status);
    json_object_put(root);
}

/* A 200 body that is really an error ({"error": ...}) into err. */
static int gm_inline_error(struct prov_ctx *ctx, json_object *root, struct prov_error *err)
{
    if (!gm_error_from(ctx, 0, root, err))
        prov_fail(err, 500, "upstream_error", NULL, NULL, "Gemini reported an error");
    return -1;
}

static int gm_chat_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                            struct prov_error *err)
{
    json_object *cands = jget(root, "candidates");

    if (!json_object_is_type(cands, json_type_array) || json_object_array_length(cands) == 0)
        return gm_no_candidates(ctx, root, err);
    json_object *choices;
    json_object *resp =
        prov_completion_new(gm_completion_id(ctx), ctx->created, gm_out_model(ctx), &choices);
    size_t n = json_object_array_length(cands);
    for (size_t i = 0; i < n; i++) {
        json_object *cand = json_object_array_get_idx(cands, i);
        if (!json_object_is_type(cand, json_type_object))
            continue;
        struct gm_cand c;
        gm_cand_read(ctx, cand, 0, 0, &c);
        /* Gemini omits a zero index (proto3 default); position stands in for a missing one. */
        int64_t idx = jint(cand, "index");
        json_object *msg =
            prov_message_new(c.text.p, c.text.len, c.thought.p, c.thought.len, c.calls);
        json_object_array_add(
            choices, prov_choice_new(jget(cand, "index") && idx >= 0 ? idx : (int64_t)i, "message",
                                     msg, c.calls ? "tool_calls" : gm_finish(c.finish)));
    }
    struct gm_usage_extra x = {0};
    if (gm_usage_read(ctx, jget(root, "usageMetadata"), &x))
        json_object_object_add(resp, "usage", gm_usage_json(ctx, &x));
    jput(out, resp);
    json_object_put(resp);
    return 0;
}

static int gm_embed_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *embs = jget(root, "embeddings");
    const char *fmt = jstr(ctx->req, "encoding_format");
    int is_b64 = fmt && strcmp(fmt, "base64") == 0;

    if (!json_object_is_type(embs, json_type_array))
        return gm_malformed(err);
    json_object *resp = jnew_obj(), *data = jnew_arr();
    json_object_object_add(resp, "object", json_object_new_string("list"));
    json_object_object_add(resp, "data", data);
    size_t n = json_object_array_length(embs);
    for (size_t i = 0; i < n; i++) {
        json_object *values = jget(json_object_array_get_idx(embs, i), "values");
        if (prov_embedding_add(ctx->a, data, i, values, is_b64) < 0)
            goto malformed;
    }
    json_object_object_add(resp, "model", json_object_new_string(gm_out_model(ctx)));
    json_object *usage = jnew_obj();
    /* Gemini counts nothing for embeddings: echo the core's estimate (see gemini.h). */
    json_object_object_add(usage, "prompt_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(usage, "total_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(resp, "usage", usage);
    jput(out, resp);
    json_object_put(resp);
    return 0;
malformed:
    json_object_put(resp);
    return gm_malformed(err);
}

static int gm_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *root = prov_parse_object(body, n);
    int rc;

    if (!root)
        return gm_malformed(err);
    if (jget(root, "error"))
        rc = gm_inline_error(ctx, root, err);
    else if (ctx->mode == RELAY_EMBEDDINGS)
        rc = gm_embed_response(ctx, root, out, err);
    else
        rc = gm_chat_response(ctx, root, out, err);
    json_object_put(root);
    return rc;
}

/* ---- streaming ---- */

static struct gm_stream *gm_stream_state(struct prov_ctx *ctx)
{
    struct gm_stream *st = ctx->state;

    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof *st);
    st->chunk.id = gm_completion_id(ctx);
    st->chunk.model = gm_out_model(ctx);
    st->chunk.created = ctx->created;
    /* Chunks carry "usage": null when the client asked for usage, as OpenAI's do. */
    st->chunk.usage_null = ctx->include_usage;
    json_object *n = jget(ctx->req, "n");
    st->n_want = 1;
    if (json_object_is_type(n, json_type_int) && json_object_get_int64(n) > 1)
        st->n_want =
            json_object_get_int64(n) < GM_MAX_CAND ? (int)json_object_get_int64(n) : GM_MAX_CAND;
    ctx->state = st;
    return st;
}

/* The end of the stream: unfinished choices get a finish_reason, then the usage chunk once. */
static void gm_stream_end(struct prov_ctx *ctx, struct gm_stream *st, struct strbuf *out)
{
    for (int i = 0; i < GM_MAX_CAND; i++) {
        if (st->is_started[i] && !st->is_done[i]) {
            json_object *delta = jnew_obj();
            st->is_done[i] = 1;
            st->n_done++;
            prov_chunk_put(out, &st->chunk, i, delta, st->has_calls[i] ? "tool_calls" : "stop");
            json_object_put(delta);
        }
    }
    ctx->finished = 1;
    if (ctx->include_usage && !st->is_usage_sent) {
        json_object *u = gm_usage_json(ctx, &st->u);
        st->is_usage_sent = 1;
        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
}

/* One candidate of a stream event into chunks. */
static int gm_stream_cand(struct prov_ctx *ctx, struct gm_stream *st, json_object *cand, size_t pos,
                          struct strbuf *out, struct prov_error *err)
{
    json_object *idx = jget(cand, "index");
    int64_t i = json_object_is_type(idx, json_type_int) ? json_object_get_int64(idx) : (int64_t)pos;

    if (!json_object_is_type(cand, json_type_object))
        return 0;
    if (i < 0 || i >= GM_MAX_CAND)
        return gm_malformed(err);
    if (st->is_done[i])
        return 0; /* nothing may follow a choice's finish_reason */
    if (!st->is_started[i]) {
        st->is_started[i] = 1;
        prov_chunk_open(out, &st->chunk, (int)i);
        SB_LIT(out, "{\"role\":\"assistant\",\"content\":\"\"}");
        prov_chunk_close(out, &st->chunk, NULL);
    }
    struct gm_cand c;
    gm_cand_read(ctx, cand, st->n_calls[i], 1, &c);
    st->n_calls[i] += c.n_calls;
    if (c.n_calls)
        st->has_calls[i] = 1;
    const char *finish = NULL;
    if (c.finish) {
        finish = st->has_calls[i] ? "tool_calls" : gm_finish(c.finish);
        st->is_done[i] = 1;
        st->n_done++;
    }
    json_object *delta = jnew_obj();
    if (c.text.len)
        json_object_object_add(delta, "content", prov_str_new(c.text.p, c.text.len));
    if (c.thought.len)
        json_object_object_add(delta, "reasoning_content",
                               prov_str_new(c.thought.p, c.thought.len));
    if (c.calls)
        json_object_object_add(delta, "tool_calls", c.calls);
    if (json_object_object_length(delta) > 0 || finish)
        prov_chunk_put(out, &st->chunk, (int)i, delta, finish);
    json_object_put(delta);
    return 0;
}

static int gm_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    struct gm_stream *st = gm_stream_state(ctx);

    (void)event; /* Gemini names no events */
    if (!data) {
        gm_stream_end(ctx, st, out);
        return 0;
    }
    while (n > 0 && isspace((unsigned char)*data)) {
        data++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)data[n - 1]))
        n--;
    if (n == 0)
        return 0;
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) { /* not Gemini's, but harmless to honour */
        gm_stream_end(ctx, st, out);
        return 0;
    }
    json_object *root = prov_parse_object(data, n);
    if (!root)
        return gm_malformed(err);
    if (jget(root, "error")) {
        int rc = gm_inline_error(ctx, root, err);
        json_object_put(root);
        return rc;
    }
    gm_usage_read(ctx, jget(root, "usageMetadata"), &st->u);
    json_object *cands = jget(root, "candidates");
    size_t nc = json_object_is_type(cands, json_type_array) ? json_object_array_length(cands) : 0;
    int rc = 0;
    if (nc == 0 && jstr(jget(root, "promptFeedback"), "blockReason"))
        rc = gm_no_candidates(ctx, root, err);
    for (size_t i = 0; rc == 0 && i < nc; i++)
        rc = gm_stream_cand(ctx, st, json_object_array_get_idx(cands, i), i, out, err);
    json_object_put(root);
    if (rc == 0 && st->n_done >= st->n_want && !ctx->finished)
        gm_stream_end(ctx, st, out);
    return rc;
}

const struct provider provider_gemini = {
    .name = "gemini",
    .build_request = gm_build_request,
    .parse_response = gm_parse_response,
    .parse_event = gm_parse_event,
    .parse_error = gm_parse_error,
    .needs_inline_images = 1, /* the core turns image URLs into data: URLs */
};
