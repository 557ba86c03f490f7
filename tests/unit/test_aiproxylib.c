/* Checks providers/aiproxylib.c: the /api/library/ask request (libraryId from config or the
 * legacy column), the answer with its documents, the stream, and the errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/aiproxylib.h"
#include "tap.h"

static const struct provider *const P = &provider_aiproxylib;
#define FIX_TYPE 21
#define FIX_BASE "https://api.aiproxy.io"

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

static void test_request(void)
{
    struct fix f;
    fix_init(&f, "gpt-3.5-turbo",
             "{\"model\":\"gpt-3.5-turbo\",\"stream\":true,\"messages\":[{\"role\":\"system\","
             "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"What is One API?\"}]}");
    f.ch.config = "{\"library_id\":\"lib-1\"}";
    ok(P->build_request(&f.ctx, &f.r, &f.err) == 0, "request: builds");
    is_str(f.r.url, "https://api.aiproxy.io/api/library/ask", "request: POST /api/library/ask");
    is_str(header(&f.r, "Authorization:"), "Authorization: Bearer KEY",
           "request: the key as Bearer");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"model\":\"gpt-3.5-turbo\",\"query\":\"What is One API?\",\"libraryId\":"
                 "\"lib-1\",\"stream\":true}"),
       "request: model, the last message as query, libraryId, stream");
    fix_free(&f);

    fix_init(&f, "gpt-3.5-turbo", "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    f.ch.api_version = "lib-legacy";
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(strstr(f.r.body, "\"libraryId\":\"lib-legacy\"") != NULL,
       "request: without config.library_id, the legacy other column");
    fix_free(&f);

    fix_init(&f, "gpt-3.5-turbo", "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 500 &&
           !strcmp(f.err.code, "convert_request_failed"),
       "request: no library id is a 500 convert_request_failed");
    fix_free(&f);

    fix_init(&f, "text-embedding-3-small", "{\"input\":\"q\"}");
    f.ch.config = "{\"library_id\":\"lib-1\"}";
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 400,
       "request: embeddings refused with 400");
    fix_free(&f);
}

static void test_response(void)
{
    struct fix f;
    const char *up =
        "{\"success\":true,\"answer\":\"A gateway.\",\"documents\":[{\"title\":\"README\","
        "\"url\":\"https://example.com/readme\"},{\"title\":\"Docs\",\"url\":"
        "\"https://example.com/docs\"}]}";
    fix_init(&f, "gpt-3.5-turbo", "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err) == 0, "response: parses");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
                 "\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"A gateway.\\n\\n参考文档：\\n1. [README]("
                 "https://example.com/readme)\\n2. [Docs](https://example.com/docs)\\n\"},"
                 "\"finish_reason\":\"stop\"}]}"),
       "response: the answer, then the documents as a numbered Markdown list");
    ok(!f.ctx.usage.has_usage, "response: no usage reported, the core counts");
    fix_free(&f);

    const char *plain = "{\"success\":true,\"answer\":\"Yes.\",\"documents\":[]}";
    fix_init(&f, "gpt-3.5-turbo", "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    P->parse_response(&f.ctx, plain, strlen(plain), &f.out, &f.err);
    is_str(f.ctx.text.p, "Yes.", "response: no documents, no list");
    fix_free(&f);
}

static void test_stream(void)
{
    struct fix f;
    fix_init(&f, "gpt-3.5-turbo",
             "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(feed(&f, "{\"content\":\"A \",\"finish\":false,\"model\":\"gpt-3.5-turbo\"}") == 0 &&
           feed(&f,
                "{\"content\":\"gateway.\",\"finish\":false,\"model\":\"gpt-3.5-turbo\","
                "\"documents\":[{\"title\":\"README\",\"url\":\"https://example.com/r\"}]}") == 0 &&
           feed(&f, "{\"content\":\"\",\"finish\":true,\"model\":\"gpt-3.5-turbo\"}") == 0,
       "stream: every event parses");
    ok(event_is(&f, 0,
                "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                "1730000000,\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"delta\":{"
                "\"role\":\"assistant\",\"content\":\"A \"},\"finish_reason\":null}]}"),
       "stream: the first piece, with the role");
    ok(event_is(&f, 2,
                "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                "1730000000,\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"delta\":{"
                "\"content\":\"\\n\\n参考文档：\\n1. [README](https://example.com/r)\\n\"},"
                "\"finish_reason\":\"stop\"}]}"),
       "stream: the last chunk carries the documents and finish_reason stop");
    ok(f.ctx.finished && !sse_data(f.a, f.out.p, 3), "stream: finish ends it; nothing more");
    is_str(f.ctx.text.p, "A gateway.\n\n参考文档：\n1. [README](https://example.com/r)\n",
           "stream: everything sent is collected for counting");
    fix_free(&f);

    fix_init(&f, "gpt-3.5-turbo",
             "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    feed(&f, "{\"content\":\"x\"}");
    feed(&f, NULL);
    ok(f.ctx.finished && event_is(&f, 1,
                                  "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\","
                                  "\"created\":1730000000,\"model\":\"gpt-3.5-turbo\",\"choices\":"
                                  "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"),
       "stream: the upstream's end closes it with finish_reason stop");
    fix_free(&f);
}

static void test_errors(void)
{
    struct fix f;
    const char *bad = "{\"success\":false,\"errCode\":1001,\"message\":\"library not found\"}";
    fix_init(&f, "gpt-3.5-turbo", "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(P->parse_response(&f.ctx, bad, strlen(bad), &f.out, &f.err) < 0 && f.err.status == 500 &&
           !strcmp(f.err.message, "library not found") && !strcmp(f.err.code, "1001"),
       "errCode in a 200: a 500 with the message and the code");
    memset(&f.err, 0, sizeof f.err);
    const char *rl = "{\"success\":false,\"errCode\":429,\"message\":\"too many requests\"}";
    P->parse_error(&f.ctx, 429, rl, strlen(rl), &f.err);
    ok(f.err.status == 429 && !strcmp(f.err.message, "too many requests"),
       "HTTP 429: stays 429, retried on another channel");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 503, "", 0, &f.err);
    is_str(f.err.message, "bad response status code 503", "no body: the status message");
    memset(&f.err, 0, sizeof f.err);
    ok(feed(&f, bad) < 0 && !strcmp(f.err.message, "library not found"),
       "an error inside the stream fails it");
    fix_free(&f);
}

int main(void)
{
    is_str(P->name, "aiproxylib", "provider name");
    test_request();
    test_response();
    test_stream();
    test_errors();
    return done_testing();
}
