/* openai: the OpenAI wire format and its relatives (Azure, the compatible providers of the
 * registry): URL and auth rules, bodies passed through, usage picked from responses. */
#include "config.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "fcgi/arena.h"

#include <json-c/json.h>
#include <string.h>

/* The task path of each mode, as OpenAI spells it after "/v1". */
static const char *const mode_path[RELAY_MODE__MAX] = {
    [RELAY_CHAT] = "/chat/completions",
    [RELAY_COMPLETIONS] = "/completions",
    [RELAY_EMBEDDINGS] = "/embeddings",
    [RELAY_MODERATIONS] = "/moderations",
    [RELAY_IMAGES] = "/images/generations",
    [RELAY_SPEECH] = "/audio/speech",
    [RELAY_TRANSCRIPTION] = "/audio/transcriptions",
    [RELAY_TRANSLATION] = "/audio/translations",
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

static int openai_build(struct prov_ctx *ctx, struct prov_request *out, struct prov_error *err)
{
    const struct channel_type *ct = channel_type_get(ctx->ch->type);
    const char *base = ctx->ch->base_url;
    const char *task = mode_path[ctx->mode];
    enum url_rule rule = ct ? ct->url_rule : URL_APPEND;
    if (!*base) {
        err->status = 500;
        err->message = "the channel has no base URL";
        err->type = "one_api_error";
        err->code = "do_request_failed";
        return -1;
    }
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
        if (ctx->mode != RELAY_CHAT) {
            err->status = 400;
            err->message = "unsupported relay mode for this channel";
            err->type = "one_api_error";
            err->code = "convert_request_failed";
            return -1;
        }
        out->url = arena_printf(ctx->a, "%s%s", base, task);
        break;
    case URL_CLOUDFLARE: {
        if (ctx->mode != RELAY_CHAT && ctx->mode != RELAY_EMBEDDINGS) {
            err->status = 400;
            err->message = "unsupported relay mode for Cloudflare Workers AI";
            err->type = "one_api_error";
            err->code = "convert_request_failed";
            return -1;
        }
        size_t bl = strlen(base);
        /* Through AI Gateway (providers-intl 8.2) the account is in the base already. */
        if (!strncmp(base, "https://gateway.ai.cloudflare.com", 32) && bl >= 11 &&
            !strcmp(base + bl - 11, "/workers-ai")) {
            out->url = arena_printf(ctx->a, "%s/v1%s", base, task);
            break;
        }
        json_object *cfg = json_tokener_parse(ctx->ch->config), *acct;
        const char *id = cfg && json_object_object_get_ex(cfg, "user_id", &acct)
                             ? arena_strdup(ctx->a, json_object_get_string(acct))
                             : "";
        json_object_put(cfg);
        if (!*id) {
            err->status = 500;
            err->message = "the Cloudflare channel needs its account id in config.user_id";
            err->type = "one_api_error";
            err->code = "convert_request_failed";
            return -1;
        }
        out->url = arena_printf(ctx->a, "%s/client/v4/accounts/%s/ai/v1%s", base, id, task);
        break;
    }
    case URL_STRIP_V1: out->url = arena_printf(ctx->a, "%s%s", base, task); break;
    case URL_APPEND:
    default:
        /* Cloudflare AI Gateway's OpenAI endpoint takes the path without "/v1". */
        out->url = arena_printf(
            ctx->a, "%s%s%s", base,
            !strncmp(base, "https://gateway.ai.cloudflare.com", 32) ? "" : "/v1", task);
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

/* Keeps the most recent usage: top level, else choices[i].usage (Moonshot), else
 * x_groq.usage (Groq). */
static void take_usage(struct prov_ctx *ctx, json_object *j)
{
    json_object *u = NULL, *v;
    if (!json_object_object_get_ex(j, "usage", &u) || !json_object_is_type(u, json_type_object)) {
        u = NULL;
        json_object *choices, *x;
        if (json_object_object_get_ex(j, "choices", &choices) &&
            json_object_is_type(choices, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(choices) && !u; i++) {
                json_object *c = json_object_array_get_idx(choices, i);
                if (json_object_object_get_ex(c, "usage", &x) &&
                    json_object_is_type(x, json_type_object))
                    u = x;
            }
        }
        if (!u && json_object_object_get_ex(j, "x_groq", &x) &&
            json_object_object_get_ex(x, "usage", &v) && json_object_is_type(v, json_type_object))
            u = v;
    }
    if (!u)
        return;
    int64_t p = json_object_object_get_ex(u, "prompt_tokens", &v) ? json_object_get_int64(v) : 0;
    int64_t c =
        json_object_object_get_ex(u, "completion_tokens", &v) ? json_object_get_int64(v) : 0;
    int64_t t = json_object_object_get_ex(u, "total_tokens", &v) ? json_object_get_int64(v) : 0;
    if (!p && !c && !t)
        return; /* providers-intl 1.4: a zero usage is no usage */
    if (!c && t > p)
        c = t - p;
    ctx->usage.prompt_tokens = p;
    ctx->usage.completion_tokens = c;
    ctx->usage.has_usage = 1;
}

/* Appends the generated text of a response or chunk to ctx->text (for counting). */
static void take_text(struct prov_ctx *ctx, json_object *j, const char *field)
{
    json_object *choices, *m, *v;
    if (!json_object_object_get_ex(j, "choices", &choices) ||
        !json_object_is_type(choices, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(choices); i++) {
        json_object *c = json_object_array_get_idx(choices, i);
        if (field && json_object_object_get_ex(c, field, &m)) {
            if (json_object_object_get_ex(m, "content", &v) &&
                json_object_is_type(v, json_type_string))
                sb_puts(&ctx->text, json_object_get_string(v));
            json_object *tc;
            if (json_object_object_get_ex(m, "tool_calls", &tc) &&
                json_object_is_type(tc, json_type_array)) {
                for (size_t k = 0; k < json_object_array_length(tc); k++) {
                    json_object *f, *a;
                    if (json_object_object_get_ex(json_object_array_get_idx(tc, k), "function",
                                                  &f) &&
                        json_object_object_get_ex(f, "arguments", &a))
                        sb_puts(&ctx->text, json_object_get_string(a));
                }
            }
        } else if (json_object_object_get_ex(c, "text", &v) &&
                   json_object_is_type(v, json_type_string)) {
            sb_puts(&ctx->text, json_object_get_string(v)); /* completions */
        }
    }
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
        json_object *j = json_tokener_parse(body), *t;
        if (j && json_object_object_get_ex(j, "text", &t))
            sb_puts(&ctx->text, json_object_get_string(t));
        else
            sb_putn(&ctx->text, body, n);
        json_object_put(j);
        sb_putn(out, body, n);
        return 0;
    }
    json_tokener *tok = json_tokener_new();
    json_object *j = json_tokener_parse_ex(tok, body, (int)n);
    json_tokener_free(tok);
    if (!j || !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        err->status = 500;
        err->message = "unmarshal_response_body_failed";
        err->type = "one_api_error";
        err->code = "unmarshal_response_body_failed";
        return -1;
    }
    json_object *e, *et;
    /* A 200 that still carries error.type is an error (spec 7.4). */
    if (json_object_object_get_ex(j, "error", &e) && json_object_is_type(e, json_type_object) &&
        json_object_object_get_ex(e, "type", &et) && json_object_get_string_len(et) > 0) {
        json_object *m, *c, *p;
        /* Spec 10.1: the client sees the upstream's status (200) and its error object. */
        err->status = 200;
        err->message = arena_strdup(
            ctx->a, json_object_object_get_ex(e, "message", &m) ? json_object_get_string(m) : "");
        err->type = arena_strdup(ctx->a, json_object_get_string(et));
        err->code = json_object_object_get_ex(e, "code", &c) && c
                        ? arena_strdup(ctx->a, json_object_get_string(c))
                        : NULL;
        err->param = json_object_object_get_ex(e, "param", &p) && p
                         ? arena_strdup(ctx->a, json_object_get_string(p))
                         : NULL;
        json_object_put(j);
        return -1;
    }
    take_usage(ctx, j);
    take_text(ctx, j, "message");
    json_object_put(j);
    sb_putn(out, body, n);
    return 0;
}

static int openai_event(struct prov_ctx *ctx, const char *event, const char *data, size_t n,
                        struct strbuf *out, struct prov_error *err)
{
    (void)event;
    (void)err;
    if (!data)
        return 0; /* end of the upstream: OpenAI streams need no closing */
    if (n == 6 && !memcmp(data, "[DONE]", 6)) {
        ctx->finished = 1;
        return 0;
    }
    json_tokener *tok = json_tokener_new();
    json_object *j = json_tokener_parse_ex(tok, data, (int)n);
    json_tokener_free(tok);
    if (!j || !json_object_is_type(j, json_type_object)) {
        /* Not JSON: forward it as the upstream sent it, as One API does. */
        json_object_put(j);
        SB_LIT(out, "data: ");
        sb_putn(out, data, n);
        SB_LIT(out, "\n\n");
        return 0;
    }
    json_object *choices, *u;
    int empty_choices = json_object_object_get_ex(j, "choices", &choices) &&
                        json_object_is_type(choices, json_type_array) &&
                        json_object_array_length(choices) == 0;
    int has_usage =
        json_object_object_get_ex(j, "usage", &u) && json_object_is_type(u, json_type_object);
    take_usage(ctx, j);
    take_text(ctx, j, "delta");
    json_object_put(j);
    /* Azure's prompt-filter chunks carry no choices and no usage: drop them. A usage-only
     * chunk reaches the client only when it asked for usage. */
    if (empty_choices && (!has_usage || !ctx->include_usage))
        return 0;
    SB_LIT(out, "data: ");
    sb_putn(out, data, n);
    SB_LIT(out, "\n\n");
    return 0;
}

const struct provider provider_openai = {
    .name = "openai",
    .build_request = openai_build,
    .parse_response = openai_response,
    .parse_event = openai_event,
    .parse_error = NULL,
};
