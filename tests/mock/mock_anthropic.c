/* mock_anthropic.c: Anthropic's Messages API (also behind Vertex AI's rawPredict) and AWS
 * Bedrock's InvokeModel with SigV4 checked as AWS checks it and event-stream frames. */

#include "mock.h"

/* ------------------------------------------------------------------------- */
/* Anthropic */

static void an_message_json(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct buf *b = body_reset(r->srv);
    buf_fmt(
        b, "{\"id\":\"msg_mock%" PRIu64 "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":",
        r->seq);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"content\":[");
    if (p->n_text) {
        struct buf *t = all_text(r, p->n_text);
        buf_lit(b, "{\"type\":\"text\",\"text\":");
        buf_jstr(b, t->p, t->len);
        buf_putc(b, '}');
    }
    if (p->tool) {
        buf_fmt(b, "%s{\"type\":\"tool_use\",\"id\":\"toolu_mock%" PRIu64 "_0\",\"name\":",
                p->n_text ? "," : "", r->seq);
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"input\":");
        buf_put(b, p->args, p->args_len);
        buf_putc(b, '}');
    }
    buf_lit(b, "],\"stop_reason\":");
    buf_jstrz(b, finish_for(P_ANTHROPIC, &r->d, p->tool));
    buf_lit(b, ",\"stop_sequence\":null");
    if (r->d.usage)
        buf_fmt(b,
                ",\"usage\":{\"input_tokens\":%d,\"output_tokens\":%d,\"cache_creation_input_"
                "tokens\":0,"
                "\"cache_read_input_tokens\":0}",
                ch->prompt, p->completion);
    buf_putc(b, '}');
    send_body(r, 200, "application/json", NULL);
}

static void an_block_start_tool(struct req *r, int idx)
{
    struct buf *b = sse_named(r, "content_block_start");
    buf_fmt(
        b,
        "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_mock%" PRIu64 "_0\",\"name\":",
        idx, r->seq);
    buf_jstrz(b, r->d.tool);
    buf_lit(b, ",\"input\":{}}}");
    sse_end(r);
}

static void an_json_delta(struct req *r, int idx, const char *s, size_t n)
{
    struct buf *b = sse_named(r, "content_block_delta");
    buf_fmt(b,
            "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"input_json_"
            "delta\",\"partial_json\":",
            idx);
    buf_jstr(b, s, n);
    buf_lit(b, "}}");
    sse_end(r);
}

static void an_ping(struct req *r)
{
    buf_lit(sse_named(r, "ping"), "{\"type\":\"ping\"}");
    sse_end(r);
}

