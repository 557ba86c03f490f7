/* Checks providers/vertex.c: the service-account JWT and its exchange, URLs, headers and
 * bodies for Gemini and Claude models, and answers and errors read through the inner
 * adaptors. */
#include "config.h"

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "providers/vertex.h"
#include "prov_fixture.h"

/* The gateway clock the tests assume. */
#define CREATED 1730000000

/* A test-only service account: a fresh RSA key, never a real one. */
struct account {
    EVP_PKEY *key;
    char *pem;  /* PKCS#8 PEM of the private key, heap */
    char *json; /* the service account's JSON key, heap */
};

static void account_init(struct account *sa, const char *token_uri)
{
    sa->key = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, sa->key, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    sa->pem = strndup(p, (size_t)n);
    BIO_free(bio);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "project_id", json_object_new_string("proj-1"));
    json_object_object_add(o, "private_key_id", json_object_new_string("kid123"));
    json_object_object_add(o, "private_key", json_object_new_string(sa->pem));
    json_object_object_add(o, "client_email",
                           json_object_new_string("gw@proj-1.iam.gserviceaccount.com"));
    if (token_uri)
        json_object_object_add(o, "token_uri", json_object_new_string(token_uri));
    sa->json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void account_fini(struct account *sa)
{
    EVP_PKEY_free(sa->key);
    free(sa->pem);
    free(sa->json);
}

/* A Vertex AI channel (type 42); the token is what the credential cache holds. */
static const struct prov_fixture_spec VERTEX = {
    .prov = &provider_vertex,
    .ch = {.id = 42, .type = 42, .key = "", .base_url = "", .is_default_base = 1},
    .created = CREATED,
    .credential = "ya29.test-token",
};

/* A Vertex call for req_json, streaming as told, on a channel with config {region, project,
 * adc} where adc is sa's JSON ("" without sa). */
static void fixture_init(struct prov_fixture *f, const struct account *sa, const char *req_json,
                         int is_stream)
{
    json_object *cfg = json_object_new_object();

    prov_fixture_init(f, &VERTEX, RELAY_CHAT, NULL, req_json);
    json_object_object_add(cfg, "region", json_object_new_string("us-east5"));
    json_object_object_add(cfg, "vertex_ai_project_id", json_object_new_string("proj-1"));
    json_object_object_add(cfg, "vertex_ai_adc", json_object_new_string(sa ? sa->json : ""));
    f->ch.config = arena_strdup(f->a, json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN));
    json_object_put(cfg);
    f->ctx.is_stream = is_stream;
}

/* The base64url segment [p, p + n) decoded as JSON (a new reference), or NULL. */
static json_object *segment(const char *p, size_t n)
{
    unsigned char buf[4096];
    long len = b64_decode(p, n, buf, sizeof buf - 1, 0);
    if (len < 0)
        return NULL;
    buf[len] = '\0';
    return json_tokener_parse((const char *)buf);
}

