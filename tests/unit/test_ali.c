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
#include "prov_fixture.h"

#define BASE "https://dashscope.aliyuncs.com"

/* A DashScope channel (type 17) at the default base. */
static const struct prov_fixture_spec ALI = {
    .prov = &provider_ali,
    .ch = {.id = 7,
           .type = 17,
           .key = "sk-test123",
           .base_url = BASE,
           .is_default_base = 1,
           .config = "{}"},
};

/* A1: the stream request, with top_p clamped and the SSE headers. */
static void test_chat_request_stream(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &ALI, RELAY_CHAT, "qwen-plus",
        "{\"model\":\"qwen-plus\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],"
        "\"stream\":true,\"top_p\":1}");
    is_int(prov_fixture_build(&f), 0, "A1: builds");
    is_str(f.rq.url, BASE "/api/v1/services/aigc/text-generation/generation",
           "A1: the text-generation endpoint");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer sk-test123", "A1: Bearer key");
    is_str(prov_fixture_header(&f.rq, "Accept"), "text/event-stream", "A1: Accept SSE");
    is_str(prov_fixture_header(&f.rq, "X-DashScope-SSE"), "enable", "A1: X-DashScope-SSE");
    is_str(prov_fixture_header(&f.rq, "Content-Type"), "application/json", "A1: JSON body");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"model\":\"qwen-plus\",\"input\":{\"messages\":[{\"content\":\"你好\",\"role\":"
           "\"user\"}]},\"parameters\":{\"top_p\":0.9999,\"incremental_output\":true,"
           "\"result_format\":\"message\"}}"),
       "A1: the native body, top_p clamped to 0.9999");
    ok(strstr(f.rq.body, "\"top_p\":0.9999,") != NULL, "A1: top_p written as 0.9999");
    prov_fixture_free(&f);
}

