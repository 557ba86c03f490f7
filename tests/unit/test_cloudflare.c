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
#include "tap.h"

static const struct provider *const P = &provider_cloudflare;
#define FIX_TYPE 37
#define FIX_BASE "https://api.cloudflare.com"
#define MODEL "@cf/meta/llama-3.1-8b-instruct"

/* One adaptor call's world. */
struct fix {
    struct arena *a;
    struct prov_channel ch;
    struct prov_ctx ctx;
    json_object *req; /* owned */
    struct prov_request r;
    struct prov_error err;
    struct strbuf out;
};

static void fix_init(struct fix *f, const char *model, const char *req_json)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(4096);
    f->ch = (struct prov_channel){.id = 7,
                                  .type = FIX_TYPE,
                                  .key = "KEY",
                                  .base_url = FIX_BASE,
                                  .is_default_base = 1,
                                  .api_version = "",
                                  .config = "{}",
                                  .gemini_safety = ""};
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = RELAY_CHAT;
    f->ctx.ch = &f->ch;
    f->ctx.model = model;
    f->ctx.origin_model = model;
    f->ctx.req = f->req;
    f->ctx.body = req_json;
    f->ctx.body_len = strlen(req_json);
    f->ctx.request_id = "req1";
    f->ctx.created = 1730000000;
    f->ctx.is_stream = json_object_get_boolean(json_object_object_get(f->req, "stream"));
    f->ctx.include_usage = json_object_get_boolean(
        json_object_object_get(json_object_object_get(f->req, "stream_options"), "include_usage"));
    sb_init(&f->ctx.text, f->a);
    sb_init(&f->out, f->a);
}

static void fix_free(struct fix *f)
{
    json_object_put(f->req);
    arena_free(f->a);
}

/* The body text equals want as JSON. */
static int json_same(struct arena *a, const char *got, size_t n, const char *want)
{
    json_object *g = json_tokener_parse(got ? arena_strndup(a, got, n) : "");
    json_object *w = json_tokener_parse(want);
    int same = g && w && json_object_equal(g, w);
    if (!same)
        printf("#   got: %.*s\n#   want: %s\n", (int)n, got ? got : "", want);
    json_object_put(g);
    json_object_put(w);
    return same;
}

/* The JSON of the i-th "data: " event of an SSE text (0-based), in a; NULL when absent. */
static const char *sse_data(struct arena *a, const char *sse, int i)
{
    const char *p = sse;
    for (int k = 0; p && *p; k++) {
        if (strncmp(p, "data: ", 6) != 0)
            return NULL;
        const char *end = strstr(p, "\n\n");
        if (!end)
            return NULL;
        if (k == i)
            return arena_strndup(a, p + 6, (size_t)(end - p - 6));
        p = end + 2;
    }
    return NULL;
}

/* The i-th event equals want as JSON. */
static int event_is(struct fix *f, int i, const char *want)
{
    const char *d = sse_data(f->a, f->out.p ? f->out.p : "", i);
    if (!d)
        printf("#   no event %d in: %s\n", i, f->out.p ? f->out.p : "");
    return d && json_same(f->a, d, strlen(d), want);
}

static const char *header(const struct prov_request *r, const char *prefix)
{
    for (int i = 0; i < r->n_headers; i++)
        if (!strncmp(r->headers[i], prefix, strlen(prefix)))
            return r->headers[i];
    return NULL;
}

/* Feeds one stream event (data as the SSE parser hands it; NULL for the upstream's end). */
static int feed(struct fix *f, const char *data)
{
    return P->parse_event(&f->ctx, "", data, data ? strlen(data) : 0, &f->out, &f->err);
}

