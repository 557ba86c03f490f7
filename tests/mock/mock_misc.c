/* mock_misc.c: the other providers' wire formats: DeepL, Cohere v1 chat, Coze v2, Cloudflare
 * Workers AI's native run, AI Proxy Library, Ollama's native API, Replicate predictions, and
 * the Message Pusher and balance endpoints the gateway's administration calls, and generated
 * image files for the gateway to fetch. */

#include "mock.h"

/* DeepL: POST /v2/translate with `Authorization: DeepL-Auth-Key <key>`. Each text comes back as
 * "<TARGET_LANG>: <text>" (or the text= words); DeepL reports no tokens. */
void h_deepl(struct req *r)
{
    const struct hdr *h = hfind(r, "authorization");
    json_object *texts = jarr(r->json, "text");
    const char *lang = jstr(r->json, "target_lang");
    if (!h || h->val_len <= 15 || strncmp(h->val, "DeepL-Auth-Key ", 15)) {
        reply_error(r, 403, "mock: Authorization: DeepL-Auth-Key <key> is required", false);
        return;
    }
    if (!jlen(texts) || !lang || !*lang) {
        reply_error(r, 400, "Value for 'text' and 'target_lang' must be given", false);
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"translations\":[");
    for (size_t i = 0; i < jlen(texts); i++) {
        json_object *t = json_object_array_get_idx(texts, i);
        struct buf *out = &r->srv->piece;
        buf_clear(out);
        if (r->d.text[0]) {
            all_text(r, r->d.chunks);
        } else {
            for (const char *c = lang; *c; c++)
                buf_putc(out, *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c);
            buf_lit(out, ": ");
            buf_puts(out, json_object_get_string(t));
        }
        buf_puts(b, i ? ",{" : "{");
        buf_lit(b, "\"detected_source_language\":\"EN\",\"text\":");
        buf_jstr(b, out->p, out->len);
        buf_lit(b, "}");
    }
    buf_lit(b, "]}");
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Cohere v1 chat */

/* Words + 3 per turn over the preamble, the history and the message. */
static int co_prompt_tokens(struct req *r)
{
    int total = 0;
    const char *pre = jstr(r->json, "preamble");
    if (pre && *pre)
        total += count_words(pre, strlen(pre)) + 3;
    json_object *hist = jarr(r->json, "chat_history");
    for (size_t i = 0; i < jlen(hist); i++) {
        const char *m = jstr(json_object_array_get_idx(hist, i), "message");
        total += (m ? count_words(m, strlen(m)) : 0) + 3;
    }
    const char *msg = jstr(r->json, "message");
    return total + (msg ? count_words(msg, strlen(msg)) : 0) + 3;
}

/* The rules of the real API that an OpenAI-shaped body would break. */
static bool co_validate(struct req *r)
{
    json_object *j = r->json;
    const char *msg = jstr(j, "message");
    if (!r->key[0]) {
        reply_error(r, 401, "no api key supplied", false);
        return false;
    }
    if (!msg || !*msg) {
        reply_error(r, 400, "invalid request: message must be a non-empty string", false);
        return false;
    }
    if (!r->d.strict)
        return true;
    if (jget(j, "messages")) {
        reply_error(r, 400,
                    "invalid request: unknown field: parameter messages is not a valid "
                    "field",
                    false);
        return false;
    }
    json_object *hist = jget(j, "chat_history");
    for (size_t i = 0; hist && i < jlen(hist); i++) {
        const char *role = jstr(json_object_array_get_idx(hist, i), "role");
        if (!role || (strcmp(role, "USER") && strcmp(role, "CHATBOT") && strcmp(role, "SYSTEM") &&
                      strcmp(role, "TOOL"))) {
            reply_errorf(r, 400,
                         "invalid request: chat_history.%zu.role must be one of USER, "
                         "CHATBOT, SYSTEM, TOOL",
                         i);
            return false;
        }
    }
    return true;
}

/* The non-stream response object (also the `response` of stream-end). Meta reports
 * billed_units as counted and a larger meta.tokens, as Cohere's prompt template adds tokens. */
static void co_response(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p)
{
    const struct directives *d = &r->d;
    buf_fmt(b, "{\"response_id\":\"mock-resp-%" PRIu64 "\",\"text\":", r->seq);
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    buf_fmt(b, ",\"generation_id\":\"mock-gen-%" PRIu64 "\"", r->seq);
    if (p->tool) {
        buf_lit(b, ",\"tool_calls\":[{\"name\":");
        buf_jstrz(b, d->tool);
        buf_lit(b, ",\"parameters\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}]");
    }
    buf_lit(b, ",\"finish_reason\":");
    buf_jstrz(b, finish_for(P_COHERE, d, p->tool));
    buf_lit(b, ",\"meta\":{\"api_version\":{\"version\":\"1\"}");
    if (d->usage)
        buf_fmt(b,
                ",\"billed_units\":{\"input_tokens\":%d,\"output_tokens\":%d},\"tokens\":{"
                "\"input_tokens\":%d,\"output_tokens\":%d}",
                ch->prompt, p->completion, ch->prompt + 66, p->completion);
    buf_lit(b, "}}");
}

/* Starts one NDJSON line in srv->ev. */
static struct buf *co_line(struct req *r)
{
    buf_clear(&r->srv->ev);
    return &r->srv->ev;
}

static void co_line_end(struct req *r)
{
    buf_puts(&r->srv->ev, r->crlf ? "\r\n" : "\n");
    rep_event(r);
}

static void co_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    const struct directives *d = &r->d;
    stream_head(r, 200, "application/stream+json", NULL);
    buf_fmt(co_line(r),
            "{\"is_finished\":false,\"event_type\":\"stream-start\",\"generation_id\":\"mock-gen-"
            "%" PRIu64 "\"}",
            r->seq);
    co_line_end(r);
    for (int i = 0; i < p->n_text; i++) {
        if (i == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = co_line(r);
        buf_lit(b, "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":");
        buf_jstr(b, pc->p, pc->len);
        buf_putc(b, '}');
        co_line_end(r);
    }
    if (p->tool) {
        struct buf *b = co_line(r);
        buf_lit(b, "{\"is_finished\":false,\"event_type\":\"tool-calls-generation\",\"tool_calls\":"
                   "[{\"name\":");
        buf_jstrz(b, d->tool);
        buf_lit(b, ",\"parameters\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}]}");
        co_line_end(r);
    }
    struct buf *b = co_line(r);
    buf_lit(b, "{\"is_finished\":true,\"event_type\":\"stream-end\",\"finish_reason\":");
    buf_jstrz(b, finish_for(P_COHERE, d, p->tool));
    buf_lit(b, ",\"response\":");
    /* co_response writes generated text through srv->piece, not srv->ev: b stays valid. */
    co_response(b, r, ch, p);
    buf_putc(b, '}');
    co_line_end(r);
    rep_finish(r);
}

void h_co_chat(struct req *r)
{
    if (!co_validate(r))
        return;
    json_object *j = r->json;
    struct chat ch = {.model = jstr(j, "model"), .stream = jbool(j, "stream")};
    ch.prompt = co_prompt_tokens(r);
    rec_model(r, ch.model);
    struct plan p;
    plan_make(&p, &r->d);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream) {
        co_stream(r, &ch, &p);
        return;
    }
    co_response(body_reset(r->srv), r, &ch, &p);
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Coze v2 chat: POST /open_api/v2/chat with `Authorization: Bearer <token>`. Coze's v2 API
 * reports no usage; the counts the mock records are words + 3 per turn over chat_history and
 * query. Errors are {"code": N, "msg": ...}. */

static int cz_prompt_tokens(struct req *r)
{
    int total = 0;
    json_object *hist = jarr(r->json, "chat_history");
    for (size_t i = 0; i < jlen(hist); i++) {
        const char *m = jstr(json_object_array_get_idx(hist, i), "content");
        total += (m ? count_words(m, strlen(m)) : 0) + 3;
    }
    const char *q = jstr(r->json, "query");
    return total + (q ? count_words(q, strlen(q)) : 0) + 3;
}

/* One "data:{...}" event (Coze writes no space after the colon). */
static struct buf *cz_event(struct req *r)
{
    buf_clear(&r->srv->ev);
    buf_lit(&r->srv->ev, "data:");
    return &r->srv->ev;
}

static void cz_message(struct buf *b, struct req *r, const char *type, const char *text, size_t n,
                       int index)
{
    buf_lit(b, "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":");
    buf_jstrz(b, type);
    buf_lit(b, ",\"content\":");
    buf_jstr(b, text, n);
    buf_fmt(b,
            ",\"content_type\":\"text\"},\"is_finish\":false,\"index\":%d,\"conversation_id\":"
            "\"mock-conv-%" PRIu64 "\"}",
            index, r->seq);
}

void h_coze_chat(struct req *r)
{
    json_object *j = r->json;
    const char *bot = jstr(j, "bot_id"), *user = jstr(j, "user"), *query = jstr(j, "query");
    if (!bot || !*bot || !user || !*user || !query || !*query) {
        reply_error(r, 400, "bot_id, user and query are required", false);
        return;
    }
    if (r->d.strict && jget(j, "messages")) {
        reply_error(r, 400, "invalid parameter: messages", false);
        return;
    }
    bool stream = jbool(j, "stream");
    int prompt = cz_prompt_tokens(r);
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, bot);
    rec_tokens(r, prompt, p.completion, false);
    if (drop_if_failing(r, stream))
        return;
    static const char follow[] = "What else can you do?";
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        struct buf *t = all_text(r, p.n_text);
        buf_lit(b, "{\"messages\":[");
        /* A verbose message first: the answer is the first of type "answer", not the first. */
        buf_lit(b, "{\"role\":\"assistant\",\"type\":\"verbose\",\"content\":\"{}\","
                   "\"content_type\":\"text\"},{\"role\":\"assistant\",\"type\":\"answer\","
                   "\"content\":");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, ",\"content_type\":\"text\"},{\"role\":\"assistant\",\"type\":\"follow_up\","
                   "\"content\":");
        buf_jstrz(b, follow);
        buf_fmt(b,
                ",\"content_type\":\"text\"}],\"conversation_id\":\"mock-conv-%" PRIu64
                "\",\"code\":0,\"msg\":\"success\"}",
                r->seq);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        cz_message(cz_event(r), r, "answer", pc->p, pc->len, 0);
        sse_end(r);
    }
    cz_message(cz_event(r), r, "follow_up", follow, strlen(follow), 1);
    sse_end(r);
    buf_lit(cz_event(r), "{\"event\":\"done\"}");
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* Cloudflare Workers AI. The OpenAI-compatible /client/v4/accounts/{acct}/ai/v1/... paths are
 * answered by the OpenAI handlers with Cloudflare's error envelope; the native
 * /client/v4/accounts/{acct}/ai/run/{model} takes {"prompt"} or {"messages"} and answers
 * {"result":{"response":...,"usage":{...}},"success":true,...} or an SSE stream of
 * {"response":"..."} events, a usage event and [DONE]. usage=0 leaves the usage out. */

void h_cf_run(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages");
    const char *prompt = jstr(j, "prompt");
    if (!prompt && !jlen(msgs)) {
        reply_error(r, 400, "AiError: Bad input: must have required property 'prompt'", false);
        return;
    }
    int ptoks = 0;
    if (prompt) {
        ptoks = count_words(prompt, strlen(prompt)) + 3;
    } else {
        for (size_t i = 0; i < jlen(msgs); i++) {
            const char *c = jstr(json_object_array_get_idx(msgs, i), "content");
            ptoks += (c ? count_words(c, strlen(c)) : 0) + 3;
        }
    }
    bool stream = jbool(j, "stream");
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, r->pmodel);
    rec_tokens(r, ptoks, p.completion, r->d.usage);
    if (drop_if_failing(r, stream))
        return;
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        struct buf *t = all_text(r, p.n_text);
        buf_lit(b, "{\"result\":{\"response\":");
        buf_jstr(b, t->p, t->len);
        if (r->d.usage)
            buf_fmt(
                b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                ptoks, p.completion, ptoks + p.completion);
        buf_lit(b, "},\"success\":true,\"errors\":[],\"messages\":[]}");
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = sse_data(r);
        buf_lit(b, "{\"response\":");
        buf_jstr(b, pc->p, pc->len);
        buf_lit(b, ",\"p\":\"abcdefgh\"}");
        sse_end(r);
    }
    if (r->d.usage) {
        buf_fmt(sse_data(r),
                "{\"response\":\"\",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,"
                "\"total_tokens\":%d}}",
                ptoks, p.completion, ptoks + p.completion);
        sse_end(r);
    }
    buf_lit(sse_data(r), "[DONE]");
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* AI Proxy Library: POST /api/library/ask {"model","query","libraryId","stream"} with a
 * Bearer key. The answer cites one document; no usage is reported (the recorded counts are
 * words + 3 over the query). Errors are {"success":false,"errCode":N,"message":...}. */

