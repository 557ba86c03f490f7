/* Google Gemini adaptor: OpenAI chat and embeddings to and from generateContent. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
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
/* Nesting limit for JSON we parse; above json-c's 32 because tool schemas and arguments nest. */
#define GM_JSON_DEPTH 64
/* Serialisation flags for everything we emit: compact, and "/" left alone. */
#define GM_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

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
    const char *id;                        /* chunk id shared by the whole stream */
    unsigned char is_started[GM_MAX_CAND]; /* the role chunk went out for this choice */
    unsigned char is_done[GM_MAX_CAND];    /* its finish_reason went out */
    unsigned char has_calls[GM_MAX_CAND];  /* a function call was seen for it */
    int n_calls[GM_MAX_CAND];              /* tool_calls indexes used so far */
    int n_done;                            /* choices finished */
    int n_want;                            /* choices the client asked for (n) */
    int is_usage_sent;                     /* the usage chunk went out */
    struct gm_usage_extra u;               /* details of the last usageMetadata */
};

/* ---- small JSON helpers ---- */

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_is_type(o, json_type_object))
        return NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

/* The string at o.key, or NULL when absent or not a string. */
static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);

    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int jis_num(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* The integer at o.key, or 0. */
static int64_t jint(json_object *o, const char *key)
{
    json_object *v = jget(o, key);

    return jis_num(v) ? json_object_get_int64(v) : 0;
}

/* A deep copy, which keeps a number's original spelling (0.1 stays 0.1). NULL on failure. */
static json_object *jcopy(json_object *v)
{
    json_object *c = NULL;

    if (!v || json_object_deep_copy(v, &c, NULL) != 0)
        return NULL;
    return c;
}

static json_object *jstrn(const char *s, size_t n)
{
    /* json-c lengths are int; nothing we handle comes near, but never let the cast wrap. */
    return json_object_new_string_len(s, n > INT_MAX ? INT_MAX : (int)n);
}

/* Parses exactly n bytes of s as one JSON value (trailing whitespace allowed). NULL if invalid. */
static json_object *gm_parse(const char *s, size_t n)
{
    json_tokener *tok;
    json_object *o;

    if (!s || n == 0 || n > INT_MAX)
        return NULL;
    tok = json_tokener_new_ex(GM_JSON_DEPTH);
    if (!tok)
        return NULL;
    o = json_tokener_parse_ex(tok, s, (int)n);
    if (o && json_tokener_get_error(tok) == json_tokener_success) {
        for (size_t i = json_tokener_get_parse_end(tok); i < n; i++) {
            if (!isspace((unsigned char)s[i])) {
                json_object_put(o);
                o = NULL;
                break;
            }
        }
    } else {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* Appends the compact serialisation of o to sb. -1 when json-c cannot serialise (OOM). */
static int gm_dump(struct strbuf *sb, json_object *o)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, GM_JSON_FLAGS, &n);

    if (!s)
        return -1;
    sb_putn(sb, s, n);
    return 0;
}

static void gm_set_err(struct prov_error *err, int status, const char *type, const char *code,
                       const char *param, const char *message)
{
    err->status = status;
    err->type = type;
    err->code = code;
    err->param = param;
    err->message = message;
}

/* A 400 for a request Gemini cannot be given; the message is formatted into the arena. */
__attribute__((format(printf, 4, 5))) static int
gm_bad(struct prov_ctx *ctx, struct prov_error *err, const char *param, const char *fmt, ...)
{
    struct strbuf sb;
    va_list ap;

    sb_init(&sb, ctx->a);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    gm_set_err(err, 400, "invalid_request_error", NULL, param, sb.p);
    return -1;
}

static int gm_internal(struct prov_error *err, const char *code, const char *message)
{
    gm_set_err(err, 500, "one_api_error", code, NULL, message);
    return -1;
}

static int gm_malformed(struct prov_error *err)
{
    return gm_internal(err, "unmarshal_response_body_failed",
                       "cannot parse the upstream response from Gemini");
}

/* 32 lowercase hex digits of a fresh UUIDv4 into out[33]. */
static void gm_rand_hex(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t r = getrandom(b + got, sizeof(b) - got, 0);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* as fcgi/crypto.c: ids that may collide are worse than stopping */
        }
        got += (size_t)r;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

/* The completion id: "chatcmpl-" + the request id, random when the core gave none. */
static const char *gm_completion_id(struct prov_ctx *ctx)
{
    char hex[33];

    if (ctx->request_id && *ctx->request_id)
        return arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id);
    gm_rand_hex(hex);
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

/* Reads the version and safety setting. Order (providers-intl 6.1): the channel's config
 * api_version; then v1beta for gemini-1.5/2.0 models; then ch->api_version, which is the
 * legacy `other` column or, when the channel has neither, GEMINI_VERSION as the core passes
 * it; then v1. The config is read here because ch->api_version alone cannot tell a version the
 * channel pinned from the process default, and the model rule must sit between the two. */
static void gm_conf_read(struct prov_ctx *ctx, struct gm_conf *c)
{
    const struct prov_channel *ch = ctx->ch;
    const char *model = gm_model(ctx), *pinned = NULL;

    c->safety = GM_DEFAULT_SAFETY;
    if (ch->config && *ch->config) {
        /* A broken config must not break the channel: it only loses the optional keys. */
        json_object *cfg = json_tokener_parse(ch->config);
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
    struct strbuf sb;

    while (n > 0 && base[n - 1] == '/')
        n--;
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

/* Serialises body into out->body (arena). */
static int gm_set_body(struct prov_ctx *ctx, json_object *body, struct prov_request *out,
                       struct prov_error *err)
{
    struct strbuf sb;

    sb_init(&sb, ctx->a);
    if (gm_dump(&sb, body) < 0)
        return gm_internal(err, "convert_request_failed", "cannot serialise the Gemini request");
    out->body = sb.p;
    out->body_len = sb.len;
    return 0;
}

/* ---- request conversion: content parts ---- */

static void gm_add_text(json_object *parts, const char *s, size_t n)
{
    json_object *p = json_object_new_object();

    json_object_object_add(p, "text", jstrn(s, n));
    json_object_array_add(parts, p);
}

static void gm_add_inline(json_object *parts, const char *mime, size_t mime_len, const char *data)
{
    json_object *p = json_object_new_object(), *d = json_object_new_object();

    json_object_object_add(d, "mimeType", jstrn(mime, mime_len));
    json_object_object_add(d, "data", json_object_new_string(data));
    json_object_object_add(p, "inlineData", d);
    json_object_array_add(parts, p);
}

/* "data:<mime>[;params];base64,<data>" -> an inlineData part. -1 when not such a URL. */
static int gm_add_data_url(json_object *parts, const char *url)
{
    const char *p = url + 5, *comma = strchr(p, ','), *semi;
    size_t mlen;

    if (strncmp(url, "data:", 5) != 0 || !comma || !comma[1])
        return -1;
    /* Gemini wants base64; percent-encoded data URLs would need decoding and re-encoding. */
    if (!memmem(p, (size_t)(comma - p), ";base64", 7))
        return -1;
    semi = memchr(p, ';', (size_t)(comma - p));
    mlen = (size_t)((semi ? semi : comma) - p);
    if (mlen == 0)
        gm_add_inline(parts, "application/octet-stream", 24, comma + 1);
    else
        gm_add_inline(parts, p, mlen, comma + 1);
    return 0;
}

/* MIME type from a URL's file extension, or NULL when unknown. */
static const char *gm_guess_mime(const char *url)
{
    static const struct {
        const char *ext, *mime;
    } tab[] = {
        {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
        {"webp", "image/webp"}, {"gif", "image/gif"},       {"heic", "image/heic"},
        {"heif", "image/heif"}, {"pdf", "application/pdf"},
    };
    size_t end = strcspn(url, "?#"), dot = end;

    while (dot > 0 && url[dot - 1] != '.' && url[dot - 1] != '/')
        dot--;
    if (dot == 0 || url[dot - 1] != '.')
        return NULL;
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strlen(tab[i].ext) == end - dot && strncasecmp(url + dot, tab[i].ext, end - dot) == 0)
            return tab[i].mime;
    }
    return NULL;
}

/* An image_url: data URLs are inlined; http(s) and gs URLs become fileData, because adaptors
 * do no I/O and Gemini fetches such URIs itself. */
static int gm_add_image(struct gm_conv *cv, json_object *parts, const char *url)
{
    json_object *p, *d;
    const char *mime;

    if (!url || !*url)
        return gm_bad(cv->ctx, cv->err, "messages", "image_url has no url");
    if (strncmp(url, "data:", 5) == 0) {
        if (gm_add_data_url(parts, url) < 0)
            return gm_bad(cv->ctx, cv->err, "messages",
                          "image_url is not a base64 data URL or an http(s) URL");
        return 0;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 &&
        strncmp(url, "gs://", 5) != 0)
        return gm_bad(cv->ctx, cv->err, "messages",
                      "image_url is not a base64 data URL or an http(s) URL");
    p = json_object_new_object();
    d = json_object_new_object();
    mime = gm_guess_mime(url);
    if (mime)
        json_object_object_add(d, "mimeType", json_object_new_string(mime));
    json_object_object_add(d, "fileUri", json_object_new_string(url));
    json_object_object_add(p, "fileData", d);
    json_object_array_add(parts, p);
    return 0;
}

/* Appends the parts of an OpenAI message content (string or array of parts) to parts.
 * what names the message kind for errors; text_only refuses media. */
static int gm_add_content(struct gm_conv *cv, json_object *content, json_object *parts,
                          const char *what, int text_only)
{
    size_t n;

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
        return gm_bad(cv->ctx, cv->err, "messages",
                      "%s content must be a string or an array of parts", what);
    n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(content, i);
        const char *type = jstr(item, "type"), *s;

        if (json_object_is_type(item, json_type_string)) {
            s = json_object_get_string(item);
            if (*s)
                gm_add_text(parts, s, strlen(s));
        } else if (!type || strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            s = jstr(item, type && strcmp(type, "refusal") == 0 ? "refusal" : "text");
            if (s && *s)
                gm_add_text(parts, s, strlen(s));
        } else if (text_only) {
            return gm_bad(cv->ctx, cv->err, "messages", "%s messages may only hold text", what);
        } else if (strcmp(type, "image_url") == 0) {
            json_object *iu = jget(item, "image_url");
            const char *url = json_object_is_type(iu, json_type_string) ? json_object_get_string(iu)
                                                                        : jstr(iu, "url");

            if (gm_add_image(cv, parts, url) < 0)
                return -1;
        } else if (strcmp(type, "input_audio") == 0) {
            json_object *ia = jget(item, "input_audio");
            const char *data = jstr(ia, "data"), *fmt = jstr(ia, "format");
            char *mime;

            if (!data || !*data || !fmt || !*fmt)
                return gm_bad(cv->ctx, cv->err, "messages", "input_audio needs data and format");
            mime = arena_printf(cv->ctx->a, "audio/%s", fmt);
            gm_add_inline(parts, mime, strlen(mime), data);
        } else if (strcmp(type, "file") == 0) {
            const char *fd = jstr(jget(item, "file"), "file_data");

            if (!fd || gm_add_data_url(parts, fd) < 0)
                return gm_bad(cv->ctx, cv->err, "messages",
                              "file parts need file_data as a base64 data URL");
        } else {
            return gm_bad(cv->ctx, cv->err, "messages", "unsupported content part type '%s'", type);
        }
    }
    return 0;
}

/* Joined text of a content (string or text parts), in the arena. */
static const char *gm_content_text(struct prov_ctx *ctx, json_object *content)
{
    struct strbuf sb;
    size_t n;

    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    sb_init(&sb, ctx->a);
    n = json_object_is_type(content, json_type_array) ? json_object_array_length(content) : 0;
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
    json_object *turn;

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
    turn = json_object_new_object();
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
    json_object *o, *w;
    const char *p = s ? s : "";

    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return json_object_new_object();
    o = json_tokener_parse(p);
    if (json_object_is_type(o, json_type_object))
        return o;
    json_object_put(o);
    w = json_object_new_object();
    json_object_object_add(w, "arguments", json_object_new_string(s));
    return w;
}

static void gm_add_call(json_object *parts, const char *name, const char *args)
{
    json_object *p = json_object_new_object(), *fc = json_object_new_object();

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
    json_object *p = json_object_new_object(), *fr = json_object_new_object();
    json_object *resp = *text ? json_tokener_parse(text) : NULL;

    if (!json_object_is_type(resp, json_type_object)) {
        json_object_put(resp);
        resp = json_object_new_object();
        json_object_object_add(resp, "content", json_object_new_string(text));
    }
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
            return gm_bad(cv->ctx, cv->err, "messages", "an assistant tool call has no name");
        gm_add_call(parts, name, jstr(fn, "arguments"));
    }
    if (json_object_is_type(fc, json_type_object)) { /* the legacy single function call */
        const char *name = jstr(fc, "name");

        if (!name || !*name)
            return gm_bad(cv->ctx, cv->err, "messages", "an assistant function_call has no name");
        gm_add_call(parts, name, jstr(fc, "arguments"));
    }
    return 0;
}

