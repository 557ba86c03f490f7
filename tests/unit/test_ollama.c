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
#include "tap.h"

/* The gateway clock the tests assume. */
#define CREATED 1730000000
/* Most SSE frames one test stream produces. */
#define MAX_FRAMES 32

/* One adaptor call's world: arena, channel, context and the parsed client request. */
struct fixture {
    struct arena *a;         /* freed by fixture_fini */
    struct prov_channel ch;  /* an Ollama channel (type 30) */
    struct prov_ctx ctx;     /* the attempt, pointing at a, ch and req */
    struct json_object *req; /* owned; put by fixture_fini */
};

/* SSE frames split out of an adaptor's output (pointers into the arena). */
struct frames {
    char *f[MAX_FRAMES]; /* JSON text after "data: " */
    int n;
};

static void fixture_init(struct fixture *f, enum relay_mode mode, const char *req_json,
                         int is_stream, int include_usage)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(8192);
    f->ch.id = 3;
    f->ch.type = 30;
    f->ch.key = "ollama-key";
    f->ch.base_url = "http://localhost:11434/";
    f->ch.api_version = "";
    f->ch.config = "";
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = mode;
    f->ctx.ch = &f->ch;
    f->ctx.req = f->req;
    f->ctx.is_stream = is_stream;
    f->ctx.include_usage = include_usage;
    f->ctx.request_id = "req42";
    f->ctx.created = CREATED;
    struct json_object *m = NULL;
    json_object_object_get_ex(f->req, "model", &m);
    f->ctx.model = arena_strdup(f->a, m ? json_object_get_string(m) : "llama3.2");
    f->ctx.origin_model = f->ctx.model;
    sb_init(&f->ctx.text, f->a);
}

static void fixture_fini(struct fixture *f)
{
    json_object_put(f->req);
    arena_free(f->a);
}

/* 1 when both texts parse to equal JSON; prints both otherwise. */
static int json_same(const char *got, const char *want)
{
    struct json_object *g = got ? json_tokener_parse(got) : NULL;
    struct json_object *w = want ? json_tokener_parse(want) : NULL;
    int same = g && w && json_object_equal(g, w);

    if (!same) {
        note("got:  %s", got ? got : "(null)");
        note("want: %s", want ? want : "(null)");
    }
    json_object_put(g);
    json_object_put(w);
    return same;
}

/* The value at a dotted path of JSON text as a string (numbers too), in a; NULL if absent. */
static const char *at(struct arena *a, const char *json, const char *path)
{
    struct json_object *root = json_tokener_parse(json), *o = root;
    char *p = arena_strdup(a, path), *save = NULL;
    const char *res = NULL;

    for (char *k = strtok_r(p, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(k));
        else if (!json_object_object_get_ex(o, k, &o))
            o = NULL;
    }
    if (o)
        res = arena_strdup(a, json_object_is_type(o, json_type_string)
                                  ? json_object_get_string(o)
                                  : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return res;
}

/* Splits "data: {...}\n\n" events; 0 when the text is not a sequence of such events. */
static int split_frames(struct arena *a, const char *s, struct frames *fr)
{
    fr->n = 0;
    while (*s) {
        const char *end = strstr(s, "\n\n");
        if (strncmp(s, "data: ", 6) != 0 || !end || fr->n == MAX_FRAMES)
            return 0;
        fr->f[fr->n++] = arena_printf(a, "%.*s", (int)(end - s - 6), s + 6);
        s = end + 2;
    }
    return 1;
}

/* Feeds NDJSON lines to parse_event as the core does; returns the last return value. */
static int feed(struct fixture *f, const char *const *lines, int n, struct strbuf *out,
                struct prov_error *err)
{
    int rc = 0;
    for (int i = 0; i < n && rc == 0 && !f->ctx.finished; i++)
        rc = provider_ollama.parse_event(&f->ctx, "", lines[i], strlen(lines[i]), out, err);
    return rc;
}

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
    struct fixture f;
    struct prov_request rq;
    struct prov_error err;

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\": \"llama3.2\", \"messages\": [{\"role\": \"user\", \"content\": "
                 "\"Say hello\"}], \"max_tokens\": 20, \"temperature\": 0, \"stream\": true}",
                 1, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), 0, "stream request: built");
    is_str(rq.url, "http://localhost:11434/api/chat", "stream request: POST /api/chat");
    ok(json_same(rq.body, "{\"model\": \"llama3.2\", \"messages\": [{\"role\": \"user\", "
                          "\"content\": \"Say hello\"}], \"stream\": true, \"options\": "
                          "{\"temperature\": 0, \"num_predict\": 20}}"),
       "stream request: temperature 0 kept, max_tokens -> options.num_predict");
    int has_auth = 0;
    for (int i = 0; i < rq.n_headers; i++)
        has_auth |= strcmp(rq.headers[i], "Authorization: Bearer ollama-key") == 0;
    ok(has_auth, "stream request: the key goes as a bearer token");
    fixture_fini(&f);
}

