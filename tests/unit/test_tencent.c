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
#include "prov_fixture.h"

/* Tencent's documentation example credentials. */
#define SECRET_ID "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define SECRET_KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define CHANNEL_KEY "1250000000|" SECRET_ID "|" SECRET_KEY
#define HOST "hunyuan.tencentcloudapi.com"

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

/* A Hunyuan channel (type 23) with the documentation's "AppId|SecretId|SecretKey" key, its
 * clock frozen at 2023-11-14 22:13:20 UTC unless a test says otherwise. */
static const struct prov_fixture_spec TENCENT = {
    .prov = &provider_tencent,
    .ch = {.id = 23,
           .type = 23,
           .key = CHANNEL_KEY,
           .base_url = "https://" HOST,
           .is_default_base = 1,
           .config = ""},
    .request_id = "req123",
    .created = 1700000000,
};

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
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Hello\"}]}");
    ok(prov_fixture_build(&f) == 0, "15.7 request builds");
    is_str(f.rq.body, T2_PAYLOAD, "15.7: the body is byte-identical to TV-T2's payload");
    is_int(f.rq.body_len, strlen(T2_PAYLOAD), "15.7: body length");
    is_str(f.rq.url, "https://" HOST "/", "15.7: POST to the root of the base URL");
    is_str(prov_fixture_header(&f.rq, "Authorization"), T2_AUTH,
           "15.7: Authorization equals TV-T2's");
    is_str(prov_fixture_header(&f.rq, "Host"), HOST, "15.7: the signed host is the one sent");
    is_str(prov_fixture_header(&f.rq, "Content-Type"), "application/json",
           "15.7: the signed Content-Type");
    is_str(prov_fixture_header(&f.rq, "X-TC-Action"), "ChatCompletions", "15.7: X-TC-Action");
    is_str(prov_fixture_header(&f.rq, "X-TC-Version"), "2023-09-01", "15.7: X-TC-Version");
    is_str(prov_fixture_header(&f.rq, "X-TC-Timestamp"), "1700000000",
           "15.7: X-TC-Timestamp is the clock");
    ok(!prov_fixture_header(&f.rq, "X-TC-Region"), "15.7: no region without config.region");
    prov_fixture_free(&f);
}

static void test_request_t3(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &TENCENT, RELAY_CHAT, NULL,
        "{\"model\":\"hunyuan-standard\",\"messages\":[{\"role\":\"system\",\"content\":"
        "\"你是一个助手\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"你好\"}]}],\"stream\":true,\"top_p\":0.8,\"temperature\":0.5}");
    f.ctx.created = 1551113065;
    ok(prov_fixture_build(&f) == 0, "TV-T3 request builds");
    is_str(f.rq.body, T3_PAYLOAD, "TV-T3: UTF-8 not escaped, TopP and Temperature kept as written");
    is_str(prov_fixture_header(&f.rq, "Authorization"), T3_AUTH,
           "TV-T3: Authorization from the adaptor");
    prov_fixture_free(&f);
}

static void test_request_t4(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_EMBEDDINGS, NULL,
                      "{\"model\":\"hunyuan-embedding\",\"input\":[\"hello\",\"world\"]}");
    ok(prov_fixture_build(&f) == 0, "TV-T4 request builds");
    is_str(f.rq.body, "{\"InputList\":[\"hello\",\"world\"]}", "TV-T4: input becomes InputList");
    is_str(prov_fixture_header(&f.rq, "X-TC-Action"), "GetEmbedding", "TV-T4: action");
    ok(prov_fixture_header(&f.rq, "Authorization") &&
           strstr(prov_fixture_header(&f.rq, "Authorization"),
                  "Signature=a1aaecf6d9e5c1cd28b6517cfaf9678df82a830eb1af9ff39aeda879fd917bd4"),
       "TV-T4: signature from the adaptor");
    prov_fixture_free(&f);
}

