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
#include "tap.h"

static const struct provider *const P = &provider_deepl;

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
    f->ch = (struct prov_channel){7, 38, "KEY:fx", "https://api-free.deepl.com", 1, "", "{}", NULL};
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = RELAY_CHAT;
    f->ctx.ch = &f->ch;
    f->ctx.model = model;
    f->ctx.origin_model = model;
    f->ctx.req = f->req;
    f->ctx.request_id = "req1";
    f->ctx.created = 1730000000;
    f->ctx.is_stream = json_object_get_boolean(json_object_object_get(f->req, "stream"));
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

static const char *header(const struct prov_request *r, const char *prefix)
{
    for (int i = 0; i < r->n_headers; i++)
        if (!strncmp(r->headers[i], prefix, strlen(prefix)))
            return r->headers[i];
    return NULL;
}

static void test_request(void)
{
    struct fix f;
    fix_init(&f, "deepl-zh",
             "{\"model\":\"deepl-zh\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hello, world!\"}]}");
    ok(P->build_request(&f.ctx, &f.r, &f.err) == 0, "request: builds");
    is_str(f.r.url, "https://api-free.deepl.com/v2/translate", "request: /v2/translate");
    is_str(header(&f.r, "Authorization:"), "Authorization: DeepL-Auth-Key KEY:fx",
           "request: DeepL-Auth-Key header");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"text\":[\"Hello, world!\"],\"target_lang\":\"zh\"}"),
       "request: the documented body");
    fix_free(&f);
}

/* Without a base URL of its own, a Pro key (no ":fx") goes to the Pro host. */
static void test_pro_host(void)
{
    struct fix f;
    fix_init(&f, "deepl-zh", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    f.ch.key = "PROKEY";
    P->build_request(&f.ctx, &f.r, &f.err);
    is_str(f.r.url, "https://api.deepl.com/v2/translate",
           "host: a Pro key on the default goes to Pro");
    fix_free(&f);

    fix_init(&f, "deepl-zh", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    f.ch.key = "PROKEY";
    f.ch.base_url = "http://127.0.0.1:9";
    f.ch.is_default_base = 0;
    P->build_request(&f.ctx, &f.r, &f.err);
    is_str(f.r.url, "http://127.0.0.1:9/v2/translate", "host: the channel's own base URL wins");
    fix_free(&f);
}

/* The target language is everything after the first '-'; none means ZH. */
static void test_target_lang(void)
{
    static const char *const cases[][2] = {
        {"deepl-en-us", "en-us"}, {"deepl-ja", "ja"}, {"deepl", "ZH"}, {"deepl-", "ZH"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct fix f;
        fix_init(&f, cases[i][0], "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        P->build_request(&f.ctx, &f.r, &f.err);
        json_object *b = json_tokener_parse(arena_strndup(f.a, f.r.body, f.r.body_len));
        is_str(json_object_get_string(json_object_object_get(b, "target_lang")), cases[i][1],
               "target: %s -> %s", cases[i][0], cases[i][1]);
        json_object_put(b);
        fix_free(&f);
    }
}

/* Only the last message is translated; an array content gives its text parts. */
static void test_last_message(void)
{
    struct fix f;
    fix_init(&f, "deepl-de",
             "{\"messages\":[{\"role\":\"system\",\"content\":\"be formal\"},"
             "{\"role\":\"user\",\"content\":\"first\"},{\"role\":\"user\",\"content\":["
             "{\"type\":\"text\",\"text\":\"Good \"},{\"type\":\"image_url\",\"image_url\":"
             "{\"url\":\"http://x/y.png\"}},{\"type\":\"text\",\"text\":\"morning\"}]}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"text\":[\"Good morning\"],\"target_lang\":\"de\"}"),
       "last message only, text parts joined");
    fix_free(&f);
}

static void test_response(void)
{
    struct fix f;
    const char *up =
        "{\"translations\":[{\"detected_source_language\":\"EN\",\"text\":\"你好，世界！\"}]}";
    fix_init(&f, "deepl-zh",
             "{\"model\":\"deepl-zh\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hello, world!\"}]}");
    ok(P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err) == 0, "response: parses");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
                 "\"model\":\"deepl-zh\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"你好，世界！\"},\"finish_reason\":\"stop\"}],"
                 "\"usage\":{\"prompt_tokens\":13,\"completion_tokens\":0,\"total_tokens\":13}}"),
       "response: the documented chat.completion");
    ok(f.ctx.usage.has_usage, "response: usage reported to the core");
    is_int(f.ctx.usage.prompt_tokens, 13, "response: prompt tokens = source characters");
    is_int(f.ctx.usage.completion_tokens, 0, "response: no completion tokens");
    is_str(f.ctx.text.p, "你好，世界！", "response: text collected");
    fix_free(&f);
}

