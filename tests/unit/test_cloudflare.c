/* Checks providers/cloudflare.c: Workers AI URLs (account from config, AI Gateway bases), chat
 * and embeddings through the OpenAI endpoints, legacy completions through the native
 * /ai/run/{model} endpoint and its envelope and stream, and Cloudflare's errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/cloudflare.h"
#include "prov_fixture.h"

#define MODEL "@cf/meta/llama-3.1-8b-instruct"

/* A Workers AI channel (type 37) at the default base, without an account id. */
static const struct prov_fixture_spec CLOUDFLARE = {
    .prov = &provider_cloudflare,
    .ch = {.id = 7,
           .type = 37,
           .key = "KEY",
           .base_url = "https://api.cloudflare.com",
           .is_default_base = 1,
           .config = "{}"},
};

static void test_urls(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    ok(prov_fixture_build(&f) == 0, "chat: builds");
    is_str(f.rq.url, "https://api.cloudflare.com/client/v4/accounts/acct42/ai/v1/chat/completions",
           "chat: the OpenAI endpoint of the account in config.user_id");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer KEY", "chat: the key as Bearer");
    ok(f.rq.body == f.ctx.body, "chat: the body passes through");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, "@cf/baai/bge-base-en-v1.5",
                      "{\"input\":\"hi\"}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_EMBEDDINGS;
    prov_fixture_build(&f);
    is_str(f.rq.url, "https://api.cloudflare.com/client/v4/accounts/acct42/ai/v1/embeddings",
           "embeddings: the OpenAI endpoint");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"Hello\"}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(prov_fixture_build(&f) == 0, "completions: builds");
    is_str(f.rq.url,
           "https://api.cloudflare.com/client/v4/accounts/acct42/ai/run/@cf/meta/"
           "llama-3.1-8b-instruct",
           "completions: the native run endpoint, the model keeping its slashes");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"Hello\"}");
    f.ch.base_url = "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai";
    f.ctx.mode = RELAY_COMPLETIONS;
    prov_fixture_build(&f);
    is_str(f.rq.url,
           "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai/@cf/meta/llama-3.1-8b-instruct",
           "completions through AI Gateway: {base}/{model}, no account id needed");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"Hello\"}");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(prov_fixture_build(&f) < 0 && f.err.status == 500 &&
           !strcmp(f.err.code, "convert_request_failed"),
       "no account id: 500 convert_request_failed");
    prov_fixture_free(&f);

    static const enum relay_mode others[] = {RELAY_IMAGES, RELAY_MODERATIONS, RELAY_SPEECH};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"a cat\"}");
        f.ch.config = "{\"user_id\":\"acct42\"}";
        f.ctx.mode = others[i];
        ok(prov_fixture_build(&f) < 0 && f.err.status == 500 &&
               !strcmp(f.err.message, "unsupported relay mode"),
           "mode %d: 500 unsupported relay mode", (int)others[i]);
        prov_fixture_free(&f);
    }
}

/* A chat stream asks Cloudflare for usage; a client's own stream_options survive. */
static void test_stream_usage(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL,
                      "{\"model\":\"" MODEL
                      "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"hi\"}],\"x_extra\":1}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    prov_fixture_build(&f);
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"model\":\"" MODEL "\",\"stream\":true,\"messages\":[{\"role\":\"user\","
           "\"content\":\"hi\"}],\"x_extra\":1,\"stream_options\":{\"include_usage\":true}}"),
       "chat stream: include_usage added, unknown fields kept");
    /* The usage chunk the client did not ask for is dropped, its usage kept for billing. */
    ok(prov_fixture_feed(
           &f, "",
           "{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{"
           "\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}") == 0 &&
           f.out.len == 0,
       "chat stream: the usage chunk is not forwarded to a client that did not ask");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 7 &&
           f.ctx.usage.completion_tokens == 2,
       "chat stream: Cloudflare's usage is billed");
    prov_fixture_free(&f);
}

static void test_native_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL,
                      "{\"model\":\"" MODEL
                      "\",\"prompt\":[\"Tell me about Hello, World\"],\"max_tokens\":"
                      "256,\"temperature\":0.6,\"n\":1,\"echo\":false}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_COMPLETIONS;
    prov_fixture_build(&f);
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"prompt\":\"Tell me about Hello, World\",\"max_tokens\":256,\"temperature\":0.6,"
           "\"stream\":false}"),
       "completions: the native body");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":[\"a\",\"b\"]}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(prov_fixture_build(&f) < 0 && f.err.status == 400, "completions: several prompts are a 400");
    prov_fixture_free(&f);
}

