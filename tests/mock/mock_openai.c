/* mock_openai.c: OpenAI's wire format and Azure OpenAI's: chat and legacy completions, Edits,
 * embeddings, moderations, images, audio (transcription, translation, speech) and model lists.
 * Every OpenAI-compatible route (Groq, Zhipu v4, Cloudflare's /ai/v1, ...) lands here too. */

#include "mock.h"

/* ------------------------------------------------------------------------- */
/* OpenAI and Azure */

#define AZ_FILTERS                                                                                 \
    "{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},\"self_harm\":{\"filtered\":false,"      \
    "\"severity\":\"safe\"},\"sexual\":{\"filtered\":false,\"severity\":\"safe\"},"                \
    "\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}"

static void oa_usage(struct buf *b, int prompt, int completion)
{
    buf_fmt(b,
            "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d,"
            "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
            "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
            "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
            prompt, completion, prompt + completion);
}

static struct buf *oa_chunk_begin(struct req *r, const struct chat *ch)
{
    struct buf *b = sse_data(r);
    if (ch->completion)
        buf_fmt(b,
                "{\"id\":\"cmpl-mock%" PRIu64
                "\",\"object\":\"text_completion\",\"created\":%lld,\"model\":",
                r->seq, (long long)r->now);
    else
        buf_fmt(b,
                "{\"id\":\"chatcmpl-mock%" PRIu64
                "\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":",
                r->seq, (long long)r->now);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"system_fingerprint\":\"fp_mock\",\"choices\":[");
    return b;
}

static void oa_chunk_end(struct req *r, const struct chat *ch)
{
    struct buf *b = &r->srv->ev;
    buf_putc(b, ']');
    if (ch->include_usage)
        buf_lit(b, ",\"usage\":null");
    buf_putc(b, '}');
    sse_end(r);
}