#define LIB_DOCS "[{\"title\":\"Mock guide\",\"url\":\"https://mock.invalid/guide\"}]"

void h_lib_ask(struct req *r)
{
    json_object *j = r->json;
    const char *query = jstr(j, "query"), *lib = jstr(j, "libraryId");
    const char *model = jstr(j, "model");
    if (!query || !*query || !lib || !*lib) {
        reply_error(r, 400, "query and libraryId are required", false);
        return;
    }
    bool stream = jbool(j, "stream");
    struct plan p;
    plan_make(&p, &r->d);
    rec_tokens(r, count_words(query, strlen(query)) + 3, p.completion, false);
    if (drop_if_failing(r, stream))
        return;
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        struct buf *t = all_text(r, p.n_text);
        buf_lit(b, "{\"success\":true,\"answer\":");
        buf_jstr(b, t->p, t->len);
        buf_lit(b, ",\"documents\":" LIB_DOCS "}");
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = sse_data(r);
        buf_lit(b, "{\"content\":");
        buf_jstr(b, pc->p, pc->len);
        buf_lit(b, ",\"finish\":false,\"model\":");
        buf_jstrz(b, model ? model : "");
        buf_lit(b, ",\"documents\":[]}");
        sse_end(r);
    }
    struct buf *b = sse_data(r);
    buf_lit(b, "{\"content\":\"\",\"finish\":true,\"model\":");
    buf_jstrz(b, model ? model : "");
    buf_lit(b, ",\"documents\":" LIB_DOCS "}");
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* Ollama native API. Ollama checks no key; the bearer token a gateway sends is recorded. */