/* The non-stream request: no SSE headers, parameters passed through, -internet, roles. */
static void test_chat_request_plain(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &ALI, RELAY_CHAT, "qwen-max-internet",
        "{\"messages\":[{\"role\":\"SYSTEM\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}},"
        "{\"type\":\"text\",\"text\":\" there\"}]}],"
        "\"max_tokens\":1024,\"temperature\":0.7,\"top_p\":0.8,\"top_k\":50,\"seed\":1234,"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}");
    f.ch.config = "{\"plugin\":\"{\\\"pdf_extracter\\\":{}}\"}";
    is_int(prov_fixture_build(&f), 0, "plain: builds");
    ok(!prov_fixture_header(&f.rq, "X-DashScope-SSE") && !prov_fixture_header(&f.rq, "Accept"),
       "plain: no SSE headers");
    is_str(prov_fixture_header(&f.rq, "X-DashScope-Plugin"), "{\"pdf_extracter\":{}}",
           "plain: config plugin -> X-DashScope-Plugin");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"model\":\"qwen-max\",\"input\":{\"messages\":[{\"role\":\"system\",\"content\":"
           "\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi there\"}]},\"parameters\":{"
           "\"max_tokens\":1024,\"temperature\":0.7,\"top_p\":0.8,\"top_k\":50,\"seed\":1234,"
           "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}],"
           "\"enable_search\":true,\"result_format\":\"message\"}}"),
       "plain: -internet stripped with enable_search, roles lowered, content flattened");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus", "{\"messages\":[]}");
    f.ch.key = "sk-a\r\nX-Evil: 1";
    is_int(prov_fixture_build(&f), -1, "key: a line break is refused");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_SPEECH, "qwen-plus", "{\"input\":\"x\"}");
    is_int(prov_fixture_build(&f), -1, "mode: speech is refused");
    is_int(f.err.status, 400, "mode: with 400");
    prov_fixture_free(&f);
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
    struct prov_fixture f;
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}],\"stream\":true}");
    for (int i = 0; i < 3; i++)
        is_int(prov_fixture_feed(&f, "result", ev[i]), 0, "A2: event %d", i + 1);
    is_int(prov_fixture_n_events(&f), 3, "A2: three chunks");
    for (int i = 0; i < 3; i++) {
        json_object *c = prov_fixture_event_json(&f, i);
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
    }
    ok(f.ctx.finished, "A2: the stop event finishes the stream");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 9 &&
           f.ctx.usage.completion_tokens == 8,
       "A2: recorded usage 9 + 8");
    ok(!strstr(f.out.p, "[DONE]"), "A2: the adaptor leaves [DONE] to the core");
    is_str(f.ctx.text.p, "你好！有什么可以帮你的吗？", "A2: the text for counting");
    prov_fixture_free(&f);

    /* include_usage: a usage chunk after the last one. */
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
                      "\"stream_options\":{\"include_usage\":true}}");
    prov_fixture_feed(&f, "result", ev[1]);
    prov_fixture_feed(&f, "result", ev[2]);
    json_object *u = prov_fixture_event_json(&f, 2);
    ok(prov_fixture_json_eq(json_object_to_json_string(json_object_object_get(u, "usage")),
                            "{\"prompt_tokens\":9,\"completion_tokens\":8,\"total_tokens\":17}"),
       "include_usage: the last chunk carries the usage");
    prov_fixture_free(&f);

    /* Usage of an event with no output tokens does not erase a real one; length maps. */
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    prov_fixture_feed(&f, "result", ev[1]);
    prov_fixture_feed(
        &f, "result",
        "{\"output\":{\"choices\":[{\"message\":{\"content\":\"\",\"role\":\"assistant\"},"
        "\"finish_reason\":\"length\"}]},\"usage\":{\"output_tokens\":0,\"input_tokens\":0},"
        "\"request_id\":\"r\"}");
    ok(f.ctx.usage.prompt_tokens == 9 && f.ctx.usage.completion_tokens == 8,
       "usage: the last non-empty usage wins");
    ok(strstr(f.out.p, "\"finish_reason\":\"length\"") != NULL, "finish: length stays length");
    prov_fixture_free(&f);

    /* An event without choices says nothing; an odd finish reason maps to stop; a closed
     * stream still ends with a finish reason. */
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(prov_fixture_feed(&f, "result", "{\"output\":{},\"request_id\":\"r\"}"), 0,
           "no choices: ok");
    is_int((int)f.out.len, 0, "no choices: no chunk");
    prov_fixture_feed(
        &f, "result",
        "{\"output\":{\"choices\":[{\"message\":{\"content\":\"a\",\"role\":\"assistant\"},"
        "\"finish_reason\":\"null\"}]},\"request_id\":\"r\"}");
    sb_reset(&f.out);
    is_int(prov_fixture_feed(&f, "", NULL), 0, "closed: ok");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") && f.ctx.finished,
       "closed: the last chunk says stop");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    prov_fixture_feed(
        &f, "result",
        "{\"output\":{\"choices\":[{\"message\":{\"content\":\"a\",\"role\":\"assistant\"},"
        "\"finish_reason\":\"sensitive\"}]},\"request_id\":\"r\"}");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") != NULL, "finish: unknown -> stop");
    prov_fixture_free(&f);
}

