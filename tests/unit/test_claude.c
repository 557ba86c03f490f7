/* Checks providers/claude.c against the Anthropic vectors in tests/data/claude and edge cases. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/claude.h"
#include "providers/provider.h"
#include "prov_fixture.h"

/* The gateway clock the vectors assume. */
#define CREATED 1730000000

/* An Anthropic channel (type 14); requests without a model ask for Claude 3.5 Haiku. */
static const struct prov_fixture_spec CLAUDE = {
    .prov = &provider_claude,
    .ch = {.id = 7,
           .type = 14,
           .key = "sk-ant-test",
           .base_url = "https://api.anthropic.com",
           .config = ""},
    .model = "claude-3-5-haiku-20241022",
    .request_id = "req123",
    .created = CREATED,
};

/* Builds the upstream request into f->rq; its body parsed (caller puts) or NULL on error. */
static struct json_object *build(struct prov_fixture *f)
{
    if (prov_fixture_build(f) != 0)
        return NULL;
    return json_tokener_parse(f->rq.body);
}

/* Builds from req_json and returns the serialised body's member path (a.b...) as JSON text,
 * in a; "<error N: msg>" when build_request failed, "<absent>" when the member is missing. */
static const char *build_get(struct arena *a, const char *req_json, const char *path)
{
    struct prov_fixture f;
    struct json_object *body, *v;
    const char *res;

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, req_json);
    f.ctx.is_stream = 0;
    f.ctx.include_usage = 0;
    body = build(&f);
    if (!body) {
        res = arena_printf(a, "<error %d: %s>", f.err.status, f.err.message);
        prov_fixture_free(&f);
        return res;
    }
    v = prov_fixture_json_get(body, path, NULL);
    res =
        v ? arena_strdup(a, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) : "<absent>";
    json_object_put(body);
    prov_fixture_free(&f);
    return res;
}