/* One message into cv; i is its position, for tool-call lookups and errors. */
static int gm_message(struct gm_conv *cv, json_object *m, size_t i)
{
    const char *role = jstr(m, "role"), *name;
    json_object *content = jget(m, "content"), *parts;

    if (!role)
        return gm_bad(cv->ctx, cv->err, "messages", "message %zu has no role", i);
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
        return gm_add_content(cv, content, cv->sys_parts, role, 1);
    parts = json_object_new_array();
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
        name = id ? gm_call_name(cv->msgs, i, id) : NULL;
        if (!name)
            name = jstr(m, "name");
        if (!name || !*name) {
            gm_bad(cv->ctx, cv->err, "messages",
                   "message %zu answers a tool call that is not in the conversation", i);
            goto fail;
        }
        gm_add_response(cv, parts, name, content);
        gm_turn(cv, "user", 1, parts);
    } else {
        gm_bad(cv->ctx, cv->err, "messages", "message %zu has an unknown role '%s'", i, role);
        goto fail;
    }
    return 0;
fail:
    json_object_put(parts);
    return -1;
}

static int gm_messages(struct gm_conv *cv)
{
    size_t n;

    cv->msgs = jget(cv->ctx->req, "messages");
    if (!json_object_is_type(cv->msgs, json_type_array) || json_object_array_length(cv->msgs) == 0)
        return gm_bad(cv->ctx, cv->err, "messages", "messages must be a non-empty array");
    n = json_object_array_length(cv->msgs);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(cv->msgs, i);

        if (!json_object_is_type(m, json_type_object))
            return gm_bad(cv->ctx, cv->err, "messages", "message %zu is not an object", i);
        if (gm_message(cv, m, i) < 0)
            return -1;
    }
    if (json_object_array_length(cv->contents) == 0) {
        /* Gemini requires at least one turn; a system-only request becomes the user's turn. */
        if (json_object_array_length(cv->sys_parts) == 0)
            return gm_bad(cv->ctx, cv->err, "messages", "the messages hold no content");
        gm_turn(cv, "user", 0, cv->sys_parts);
        cv->sys_parts = json_object_new_array();
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
    json_object *props, *items;

    if (!json_object_is_type(s, json_type_object))
        return;
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        json_object_object_del(s, drop[i]);
    props = jget(s, "properties");
    if (json_object_is_type(props, json_type_object)) {
        json_object_object_foreach(props, key, val)
        {
            (void)key;
            gm_schema_clean(val);
        }
    }
    items = jget(s, "items");
    if (json_object_is_type(items, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(items); i++)
            gm_schema_clean(json_object_array_get_idx(items, i));
    } else {
        gm_schema_clean(items);
    }
    for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
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
    json_object *params = jget(fn, "parameters"), *d;

    if (!name || !*name)
        return gm_bad(cv->ctx, cv->err, "tools", "a function has no name");
    d = json_object_new_object();
    json_object_object_add(d, "name", json_object_new_string(name));
    if (desc)
        json_object_object_add(d, "description", json_object_new_string(desc));
    if (json_object_is_type(params, json_type_object)) {
        json_object *c = jcopy(params), *props;

        gm_schema_clean(c);
        props = jget(c, "properties");
        /* Gemini rejects an object schema without properties; no parameters means the same. */
        if (json_object_is_type(props, json_type_object) && json_object_object_length(props) > 0)
            json_object_object_add(d, "parameters", c);
        else
            json_object_put(c);
    }
    json_object_array_add(decls, d);
    return 0;
}

