/* Unit tests of providers/openai.c: the URL rule of each channel type, headers, the body passed
 * through, usage and text picked from answers and chunks, and errors inside 200 answers. */
#include "config.h"
#include "fcgi/arena.h"
#include "fcgi/json.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "tests/unit/prov_fixture.h"

#include <json-c/json.h>
#include <string.h>

static const struct provider *const P = &provider_openai;

/* An OpenAI-family channel; setup() gives each attempt its type and base URL. */
static const struct prov_fixture_spec OPENAI = {
    .prov = &provider_openai,
    .ch = {.id = 1, .key = "sk-1", .api_version = "", .config = ""},
};

/* Makes f one attempt of a channel of type at base in mode, with the client's JSON body
 * {"model":"gpt-3.5-turbo"}; frees the attempt f held before, if any. */
static void setup(struct prov_fixture *f, int type, const char *base, enum relay_mode mode)
{
    if (f->a)
        prov_fixture_free(f);
    prov_fixture_init(f, &OPENAI, mode, NULL, "{\"model\":\"gpt-3.5-turbo\"}");
    f->ch.type = type;
    f->ch.base_url = base;
    f->ctx.content_type = "application/json";
}

/* The URL built for the fixture, or "<error STATUS CODE>". */
static const char *url(struct prov_fixture *f)
{
    if (prov_fixture_build(f) != 0)
        return arena_printf(f->a, "<error %d %s>", f->err.status, f->err.code);
    return f->rq.url;
}