static void test_credential(void)
{
    struct account sa;
    account_init(&sa, "https://oauth2.example.test/token");
    struct prov_fixture f;
    fixture_init(&f, &sa, "{\"model\":\"gemini-1.5-pro-002\",\"messages\":[]}", 0);
    f.ctx.credential = NULL;
    struct prov_cred cred = {0};
    ok(provider_vertex.credential != NULL && provider_vertex.credential_parse != NULL,
       "credential: the adaptor has a credential operation and its parser");
    is_int(provider_vertex.credential(&f.ctx, &cred, &f.err), 0, "credential: described");
    is_str(cred.req.url, "https://oauth2.example.test/token", "credential: POST to token_uri");
    is_str(prov_fixture_header(&cred.req, "Content-Type"), "application/x-www-form-urlencoded",
           "credential: form-encoded");
    const char *pre = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    ok(cred.req.body && !strncmp(cred.req.body, pre, strlen(pre)),
       "credential: grant_type jwt-bearer and the assertion");
    const char *jwt = cred.req.body ? cred.req.body + strlen(pre) : "";
    const char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    ok(dot1 && dot2 && !strchr(dot2 + 1, '.'), "credential: the assertion is a JWS in 3 parts");
    if (dot1 && dot2) {
        json_object *h = segment(jwt, (size_t)(dot1 - jwt));
        json_object *c = segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
        is_str(jstr(h, "alg"), "RS256", "jwt: alg RS256");
        is_str(jstr(h, "kid"), "kid123", "jwt: kid is the private_key_id");
        is_str(jstr(c, "iss"), "gw@proj-1.iam.gserviceaccount.com", "jwt: iss is client_email");
        is_str(jstr(c, "scope"), "https://www.googleapis.com/auth/cloud-platform",
               "jwt: scope cloud-platform");
        is_str(jstr(c, "aud"), "https://oauth2.example.test/token", "jwt: aud is token_uri");
        is_int(jint(c, "iat"), CREATED, "jwt: iat is now");
        is_int(jint(c, "exp"), CREATED + 3600, "jwt: exp one hour later");
        json_object_put(h);
        json_object_put(c);
        unsigned char sig[1024];
        long sl = b64_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof sig, 0);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int good = sl > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, sa.key) == 1 &&
                   EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)jwt,
                                    (size_t)(dot2 - jwt)) == 1;
        EVP_MD_CTX_free(md);
        ok(good, "jwt: the RS256 signature verifies with the account's public key");
        /* A changed claim must not verify. */
        char *bad = strdup(jwt);
        bad[dot1 - jwt + 2] ^= 1;
        md = EVP_MD_CTX_new();
        good = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, sa.key) == 1 &&
               EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)bad,
                                (size_t)(dot2 - jwt)) == 1;
        EVP_MD_CTX_free(md);
        free(bad);
        ok(!good, "jwt: the signature covers the claims");
    }
    prov_fixture_free(&f);

    /* No token_uri: Google's; a broken key: a channel error. */
    struct account sb;
    account_init(&sb, NULL);
    fixture_init(&f, &sb, "{\"model\":\"gemini-pro\",\"messages\":[]}", 0);
    memset(&cred, 0, sizeof cred);
    provider_vertex.credential(&f.ctx, &cred, &f.err);
    is_str(cred.req.url, "https://oauth2.googleapis.com/token",
           "credential: Google's token endpoint by default");
    prov_fixture_free(&f);
    fixture_init(&f, NULL, "{\"model\":\"gemini-pro\",\"messages\":[]}", 0);
    f.ch.config = "{\"region\":\"us-east5\",\"vertex_ai_project_id\":\"p\",\"vertex_ai_adc\":"
                  "\"{\\\"client_email\\\":\\\"a@b\\\",\\\"private_key\\\":\\\"nope\\\"}\"}";
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_vertex.credential(&f.ctx, &cred, &f.err), -1, "credential: a bad key fails");
    is_int(f.err.status, 500, "credential: ... with 500");
    is_str(f.err.code, "convert_request_failed", "credential: ... convert_request_failed");
    prov_fixture_free(&f);
    account_fini(&sa);
    account_fini(&sb);
}