static void test_request_base_override(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Hello\"}]}");
    f.ch.base_url = "http://127.0.0.1:8080/hunyuan";
    f.ch.is_default_base = 0;
    f.ch.config = "{\"region\":\"ap-guangzhou\"}";
    ok(prov_fixture_build(&f) == 0, "override request builds");
    is_str(f.rq.url, "http://127.0.0.1:8080/hunyuan/", "override: URL under the channel's base");
    is_str(prov_fixture_header(&f.rq, "Host"), "127.0.0.1:8080",
           "override: Host is the base URL's");
    struct tc3_input in = {SECRET_ID,        SECRET_KEY,        "hunyuan",
                           "127.0.0.1:8080", "ChatCompletions", "application/json",
                           1700000000,       f.rq.body,         f.rq.body_len};
    is_str(prov_fixture_header(&f.rq, "Authorization"), tc3_authorization(f.a, &in),
           "override: signed over the host actually sent");
    ok(strcmp(prov_fixture_header(&f.rq, "Authorization"), T2_AUTH) != 0,
       "override: not the default host's signature");
    is_str(prov_fixture_header(&f.rq, "X-TC-Region"), "ap-guangzhou",
           "config.region goes out as X-TC-Region");
    prov_fixture_free(&f);
}

static void test_request_refusals(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[]}");
    f.ch.key = SECRET_ID "|" SECRET_KEY;
    ok(prov_fixture_build(&f) == -1 && f.err.status == 500, "a key without three parts is refused");
    f.ch.key = CHANNEL_KEY;
    f.ctx.mode = RELAY_IMAGES;
    ok(prov_fixture_build(&f) == -1 && f.err.status == 400, "image generation is refused with 400");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) == -1 && f.err.status == 400,
       "embeddings without input are refused with 400");
    prov_fixture_free(&f);
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
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Hello\"}]}");
    ok(prov_fixture_answer(&f, body) == 0, "T1: the answer converts");
    json_object *j = jown(f.a, json_tokener_parse(f.out.p));
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
    prov_fixture_free(&f);
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
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"Hello\"}],\"stream\":true}");
    f.ctx.include_usage = 1;
    int rc = 0;
    for (size_t i = 0; i < 3; i++)
        rc |= prov_fixture_feed(&f, "", events[i]);
    ok(rc == 0, "T2: every event converts");
    ok(f.ctx.finished, "T2: the FinishReason event ends the stream (no [DONE] upstream)");
    ok(!strstr(f.out.p, "[DONE]"), "T2: the adaptor leaves [DONE] to the core");
    int n = prov_fixture_n_events(&f);
    is_int(n, 4, "T2: three chunks and the usage chunk");
    if (n == 4) {
        is_str(choice_str(prov_fixture_event_json(&f, 0), "delta", "content"), "Hello",
               "T2: first chunk");
        is_str(choice_str(prov_fixture_event_json(&f, 0), "delta", "role"), "assistant",
               "T2: first chunk has the role");
        ok(!choice_str(prov_fixture_event_json(&f, 0), "finish_reason", NULL),
           "T2: first chunk not finished");
        is_str(choice_str(prov_fixture_event_json(&f, 1), "delta", "content"), "! How can I help?",
               "T2: second chunk");
        ok(!choice_str(prov_fixture_event_json(&f, 1), "delta", "role"), "T2: the role only once");
        is_str(choice_str(prov_fixture_event_json(&f, 2), "delta", "content"), "",
               "T2: last chunk empty");
        is_str(choice_str(prov_fixture_event_json(&f, 2), "finish_reason", NULL), "stop",
               "T2: last chunk stops");
        is_str(json_object_get_string(json_object_object_get(prov_fixture_event_json(&f, 0), "id")),
               "chatcmpl-9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "T2: chunk id from Id");
        json_object *u = json_object_object_get(prov_fixture_event_json(&f, 3), "usage");
        is_int(json_object_get_int(json_object_object_get(u, "total_tokens")), 9,
               "T2: usage chunk total");
    }
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 3 &&
           f.ctx.usage.completion_tokens == 6,
       "T2: the last cumulative Usage (3/6) is billed");
    is_str(f.ctx.text.p, "Hello! How can I help?", "T2: generated text collected");
    prov_fixture_free(&f);
}

static void test_stream_cut_and_filter(void)
{
    static const char ev[] = "{\"Choices\":[{\"FinishReason\":\"\",\"Delta\":{\"Content\":\"a\"}}],"
                             "\"Id\":\"x\"}";
    static const char sens[] = "{\"Choices\":[{\"FinishReason\":\"sensitive\",\"Delta\":{"
                               "\"Content\":\"\"}}],\"Id\":\"x\"}";
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[],\"stream\":true}");
    prov_fixture_feed(&f, "", ev);
    sb_reset(&f.out);
    ok(prov_fixture_feed(&f, "", NULL) == 0 && f.ctx.finished,
       "an upstream that closes without FinishReason is finished");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") != NULL, "... with finish_reason stop");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[],\"stream\":true}");
    prov_fixture_feed(&f, "", sens);
    ok(strstr(f.out.p, "\"finish_reason\":\"content_filter\"") != NULL,
       "FinishReason sensitive becomes content_filter");
    prov_fixture_free(&f);
}