static void test_urls(struct prov_fixture *f)
{
    note("URL rules");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    is_str(url(f), "https://api.openai.com/v1/chat/completions", "OpenAI appends the client path");
    setup(f, 1, "https://api.openai.com", RELAY_EMBEDDINGS);
    is_str(url(f), "https://api.openai.com/v1/embeddings", "every mode has its path");
    setup(f, 1, "https://api.openai.com", RELAY_EDITS);
    is_str(url(f), "https://api.openai.com/v1/edits", "edits go to /v1/edits");
    setup(f, 1, "https://api.openai.com", RELAY_TRANSLATION);
    is_str(url(f), "https://api.openai.com/v1/audio/translations", "audio translations");
    setup(f, 1, "https://gateway.ai.cloudflare.com/v1/acct/gw/openai", RELAY_CHAT);
    is_str(url(f), "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/chat/completions",
           "Cloudflare AI Gateway's OpenAI endpoint takes the path without /v1");
    setup(f, 1, "", RELAY_CHAT);
    is_str(url(f), "<error 500 do_request_failed>", "no base URL is the gateway's error");

    setup(f, 50, "https://host/api/v3", RELAY_CHAT);
    is_str(url(f), "https://host/api/v3/chat/completions", "type 50 strips /v1");
    setup(f, 51, "https://generativelanguage.googleapis.com/v1beta/openai", RELAY_EMBEDDINGS);
    is_str(url(f), "https://generativelanguage.googleapis.com/v1beta/openai/embeddings",
           "type 51 strips /v1 too");

    setup(f, 41, "https://api.novita.ai/v3/openai", RELAY_CHAT);
    is_str(url(f), "https://api.novita.ai/v3/openai/chat/completions", "chat-only type: chat");
    setup(f, 41, "https://api.novita.ai/v3/openai", RELAY_EMBEDDINGS);
    is_str(url(f), "<error 400 convert_request_failed>", "chat-only type refuses embeddings");

    setup(f, 3, "https://r.openai.azure.com", RELAY_CHAT);
    f->ch.api_version = "2024-02-01";
    is_str(url(f),
           "https://r.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions"
           "?api-version=2024-02-01",
           "Azure: deployment without dots, api-version from the channel");
    f->ch.api_version = "";
    is_str(url(f),
           "https://r.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions"
           "?api-version=2024-03-01-preview",
           "Azure: the default api-version when the channel has none");
    setup(f, 3, "https://r.openai.azure.com", RELAY_IMAGES);
    f->ctx.model = "dall-e-3.5";
    is_str(url(f),
           "https://r.openai.azure.com/openai/deployments/dall-e-3.5/images/generations"
           "?api-version=2024-03-01-preview",
           "Azure image deployments keep the model's dots");
    setup(f, 3, "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res", RELAY_CHAT);
    is_str(url(f),
           "https://gateway.ai.cloudflare.com/v1/acct/gw/azure-openai/res/gpt-35-turbo/"
           "chat/completions?api-version=2024-03-01-preview",
           "Azure through AI Gateway: the base ends where deployments begin");

    setup(f, 37, "https://api.cloudflare.com", RELAY_CHAT);
    f->ch.config = "{\"user_id\":\"acct42\"}";
    is_str(url(f), "https://api.cloudflare.com/client/v4/accounts/acct42/ai/v1/chat/completions",
           "Workers AI: the OpenAI endpoint of the account in config.user_id");
    f->ch.config = "";
    is_str(url(f), "<error 500 convert_request_failed>", "Workers AI without an account id");
    f->ch.config = "{\"user_id\":\"acct42\"} trailing";
    is_str(url(f), "<error 500 convert_request_failed>", "a config that is not JSON has no id");
    setup(f, 37, "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai", RELAY_EMBEDDINGS);
    is_str(url(f), "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai/v1/embeddings",
           "Workers AI through AI Gateway needs no account id");
    setup(f, 37, "https://api.cloudflare.com", RELAY_IMAGES);
    f->ch.config = "{\"user_id\":\"acct42\"}";
    is_str(url(f), "<error 400 convert_request_failed>", "Workers AI: chat and embeddings only");

    note("the client's request URI");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    f->ctx.client_uri = "/v1/chat/completions?api-version=2&x=y";
    is_str(url(f), "https://api.openai.com/v1/chat/completions?api-version=2&x=y",
           "the client's query string is forwarded");
    setup(f, 1, "https://api.openai.com", RELAY_EMBEDDINGS);
    f->ctx.client_uri = "/v1/engines/text-embedding-ada-002/embeddings";
    is_str(url(f), "https://api.openai.com/v1/engines/text-embedding-ada-002/embeddings",
           "the legacy engines path is forwarded as it is");
    setup(f, 50, "https://host/api/v3", RELAY_CHAT);
    f->ctx.client_uri = "/v1/chat/completions?a=1";
    is_str(url(f), "https://host/api/v3/chat/completions?a=1", "type 50: without /v1, with query");
    setup(f, 1, "https://gateway.ai.cloudflare.com/v1/acct/gw/openai", RELAY_CHAT);
    f->ctx.client_uri = "/v1/chat/completions?a=1";
    is_str(url(f), "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/chat/completions?a=1",
           "AI Gateway: without /v1, with query");
    setup(f, 41, "https://api.novita.ai/v3/openai", RELAY_CHAT);
    f->ctx.client_uri = "/v1/chat/completions?a=1";
    is_str(url(f), "https://api.novita.ai/v3/openai/chat/completions",
           "chat-only type: its fixed path");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    f->ctx.client_uri = "/other/chat/completions";
    is_str(url(f), "https://api.openai.com/v1/chat/completions",
           "a URI not under /v1 falls back to the mode's path");
}