/* One /api/chat object: a content piece (done false), or the done one with the counters. */
static void ol_object(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p,
                      const struct buf *text, bool tool, const char *finish, int ctoks)
{
    buf_lit(b, "{\"model\":");
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"created_at\":\"2024-11-05T10:00:00.000000Z\",\"message\":{\"role\":"
               "\"assistant\",\"content\":");
    if (text)
        buf_jstr(b, text->p, text->len);
    else
        buf_lit(b, "\"\"");
    if (tool) {
        buf_lit(b, ",\"tool_calls\":[{\"function\":{\"name\":");
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"arguments\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}}]");
    }
    buf_putc(b, '}');
    if (!finish) {
        buf_lit(b, ",\"done\":false}");
        return;
    }
    buf_lit(b, ",\"done_reason\":");
    buf_jstrz(b, finish);
    buf_lit(b, ",\"done\":true,\"total_duration\":512000000,\"load_duration\":20000000");
    if (r->d.usage)
        buf_fmt(b, ",\"prompt_eval_count\":%d,\"eval_count\":%d", ch->prompt, ctoks);
    buf_putc(b, '}');
}

/* NDJSON: one object per line, then a done line with the counters. */
static void ol_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    int n_events = p->n_text + (p->tool ? 1 : 0);
    stream_head(r, 200, "application/x-ndjson", NULL);
    for (int i = 0; i <= n_events; i++) {
        if (i == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        buf_clear(&srv->ev);
        if (i < p->n_text)
            ol_object(&srv->ev, r, ch, p, piece(r, i), false, NULL, 0);
        else if (i < n_events)
            ol_object(&srv->ev, r, ch, p, NULL, true, NULL, 0);
        else
            ol_object(&srv->ev, r, ch, p, NULL, false, finish_for(P_OLLAMA, &r->d, p->tool),
                      p->completion);
        buf_putc(&srv->ev, '\n');
        rep_event(r);
    }
    rep_finish(r);
}