static void test_credential_parse(void)
{
    struct prov_fixture f;
    fixture_init(&f, NULL, "{\"model\":\"gemini-pro\"}", 0);
    struct prov_cred cred = {0};
    const char *ok_body = "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,"
                          "\"token_type\":\"Bearer\"}";
    is_int(provider_vertex.credential_parse(&f.ctx, 200, ok_body, strlen(ok_body), &cred, &f.err),
           0, "token answer: read");
    is_str(cred.token, "ya29.abc", "token answer: access_token");
    is_int(cred.expires_at, CREATED + 3599, "token answer: expires_at = now + expires_in");

    const char *huge = "{\"access_token\":\"t\",\"expires_in\":9223372036854775807}";
    is_int(provider_vertex.credential_parse(&f.ctx, 200, huge, strlen(huge), &cred, &f.err), 0,
           "token answer with an absurd lifetime: read");
    is_int(cred.expires_at, CREATED + 86400, "token answer with an absurd lifetime: a day at most");
    const char *neg = "{\"access_token\":\"t\",\"expires_in\":-5}";
    provider_vertex.credential_parse(&f.ctx, 200, neg, strlen(neg), &cred, &f.err);
    is_int(cred.expires_at, CREATED + 3600, "token answer with a negative lifetime: an hour");

    const char *bad =
        "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}";
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_vertex.credential_parse(&f.ctx, 401, bad, strlen(bad), &cred, &f.err), -1,
           "token refused: an error");
    is_int(f.err.status, 401, "token refused: the endpoint's status");
    is_str(f.err.type, "authentication_error", "token refused 401: counts toward auto-disable");
    ok(f.err.message && strstr(f.err.message, "Invalid JWT Signature."),
       "token refused: the endpoint's description in the message");
    memset(&f.err, 0, sizeof f.err);
    provider_vertex.credential_parse(&f.ctx, 400, bad, strlen(bad), &cred, &f.err);
    ok(f.err.status == 400 && !strcmp(f.err.type, "authentication_error"),
       "token refused 400 invalid_grant (Google's answer to a bad signature): the key is bad");
    const char *denied = "{\"error\":{\"code\":403,\"message\":\"denied\"}}";
    memset(&f.err, 0, sizeof f.err);
    provider_vertex.credential_parse(&f.ctx, 403, denied, strlen(denied), &cred, &f.err);
    ok(!strcmp(f.err.type, "permission_error") && strstr(f.err.message, "denied"),
       "token refused 403: permission_error, counts toward auto-disable");
    const char *busy = "{\"error\":\"temporarily_unavailable\"}";
    memset(&f.err, 0, sizeof f.err);
    provider_vertex.credential_parse(&f.ctx, 503, busy, strlen(busy), &cred, &f.err);
    ok(f.err.status == 503 && !strcmp(f.err.type, "upstream_error"),
       "token endpoint 503: a passing upstream error");
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_vertex.credential_parse(&f.ctx, 200, "{}", 2, &cred, &f.err), -1,
           "token answer without access_token: an error");
    is_int(f.err.status, 500, "token answer without access_token: 500");
    prov_fixture_free(&f);
}

static void test_gemini(void)
{
    struct account sa;
    account_init(&sa, NULL);
    struct prov_fixture f;
    /* The Gemini request vector: the body is Gemini's, the URL and auth Vertex's. */
    const char *vec = "{\"model\":\"gemini-1.5-flash-002\",\"messages\":[{\"role\":\"system\","
                      "\"content\":\"Answer briefly.\"},{\"role\":\"user\",\"content\":\"Say "
                      "hello\"}],\"max_tokens\":50,\"temperature\":0.5}";
    fixture_init(&f, &sa, vec, 0);
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), 0, "gemini: built");
    is_str(f.rq.url,
           "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5/"
           "publishers/google/models/gemini-1.5-flash-002:generateContent",
           "gemini: the regional publisher URL, generateContent");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer ya29.test-token",
           "gemini: the access token as a Bearer token");
    ok(!prov_fixture_header(&f.rq, "x-goog-api-key"), "gemini: no API key header");
    json_object *gb = json_tokener_parse(f.rq.body);
    is_str(jstr(json_object_array_get_idx(jget(jget(gb, "systemInstruction"), "parts"), 0), "text"),
           "Answer briefly.", "gemini: system -> systemInstruction (Gemini's conversion)");
    is_int(jint(jget(gb, "generationConfig"), "maxOutputTokens"), 50,
           "gemini: max_tokens -> generationConfig.maxOutputTokens");
    json_object_put(gb);
    prov_fixture_free(&f);

    fixture_init(&f, &sa, vec, 1);
    f.ch.base_url = "http://127.0.0.1:9";
    f.ch.is_default_base = 0;
    provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err);
    is_str(f.rq.url,
           "http://127.0.0.1:9/v1/projects/proj-1/locations/us-east5/publishers/google/models/"
           "gemini-1.5-flash-002:streamGenerateContent?alt=sse",
           "gemini stream: the channel's base URL, streamGenerateContent?alt=sse");

    /* Gemini's answer read by the Gemini adaptor. */
    const char *ans = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello!\"}],\"role\":"
                      "\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
                      "\"promptTokenCount\":8,\"candidatesTokenCount\":2,\"totalTokenCount\":10}}";
    f.ctx.is_stream = 0;
    is_int(provider_parse_response(&provider_vertex, &f.ctx, ans, strlen(ans), &f.out, &f.err), 0,
           "gemini answer: read");
    ok(strstr(f.out.p, "\"content\":\"Hello!\"") && f.ctx.usage.has_usage &&
           f.ctx.usage.prompt_tokens == 8 && f.ctx.usage.completion_tokens == 2,
       "gemini answer: text and usageMetadata");
    prov_fixture_free(&f);

    /* The key form `region|project|adc` when the config has none. */
    fixture_init(&f, NULL, vec, 0);
    f.ch.config = "";
    f.ch.key = "europe-west4|proj-2|{}";
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), 0, "key form: built");
    is_str(f.rq.url,
           "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-2/locations/"
           "europe-west4/publishers/google/models/gemini-1.5-flash-002:generateContent",
           "key form: region and project from region|project|adc");
    prov_fixture_free(&f);
    account_fini(&sa);
}

