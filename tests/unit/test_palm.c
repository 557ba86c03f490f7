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
#include "tap.h"

static const struct provider *const P = &provider_palm;

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
    f->ch = (struct prov_channel){9, 11, "GKEY", "https://generativelanguage.googleapis.com",
                                  1, "", "{}",   NULL};
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
    fix_init(&f, "PaLM-2",
             "{\"model\":\"PaLM-2\",\"temperature\":0.7,\"n\":1,\"top_p\":0.95,\"top_k\":40,"
             "\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    ok(P->build_request(&f.ctx, &f.r, &f.err) == 0, "request: builds");
    is_str(
        f.r.url,
        "https://generativelanguage.googleapis.com/v1beta2/models/chat-bison-001:generateMessage",
        "request: generateMessage of chat-bison-001");
    is_str(header(&f.r, "x-goog-api-key:"), "x-goog-api-key: GKEY", "request: key header");
    ok(!strstr(f.r.url, "GKEY"), "request: the key is not in the URL");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"prompt\":{\"messages\":[{\"author\":\"0\",\"content\":\"Hello\"}]},"
                 "\"temperature\":0.7,\"candidateCount\":1,\"topP\":0.95,\"topK\":40}"),
       "request: the documented body, max_tokens not sent as topK");
    fix_free(&f);
}

/* user is author 0, everything else 1; system text is the context. */
static void test_roles(void)
{
    struct fix f;
    fix_init(
        &f, "chat-bison-001",
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello!\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"How are you?\"}]}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"prompt\":{\"context\":\"Be brief.\",\"messages\":["
                 "{\"author\":\"0\",\"content\":\"Hi\"},{\"author\":\"1\",\"content\":\"Hello!\"},"
                 "{\"author\":\"0\",\"content\":\"How are you?\"}]}}"),
       "roles: authors 0/1, system as context, text parts");
    fix_free(&f);
}

static const char *const UP = "{\"candidates\":[{\"author\":\"1\",\"content\":\"Hi!\"},{\"author\":"
                              "\"1\",\"content\":\"Hello.\"}],\"messages\":[{\"author\":\"0\","
                              "\"content\":\"Hello\"}],\"filters\":[]}";

static void test_response(void)
{
    struct fix f;
    fix_init(&f, "PaLM-2",
             "{\"model\":\"PaLM-2\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hello\"}]}");
    ok(P->parse_response(&f.ctx, UP, strlen(UP), &f.out, &f.err) == 0, "response: parses");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
                 "\"model\":\"PaLM-2\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"Hi!\"},\"finish_reason\":\"stop\"},{\"index\":1,"
                 "\"message\":{\"role\":\"assistant\",\"content\":\"Hello.\"},\"finish_reason\":"
                 "\"stop\"}]}"),
       "response: one choice per candidate, finish_reason stop");
    ok(!f.ctx.usage.has_usage, "response: no usage reported (the core counts)");
    is_str(f.ctx.text.p, "Hi!Hello.", "response: text collected for the count");
    fix_free(&f);

    const char *blocked = "{\"filters\":[{\"reason\":\"OTHER\"}],\"messages\":[]}";
    fix_init(&f, "PaLM-2", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    ok(P->parse_response(&f.ctx, blocked, strlen(blocked), &f.out, &f.err) == 0,
       "filtered: parses");
    json_object *o = json_tokener_parse(f.out.p);
    json_object *c = json_object_array_get_idx(json_object_object_get(o, "choices"), 0);
    is_str(json_object_get_string(json_object_object_get(c, "finish_reason")), "content_filter",
           "filtered: no candidates is content_filter");
    json_object_put(o);
    fix_free(&f);
}

static void test_stream(void)
{
    struct fix f;
    ok(P->is_stream_emulated, "stream: emulated by the core");
    fix_init(&f, "PaLM-2",
             "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");
    ok(P->parse_response(&f.ctx, UP, strlen(UP), &f.out, &f.err) == 0, "stream: parses");
    const char *c0 = sse_data(f.a, f.out.p, 0);
    ok(c0 && json_same(f.a, c0, strlen(c0),
                       "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
                       "1730000000,\"model\":\"PaLM-2\",\"choices\":[{\"index\":0,\"delta\":{"
                       "\"role\":\"assistant\",\"content\":\"Hi!\"},\"finish_reason\":\"stop\"}]}"),
       "stream: the whole text in one chunk with finish_reason stop");
    const char *c1 = sse_data(f.a, f.out.p, 1);
    ok(c1 && strstr(c1, "\"index\":1") && strstr(c1, "Hello."), "stream: the second candidate");
    ok(!sse_data(f.a, f.out.p, 2) && !strstr(f.out.p, "[DONE]"),
       "stream: nothing else (the core writes [DONE])");
    fix_free(&f);
}

static void test_errors(void)
{
    struct fix f;
    const char *body = "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\","
                       "\"status\":\"RESOURCE_EXHAUSTED\"}}";
    fix_init(&f, "PaLM-2", "{\"messages\":[]}");
    P->parse_error(&f.ctx, 429, body, strlen(body), &f.err);
    is_int(f.err.status, 429, "error: 429 kept, so the relay retries another channel");
    is_str(f.err.message, "Resource has been exhausted", "error: Google's message");
    is_str(f.err.code, "RESOURCE_EXHAUSTED", "error: Google's status as code");
    is_str(f.err.type, "upstream_error", "error: type upstream_error");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 503, "oops", 4, &f.err);
    is_int(f.err.status, 503, "error: a body that is not JSON keeps the status");
    is_str(f.err.message, "bad response status code 503", "error: the status message");
    memset(&f.err, 0, sizeof f.err);
    ok(P->parse_response(&f.ctx, "nope", 4, &f.out, &f.err) < 0 && f.err.status == 500,
       "error: malformed JSON is a 500");
    fix_free(&f);

    fix_init(&f, "PaLM-2", "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 400,
       "error: embeddings refused with 400");
    fix_free(&f);
}

int main(void)
{
    is_str(P->name, "palm", "provider name");
    test_request();
    test_roles();
    test_response();
    test_stream();
    test_errors();
    return done_testing();
}