/* Ollama refuses what its Go structs cannot decode: images must be bare base64. */
static bool ol_validate(struct req *r, json_object *msgs)
{
    if (!jlen(msgs)) {
        reply_error(r, 400, "messages is required", false);
        return false;
    }
    for (size_t i = 0; r->d.strict && i < jlen(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *c = jget(m, "content");
        json_object *imgs = jarr(m, "images");
        if (c && !json_object_is_type(c, json_type_string)) {
            reply_error(r, 400,
                        "json: cannot unmarshal array into Go struct field "
                        "Message.messages.content of type string",
                        false);
            return false;
        }
        for (size_t k = 0; k < jlen(imgs); k++) {
            const char *img = json_object_get_string(json_object_array_get_idx(imgs, k));
            if (!img || !*img || has_prefix(img, "data:")) {
                reply_error(r, 400, "illegal base64 data at input byte 4", false);
                return false;
            }
        }
    }
    return true;
}

void h_ol_chat(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages"), *st = jget(j, "stream");
    const char *model = jstr(j, "model");
    if (!model || !*model) {
        reply_error(r, 400, "model is required", false);
        return;
    }
    if (!ol_validate(r, msgs))
        return;
    /* Ollama streams unless told not to. */
    struct chat ch = {.model = model, .stream = !st || json_object_get_boolean(st)};
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&r->srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &r->srv->text, 0);
        ch.prompt += count_words(r->srv->text.p, r->srv->text.len) + 3;
    }
    if (r->d.tool[0] && !jlen(jarr(j, "tools"))) {
        reply_errorf(r, 400, "mock: directive tool=%s but the request declares no tools",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream) {
        ol_stream(r, &ch, &p);
        return;
    }
    struct buf *b = body_reset(r->srv);
    ol_object(b, r, &ch, &p, p.n_text ? all_text(r, p.n_text) : NULL, p.tool,
              finish_for(P_OLLAMA, &r->d, p.tool), p.completion);
    send_body(r, 200, "application/json; charset=utf-8", NULL);
}

