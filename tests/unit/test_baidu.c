/* Checks providers/baidu.c: the access token exchange, endpoints, request conversion,
 * non-stream and SSE answers, embeddings and errors inside 200 answers, against Baidu's
 * documented shapes and transcripts. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/baidu.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "tap.h"

/* The gateway clock the tests assume. */
#define CREATED 1730000000
/* Most SSE frames one test stream produces. */
#define MAX_FRAMES 32
/* The token of the transcripts. */
#define TOKEN "24.6c5e1ff107f0e8bcef8c46d3424a0e78.2592000.1485516651.282335-8574074"
/* The client request of the transcripts. */
#define CHAT_REQ                                                                                     \
    "{\"model\":\"ERNIE-3.5-8K\",\"messages\":[{\"role\":\"system\",\"content\":\"你是助手\"},{" \
    "\"role\":\"user\",\"content\":\"你好\"}],\"temperature\":0.7,\"max_tokens\":256}"

/* One adaptor call's world: arena, channel, context and the parsed client request. */
struct fixture {
    struct arena *a;         /* freed by fixture_fini */
    struct prov_channel ch;  /* a Baidu channel (type 15) */
    struct prov_ctx ctx;     /* the attempt, pointing at a, ch and req */
    struct json_object *req; /* owned; put by fixture_fini */
};

/* SSE frames split out of an adaptor's output (pointers into the arena). */
struct frames {
    char *f[MAX_FRAMES]; /* JSON text after "data: " */
    int n;
};

static void fixture_init(struct fixture *f, enum relay_mode mode, const char *req_json,
                         int is_stream, int include_usage)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(8192);
    f->ch.id = 7;
    f->ch.type = 15;
    f->ch.key = "AK123|SK456";
    f->ch.base_url = "https://aip.baidubce.com";
    f->ch.is_default_base = 1;
    f->ch.api_version = "";
    f->ch.config = "";
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = mode;
    f->ctx.ch = &f->ch;
    f->ctx.req = f->req;
    f->ctx.is_stream = is_stream;
    f->ctx.include_usage = include_usage;
    f->ctx.request_id = "req42";
    f->ctx.created = CREATED;
    f->ctx.credential = TOKEN;
    struct json_object *m = NULL;
    json_object_object_get_ex(f->req, "model", &m);
    f->ctx.model = arena_strdup(f->a, m ? json_object_get_string(m) : "ERNIE-3.5-8K");
    f->ctx.origin_model = f->ctx.model;
    sb_init(&f->ctx.text, f->a);
}

static void fixture_fini(struct fixture *f)
{
    json_object_put(f->req);
    arena_free(f->a);
}

/* 1 when both texts parse to equal JSON; prints both otherwise. */
static int json_same(const char *got, const char *want)
{
    struct json_object *g = got ? json_tokener_parse(got) : NULL;
    struct json_object *w = want ? json_tokener_parse(want) : NULL;
    int same = g && w && json_object_equal(g, w);

    if (!same) {
        note("got:  %s", got ? got : "(null)");
        note("want: %s", want ? want : "(null)");
    }
    json_object_put(g);
    json_object_put(w);
    return same;
}

