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
#include "prov_fixture.h"

/* The gateway clock the tests assume. */
#define CREATED 1730000000
/* The token of the transcripts. */
#define TOKEN "24.6c5e1ff107f0e8bcef8c46d3424a0e78.2592000.1485516651.282335-8574074"
/* The client request of the transcripts. */
#define CHAT_REQ                                                                                     \
    "{\"model\":\"ERNIE-3.5-8K\",\"messages\":[{\"role\":\"system\",\"content\":\"你是助手\"},{" \
    "\"role\":\"user\",\"content\":\"你好\"}],\"temperature\":0.7,\"max_tokens\":256}"

/* A Baidu channel (type 15) whose "AK|SK" key has already given the transcripts' token. */
static const struct prov_fixture_spec BAIDU = {
    .prov = &provider_baidu,
    .ch = {.id = 7,
           .type = 15,
           .key = "AK123|SK456",
           .base_url = "https://aip.baidubce.com",
           .is_default_base = 1,
           .config = ""},
    .model = "ERNIE-3.5-8K",
    .request_id = "req42",
    .created = CREATED,
    .credential = TOKEN,
};

static void test_registry(void)
{
    const struct channel_type *t = channel_type_get(15);
    ok(t && t->prov == &provider_baidu, "type 15 uses the Baidu adaptor");
}

static void test_token(void)
{
    struct prov_fixture f;
    struct prov_cred cred;
    const char *ok_body =
        "{\"refresh_token\":\"25.r3fr3sh.315360000.1798284651.282335-8574074\",\"expires_in\":"
        "2592000,\"session_key\":\"sk\",\"access_token\":\"" TOKEN "\",\"scope\":\"public\","
        "\"session_secret\":\"ss\"}";
    const char *bad = "{\"error\":\"invalid_client\",\"error_description\":\"unknown client id\"}";

    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
    memset(&cred, 0, sizeof cred);
    is_int(provider_baidu.credential(&f.ctx, &cred, &f.err), 0, "token: a request is described");
    is_str(cred.req.url,
           "https://aip.baidubce.com/oauth/2.0/token?grant_type=client_credentials&client_id="
           "AK123&client_secret=SK456",
           "token: POST /oauth/2.0/token with the key's two halves");
    ok(cred.req.body && cred.req.body_len == 0, "token: a POST with an empty body");
    ok(!cred.token, "token: not minted locally");
    memset(&cred, 0, sizeof cred);
    is_int(provider_baidu.credential_parse(&f.ctx, 200, ok_body, strlen(ok_body), &cred, &f.err), 0,
           "token: the answer is read");
    is_str(cred.token, TOKEN, "token: access_token");
    is_int(cred.expires_at, CREATED + 2592000, "token: expires_in from now");

    memset(&f.err, 0, sizeof f.err);
    is_int(provider_baidu.credential_parse(&f.ctx, 401, bad, strlen(bad), &cred, &f.err), -1,
           "token refused: an error");
    is_int(f.err.status, 401, "token refused: 401");
    is_str(f.err.message, "invalid_client: unknown client id", "token refused: error: description");
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_baidu.credential_parse(&f.ctx, 200, bad, strlen(bad), &cred, &f.err), -1,
           "token refused inside a 200: an error");
    is_int(f.err.status, 401, "token refused inside a 200: 401");
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_baidu.credential_parse(&f.ctx, 200, "{}", 2, &cred, &f.err), -1,
           "token answer without a token: an error");
    is_int(f.err.status, 500, "token answer without a token: 500");

    f.ch.key = "AK123";
    memset(&f.err, 0, sizeof f.err);
    is_int(provider_baidu.credential(&f.ctx, &cred, &f.err), -1, "key without '|': refused");
    is_int(f.err.status, 500, "key without '|': 500");
    f.ch.key = "A K|S&K";
    f.ch.base_url = "http://127.0.0.1:9/";
    memset(&cred, 0, sizeof cred);
    provider_baidu.credential(&f.ctx, &cred, &f.err);
    is_str(cred.req.url,
           "http://127.0.0.1:9/oauth/2.0/token?grant_type=client_credentials&client_id=A%20K"
           "&client_secret=S%26K",
           "token: the channel's base URL is the token host; the key is escaped");
    prov_fixture_free(&f);
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
    struct prov_fixture f;

    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
    is_int(prov_fixture_build(&f), 0, "B2 request: built");
    is_str(f.rq.url,
           "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions"
           "?access_token=" TOKEN,
           "B2 request: the endpoint and the token in the query");
    ok(prov_fixture_json_eq(
           f.rq.body, "{\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],"
                      "\"temperature\":0.7,\"system\":\"你是助手\",\"max_output_tokens\":256}"),
       "B2 request: system apart, max_tokens as max_output_tokens");
    for (int i = 0; i < f.rq.n_headers; i++)
        ok(!strstr(f.rq.headers[i], "SK456"), "B2 request: header %d carries no secret", i);
    prov_fixture_free(&f);

    prov_fixture_init(
        &f, &BAIDU, RELAY_CHAT, NULL,
        "{\"model\":\"ERNIE-4.0-Turbo-8K\",\"stream\":true,\"messages\":[{\"role\":"
        "\"system\",\"content\":\"a\"},{\"role\":\"system\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"b\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"x\"},{\"type\":\"text\",\"text\":\"y\"}]}],\"top_p\":0.5,"
        "\"frequency_penalty\":1.5,\"max_tokens\":1,\"user\":\"u1\"}");
    is_int(prov_fixture_build(&f), 0, "options: built");
    ok(strstr(f.rq.url, "/wenxinworkshop/chat/ernie-4.0-turbo-8k?access_token=") != NULL,
       "options: an unlisted model's lower-cased name is the endpoint");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"x\\ny\"}],"
                            "\"top_p\":0.5,\"penalty_score\":1.5,\"stream\":true,\"system\":\"b\","
                            "\"max_output_tokens\":2,\"user_id\":\"u1\"}"),
       "options: last system wins, parts flattened, penalty kept, max 1 raised to 2, user_id");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL,
                      "{\"model\":\"ERNIE-Speed-8K\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"q\"}],\"frequency_penalty\":0}");
    prov_fixture_build(&f);
    is_str(prov_fixture_json_at(f.a, f.rq.body, "penalty_score"), NULL,
           "a penalty below 1 is left out");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &BAIDU, RELAY_IMAGES, NULL,
                      "{\"model\":\"ERNIE-3.5-8K\",\"prompt\":\"x\"}");
    is_int(prov_fixture_build(&f), -1, "images: refused");
    is_int(f.err.status, 400, "images: a 400");
    prov_fixture_free(&f);
}

