/* Checks providers/tc3.c and providers/tencent.c: the TC3-HMAC-SHA256 vectors (Tencent's own
 * documentation example and the Hunyuan chat, stream and embedding signatures), the requests
 * the adaptor builds with a frozen clock, and the Hunyuan answers, stream and errors. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"
#include "providers/tc3.h"
#include "providers/tencent.h"
#include "tap.h"

/* Tencent's documentation example credentials. */
#define SECRET_ID "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define SECRET_KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define CHANNEL_KEY "1250000000|" SECRET_ID "|" SECRET_KEY
#define HOST "hunyuan.tencentcloudapi.com"
#define MAX_FRAMES 32

#define T2_PAYLOAD                                                                                 \
    "{\"Model\":\"hunyuan-lite\",\"Messages\":[{\"Role\":\"user\",\"Content\":\"Hello\"}],"        \
    "\"Stream\":false}"
#define T2_AUTH                                                                                    \
    "TC3-HMAC-SHA256 Credential=" SECRET_ID "/2023-11-14/hunyuan/tc3_request, "                    \
    "SignedHeaders=content-type;host;x-tc-action, "                                                \
    "Signature=1449b9054003d25516d431a02c561f76c6e0f3bcf99ea525eedd01ce95272146"
#define T3_PAYLOAD                                                                                      \
    "{\"Model\":\"hunyuan-standard\",\"Messages\":[{\"Role\":\"system\",\"Content\":"                   \
    "\"你是一个助手\"},{\"Role\":\"user\",\"Content\":\"你好\"}],\"Stream\":true,\"TopP\":0.8," \
    "\"Temperature\":0.5}"
#define T3_AUTH                                                                                    \
    "TC3-HMAC-SHA256 Credential=" SECRET_ID "/2019-02-25/hunyuan/tc3_request, "                    \
    "SignedHeaders=content-type;host;x-tc-action, "                                                \
    "Signature=f9094fbf60c126893eebecc0b47e07c57d58fec3f8c02df5dd6073fda648db21"
#define NOTE "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"

struct fixture {
    struct arena *a;
    struct prov_channel ch;
    struct prov_ctx ctx;
    struct json_object *req; /* owned */
};

static void fixture_init(struct fixture *f, enum relay_mode mode, const char *req_json,
                         int64_t created)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(8192);
    f->ch.id = 23;
    f->ch.type = 23;
    f->ch.key = CHANNEL_KEY;
    f->ch.base_url = "https://" HOST;
    f->ch.is_default_base = 1;
    f->ch.api_version = "";
    f->ch.config = "";
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = mode;
    f->ctx.ch = &f->ch;
    f->ctx.req = f->req;
    f->ctx.is_stream = json_object_get_boolean(json_object_object_get(f->req, "stream"));
    f->ctx.request_id = "req123";
    f->ctx.created = created;
    const char *m = json_object_get_string(json_object_object_get(f->req, "model"));
    f->ctx.model = arena_strdup(f->a, m ? m : "");
    f->ctx.origin_model = f->ctx.model;
    sb_init(&f->ctx.text, f->a);
}

static void fixture_fini(struct fixture *f)
{
    json_object_put(f->req);
    arena_free(f->a);
}

/* The value of header name ("Name: value") in rq, or NULL. */
static const char *header(const struct prov_request *rq, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < rq->n_headers; i++)
        if (!strncmp(rq->headers[i], name, n) && rq->headers[i][n] == ':')
            return rq->headers[i] + n + 2;
    return NULL;
}

/* Splits "data: X\n\n" frames into fr (at most MAX_FRAMES); the count, or -1 when malformed. */
static int split_frames(struct arena *a, const char *s, json_object **fr)
{
    int n = 0;
    while (s && *s) {
        if (strncmp(s, "data: ", 6) != 0 || n == MAX_FRAMES)
            return -1;
        s += 6;
        const char *end = strstr(s, "\n\n");
        if (!end)
            return -1;
        fr[n++] = jown(a, json_tokener_parse(arena_strndup(a, s, (size_t)(end - s))));
        s = end + 2;
    }
    return n;
}

/* Path lookups into a parsed chunk: choices[0].<a>.<b> as a string. */
static const char *choice_str(json_object *chunk, const char *a, const char *b)
{
    json_object *c = json_object_array_get_idx(json_object_object_get(chunk, "choices"), 0);
    json_object *v = json_object_object_get(c, a);
    if (b)
        v = json_object_object_get(v, b);
    return v ? json_object_get_string(v) : NULL;
}

/* --- TC3 vectors --- */

