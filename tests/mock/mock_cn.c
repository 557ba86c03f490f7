/* mock_cn.c: Chinese providers' native APIs: MiniMax, Tencent Hunyuan (TC3-HMAC-SHA256), Ali
 * DashScope, Zhipu (JWT-signed v3 and v4 calls) and Baidu ERNIE (OAuth tokens). */

#include "mock.h"

/* ------------------------------------------------------------------------- */
/* MiniMax chatcompletion_v2: OpenAI's shape plus base_resp, errors inside HTTP 200, and a
 * stream that ends with the whole chat.completion instead of [DONE]. */

static void mm_base_resp(struct buf *b)
{
    buf_lit(b, ",\"input_sensitive\":false,\"output_sensitive\":false,\"base_resp\":{"
               "\"status_code\":0,\"status_msg\":\"\"}}");
}

/* The whole answer: the non-stream body, and the last event of a stream. */
static void mm_answer(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p)
{
    buf_fmt(b, "{\"id\":\"mm-mock%" PRIu64 "\",\"choices\":[{\"finish_reason\":", r->seq);
    buf_jstrz(b, finish_for(P_MINIMAX, &r->d, false));
    buf_lit(b, ",\"index\":0,\"message\":{\"content\":");
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    buf_fmt(b, ",\"role\":\"assistant\",\"name\":\"MiniMax AI\"}}],\"created\":%lld,\"model\":",
            (long long)r->now);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"object\":\"chat.completion\"");
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"total_tokens\":%d,\"prompt_tokens\":%d,\"completion_tokens\":%d}",
                ch->prompt + p->completion, ch->prompt, p->completion);
    mm_base_resp(b);
}

void h_mm_chat(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *msgs = jarr(j, "messages");
    if (!r->key[0]) {
        reply_error(r, 401,
                    "login fail: Please carry the API secret key in the 'Authorization' field "
                    "of the request header",
                    false);
        return;
    }
    const char *model = jstr(j, "model");
    if (!model || !jlen(msgs)) {
        reply_error(r, 400, "invalid params, model and messages are required", false);
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "stream")};
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &srv->text, 0);
        ch.prompt += count_words(srv->text.p, srv->text.len) + 3;
    }
    struct plan p;
    plan_make(&p, &r->d);
    p.tool = false;
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (!ch.stream) {
        mm_answer(body_reset(srv), r, &ch, &p);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        buf_clear(&srv->text);
        buf_jstr(&srv->text, pc->p, pc->len);
        struct buf *b = sse_data(r);
        buf_fmt(b,
                "{\"id\":\"mm-mock%" PRIu64 "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":",
                r->seq);
        buf_put(b, srv->text.p, srv->text.len);
        buf_fmt(b, ",\"role\":\"assistant\",\"name\":\"MiniMax AI\"}}],\"created\":%lld,\"model\":",
                (long long)r->now);
        buf_jstrz(b, model);
        buf_lit(b, ",\"object\":\"chat.completion.chunk\",\"usage\":null,\"input_sensitive\":false,"
                   "\"output_sensitive\":false}");
        sse_end(r);
    }
    /* mm_answer writes the text through srv->piece, not srv->ev: the event buffer stays. */
    mm_answer(sse_data(r), r, &ch, &p);
    sse_end(r);
    rep_finish(r);
}

/* ------------------------------------------------------------------------- */
/* Tencent Hunyuan (TencentCloud API 3.0): POST / with X-TC-Action, TC3-HMAC-SHA256 checked as
 * Tencent checks it (over the Host and Content-Type received, the timestamp within 300 s),
 * errors as Response.Error inside HTTP 200, a stream without [DONE]. The secret key of a
 * SecretId is that id followed by "-secret" (Tencent's documentation id has its documented
 * key). */

#define TC_DOC_ID "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define TC_DOC_KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define TC_NOTE "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"

/* Copies header name's value (NUL-terminated, cut to cap) into out; false when absent. */
static bool hval(const struct req *r, const char *name, char *out, size_t cap)
{
    const struct hdr *h = hfind(r, name);
    if (!h)
        return false;
    copy_str(out, cap, h->val, h->val_len);
    return true;
}

/* Sends Tencent's error (HTTP 200) with code and message. */
static void tc_error(struct req *r, const char *code, const char *msg)
{
    copy_str(r->d.err_code, sizeof r->d.err_code, code, strlen(code));
    copy_str(r->d.msg, sizeof r->d.msg, msg, strlen(msg));
    reply_error(r, 200, msg, true);
}

/* Checks the TC3 signature as Tencent does. True when the request may proceed; otherwise the
 * error is answered. */
