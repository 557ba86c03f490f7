/* Unit tests of providers/openai.c: the URL rule of each channel type, headers, the body passed
 * through, usage and text picked from answers and chunks, and errors inside 200 answers. */
#include "config.h"
#include "fcgi/arena.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "tests/unit/tap.h"

#include <string.h>

static const struct provider *const P = &provider_openai;

/* One attempt: a channel of type, base URL base, against mode; reset by each setup(). */
struct fixture {
    struct arena *a;
    struct prov_channel ch;
    struct prov_ctx ctx;
    struct prov_request rq;
    struct prov_error err;
    struct strbuf out;
};

static void setup(struct fixture *f, int type, const char *base, enum relay_mode mode)
{
    if (f->a)
        arena_free(f->a);
    memset(f, 0, sizeof *f);
    f->a = arena_new(4096);
    f->ch = (struct prov_channel){
        .id = 1, .type = type, .key = "sk-1", .base_url = base, .api_version = "", .config = ""};
    f->ctx = (struct prov_ctx){.a = f->a,
                               .mode = mode,
                               .ch = &f->ch,
                               .model = "gpt-3.5-turbo",
                               .origin_model = "gpt-3.5-turbo",
                               .body = "{\"model\":\"gpt-3.5-turbo\"}",
                               .body_len = 25,
                               .content_type = "application/json"};
    sb_init(&f->ctx.text, f->a);
    sb_init(&f->out, f->a);
}

/* The URL built for the fixture, or "<error STATUS CODE>". */
static const char *url(struct fixture *f)
{
    memset(&f->rq, 0, sizeof f->rq);
    memset(&f->err, 0, sizeof f->err);
    if (P->build_request(&f->ctx, &f->rq, &f->err) != 0)
        return arena_printf(f->a, "<error %d %s>", f->err.status, f->err.code);
    return f->rq.url;
}

/* 1 when the built request carries header line h. */
static int has_header(const struct fixture *f, const char *h)
{
    for (int i = 0; i < f->rq.n_headers; i++)
        if (!strcmp(f->rq.headers[i], h))
            return 1;
    return 0;
}

static int event(struct fixture *f, const char *data)
{
    return P->parse_event(&f->ctx, "", data, strlen(data), &f->out, &f->err);
}

static int response(struct fixture *f, const char *body)
{
    memset(&f->err, 0, sizeof f->err);
    return P->parse_response(&f->ctx, body, strlen(body), &f->out, &f->err);
}

static void test_urls(struct fixture *f)
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

static void test_headers_and_body(struct fixture *f)
{
    note("headers and body");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    url(f);
    ok(has_header(f, "Authorization: Bearer sk-1"), "Bearer key");
    ok(has_header(f, "Content-Type: application/json"), "the client's content type");
    ok(!has_header(f, "Accept: text/event-stream"), "no Accept without a stream");
    ok(f->rq.body == f->ctx.body && f->rq.body_len == f->ctx.body_len,
       "the prepared body goes upstream as it is");

    f->ctx.is_stream = 1;
    f->ctx.content_type = "";
    url(f);
    ok(has_header(f, "Accept: text/event-stream"), "Accept: text/event-stream for a stream");
    ok(has_header(f, "Content-Type: application/json"), "JSON when the client named no type");

    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    f->ctx.content_type = "multipart/form-data; boundary=xyz";
    url(f);
    ok(has_header(f, "Content-Type: multipart/form-data; boundary=xyz"),
       "multipart bodies keep their boundary");

    setup(f, 3, "https://r.openai.azure.com", RELAY_CHAT);
    url(f);
    ok(has_header(f, "api-key: sk-1"), "Azure authenticates with api-key");
    ok(!has_header(f, "Authorization: Bearer sk-1"), "and sends no Bearer key");

    setup(f, 20, "https://openrouter.ai/api", RELAY_CHAT);
    url(f);
    ok(has_header(f, "HTTP-Referer: https://github.com/songquanpeng/one-api") &&
           has_header(f, "X-Title: One API"),
       "the type's extra headers (OpenRouter)");
    is_int(f->rq.n_headers, 4, "Bearer, Content-Type and the two extra headers");
}

