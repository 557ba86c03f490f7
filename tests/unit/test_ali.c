/* Checks providers/ali.c: DashScope's chat, embeddings and image-task requests, the answers,
 * event streams and errors turned into OpenAI's shapes, and the task polling follow-ups. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/ali.h"
#include "tap.h"

static const struct provider *const P = &provider_ali;

#define BASE "https://dashscope.aliyuncs.com"

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

static void fix_init(struct fix *f, enum relay_mode mode, const char *model, const char *req_json)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(4096);
    f->ch = (struct prov_channel){7, 17, "sk-test123", BASE, 1, "", "{}", NULL};
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = mode;
    f->ctx.ch = &f->ch;
    f->ctx.model = model;
    f->ctx.origin_model = model;
    f->ctx.req = f->req;
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

/* The text equals want as JSON (key order aside). */
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

/* The JSON of one chunk "data: {...}\n\n" at index i of out, with "created" removed. */
static json_object *chunk_at(const struct strbuf *out, int i)
{
    const char *p = out->p;
    for (int k = 0; p && k < i; k++) {
        p = strstr(p, "\n\n");
        if (p)
            p += 2;
    }
    if (!p || strncmp(p, "data: ", 6))
        return NULL;
    const char *end = strstr(p, "\n\n");
    struct json_tokener *tok = json_tokener_new();
    json_object *o =
        json_tokener_parse_ex(tok, p + 6, (int)(end ? (size_t)(end - p - 6) : strlen(p + 6)));
    json_tokener_free(tok);
    return o;
}

static int n_chunks(const struct strbuf *out)
{
    int n = 0;
    for (const char *p = out->p; p && (p = strstr(p, "data: ")) != NULL; p += 6)
        n++;
    return n;
}

static const char *header(const struct prov_request *r, const char *prefix)
{
    for (int i = 0; i < r->n_headers; i++)
        if (!strncmp(r->headers[i], prefix, strlen(prefix)))
            return r->headers[i];
    return NULL;
}

static int answer(struct fix *f, const char *body)
{
    sb_reset(&f->out);
    f->ctx.follow_up = NULL;
    memset(&f->err, 0, sizeof f->err);
    return P->parse_response(&f->ctx, body, strlen(body), &f->out, &f->err);
}

static int event(struct fix *f, const char *name, const char *data)
{
    memset(&f->err, 0, sizeof f->err);
    return P->parse_event(&f->ctx, name, data, data ? strlen(data) : 0, &f->out, &f->err);
}

/* A1: the stream request, with top_p clamped and the SSE headers. */
static void test_chat_request_stream(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"model\":\"qwen-plus\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],"
             "\"stream\":true,\"top_p\":1}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), 0, "A1: builds");
    is_str(f.r.url, BASE "/api/v1/services/aigc/text-generation/generation",
           "A1: the text-generation endpoint");
    is_str(header(&f.r, "Authorization:"), "Authorization: Bearer sk-test123", "A1: Bearer key");
    is_str(header(&f.r, "Accept:"), "Accept: text/event-stream", "A1: Accept SSE");
    is_str(header(&f.r, "X-DashScope-SSE:"), "X-DashScope-SSE: enable", "A1: X-DashScope-SSE");
    is_str(header(&f.r, "Content-Type:"), "Content-Type: application/json", "A1: JSON body");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"model\":\"qwen-plus\",\"input\":{\"messages\":[{\"content\":\"你好\",\"role\":"
                 "\"user\"}]},\"parameters\":{\"top_p\":0.9999,\"incremental_output\":true,"
                 "\"result_format\":\"message\"}}"),
       "A1: the native body, top_p clamped to 0.9999");
    ok(strstr(f.r.body, "\"top_p\":0.9999,") != NULL, "A1: top_p written as 0.9999");
    fix_free(&f);
}