static bool tc_verify(struct req *r)
{
    char auth[1024], ctype[256], host[256], action[128], ts[32], version[32];
    if (!hval(r, "authorization", auth, sizeof auth) || strncmp(auth, "TC3-HMAC-SHA256 ", 16)) {
        tc_error(r, "AuthFailure.SignatureFailure",
                 "The Authorization header is missing or not TC3");
        return false;
    }
    if (!hval(r, "x-tc-timestamp", ts, sizeof ts) ||
        !hval(r, "x-tc-version", version, sizeof version)) {
        tc_error(r, "MissingParameter", "X-TC-Timestamp and X-TC-Version are required");
        return false;
    }
    if (strcmp(version, "2023-09-01")) {
        tc_error(r, "InvalidParameterValue", "X-TC-Version must be 2023-09-01 for hunyuan");
        return false;
    }
    long long t = atoll(ts);
    if (t < (long long)r->now - 300 || t > (long long)r->now + 300) {
        tc_error(r, "AuthFailure.SignatureExpire",
                 "Signature expired. Timestamp is more than 5 minutes away from the server time");
        return false;
    }
    hval(r, "content-type", ctype, sizeof ctype);
    hval(r, "host", host, sizeof host);
    hval(r, "x-tc-action", action, sizeof action);
    for (char *c = action; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    /* Credential=<id>/<date>/hunyuan/tc3_request, SignedHeaders=..., Signature=<hex> */
    char id[128] = "", date[16] = "", signed_h[128] = "", sig[80] = "";
    if (sscanf(auth,
               "TC3-HMAC-SHA256 Credential=%127[^/]/%15[^/]/hunyuan/tc3_request, "
               "SignedHeaders=%127[^,], Signature=%79s",
               id, date, signed_h, sig) != 4) {
        tc_error(r, "AuthFailure.SignatureFailure", "The Authorization header is malformed");
        return false;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char want_date[16];
    gmtime_r(&tt, &tm);
    strftime(want_date, sizeof want_date, "%Y-%m-%d", &tm);
    if (strcmp(date, want_date) || strcmp(signed_h, "content-type;host;x-tc-action")) {
        tc_error(r, "AuthFailure.SignatureFailure",
                 "The credential date or the signed headers do not match the request");
        return false;
    }
    unsigned char d[32];
    char hex[65], canon_hex[65];
    sha256_hex(r->body ? r->body : "", r->body_len, hex);
    struct buf *cr = &r->srv->piece;
    buf_clear(cr);
    buf_fmt(cr,
            "POST\n/\n\ncontent-type:%s\nhost:%s\nx-tc-action:%s\n\ncontent-type;host;"
            "x-tc-action\n%s",
            ctype, host, action, hex);
    sha256_hex(cr->p, cr->len, canon_hex);
    buf_clear(cr);
    buf_fmt(cr, "TC3-HMAC-SHA256\n%lld\n%s/hunyuan/tc3_request\n%s", t, date, canon_hex);
    char key[200];
    snprintf(key, sizeof key, "TC3%s%s", !strcmp(id, TC_DOC_ID) ? TC_DOC_KEY : id,
             !strcmp(id, TC_DOC_ID) ? "" : "-secret");
    unsigned char k1[32], k2[32], k3[32];
    hmac256(key, strlen(key), date, strlen(date), k1);
    hmac256(k1, 32, "hunyuan", 7, k2);
    hmac256(k2, 32, "tc3_request", 11, k3);
    hmac256(k3, 32, cr->p, cr->len, d);
    hex_of(d, 32, hex);
    if (strcmp(hex, sig)) {
        tc_error(r, "AuthFailure.SignatureFailure",
                 "The provided credentials could not be validated. Please check your signature "
                 "is correct.");
        return false;
    }
    return true;
}

/* ,"ToolCalls":[...] with one call of the tool= directive: Hunyuan repeats the call's Id,
 * Type and Name on every streamed piece of its Arguments. */
static void tc_tool_call(struct buf *b, struct req *r, const char *args, size_t n)
{
    buf_fmt(b,
            ",\"ToolCalls\":[{\"Id\":\"call_mockhy%" PRIu64
            "\",\"Type\":\"function\",\"Function\":{\"Name\":",
            r->seq);
    buf_jstrz(b, r->d.tool);
    buf_lit(b, ",\"Arguments\":");
    buf_jstr(b, args, n);
    buf_lit(b, "}}]");
}

static void tc_chat_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"Response\":{\"RequestId\":\"mock-req-%" PRIu64 "\",\"Note\":\"" TC_NOTE
            "\",\"Choices\":[{\"FinishReason\":",
            r->seq);
    buf_jstrz(b, finish_for(P_TENCENT, &r->d, p->tool));
    buf_lit(b, ",\"Message\":{\"Role\":\"assistant\",\"Content\":");
    struct buf *t = all_text(r, p->n_text);
    buf_jstr(b, t->p, t->len);
    if (p->tool)
        tc_tool_call(b, r, p->args, p->args_len);
    buf_fmt(b, "}}],\"Created\":%lld,\"Id\":\"mock-hy-%" PRIu64 "\"", (long long)r->now, r->seq);
    if (r->d.usage)
        buf_fmt(b, ",\"Usage\":{\"PromptTokens\":%d,\"CompletionTokens\":%d,\"TotalTokens\":%d}",
                ch->prompt, p->completion, ch->prompt + p->completion);
    buf_lit(b, "}}");
    send_body(r, 200, "application/json", NULL);
}

