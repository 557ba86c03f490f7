/* Checks providers/ollama.c: request conversion, non-stream and NDJSON stream answers,
 * embeddings and errors, against Ollama's documented shapes. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/ollama.h"
#include "providers/provider.h"
#include "providers/registry.h"
#include "prov_fixture.h"

/* The gateway clock the tests assume. */
#define CREATED 1730000000
/* An Ollama channel (type 30) with a base URL ending in '/', as operators often write it. */
static const struct prov_fixture_spec OLLAMA = {
    .prov = &provider_ollama,
    .ch = {.id = 3,
           .type = 30,
           .key = "ollama-key",
           .base_url = "http://localhost:11434/",
           .config = ""},
    .model = "llama3.2",
    .request_id = "req42",
    .created = CREATED,
};

static const char *const STREAM[] = {
    "{\"model\":\"llama3.2\",\"created_at\":\"2024-11-05T10:00:00.000000Z\",\"message\":{\"role\":"
    "\"assistant\",\"content\":\"Hel\"},\"done\":false}",
    "{\"model\":\"llama3.2\",\"created_at\":\"2024-11-05T10:00:00.050000Z\",\"message\":{\"role\":"
    "\"assistant\",\"content\":\"lo!\"},\"done\":false}",
    "{\"model\":\"llama3.2\",\"created_at\":\"2024-11-05T10:00:00.100000Z\",\"message\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":"
    "512000000,\"load_duration\":20000000,\"prompt_eval_count\":26,\"prompt_eval_duration\":"
    "130000000,\"eval_count\":3,\"eval_duration\":60000000}",
};

static void test_registry(void)
{
    const struct channel_type *ct = channel_type_get(30);
    ok(ct && ct->prov == &provider_ollama, "type 30 is served by the Ollama adaptor");
}

static void test_stream_request(void)
{
    struct prov_fixture f;

    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL,
                      "{\"model\": \"llama3.2\", \"messages\": [{\"role\": \"user\", \"content\": "
                      "\"Say hello\"}], \"max_tokens\": 20, \"temperature\": 0, \"stream\": true}");
    is_int(prov_fixture_build(&f), 0, "stream request: built");
    is_str(f.rq.url, "http://localhost:11434/api/chat", "stream request: POST /api/chat");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"model\": \"llama3.2\", \"messages\": [{\"role\": \"user\", "
                            "\"content\": \"Say hello\"}], \"stream\": true, \"options\": "
                            "{\"temperature\": 0, \"num_predict\": 20}}"),
       "stream request: temperature 0 kept, max_tokens -> options.num_predict");
    ok(prov_fixture_has_header(&f.rq, "Authorization: Bearer ollama-key"),
       "stream request: the key goes as a bearer token");
    prov_fixture_free(&f);
}

static void test_request_options(void)
{
    struct prov_fixture f;

    prov_fixture_init(
        &f, &OLLAMA, RELAY_CHAT, NULL,
        "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
        "terse.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"Describe\"},{\"type\":\"text\",\"text\":\"the picture\"},{\"type\":"
        "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}],"
        "\"seed\":0,\"num_ctx\":0,\"top_p\":0.9,\"stop\":\"END\",\"response_format\":"
        "{\"type\":\"json_object\"}}");
    is_int(prov_fixture_build(&f), 0, "options request: built");
    ok(prov_fixture_json_eq(
           f.rq.body,
           "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
           "terse.\"},{\"role\":\"user\",\"content\":\"Describe\\nthe picture\",\"images\":"
           "[\"iVBORw0KGgo=\"]}],\"stream\":false,\"options\":{\"top_p\":0.9,\"stop\":"
           "[\"END\"]},\"format\":\"json\"}"),
       "options request: stream false written, images as raw base64, every text part kept, "
       "zero seed and num_ctx omitted, stop as an array, json format");
    prov_fixture_free(&f);

    prov_fixture_init(
        &f, &OLLAMA, RELAY_CHAT, NULL,
        "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}");
    /* The core inlines http(s) URLs before build_request; Ollama cannot fetch one. */
    is_int(prov_fixture_build(&f), -1, "http image: refused");
    is_int(f.err.status, 400, "http image: a 400, not retried");
    is_str(f.err.param, "messages", "http image: param messages");
    prov_fixture_free(&f);

    prov_fixture_init(
        &f, &OLLAMA, RELAY_CHAT, NULL,
        "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"image_url\",\"image_url\":\"Data:image/jpeg;name=a.jpg;Base64,/9j/4A==\"}]}]}");
    is_int(prov_fixture_build(&f), 0,
           "image_url as a string, data URL with parameters in any case: built");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"\",\"images\":[\"/9j/4A==\"]}],\"stream\":false}"),
       "... the bare base64 goes into images");
    prov_fixture_free(&f);

    static const char *const bad[] = {
        "\"data:image/png,iVBORw0KGgo=\"",        /* percent-encoded, not base64 */
        "\"data:image/png;base64;x=y,iVBORw0=\"", /* base64 must be the last parameter */
        "\"data:image/png;base64,\"",             /* no payload */
        "{}",                                     /* no url */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\",\"content\":[{"
                 "\"type\":\"image_url\",\"image_url\":%s}]}]}",
                 bad[i]);
        prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, req);
        ok(prov_fixture_build(&f) == -1 && f.err.status == 400, "image_url %s: a 400", bad[i]);
        prov_fixture_free(&f);
    }
}