/* Renders err the way the core shows it to clients (param NULL -> null). */
static const char *render_error(struct arena *a, const struct prov_error *err)
{
    struct json_object *o = json_object_new_object(), *e = json_object_new_object();
    const char *s;

    json_object_object_add(e, "message", json_object_new_string(err->message));
    json_object_object_add(e, "type", json_object_new_string(err->type));
    json_object_object_add(e, "param", err->param ? json_object_new_string(err->param) : NULL);
    json_object_object_add(e, "code", err->code ? json_object_new_string(err->code) : NULL);
    json_object_object_add(o, "error", e);
    s = arena_strdup(a, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* A frame's member at path as a string in a: strings bare, others as JSON, "null" for a JSON
 * null, "<absent>" when missing, "<bad json>" when the frame does not parse. */
static const char *frame_str(struct arena *a, const char *frame, const char *path)
{
    int found;
    struct json_object *root = json_tokener_parse(frame);
    struct json_object *v = prov_fixture_json_get(root, path, &found);
    const char *s;

    if (!root)
        s = "<bad json>";
    else if (!found)
        s = "<absent>";
    else if (!v)
        s = "null";
    else if (json_object_is_type(v, json_type_string))
        s = arena_strdup(a, json_object_get_string(v));
    else
        s = arena_strdup(a, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return s;
}

/* --- the vectors of tests/data/claude --- */

static void test_vector_request(void)
{
    struct prov_fixture f;
    struct json_object *body;
    char *want;
    int has_beta = 0, has_accept = 0;

    note("vector: request conversion");
    prov_fixture_init_file(&f, &CLAUDE, RELAY_CHAT, NULL, "claude", "basic.request.json");
    ok(f.req != NULL, "basic.request.json parses");
    body = build(&f);
    want = prov_fixture_data_file(f.a, "claude", "basic.upstream-request.json", NULL);
    ok(body != NULL, "build_request succeeds");
    ok(body && prov_fixture_json_eq(f.rq.body, want), "upstream body equals the vector");
    is_int(f.rq.body_len, strlen(f.rq.body), "body_len matches the body");
    is_str(f.rq.url, "https://api.anthropic.com/v1/messages", "URL");
    ok(f.rq.n_headers >= 3, "at least three headers (%d)", f.rq.n_headers);
    if (f.rq.n_headers >= 3) {
        is_str(f.rq.headers[0], "x-api-key: sk-ant-test", "x-api-key header");
        is_str(f.rq.headers[1], "anthropic-version: 2023-06-01", "anthropic-version header");
        is_str(f.rq.headers[2], "Content-Type: application/json", "content type header");
    }
    for (int i = 0; i < f.rq.n_headers; i++) {
        has_beta |= !strncasecmp(f.rq.headers[i], "anthropic-beta", 14);
        has_accept |= !strncasecmp(f.rq.headers[i], "accept:", 7);
    }
    ok(!has_beta, "no obsolete anthropic-beta header");
    ok(!has_accept, "no Accept: text/event-stream without streaming");
    json_object_put(body);
    prov_fixture_free(&f);
}

static void test_vector_response(void)
{
    struct prov_fixture f;
    size_t n;
    char *in;

    note("vector: non-stream response");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, "{\"model\":\"claude-3-5-haiku-20241022\"}");
    in = prov_fixture_data_file(f.a, "claude", "basic.upstream-response.json", &n);
    ok(in && provider_claude.parse_response(&f.ctx, in, n, &f.out, &f.err) == 0,
       "parse_response succeeds");
    ok(prov_fixture_json_eq(f.out.p,
                            prov_fixture_data_file(f.a, "claude", "basic.response.json", NULL)),
       "answer equals the vector");
    is_int(f.ctx.usage.prompt_tokens, 14, "usage prompt tokens");
    is_int(f.ctx.usage.completion_tokens, 4, "usage completion tokens");
    ok(f.ctx.usage.has_usage, "has_usage set");
    is_str(f.ctx.text.p, "Hello!", "text appended to ctx->text");
    prov_fixture_free(&f);
}

static void test_vector_error(void)
{
    struct prov_fixture f;
    size_t n;
    char *in;

    note("vector: error answer");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
    in = prov_fixture_data_file(f.a, "claude", "error-400.upstream.json", &n);
    provider_claude.parse_error(&f.ctx, 400, in, n, &f.err);
    is_int(f.err.status, 400, "status kept");
    ok(prov_fixture_json_eq(render_error(f.a, &f.err),
                            prov_fixture_data_file(f.a, "claude", "error-400.expected.json", NULL)),
       "error equals the vector");
    prov_fixture_free(&f);
}

static void test_vector_stream(void)
{
    struct prov_fixture f;
    struct prov_fixture_events got = {.n = 0}, want = {.n = 0};
    struct strbuf args;
    int all_same = 1;
    char *sse, *exp;

    note("vector: stream with a tool call");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL,
                      "{\"model\":\"claude-3-5-sonnet-20241022\",\"stream\":true}");
    f.ctx.include_usage = 1;
    sse = prov_fixture_data_file(f.a, "claude", "stream-tool.sse", NULL);
    exp = prov_fixture_data_file(f.a, "claude", "stream-tool.expected", NULL);
    ok(sse && exp, "vector files read");
    if (!sse || !exp) {
        prov_fixture_free(&f);
        return;
    }
    is_int(prov_fixture_feed_sse(&f, sse), 0, "every event accepted");
    is_int(f.n_fed, 12, "twelve events fed");
    ok(f.ctx.finished, "finished after message_stop");
    ok(!strstr(f.out.p ? f.out.p : "", "[DONE]"), "the adaptor never writes [DONE]");
    /* The core appends [DONE]; model that so the whole expected transcript compares. */
    SB_LIT(&f.out, "data: [DONE]\n\n");
    ok((prov_fixture_split_sse(f.a, f.out.p, &got) >= 0), "output is data: frames");
    ok((prov_fixture_split_sse(f.a, exp, &want) >= 0), "expected file is data: frames");
    is_int(got.n, want.n, "frame count");
    for (int i = 0; i < got.n && i < want.n; i++) {
        if (!strcmp(want.data[i], "[DONE]"))
            all_same &= !strcmp(got.data[i], "[DONE]");
        else if (!prov_fixture_json_eq(got.data[i], want.data[i]))
            all_same = 0, note("frame %d differs", i);
    }
    ok(all_same && got.n == want.n, "every frame equals the vector");
    sb_init(&args, f.a);
    for (int i = 0; i < got.n - 1; i++) {
        const char *a =
            frame_str(f.a, got.data[i], "choices.0.delta.tool_calls.0.function.arguments");

        if (strcmp(a, "<absent>") != 0)
            sb_puts(&args, a);
        if (strcmp(frame_str(f.a, got.data[i], "id"), "chatcmpl-msg_01TOOL") != 0)
            all_same = 0;
    }
    ok(all_same, "all chunks share id chatcmpl-msg_01TOOL");
    ok(prov_fixture_json_eq(args.p, "{\"city\": \"Paris\"}"),
       "joined arguments parse as the input");
    is_int(f.ctx.usage.prompt_tokens, 310, "prompt tokens 310");
    is_int(f.ctx.usage.completion_tokens, 54, "completion tokens 54, not 56");
    ok(f.ctx.usage.has_usage, "has_usage after message_delta");
    prov_fixture_free(&f);
}

static void test_vector_stream_error(void)
{
    struct prov_fixture f;
    struct prov_fixture_events got = {.n = 0};
    const char *shown;

    note("vector: mid-stream error");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, "{\"stream\":true}");
    is_int(
        prov_fixture_feed_sse(&f, prov_fixture_data_file(f.a, "claude", "stream-error.sse", NULL)),
        -1, "error event returns -1");
    is_int(f.n_fed, 4, "failed at the fourth event");
    ok(!f.ctx.usage.has_usage, "no final usage: the core counts the text instead");
    is_int(f.ctx.usage.prompt_tokens, 12, "though input tokens are recorded");
    is_str(f.err.message, "Overloaded", "message");
    is_str(f.err.type, "overloaded_error", "type");
    ok(f.err.status >= 500, "a server-side status (%d)", f.err.status);
    ok((prov_fixture_split_sse(f.a, f.out.p, &got) >= 0) && got.n == 2,
       "deltas before the error were emitted");
    ok(!f.ctx.finished, "not marked finished");
    /* What the core then sends: data: {"error":{...}}. */
    shown = render_error(f.a, &f.err);
    is_str(frame_str(f.a, shown, "error.message"), "Overloaded", "rendered error message");
    is_str(frame_str(f.a, shown, "error.type"), "overloaded_error", "rendered error type");
    prov_fixture_free(&f);
}

/* --- request conversion --- */

static void test_system(void)
{
    struct arena *a = arena_new(4096);

    note("system messages");
    is_str(build_get(a,
                     "{\"messages\":[{\"role\":\"system\",\"content\":\"A\"},"
                     "{\"role\":\"user\",\"content\":\"hi\"},"
                     "{\"role\":\"developer\",\"content\":\"B\"},"
                     "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"C\"},"
                     "{\"type\":\"text\",\"text\":\"D\"}]}]}",
                     "system"),
           "\"A\\nB\\nC\\nD\"", "every system and developer text joined");
    is_str(build_get(
               a,
               "{\"messages\":[{\"role\":\"system\",\"content\":\"A\"},"
               "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"system\",\"content\":\"B\"}]}",
               "messages"),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]",
           "no system role left in messages");
    is_str(build_get(a, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "system"),
           "<absent>", "no system member without system messages");
    is_str(build_get(a, "{\"messages\":[{\"role\":\"system\",\"content\":\"only\"}]}", "messages"),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"...\"}]}]",
           "system-only conversation gets a placeholder user turn");
    arena_free(a);
}