static void test_tv_t0(void)
{
    static const char payload[] =
        "{\"Limit\": 1, \"Filters\": [{\"Values\": [\"\\u672a\\u547d\\u540d\"], \"Name\": "
        "\"instance-name\"}]}";
    struct tc3_input in = {SECRET_ID,
                           SECRET_KEY,
                           "cvm",
                           "cvm.tencentcloudapi.com",
                           NULL,
                           "application/json; charset=utf-8",
                           1551113065,
                           payload,
                           sizeof payload - 1};
    char sig[65];
    tc3_signature(&in, sig);
    is_str(sig, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
           "TV-T0: Tencent's documented signature (content-type;host only)");
}

static void test_tv_t2_t3_t4(void)
{
    struct arena *a = arena_new(1024);
    struct tc3_input in = {SECRET_ID,  SECRET_KEY,        "hunyuan",
                           HOST,       "ChatCompletions", "application/json",
                           1700000000, T2_PAYLOAD,        sizeof T2_PAYLOAD - 1};
    char sig[65];
    tc3_signature(&in, sig);
    is_str(sig, "1449b9054003d25516d431a02c561f76c6e0f3bcf99ea525eedd01ce95272146",
           "TV-T2: chat signature");
    is_str(tc3_authorization(a, &in), T2_AUTH, "TV-T2: Authorization header value");

    in.timestamp = 1551113065;
    in.body = T3_PAYLOAD;
    in.body_len = sizeof T3_PAYLOAD - 1;
    is_int(in.body_len, 168, "TV-T3: the payload is 168 UTF-8 bytes");
    tc3_signature(&in, sig);
    is_str(sig, "f9094fbf60c126893eebecc0b47e07c57d58fec3f8c02df5dd6073fda648db21",
           "TV-T3: UTF-8 body just after midnight in Beijing signs with the UTC date");
    is_str(tc3_authorization(a, &in), T3_AUTH, "TV-T3: Authorization header value");

    static const char t4[] = "{\"InputList\":[\"hello\",\"world\"]}";
    in.timestamp = 1700000000;
    in.action = "GetEmbedding";
    in.body = t4;
    in.body_len = sizeof t4 - 1;
    tc3_signature(&in, sig);
    is_str(sig, "a1aaecf6d9e5c1cd28b6517cfaf9678df82a830eb1af9ff39aeda879fd917bd4",
           "TV-T4: GetEmbedding signature (action lowercased in the canonical header)");
    arena_free(a);
}

/* --- requests --- */

static void test_request_t2(void)
{
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"Hello\"}]}",
                 1700000000);
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == 0, "15.7 request builds");
    is_str(rq.body, T2_PAYLOAD, "15.7: the body is byte-identical to TV-T2's payload");
    is_int(rq.body_len, strlen(T2_PAYLOAD), "15.7: body length");
    is_str(rq.url, "https://" HOST "/", "15.7: POST to the root of the base URL");
    is_str(header(&rq, "Authorization"), T2_AUTH, "15.7: Authorization equals TV-T2's");
    is_str(header(&rq, "Host"), HOST, "15.7: the signed host is the one sent");
    is_str(header(&rq, "Content-Type"), "application/json", "15.7: the signed Content-Type");
    is_str(header(&rq, "X-TC-Action"), "ChatCompletions", "15.7: X-TC-Action");
    is_str(header(&rq, "X-TC-Version"), "2023-09-01", "15.7: X-TC-Version");
    is_str(header(&rq, "X-TC-Timestamp"), "1700000000", "15.7: X-TC-Timestamp is the clock");
    ok(!header(&rq, "X-TC-Region"), "15.7: no region without config.region");
    fixture_fini(&f);
}

static void test_request_t3(void)
{
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-standard\",\"messages\":[{\"role\":\"system\",\"content\":"
                 "\"你是一个助手\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                 "\"你好\"}]}],\"stream\":true,\"top_p\":0.8,\"temperature\":0.5}",
                 1551113065);
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == 0, "TV-T3 request builds");
    is_str(rq.body, T3_PAYLOAD, "TV-T3: UTF-8 not escaped, TopP and Temperature kept as written");
    is_str(header(&rq, "Authorization"), T3_AUTH, "TV-T3: Authorization from the adaptor");
    fixture_fini(&f);
}