static int gm_tools(struct gm_conv *cv, json_object *body)
{
    json_object *req = cv->ctx->req, *tools = jget(req, "tools"), *fns = jget(req, "functions");
    json_object *decls = json_object_new_array(), *tc = jget(req, "tool_choice"), *w, *list;
    const char *mode = NULL, *only = NULL;
    size_t n;

    n = json_object_is_type(tools, json_type_array) ? json_object_array_length(tools) : 0;
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
    w = json_object_new_object();
    json_object_object_add(w, "functionDeclarations", decls);
    list = json_object_new_array();
    json_object_array_add(list, w);
    json_object_object_add(body, "tools", list);

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
    if (mode) {
        json_object *fcc = json_object_new_object(), *tcfg = json_object_new_object();

        json_object_object_add(fcc, "mode", json_object_new_string(mode));
        if (only) {
            json_object *names = json_object_new_array();

            json_object_array_add(names, json_object_new_string(only));
            json_object_object_add(fcc, "allowedFunctionNames", names);
        }
        json_object_object_add(tcfg, "functionCallingConfig", fcc);
        json_object_object_add(body, "toolConfig", tcfg);
    }
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

static void gm_gen_config(struct gm_conv *cv, json_object *body)
{
    json_object *req = cv->ctx->req, *gc = json_object_new_object();
    json_object *max = jget(req, "max_completion_tokens"), *stop = jget(req, "stop");
    json_object *n = jget(req, "n"), *rf = jget(req, "response_format");
    const char *rft = jstr(rf, "type");

    gm_copy_num(req, "temperature", gc, "temperature");
    gm_copy_num(req, "top_p", gc, "topP");
    gm_copy_num(req, "top_k", gc, "topK");
    if (!jis_num(max))
        max = jget(req, "max_tokens");
    if (jis_num(max) && json_object_get_int64(max) > 0)
        json_object_object_add(gc, "maxOutputTokens",
                               json_object_new_int64(json_object_get_int64(max)));
    if (json_object_is_type(stop, json_type_string) && json_object_get_string_len(stop) > 0) {
        json_object *a = json_object_new_array();

        json_object_array_add(a, jcopy(stop));
        json_object_object_add(gc, "stopSequences", a);
    } else if (json_object_is_type(stop, json_type_array)) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < json_object_array_length(stop); i++) {
            json_object *s = json_object_array_get_idx(stop, i);

            if (json_object_array_length(a) < GM_MAX_STOP &&
                json_object_is_type(s, json_type_string))
                json_object_array_add(a, jcopy(s));
        }
        if (json_object_array_length(a) > 0)
            json_object_object_add(gc, "stopSequences", a);
        else
            json_object_put(a);
    }
    if (json_object_is_type(n, json_type_int) && json_object_get_int64(n) >= 1)
        json_object_object_add(gc, "candidateCount",
                               json_object_new_int64(json_object_get_int64(n)));
    gm_copy_num(req, "seed", gc, "seed");
    gm_copy_num(req, "presence_penalty", gc, "presencePenalty");
    gm_copy_num(req, "frequency_penalty", gc, "frequencyPenalty");
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
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++) {
        json_object *s = json_object_new_object();

        json_object_object_add(s, "category", json_object_new_string(categories[i]));
        json_object_object_add(s, "threshold", json_object_new_string(c->safety));
        json_object_array_add(a, s);
    }
    json_object_object_add(body, "safetySettings", a);
}