static void test_stream_response(int include_usage)
{
    struct prov_fixture f;
    struct prov_fixture_events fr;

    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL,
                      "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"Say "
                      "hello\"}],\"stream\":true}");
    f.ctx.include_usage = include_usage;
    is_int(prov_fixture_feed_lines(&f, STREAM, 3), 0, "stream: parsed");
    ok(f.ctx.finished, "stream: the done line finishes it");
    ok(prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0, "stream: output is SSE data events");
    is_int(fr.n, include_usage ? 4 : 3, "stream: two content chunks, the finishing one%s",
           include_usage ? ", the usage chunk" : "");
    if (fr.n >= 3) {
        is_str(prov_fixture_json_at(f.a, fr.data[0], "choices.0.delta.content"), "Hel",
               "stream: first piece");
        is_str(prov_fixture_json_at(f.a, fr.data[1], "choices.0.delta.content"), "lo!",
               "stream: second piece");
        is_str(prov_fixture_json_at(f.a, fr.data[2], "choices.0.finish_reason"), "stop",
               "stream: finish stop");
        is_str(prov_fixture_json_at(f.a, fr.data[0], "id"),
               prov_fixture_json_at(f.a, fr.data[2], "id"), "stream: one id per response");
        is_str(prov_fixture_json_at(f.a, fr.data[0], "id"), "chatcmpl-req42",
               "stream: the id is the request's");
    }
    if (include_usage && fr.n == 4)
        ok(prov_fixture_json_eq(
               prov_fixture_json_at(f.a, fr.data[3], "usage"),
               "{\"prompt_tokens\":26,\"completion_tokens\":3,\"total_tokens\":29}"),
           "stream: usage chunk 26/3/29");
    is_int(f.ctx.usage.prompt_tokens, 26, "stream: prompt_eval_count is the prompt usage");
    is_int(f.ctx.usage.completion_tokens, 3, "stream: eval_count is the completion usage");
    ok(f.ctx.usage.has_usage, "stream: usage reported");
    is_str(f.ctx.text.p, "Hello!", "stream: text kept for counting");
    size_t len = f.out.len;
    ok(prov_fixture_feed(&f, "", STREAM[0]) == 0 && prov_fixture_feed(&f, "", NULL) == 0 &&
           f.out.len == len,
       "stream: nothing follows the done line");
    prov_fixture_free(&f);
}

