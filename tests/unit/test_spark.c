/* Checks providers/spark.c: the signed URL against iFlytek's published vector and the others
 * derived from it (documented and One API forms, GMT and UTC dates, both path shapes), the
 * model -> version table, the request frame, the answer frames of a whole exchange (streamed
 * and collected), tool calls, and the error codes, the rate limits among them. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/base64.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"
#include "providers/spark.h"
#include "prov_fixture.h"

#define KEY "addd2272b6d8b7c8abdd79531420ca3b"
#define SECRET "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi"
#define HOST "spark-api.xf-yun.com"
#define ORIGIN "wss://spark-api.xf-yun.com"
#define CREATED 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */

/* The frames a Spark server sends for "你好", the last with the usage. */
static const char *const frames[] = {
    "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\","
    "\"status\":0},\"payload\":{\"choices\":{\"status\":0,\"seq\":0,\"text\":[{\"content\":"
    "\"你好\",\"role\":\"assistant\",\"index\":0}]}}}",
    "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\","
    "\"status\":1},\"payload\":{\"choices\":{\"status\":1,\"seq\":1,\"text\":[{\"content\":"
    "\"！我是讯飞星火\",\"role\":\"assistant\",\"index\":0}]}}}",
    "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\","
    "\"status\":2},\"payload\":{\"choices\":{\"status\":2,\"seq\":2,\"text\":[{\"content\":\"。\","
    "\"role\":\"assistant\",\"index\":0}]},\"usage\":{\"text\":{\"question_tokens\":2,"
    "\"prompt_tokens\":2,\"completion_tokens\":8,\"total_tokens\":10}}}}",
};

static const char *const err_11200 =
    "{\"header\":{\"code\":11200,\"message\":\"AppIdNoAuthError:(11200)auth no license\","
    "\"sid\":\"cht000ab\",\"status\":2}}";

/* A Spark channel (type 18) with an "AppId|APISecret|APIKey" key, at the default host. */
static const struct prov_fixture_spec SPARK = {
    .prov = &provider_spark,
    .ch = {.id = 18,
           .type = 18,
           .key = "1a2b3c4d|" SECRET "|" KEY,
           .base_url = "",
           .is_default_base = 1,
           .config = ""},
    .request_id = "req18",
    .created = CREATED,
};

/* The decoded authorization parameter of a signed URL, in a. */
static const char *auth_of(struct arena *a, const char *url)
{
    const char *p = strstr(url, "?authorization="), *e;
    if (!p)
        return "";
    p += 15;
    e = strchr(p, '&');
    unsigned char out[512];
    long n = b64_decode(p, (size_t)(e - p), out, sizeof out - 1, B64_STRICT);
    return n < 0 ? "" : arena_strndup(a, (const char *)out, (size_t)n);
}