static void test_images(void)
{
    struct arena *a = arena_new(4096);
    struct prov_fixture f;
    struct json_object *body;
    const char *pre = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                      "\"What is this?\"},{\"type\":\"image_url\",\"image_url\":";

    note("images");
    ok(prov_fixture_json_eq(
           build_get(a,
                     arena_printf(a,
                                  "%s{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
                                  "\"detail\":\"low\"}}]}]}",
                                  pre),
                     "messages.0.content.1"),
           "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
           "\"data\":\"iVBORw0KGgo=\"}}"),
       "data URL -> base64 source with its media type");
    ok(prov_fixture_json_eq(
           build_get(a,
                     arena_printf(a, "%s\"data:image/webp;name=x.webp;base64,UklGRg==\"}]}]}", pre),
                     "messages.0.content.1.source"),
           "{\"type\":\"base64\",\"media_type\":\"image/webp\",\"data\":\"UklGRg==\"}"),
       "string image_url and data URL parameters");
    ok(prov_fixture_json_eq(
           build_get(a, arena_printf(a, "%s{\"url\":\"https://example.com/cat.jpg\"}}]}]}", pre),
                     "messages.0.content.1"),
           "{\"type\":\"image\",\"source\":{\"type\":\"url\","
           "\"url\":\"https://example.com/cat.jpg\"}}"),
       "https URL -> url source");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL,
                      arena_printf(a, "%s{\"url\":\"https://example.com/c.jpg\"}}]}]}", pre));
    f.ctx.is_stream = 0;
    f.ctx.include_usage = 0;
    body = build(&f);
    ok(body && strstr(f.rq.body, "\"https://example.com/c.jpg\""), "slashes in URLs not escaped");
    json_object_put(body);
    prov_fixture_free(&f);
    ok(!strncmp(build_get(a, arena_printf(a, "%s{\"url\":\"data:image/png,AAAA\"}}]}]}", pre), "x"),
                "<error 400", 10),
       "non-base64 data URL -> 400");
    ok(!strncmp(build_get(a, arena_printf(a, "%s{\"url\":\"ftp://x/y.png\"}}]}]}", pre), "x"),
                "<error 400", 10),
       "ftp URL -> 400");
    ok(!strncmp(build_get(a, arena_printf(a, "%s{}}]}]}", pre), "x"), "<error 400", 10),
       "image_url without url -> 400");
    arena_free(a);
}

static void test_tools_request(void)
{
    struct arena *a = arena_new(4096);
    const char *tools =
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"description\":\"Current weather\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"$ref\":\"#/$defs/city\"}},\"required\":[\"city\"],"
        "\"additionalProperties\":false,\"$defs\":{\"city\":{\"type\":\"string\"}}}}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"now\"}}]";
    const char *msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]";

    note("tools in requests");
    ok(prov_fixture_json_eq(
           build_get(a, arena_printf(a, "{%s,%s}", msgs, tools), "tools"),
           "[{\"name\":\"get_weather\",\"description\":\"Current weather\","
           "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":"
           "{\"$ref\":\"#/$defs/city\"}},\"required\":[\"city\"],"
           "\"additionalProperties\":false,\"$defs\":{\"city\":{\"type\":\"string\"}}}},"
           "{\"name\":\"now\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]"),
       "tools keep the whole schema; no parameters -> empty object schema");
    is_str(build_get(a, arena_printf(a, "{%s,%s}", msgs, tools), "tool_choice"),
           "{\"type\":\"auto\"}", "tool_choice defaults to auto");
    is_str(build_get(a, arena_printf(a, "{%s,%s,\"tool_choice\":\"required\"}", msgs, tools),
                     "tool_choice"),
           "{\"type\":\"any\"}", "required -> any");
    is_str(build_get(a, arena_printf(a, "{%s,%s,\"tool_choice\":\"none\"}", msgs, tools),
                     "tool_choice"),
           "{\"type\":\"none\"}", "none -> none");
    is_str(build_get(a,
                     arena_printf(a,
                                  "{%s,%s,\"tool_choice\":{\"type\":\"function\",\"function\":"
                                  "{\"name\":\"now\"}}}",
                                  msgs, tools),
                     "tool_choice"),
           "{\"type\":\"tool\",\"name\":\"now\"}", "named function -> tool");
    is_str(build_get(a, arena_printf(a, "{%s,%s,\"parallel_tool_calls\":false}", msgs, tools),
                     "tool_choice"),
           "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}",
           "parallel_tool_calls false -> disable_parallel_tool_use");
    ok(!strncmp(
           build_get(a, arena_printf(a, "{%s,%s,\"tool_choice\":\"sometimes\"}", msgs, tools), "x"),
           "<error 400", 10),
       "unknown tool_choice -> 400");
    is_str(build_get(a, arena_printf(a, "{%s,\"tool_choice\":\"auto\"}", msgs), "tool_choice"),
           "<absent>", "no tool_choice without tools");
    ok(prov_fixture_json_eq(
           build_get(a,
                     arena_printf(a,
                                  "{%s,\"functions\":[{\"name\":\"f\",\"parameters\":"
                                  "{\"type\":\"object\"}}],\"function_call\":"
                                  "{\"name\":\"f\"}}",
                                  msgs),
                     "tools"),
           "[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}]"),
       "legacy functions -> tools");
    is_str(build_get(a,
                     arena_printf(a,
                                  "{%s,\"functions\":[{\"name\":\"f\"}],\"function_call\":"
                                  "{\"name\":\"f\"}}",
                                  msgs),
                     "tool_choice"),
           "{\"type\":\"tool\",\"name\":\"f\"}", "legacy function_call -> tool");
    is_str(
        build_get(a, arena_printf(a, "{%s,\"tools\":[{\"type\":\"web_search\"}]}", msgs), "tools"),
        "<absent>", "non-function tools are skipped");
    arena_free(a);
}