/* One streamed choice carrying delta JSON (chat) or text (completions). */
static void oa_choice(struct req *r, const struct chat *ch, const char *delta, size_t n,
                      const char *finish)
{
    struct buf *b = oa_chunk_begin(r, ch);
    if (ch->completion) {
        buf_lit(b, "{\"text\":");
        buf_jstr(b, delta, n);
        buf_lit(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    } else {
        buf_lit(b, "{\"index\":0,\"delta\":");
        buf_put(b, delta, n);
        buf_lit(b, ",\"logprobs\":null,\"finish_reason\":");
    }
    if (finish)
        buf_jstrz(b, finish);
    else
        buf_lit(b, "null");
    buf_putc(b, '}');
    oa_chunk_end(r, ch);
}

static void oa_tool_head(struct buf *b, struct req *r, bool with_role)
{
    if (with_role)
        buf_lit(b, "{\"role\":\"assistant\",\"content\":null,");
    else
        buf_putc(b, '{');
    buf_fmt(b,
            "\"tool_calls\":[{\"index\":0,\"id\":\"call_mock%" PRIu64
            "_0\",\"type\":\"function\",\"function\":{\"name\":",
            r->seq);
    buf_jstrz(b, r->d.tool);
    buf_lit(b, ",\"arguments\":\"\"}}]}");
}

static void oa_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    struct buf *t = &srv->text; /* delta JSON; srv->ev holds the event around it */
    const struct directives *d = &r->d;
    stream_head(r, 200, "text/event-stream", NULL);
    if (r->prov == P_AZURE && !ch->completion) {
        /* Azure sends the prompt filter verdict first, in a chunk with no choices */
        struct buf *b = sse_data(r);
        buf_lit(
            b,
            "{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
            "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":" AZ_FILTERS
            "}]}");
        sse_end(r);
    }
    if (!ch->completion) {
        buf_clear(t);
        if (p->n_text == 0 && p->tool)
            oa_tool_head(t, r, true);
        else
            buf_lit(t, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}");
        oa_choice(r, ch, t->p, t->len, NULL);
    }
    int ev = 0;
    for (int i = 0; i < p->n_text; i++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        struct buf *pc = piece(r, i);
        if (ch->completion) {
            oa_choice(r, ch, pc->p, pc->len, NULL);
        } else {
            buf_clear(t);
            buf_lit(t, "{\"content\":");
            buf_jstr(t, pc->p, pc->len);
            buf_putc(t, '}');
            oa_choice(r, ch, t->p, t->len, NULL);
        }
    }
    for (int k = 0; k < p->n_args && !ch->completion; k++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        if (k == 0 && p->n_text > 0) {
            buf_clear(t);
            oa_tool_head(t, r, false);
            oa_choice(r, ch, t->p, t->len, NULL);
        }
        const char *s;
        size_t n;
        arg_frag(p, k, &s, &n);
        buf_clear(t);
        buf_lit(t, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
        buf_jstr(t, s, n);
        buf_lit(t, "}}]}");
        oa_choice(r, ch, t->p, t->len, NULL);
    }
    if (ch->completion)
        oa_choice(r, ch, "", 0, finish_for(r->prov, d, false));
    else
        oa_choice(r, ch, "{}", 2, finish_for(r->prov, d, p->tool));
    if (ch->include_usage && d->usage) {
        struct buf *b = oa_chunk_begin(r, ch);
        buf_lit(b, "],\"usage\":");
        if (ch->completion)
            buf_fmt(b, "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                    ch->prompt, p->completion, ch->prompt + p->completion);
        else
            oa_usage(b, ch->prompt, p->completion);
        buf_putc(b, '}');
        sse_end(r);
    }
    sse_data(r);
    buf_lit(&srv->ev, "[DONE]");
    sse_end(r);
    rep_finish(r);
}

static void oa_chat_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    bool az = r->prov == P_AZURE;
    buf_fmt(b,
            "{\"id\":\"chatcmpl-mock%" PRIu64
            "\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
            r->seq, (long long)r->now);
    buf_jstrz(b, ch->model);
    if (az)
        buf_lit(
            b,
            ",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":" AZ_FILTERS
            "}]");
    buf_lit(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    if (p->n_text) {
        struct buf *t = all_text(r, p->n_text);
        buf_jstr(b, t->p, t->len);
    } else {
        buf_lit(b, "null");
    }
    if (p->tool) {
        buf_fmt(b,
                ",\"tool_calls\":[{\"id\":\"call_mock%" PRIu64
                "_0\",\"type\":\"function\",\"function\":{\"name\":",
                r->seq);
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"arguments\":");
        buf_jstr(b, p->args, p->args_len);
        buf_lit(b, "}}]");
    }
    buf_lit(b, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":");
    buf_jstrz(b, finish_for(r->prov, &r->d, p->tool));
    if (az)
        buf_lit(b, ",\"content_filter_results\":" AZ_FILTERS);
    buf_lit(b, "}]");
    if (r->d.usage) {
        buf_lit(b, ",\"usage\":");
        oa_usage(b, ch->prompt, p->completion);
    }
    buf_lit(b, ",\"system_fingerprint\":\"fp_mock\"}");
    send_body(r, 200, "application/json", NULL);
}

static void oa_completion_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"id\":\"cmpl-mock%" PRIu64
            "\",\"object\":\"text_completion\",\"created\":%lld,\"model\":",
            r->seq, (long long)r->now);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"choices\":[{\"text\":");
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    buf_lit(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    buf_jstrz(b, finish_for(r->prov, &r->d, false));
    buf_lit(b, "}]");
    if (r->d.usage) {
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                ch->prompt, p->completion, ch->prompt + p->completion);
    }
    buf_lit(b, "}");
    send_body(r, 200, "application/json", NULL);
}

/* Non-stream requests with fail_after get no answer at all: the connection just closes. */
bool drop_if_failing(struct req *r, bool stream)
{
    if (stream || r->d.fail_after < 0)
        return false;
    r->srv->rep.segs[0].delay_ms = r->d.delay_ms;
    r->srv->rep.cut = true;
    if (r->rec)
        r->rec->status = 0;
    return true;
}

