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
#include "tap.h"

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

struct fixture {
    struct arena *a;
    struct prov_channel ch;
    struct prov_ctx ctx;
    struct json_object *req;
};

static void fixture_init(struct fixture *f, enum relay_mode mode, const char *req_json)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(8192);
    f->ch.id = 16;
    f->ch.type = 16;
    f->ch.key = KEY;
    f->ch.base_url = "https://open.bigmodel.cn";
    f->ch.is_default_base = 1;
    f->ch.api_version = "";
    f->ch.config = "";
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = mode;
    f->ctx.ch = &f->ch;
    f->ctx.req = f->req;
    f->ctx.is_stream = json_object_get_boolean(json_object_object_get(f->req, "stream"));
    f->ctx.request_id = "req16";
    f->ctx.created = CREATED;
    f->ctx.model =
        arena_strdup(f->a, json_object_get_string(json_object_object_get(f->req, "model")));
    f->ctx.origin_model = f->ctx.model;
    f->ctx.credential = zhipu_jwt(f->a, KEY, CREATED * 1000LL, CREATED * 1000LL + 86400000);
    sb_init(&f->ctx.text, f->a);
    SB_LIT(&f->ctx.text, "");
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
    struct fixture f;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"glm-4\",\"messages\":[]}");
    struct prov_cred cred;
    struct prov_error err = {0};
    memset(&cred, 0, sizeof cred);
    is_int(provider_zhipu.credential(&f.ctx, &cred, &err), 0, "credential: minted");
    ok(!cred.req.url, "credential: no token request to make");
    is_int(cred.expires_at, CREATED + 3600, "credential: valid for an hour");
    is_str(cred.token, zhipu_jwt(a, KEY, CREATED * 1000LL, (CREATED + 3600) * 1000LL),
           "credential: the JWT of the key at the request's time");
    f.ch.key = "sk-no-dot";
    is_int(provider_zhipu.credential(&f.ctx, &cred, &err), -1, "credential: bad key refused");
    is_int(err.status, 500, "credential: bad key is a 500");
    fixture_fini(&f);
    arena_free(a);
}

static const char *header(const struct prov_request *rq, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < rq->n_headers; i++)
        if (!strncmp(rq->headers[i], name, n) && rq->headers[i][n] == ':')
            return rq->headers[i] + n + 2;
    return NULL;
}

static void test_v3_invoke(void)
{
    struct fixture f;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"chatglm_turbo\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"你好\"}],\"temperature\":0.9}");
    struct prov_request rq = {0};
    struct prov_error err = {0};
    is_int(provider_zhipu.build_request(&f.ctx, &rq, &err), 0, "Z1: built");
    is_str(rq.url, "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_turbo/invoke",
           "Z1: the invoke URL");
    is_str(header(&rq, "Authorization"), TV_Z1, "Z1: the bare JWT, no Bearer");
    ok(json_same(rq.body, "{\"prompt\":[{\"role\":\"user\",\"content\":\"你好\"}],"
                          "\"temperature\":0.9}"),
       "Z1: the v3 body");
    static const char answer[] =
        "{\"code\":200,\"msg\":\"操作成功\",\"success\":true,\"data\":{\"request_id\":"
        "\"8098028963974553570\",\"task_id\":\"8098028963974553570\",\"task_status\":\"SUCCESS\","
        "\"choices\":[{\"role\":\"assistant\",\"content\":\"\\\" 你好！\\\\n我是智谱清言。\\\"\"}],"
        "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":9,\"total_tokens\":11}}}";
    struct strbuf out;
    sb_init(&out, f.a);
    is_int(provider_zhipu.parse_response(&f.ctx, answer, sizeof answer - 1, &out, &err), 0,
           "Z1: answer read");
    struct json_object *j = json_tokener_parse(out.p);
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
    sb_reset(&out);
    is_int(provider_zhipu.parse_response(&f.ctx, z3, sizeof z3 - 1, &out, &err), -1,
           "Z3: success:false is an error");
    is_int(err.status, 400, "Z3: status 400");
    is_str(err.message, "Prompt 超长", "Z3: Zhipu's message");
    is_str(err.code, "1261", "Z3: Zhipu's code");
    static const char z3rl[] = "{\"code\":1302,\"msg\":\"请求过多\",\"success\":false}";
    provider_zhipu.parse_response(&f.ctx, z3rl, sizeof z3rl - 1, &out, &err);
    is_int(err.status, 429, "v3 rate limit inside a 200 becomes 429");
    fixture_fini(&f);
}

struct feed {
    struct fixture *f;
    struct strbuf *out;
    struct prov_error *err;
};

static int on_event(void *ud, const char *event, const char *data, size_t n)
{
    struct feed *fd = ud;
    return provider_zhipu.parse_event(&fd->f->ctx, event, data, n, fd->out, fd->err) ? 1 : 0;
}

