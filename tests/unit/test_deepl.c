/* Checks providers/deepl.c: the translate request, the chat answer, the one-chunk stream, usage
 * in characters and DeepL's errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/deepl.h"
#include "prov_fixture.h"

/* A DeepL channel (type 38) with a Free API key (":fx") at the free host. */
static const struct prov_fixture_spec DEEPL = {
    .prov = &provider_deepl,
    .ch = {.id = 7,
           .type = 38,
           .key = "KEY:fx",
           .base_url = "https://api-free.deepl.com",
           .is_default_base = 1,
           .config = "{}"},
};

static void test_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-zh",
                      "{\"model\":\"deepl-zh\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"Hello, world!\"}]}");
    ok(prov_fixture_build(&f) == 0, "request: builds");
    is_str(f.rq.url, "https://api-free.deepl.com/v2/translate", "request: /v2/translate");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "DeepL-Auth-Key KEY:fx",
           "request: DeepL-Auth-Key header");
    ok(prov_fixture_json_eq_n(f.rq.body, f.rq.body_len,
                              "{\"text\":[\"Hello, world!\"],\"target_lang\":\"zh\"}"),
       "request: the documented body");
    prov_fixture_free(&f);
}

/* Without a base URL of its own, a Pro key (no ":fx") goes to the Pro host. */
static void test_pro_host(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-zh",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    f.ch.key = "PROKEY";
    prov_fixture_build(&f);
    is_str(f.rq.url, "https://api.deepl.com/v2/translate",
           "host: a Pro key on the default goes to Pro");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-zh",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    f.ch.key = "PROKEY";
    f.ch.base_url = "http://127.0.0.1:9";
    f.ch.is_default_base = 0;
    prov_fixture_build(&f);
    is_str(f.rq.url, "http://127.0.0.1:9/v2/translate", "host: the channel's own base URL wins");
    prov_fixture_free(&f);
}

/* The target language is everything after the first '-'; none means ZH. */
static void test_target_lang(void)
{
    static const char *const cases[][2] = {
        {"deepl-en-us", "en-us"}, {"deepl-ja", "ja"}, {"deepl", "ZH"}, {"deepl-", "ZH"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct prov_fixture f;
        prov_fixture_init(&f, &DEEPL, RELAY_CHAT, cases[i][0],
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        prov_fixture_build(&f);
        json_object *b = json_tokener_parse(arena_strndup(f.a, f.rq.body, f.rq.body_len));
        is_str(json_object_get_string(json_object_object_get(b, "target_lang")), cases[i][1],
               "target: %s -> %s", cases[i][0], cases[i][1]);
        json_object_put(b);
        prov_fixture_free(&f);
    }
}

/* Only the last message is translated; an array content gives its text parts. */
static void test_last_message(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &DEEPL, RELAY_CHAT, "deepl-de",
        "{\"messages\":[{\"role\":\"system\",\"content\":\"be formal\"},"
        "{\"role\":\"user\",\"content\":\"first\"},{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"Good \"},{\"type\":\"image_url\",\"image_url\":"
        "{\"url\":\"http://x/y.png\"}},{\"type\":\"text\",\"text\":\"morning\"}]}]}");
    prov_fixture_build(&f);
    ok(prov_fixture_json_eq_n(f.rq.body, f.rq.body_len,
                              "{\"text\":[\"Good morning\"],\"target_lang\":\"de\"}"),
       "last message only, text parts joined");
    prov_fixture_free(&f);
}

static void test_response(void)
{
    struct prov_fixture f;
    const char *up =
        "{\"translations\":[{\"detected_source_language\":\"EN\",\"text\":\"你好，世界！\"}]}";
    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-zh",
                      "{\"model\":\"deepl-zh\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"Hello, world!\"}]}");
    ok(prov_fixture_answer(&f, up) == 0, "response: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
           "\"model\":\"deepl-zh\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
           "\"assistant\",\"content\":\"你好，世界！\"},\"finish_reason\":\"stop\"}],"
           "\"usage\":{\"prompt_tokens\":13,\"completion_tokens\":0,\"total_tokens\":13}}"),
       "response: the documented chat.completion");
    ok(f.ctx.usage.has_usage, "response: usage reported to the core");
    is_int(f.ctx.usage.prompt_tokens, 13, "response: prompt tokens = source characters");
    is_int(f.ctx.usage.completion_tokens, 0, "response: no completion tokens");
    is_str(f.ctx.text.p, "你好，世界！", "response: text collected");
    prov_fixture_free(&f);
}