void h_oa_chat(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages");
    const char *model = jstr(j, "model");
    if (!model && r->prov == P_AZURE)
        model = r->deployment;
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    if (!jlen(msgs)) {
        reply_error(r, 400, "'messages' must be a non-empty array", false);
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "stream")};
    json_object *so = jget(j, "stream_options");
    if (so && json_object_is_type(so, json_type_null))
        so = NULL;
    if (so && !ch.stream && r->d.strict) {
        reply_error(r, 400,
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    false);
        return;
    }
    ch.include_usage = jbool(so, "include_usage");
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&r->srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &r->srv->text, 0);
        ch.prompt += count_words(r->srv->text.p, r->srv->text.len) + 3;
    }
    if (r->d.tool[0] && !jlen(jarr(j, "tools")) && !jlen(jarr(j, "functions"))) {
        reply_errorf(r, 400, "mock: directive tool=%s but the request declares no tools",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, ch.stream ? ch.include_usage && r->d.usage : r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream)
        oa_stream(r, &ch, &p);
    else
        oa_chat_json(r, &ch, &p);
}

void h_oa_completions(struct req *r)
{
    json_object *j = r->json;
    const char *model = jstr(j, "model");
    if (!model && r->prov == P_AZURE)
        model = r->deployment;
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    json_object *prompt = jget(j, "prompt");
    if (!prompt) {
        reply_error(r, 400, "'prompt' is a required property", false);
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "stream"), .completion = true};
    ch.include_usage = jbool(jget(j, "stream_options"), "include_usage");
    buf_clear(&r->srv->text);
    jtext(prompt, &r->srv->text, 0);
    ch.prompt = count_words(r->srv->text.p, r->srv->text.len);
    struct directives d2 = r->d;
    d2.tool[0] = '\0'; /* legacy completions have no tools */
    struct plan p;
    plan_make(&p, &d2);
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, ch.stream ? ch.include_usage && r->d.usage : r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream)
        oa_stream(r, &ch, &p);
    else
        oa_completion_json(r, &ch, &p);
}

/* Deterministic embedding values: multiples of 1/1024, exact in float32 and in decimal. */
static float emb_value(uint64_t h, int i)
{
    uint64_t x = mix64(h ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull));
    return (float)((int)(x % 2049) - 1024) / 1024.0f;
}

void emb_vector(struct server *srv, struct buf *b, uint64_t h, int dims, bool b64)
{
    if (!b64) {
        buf_putc(b, '[');
        for (int i = 0; i < dims; i++)
            buf_fmt(b, i ? ",%.10g" : "%.10g", (double)emb_value(h, i));
        buf_putc(b, ']');
        return;
    }
    struct buf *raw = &srv->piece;
    buf_clear(raw);
    for (int i = 0; i < dims; i++) {
        float f = emb_value(h, i);
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                               (unsigned char)(u >> 24)};
        buf_put(raw, le, 4);
    }
    buf_putc(b, '"');
    buf_b64(b, (const unsigned char *)raw->p, raw->len);
    buf_putc(b, '"');
}

/* Hash of one embedding input, a string or an array of token ids; *tokens gets its size. */
uint64_t emb_input(struct server *srv, json_object *v, int *tokens)
{
    if (json_object_is_type(v, json_type_string)) {
        buf_clear(&srv->text);
        jtext(v, &srv->text, 0);
        *tokens = count_words(srv->text.p, srv->text.len);
        return fnv1a(srv->text.p, srv->text.len, 1469598103934665603ull);
    }
    uint64_t h = 1469598103934665603ull;
    size_t n = jlen(v);
    for (size_t i = 0; i < n; i++) {
        int64_t t = json_object_get_int64(json_object_array_get_idx(v, i));
        h = fnv1a(&t, sizeof t, h);
    }
    *tokens = (int)n;
    return h;
}

