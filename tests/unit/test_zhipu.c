/* Checks providers/zhipu.c: the JWT of a key against Zhipu's published-style vectors (One API's
 * 24 hour and the SDK's 3 minute expiry), the cached credential's life, the v3 exchange of a
 * whole transcript (invoke, sse-invoke through the SSE parser, success:false), the v4 request
 * adjustments (clamps, embeddings, images), chunks without "object", and the error codes,
 * the rate limits among them. */
#include "config.h"

#include <json-c/json.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/provider.h"
#include "providers/sse.h"
#include "providers/zhipu.h"
#include "prov_fixture.h"

#define KEY "d2b1f0c2e7a44b8c9f0e1d2c3b4a5968.QzN1aVhDd0RrS2pVbE5tTw"
#define HDR "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04iLCJ0eXAiOiJKV1QifQ"
#define TV_Z1                                                                                      \
    HDR ".eyJhcGlfa2V5IjoiZDJiMWYwYzJlN2E0NGI4YzlmMGUxZDJjM2I0YTU5NjgiLCJleHAiOjE3MDAwODY0MDAwMDA" \
        "s"                                                                                        \
        "InRpbWVzdGFtcCI6MTcwMDAwMDAwMDAwMH0.ylA29zWxXtyZd6KzOQ4lPY_Eu1Rd4fRl_lsKCkmRT60"
#define TV_Z2                                                                                      \
    HDR ".eyJhcGlfa2V5IjoiZDJiMWYwYzJlN2E0NGI4YzlmMGUxZDJjM2I0YTU5NjgiLCJleHAiOjE3MDAwMDAxODAwMDA" \
        "s"                                                                                        \
        "InRpbWVzdGFtcCI6MTcwMDAwMDAwMDAwMH0.3MSw31IUsnMMQWXp1QIy8b3CsV8cruSP5Q-vOy4jnBo"
#define CREATED 1700000000

/* A Zhipu channel (type 16) at the default base. */
static const struct prov_fixture_spec ZHIPU = {
    .prov = &provider_zhipu,
    .ch = {.id = 16,
           .type = 16,
           .key = KEY,
           .base_url = "https://open.bigmodel.cn",
           .is_default_base = 1,
           .config = ""},
    .request_id = "req16",
    .created = CREATED,
};

/* A Zhipu call in mode for req_json, with the day-long JWT the credential cache would hold for
 * KEY at CREATED, and an empty (not NULL) text. */
static void fixture_init(struct prov_fixture *f, enum relay_mode mode, const char *req_json)
{
    prov_fixture_init(f, &ZHIPU, mode, NULL, req_json);
    f->ctx.credential = zhipu_jwt(f->a, KEY, CREATED * 1000LL, CREATED * 1000LL + 86400000);
    SB_LIT(&f->ctx.text, "");
}

static void test_jwt(void)
{
    struct arena *a = arena_new(4096);
    is_str(zhipu_jwt(a, KEY, 1700000000000LL, 1700086400000LL), TV_Z1,
           "TV-Z1: One API's 24 hour token, byte for byte");
    is_str(zhipu_jwt(a, KEY, 1700000000000LL, 1700000180000LL), TV_Z2,
           "TV-Z2: the SDK's 3 minute token, byte for byte");
    ok(!zhipu_jwt(a, "nodot", 1, 2), "a key without '.' gives no token");
    ok(!zhipu_jwt(a, ".secret", 1, 2) && !zhipu_jwt(a, "id.", 1, 2), "empty id or secret: none");

    /* The credential operation mints locally (no token request) an hour-long token. */
    struct prov_fixture f;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"glm-4\",\"messages\":[]}");
    struct prov_cred cred;
    memset(&cred, 0, sizeof cred);
    is_int(provider_zhipu.credential(&f.ctx, &cred, &f.err), 0, "credential: minted");
    ok(!cred.req.url, "credential: no token request to make");
    is_int(cred.expires_at, CREATED + 3600, "credential: valid for an hour");
    is_str(cred.token, zhipu_jwt(a, KEY, CREATED * 1000LL, (CREATED + 3600) * 1000LL),
           "credential: the JWT of the key at the request's time");
    f.ch.key = "sk-no-dot";
    is_int(provider_zhipu.credential(&f.ctx, &cred, &f.err), -1, "credential: bad key refused");
    is_int(f.err.status, 500, "credential: bad key is a 500");
    prov_fixture_free(&f);
    arena_free(a);
}