static int gm_build_chat(struct prov_ctx *ctx, const struct gm_conf *c, struct prov_request *out,
                         struct prov_error *err)
{
    struct gm_conv cv = {.ctx = ctx, .err = err};
    json_object *body = json_object_new_object();
    int rc = -1;

    cv.contents = json_object_new_array();
    cv.sys_parts = json_object_new_array();
    if (gm_messages(&cv) < 0)
        goto done;
    if (json_object_array_length(cv.sys_parts) > 0) {
        json_object *si = json_object_new_object();

        json_object_object_add(si, "parts", json_object_get(cv.sys_parts));
        json_object_object_add(body, "systemInstruction", si);
    }
    json_object_object_add(body, "contents", json_object_get(cv.contents));
    if (gm_tools(&cv, body) < 0)
        goto done;
    gm_gen_config(&cv, body);
    gm_safety(c, body);
    if (gm_set_body(ctx, body, out, err) < 0)
        goto done;
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
    const char *task = jstr(ctx->req, "task_type"), *model;
    json_object *body, *reqs;
    size_t n;
    int rc;

    if (json_object_is_type(input, json_type_string)) {
        n = 1;
    } else if (json_object_is_type(input, json_type_array) && json_object_array_length(input) > 0) {
        n = json_object_array_length(input);
        for (size_t i = 0; i < n; i++) {
            if (!json_object_is_type(json_object_array_get_idx(input, i), json_type_string))
                return gm_bad(ctx, err, "input", "Gemini embeddings take strings, not token ids");
        }
    } else {
        return gm_bad(ctx, err, "input", "input must be a string or an array of strings");
    }
    model = arena_printf(ctx->a, "models/%s", gm_model(ctx));
    body = json_object_new_object();
    reqs = json_object_new_array();
    json_object_object_add(body, "requests", reqs);
    for (size_t i = 0; i < n; i++) {
        json_object *s = n == 1 && json_object_is_type(input, json_type_string)
                             ? input
                             : json_object_array_get_idx(input, i);
        json_object *r = json_object_new_object(), *content = json_object_new_object();
        json_object *parts = json_object_new_array();

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
    rc = gm_set_body(ctx, body, out, err);
    json_object_put(body);
    if (rc == 0)
        out->url = gm_url(ctx, c, "batchEmbedContents");
    return rc;
}

static int gm_build_request(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    struct gm_conf c;

    if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS)
        return gm_bad(ctx, err, NULL, "this endpoint is not supported for Gemini channels");
    if (!*gm_model(ctx))
        return gm_bad(ctx, err, "model", "no model to send to Gemini");
    gm_conf_read(ctx, &c);
    if (gm_headers(ctx, out, err) < 0)
        return -1;
    return ctx->mode == RELAY_CHAT ? gm_build_chat(ctx, &c, out, err)
                                   : gm_build_embed(ctx, &c, out, err);
}

