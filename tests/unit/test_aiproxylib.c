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
#include "prov_fixture.h"

/* An AI Proxy Library channel (type 21) at the default base. */
static const struct prov_fixture_spec AIPROXYLIB = {
    .prov = &provider_aiproxylib,
    .ch = {.id = 7,
           .type = 21,
           .key = "KEY",
           .base_url = "https://api.aiproxy.io",
           .is_default_base = 1,
           .config = "{}"},
};

static void test_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
        "{\"model\":\"gpt-3.5-turbo\",\"stream\":true,\"messages\":[{\"role\":\"system\","
        "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"What is One API?\"}]}");
    f.ch.config = "{\"library_id\":\"lib-1\"}";
    ok(prov_fixture_build(&f) == 0, "request: builds");
    is_str(f.rq.url, "https://api.aiproxy.io/api/library/ask", "request: POST /api/library/ask");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer KEY", "request: the key as Bearer");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"model\":\"gpt-3.5-turbo\",\"query\":\"What is One API?\",\"libraryId\":"
           "\"lib-1\",\"stream\":true}"),
       "request: model, the last message as query, libraryId, stream");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    f.ch.api_version = "lib-legacy";
    prov_fixture_build(&f);
    ok(strstr(f.rq.body, "\"libraryId\":\"lib-legacy\"") != NULL,
       "request: without config.library_id, the legacy other column");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(prov_fixture_build(&f) < 0 && f.err.status == 500 &&
           !strcmp(f.err.code, "convert_request_failed"),
       "request: no library id is a 500 convert_request_failed");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "text-embedding-3-small", "{\"input\":\"q\"}");
    f.ch.config = "{\"library_id\":\"lib-1\"}";
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) < 0 && f.err.status == 400, "request: embeddings refused with 400");
    prov_fixture_free(&f);
}

static void test_response(void)
{
    struct prov_fixture f;
    const char *up =
        "{\"success\":true,\"answer\":\"A gateway.\",\"documents\":[{\"title\":\"README\","
        "\"url\":\"https://example.com/readme\"},{\"title\":\"Docs\",\"url\":"
        "\"https://example.com/docs\"}]}";
    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(prov_fixture_answer(&f, up) == 0, "response: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
           "\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
           "\"assistant\",\"content\":\"A gateway.\\n\\n参考文档：\\n1. [README]("
           "https://example.com/readme)\\n2. [Docs](https://example.com/docs)\\n\"},"
           "\"finish_reason\":\"stop\"}]}"),
       "response: the answer, then the documents as a numbered Markdown list");
    ok(!f.ctx.usage.has_usage, "response: no usage reported, the core counts");
    prov_fixture_free(&f);

    const char *plain = "{\"success\":true,\"answer\":\"Yes.\",\"documents\":[]}";
    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    prov_fixture_answer(&f, plain);
    is_str(f.ctx.text.p, "Yes.", "response: no documents, no list");
    prov_fixture_free(&f);
}

static void test_stream(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(prov_fixture_feed(
           &f, "", "{\"content\":\"A \",\"finish\":false,\"model\":\"gpt-3.5-turbo\"}") == 0 &&
           prov_fixture_feed(
               &f, "",
               "{\"content\":\"gateway.\",\"finish\":false,\"model\":\"gpt-3.5-turbo\","
               "\"documents\":[{\"title\":\"README\",\"url\":\"https://example.com/r\"}]}") == 0 &&
           prov_fixture_feed(&f, "",
                             "{\"content\":\"\",\"finish\":true,\"model\":\"gpt-3.5-turbo\"}") == 0,
       "stream: every event parses");
    ok(prov_fixture_event_is(
           &f, 0,
           "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
           "1730000000,\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"delta\":{"
           "\"role\":\"assistant\",\"content\":\"A \"},\"finish_reason\":null}]}"),
       "stream: the first piece, with the role");
    ok(prov_fixture_event_is(
           &f, 2,
           "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
           "1730000000,\"model\":\"gpt-3.5-turbo\",\"choices\":[{\"index\":0,\"delta\":{"
           "\"content\":\"\\n\\n参考文档：\\n1. [README](https://example.com/r)\\n\"},"
           "\"finish_reason\":\"stop\"}]}"),
       "stream: the last chunk carries the documents and finish_reason stop");
    ok(f.ctx.finished && !prov_fixture_sse_event(f.a, f.out.p, 3),
       "stream: finish ends it; nothing more");
    is_str(f.ctx.text.p, "A gateway.\n\n参考文档：\n1. [README](https://example.com/r)\n",
           "stream: everything sent is collected for counting");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    prov_fixture_feed(&f, "", "{\"content\":\"x\"}");
    prov_fixture_feed(&f, "", NULL);
    ok(f.ctx.finished &&
           prov_fixture_event_is(&f, 1,
                                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\","
                                 "\"created\":1730000000,\"model\":\"gpt-3.5-turbo\",\"choices\":"
                                 "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"),
       "stream: the upstream's end closes it with finish_reason stop");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *bad = "{\"success\":false,\"errCode\":1001,\"message\":\"library not found\"}";
    prov_fixture_init(&f, &AIPROXYLIB, RELAY_CHAT, "gpt-3.5-turbo",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}");
    ok(prov_fixture_answer(&f, bad) < 0 && f.err.status == 500 &&
           !strcmp(f.err.message, "library not found") && !strcmp(f.err.code, "1001"),
       "errCode in a 200: a 500 with the message and the code");
    const char *rl = "{\"success\":false,\"errCode\":429,\"message\":\"too many requests\"}";
    prov_fixture_error(&f, 429, rl);
    ok(f.err.status == 429 && !strcmp(f.err.message, "too many requests"),
       "HTTP 429: stays 429, retried on another channel");
    prov_fixture_error(&f, 503, "");
    is_str(f.err.message, "bad response status code 503", "no body: the status message");
    ok(prov_fixture_feed(&f, "", bad) < 0 && !strcmp(f.err.message, "library not found"),
       "an error inside the stream fails it");
    prov_fixture_free(&f);
}

int main(void)
{
    is_str(AIPROXYLIB.prov->name, "aiproxylib", "provider name");
    test_request();
    test_response();
    test_stream();
    test_errors();
    return done_testing();
}