static void test_vectors(void)
{
    struct arena *a = arena_new(4096);
    const char *d1 = "Fri, 05 May 2023 10:43:39 GMT", *d3 = "Tue, 14 Nov 2023 22:13:20 GMT";

    /* TV-S1 */
    is_str(spark_signature(a, HOST, d1, "/v1.1/chat", SECRET),
           "z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ=", "TV-S1: the documented signature");
    const char *u1 = spark_auth_url(a, ORIGIN, HOST, "/v1.1/chat", d1, KEY, SECRET, 0);
    is_str(auth_of(a, u1),
           "api_key=\"" KEY "\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", "
           "signature=\"z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ=\"",
           "TV-S1: authorization_origin");
    is_str(u1,
           "wss://spark-api.xf-yun.com/v1.1/chat?authorization="
           "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMj"
           "U2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4VlY0QURN"
           "eWs0Njd3T1dEUTlxNkJRelIzbmZNVGpjL0RhUT0i&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host="
           "spark-api.xf-yun.com",
           "TV-S1: the URL");
    /* TV-S2 */
    is_str(spark_auth_url(a, ORIGIN, HOST, "/v1.1/chat", d1, KEY, SECRET, 1),
           "wss://spark-api.xf-yun.com/v1.1/chat?authorization="
           "aG1hYyB1c2VybmFtZT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYW"
           "Mtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4"
           "VlY0QURNeWs0Njd3T1dEUTlxNkJRelIzbmZNVGpjL0RhUT0i&date=Fri%2C+05+May+2023+10%3A43%3A39+"
           "GMT&host=spark-api.xf-yun.com",
           "TV-S2: One API's hmac username form");
    /* TV-S3 */
    is_str(spark_signature(a, HOST, d3, "/v3.5/chat", SECRET),
           "wY71luqSD1bGHxZnPJxEOcBBwAvfFievKlzs+j6Lppw=", "TV-S3: signature (with a '+')");
    const char *u3 =
        "wss://spark-api.xf-yun.com/v3.5/chat?authorization="
        "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2"
        "IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0id1k3MWx1cVNEMWJHSHhablBK"
        "eEVPY0JCd0F2ZkZpZXZLbHpzK2o2THBwdz0i&date=Tue%2C+14+Nov+2023+22%3A13%3A20+GMT&host=spark-"
        "api.xf-yun.com";
    is_str(spark_auth_url(a, ORIGIN, HOST, "/v3.5/chat", d3, KEY, SECRET, 0), u3, "TV-S3: URL");
    /* TV-S4 */
    is_str(spark_signature(a, HOST, d3, "/chat/max-32k", SECRET),
           "UFDxMuiFw4PKLOn5Y8048gxc8De7AjEGmK7gLC28k3Y=", "TV-S4: signature");
    is_str(spark_auth_url(a, ORIGIN, HOST, "/chat/max-32k", d3, KEY, SECRET, 0),
           "wss://spark-api.xf-yun.com/chat/max-32k?authorization="
           "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMj"
           "U2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iVUZEeE11aUZ3NFBLTE9u"
           "NVk4MDQ4Z3hjOERlN0FqRUdtSzdnTEMyOGszWT0i&date=Tue%2C+14+Nov+2023+22%3A13%3A20+GMT&host="
           "spark-api.xf-yun.com",
           "TV-S4: URL");
    /* TV-S5 */
    const char *d5 = "Fri, 05 May 2023 10:43:39 UTC";
    is_str(spark_signature(a, HOST, d5, "/v1.1/chat", SECRET),
           "XFPLi3N9MbBzRXlAuXffdQKVD31bvvxEOl2kNb0G4Go=", "TV-S5: signature over a UTC date");
    is_str(spark_auth_url(a, ORIGIN, HOST, "/v1.1/chat", d5, KEY, SECRET, 1),
           "wss://spark-api.xf-yun.com/v1.1/chat?authorization="
           "aG1hYyB1c2VybmFtZT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYW"
           "Mtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iWEZQTGkzTjlN"
           "YkJ6UlhsQXVYZmZkUUtWRDMxYnZ2eEVPbDJrTmIwRzRHbz0i&date=Fri%2C+05+May+2023+10%3A43%3A39+"
           "UTC&host=spark-api.xf-yun.com",
           "TV-S5: One API's exact URL");

    char date[32];
    spark_http_date(CREATED, date);
    is_str(date, d3, "the request's time as an HTTP date in GMT");
    spark_http_date(1683283419, date);
    is_str(date, d1, "and TV-S1's");
    arena_free(a);
}