/* ---- responses ---- */

/* Gemini finishReason -> OpenAI finish_reason (providers-intl 1.5); unknown values are "stop"
 * because SDKs with strict enums reject anything else. */
static const char *gm_finish(const char *fr)
{
    static const char *const filtered[] = {
        "SAFETY", "RECITATION",   "BLOCKLIST", "PROHIBITED_CONTENT",
        "SPII",   "IMAGE_SAFETY", "LANGUAGE",  "OTHER"};

    if (!fr)
        return "stop";
    if (strcmp(fr, "MAX_TOKENS") == 0)
        return "length";
    for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++) {
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
    json_object *u = json_object_new_object();
    int64_t p = ctx->usage.prompt_tokens, c = ctx->usage.completion_tokens;

    json_object_object_add(u, "prompt_tokens", json_object_new_int64(p));
    json_object_object_add(u, "completion_tokens", json_object_new_int64(c));
    json_object_object_add(u, "total_tokens",
                           json_object_new_int64(x->total > 0 ? x->total : p + c));
    if (x->cached > 0) {
        json_object *d = json_object_new_object();

        json_object_object_add(d, "cached_tokens", json_object_new_int64(x->cached));
        json_object_object_add(u, "prompt_tokens_details", d);
    }
    if (x->reasoning > 0) {
        json_object *d = json_object_new_object();

        json_object_object_add(d, "reasoning_tokens", json_object_new_int64(x->reasoning));
        json_object_object_add(u, "completion_tokens_details", d);
    }
    return u;
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
            json_object *tc = json_object_new_object(), *fn = json_object_new_object();
            json_object *args = jget(fc, "args");
            const char *name = jstr(fc, "name"), *id = jstr(fc, "id"), *a = "{}";
            char hex[33];

            if (args)
                a = json_object_to_json_string_ext(args, GM_JSON_FLAGS);
            if (with_index)
                json_object_object_add(tc, "index", json_object_new_int(first_index + c->n_calls));
            if (id && *id) {
                json_object_object_add(tc, "id", json_object_new_string(id));
            } else {
                gm_rand_hex(hex);
                json_object_object_add(
                    tc, "id", json_object_new_string(arena_printf(ctx->a, "call_%s", hex)));
            }
            json_object_object_add(tc, "type", json_object_new_string("function"));
            json_object_object_add(fn, "name", json_object_new_string(name ? name : ""));
            json_object_object_add(fn, "arguments", json_object_new_string(a ? a : "{}"));
            json_object_object_add(tc, "function", fn);
            if (!c->calls)
                c->calls = json_object_new_array();
            json_object_array_add(c->calls, tc);
            c->n_calls++;
            sb_puts(&ctx->text, name ? name : "");
            sb_puts(&ctx->text, a ? a : "");
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

    if (br) {
        gm_set_err(err, 400, "invalid_request_error", "prompt_blocked", NULL,
                   arena_printf(ctx->a, "the prompt was blocked by Gemini (blockReason: %s)%s%s",
                                br, brm ? ": " : "", brm ? brm : ""));
        return -1;
    }
    gm_set_err(err, 500, "upstream_error", "empty_response", NULL, "Gemini returned no candidates");
    return -1;
}

