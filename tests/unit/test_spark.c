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
#include "tap.h"

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

struct fixture {
    struct arena *a;
    struct prov_channel ch;
    struct prov_ctx ctx;
    struct json_object *req;
};

static void fixture_init(struct fixture *f, const char *req_json, const char *base)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(8192);
    f->ch.id = 18;
    f->ch.type = 18;
    f->ch.key = "1a2b3c4d|" SECRET "|" KEY;
    f->ch.base_url = base;
    f->ch.is_default_base = !*base;
    f->ch.api_version = "";
    f->ch.config = "";
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = RELAY_CHAT;
    f->ctx.ch = &f->ch;
    f->ctx.req = f->req;
    f->ctx.is_stream = json_object_get_boolean(json_object_object_get(f->req, "stream"));
    f->ctx.request_id = "req18";
    f->ctx.created = CREATED;
    f->ctx.model =
        arena_strdup(f->a, json_object_get_string(json_object_object_get(f->req, "model")));
    f->ctx.origin_model = f->ctx.model;
    sb_init(&f->ctx.text, f->a);
}

static void fixture_fini(struct fixture *f)
{
    json_object_put(f->req);
    arena_free(f->a);
}

static int json_same(const char *got, const char *want)
{
    struct json_object *g = got ? json_tokener_parse(got) : NULL;
    struct json_object *w = json_tokener_parse(want);
    int same = g && w && json_object_equal(g, w);
    if (!same) {
        note("got:  %s", got ? got : "(null)");
        note("want: %s", want);
    }
    json_object_put(g);
    json_object_put(w);
    return same;
}

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
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    const char *req = "{\"model\":\"Spark-Max\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"你好\"}],\"stream\":true,\"max_tokens\":512,\"temperature\":0.5}";
    fixture_init(&f, req, "");
    is_int(provider_spark.build_request(&f.ctx, &rq, &err), 0, "transcript: request built");
    ok(rq.url && !strncmp(rq.url, "wss://spark-api.xf-yun.com/v3.5/chat?", 37),
       "Spark-Max goes to /v3.5/chat on the default host");
    is_str(auth_of(f.a, rq.url),
           "api_key=\"" KEY "\", algorithm=\"hmac-sha256\", headers=\"host date request-line\", "
           "signature=\"wY71luqSD1bGHxZnPJxEOcBBwAvfFievKlzs+j6Lppw=\"",
           "signed with the secret (second key part) for the request's time: TV-S3");
    ok(rq.url &&
           strstr(rq.url, "&date=Tue%2C+14+Nov+2023+22%3A13%3A20+GMT&host=spark-api.xf-yun.com"),
       "the date and host parameters of TV-S3");
    is_int(rq.n_headers, 0, "no headers: the URL carries the credentials");
    ok(json_same(rq.body, "{\"header\":{\"app_id\":\"1a2b3c4d\"},\"parameter\":{\"chat\":{"
                          "\"domain\":\"generalv3.5\",\"temperature\":0.5,\"max_tokens\":512}},"
                          "\"payload\":{\"message\":{\"text\":[{\"role\":\"user\",\"content\":"
                          "\"你好\"}]}}}"),
       "the first frame of the transcript (no top_k)");

    /* Streamed. */
    struct strbuf out;
    sb_init(&out, f.a);
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        rc |= provider_spark.parse_event(&f.ctx, NULL, frames[i], strlen(frames[i]), &out, &err);
        if (i < 2)
            ok(!f.ctx.finished, "frame %d does not end the stream", i);
    }
    is_int(rc, 0, "three frames converted");
    ok(f.ctx.finished, "status 2 ends the stream");
    ok(!strstr(out.p, "[DONE]"), "the adaptor leaves [DONE] to the core");
    const char *c1 = strstr(out.p, "data: "), *c2 = c1 ? strstr(c1 + 1, "data: ") : NULL;
    const char *c3 = c2 ? strstr(c2 + 1, "data: ") : NULL;
    ok(c1 && c2 && c3 && !strstr(c3 + 1, "data: "), "three chunks");
    if (c1 && c2 && c3) {
        char *s1 = arena_strndup(f.a, c1 + 6, (size_t)(c2 - c1 - 8));
        char *s2 = arena_strndup(f.a, c2 + 6, (size_t)(c3 - c2 - 8));
        char *s3 = arena_strndup(f.a, c3 + 6, strlen(c3 + 6) - 2);
        ok(json_same(s1, "{\"id\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\",\"object\":"
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
    fixture_fini(&f);

    /* The same with usage asked for. */
    fixture_init(&f, req, "");
    f.ctx.include_usage = 1;
    sb_init(&out, f.a);
    for (int i = 0; i < 3; i++)
        provider_spark.parse_event(&f.ctx, NULL, frames[i], strlen(frames[i]), &out, &err);
    ok(strstr(out.p,
              "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":8,\"total_tokens\":10}") &&
           strstr(out.p, "\"choices\":[]"),
       "include_usage: a usage chunk 2/8/10 after the last");
    fixture_fini(&f);

    /* Collected (non-stream): the core hands over every message as a line. */
    fixture_init(
        &f, "{\"model\":\"Spark-Max\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}",
        "");
    struct strbuf body;
    sb_init(&body, f.a);
    sb_init(&out, f.a);
    for (int i = 0; i < 3; i++) {
        sb_puts(&body, frames[i]);
        sb_putc(&body, '\n');
    }
    is_int(provider_spark.parse_response(&f.ctx, body.p, body.len, &out, &err), 0,
           "non-stream: the frames collected");
    ok(json_same(out.p,
                 "{\"id\":\"cht000b9e5f@dx18bcd9a1b2c3a4e532\",\"object\":\"chat.completion\","
                 "\"created\":1700000000,\"model\":\"Spark-Max\",\"choices\":[{\"index\":0,"
                 "\"message\":{\"role\":\"assistant\",\"content\":\"你好！我是讯飞星火。\"},"
                 "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,"
                 "\"completion_tokens\":8,\"total_tokens\":10}}"),
       "one chat.completion with the whole content and usage 2/8/10");
    fixture_fini(&f);
}

static void test_errors(void)
{
    struct fixture f;
    struct prov_error err = {0};
    struct strbuf out;
    fixture_init(&f, "{\"model\":\"Spark-Max\",\"messages\":[],\"stream\":true}", "");
    sb_init(&out, f.a);
    is_int(provider_spark.message_status(&f.ctx, err_11200, strlen(err_11200)), 403,
           "11200 as the first frame stands for 403");
    is_int(provider_spark.message_status(&f.ctx, frames[0], strlen(frames[0])), 200,
           "an answer frame stands for 200");
    provider_spark.parse_error(&f.ctx, 403, err_11200, strlen(err_11200), &err);
    ok(err.status == 403 && err.code && !strcmp(err.code, "11200") && err.message &&
           strstr(err.message, "auth no license"),
       "the error: 403, code 11200 and Spark's message");
    memset(&err, 0, sizeof err);
    is_int(provider_spark.parse_event(&f.ctx, NULL, err_11200, strlen(err_11200), &out, &err), -1,
           "an error frame in the stream is an error");
    is_int(err.status, 403, "with its status");
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
    memset(&err, 0, sizeof err);
    char *body = arena_printf(f.a, "%s\n", qps);
    is_int(provider_spark.parse_response(&f.ctx, body, strlen(body), &out, &err), -1,
           "non-stream: the QPS limit fails the call");
    ok(err.status == 429 && err.code && !strcmp(err.code, "11202"), "with 429 and code 11202");
    memset(&err, 0, sizeof err);
    const char *hs = "{\"message\":\"HMAC signature does not match\"}";
    provider_spark.parse_error(&f.ctx, 401, hs, strlen(hs), &err);
    ok(err.status == 401 && err.message && !strcmp(err.message, "HMAC signature does not match"),
       "a refused handshake keeps the gateway's message");
    memset(&err, 0, sizeof err);
    is_int(provider_spark.parse_event(&f.ctx, NULL, NULL, 0, &out, &err), -1,
           "a close before the last frame is an error");
    is_int(err.status, 502, "502");
    fixture_fini(&f);

    struct prov_request rq = {0};
    fixture_init(&f, "{\"model\":\"Spark-Max\",\"messages\":[]}", "");
    f.ch.key = "1a2b3c4d|" SECRET;
    memset(&err, 0, sizeof err);
    is_int(provider_spark.build_request(&f.ctx, &rq, &err), -1, "a key of two parts is refused");
    f.ch.key = "1a2b3c4d|" SECRET "|" KEY;
    f.ctx.mode = RELAY_EMBEDDINGS;
    memset(&err, 0, sizeof err);
    ok(provider_spark.build_request(&f.ctx, &rq, &err) == -1 && err.status == 400,
       "embeddings are refused with a 400");
    fixture_fini(&f);
}

/* The path and domain a model and api_version give. */
static void check_version(const char *model, const char *api_version, const char *path,
                          const char *domain)
{
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    char req[256];
    snprintf(req, sizeof req, "{\"model\":\"%s\",\"messages\":[]}", model);
    fixture_init(&f, req, "");
    f.ch.api_version = api_version;
    provider_spark.build_request(&f.ctx, &rq, &err);
    char *want = arena_printf(f.a, "wss://spark-api.xf-yun.com%s?", path);
    json_object *b = json_tokener_parse(rq.body ? rq.body : "{}");
    const char *d = json_object_get_string(json_object_object_get(
        json_object_object_get(json_object_object_get(b, "parameter"), "chat"), "domain"));
    ok(rq.url && !strncmp(rq.url, want, strlen(want)) && d && !strcmp(d, domain),
       "%s (api_version \"%s\"): %s, domain %s", model, api_version, path, domain);
    json_object_put(b);
    fixture_fini(&f);
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
    struct fixture f;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    /* The mock (or a proxy) as the host: the signature covers the host actually used. */
    fixture_init(&f,
                 "{\"model\":\"Spark-Pro\",\"user\":\"u-0123456789012345678901234567890123456789\","
                 "\"top_k\":3,\"messages\":[{\"role\":\"system\",\"content\":\"你是助手\"},"
                 "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                 "{\"type\":\"text\",\"text\":\"b\"}]}],\"tools\":[{\"type\":\"function\","
                 "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}]}",
                 "http://127.0.0.1:8089/");
    is_int(provider_spark.build_request(&f.ctx, &rq, &err), 0, "built against a base URL");
    char date[32];
    spark_http_date(CREATED, date);
    const char *want = spark_auth_url(f.a, "ws://127.0.0.1:8089", "127.0.0.1:8089", "/v3.1/chat",
                                      date, KEY, SECRET, 0);
    is_str(rq.url, want, "http:// becomes ws://, signed for host 127.0.0.1:8089");
    ok(json_same(rq.body,
                 "{\"header\":{\"app_id\":\"1a2b3c4d\",\"uid\":\"u-012345678901234567890123456789"
                 "\"},\"parameter\":{\"chat\":{\"domain\":\"generalv3\",\"top_k\":3}},\"payload\":"
                 "{\"message\":{\"text\":[{\"role\":\"system\",\"content\":\"你是助手\"},{\"role\":"
                 "\"user\",\"content\":\"a\\nb\"}]},\"functions\":{\"text\":[{\"name\":"
                 "\"get_weather\",\"parameters\":{\"type\":\"object\"}}]}}}"),
       "uid cut at 32 bytes, top_k when given, text parts joined, tools as functions");
    fixture_fini(&f);

    fixture_init(&f,
                 "{\"model\":\"Spark-Lite\",\"messages\":[],\"tools\":[{\"type\":\"function\","
                 "\"function\":{\"name\":\"f\"}}]}",
                 "https://proxy.example/spark");
    provider_spark.build_request(&f.ctx, &rq, &err);
    ok(rq.url && !strncmp(rq.url, "wss://proxy.example/spark/v1.1/chat?", 36) &&
           !strstr(rq.body, "functions"),
       "https:// becomes wss:// with the path prefix kept; lite takes no functions");
    fixture_fini(&f);

    /* A function call in the last frame. */
    fixture_init(&f, "{\"model\":\"Spark-Max\",\"messages\":[],\"stream\":true}", "");
    const char *fc =
        "{\"header\":{\"code\":0,\"message\":\"Success\",\"sid\":\"s1\",\"status\":2},\"payload\":"
        "{\"choices\":{\"status\":2,\"seq\":0,\"text\":[{\"content\":\"\",\"role\":\"assistant\","
        "\"index\":0,\"function_call\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"usage\":{\"text\":{\"prompt_tokens\":5,"
        "\"completion_tokens\":3,\"total_tokens\":8}}}}";
    struct strbuf out;
    sb_init(&out, f.a);
    is_int(provider_spark.parse_event(&f.ctx, NULL, fc, strlen(fc), &out, &err), 0,
           "a function call frame");
    ok(strstr(out.p, "\"tool_calls\":[{\"index\":0,\"id\":\"call_") &&
           strstr(out.p,
                  "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"") &&
           strstr(out.p, "\"finish_reason\":\"tool_calls\""),
       "becomes a tool call with finish_reason tool_calls");
    fixture_fini(&f);
    fixture_init(&f, "{\"model\":\"Spark-Max\",\"messages\":[]}", "");
    sb_init(&out, f.a);
    is_int(provider_spark.parse_response(&f.ctx, fc, strlen(fc), &out, &err), 0,
           "non-stream function call");
    ok(strstr(out.p, "\"content\":null") && strstr(out.p, "\"tool_calls\":[{\"id\":\"call_") &&
           strstr(out.p, "\"finish_reason\":\"tool_calls\""),
       "a message with the tool call and no content");
    fixture_fini(&f);
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
