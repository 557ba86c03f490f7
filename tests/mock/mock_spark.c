/* mock_spark.c: iFlytek Spark: the WebSocket API with its signed handshake, and the HTTP API
 * (One API's "Xunfei V2") under /spark-api-open. */

#include "mock.h"

/* ------------------------------------------------------------------------- */
/* iFlytek Spark over WebSocket. The handshake is signed in its URL (HMAC-SHA256 over the
 * host, the date and the request line, with the APISecret of the APIKey the authorization
 * names) and checked as iFlytek's gateway checks it, a date more than 300 s off included.
 * Then one request frame, answered with the frames of a Spark exchange: a ping after the
 * first, the second in two fragments, usage in the last, then a close. Keys come from
 * POST /_mock/spark (the documentation's example pair is known from the start). */

#define SPARK_SID "cht000b9e5f@dx18bcd9a1b2c3a4e532"
#define SPARK_PING "mock" /* the payload of the mock's ping, which a pong must echo */
#define SPARK_SKEW_S 300  /* the clock difference iFlytek's gateway accepts */
#define SPARK_PROMPT 2    /* the usage every answer reports */
#define SPARK_COMPLETION 8

/* The paths iFlytek serves, with the domain each expects in parameter.chat.domain. */
static const char *const spark_paths[][2] = {
    {"/v1.1/chat", "lite"},        {"/v2.1/chat", "generalv2"},
    {"/v3.1/chat", "generalv3"},   {"/chat/pro-128k", "pro-128k"},
    {"/v3.5/chat", "generalv3.5"}, {"/chat/max-32k", "max-32k"},
    {"/v4.0/chat", "4.0Ultra"},    {"/v1/x1", "x1"},
};

static const char *spark_domain(const char *path)
{
    for (size_t i = 0; i < sizeof spark_paths / sizeof *spark_paths; i++)
        if (!strcmp(path, spark_paths[i][0]))
            return spark_paths[i][1];
    return NULL;
}

static struct spark_cred *spark_cred_find(struct server *srv, const char *key)
{
    for (size_t i = 0; i < srv->n_spark; i++)
        if (!strcmp(srv->spark[i].key, key))
            return &srv->spark[i];
    return NULL;
}

struct spark_cred *spark_cred_set(struct server *srv, const char *key, const char *secret, int code)
{
    struct spark_cred *c = spark_cred_find(srv, key);
    if (!c) {
        if (srv->n_spark == sizeof srv->spark / sizeof *srv->spark)
            return NULL;
        c = &srv->spark[srv->n_spark++];
    }
    copy_str(c->key, sizeof c->key, key, strlen(key));
    copy_str(c->secret, sizeof c->secret, secret, strlen(secret));
    c->code = code;
    return c;
}

/* An unmasked (server) frame. */
static void ws_frame(struct buf *b, int op, bool fin, const char *p, size_t n)
{
    unsigned char h[10];
    size_t hl = 0;
    h[hl++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        h[hl++] = (unsigned char)n;
    } else if (n <= 0xFFFF) {
        h[hl++] = 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    buf_put(b, h, hl);
    buf_put(b, p, n);
}

static void ws_close_frame(struct buf *b, int code)
{
    char cb[2] = {(char)(code >> 8), (char)(code & 0xFF)};
    ws_frame(b, 8, true, cb, 2);
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* The form-encoded query value of name ('+' a space, %XX a byte) into out. */
static bool form_param(const char *q, const char *name, char *out, size_t cap)
{
    char raw[4096];
    if (!query_param(q, name, raw, sizeof raw))
        return false;
    size_t o = 0;
    for (size_t i = 0; raw[i] && o + 1 < cap; i++) {
        int hi, lo;
        if (raw[i] == '+') {
            out[o++] = ' ';
        } else if (raw[i] == '%' && raw[i + 1] && raw[i + 2] && (hi = hexval(raw[i + 1])) >= 0 &&
                   (lo = hexval(raw[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = raw[i];
        }
    }
    out[o] = '\0';
    return true;
}

/* Standard base64 with padding into out; the length, or -1. */
static long b64_dec(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n % 4 || n / 4 * 3 > cap)
        return -1;
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0)
        return -1;
    if (n && s[n - 1] == '=')
        len--;
    if (n > 1 && s[n - 2] == '=')
        len--;
    return len;
}

/* The quoted value of name="..." in an authorization text. */
static bool auth_quoted_field(const char *a, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = a; (p = strstr(p, name)) != NULL; p += nl) {
        if ((p != a && p[-1] != ' ' && p[-1] != ',') || strncmp(p + nl, "=\"", 2))
            continue;
        const char *v = p + nl + 2, *e = strchr(v, '"');
        if (!e)
            return false;
        copy_str(out, cap, v, (size_t)(e - v));
        return true;
    }
    return false;
}

/* Base64 of HMAC-SHA256(secret, msg) into out. */
static void hmac_b64(const char *secret, const char *msg, struct buf *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), mac,
         &ml);
    buf_b64(out, mac, ml);
}

