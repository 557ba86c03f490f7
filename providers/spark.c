/* Spark adaptor: OpenAI chat to and from iFlytek Spark's WebSocket frames. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/crypto.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/adaptor.h"
#include "providers/provider.h"
#include "providers/spark.h"

#define SPARK_DEFAULT_ORIGIN "wss://spark-api.xf-yun.com"
#define SPARK_ERR "upstream_error"

/* A model's API version, its path and its parameter.chat.domain. */
struct spark_version {
    const char *model;   /* One API's model name */
    const char *version; /* the version it stands for */
    const char *path;
    const char *domain;
};

static const struct spark_version versions[] = {
    {"Spark-Lite", "v1.1", "/v1.1/chat", "lite"},
    {NULL, "v2.1", "/v2.1/chat", "generalv2"},
    {"Spark-Pro", "v3.1", "/v3.1/chat", "generalv3"},
    {"Spark-Pro-128K", "v3.1-128K", "/chat/pro-128k", "pro-128k"},
    {"Spark-Max", "v3.5", "/v3.5/chat", "generalv3.5"},
    {"Spark-Max-32K", "v3.5-32K", "/chat/max-32k", "max-32k"},
    {"Spark-4.0-Ultra", "v4.0", "/v4.0/chat", "4.0Ultra"},
    {"x1", "x1", "/v1/x1", "x1"},
};

/* Stream state, in the arena behind ctx->state. */
struct spark_stream {
    struct prov_chunk chunk; /* id (the sid once known), model and created of every chunk */
    int is_started;          /* the first delta (with the role) went out */
};

int spark_error_status(int64_t code)
{
    switch (code) {
    case 10013: /* input refused by moderation */
    case 10014: /* output refused by moderation */
    case 10019: /* content refused */
    case 10907: /* too many tokens */
    case 10163: /* parameter or schema error */ return 400;
    case 11200: return 403; /* not authorised, or the licence's quota is spent */
    case 11201:             /* daily limit */
    case 11202:             /* QPS limit */
    case 11203: /* concurrency limit */ return 429;
    default: return 500;
    }
}

void spark_http_date(int64_t t, char out[32])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *spark_signature(struct arena *a, const char *host, const char *date, const char *path,
                      const char *api_secret)
{
    char *origin = arena_printf(a, "host: %s\ndate: %s\nGET %s HTTP/1.1", host, date, path);
    unsigned char mac[32];
    hmac_sha256(api_secret, strlen(api_secret), origin, strlen(origin), mac);
    struct strbuf sb;
    sb_init(&sb, a);
    b64_put(&sb, mac, sizeof mac);
    return sb.p;
}

/* Appends s form-encoded, as Go's url.Values.Encode does: space as '+'. */
static void form_put(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ') {
            sb_putc(sb, '+');
        } else {
            char one[2] = {*s, '\0'};
            sb_url(sb, one);
        }
    }
}

char *spark_auth_url(struct arena *a, const char *origin, const char *host, const char *path,
                     const char *date, const char *api_key, const char *api_secret,
                     int is_kong_form)
{
    const char *sig = spark_signature(a, host, date, path, api_secret);
    char *auth_origin =
        arena_printf(a,
                     "%s=\"%s\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", "
                     "signature=\"%s\"",
                     is_kong_form ? "hmac username" : "api_key", api_key, sig);
    struct strbuf auth, url;
    sb_init(&auth, a);
    b64_put(&auth, auth_origin, strlen(auth_origin));
    sb_init(&url, a);
    sb_puts(&url, origin);
    sb_puts(&url, path);
    /* The query keys in sorted order, as Go and Python write them. */
    SB_LIT(&url, "?authorization=");
    form_put(&url, auth.p);
    SB_LIT(&url, "&date=");
    form_put(&url, date);
    SB_LIT(&url, "&host=");
    form_put(&url, host);
    return url.p;
}

/* The version row for the request's model and the channel's api_version; *tmp is filled for
 * a version outside the table. */