static void test_v3_stream(void)
{
    struct fixture f;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"chatglm_turbo\",\"stream\":true,\"stream_options\":"
                 "{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"
                 "[{\"type\":\"text\",\"text\":\"你\"},{\"type\":\"text\",\"text\":\"好\"}]}]}");
    f.ctx.include_usage = 1;
    struct prov_request rq = {0};
    struct prov_error err = {0};
    provider_zhipu.build_request(&f.ctx, &rq, &err);
    is_str(rq.url, "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_turbo/sse-invoke",
           "Z2: the sse-invoke URL");
    ok(json_same(rq.body, "{\"prompt\":[{\"role\":\"user\",\"content\":\"你好\"}]}"),
       "Z2: content parts flattened, no stream fields");
    static const char z2[] =
        "event:add\nid:7951544019094669224\ndata:你好\n\n"
        "event:add\nid:7951544019094669224\ndata:！我是\ndata:智谱清言\n\n"
        "event:finish\nid:7951544019094669224\ndata:\nmeta:{\"task_status\":\"SUCCESS\","
        "\"usage\":{\"completion_tokens\":7,\"prompt_tokens\":2,\"total_tokens\":9},"
        "\"task_id\":\"7951544019094669224\",\"request_id\":\"7951544019094669224\"}\n\n";
    struct strbuf out;
    sb_init(&out, f.a);
    SB_LIT(&out, "");
    struct sse_parser p;
    sse_init(&p, f.a, 0);
    struct feed fd = {&f, &out, &err};
    /* Byte by byte: the events must not depend on how the upstream's bytes are cut. */
    int rc = 0;
    for (size_t i = 0; i < sizeof z2 - 1 && !rc; i++)
        rc = sse_feed(&p, z2 + i, 1, on_event, &fd);
    is_int(rc, 0, "Z2: every event read");
    ok(strstr(out.p, "\"content\":\"你好\""), "Z2: first chunk");
    ok(strstr(out.p, "\"content\":\"！我是\\n智谱清言\""), "Z2: two data lines joined with \\n");
    ok(strstr(out.p, "\"finish_reason\":\"stop\""), "Z2: a stop chunk");
    ok(strstr(out.p, "\"id\":\"7951544019094669224\""), "Z2: the request id from meta");
    ok(strstr(out.p, "\"prompt_tokens\":2") && strstr(out.p, "\"completion_tokens\":7"),
       "Z2: the usage chunk the client asked for");
    ok(f.ctx.finished, "Z2: finished at meta");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 2 &&
           f.ctx.usage.completion_tokens == 7,
       "Z2: usage 2/7 from meta");
    is_str(f.ctx.text.p, "你好！我是\n智谱清言", "Z2: the text for counting");
    ok(!strstr(out.p, "[DONE]"), "Z2: [DONE] is left to the core");
    /* Through the parser as the relay sets it up for Zhipu: a leading space is text. */
    fixture_fini(&f);
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"chatglm_std\",\"stream\":true,\"messages\":[]}");
    static const char en[] =
        "event:add\ndata:Hello\n\nevent:add\ndata: world\n\nevent:finish\n"
        "data:\nmeta:{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
    sse_init(&p, f.a, 0);
    p.keeps_data_space = provider_zhipu.sse_keeps_data_space;
    sb_init(&out, f.a);
    SB_LIT(&out, "");
    fd = (struct feed){&f, &out, &err};
    is_int(sse_feed(&p, en, sizeof en - 1, on_event, &fd), 0, "v3 English stream read");
    is_str(f.ctx.text.p, "Hello world", "v3: the space after data: is content, kept");
    fixture_fini(&f);
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"chatglm_turbo\",\"stream\":true,\"messages\":[]}");
    sb_init(&out, f.a);
    SB_LIT(&out, "");
    /* An error event mid-stream. */
    sb_reset(&out);
    f.ctx.finished = 0;
    is_int(provider_zhipu.parse_event(&f.ctx, "error", "boom", 4, &out, &err), -1,
           "event:error is an error");
    fixture_fini(&f);
}

