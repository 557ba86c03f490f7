/* mock_google.c: Google's wire formats: Gemini (generateContent, streams, embeddings,
 * countTokens), PaLM 2's generateMessage, and Vertex AI's service-account token endpoint and
 * token check. */

#include "mock.h"

/* ------------------------------------------------------------------------- */
/* Gemini */

/* One GenerateContentResponse. text may be NULL; tool adds the functionCall part. */
static void gm_response(struct buf *b, struct req *r, const struct chat *ch, const struct plan *p,
                        const struct buf *text, bool tool, const char *finish, int ctoks)
{
    buf_lit(b, "{\"candidates\":[{\"content\":{\"parts\":[");
    if (text) {
        buf_lit(b, "{\"text\":");
        buf_jstr(b, text->p, text->len);
        buf_putc(b, '}');
    }
    if (tool) {
        buf_puts(b, text ? ",{\"functionCall\":{\"name\":" : "{\"functionCall\":{\"name\":");
        buf_jstrz(b, r->d.tool);
        buf_lit(b, ",\"args\":");
        buf_put(b, p->args, p->args_len);
        buf_lit(b, "}}");
    }
    buf_lit(b, "],\"role\":\"model\"}");
    if (finish) {
        buf_lit(b, ",\"finishReason\":");
        buf_jstrz(b, finish);
    }
    buf_lit(b, ",\"index\":0}]");
    if (r->d.usage)
        buf_fmt(b,
                ",\"usageMetadata\":{\"promptTokenCount\":%d,\"candidatesTokenCount\":%d,"
                "\"totalTokenCount\":%d}",
                ch->prompt, ctoks, ch->prompt + ctoks);
    buf_lit(b, ",\"modelVersion\":");
    buf_jstrz(b, ch->model);
    buf_fmt(b, ",\"responseId\":\"mock%" PRIu64 "\"}", r->seq);
}

static void gm_blocked(struct buf *b, struct req *r, const struct chat *ch)
{
    buf_lit(b, "{\"promptFeedback\":{\"blockReason\":");
    buf_jstrz(b, r->d.block);
    buf_lit(b, ",\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_DANGEROUS_CONTENT\","
               "\"probability\":\"HIGH\"}]}");
    if (r->d.usage)
        buf_fmt(b, ",\"usageMetadata\":{\"promptTokenCount\":%d,\"totalTokenCount\":%d}",
                ch->prompt, ch->prompt);
    buf_lit(b, ",\"modelVersion\":");
    buf_jstrz(b, ch->model);
    buf_putc(b, '}');
}

/* Frames one streamed response: SSE "data:" or an element of the JSON array stream. */
static void gm_event_begin(struct req *r, const struct chat *ch, int idx)
{
    if (ch->sse) {
        sse_data(r);
    } else {
        buf_clear(&r->srv->ev);
        buf_puts(&r->srv->ev, idx ? ",\r\n" : "[");
    }
}

static void gm_event_end(struct req *r, const struct chat *ch)
{
    if (ch->sse)
        sse_end(r);
    else
        rep_event(r);
}

static void gm_stream(struct req *r, const struct chat *ch, const struct plan *p)
{
    struct server *srv = r->srv;
    const struct directives *d = &r->d;
    stream_head(r, 200, ch->sse ? "text/event-stream" : "application/json; charset=UTF-8", NULL);
    int n_events = p->n_text + (p->tool ? 1 : 0);
    const char *finish = finish_for(P_GEMINI, d, p->tool);
    if (d->block[0]) {
        rep_seg(&srv->rep, d->delay_ms);
        gm_event_begin(r, ch, 0);
        gm_blocked(&srv->ev, r, ch);
        gm_event_end(r, ch);
        n_events = 0;
    }
    for (int i = 0; i < n_events; i++) {
        if (i == p->fail_at) {
            if (!ch->sse && !d->fail_error) {
                rep_seg(&srv->rep, d->delay_ms);
                srv->rep.cut = true;
                return;
            }
            stream_fail(r);
            return;
        }
        rep_seg(&srv->rep, d->delay_ms);
        bool last = i + 1 == n_events;
        gm_event_begin(r, ch, i);
        if (i < p->n_text)
            gm_response(&srv->ev, r, ch, p, piece(r, i), false, last ? finish : NULL,
                        last ? p->completion : i + 1);
        else
            gm_response(&srv->ev, r, ch, p, NULL, true, finish, p->completion);
        gm_event_end(r, ch);
    }
    if (!ch->sse) {
        buf_clear(&srv->ev);
        buf_puts(&srv->ev, n_events || d->block[0] ? "]" : "[]");
        rep_event(r);
    }
    rep_finish(r);
}