/* One stream event: a content piece (finish "" while it goes on) and the running usage. */
static void tc_event(struct req *r, const struct chat *ch, const char *text, size_t n,
                     const char *args, size_t args_len, const char *finish, int completion)
{
    struct buf *b = sse_data(r);
    buf_lit(b, "{\"Note\":\"" TC_NOTE "\",\"Choices\":[{\"FinishReason\":");
    buf_jstrz(b, finish);
    buf_lit(b, ",\"Delta\":{\"Role\":\"assistant\",\"Content\":");
    buf_jstr(b, text, n);
    if (args)
        tc_tool_call(b, r, args, args_len);
    buf_fmt(b, "}}],\"Created\":%lld,\"Id\":\"mock-hy-%" PRIu64 "\"", (long long)r->now, r->seq);
    if (r->d.usage)
        buf_fmt(b, ",\"Usage\":{\"PromptTokens\":%d,\"CompletionTokens\":%d,\"TotalTokens\":%d}",
                ch->prompt, completion, ch->prompt + completion);
    buf_putc(b, '}');
    sse_end(r);
}

static void tc_chat(struct req *r)
{
    struct server *srv = r->srv;
    json_object *j = r->json, *msgs = jarr(j, "Messages");
    const char *model = jstr(j, "Model");
    if (!model || !jlen(msgs)) {
        tc_error(r, "MissingParameter",
                 "The request is missing a required parameter `Model` or "
                 "`Messages`.");
        return;
    }
    struct chat ch = {.model = model, .stream = jbool(j, "Stream")};
    for (size_t i = 0; i < jlen(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *content = jstr(m, "Content"), *role = jstr(m, "Role");
        json_object *items = jarr(m, "Contents");
        /* The vision models take Contents (text and image_url items) instead of Content. */
        for (size_t k = 0; !content && k < jlen(items); k++) {
            json_object *it = json_object_array_get_idx(items, k);
            const char *type = jstr(it, "Type");
            if (type && !strcmp(type, "image_url") && !jstr(jget(it, "ImageUrl"), "Url")) {
                tc_error(r, "InvalidParameter", "An image_url item needs ImageUrl.Url.");
                return;
            }
            if (type && !strcmp(type, "text") && jstr(it, "Text"))
                ch.prompt += count_words(jstr(it, "Text"), strlen(jstr(it, "Text")));
        }
        /* An assistant's tool calls may come without Content, never with an empty one. */
        if (!content && (jlen(items) || jlen(jarr(m, "ToolCalls"))))
            content = "";
        if (!role || !content || (r->d.strict && jstr(m, "Content") && !*content)) {
            tc_error(r, "InvalidParameter", "Messages need a Role and a non-empty Content.");
            return;
        }
        ch.prompt += count_words(content, strlen(content)) + 3;
    }
    struct plan p;
    plan_make(&p, &r->d);
    /* A tool call answers only a request that declares Tools. */
    p.tool = p.tool && jlen(jarr(j, "Tools"));
    if (!p.tool) {
        p.n_args = 0;
        p.n_text = r->d.chunks;
        p.completion = p.n_text;
    }
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (!ch.stream) {
        tc_chat_json(r, &ch, &p);
        return;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "X-TC-RequestId: mock-req-%" PRIu64 "\r\n", r->seq);
    stream_head(r, 200, "text/event-stream", extra);
    for (int i = 0; i < p.n_text; i++) {
        if (i == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        buf_clear(&srv->text);
        buf_put(&srv->text, pc->p, pc->len);
        tc_event(r, &ch, srv->text.p, srv->text.len, NULL, 0, "", i + 1);
    }
    for (int k = 0; k < p.n_args; k++) {
        if (p.n_text + k == p.fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        const char *a;
        size_t an;
        arg_frag(&p, k, &a, &an);
        tc_event(r, &ch, "", 0, a, an, "", p.n_text + k + 1);
    }
    tc_event(r, &ch, "", 0, NULL, 0, finish_for(P_TENCENT, &r->d, p.tool), p.completion);
    rep_finish(r);
}

static void tc_embed(struct req *r)
{
    struct server *srv = r->srv;
    json_object *list = jarr(r->json, "InputList");
    if (!jlen(list)) {
        tc_error(r, "InvalidParameter", "InputList must be a non-empty array of strings.");
        return;
    }
    struct buf *b = body_reset(srv);
    buf_lit(b, "{\"Response\":{\"Data\":[");
    int prompt = 0;
    for (size_t i = 0; i < jlen(list); i++) {
        json_object *v = json_object_array_get_idx(list, i);
        int toks = 0;
        if (!json_object_is_type(v, json_type_string)) {
            tc_error(r, "InvalidParameter", "InputList must be a non-empty array of strings.");
            return;
        }
        uint64_t h = emb_input(srv, v, &toks);
        prompt += toks;
        buf_puts(b, i ? ",{\"Embedding\":" : "{\"Embedding\":");
        emb_vector(srv, b, h, DEFAULT_DIMS, false);
        buf_fmt(b, ",\"Index\":%zu,\"Object\":\"embedding\"}", i);
    }
    buf_lit(b, "]");
    if (r->d.usage)
        buf_fmt(b, ",\"Usage\":{\"PromptTokens\":%d,\"TotalTokens\":%d}", prompt, prompt);
    buf_fmt(b, ",\"RequestId\":\"mock-req-%" PRIu64 "\"}}", r->seq);
    rec_model(r, "hunyuan-embedding");
    rec_tokens(r, prompt, 0, r->d.usage);
    send_body(r, 200, "application/json", NULL);
}

void h_tc(struct req *r)
{
    char action[64] = "";
    hval(r, "x-tc-action", action, sizeof action);
    if (!tc_verify(r))
        return;
    if (!strcmp(action, "ChatCompletions"))
        tc_chat(r);
    else if (!strcmp(action, "GetEmbedding"))
        tc_embed(r);
    else
        tc_error(r, "InvalidAction", "The action requested is not supported by the mock.");
}

/* ------------------------------------------------------------------------- */
/* Ali DashScope native API. Chat answers JSON, or SSE when X-DashScope-SSE: enable is sent
 * (events repeat the whole text unless parameters.incremental_output is true); image
 * synthesis is an async task (X-DashScope-Async: enable) polled at /api/v1/tasks/{id}, kept in
 * the prediction ring as mocktask<n>. Keys are Bearer sk-...; fail_after= with fail=error sends
 * an event:error frame inside HTTP 200, as DashScope does. */

/* Bearer sk-... as DashScope checks it; false after answering 401 InvalidApiKey. */
static bool al_auth(struct req *r)
{
    if (has_prefix(r->key, "sk-"))
        return true;
    reply_error(r, 401, "Invalid API-key provided.", false);
    return false;
}

static void al_invalid(struct req *r, const char *msg)
{
    reply_error(r, 400, msg, false);
}

/* Words + 3 per message, over input.messages. */
static int al_prompt_tokens(json_object *msgs)
{
    int total = 0;
    for (size_t i = 0; i < jlen(msgs); i++) {
        const char *c = jstr(json_object_array_get_idx(msgs, i), "content");
        total += (c ? count_words(c, strlen(c)) : 0) + 3;
    }
    return total;
}

/* One answer object: text (the whole or one increment), finish NULL for "null". */
static void al_object(struct req *r, struct buf *b, bool as_message, const struct buf *text,
                      const char *finish, int prompt, int completion)
{
    if (as_message) {
        buf_lit(b, "{\"output\":{\"choices\":[{\"message\":{\"content\":");
        buf_jstr(b, text->p, text->len);
        buf_lit(b, ",\"role\":\"assistant\"},\"finish_reason\":");
        buf_jstrz(b, finish ? finish : "null");
        buf_lit(b, "}]}");
    } else {
        buf_lit(b, "{\"output\":{\"text\":");
        buf_jstr(b, text->p, text->len);
        buf_lit(b, ",\"finish_reason\":");
        buf_jstrz(b, finish ? finish : "null");
        buf_putc(b, '}');
    }
    if (r->d.usage)
        buf_fmt(b, ",\"usage\":{\"total_tokens\":%d,\"output_tokens\":%d,\"input_tokens\":%d}",
                prompt + completion, completion, prompt);
    buf_fmt(b, ",\"request_id\":\"mock-req-%" PRIu64 "\"}", r->seq);
}

/* Starts one DashScope SSE frame (no space after the colons) in srv->ev. */
static struct buf *al_frame(struct req *r, int id, const char *event, int status)
{
    struct buf *b = &r->srv->ev;
    buf_clear(b);
    buf_fmt(b, "id:%d\nevent:%s\n:HTTP_STATUS/%d\ndata:", id, event, status);
    return b;
}

static void al_stream(struct req *r, const struct plan *p, bool as_message, bool incremental,
                      int prompt)
{
    struct server *srv = r->srv;
    stream_head(r, 200, "text/event-stream;charset=UTF-8", NULL);
    struct buf whole = {0};
    int i = 0;
    for (; i < p->n_text; i++) {
        if (i == p->fail_at) {
            rep_seg(&srv->rep, r->d.delay_ms);
            if (!r->d.fail_error) {
                srv->rep.cut = true;
                buf_free(&whole);
                return;
            }
            error_obj(al_frame(r, i + 1, "error", 400), P_ALI, 400, "mock: stream failed", &r->d);
            sse_end(r);
            rep_finish(r);
            buf_free(&whole);
            return;
        }
        rep_seg(&srv->rep, r->d.delay_ms);
        struct buf *pc = piece(r, i);
        buf_put(&whole, pc->p, pc->len);
        /* al_object writes through srv->ev only: pc (srv->piece) stays valid. */
        struct buf *b = al_frame(r, i + 1, "result", 200);
        al_object(r, b, as_message, incremental ? pc : &whole, NULL, prompt, i + 1);
        sse_end(r);
    }
    struct buf empty = {0};
    buf_puts(&empty, "");
    struct buf *b = al_frame(r, i + 1, "result", 200);
    al_object(r, b, as_message, incremental ? &empty : &whole, finish_for(P_ALI, &r->d, false),
              prompt, p->completion);
    sse_end(r);
    rep_finish(r);
    buf_free(&empty);
    buf_free(&whole);
}

void h_al_chat(struct req *r)
{
    if (!al_auth(r))
        return;
    json_object *j = r->json, *params = jget(j, "parameters");
    json_object *msgs = jarr(jget(j, "input"), "messages");
    if (!jlen(msgs)) {
        al_invalid(r, "Field required: input.messages");
        return;
    }
    if (r->d.strict && jget(j, "messages")) {
        al_invalid(r, "Field required: input.messages; messages is not a valid field");
        return;
    }
    json_object *top_p = jget(params, "top_p");
    if (top_p && (json_object_get_double(top_p) <= 0 || json_object_get_double(top_p) >= 1)) {
        al_invalid(r, "Range of top_p should be (0.0, 1.0)");
        return;
    }
    const char *rf = jstr(params, "result_format");
    bool as_message = rf && !strcmp(rf, "message");
    const struct hdr *sse = hfind(r, "x-dashscope-sse");
    bool stream = sse && mem_ieq(sse->val, sse->val_len, "enable");
    int prompt = al_prompt_tokens(msgs);
    rec_model(r, jstr(j, "model"));
    struct plan p;
    plan_make(&p, &r->d);
    p.completion = p.n_text;
    rec_tokens(r, prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, stream))
        return;
    if (stream) {
        al_stream(r, &p, as_message, jbool(params, "incremental_output"), prompt);
        return;
    }
    struct buf *t = all_text(r, p.n_text);
    struct buf *b = body_reset(r->srv);
    al_object(r, b, as_message, t, finish_for(P_ALI, &r->d, false), prompt, p.completion);
    send_body(r, 200, "application/json", NULL);
}

void h_al_embed(struct req *r)
{
    if (!al_auth(r))
        return;
    struct server *srv = r->srv;
    json_object *texts = jarr(jget(r->json, "input"), "texts");
    size_t n = jlen(texts);
    if (!n || n > 25) {
        al_invalid(r, "input.texts must hold 1 to 25 texts");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(texts, i), json_type_string)) {
            al_invalid(r, "input.texts must be strings");
            return;
        }
    struct buf *b = body_reset(srv);
    int prompt = 0;
    buf_lit(b, "{\"output\":{\"embeddings\":[");
    for (size_t i = 0; i < n; i++) {
        int toks = 0;
        uint64_t h = emb_input(srv, json_object_array_get_idx(texts, i), &toks);
        prompt += toks;
        buf_fmt(b, "%s{\"text_index\":%zu,\"embedding\":", i ? "," : "", i);
        emb_vector(srv, b, h, DEFAULT_DIMS, false);
        buf_putc(b, '}');
    }
    buf_fmt(b, "]},\"usage\":{\"total_tokens\":%d},\"request_id\":\"mock-req-%" PRIu64 "\"}",
            prompt, r->seq);
    rec_model(r, jstr(r->json, "model"));
    rec_tokens(r, prompt, 0, true);
    send_body(r, 200, "application/json", NULL);
}

/* The task object in its current state. */
static void al_task_object(struct req *r, const struct rp_pred *t, const char *status)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"request_id\":\"mock-req-%" PRIu64 "\",\"output\":{\"task_id\":\"mocktask%" PRIu64
            "\",\"task_status\":\"%s\"",
            r->seq, t->id, status);
    if (!strcmp(status, "SUCCEEDED")) {
        int n = t->d.chunks;
        buf_lit(b, ",\"results\":[");
        for (int i = 0; i < n; i++) {
            buf_puts(b, i ? ",{\"url\":\"" : "{\"url\":\"");
            rp_base(r, b);
            buf_fmt(b, "/v1/files/mocktask%" PRIu64 "-%d.png\"}", t->id, i);
        }
        buf_fmt(b, "],\"task_metrics\":{\"TOTAL\":%d,\"SUCCEEDED\":%d,\"FAILED\":0}}", n, n);
        buf_fmt(b, ",\"usage\":{\"image_count\":%d}}", n);
        return;
    }
    if (!strcmp(status, "FAILED")) {
        buf_lit(b, ",\"code\":\"InternalError\",\"message\":");
        buf_jstrz(b, t->d.msg[0] ? t->d.msg : "mock: task failed");
    }
    buf_lit(b, "}}");
}

