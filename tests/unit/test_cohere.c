/* Checks providers/cohere.c: the Cohere v1 chat vectors (request, NDJSON stream, non-stream
 * answer, length limit, error) and the conversions around them. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/cohere.h"
#include "providers/provider.h"
#include "prov_fixture.h"

/* The gateway clock the vectors assume. */
#define CREATED 1730000000

/* The client request of the vectors; %s is "true" or "false" for stream. */
#define VEC_REQUEST                                                                                \
    "{\"model\": \"command-r\", \"messages\": [{\"role\": \"system\", \"content\": \"You are a "   \
    "translator.\"}, {\"role\": \"user\", \"content\": \"Say hello\"}, {\"role\": \"assistant\", " \
    "\"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \"And in French?\"}], "           \
    "\"max_tokens\": 100, \"stream\": %s}"

/* The upstream answer of the vectors; %s is the finish reason. */
#define VEC_RESPONSE                                                                               \
    "{\"response_id\":\"7b1f2a9e-2c55-4c36-9f43-3d3b1c2a9e10\",\"text\":\"Bonjour !\","            \
    "\"generation_id\":\"1e0c5f7a-8b0e-4a51-a2f8-6a9b3c2d1e00\",\"chat_history\":[{\"role\":"      \
    "\"USER\",\"message\":\"Say hello\"},{\"role\":\"CHATBOT\",\"message\":\"Hello!\"},{"          \
    "\"role\":\"USER\",\"message\":\"And in French?\"},{\"role\":\"CHATBOT\",\"message\":"         \
    "\"Bonjour !\"}],\"finish_reason\":\"%s\",\"meta\":{\"api_version\":{\"version\":\"1\"},"      \
    "\"billed_units\":{\"input_tokens\":12,\"output_tokens\":4},\"tokens\":{\"input_tokens\":78,"  \
    "\"output_tokens\":4}}}"

/* A Cohere channel (type 35) at its default base. */
static const struct prov_fixture_spec COHERE = {
    .prov = &provider_cohere,
    .ch = {.id = 9,
           .type = 35,
           .key = "co-test-key",
           .base_url = "https://api.cohere.ai",
           .config = ""},
    .request_id = "req123",
    .created = CREATED,
};

/* The upstream body built for req_json, or "<error N: msg>". */
static const char *build(struct prov_fixture *f, const char *req_json)
{
    prov_fixture_init(f, &COHERE, RELAY_CHAT, NULL, req_json);
    return prov_fixture_build_text(f);
}

static void test_request_vector(void)
{
    struct prov_fixture f;
    char req[1024];

    snprintf(req, sizeof req, VEC_REQUEST, "true");
    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, req);
    ok(prov_fixture_build(&f) == 0, "vector request builds");
    ok(prov_fixture_json_eq(
           f.rq.body,
           "{\"model\": \"command-r\", \"message\": \"And in French?\", \"preamble\": \"You "
           "are a translator.\", \"chat_history\": [{\"role\": \"USER\", \"message\": \"Say "
           "hello\"}, {\"role\": \"CHATBOT\", \"message\": \"Hello!\"}], \"max_tokens\": "
           "100, \"stream\": true}"),
       "vector: system -> preamble, last user -> message, earlier turns -> chat_history");
    is_str(f.rq.url, "https://api.cohere.ai/v1/chat", "POST {base}/v1/chat");
    ok(prov_fixture_has_header(&f.rq, "Authorization: Bearer co-test-key"),
       "the key goes as a Bearer token");
    prov_fixture_free(&f);
}

static void test_request_conversions(void)
{
    struct prov_fixture f;

    const char *b =
        build(&f, "{\"model\":\"command-r-plus-internet\",\"messages\":[{\"role\":"
                  "\"user\",\"content\":\"one\"},{\"role\":\"user\",\"content\":[{\"type\":"
                  "\"text\",\"text\":\"two\"},{\"type\":\"image_url\",\"image_url\":{"
                  "\"url\":\"data:image/png;base64,AA==\"}},{\"type\":\"text\",\"text\":"
                  "\"three\"}]}],\"top_p\":0.5,\"top_k\":7,\"stop\":\"END\",\"seed\":3,"
                  "\"temperature\":0.25}");
    ok(prov_fixture_json_eq(
           b, "{\"model\":\"command-r-plus\",\"message\":\"two\\nthree\",\"chat_history\":[{"
              "\"role\":\"USER\",\"message\":\"one\"}],\"temperature\":0.25,\"p\":0.5,"
              "\"k\":7,\"seed\":3,\"stop_sequences\":[\"END\"],\"stream\":false,"
              "\"connectors\":[{\"id\":\"web-search\"}]}"),
       "-internet suffix stripped with the web-search connector; earlier user turns kept; text "
       "parts joined; top_p/top_k/stop mapped");
    prov_fixture_free(&f);

    b = build(&f, "{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    ok(prov_fixture_json_eq(b, "{\"model\":\"command-r\",\"message\":\"hi\",\"stream\":false}"),
       "an empty model becomes command-r");
    prov_fixture_free(&f);

    b = build(&f,
              "{\"model\":\"command-r\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}");
    ok(!strncmp(b, "<error 400", 10), "no user message: 400 (%s)", b);
    prov_fixture_free(&f);

    b = build(&f, "{\"model\":\"command-r\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":"
                  "\"x\"}]}");
    ok(!strncmp(b, "<error 400", 10), "n > 1: 400 (%s)", b);
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL,
                      "{\"model\":\"embed-english-v3.0\",\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) == -1 && f.err.status == 400, "embeddings are refused with 400");
    prov_fixture_free(&f);
}