/* The transcript: the URL and first frame, then the frames as a stream and as one answer. */
static void test_transcript(void)
{
    struct prov_fixture f;
    const char *req = "{\"model\":\"Spark-Max\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"你好\"}],\"stream\":true,\"max_tokens\":512,\"temperature\":0.5}";
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL, req);
    is_int(prov_fixture_build(&f), 0, "transcript: request built");
    ok(f.rq.url && !strncmp(f.rq.url, "wss://spark-api.xf-yun.com/v3.5/chat?", 37),
       "Spark-Max goes to /v3.5/chat on the default host");
    is_str(auth_of(f.a, f.rq.url),
           "api_key=\"" KEY "\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", "
           "signature=\"wY71luqSD1bGHxZnPJxEOcBBwAvfFievKlzs+j6Lppw=\"",
           "signed with the secret (second key part) for the request's time: TV-S3");
    ok(f.rq.url &&
           strstr(f.rq.url, "&date=Tue%2C+14+Nov+2023+22%3A13%3A20+GMT&host=spark-api.xf-yun.com"),
       "the date and host parameters of TV-S3");
    is_int(f.rq.n_headers, 0, "no headers: the URL carries the credentials");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"header\":{\"app_id\":\"1a2b3c4d\"},\"parameter\":{\"chat\":{"
                            "\"domain\":\"generalv3.5\",\"temperature\":0.5,\"max_tokens\":512}},"
                            "\"payload\":{\"message\":{\"text\":[{\"role\":\"user\",\"content\":"
                            "\"你好\"}]}}}"),
       "the first frame of the transcript (no top_k)");

    /* Streamed. */
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        rc |= prov_fixture_feed(&f, NULL, frames[i]);
        if (i < 2)
            ok(!f.ctx.finished, "frame %d does not end the stream", i);
    }
    is_int(rc, 0, "three frames converted");
    ok(f.ctx.finished, "status 2 ends the stream");
    ok(!strstr(f.out.p, "[DONE]"), "the adaptor leaves [DONE] to the core");
    const char *c1 = strstr(f.out.p, "data: "), *c2 = c1 ? strstr(c1 + 1, "data: ") : NULL;
    const char *c3 = c2 ? strstr(c2 + 1, "data: ") : NULL;
    ok(c1 && c2 && c3 && !strstr(c3 + 1, "data: "), "three chunks");
    if (c1 && c2 && c3) {
        char *s1 = arena_strndup(f.a, c1 + 6, (size_t)(c2 - c1 - 8));
        char *s2 = arena_strndup(f.a, c2 + 6, (size_t)(c3 - c2 - 8));
        char *s3 = arena_strndup(f.a, c3 + 6, strlen(c3 + 6) - 2);
        ok(prov_fixture_json_eq(
               s1, "{\"id\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\",\"object\":"
                   "\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"Spark-Max\","
                   "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
                   "\"你好\"},\"finish_reason\":null}]}"),
           "chunk 1: the role and 你好, the sid as id");
        ok(strstr(s2, "\"content\":\"！我是讯飞星火\"") && strstr(s2, "\"finish_reason\":null") &&
               !strstr(s2, "\"role\""),
           "chunk 2: ！我是讯飞星火");
        ok(strstr(s3, "\"content\":\"。\"") && strstr(s3, "\"finish_reason\":\"stop\""),
           "chunk 3: 。 with finish_reason stop");
    }
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 2 &&
           f.ctx.usage.completion_tokens == 8,
       "usage 2/8 from the last frame");
    is_str(f.ctx.text.p, "你好！我是讯飞星火。", "the text, for counting");
    prov_fixture_free(&f);

    /* The same with usage asked for. */
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL, req);
    f.ctx.include_usage = 1;
    for (int i = 0; i < 3; i++)
        prov_fixture_feed(&f, NULL, frames[i]);
    ok(strstr(f.out.p,
              "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":8,\"total_tokens\":10}") &&
           strstr(f.out.p, "\"choices\":[]"),
       "include_usage: a usage chunk 2/8/10 after the last");
    prov_fixture_free(&f);

    /* Collected (non-stream): the core hands over every message as a line. */
    prov_fixture_init(
        &f, &SPARK, RELAY_CHAT, NULL,
        "{\"model\":\"Spark-Max\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}");
    struct strbuf body;
    sb_init(&body, f.a);
    for (int i = 0; i < 3; i++) {
        sb_puts(&body, frames[i]);
        sb_putc(&body, '\n');
    }
    is_int(provider_spark.parse_response(&f.ctx, body.p, body.len, &f.out, &f.err), 0,
           "non-stream: the frames collected");
    ok(prov_fixture_json_eq(
           f.out.p, "{\"id\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\",\"object\":\"chat.completion\","
                    "\"created\":1700000000,\"model\":\"Spark-Max\",\"choices\":[{\"index\":0,"
                    "\"message\":{\"role\":\"assistant\",\"content\":\"你好！我是讯飞星火。\"},"
                    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,"
                    "\"completion_tokens\":8,\"total_tokens\":10}}"),
       "one chat.completion with the whole content and usage 2/8/10");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL,
                      "{\"model\":\"Spark-Max\",\"messages\":[],\"stream\":true}");
    is_int(provider_spark.message_status(&f.ctx, err_11200, strlen(err_11200)), 403,
           "11200 as the first frame stands for 403");
    is_int(provider_spark.message_status(&f.ctx, frames[0], strlen(frames[0])), 200,
           "an answer frame stands for 200");
    prov_fixture_error(&f, 403, err_11200);
    ok(f.err.status == 403 && f.err.code && !strcmp(f.err.code, "11200") && f.err.message &&
           strstr(f.err.message, "auth no license"),
       "the error: 403, code 11200 and Spark's message");
    is_int(prov_fixture_feed(&f, NULL, err_11200), -1, "an error frame in the stream is an error");
    is_int(f.err.status, 403, "with its status");
    static const struct {
        int code, status;
    } codes[] = {{10013, 400}, {10014, 400}, {10019, 400}, {10907, 400}, {10163, 400},
                 {11200, 403}, {11201, 429}, {11202, 429}, {11203, 429}, {10000, 500}};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        is_int(spark_error_status(codes[i].code), codes[i].status, "code %d -> %d", codes[i].code,
               codes[i].status);
    const char *qps = "{\"header\":{\"code\":11202,\"message\":\"AppIdQpsOverFlowError\","
                      "\"sid\":\"x\",\"status\":2}}";
    is_int(provider_spark.message_status(&f.ctx, qps, strlen(qps)), 429,
           "the QPS limit stands for a retryable 429");
    char *body = arena_printf(f.a, "%s\n", qps);
    is_int(prov_fixture_answer(&f, body), -1, "non-stream: the QPS limit fails the call");
    ok(f.err.status == 429 && f.err.code && !strcmp(f.err.code, "11202"),
       "with 429 and code 11202");
    const char *hs = "{\"message\":\"HMAC signature does not match\"}";
    prov_fixture_error(&f, 401, hs);
    ok(f.err.status == 401 && f.err.message &&
           !strcmp(f.err.message, "HMAC signature does not match"),
       "a refused handshake keeps the gateway's message");
    is_int(prov_fixture_feed(&f, NULL, NULL), -1, "a close before the last frame is an error");
    is_int(f.err.status, 502, "502");
    prov_fixture_free(&f);
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL, "{\"model\":\"Spark-Max\",\"messages\":[]}");
    f.ch.key = "1a2b3c4d|" SECRET;
    is_int(prov_fixture_build(&f), -1, "a key of two parts is refused");
    f.ch.key = "1a2b3c4d|" SECRET "|" KEY;
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) == -1 && f.err.status == 400, "embeddings are refused with a 400");
    prov_fixture_free(&f);
}