static void test_v3_invoke(void)
{
    struct prov_fixture f;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"chatglm_turbo\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"你好\"}],\"temperature\":0.9}");
    is_int(prov_fixture_build(&f), 0, "Z1: built");
    is_str(f.rq.url, "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_turbo/invoke",
           "Z1: the invoke URL");
    is_str(prov_fixture_header(&f.rq, "Authorization"), TV_Z1, "Z1: the bare JWT, no Bearer");
    ok(prov_fixture_json_eq(f.rq.body, "{\"prompt\":[{\"role\":\"user\",\"content\":\"你好\"}],"
                                       "\"temperature\":0.9}"),
       "Z1: the v3 body");
    static const char answer[] =
        "{\"code\":200,\"msg\":\"操作成功\",\"success\":true,\"data\":{\"request_id\":"
        "\"8098028963974553570\",\"task_id\":\"8098028963974553570\",\"task_status\":\"SUCCESS\","
        "\"choices\":[{\"role\":\"assistant\",\"content\":\"\\\" 你好！\\\\n我是智谱清言。\\\"\"}],"
        "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":9,\"total_tokens\":11}}}";
    is_int(prov_fixture_answer(&f, answer), 0, "Z1: answer read");
    struct json_object *j = json_tokener_parse(f.out.p);
    struct json_object *c0 = json_object_array_get_idx(json_object_object_get(j, "choices"), 0);
    is_str(json_object_get_string(json_object_object_get(j, "id")), "8098028963974553570",
           "Z1: id is the task id");
    is_str(json_object_get_string(
               json_object_object_get(json_object_object_get(c0, "message"), "content")),
           " 你好！\n我是智谱清言。", "Z1: the quoted content is JSON-decoded (real newline)");
    is_str(json_object_get_string(json_object_object_get(c0, "finish_reason")), "stop",
           "Z1: finish_reason stop");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 2 &&
           f.ctx.usage.completion_tokens == 9,
       "Z1: usage 2/9 as reported");
    is_int(json_object_get_int(
               json_object_object_get(json_object_object_get(j, "usage"), "total_tokens")),
           11, "Z1: total 11");
    json_object_put(j);

    /* Z3: success:false inside a 200. */
    static const char z3[] = "{\"code\":1261,\"msg\":\"Prompt 超长\",\"success\":false}";
    sb_reset(&f.out);
    is_int(prov_fixture_answer(&f, z3), -1, "Z3: success:false is an error");
    is_int(f.err.status, 400, "Z3: status 400");
    is_str(f.err.message, "Prompt 超长", "Z3: Zhipu's message");
    is_str(f.err.code, "1261", "Z3: Zhipu's code");
    static const char z3rl[] = "{\"code\":1302,\"msg\":\"请求过多\",\"success\":false}";
    prov_fixture_answer(&f, z3rl);
    is_int(f.err.status, 429, "v3 rate limit inside a 200 becomes 429");
    prov_fixture_free(&f);
}