void h_oa_embeddings(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *input = jget(j, "input");
    const char *model = jstr(j, "model");
    if (!model)
        model = r->prov == P_AZURE ? r->deployment : r->pmodel[0] ? r->pmodel : NULL;
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    if (!input || (json_object_is_type(input, json_type_array) && !jlen(input)) ||
        !(json_object_is_type(input, json_type_string) ||
          json_object_is_type(input, json_type_array))) {
        reply_error(r, 400, "'input' must be a string or a non-empty array", false);
        return;
    }
    int dims = (int)jint(j, "dimensions", DEFAULT_DIMS);
    if (dims < 1 || dims > MAX_DIMS) {
        reply_errorf(r, 400, "'dimensions' must be between 1 and %d", MAX_DIMS);
        return;
    }
    const char *fmt = jstr(j, "encoding_format");
    bool b64 = fmt && !strcmp(fmt, "base64");
    /* items: a string, an array of strings, one token array, or an array of token arrays */
    json_object *one = NULL;
    size_t n = 1;
    json_object *first =
        json_object_is_type(input, json_type_array) ? json_object_array_get_idx(input, 0) : NULL;
    if (!first || (!json_object_is_type(first, json_type_string) &&
                   !json_object_is_type(first, json_type_array)))
        one = input;
    else
        n = jlen(input);
    struct buf *b = body_reset(srv);
    buf_lit(b, "{\"object\":\"list\",\"data\":[");
    int prompt = 0;
    for (size_t i = 0; i < n; i++) {
        int toks = 0;
        uint64_t h = emb_input(srv, one ? one : json_object_array_get_idx(input, i), &toks);
        prompt += toks;
        buf_fmt(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        emb_vector(srv, b, h, dims, b64);
        buf_putc(b, '}');
    }
    buf_lit(b, "],\"model\":");
    buf_jstrz(b, model);
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d}", prompt, prompt);
    buf_putc(b, '}');
    rec_model(r, model);
    rec_tokens(r, prompt, 0, r->d.usage);
    send_body(r, 200, "application/json", NULL);
}

void h_oa_moderations(struct req *r)
{
    static const char *const cats[] = {"harassment",
                                       "harassment/threatening",
                                       "hate",
                                       "hate/threatening",
                                       "illicit",
                                       "illicit/violent",
                                       "self-harm",
                                       "self-harm/intent",
                                       "self-harm/instructions",
                                       "sexual",
                                       "sexual/minors",
                                       "violence",
                                       "violence/graphic"};
    json_object *input = jget(r->json, "input");
    if (!input) {
        reply_error(r, 400, "'input' is a required property", false);
        return;
    }
    const char *model = jstr(r->json, "model");
    if (!model)
        model = "omni-moderation-latest";
    size_t n = json_object_is_type(input, json_type_array) ? jlen(input) : 1;
    if (json_object_is_type(input, json_type_array) && n > 0 &&
        json_object_is_type(json_object_array_get_idx(input, 0), json_type_object))
        n = 1; /* multi-modal parts form one input */
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"id\":\"modr-mock%" PRIu64 "\",\"model\":", r->seq);
    buf_jstrz(b, model);
    buf_lit(b, ",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        buf_fmt(b, "%s{\"flagged\":%s,\"categories\":{", i ? "," : "",
                r->d.flagged ? "true" : "false");
        for (size_t k = 0; k < sizeof cats / sizeof *cats; k++)
            buf_fmt(b, "%s\"%s\":%s", k ? "," : "", cats[k],
                    r->d.flagged && k == 0 ? "true" : "false");
        buf_lit(b, "},\"category_scores\":{");
        for (size_t k = 0; k < sizeof cats / sizeof *cats; k++)
            buf_fmt(b, "%s\"%s\":%s", k ? "," : "", cats[k],
                    r->d.flagged && k == 0 ? "0.97" : "0.0001");
        buf_lit(b, "}}");
    }
    buf_lit(b, "]}");
    rec_model(r, model);
    send_body(r, 200, "application/json", NULL);
}

/* A valid 1x1 transparent PNG for b64_json answers. */
const unsigned char tiny_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

