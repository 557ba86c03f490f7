/* libFuzzer target: each adaptor's response and stream-event converters under untrusted
 * upstream bytes (every adaptor of the channel type table), and the readers of token endpoint
 * answers (Baidu's own, Vertex AI's for the others). Beyond not crashing, what the
 * translating adaptors write must be what the core relies on: complete "data: {json}"
 * events, a JSON answer, a token with its expiry, and a filled error whenever they fail.
 *
 * Input: byte 0 picks the adaptor (provs[] below); byte 1 holds the call: bit 0 stream events,
 * bit 1 embeddings instead of chat, bit 2 a token endpoint's answer, bits 3 and 4 a variant
 * for the adaptors that speak several formats (see fz_setup), bit 5 the other client request
 * (base64 embeddings, n 2, no usage in streams), bit 6 events as raw bytes through the
 * core's parser, bit 7 NDJSON instead of SSE there. The rest is the upstream's bytes: one
 * body, or events one per line with the event name before a '|', or the raw stream. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "providers/sse.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when s[0..n) is one JSON object. */
static int is_object(const char *s, size_t n)
{
    json_object *o = jparse(s, n, 0, NULL);
    int ok = json_object_is_type(o, json_type_object);
    json_object_put(o);
    return ok;
}

/* Aborts unless out is a run of "data: {json object}\n\n" events. */
static void check_events(const struct strbuf *out)
{
    const char *p = out->p, *end = out->p + out->len;
    while (p < end) {
        const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
        if (!stop || strncmp(p, "data: ", 6) != 0 || !is_object(p + 6, (size_t)(stop - p - 6)))
            abort();
        p = stop + 2;
    }
}

/* Aborts unless out is a run of events whose every line is a "data: " line: what the adaptors
 * that forward the upstream's data as it came (the OpenAI family's) must still keep, or the
 * client would lose lines or see one chunk run into the next. */
static void check_frames(const struct strbuf *out)
{
    const char *p = out->p, *end = out->p + out->len;
    while (p < end) {
        const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
        if (!stop)
            abort();
        /* Every line up to the blank one that ends the event. */
        for (const char *l = p; l <= stop;) {
            if (strncmp(l, "data: ", 6) != 0)
                abort();
            l = (const char *)memchr(l, '\n', (size_t)(stop + 1 - l)) + 1;
        }
        p = stop + 2;
    }
}

/* Aborts unless a failing call left an error the core can show. */
static void check_error(int rc, const struct prov_error *err)
{
    if (rc < 0 && (err->status < 100 || err->status > 599 || !err->message || !err->type))
        abort();
}

/* The adaptor behind the core's event parser: what on_event of the relay does. */
struct fz_feed {
    const struct provider *prov;
    struct prov_ctx *ctx;
    struct strbuf *out;
    struct prov_error *err;
};

static int fz_on_event(void *ud, const char *event, const char *data, size_t n)
{
    struct fz_feed *f = ud;
    if (f->ctx->finished)
        return 0;
    int rc = provider_parse_event(f->prov, f->ctx, event, data, n, f->out, f->err);
    check_error(rc, f->err);
    return rc < 0 ? -1 : 0;
}

/* The OpenAI-compatible channel types whose answers the OpenAI adaptor reads differently:
 * OpenAI itself, MiniMax (base_resp errors), Xunfei V2 (a code inside 200 answers) and
 * Baidu V2. */
static const int openai_types[] = {1, 27, CHANNEL_TYPE_XUNFEI_V2, 47};

/* What one input runs against: the adaptor, its channel and the request's model and mode. */
struct fz_setup {
    const struct provider *prov;
    int type;          /* the channel type */
    const char *model; /* the model sent upstream */
    enum relay_mode mode;
    int is_forwarding; /* the adaptor passes the upstream's events through as they came */
};

/* The setup for adaptor index i and variant v (bits 3 and 4 of byte 1). Variant 0 is each
 * adaptor's plain case; odd variants pick Zhipu's v3 models, Cloudflare's native completions
 * and Vertex AI's Claude models; the OpenAI adaptor cycles through openai_types. */