/* Fills err from a Google error body ({"error":{code,message,status}}, possibly wrapped in an
 * array) or the other message fields of providers-intl 1.2. status is the HTTP status, 0 when
 * the error arrived inside a 200 answer. Returns 1 when a message was found. */
static int gm_error_from(struct prov_ctx *ctx, int status, json_object *root,
                         struct prov_error *err)
{
    static const char *const paths[][3] = {{"error", "message", NULL},
                                           {"message", NULL, NULL},
                                           {"msg", NULL, NULL},
                                           {"err", NULL, NULL},
                                           {"error_msg", NULL, NULL},
                                           {"header", "message", NULL},
                                           {"response", "error", "message"}};
    json_object *e;
    const char *msg = NULL, *gstatus;
    int64_t code;

    if (json_object_is_type(root, json_type_array) && json_object_array_length(root) > 0)
        root = json_object_array_get_idx(root, 0);
    e = jget(root, "error");
    for (size_t i = 0; !msg && i < sizeof(paths) / sizeof(paths[0]); i++) {
        json_object *o = root;
        size_t last = 0;

        while (last + 1 < 3 && paths[i][last + 1])
            last++;
        for (size_t k = 0; k < last; k++)
            o = jget(o, paths[i][k]);
        msg = jstr(o, paths[i][last]);
        if (msg && !*msg)
            msg = NULL;
    }
    if (!msg && json_object_is_type(e, json_type_string) && json_object_get_string_len(e) > 0)
        msg = json_object_get_string(e);
    if (!msg)
        return 0;
    code = jint(e, "code");
    if (status < 400)
        status = code >= 400 && code <= 599 ? (int)code : 500;
    gstatus = jstr(e, "status");
    gstatus = gstatus && *gstatus ? arena_strdup(ctx->a, gstatus) : NULL;
    /* providers-intl 6.6: Google's status names the error kind, so it is both type and code. */
    gm_set_err(err, status, gstatus ? gstatus : "upstream_error", gstatus, NULL,
               arena_strdup(ctx->a, msg));
    return 1;
}

static void gm_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                           struct prov_error *err)
{
    json_object *root = gm_parse(body, n);

    if (!gm_error_from(ctx, status, root, err))
        gm_set_err(err, status, "upstream_error", "bad_response_status_code",
                   arena_printf(ctx->a, "%d", status),
                   arena_printf(ctx->a, "bad response status code %d", status));
    json_object_put(root);
}

/* A 200 body that is really an error ({"error": ...}) into err. */
static int gm_inline_error(struct prov_ctx *ctx, json_object *root, struct prov_error *err)
{
    if (!gm_error_from(ctx, 0, root, err))
        gm_set_err(err, 500, "upstream_error", NULL, NULL, "Gemini reported an error");
    return -1;
}

static int gm_chat_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                            struct prov_error *err)
{
    json_object *cands = jget(root, "candidates"), *resp, *choices;
    struct gm_usage_extra x = {0};
    size_t n;
    int rc;

    if (!json_object_is_type(cands, json_type_array) || json_object_array_length(cands) == 0)
        return gm_no_candidates(ctx, root, err);
    resp = json_object_new_object();
    choices = json_object_new_array();
    json_object_object_add(resp, "id", json_object_new_string(gm_completion_id(ctx)));
    json_object_object_add(resp, "object", json_object_new_string("chat.completion"));
    json_object_object_add(resp, "created", json_object_new_int64(ctx->created));
    json_object_object_add(resp, "model", json_object_new_string(gm_out_model(ctx)));
    json_object_object_add(resp, "choices", choices);
    n = json_object_array_length(cands);
    for (size_t i = 0; i < n; i++) {
        json_object *cand = json_object_array_get_idx(cands, i), *choice, *msg;
        int64_t idx = jint(cand, "index");
        struct gm_cand c;

        if (!json_object_is_type(cand, json_type_object))
            continue;
        choice = json_object_new_object();
        msg = json_object_new_object();
        gm_cand_read(ctx, cand, 0, 0, &c);
        /* Gemini omits a zero index (proto3 default); position stands in for a missing one. */
        json_object_object_add(
            choice, "index",
            json_object_new_int64(jget(cand, "index") && idx >= 0 ? idx : (int64_t)i));
        json_object_object_add(msg, "role", json_object_new_string("assistant"));
        /* OpenAI gives null content beside tool calls, and "" for an empty answer. */
        json_object_object_add(msg, "content",
                               c.text.len || !c.calls ? jstrn(c.text.p ? c.text.p : "", c.text.len)
                                                      : NULL);
        if (c.thought.len)
            json_object_object_add(msg, "reasoning_content", jstrn(c.thought.p, c.thought.len));
        if (c.calls)
            json_object_object_add(msg, "tool_calls", c.calls);
        json_object_object_add(choice, "message", msg);
        json_object_object_add(
            choice, "finish_reason",
            json_object_new_string(c.calls ? "tool_calls" : gm_finish(c.finish)));
        json_object_array_add(choices, choice);
    }
    if (gm_usage_read(ctx, jget(root, "usageMetadata"), &x))
        json_object_object_add(resp, "usage", gm_usage_json(ctx, &x));
    rc = gm_dump(out, resp);
    json_object_put(resp);
    return rc < 0 ? gm_internal(err, "convert_response_failed", "cannot serialise the answer") : 0;
}