/* The non-stream request: no SSE headers, parameters passed through, -internet, roles. */
static void test_chat_request_plain(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, "qwen-max-internet",
             "{\"messages\":[{\"role\":\"SYSTEM\",\"content\":\"Be brief.\"},"
             "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}},"
             "{\"type\":\"text\",\"text\":\" there\"}]}],"
             "\"max_tokens\":1024,\"temperature\":0.7,\"top_p\":0.8,\"top_k\":50,\"seed\":1234,"
             "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}");
    f.ch.config = "{\"plugin\":\"{\\\"pdf_extracter\\\":{}}\"}";
    is_int(P->build_request(&f.ctx, &f.r, &f.err), 0, "plain: builds");
    ok(!header(&f.r, "X-DashScope-SSE:") && !header(&f.r, "Accept:"), "plain: no SSE headers");
    is_str(header(&f.r, "X-DashScope-Plugin:"), "X-DashScope-Plugin: {\"pdf_extracter\":{}}",
           "plain: config plugin -> X-DashScope-Plugin");
    ok(json_same(
           f.a, f.r.body, f.r.body_len,
           "{\"model\":\"qwen-max\",\"input\":{\"messages\":[{\"role\":\"system\",\"content\":"
           "\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi there\"}]},\"parameters\":{"
           "\"max_tokens\":1024,\"temperature\":0.7,\"top_p\":0.8,\"top_k\":50,\"seed\":1234,"
           "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}],"
           "\"enable_search\":true,\"result_format\":\"message\"}}"),
       "plain: -internet stripped with enable_search, roles lowered, content flattened");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, "qwen-plus", "{\"messages\":[]}");
    f.ch.key = "sk-a\r\nX-Evil: 1";
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "key: a line break is refused");
    fix_free(&f);

    fix_init(&f, RELAY_SPEECH, "qwen-plus", "{\"input\":\"x\"}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "mode: speech is refused");
    is_int(f.err.status, 400, "mode: with 400");
    fix_free(&f);
}

