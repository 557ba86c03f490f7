/* Checks providers/bedrock.c with the Bedrock vectors: the signed InvokeModel request (body,
 * URL, headers, signature), credentials and model ids, the non-stream answer, the 7-frame
 * event stream decoded and converted, exception frames and HTTP errors. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/strbuf.h"
#include "providers/bedrock.h"
#include "providers/eventstream.h"
#include "providers/provider.h"
#include "providers/sigv4.h"
#include "prov_fixture.h"

/* 2024-01-15T12:00:00Z, the signing time of the vector. */
#define VEC_TIME 1705320000
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* The 7-frame Bedrock stream of the vectors (1897 bytes), base64. */
static const char stream_b64[] =
    "AAABpgAAAEuwF/7iCzpldmVudC10eXBlBwAFY2h1bmsNOmNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb24N"
    "Om1lc3NhZ2UtdHlwZQcABWV2ZW50eyJieXRlcyI6ImV5SjBlWEJsSWpvaWJXVnpjMkZuWlY5emRHRnlkQ0lzSW0x"
    "bGMzTmhaMlVpT25zaWFXUWlPaUp0YzJkZlltUnlhMTh3TVVGQ1F5SXNJblI1Y0dVaU9pSnRaWE56WVdkbElpd2lj"
    "bTlzWlNJNkltRnpjMmx6ZEdGdWRDSXNJbTF2WkdWc0lqb2lZMnhoZFdSbExUTXRhR0ZwYTNVdE1qQXlOREF6TURj"
    "aUxDSmpiMjUwWlc1MElqcGJYU3dpYzNSdmNGOXlaV0Z6YjI0aU9tNTFiR3dzSW5OMGIzQmZjMlZ4ZFdWdVkyVWlP"
    "bTUxYkd3c0luVnpZV2RsSWpwN0ltbHVjSFYwWDNSdmEyVnVjeUk2TVRJc0ltOTFkSEIxZEY5MGIydGxibk1pT2pG"
    "OWZYMD0iLCJwIjoiYWJjZGVmZ2giff+zAAgAAADuAAAASxPIPs8LOmV2ZW50LXR5cGUHAAVjaHVuaw06Y29udGVu"
    "dC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7ImJ5dGVzIjoiZXlKMGVYQmxJ"
    "am9pWTI5dWRHVnVkRjlpYkc5amExOXpkR0Z5ZENJc0ltbHVaR1Y0SWpvd0xDSmpiMjUwWlc1MFgySnNiMk5ySWpw"
    "N0luUjVjR1VpT2lKMFpYaDBJaXdpZEdWNGRDSTZJaUo5ZlE9PSIsInAiOiJhYmNkZWZnaGlqa2xtbm9wIn3zzZHa"
    "AAAA5gAAAEsjuHUOCzpldmVudC10eXBlBwAFY2h1bmsNOmNvbnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb24N"
    "Om1lc3NhZ2UtdHlwZQcABWV2ZW50eyJieXRlcyI6ImV5SjBlWEJsSWpvaVkyOXVkR1Z1ZEY5aWJHOWphMTlrWld4"
    "MFlTSXNJbWx1WkdWNElqb3dMQ0prWld4MFlTSTZleUowZVhCbElqb2lkR1Y0ZEY5a1pXeDBZU0lzSW5SbGVIUWlP"
    "aUpJWld4c2J5SjlmUT09IiwicCI6ImFiY2QifWcNuWYAAAD+AAAAS3MoqU0LOmV2ZW50LXR5cGUHAAVjaHVuaw06"
    "Y29udGVudC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7ImJ5dGVzIjoiZXlK"
    "MGVYQmxJam9pWTI5dWRHVnVkRjlpYkc5amExOWtaV3gwWVNJc0ltbHVaR1Y0SWpvd0xDSmtaV3gwWVNJNmV5SjBl"
    "WEJsSWpvaWRHVjRkRjlrWld4MFlTSXNJblJsZUhRaU9pSWdkR2hsY21VaEluMTkiLCJwIjoiYWJjZGVmZ2hpamts"
    "bW5vcHFyc3R1dnd4eXpBQiJ94XSYKwAAAKwAAABLMfs15gs6ZXZlbnQtdHlwZQcABWNodW5rDTpjb250ZW50LXR5"
    "cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsiYnl0ZXMiOiJleUowZVhCbElqb2lZ"
    "Mjl1ZEdWdWRGOWliRzlqYTE5emRHOXdJaXdpYVc1a1pYZ2lPakI5IiwicCI6ImFiY2RlZmdoaWoifefVYB4AAAEN"
    "AAAAS7fgUGULOmV2ZW50LXR5cGUHAAVjaHVuaw06Y29udGVudC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVz"
    "c2FnZS10eXBlBwAFZXZlbnR7ImJ5dGVzIjoiZXlKMGVYQmxJam9pYldWemMyRm5aVjlrWld4MFlTSXNJbVJsYkhS"
    "aElqcDdJbk4wYjNCZmNtVmhjMjl1SWpvaVpXNWtYM1IxY200aUxDSnpkRzl3WDNObGNYVmxibU5sSWpwdWRXeHNm"
    "U3dpZFhOaFoyVWlPbnNpYjNWMGNIVjBYM1J2YTJWdWN5STZObjE5IiwicCI6ImFiY2RlZmdoaWprbG1ubyJ9y4mq"
    "AAAAATgAAABL3iFnkws6ZXZlbnQtdHlwZQcABWNodW5rDTpjb250ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29u"
    "DTptZXNzYWdlLXR5cGUHAAVldmVudHsiYnl0ZXMiOiJleUowZVhCbElqb2liV1Z6YzJGblpWOXpkRzl3SWl3aVlX"
    "MWhlbTl1TFdKbFpISnZZMnN0YVc1MmIyTmhkR2x2YmsxbGRISnBZM01pT25zaWFXNXdkWFJVYjJ0bGJrTnZkVzUw"
    "SWpveE1pd2liM1YwY0hWMFZHOXJaVzVEYjNWdWRDSTZOaXdpYVc1MmIyTmhkR2x2Ymt4aGRHVnVZM2tpT2pReE1p"
    "d2labWx5YzNSQ2VYUmxUR0YwWlc1amVTSTZNak13ZlgwPSIsInAiOiJhYiJ9FULz9A==";