static void test_request_t4(void)
{
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    fixture_init(&f, RELAY_EMBEDDINGS,
                 "{\"model\":\"hunyuan-embedding\",\"input\":[\"hello\",\"world\"]}", 1700000000);
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == 0, "TV-T4 request builds");
    is_str(rq.body, "{\"InputList\":[\"hello\",\"world\"]}", "TV-T4: input becomes InputList");
    is_str(header(&rq, "X-TC-Action"), "GetEmbedding", "TV-T4: action");
    ok(header(&rq, "Authorization") &&
           strstr(header(&rq, "Authorization"),
                  "Signature=a1aaecf6d9e5c1cd28b6517cfaf9678df82a830eb1af9ff39aeda879fd917bd4"),
       "TV-T4: signature from the adaptor");
    fixture_fini(&f);
}

static void test_request_base_override(void)
{
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"Hello\"}]}",
                 1700000000);
    f.ch.base_url = "http://127.0.0.1:8080/hunyuan";
    f.ch.is_default_base = 0;
    f.ch.config = "{\"region\":\"ap-guangzhou\"}";
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == 0, "override request builds");
    is_str(rq.url, "http://127.0.0.1:8080/hunyuan/", "override: URL under the channel's base");
    is_str(header(&rq, "Host"), "127.0.0.1:8080", "override: Host is the base URL's");
    struct tc3_input in = {SECRET_ID,        SECRET_KEY,        "hunyuan",
                           "127.0.0.1:8080", "ChatCompletions", "application/json",
                           1700000000,       rq.body,           rq.body_len};
    is_str(header(&rq, "Authorization"), tc3_authorization(f.a, &in),
           "override: signed over the host actually sent");
    ok(strcmp(header(&rq, "Authorization"), T2_AUTH) != 0,
       "override: not the default host's signature");
    is_str(header(&rq, "X-TC-Region"), "ap-guangzhou", "config.region goes out as X-TC-Region");
    fixture_fini(&f);
}

static void test_request_refusals(void)
{
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"hunyuan-lite\",\"messages\":[]}", 1700000000);
    f.ch.key = SECRET_ID "|" SECRET_KEY;
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == -1 && err.status == 500,
       "a key without three parts is refused");
    f.ch.key = CHANNEL_KEY;
    f.ctx.mode = RELAY_IMAGES;
    memset(&err, 0, sizeof err);
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == -1 && err.status == 400,
       "image generation is refused with 400");
    f.ctx.mode = RELAY_EMBEDDINGS;
    memset(&err, 0, sizeof err);
    ok(provider_tencent.build_request(&f.ctx, &rq, &err) == -1 && err.status == 400,
       "embeddings without input are refused with 400");
    fixture_fini(&f);
}

/* --- answers --- */

static void test_t1_response(void)
{
    static const char body[] =
        "{\"Response\":{\"RequestId\":\"2f4c6e1a-8b3d-4e5f-9a0b-1c2d3e4f5a6b\",\"Note\":\"" NOTE
        "\",\"Choices\":[{\"FinishReason\":\"stop\",\"Message\":{\"Role\":\"assistant\","
        "\"Content\":\"Hello! How can I help you today?\"}}],\"Created\":1700000001,\"Id\":"
        "\"7d1e0f3a-2b4c-4d5e-8f6a-7b8c9d0e1f2a\",\"Usage\":{\"PromptTokens\":3,"
        "\"CompletionTokens\":9,\"TotalTokens\":12}}}";
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"Hello\"}]}",
                 1700000000);
    sb_init(&out, f.a);
    ok(provider_tencent.parse_response(&f.ctx, body, sizeof body - 1, &out, &err) == 0,
       "T1: the answer converts");
    json_object *j = jown(f.a, json_tokener_parse(out.p));
    is_str(choice_str(j, "message", "content"), "Hello! How can I help you today?", "T1: content");
    is_str(choice_str(j, "message", "role"), "assistant", "T1: role");
    is_str(choice_str(j, "finish_reason", NULL), "stop", "T1: finish_reason");
    is_str(json_object_get_string(json_object_object_get(j, "object")), "chat.completion",
           "T1: object");
    is_str(json_object_get_string(json_object_object_get(j, "id")),
           "chatcmpl-7d1e0f3a-2b4c-4d5e-8f6a-7b8c9d0e1f2a", "T1: id from Id");
    is_str(json_object_get_string(json_object_object_get(j, "model")), "hunyuan-lite",
           "T1: the client's model");
    json_object *u = json_object_object_get(j, "usage");
    is_int(json_object_get_int(json_object_object_get(u, "prompt_tokens")), 3, "T1: prompt");
    is_int(json_object_get_int(json_object_object_get(u, "completion_tokens")), 9,
           "T1: completion");
    is_int(json_object_get_int(json_object_object_get(u, "total_tokens")), 12, "T1: total");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 3 &&
           f.ctx.usage.completion_tokens == 9,
       "T1: usage billed as reported");
    fixture_fini(&f);
}