static const struct spark_version *spark_pick(struct prov_ctx *ctx, struct spark_version *tmp)
{
    const char *model = ctx->model ? ctx->model : "";
    size_t n = sizeof versions / sizeof *versions;
    for (size_t i = 0; i < n; i++)
        if (versions[i].model && !strcmp(model, versions[i].model))
            return &versions[i];
    const char *dash = strchr(model, '-');
    const char *v = dash && dash[1]         ? dash + 1
                    : *ctx->ch->api_version ? ctx->ch->api_version
                                            : "v1.1";
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, versions[i].version))
            return &versions[i];
    tmp->model = NULL;
    tmp->version = v;
    tmp->path = arena_printf(ctx->a, "/%s/chat", v);
    tmp->domain = arena_printf(ctx->a, "general%s", v);
    return tmp;
}

/* Splits the channel's base URL (or the default) into the URL's origin part (scheme,
 * authority and any path prefix) and the authority the Host header carries. -1 when it is
 * not a URL. */
static int spark_origin(struct prov_ctx *ctx, const char **origin, const char **host)
{
    const char *base = *ctx->ch->base_url ? ctx->ch->base_url : SPARK_DEFAULT_ORIGIN;
    static const struct {
        const char *in, *out;
    } schemes[] = {
        {"wss://", "wss://"}, {"ws://", "ws://"}, {"https://", "wss://"}, {"http://", "ws://"}};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        size_t sl = strlen(schemes[i].in);
        if (strncmp(base, schemes[i].in, sl) != 0)
            continue;
        const char *auth = base + sl;
        size_t al = strcspn(auth, "/?#");
        if (!al)
            return -1;
        size_t bl = strlen(base);
        while (bl > sl + al && base[bl - 1] == '/')
            bl--;
        *host = arena_strndup(ctx->a, auth, al);
        *origin = arena_printf(ctx->a, "%s%.*s", schemes[i].out, (int)(bl - sl), auth);
        return 0;
    }
    return -1;
}

/* The text of an OpenAI content value: a string, or the text parts of an array joined. */
static const char *spark_content(struct prov_ctx *ctx, json_object *c)
{
    if (json_object_is_type(c, json_type_string))
        return json_object_get_string(c);
    if (!json_object_is_type(c, json_type_array))
        return "";
    struct strbuf sb;
    sb_init(&sb, ctx->a);
    SB_LIT(&sb, "");
    for (size_t i = 0; i < json_object_array_length(c); i++) {
        json_object *part = json_object_array_get_idx(c, i);
        const char *type = jstr(part, "type"), *text = jstr(part, "text");
        if (type && !strcmp(type, "text") && text) {
            if (sb.len)
                sb_putc(&sb, '\n');
            sb_puts(&sb, text);
        }
    }
    return sb.p;
}

/* The request frame: header (app id, user), parameter.chat and payload (messages, and the
 * functions of tools for the domains that take them). */
static json_object *spark_frame(struct prov_ctx *ctx, const char *app_id,
                                const struct spark_version *v)
{
    json_object *req = ctx->req;
    json_object *frame = jnew_obj(), *header = jnew_obj(), *param = jnew_obj();
    json_object *chat = jnew_obj(), *payload = jnew_obj(), *message = jnew_obj();
    json_object *text = jnew_arr();
    json_object_object_add(header, "app_id", json_object_new_string(app_id));
    const char *user = jstr(req, "user");
    if (user && *user)
        json_object_object_add(header, "uid", prov_str_new(user, strnlen(user, 32)));
    json_object_object_add(frame, "header", header);
    json_object_object_add(chat, "domain", json_object_new_string(v->domain));
    json_object *t = jget(req, "temperature");
    if (jis_num(t))
        json_object_object_add(chat, "temperature", json_object_get(t));
    json_object *mt = jget(req, "max_tokens");
    if (!jis_num(mt))
        mt = jget(req, "max_completion_tokens");
    if (jis_num(mt))
        json_object_object_add(chat, "max_tokens", json_object_get(mt));
    json_object *tk = jget(req, "top_k");
    if (jis_num(tk))
        json_object_object_add(chat, "top_k", json_object_get(tk));
    json_object_object_add(param, "chat", chat);
    json_object_object_add(frame, "parameter", param);
    json_object *msgs = jget(req, "messages");
    size_t nm = json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
    for (size_t i = 0; i < nm; i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *o = jnew_obj();
        const char *role = jstr(m, "role");
        json_object_object_add(o, "role", json_object_new_string(role ? role : "user"));
        json_object_object_add(o, "content",
                               json_object_new_string(spark_content(ctx, jget(m, "content"))));
        json_object_array_add(text, o);
    }
    json_object_object_add(message, "text", text);
    json_object_object_add(payload, "message", message);
    json_object *tools = jget(req, "tools");
    int takes_functions = !strncmp(v->domain, "generalv3", 9) || !strcmp(v->domain, "4.0Ultra");
    if (takes_functions && json_object_is_type(tools, json_type_array) &&
        json_object_array_length(tools)) {
        json_object *fns = jnew_arr(), *wrap = jnew_obj();
        for (size_t i = 0; i < json_object_array_length(tools); i++) {
            json_object *fn = jget(json_object_array_get_idx(tools, i), "function");
            if (json_object_is_type(fn, json_type_object))
                json_object_array_add(fns, json_object_get(fn));
        }
        json_object_object_add(wrap, "text", fns);
        json_object_object_add(payload, "functions", wrap);
    }
    json_object_object_add(frame, "payload", payload);
    return frame;
}