/* A Bedrock channel (type 33) at the default endpoint; each test gives the key and config. */
static const struct prov_fixture_spec BEDROCK = {
    .prov = &provider_bedrock,
    .ch = {.id = 33, .type = 33, .base_url = "", .is_default_base = 1},
    .request_id = "req123",
    .created = VEC_TIME,
};

/* A Bedrock call for req_json with the channel's key ("AK|SK|region") and config, streaming as
 * told and asking for usage. */
static void fixture_init(struct prov_fixture *f, const char *req_json, int is_stream,
                         const char *key, const char *config)
{
    prov_fixture_init(f, &BEDROCK, RELAY_CHAT, NULL, req_json);
    f->ch.key = key;
    f->ch.config = config;
    f->ctx.is_stream = is_stream;
    f->ctx.include_usage = 1;
}

#define HI_REQUEST(model)                                                                          \
    "{\"model\":\"" model "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"              \
    "\"max_tokens\":64}"

static void test_request_vector(void)
{
    struct prov_fixture f;

    fixture_init(&f, HI_REQUEST("claude-3-haiku-20240307"), 0, "AKIDEXAMPLE|" SECRET "|us-east-1",
                 "");
    is_int(prov_fixture_build(&f), 0, "the vector request builds");
    is_str(f.rq.body,
           "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":64,\"messages\":[{"
           "\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}]}",
           "the body is the vector's, byte for byte: anthropic_version, no model, no stream");
    is_str(f.rq.url,
           "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
           "anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
           "InvokeModel URL: the model id is one path segment, ':' as %%3A");
    is_str(prov_fixture_header(&f.rq, "X-Amz-Date"), "20240115T120000Z",
           "X-Amz-Date is the request's time");
    is_str(prov_fixture_header(&f.rq, "Host"), "bedrock-runtime.us-east-1.amazonaws.com",
           "Host is signed");
    is_str(prov_fixture_header(&f.rq, "Authorization"),
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/bedrock/aws4_request, "
           "SignedHeaders=accept;content-type;host;x-amz-date, "
           "Signature=152d9ea2595c20cd10763f22883554deace2369896d217ac13209803a3f37148",
           "the Authorization header is the vector's (botocore's signature)");
    prov_fixture_free(&f);

    fixture_init(&f, HI_REQUEST("claude-3-haiku-20240307"), 1, "AKIDEXAMPLE|" SECRET "|us-east-1",
                 "");
    is_int(prov_fixture_build(&f), 0, "a stream request builds");
    ok(f.rq.url && strstr(f.rq.url, "/invoke-with-response-stream") != NULL,
       "a stream goes to invoke-with-response-stream (%s)", f.rq.url);
    ok(!strstr(f.rq.body, "\"stream\""), "and the body has no stream field");
    is_str(prov_fixture_header(&f.rq, "X-Amzn-Bedrock-Accept"), "application/json",
           "the payload type is asked in X-Amzn-Bedrock-Accept");
    prov_fixture_free(&f);
}