/* The value at a dotted path of JSON text as a string (numbers too), in a; NULL if absent. */
static const char *at(struct arena *a, const char *json, const char *path)
{
    struct json_object *root = json_tokener_parse(json), *o = root;
    char *p = arena_strdup(a, path), *save = NULL;
    const char *res = NULL;

    for (char *k = strtok_r(p, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(k));
        else if (!json_object_object_get_ex(o, k, &o))
            o = NULL;
    }
    if (o)
        res = arena_strdup(a, json_object_is_type(o, json_type_string)
                                  ? json_object_get_string(o)
                                  : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return res;
}

/* Splits "data: {...}\n\n" events; 0 when the text is not a sequence of such events. */
static int split_frames(struct arena *a, const char *s, struct frames *fr)
{
    fr->n = 0;
    while (*s) {
        const char *end = strstr(s, "\n\n");
        if (strncmp(s, "data: ", 6) != 0 || !end || fr->n == MAX_FRAMES)
            return 0;
        fr->f[fr->n++] = arena_printf(a, "%.*s", (int)(end - s - 6), s + 6);
        s = end + 2;
    }
    return 1;
}

static void test_registry(void)
{
    const struct channel_type *t = channel_type_get(15);
    ok(t && t->prov == &provider_baidu, "type 15 uses the Baidu adaptor");
}

static void test_token(void)
{
    struct fixture f;
    struct prov_cred cred;
    struct prov_error err;
    const char *ok_body =
        "{\"refresh_token\":\"25.r3fr3sh.315360000.1798284651.282335-8574074\",\"expires_in\":"
        "2592000,\"session_key\":\"sk\",\"access_token\":\"" TOKEN "\",\"scope\":\"public\","
        "\"session_secret\":\"ss\"}";
    const char *bad = "{\"error\":\"invalid_client\",\"error_description\":\"unknown client id\"}";

    fixture_init(&f, RELAY_CHAT, CHAT_REQ, 0, 0);
    memset(&cred, 0, sizeof cred);
    is_int(provider_baidu.credential(&f.ctx, &cred, &err), 0, "token: a request is described");
    is_str(cred.req.url,
           "https://aip.baidubce.com/oauth/2.0/token?grant_type=client_credentials&client_id="
           "AK123&client_secret=SK456",
           "token: POST /oauth/2.0/token with the key's two halves");
    ok(cred.req.body && cred.req.body_len == 0, "token: a POST with an empty body");
    ok(!cred.token, "token: not minted locally");
    memset(&cred, 0, sizeof cred);
    is_int(provider_baidu.credential_parse(&f.ctx, 200, ok_body, strlen(ok_body), &cred, &err), 0,
           "token: the answer is read");
    is_str(cred.token, TOKEN, "token: access_token");
    is_int(cred.expires_at, CREATED + 2592000, "token: expires_in from now");

    memset(&err, 0, sizeof err);
    is_int(provider_baidu.credential_parse(&f.ctx, 401, bad, strlen(bad), &cred, &err), -1,
           "token refused: an error");
    is_int(err.status, 401, "token refused: 401");
    is_str(err.message, "invalid_client: unknown client id", "token refused: error: description");
    memset(&err, 0, sizeof err);
    is_int(provider_baidu.credential_parse(&f.ctx, 200, bad, strlen(bad), &cred, &err), -1,
           "token refused inside a 200: an error");
    is_int(err.status, 401, "token refused inside a 200: 401");
    memset(&err, 0, sizeof err);
    is_int(provider_baidu.credential_parse(&f.ctx, 200, "{}", 2, &cred, &err), -1,
           "token answer without a token: an error");
    is_int(err.status, 500, "token answer without a token: 500");

    f.ch.key = "AK123";
    memset(&err, 0, sizeof err);
    is_int(provider_baidu.credential(&f.ctx, &cred, &err), -1, "key without '|': refused");
    is_int(err.status, 500, "key without '|': 500");
    f.ch.key = "A K|S&K";
    f.ch.base_url = "http://127.0.0.1:9/";
    memset(&cred, 0, sizeof cred);
    provider_baidu.credential(&f.ctx, &cred, &err);
    is_str(cred.req.url,
           "http://127.0.0.1:9/oauth/2.0/token?grant_type=client_credentials&client_id=A%20K"
           "&client_secret=S%26K",
           "token: the channel's base URL is the token host; the key is escaped");
    fixture_fini(&f);
}

static void test_endpoints(void)
{
    struct arena *a = arena_new(1024);
    static const char *const cases[][2] = {
        {"ERNIE-4.0-8K", "chat/completions_pro"},
        {"ERNIE-3.5-8K", "chat/completions"},
        {"ERNIE-Speed-8K", "chat/ernie_speed"},
        {"ERNIE-Speed-128K", "chat/ernie-speed-128k"},
        {"ERNIE-Lite-8K-0922", "chat/eb-instant"},
        {"ERNIE-Lite-8K-0308", "chat/ernie-lite-8k"},
        {"ERNIE-Tiny-8K", "chat/ernie-tiny-8k"},
        {"BLOOMZ-7B", "chat/bloomz_7b1"},
        {"ERNIE-Bot-8K", "chat/ernie_bot_8k"},
        {"ERNIE-3.5-8K-0205", "chat/ernie-3.5-8k-0205"},
        {"ERNIE-4.0-Turbo-8K", "chat/ernie-4.0-turbo-8k"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        is_str(baidu_endpoint(a, cases[i][0], RELAY_CHAT), cases[i][1], "endpoint of %s",
               cases[i][0]);
    is_str(baidu_endpoint(a, "Embedding-V1", RELAY_EMBEDDINGS), "embeddings/embedding-v1",
           "endpoint of Embedding-V1");
    is_str(baidu_endpoint(a, "bge-large-zh", RELAY_EMBEDDINGS), "embeddings/bge_large_zh",
           "endpoint of bge-large-zh");
    is_str(baidu_endpoint(a, "bge-large-en", RELAY_EMBEDDINGS), "embeddings/bge_large_en",
           "endpoint of bge-large-en");
    is_str(baidu_endpoint(a, "tao-8k", RELAY_EMBEDDINGS), "embeddings/tao_8k",
           "endpoint of tao-8k");
    arena_free(a);
}

static void test_chat_request(void)
{
    struct fixture f;
    struct prov_request rq;
    struct prov_error err;

    fixture_init(&f, RELAY_CHAT, CHAT_REQ, 0, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_baidu.build_request(&f.ctx, &rq, &err), 0, "B2 request: built");
    is_str(rq.url,
           "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions"
           "?access_token=" TOKEN,
           "B2 request: the endpoint and the token in the query");
    ok(json_same(rq.body, "{\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],"
                          "\"temperature\":0.7,\"system\":\"你是助手\",\"max_output_tokens\":256}"),
       "B2 request: system apart, max_tokens as max_output_tokens");
    for (int i = 0; i < rq.n_headers; i++)
        ok(!strstr(rq.headers[i], "SK456"), "B2 request: header %d carries no secret", i);
    fixture_fini(&f);

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"ERNIE-4.0-Turbo-8K\",\"stream\":true,\"messages\":[{\"role\":"
                 "\"system\",\"content\":\"a\"},{\"role\":\"system\",\"content\":[{\"type\":"
                 "\"text\",\"text\":\"b\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                 "\"text\":\"x\"},{\"type\":\"text\",\"text\":\"y\"}]}],\"top_p\":0.5,"
                 "\"frequency_penalty\":1.5,\"max_tokens\":1,\"user\":\"u1\"}",
                 1, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_baidu.build_request(&f.ctx, &rq, &err), 0, "options: built");
    ok(strstr(rq.url, "/wenxinworkshop/chat/ernie-4.0-turbo-8k?access_token=") != NULL,
       "options: an unlisted model's lower-cased name is the endpoint");
    ok(json_same(rq.body, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\\ny\"}],"
                          "\"top_p\":0.5,\"penalty_score\":1.5,\"stream\":true,\"system\":\"b\","
                          "\"max_output_tokens\":2,\"user_id\":\"u1\"}"),
       "options: last system wins, parts flattened, penalty kept, max 1 raised to 2, user_id");
    fixture_fini(&f);

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"ERNIE-Speed-8K\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"q\"}],\"frequency_penalty\":0}",
                 0, 0);
    memset(&rq, 0, sizeof rq);
    provider_baidu.build_request(&f.ctx, &rq, &err);
    is_str(at(f.a, rq.body, "penalty_score"), NULL, "a penalty below 1 is left out");
    fixture_fini(&f);

    fixture_init(&f, RELAY_IMAGES, "{\"model\":\"ERNIE-3.5-8K\",\"prompt\":\"x\"}", 0, 0);
    memset(&err, 0, sizeof err);
    is_int(provider_baidu.build_request(&f.ctx, &rq, &err), -1, "images: refused");
    is_int(err.status, 400, "images: a 400");
    fixture_fini(&f);
}

static void test_nonstream(void)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    const char *body =
        "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":1700000000,"
        "\"result\":\"你好！有什么可以帮你？\",\"is_truncated\":false,\"need_clear_history\":false,"
        "\"finish_reason\":\"normal\",\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":8,"
        "\"total_tokens\":14}}";

    fixture_init(&f, RELAY_CHAT, CHAT_REQ, 0, 0);
    sb_init(&out, f.a);
    is_int(provider_baidu.parse_response(&f.ctx, body, strlen(body), &out, &err), 0,
           "B2 answer: parsed");
    ok(json_same(out.p,
                 "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":1700000000,"
                 "\"model\":\"ERNIE-3.5-8K\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"你好！有什么可以帮你？\"},\"finish_reason\":"
                 "\"stop\"}],\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":8,"
                 "\"total_tokens\":14}}"),
       "B2 answer: the OpenAI completion of the transcript");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 6 &&
           f.ctx.usage.completion_tokens == 8,
       "B2 answer: usage 6 + 8 for billing");
    fixture_fini(&f);

    const char *len = "{\"id\":\"as-1\",\"created\":1,\"result\":\"ab\",\"finish_reason\":"
                      "\"length\",\"usage\":{\"prompt_tokens\":1,\"total_tokens\":3}}";
    fixture_init(&f, RELAY_CHAT, CHAT_REQ, 0, 0);
    sb_init(&out, f.a);
    provider_baidu.parse_response(&f.ctx, len, strlen(len), &out, &err);
    is_str(at(f.a, out.p, "choices.0.finish_reason"), "length", "finish_reason length kept");
    is_int(f.ctx.usage.completion_tokens, 2, "completion = total - prompt");
    fixture_fini(&f);
}