static void an_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    const struct directives *d = &r->d;
    if (r->prov == P_BEDROCK)
        stream_head(r, 200, "application/vnd.amazon.eventstream",
                    "X-Amzn-Bedrock-Content-Type: application/json\r\n");
    else
        stream_head(r, 200, "text/event-stream; charset=utf-8", NULL);
    struct buf *b = sse_named(r, "message_start");
    buf_fmt(b,
            "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock%" PRIu64
            "\",\"type\":\"message\","
            "\"role\":\"assistant\",\"model\":",
            r->seq);
    buf_jstrz(b, ch->model);
    buf_lit(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null");
    /* like the real API: output_tokens starts at 1 and message_delta carries the final count */
    if (d->usage)
        buf_fmt(b, ",\"usage\":{\"input_tokens\":%d,\"output_tokens\":1}", ch->prompt);
    buf_lit(b, "}}");
    sse_end(r);
    if (p->n_text) {
        buf_lit(sse_named(r, "content_block_start"),
                "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
                "\"text\",\"text\":\"\"}}");
        sse_end(r);
        an_ping(r);
    } else {
        an_block_start_tool(r, 0);
        an_ping(r);
        an_json_delta(r, 0, "", 0);
    }
    int ev = 0;
    for (int i = 0; i < p->n_text; i++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        struct buf *pc = piece(r, i);
        b = sse_named(r, "content_block_delta");
        buf_lit(b, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_"
                   "delta\",\"text\":");
        buf_jstr(b, pc->p, pc->len);
        buf_lit(b, "}}");
        sse_end(r);
    }
    int tool_idx = p->n_text ? 1 : 0;
    for (int k = 0; k < p->n_args; k++, ev++) {
        if (ev == p->fail_at) {
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        if (k == 0 && p->n_text) {
            buf_lit(sse_named(r, "content_block_stop"),
                    "{\"type\":\"content_block_stop\",\"index\":0}");
            sse_end(r);
            an_block_start_tool(r, 1);
            an_json_delta(r, 1, "", 0);
        }
        const char *s;
        size_t n;
        arg_frag(p, k, &s, &n);
        an_json_delta(r, tool_idx, s, n);
    }
    b = sse_named(r, "content_block_stop");
    buf_fmt(b, "{\"type\":\"content_block_stop\",\"index\":%d}", p->tool ? tool_idx : 0);
    sse_end(r);
    b = sse_named(r, "message_delta");
    buf_lit(b, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
    buf_jstrz(b, finish_for(P_ANTHROPIC, d, p->tool));
    buf_lit(b, ",\"stop_sequence\":null}");
    if (d->usage)
        buf_fmt(b, ",\"usage\":{\"output_tokens\":%d}", p->completion);
    buf_putc(b, '}');
    sse_end(r);
    b = sse_named(r, "message_stop");
    buf_lit(b, "{\"type\":\"message_stop\"");
    /* Bedrock's last event carries the counts it bills. */
    if (r->prov == P_BEDROCK && d->usage)
        buf_fmt(b,
                ",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":%d,"
                "\"outputTokenCount\":%d,\"invocationLatency\":412,\"firstByteLatency\":230}",
                ch->prompt, p->completion);
    buf_putc(b, '}');
    sse_end(r);
    rep_finish(r);
}

/* Sums words + 3 per message over the system prompt and messages. */
static int an_prompt_tokens(struct req *r)
{
    struct buf *t = &r->srv->text;
    int total = 0;
    json_object *sys = jget(r->json, "system");
    if (sys) {
        buf_clear(t);
        jtext(sys, t, 0);
        if (t->len)
            total += count_words(t->p, t->len) + 3;
    }
    json_object *msgs = jarr(r->json, "messages");
    for (size_t i = 0; i < jlen(msgs); i++) {
        buf_clear(t);
        jtext(jget(json_object_array_get_idx(msgs, i), "content"), t, 0);
        total += count_words(t->p, t->len) + 3;
    }
    return total;
}

/* A few of the rules the real Messages API enforces, the ones gateways tend to break. */
static bool an_validate(struct req *r)
{
    json_object *j = r->json, *msgs = jarr(j, "messages");
    if (r->prov == P_BEDROCK) {
        /* Bedrock names the model in the URL and rejects keys it does not know. */
        const char *v = jstr(j, "anthropic_version");
        if (!v || strcmp(v, "bedrock-2023-05-31") != 0) {
            reply_error(r, 400, "Malformed input request: anthropic_version is required", false);
            return false;
        }
        if (jget(j, "model") || jget(j, "stream")) {
            reply_errorf(r, 400, "Malformed input request: extraneous key [%s] is not permitted",
                         jget(j, "model") ? "model" : "stream");
            return false;
        }
    } else if (r->vertex) {
        /* Vertex names the model in the path and wants its own API version in the body. */
        const char *v = jstr(j, "anthropic_version");
        if (!v || strcmp(v, "vertex-2023-10-16")) {
            reply_error(r, 400, "anthropic_version: vertex-2023-10-16 is required", false);
            return false;
        }
        if (jget(j, "model")) {
            reply_error(r, 400, "model: Extra inputs are not permitted", false);
            return false;
        }
    } else if (!jstr(j, "model")) {
        reply_error(r, 400, "model: Field required", false);
        return false;
    }
    if (r->op != OP_COUNT_TOKENS && !jget(j, "max_tokens")) {
        reply_error(r, 400, "max_tokens: Field required", false);
        return false;
    }
    if (!msgs) {
        reply_error(r, 400, "messages: Field required", false);
        return false;
    }
    if (!r->d.strict)
        return true;
    size_t n = jlen(msgs);
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = jstr(m, "role");
        if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))) {
            reply_errorf(r, 400, "messages.%zu.role: Input should be 'user' or 'assistant'", i);
            return false;
        }
        json_object *content = jget(m, "content");
        bool final_assistant = i + 1 == n && !strcmp(role, "assistant");
        bool empty = !content ||
                     (json_object_is_type(content, json_type_string) &&
                      json_object_get_string_len(content) == 0) ||
                     (json_object_is_type(content, json_type_array) && jlen(content) == 0);
        if (empty && !final_assistant) {
            reply_errorf(r, 400,
                         "messages.%zu: all messages must have non-empty content except for the "
                         "optional final assistant message",
                         i);
            return false;
        }
        for (size_t k = 0; k < jlen(content); k++) {
            json_object *blk = json_object_array_get_idx(content, k);
            const char *type = jstr(blk, "type");
            const char *text = jstr(blk, "text");
            if (type && !strcmp(type, "text") && (!text || !text[0])) {
                reply_error(r, 400, "messages: text content blocks must be non-empty", false);
                return false;
            }
        }
    }
    return true;
}