/* A2: the stream, three events without [DONE]. */
static void test_chat_stream(void)
{
    static const char *const ev[] = {
        "{\"output\":{\"choices\":[{\"message\":{\"content\":\"你好\",\"role\":\"assistant\"},"
        "\"finish_reason\":\"null\"}]},\"usage\":{\"total_tokens\":10,\"output_tokens\":1,"
        "\"input_tokens\":9},\"request_id\":\"0ba1c1a6-1b0b-9a5c-8f49-3b0c6d7e8f90\"}",
        "{\"output\":{\"choices\":[{\"message\":{\"content\":\"！有什么可以帮你的吗？\",\"role\":"
        "\"assistant\"},\"finish_reason\":\"null\"}]},\"usage\":{\"total_tokens\":17,"
        "\"output_tokens\":8,\"input_tokens\":9},\"request_id\":"
        "\"0ba1c1a6-1b0b-9a5c-8f49-3b0c6d7e8f90\"}",
        "{\"output\":{\"choices\":[{\"message\":{\"content\":\"\",\"role\":\"assistant\"},"
        "\"finish_reason\":\"stop\"}]},\"usage\":{\"total_tokens\":17,\"output_tokens\":8,"
        "\"input_tokens\":9},\"request_id\":\"0ba1c1a6-1b0b-9a5c-8f49-3b0c6d7e8f90\"}",
    };
    static const char *const want_content[] = {"你好", "！有什么可以帮你的吗？", ""};
    struct fix f;
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],\"stream\":true}");
    for (int i = 0; i < 3; i++)
        is_int(event(&f, "result", ev[i]), 0, "A2: event %d", i + 1);
    is_int(n_chunks(&f.out), 3, "A2: three chunks");
    for (int i = 0; i < 3; i++) {
        json_object *c = chunk_at(&f.out, i);
        json_object *ch0 = json_object_array_get_idx(json_object_object_get(c, "choices"), 0);
        json_object *fin = json_object_object_get(ch0, "finish_reason");
        is_str(json_object_get_string(json_object_object_get(c, "id")),
               "0ba1c1a6-1b0b-9a5c-8f49-3b0c6d7e8f90", "A2: chunk %d id is the request_id", i + 1);
        is_str(json_object_get_string(
                   json_object_object_get(json_object_object_get(ch0, "delta"), "content")),
               want_content[i], "A2: chunk %d content", i + 1);
        if (i < 2)
            ok(json_object_object_get_ex(ch0, "finish_reason", NULL) && fin == NULL,
               "A2: chunk %d finish_reason null", i + 1);
        else
            is_str(json_object_get_string(fin), "stop", "A2: chunk 3 finish_reason stop");
        is_str(json_object_get_string(json_object_object_get(c, "object")), "chat.completion.chunk",
               "A2: chunk %d object", i + 1);
        json_object_put(c);
    }
    ok(f.ctx.finished, "A2: the stop event finishes the stream");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 9 &&
           f.ctx.usage.completion_tokens == 8,
       "A2: recorded usage 9 + 8");
    ok(!strstr(f.out.p, "[DONE]"), "A2: the adaptor leaves [DONE] to the core");
    is_str(f.ctx.text.p, "你好！有什么可以帮你的吗？", "A2: the text for counting");
    fix_free(&f);

    /* include_usage: a usage chunk after the last one. */
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
             "\"stream_options\":{\"include_usage\":true}}");
    event(&f, "result", ev[1]);
    event(&f, "result", ev[2]);
    json_object *u = chunk_at(&f.out, 2);
    ok(json_same(f.a, json_object_to_json_string(json_object_object_get(u, "usage")),
                 strlen(json_object_to_json_string(json_object_object_get(u, "usage"))),
                 "{\"prompt_tokens\":9,\"completion_tokens\":8,\"total_tokens\":17}"),
       "include_usage: the last chunk carries the usage");
    json_object_put(u);
    fix_free(&f);

    /* Usage of an event with no output tokens does not erase a real one; length maps. */
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    event(&f, "result", ev[1]);
    event(&f, "result",
          "{\"output\":{\"choices\":[{\"message\":{\"content\":\"\",\"role\":\"assistant\"},"
          "\"finish_reason\":\"length\"}]},\"usage\":{\"output_tokens\":0,\"input_tokens\":0},"
          "\"request_id\":\"r\"}");
    ok(f.ctx.usage.prompt_tokens == 9 && f.ctx.usage.completion_tokens == 8,
       "usage: the last non-empty usage wins");
    ok(strstr(f.out.p, "\"finish_reason\":\"length\"") != NULL, "finish: length stays length");
    fix_free(&f);

    /* An event without choices says nothing; an odd finish reason maps to stop; a closed
     * stream still ends with a finish reason. */
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(event(&f, "result", "{\"output\":{},\"request_id\":\"r\"}"), 0, "no choices: ok");
    is_int((int)f.out.len, 0, "no choices: no chunk");
    event(&f, "result",
          "{\"output\":{\"choices\":[{\"message\":{\"content\":\"a\",\"role\":\"assistant\"},"
          "\"finish_reason\":\"null\"}]},\"request_id\":\"r\"}");
    sb_reset(&f.out);
    is_int(event(&f, "", NULL), 0, "closed: ok");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") && f.ctx.finished,
       "closed: the last chunk says stop");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    event(&f, "result",
          "{\"output\":{\"choices\":[{\"message\":{\"content\":\"a\",\"role\":\"assistant\"},"
          "\"finish_reason\":\"sensitive\"}]},\"request_id\":\"r\"}");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") != NULL, "finish: unknown -> stop");
    fix_free(&f);
}