/* The Gemini vectors through Vertex: the same body and answer, Vertex's URL and auth. */
static void test_gemini_vector(void)
{
    struct prov_fixture f;
    fixture_init(&f, NULL,
                 "{\"model\": \"gemini-2.0-flash\", \"messages\": [{\"role\": \"system\", "
                 "\"content\": \"Be concise.\"}, {\"role\": \"user\", \"content\": \"Capital of "
                 "France?\"}], \"max_tokens\": 64, \"temperature\": 0.1}",
                 0);
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), 0,
           "gemini vector: built");
    is_str(f.rq.url,
           "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5/"
           "publishers/google/models/gemini-2.0-flash:generateContent",
           "gemini vector: Vertex's URL");
    ok(prov_fixture_json_eq(
           f.rq.body,
           "{\"systemInstruction\": {\"parts\": [{\"text\": \"Be concise.\"}]}, \"contents\": "
           "[{\"role\": \"user\", \"parts\": [{\"text\": \"Capital of France?\"}]}], "
           "\"generationConfig\": {\"temperature\": 0.1, \"maxOutputTokens\": 64}, "
           "\"safetySettings\": [{\"category\": \"HARM_CATEGORY_HARASSMENT\", "
           "\"threshold\": \"BLOCK_NONE\"}, {\"category\": \"HARM_CATEGORY_HATE_SPEECH\", "
           "\"threshold\": \"BLOCK_NONE\"}, {\"category\": "
           "\"HARM_CATEGORY_SEXUALLY_EXPLICIT\", \"threshold\": \"BLOCK_NONE\"}, "
           "{\"category\": \"HARM_CATEGORY_DANGEROUS_CONTENT\", \"threshold\": "
           "\"BLOCK_NONE\"}, {\"category\": \"HARM_CATEGORY_CIVIC_INTEGRITY\", "
           "\"threshold\": \"BLOCK_NONE\"}]}"),
       "gemini vector: the expected body");
    const char *ans = "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Paris.\"}], "
                      "\"role\": \"model\"}, \"finishReason\": \"STOP\", \"index\": 0}], "
                      "\"usageMetadata\": {\"promptTokenCount\": 8, \"candidatesTokenCount\": 2, "
                      "\"totalTokenCount\": 10}, \"modelVersion\": \"gemini-2.0-flash\"}";
    is_int(provider_parse_response(&provider_vertex, &f.ctx, ans, strlen(ans), &f.out, &f.err), 0,
           "gemini vector answer: read");
    json_object *o = json_tokener_parse(f.out.p);
    json_object_object_del(o, "id"); /* chatcmpl-<request id> */
    ok(prov_fixture_json_eq(
           json_object_to_json_string(o),
           "{\"object\": \"chat.completion\", \"created\": 1730000000, \"model\": "
           "\"gemini-2.0-flash\", \"choices\": [{\"index\": 0, \"message\": {\"role\": "
           "\"assistant\", \"content\": \"Paris.\"}, \"finish_reason\": \"stop\"}], "
           "\"usage\": {\"prompt_tokens\": 8, \"completion_tokens\": 2, \"total_tokens\": "
           "10}}"),
       "gemini vector answer: the expected chat.completion");
    json_object_put(o);
    prov_fixture_free(&f);
}