static void spark_refuse(struct req *r, int status, const char *msg)
{
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"message\":");
    buf_jstrz(b, msg);
    buf_putc(b, '}');
    r->keep_alive = false;
    send_body(r, status, "application/json", NULL);
}

/* The opening handshake of a Spark chat: the signature, then the switch to WebSocket. */
void h_spark_upgrade(struct req *r)
{
    struct server *srv = r->srv;
    char enc[1024], date[128], host[256], key[128], alg[64], hdrs[128], sig[128];
    unsigned char auth[1024];
    const struct hdr *hh = hfind(r, "host"), *wk = hfind(r, "sec-websocket-key");
    const struct hdr *wv = hfind(r, "sec-websocket-version");
    if (!spark_domain(r->path)) {
        spark_refuse(r, 404, "no Route matched with those values");
        return;
    }
    if (!form_param(r->query, "authorization", enc, sizeof enc)) {
        spark_refuse(r, 401, "Unauthorized");
        return;
    }
    long al = b64_dec(enc, auth, sizeof auth - 1);
    if (al < 0 || !form_param(r->query, "date", date, sizeof date) ||
        !form_param(r->query, "host", host, sizeof host)) {
        spark_refuse(r, 401, "HMAC signature cannot be verified");
        return;
    }
    auth[al] = '\0';
    const char *a = (const char *)auth;
    if ((!auth_quoted_field(a, "api_key", key, sizeof key) &&
         !auth_quoted_field(a, "hmac username", key, sizeof key)) ||
        !auth_quoted_field(a, "algorithm", alg, sizeof alg) || strcmp(alg, "hmac-sha256") ||
        !auth_quoted_field(a, "headers", hdrs, sizeof hdrs) ||
        strcmp(hdrs, "host date request-line") ||
        !auth_quoted_field(a, "signature", sig, sizeof sig)) {
        spark_refuse(r, 401, "HMAC signature cannot be verified");
        return;
    }
    copy_str(r->key, sizeof r->key, key, strlen(key));
    if (r->rec) {
        free(r->rec->key);
        r->rec->key = xstrndup(key, strlen(key));
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(date, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!rest || (strcmp(rest, " GMT") && strcmp(rest, " UTC")) ||
        llabs((long long)(timegm(&tm) - time(NULL))) > SPARK_SKEW_S) {
        spark_refuse(r, 403,
                     "HMAC signature cannot be verified, a valid date or x-date header is "
                     "required for HMAC Authentication");
        return;
    }
    struct spark_cred *cred = spark_cred_find(srv, key);
    if (!cred) {
        spark_refuse(r, 401, "HMAC signature cannot be verified");
        return;
    }
    /* The gateway signs over the Host it received; the host parameter must name it too. */
    char hv[256];
    copy_str(hv, sizeof hv, hh ? hh->val : "", hh ? hh->val_len : 0);
    struct buf origin = {0}, want = {0};
    buf_fmt(&origin, "host: %s\ndate: %s\nGET %s HTTP/1.1", hv, date, r->path);
    hmac_b64(cred->secret, origin.p, &want);
    bool match = !strcmp(host, hv) && !strcmp(want.p, sig);
    buf_free(&origin);
    buf_free(&want);
    if (!match) {
        spark_refuse(r, 401, "HMAC signature does not match");
        return;
    }
    if (!wk || !wv || !mem_ieq(wv->val, wv->val_len, "13")) {
        spark_refuse(r, 400, "a WebSocket handshake is required");
        return;
    }
    struct buf kg = {0};
    buf_put(&kg, wk->val, wk->val_len);
    buf_lit(&kg, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_Digest(kg.p, kg.len, md, &ml, EVP_sha1(), NULL);
    buf_clear(&kg);
    buf_b64(&kg, md, ml);
    struct reply *p = &srv->rep;
    buf_fmt(&p->data,
            "HTTP/1.1 101 Switching Protocols\r\nServer: mock-upstream\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
            kg.p);
    buf_free(&kg);
    p->has_head = true;
    if (r->rec) {
        r->rec->status = 101;
        rec_model(r, spark_domain(r->path));
    }
    r->c->ws = true;
    copy_str(r->c->ws_key, sizeof r->c->ws_key, key, strlen(key));
    copy_str(r->c->ws_path, sizeof r->c->ws_path, r->path, strlen(r->path));
    srv->st.spark_sessions++;
}

static const char *spark_code_message(int code)
{
    switch (code) {
    case 10013: return "input content audit failed";
    case 10163: return "request parameter error";
    case 10907: return "token count exceeds the limit";
    case 11200: return "AppIdNoAuthError:(11200)auth no license";
    case 11201: return "AppIdNoAuthError:(11201)auth daily limit exceeded";
    case 11202: return "AppIdQpsOverFlowError:(11202)qps over flow";
    case 11203: return "AppIdQpsOverFlowError:(11203)concurrency over flow";
    default: return "error";
    }
}

/* One answer frame; usage only in the last. */
static void spark_answer_frame(struct buf *b, int status, const char *content)
{
    buf_fmt(b,
            "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"" SPARK_SID
            "\",\"status\":%d},\"payload\":{\"choices\":{\"status\":%d,\"seq\":%d,\"text\":[{"
            "\"content\":",
            status, status, status);
    buf_jstrz(b, content);
    buf_lit(b, ",\"role\":\"assistant\",\"index\":0}]}");
    if (status == 2)
        buf_fmt(b,
                ",\"usage\":{\"text\":{\"question_tokens\":%d,\"prompt_tokens\":%d,"
                "\"completion_tokens\":%d,\"total_tokens\":%d}}",
                SPARK_PROMPT, SPARK_PROMPT, SPARK_COMPLETION, SPARK_PROMPT + SPARK_COMPLETION);
    buf_lit(b, "}}");
}

/* Answers the request frame: checks it as Spark does, then the frames (or an error frame),
 * then a close. It is logged as a request of its own ("WS" + the path), body the frame. */
static void spark_answer(struct server *srv, struct conn *c, const char *data, size_t n)
{
    struct req r;
    memset(&r, 0, sizeof r);
    r.srv = srv;
    r.c = c;
    r.method = "WS";
    r.target = c->ws_path;
    r.body = data;
    r.body_len = n;
    r.prov = P_SPARK;
    copy_str(r.key, sizeof r.key, c->ws_key, strlen(c->ws_key));
    r.seq = ++srv->seq;
    srv->st.requests_total++;
    srv->st.requests[P_SPARK]++;
    r.rec = rec_new(srv, &r);
    c->ws_answered = true;

    const char *domain = spark_domain(c->ws_path);
    json_tokener_reset(srv->tok);
    json_object *j = json_tokener_parse_ex(srv->tok, data, (int)n);
    const char *app_id = jstr(jget(j, "header"), "app_id");
    const char *sent = jstr(jget(jget(j, "parameter"), "chat"), "domain");
    json_object *text = jarr(jget(jget(j, "payload"), "message"), "text");
    struct spark_cred *cred = spark_cred_find(srv, c->ws_key);
    int code = 0;
    const char *msg = NULL;
    if (!j || !app_id || !*app_id || !jlen(text)) {
        code = 10163;
        msg = "request parameter error: header.app_id and payload.message.text are required";
    } else if (!sent || !domain || strcmp(sent, domain)) {
        code = 10163;
        msg = "request parameter error: parameter.chat.domain does not match the URL";
    } else if (cred && cred->code) {
        code = cred->code;
        msg = spark_code_message(code);
    }
    rec_model(&r, sent ? sent : domain);
    struct buf *b = &srv->ev;
    if (code) {
        buf_clear(b);
        buf_fmt(b, "{\"header\":{\"code\":%d,\"message\":", code);
        buf_jstrz(b, msg);
        buf_lit(b, ",\"sid\":\"" SPARK_SID "\",\"status\":2}}");
        ws_frame(&c->out, 1, true, b->p, b->len);
        r.rec->status = 200;
        srv->st.injected_errors++;
    } else {
        buf_clear(b);
        spark_answer_frame(b, 0, "你好");
        ws_frame(&c->out, 1, true, b->p, b->len);
        ws_frame(&c->out, 9, true, SPARK_PING, strlen(SPARK_PING));
        buf_clear(b);
        spark_answer_frame(b, 1, "！我是讯飞星火");
        size_t half = b->len / 2; /* mid-character on purpose: fragments split bytes */
        ws_frame(&c->out, 1, false, b->p, half);
        ws_frame(&c->out, 0, true, b->p + half, b->len - half);
        buf_clear(b);
        spark_answer_frame(b, 2, "。");
        ws_frame(&c->out, 1, true, b->p, b->len);
        r.rec->status = 200;
        r.rec->stream = true;
        rec_tokens(&r, SPARK_PROMPT, SPARK_COMPLETION, true);
    }
    ws_close_frame(&c->out, 1000);
    json_object_put(j);
}

/* Reads one client frame of a switched connection. Returns 0 when more input is needed, 1
 * otherwise (as handle_next_request). */
int spark_ws_next(struct server *srv, struct conn *c)
{
    unsigned char *u = (unsigned char *)c->in.p + c->in_off;
    size_t n = c->in.len - c->in_off;
    if (!c->in.p || n < 2)
        return 0;
    bool fin = u[0] & 0x80, masked = u[1] & 0x80;
    int op = u[0] & 0x0F;
    uint64_t len = u[1] & 0x7F;
    size_t hl = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)u[2] << 8 | u[3];
        hl = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | u[2 + i];
        hl = 10;
    }
    if (!masked || (u[0] & 0x70) || len > MAX_BODY_BYTES) {
        /* A client must mask; no extension was negotiated. */
        ws_close_frame(&c->out, len > MAX_BODY_BYTES ? 1009 : 1002);
        c->close_after = true;
        srv->st.bad_http++;
        return 1;
    }
    if (n < hl + 4 || n - hl - 4 < len)
        return 0;
    unsigned char *mask = u + hl, *data = u + hl + 4;
    for (uint64_t i = 0; i < len; i++)
        data[i] ^= mask[i & 3];
    c->in_off += hl + 4 + (size_t)len;
    switch (op) {
    case 9: ws_frame(&c->out, 10, true, (const char *)data, (size_t)len); break;
    case 10:
        if (len == strlen(SPARK_PING) && !memcmp(data, SPARK_PING, len))
            srv->st.spark_pongs++;
        break;
    case 8:
        if (!c->ws_answered)
            ws_close_frame(&c->out, 1000);
        c->close_after = true;
        break;
    case 1:
        if (!fin) {
            ws_close_frame(&c->out, 1003); /* Spark's clients send one whole frame */
            c->close_after = true;
        } else if (!c->ws_answered) {
            spark_answer(srv, c, (const char *)data, (size_t)len);
        }
        break;
    default:
        ws_close_frame(&c->out, 1003);
        c->close_after = true;
        break;
    }
    return 1;
}