static void test_response(struct fixture *f)
{
    note("parse_response");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    const char *resp = "{\"choices\":[{\"message\":{\"content\":\"abc\",\"tool_calls\":[{"
                       "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}}]}}],"
                       "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
                       "\"total_tokens\":4}}";
    is_int(response(f, resp), 0, "a non-stream answer passes");
    is_str(f->out.p, resp, "byte for byte");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 3 &&
           f->ctx.usage.completion_tokens == 1,
       "its usage is read");
    is_str(f->ctx.text.p, "abc{\"x\":1}", "content and tool-call arguments are counted text");

    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    response(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0}}");
    ok(!f->ctx.usage.has_usage, "a zero usage is no usage");
    response(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"total_tokens\":12}}");
    is_int(f->ctx.usage.completion_tokens, 7, "completion from total - prompt");

    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    f->ctx.prompt_estimate = 20;
    response(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"total_tokens\":50}}");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 20 &&
           f->ctx.usage.completion_tokens == 30,
       "only a total: prompt = the estimate, completion = total - estimate");
    response(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":45,"
                "\"total_tokens\":45}}");
    ok(f->ctx.usage.prompt_tokens == 20 && f->ctx.usage.completion_tokens == 25,
       "a zero prompt with a total: the estimate is taken out of the total");
    response(f, "{\"choices\":[],\"usage\":{\"total_tokens\":8}}");
    ok(f->ctx.usage.prompt_tokens == 20 && f->ctx.usage.completion_tokens == 0,
       "a total below the estimate leaves no negative completion");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    f->ctx.prompt_estimate = 20;
    event(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"total_tokens\":50}}");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 20 &&
           f->ctx.usage.completion_tokens == 30,
       "stream: the same split of a usage chunk with only a total");

    setup(f, 1, "https://api.openai.com", RELAY_COMPLETIONS);
    response(f, "{\"choices\":[{\"text\":\"legacy\"},{\"text\":\" too\"}]}");
    is_str(f->ctx.text.p, "legacy too", "completions: choices[].text is counted");
    ok(!f->ctx.usage.has_usage, "no usage member, no usage");

    setup(f, 1, "https://api.openai.com", RELAY_SPEECH);
    is_int(P->parse_response(&f->ctx, "\xff\xfb\0mp3", 6, &f->out, &f->err), 0, "speech passes");
    ok(f->out.len == 6 && !memcmp(f->out.p, "\xff\xfb\0mp3", 6), "audio bytes untouched");

    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    response(f, "{\"text\":\"hello world\"}");
    is_str(f->ctx.text.p, "hello world", "a JSON transcript counts its text");
    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    is_int(response(f, "{\"text\":null}"), 0, "a null transcript text (once a crash) passes");
    is_str(f->ctx.text.p, "{\"text\":null}", "and the body is counted instead");
    setup(f, 1, "https://api.openai.com", RELAY_TRANSCRIPTION);
    /* Only the first 5 bytes are the body: the parse must not read past them. */
    is_int(P->parse_response(&f->ctx, "plain{\"text\":\"x\"}", 5, &f->out, &f->err), 0,
           "a text transcript passes");
    is_str(f->ctx.text.p, "plain", "a text transcript counts as it is, within its length");
}