static void test_v3_stream(void)
{
    struct prov_fixture f;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"chatglm_turbo\",\"stream\":true,\"stream_options\":"
                 "{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"
                 "[{\"type\":\"text\",\"text\":\"你\"},{\"type\":\"text\",\"text\":\"好\"}]}]}");
    f.ctx.include_usage = 1;
    prov_fixture_build(&f);
    is_str(f.rq.url, "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_turbo/sse-invoke",
           "Z2: the sse-invoke URL");
    ok(prov_fixture_json_eq(f.rq.body, "{\"prompt\":[{\"role\":\"user\",\"content\":\"你好\"}]}"),
       "Z2: content parts flattened, no stream fields");
    static const char z2[] =
        "event:add\nid:7951544019094669224\ndata:你好\n\n"
        "event:add\nid:7951544019094669224\ndata:！我是\ndata:智谱清言\n\n"
        "event:finish\nid:7951544019094669224\ndata:\nmeta:{\"task_status\":\"SUCCESS\","
        "\"usage\":{\"completion_tokens\":7,\"prompt_tokens\":2,\"total_tokens\":9},"
        "\"task_id\":\"7951544019094669224\",\"request_id\":\"7951544019094669224\"}\n\n";
    SB_LIT(&f.out, "");
    struct sse_parser p;
    sse_init(&p, f.a, 0);
    /* Byte by byte: the events must not depend on how the upstream's bytes are cut. */
    int rc = 0;
    for (size_t i = 0; i < sizeof z2 - 1 && !rc; i++)
        rc = sse_feed(&p, z2 + i, 1, prov_fixture_on_sse_event, &f);
    is_int(rc, 0, "Z2: every event read");
    ok(strstr(f.out.p, "\"content\":\"你好\""), "Z2: first chunk");
    ok(strstr(f.out.p, "\"content\":\"！我是\\n智谱清言\""), "Z2: two data lines joined with \\n");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\""), "Z2: a stop chunk");
    ok(strstr(f.out.p, "\"id\":\"7951544019094669224\""), "Z2: the request id from meta");
    ok(strstr(f.out.p, "\"prompt_tokens\":2") && strstr(f.out.p, "\"completion_tokens\":7"),
       "Z2: the usage chunk the client asked for");
    ok(f.ctx.finished, "Z2: finished at meta");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 2 &&
           f.ctx.usage.completion_tokens == 7,
       "Z2: usage 2/7 from meta");
    is_str(f.ctx.text.p, "你好！我是\n智谱清言", "Z2: the text for counting");
    ok(!strstr(f.out.p, "[DONE]"), "Z2: [DONE] is left to the core");
    /* Through the parser as the relay sets it up for Zhipu: a leading space is text. */
    prov_fixture_free(&f);
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"chatglm_std\",\"stream\":true,\"messages\":[]}");
    static const char en[] =
        "event:add\ndata:Hello\n\nevent:add\ndata: world\n\nevent:finish\n"
        "data:\nmeta:{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
    is_int(prov_fixture_feed_sse(&f, en), 0, "v3 English stream read");
    is_str(f.ctx.text.p, "Hello world", "v3: the space after data: is content, kept");
    prov_fixture_free(&f);
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"chatglm_turbo\",\"stream\":true,\"messages\":[]}");
    SB_LIT(&f.out, "");
    /* An error event mid-stream. */
    sb_reset(&f.out);
    f.ctx.finished = 0;
    is_int(prov_fixture_feed(&f, "error", "boom"), -1, "event:error is an error");
    prov_fixture_free(&f);
}