/* A3: the non-stream answer. */
static void test_chat_response(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"model\":\"qwen-plus\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, "{\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"role\":"
                      "\"assistant\",\"content\":\"你好！有什么可以帮你的吗？\"}}]},\"usage\":{"
                      "\"total_tokens\":17,\"output_tokens\":8,\"input_tokens\":9},\"request_id\":"
                      "\"7f3e2a10-5c4d-9e8f-b1a2-c3d4e5f6a7b8\"}"),
           0, "A3: parses");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"id\":\"7f3e2a10-5c4d-9e8f-b1a2-c3d4e5f6a7b8\",\"object\":\"chat.completion\","
                 "\"created\":1730000000,\"model\":\"qwen-plus\",\"choices\":[{\"index\":0,"
                 "\"message\":{\"role\":\"assistant\",\"content\":\"你好！有什么可以帮你的吗？\"},"
                 "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
                 "\"completion_tokens\":8,\"total_tokens\":17}}"),
       "A3: the OpenAI chat.completion");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 9 &&
           f.ctx.usage.completion_tokens == 8,
       "A3: usage recorded");
    fix_free(&f);

    /* The older output.text shape, and tool calls. */
    fix_init(&f, RELAY_CHAT, "qwen-turbo", "{\"messages\":[]}");
    is_int(answer(&f, "{\"output\":{\"text\":\"Hi\",\"finish_reason\":\"length\"},\"usage\":{"
                      "\"output_tokens\":1,\"input_tokens\":2},\"request_id\":\"r2\"}"),
           0, "text: parses");
    ok(strstr(f.out.p, "\"content\":\"Hi\"") && strstr(f.out.p, "\"finish_reason\":\"length\""),
       "text: output.text is the message, its finish_reason kept");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, "qwen-plus", "{\"messages\":[]}");
    answer(&f, "{\"output\":{\"choices\":[{\"finish_reason\":\"tool_calls\",\"message\":{\"role\":"
               "\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_w\","
               "\"arguments\":\"{\\\"city\\\":\\\"x\\\"}\"},\"index\":0,\"id\":\"call_1\",\"type\":"
               "\"function\"}]}}]},\"request_id\":\"r3\"}");
    ok(strstr(f.out.p, "\"tool_calls\":[{") && strstr(f.out.p, "\"name\":\"get_w\"") &&
           strstr(f.out.p, "\"finish_reason\":\"tool_calls\""),
       "tools: tool_calls kept with finish tool_calls");
    fix_free(&f);

    /* A streaming client answered with plain JSON (no SSE from upstream): chunks. */
    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(answer(&f, "{\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"role\":"
                      "\"assistant\",\"content\":\"Hey\"}}]},\"request_id\":\"r4\"}"),
           0, "json to a stream: parses");
    ok(n_chunks(&f.out) == 1 && strstr(f.out.p, "\"content\":\"Hey\"") &&
           strstr(f.out.p, "\"finish_reason\":\"stop\"") && f.ctx.finished,
       "json to a stream: one finished chunk");
    fix_free(&f);
}

