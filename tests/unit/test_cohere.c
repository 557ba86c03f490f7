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
#include "tap.h"

/* The gateway clock the vectors assume. */
#define CREATED 1730000000
/* Most frames one test stream produces. */
#define MAX_FRAMES 32

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

struct fixture {
    struct arena *a;
    struct prov_channel ch;
    struct prov_ctx ctx;
    struct json_object *req; /* owned */
};

static void fixture_init(struct fixture *f, const char *req_json, int is_stream, int include_usage)
{
    memset(f, 0, sizeof *f);
    f->a = arena_new(8192);
    f->ch.id = 9;
    f->ch.type = 35;
    f->ch.key = "co-test-key";
    f->ch.base_url = "https://api.cohere.ai";
    f->ch.api_version = "";
    f->ch.config = "";
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = RELAY_CHAT;
    f->ctx.ch = &f->ch;
    f->ctx.req = f->req;
    f->ctx.is_stream = is_stream;
    f->ctx.include_usage = include_usage;
    f->ctx.request_id = "req123";
    f->ctx.created = CREATED;
    const char *m = f->req ? json_object_get_string(json_object_object_get(f->req, "model")) : "";
    f->ctx.model = arena_strdup(f->a, m ? m : "");
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

/* The upstream body built for req_json (in f's arena), or "<error N: msg>". */
static const char *build(struct fixture *f, const char *req_json, struct prov_request *out)
{
    struct prov_error err = {0};

    fixture_init(f, req_json, 0, 0);
    memset(out, 0, sizeof *out);
    if (provider_cohere.build_request(&f->ctx, out, &err) != 0)
        return arena_printf(f->a, "<error %d: %s>", err.status, err.message);
    return out->body;
}

/* Splits "data: X\n\n" frames into fr (at most MAX_FRAMES); the count, or -1 when malformed. */
static int split_frames(struct arena *a, const char *s, char **fr)
{
    int n = 0;

    while (s && *s) {
        const char *end;

        if (strncmp(s, "data: ", 6) != 0 || n == MAX_FRAMES)
            return -1;
        s += 6;
        end = strstr(s, "\n\n");
        if (!end)
            return -1;
        fr[n++] = arena_strndup(a, s, (size_t)(end - s));
        s = end + 2;
    }
    return n;
}

static void test_request_vector(void)
{
    struct fixture f;
    struct prov_request out;
    char req[1024];

    snprintf(req, sizeof req, VEC_REQUEST, "true");
    fixture_init(&f, req, 1, 0);
    memset(&out, 0, sizeof out);
    struct prov_error err = {0};
    ok(provider_cohere.build_request(&f.ctx, &out, &err) == 0, "vector request builds");
    ok(json_same(out.body,
                 "{\"model\": \"command-r\", \"message\": \"And in French?\", \"preamble\": \"You "
                 "are a translator.\", \"chat_history\": [{\"role\": \"USER\", \"message\": \"Say "
                 "hello\"}, {\"role\": \"CHATBOT\", \"message\": \"Hello!\"}], \"max_tokens\": "
                 "100, \"stream\": true}"),
       "vector: system -> preamble, last user -> message, earlier turns -> chat_history");
    is_str(out.url, "https://api.cohere.ai/v1/chat", "POST {base}/v1/chat");
    int has_auth = 0;
    for (int i = 0; i < out.n_headers; i++)
        has_auth |= !strcmp(out.headers[i], "Authorization: Bearer co-test-key");
    ok(has_auth, "the key goes as a Bearer token");
    fixture_fini(&f);
}

static void test_request_conversions(void)
{
    struct fixture f;
    struct prov_request out;

    const char *b = build(&f,
                          "{\"model\":\"command-r-plus-internet\",\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"one\"},{\"role\":\"user\",\"content\":[{\"type\":"
                          "\"text\",\"text\":\"two\"},{\"type\":\"image_url\",\"image_url\":{"
                          "\"url\":\"data:image/png;base64,AA==\"}},{\"type\":\"text\",\"text\":"
                          "\"three\"}]}],\"top_p\":0.5,\"top_k\":7,\"stop\":\"END\",\"seed\":3,"
                          "\"temperature\":0.25}",
                          &out);
    ok(json_same(b, "{\"model\":\"command-r-plus\",\"message\":\"two\\nthree\",\"chat_history\":[{"
                    "\"role\":\"USER\",\"message\":\"one\"}],\"temperature\":0.25,\"p\":0.5,"
                    "\"k\":7,\"seed\":3,\"stop_sequences\":[\"END\"],\"stream\":false,"
                    "\"connectors\":[{\"id\":\"web-search\"}]}"),
       "-internet suffix stripped with the web-search connector; earlier user turns kept; text "
       "parts joined; top_p/top_k/stop mapped");
    fixture_fini(&f);

    b = build(&f, "{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &out);
    ok(json_same(b, "{\"model\":\"command-r\",\"message\":\"hi\",\"stream\":false}"),
       "an empty model becomes command-r");
    fixture_fini(&f);

    b = build(&f,
              "{\"model\":\"command-r\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
              &out);
    ok(!strncmp(b, "<error 400", 10), "no user message: 400 (%s)", b);
    fixture_fini(&f);

    b = build(&f,
              "{\"model\":\"command-r\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":"
              "\"x\"}]}",
              &out);
    ok(!strncmp(b, "<error 400", 10), "n > 1: 400 (%s)", b);
    fixture_fini(&f);

    fixture_init(&f, "{\"model\":\"embed-english-v3.0\",\"input\":\"x\"}", 0, 0);
    f.ctx.mode = RELAY_EMBEDDINGS;
    struct prov_error err = {0};
    memset(&out, 0, sizeof out);
    ok(provider_cohere.build_request(&f.ctx, &out, &err) == -1 && err.status == 400,
       "embeddings are refused with 400");
    fixture_fini(&f);
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
        struct fixture f;
        struct strbuf out;
        struct prov_error err = {0};
        char body[2048], want[1024];

        snprintf(body, sizeof body, VEC_RESPONSE, cases[i].reason);
        fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 0, 0);
        sb_init(&out, f.a);
        ok(provider_cohere.parse_response(&f.ctx, body, strlen(body), &out, &err) == 0,
           "%s: the answer converts", cases[i].reason);
        snprintf(want, sizeof want,
                 "{\"id\":\"chatcmpl-7b1f2a9e-2c55-4c36-9f43-3d3b1c2a9e10\",\"object\":"
                 "\"chat.completion\",\"created\":%d,\"model\":\"command-r\",\"choices\":[{"
                 "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Bonjour !\"},"
                 "\"finish_reason\":\"%s\"}],\"usage\":{\"prompt_tokens\":12,"
                 "\"completion_tokens\":4,\"total_tokens\":16}}",
                 CREATED, cases[i].want);
        ok(json_same(out.p, want), "%s -> finish_reason %s, billed_units usage", cases[i].reason,
           cases[i].want);
        ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
               f.ctx.usage.completion_tokens == 4,
           "%s: usage 12/4 reported to the core", cases[i].reason);
        fixture_fini(&f);
    }
}