static void test_t2_stream(void)
{
    static const char *const events[] = {
        "{\"Note\":\"" NOTE "\",\"Choices\":[{\"FinishReason\":\"\",\"Delta\":{\"Role\":"
        "\"assistant\",\"Content\":\"Hello\"}}],\"Created\":1700000001,\"Id\":"
        "\"9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d\",\"Usage\":{\"PromptTokens\":3,"
        "\"CompletionTokens\":1,\"TotalTokens\":4}}",
        "{\"Note\":\"" NOTE "\",\"Choices\":[{\"FinishReason\":\"\",\"Delta\":{\"Role\":"
        "\"assistant\",\"Content\":\"! How can I help?\"}}],\"Created\":1700000001,\"Id\":"
        "\"9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d\",\"Usage\":{\"PromptTokens\":3,"
        "\"CompletionTokens\":6,\"TotalTokens\":9}}",
        "{\"Note\":\"" NOTE "\",\"Choices\":[{\"FinishReason\":\"stop\",\"Delta\":{\"Role\":"
        "\"assistant\",\"Content\":\"\"}}],\"Created\":1700000001,\"Id\":"
        "\"9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d\",\"Usage\":{\"PromptTokens\":3,"
        "\"CompletionTokens\":6,\"TotalTokens\":9}}",
    };
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"Hello\"}],\"stream\":true}",
                 1700000000);
    f.ctx.include_usage = 1;
    sb_init(&out, f.a);
    int rc = 0;
    for (size_t i = 0; i < 3; i++)
        rc |= provider_tencent.parse_event(&f.ctx, "", events[i], strlen(events[i]), &out, &err);
    ok(rc == 0, "T2: every event converts");
    ok(f.ctx.finished, "T2: the FinishReason event ends the stream (no [DONE] upstream)");
    ok(!strstr(out.p, "[DONE]"), "T2: the adaptor leaves [DONE] to the core");
    json_object *fr[MAX_FRAMES];
    int n = split_frames(f.a, out.p, fr);
    is_int(n, 4, "T2: three chunks and the usage chunk");
    if (n == 4) {
        is_str(choice_str(fr[0], "delta", "content"), "Hello", "T2: first chunk");
        is_str(choice_str(fr[0], "delta", "role"), "assistant", "T2: first chunk has the role");
        ok(!choice_str(fr[0], "finish_reason", NULL), "T2: first chunk not finished");
        is_str(choice_str(fr[1], "delta", "content"), "! How can I help?", "T2: second chunk");
        ok(!choice_str(fr[1], "delta", "role"), "T2: the role only once");
        is_str(choice_str(fr[2], "delta", "content"), "", "T2: last chunk empty");
        is_str(choice_str(fr[2], "finish_reason", NULL), "stop", "T2: last chunk stops");
        is_str(json_object_get_string(json_object_object_get(fr[0], "id")),
               "chatcmpl-9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "T2: chunk id from Id");
        json_object *u = json_object_object_get(fr[3], "usage");
        is_int(json_object_get_int(json_object_object_get(u, "total_tokens")), 9,
               "T2: usage chunk total");
    }
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 3 &&
           f.ctx.usage.completion_tokens == 6,
       "T2: the last cumulative Usage (3/6) is billed");
    is_str(f.ctx.text.p, "Hello! How can I help?", "T2: generated text collected");
    fixture_fini(&f);
}

static void test_stream_cut_and_filter(void)
{
    static const char ev[] = "{\"Choices\":[{\"FinishReason\":\"\",\"Delta\":{\"Content\":\"a\"}}],"
                             "\"Id\":\"x\"}";
    static const char sens[] = "{\"Choices\":[{\"FinishReason\":\"sensitive\",\"Delta\":{"
                               "\"Content\":\"\"}}],\"Id\":\"x\"}";
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"hunyuan-lite\",\"messages\":[],\"stream\":true}",
                 1700000000);
    sb_init(&out, f.a);
    provider_tencent.parse_event(&f.ctx, "", ev, sizeof ev - 1, &out, &err);
    sb_reset(&out);
    ok(provider_tencent.parse_event(&f.ctx, "", NULL, 0, &out, &err) == 0 && f.ctx.finished,
       "an upstream that closes without FinishReason is finished");
    ok(strstr(out.p, "\"finish_reason\":\"stop\"") != NULL, "... with finish_reason stop");
    fixture_fini(&f);

    fixture_init(&f, RELAY_CHAT, "{\"model\":\"hunyuan-lite\",\"messages\":[],\"stream\":true}",
                 1700000000);
    sb_init(&out, f.a);
    provider_tencent.parse_event(&f.ctx, "", sens, sizeof sens - 1, &out, &err);
    ok(strstr(out.p, "\"finish_reason\":\"content_filter\"") != NULL,
       "FinishReason sensitive becomes content_filter");
    fixture_fini(&f);
}