void h_al_image(struct req *r)
{
    if (!al_auth(r))
        return;
    const struct hdr *h = hfind(r, "x-dashscope-async");
    if (!h || !mem_ieq(h->val, h->val_len, "enable")) {
        r->d = (struct directives){0};
        copy_str(r->d.err_code, sizeof r->d.err_code, "AccessDenied", 12);
        copy_str(r->d.msg, sizeof r->d.msg, "current user api does not support synchronous calls",
                 52);
        reply_error(r, 403, NULL, true);
        return;
    }
    const char *prompt = jstr(jget(r->json, "input"), "prompt");
    const char *size = jstr(jget(r->json, "parameters"), "size");
    if (!prompt || !*prompt || (size && !strchr(size, '*'))) {
        al_invalid(r, "input.prompt is required and parameters.size is W*H");
        return;
    }
    struct server *srv = r->srv;
    uint64_t id = ++srv->n_preds;
    struct rp_pred *t = &srv->preds[id % RP_MAX];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->image = true;
    t->d = r->d;
    /* The task makes parameters.n images (1 to 4, as wanx does). */
    int64_t n = jint(jget(r->json, "parameters"), "n", 1);
    t->d.chunks = n < 1 ? 1 : n > 4 ? 4 : (int)n;
    const char *model = jstr(r->json, "model");
    copy_str(t->model, sizeof t->model, model ? model : "", model ? strlen(model) : 0);
    rec_model(r, t->model);
    al_task_object(r, t, "PENDING");
    send_body(r, 200, "application/json", NULL);
}