void h_ol_embed(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *input = jget(j, "input");
    const char *model = jstr(j, "model");
    if (!model || !*model) {
        reply_error(r, 400, "model is required", false);
        return;
    }
    bool is_one = json_object_is_type(input, json_type_string);
    size_t n = is_one ? 1 : jlen(input);
    if (!is_one && (!json_object_is_type(input, json_type_array) || !n)) {
        reply_error(r, 400, "invalid input type", false);
        return;
    }
    for (size_t i = 0; !is_one && i < n; i++) {
        if (!json_object_is_type(json_object_array_get_idx(input, i), json_type_string)) {
            reply_error(r, 400, "invalid input type", false);
            return;
        }
    }
    struct buf *b = body_reset(srv);
    int prompt = 0;
    buf_lit(b, "{\"model\":");
    buf_jstrz(b, model);
    buf_lit(b, ",\"embeddings\":[");
    for (size_t i = 0; i < n; i++) {
        int toks = 0;
        uint64_t h = emb_input(srv, is_one ? input : json_object_array_get_idx(input, i), &toks);
        prompt += toks;
        if (i)
            buf_putc(b, ',');
        emb_vector(srv, b, h, DEFAULT_DIMS, false);
    }
    buf_fmt(b, "],\"total_duration\":14143917,\"load_duration\":1019500");
    if (r->d.usage)
        buf_fmt(b, ",\"prompt_eval_count\":%d", prompt);
    buf_putc(b, '}');
    rec_model(r, model);
    rec_tokens(r, prompt, 0, r->d.usage);
    send_body(r, 200, "application/json; charset=utf-8", NULL);
}

/* ------------------------------------------------------------------------- */
/* Replicate predictions. The creation's prompt directives decide what the prediction does:
 * chunks=/text= its output, fail_after= a failure (a failed prediction when polled; in the
 * stream, an error event with fail=error, else a cut). */

/* Bearer auth as Replicate checks it; false after answering 401. */
static bool rp_auth(struct req *r)
{
    const struct hdr *h = hfind(r, "authorization");
    if (h && h->val_len > 7 && !strncasecmp(h->val, "Bearer ", 7))
        return true;
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"title\":\"Unauthenticated\",\"detail\":\"You did not pass a valid "
               "authentication token\",\"status\":401}");
    send_body(r, 401, "application/problem+json", NULL);
    return false;
}

/* The prediction named by the path's last segment (mockpred<n>, an optional extension),
 * or NULL after answering 404. */