static void test_request_options(void)
{
    struct fixture f;
    struct prov_request rq;
    struct prov_error err;

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
                 "terse.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                 "\"Describe\"},{\"type\":\"text\",\"text\":\"the picture\"},{\"type\":"
                 "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}],"
                 "\"seed\":0,\"num_ctx\":0,\"top_p\":0.9,\"stop\":\"END\",\"response_format\":"
                 "{\"type\":\"json_object\"}}",
                 0, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), 0, "options request: built");
    ok(json_same(rq.body,
                 "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
                 "terse.\"},{\"role\":\"user\",\"content\":\"Describe\\nthe picture\",\"images\":"
                 "[\"iVBORw0KGgo=\"]}],\"stream\":false,\"options\":{\"top_p\":0.9,\"stop\":"
                 "[\"END\"]},\"format\":\"json\"}"),
       "options request: stream false written, images as raw base64, every text part kept, "
       "zero seed and num_ctx omitted, stop as an array, json format");
    fixture_fini(&f);

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}",
                 0, 0);
    memset(&rq, 0, sizeof rq);
    memset(&err, 0, sizeof err);
    /* The core inlines http(s) URLs before build_request; Ollama cannot fetch one. */
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), -1, "http image: refused");
    is_int(err.status, 400, "http image: a 400, not retried");
    is_str(err.param, "messages", "http image: param messages");
    fixture_fini(&f);

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"image_url\",\"image_url\":\"Data:image/jpeg;name=a.jpg;Base64,/9j/4A==\"}]}]}",
                 0, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), 0,
           "image_url as a string, data URL with parameters in any case: built");
    ok(json_same(rq.body, "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\",\"content\":"
                          "\"\",\"images\":[\"/9j/4A==\"]}],\"stream\":false}"),
       "... the bare base64 goes into images");
    fixture_fini(&f);

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
        fixture_init(&f, RELAY_CHAT, req, 0, 0);
        memset(&err, 0, sizeof err);
        ok(provider_ollama.build_request(&f.ctx, &rq, &err) == -1 && err.status == 400,
           "image_url %s: a 400", bad[i]);
        fixture_fini(&f);
    }
}

static void test_stream_response(int include_usage)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    struct frames fr;

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"Say "
                 "hello\"}],\"stream\":true}",
                 1, include_usage);
    sb_init(&out, f.a);
    is_int(feed(&f, STREAM, 3, &out, &err), 0, "stream: parsed");
    ok(f.ctx.finished, "stream: the done line finishes it");
    ok(split_frames(f.a, out.p ? out.p : "", &fr), "stream: output is SSE data events");
    is_int(fr.n, include_usage ? 4 : 3, "stream: two content chunks, the finishing one%s",
           include_usage ? ", the usage chunk" : "");
    if (fr.n >= 3) {
        is_str(at(f.a, fr.f[0], "choices.0.delta.content"), "Hel", "stream: first piece");
        is_str(at(f.a, fr.f[1], "choices.0.delta.content"), "lo!", "stream: second piece");
        is_str(at(f.a, fr.f[2], "choices.0.finish_reason"), "stop", "stream: finish stop");
        is_str(at(f.a, fr.f[0], "id"), at(f.a, fr.f[2], "id"), "stream: one id per response");
        is_str(at(f.a, fr.f[0], "id"), "chatcmpl-req42", "stream: the id is the request's");
    }
    if (include_usage && fr.n == 4)
        ok(json_same(at(f.a, fr.f[3], "usage"),
                     "{\"prompt_tokens\":26,\"completion_tokens\":3,\"total_tokens\":29}"),
           "stream: usage chunk 26/3/29");
    is_int(f.ctx.usage.prompt_tokens, 26, "stream: prompt_eval_count is the prompt usage");
    is_int(f.ctx.usage.completion_tokens, 3, "stream: eval_count is the completion usage");
    ok(f.ctx.usage.has_usage, "stream: usage reported");
    is_str(f.ctx.text.p, "Hello!", "stream: text kept for counting");
    size_t len = out.len;
    ok(provider_ollama.parse_event(&f.ctx, "", STREAM[0], strlen(STREAM[0]), &out, &err) == 0 &&
           provider_ollama.parse_event(&f.ctx, "", NULL, 0, &out, &err) == 0 && out.len == len,
       "stream: nothing follows the done line");
    fixture_fini(&f);
}