static void test_tool_turns(void)
{
    struct arena *a = arena_new(4096);
    const char *conv =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"toolu_01A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"toolu_01B\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01A\",\"content\":\"18C, cloudy\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01B\",\"content\":[{\"type\":\"text\","
        "\"text\":\"25C, sunny\"}]},"
        "{\"role\":\"user\",\"content\":\"Which is warmer?\"}]}";

    note("assistant tool calls and tool results");
    ok(prov_fixture_json_eq(
           build_get(a, conv, "messages"),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"Weather in Paris and Rome?\"}]},"
           "{\"role\":\"assistant\",\"content\":["
           "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\","
           "\"input\":{\"city\":\"Paris\"}},"
           "{\"type\":\"tool_use\",\"id\":\"toolu_01B\",\"name\":\"get_weather\","
           "\"input\":{\"city\":\"Rome\"}}]},"
           "{\"role\":\"user\",\"content\":["
           "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01A\",\"content\":\"18C, cloudy\"},"
           "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01B\",\"content\":"
           "[{\"type\":\"text\",\"text\":\"25C, sunny\"}]},"
           "{\"type\":\"text\",\"text\":\"Which is warmer?\"}]}]"),
       "content:null keeps tool calls; results and the next user text form one user turn");
    ok(prov_fixture_json_eq(
           build_get(
               a,
               "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
               "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"t1\","
               "\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]}]}",
               "messages.1.content"),
           "[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"now\",\"input\":{}}]"),
       "empty content adds no text block; empty arguments -> {}");
    ok(prov_fixture_json_eq(
           build_get(a,
                     "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                     "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":[{\"id\":"
                     "\"t1\",\"type\":\"function\",\"function\":{\"name\":\"now\","
                     "\"arguments\":\"{}\"}}]}]}",
                     "messages.1.content"),
           "[{\"type\":\"text\",\"text\":\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"t1\","
           "\"name\":\"now\",\"input\":{}}]"),
       "text block first, then tool_use");
    ok(!strncmp(build_get(a,
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                          "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"function\":"
                          "{\"name\":\"now\",\"arguments\":\"{bad\"}}]}]}",
                          "x"),
                "<error 400", 10),
       "unparsable arguments -> 400");
    ok(!strncmp(build_get(a,
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                          "{\"role\":\"tool\",\"content\":\"r\"}]}",
                          "x"),
                "<error 400", 10),
       "tool message without tool_call_id -> 400");
    ok(prov_fixture_json_eq(
           build_get(a,
                     "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                     "{\"role\":\"assistant\",\"content\":null,\"function_call\":{\"name\":\"f\","
                     "\"arguments\":\"{\\\"a\\\":1}\"}},"
                     "{\"role\":\"function\",\"name\":\"f\",\"content\":\"done\"}]}",
                     "messages"),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},"
           "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_fc_1\","
           "\"name\":\"f\",\"input\":{\"a\":1}}]},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
           "\"tool_use_id\":\"toolu_fc_1\",\"content\":\"done\"}]}]"),
       "legacy function_call and function result pair up");
    arena_free(a);
}