static void test_headers_and_body(struct prov_fixture *f)
{
    note("headers and body");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    url(f);
    ok(prov_fixture_has_header(&f->rq, "Authorization: Bearer sk-1"), "Bearer key");
    ok(prov_fixture_has_header(&f->rq, "Content-Type: application/json"),
       "the client's content type");
    ok(!prov_fixture_has_header(&f->rq, "Accept: text/event-stream"), "no Accept without a stream");
    ok(f->rq.body == f->ctx.body && f->rq.body_len == f->ctx.body_len,
       "the prepared body goes upstream as it is");

    f->ctx.is_stream = 1;
    f->ctx.content_type = "";
    url(f);
    ok(prov_fixture_has_header(&f->rq, "Accept: text/event-stream"),
       "Accept: text/event-stream for a stream");
    ok(prov_fixture_has_header(&f->rq, "Content-Type: application/json"),
       "JSON when the client named no type");

    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    f->ctx.content_type = "multipart/form-data; boundary=xyz";
    url(f);
    ok(prov_fixture_has_header(&f->rq, "Content-Type: multipart/form-data; boundary=xyz"),
       "multipart bodies keep their boundary");

    setup(f, 3, "https://r.openai.azure.com", RELAY_CHAT);
    url(f);
    ok(prov_fixture_has_header(&f->rq, "api-key: sk-1"), "Azure authenticates with api-key");
    ok(!prov_fixture_has_header(&f->rq, "Authorization: Bearer sk-1"), "and sends no Bearer key");

    setup(f, 20, "https://openrouter.ai/api", RELAY_CHAT);
    url(f);
    ok(prov_fixture_has_header(&f->rq, "HTTP-Referer: https://github.com/songquanpeng/one-api") &&
           prov_fixture_has_header(&f->rq, "X-Title: One API"),
       "the type's extra headers (OpenRouter)");
    is_int(f->rq.n_headers, 4, "Bearer, Content-Type and the two extra headers");
}

static void test_response(struct prov_fixture *f)
{
    note("parse_response");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    const char *resp = "{\"choices\":[{\"message\":{\"content\":\"abc\",\"tool_calls\":[{"
                       "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]}}],"
                       "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
                       "\"total_tokens\":4}}";
    is_int(prov_fixture_answer(f, resp), 0, "a non-stream answer passes");
    is_str(f->out.p, resp, "byte for byte");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 3 &&
           f->ctx.usage.completion_tokens == 1,
       "its usage is read");
    is_str(f->ctx.text.p, "abc{\"x\":1}", "content and tool-call arguments are counted text");

    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    prov_fixture_answer(f,
                        "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0}}");
    ok(!f->ctx.usage.has_usage, "a zero usage is no usage");
    prov_fixture_answer(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"total_tokens\":12}}");
    is_int(f->ctx.usage.completion_tokens, 7, "completion from total - prompt");

    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    f->ctx.prompt_estimate = 20;
    prov_fixture_answer(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"total_tokens\":50}}");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 20 &&
           f->ctx.usage.completion_tokens == 30,
       "only a total: prompt = the estimate, completion = total - estimate");
    prov_fixture_answer(f,
                        "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":45,"
                        "\"total_tokens\":45}}");
    ok(f->ctx.usage.prompt_tokens == 20 && f->ctx.usage.completion_tokens == 25,
       "a zero prompt with a total: the estimate is taken out of the total");
    prov_fixture_answer(f, "{\"choices\":[],\"usage\":{\"total_tokens\":8}}");
    ok(f->ctx.usage.prompt_tokens == 20 && f->ctx.usage.completion_tokens == 0,
       "a total below the estimate leaves no negative completion");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    f->ctx.prompt_estimate = 20;
    prov_fixture_feed(f, "",
                      "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"total_tokens\":50}}");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 20 &&
           f->ctx.usage.completion_tokens == 30,
       "stream: the same split of a usage chunk with only a total");

    setup(f, 1, "https://api.openai.com", RELAY_COMPLETIONS);
    prov_fixture_answer(f, "{\"choices\":[{\"text\":\"legacy\"},{\"text\":\" too\"}]}");
    is_str(f->ctx.text.p, "legacy too", "completions: choices[].text is counted");
    ok(!f->ctx.usage.has_usage, "no usage member, no usage");

    setup(f, 1, "https://api.openai.com", RELAY_SPEECH);
    is_int(P->parse_response(&f->ctx, "\xff\xfb\0mp3", 6, &f->out, &f->err), 0, "speech passes");
    ok(f->out.len == 6 && !memcmp(f->out.p, "\xff\xfb\0mp3", 6), "audio bytes untouched");

    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    prov_fixture_answer(f, "{\"text\":\"hello world\"}");
    is_str(f->ctx.text.p, "hello world", "a JSON transcript counts its text");
    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    is_int(prov_fixture_answer(f, "{\"text\":null}"), 0,
           "a null transcript text (once a crash) passes");
    is_str(f->ctx.text.p, "{\"text\":null}", "and the body is counted instead");
    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    /* Only the first 5 bytes are the body: the parse must not read past them. */
    is_int(P->parse_response(&f->ctx, "plain{\"text\":\"x\"}", 5, &f->out, &f->err), 0,
           "a text transcript passes");
    is_str(f->ctx.text.p, "plain", "a text transcript counts as it is, within its length");
}