static void test_errors(struct fixture *f)
{
    note("errors inside 200 answers");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    const char *e200 = "{\"error\":{\"type\":\"server_error\",\"message\":\"boom\",\"code\":500,"
                       "\"param\":\"model\"}}";
    is_int(response(f, e200), -1, "a 200 carrying error.type is an error");
    is_int(f->err.status, 200, "the client sees the upstream's status");
    is_str(f->err.message, "boom", "with the upstream's message");
    is_str(f->err.type, "server_error", "and type");
    is_str(f->err.code, "500", "a numeric code as text");
    is_str(f->err.param, "model", "and the param");
    is_int(f->out.len, 0, "nothing written");

    is_int(response(f, "{\"error\":{\"type\":\"\",\"message\":\"x\"},\"choices\":[]}"), 0,
           "an empty error.type is no error");
    is_int(response(f, "{\"error\":{\"type\":\"t\"}}"), -1, "a typed error without a message");
    is_str(f->err.message, "", "has an empty message");
    ok(f->err.code == NULL && f->err.param == NULL, "and no code or param");

    is_int(response(f, "{\"error\":{\"type\":\"t\",\"message\":null,\"code\":null}}"), -1,
           "a typed error with a null message (once a crash)");
    ok(!strcmp(f->err.message, "") && f->err.code == NULL, "reads as an empty message, no code");

    is_int(response(f, "not json"), -1, "a body that is not JSON fails");
    is_int(f->err.status, 500, "with 500");
    is_str(f->err.code, "unmarshal_response_body_failed", "as One API names it");
    is_int(response(f, "{\"choices\":[]} trailing"), -1,
           "a JSON object followed by garbage is not JSON");
    is_int(response(f, "[1,2]"), -1, "an array is not an answer");
    /* A non-2xx OpenAI error reads as the default normalisation reads it. */
    const char *e429 = "{\"error\":{\"type\":\"requests\",\"message\":\"slow\",\"code\":"
                       "\"rate_limit_exceeded\"}}";
    struct prov_error want = {0};
    memset(&f->err, 0, sizeof f->err);
    P->parse_error(&f->ctx, 429, e429, strlen(e429), &f->err);
    provider_error_default(f->a, 429, e429, strlen(e429), &want);
    ok(f->err.status == want.status && !strcmp(f->err.message, want.message) &&
           !strcmp(f->err.type, want.type) && !strcmp(f->err.code, want.code),
       "OpenAI's non-2xx errors are normalised as the default does");
}

static void test_events(struct fixture *f)
{
    note("parse_event");
    setup(f, 3, "https://r.openai.azure.com", RELAY_CHAT);
    is_int(event(f, "{\"choices\":[],\"prompt_filter_results\":[]}"), 0, "a chunk converts");
    is_int(f->out.len, 0, "Azure's prompt-filter chunk is dropped");
    event(f, "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}");
    is_str(f->out.p, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
           "a content chunk passes as it came");
    is_str(f->ctx.text.p, "Hi", "and its text is kept");
    event(f, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
             "{\"arguments\":\"{\\\"a\\\"\"}}]}}]}");
    is_str(f->ctx.text.p, "Hi{\"a\"", "tool-call argument fragments are counted text");
    is_int(event(f, "{\"choices\":[{\"delta\":{\"content\":null,\"tool_calls\":[{\"index\":0,"
                    "\"function\":{\"arguments\":null}}]}}]}"),
           0, "null content and null arguments in a chunk (once a crash)");
    is_str(f->ctx.text.p, "Hi{\"a\"", "add no text");

    sb_reset(&f->out);
    event(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}");
    ok(f->out.len == 0 && f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 9,
       "a usage-only chunk is read but not sent to a client that did not ask");
    f->ctx.include_usage = 1;
    event(f, "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}");
    ok(f->out.len > 0 && f->ctx.usage.completion_tokens == 3,
       "sent when asked; the last usage wins");
    event(f, "{\"choices\":[{\"delta\":{},\"usage\":{\"prompt_tokens\":4,"
             "\"completion_tokens\":5}}]}");
    is_int(f->ctx.usage.completion_tokens, 5, "Moonshot's usage inside the choice is read");
    event(f, "{\"choices\":[{\"delta\":{}}],\"x_groq\":{\"usage\":{\"prompt_tokens\":1,"
             "\"total_tokens\":8}}}");
    is_int(f->ctx.usage.completion_tokens, 7,
           "Groq's x_groq.usage; completion from total - prompt");

    sb_reset(&f->out);
    is_int(event(f, "not json {"), 0, "data that is not JSON is no error");
    is_str(f->out.p, "data: not json {\n\n", "it is forwarded as the upstream sent it");
    ok(!f->ctx.finished, "not finished before [DONE]");
    sb_reset(&f->out);
    event(f, "[DONE]");
    ok(f->ctx.finished, "[DONE] finishes the stream");
    is_int(f->out.len, 0, "and the adaptor does not write it");
    is_int(P->parse_event(&f->ctx, "", NULL, 0, &f->out, &f->err), 0, "the end of the upstream");
    is_int(f->out.len, 0, "needs no closing chunk");
}