void h_al_task(struct req *r)
{
    if (!al_auth(r))
        return;
    const char *slash = strrchr(r->path, '/');
    unsigned long long id = 0;
    struct rp_pred *t = NULL;
    if (slash && sscanf(slash + 1, "mocktask%llu", &id) == 1 && id)
        t = &r->srv->preds[id % RP_MAX];
    if (!t || t->id != id || !t->image) {
        copy_str(r->d.err_code, sizeof r->d.err_code, "InvalidParameter", 16);
        reply_error(r, 404, "task not found", true);
        return;
    }
    rec_model(r, t->model);
    t->polls++;
    const char *status = t->polls < RP_SETTLE_POLLS ? "RUNNING"
                         : t->d.fail_after >= 0     ? "FAILED"
                                                    : "SUCCEEDED";
    al_task_object(r, t, status);
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Zhipu: every call carries a JWT (HS256, claims api_key, exp and timestamp in
 * milliseconds) signed with the secret of a key told with POST /_mock/zhipu. v4 is OpenAI's
 * format (the OpenAI handlers answer it); v3 has its own, below. */

/* Why the token fails Zhipu's checks, or NULL with *key set when it passes them. */
static const char *zp_check(struct zhipu *zp, const char *tok, const struct zhipu_key **key)
{
    const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || strchr(d2 + 1, '.'))
        return "Authorization Token非法，请确认Authorization Token正确传递。";
    json_object *h = jwt_part(tok, (size_t)(d1 - tok));
    json_object *c = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *id = jstr(c, "api_key"), *why = NULL;
    const struct zhipu_key *k = NULL;
    for (size_t i = 0; id && i < zp->n_keys; i++)
        if (!strcmp(zp->keys[i].id, id))
            k = &zp->keys[i];
    unsigned char sig[64], mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    long sl = b64url_dec(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (!h || !c)
        why = "Authorization Token非法，请确认Authorization Token正确传递。";
    else if (!jstr(h, "alg") || strcmp(jstr(h, "alg"), "HS256") || !jstr(h, "sign_type") ||
             strcmp(jstr(h, "sign_type"), "SIGN"))
        why = "Authorization Token非法：alg must be HS256 and sign_type SIGN";
    else if (!k)
        why = "API key 不存在";
    else if (!HMAC(EVP_sha256(), k->secret, (int)strlen(k->secret), (const unsigned char *)tok,
                   (size_t)(d2 - tok), mac, &ml) ||
             sl != (long)ml || memcmp(sig, mac, ml))
        why = "Authorization Token非法：signature does not match";
    else if (jint(c, "exp", 0) <= now_ms)
        why = "Authorization Token已过期";
    else if (jint(c, "timestamp", 0) > now_ms + 300000)
        why = "Authorization Token非法：timestamp is in the future (not milliseconds?)";
    json_object_put(h);
    json_object_put(c);
    *key = why ? NULL : k;
    return why;
}

/* Zhipu's error answer: v4's {"error":{"code","message"}} with status, v3's
 * {"code","msg","success":false} inside a 200. */
static void zp_error(struct req *r, int status, int code, const char *msg)
{
    struct buf *b = body_reset(r->srv);
    if (r->op == OP_ZP_V3) {
        buf_fmt(b, "{\"code\":%d,\"msg\":", code);
        buf_jstrz(b, msg);
        buf_lit(b, ",\"success\":false}");
        status = 200;
    } else {
        buf_fmt(b, "{\"error\":{\"code\":\"%d\",\"message\":", code);
        buf_jstrz(b, msg);
        buf_lit(b, "}}");
    }
    send_body(r, status, "application/json", NULL);
}

/* True when the call's Authorization (the JWT, bare or after "Bearer ") passes zp_check and
 * its key answers normally; otherwise answers Zhipu's error. The key's id becomes the
 * request's key in the log. */
bool zp_authorized(struct req *r)
{
    struct zhipu *zp = &r->srv->zp;
    const struct hdr *h = hfind(r, "authorization");
    const char *v = h ? h->val : "";
    size_t n = h ? h->val_len : 0;
    if (n > 7 && !strncasecmp(v, "Bearer ", 7))
        v += 7, n -= 7;
    char tok[384];
    const struct zhipu_key *k = NULL;
    const char *why = "Authorization Token非法，请确认Authorization Token正确传递。";
    if (n && n < sizeof tok) {
        memcpy(tok, v, n);
        tok[n] = '\0';
        why = zp_check(zp, tok, &k);
    }
    if (why) {
        zp->refused++;
        zp_error(r, 401, 1002, why);
        return false;
    }
    zp->accepted++;
    size_t i = 0;
    while (i < zp->n_tokens && strcmp(zp->tokens[i], tok))
        i++;
    if (i == zp->n_tokens && i < ZP_MAX_TOKENS)
        memcpy(zp->tokens[zp->n_tokens++], tok, n + 1);
    copy_str(r->key, sizeof r->key, k->id, strlen(k->id));
    if (r->rec) {
        free(r->rec->key);
        r->rec->key = xstrndup(k->id, strlen(k->id));
    }
    if (k->code) {
        zp_error(r, k->code == 1302 || k->code == 1303 || k->code == 1305 ? 429 : 400, k->code,
                 k->code == 1302 ? "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"
                                 : "mock: the key answers this code");
        return false;
    }
    return true;
}

/* Zhipu v3: POST .../model-api/{model}/invoke answers the whole text, with the content as a
 * JSON string literal (quoted, "\n" escaped) as Zhipu sends it; .../sse-invoke streams "add"
 * events of raw text (one of them on two data: lines) and a "finish" event whose meta: line
 * has the usage. Prompt tokens: the words of the prompt plus 2 per message. */
void h_zp_v3(struct req *r)
{
    json_object *prompt = jarr(r->json, "prompt");
    if (!jlen(prompt)) {
        zp_error(r, 400, 1214, "prompt 参数非法");
        return;
    }
    int ptok = 0;
    for (size_t i = 0; i < jlen(prompt); i++) {
        const char *c = jstr(json_object_array_get_idx(prompt, i), "content");
        ptok += (c ? count_words(c, strlen(c)) : 0) + 2;
    }
    static const char id[] = "7951544019094669224";
    bool stream = has_suffix(r->path, "/sse-invoke");
    int ctok = stream ? 7 : 9;
    rec_tokens(r, ptok, ctok, true);
    if (!stream) {
        struct buf *b = body_reset(r->srv);
        buf_fmt(b,
                "{\"code\":200,\"msg\":\"操作成功\",\"success\":true,\"data\":{\"request_id\":"
                "\"%s\",\"task_id\":\"%s\",\"task_status\":\"SUCCESS\",\"choices\":[{\"role\":"
                "\"assistant\",\"content\":\"\\\" 你好！\\\\n我是智谱清言。\\\"\"}],\"usage\":{"
                "\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}}",
                id, id, ptok, ctok, ptok + ctok);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream;charset=UTF-8", NULL);
    struct buf *ev = &r->srv->ev;
    buf_clear(ev);
    buf_fmt(ev, "event:add\nid:%s\ndata:你好\n\n", id);
    rep_event(r);
    buf_clear(ev);
    buf_fmt(ev, "event:add\nid:%s\ndata:！我是\ndata:智谱清言\n\n", id);
    rep_event(r);
    buf_clear(ev);
    buf_fmt(ev,
            "event:finish\nid:%s\ndata:\nmeta:{\"task_status\":\"SUCCESS\",\"usage\":{"
            "\"completion_tokens\":%d,\"prompt_tokens\":%d,\"total_tokens\":%d},\"task_id\":"
            "\"%s\",\"request_id\":\"%s\"}\n\n",
            id, ctok, ptok, ptok + ctok, id, id);
    rep_event(r);
    rep_finish(r);
}

/* /_mock/zhipu: POST {"id": ..., "secret": ..., "code": 0} adds a key (answering with that
 * Zhipu error code when not 0); GET reports the distinct tokens accepted and the calls
 * accepted and refused; DELETE forgets the tokens and zeroes the counters. */
void ctl_zhipu(struct req *r)
{
    struct zhipu *zp = &r->srv->zp;
    if (!strcmp(r->method, "POST")) {
        json_object *j = json_tokener_parse(r->body_len ? r->body : "{}");
        const char *id = jstr(j, "id"), *secret = jstr(j, "secret");
        bool ok = id && *id && secret && *secret && strlen(id) < sizeof zp->keys[0].id &&
                  strlen(secret) < sizeof zp->keys[0].secret && zp->n_keys < ZP_MAX_KEYS;
        if (ok) {
            struct zhipu_key *k = &zp->keys[zp->n_keys++];
            snprintf(k->id, sizeof k->id, "%s", id);
            snprintf(k->secret, sizeof k->secret, "%s", secret);
            k->code = (int)jint(j, "code", 0);
        }
        json_object_put(j);
        if (!ok) {
            ctl_msg(r, 400, "need id and secret (strings), and at most 16 keys");
            return;
        }
    } else if (!strcmp(r->method, "DELETE")) {
        zp->n_tokens = 0;
        zp->accepted = zp->refused = 0;
    } else if (strcmp(r->method, "GET")) {
        ctl_msg(r, 405, "use GET, POST or DELETE");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"tokens\":%zu,\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"keys\":%zu}",
            zp->n_tokens, zp->accepted, zp->refused, zp->n_keys);
    send_body(r, 200, "application/json", NULL);
}

/* ------------------------------------------------------------------------- */
/* Baidu ERNIE (wenxinworkshop). Keys "AK|SK" get tokens from /oauth/2.0/token (a client_id
 * starting with "bad" is refused as Baidu refuses an unknown one); the model endpoints take
 * the token from ?access_token= and answer, as Baidu does, every error with HTTP 200 and
 * {"error_code","error_msg"}: 110 for a token it did not issue, 18 (QPS limit) for the
 * directive status=429 and for every call of a client_id starting with "busy", 336003 for a system
 * message inside messages. Answers are the documentation's transcripts: usage 6 + 8 for chat, 2
 * prompt tokens per embedded input. */

static void bd_reply(struct req *r, int code, const char *msg)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"error_code\":%d,\"error_msg\":", code);
    buf_jstrz(b, msg);
    buf_putc(b, '}');
    send_body(r, 200, "application/json", NULL);
}