static void test_alternation(void)
{
    struct arena *a = arena_new(4096);

    note("role alternation");
    ok(prov_fixture_json_eq(
           build_get(a,
                     "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"b\"}]},"
                     "{\"role\":\"assistant\",\"content\":\"c\"},"
                     "{\"role\":\"assistant\",\"content\":\"d\"},"
                     "{\"role\":\"user\",\"content\":\"e\"}]}",
                     "messages"),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
           "{\"type\":\"text\",\"text\":\"b\"}]},"
           "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"c\"},"
           "{\"type\":\"text\",\"text\":\"d\"}]},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"e\"}]}]"),
       "consecutive same-role messages merge");
    ok(prov_fixture_json_eq(
           build_get(a,
                     "{\"messages\":[{\"role\":\"assistant\",\"content\":\"Hi, I am Claude.\"},"
                     "{\"role\":\"user\",\"content\":\"hello\"}]}",
                     "messages"),
           "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"...\"}]},"
           "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
           "\"text\":\"Hi, I am Claude.\"}]},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"}]}]"),
       "a conversation opening with assistant gets a placeholder user turn");
    ok(prov_fixture_json_eq(build_get(a,
                                      "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                                      "{\"role\":\"assistant\",\"content\":\" \"},"
                                      "{\"role\":\"user\",\"content\":\"b\"}]}",
                                      "messages"),
                            "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                            "{\"type\":\"text\",\"text\":\"b\"}]}]"),
       "a blank turn is dropped and its neighbours merge");
    ok(!strncmp(build_get(a, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}", "x"),
                "<error 400", 10),
       "unknown role -> 400");
    ok(!strncmp(build_get(a, "{\"messages\":{}}", "x"), "<error 400", 10),
       "messages not an array -> 400");
    ok(!strncmp(build_get(a, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "x"),
                "<error 400", 10),
       "numeric content -> 400");
    arena_free(a);
}

static void test_params(void)
{
    struct arena *a = arena_new(4096);
    const char *m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";

    note("sampling, limits and stop sequences");
    is_str(build_get(a, arena_printf(a, "{%s,\"stop\":\"END\"}", m), "stop_sequences"), "[\"END\"]",
           "stop string -> one-element array");
    is_str(build_get(a, arena_printf(a, "{%s,\"stop\":[\"a\",\"\",\"b\"]}", m), "stop_sequences"),
           "[\"a\",\"b\"]", "stop array -> stop_sequences (empty strings dropped)");
    is_str(build_get(a, arena_printf(a, "{%s,\"stop\":null}", m), "stop_sequences"), "<absent>",
           "no stop -> no stop_sequences");
    is_str(build_get(a, arena_printf(a, "{%s}", m), "max_tokens"), "4096",
           "max_tokens defaults to 4096");
    is_str(build_get(a, arena_printf(a, "{%s,\"max_tokens\":10,\"max_completion_tokens\":20}", m),
                     "max_tokens"),
           "20", "max_completion_tokens wins");
    is_str(build_get(a, arena_printf(a, "{%s,\"temperature\":1.7}", m), "temperature"), "1.0",
           "temperature clamped to Anthropic's 1");
    is_str(build_get(a, arena_printf(a, "{%s,\"temperature\":0}", m), "temperature"), "0",
           "temperature 0 kept");
    is_str(build_get(a, arena_printf(a, "{%s,\"top_p\":0.9,\"top_k\":40}", m), "top_p"), "0.9",
           "top_p copied");
    is_str(build_get(a, arena_printf(a, "{%s,\"top_p\":0.9,\"top_k\":40}", m), "top_k"), "40",
           "top_k copied");
    is_str(build_get(a, arena_printf(a, "{%s,\"user\":\"u-42\"}", m), "metadata"),
           "{\"user_id\":\"u-42\"}", "user -> metadata.user_id");
    is_str(build_get(a, arena_printf(a, "{%s,\"stream\":false}", m), "stream"), "<absent>",
           "stream omitted when not streaming");
    is_str(build_get(a, arena_printf(a, "{%s,\"seed\":1,\"logprobs\":true}", m), "seed"),
           "<absent>", "fields without an Anthropic equivalent are dropped");
    ok(!strncmp(build_get(a, arena_printf(a, "{%s,\"n\":2}", m), "x"), "<error 400", 10),
       "n > 1 -> 400");
    is_str(build_get(
               a, "{\"model\":\"claude-2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
               "model"),
           "\"claude-2.1\"", "legacy claude-2 alias");
    arena_free(a);
}

static void test_stream_request_and_modes(void)
{
    struct prov_fixture f;
    struct json_object *body, *v = NULL;
    int has_accept = 0;

    note("streaming request, other modes, channel edge cases");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    f.ctx.include_usage = 1;
    body = build(&f);
    ok(body && json_object_object_get_ex(body, "stream", &v) && json_object_get_boolean(v),
       "stream: true sent");
    ok(!json_object_object_get_ex(body, "stream_options", &v), "stream_options not forwarded");
    for (int i = 0; i < f.rq.n_headers; i++)
        has_accept |= !strcmp(f.rq.headers[i], "Accept: text/event-stream");
    ok(has_accept, "Accept: text/event-stream when streaming");
    json_object_put(body);
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(build(&f) == NULL, "embeddings refused");
    is_int(f.err.status, 400, "with 400");
    ok(f.err.message && strstr(f.err.message, "not supported by this channel"),
       "and a clear message");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    f.ch.base_url = "";
    body = build(&f);
    is_str(f.rq.url, "https://api.anthropic.com/v1/messages", "empty base URL -> default");
    json_object_put(body);
    f.ch.base_url = "http://mock:8080";
    body = build(&f);
    is_str(f.rq.url, "http://mock:8080/v1/messages", "channel base URL used");
    json_object_put(body);
    f.ch.key = "sk\r\nX-Evil: 1";
    ok(build(&f) == NULL && f.err.status == 500, "key with a line break refused");
    prov_fixture_free(&f);
}

/* --- responses --- */

/* parse_response on body; returns the answer's member at path as frame_str does. */
static const char *response_get(struct arena *a, const char *body, const char *path, int64_t *pt,
                                int64_t *ct)
{
    struct prov_fixture f;
    const char *res;

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, "{\"model\":\"claude-x\"}");
    if (prov_fixture_answer(&f, body) != 0)
        res = arena_printf(a, "<error %d>", f.err.status);
    else
        res = frame_str(a, f.out.p, path);
    if (pt)
        *pt = f.ctx.usage.prompt_tokens;
    if (ct)
        *ct = f.ctx.usage.completion_tokens;
    prov_fixture_free(&f);
    return res;
}