static struct rp_pred *rp_find(struct req *r)
{
    const char *slash = strrchr(r->path, '/');
    unsigned long long id = 0;
    struct rp_pred *p = NULL;
    if (slash && sscanf(slash + 1, "mockpred%llu", &id) == 1 && id)
        p = &r->srv->preds[id % RP_MAX];
    if (p && p->id == id)
        return p;
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"detail\":\"Not found.\",\"status\":404}");
    send_body(r, 404, "application/problem+json", NULL);
    return NULL;
}

/* The base of the URLs the mock hands out: http://<Host header>. */
void rp_base(struct req *r, struct buf *b)
{
    const struct hdr *h = hfind(r, "host");
    buf_lit(b, "http://");
    if (h)
        buf_put(b, h->val, h->val_len);
    else
        buf_lit(b, "127.0.0.1");
}

/* The prediction object in its current state. */
static void rp_object(struct req *r, const struct rp_pred *p, const char *status)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"id\":\"mockpred%" PRIu64 "\",\"model\":", p->id);
    buf_jstrz(b, p->model);
    buf_fmt(b, ",\"version\":\"\",\"status\":\"%s\",\"logs\":\"\",\"data_removed\":false,", status);
    buf_lit(b, "\"created_at\":\"2024-01-01T00:00:00.000Z\",\"output\":");
    bool ok = !strcmp(status, "succeeded");
    if (ok && p->image) {
        buf_lit(b, "[\"");
        rp_base(r, b);
        buf_fmt(b, "/v1/files/mockpred%" PRIu64 ".png\"]", p->id);
    } else if (ok) {
        buf_putc(b, '[');
        for (int i = 0; i < p->d.chunks; i++) {
            struct buf *pc = &r->srv->piece;
            buf_clear(pc);
            piece_append(&p->d, i, pc);
            if (i)
                buf_putc(b, ',');
            buf_jstr(b, pc->p, pc->len);
        }
        buf_putc(b, ']');
    } else {
        buf_lit(b, "null");
    }
    buf_lit(b, ",\"error\":");
    if (!strcmp(status, "failed"))
        buf_jstrz(b, p->d.msg[0] ? p->d.msg : "mock: prediction failed");
    else
        buf_lit(b, "null");
    buf_lit(b, ",\"metrics\":");
    buf_puts(b, ok ? "{\"predict_time\":0.5}" : "{}");
    buf_lit(b, ",\"urls\":{\"get\":\"");
    rp_base(r, b);
    buf_fmt(b, "/v1/predictions/mockpred%" PRIu64 "\",\"cancel\":\"", p->id);
    rp_base(r, b);
    buf_fmt(b, "/v1/predictions/mockpred%" PRIu64 "/cancel\"", p->id);
    if (p->stream) {
        buf_lit(b, ",\"stream\":\"");
        rp_base(r, b);
        buf_fmt(b, "/v1/streams/mockpred%" PRIu64 "\"", p->id);
    }
    buf_lit(b, "}}");
}

void h_rp_create(struct req *r)
{
    if (!rp_auth(r))
        return;
    json_object *input = jget(r->json, "input");
    const char *prompt = jstr(input, "prompt");
    if (!json_object_is_type(input, json_type_object) || !prompt || !*prompt) {
        struct buf *b = body_reset(r->srv);
        buf_lit(b, "{\"title\":\"Input validation failed\",\"detail\":\"- input: prompt is "
                   "required\",\"status\":422}");
        send_body(r, 422, "application/problem+json", NULL);
        return;
    }
    struct server *srv = r->srv;
    uint64_t id = ++srv->n_preds;
    struct rp_pred *p = &srv->preds[id % RP_MAX];
    memset(p, 0, sizeof *p);
    p->id = id;
    p->d = r->d;
    copy_str(p->model, sizeof p->model, r->pmodel, strlen(r->pmodel));
    p->image = has_prefix(p->model, "black-forest-labs/") ||
               has_prefix(p->model, "stability-ai/") || has_prefix(p->model, "ideogram-ai/") ||
               has_prefix(p->model, "recraft-ai/");
    p->stream = !p->image && jbool(r->json, "stream");
    rec_model(r, p->model);
    if (!p->image)
        rec_tokens(r, count_words(prompt, strlen(prompt)), p->d.chunks, false);
    rp_object(r, p, "starting");
    send_body(r, 201, "application/json", NULL);
}