static void test_stream_length_and_error(void)
{
    struct prov_fixture f;
    struct prov_fixture_events fr;
    const char *const len_lines[] = {
        "{\"message\":{\"role\":\"assistant\",\"content\":\"abc\"},\"done\":false}",
        "",
        ("{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"length\","
         "\"done\":true,\"prompt_eval_count\":5,\"eval_count\":1}"),
    };

    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, "{\"model\":\"llama3.2\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    is_int(prov_fixture_feed_lines(&f, len_lines, 3), 0,
           "length stream: parsed, blank line ignored");
    ok(prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0 && fr.n == 2, "length stream: two chunks");
    if (fr.n == 2)
        is_str(prov_fixture_json_at(f.a, fr.data[1], "choices.0.finish_reason"), "length",
               "length stream: done_reason length -> length");
    prov_fixture_free(&f);

    const char *const err_lines[] = {
        "{\"message\":{\"role\":\"assistant\",\"content\":\"abc\"},\"done\":false}",
        "{\"error\":\"model runner crashed\"}",
    };
    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, "{\"model\":\"llama3.2\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    memset(&f.err, 0, sizeof f.err);
    is_int(prov_fixture_feed_lines(&f, err_lines, 2), -1, "error line: a mid-stream error");
    is_str(f.err.message, "model runner crashed", "error line: Ollama's message");
    prov_fixture_free(&f);

    /* An upstream that closes without a done line still gets a finishing chunk. */
    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, "{\"model\":\"llama3.2\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    prov_fixture_feed_lines(&f, err_lines, 1);
    is_int(prov_fixture_feed(&f, "", NULL), 0, "eof: handled");
    ok(f.ctx.finished && prov_fixture_split_sse(f.a, f.out.p, &fr) >= 0 && fr.n == 2 &&
           strcmp(prov_fixture_json_at(f.a, fr.data[1], "choices.0.finish_reason"), "stop") == 0,
       "eof: the choice is closed with stop");
    prov_fixture_free(&f);
}

static void test_nonstream(void)
{
    struct prov_fixture f;
    const char *body =
        "{\"model\": \"llama3.2\", \"created_at\": \"2024-11-05T10:00:00.100000Z\", \"message\": "
        "{\"role\": \"assistant\", \"content\": \"Hello!\"}, \"done_reason\": \"stop\", \"done\": "
        "true, \"total_duration\": 512000000, \"prompt_eval_count\": 26, \"eval_count\": 3}";

    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, "{\"model\":\"llama3.2\",\"messages\":[]}");
    is_int(prov_fixture_answer(&f, body), 0, "non-stream: parsed");
    ok(prov_fixture_json_eq(prov_fixture_json_at(f.a, f.out.p, "choices.0.message"),
                            "{\"role\":\"assistant\",\"content\":\"Hello!\"}"),
       "non-stream: the message as is");
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.finish_reason"), "stop",
           "non-stream: finish stop");
    is_str(prov_fixture_json_at(f.a, f.out.p, "object"), "chat.completion",
           "non-stream: a chat.completion");
    ok(prov_fixture_json_eq(prov_fixture_json_at(f.a, f.out.p, "usage"),
                            "{\"prompt_tokens\":26,\"completion_tokens\":3,\"total_tokens\":29}"),
       "non-stream: usage 26/3/29");
    prov_fixture_free(&f);

    const char *len_body = "{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},"
                           "\"done_reason\":\"length\",\"done\":true,\"prompt_eval_count\":26,"
                           "\"eval_count\":1}";
    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, "{\"model\":\"llama3.2\",\"messages\":[]}");
    prov_fixture_answer(&f, len_body);
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.finish_reason"), "length",
           "non-stream: length");
    prov_fixture_free(&f);
}

static void test_tool_calls(void)
{
    struct prov_fixture f;
    const char *body =
        "{\"model\": \"llama3.2\", \"created_at\": \"2024-11-05T10:00:01Z\", \"message\": "
        "{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"function\": {\"name\": "
        "\"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]}, \"done_reason\": \"stop\", "
        "\"done\": true, \"prompt_eval_count\": 120, \"eval_count\": 18}";

    prov_fixture_init(
        &f, &OLLAMA, RELAY_CHAT, NULL,
        "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}");
    is_int(prov_fixture_answer(&f, body), 0, "tool call: parsed");
    const char *id = prov_fixture_json_at(f.a, f.out.p, "choices.0.message.tool_calls.0.id");
    ok(id && strncmp(id, "call_", 5) == 0 && strlen(id) > 5, "tool call: an id is generated");
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.message.tool_calls.0.type"), "function",
           "tool call: type function");
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.message.tool_calls.0.function.name"),
           "get_weather", "tool call: name");
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.message.tool_calls.0.function.arguments"),
           "{\"city\":\"Paris\"}", "tool call: arguments as JSON text");
    is_str(prov_fixture_json_at(f.a, f.out.p, "choices.0.finish_reason"), "tool_calls",
           "tool call: finish");
    prov_fixture_free(&f);

    /* The assistant's call going back upstream takes Ollama's object arguments. */
    prov_fixture_init(
        &f, &OLLAMA, RELAY_CHAT, NULL,
        "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":"
        "\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]}");
    is_int(prov_fixture_build(&f), 0, "tool turn: built");
    ok(prov_fixture_json_eq(
           prov_fixture_json_at(f.a, f.rq.body, "messages"),
           "[{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{"
           "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},{\"role\":"
           "\"tool\",\"content\":\"sunny\",\"tool_name\":\"get_weather\"}]"),
       "tool turn: arguments become an object, the tool result names its function");
    prov_fixture_free(&f);
}