void h_oa_images(struct req *r)
{
    const char *prompt = jstr(r->json, "prompt");
    if (!prompt) {
        reply_error(r, 400, "'prompt' is a required property", false);
        return;
    }
    int64_t n = jint(r->json, "n", 1);
    if (n < 1 || n > 10) {
        reply_error(r, 400, "'n' must be between 1 and 10", false);
        return;
    }
    const char *rf = jstr(r->json, "response_format");
    bool b64 = rf && !strcmp(rf, "b64_json");
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"created\":%lld,\"data\":[", (long long)r->now);
    for (int64_t i = 0; i < n; i++) {
        buf_puts(b, i ? ",{" : "{");
        if (b64) {
            buf_lit(b, "\"b64_json\":\"");
            buf_b64(b, tiny_png, sizeof tiny_png);
            buf_putc(b, '"');
        } else {
            buf_fmt(b, "\"url\":\"https://mock.invalid/images/mock%" PRIu64 "-%" PRId64 ".png\"",
                    r->seq, i);
        }
        buf_lit(b, ",\"revised_prompt\":");
        buf_jstrz(b, prompt);
        buf_putc(b, '}');
    }
    buf_lit(b, "]}");
    rec_model(r, jstr(r->json, "model"));
    send_body(r, 200, "application/json", NULL);
}

/* Picks the fields the mock needs out of a multipart/form-data body. */
bool multipart_parse(struct req *r)
{
    const struct hdr *ct = hfind(r, "content-type");
    if (!r->body_len || !ct || !mem_icontains(ct->val, ct->val_len, "multipart/form-data"))
        return false;
    const char *bp = NULL;
    for (size_t i = 0; i + 9 <= ct->val_len; i++)
        if (strncasecmp(ct->val + i, "boundary=", 9) == 0) {
            bp = ct->val + i + 9;
            break;
        }
    if (!bp)
        return false;
    size_t bn = (size_t)(ct->val + ct->val_len - bp);
    if (bn && *bp == '"') {
        bp++;
        const char *q = memchr(bp, '"', --bn);
        if (!q)
            return false;
        bn = (size_t)(q - bp);
    } else {
        const char *semi = memchr(bp, ';', bn);
        if (semi)
            bn = (size_t)(semi - bp);
    }
    char delim[256];
    if (bn == 0 || bn + 4 >= sizeof delim)
        return false;
    delim[0] = '\r';
    delim[1] = '\n';
    delim[2] = delim[3] = '-';
    memcpy(delim + 4, bp, bn);
    size_t dn = bn + 4;
    const char *s = r->body, *end = r->body + r->body_len;
    /* the first delimiter may lack the leading CRLF */
    const char *p = r->body_len >= dn - 2 && memcmp(s, delim + 2, dn - 2) == 0 ? s + dn - 2 : NULL;
    if (!p) {
        p = memmem(s, r->body_len, delim, dn);
        if (!p)
            return false;
        p += dn;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return true;
        const char *hs = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!hs)
            return false;
        hs += 2;
        const char *he = memmem(hs, (size_t)(end - hs), "\r\n\r\n", 4);
        if (!he)
            return false;
        const char *data = he + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, dn);
        if (!next)
            return false;
        size_t len = (size_t)(next - data);
        const char *name = memmem(hs, (size_t)(he - hs), "name=\"", 6);
        const char *file = memmem(hs, (size_t)(he - hs), "filename=", 9);
        if (name && (name == hs || name[-1] != 'e')) { /* skip the "name" inside "filename" */
            name += 6;
            const char *q = memchr(name, '"', (size_t)(he - name));
            size_t nn = q ? (size_t)(q - name) : 0;
            if (file || (nn == 4 && !memcmp(name, "file", 4))) {
                r->mp_has_file = true;
                r->mp_file_len = len;
            } else if (nn == 5 && !memcmp(name, "model", 5)) {
                copy_str(r->mp_model, sizeof r->mp_model, data, len);
            } else if (nn == 15 && !memcmp(name, "response_format", 15)) {
                copy_str(r->mp_format, sizeof r->mp_format, data, len);
            } else if (nn == 6 && !memcmp(name, "prompt", 6)) {
                r->mp_prompt = data;
                r->mp_prompt_len = len;
            }
        }
        p = next + dn;
    }
}