/* ------------------------------------------------------------------------- */
/* iFlytek Spark's HTTP API (One API's "Xunfei V2"), under the path prefix /spark-api-open
 * that stands for its host: POST /v1/chat/completions (and /v2/chat/completions for x1)
 * with Authorization: Bearer <APIPassword>. The mock knows the password
 * "<APIKey>:<APISecret>" of every Spark key told with POST /_mock/spark (the form iFlytek
 * accepts besides the console's password); another is refused with HTTP 401 and an
 * OpenAI-shaped "invalid user". Answers are OpenAI's shape without id, object, model or
 * finish_reason, plus code 0, message "Success" and sid; a stream is SSE written "data:{...}"
 * (no space), every chunk with code 0 and the delta's role, the last one empty with the
 * usage, then "data:[DONE]". Spark's errors come inside HTTP 200 with a code other than 0:
 * the whole body, or for a stream the first chunk. A key registered with a code answers that
 * code; an injected status maps to one (429 -> 11202, the QPS limit; 403 -> 11200; other
 * 4xx -> 10163; else 10012), or err_code= names it. */

/* The Spark key whose "<APIKey>:<APISecret>" is password, or NULL. */
static const struct spark_cred *xf_cred(struct server *srv, const char *password)
{
    const char *colon = strchr(password, ':');
    if (!colon)
        return NULL;
    for (size_t i = 0; i < srv->n_spark; i++) {
        const struct spark_cred *c = &srv->spark[i];
        size_t n = strlen(c->key);
        if (n == (size_t)(colon - password) && !strncmp(password, c->key, n) &&
            !strcmp(colon + 1, c->secret))
            return c;
    }
    return NULL;
}