static void test_response_tools_and_errors(void)
{
    struct fixture f;
    struct strbuf out;
    struct prov_error err = {0};
    const char *body = "{\"response_id\":\"r1\",\"text\":\"\",\"finish_reason\":\"COMPLETE\","
                       "\"tool_calls\":[{\"name\":\"get_weather\",\"parameters\":{\"city\":"
                       "\"Paris\"}}],\"meta\":{\"tokens\":{\"input_tokens\":20,"
                       "\"output_tokens\":9}}}";

    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 0, 0);
    sb_init(&out, f.a);
    ok(provider_cohere.parse_response(&f.ctx, body, strlen(body), &out, &err) == 0,
       "a tool-call answer converts");
    ok(json_same(out.p, arena_printf(f.a,
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
    fixture_fini(&f);

    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 0, 0);
    const char *e = "{\"message\":\"invalid api token\"}";
    memset(&err, 0, sizeof err);
    provider_parse_error(&provider_cohere, &f.ctx, 401, e, strlen(e), &err);
    ok(err.status == 401 && err.message && !strcmp(err.message, "invalid api token"),
       "HTTP 401 {message} -> 401 with that message (%d %s)", err.status,
       err.message ? err.message : "(null)");
    e = "{\"message\":\"You are using a Trial key, which is limited to 10 API calls / minute.\"}";
    memset(&err, 0, sizeof err);
    provider_parse_error(&provider_cohere, &f.ctx, 429, e, strlen(e), &err);
    ok(err.status == 429 && err.message && strstr(err.message, "Trial key"),
       "HTTP 429 keeps its status (the core retries it) and message");
    sb_init(&out, f.a);
    memset(&err, 0, sizeof err);
    ok(provider_cohere.parse_response(&f.ctx, e, strlen(e), &out, &err) == -1 && err.message &&
           strstr(err.message, "Trial key"),
       "a 2xx body with only a message is an error");
    fixture_fini(&f);
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
    struct fixture f;
    struct strbuf out;
    struct prov_error err = {0};
    char end[2400], resp[2048];
    char *fr[MAX_FRAMES];
    int rc = 0;

    snprintf(resp, sizeof resp, VEC_RESPONSE, "COMPLETE");
    snprintf(end, sizeof end,
             "{\"is_finished\":true,\"event_type\":\"stream-end\",\"finish_reason\":\"COMPLETE\","
             "\"response\":%s}",
             resp);
    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 1, 1);
    sb_init(&out, f.a);
    for (int i = 0; i < 5; i++) {
        const char *l = vec_stream[i] ? vec_stream[i] : end;
        rc |= provider_cohere.parse_event(&f.ctx, NULL, l, strlen(l), &out, &err);
    }
    ok(rc == 0 && f.ctx.finished, "the stream converts and stream-end finishes it");
    int n = split_frames(f.a, out.p, fr);
    is_int(n, 6, "role, three contents, finish, usage");
    if (n == 6) {
        const char *head = "{\"id\":\"chatcmpl-1e0c5f7a-8b0e-4a51-a2f8-6a9b3c2d1e00\",\"object\":"
                           "\"chat.completion.chunk\",\"created\":1730000000,\"model\":"
                           "\"command-r\",";
        ok(json_same(fr[0], arena_printf(f.a,
                                         "%s\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                                         "\"assistant\",\"content\":\"\"},\"finish_reason\":"
                                         "null}]}",
                                         head)),
           "stream-start -> role chunk");
        const char *want[] = {"Bon", "jour", " !"};
        for (int i = 0; i < 3; i++)
            ok(json_same(fr[1 + i], arena_printf(f.a,
                                                 "%s\"choices\":[{\"index\":0,\"delta\":{"
                                                 "\"content\":\"%s\"},\"finish_reason\":null}]}",
                                                 head, want[i])),
               "text-generation -> content \"%s\"", want[i]);
        ok(json_same(fr[4], arena_printf(f.a,
                                         "%s\"choices\":[{\"index\":0,\"delta\":{},"
                                         "\"finish_reason\":\"stop\"}]}",
                                         head)),
           "stream-end -> finish_reason stop");
        ok(json_same(fr[5], arena_printf(f.a,
                                         "%s\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
                                         "\"completion_tokens\":4,\"total_tokens\":16}}",
                                         head)),
           "usage chunk from billed_units: 12/4/16");
    }
    is_str(f.ctx.text.p, "Bonjour !", "the generated text is kept for counting");
    ok(f.ctx.usage.has_usage && f.ctx.usage.prompt_tokens == 12 &&
           f.ctx.usage.completion_tokens == 4,
       "usage 12/4 reported to the core");
    fixture_fini(&f);
}