static void test_errors(struct prov_fixture *f)
{
    note("errors inside 200 answers");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    const char *e200 = "{\"error\":{\"type\":\"server_error\",\"message\":\"boom\",\"code\":500,"
                       "\"param\":\"model\"}}";
    is_int(prov_fixture_answer(f, e200), -1, "a 200 carrying error.type is an error");
    is_int(f->err.status, 200, "the client sees the upstream's status");
    is_str(f->err.message, "boom", "with the upstream's message");
    is_str(f->err.type, "server_error", "and type");
    is_str(f->err.code, "500", "a numeric code as text");
    is_str(f->err.param, "model", "and the param");
    is_int(f->out.len, 0, "nothing written");

    is_int(prov_fixture_answer(f, "{\"error\":{\"type\":\"\",\"message\":\"x\"},\"choices\":[]}"),
           0, "an empty error.type is no error");
    is_int(prov_fixture_answer(f, "{\"error\":{\"type\":\"t\"}}"), -1,
           "a typed error without a message");
    is_str(f->err.message, "", "has an empty message");
    ok(f->err.code == NULL && f->err.param == NULL, "and no code or param");

    is_int(prov_fixture_answer(f, "{\"error\":{\"type\":\"t\",\"message\":null,\"code\":null}}"),
           -1, "a typed error with a null message (once a crash)");
    ok(!strcmp(f->err.message, "") && f->err.code == NULL, "reads as an empty message, no code");

    is_int(prov_fixture_answer(f, "not json"), -1, "a body that is not JSON fails");
    is_int(f->err.status, 500, "with 500");
    is_str(f->err.code, "unmarshal_response_body_failed", "as One API names it");
    is_int(prov_fixture_answer(f, "{\"choices\":[]} trailing"), -1,
           "a JSON object followed by garbage is not JSON");
    is_int(prov_fixture_answer(f, "[1,2]"), -1, "an array is not an answer");
    /* A non-2xx OpenAI error reads as the default normalisation reads it. */
    const char *e429 = "{\"error\":{\"type\":\"requests\",\"message\":\"slow\",\"code\":"
                       "\"rate_limit_exceeded\"}}";
    struct prov_error want = {0};
    prov_fixture_error(f, 429, e429);
    provider_error_default(f->a, 429, e429, strlen(e429), &want);
    ok(f->err.status == want.status && !strcmp(f->err.message, want.message) &&
           !strcmp(f->err.type, want.type) && !strcmp(f->err.code, want.code),
       "OpenAI's non-2xx errors are normalised as the default does");
}