/* The signature covers the host and path prefix of a channel base URL. */
static void test_base_url(void)
{
    struct prov_fixture f;

    fixture_init(&f, HI_REQUEST("claude-3-5-sonnet-latest"), 0, "AK1|SK1|eu-west-1", "");
    f.ch.base_url = "http://127.0.0.1:8123/aws";
    f.ch.is_default_base = 0;
    is_int(prov_fixture_build(&f), 0, "builds with a base URL");
    is_str(f.rq.url,
           "http://127.0.0.1:8123/aws/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke",
           "the request goes to the base URL; -latest maps to the v2 id");
    is_str(prov_fixture_header(&f.rq, "Host"), "127.0.0.1:8123",
           "Host is the base URL's host and port");
    const char *path = "/aws/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke";
    struct sigv4_request sig = {"POST",    path,         "", f.rq.headers, f.rq.n_headers - 1,
                                f.rq.body, f.rq.body_len};
    struct sigv4_key k = {"AK1", "SK1", "eu-west-1", "bedrock"};
    is_str(prov_fixture_header(&f.rq, "Authorization"),
           sigv4_authorization(f.a, &k, &sig, "20240115T120000Z"),
           "the signature is over that host and path, in the key's region");
    prov_fixture_free(&f);
}

static const char *build_error(const char *model, const char *key, const char *config,
                               struct prov_error *err)
{
    struct prov_fixture f;
    static char buf[512];

    fixture_init(&f, model, 0, key, config);
    memset(err, 0, sizeof *err);
    if (provider_bedrock.build_request(&f.ctx, &f.rq, err) == 0) {
        snprintf(buf, sizeof buf, "%s", f.rq.url);
    } else {
        snprintf(buf, sizeof buf, "<%d %s %s>", err->status, err->code ? err->code : "",
                 err->message);
    }
    prov_fixture_free(&f);
    return buf;
}

static void test_credentials_and_models(void)
{
    struct prov_error err;

    is_str(build_error(HI_REQUEST("claude-2.1"), "",
                       "{\"region\":\"us-west-2\",\"ak\":\"AKX\",\"sk\":\"SKX\"}", &err),
           "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-v2%3A1/invoke",
           "an empty key takes ak, sk and region from the config");
    is_str(build_error(HI_REQUEST("claude-3-opus-20240229"), "AKX|SKX",
                       "{\"region\":\"ap-northeast-1\"}", &err),
           "https://bedrock-runtime.ap-northeast-1.amazonaws.com/model/"
           "anthropic.claude-3-opus-20240229-v1%3A0/invoke",
           "a key without a region takes the config's");
    is_str(build_error(HI_REQUEST("claude-3-opus-20240229"), "AKX|SKX", "", &err),
           "<500 convert_request_failed the AWS channel has no region (key AK|SK|region)>",
           "no region anywhere: 500");
    is_str(build_error(HI_REQUEST("claude-3-opus-20240229"), "justakey", "", &err),
           "<500 convert_request_failed the AWS channel key must be AK|SK|region>",
           "a key without '|': 500");
    is_str(build_error(HI_REQUEST("gpt-4o"), "A|S|us-east-1", "", &err),
           "<500 convert_request_failed adaptor not found>",
           "a model outside the table fails as One API does");
    is_str(err.type, "one_api_error", "with type one_api_error");
    is_str(build_error(HI_REQUEST("us.anthropic.claude-3-5-haiku-20241022-v1:0"), "A|S|us-east-1",
                       "", &err),
           "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
           "us.anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke",
           "an inference profile id goes as it is");
    is_str(build_error(HI_REQUEST("arn:aws:bedrock:us-east-1:1:inference-profile/x"),
                       "A|S|us-east-1", "", &err),
           "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
           "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/invoke",
           "an ARN is one path segment ('/' as %%2F)");
    is_str(bedrock_model_id("claude-3-5-haiku-20241022"),
           "anthropic.claude-3-5-haiku-20241022-v1:0", "table: claude-3-5-haiku");
    is_str(bedrock_model_id("claude-instant-1.2"), "anthropic.claude-instant-v1",
           "table: claude-instant-1.2");
    ok(bedrock_model_id("claude-3-7-sonnet") == NULL, "not in the table: NULL");

    struct prov_fixture f;
    fixture_init(&f, "{\"model\":\"claude-2.1\",\"input\":\"x\"}", 0, "A|S|us-east-1", "");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) == -1 && f.err.status == 400, "embeddings are refused with 400");
    prov_fixture_free(&f);
}