static void test_urls(void)
{
    struct fix f;
    fix_init(&f, MODEL, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    ok(P->build_request(&f.ctx, &f.r, &f.err) == 0, "chat: builds");
    is_str(f.r.url, "https://api.cloudflare.com/client/v4/accounts/acct42/ai/v1/chat/completions",
           "chat: the OpenAI endpoint of the account in config.user_id");
    is_str(header(&f.r, "Authorization:"), "Authorization: Bearer KEY", "chat: the key as Bearer");
    ok(f.r.body == f.ctx.body, "chat: the body passes through");
    fix_free(&f);

    fix_init(&f, "@cf/baai/bge-base-en-v1.5", "{\"input\":\"hi\"}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_EMBEDDINGS;
    P->build_request(&f.ctx, &f.r, &f.err);
    is_str(f.r.url, "https://api.cloudflare.com/client/v4/accounts/acct42/ai/v1/embeddings",
           "embeddings: the OpenAI endpoint");
    fix_free(&f);

    fix_init(&f, MODEL, "{\"prompt\":\"Hello\"}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) == 0, "completions: builds");
    is_str(f.r.url,
           "https://api.cloudflare.com/client/v4/accounts/acct42/ai/run/@cf/meta/"
           "llama-3.1-8b-instruct",
           "completions: the native run endpoint, the model keeping its slashes");
    fix_free(&f);

    fix_init(&f, MODEL, "{\"prompt\":\"Hello\"}");
    f.ch.base_url = "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai";
    f.ctx.mode = RELAY_COMPLETIONS;
    P->build_request(&f.ctx, &f.r, &f.err);
    is_str(f.r.url,
           "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai/@cf/meta/llama-3.1-8b-instruct",
           "completions through AI Gateway: {base}/{model}, no account id needed");
    fix_free(&f);

    fix_init(&f, MODEL, "{\"prompt\":\"Hello\"}");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 500 &&
           !strcmp(f.err.code, "convert_request_failed"),
       "no account id: 500 convert_request_failed");
    fix_free(&f);

    static const enum relay_mode others[] = {RELAY_IMAGES, RELAY_MODERATIONS, RELAY_SPEECH};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        fix_init(&f, MODEL, "{\"prompt\":\"a cat\"}");
        f.ch.config = "{\"user_id\":\"acct42\"}";
        f.ctx.mode = others[i];
        ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 500 &&
               !strcmp(f.err.message, "unsupported relay mode"),
           "mode %d: 500 unsupported relay mode", (int)others[i]);
        fix_free(&f);
    }
}

/* A chat stream asks Cloudflare for usage; a client's own stream_options survive. */
static void test_stream_usage(void)
{
    struct fix f;
    fix_init(&f, MODEL,
             "{\"model\":\"" MODEL
             "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"hi\"}],\"x_extra\":1}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"model\":\"" MODEL "\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"hi\"}],\"x_extra\":1,\"stream_options\":{\"include_usage\":true}}"),
       "chat stream: include_usage added, unknown fields kept");
    /* The usage chunk the client did not ask for is dropped, its usage kept for billing. */
    ok(feed(&f, "{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{"
                "\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}") == 0 &&
           f.out.len == 0,
       "chat stream: the usage chunk is not forwarded to a client that did not ask");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 7 &&
           f.ctx.usage.completion_tokens == 2,
       "chat stream: Cloudflare's usage is billed");
    fix_free(&f);
}

static void test_native_request(void)
{
    struct fix f;
    fix_init(&f, MODEL,
             "{\"model\":\"" MODEL "\",\"prompt\":[\"Tell me about Hello, World\"],\"max_tokens\":"
             "256,\"temperature\":0.6,\"n\":1,\"echo\":false}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_COMPLETIONS;
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(json_same(
           f.a, f.r.body, f.r.body_len,
           "{\"prompt\":\"Tell me about Hello, World\",\"max_tokens\":256,\"temperature\":0.6,"
           "\"stream\":false}"),
       "completions: the native body");
    fix_free(&f);

    fix_init(&f, MODEL, "{\"prompt\":[\"a\",\"b\"]}");
    f.ch.config = "{\"user_id\":\"acct42\"}";
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 400,
       "completions: several prompts are a 400");
    fix_free(&f);
}

static void test_native_response(void)
{
    struct fix f;
    const char *up = "{\"result\": {\"response\": \"Hello, World first appeared in 1974 at Bell "
                     "Labs.\"}, \"success\": true, \"errors\": [], \"messages\": []}";
    fix_init(&f, MODEL, "{\"prompt\":\"x\"}");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err) == 0, "envelope: parses");
    ok(json_same(
           f.a, f.out.p, f.out.len,
           "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
           "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"Hello, World first appeared in "
           "1974 at Bell Labs.\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]}"),
       "envelope: an OpenAI text_completion");
    ok(!f.ctx.usage.has_usage, "envelope without usage: the core counts");
    is_str(f.ctx.text.p, "Hello, World first appeared in 1974 at Bell Labs.",
           "envelope: the text collected for counting");
    fix_free(&f);

    const char *withu = "{\"result\":{\"response\":\"Hi\",\"usage\":{\"prompt_tokens\":12,"
                        "\"completion_tokens\":1,\"total_tokens\":13}},\"success\":true}";
    fix_init(&f, MODEL, "{\"prompt\":\"x\"}");
    f.ctx.mode = RELAY_COMPLETIONS;
    P->parse_response(&f.ctx, withu, strlen(withu), &f.out, &f.err);
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 1 && strstr(f.out.p, "\"total_tokens\":13"),
       "envelope with result.usage: billed and shown");
    fix_free(&f);
}