void h_an_messages(struct req *r)
{
    if (!an_validate(r))
        return;
    json_object *j = r->json;
    struct chat ch = {.model = r->vertex ? r->pmodel : jstr(j, "model"),
                      .stream = jbool(j, "stream")};
    if (r->prov == P_BEDROCK) {
        ch.model = r->pmodel;
        ch.stream = r->op == OP_BR_STREAM;
    }
    ch.prompt = an_prompt_tokens(r);
    rec_model(r, ch.model);
    if (r->op == OP_COUNT_TOKENS) {
        struct buf *b = body_reset(r->srv);
        buf_fmt(b, "{\"input_tokens\":%d}", ch.prompt);
        rec_tokens(r, ch.prompt, 0, true);
        send_body(r, 200, "application/json", NULL);
        return;
    }
    if (r->d.tool[0] && !jlen(jarr(j, "tools"))) {
        reply_errorf(r, 400, "mock: directive tool=%s but the request declares no tools",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream)
        an_stream(r, &ch, &p);
    else
        an_message_json(r, &ch, &p);
}

/* Appends s[0..n) with every byte outside A-Z a-z 0-9 - _ . ~ as %XX. */
static void uri_encode(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            buf_putc(b, (char)c);
        else
            buf_fmt(b, "%%%02X", c);
    }
}

/* The value of "<name>=" inside an Authorization header, up to the next ',' (or the end). */
static bool auth_field(const char *auth, const char *name, char *out, size_t cap)
{
    const char *p = strstr(auth, name);
    if (!p)
        return false;
    p += strlen(name);
    size_t n = strcspn(p, ",");
    copy_str(out, cap, p, n);
    return n > 0 && n < cap;
}

/*
 * Recomputes the request's SigV4 signature from what was received, with the secret the mock
 * was given for its access key. NULL when it matches; else the 403 message, with *type the
 * AWS error name.
 */