/* A4: errors, over HTTP and inside a stream. */
static void test_errors(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, "qwen-plus", "{\"messages\":[]}");
    const char *e401 = "{\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided.\","
                       "\"request_id\":\"a1b2c3d4-0000-1111-2222-333344445555\"}";
    P->parse_error(&f.ctx, 401, e401, strlen(e401), &f.err);
    ok(f.err.status == 401 && !strcmp(f.err.code, "InvalidApiKey") &&
           !strcmp(f.err.type, "InvalidApiKey") &&
           !strcmp(f.err.message, "Invalid API-key provided.") &&
           !strcmp(f.err.param, "a1b2c3d4-0000-1111-2222-333344445555"),
       "A4: 401 InvalidApiKey with its message, type code, param request_id");

    memset(&f.err, 0, sizeof f.err);
    const char *e429 = "{\"code\":\"Throttling.RateQuota\",\"message\":\"Requests rate limit "
                       "exceeded, please try again later.\",\"request_id\":\"x\"}";
    P->parse_error(&f.ctx, 429, e429, strlen(e429), &f.err);
    ok(f.err.status == 429 && !strcmp(f.err.code, "Throttling.RateQuota"),
       "errors: Throttling.RateQuota is a 429");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 400, e429, strlen(e429), &f.err);
    is_int(f.err.status, 429, "errors: a Throttling code is 429 whatever the HTTP status");

    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 502, "<html>", 6, &f.err);
    ok(f.err.status == 502 && !strcmp(f.err.message, "bad response status code 502"),
       "errors: no JSON: the default words");

    /* An error body with HTTP 200. */
    is_int(answer(&f, "{\"code\":\"Arrearage\",\"message\":\"Access denied, please make sure your "
                      "account is in good standing.\",\"request_id\":\"y\"}"),
           -1, "errors: an error in a 200 body fails");
    ok(f.err.status == 400 && !strcmp(f.err.code, "Arrearage"), "errors: Arrearage is a 400");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, "qwen-plus",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(event(&f, "error",
                 "{\"code\":\"InvalidParameter\",\"message\":\"Range of top_p should be (0.0, "
                 "1.0)\",\"request_id\":\"b2c3\"}"),
           -1, "A4 stream: event:error fails");
    ok(f.err.status == 400 && !strcmp(f.err.code, "InvalidParameter") &&
           !strcmp(f.err.message, "Range of top_p should be (0.0, 1.0)"),
       "A4 stream: 400 InvalidParameter with the message");
    is_int((int)f.out.len, 0, "A4 stream: no chunk, no silent success");
    is_int(event(&f, "error", "{\"code\":\"Throttling\",\"message\":\"slow down\"}"), -1,
           "stream: a throttling error event fails");
    is_int(f.err.status, 429, "stream: as a 429");
    fix_free(&f);
}

/* A5: embeddings. */
static void test_embeddings(void)
{
    struct fix f;
    fix_init(&f, RELAY_EMBEDDINGS, "text-embedding-v1",
             "{\"model\":\"text-embedding-v1\",\"input\":[\"风急天高猿啸哀\",\"渚清沙白鸟飞回\"]}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), 0, "A5: builds");
    is_str(f.r.url, BASE "/api/v1/services/embeddings/text-embedding/text-embedding",
           "A5: the text-embedding endpoint");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"model\":\"text-embedding-v1\",\"input\":{\"texts\":[\"风急天高猿啸哀\","
                 "\"渚清沙白鸟飞回\"]}}"),
       "A5: input.texts");
    is_int(answer(&f,
                  "{\"output\":{\"embeddings\":[{\"text_index\":0,\"embedding\":[0.1,0.2]},"
                  "{\"text_index\":1,\"embedding\":[0.3,0.4]}]},\"usage\":{\"total_tokens\":12},"
                  "\"request_id\":\"c3d4\"}"),
           0, "A5: parses");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                 "\"embedding\":[0.1,0.2]},{\"object\":\"embedding\",\"index\":1,\"embedding\":"
                 "[0.3,0.4]}],\"model\":\"text-embedding-v1\",\"usage\":{\"prompt_tokens\":12,"
                 "\"total_tokens\":12}}"),
       "A5: data[i].index = text_index, usage total_tokens");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 0,
       "A5: billed 12 prompt tokens");
    fix_free(&f);

    fix_init(&f, RELAY_EMBEDDINGS, "text-embedding-v1", "{\"input\":\"one\"}");
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(strstr(f.r.body, "\"texts\":[\"one\"]") != NULL, "embeddings: a string is one text");
    fix_free(&f);

    fix_init(&f, RELAY_EMBEDDINGS, "text-embedding-v1", "{\"input\":[1,2]}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "embeddings: token ids are refused");
    is_int(f.err.status, 400, "embeddings: with 400");
    fix_free(&f);
}