static const char *const STREAM[] = {
    "{\"id\":\"as-s7g0kq1x2c\",\"object\":\"chat.completion\",\"created\":1700000001,"
    "\"sentence_id\":0,\"is_end\":false,\"is_truncated\":false,\"result\":\"你好！\","
    "\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{\"prompt_tokens\":6,"
    "\"completion_tokens\":3,\"total_tokens\":9}}",
    "{\"id\":\"as-s7g0kq1x2c\",\"object\":\"chat.completion\",\"created\":1700000001,"
    "\"sentence_id\":1,\"is_end\":false,\"is_truncated\":false,\"result\":\"有什么可以帮你？\","
    "\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{\"prompt_tokens\":6,"
    "\"completion_tokens\":8,\"total_tokens\":14}}",
    "{\"id\":\"as-s7g0kq1x2c\",\"object\":\"chat.completion\",\"created\":1700000002,"
    "\"sentence_id\":2,\"is_end\":true,\"is_truncated\":false,\"result\":\"\","
    "\"need_clear_history\":false,\"finish_reason\":\"normal\",\"usage\":{\"prompt_tokens\":6,"
    "\"completion_tokens\":8,\"total_tokens\":14}}",
};

static void test_stream(int include_usage)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    struct frames fr;
    static const char *const want[] = {"你好！", "有什么可以帮你？", ""};

    fixture_init(&f, RELAY_CHAT, CHAT_REQ, 1, include_usage);
    sb_init(&out, f.a);
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = provider_baidu.parse_event(&f.ctx, "", STREAM[i], strlen(STREAM[i]), &out, &err);
    is_int(rc, 0, "B3 stream (usage %d): events parsed", include_usage);
    ok(f.ctx.finished, "B3 stream: is_end ends the stream");
    ok(split_frames(f.a, out.p, &fr), "B3 stream: SSE events, no [DONE] from the adaptor");
    is_int(fr.n, 3 + include_usage, "B3 stream: three chunks (and the usage chunk when asked)");
    for (int i = 0; i < 3 && i < fr.n; i++) {
        is_str(at(f.a, fr.f[i], "id"), "as-s7g0kq1x2c", "B3 chunk %d: Baidu's id", i);
        is_str(at(f.a, fr.f[i], "object"), "chat.completion.chunk", "B3 chunk %d: a chunk", i);
        is_str(at(f.a, fr.f[i], "choices.0.delta.content"), want[i], "B3 chunk %d: delta", i);
        is_str(at(f.a, fr.f[i], "choices.0.finish_reason"), i == 2 ? "stop" : NULL,
               "B3 chunk %d: finish_reason", i);
    }
    if (include_usage && fr.n == 4)
        ok(json_same(at(f.a, fr.f[3], "usage"),
                     "{\"prompt_tokens\":6,\"completion_tokens\":8,\"total_tokens\":14}"),
           "B3 stream: the usage chunk");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 6 &&
           f.ctx.usage.completion_tokens == 8,
       "B3 stream: usage 6 + 8 recorded");
    is_str(f.ctx.text.p, "你好！有什么可以帮你？", "B3 stream: text kept for counting");
    fixture_fini(&f);
}