static void test_tools_response(void)
{
    struct arena *a = arena_new(4096);
    const char *body =
        "{\"id\":\"msg_T\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Need weather.\",\"signature\":\"s\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"get_weather\","
        "\"input\":{\"city\":\"Paris\",\"units\":[\"c\"]}}],"
        "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
        "\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":50}}";
    const char *args;
    int64_t pt, ct;

    note("tool_use in non-stream answers");
    is_str(response_get(a, body, "choices.0.finish_reason", &pt, &ct), "tool_calls",
           "tool_use -> tool_calls");
    is_str(response_get(a, body, "choices.0.message.content", NULL, NULL), "null",
           "content null when there is no text");
    is_str(response_get(a, body, "choices.0.message.reasoning_content", NULL, NULL),
           "Need weather.", "thinking -> reasoning_content");
    is_str(response_get(a, body, "choices.0.message.tool_calls.0.id", NULL, NULL), "toolu_01A",
           "tool call id");
    is_str(response_get(a, body, "choices.0.message.tool_calls.0.type", NULL, NULL), "function",
           "tool call type");
    is_str(response_get(a, body, "choices.0.message.tool_calls.0.function.name", NULL, NULL),
           "get_weather", "tool call name");
    args = response_get(a, body, "choices.0.message.tool_calls.0.function.arguments", NULL, NULL);
    ok(prov_fixture_json_eq(args, "{\"city\":\"Paris\",\"units\":[\"c\"]}"),
       "arguments is a JSON string of the input");
    is_int(pt, 155, "prompt tokens include cache creation and reads");
    is_int(ct, 20, "completion tokens");
    is_str(response_get(a, body, "usage.prompt_tokens_details.cached_tokens", NULL, NULL), "50",
           "cache reads -> cached_tokens");
    is_str(response_get(a, body, "usage.total_tokens", NULL, NULL), "175", "total tokens");
    is_str(response_get(a,
                        "{\"id\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"A\"},"
                        "{\"type\":\"text\",\"text\":\"B\"}],\"stop_reason\":\"end_turn\"}",
                        "choices.0.message.content", NULL, NULL),
           "AB", "all text blocks joined");
    is_str(response_get(a, "{\"id\":\"m\",\"content\":[],\"stop_reason\":\"end_turn\"}", "usage",
                        &pt, NULL),
           "<absent>", "no usage member when the upstream gave none");
    arena_free(a);
}

/* One stop_reason through parse_response and parse_event: both must give want. */
static void check_finish(struct arena *a, const char *from, const char *want)
{
    struct prov_fixture f;
    struct prov_fixture_events fr = {.n = 0};
    const char *body =
        arena_printf(a, "{\"id\":\"m\",\"content\":[],\"stop_reason\":\"%s\"}", from);
    const char *ev = arena_printf(a,
                                  "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                                  "\"%s\"},\"usage\":{\"output_tokens\":3}}",
                                  from);

    is_str(response_get(a, body, "choices.0.finish_reason", NULL, NULL), want,
           "%s -> %s (response)", from, want);
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
    f.ctx.is_stream = 1;
    prov_fixture_feed(&f, "message_delta", ev);
    ok((prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0) && fr.n == 1 &&
           !strcmp(frame_str(f.a, fr.data[0], "choices.0.finish_reason"), want),
       "%s -> %s (stream)", from, want);
    prov_fixture_free(&f);
}

static void test_finish_reasons(void)
{
    /* Each OpenAI finish_reason with the Anthropic stop_reasons that map to it; a reason newer
     * than the adaptor is "stop". */
    static const struct {
        const char *want;
        const char *from[5];
    } groups[] = {
        {"stop", {"end_turn", "stop_sequence", "pause_turn", "something_new"}},
        {"length", {"max_tokens", "model_context_window_exceeded"}},
        {"tool_calls", {"tool_use"}},
        {"content_filter", {"refusal"}},
    };
    struct arena *a = arena_new(4096);

    note("finish_reason mapping, non-stream and stream");
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        for (size_t k = 0; groups[i].from[k]; k++)
            check_finish(a, groups[i].from[k], groups[i].want);
    is_str(response_get(a, "{\"id\":\"m\",\"content\":[],\"stop_reason\":null}",
                        "choices.0.finish_reason", NULL, NULL),
           "stop", "null -> stop");
    arena_free(a);
}

/* --- streams --- */

/* Runs stream-text.sse with include_usage; checks order and the usage chunk. */
static void run_text_stream(int include_usage)
{
    struct prov_fixture f;
    struct prov_fixture_events fr = {.n = 0};
    int usage_frames = 0;

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL,
                      "{\"model\":\"claude-3-5-haiku-20241022\",\"stream\":true}");
    f.ctx.include_usage = include_usage;
    is_int(
        prov_fixture_feed_sse(&f, prov_fixture_data_file(f.a, "claude", "stream-text.sse", NULL)),
        0, "text stream accepted (include_usage %d)", include_usage);
    ok((prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0), "output is data: frames");
    is_int(fr.n, 4 + include_usage, "frame count");
    if (fr.n >= 4) {
        is_str(frame_str(f.a, fr.data[0], "choices.0.delta.role"), "assistant", "role first");
        is_str(frame_str(f.a, fr.data[0], "choices.0.delta.content"), "", "with empty content");
        is_str(frame_str(f.a, fr.data[0], "choices.0.finish_reason"), "null", "finish null");
        is_str(frame_str(f.a, fr.data[1], "choices.0.delta.content"), "Hello", "first delta");
        is_str(frame_str(f.a, fr.data[1], "choices.0.delta.role"), "<absent>",
               "no role after the first chunk");
        is_str(frame_str(f.a, fr.data[2], "choices.0.delta.content"), " world", "second delta");
        is_str(frame_str(f.a, fr.data[3], "choices.0.delta"), "{}", "finish chunk has empty delta");
        is_str(frame_str(f.a, fr.data[3], "choices.0.finish_reason"), "stop", "end_turn -> stop");
        is_str(frame_str(f.a, fr.data[3], "object"), "chat.completion.chunk", "object");
        is_str(frame_str(f.a, fr.data[3], "created"), "1730000000", "created from ctx");
        is_str(frame_str(f.a, fr.data[3], "model"), "claude-3-5-haiku-20241022", "model");
        is_str(frame_str(f.a, fr.data[3], "id"), "chatcmpl-msg_01S", "id from message_start");
    }
    for (int i = 0; i < fr.n; i++)
        usage_frames += strcmp(frame_str(f.a, fr.data[i], "usage"), "<absent>") != 0;
    is_int(usage_frames, include_usage, "usage chunks");
    if (include_usage && fr.n == 5) {
        ok(prov_fixture_json_eq(
               frame_str(f.a, fr.data[4], "usage"),
               "{\"prompt_tokens\":25,\"completion_tokens\":4,\"total_tokens\":29}"),
           "usage only in the final chunk");
        is_str(frame_str(f.a, fr.data[4], "choices"), "[]", "with empty choices");
    }
    is_str(f.ctx.text.p, "Hello world", "ctx->text gathers the deltas");
    is_int(f.ctx.usage.completion_tokens, 4, "output tokens replaced, not summed");
    ok(f.ctx.finished, "finished");
    prov_fixture_free(&f);
}