/* An event of several data lines reaches the adaptor joined by '\n': forwarded with the newline
 * as it is, its second line would reach the client as a line of no field (dropped) and an
 * empty line inside it would end the event early. */
static void test_multiline_events(struct fixture *f)
{
    note("parse_event: events of several data lines");
    setup(f, 1, "https://api.openai.com", RELAY_CHAT);
    is_int(event(f, "not json\n\nstill not json"), 0, "forwarded");
    is_str(f->out.p, "data: not json\ndata: \ndata: still not json\n\n",
           "each line is a data line of the one event, the empty one included");
    sb_reset(&f->out);
    event(f, "{\"choices\":[{\"delta\":\n{\"content\":\"Hi\"}}]}");
    is_str(f->out.p, "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"Hi\"}}]}\n\n",
           "a JSON chunk split over two lines stays one event");
    is_str(f->ctx.text.p, "Hi", "and its text is counted");
}

static void test_cn_types(struct fixture *f)
{
    note("Doubao, Baidu V2, Ali Bailian and MiniMax");
    setup(f, 40, "https://ark.cn-beijing.volces.com", RELAY_CHAT);
    is_str(url(f), "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
           "Doubao chat under /api/v3");
    ok(has_header(f, "Authorization: Bearer sk-1"), "Doubao: the Ark key as a bearer");
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
    is_int(response(f, "{\"id\":\"\",\"choices\":null,\"created\":0,\"model\":\"\",\"object\":"
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
    is_int(response(f, "{\"base_resp\":{\"status_code\":1002,\"status_msg\":\"rate limit\"}}"), -1,
           "1002 is an error");
    is_int(f->err.status, 429, "1002 (rate limit) is a retryable 429");
    response(f, "{\"base_resp\":{\"status_code\":1008,\"status_msg\":\"no money\"}}");
    is_int(f->err.status, 402, "1008 (balance) is a 402");
    response(f, "{\"base_resp\":{\"status_code\":9999,\"status_msg\":\"odd\"}}");
    is_int(f->err.status, 500, "an unknown code is a 500");
    is_int(response(f, "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{"
                       "\"total_tokens\":12},\"base_resp\":{\"status_code\":0,\"status_msg\":"
                       "\"\"}}"),
           0, "status_code 0 is an answer");
    ok(f->ctx.usage.has_usage && f->ctx.usage.prompt_tokens == 0 &&
           f->ctx.usage.completion_tokens == 12,
       "a total alone with no estimate is all completion");
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    f->ctx.prompt_estimate = 5; /* the core's estimate */
    response(f, "{\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{"
                "\"total_tokens\":12}}");
    ok(f->ctx.usage.prompt_tokens == 5 && f->ctx.usage.completion_tokens == 7,
       "a total alone: completion = total - the prompt estimate");

    const char *ej = "{\"base_resp\":{\"status_code\":1002,\"status_msg\":\"slow down\"}}";
    memset(&f->err, 0, sizeof f->err);
    P->parse_error(&f->ctx, 500, ej, strlen(ej), &f->err);
    ok(f->err.status == 429 && !strcmp(f->err.message, "slow down"),
       "a JSON base_resp answer to a stream request is a 429 too");

    /* The stream: a base_resp error event, and the whole answer that ends it. */
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    is_int(event(f, ej), -1, "a base_resp error inside a stream fails it");
    is_int(f->err.status, 429, "as a 429");
    setup(f, 27, "https://api.minimax.chat", RELAY_CHAT);
    f->ctx.include_usage = 1;
    event(f, "{\"id\":\"m1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
             "\"abab6.5s-chat\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
             "\"content\":\"Hello\"}}]}");
    sb_reset(&f->out);
    is_int(event(f, "{\"id\":\"m1\",\"object\":\"chat.completion\",\"created\":1,\"model\":"
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
    is_int(event(f, "{\"object\":\"chat.completion\",\"choices\":{\"message\":{}}}"), 0,
           "a chat.completion whose choices is not an array (once a crash)");
    is_int(event(f, "{\"object\":\"chat.completion\"}"), 0, "or that has no choices");
    ok(!f->ctx.finished, "is no whole answer");
}

/* iFlytek Spark's HTTP API (type 48): OpenAI's shape with code, message and sid added; a code
 * other than 0 inside a 200 answer or chunk is an error. */
static void test_xunfei_v2(struct fixture *f)
{
    note("Xunfei V2");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    is_str(url(f), "https://spark-api-open.xf-yun.com/v1/chat/completions", "the chat path");
    is_int(response(f, "{\"code\":0,\"message\":\"Success\",\"sid\":\"cha000b0003@dx1\","
                       "\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
                       "\"index\":0}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
                       "\"question_tokens\":3,\"total_tokens\":4}}"),
           0, "code 0 is an answer");
    ok(f->ctx.usage.prompt_tokens == 3 && f->ctx.usage.completion_tokens == 1,
       "its usage is billed");
    is_int(response(f, "{\"code\":11202,\"message\":\"AppIdQpsOverFlowError\",\"sid\":\"x\"}"), -1,
           "code 11202 inside HTTP 200 is an error");
    ok(f->err.status == 429 && !strcmp(f->err.code, "11202") &&
           !strcmp(f->err.message, "AppIdQpsOverFlowError"),
       "the QPS limit is a retryable 429 with Spark's code and message");
    response(f, "{\"code\":11200,\"message\":\"AppIdNoAuthError\"}");
    is_int(f->err.status, 403, "11200 (no authorisation) is a 403");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    is_int(event(f, "{\"code\":10013,\"message\":\"input content is sensitive\",\"sid\":\"x\"}"),
           -1, "a chunk with a code other than 0 fails the stream");
    is_int(f->err.status, 400, "a content error is a 400");
    setup(f, 48, "https://spark-api-open.xf-yun.com", RELAY_CHAT);
    is_int(event(f, "{\"code\":0,\"message\":\"Success\",\"sid\":\"x\",\"id\":\"x\","
                    "\"created\":1,\"choices\":[{\"delta\":{\"role\":\"assistant\","
                    "\"content\":\"Hi\"},\"index\":0}]}"),
           0, "a chunk with code 0 passes");
    is_str(f->ctx.text.p, "Hi", "and its text is counted");
    setup(f, 36, "https://api.deepseek.com", RELAY_CHAT);
    is_int(response(f, "{\"code\":5,\"choices\":[]}"), 0,
           "another type's answer with a code field is not an error");
}

int main(void)
{
    struct fixture f = {0};
    test_cn_types(&f);
    test_xunfei_v2(&f);
    test_urls(&f);
    test_headers_and_body(&f);
    test_response(&f);
    test_errors(&f);
    test_events(&f);
    test_multiline_events(&f);
    arena_free(f.a);
    return done_testing();
}