static void test_errors(void)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    static const struct {
        const char *body;
        int status;
        const char *code;
    } cases[] = {
        {"{\"error_code\":110,\"error_msg\":\"Access token invalid or no longer valid\"}", 401,
         "110"},
        {"{\"error_code\":111,\"error_msg\":\"Access token expired\"}", 401, "111"},
        {"{\"error_code\":18,\"error_msg\":\"Open api qps request limit reached\"}", 429, "18"},
        {"{\"error_code\":17,\"error_msg\":\"Open api daily request limit reached\"}", 429, "17"},
        {"{\"error_code\":336501,\"error_msg\":\"Rate limit reached for RPM\"}", 429, "336501"},
        {"{\"error_code\":336502,\"error_msg\":\"Rate limit reached for TPM\"}", 429, "336502"},
        {"{\"error_code\":336003,\"error_msg\":\"the first message must be user\"}", 400, "336003"},
        {"{\"error_code\":336100,\"error_msg\":\"try again later\"}", 503, "336100"},
        {"{\"error_code\":1,\"error_msg\":\"Unknown error\"}", 500, "1"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *b = cases[i].body;
        fixture_init(&f, RELAY_CHAT, CHAT_REQ, 0, 0);
        sb_init(&out, f.a);
        memset(&err, 0, sizeof err);
        is_int(provider_baidu.parse_response(&f.ctx, b, strlen(b), &out, &err), -1,
               "error %s inside a 200: an error", cases[i].code);
        is_int(err.status, cases[i].status, "error %s: status %d", cases[i].code, cases[i].status);
        is_str(err.code, cases[i].code, "error %s: code", cases[i].code);
        is_str(err.type, "baidu_error", "error %s: type baidu_error", cases[i].code);
        memset(&err, 0, sizeof err);
        provider_baidu.parse_error(&f.ctx, 200, b, strlen(b), &err);
        is_int(err.status, cases[i].status, "error %s as a stream's JSON answer: same status",
               cases[i].code);
        fixture_fini(&f);
    }
    fixture_init(&f, RELAY_CHAT, CHAT_REQ, 0, 0);
    sb_init(&out, f.a);
    memset(&err, 0, sizeof err);
    provider_baidu.parse_response(&f.ctx, cases[0].body, strlen(cases[0].body), &out, &err);
    is_str(err.message, "Access token invalid or no longer valid", "B4: Baidu's message");
    memset(&err, 0, sizeof err);
    provider_baidu.parse_error(&f.ctx, 502, "<html>", 6, &err);
    is_int(err.status, 502, "unreadable error: status kept");
    memset(&err, 0, sizeof err);
    is_int(provider_baidu.parse_event(&f.ctx, "", cases[2].body, strlen(cases[2].body), &out, &err),
           -1, "an error event mid-stream: an error");
    is_int(err.status, 429, "an error event mid-stream: 429");
    fixture_fini(&f);
}