static void test_response_vectors(void)
{
    static const struct {
        const char *reason, *want;
    } cases[] = {{"COMPLETE", "stop"},
                 {"MAX_TOKENS", "length"},
                 {"ERROR_TOXIC", "content_filter"},
                 {"SOMETHING_NEW", "stop"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct prov_fixture f;
        char body[2048], want[1024];

        snprintf(body, sizeof body, VEC_RESPONSE, cases[i].reason);
        prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL,
                          "{\"model\":\"command-r\",\"messages\":[]}");
        ok(prov_fixture_answer(&f, body) == 0, "%s: the answer converts", cases[i].reason);
        snprintf(want, sizeof want,
                 "{\"id\":\"chatcmpl-7b1f2a9e-2c55-4c36-9f43-3d3b1c2a9e10\",\"object\":"
                 "\"chat.completion\",\"created\":%d,\"model\":\"command-r\",\"choices\":[{"
                 "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Bonjour !\"},"
                 "\"finish_reason\":\"%s\"}],\"usage\":{\"prompt_tokens\":12,"
                 "\"completion_tokens\":4,\"total_tokens\":16}}",
                 CREATED, cases[i].want);
        ok(prov_fixture_json_eq(f.out.p, want), "%s -> finish_reason %s, billed_units usage",
           cases[i].reason, cases[i].want);
        ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
               f.ctx.usage.completion_tokens == 4,
           "%s: usage 12/4 reported to the core", cases[i].reason);
        prov_fixture_free(&f);
    }
}

static void test_response_tools_and_errors(void)
{
    struct prov_fixture f;
    const char *body = "{\"response_id\":\"r1\",\"text\":\"\",\"finish_reason\":\"COMPLETE\","
                       "\"tool_calls\":[{\"name\":\"get_weather\",\"parameters\":{\"city\":"
                       "\"Paris\"}}],\"meta\":{\"tokens\":{\"input_tokens\":20,"
                       "\"output_tokens\":9}}}";

    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    ok(prov_fixture_answer(&f, body) == 0, "a tool-call answer converts");
    ok(prov_fixture_json_eq(
           f.out.p, arena_printf(f.a,
                                 "{\"id\":\"chatcmpl-r1\",\"object\":\"chat.completion\","
                                 "\"created\":%d,\"model\":\"command-r\",\"choices\":[{"
                                 "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                                 "null,\"tool_calls\":[{\"id\":\"call_0\",\"type\":"
                                 "\"function\",\"function\":{\"name\":\"get_weather\","
                                 "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                                 "\"finish_reason\":\"tool_calls\"}],\"usage\":{"
                                 "\"prompt_tokens\":20,\"completion_tokens\":9,"
                                 "\"total_tokens\":29}}",
                                 CREATED)),
       "tool calls get call_<n> ids and JSON arguments; meta.tokens without billed_units");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    const char *e = "{\"message\":\"invalid api token\"}";
    prov_fixture_error(&f, 401, e);
    ok(f.err.status == 401 && f.err.message && !strcmp(f.err.message, "invalid api token"),
       "HTTP 401 {message} -> 401 with that message (%d %s)", f.err.status,
       f.err.message ? f.err.message : "(null)");
    e = "{\"message\":\"You are using a Trial key, which is limited to 10 API calls / minute.\"}";
    prov_fixture_error(&f, 429, e);
    ok(f.err.status == 429 && f.err.message && strstr(f.err.message, "Trial key"),
       "HTTP 429 keeps its status (the core retries it) and message");
    ok(prov_fixture_answer(&f, e) == -1 && f.err.message && strstr(f.err.message, "Trial key"),
       "a 2xx body with only a message is an error");
    prov_fixture_free(&f);
}

static const char *const vec_stream[] = {
    "{\"is_finished\":false,\"event_type\":\"stream-start\",\"generation_id\":\"1e0c5f7a-8b0e-"
    "4a51-a2f8-6a9b3c2d1e00\"}",
    "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":\"Bon\"}",
    "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":\"jour\"}",
    "{\"is_finished\":false,\"event_type\":\"text-generation\",\"text\":\" !\"}\r",
    NULL, /* stream-end, built from VEC_RESPONSE */
};