/* Images: the async task, polled at the channel's base URL. */
static void test_images(void)
{
    struct fix f;
    fix_init(&f, RELAY_IMAGES, "wanx-v1",
             "{\"model\":\"wanx-v1\",\"prompt\":\"a cat\",\"size\":\"1024x1024\",\"n\":2}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), 0, "image: builds");
    is_str(f.r.url, BASE "/api/v1/services/aigc/text2image/image-synthesis",
           "image: the image-synthesis endpoint");
    is_str(header(&f.r, "X-DashScope-Async:"), "X-DashScope-Async: enable", "image: async header");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"model\":\"wanx-v1\",\"input\":{\"prompt\":\"a cat\"},\"parameters\":{"
                 "\"size\":\"1024*1024\",\"n\":2}}"),
       "image: size 1024*1024, n");
    is_int(answer(&f, "{\"output\":{\"task_id\":\"t-1\",\"task_status\":\"PENDING\"},"
                      "\"request_id\":\"r\"}"),
           PROV_FOLLOW_UP, "image: a pending task is polled");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, BASE "/api/v1/tasks/t-1") &&
           !f.ctx.follow_up->body && f.ctx.follow_up->delay_ms == 1000,
       "image: GET {base}/api/v1/tasks/{id} after a second");
    is_str(header(f.ctx.follow_up, "Authorization:"), "Authorization: Bearer sk-test123",
           "image: the poll carries the key");
    is_int(answer(&f, "{\"output\":{\"task_id\":\"t-1\",\"task_status\":\"RUNNING\"}}"),
           PROV_FOLLOW_UP, "image: running: again");
    is_int(answer(&f,
                  "{\"output\":{\"task_id\":\"t-1\",\"task_status\":\"SUCCEEDED\",\"results\":"
                  "[{\"url\":\"https://x/1.png\"},{\"code\":\"DataInspectionFailed\"},"
                  "{\"url\":\"https://x/2.png\"}],\"task_metrics\":{\"TOTAL\":3,\"SUCCEEDED\":2,"
                  "\"FAILED\":1}},\"usage\":{\"image_count\":2}}"),
           0, "image: succeeded answers");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"created\":1730000000,\"data\":[{\"url\":\"https://x/1.png\"},{\"url\":"
                 "\"https://x/2.png\"}]}"),
       "image: OpenAI's shape, results without a url skipped");
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, "wanx-v1",
             "{\"prompt\":\"a cat\",\"response_format\":\"b64_json\"}");
    f.ch.base_url = "http://127.0.0.1:9";
    P->build_request(&f.ctx, &f.r, &f.err);
    answer(&f, "{\"output\":{\"task_id\":\"t-2\",\"task_status\":\"PENDING\"}}");
    is_str(f.ctx.follow_up ? f.ctx.follow_up->url : NULL, "http://127.0.0.1:9/api/v1/tasks/t-2",
           "b64: a base URL override is polled");
    is_int(answer(&f, "{\"output\":{\"task_id\":\"t-2\",\"task_status\":\"SUCCEEDED\",\"results\":"
                      "[{\"url\":\"https://x/1.png\"}]}}"),
           PROV_FOLLOW_UP, "b64: a finished task asks for its image");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, "https://x/1.png") &&
           !header(f.ctx.follow_up, "Authorization:"),
       "b64: GET the result without the key");
    is_int(answer(&f, "\x89PNG"), 0, "b64: the bytes answer");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"created\":1730000000,\"data\":[{\"b64_json\":\"iVBORw==\"}]}"),
       "b64: OpenAI's shape with the base64");
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, "wanx-v1", "{\"prompt\":\"a cat\"}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, "{\"output\":{\"task_id\":\"t-3\",\"task_status\":\"FAILED\",\"code\":"
                      "\"InvalidParameter\",\"message\":\"bad prompt\"}}"),
           -1, "image: FAILED fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "image_task_failed") &&
           strstr(f.err.message, "bad prompt"),
       "image: image_task_failed with the message (%s)", f.err.message);
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, "wanx-v1", "{\"prompt\":\"a cat\",\"response_format\":\"png\"}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "image: unknown response_format");
    is_int(f.err.status, 400, "image: 400");
    fix_free(&f);
}

int main(void)
{
    test_chat_request_stream();
    test_chat_request_plain();
    test_chat_stream();
    test_chat_response();
    test_errors();
    test_embeddings();
    test_images();
    return done_testing();
}