void h_rp_get(struct req *r)
{
    if (!rp_auth(r))
        return;
    struct rp_pred *p = rp_find(r);
    if (!p)
        return;
    rec_model(r, p->model);
    p->polls++;
    const char *status = p->polls == 1                 ? "starting"
                         : p->polls <= RP_SETTLE_POLLS ? "processing"
                         : p->d.fail_after >= 0        ? "failed"
                                                       : "succeeded";
    rp_object(r, p, status);
    send_body(r, 200, "application/json", NULL);
}

void h_rp_stream(struct req *r)
{
    if (!rp_auth(r))
        return;
    struct rp_pred *p = rp_find(r);
    if (!p)
        return;
    struct server *srv = r->srv;
    rec_model(r, p->model);
    r->d = p->d;
    stream_head(r, 200, "text/event-stream", "Cache-Control: no-store\r\n");
    for (int i = 0; i < r->d.chunks; i++) {
        if (i == r->d.fail_after) {
            rep_seg(&srv->rep, r->d.delay_ms);
            if (!r->d.fail_error) {
                srv->rep.cut = true;
                return;
            }
            struct buf *b = sse_named(r, "error");
            buf_lit(b, "{\"detail\":");
            buf_jstrz(b, r->d.msg[0] ? r->d.msg : "mock: prediction failed");
            buf_putc(b, '}');
            sse_end(r);
            buf_puts(sse_named(r, "done"), "{\"reason\":\"error\"}");
            sse_end(r);
            rep_finish(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        struct buf *b = &srv->ev;
        buf_clear(b);
        buf_fmt(b, "event: output\nid: %d\ndata: ", i + 1);
        buf_put(b, pc->p, pc->len);
        sse_end(r);
    }
    buf_puts(sse_named(r, "done"), "{}");
    sse_end(r);
    rep_finish(r);
}

void h_rp_file(struct req *r)
{
    struct buf *b = body_reset(r->srv);
    buf_put(b, tiny_png, sizeof tiny_png);
    send_body(r, 200, "image/png", NULL);
}

/* ------------------------------------------------------------------------- */
/* Administrator alerts and balances */

/* Message Pusher (github.com/songquanpeng/message-pusher): POST /push/{user} with
 * {"title","description","content","url","channel","token"}. Recorded like any request, so
 * tests read the message back from /_mock/requests. A missing title or the token "bad-token"
 * gets {"success":false}, as the real server answers a bad message. */
void h_push(struct req *r)
{
    const char *title = jstr(r->json, "title");
    const char *token = jstr(r->json, "token");
    struct buf *b = body_reset(r->srv);
    if (!title || !*title)
        buf_lit(b, "{\"success\":false,\"message\":\"mock: the title is empty\"}");
    else if (token && !strcmp(token, "bad-token"))
        buf_lit(b, "{\"success\":false,\"message\":\"mock: invalid token\"}");
    else
        buf_lit(b, "{\"success\":true,\"message\":\"ok\"}");
    send_body(r, 200, "application/json", NULL);
}

/* Balance queries (GET) in each provider's shape, with figures that tell the fields apart:
 * credit_grants has total_available 87.5 (CloseAI, AIGC2D) and total_remaining 66.25
 * (API2GPT); OpenAI-SB's sb-api/user/status has the string credit "12.34"; AIProxy's
 * api/report/getUserOverview has totalPoints 56.78 under success true. */
void h_balance(struct req *r)
{
    struct buf *b = body_reset(r->srv);
    if (has_suffix(r->path, "/dashboard/billing/credit_grants"))
        buf_lit(b, "{\"object\":\"credit_summary\",\"total_granted\":100,\"total_used\":12.5,"
                   "\"total_available\":87.5,\"total_remaining\":66.25}");
    else if (has_suffix(r->path, "/sb-api/user/status"))
        buf_lit(b, "{\"status\":\"ok\",\"data\":{\"credit\":\"12.34\"}}");
    else
        buf_lit(
            b,
            "{\"success\":true,\"message\":\"\",\"errorCode\":0,\"data\":{\"totalPoints\":56.78}}");
    send_body(r, 200, "application/json", NULL);
}

/* GET or HEAD /img/{W}x{H}.{png,jpg,gif,webp}: the header of such an image (enough for its
 * size), zero-padded to bytes=N. Query: ct= another Content-Type, status=N, delay_ms=N. HEAD
 * gets the headers alone. */
void h_image_file(struct req *r)
{
    char v[128], ct[128] = "";
    int w = 0, h = 0, status = 200;
    size_t bytes = 0;
    char ext[8] = "";
    const char *name = r->path + strlen("/img/");
    if (sscanf(name, "%dx%d.%7s", &w, &h, ext) != 3 || w <= 0 || h <= 0 || w > 65535 || h > 65535) {
        reply_error(r, 404, "mock: no such image (use /img/{W}x{H}.{png,jpg,gif,webp})", false);
        return;
    }
    if (query_param(r->query, "status", v, sizeof v))
        status = atoi(v);
    if (query_param(r->query, "delay_ms", v, sizeof v))
        r->d.delay_ms = atoi(v);
    if (query_param(r->query, "bytes", v, sizeof v))
        bytes = (size_t)strtoull(v, NULL, 10);
    query_param(r->query, "ct", ct, sizeof ct);
    struct buf *b = body_reset(r->srv);
    unsigned uw = (unsigned)w, uh = (unsigned)h;
    if (!strcmp(ext, "png")) {
        unsigned char hd[33] = {0x89,
                                'P',
                                'N',
                                'G',
                                '\r',
                                '\n',
                                0x1A,
                                '\n',
                                0,
                                0,
                                0,
                                13,
                                'I',
                                'H',
                                'D',
                                'R',
                                (unsigned char)(uw >> 24),
                                (unsigned char)(uw >> 16),
                                (unsigned char)(uw >> 8),
                                (unsigned char)uw,
                                (unsigned char)(uh >> 24),
                                (unsigned char)(uh >> 16),
                                (unsigned char)(uh >> 8),
                                (unsigned char)uh,
                                8,
                                6,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/png");
    } else if (!strcmp(ext, "jpg")) {
        unsigned char hd[] = {0xFF,
                              0xD8,
                              0xFF,
                              0xE0,
                              0,
                              16,
                              'J',
                              'F',
                              'I',
                              'F',
                              0,
                              1,
                              1,
                              0,
                              0,
                              1,
                              0,
                              1,
                              0,
                              0,
                              0xFF,
                              0xC0,
                              0,
                              17,
                              8,
                              (unsigned char)(uh >> 8),
                              (unsigned char)uh,
                              (unsigned char)(uw >> 8),
                              (unsigned char)uw,
                              3};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/jpeg");
    } else if (!strcmp(ext, "gif")) {
        unsigned char hd[] = {'G',
                              'I',
                              'F',
                              '8',
                              '9',
                              'a',
                              (unsigned char)uw,
                              (unsigned char)(uw >> 8),
                              (unsigned char)uh,
                              (unsigned char)(uh >> 8),
                              0,
                              0,
                              0};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/gif");
    } else if (!strcmp(ext, "webp")) {
        unsigned w1 = uw - 1, h1 = uh - 1;
        unsigned char hd[] = {'R',
                              'I',
                              'F',
                              'F',
                              22,
                              0,
                              0,
                              0,
                              'W',
                              'E',
                              'B',
                              'P',
                              'V',
                              'P',
                              '8',
                              'X',
                              10,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0,
                              0,
                              (unsigned char)w1,
                              (unsigned char)(w1 >> 8),
                              (unsigned char)(w1 >> 16),
                              (unsigned char)h1,
                              (unsigned char)(h1 >> 8),
                              (unsigned char)(h1 >> 16)};
        buf_put(b, hd, sizeof hd);
        if (!*ct)
            snprintf(ct, sizeof ct, "image/webp");
    } else {
        reply_error(r, 404, "mock: image type must be png, jpg, gif or webp", false);
        return;
    }
    while (b->len < bytes)
        buf_putc(b, 0);
    if (!strcmp(r->method, "HEAD")) {
        r->srv->rep.segs[0].delay_ms = r->d.delay_ms;
        rep_head(r, status, ct, (long long)b->len, NULL);
        return;
    }
    send_body(r, status, ct, NULL);
}