static void test_embeddings(void)
{
    struct prov_fixture f;
    const char *body = "{\"model\":\"nomic-embed-text\",\"embeddings\":[[0.1,0.2,0.3],[0.4,0.5,"
                       "0.6]],\"total_duration\":14143917,\"load_duration\":1019500,"
                       "\"prompt_eval_count\":4}";

    prov_fixture_init(&f, &OLLAMA, RELAY_EMBEDDINGS, NULL,
                      "{\"model\":\"nomic-embed-text\",\"input\":[\"hello\",\"world\"]}");
    is_int(prov_fixture_build(&f), 0, "embeddings: built");
    is_str(f.rq.url, "http://localhost:11434/api/embed", "embeddings: POST /api/embed");
    ok(prov_fixture_json_eq(f.rq.body,
                            "{\"model\":\"nomic-embed-text\",\"input\":[\"hello\",\"world\"]}"),
       "embeddings: upstream body");
    is_int(prov_fixture_answer(&f, body), 0, "embeddings: parsed");
    ok(prov_fixture_json_eq(f.out.p,
                            "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                            "\"embedding\":[0.1,0.2,0.3]},{\"object\":\"embedding\",\"index\":1,"
                            "\"embedding\":[0.4,0.5,0.6]}],\"model\":\"nomic-embed-text\","
                            "\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}"),
       "embeddings: OpenAI list with an index per item and prompt_eval_count as usage");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 4,
       "embeddings: usage reported for billing");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &OLLAMA, RELAY_EMBEDDINGS, NULL,
                      "{\"model\":\"nomic-embed-text\",\"input\":\"hi\",\"encoding_format\":"
                      "\"base64\"}");
    const char *one = "{\"embeddings\":[[1.0]],\"prompt_eval_count\":1}";
    is_int(prov_fixture_answer(&f, one), 0, "base64 embeddings: parsed");
    /* 1.0f is 00 00 80 3f little-endian. */
    is_str(prov_fixture_json_at(f.a, f.out.p, "data.0.embedding"),
           "AACAPw==", "base64 embeddings: float32 LE");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    const char *body = "{\"error\":\"model \\\"llama3.2\\\" not found, try pulling it first\"}";

    prov_fixture_init(&f, &OLLAMA, RELAY_CHAT, NULL, "{\"model\":\"llama3.2\",\"messages\":[]}");
    prov_fixture_error(&f, 404, body);
    is_int(f.err.status, 404, "error: the upstream status is kept");
    is_str(f.err.message, "model \"llama3.2\" not found, try pulling it first",
           "error: Ollama's message");
    is_str(f.err.type, "ollama_error", "error: type ollama_error");
    prov_fixture_error(&f, 502, "<html>");
    is_int(f.err.status, 502, "unreadable error: status kept");
    is_str(f.err.message, "bad response status code 502", "unreadable error: One API's text");
    prov_fixture_free(&f);
    prov_fixture_init(&f, &OLLAMA, RELAY_IMAGES, NULL, "{\"model\":\"llama3.2\",\"prompt\":\"x\"}");
    is_int(prov_fixture_build(&f), -1, "images: refused");
    is_int(f.err.status, 400, "images: a 400");
    prov_fixture_free(&f);
}

int main(void)
{
    test_registry();
    test_stream_request();
    test_request_options();
    test_stream_response(0);
    test_stream_response(1);
    test_stream_length_and_error();
    test_nonstream();
    test_tool_calls();
    test_embeddings();
    test_errors();
    return done_testing();
}