static void test_t3_errors(void)
{
    static const char body[] =
        "{\"Response\":{\"Error\":{\"Code\":\"AuthFailure.SignatureFailure\",\"Message\":\"The "
        "provided credentials could not be validated. Please check your signature is correct.\"},"
        "\"RequestId\":\"5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9\"}}";
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"hunyuan-lite\",\"messages\":[]}", 1700000000);
    sb_init(&out, f.a);
    ok(provider_tencent.parse_response(&f.ctx, body, sizeof body - 1, &out, &err) == -1,
       "T3: an error inside HTTP 200 is an error");
    is_int(err.status, 401, "T3: AuthFailure.* is 401");
    is_str(err.code, "AuthFailure.SignatureFailure", "T3: the code is kept");
    is_str(err.message,
           "The provided credentials could not be validated. Please check your signature is "
           "correct.",
           "T3: the message is copied");
    /* For a stream request the core hands the JSON body to parse_error with status 500. */
    memset(&err, 0, sizeof err);
    provider_tencent.parse_error(&f.ctx, 500, body, sizeof body - 1, &err);
    is_int(err.status, 401, "T3: the same body for a stream request is a 401 too");

    static const struct {
        const char *code;
        int status;
    } cases[] = {
        {"RequestLimitExceeded", 429},
        {"LimitExceeded", 429},
        {"RequestLimitExceeded.UinLimitExceeded", 429},
        {"InvalidParameterValue.Model", 400},
        {"InvalidParameter", 400},
        {"ResourceInsufficient.ChargeResourceExhaust", 403},
        {"FailedOperation.EngineServerError", 500},
        {"AuthFailureX", 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"Response\":{\"Error\":{\"Code\":\"%s\",\"Message\":\"m\"}}}",
                 cases[i].code);
        memset(&err, 0, sizeof err);
        provider_tencent.parse_response(&f.ctx, b, strlen(b), &out, &err);
        is_int(err.status, cases[i].status, "code %s maps to %d", cases[i].code, cases[i].status);
    }
    static const char mid[] = "{\"Error\":{\"Code\":\"LimitExceeded\",\"Message\":\"slow down\"}}";
    memset(&err, 0, sizeof err);
    ok(provider_tencent.parse_event(&f.ctx, "", mid, sizeof mid - 1, &out, &err) == -1 &&
           err.status == 429,
       "an error event inside a stream fails it");
    fixture_fini(&f);
}

static void test_odd_shapes(void)
{
    static const char *const bodies[] = {
        "{\"Response\":{\"Choices\":{\"Message\":{}},\"Id\":\"x\"}}",
        "{\"Response\":{\"Id\":\"x\"}}",
        "{\"Response\":{\"Choices\":[],\"Id\":\"x\"}}",
    };
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"hunyuan-lite\",\"messages\":[]}", 1700000000);
    sb_init(&out, f.a);
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        sb_reset(&out);
        ok(provider_tencent.parse_response(&f.ctx, bodies[i], strlen(bodies[i]), &out, &err) == 0 &&
               strstr(out.p, "\"content\":\"\""),
           "an answer with odd Choices (%zu) is an empty answer, not a crash", i);
    }
    static const char ev[] = "{\"Choices\":{\"Delta\":{}},\"Id\":\"x\"}";
    sb_reset(&out);
    ok(provider_tencent.parse_event(&f.ctx, "", ev, sizeof ev - 1, &out, &err) == 0 && !out.len,
       "a stream event whose Choices is not an array is skipped (once a crash)");
    fixture_fini(&f);
}