/* Spark's code for an injected HTTP status. */
static int xf_code(const struct req *r, int status)
{
    if (r->d.err_code[0] && atoi(r->d.err_code))
        return atoi(r->d.err_code);
    return status == 429 ? 11202 : status == 403 ? 11200 : status < 500 ? 10163 : 10012;
}

static void xf_sid(struct buf *b, const struct req *r)
{
    buf_fmt(b, "\"sid\":\"cha%06" PRIx64 "@dx19mock\"", r->seq);
}

/* {"code":code,"message":...,"sid":...}: Spark's error, inside HTTP 200. */
static void xf_error_obj(struct buf *b, const struct req *r, int code)
{
    buf_fmt(b, "{\"code\":%d,\"message\":", code);
    buf_jstrz(b, r->d.msg[0]     ? r->d.msg
                 : code == 10012 ? "EngineInternalError"
                                 : spark_code_message(code));
    buf_putc(b, ',');
    xf_sid(b, r);
    buf_putc(b, '}');
}

/* An error in OpenAI's shape with Spark's code as a string (what it answers for requests it
 * cannot read); code NULL writes null. */
static void xf_openai_error(struct req *r, int status, const char *type, const char *code,
                            const char *msg)
{
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"error\":{\"message\":");
    buf_jstrz(b, msg);
    buf_lit(b, ",\"type\":");
    buf_jstrz(b, type);
    buf_lit(b, ",\"param\":null,\"code\":");
    if (code)
        buf_jstrz(b, code);
    else
        buf_lit(b, "null");
    buf_lit(b, "}}");
    send_body(r, status, "application/json", NULL);
}