/* The base64 of values as little-endian float32 (OpenAI's encoding_format=base64). */
static int gm_b64_floats(struct prov_ctx *ctx, json_object *values, json_object **res)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = json_object_array_length(values), nb = n * 4;
    unsigned char *b = arena_alloc(ctx->a, nb + 1);
    struct strbuf sb;

    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(values, i);
        float f;
        uint32_t u;

        if (!jis_num(v))
            return -1;
        f = (float)json_object_get_double(v);
        memcpy(&u, &f, sizeof(u));
        /* Byte by byte, so the output is little-endian whatever the host is. */
        for (int k = 0; k < 4; k++)
            b[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    sb_init(&sb, ctx->a);
    sb_grow(&sb, (nb + 2) / 3 * 4);
    for (size_t i = 0; i < nb; i += 3) {
        uint32_t w = (uint32_t)b[i] << 16;
        size_t left = nb - i;

        if (left > 1)
            w |= (uint32_t)b[i + 1] << 8;
        if (left > 2)
            w |= b[i + 2];
        sb_putc(&sb, tab[(w >> 18) & 63]);
        sb_putc(&sb, tab[(w >> 12) & 63]);
        sb_putc(&sb, left > 1 ? tab[(w >> 6) & 63] : '=');
        sb_putc(&sb, left > 2 ? tab[w & 63] : '=');
    }
    *res = jstrn(sb.p ? sb.p : "", sb.len);
    return 0;
}

static int gm_embed_response(struct prov_ctx *ctx, json_object *root, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *embs = jget(root, "embeddings"), *resp, *data, *usage;
    const char *fmt = jstr(ctx->req, "encoding_format");
    int is_b64 = fmt && strcmp(fmt, "base64") == 0, rc;
    size_t n;

    if (!json_object_is_type(embs, json_type_array))
        return gm_malformed(err);
    resp = json_object_new_object();
    data = json_object_new_array();
    json_object_object_add(resp, "object", json_object_new_string("list"));
    json_object_object_add(resp, "data", data);
    n = json_object_array_length(embs);
    for (size_t i = 0; i < n; i++) {
        json_object *values = jget(json_object_array_get_idx(embs, i), "values"), *item, *vec;

        if (!json_object_is_type(values, json_type_array))
            goto malformed;
        if (is_b64) {
            if (gm_b64_floats(ctx, values, &vec) < 0)
                goto malformed;
        } else {
            vec = json_object_get(values); /* shared with root: the numbers keep their text */
        }
        item = json_object_new_object();
        json_object_object_add(item, "object", json_object_new_string("embedding"));
        json_object_object_add(item, "index", json_object_new_int64((int64_t)i));
        json_object_object_add(item, "embedding", vec);
        json_object_array_add(data, item);
    }
    json_object_object_add(resp, "model", json_object_new_string(gm_out_model(ctx)));
    usage = json_object_new_object();
    /* Gemini counts nothing for embeddings: echo the core's estimate (see gemini.h). */
    json_object_object_add(usage, "prompt_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(usage, "total_tokens", json_object_new_int64(ctx->usage.prompt_tokens));
    json_object_object_add(resp, "usage", usage);
    rc = gm_dump(out, resp);
    json_object_put(resp);
    return rc < 0 ? gm_internal(err, "convert_response_failed", "cannot serialise the answer") : 0;
malformed:
    json_object_put(resp);
    return gm_malformed(err);
}

static int gm_parse_response(struct prov_ctx *ctx, const char *body, size_t n, struct strbuf *out,
                             struct prov_error *err)
{
    json_object *root = gm_parse(body, n);
    int rc;

    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return gm_malformed(err);
    }
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
    json_object *n;

    if (st)
        return st;
    st = arena_calloc(ctx->a, 1, sizeof(*st));
    st->id = gm_completion_id(ctx);
    n = jget(ctx->req, "n");
    st->n_want = 1;
    if (json_object_is_type(n, json_type_int) && json_object_get_int64(n) > 1)
        st->n_want =
            json_object_get_int64(n) < GM_MAX_CAND ? (int)json_object_get_int64(n) : GM_MAX_CAND;
    ctx->state = st;
    return st;
}

/* Writes one chunk: choice (consumed) as its only choice, or an empty choices list with usage
 * (consumed). Chunks carry "usage": null when the client asked for usage, as OpenAI's do. */
static int gm_emit(struct prov_ctx *ctx, const struct gm_stream *st, struct strbuf *out,
                   json_object *choice, json_object *usage)
{
    json_object *o = json_object_new_object(), *choices = json_object_new_array();
    int rc;

    json_object_object_add(o, "id", json_object_new_string(st->id));
    json_object_object_add(o, "object", json_object_new_string("chat.completion.chunk"));
    json_object_object_add(o, "created", json_object_new_int64(ctx->created));
    json_object_object_add(o, "model", json_object_new_string(gm_out_model(ctx)));
    if (choice)
        json_object_array_add(choices, choice);
    json_object_object_add(o, "choices", choices);
    if (usage || ctx->include_usage)
        json_object_object_add(o, "usage", usage);
    SB_LIT(out, "data: ");
    rc = gm_dump(out, o);
    SB_LIT(out, "\n\n");
    json_object_put(o);
    return rc;
}