void h_bd_token(struct req *r)
{
    struct baidu *bd = &r->srv->bd;
    char id[64] = "", secret[64] = "", grant[64] = "";
    query_param(r->query, "grant_type", grant, sizeof grant);
    query_param(r->query, "client_id", id, sizeof id);
    query_param(r->query, "client_secret", secret, sizeof secret);
    struct buf *b = body_reset(r->srv);
    if (strcmp(r->method, "POST") || strcmp(grant, "client_credentials") || !*id || !*secret ||
        has_prefix(id, "bad")) {
        buf_lit(b, "{\"error\":\"invalid_client\",\"error_description\":\"unknown client id\"}");
        send_body(r, 401, "application/json", NULL);
        return;
    }
    bd->exchanges++;
    bd->issued++;
    char *t = bd->tokens[bd->issued % BD_MAX_TOKENS];
    snprintf(t, sizeof bd->tokens[0], "24.mock%" PRIu64 ".2592000.%.40s", bd->issued, id);
    buf_lit(b, "{\"refresh_token\":\"25.r3fr3sh\",\"expires_in\":2592000,\"session_key\":\"sk\","
               "\"access_token\":");
    buf_jstrz(b, t);
    buf_lit(b, ",\"scope\":\"public\",\"session_secret\":\"ss\"}");
    send_body(r, 200, "application/json", NULL);
}