static void test_t3_errors(void)
{
    static const char body[] =
        "{\"Response\":{\"Error\":{\"Code\":\"AuthFailure.SignatureFailure\",\"Message\":\"The "
        "provided credentials could not be validated. Please check your signature is correct.\"},"
        "\"RequestId\":\"5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9\"}}";
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[]}");
    ok(prov_fixture_answer(&f, body) == -1, "T3: an error inside HTTP 200 is an error");
    is_int(f.err.status, 401, "T3: AuthFailure.* is 401");
    is_str(f.err.code, "AuthFailure.SignatureFailure", "T3: the code is kept");
    is_str(f.err.message,
           "The provided credentials could not be validated. Please check your signature is "
           "correct.",
           "T3: the message is copied");
    /* For a stream request the core hands the JSON body to parse_error with status 500. */
    prov_fixture_error(&f, 500, body);
    is_int(f.err.status, 401, "T3: the same body for a stream request is a 401 too");

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
        prov_fixture_answer(&f, b);
        is_int(f.err.status, cases[i].status, "code %s maps to %d", cases[i].code, cases[i].status);
    }
    static const char mid[] = "{\"Error\":{\"Code\":\"LimitExceeded\",\"Message\":\"slow down\"}}";
    ok(prov_fixture_feed(&f, "", mid) == -1 && f.err.status == 429,
       "an error event inside a stream fails it");
    prov_fixture_free(&f);
}

static void test_odd_shapes(void)
{
    static const char *const bodies[] = {
        "{\"Response\":{\"Choices\":{\"Message\":{}},\"Id\":\"x\"}}",
        "{\"Response\":{\"Id\":\"x\"}}",
        "{\"Response\":{\"Choices\":[],\"Id\":\"x\"}}",
    };
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-lite\",\"messages\":[]}");
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        sb_reset(&f.out);
        ok(prov_fixture_answer(&f, bodies[i]) == 0 && strstr(f.out.p, "\"content\":\"\""),
           "an answer with odd Choices (%zu) is an empty answer, not a crash", i);
    }
    static const char ev[] = "{\"Choices\":{\"Delta\":{}},\"Id\":\"x\"}";
    sb_reset(&f.out);
    ok(prov_fixture_feed(&f, "", ev) == 0 && !f.out.len,
       "a stream event whose Choices is not an array is skipped (once a crash)");
    prov_fixture_free(&f);
}

static void test_embedding_response(void)
{
    static const char body[] =
        "{\"Response\":{\"Data\":[{\"Embedding\":[0.5,-0.25],\"Index\":0,\"Object\":"
        "\"embedding\"},{\"Embedding\":[1,0.125],\"Index\":1,\"Object\":\"embedding\"}],"
        "\"Usage\":{\"PromptTokens\":6,\"TotalTokens\":6},\"RequestId\":\"r\"}}";
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_EMBEDDINGS, NULL,
                      "{\"model\":\"hunyuan-embedding\",\"input\":\"hi\"}");
    ok(prov_fixture_answer(&f, body) == 0, "embeddings convert");
    json_object *j = jown(f.a, json_tokener_parse(f.out.p));
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
    prov_fixture_free(&f);
}

/* --- tools and images --- */
/* The body build_request makes of req_json, in f's arena; NULL when it fails (f->err says
 * why). */