static void test_events(struct prov_fixture *f)
{
    note("parse_event");
    setup(f, 3, "https://r.openai.azure.com", RELAY_CHAT);
    is_int(prov_fixture_feed(f, "", "{\"choices\":[],\"prompt_filter_results\":[]}"), 0,
           "a chunk converts");
    is_int(f->out.len, 0, "Azure's prompt-filter chunk is dropped");
    prov_fixture_feed(f, "", "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}");
    is_str(f->out.p, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
           "a content chunk passes as it came");
    is_str(f->ctx.text.p, "Hi", "and its text is kept");
    prov_fixture_feed(f, "",
                      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
                      "{\"arguments\":\"{\\\"a\\\"\"}}]}}]}");
    is_str(f->ctx.text.p, "Hi{\"a\"", "tool-call argument fragments are counted text");
    is_int(
        prov_fixture_feed(f, "",
                          "{\"choices\":[{\"delta\":{\"content\":null,\"tool_calls\":[{\"index\":0,"
                          "\"function\":{\"arguments\":null}}]}}]}"),
        0, "null content and null arguments in a chunk (once a crash)");
    is_str(f->ctx.text.p, "Hi{\"a\"", "add no text");

    sb_reset(&f->out);
    prov_fixture_feed(f, "",
                      "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}");
    ok(f->out.len == 0 && f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 9,
       "a usage-only chunk is read but not sent to a client that did not ask");
    f->ctx.include_usage = 1;
    prov_fixture_feed(f, "",
                      "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}");
    ok(f->out.len > 0 && f->ctx.usage.completion_tokens == 3,
       "sent when asked; the last usage wins");
    prov_fixture_feed(f, "",
                      "{\"choices\":[{\"delta\":{},\"usage\":{\"prompt_tokens\":4,"
                      "\"completion_tokens\":5}}]}");
    is_int(f->ctx.usage.completion_tokens, 5, "Moonshot's usage inside the choice is read");
    prov_fixture_feed(f, "",
                      "{\"choices\":[{\"delta\":{}}],\"x_groq\":{\"usage\":{\"prompt_tokens\":1,"
                      "\"total_tokens\":8}}}");
    is_int(f->ctx.usage.completion_tokens, 7,
           "Groq's x_groq.usage; completion from total - prompt");

    sb_reset(&f->out);
    is_int(prov_fixture_feed(f, "", "not json {"), 0, "data that is not JSON is no error");
    is_str(f->out.p, "data: not json {\n\n", "it is forwarded as the upstream sent it");
    ok(!f->ctx.finished, "not finished before [DONE]");
    sb_reset(&f->out);
    prov_fixture_feed(f, "", "[DONE]");
    ok(f->ctx.finished, "[DONE] finishes the stream");
    is_int(f->out.len, 0, "and the adaptor does not write it");
    is_int(prov_fixture_feed(f, "", NULL), 0, "the end of the upstream");
    is_int(f->out.len, 0, "needs no closing chunk");
}

/* An event of several data lines reaches the adaptor joined by '\n': forwarded with the newline
 * as it is, its second line would reach the client as a line of no field (dropped) and an
 * empty line inside it would end the event early. */
static void test_multiline_events(struct prov_fixture *f)
{
    note("parse_event: events of several data lines");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    is_int(prov_fixture_feed(f, "", "not json\n\nstill not json"), 0, "forwarded");
    is_str(f->out.p, "data: not json\ndata: \ndata: still not json\n\n",
           "each line is a data line of the one event, the empty one included");
    sb_reset(&f->out);
    prov_fixture_feed(f, "", "{\"choices\":[{\"delta\":\n{\"content\":\"Hi\"}}]}");
    is_str(f->out.p, "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"Hi\"}}]}\n\n",
           "a JSON chunk split over two lines stays one event");
    is_str(f->ctx.text.p, "Hi", "and its text is counted");
}