/* A3: the non-stream answer. */
static void test_chat_response(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &ALI, RELAY_CHAT, "qwen-plus",
        "{\"model\":\"qwen-plus\",\"messages\":[{\"role\":\"user\",\"content\":\"你好\"}]}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"role\":"
                   "\"assistant\",\"content\":\"你好！有什么可以帮你的吗？\"}}]},\"usage\":{"
                   "\"total_tokens\":17,\"output_tokens\":8,\"input_tokens\":9},\"request_id\":"
                   "\"7f3e2a10-5c4d-9e8f-b1a2-c3d4e5f6a7b8\"}"),
           0, "A3: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"7f3e2a10-5c4d-9e8f-b1a2-c3d4e5f6a7b8\",\"object\":\"chat.completion\","
           "\"created\":1730000000,\"model\":\"qwen-plus\",\"choices\":[{\"index\":0,"
           "\"message\":{\"role\":\"assistant\",\"content\":\"你好！有什么可以帮你的吗？\"},"
           "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
           "\"completion_tokens\":8,\"total_tokens\":17}}"),
       "A3: the OpenAI chat.completion");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 9 &&
           f.ctx.usage.completion_tokens == 8,
       "A3: usage recorded");
    prov_fixture_free(&f);

    /* The older output.text shape, and tool calls. */
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-turbo", "{\"messages\":[]}");
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"text\":\"Hi\",\"finish_reason\":\"length\"},\"usage\":{"
                   "\"output_tokens\":1,\"input_tokens\":2},\"request_id\":\"r2\"}"),
           0, "text: parses");
    ok(strstr(f.out.p, "\"content\":\"Hi\"") && strstr(f.out.p, "\"finish_reason\":\"length\""),
       "text: output.text is the message, its finish_reason kept");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus", "{\"messages\":[]}");
    prov_fixture_answer(
        &f, "{\"output\":{\"choices\":[{\"finish_reason\":\"tool_calls\",\"message\":{\"role\":"
            "\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_w\","
            "\"arguments\":\"{\\\"city\\\":\\\"x\\\"}\"},\"index\":0,\"id\":\"call_1\",\"type\":"
            "\"function\"}]}}]},\"request_id\":\"r3\"}");
    ok(strstr(f.out.p, "\"tool_calls\":[{") && strstr(f.out.p, "\"name\":\"get_w\"") &&
           strstr(f.out.p, "\"finish_reason\":\"tool_calls\""),
       "tools: tool_calls kept with finish tool_calls");
    prov_fixture_free(&f);

    /* A streaming client answered with plain JSON (no SSE from upstream): chunks. */
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"role\":"
                   "\"assistant\",\"content\":\"Hey\"}}]},\"request_id\":\"r4\"}"),
           0, "json to a stream: parses");
    ok(prov_fixture_n_events(&f) == 1 && strstr(f.out.p, "\"content\":\"Hey\"") &&
           strstr(f.out.p, "\"finish_reason\":\"stop\"") && f.ctx.finished,
       "json to a stream: one finished chunk");
    prov_fixture_free(&f);
}

/* A4: errors, over HTTP and inside a stream. */
static void test_errors(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus", "{\"messages\":[]}");
    const char *e401 = "{\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided.\","
                       "\"request_id\":\"a1b2c3d4-0000-1111-2222-333344445555\"}";
    prov_fixture_error(&f, 401, e401);
    ok(f.err.status == 401 && !strcmp(f.err.code, "InvalidApiKey") &&
           !strcmp(f.err.type, "InvalidApiKey") &&
           !strcmp(f.err.message, "Invalid API-key provided.") &&
           !strcmp(f.err.param, "a1b2c3d4-0000-1111-2222-333344445555"),
       "A4: 401 InvalidApiKey with its message, type code, param request_id");

    const char *e429 = "{\"code\":\"Throttling.RateQuota\",\"message\":\"Requests rate limit "
                       "exceeded, please try again later.\",\"request_id\":\"x\"}";
    prov_fixture_error(&f, 429, e429);
    ok(f.err.status == 429 && !strcmp(f.err.code, "Throttling.RateQuota"),
       "errors: Throttling.RateQuota is a 429");
    prov_fixture_error(&f, 400, e429);
    is_int(f.err.status, 429, "errors: a Throttling code is 429 whatever the HTTP status");
    prov_fixture_error(&f, 502, "<html>");
    ok(f.err.status == 502 && !strcmp(f.err.message, "bad response status code 502"),
       "errors: no JSON: the default words");

    /* An error body with HTTP 200. */
    is_int(prov_fixture_answer(
               &f, "{\"code\":\"Arrearage\",\"message\":\"Access denied, please make sure your "
                   "account is in good standing.\",\"request_id\":\"y\"}"),
           -1, "errors: an error in a 200 body fails");
    ok(f.err.status == 400 && !strcmp(f.err.code, "Arrearage"), "errors: Arrearage is a 400");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_CHAT, "qwen-plus",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(prov_fixture_feed(
               &f, "error",
               "{\"code\":\"InvalidParameter\",\"message\":\"Range of top_p should be (0.0, "
               "1.0)\",\"request_id\":\"b2c3\"}"),
           -1, "A4 stream: event:error fails");
    ok(f.err.status == 400 && !strcmp(f.err.code, "InvalidParameter") &&
           !strcmp(f.err.message, "Range of top_p should be (0.0, 1.0)"),
       "A4 stream: 400 InvalidParameter with the message");
    is_int((int)f.out.len, 0, "A4 stream: no chunk, no silent success");
    is_int(prov_fixture_feed(&f, "error", "{\"code\":\"Throttling\",\"message\":\"slow down\"}"),
           -1, "stream: a throttling error event fails");
    is_int(f.err.status, 429, "stream: as a 429");
    prov_fixture_free(&f);
}