static int gm_prompt_tokens(struct req *r)
{
    struct buf *t = &r->srv->text;
    int total = 0;
    json_object *sys = jget(r->json, "systemInstruction");
    if (!sys)
        sys = jget(r->json, "system_instruction");
    if (sys) {
        buf_clear(t);
        jtext(sys, t, 0);
        total += count_words(t->p, t->len) + 3;
    }
    json_object *contents = jarr(r->json, "contents");
    for (size_t i = 0; i < jlen(contents); i++) {
        buf_clear(t);
        jtext(jget(json_object_array_get_idx(contents, i), "parts"), t, 0);
        total += count_words(t->p, t->len) + 3;
    }
    return total;
}

static bool gm_has_tools(json_object *j)
{
    json_object *tools = jarr(j, "tools");
    for (size_t i = 0; i < jlen(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        if (jlen(jarr(t, "functionDeclarations")) || jlen(jarr(t, "function_declarations")))
            return true;
    }
    return false;
}

static bool gm_validate(struct req *r)
{
    json_object *contents = jarr(r->json, "contents");
    if (!jlen(contents)) {
        reply_error(r, 400, "* GenerateContentRequest.contents: contents is not specified", false);
        return false;
    }
    if (!r->d.strict)
        return true;
    for (size_t i = 0; i < jlen(contents); i++) {
        json_object *c = json_object_array_get_idx(contents, i);
        const char *role = jstr(c, "role");
        if (role && strcmp(role, "user") && strcmp(role, "model")) {
            reply_error(r, 400, "Please use a valid role: user, model.", false);
            return false;
        }
        if (!jlen(jarr(c, "parts"))) {
            reply_errorf(
                r, 400,
                "* GenerateContentRequest.contents[%zu].parts: contents.parts must not be empty.",
                i);
            return false;
        }
    }
    return true;
}

void h_gm_generate(struct req *r)
{
    if (!gm_validate(r))
        return;
    struct chat ch = {.model = r->pmodel, .stream = r->op == OP_STREAM};
    const char *alt = strstr(r->query, "alt=sse");
    ch.sse = alt && (alt == r->query || alt[-1] == '&') && (alt[7] == '\0' || alt[7] == '&');
    ch.prompt = gm_prompt_tokens(r);
    rec_model(r, ch.model);
    if (r->op == OP_GCOUNT) {
        struct buf *b = body_reset(r->srv);
        buf_fmt(b, "{\"totalTokens\":%d}", ch.prompt);
        rec_tokens(r, ch.prompt, 0, true);
        send_body(r, 200, "application/json; charset=UTF-8", NULL);
        return;
    }
    if (r->d.tool[0] && !gm_has_tools(r->json)) {
        reply_errorf(r, 400,
                     "mock: directive tool=%s but the request declares no functionDeclarations",
                     r->d.tool);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    if (r->d.block[0])
        p.completion = 0;
    rec_tokens(r, ch.prompt, p.completion, r->d.usage);
    if (drop_if_failing(r, ch.stream))
        return;
    if (ch.stream) {
        gm_stream(r, &ch, &p);
        return;
    }
    struct buf *b = body_reset(r->srv);
    if (r->d.block[0])
        gm_blocked(b, r, &ch);
    else
        gm_response(b, r, &ch, &p, p.n_text ? all_text(r, p.n_text) : NULL, p.tool,
                    finish_for(P_GEMINI, &r->d, p.tool), p.completion);
    send_body(r, 200, "application/json; charset=UTF-8", NULL);
}

/* PaLM 2: POST .../models/{model}:generateMessage with the key in x-goog-api-key or ?key=;
 * candidateCount candidates of the usual words; PaLM reports no tokens and cannot stream. */
void h_palm(struct req *r)
{
    json_object *msgs = jarr(jget(r->json, "prompt"), "messages");
    if (!r->key[0]) {
        reply_error(r, 403, "The request is missing a valid API key.", false);
        return;
    }
    if (!jlen(msgs)) {
        reply_error(r, 400, "* prompt.messages: messages is required", false);
        return;
    }
    int64_t n = jint(r->json, "candidateCount", 1);
    if (n < 1 || n > 8) {
        reply_error(r, 400, "candidateCount must be between 1 and 8", false);
        return;
    }
    struct plan p;
    plan_make(&p, &r->d);
    struct buf *text = all_text(r, p.n_text);
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"candidates\":[");
    for (int64_t i = 0; i < n; i++) {
        buf_puts(b, i ? ",{" : "{");
        buf_lit(b, "\"author\":\"1\",\"content\":");
        buf_jstr(b, text->p, text->len);
        buf_lit(b, "}");
    }
    buf_lit(b, "],\"messages\":");
    buf_puts(b, json_object_to_json_string_ext(msgs, JSON_C_TO_STRING_PLAIN));
    buf_lit(b, ",\"filters\":[]}");
    send_body(r, 200, "application/json; charset=UTF-8", NULL);
}

/* Appends {"values":[...]} for one EmbedContentRequest; returns false after replying an error. */
static bool gm_embed_one(struct req *r, json_object *q, struct buf *b)
{
    struct server *srv = r->srv;
    int dims = (int)jint(q, "outputDimensionality", jint(q, "output_dimensionality", DEFAULT_DIMS));
    if (dims < 1 || dims > MAX_DIMS) {
        reply_errorf(r, 400, "outputDimensionality must be between 1 and %d", MAX_DIMS);
        return false;
    }
    json_object *content = jget(q, "content");
    if (!content || !jlen(jarr(content, "parts"))) {
        reply_error(r, 400, "* EmbedContentRequest.content: contents is not specified", false);
        return false;
    }
    buf_clear(&srv->text);
    jtext(content, &srv->text, 0);
    uint64_t h = fnv1a(srv->text.p, srv->text.len, 1469598103934665603ull);
    buf_lit(b, "{\"values\":");
    emb_vector(srv, b, h, dims, false);
    buf_putc(b, '}');
    return true;
}

void h_gm_embed(struct req *r)
{
    struct buf *b = body_reset(r->srv);
    rec_model(r, r->pmodel);
    if (r->op == OP_EMBED) {
        buf_lit(b, "{\"embedding\":");
        if (!gm_embed_one(r, r->json, b))
            return;
        buf_putc(b, '}');
        send_body(r, 200, "application/json; charset=UTF-8", NULL);
        return;
    }
    json_object *reqs = jarr(r->json, "requests");
    if (!jlen(reqs)) {
        reply_error(r, 400, "* BatchEmbedContentsRequest.requests: requests is not specified",
                    false);
        return;
    }
    char want[600];
    snprintf(want, sizeof want, "models/%s", r->pmodel);
    buf_lit(b, "{\"embeddings\":[");
    for (size_t i = 0; i < jlen(reqs); i++) {
        json_object *q = json_object_array_get_idx(reqs, i);
        const char *m = jstr(q, "model");
        if (r->d.strict && (!m || strcmp(m, want))) {
            reply_errorf(r, 400,
                         "* BatchEmbedContentsRequest.requests[%zu].model: model must be \"%s\"", i,
                         want);
            return;
        }
        if (i)
            buf_putc(b, ',');
        if (!gm_embed_one(r, q, b))
            return;
    }
    buf_lit(b, "]}");
    send_body(r, 200, "application/json; charset=UTF-8", NULL);
}

/* Why the assertion fails the checks Google makes, or NULL when it passes them. */
static const char *vx_check_jwt(struct req *r, const char *jwt)
{
    struct vertex *vx = &r->srv->vx;
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || strchr(d2 + 1, '.'))
        return "the assertion is not a JWS";
    if (!vx->pub)
        return "no service account is known (POST /_mock/vertex a public_key)";
    json_object *h = jwt_part(jwt, (size_t)(d1 - jwt));
    json_object *c = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *why = NULL;
    unsigned char sig[1024];
    long sl = b64url_dec(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const struct hdr *host = hfind(r, "host");
    char aud[300];
    snprintf(aud, sizeof aud, "http://%.*s/token", host ? (int)host->val_len : 0,
             host ? host->val : "");
    int64_t now = (int64_t)time(NULL), iat = jint(c, "iat", 0), exp = jint(c, "exp", 0);
    const char *scope = jstr(c, "scope");
    if (!h || !c)
        why = "the JWT header or claims are not JSON";
    else if (!jstr(h, "alg") || strcmp(jstr(h, "alg"), "RS256"))
        why = "alg must be RS256";
    else if (sl <= 0 || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, vx->pub) != 1 ||
             EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)jwt,
                              (size_t)(d2 - jwt)) != 1)
        why = "Invalid JWT Signature.";
    else if (!jstr(c, "iss") || !jstr(c, "iss")[0])
        why = "the JWT has no iss";
    else if (!scope || !strstr(scope, "https://www.googleapis.com/auth/cloud-platform"))
        why = "the JWT's scope lacks cloud-platform";
    else if (!jstr(c, "aud") || strcmp(jstr(c, "aud"), aud))
        why = "the JWT's aud is not this token endpoint";
    else if (iat > now + 300 || iat < now - 300)
        why = "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.";
    else if (exp <= now || exp - iat > 3600)
        why = "Invalid JWT: exp must be after now and at most an hour after iat.";
    EVP_MD_CTX_free(md);
    json_object_put(h);
    json_object_put(c);
    return why;
}