/* The path and domain a model and api_version give. */
static void check_version(const char *model, const char *api_version, const char *path,
                          const char *domain)
{
    struct prov_fixture f;
    char req[256];
    snprintf(req, sizeof req, "{\"model\":\"%s\",\"messages\":[]}", model);
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL, req);
    f.ch.api_version = api_version;
    prov_fixture_build(&f);
    char *want = arena_printf(f.a, "wss://spark-api.xf-yun.com%s?", path);
    json_object *b = json_tokener_parse(f.rq.body ? f.rq.body : "{}");
    const char *d = json_object_get_string(json_object_object_get(
        json_object_object_get(json_object_object_get(b, "parameter"), "chat"), "domain"));
    ok(f.rq.url && !strncmp(f.rq.url, want, strlen(want)) && d && !strcmp(d, domain),
       "%s (api_version \"%s\"): %s, domain %s", model, api_version, path, domain);
    json_object_put(b);
    prov_fixture_free(&f);
}

static void test_versions(void)
{
    check_version("Spark-Lite", "", "/v1.1/chat", "lite");
    check_version("Spark-Pro", "", "/v3.1/chat", "generalv3");
    check_version("Spark-Pro-128K", "", "/chat/pro-128k", "pro-128k");
    check_version("Spark-Max", "", "/v3.5/chat", "generalv3.5");
    check_version("Spark-Max-32K", "", "/chat/max-32k", "max-32k");
    check_version("Spark-4.0-Ultra", "", "/v4.0/chat", "4.0Ultra");
    check_version("SparkDesk-v3.5", "", "/v3.5/chat", "generalv3.5");
    check_version("SparkDesk-v2.1", "", "/v2.1/chat", "generalv2");
    check_version("SparkDesk", "v3.1", "/v3.1/chat", "generalv3");
    check_version("SparkDesk", "", "/v1.1/chat", "lite");
    check_version("SparkDesk-v9.9", "", "/v9.9/chat", "generalv9.9");
}