static void test_embedding_response(void)
{
    static const char body[] =
        "{\"Response\":{\"Data\":[{\"Embedding\":[0.5,-0.25],\"Index\":0,\"Object\":"
        "\"embedding\"},{\"Embedding\":[1,0.125],\"Index\":1,\"Object\":\"embedding\"}],"
        "\"Usage\":{\"PromptTokens\":6,\"TotalTokens\":6},\"RequestId\":\"r\"}}";
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"hunyuan-embedding\",\"input\":\"hi\"}",
                 1700000000);
    sb_init(&out, f.a);
    ok(provider_tencent.parse_response(&f.ctx, body, sizeof body - 1, &out, &err) == 0,
       "embeddings convert");
    json_object *j = jown(f.a, json_tokener_parse(out.p));
    json_object *data = json_object_object_get(j, "data");
    is_int(json_object_array_length(data), 2, "two vectors");
    json_object *e1 = json_object_array_get_idx(data, 1);
    is_int(json_object_get_int(json_object_object_get(e1, "index")), 1, "index kept");
    is_str(json_object_to_json_string_ext(json_object_object_get(e1, "embedding"),
                                          JSON_C_TO_STRING_PLAIN),
           "[1,0.125]", "values kept");
    is_int(json_object_get_int(
               json_object_object_get(json_object_object_get(j, "usage"), "total_tokens")),
           6, "usage total");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 6 && !f.ctx.usage.completion_tokens,
       "embedding usage billed as reported");
    fixture_fini(&f);
}

/* --- tools and images --- */

/* 1 when both texts parse to equal JSON; prints both otherwise. */
static int json_same(const char *got, const char *want)
{
    json_object *g = got ? json_tokener_parse(got) : NULL;
    json_object *w = want ? json_tokener_parse(want) : NULL;
    int same = g && w && json_object_equal(g, w);
    if (!same) {
        note("got:  %s", got ? got : "(null)");
        note("want: %s", want ? want : "(null)");
    }
    json_object_put(g);
    json_object_put(w);
    return same;
}

/* The body build_request makes of req_json, in f's arena; NULL when it fails. */
static const char *chat_body(struct fixture *f, const char *req_json, struct prov_error *err)
{
    struct prov_request rq = {0};
    fixture_init(f, RELAY_CHAT, req_json, 1700000000);
    return provider_tencent.build_request(&f->ctx, &rq, err) == 0 ? rq.body : NULL;
}

#define WEATHER_TOOL                                                                               \
    "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather of "  \
    "a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"             \
    "\"string\"}},\"required\":[\"city\"]}}}"
#define WEATHER_HY                                                                                 \
    "{\"Type\":\"function\",\"Function\":{\"Name\":\"get_weather\",\"Parameters\":"                \
    "\"{\\\"type\\\":\\\"object\\\",\\\"properties\\\":{\\\"city\\\":{\\\"type\\\":"               \
    "\\\"string\\\"}},\\\"required\\\":[\\\"city\\\"]}\",\"Description\":\"Weather of a city\"}}"
#define TIME_TOOL "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}"
#define TIME_HY "{\"Type\":\"function\",\"Function\":{\"Name\":\"get_time\"}}"