static void test_v4(void)
{
    struct prov_fixture f;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"glm-4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                 "\"temperature\":1.5,\"top_p\":1,\"stream\":true}");
    is_int(prov_fixture_build(&f), 0, "v4 chat: built");
    is_str(f.rq.url, "https://open.bigmodel.cn/api/paas/v4/chat/completions", "v4 chat: URL");
    is_str(prov_fixture_header(&f.rq, "Authorization"), TV_Z1, "v4: the JWT as the Authorization");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"model\":\"glm-4\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"hi\"}],\"temperature\":1,\"top_p\":0.99,\"stream\":true}"),
       "v4 chat: temperature clamped to 1, top_p 1 becomes 0.99");
    static const char chunk[] =
        "{\"id\":\"8313807536837492492\",\"created\":1706092316,\"model\":\"glm-4\",\"choices\":"
        "[{\"index\":0,\"finish_reason\":\"stop\",\"delta\":{\"role\":\"assistant\",\"content\":"
        "\"土\"}}],\"usage\":{\"prompt_tokens\":60,\"completion_tokens\":100,\"total_tokens\":160}"
        "}";
    SB_LIT(&f.out, "");
    /* The parser keeps the space after "data:" for v3's sake: v4 events arrive with it. */
    char spaced[sizeof chunk + 1] = " ";
    memcpy(spaced + 1, chunk, sizeof chunk);
    is_int(prov_fixture_feed(&f, "", spaced), 0, "v4 chunk read (after the kept space)");
    ok(strstr(f.out.p, "\"object\":\"chat.completion.chunk\""), "v4 chunk gets its object");
    ok(f.ctx.usage.prompt_tokens == 60 && f.ctx.usage.completion_tokens == 100,
       "v4 chunk usage 60/100");
    prov_fixture_feed(&f, "", " [DONE]");
    ok(f.ctx.finished, "v4 [DONE] finishes (after the kept space)");
    prov_fixture_free(&f);

    /* Models outside the legacy list go to v4 even when they do not start with glm-. */
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"charglm-4\",\"messages\":[]}");
    prov_fixture_build(&f);
    is_str(f.rq.url, "https://open.bigmodel.cn/api/paas/v4/chat/completions", "charglm-4 is v4");
    prov_fixture_free(&f);

    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"embedding-2\",\"input\":[\"text\"]}");
    is_int(prov_fixture_build(&f), 0, "embeddings: built");
    is_str(f.rq.url, "https://open.bigmodel.cn/api/paas/v4/embeddings", "embeddings: URL");
    ok(prov_fixture_json_eq(f.rq.body, "{\"model\":\"embedding-2\",\"input\":\"text\"}"),
       "embeddings: one string input");
    prov_fixture_free(&f);
    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"embedding-2\",\"input\":[\"a\",\"b\"]}");
    is_int(prov_fixture_build(&f), -1, "embeddings: two inputs refused");
    is_int(f.err.status, 400, "embeddings: 400");
    prov_fixture_free(&f);
    fixture_init(&f, RELAY_IMAGES,
                 "{\"model\":\"cogview-3\",\"prompt\":\"a cat\",\"n\":1,\"size\":\"1024x1024\"}");
    prov_fixture_build(&f);
    is_str(f.rq.url, "https://open.bigmodel.cn/api/paas/v4/images/generations", "images: URL");
    ok(prov_fixture_json_eq(f.rq.body, "{\"model\":\"cogview-3\",\"prompt\":\"a cat\"}"),
       "images: model and prompt only");
    prov_fixture_free(&f);
    fixture_init(&f, RELAY_SPEECH, "{\"model\":\"glm-4\",\"input\":\"x\"}");
    is_int(prov_fixture_build(&f), -1, "speech refused");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"glm-4\",\"messages\":[]}");
    static const char rl[] =
        "{\"error\":{\"code\":\"1302\",\"message\":\"您当前使用该API的并发数过高\"}}";
    prov_fixture_error(&f, 429, rl);
    is_int(f.err.status, 429, "1302 is a 429");
    is_str(f.err.code, "1302", "1302: code kept");
    is_str(f.err.type, "zhipu_error", "1302: type zhipu_error");
    prov_fixture_error(&f, 500, rl);
    is_int(f.err.status, 429, "1302 under another status is still a 429 (retryable)");
    static const char ol[] = "{\"error\":{\"code\":\"1305\",\"message\":\"busy\"}}";
    prov_fixture_error(&f, 503, ol);
    is_int(f.err.status, 429, "1305 (overloaded) is a 429");
    static const char au[] =
        "{\"error\":{\"code\":\"1002\",\"message\":\"Authorization Token非法\"}}";
    prov_fixture_error(&f, 401, au);
    is_int(f.err.status, 401, "1002 is a 401");
    is_str(f.err.message, "Authorization Token非法", "1002: the message");
    static const char mod[] = "{\"error\":{\"code\":\"1301\",\"message\":\"unsafe\"}}";
    prov_fixture_error(&f, 400, mod);
    is_int(f.err.status, 400, "1301 keeps its 400");
    is_int(prov_fixture_answer(&f, rl), -1, "an error object inside a 200 is an error");
    is_int(f.err.status, 429, "... with the code's status");
    prov_fixture_error(&f, 502, "<html>");
    is_int(f.err.status, 502, "a non-JSON error keeps its status");
    prov_fixture_free(&f);
}

int main(void)
{
    test_jwt();
    test_v3_invoke();
    test_v3_stream();
    test_v4();
    test_errors();
    return done_testing();
}