static void test_stream_edges(void)
{
    static const char *const evs[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_E\",\"model\":\"claude-x\","
        "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":90,\"output_tokens\":1}}}",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\","
        "\"thinking\":\"\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
        "\"thinking\":\"Hmm.\"}}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\","
        "\"signature\":\"abc\"}}",
        "{\"type\":\"content_block_stop\",\"index\":0}",
        "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_X\",\"name\":\"now\",\"input\":{}}}",
        "{\"type\":\"content_block_stop\",\"index\":1}",
        "{\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_Y\",\"name\":\"get_weather\",\"input\":{}}}",
        "{\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{}\"}}",
        "{\"type\":\"content_block_stop\",\"index\":2}",
        "{\"type\":\"some_future_event\"}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
        "\"usage\":{\"output_tokens\":30}}",
        "{\"type\":\"message_stop\"}",
    };
    struct prov_fixture f;
    struct prov_fixture_events fr = {.n = 0};
    int rc = 0;

    note("thinking, argument-less tools, parallel tool indexes, cache usage");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
    f.ctx.is_stream = 1;
    f.ctx.include_usage = 1;
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        rc |= prov_fixture_feed(&f, "", evs[i]);
    is_int(rc, 0, "all events accepted");
    ok((prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0), "output is data: frames");
    is_int(fr.n, 8, "eight frames");
    if (fr.n == 8) {
        is_str(frame_str(f.a, fr.data[1], "choices.0.delta.reasoning_content"), "Hmm.",
               "thinking_delta -> reasoning_content");
        is_str(frame_str(f.a, fr.data[2], "choices.0.delta.tool_calls.0.index"), "0",
               "first tool 0");
        is_str(frame_str(f.a, fr.data[3], "choices.0.delta.tool_calls.0.function.arguments"), "{}",
               "argument-less tool gets {} at block stop");
        is_str(frame_str(f.a, fr.data[4], "choices.0.delta.tool_calls.0.index"), "1",
               "second tool index 1 (block index 2)");
        is_str(frame_str(f.a, fr.data[4], "choices.0.delta.tool_calls.0.id"), "toolu_Y", "its id");
        is_str(frame_str(f.a, fr.data[5], "choices.0.delta.tool_calls.0.function.arguments"), "{}",
               "its own arguments, not doubled");
        is_str(frame_str(f.a, fr.data[5], "choices.0.delta.tool_calls.0.id"), "<absent>",
               "no id on argument fragments");
        is_str(frame_str(f.a, fr.data[6], "choices.0.finish_reason"), "tool_calls", "finish");
        ok(prov_fixture_json_eq(
               frame_str(f.a, fr.data[7], "usage"),
               "{\"prompt_tokens\":100,\"completion_tokens\":30,\"total_tokens\":130,"
               "\"prompt_tokens_details\":{\"cached_tokens\":90}}"),
           "usage with cache reads");
        is_str(frame_str(f.a, fr.data[0], "model"), "claude-3-5-haiku-20241022",
               "chunks name the client's model");
    }
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
    f.ctx.is_stream = 1;
    rc = prov_fixture_feed(&f, "message_stop", "{\"type\":\"message_stop\"}");
    ok(rc == 0 && (prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0) && fr.n == 1 &&
           !strcmp(frame_str(f.a, fr.data[0], "choices.0.finish_reason"), "stop"),
       "message_stop without message_delta still finishes with stop");
    is_str(frame_str(f.a, fr.data[0], "id"), "chatcmpl-req123", "fallback id from request_id");
    ok(f.ctx.finished, "finished");
    prov_fixture_free(&f);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "{\"type\":\"message_start\",",
        "not json",
        "[1,2,3]",
        "\"message_start\"",
        "{\"type\":\"content_block_delta\"} trailing",
    };
    struct prov_fixture f;
    const char *body;
    int rc;

    note("malformed upstream JSON");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
        f.ctx.is_stream = 1;
        rc = prov_fixture_feed(&f, "message_start", bad[i]);
        ok(rc == -1 && f.err.status == 500 && f.err.message, "event %zu rejected", i);
        /* Straight to the adaptor, not prov_fixture_answer: out must still be empty from the
         * event above. */
        memset(&f.err, 0, sizeof f.err);
        rc = provider_claude.parse_response(&f.ctx, bad[i], strlen(bad[i]), &f.out, &f.err);
        ok(rc == -1 && f.err.status == 500 && f.err.message && f.err.code, "response %zu rejected",
           i);
        is_int(f.out.len, 0, "nothing written for %zu", i);
        prov_fixture_free(&f);
    }
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
    f.ctx.is_stream = 1;
    ok(prov_fixture_feed(&f, "", "") == 0 && f.out.len == 0, "empty data ignored");
    /* Data that is not NUL-terminated at n: the adaptor must read only n bytes. */
    rc = provider_claude.parse_event(&f.ctx, "ping", "{\"type\":\"ping\"}GARBAGE", 15, &f.out,
                                     &f.err);
    ok(rc == 0 && f.out.len == 0, "only n bytes read; ping emits nothing");
    body = "{\"type\":\"content_block_delta\",\"index\":99999999,"
           "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"x\"}}";
    rc = prov_fixture_feed(&f, "content_block_delta", body);
    ok(rc == 0 && f.out.len == 0, "absurd block index ignored");
    body = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}";
    rc = prov_fixture_answer(&f, body);
    ok(rc == -1 && f.err.status == 500 && !strcmp(f.err.message, "boom"),
       "error object in a 2xx body -> its message");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *body;

    note("error bodies");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, NULL);
    prov_fixture_error(&f, 503, "<html>Service Unavailable</html>");
    ok(prov_fixture_json_eq(
           render_error(f.a, &f.err),
           "{\"error\":{\"message\":\"bad response status code 503\",\"type\":"
           "\"upstream_error\",\"param\":\"503\",\"code\":\"bad_response_status_code\"}}"),
       "non-JSON body -> generic error");
    is_int(f.err.status, 503, "status kept");
    body =
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    prov_fixture_error(&f, 529, body);
    is_int(f.err.status, 529, "529 kept");
    is_str(f.err.code, "overloaded_error", "code is the Anthropic type");
    ok(f.err.param == NULL, "param null");
    body = "{\"message\":\"gateway says no\"}";
    prov_fixture_error(&f, 502, body);
    is_str(f.err.message, "gateway says no", "top-level message used");
    is_str(f.err.type, "upstream_error", "with upstream_error");
    prov_fixture_error(&f, 500, "{\"error\":{}}");
    is_str(f.err.message, "bad response status code 500", "JSON without a message -> generic");
    prov_fixture_error(&f, 404, "");
    is_str(f.err.code, "bad_response_status_code", "empty body -> generic");
    prov_fixture_free(&f);
}