static void test_claude(void)
{
    struct account sa;
    account_init(&sa, NULL);
    struct prov_fixture f;
    /* The Anthropic request vector, on Vertex. */
    fixture_init(&f, &sa,
                 "{\"model\": \"claude-3-5-haiku@20241022\", \"messages\": [{\"role\": "
                 "\"system\", \"content\": \"Answer briefly.\"}, {\"role\": \"user\", "
                 "\"content\": \"Say hello\"}], \"max_tokens\": 50, \"temperature\": 0.5, "
                 "\"stop\": [\"###\"]}",
                 0);
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), 0, "claude: built");
    is_str(f.rq.url,
           "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5/"
           "publishers/anthropic/models/claude-3-5-haiku@20241022:rawPredict",
           "claude: the anthropic publisher URL, rawPredict");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer ya29.test-token",
           "claude: Bearer token");
    ok(!prov_fixture_header(&f.rq, "x-api-key") && !prov_fixture_header(&f.rq, "anthropic-version"),
       "claude: no Anthropic key or version header");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"anthropic_version\": \"vertex-2023-10-16\", \"system\": \"Answer "
                            "briefly.\", \"max_tokens\": 50, \"temperature\": 0.5, "
                            "\"stop_sequences\": [\"###\"], \"messages\": [{\"role\": \"user\", "
                            "\"content\": [{\"type\": \"text\", \"text\": \"Say hello\"}]}]}"),
       "claude: the Anthropic vector's body without model, with anthropic_version");

    /* The Anthropic answer vector. */
    const char *ans = "{\"id\": \"msg_01HELLO\", \"type\": \"message\", \"role\": \"assistant\", "
                      "\"model\": \"claude-3-5-haiku-20241022\", \"content\": [{\"type\": "
                      "\"text\", \"text\": \"Hello!\"}], \"stop_reason\": \"end_turn\", "
                      "\"stop_sequence\": null, \"usage\": {\"input_tokens\": 14, "
                      "\"output_tokens\": 4}}";
    is_int(provider_parse_response(&provider_vertex, &f.ctx, ans, strlen(ans), &f.out, &f.err), 0,
           "claude answer: read");
    json_object *o = json_tokener_parse(f.out.p);
    is_str(jstr(o, "id"), "chatcmpl-msg_01HELLO", "claude answer: id");
    is_str(jstr(json_object_array_get_idx(jget(o, "choices"), 0), "finish_reason"), "stop",
           "claude answer: end_turn -> stop");
    is_int(jint(jget(o, "usage"), "total_tokens"), 18, "claude answer: usage 14 + 4");
    json_object_put(o);
    prov_fixture_free(&f);

    fixture_init(&f, &sa,
                 "{\"model\":\"claude-3-5-sonnet-v2@20241022\",\"stream\":true,\"messages\":[{"
                 "\"role\":\"user\",\"content\":\"hi\"}]}",
                 1);
    provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err);
    ok(f.rq.url && strstr(f.rq.url, "/publishers/anthropic/models/claude-3-5-sonnet-v2@20241022:"
                                    "streamRawPredict?alt=sse"),
       "claude stream: streamRawPredict?alt=sse");
    json_object *b = json_tokener_parse(f.rq.body);
    ok(json_object_get_boolean(jget(b, "stream")) && !jget(b, "model"),
       "claude stream: stream true, no model");
    json_object_put(b);
    /* A stream read by the Claude adaptor: usage from message_start and message_delta. */
    const char *ev[][2] = {
        {"message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":"
                          "\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],"
                          "\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}"},
        {"content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                                "{\"type\":\"text\",\"text\":\"\"}}"},
        {"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
                                "\"type\":\"text_delta\",\"text\":\"Hi\"}}"},
        {"message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                          "\"usage\":{\"output_tokens\":5}}"},
        {"message_stop", "{\"type\":\"message_stop\"}"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof ev / sizeof *ev; i++)
        rc |= provider_parse_event(&provider_vertex, &f.ctx, ev[i][0], ev[i][1], strlen(ev[i][1]),
                                   &f.out, &f.err);
    ok(rc == 0 && f.ctx.finished && strstr(f.out.p, "\"content\":\"Hi\""),
       "claude stream: events become OpenAI chunks");
    is_int(f.ctx.usage.prompt_tokens * 100 + f.ctx.usage.completion_tokens, 905,
           "claude stream: usage input 9, output 5");
    prov_fixture_free(&f);
    account_fini(&sa);
}

static void test_refusals(void)
{
    struct prov_fixture f;
    fixture_init(&f, NULL, "{\"model\":\"llama-3\",\"messages\":[]}", 0);
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), -1,
           "unknown model: refused");
    ok(f.err.status == 500 && !strcmp(f.err.code, "convert_request_failed") &&
           !strcmp(f.err.message, "adaptor not found"),
       "unknown model: 500 convert_request_failed, adaptor not found");
    prov_fixture_free(&f);

    fixture_init(&f, NULL, "{\"model\":\"gemini-pro\",\"input\":\"x\"}", 0);
    f.ctx.mode = RELAY_EMBEDDINGS;
    memset(&f.err, 0, sizeof f.err);
    provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err);
    is_int(f.err.status, 400, "embeddings: refused with 400");
    prov_fixture_free(&f);

    fixture_init(&f, NULL, "{\"model\":\"gemini-pro\",\"messages\":[]}", 0);
    f.ch.config = "{\"region\":\"us/../x\",\"vertex_ai_project_id\":\"p\"}";
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), -1,
           "a region that is no region name: refused");
    f.ch.config = "{\"region\":\"us-east5\",\"vertex_ai_project_id\":\"p\"}";
    f.ctx.credential = NULL;
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), -1,
           "no access token: refused");
    f.ctx.credential = "tok\r\nX-Evil: 1";
    is_int(provider_build_request(&provider_vertex, &f.ctx, &f.rq, &f.err), -1,
           "a token with a line break: refused");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *ex = "{\"error\":{\"code\":429,\"message\":\"Quota exceeded for "
                     "aiplatform.googleapis.com/generate_content_requests_per_minute\","
                     "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    fixture_init(&f, NULL, "{\"model\":\"claude-3-5-haiku@20241022\",\"messages\":[]}", 0);
    provider_parse_error(&provider_vertex, &f.ctx, 429, ex, strlen(ex), &f.err);
    ok(f.err.status == 429 && !strcmp(f.err.type, "RESOURCE_EXHAUSTED") &&
           strstr(f.err.message, "Quota exceeded"),
       "429 RESOURCE_EXHAUSTED (claude model): 429, Google's status as type, its message");
    memset(&f.err, 0, sizeof f.err);
    const char *an = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                     "\"Overloaded\"}}";
    provider_parse_error(&provider_vertex, &f.ctx, 529, an, strlen(an), &f.err);
    ok(f.err.status == 529 && !strcmp(f.err.type, "overloaded_error"),
       "an Anthropic error of a claude model: read as Anthropic's");
    prov_fixture_free(&f);
    fixture_init(&f, NULL, "{\"model\":\"gemini-pro\",\"messages\":[]}", 0);
    memset(&f.err, 0, sizeof f.err);
    provider_parse_error(&provider_vertex, &f.ctx, 429, ex, strlen(ex), &f.err);
    ok(f.err.status == 429 && !strcmp(f.err.type, "RESOURCE_EXHAUSTED"),
       "429 RESOURCE_EXHAUSTED (gemini model): 429 RESOURCE_EXHAUSTED");
    prov_fixture_free(&f);
}

static void test_registry(void)
{
    const struct channel_type *t = channel_type_get(42);
    ok(t && t->prov == &provider_vertex, "registry: type 42 is served by the Vertex adaptor");
}

int main(void)
{
    test_credential();
    test_credential_parse();
    test_gemini();
    test_gemini_vector();
    test_claude();
    test_refusals();
    test_errors();
    test_registry();
    return done_testing();
}