/* A5: embeddings. */
static void test_embeddings(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &ALI, RELAY_EMBEDDINGS, "text-embedding-v1",
        "{\"model\":\"text-embedding-v1\",\"input\":[\"风急天高猿啸哀\",\"渚清沙白鸟飞回\"]}");
    is_int(prov_fixture_build(&f), 0, "A5: builds");
    is_str(f.rq.url, BASE "/api/v1/services/embeddings/text-embedding/text-embedding",
           "A5: the text-embedding endpoint");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"model\":\"text-embedding-v1\",\"input\":{\"texts\":[\"风急天高猿啸哀\","
           "\"渚清沙白鸟飞回\"]}}"),
       "A5: input.texts");
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"embeddings\":[{\"text_index\":0,\"embedding\":[0.1,0.2]},"
                   "{\"text_index\":1,\"embedding\":[0.3,0.4]}]},\"usage\":{\"total_tokens\":12},"
                   "\"request_id\":\"c3d4\"}"),
           0, "A5: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
           "\"embedding\":[0.1,0.2]},{\"object\":\"embedding\",\"index\":1,\"embedding\":"
           "[0.3,0.4]}],\"model\":\"text-embedding-v1\",\"usage\":{\"prompt_tokens\":12,"
           "\"total_tokens\":12}}"),
       "A5: data[i].index = text_index, usage total_tokens");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 0,
       "A5: billed 12 prompt tokens");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_EMBEDDINGS, "text-embedding-v1", "{\"input\":\"one\"}");
    prov_fixture_build(&f);
    ok(strstr(f.rq.body, "\"texts\":[\"one\"]") != NULL, "embeddings: a string is one text");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_EMBEDDINGS, "text-embedding-v1", "{\"input\":[1,2]}");
    is_int(prov_fixture_build(&f), -1, "embeddings: token ids are refused");
    is_int(f.err.status, 400, "embeddings: with 400");
    prov_fixture_free(&f);
}