static bool bd_token_ok(struct req *r)
{
    char t[96] = "";
    query_param(r->query, "access_token", t, sizeof t);
    for (size_t i = 0; *t && i < BD_MAX_TOKENS; i++)
        if (!strcmp(t, r->srv->bd.tokens[i]))
            return true;
    return false;
}

static void bd_chat(struct req *r)
{
    static const char *const pieces[] = {"你好！", "有什么可以帮你？", ""};
    json_object *msgs = jarr(r->json, "messages"), *st = jget(r->json, "stream");
    for (size_t i = 0; i < jlen(msgs); i++) {
        const char *role = jstr(json_object_array_get_idx(msgs, i), "role");
        if (!role || strcmp(role, i % 2 ? "assistant" : "user")) {
            bd_reply(r, 336003, "the role of messages must alternate user and assistant");
            return;
        }
    }
    if (!jlen(msgs) || jlen(msgs) % 2 == 0) {
        bd_reply(r, 336003, "the messages length must be odd");
        return;
    }
    rec_tokens(r, 6, 8, true);
    if (!st || !json_object_get_boolean(st)) {
        struct buf *b = body_reset(r->srv);
        buf_lit(b, "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":"
                   "1700000000,\"result\":\"你好！有什么可以帮你？\",\"is_truncated\":false,"
                   "\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{"
                   "\"prompt_tokens\":6,\"completion_tokens\":8,\"total_tokens\":14}}");
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < 3; i++) {
        rep_seg(&r->srv->rep, r->d.delay_ms);
        struct buf *b = sse_data(r);
        buf_fmt(b,
                "{\"id\":\"as-s7g0kq1x2c\",\"object\":\"chat.completion\",\"created\":1700000001,"
                "\"sentence_id\":%d,\"is_end\":%s,\"is_truncated\":false,\"result\":",
                i, i == 2 ? "true" : "false");
        buf_jstrz(b, pieces[i]);
        buf_fmt(b,
                ",\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{"
                "\"prompt_tokens\":6,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
                i ? 8 : 3, i ? 14 : 9);
        rep_event(r);
    }
    rep_finish(r);
}