/* DeepL bills characters: a CJK source counts code points, not bytes. */
static void test_usage_chars(void)
{
    struct prov_fixture f;
    const char *up = "{\"translations\":[{\"text\":\"Hello\"}]}";
    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-en",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"你好！\"}]}");
    prov_fixture_answer(&f, up);
    is_int(f.ctx.usage.prompt_tokens, 3, "usage: 3 characters, not 9 bytes");
    prov_fixture_free(&f);
}

static void test_stream(void)
{
    struct prov_fixture f;
    const char *up =
        "{\"translations\":[{\"detected_source_language\":\"EN\",\"text\":\"Hallo\"}]}";
    ok(DEEPL.prov->is_stream_emulated, "stream: emulated by the core");
    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-de",
                      "{\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    f.ctx.include_usage = 1;
    ok(prov_fixture_answer(&f, up) == 0, "stream: parses");
    const char *c0 = prov_fixture_sse_event(f.a, f.out.p, 0),
               *c1 = prov_fixture_sse_event(f.a, f.out.p, 1);
    ok(c0 && prov_fixture_json_eq_n(
                 c0, strlen(c0),
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                 "1730000000,\"model\":\"deepl-de\",\"choices\":[{\"index\":0,\"delta\":{"
                 "\"role\":\"assistant\",\"content\":\"Hallo\"},\"finish_reason\":\"stop\"}],"
                 "\"usage\":null}"),
       "stream: one chunk with the whole translation and finish_reason stop");
    ok(c1 && prov_fixture_json_eq_n(
                 c1, strlen(c1),
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                 "1730000000,\"model\":\"deepl-de\",\"choices\":[],\"usage\":{"
                 "\"prompt_tokens\":5,\"completion_tokens\":0,\"total_tokens\":5}}"),
       "stream: then the usage chunk");
    ok(!prov_fixture_sse_event(f.a, f.out.p, 2), "stream: nothing else (the core writes [DONE])");
    ok(!strstr(f.out.p, "[DONE]"), "stream: no [DONE] from the adaptor");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-de",
                      "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    prov_fixture_answer(&f, up);
    ok(prov_fixture_sse_event(f.a, f.out.p, 0) && !prov_fixture_sse_event(f.a, f.out.p, 1),
       "stream without include_usage: the content chunk only");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *body = "{\"message\":\"Too many requests\"}";
    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-zh", "{\"messages\":[]}");
    prov_fixture_error(&f, 429, body);
    is_int(f.err.status, 429, "error: 429 kept, so the relay retries another channel");
    is_str(f.err.message, "Too many requests", "error: DeepL's message");
    is_str(f.err.code, "deepl_error", "error: code deepl_error");
    is_str(f.err.type, "upstream_error", "error: type upstream_error");
    prov_fixture_error(&f, 456, "");
    is_int(f.err.status, 456, "error: quota exceeded keeps 456");
    is_str(f.err.message, "bad response status code 456", "error: no body, the status message");
    ok(prov_fixture_answer(&f, "{}") < 0 && f.err.status == 500,
       "error: an answer without translations is a 500");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &DEEPL, RELAY_CHAT, "deepl-zh", "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) < 0 && f.err.status == 400, "error: embeddings refused with 400");
    prov_fixture_free(&f);
}

int main(void)
{
    is_str(DEEPL.prov->name, "deepl", "provider name");
    test_request();
    test_pro_host();
    test_target_lang();
    test_last_message();
    test_response();
    test_usage_chars();
    test_stream();
    test_errors();
    return done_testing();
}