static void test_response(void)
{
    struct prov_fixture f;
    const char *body =
        "{\"id\": \"msg_bdrk_01HELLO\", \"type\": \"message\", \"role\": \"assistant\", "
        "\"model\": \"claude-3-5-haiku-20241022\", \"content\": [{\"type\": \"text\", \"text\": "
        "\"Hello!\"}], \"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": "
        "{\"input_tokens\": 14, \"output_tokens\": 4}}";

    fixture_init(&f, HI_REQUEST("claude-3-5-haiku-20241022"), 0, "A|S|us-east-1", "");
    f.ctx.created = 1730000000;
    is_int(prov_fixture_answer(&f, body), 0, "the InvokeModel answer converts");
    ok(prov_fixture_json_eq(
           f.out.p, "{\"id\": \"chatcmpl-msg_bdrk_01HELLO\", \"object\": \"chat.completion\", "
                    "\"created\": 1730000000, \"model\": \"claude-3-5-haiku-20241022\", "
                    "\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", "
                    "\"content\": \"Hello!\"}, \"finish_reason\": \"stop\"}], \"usage\": "
                    "{\"prompt_tokens\": 14, \"completion_tokens\": 4, \"total_tokens\": 18}}"),
       "as the Anthropic answer maps");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 14 &&
           f.ctx.usage.completion_tokens == 4,
       "usage 14/4 for billing");
    prov_fixture_free(&f);
}

/* Decodes the vector stream with the event-stream reader and hands each frame to the
 * adaptor as the relay does. */
struct feed {
    struct prov_fixture *f;
    int rc; /* parse_event's first failure, else 0 */
};

static int feed_frame(void *ud, const struct evs_message *m)
{
    struct feed *fd = ud;

    if (fd->rc == 0)
        fd->rc = provider_parse_event(fd->f->prov, &fd->f->ctx, m->event_type, m->payload,
                                      m->payload_len, &fd->f->out, &fd->f->err);
    return 0;
}

static void test_stream(void)
{
    struct prov_fixture f;
    struct evs_parser ep;
    unsigned char *raw = malloc(sizeof stream_b64);
    long n = b64_decode(stream_b64, strlen(stream_b64), raw, sizeof stream_b64, B64_STRICT);
    struct prov_fixture_events fr;

    fixture_init(&f, HI_REQUEST("claude-3-haiku-20240307"), 1, "A|S|us-east-1", "");
    struct feed fd = {.f = &f};
    evs_init(&ep, f.a);
    /* 7-byte reads: frames reassembled across reads reach the adaptor whole. */
    for (long off = 0; off < n; off += 7)
        evs_feed(&ep, raw + off, (size_t)(n - off < 7 ? n - off : 7), feed_frame, &fd);
    is_int(fd.rc, 0, "every frame converts");
    is_int(evs_finish(&ep), 0, "the stream ends on a frame boundary");
    int k = prov_fixture_split_sse(f.a, f.out.p, &fr);
    is_int(k, 5, "five chunks: role, two contents, finish, usage");
    if (k == 5) {
        ok(prov_fixture_json_eq(
               fr.data[0], "{\"id\":\"chatcmpl-msg_bdrk_01ABC\",\"object\":\"chat.completion."
                           "chunk\",\"created\":1705320000,\"model\":\"claude-3-haiku-20240307\","
                           "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                           "\"content\":\"\"},\"finish_reason\":null}]}"),
           "the role chunk, with the message id");
        ok(strstr(fr.data[1], "\"delta\":{\"content\":\"Hello\"}") != NULL, "content Hello");
        ok(strstr(fr.data[2], "\"delta\":{\"content\":\" there!\"}") != NULL, "content ' there!'");
        ok(strstr(fr.data[3], "\"finish_reason\":\"stop\"") != NULL, "end_turn finishes with stop");
        ok(strstr(fr.data[4], "\"choices\":[]") &&
               strstr(fr.data[4], "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":6,"
                                  "\"total_tokens\":18}"),
           "usage 12/6/18 (%s)", fr.data[4]);
    }
    ok(f.ctx.finished, "message_stop finishes the stream");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 6,
       "billing usage 12/6");
    is_str(f.ctx.text.p, "Hello there!", "the generated text");
    prov_fixture_free(&f);
    free(raw);
}