static void test_nonstream(void)
{
    struct prov_fixture f;
    const char *body =
        "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":1700000000,"
        "\"result\":\"你好！有什么可以帮你？\",\"is_truncated\":false,\"need_clear_history\":false,"
        "\"finish_reason\":\"normal\",\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":8,"
        "\"total_tokens\":14}}";

    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
    is_int(prov_fixture_answer(&f, body), 0, "B2 answer: parsed");
    ok(prov_fixture_json_eq(
           f.out.p,
           "{\"id\":\"as-bcmt5ct4iy\",\"object\":\"chat.completion\",\"created\":1700000000,"
           "\"model\":\"ERNIE-3.5-8K\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
           "\"assistant\",\"content\":\"你好！有什么可以帮你？\"},\"finish_reason\":"
           "\"stop\"}],\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":8,"
           "\"total_tokens\":14}}"),
       "B2 answer: the OpenAI completion of the transcript");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 6 &&
           f.ctx.usage.completion_tokens == 8,
       "B2 answer: usage 6 + 8 for billing");
    prov_fixture_free(&f);

    const char *len = "{\"id\":\"as-1\",\"created\":1,\"result\":\"ab\",\"finish_reason\":"
                      "\"length\",\"usage\":{\"prompt_tokens\":1,\"total_tokens\":3}}";
    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
    prov_fixture_answer(&f, len);
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.finish_reason"), "length",
           "finish_reason length kept");
    is_int(f.ctx.usage.completion_tokens, 2, "completion = total - prompt");
    prov_fixture_free(&f);
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
    struct prov_fixture f;
    struct prov_fixture_events fr;
    static const char *const want[] = {"你好！", "有什么可以帮你？", ""};

    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
    f.ctx.is_stream = 1;
    f.ctx.include_usage = include_usage;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = prov_fixture_feed(&f, "", STREAM[i]);
    is_int(rc, 0, "B3 stream (usage %d): events parsed", include_usage);
    ok(f.ctx.finished, "B3 stream: is_end ends the stream");
    ok(prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0,
       "B3 stream: SSE events, no [DONE] from the adaptor");
    is_int(fr.n, 3 + include_usage, "B3 stream: three chunks (and the usage chunk when asked)");
    for (int i = 0; i < 3 && i < fr.n; i++) {
        is_str(prov_fixture_json_at(f.a, fr.data[i], "id"), "as-s7g0kq1x2c",
               "B3 chunk %d: Baidu's id", i);
        is_str(prov_fixture_json_at(f.a, fr.data[i], "object"), "chat.completion.chunk",
               "B3 chunk %d: a chunk", i);
        is_str(prov_fixture_json_at(f.a, fr.data[i], "choices.0.delta.content"), want[i],
               "B3 chunk %d: delta", i);
        is_str(prov_fixture_json_at(f.a, fr.data[i], "choices.0.finish_reason"),
               i == 2 ? "stop" : NULL, "B3 chunk %d: finish_reason", i);
    }
    if (include_usage && fr.n == 4)
        ok(prov_fixture_json_eq(
               prov_fixture_json_at(f.a, fr.data[3], "usage"),
               "{\"prompt_tokens\":6,\"completion_tokens\":8,\"total_tokens\":14}"),
           "B3 stream: the usage chunk");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 6 &&
           f.ctx.usage.completion_tokens == 8,
       "B3 stream: usage 6 + 8 recorded");
    is_str(f.ctx.text.p, "你好！有什么可以帮你？", "B3 stream: text kept for counting");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
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
        prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
        is_int(prov_fixture_answer(&f, b), -1, "error %s inside a 200: an error", cases[i].code);
        is_int(f.err.status, cases[i].status, "error %s: status %d", cases[i].code,
               cases[i].status);
        is_str(f.err.code, cases[i].code, "error %s: code", cases[i].code);
        is_str(f.err.type, "baidu_error", "error %s: type baidu_error", cases[i].code);
        prov_fixture_error(&f, 200, b);
        is_int(f.err.status, cases[i].status, "error %s as a stream's JSON answer: same status",
               cases[i].code);
        prov_fixture_free(&f);
    }
    prov_fixture_init(&f, &BAIDU, RELAY_CHAT, NULL, CHAT_REQ);
    prov_fixture_answer(&f, cases[0].body);
    is_str(f.err.message, "Access token invalid or no longer valid", "B4: Baidu's message");
    prov_fixture_error(&f, 502, "<html>");
    is_int(f.err.status, 502, "unreadable error: status kept");
    is_int(prov_fixture_feed(&f, "", cases[2].body), -1, "an error event mid-stream: an error");
    is_int(f.err.status, 429, "an error event mid-stream: 429");
    prov_fixture_free(&f);
}