/* Images: the async task, polled at the channel's base URL. */
static void test_images(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &ALI, RELAY_IMAGES, "wanx-v1",
        "{\"model\":\"wanx-v1\",\"prompt\":\"a cat\",\"size\":\"1024x1024\",\"n\":2}");
    is_int(prov_fixture_build(&f), 0, "image: builds");
    is_str(f.rq.url, BASE "/api/v1/services/aigc/text2image/image-synthesis",
           "image: the image-synthesis endpoint");
    is_str(prov_fixture_header(&f.rq, "X-DashScope-Async"), "enable", "image: async header");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"model\":\"wanx-v1\",\"input\":{\"prompt\":\"a cat\"},\"parameters\":{"
           "\"size\":\"1024*1024\",\"n\":2}}"),
       "image: size 1024*1024, n");
    is_int(prov_fixture_answer(&f, "{\"output\":{\"task_id\":\"t-1\",\"task_status\":\"PENDING\"},"
                                   "\"request_id\":\"r\"}"),
           PROV_FOLLOW_UP, "image: a pending task is polled");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, BASE "/api/v1/tasks/t-1") &&
           !f.ctx.follow_up->body && f.ctx.follow_up->delay_ms == 1000,
       "image: GET {base}/api/v1/tasks/{id} after a second");
    is_str(prov_fixture_header(f.ctx.follow_up, "Authorization"), "Bearer sk-test123",
           "image: the poll carries the key");
    is_int(
        prov_fixture_answer(&f, "{\"output\":{\"task_id\":\"t-1\",\"task_status\":\"RUNNING\"}}"),
        PROV_FOLLOW_UP, "image: running: again");
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"task_id\":\"t-1\",\"task_status\":\"SUCCEEDED\",\"results\":"
                   "[{\"url\":\"https://x/1.png\"},{\"code\":\"DataInspectionFailed\"},"
                   "{\"url\":\"https://x/2.png\"}],\"task_metrics\":{\"TOTAL\":3,\"SUCCEEDED\":2,"
                   "\"FAILED\":1}},\"usage\":{\"image_count\":2}}"),
           0, "image: succeeded answers");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"created\":1730000000,\"data\":[{\"url\":\"https://x/1.png\"},{\"url\":"
           "\"https://x/2.png\"}]}"),
       "image: OpenAI's shape, results without a url skipped");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_IMAGES, "wanx-v1",
                      "{\"prompt\":\"a cat\",\"response_format\":\"b64_json\"}");
    f.ch.base_url = "http://127.0.0.1:9";
    prov_fixture_build(&f);
    prov_fixture_answer(&f, "{\"output\":{\"task_id\":\"t-2\",\"task_status\":\"PENDING\"}}");
    is_str(f.ctx.follow_up ? f.ctx.follow_up->url : NULL, "http://127.0.0.1:9/api/v1/tasks/t-2",
           "b64: a base URL override is polled");
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"task_id\":\"t-2\",\"task_status\":\"SUCCEEDED\",\"results\":"
                   "[{\"url\":\"https://x/1.png\"}]}}"),
           PROV_FOLLOW_UP, "b64: a finished task asks for its image");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, "https://x/1.png") &&
           !prov_fixture_header(f.ctx.follow_up, "Authorization"),
       "b64: GET the result without the key");
    is_int(prov_fixture_answer(&f, "\x89PNG"), 0, "b64: the bytes answer");
    ok(prov_fixture_json_eq_n(f.out.p, f.out.len,
                              "{\"created\":1730000000,\"data\":[{\"b64_json\":\"iVBORw==\"}]}"),
       "b64: OpenAI's shape with the base64");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_IMAGES, "wanx-v1", "{\"prompt\":\"a cat\"}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(
               &f, "{\"output\":{\"task_id\":\"t-3\",\"task_status\":\"FAILED\",\"code\":"
                   "\"InvalidParameter\",\"message\":\"bad prompt\"}}"),
           -1, "image: FAILED fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "image_task_failed") &&
           strstr(f.err.message, "bad prompt"),
       "image: image_task_failed with the message (%s)", f.err.message);
    prov_fixture_free(&f);

    prov_fixture_init(&f, &ALI, RELAY_IMAGES, "wanx-v1",
                      "{\"prompt\":\"a cat\",\"response_format\":\"png\"}");
    is_int(prov_fixture_build(&f), -1, "image: unknown response_format");
    is_int(f.err.status, 400, "image: 400");
    prov_fixture_free(&f);
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