/* The invocation metrics of message_stop are the final word on usage. */
static void test_stream_metrics(void)
{
    struct prov_fixture f;
    static const char *const events[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3,"
        "\"output_tokens\":1}}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{"
        "\"output_tokens\":5}}",
        "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{\"inputTokenCount\":"
        "30,\"outputTokenCount\":7}}",
    };

    fixture_init(&f, HI_REQUEST("claude-2.1"), 1, "A|S|us-east-1", "");
    for (size_t i = 0; i < 3; i++) {
        struct strbuf p;
        sb_init(&p, f.a);
        SB_LIT(&p, "{\"bytes\":\"");
        b64_put(&p, events[i], strlen(events[i]));
        SB_LIT(&p, "\",\"p\":\"xyz\"}");
        is_int(provider_bedrock.parse_event(&f.ctx, "chunk", p.p, p.len, &f.out, &f.err), 0,
               "event %zu converts", i);
    }
    ok(f.ctx.usage.prompt_tokens == 30 && f.ctx.usage.completion_tokens == 7,
       "the metrics' counts win over message_delta's (%lld/%lld)",
       (long long)f.ctx.usage.prompt_tokens, (long long)f.ctx.usage.completion_tokens);
    ok(strstr(f.out.p, "\"finish_reason\":\"length\"") != NULL, "max_tokens finishes with length");
    is_int(prov_fixture_feed(&f, "chunk", "{\"p\":\"x\"}"), -1,
           "a chunk without bytes is an error");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *thr = "{\"message\":\"Too many requests, please wait before trying again.\"}";

    fixture_init(&f, HI_REQUEST("claude-2.1"), 1, "A|S|us-east-1", "");
    is_int(prov_fixture_feed(&f, "exception:throttlingException", thr), -1,
           "a throttlingException frame is a mid-stream error");
    is_int(f.err.status, 429, "status 429");
    is_str(f.err.type, "rate_limit_error", "type rate_limit_error");
    is_str(f.err.code, "throttlingException", "code names the exception");
    is_str(f.err.message, "Too many requests, please wait before trying again.", "its message");
    is_int(prov_fixture_feed(&f, "exception:modelStreamErrorException",
                             "{\"originalStatusCode\":500}"),
           -1, "a modelStreamErrorException frame is an error");
    is_int(f.err.status, 424, "status 424");
    is_int(prov_fixture_feed(&f, "error:InternalFailure", "boom"), -1,
           "an error frame is an error");
    is_str(f.err.message, "boom", "with its :error-message");

    prov_fixture_error(&f, 429, thr);
    ok(f.err.status == 429 && !strcmp(f.err.type, "rate_limit_error") &&
           !strcmp(f.err.code, "ThrottlingException") &&
           !strcmp(f.err.message, "Too many requests, please wait before trying again."),
       "HTTP 429 ThrottlingException: a 429 rate_limit_error the relay retries");
    const char *val = "{\"message\":\"Malformed input request\"}";
    prov_fixture_error(&f, 400, val);
    ok(f.err.status == 400 && !strcmp(f.err.type, "upstream_error") &&
           !strcmp(f.err.code, "ValidationException"),
       "HTTP 400: ValidationException, status kept");
    const char *typed = "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
                        "\"Message\":\"The security token included in the request is invalid.\"}";
    prov_fixture_error(&f, 403, typed);
    ok(f.err.status == 403 && !strcmp(f.err.code, "UnrecognizedClientException") &&
           !strcmp(f.err.message, "The security token included in the request is invalid."),
       "__type and Message are read too");
    prov_fixture_error(&f, 502, "<html>");
    ok(f.err.status == 502 && !strcmp(f.err.code, "bad_response_status_code"),
       "an unreadable body: bad response status code");
    prov_fixture_free(&f);
}

int main(void)
{
    test_request_vector();
    test_base_url();
    test_credentials_and_models();
    test_response();
    test_stream();
    test_stream_metrics();
    test_errors();
    return done_testing();
}