static void test_embeddings(void)
{
    struct prov_fixture f;
    const char *body =
        "{\"id\":\"as-emb01\",\"object\":\"embedding_list\",\"created\":1700000003,\"data\":[{"
        "\"object\":\"embedding\",\"embedding\":[0.0123,-0.0456,0.0789],\"index\":0},{\"object\":"
        "\"embedding\",\"embedding\":[-0.0011,0.0222,0.0333],\"index\":1}],\"usage\":{"
        "\"prompt_tokens\":4,\"total_tokens\":4}}";

    prov_fixture_init(&f, &BAIDU, RELAY_EMBEDDINGS, NULL,
                      "{\"model\":\"Embedding-V1\",\"input\":[\"你好\",\"世界\"]}");
    is_int(prov_fixture_build(&f), 0, "B5 request: built");
    is_str(f.rq.url,
           "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-v1"
           "?access_token=" TOKEN,
           "B5 request: the embeddings endpoint");
    ok(prov_fixture_json_eq(f.rq.body, "{\"input\":[\"你好\",\"世界\"]}"), "B5 request: body");
    is_int(prov_fixture_answer(&f, body), 0, "B5 answer: parsed");
    ok(prov_fixture_json_eq(
           f.out.p, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                    "\"embedding\":[0.0123,-0.0456,0.0789]},{\"object\":\"embedding\","
                    "\"index\":1,\"embedding\":[-0.0011,0.0222,0.0333]}],\"model\":"
                    "\"Embedding-V1\",\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":0,"
                    "\"total_tokens\":4}}"),
       "B5 answer: the OpenAI list of the transcript");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 4, "B5 answer: 4 prompt tokens");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &BAIDU, RELAY_EMBEDDINGS, NULL,
                      "{\"model\":\"tao-8k\",\"input\":\"one\"}");
    prov_fixture_build(&f);
    ok(prov_fixture_json_eq(f.rq.body, "{\"input\":[\"one\"]}"),
       "a string input becomes a list of one");
    prov_fixture_free(&f);
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