static void test_tools_request(void)
{
    struct fixture f;
    struct prov_error err = {0};
    const char *body = chat_body(
        &f,
        "{\"model\":\"hunyuan-functioncall\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Beijing?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
        "\\\"Beijing\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny, 25C\"}],"
        "\"tools\":[" WEATHER_TOOL "," TIME_TOOL ",{\"type\":\"code_interpreter\"}],"
        "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}",
        &err);
    ok(json_same(body, "{\"Model\":\"hunyuan-functioncall\",\"Messages\":["
                       "{\"Role\":\"user\",\"Content\":\"Weather in Beijing?\"},"
                       "{\"Role\":\"assistant\",\"ToolCalls\":[{\"Id\":\"call_1\","
                       "\"Type\":\"function\",\"Function\":{\"Name\":\"get_weather\",\"Arguments\":"
                       "\"{\\\"city\\\":\\\"Beijing\\\"}\"}}]},"
                       "{\"Role\":\"tool\",\"Content\":\"sunny, 25C\",\"ToolCallId\":\"call_1\"}],"
                       "\"Stream\":false,\"Tools\":[" WEATHER_HY "," TIME_HY "],"
                       "\"ToolChoice\":\"custom\",\"CustomTool\":" WEATHER_HY "}"),
       "tools: function tools become Tools (Parameters a JSON string, other tool types "
       "dropped), assistant tool_calls ToolCalls (no empty Content beside them), tool messages "
       "ToolCallId, a named "
       "tool_choice custom with CustomTool");
    fixture_fini(&f);

    static const struct {
        const char *tools, *choice, *tools_hy, *want;
    } cases[] = {
        {WEATHER_TOOL, "\"none\"", WEATHER_HY, ",\"ToolChoice\":\"none\""},
        {WEATHER_TOOL, "\"auto\"", WEATHER_HY, ",\"ToolChoice\":\"auto\""},
        {WEATHER_TOOL, "\"required\"", WEATHER_HY,
         ",\"ToolChoice\":\"custom\",\"CustomTool\":" WEATHER_HY},
        {WEATHER_TOOL "," TIME_TOOL, "\"required\"", WEATHER_HY "," TIME_HY, ""},
        {WEATHER_TOOL, "{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}", WEATHER_HY, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char req[1024], want[1024];
        snprintf(req, sizeof req,
                 "{\"model\":\"hunyuan-pro\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"tools\":[%s],\"tool_choice\":%s}",
                 cases[i].tools, cases[i].choice);
        snprintf(want, sizeof want,
                 "{\"Model\":\"hunyuan-pro\",\"Messages\":[{\"Role\":\"user\",\"Content\":\"x\"}],"
                 "\"Stream\":false,\"Tools\":[%s]%s}",
                 cases[i].tools_hy, cases[i].want);
        ok(json_same(chat_body(&f, req, &err), want), "tool_choice %s (case %zu): ToolChoice%s",
           cases[i].choice, i, *cases[i].want ? cases[i].want : " left to Hunyuan (auto)");
        fixture_fini(&f);
    }

    body = chat_body(&f,
                     "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"x\"}],\"tools\":[],\"tool_choice\":\"none\"}",
                     &err);
    ok(json_same(body, "{\"Model\":\"hunyuan-lite\",\"Messages\":[{\"Role\":\"user\",\"Content\":"
                       "\"x\"}],\"Stream\":false}"),
       "tools: no Tools and no ToolChoice without a function tool");
    fixture_fini(&f);
}

static void test_images_request(void)
{
    struct fixture f;
    struct prov_error err = {0};
    const char *body = chat_body(
        &f,
        "{\"model\":\"hunyuan-vision\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
        "brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is "
        "this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/1.png\","
        "\"detail\":\"low\"}},{\"type\":\"image_url\",\"image_url\":\"data:image/jpeg;base64,"
        "/9j/4A==\"},{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"x\"}}]}]}",
        &err);
    ok(json_same(body,
                 "{\"Model\":\"hunyuan-vision\",\"Messages\":[{\"Role\":\"system\",\"Content\":"
                 "\"Be brief.\"},{\"Role\":\"user\",\"Contents\":[{\"Type\":\"text\",\"Text\":"
                 "\"What is this?\"},{\"Type\":\"image_url\",\"ImageUrl\":{\"Url\":"
                 "\"https://example.com/1.png\"}},{\"Type\":\"image_url\",\"ImageUrl\":{\"Url\":"
                 "\"data:image/jpeg;base64,/9j/4A==\"}}]}],\"Stream\":false}"),
       "images: a content with image_url parts becomes Contents (text and images in order, "
       "http(s) and data: URLs as they are, other parts dropped); text-only contents stay "
       "Content");
    fixture_fini(&f);

    body = chat_body(&f,
                     "{\"model\":\"hunyuan-vision\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "[{\"type\":\"image_url\",\"image_url\":{}}]}]}",
                     &err);
    ok(!body && err.status == 400 && !strcmp(err.param, "messages"),
       "images: an image_url part without a url is a 400 on messages");
    fixture_fini(&f);
}

static void test_tools_response(void)
{
    static const char body[] =
        "{\"Response\":{\"RequestId\":\"r1\",\"Note\":\"" NOTE "\",\"Choices\":[{"
        "\"FinishReason\":\"tool_calls\",\"Message\":{\"Role\":\"assistant\",\"Content\":\"\","
        "\"ToolCalls\":[{\"Id\":\"call_cq8b\",\"Type\":\"function\",\"Function\":{\"Name\":"
        "\"get_weather\",\"Arguments\":\"{\\\"city\\\":\\\"北京\\\"}\"}},{\"Type\":\"function\","
        "\"Function\":{\"Name\":\"get_time\",\"Arguments\":\"{}\"}}]}}],\"Created\":1700000001,"
        "\"Id\":\"hy-1\",\"Usage\":{\"PromptTokens\":20,\"CompletionTokens\":12,"
        "\"TotalTokens\":32}}}";
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-functioncall\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}]}",
                 1700000000);
    sb_init(&out, f.a);
    ok(provider_tencent.parse_response(&f.ctx, body, sizeof body - 1, &out, &err) == 0,
       "tool answer: converts");
    ok(json_same(out.p,
                 "{\"id\":\"chatcmpl-hy-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
                 "\"model\":\"hunyuan-functioncall\",\"choices\":[{\"index\":0,\"message\":{"
                 "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_cq8b\","
                 "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
                 "\"{\\\"city\\\":\\\"北京\\\"}\"}},{\"id\":\"call_req123_1\",\"type\":"
                 "\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
                 "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":20,"
                 "\"completion_tokens\":12,\"total_tokens\":32}}"),
       "tool answer: ToolCalls become tool_calls (content null, an id made for a call "
       "without one), finish_reason tool_calls, usage as reported");
    fixture_fini(&f);
}