static int spark_build_request(struct prov_ctx *ctx, struct prov_request *out,
                               struct prov_error *err)
{
    if (ctx->mode != RELAY_CHAT || !ctx->req)
        return prov_fail(err, 400, "invalid_request_error", "invalid_request", NULL,
                         "Spark serves chat completions only");
    const char *key = ctx->ch->key ? ctx->ch->key : "";
    const char *p1 = strchr(key, '|'), *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
    if (!p1 || !p2 || strchr(p2 + 1, '|') || p1 == key || p2 == p1 + 1 || !p2[1])
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the Spark channel key must be APPID|APISecret|APIKey");
    const char *app_id = arena_strndup(ctx->a, key, (size_t)(p1 - key));
    const char *secret = arena_strndup(ctx->a, p1 + 1, (size_t)(p2 - p1 - 1));
    const char *api_key = p2 + 1;
    const char *origin, *host;
    if (spark_origin(ctx, &origin, &host) < 0)
        return prov_fail(err, 500, "one_api_error", "convert_request_failed", NULL,
                         "the Spark channel's base URL is not a ws://, wss:// or http(s):// URL");
    struct spark_version tmp;
    const struct spark_version *v = spark_pick(ctx, &tmp);
    char date[32];
    spark_http_date(ctx->created, date);
    out->url = spark_auth_url(ctx->a, origin, host, v->path, date, api_key, secret, 0);
    out->n_headers = 0;
    json_object *frame = spark_frame(ctx, app_id, v);
    out->body = jdump(ctx->a, frame, &out->body_len);
    json_object_put(frame);
    return 0;
}

/* ---- answers ---- */

static int spark_malformed(struct prov_error *err)
{
    return prov_fail(err, 500, "one_api_error", "unmarshal_response_body_failed", NULL,
                     "cannot parse the upstream response from Spark");
}

/* A frame with header.code != 0 into err. */
static int spark_frame_error(struct prov_ctx *ctx, json_object *frame, struct prov_error *err)
{
    json_object *h = jget(frame, "header");
    int64_t code = jint(h, "code");
    const char *msg = jstr(h, "message");
    return prov_fail(err, spark_error_status(code), SPARK_ERR,
                     arena_printf(ctx->a, "%lld", (long long)code), NULL,
                     arena_printf(ctx->a, "%s", msg && *msg ? msg : "Spark reported an error"));
}

/* 1 when the frame reports an error. */
static int spark_is_error(json_object *frame)
{
    return jint(jget(frame, "header"), "code") != 0;
}

/* 1 when the frame is the answer's last. */
static int spark_is_last(json_object *frame)
{
    return jint(jget(frame, "header"), "status") == 2 ||
           jint(jget(jget(frame, "payload"), "choices"), "status") == 2;
}