static void test_stream_vector(void)
{
    struct prov_fixture f;
    char end[2400], resp[2048];
    struct prov_fixture_events fr;
    int rc = 0;

    snprintf(resp, sizeof resp, VEC_RESPONSE, "COMPLETE");
    snprintf(end, sizeof end,
             "{\"is_finished\":true,\"event_type\":\"stream-end\",\"finish_reason\":\"COMPLETE\","
             "\"response\":%s}",
             resp);
    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    f.ctx.include_usage = 1;
    for (int i = 0; i < 5; i++) {
        const char *l = vec_stream[i] ? vec_stream[i] : end;
        rc |= prov_fixture_feed(&f, NULL, l);
    }
    ok(rc == 0 && f.ctx.finished, "the stream converts and stream-end finishes it");
    int n = prov_fixture_split_sse(f.a, f.out.p, &fr);
    is_int(n, 6, "role, three contents, finish, usage");
    if (n == 6) {
        const char *head = "{\"id\":\"chatcmpl-1e0c5f7a-8b0e-4a51-a2f8-6a9b3c2d1e00\",\"object\":"
                           "\"chat.completion.chunk\",\"created\":1730000000,\"model\":"
                           "\"command-r\",";
        ok(prov_fixture_json_eq(fr.data[0],
                                arena_printf(f.a,
                                             "%s\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                                             "\"assistant\",\"content\":\"\"},\"finish_reason\":"
                                             "null}]}",
                                             head)),
           "stream-start -> role chunk");
        const char *want[] = {"Bon", "jour", " !"};
        for (int i = 0; i < 3; i++)
            ok(prov_fixture_json_eq(fr.data[1 + i],
                                    arena_printf(f.a,
                                                 "%s\"choices\":[{\"index\":0,\"delta\":{"
                                                 "\"content\":\"%s\"},\"finish_reason\":null}]}",
                                                 head, want[i])),
               "text-generation -> content \"%s\"", want[i]);
        ok(prov_fixture_json_eq(fr.data[4], arena_printf(f.a,
                                                         "%s\"choices\":[{\"index\":0,\"delta\":{},"
                                                         "\"finish_reason\":\"stop\"}]}",
                                                         head)),
           "stream-end -> finish_reason stop");
        ok(prov_fixture_json_eq(fr.data[5],
                                arena_printf(f.a,
                                             "%s\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
                                             "\"completion_tokens\":4,\"total_tokens\":16}}",
                                             head)),
           "usage chunk from billed_units: 12/4/16");
    }
    is_str(f.ctx.text.p, "Bonjour !", "the generated text is kept for counting");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 4,
       "usage 12/4 reported to the core");
    prov_fixture_free(&f);
}

static void test_stream_edges(void)
{
    struct prov_fixture f;
    struct prov_fixture_events fr;

    /* Cut after the first text: the close (data NULL) still finishes the choice. */
    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    prov_fixture_feed(&f, NULL, vec_stream[1]);
    ok(prov_fixture_feed(&f, "", NULL) == 0 && f.ctx.finished, "EOF without stream-end finishes");
    int n = prov_fixture_split_sse(f.a, f.out.p, &fr);
    ok(n == 3 && strstr(fr.data[0], "\"role\":\"assistant\"") && strstr(fr.data[1], "\"Bon\"") &&
           strstr(fr.data[2], "\"finish_reason\":\"stop\""),
       "role chunk even without stream-start; finish stop at EOF");
    ok(!f.ctx.usage.has_usage, "no usage reported: the core counts");
    prov_fixture_free(&f);

    /* Length limit, tool calls, and an error line. */
    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    const char *tc = "{\"event_type\":\"tool-calls-generation\",\"tool_calls\":[{\"name\":\"f\","
                     "\"parameters\":{\"a\":1}}]}";
    const char *se = "{\"event_type\":\"stream-end\",\"finish_reason\":\"MAX_TOKENS\"}";
    prov_fixture_feed(&f, NULL, tc);
    ok(strstr(f.out.p, "\"tool_calls\":[{\"index\":0,\"id\":\"call_0\",\"type\":\"function\","
                       "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]") != NULL,
       "tool-calls-generation -> a whole tool call delta");
    sb_reset(&f.out);
    prov_fixture_feed(&f, NULL, se);
    ok(strstr(f.out.p, "\"finish_reason\":\"tool_calls\"") != NULL,
       "a stream with tool calls finishes with tool_calls");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    prov_fixture_feed(&f, NULL, se);
    ok(strstr(f.out.p, "\"finish_reason\":\"length\"") != NULL, "MAX_TOKENS -> length in a stream");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COHERE, RELAY_CHAT, NULL, "{\"model\":\"command-r\",\"messages\":[]}");
    f.ctx.is_stream = 1;
    const char *bad = "{\"message\":\"internal failure\"}";
    ok(prov_fixture_feed(&f, NULL, bad) == -1 && f.err.message &&
           !strcmp(f.err.message, "internal failure"),
       "an error object mid-stream fails the stream with its message");
    ok(prov_fixture_feed(&f, NULL, "{oops") == -1, "a broken line fails the stream");
    prov_fixture_free(&f);
}

int main(void)
{
    test_request_vector();
    test_request_conversions();
    test_response_vectors();
    test_response_tools_and_errors();
    test_stream_vector();
    test_stream_edges();
    return done_testing();
}