void h_oa_audio_text(struct req *r)
{
    if (!r->mp_has_file) {
        reply_error(r, 400, "mock: multipart/form-data with a 'file' part is required", false);
        return;
    }
    const char *fmt = r->mp_format[0] ? r->mp_format : "json";
    struct buf *t = all_text(r, r->d.chunks);
    struct buf *b = body_reset(r->srv);
    const char *ctype = "application/json";
    if (!strcmp(fmt, "text")) {
        buf_put(b, t->p, t->len);
        buf_putc(b, '\n');
        ctype = "text/plain; charset=utf-8";
    } else if (!strcmp(fmt, "srt")) {
        buf_lit(b, "1\n00:00:00,000 --> 00:00:01,000\n");
        buf_put(b, t->p, t->len);
        buf_lit(b, "\n\n");
        ctype = "text/plain; charset=utf-8";
    } else if (!strcmp(fmt, "vtt")) {
        buf_lit(b, "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n");
        buf_put(b, t->p, t->len);
        buf_lit(b, "\n\n");
        ctype = "text/vtt; charset=utf-8";
    } else if (!strcmp(fmt, "verbose_json")) {
        buf_fmt(b, "{\"task\":\"%s\",\"language\":\"english\",\"duration\":1.0,\"text\":",
                r->op == OP_TRANSLATE ? "translate" : "transcribe");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, ",\"segments\":[{\"id\":0,\"seek\":0,\"start\":0.0,\"end\":1.0,\"text\":");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, "}]}");
    } else {
        buf_lit(b, "{\"text\":");
        buf_jstr(b, t->p, t->len);
        buf_putc(b, '}');
    }
    rec_model(r, r->mp_model[0] ? r->mp_model : NULL);
    send_body(r, 200, ctype, NULL);
}

void h_oa_speech(struct req *r)
{
    struct server *srv = r->srv;
    const char *input = jstr(r->json, "input");
    if (!input) {
        reply_error(r, 400, "'input' is a required property", false);
        return;
    }
    const char *fmt = jstr(r->json, "response_format");
    if (!fmt)
        fmt = "mp3";
    const char *ctype = "audio/mpeg";
    const char *magic = "ID3\x04";
    if (!strcmp(fmt, "opus")) {
        ctype = "audio/opus";
        magic = "OggS";
    } else if (!strcmp(fmt, "aac")) {
        ctype = "audio/aac";
        magic = "\xff\xf1\x50\x80";
    } else if (!strcmp(fmt, "flac")) {
        ctype = "audio/flac";
        magic = "fLaC";
    } else if (!strcmp(fmt, "wav")) {
        ctype = "audio/wav";
        magic = "RIFF";
    } else if (!strcmp(fmt, "pcm")) {
        ctype = "audio/pcm";
        magic = "\0\0\0\0";
    }
    /* 1024 bytes plus one per input character; the content is a fixed pattern */
    size_t size = 1024 + strlen(input);
    struct buf *b = body_reset(srv);
    buf_put(b, magic, 4);
    for (size_t i = 4; i < size; i++)
        buf_putc(b, (char)(unsigned char)(i * 31 + 7));
    rec_model(r, jstr(r->json, "model"));
    if (!r->d.chunks_set) {
        send_body(r, 200, ctype, NULL);
        return;
    }
    /* chunks=N streams the audio in N pieces, delay_ms apart */
    stream_head(r, 200, ctype, NULL);
    size_t n = (size_t)r->d.chunks;
    for (size_t k = 0; k < n; k++) {
        size_t from = k * size / n, to = (k + 1) * size / n;
        if (k)
            rep_seg(&srv->rep, r->d.delay_ms);
        buf_clear(&srv->ev);
        buf_put(&srv->ev, srv->body.p + from, to - from);
        rep_event(r);
    }
    rep_finish(r);
}