static void spark_usage_read(struct prov_ctx *ctx, json_object *frame)
{
    json_object *u = jget(jget(jget(frame, "payload"), "usage"), "text");
    if (!json_object_is_type(u, json_type_object))
        return;
    ctx->usage.prompt_tokens = jint(u, "prompt_tokens");
    ctx->usage.completion_tokens = jint(u, "completion_tokens");
    ctx->usage.has_usage = 1;
}

/* The first text item of a frame. */
static json_object *spark_item(json_object *frame)
{
    json_object *t = jget(jget(jget(frame, "payload"), "choices"), "text");
    return json_object_is_type(t, json_type_array) ? json_object_array_get_idx(t, 0) : NULL;
}

/* The frame's function_call as an OpenAI tool call (index as prov_tool_call_new), or NULL;
 * its name and arguments go to ctx->text for counting. */
static json_object *spark_call(struct prov_ctx *ctx, json_object *item, int index)
{
    json_object *fc = jget(item, "function_call");
    if (!json_object_is_type(fc, json_type_object))
        return NULL;
    const char *name = jstr(fc, "name");
    json_object *args = jget(fc, "arguments");
    const char *a = json_object_is_type(args, json_type_string) ? json_object_get_string(args)
                    : args                                      ? jdump(ctx->a, args, NULL)
                                                                : "{}";
    char hex[33];
    uuid_hex(hex);
    sb_puts(&ctx->text, name ? name : "");
    sb_puts(&ctx->text, a);
    return prov_tool_call_new(index, arena_printf(ctx->a, "call_%s", hex), name ? name : "", a);
}

static const char *spark_id(struct prov_ctx *ctx, json_object *frame)
{
    const char *sid = jstr(jget(frame, "header"), "sid");
    if (sid && *sid)
        return arena_strdup(ctx->a, sid);
    return arena_printf(ctx->a, "chatcmpl-%s", ctx->request_id ? ctx->request_id : "");
}

static const char *spark_out_model(const struct prov_ctx *ctx)
{
    return ctx->model && *ctx->model ? ctx->model : (ctx->origin_model ? ctx->origin_model : "");
}