static void test_embeddings(void)
{
    struct fixture f;
    struct prov_request rq;
    struct prov_error err;
    struct strbuf out;
    const char *body =
        "{\"id\":\"as-emb01\",\"object\":\"embedding_list\",\"created\":1700000003,\"data\":[{"
        "\"object\":\"embedding\",\"embedding\":[0.0123,-0.0456,0.0789],\"index\":0},{\"object\":"
        "\"embedding\",\"embedding\":[-0.0011,0.0222,0.0333],\"index\":1}],\"usage\":{"
        "\"prompt_tokens\":4,\"total_tokens\":4}}";

    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"Embedding-V1\",\"input\":[\"你好\",\"世界\"]}",
                 0, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_baidu.build_request(&f.ctx, &rq, &err), 0, "B5 request: built");
    is_str(rq.url,
           "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-v1"
           "?access_token=" TOKEN,
           "B5 request: the embeddings endpoint");
    ok(json_same(rq.body, "{\"input\":[\"你好\",\"世界\"]}"), "B5 request: body");
    sb_init(&out, f.a);
    is_int(provider_baidu.parse_response(&f.ctx, body, strlen(body), &out, &err), 0,
           "B5 answer: parsed");
    ok(json_same(out.p, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":[0.0123,-0.0456,0.0789]},{\"object\":\"embedding\","
                        "\"index\":1,\"embedding\":[-0.0011,0.0222,0.0333]}],\"model\":"
                        "\"Embedding-V1\",\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":0,"
                        "\"total_tokens\":4}}"),
       "B5 answer: the OpenAI list of the transcript");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 4, "B5 answer: 4 prompt tokens");
    fixture_fini(&f);

    fixture_init(&f, RELAY_EMBEDDINGS, "{\"model\":\"tao-8k\",\"input\":\"one\"}", 0, 0);
    memset(&rq, 0, sizeof rq);
    provider_baidu.build_request(&f.ctx, &rq, &err);
    ok(json_same(rq.body, "{\"input\":[\"one\"]}"), "a string input becomes a list of one");
    fixture_fini(&f);
}

int main(void)
{
    test_registry();
    test_token();
    test_endpoints();
    test_chat_request();
    test_nonstream();
    test_stream(0);
    test_stream(1);
    test_errors();
    test_embeddings();
    return done_testing();
}
