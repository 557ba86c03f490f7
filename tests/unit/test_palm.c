/* Checks providers/palm.c: the generateMessage request, candidates as choices, the emulated
 * stream and Google's errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/palm.h"
#include "prov_fixture.h"

/* A PaLM channel (type 11) at the default base. */
static const struct prov_fixture_spec PALM = {
    .prov = &provider_palm,
    .ch = {.id = 9,
           .type = 11,
           .key = "GKEY",
           .base_url = "https://generativelanguage.googleapis.com",
           .is_default_base = 1,
           .config = "{}"},
};

static void test_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &PALM, RELAY_CHAT, "PaLM-2",
        "{\"model\":\"PaLM-2\",\"temperature\":0.7,\"n\":1,\"top_p\":0.95,\"top_k\":40,"
        "\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    ok(prov_fixture_build(&f) == 0, "request: builds");
    is_str(
        f.rq.url,
        "https://generativelanguage.googleapis.com/v1beta2/models/chat-bison-001:generateMessage",
        "request: generateMessage of chat-bison-001");
    is_str(prov_fixture_header(&f.rq, "x-goog-api-key"), "GKEY", "request: key header");
    ok(!strstr(f.rq.url, "GKEY"), "request: the key is not in the URL");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"prompt\":{\"messages\":[{\"author\":\"0\",\"content\":\"Hello\"}]},"
           "\"temperature\":0.7,\"candidateCount\":1,\"topP\":0.95,\"topK\":40}"),
       "request: the documented body, max_tokens not sent as topK");
    prov_fixture_free(&f);
}

/* user is author 0, everything else 1; system text is the context. */
static void test_roles(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &PALM, RELAY_CHAT, "chat-bison-001",
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello!\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"How are you?\"}]}]}");
    prov_fixture_build(&f);
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"prompt\":{\"context\":\"Be brief.\",\"messages\":["
           "{\"author\":\"0\",\"content\":\"Hi\"},{\"author\":\"1\",\"content\":\"Hello!\"},"
           "{\"author\":\"0\",\"content\":\"How are you?\"}]}}"),
       "roles: authors 0/1, system as context, text parts");
    prov_fixture_free(&f);
}

static const char *const UP = "{\"candidates\":[{\"author\":\"1\",\"content\":\"Hi!\"},{\"author\":"
                              "\"1\",\"content\":\"Hello.\"}],\"messages\":[{\"author\":\"0\","
                              "\"content\":\"Hello\"}],\"filters\":[]}";

static void test_response(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &PALM, RELAY_CHAT, "PaLM-2",
                      "{\"model\":\"PaLM-2\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"Hello\"}]}");
    ok(prov_fixture_answer(&f, UP) == 0, "response: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
           "\"model\":\"PaLM-2\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
           "\"assistant\",\"content\":\"Hi!\"},\"finish_reason\":\"stop\"},{\"index\":1,"
           "\"message\":{\"role\":\"assistant\",\"content\":\"Hello.\"},\"finish_reason\":"
           "\"stop\"}]}"),
       "response: one choice per candidate, finish_reason stop");
    ok(!f.ctx.usage.has_usage, "response: no usage reported (the core counts)");
    is_str(f.ctx.text.p, "Hi!Hello.", "response: text collected for the count");
    prov_fixture_free(&f);

    const char *blocked = "{\"filters\":[{\"reason\":\"OTHER\"}],\"messages\":[]}";
    prov_fixture_init(&f, &PALM, RELAY_CHAT, "PaLM-2",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    ok(prov_fixture_answer(&f, blocked) == 0, "filtered: parses");
    json_object *o = json_tokener_parse(f.out.p);
    json_object *c = json_object_array_get_idx(json_object_object_get(o, "choices"), 0);
    is_str(json_object_get_string(json_object_object_get(c, "finish_reason")), "content_filter",
           "filtered: no candidates is content_filter");
    json_object_put(o);
    prov_fixture_free(&f);
}

static void test_stream(void)
{
    struct prov_fixture f;
    ok(PALM.prov->is_stream_emulated, "stream: emulated by the core");
    prov_fixture_init(&f, &PALM, RELAY_CHAT, "PaLM-2",
                      "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    ok(prov_fixture_answer(&f, UP) == 0, "stream: parses");
    const char *c0 = prov_fixture_sse_event(f.a, f.out.p, 0);
    ok(c0 && prov_fixture_json_eq_n(
                 c0, strlen(c0),
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                 "1730000000,\"model\":\"PaLM-2\",\"choices\":[{\"index\":0,\"delta\":{"
                 "\"role\":\"assistant\",\"content\":\"Hi!\"},\"finish_reason\":\"stop\"}]}"),
       "stream: the whole text in one chunk with finish_reason stop");
    const char *c1 = prov_fixture_sse_event(f.a, f.out.p, 1);
    ok(c1 && strstr(c1, "\"index\":1") && strstr(c1, "Hello."), "stream: the second candidate");
    ok(!prov_fixture_sse_event(f.a, f.out.p, 2) && !strstr(f.out.p, "[DONE]"),
       "stream: nothing else (the core writes [DONE])");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *body = "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\","
                       "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    prov_fixture_init(&f, &PALM, RELAY_CHAT, "PaLM-2", "{\"messages\":[]}");
    prov_fixture_error(&f, 429, body);
    is_int(f.err.status, 429, "error: 429 kept, so the relay retries another channel");
    is_str(f.err.message, "Resource has been exhausted", "error: Google's message");
    is_str(f.err.code, "RESOURCE_EXHAUSTED", "error: Google's status as code");
    is_str(f.err.type, "upstream_error", "error: type upstream_error");
    prov_fixture_error(&f, 503, "oops");
    is_int(f.err.status, 503, "error: a body that is not JSON keeps the status");
    is_str(f.err.message, "bad response status code 503", "error: the status message");
    ok(prov_fixture_answer(&f, "nope") < 0 && f.err.status == 500,
       "error: malformed JSON is a 500");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &PALM, RELAY_CHAT, "PaLM-2", "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) < 0 && f.err.status == 400, "error: embeddings refused with 400");
    prov_fixture_free(&f);
}

int main(void)
{
    is_str(PALM.prov->name, "palm", "provider name");
    test_request();
    test_roles();
    test_response();
    test_stream();
    test_errors();
    return done_testing();
}