/* Calls fn for each non-blank line of body[0..n): the frames of a whole answer. */
static int spark_each_line(const char *body, size_t n,
                           int (*fn)(void *ud, const char *line, size_t len), void *ud)
{
    const char *p = body, *end = body + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        while (s < le && isspace((unsigned char)*s))
            s++;
        if (s < le) {
            int rc = fn(ud, s, (size_t)(le - s));
            if (rc)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* What spark_parse_response gathers from the frames. */
struct spark_collect {
    struct prov_ctx *ctx;
    struct prov_error *err;
    struct strbuf text; /* the content, concatenated */
    json_object *calls; /* tool calls, or NULL */
    json_object *first; /* the first frame (owned), for the id */
    int n_frames;
};

static int spark_collect_line(void *ud, const char *line, size_t len)
{
    struct spark_collect *c = ud;
    json_object *frame = prov_parse_object(line, len);
    if (!frame)
        return spark_malformed(c->err);
    if (spark_is_error(frame)) {
        spark_frame_error(c->ctx, frame, c->err);
        json_object_put(frame);
        return -1;
    }
    json_object *item = spark_item(frame);
    const char *content = jstr(item, "content");
    if (content)
        sb_puts(&c->text, content);
    json_object *call = spark_call(c->ctx, item, -1);
    if (call) {
        if (!c->calls)
            c->calls = jnew_arr();
        json_object_array_add(c->calls, call);
    }
    spark_usage_read(c->ctx, frame);
    c->n_frames++;
    if (!c->first)
        c->first = frame;
    else
        json_object_put(frame);
    return 0;
}

static int spark_parse_response(struct prov_ctx *ctx, const char *body, size_t n,
                                struct strbuf *out, struct prov_error *err)
{
    struct spark_collect c = {.ctx = ctx, .err = err};
    sb_init(&c.text, ctx->a);
    SB_LIT(&c.text, "");
    int rc = spark_each_line(body, n, spark_collect_line, &c);
    if (!rc && !c.n_frames)
        rc = spark_malformed(err);
    if (rc) {
        json_object_put(c.calls);
        json_object_put(c.first);
        return -1;
    }
    sb_putn(&ctx->text, c.text.p, c.text.len);
    json_object *choices;
    json_object *resp =
        prov_completion_new(spark_id(ctx, c.first), ctx->created, spark_out_model(ctx), &choices);
    const char *finish = c.calls ? "tool_calls" : "stop";
    json_object *m = prov_message_new(c.text.p, c.text.len, NULL, 0, c.calls);
    json_object_array_add(choices, prov_choice_new(0, "message", m, finish));
    if (ctx->usage.has_usage)
        json_object_object_add(resp, "usage", prov_usage_new(&ctx->usage, 0, 0, 0));
    jput(out, resp);
    json_object_put(resp);
    json_object_put(c.first);
    return 0;
}

static int spark_parse_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                             struct strbuf *out, struct prov_error *err)
{
    (void)event; /* the core hands WebSocket messages over as NDJSON lines */
    struct spark_stream *st = ctx->state;
    if (!st) {
        st = arena_calloc(ctx->a, 1, sizeof *st);
        st->chunk.model = spark_out_model(ctx);
        st->chunk.created = ctx->created;
        st->chunk.usage_null = ctx->include_usage;
        ctx->state = st;
    }
    if (ctx->finished)
        return 0;
    if (!data)
        return prov_fail(err, 502, SPARK_ERR, "stream_interrupted", NULL,
                         "Spark closed the connection before the answer's last frame");
    while (n > 0 && isspace((unsigned char)data[n - 1]))
        n--;
    if (!n)
        return 0;
    json_object *frame = prov_parse_object(data, n);
    if (!frame)
        return spark_malformed(err);
    if (spark_is_error(frame)) {
        int rc = spark_frame_error(ctx, frame, err);
        json_object_put(frame);
        return rc;
    }
    if (!st->chunk.id)
        st->chunk.id = spark_id(ctx, frame);
    json_object *item = spark_item(frame);
    const char *content = jstr(item, "content");
    json_object *call = spark_call(ctx, item, 0);
    int is_last = spark_is_last(frame);
    json_object *delta = jnew_obj();
    if (!st->is_started)
        json_object_object_add(delta, "role", json_object_new_string("assistant"));
    if (content && (*content || !call)) {
        json_object_object_add(delta, "content", json_object_new_string(content));
        sb_puts(&ctx->text, content);
    }
    if (call) {
        json_object *calls = jnew_arr();
        json_object_array_add(calls, call);
        json_object_object_add(delta, "tool_calls", calls);
    }
    if (is_last) {
        spark_usage_read(ctx, frame);
        ctx->finished = 1;
    }
    if (is_last || json_object_object_length(delta) > (st->is_started ? 0 : 1)) {
        prov_chunk_put(out, &st->chunk, 0, delta, is_last ? (call ? "tool_calls" : "stop") : NULL);
        st->is_started = 1;
    }
    json_object_put(delta);
    if (is_last && ctx->include_usage) {
        json_object *u = prov_usage_new(&ctx->usage, 0, 0, 0);
        prov_chunk_usage(out, &st->chunk, u);
        json_object_put(u);
    }
    json_object_put(frame);
    return 0;
}

static int spark_message_status(struct prov_ctx *ctx, const char *msg, size_t n)
{
    (void)ctx;
    json_object *frame = prov_parse_object(msg, n);
    int status = frame && spark_is_error(frame)
                     ? spark_error_status(jint(jget(frame, "header"), "code"))
                     : 200;
    json_object_put(frame);
    return status;
}

static void spark_parse_error(struct prov_ctx *ctx, int status, const char *body, size_t n,
                              struct prov_error *err)
{
    json_object *frame = prov_parse_object(body, n);
    if (frame && spark_is_error(frame))
        spark_frame_error(ctx, frame, err);
    else
        provider_error_default(ctx->a, status, body, n, err);
    json_object_put(frame);
}

const struct provider provider_spark = {
    .name = "spark",
    .build_request = spark_build_request,
    .parse_response = spark_parse_response,
    .parse_event = spark_parse_event,
    .parse_error = spark_parse_error,
    .message_status = spark_message_status,
};