static struct fz_setup fz_setup(size_t i, unsigned v, int is_embed)
{
    /* New adaptors go last: the seeds' first byte picks the adaptor. */
    static const struct {
        const struct provider *prov;
        int type;
    } provs[] = {{&provider_openai, 1},      {&provider_claude, 14},     {&provider_gemini, 24},
                 {&provider_ollama, 30},     {&provider_replicate, 46},  {&provider_bedrock, 33},
                 {&provider_coze, 34},       {&provider_aiproxylib, 21}, {&provider_tencent, 23},
                 {&provider_ali, 17},        {&provider_baidu, 15},      {&provider_zhipu, 16},
                 {&provider_spark, 18},      {&provider_cohere, 35},     {&provider_palm, 11},
                 {&provider_cloudflare, 37}, {&provider_deepl, 38},      {&provider_vertex, 42}};
    i %= sizeof provs / sizeof *provs;
    struct fz_setup s = {.prov = provs[i].prov,
                         .type = provs[i].type,
                         .model = "m",
                         .mode = is_embed ? RELAY_EMBEDDINGS : RELAY_CHAT};
    int alt = v & 1;
    if (s.prov == &provider_openai) {
        s.type = openai_types[v % (sizeof openai_types / sizeof *openai_types)];
        s.is_forwarding = 1;
    } else if (s.prov == &provider_zhipu) {
        /* v4 models go through the OpenAI adaptor; the legacy v3 ones have their own. */
        if (alt && !is_embed)
            s.model = "chatglm_turbo";
        else
            s.is_forwarding = 1;
    } else if (s.prov == &provider_cloudflare) {
        if (alt)
            s.mode = RELAY_COMPLETIONS;
        else
            s.is_forwarding = 1;
    } else if (s.prov == &provider_vertex) {
        s.model = alt ? "claude-3-5-sonnet-v2@20241022" : "gemini-1.5-pro";
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int as_event = data[1] & 1;
    int as_token = data[1] & 4; /* a token endpoint's answer */
    int is_other_req = data[1] & 0x20, is_raw = data[1] & 0x40, is_ndjson = data[1] & 0x80;
    struct fz_setup s = fz_setup(data[0], (data[1] >> 3) & 3, data[1] & 2);
    const struct provider *prov = s.prov;
    data += 2, size -= 2;

    struct arena *a = arena_new(16384);
    json_object *req =
        json_tokener_parse(is_other_req ? "{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
                                          "\"content\":\"be brief\"},{\"role\":\"user\","
                                          "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],"
                                          "\"n\":2,\"encoding_format\":\"base64\",\"stream\":true}"
                                        : "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                          "\"content\":\"hi\"}],\"stream\":true}");
    struct prov_channel ch = {.id = 1,
                              .type = s.type,
                              .key = "k",
                              .base_url = "http://x",
                              .api_version = "",
                              .config = ""};
    struct prov_ctx ctx = {.a = a,
                           .mode = s.mode,
                           .ch = &ch,
                           .model = s.model,
                           .origin_model = s.model,
                           .req = req,
                           .is_stream = as_event,
                           .include_usage = !is_other_req,
                           .request_id = "fuzz",
                           .created = 1};
    sb_init(&ctx.text, a);
    struct strbuf out;
    sb_init(&out, a);
    struct prov_error err = {0};
    char *copy = arena_strndup(a, (const char *)data, size); /* adaptors get NUL-ended text */
    if (as_token) {
        /* Adaptors without a token endpoint of their own exercise Vertex AI's reader. */
        const struct provider *tp = prov->credential_parse ? prov : &provider_vertex;
        static const int statuses[] = {200, 400, 401, 503};
        for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
            struct prov_cred cred = {0};
            memset(&err, 0, sizeof err);
            int rc = tp->credential_parse(&ctx, statuses[i], copy, size, &cred, &err);
            check_error(rc, &err);
            if (rc == 0 && (!cred.token || !*cred.token || cred.expires_at <= ctx.created))
                abort();
        }
    } else if (as_event && prov->is_stream_emulated) {
        /* The core never streams from these: it hands the whole answer to parse_response,
         * which writes it as chunks. */
        int rc = provider_parse_response(prov, &ctx, copy, size, &out, &err);
        check_error(rc, &err);
        check_events(&out);
    } else if (as_event && is_raw) {
        /* The upstream's bytes as the core hands them over: through its parser in two pieces,
         * until an adaptor error, then the closing call when the adaptor saw no end. */
        struct sse_parser p;
        sse_init(&p, a, is_ndjson);
        p.keeps_data_space = prov->sse_keeps_data_space;
        struct fz_feed f = {prov, &ctx, &out, &err};
        size_t half = size / 2;
        int rc = sse_feed(&p, copy, half, fz_on_event, &f);
        if (!rc)
            rc = sse_feed(&p, copy + half, size - half, fz_on_event, &f);
        if (!rc)
            rc = sse_finish(&p, fz_on_event, &f);
        if (!rc && !ctx.finished)
            check_error(provider_parse_event(prov, &ctx, "", NULL, 0, &out, &err), &err);
        if (s.is_forwarding)
            check_frames(&out);
        else
            check_events(&out);
    } else if (as_event) {
        /* Several events: split on newlines, with the event name before a '|'. */
        char *save = NULL;
        int is_first = 1, is_refused = 0;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *bar = strchr(line, '|');
            const char *ev = "";
            if (bar) {
                *bar = '\0';
                ev = line;
                line = bar + 1;
            }
            /* A WebSocket upstream's first message says what it stands for: an error status
             * sends it to parse_error instead, and the attempt ends there. */
            if (is_first && prov->message_status) {
                int status = provider_message_status(prov, &ctx, line, strlen(line));
                if (status < 100 || status > 599)
                    abort();
                if (status != 200) {
                    provider_parse_error(prov, &ctx, status, line, strlen(line), &err);
                    check_error(-1, &err);
                    is_refused = 1;
                    break;
                }
            }
            is_first = 0;
            int rc = provider_parse_event(prov, &ctx, ev, line, strlen(line), &out, &err);
            check_error(rc, &err);
            if (rc < 0)
                break;
        }
        if (!is_refused)
            check_error(provider_parse_event(prov, &ctx, "", NULL, 0, &out, &err), &err);
        if (s.is_forwarding)
            check_frames(&out);
        else
            check_events(&out);
    } else {
        int rc = provider_parse_response(prov, &ctx, copy, size, &out, &err);
        check_error(rc, &err);
        /* A follow-up must name its request, and only adaptors allowed to may ask for one. */
        if (rc == PROV_FOLLOW_UP && (!prov->may_follow_up || !ctx.follow_up || !ctx.follow_up->url))
            abort();
        if (rc == 0 && !is_object(out.p, out.len))
            abort();
        memset(&err, 0, sizeof err);
        provider_parse_error(prov, &ctx, 400, copy, size, &err);
        check_error(-1, &err);
        if (prov->message_status) {
            int status = provider_message_status(prov, &ctx, copy, size);
            if (status < 100 || status > 599)
                abort();
            if (status != 200) {
                memset(&err, 0, sizeof err);
                provider_parse_error(prov, &ctx, status, copy, size, &err);
                check_error(-1, &err);
            }
        }
    }
    json_object_put(req);
    arena_free(a);
    return 0;
}