static void test_stream_length_and_error(void)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    struct frames fr;
    const char *const len_lines[] = {
        "{\"message\":{\"role\":\"assistant\",\"content\":\"abc\"},\"done\":false}",
        "",
        ("{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"length\","
         "\"done\":true,\"prompt_eval_count\":5,\"eval_count\":1}"),
    };

    fixture_init(&f, RELAY_CHAT, "{\"model\":\"llama3.2\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    is_int(feed(&f, len_lines, 3, &out, &err), 0, "length stream: parsed, blank line ignored");
    ok(split_frames(f.a, out.p ? out.p : "", &fr) && fr.n == 2, "length stream: two chunks");
    if (fr.n == 2)
        is_str(at(f.a, fr.f[1], "choices.0.finish_reason"), "length",
               "length stream: done_reason length -> length");
    fixture_fini(&f);

    const char *const err_lines[] = {
        "{\"message\":{\"role\":\"assistant\",\"content\":\"abc\"},\"done\":false}",
        "{\"error\":\"model runner crashed\"}",
    };
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"llama3.2\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    memset(&err, 0, sizeof err);
    is_int(feed(&f, err_lines, 2, &out, &err), -1, "error line: a mid-stream error");
    is_str(err.message, "model runner crashed", "error line: Ollama's message");
    fixture_fini(&f);

    /* An upstream that closes without a done line still gets a finishing chunk. */
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"llama3.2\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    feed(&f, err_lines, 1, &out, &err);
    is_int(provider_ollama.parse_event(&f.ctx, "", NULL, 0, &out, &err), 0, "eof: handled");
    ok(f.ctx.finished && split_frames(f.a, out.p, &fr) && fr.n == 2 &&
           strcmp(at(f.a, fr.f[1], "choices.0.finish_reason"), "stop") == 0,
       "eof: the choice is closed with stop");
    fixture_fini(&f);
}

static void test_nonstream(void)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    const char *body =
        "{\"model\": \"llama3.2\", \"created_at\": \"2024-11-05T10:00:00.100000Z\", \"message\": "
        "{\"role\": \"assistant\", \"content\": \"Hello!\"}, \"done_reason\": \"stop\", \"done\": "
        "true, \"total_duration\": 512000000, \"prompt_eval_count\": 26, \"eval_count\": 3}";

    fixture_init(&f, RELAY_CHAT, "{\"model\":\"llama3.2\",\"messages\":[]}", 0, 0);
    sb_init(&out, f.a);
    is_int(provider_ollama.parse_response(&f.ctx, body, strlen(body), &out, &err), 0,
           "non-stream: parsed");
    ok(json_same(at(f.a, out.p, "choices.0.message"),
                 "{\"role\":\"assistant\",\"content\":\"Hello!\"}"),
       "non-stream: the message as is");
    is_str(at(f.a, out.p, "choices.0.finish_reason"), "stop", "non-stream: finish stop");
    is_str(at(f.a, out.p, "object"), "chat.completion", "non-stream: a chat.completion");
    ok(json_same(at(f.a, out.p, "usage"),
                 "{\"prompt_tokens\":26,\"completion_tokens\":3,\"total_tokens\":29}"),
       "non-stream: usage 26/3/29");
    fixture_fini(&f);

    const char *len_body = "{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},"
                           "\"done_reason\":\"length\",\"done\":true,\"prompt_eval_count\":26,"
                           "\"eval_count\":1}";
    fixture_init(&f, RELAY_CHAT, "{\"model\":\"llama3.2\",\"messages\":[]}", 0, 0);
    sb_init(&out, f.a);
    provider_ollama.parse_response(&f.ctx, len_body, strlen(len_body), &out, &err);
    is_str(at(f.a, out.p, "choices.0.finish_reason"), "length", "non-stream: length");
    fixture_fini(&f);
}