static const char *br_check_sigv4(struct req *r, const char **type)
{
    struct server *srv = r->srv;
    const struct hdr *h = hfind(r, "authorization"), *dh = hfind(r, "x-amz-date");
    char auth[4096], cred[512], signed_hdrs[1024], sig[128], amz_date[32];
    *type = "InvalidSignatureException";
    if (!h || h->val_len >= sizeof auth) {
        *type = "MissingAuthenticationTokenException";
        return "Missing Authentication Token";
    }
    copy_str(auth, sizeof auth, h->val, h->val_len);
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) ||
        !auth_field(auth, "Credential=", cred, sizeof cred) ||
        !auth_field(auth, "SignedHeaders=", signed_hdrs, sizeof signed_hdrs) ||
        !auth_field(auth, "Signature=", sig, sizeof sig))
        return "Authorization header requires Credential, SignedHeaders and Signature.";
    /* AK/date/region/service/aws4_request */
    char *parts[5], *save = NULL;
    int np = 0;
    for (char *t = strtok_r(cred, "/", &save); t && np < 5; t = strtok_r(NULL, "/", &save))
        parts[np++] = t;
    if (np != 5 || strcmp(parts[4], "aws4_request") != 0)
        return "Credential should be scoped to a valid region and service.";
    if (strcmp(parts[3], "bedrock") != 0)
        return "Credential should be scoped to correct service: 'bedrock'.";
    const char *secret = srv->aws_keys ? jstr(srv->aws_keys, parts[0]) : NULL;
    if (!secret) {
        *type = "UnrecognizedClientException";
        return "The security token included in the request is invalid.";
    }
    if (!dh || dh->val_len != 16)
        return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
               "header.";
    copy_str(amz_date, sizeof amz_date, dh->val, dh->val_len);
    if (strncmp(amz_date, parts[1], 8) != 0)
        return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
               "from HTTP.";
    struct tm tm = {0};
    if (!strptime(amz_date, "%Y%m%dT%H%M%SZ", &tm) ||
        llabs((long long)(timegm(&tm) - r->now)) > 300)
        return "Signature expired: the request time is more than 5 minutes from the server's.";
    if (!strstr(signed_hdrs, "host"))
        return "'Host' must be a signed header.";

    struct buf c = {0};
    buf_fmt(&c, "%s\n", r->method);
    for (const char *p = r->path; *p;) {
        size_t n = strcspn(p, "/");
        uri_encode(&c, p, n); /* each segment encoded once more than on the wire */
        p += n;
        if (*p == '/') {
            buf_putc(&c, '/');
            p++;
        }
    }
    buf_fmt(&c, "\n%s\n", r->query);
    char names[1024];
    copy_str(names, sizeof names, signed_hdrs, strlen(signed_hdrs));
    save = NULL;
    for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        const struct hdr *v = hfind(r, name);
        if (!v) {
            free(c.p);
            return "A signed header is missing from the request.";
        }
        buf_fmt(&c, "%s:", name);
        size_t a = 0, z = v->val_len;
        while (a < z && (v->val[a] == ' ' || v->val[a] == '\t'))
            a++;
        while (z > a && (v->val[z - 1] == ' ' || v->val[z - 1] == '\t'))
            z--;
        for (size_t i = a; i < z; i++)
            if (!(v->val[i] == ' ' && (v->val[i + 1] == ' ' || v->val[i + 1] == '\t')))
                buf_putc(&c, v->val[i]);
        buf_putc(&c, '\n');
    }
    char body_hash[65], creq_hash[65], sts[512], key0[300], mine[65];
    sha256_hex(r->body ? r->body : "", r->body_len, body_hash);
    buf_fmt(&c, "\n%s\n%s", signed_hdrs, body_hash);
    sha256_hex(c.p, c.len, creq_hash);
    free(c.p);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, parts[1],
             parts[2], parts[3], creq_hash);
    unsigned char k1[32], k2[32], k3[32], k4[32], out[32];
    snprintf(key0, sizeof key0, "AWS4%s", secret);
    hmac256(key0, strlen(key0), parts[1], strlen(parts[1]), k1);
    hmac256(k1, 32, parts[2], strlen(parts[2]), k2);
    hmac256(k2, 32, parts[3], strlen(parts[3]), k3);
    hmac256(k3, 32, "aws4_request", 12, k4);
    hmac256(k4, 32, sts, strlen(sts), out);
    hex_of(out, 32, mine);
    if (strcmp(mine, sig) != 0)
        return "The request signature we calculated does not match the signature you provided. "
               "Check your AWS Secret Access Key and signing method.";
    return NULL;
}

void h_br_invoke(struct req *r)
{
    const char *type;
    const char *why = br_check_sigv4(r, &type);
    if (why) {
        char extra[256];
        struct buf *b = body_reset(r->srv);
        buf_lit(b, "{\"message\":");
        buf_jstrz(b, why);
        buf_putc(b, '}');
        snprintf(extra, sizeof extra, "x-amzn-ErrorType: %s:http://internal.amazon.com/coral/\r\n",
                 type);
        send_body(r, 403, "application/json", extra);
        return;
    }
    h_an_messages(r);
}