static void test_native_stream(void)
{
    struct fix f;
    fix_init(&f, MODEL,
             "{\"prompt\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(feed(&f, "{\"response\":\"Hel\",\"p\":\"abc\"}") == 0 &&
           feed(&f, "{\"response\":\"lo\",\"p\":\"abcdef\"}") == 0 &&
           feed(&f, "{\"response\":\"\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
                    "\"total_tokens\":7}}") == 0 &&
           feed(&f, "[DONE]") == 0,
       "stream: every event parses");
    ok(event_is(&f, 0,
                "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
                "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"Hel\",\"index\":0,\"logprobs\":"
                "null,\"finish_reason\":null}]}"),
       "stream: a text_completion chunk per piece");
    ok(event_is(&f, 1,
                "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
                "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"lo\",\"index\":0,\"logprobs\":"
                "null,\"finish_reason\":null}]}"),
       "stream: the second piece");
    ok(event_is(&f, 2,
                "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
                "\"model\":\"" MODEL "\",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":"
                "null,\"finish_reason\":\"stop\"}]}"),
       "stream: [DONE] -> finish_reason stop");
    ok(event_is(&f, 3,
                "{\"id\":\"cmpl-req1\",\"object\":\"text_completion\",\"created\":1730000000,"
                "\"model\":\"" MODEL "\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
                "\"completion_tokens\":2,\"total_tokens\":7}}"),
       "stream: the usage chunk, asked for");
    ok(!sse_data(f.a, f.out.p, 4) && f.ctx.finished, "stream: nothing more; finished");
    is_str(f.ctx.text.p, "Hello", "stream: the text collected");
    fix_free(&f);

    fix_init(&f, MODEL, "{\"prompt\":\"x\",\"stream\":true}");
    f.ctx.mode = RELAY_COMPLETIONS;
    feed(&f, "{\"response\":\"a\"}");
    feed(&f, NULL);
    ok(f.ctx.finished && strstr(sse_data(f.a, f.out.p, 1), "\"finish_reason\":\"stop\"") &&
           !sse_data(f.a, f.out.p, 2),
       "stream closed without [DONE]: finish chunk, no usage chunk unasked");
    fix_free(&f);
}

static void test_errors(void)
{
    struct fix f;
    const char *env = "{\"result\":null,\"success\":false,\"errors\":[{\"code\":10000,\"message\":"
                      "\"Authentication error\"}],\"messages\":[]}";
    fix_init(&f, MODEL, "{\"prompt\":\"x\"}");
    P->parse_error(&f.ctx, 401, env, strlen(env), &f.err);
    ok(f.err.status == 401 && !strcmp(f.err.message, "Authentication error") &&
           !strcmp(f.err.code, "10000") && !strcmp(f.err.type, "upstream_error"),
       "envelope error: status, message and code kept");
    memset(&f.err, 0, sizeof f.err);
    const char *rl = "{\"result\":null,\"success\":false,\"errors\":[{\"code\":3040,\"message\":"
                     "\"Capacity temporarily exceeded, please try again.\"}],\"messages\":[]}";
    P->parse_error(&f.ctx, 429, rl, strlen(rl), &f.err);
    ok(f.err.status == 429 && !strcmp(f.err.code, "3040"),
       "rate limit: a 429, so the relay tries another channel");
    memset(&f.err, 0, sizeof f.err);
    const char *oa = "{\"error\":{\"message\":\"bad model\",\"type\":\"invalid_request_error\"}}";
    P->parse_error(&f.ctx, 400, oa, strlen(oa), &f.err);
    ok(f.err.status == 400 && !strcmp(f.err.message, "bad model"),
       "an OpenAI-shaped error of the compatible endpoint is read as such");
    memset(&f.err, 0, sizeof f.err);
    f.ctx.mode = RELAY_COMPLETIONS;
    ok(P->parse_response(&f.ctx, env, strlen(env), &f.out, &f.err) < 0 && f.err.status == 500 &&
           !strcmp(f.err.message, "Authentication error"),
       "success false in a 200: a 500 with the envelope's message");
    memset(&f.err, 0, sizeof f.err);
    ok(feed(&f, env) < 0 && !strcmp(f.err.message, "Authentication error"),
       "an envelope error inside the stream fails it");
    fix_free(&f);
}

int main(void)
{
    is_str(P->name, "cloudflare", "provider name");
    test_urls();
    test_stream_usage();
    test_native_request();
    test_native_response();
    test_native_stream();
    test_errors();
    return done_testing();
}