static void test_request_details(void)
{
    struct prov_fixture f;
    /* The mock (or a proxy) as the host: the signature covers the host actually used. */
    prov_fixture_init(
        &f, &SPARK, RELAY_CHAT, NULL,
        "{\"model\":\"Spark-Pro\",\"user\":\"u-0123456789012345678901234567890123456789\","
        "\"top_k\":3,\"messages\":[{\"role\":\"system\",\"content\":\"你是助手\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\"}]}],\"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}]}");
    f.ch.base_url = "http://127.0.0.1:8089/";
    f.ch.is_default_base = 0;
    is_int(prov_fixture_build(&f), 0, "built against a base URL");
    char date[32];
    spark_http_date(CREATED, date);
    const char *want = spark_auth_url(f.a, "ws://127.0.0.1:8089", "127.0.0.1:8089", "/v3.1/chat",
                                      date, KEY, SECRET, 0);
    is_str(f.rq.url, want, "http:// becomes ws://, signed for host 127.0.0.1:8089");
    ok(prov_fixture_json_eq(
           f.rq.body,
           "{\"header\":{\"app_id\":\"1a2b3c4d\",\"uid\":\"u-012345678901234567890123456789"
           "\"},\"parameter\":{\"chat\":{\"domain\":\"generalv3\",\"top_k\":3}},\"payload\":"
           "{\"message\":{\"text\":[{\"role\":\"system\",\"content\":\"你是助手\"},{\"role\":"
           "\"user\",\"content\":\"a\\nb\"}]},\"functions\":{\"text\":[{\"name\":"
           "\"get_weather\",\"parameters\":{\"type\":\"object\"}}]}}}"),
       "uid cut at 32 bytes, top_k when given, text parts joined, tools as functions");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL,
                      "{\"model\":\"Spark-Lite\",\"messages\":[],\"tools\":[{\"type\":\"function\","
                      "\"function\":{\"name\":\"f\"}}]}");
    f.ch.base_url = "https://proxy.example/spark";
    f.ch.is_default_base = 0;
    prov_fixture_build(&f);
    ok(f.rq.url && !strncmp(f.rq.url, "wss://proxy.example/spark/v1.1/chat?", 36) &&
           !strstr(f.rq.body, "functions"),
       "https:// becomes wss:// with the path prefix kept; lite takes no functions");
    prov_fixture_free(&f);

    /* A function call in the last frame. */
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL,
                      "{\"model\":\"Spark-Max\",\"messages\":[],\"stream\":true}");
    const char *fc =
        "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"s1\",\"status\":2},\"payload\":"
        "{\"choices\":{\"status\":2,\"seq\":0,\"text\":[{\"content\":\"\",\"role\":\"assistant\","
        "\"index\":0,\"function_call\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"usage\":{\"text\":{\"prompt_tokens\":5,"
        "\"completion_tokens\":3,\"total_tokens\":8}}}}";
    is_int(prov_fixture_feed(&f, NULL, fc), 0, "a function call frame");
    ok(strstr(f.out.p, "\"tool_calls\":[{\"index\":0,\"id\":\"call_") &&
           strstr(f.out.p,
                  "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"") &&
           strstr(f.out.p, "\"finish_reason\":\"tool_calls\""),
       "becomes a tool call with finish_reason tool_calls");
    prov_fixture_free(&f);
    prov_fixture_init(&f, &SPARK, RELAY_CHAT, NULL, "{\"model\":\"Spark-Max\",\"messages\":[]}");
    is_int(prov_fixture_answer(&f, fc), 0, "non-stream function call");
    ok(strstr(f.out.p, "\"content\":null") && strstr(f.out.p, "\"tool_calls\":[{\"id\":\"call_") &&
           strstr(f.out.p, "\"finish_reason\":\"tool_calls\""),
       "a message with the tool call and no content");
    prov_fixture_free(&f);
}

int main(void)
{
    test_vectors();
    test_transcript();
    test_errors();
    test_versions();
    test_request_details();
    return done_testing();
}