static void bd_embed(struct req *r)
{
    json_object *input = jarr(r->json, "input");
    size_t n = jlen(input);
    if (!n) {
        bd_reply(r, 336003, "input is required and must be a list of strings");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"id\":\"as-emb01\",\"object\":\"embedding_list\",\"created\":1700000003,"
               "\"data\":[");
    for (size_t i = 0; i < n; i++)
        buf_fmt(b,
                "%s{\"object\":\"embedding\",\"embedding\":[0.0123,-0.0456,0.0789],"
                "\"index\":%zu}",
                i ? "," : "", i);
    buf_fmt(b, "],\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}", 2 * n, 2 * n);
    rec_tokens(r, (int)(2 * n), 0, true);
    send_body(r, 200, "application/json", NULL);
}

void h_bd_call(struct req *r)
{
    if (strcmp(r->method, "POST") || !r->json) {
        bd_reply(r, 336003, "a POST with a JSON body is required");
        return;
    }
    if (!bd_token_ok(r)) {
        r->srv->bd.refused++;
        bd_reply(r, 110, "Access token invalid or no longer valid");
        return;
    }
    char t[96] = "";
    query_param(r->query, "access_token", t, sizeof t);
    if (r->d.status == 429 || strstr(t, ".2592000.busy")) {
        r->srv->st.injected_errors++;
        bd_reply(r, 18, "Open api qps request limit reached");
        return;
    }
    if (r->op == OP_BD_CHAT)
        bd_chat(r);
    else
        bd_embed(r);
}

/* /_mock/baidu: GET the counters; DELETE zeroes them and revokes every token issued. */
void ctl_baidu(struct req *r)
{
    struct baidu *bd = &r->srv->bd;
    if (!strcmp(r->method, "DELETE")) {
        bd->exchanges = bd->refused = 0;
        memset(bd->tokens, 0, sizeof bd->tokens);
    } else if (strcmp(r->method, "GET")) {
        ctl_msg(r, 405, "use GET or DELETE");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_fmt(b, "{\"exchanges\":%" PRIu64 ",\"refused\":%" PRIu64 "}", bd->exchanges, bd->refused);
    send_body(r, 200, "application/json", NULL);
}