static void test_cn_types(struct prov_fixture *f)
{
    note("Doubao, Baidu V2, Ali Bailian and MiniMax");
    setup(f, 40, "https://ark.cn-beijing.volces.com", RELAY_CHAT);
    is_str(url(f), "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
           "Doubao chat under /api/v3");
    ok(prov_fixture_has_header(&f->rq, "Authorization: Bearer sk-1"),
       "Doubao: the Ark key as a bearer");
    setup(f, 40, "https://ark.cn-beijing.volces.com", RELAY_EMBEDDINGS);
    is_str(url(f), "https://ark.cn-beijing.volces.com/api/v3/embeddings",
           "Doubao embeddings under /api/v3");
    setup(f, 40, "https://ark.cn-beijing.volces.com", RELAY_IMAGES);
    is_str(url(f), "<error 400 convert_request_failed>", "Doubao: other modes are refused");
    setup(f, 47, "https://qianfan.baidubce.com", RELAY_CHAT);
    is_str(url(f), "https://qianfan.baidubce.com/v2/chat/completions", "Baidu V2 chat under /v2");
    setup(f, 47, "https://qianfan.baidubce.com", RELAY_EMBEDDINGS);
    is_str(url(f), "https://qianfan.baidubce.com/v2/embeddings", "Baidu V2 embeddings under /v2");
    setup(f, 49, "https://dashscope.aliyuncs.com", RELAY_CHAT);
    is_str(url(f), "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
           "Bailian chat under /compatible-mode/v1");
    setup(f, 49, "https://dashscope.aliyuncs.com", RELAY_EMBEDDINGS);
    is_str(url(f), "https://dashscope.aliyuncs.com/compatible-mode/v1/embeddings",
           "Bailian embeddings under /compatible-mode/v1");
    setup(f, 49, "https://dashscope.aliyuncs.com", RELAY_SPEECH);
    is_str(url(f), "<error 400 convert_request_failed>", "Bailian: other modes are refused");
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    is_str(url(f), "https://api.minimax.chat/v1/text/chatcompletion_v2", "MiniMax chat path");
    setup(f, 27, "https://api.minimax.chat", RELAY_EMBEDDINGS);
    is_str(url(f), "<error 400 convert_request_failed>", "MiniMax: chat only");

    /* Errors inside HTTP 200 as base_resp. */
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    is_int(prov_fixture_answer(
               f, "{\"id\":\"\",\"choices\":null,\"created\":0,\"model\":\"\",\"object\":"
                  "\"chat.completion\",\"base_resp\":{\"status_code\":1004,\"status_msg\":"
                  "\"login fail: Please carry the API secret key in the 'Authorization' "
                  "field of the request header\"}}"),
           -1, "MiniMax's 1004 inside HTTP 200 is an error");
    is_int(f->err.status, 401, "1004 is a 401");
    is_str(f->err.message,
           "login fail: Please carry the API secret key in the 'Authorization' field of the "
           "request header",
           "carrying status_msg");
    is_str(f->err.code, "1004", "the status code is the error's code");
    is_int(prov_fixture_answer(
               f, "{\"base_resp\":{\"status_code\":1002,\"status_msg\":\"rate limit\"}}"),
           -1, "1002 is an error");
    is_int(f->err.status, 429, "1002 (rate limit) is a retryable 429");
    prov_fixture_answer(f, "{\"base_resp\":{\"status_code\":1008,\"status_msg\":\"no money\"}}");
    is_int(f->err.status, 402, "1008 (balance) is a 402");
    prov_fixture_answer(f, "{\"base_resp\":{\"status_code\":9999,\"status_msg\":\"odd\"}}");
    is_int(f->err.status, 500, "an unknown code is a 500");
    is_int(prov_fixture_answer(
               f, "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{"
                  "\"total_tokens\":12},\"base_resp\":{\"status_code\":0,\"status_msg\":"
                  "\"\"}}"),
           0, "status_code 0 is an answer");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 0 &&
           f->ctx.usage.completion_tokens == 12,
       "a total alone with no estimate is all completion");
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    f->ctx.prompt_estimate = 5; /* the core's estimate */
    prov_fixture_answer(f, "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{"
                           "\"total_tokens\":12}}");
    ok(f->ctx.usage.prompt_tokens == 5 && f->ctx.usage.completion_tokens == 7,
       "a total alone: completion = total - the prompt estimate");

    const char *ej = "{\"base_resp\":{\"status_code\":1002,\"status_msg\":\"slow down\"}}";
    prov_fixture_error(f, 500, ej);
    ok(f->err.status == 429 && !strcmp(f->err.message, "slow down"),
       "a JSON base_resp answer to a stream request is a 429 too");

    /* The stream: a base_resp error event, and the whole answer that ends it. */
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    is_int(prov_fixture_feed(f, "", ej), -1, "a base_resp error inside a stream fails it");
    is_int(f->err.status, 429, "as a 429");
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    f->ctx.include_usage = 1;
    prov_fixture_feed(
        f, "",
        "{\"id\":\"m1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"abab6.5s-chat\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hello\"}}]}");
    sb_reset(&f->out);
    is_int(
        prov_fixture_feed(f, "",
                          "{\"id\":\"m1\",\"object\":\"chat.completion\",\"created\":1,\"model\":"
                          "\"abab6.5s-chat\",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\","
                          "\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"}}],\"usage\":{"
                          "\"prompt_tokens\":4,\"completion_tokens\":1,\"total_tokens\":5},"
                          "\"base_resp\":{\"status_code\":0,\"status_msg\":\"\"}}"),
        0, "the closing whole answer converts");
    ok(f->ctx.finished, "and ends the stream");
    ok(!strstr(f->out.p, "\"message\"") && strstr(f->out.p, "\"delta\":{}") &&
           strstr(f->out.p, "\"finish_reason\":\"stop\"") &&
           strstr(f->out.p, "\"object\":\"chat.completion.chunk\""),
       "it becomes a finishing chunk with an empty delta, not the full text again");
    ok(strstr(f->out.p, "\"total_tokens\":5") != NULL, "then the usage chunk, when asked for");
    is_str(f->ctx.text.p, "Hello", "its text is not counted twice");
    ok(f->ctx.usage.prompt_tokens == 4 && f->ctx.usage.completion_tokens == 1,
       "its usage is billed");
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    is_int(
        prov_fixture_feed(f, "", "{\"object\":\"chat.completion\",\"choices\":{\"message\":{}}}"),
        0, "a chat.completion whose choices is not an array (once a crash)");
    is_int(prov_fixture_feed(f, "", "{\"object\":\"chat.completion\"}"), 0,
           "or that has no choices");
    ok(!f->ctx.finished, "is no whole answer");
}