/* DeepL bills characters: a CJK source counts code points, not bytes. */
static void test_usage_chars(void)
{
    struct fix f;
    const char *up = "{\"translations\":[{\"text\":\"Hello\"}]}";
    fix_init(&f, "deepl-en", "{\"messages\":[{\"role\":\"user\",\"content\":\"你好！\"}]}");
    P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err);
    is_int(f.ctx.usage.prompt_tokens, 3, "usage: 3 characters, not 9 bytes");
    fix_free(&f);
}

static void test_stream(void)
{
    struct fix f;
    const char *up =
        "{\"translations\":[{\"detected_source_language\":\"EN\",\"text\":\"Hallo\"}]}";
    ok(P->is_stream_emulated, "stream: emulated by the core");
    fix_init(&f, "deepl-de",
             "{\"stream\":true,\"stream_options\":{\"include_usage\":true},"
             "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    f.ctx.include_usage = 1;
    ok(P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err) == 0, "stream: parses");
    const char *c0 = sse_data(f.a, f.out.p, 0), *c1 = sse_data(f.a, f.out.p, 1);
    ok(c0 && json_same(f.a, c0, strlen(c0),
                       "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                       "1730000000,\"model\":\"deepl-de\",\"choices\":[{\"index\":0,\"delta\":{"
                       "\"role\":\"assistant\",\"content\":\"Hallo\"},\"finish_reason\":\"stop\"}],"
                       "\"usage\":null}"),
       "stream: one chunk with the whole translation and finish_reason stop");
    ok(c1 && json_same(f.a, c1, strlen(c1),
                       "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                       "1730000000,\"model\":\"deepl-de\",\"choices\":[],\"usage\":{"
                       "\"prompt_tokens\":5,\"completion_tokens\":0,\"total_tokens\":5}}"),
       "stream: then the usage chunk");
    ok(!sse_data(f.a, f.out.p, 2), "stream: nothing else (the core writes [DONE])");
    ok(!strstr(f.out.p, "[DONE]"), "stream: no [DONE] from the adaptor");
    fix_free(&f);

    fix_init(&f, "deepl-de",
             "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err);
    ok(sse_data(f.a, f.out.p, 0) && !sse_data(f.a, f.out.p, 1),
       "stream without include_usage: the content chunk only");
    fix_free(&f);
}

static void test_errors(void)
{
    struct fix f;
    const char *body = "{\"message\":\"Too many requests\"}";
    fix_init(&f, "deepl-zh", "{\"messages\":[]}");
    P->parse_error(&f.ctx, 429, body, strlen(body), &f.err);
    is_int(f.err.status, 429, "error: 429 kept, so the relay retries another channel");
    is_str(f.err.message, "Too many requests", "error: DeepL's message");
    is_str(f.err.code, "deepl_error", "error: code deepl_error");
    is_str(f.err.type, "upstream_error", "error: type upstream_error");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 456, "", 0, &f.err);
    is_int(f.err.status, 456, "error: quota exceeded keeps 456");
    is_str(f.err.message, "bad response status code 456", "error: no body, the status message");
    memset(&f.err, 0, sizeof f.err);
    ok(P->parse_response(&f.ctx, "{}", 2, &f.out, &f.err) < 0 && f.err.status == 500,
       "error: an answer without translations is a 500");
    fix_free(&f);

    fix_init(&f, "deepl-zh", "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 400,
       "error: embeddings refused with 400");
    fix_free(&f);
}

int main(void)
{
    is_str(P->name, "deepl", "provider name");
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