void h_models(struct req *r)
{
    static const char *const oa[] = {
        "gpt-4o-mini", "gpt-4o",    "gpt-3.5-turbo", "text-embedding-3-small",
        "dall-e-3",    "whisper-1", "tts-1",         "omni-moderation-latest"};
    static const char *const an[] = {"claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"};
    static const char *const gm[] = {"gemini-2.0-flash", "gemini-1.5-pro", "text-embedding-004"};
    struct buf *b = body_reset(r->srv);
    const char *id = r->pmodel;
    if (r->op == OP_MODEL && has_prefix(id, "missing")) {
        if (r->prov == P_OPENAI)
            reply_errorf(r, 404, "The model '%s' does not exist", id);
        else
            reply_errorf(r, 404, "model not found: %s", id);
        return;
    }
    switch (r->prov) {
    case P_ANTHROPIC:
        if (r->op == OP_MODEL) {
            buf_lit(b, "{\"type\":\"model\",\"id\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"display_name\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"created_at\":\"2024-10-22T00:00:00Z\"}");
            break;
        }
        buf_lit(b, "{\"data\":[");
        for (size_t i = 0; i < sizeof an / sizeof *an; i++)
            buf_fmt(b,
                    "%s{\"type\":\"model\",\"id\":\"%s\",\"display_name\":\"%s\",\"created_at\":"
                    "\"2024-10-22T00:00:00Z\"}",
                    i ? "," : "", an[i], an[i]);
        buf_fmt(b, "],\"has_more\":false,\"first_id\":\"%s\",\"last_id\":\"%s\"}", an[0], an[1]);
        break;
    case P_GEMINI:
        if (r->op == OP_MODEL) {
            struct buf *t = &r->srv->text;
            buf_clear(t);
            buf_lit(t, "models/");
            buf_puts(t, id);
            buf_lit(b, "{\"name\":");
            buf_jstr(b, t->p, t->len);
            buf_lit(b, ",\"displayName\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"inputTokenLimit\":1048576,\"outputTokenLimit\":8192,"
                       "\"supportedGenerationMethods\":[\"generateContent\",\"countTokens\"]}");
            break;
        }
        buf_lit(b, "{\"models\":[");
        for (size_t i = 0; i < sizeof gm / sizeof *gm; i++)
            buf_fmt(b,
                    "%s{\"name\":\"models/%s\",\"displayName\":\"%s\",\"inputTokenLimit\":1048576,"
                    "\"outputTokenLimit\":8192,\"supportedGenerationMethods\":[\"%s\"]}",
                    i ? "," : "", gm[i], gm[i],
                    has_prefix(gm[i], "text-") ? "embedContent" : "generateContent");
        buf_lit(b, "]}");
        break;
    default:
        if (r->op == OP_MODEL) {
            buf_lit(b, "{\"id\":");
            buf_jstrz(b, id);
            buf_lit(b, ",\"object\":\"model\",\"created\":1686935002,\"owned_by\":\"mock\"}");
            break;
        }
        buf_lit(b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0; i < sizeof oa / sizeof *oa; i++)
            buf_fmt(b,
                    "%s{\"id\":\"%s\",\"object\":\"model\",\"created\":1686935002,\"owned_by\":"
                    "\"mock\"}",
                    i ? "," : "", oa[i]);
        buf_lit(b, "]}");
        break;
    }
    send_body(r, 200, "application/json", NULL);
}

/* POST .../edits: OpenAI's retired Edits API, {"model","input","instruction"} -> an "edit"
 * object. The prompt counts the words of input and instruction. */
void h_oa_edits(struct req *r)
{
    json_object *j = r->json;
    const char *model = jstr(j, "model");
    if (!model) {
        reply_error(r, 400, "you must provide a model parameter", false);
        return;
    }
    if (!jstr(j, "instruction")) {
        reply_error(r, 400, "'instruction' is a required property", false);
        return;
    }
    struct directives d2 = r->d;
    d2.tool[0] = '\0';
    struct plan p;
    plan_make(&p, &d2);
    struct buf *t = &r->srv->text;
    buf_clear(t);
    jtext(jget(j, "input"), t, 0);
    jtext(jget(j, "instruction"), t, 0);
    int prompt = count_words(t->p, t->len);
    rec_model(r, model);
    rec_tokens(r, prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, false))
        return;
    t = all_text(r, p.n_text);
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"object\":\"edit\",\"created\":%lld,\"choices\":[{\"text\":", (long long)r->now);
    buf_jstr(b, t->p, t->len);
    buf_lit(b, ",\"index\":0}]");
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                prompt, p.completion, prompt + p.completion);
    buf_lit(b, "}");
    send_body(r, 200, "application/json", NULL);
}