static const char *chat_body(struct prov_fixture *f, const char *req_json)
{
    prov_fixture_init(f, &TENCENT, RELAY_CHAT, NULL, req_json);
    return prov_fixture_build(f) == 0 ? f->rq.body : NULL;
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
    struct prov_fixture f;
    const char *body = chat_body(
        &f, "{\"model\":\"hunyuan-functioncall\",\"messages\":["
            "{\"role\":\"user\",\"content\":\"Weather in Beijing?\"},"
            "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
            "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
            "\\\"Beijing\\\"}\"}}]},"
            "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny, 25C\"}],"
            "\"tools\":[" WEATHER_TOOL "," TIME_TOOL ",{\"type\":\"code_interpreter\"}],"
            "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}");
    ok(prov_fixture_json_eq(
           body, "{\"Model\":\"hunyuan-functioncall\",\"Messages\":["
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
    prov_fixture_free(&f);

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
        ok(prov_fixture_json_eq(chat_body(&f, req), want),
           "tool_choice %s (case %zu): ToolChoice%s", cases[i].choice, i,
           *cases[i].want ? cases[i].want : " left to Hunyuan (auto)");
        prov_fixture_free(&f);
    }

    body = chat_body(&f, "{\"model\":\"hunyuan-lite\",\"messages\":[{\"role\":\"user\",\"content\":"
                         "\"x\"}],\"tools\":[],\"tool_choice\":\"none\"}");
    ok(prov_fixture_json_eq(
           body, "{\"Model\":\"hunyuan-lite\",\"Messages\":[{\"Role\":\"user\",\"Content\":"
                 "\"x\"}],\"Stream\":false}"),
       "tools: no Tools and no ToolChoice without a function tool");
    prov_fixture_free(&f);
}

static void test_images_request(void)
{
    struct prov_fixture f;
    const char *body = chat_body(
        &f, "{\"model\":\"hunyuan-vision\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
            "brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is "
            "this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/1.png\","
            "\"detail\":\"low\"}},{\"type\":\"image_url\",\"image_url\":\"data:image/jpeg;base64,"
            "/9j/4A==\"},{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"x\"}}]}]}");
    ok(prov_fixture_json_eq(
           body, "{\"Model\":\"hunyuan-vision\",\"Messages\":[{\"Role\":\"system\",\"Content\":"
                 "\"Be brief.\"},{\"Role\":\"user\",\"Contents\":[{\"Type\":\"text\",\"Text\":"
                 "\"What is this?\"},{\"Type\":\"image_url\",\"ImageUrl\":{\"Url\":"
                 "\"https://example.com/1.png\"}},{\"Type\":\"image_url\",\"ImageUrl\":{\"Url\":"
                 "\"data:image/jpeg;base64,/9j/4A==\"}}]}],\"Stream\":false}"),
       "images: a content with image_url parts becomes Contents (text and images in order, "
       "http(s) and data: URLs as they are, other parts dropped); text-only contents stay "
       "Content");
    prov_fixture_free(&f);

    body =
        chat_body(&f, "{\"model\":\"hunyuan-vision\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "[{\"type\":\"image_url\",\"image_url\":{}}]}]}");
    ok(!body && f.err.status == 400 && !strcmp(f.err.param, "messages"),
       "images: an image_url part without a url is a 400 on messages");
    prov_fixture_free(&f);
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
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-functioncall\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}]}");
    ok(prov_fixture_answer(&f, body) == 0, "tool answer: converts");
    ok(prov_fixture_json_eq(
           f.out.p,
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
    prov_fixture_free(&f);
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
    struct prov_fixture f;
    prov_fixture_init(&f, &TENCENT, RELAY_CHAT, NULL,
                      "{\"model\":\"hunyuan-functioncall\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}],\"stream\":true}");
    int rc = 0;
    for (size_t i = 0; i < 3; i++)
        rc |= prov_fixture_feed(&f, "", events[i]);
    ok(rc == 0 && f.ctx.finished, "tool stream: every event converts, the last ends it");
    int n = prov_fixture_n_events(&f);
    is_int(n, 3, "tool stream: three chunks");
    if (n == 3) {
        json_object *c0 = json_object_array_get_idx(
            json_object_object_get(prov_fixture_event_json(&f, 0), "choices"), 0);
        json_object *c1 = json_object_array_get_idx(
            json_object_object_get(prov_fixture_event_json(&f, 1), "choices"), 0);
        ok(prov_fixture_json_eq(
               json_object_to_json_string(json_object_object_get(c0, "delta")),
               "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,"
               "\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
               "\"get_weather\",\"arguments\":\"{\\\"city\\\":\"}}]}"),
           "tool stream: a call's first piece has index, id, type, name and arguments");
        ok(prov_fixture_json_eq(
               json_object_to_json_string(json_object_object_get(c1, "delta")),
               "{\"content\":null,\"tool_calls\":[{\"index\":0,\"function\":{"
               "\"arguments\":\"\\\"Beijing\\\"}\"}},{\"index\":1,\"id\":\"call_b\","
               "\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":"
               "\"{}\"}}]}"),
           "tool stream: the same Id again only appends arguments at its index; a new Id "
           "is the next index");
        is_str(choice_str(prov_fixture_event_json(&f, 2), "finish_reason", NULL), "tool_calls",
               "tool stream: finish_reason tool_calls");
    }
    ok(f.ctx.usage.prompt_tokens == 20 && f.ctx.usage.completion_tokens == 9,
       "tool stream: the last Usage is billed");
    prov_fixture_free(&f);
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