static void test_native_response(void)
{
    struct prov_fixture f;
    const char *up = "{\"result\": {\"response\": \"Hello, World first appeared in 1974 at Bell "
                     "Labs.\"}, \"success\": true, \"errors\": [], \"messages\": []}";
    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"x\"}");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(prov_fixture_answer(&f, up) == 0, "envelope: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
           "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"Hello, World first appeared in "
           "1974 at Bell Labs.\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}"),
       "envelope: an OpenAI text_completion");
    ok(!f.ctx.usage.has_usage, "envelope without usage: the core counts");
    is_str(f.ctx.text.p, "Hello, World first appeared in 1974 at Bell Labs.",
           "envelope: the text collected for counting");
    prov_fixture_free(&f);

    const char *withu = "{\"result\":{\"response\":\"Hi\",\"usage\":{\"prompt_tokens\":12,"
                        "\"completion_tokens\":1,\"total_tokens\":13}},\"success\":true}";
    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"x\"}");
    f.ctx.mode = RELAY_COMPLETIONS;
    prov_fixture_answer(&f, withu);
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 1 && strstr(f.out.p, "\"total_tokens\":13"),
       "envelope with result.usage: billed and shown");
    prov_fixture_free(&f);
}

static void test_native_stream(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &CLOUDFLARE, RELAY_CHAT, MODEL,
        "{\"prompt\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(prov_fixture_feed(&f, "", "{\"response\":\"Hel\",\"p\":\"abc\"}") == 0 &&
           prov_fixture_feed(&f, "", "{\"response\":\"lo\",\"p\":\"abcdef\"}") == 0 &&
           prov_fixture_feed(
               &f, "",
               "{\"response\":\"\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
               "\"total_tokens\":7}}") == 0 &&
           prov_fixture_feed(&f, "", "[DONE]") == 0,
       "stream: every event parses");
    ok(prov_fixture_event_is(
           &f, 0,
           "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
           "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"Hel\",\"index\":0,\"logprobs\":"
           "null,\"finish_reason\":null}]}"),
       "stream: a text_completion chunk per piece");
    ok(prov_fixture_event_is(
           &f, 1,
           "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
           "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"lo\",\"index\":0,\"logprobs\":"
           "null,\"finish_reason\":null}]}"),
       "stream: the second piece");
    ok(prov_fixture_event_is(
           &f, 2,
           "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
           "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":"
           "null,\"finish_reason\":\"stop\"}]}"),
       "stream: [DONE] -> finish_reason stop");
    ok(prov_fixture_event_is(
           &f, 3,
           "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
           "\"model\":\"" MODEL "\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
           "\"completion_tokens\":2,\"total_tokens\":7}}"),
       "stream: the usage chunk, asked for");
    ok(!prov_fixture_sse_event(f.a, f.out.p, 4) && f.ctx.finished,
       "stream: nothing more; finished");
    is_str(f.ctx.text.p, "Hello", "stream: the text collected");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"x\",\"stream\":true}");
    f.ctx.mode = RELAY_COMPLETIONS;
    prov_fixture_feed(&f, "", "{\"response\":\"a\"}");
    prov_fixture_feed(&f, "", NULL);
    ok(f.ctx.finished &&
           strstr(prov_fixture_sse_event(f.a, f.out.p, 1), "\"finish_reason\":\"stop\"") &&
           !prov_fixture_sse_event(f.a, f.out.p, 2),
       "stream closed without [DONE]: finish chunk, no usage chunk unasked");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *env = "{\"result\":null,\"success\":false,\"errors\":[{\"code\":10000,\"message\":"
                      "\"Authentication error\"}],\"messages\":[]}";
    prov_fixture_init(&f, &CLOUDFLARE, RELAY_CHAT, MODEL, "{\"prompt\":\"x\"}");
    prov_fixture_error(&f, 401, env);
    ok(f.err.status == 401 && !strcmp(f.err.message, "Authentication error") &&
           !strcmp(f.err.code, "10000") && !strcmp(f.err.type, "upstream_error"),
       "envelope error: status, message and code kept");
    const char *rl = "{\"result\":null,\"success\":false,\"errors\":[{\"code\":3040,\"message\":"
                     "\"Capacity temporarily exceeded, please try again.\"}],\"messages\":[]}";
    prov_fixture_error(&f, 429, rl);
    ok(f.err.status == 429 && !strcmp(f.err.code, "3040"),
       "rate limit: a 429, so the relay tries another channel");
    const char *oa = "{\"error\":{\"message\":\"bad model\",\"type\":\"invalid_request_error\"}}";
    prov_fixture_error(&f, 400, oa);
    ok(f.err.status == 400 && !strcmp(f.err.message, "bad model"),
       "an OpenAI-shaped error of the compatible endpoint is read as such");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(prov_fixture_answer(&f, env) < 0 && f.err.status == 500 &&
           !strcmp(f.err.message, "Authentication error"),
       "success false in a 200: a 500 with the envelope's message");
    ok(prov_fixture_feed(&f, "", env) < 0 && !strcmp(f.err.message, "Authentication error"),
       "an envelope error inside the stream fails it");
    prov_fixture_free(&f);
}

int main(void)
{
    is_str(CLOUDFLARE.prov->name, "cloudflare", "provider name");
    test_urls();
    test_stream_usage();
    test_native_request();
    test_native_response();
    test_native_stream();
    test_errors();
    return done_testing();
}