/* One stream chunk: "data:" without a space, code 0, the delta with its role. */
static void xf_chunk(struct req *r, const char *content, size_t n, const struct chat *ch,
                     int completion)
{
    struct buf *b = &r->srv->ev;
    buf_clear(b);
    buf_lit(b, "data:{\"code\":0,\"message\":\"Success\",");
    xf_sid(b, r);
    buf_fmt(b, ",\"id\":\"cha%06" PRIx64 "@dx19mock\",\"created\":%lld,", r->seq,
            (long long)r->now);
    buf_lit(b, "\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":");
    buf_jstr(b, content, n);
    buf_lit(b, "},\"index\":0}]");
    if (completion >= 0)
        buf_fmt(b, ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                ch->prompt, completion, ch->prompt + completion);
    buf_putc(b, '}');
    sse_end(r);
}

void h_xf_chat(struct req *r)
{
    static const char *const v1_models[] = {"lite",        "generalv3", "pro-128k",
                                            "generalv3.5", "max-32k",   "4.0Ultra"};
    struct server *srv = r->srv;
    const struct spark_cred *cred = xf_cred(srv, r->key);
    if (!cred) {
        xf_openai_error(r, 401, "api_error", NULL, "invalid user");
        return;
    }
    if (strcmp(r->method, "POST")) {
        reply_errorf(r, 405, "mock: use POST for %s", r->path);
        return;
    }
    json_object *j = r->json, *msgs = jarr(j, "messages");
    const char *model = jstr(j, "model");
    struct chat ch = {.model = model, .stream = jbool(j, "stream")};
    if (r->d.status)
        srv->st.injected_errors++;
    if (r->d.status == 401) {
        xf_openai_error(r, 401, "api_error", NULL, "invalid user");
        return;
    }
    int code = r->d.status ? xf_code(r, r->d.status) : cred->code;
    if (code) {
        if (!ch.stream) {
            xf_error_obj(body_reset(srv), r, code);
            send_body(r, 200, "application/json", NULL);
            return;
        }
        stream_head(r, 200, "text/event-stream", NULL);
        buf_clear(&srv->ev);
        buf_lit(&srv->ev, "data:");
        xf_error_obj(&srv->ev, r, code);
        sse_end(r);
        rep_finish(r);
        return;
    }
    /* x1 is served under /v2 only, the others under /v1 only. */
    bool x1 = has_suffix(r->path, "/v2/chat/completions");
    bool known = model && x1 && !strcmp(model, "x1");
    for (size_t i = 0; model && !x1 && i < sizeof v1_models / sizeof *v1_models; i++)
        known = known || !strcmp(model, v1_models[i]);
    if (!jlen(msgs) || (r->d.strict && !known)) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid param %s:%.200s (sid: cha%06" PRIx64 "@dx19mock)",
                 jlen(msgs) ? "model" : "messages", jlen(msgs) ? (model ? model : "") : "[]",
                 r->seq);
        xf_openai_error(r, 400, "invalid_request_error", "10005", msg);
        return;
    }
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(&srv->text);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), &srv->text, 0);
        ch.prompt += count_words(srv->text.p, srv->text.len) + 3;
    }
    struct plan p;
    plan_make(&p, &r->d);
    p.tool = false;
    p.n_text = r->d.chunks;
    p.completion = p.n_text;
    rec_model(r, model);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (!ch.stream) {
        struct buf *b = body_reset(srv);
        buf_lit(b, "{\"code\":0,\"message\":\"Success\",");
        xf_sid(b, r);
        buf_lit(b, ",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":");
        struct buf *t = all_text(r, p.n_text);
        buf_jstr(b, t->p, t->len);
        buf_lit(b, "},\"index\":0}]");
        if (r->d.usage)
            buf_fmt(b,
                    ",\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,"
                    "\"question_tokens\":%d,\"total_tokens\":%d}",
                    ch.prompt, p.completion, ch.prompt, ch.prompt + p.completion);
        buf_putc(b, '}');
        send_body(r, 200, "application/json", NULL);
        return;
    }
    stream_head(r, 200, "text/event-stream", NULL);
    for (int i = 0; i < p.n_text; i++) {
        rep_seg(&srv->rep, r->d.delay_ms);
        if (i == p.fail_at) {
            if (!r->d.fail_error) {
                srv->rep.cut = true;
                return;
            }
            buf_clear(&srv->ev);
            buf_lit(&srv->ev, "data:");
            xf_error_obj(&srv->ev, r, xf_code(r, 500));
            sse_end(r);
            rep_finish(r);
            return;
        }
        struct buf *pc = piece(r, i);
        xf_chunk(r, pc->p, pc->len, &ch, -1);
    }
    xf_chunk(r, "", 0, &ch, r->d.usage ? p.completion : -1);
    buf_clear(&srv->ev);
    buf_lit(&srv->ev, "data:[DONE]");
    sse_end(r);
    rep_finish(r);
}

/* POST /_mock/spark {"api_key": ..., "api_secret": ..., "code": 0}: a key the handshake
 * accepts, and the Spark error code its requests get (0: a normal answer). */
void ctl_spark(struct req *r)
{
    json_object *j = json_tokener_parse(r->body ? r->body : "");
    const char *key = jstr(j, "api_key"), *secret = jstr(j, "api_secret");
    if (!key || !*key || !secret || !*secret ||
        !spark_cred_set(r->srv, key, secret, (int)jint(j, "code", 0)))
        ctl_msg(r, 400, "need api_key and api_secret (strings), and at most 16 keys");
    else
        ctl_msg(r, 200, "spark key set");
    json_object_put(j);
}