static json_object *gm_choice(int index, json_object *delta, const char *finish)
{
    json_object *c = json_object_new_object();

    json_object_object_add(c, "index", json_object_new_int(index));
    json_object_object_add(c, "delta", delta);
    json_object_object_add(c, "finish_reason", finish ? json_object_new_string(finish) : NULL);
    return c;
}

/* The end of the stream: unfinished choices get a finish_reason, then the usage chunk once. */
static int gm_stream_end(struct prov_ctx *ctx, struct gm_stream *st, struct strbuf *out)
{
    int rc = 0;

    for (int i = 0; i < GM_MAX_CAND; i++) {
        if (st->is_started[i] && !st->is_done[i]) {
            st->is_done[i] = 1;
            st->n_done++;
            rc |= gm_emit(
                ctx, st, out,
                gm_choice(i, json_object_new_object(), st->has_calls[i] ? "tool_calls" : "stop"),
                NULL);
        }
    }
    ctx->finished = 1;
    if (ctx->include_usage && !st->is_usage_sent) {
        st->is_usage_sent = 1;
        rc |= gm_emit(ctx, st, out, NULL, gm_usage_json(ctx, &st->u));
    }
    return rc;
}

/* One candidate of a stream event into chunks. */
static int gm_stream_cand(struct prov_ctx *ctx, struct gm_stream *st, json_object *cand, size_t pos,
                          struct strbuf *out, struct prov_error *err)
{
    json_object *idx = jget(cand, "index"), *delta;
    int64_t i = json_object_is_type(idx, json_type_int) ? json_object_get_int64(idx) : (int64_t)pos;
    const char *finish = NULL;
    struct gm_cand c;
    int rc = 0;

    if (!json_object_is_type(cand, json_type_object))
        return 0;
    if (i < 0 || i >= GM_MAX_CAND)
        return gm_malformed(err);
    if (st->is_done[i])
        return 0; /* nothing may follow a choice's finish_reason */
    if (!st->is_started[i]) {
        delta = json_object_new_object();
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
        json_object_object_add(delta, "content", json_object_new_string(""));
        st->is_started[i] = 1;
        rc |= gm_emit(ctx, st, out, gm_choice((int)i, delta, NULL), NULL);
    }
    gm_cand_read(ctx, cand, st->n_calls[i], 1, &c);
    st->n_calls[i] += c.n_calls;
    if (c.n_calls)
        st->has_calls[i] = 1;
    if (c.finish) {
        finish = st->has_calls[i] ? "tool_calls" : gm_finish(c.finish);
        st->is_done[i] = 1;
        st->n_done++;
    }
    delta = json_object_new_object();
    if (c.text.len)
        json_object_object_add(delta, "content", jstrn(c.text.p, c.text.len));
    if (c.thought.len)
        json_object_object_add(delta, "reasoning_content", jstrn(c.thought.p, c.thought.len));
    if (c.calls)
        json_object_object_add(delta, "tool_calls", c.calls);
    if (json_object_object_length(delta) > 0 || finish)
        rc |= gm_emit(ctx, st, out, gm_choice((int)i, delta, finish), NULL);
    else
        json_object_put(delta);
    return rc < 0 ? gm_internal(err, "convert_response_failed", "cannot serialise a chunk") : 0;
}

static int gm_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                          struct strbuf *out, struct prov_error *err)
{
    struct gm_stream *st = gm_stream_state(ctx);
    json_object *root, *cands;
    size_t nc;
    int rc = 0;

    (void)event; /* Gemini names no events */
    if (!data)
        return gm_stream_end(ctx, st, out) < 0 ? gm_malformed(err) : 0;
    while (n > 0 && isspace((unsigned char)*data)) {
        data++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)data[n - 1]))
        n--;
    if (n == 0)
        return 0;
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) /* not Gemini's, but harmless to honour */
        return gm_stream_end(ctx, st, out) < 0 ? gm_malformed(err) : 0;
    root = gm_parse(data, n);
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return gm_malformed(err);
    }
    if (jget(root, "error")) {
        rc = gm_inline_error(ctx, root, err);
        json_object_put(root);
        return rc;
    }
    gm_usage_read(ctx, jget(root, "usageMetadata"), &st->u);
    cands = jget(root, "candidates");
    nc = json_object_is_type(cands, json_type_array) ? json_object_array_length(cands) : 0;
    if (nc == 0 && jstr(jget(root, "promptFeedback"), "blockReason"))
        rc = gm_no_candidates(ctx, root, err);
    for (size_t i = 0; rc == 0 && i < nc; i++)
        rc = gm_stream_cand(ctx, st, json_object_array_get_idx(cands, i), i, out, err);
    json_object_put(root);
    if (rc == 0 && st->n_done >= st->n_want && !ctx->finished && gm_stream_end(ctx, st, out) < 0)
        rc = gm_malformed(err);
    return rc;
}

const struct provider provider_gemini = {
    .name = "gemini",
    .build_request = gm_build_request,
    .parse_response = gm_parse_response,
    .parse_event = gm_parse_event,
    .parse_error = gm_parse_error,
};