static void test_tools_stream(void)
{
    static const char *const events[] = {
        "{\"Choices\":[{\"FinishReason\":\"\",\"Delta\":{\"Role\":\"assistant\",\"Content\":"
        "\"\",\"ToolCalls\":[{\"Id\":\"call_a\",\"Type\":\"function\",\"Function\":{\"Name\":"
        "\"get_weather\",\"Arguments\":\"{\\\"city\\\":\"}}]}}],\"Id\":\"hy-s\",\"Usage\":{"
        "\"PromptTokens\":20,\"CompletionTokens\":3,\"TotalTokens\":23}}",
        "{\"Choices\":[{\"FinishReason\":\"\",\"Delta\":{\"Role\":\"assistant\",\"Content\":"
        "\"\",\"ToolCalls\":[{\"Id\":\"call_a\",\"Type\":\"function\",\"Function\":{\"Name\":"
        "\"get_weather\",\"Arguments\":\"\\\"Beijing\\\"}\"}},{\"Id\":\"call_b\",\"Type\":"
        "\"function\",\"Function\":{\"Name\":\"get_time\",\"Arguments\":\"{}\"}}]}}],\"Id\":"
        "\"hy-s\",\"Usage\":{\"PromptTokens\":20,\"CompletionTokens\":9,\"TotalTokens\":29}}",
        "{\"Choices\":[{\"FinishReason\":\"tool_calls\",\"Delta\":{\"Role\":\"assistant\","
        "\"Content\":\"\"}}],\"Id\":\"hy-s\",\"Usage\":{\"PromptTokens\":20,"
        "\"CompletionTokens\":9,\"TotalTokens\":29}}",
    };
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"hunyuan-functioncall\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}],\"stream\":true}",
                 1700000000);
    sb_init(&out, f.a);
    int rc = 0;
    for (size_t i = 0; i < 3; i++)
        rc |= provider_tencent.parse_event(&f.ctx, "", events[i], strlen(events[i]), &out, &err);
    ok(rc == 0 && f.ctx.finished, "tool stream: every event converts, the last ends it");
    json_object *fr[MAX_FRAMES];
    int n = split_frames(f.a, out.p, fr);
    is_int(n, 3, "tool stream: three chunks");
    if (n == 3) {
        json_object *c0 = json_object_array_get_idx(json_object_object_get(fr[0], "choices"), 0);
        json_object *c1 = json_object_array_get_idx(json_object_object_get(fr[1], "choices"), 0);
        ok(json_same(json_object_to_json_string(json_object_object_get(c0, "delta")),
                     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,"
                     "\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
                     "\"get_weather\",\"arguments\":\"{\\\"city\\\":\"}}]}"),
           "tool stream: a call's first piece has index, id, type, name and arguments");
        ok(json_same(json_object_to_json_string(json_object_object_get(c1, "delta")),
                     "{\"content\":null,\"tool_calls\":[{\"index\":0,\"function\":{"
                     "\"arguments\":\"\\\"Beijing\\\"}\"}},{\"index\":1,\"id\":\"call_b\","
                     "\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":"
                     "\"{}\"}}]}"),
           "tool stream: the same Id again only appends arguments at its index; a new Id "
           "is the next index");
        is_str(choice_str(fr[2], "finish_reason", NULL), "tool_calls",
               "tool stream: finish_reason tool_calls");
    }
    ok(f.ctx.usage.prompt_tokens == 20 && f.ctx.usage.completion_tokens == 9,
       "tool stream: the last Usage is billed");
    fixture_fini(&f);
}

int main(void)
{
    test_tv_t0();
    test_tv_t2_t3_t4();
    test_request_t2();
    test_request_t3();
    test_request_t4();
    test_request_base_override();
    test_request_refusals();
    test_t1_response();
    test_t2_stream();
    test_stream_cut_and_filter();
    test_t3_errors();
    test_embedding_response();
    test_odd_shapes();
    test_tools_request();
    test_images_request();
    test_tools_response();
    test_tools_stream();
    return done_testing();
}