static void test_v4(void)
{
    struct fixture f;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"glm-4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                 "\"temperature\":1.5,\"top_p\":1,\"stream\":true}");
    struct prov_request rq = {0};
    struct prov_error err = {0};
    is_int(provider_zhipu.build_request(&f.ctx, &rq, &err), 0, "v4 chat: built");
    is_str(rq.url, "https://open.bigmodel.cn/api/paas/v4/chat/completions", "v4 chat: URL");
    is_str(header(&rq, "Authorization"), TV_Z1, "v4: the JWT as the Authorization");
    ok(json_same(rq.body, "{\"model\":\"glm-4\",\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"hi\"}],\"temperature\":1,\"top_p\":0.99,\"stream\":true}"),
       "v4 chat: temperature clamped to 1, top_p 1 becomes 0.99");
    static const char chunk[] =
        "{\"id\":\"8313807536837492492\",\"created\":1706092316,\"model\":\"glm-4\",\"choices\":"
        "[{\"index\":0,\"finish_reason\":\"stop\",\"delta\":{\"role\":\"assistant\",\"content\":"
        "\"土\"}}],\"usage\":{\"prompt_tokens\":60,\"completion_tokens\":100,\"total_tokens\":160}"
        "}";
    struct strbuf out;
    sb_init(&out, f.a);
    SB_LIT(&out, "");
    /* The parser keeps the space after "data:" for v3's sake: v4 events arrive with it. */
    char spaced[sizeof chunk + 1] = " ";
    memcpy(spaced + 1, chunk, sizeof chunk);
    is_int(provider_zhipu.parse_event(&f.ctx, "", spaced, sizeof spaced - 1, &out, &err), 0,
           "v4 chunk read (after the kept space)");
    ok(strstr(out.p, "\"object\":\"chat.completion.chunk\""), "v4 chunk gets its object");
    ok(f.ctx.usage.prompt_tokens == 60 && f.ctx.usage.completion_tokens == 100,
       "v4 chunk usage 60/100");
    provider_zhipu.parse_event(&f.ctx, "", " [DONE]", 7, &out, &err);
    ok(f.ctx.finished, "v4 [DONE] finishes (after the kept space)");
    fixture_fini(&f);

    /* Models outside the legacy list go to v4 even when they do not start with glm-. */
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"charglm-4\",\"messages\":[]}");
    provider_zhipu.build_request(&f.ctx, &rq, &err);
    is_str(rq.url, "https://open.bigmodel.cn/api/paas/v4/chat/completions", "charglm-4 is v4");
    fixture_fini(&f);

    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"embedding-2\",\"input\":[\"text\"]}");
    is_int(provider_zhipu.build_request(&f.ctx, &rq, &err), 0, "embeddings: built");
    is_str(rq.url, "https://open.bigmodel.cn/api/paas/v4/embeddings", "embeddings: URL");
    ok(json_same(rq.body, "{\"model\":\"embedding-2\",\"input\":\"text\"}"),
       "embeddings: one string input");
    fixture_fini(&f);
    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"embedding-2\",\"input\":[\"a\",\"b\"]}");
    is_int(provider_zhipu.build_request(&f.ctx, &rq, &err), -1, "embeddings: two inputs refused");
    is_int(err.status, 400, "embeddings: 400");
    fixture_fini(&f);
    fixture_init(&f, RELAY_IMAGES,
                 "{\"model\":\"cogview-3\",\"prompt\":\"a cat\",\"n\":1,\"size\":\"1024x1024\"}");
    provider_zhipu.build_request(&f.ctx, &rq, &err);
    is_str(rq.url, "https://open.bigmodel.cn/api/paas/v4/images/generations", "images: URL");
    ok(json_same(rq.body, "{\"model\":\"cogview-3\",\"prompt\":\"a cat\"}"),
       "images: model and prompt only");
    fixture_fini(&f);
    fixture_init(&f, RELAY_SPEECH, "{\"model\":\"glm-4\",\"input\":\"x\"}");
    is_int(provider_zhipu.build_request(&f.ctx, &rq, &err), -1, "speech refused");
    fixture_fini(&f);
}

static void test_errors(void)
{
    struct fixture f;
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"glm-4\",\"messages\":[]}");
    struct prov_error err = {0};
    static const char rl[] =
        "{\"error\":{\"code\":\"1302\",\"message\":\"您当前使用该API的并发数过高\"}}";
    provider_zhipu.parse_error(&f.ctx, 429, rl, sizeof rl - 1, &err);
    is_int(err.status, 429, "1302 is a 429");
    is_str(err.code, "1302", "1302: code kept");
    is_str(err.type, "zhipu_error", "1302: type zhipu_error");
    provider_zhipu.parse_error(&f.ctx, 500, rl, sizeof rl - 1, &err);
    is_int(err.status, 429, "1302 under another status is still a 429 (retryable)");
    static const char ol[] = "{\"error\":{\"code\":\"1305\",\"message\":\"busy\"}}";
    provider_zhipu.parse_error(&f.ctx, 503, ol, sizeof ol - 1, &err);
    is_int(err.status, 429, "1305 (overloaded) is a 429");
    static const char au[] =
        "{\"error\":{\"code\":\"1002\",\"message\":\"Authorization Token非法\"}}";
    provider_zhipu.parse_error(&f.ctx, 401, au, sizeof au - 1, &err);
    is_int(err.status, 401, "1002 is a 401");
    is_str(err.message, "Authorization Token非法", "1002: the message");
    static const char mod[] = "{\"error\":{\"code\":\"1301\",\"message\":\"unsafe\"}}";
    provider_zhipu.parse_error(&f.ctx, 400, mod, sizeof mod - 1, &err);
    is_int(err.status, 400, "1301 keeps its 400");
    struct strbuf out;
    sb_init(&out, f.a);
    is_int(provider_zhipu.parse_response(&f.ctx, rl, sizeof rl - 1, &out, &err), -1,
           "an error object inside a 200 is an error");
    is_int(err.status, 429, "... with the code's status");
    provider_zhipu.parse_error(&f.ctx, 502, "<html>", 6, &err);
    is_int(err.status, 502, "a non-JSON error keeps its status");
    fixture_fini(&f);
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