/* POST /token: grant_type jwt-bearer with the service account's signed assertion, form
 * encoded, answered with an access token the Vertex routes then accept. */
void h_vx_token(struct req *r)
{
    struct vertex *vx = &r->srv->vx;
    char grant[128] = "", *form = xstrndup(r->body ? r->body : "", r->body_len);
    size_t cap = r->body_len + 1;
    char *jwt = xrealloc(NULL, cap);
    jwt[0] = '\0';
    query_param(form, "grant_type", grant, sizeof grant);
    query_param(form, "assertion", jwt, cap);
    const char *why = NULL;
    if (strcmp(r->method, "POST"))
        why = "use POST";
    else if (strcmp(grant, "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") &&
             strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer"))
        why = "grant_type must be jwt-bearer";
    else
        why = vx_check_jwt(r, jwt);
    struct buf *b = body_reset(r->srv);
    if (why) {
        vx->refused++;
        buf_lit(b, "{\"error\":\"invalid_grant\",\"error_description\":");
        buf_jstrz(b, why);
        buf_putc(b, '}');
        send_body(r, 400, "application/json; charset=utf-8", NULL);
    } else {
        size_t i = vx->issued++ % VX_MAX_TOKENS;
        snprintf(vx->tokens[i], sizeof vx->tokens[i], "ya29.mock-%" PRIu64 "-%08" PRIx64,
                 vx->issued, mix64(vx->issued ^ (uint64_t)r->now) & 0xffffffffu);
        vx->expires[i] = time(NULL) + vx->expires_in;
        vx->exchanges++;
        buf_lit(b, "{\"access_token\":");
        buf_jstrz(b, vx->tokens[i]);
        buf_fmt(b, ",\"expires_in\":%d,\"token_type\":\"Bearer\"}", vx->expires_in);
        send_body(r, 200, "application/json; charset=utf-8", NULL);
    }
    free(form);
    free(jwt);
}

/* True when the Vertex call carries `Authorization: Bearer <a token issued and not expired>`;
 * otherwise answers Google's 401. */
bool vx_authorized(struct req *r)
{
    struct vertex *vx = &r->srv->vx;
    const struct hdr *h = hfind(r, "authorization");
    time_t now = time(NULL);
    if (h && h->val_len > 7 && !strncmp(h->val, "Bearer ", 7))
        for (size_t i = 0; i < VX_MAX_TOKENS && i < vx->issued; i++)
            if (vx->expires[i] > now && strlen(vx->tokens[i]) == h->val_len - 7 &&
                !memcmp(vx->tokens[i], h->val + 7, h->val_len - 7))
                return true;
    vx->unauthorized++;
    struct buf *b = body_reset(r->srv);
    buf_lit(b, "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication "
               "credentials. Expected OAuth 2 access token, login cookie or other valid "
               "authentication credential.\",\"status\":\"UNAUTHENTICATED\"}}");
    send_body(r, 401, "application/json; charset=UTF-8", NULL);
    return false;
}

/* /_mock/vertex: POST {"public_key": PEM, "expires_in": N} sets the service account and the
 * lifetime of the next tokens; GET reports the counters; DELETE zeroes them. */
void ctl_vertex(struct req *r)
{
    struct vertex *vx = &r->srv->vx;
    if (!strcmp(r->method, "POST")) {
        json_object *o = json_tokener_parse(r->body_len ? r->body : "{}");
        const char *pem = jstr(o, "public_key");
        int64_t exp = jint(o, "expires_in", 0);
        if (pem) {
            BIO *bio = BIO_new_mem_buf(pem, -1);
            EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
            BIO_free(bio);
            if (!k) {
                json_object_put(o);
                ctl_msg(r, 400, "public_key is not a PEM public key");
                return;
            }
            EVP_PKEY_free(vx->pub);
            vx->pub = k;
        }
        if (exp > 0)
            vx->expires_in = (int)exp;
        json_object_put(o);
    } else if (!strcmp(r->method, "DELETE")) {
        vx->exchanges = vx->refused = vx->unauthorized = 0;
    } else if (strcmp(r->method, "GET")) {
        ctl_msg(r, 405, "use GET, POST or DELETE");
        return;
    }
    struct buf *b = body_reset(r->srv);
    buf_fmt(b,
            "{\"exchanges\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"unauthorized\":%" PRIu64
            ",\"expires_in\":%d,\"has_key\":%s}",
            vx->exchanges, vx->refused, vx->unauthorized, vx->expires_in,
            vx->pub ? "true" : "false");
    send_body(r, 200, "application/json", NULL);
}