/* The client's anthropic-version and anthropic-beta headers reach Anthropic; without them the
 * default version goes and no beta. */
static void test_client_headers(void)
{
    static const char *const req = "{\"model\":\"claude-3-5-sonnet-20241022\","
                                   "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    struct prov_fixture f;
    struct json_object *body;
    const char *ver = NULL, *beta = NULL;

    note("client headers");
    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, req);
    f.ctx.is_stream = 0;
    f.ctx.include_usage = 0;
    f.ctx.anthropic_version = "2024-10-22";
    f.ctx.anthropic_beta = "prompt-caching-2024-07-31,pdfs-2024-09-25";
    body = build(&f);
    ok(body != NULL, "build_request succeeds with client headers");
    for (int i = 0; i < f.rq.n_headers; i++) {
        if (!strncasecmp(f.rq.headers[i], "anthropic-version: ", 19))
            ver = f.rq.headers[i] + 19;
        if (!strncasecmp(f.rq.headers[i], "anthropic-beta: ", 16))
            beta = f.rq.headers[i] + 16;
    }
    is_str(ver, "2024-10-22", "the client's anthropic-version is sent");
    is_str(beta, "prompt-caching-2024-07-31,pdfs-2024-09-25",
           "the client's anthropic-beta is sent");
    json_object_put(body);
    prov_fixture_free(&f);

    prov_fixture_init(&f, &CLAUDE, RELAY_CHAT, NULL, req);
    f.ctx.is_stream = 0;
    f.ctx.include_usage = 0;
    f.ctx.anthropic_version = "";
    f.ctx.anthropic_beta = "bad\r\nx-evil: 1";
    body = build(&f);
    ver = beta = NULL;
    for (int i = 0; i < f.rq.n_headers; i++) {
        if (!strncasecmp(f.rq.headers[i], "anthropic-version: ", 19))
            ver = f.rq.headers[i] + 19;
        if (!strncasecmp(f.rq.headers[i], "anthropic-beta: ", 16))
            beta = f.rq.headers[i] + 16;
    }
    is_str(ver, "2023-06-01", "an empty client version gives the default");
    ok(beta == NULL, "a header value with a line break is not sent");
    json_object_put(body);
    prov_fixture_free(&f);
}

int main(void)
{
    struct arena *a = arena_new(4096);
    int has_data = prov_fixture_data_file(a, "claude", "basic.request.json", NULL) != NULL;

    arena_free(a);
    if (!has_data) {
        /* Every vector test needs the files; run from the tree or set top_srcdir. */
        printf("Bail out! no vector files under %s/tests/data/claude\n", prov_fixture_top_dir());
        return 1;
    }
    ok(!strcmp(provider_claude.name, "anthropic"), "provider name");
    ok(provider_claude.build_request && provider_claude.parse_response &&
           provider_claude.parse_event && provider_claude.parse_error,
       "all four ops set");
    test_vector_request();
    test_client_headers();
    test_vector_response();
    test_vector_error();
    test_vector_stream();
    test_vector_stream_error();
    test_system();
    test_images();
    test_tools_request();
    test_tool_turns();
    test_alternation();
    test_params();
    test_stream_request_and_modes();
    test_tools_response();
    test_finish_reasons();
    note("text stream without and with include_usage");
    run_text_stream(0);
    run_text_stream(1);
    test_stream_edges();
    test_malformed();
    test_errors();
    return done_testing();
}