static void test_tool_calls(void)
{
    struct fixture f;
    struct prov_error err;
    struct strbuf out;
    const char *body =
        "{\"model\": \"llama3.2\", \"created_at\": \"2024-11-05T10:00:01Z\", \"message\": "
        "{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"function\": {\"name\": "
        "\"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]}, \"done_reason\": \"stop\", "
        "\"done\": true, \"prompt_eval_count\": 120, \"eval_count\": 18}";

    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"}],"
                 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}",
                 0, 0);
    sb_init(&out, f.a);
    is_int(provider_ollama.parse_response(&f.ctx, body, strlen(body), &out, &err), 0,
           "tool call: parsed");
    const char *id = at(f.a, out.p, "choices.0.message.tool_calls.0.id");
    ok(id && strncmp(id, "call_", 5) == 0 && strlen(id) > 5, "tool call: an id is generated");
    is_str(at(f.a, out.p, "choices.0.message.tool_calls.0.type"), "function",
           "tool call: type function");
    is_str(at(f.a, out.p, "choices.0.message.tool_calls.0.function.name"), "get_weather",
           "tool call: name");
    is_str(at(f.a, out.p, "choices.0.message.tool_calls.0.function.arguments"),
           "{\"city\":\"Paris\"}", "tool call: arguments as JSON text");
    is_str(at(f.a, out.p, "choices.0.finish_reason"), "tool_calls", "tool call: finish");
    fixture_fini(&f);

    /* The assistant's call going back upstream takes Ollama's object arguments. */
    struct prov_request rq;
    fixture_init(&f, RELAY_CHAT,
                 "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"assistant\",\"content\":null,"
                 "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
                 "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":"
                 "\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]}",
                 0, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), 0, "tool turn: built");
    ok(json_same(at(f.a, rq.body, "messages"),
                 "[{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{"
                 "\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},{\"role\":"
                 "\"tool\",\"content\":\"sunny\",\"tool_name\":\"get_weather\"}]"),
       "tool turn: arguments become an object, the tool result names its function");
    fixture_fini(&f);
}

static void test_embeddings(void)
{
    struct fixture f;
    struct prov_request rq;
    struct prov_error err;
    struct strbuf out;
    const char *body = "{\"model\":\"nomic-embed-text\",\"embeddings\":[[0.1,0.2,0.3],[0.4,0.5,"
                       "0.6]],\"total_duration\":14143917,\"load_duration\":1019500,"
                       "\"prompt_eval_count\":4}";

    fixture_init(&f, RELAY_EMBEDDINGS,
                 "{\"model\":\"nomic-embed-text\",\"input\":[\"hello\",\"world\"]}", 0, 0);
    memset(&rq, 0, sizeof rq);
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), 0, "embeddings: built");
    is_str(rq.url, "http://localhost:11434/api/embed", "embeddings: POST /api/embed");
    ok(json_same(rq.body, "{\"model\":\"nomic-embed-text\",\"input\":[\"hello\",\"world\"]}"),
       "embeddings: upstream body");
    sb_init(&out, f.a);
    is_int(provider_ollama.parse_response(&f.ctx, body, strlen(body), &out, &err), 0,
           "embeddings: parsed");
    ok(json_same(out.p, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":[0.1,0.2,0.3]},{\"object\":\"embedding\",\"index\":1,"
                        "\"embedding\":[0.4,0.5,0.6]}],\"model\":\"nomic-embed-text\","
                        "\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}"),
       "embeddings: OpenAI list with an index per item and prompt_eval_count as usage");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 4,
       "embeddings: usage reported for billing");
    fixture_fini(&f);

    fixture_init(&f, RELAY_EMBEDDINGS,
                 "{\"model\":\"nomic-embed-text\",\"input\":\"hi\",\"encoding_format\":"
                 "\"base64\"}",
                 0, 0);
    sb_init(&out, f.a);
    const char *one = "{\"embeddings\":[[1.0]],\"prompt_eval_count\":1}";
    is_int(provider_ollama.parse_response(&f.ctx, one, strlen(one), &out, &err), 0,
           "base64 embeddings: parsed");
    /* 1.0f is 00 00 80 3f little-endian. */
    is_str(at(f.a, out.p, "data.0.embedding"), "AACAPw==", "base64 embeddings: float32 LE");
    fixture_fini(&f);
}

static void test_errors(void)
{
    struct fixture f;
    struct prov_error err;
    const char *body = "{\"error\":\"model \\\"llama3.2\\\" not found, try pulling it first\"}";

    fixture_init(&f, RELAY_CHAT, "{\"model\":\"llama3.2\",\"messages\":[]}", 0, 0);
    memset(&err, 0, sizeof err);
    provider_ollama.parse_error(&f.ctx, 404, body, strlen(body), &err);
    is_int(err.status, 404, "error: the upstream status is kept");
    is_str(err.message, "model \"llama3.2\" not found, try pulling it first",
           "error: Ollama's message");
    is_str(err.type, "ollama_error", "error: type ollama_error");
    memset(&err, 0, sizeof err);
    provider_ollama.parse_error(&f.ctx, 502, "<html>", 6, &err);
    is_int(err.status, 502, "unreadable error: status kept");
    is_str(err.message, "bad response status code 502", "unreadable error: One API's text");
    fixture_fini(&f);

    struct prov_request rq;
    fixture_init(&f, RELAY_IMAGES, "{\"model\":\"llama3.2\",\"prompt\":\"x\"}", 0, 0);
    memset(&err, 0, sizeof err);
    is_int(provider_ollama.build_request(&f.ctx, &rq, &err), -1, "images: refused");
    is_int(err.status, 400, "images: a 400");
    fixture_fini(&f);
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