static void test_stream_edges(void)
{
    struct fixture f;
    struct strbuf out;
    struct prov_error err = {0};
    char *fr[MAX_FRAMES];

    /* Cut after the first text: the close (data NULL) still finishes the choice. */
    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    provider_cohere.parse_event(&f.ctx, NULL, vec_stream[1], strlen(vec_stream[1]), &out, &err);
    ok(provider_cohere.parse_event(&f.ctx, "", NULL, 0, &out, &err) == 0 && f.ctx.finished,
       "EOF without stream-end finishes");
    int n = split_frames(f.a, out.p, fr);
    ok(n == 3 && strstr(fr[0], "\"role\":\"assistant\"") && strstr(fr[1], "\"Bon\"") &&
           strstr(fr[2], "\"finish_reason\":\"stop\""),
       "role chunk even without stream-start; finish stop at EOF");
    ok(!f.ctx.usage.has_usage, "no usage reported: the core counts");
    fixture_fini(&f);

    /* Length limit, tool calls, and an error line. */
    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    const char *tc = "{\"event_type\":\"tool-calls-generation\",\"tool_calls\":[{\"name\":\"f\","
                     "\"parameters\":{\"a\":1}}]}";
    const char *se = "{\"event_type\":\"stream-end\",\"finish_reason\":\"MAX_TOKENS\"}";
    provider_cohere.parse_event(&f.ctx, NULL, tc, strlen(tc), &out, &err);
    ok(strstr(out.p, "\"tool_calls\":[{\"index\":0,\"id\":\"call_0\",\"type\":\"function\","
                     "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]") != NULL,
       "tool-calls-generation -> a whole tool call delta");
    sb_reset(&out);
    provider_cohere.parse_event(&f.ctx, NULL, se, strlen(se), &out, &err);
    ok(strstr(out.p, "\"finish_reason\":\"tool_calls\"") != NULL,
       "a stream with tool calls finishes with tool_calls");
    fixture_fini(&f);

    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    provider_cohere.parse_event(&f.ctx, NULL, se, strlen(se), &out, &err);
    ok(strstr(out.p, "\"finish_reason\":\"length\"") != NULL, "MAX_TOKENS -> length in a stream");
    fixture_fini(&f);

    fixture_init(&f, "{\"model\":\"command-r\",\"messages\":[]}", 1, 0);
    sb_init(&out, f.a);
    const char *bad = "{\"message\":\"internal failure\"}";
    ok(provider_cohere.parse_event(&f.ctx, NULL, bad, strlen(bad), &out, &err) == -1 &&
           err.message && !strcmp(err.message, "internal failure"),
       "an error object mid-stream fails the stream with its message");
    ok(provider_cohere.parse_event(&f.ctx, NULL, "{oops", 5, &out, &err) == -1,
       "a broken line fails the stream");
    fixture_fini(&f);
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