/* iFlytek Spark's HTTP API (type 48): OpenAI's shape with code, message and sid added; a code
 * other than 0 inside a 200 answer or chunk is an error. */
static void test_xunfei_v2(struct prov_fixture *f)
{
    note("Xunfei V2");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    is_str(url(f), "https://spark-api-open.xf-yun.com/v1/chat/completions", "the chat path");
    is_int(prov_fixture_answer(
               f, "{\"code\":0,\"message\":\"Success\",\"sid\":\"cha000b0003@dx1\","
                  "\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
                  "\"index\":0}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
                  "\"question_tokens\":3,\"total_tokens\":4}}"),
           0, "code 0 is an answer");
    ok(f->ctx.usage.prompt_tokens == 3 && f->ctx.usage.completion_tokens == 1,
       "its usage is billed");
    is_int(prov_fixture_answer(
               f, "{\"code\":11202,\"message\":\"AppIdQpsOverFlowError\",\"sid\":\"x\"}"),
           -1, "code 11202 inside HTTP 200 is an error");
    ok(f->err.status == 429 && !strcmp(f->err.code, "11202") &&
           !strcmp(f->err.message, "AppIdQpsOverFlowError"),
       "the QPS limit is a retryable 429 with Spark's code and message");
    prov_fixture_answer(f, "{\"code\":11200,\"message\":\"AppIdNoAuthError\"}");
    is_int(f->err.status, 403, "11200 (no authorisation) is a 403");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    is_int(prov_fixture_feed(
               f, "", "{\"code\":10013,\"message\":\"input content is sensitive\",\"sid\":\"x\"}"),
           -1, "a chunk with a code other than 0 fails the stream");
    is_int(f->err.status, 400, "a content error is a 400");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    is_int(prov_fixture_feed(f, "",
                             "{\"code\":0,\"message\":\"Success\",\"sid\":\"x\",\"id\":\"x\","
                             "\"created\":1,\"choices\":[{\"delta\":{\"role\":\"assistant\","
                             "\"content\":\"Hi\"},\"index\":0}]}"),
           0, "a chunk with code 0 passes");
    is_str(f->ctx.text.p, "Hi", "and its text is counted");
    setup(f, 36, "https://api.deepseek.com", RELAY_CHAT);
    is_int(prov_fixture_answer(f, "{\"code\":5,\"choices\":[]}"), 0,
           "another type's answer with a code field is not an error");

    /* What Spark leaves out and clients read is filled in. */
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    f->ctx.origin_model = "generalv3.5";
    f->ctx.created = 1700000000;
    prov_fixture_answer(
        f,
        "{\"code\":0,\"message\":\"Success\",\"sid\":\"cha1@dx1\",\"choices\":[{\"message\":"
        "{\"role\":\"assistant\",\"content\":\"hi\"},\"index\":0}],\"usage\":{\"prompt_tokens\":3,"
        "\"completion_tokens\":1,\"total_tokens\":4}}");
    json_object *j = json_tokener_parse(f->out.p ? f->out.p : "");
    is_str(j ? jstr(j, "object") : NULL, "chat.completion", "the answer is a chat.completion");
    is_str(jstr(j, "id"), "chatcmpl-cha1@dx1", "its id is made of Spark's sid");
    is_str(jstr(j, "model"), "generalv3.5", "it names the model the client asked for");
    ok(jint(j, "created") == 1700000000, "and when it was made");
    json_object *c0 = json_object_array_get_idx(jget(j, "choices"), 0);
    is_str(jstr(c0, "finish_reason"), "stop", "its choice ends with stop");
    is_str(jstr(jget(c0, "message"), "content"), "hi", "Spark's text is kept");
    is_str(jstr(j, "sid"), "cha1@dx1", "as are Spark's own fields");
    json_object_put(j);

    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    f->ctx.origin_model = "generalv3.5";
    is_int(prov_fixture_feed(
               f, "",
               "{\"code\":0,\"message\":\"Success\",\"sid\":\"cha2@dx1\",\"id\":\"cha2@dx1\","
               "\"created\":5,\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
               "\"index\":0}]}"),
           0, "a Spark chunk");
    ok(!strncmp(f->out.p, "data: {", 7) &&
           strstr(f->out.p, "\"object\":\"chat.completion.chunk\"") &&
           strstr(f->out.p, "\"model\":\"generalv3.5\""),
       "becomes a chat.completion.chunk naming the model");
    size_t before = f->out.len;
    is_int(prov_fixture_feed(f, "", "[DONE]"), 0, "[DONE] without a finish_reason");
    static const char closing[] = "data: {\"id\":\"cha2@dx1\",";
    ok(!strncmp(f->out.p + before, closing, sizeof closing - 1) &&
           strstr(f->out.p + before, "\"finish_reason\":\"stop\""),
       "sends the closing chunk clients wait for, under the stream's id");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    prov_fixture_feed(f, "",
                      "{\"code\":0,\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"a\"},"
                      "\"finish_reason\":\"length\",\"index\":0}]}");
    before = f->out.len;
    prov_fixture_feed(f, "", "[DONE]");
    is_int((int)(f->out.len - before), 0, "a stream that said how it ended gets no second ending");
}

int main(void)
{
    struct prov_fixture f = {0};
    test_cn_types(&f);
    test_xunfei_v2(&f);
    test_urls(&f);
    test_headers_and_body(&f);
    test_response(&f);
    test_errors(&f);
    test_events(&f);
    test_multiline_events(&f);
    prov_fixture_free(&f);
    return done_testing();
}
