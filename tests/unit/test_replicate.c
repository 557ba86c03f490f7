/* Checks providers/replicate.c: the prediction requests, the follow-ups it asks for (stream,
 * polls, downloads), the chat and image answers, stream events and Replicate's errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/replicate.h"
#include "prov_fixture.h"

#define CHAT_MODEL "meta/meta-llama-3-8b-instruct"
#define IMAGE_MODEL "black-forest-labs/flux-schnell"
#define BASE "https://api.replicate.com/v1/models"

/* A Replicate channel (type 46) at the default base. */
static const struct prov_fixture_spec REPLICATE = {
    .prov = &provider_replicate,
    .ch = {.id = 7,
           .type = 46,
           .key = "r8_KEY",
           .base_url = BASE,
           .is_default_base = 1,
           .config = "{}"},
};

static const char *const chat_req =
    "{\"model\":\"" CHAT_MODEL "\",\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}},"
    "{\"type\":\"text\",\"text\":\" there\"}]}],"
    "\"temperature\":0.5,\"stop\":[\"\\n\\n\",\"User:\"]}";

static void test_chat_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL, chat_req);
    is_int(prov_fixture_build(&f), 0, "chat: builds");
    is_str(f.rq.url, BASE "/" CHAT_MODEL "/predictions", "chat: POST {base}/{model}/predictions");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer r8_KEY", "chat: Bearer key");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"stream\":true,\"input\":{\"prompt\":\"system: Be brief.\\nuser: Hi there\\n\","
           "\"max_tokens\":500,\"temperature\":0.5,\"top_p\":1.0,\"presence_penalty\":0.0,"
           "\"frequency_penalty\":0.0,\"stop_sequences\":\"\\n\\n,User:\"}}"),
       "chat: role lines, defaults, the client's temperature, stop joined, stream true");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":42,"
                      "\"stop\":\"END\",\"stream\":true}");
    prov_fixture_build(&f);
    json_object *b = json_tokener_parse(arena_strndup(f.a, f.rq.body, f.rq.body_len));
    json_object *in = json_object_object_get(b, "input");
    is_int(json_object_get_int(json_object_object_get(in, "max_tokens")), 42,
           "chat: the client's max_tokens");
    is_str(json_object_get_string(json_object_object_get(in, "stop_sequences")), "END",
           "chat: a string stop as it is");
    json_object_put(b);
    prov_fixture_free(&f);
}

static void test_refusals(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, "gpt-4o", "{\"messages\":[]}");
    is_int(prov_fixture_build(&f), -1, "model: not a Replicate model fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "do_request_failed") &&
           strstr(f.err.message, "gpt-4o"),
       "model: 500 do_request_failed naming it (%s)", f.err.message);
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_EMBEDDINGS, CHAT_MODEL, "{\"input\":\"x\"}");
    is_int(prov_fixture_build(&f), -1, "mode: embeddings fail");
    is_str(f.err.code, "not_implemented", "mode: not_implemented");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_IMAGES, IMAGE_MODEL, "{\"prompt\":\"a cat\",\"n\":2}");
    is_int(prov_fixture_build(&f), -1, "images: n=2 is refused");
    ok(f.err.status == 400 && !strcmp(f.err.code, "n_not_within_range"), "images: 400 for n");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_IMAGES, IMAGE_MODEL,
                      "{\"prompt\":\"a cat\",\"response_format\":\"png\"}");
    is_int(prov_fixture_build(&f), -1, "images: unknown response_format");
    is_int(f.err.status, 400, "images: 400 for response_format");
    prov_fixture_free(&f);
}

static const char *const created_stream =
    "{\"id\":\"p1\",\"model\":\"" CHAT_MODEL "\",\"status\":\"starting\",\"output\":null,"
    "\"error\":null,\"urls\":{\"get\":\"https://api.replicate.com/v1/predictions/p1\","
    "\"cancel\":\"https://api.replicate.com/v1/predictions/p1/cancel\","
    "\"stream\":\"https://stream.replicate.com/v1/files/abc\"}}";

/* A client that does not stream: create, read the whole stream, answer once. */
static void test_chat_collected(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(&f, created_stream), PROV_FOLLOW_UP,
           "collected: creation asks a follow-up");
    ok(f.ctx.follow_up &&
           !strcmp(f.ctx.follow_up->url, "https://stream.replicate.com/v1/files/abc"),
       "collected: to urls.stream");
    ok(f.ctx.follow_up && !f.ctx.follow_up->body && f.ctx.follow_up->is_stream &&
           f.ctx.follow_up->delay_ms == 0,
       "collected: a GET of a stream, at once");
    is_str(prov_fixture_header(f.ctx.follow_up, "Authorization"), "Bearer r8_KEY",
           "collected: with the key");
    is_str(prov_fixture_header(f.ctx.follow_up, "Accept"), "text/event-stream",
           "collected: asking for SSE");
    is_int(prov_fixture_answer(&f, "event: output\nid: 1\ndata: Hello\n\n"
                                   "event: output\nid: 2\ndata:  wor\ndata: ld\n\n"
                                   "event: done\ndata: {}\n\n"),
           0, "collected: the stream is the answer");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
           "\"model\":\"" CHAT_MODEL "\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
           "\"assistant\",\"content\":\"Hello wor\\nld\"},\"finish_reason\":\"stop\"}]}"),
       "collected: one chat.completion, multi-line data joined by a newline");
    is_str(f.ctx.text.p, "Hello wor\nld", "collected: the text for counting");
    is_int(f.ctx.usage.has_usage, 0, "collected: no upstream usage: the gateway counts");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_build(&f);
    prov_fixture_answer(&f, created_stream);
    is_int(prov_fixture_answer(
               &f, "event: output\ndata: Hel\n\nevent: error\ndata: {\"detail\":\"CUDA out of "
                   "memory\"}\n\nevent: done\ndata: {\"reason\":\"error\"}\n\n"),
           -1, "collected: an error event fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "chat_task_failed") &&
           strstr(f.err.message, "CUDA out of memory"),
       "collected: chat_task_failed with the detail (%s)", f.err.message);
    prov_fixture_free(&f);
}

/* A streaming client: events become chunks as they come. */
static void test_chat_stream(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(&f, created_stream), PROV_FOLLOW_UP,
           "stream: creation asks for the stream");
    sb_reset(&f.out);
    is_int(prov_fixture_feed(&f, "output", "Hello"), 0, "stream: output");
    is_str(f.out.p,
           "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
           "1730000000,\"model\":\"" CHAT_MODEL "\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
           "\"assistant\",\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
           "stream: the first chunk has the role");
    sb_reset(&f.out);
    prov_fixture_feed(&f, "output", " you");
    ok(strstr(f.out.p, "{\"content\":\" you\"}") != NULL, "stream: later chunks only content");
    sb_reset(&f.out);
    prov_fixture_feed(&f, "", "ignored");
    is_int((int)f.out.len, 0, "stream: an unnamed event says nothing");
    is_int(prov_fixture_feed(&f, "done", "{}"), 0, "stream: done");
    ok(strstr(f.out.p, "\"delta\":{},\"finish_reason\":\"stop\"") && f.ctx.finished,
       "stream: done closes with stop and finishes");
    is_str(f.ctx.text.p, "Hello you", "stream: the text for counting");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(prov_fixture_feed(&f, "error", "{\"detail\":\"boom\"}"), -1,
           "stream: an error event fails");
    ok(!strcmp(f.err.code, "chat_task_failed") && strstr(f.err.message, "boom"),
       "stream: chat_task_failed with the detail");
    is_int(prov_fixture_feed(&f, "done", "{\"reason\":\"canceled\"}"), -1,
           "stream: done canceled fails");
    ok(f.err.message && strstr(f.err.message, "canceled"), "stream: the reason is said");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    prov_fixture_feed(&f, "output", "Hi");
    sb_reset(&f.out);
    is_int(prov_fixture_feed(&f, "", NULL), 0, "stream: closed without done");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") && f.ctx.finished,
       "stream: the last chunk is still sent");
    prov_fixture_free(&f);
}

/* A prediction without a stream URL is polled until it settles. */
static void test_chat_polled(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(
               &f, "{\"id\":\"p2\",\"status\":\"starting\",\"urls\":{\"get\":\"http://u/p2\"}}"),
           PROV_FOLLOW_UP, "poll: a running prediction is polled");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, "http://u/p2") &&
           f.ctx.follow_up->delay_ms == 1000 && !f.ctx.follow_up->is_stream &&
           !f.ctx.follow_up->body,
       "poll: GET urls.get after a second");
    is_int(prov_fixture_answer(
               &f, "{\"id\":\"p2\",\"status\":\"processing\",\"urls\":{\"get\":\"http://u/p2\"}}"),
           PROV_FOLLOW_UP, "poll: still processing: again");
    is_int(prov_fixture_answer(
               &f, "{\"id\":\"p2\",\"status\":\"succeeded\",\"output\":[\"Hel\",\"lo\"],"
                   "\"urls\":{\"get\":\"http://u/p2\"},\"metrics\":{\"predict_time\":1.5}}"),
           0, "poll: succeeded answers");
    ok(strstr(f.out.p, "\"content\":\"Hello\"") != NULL, "poll: the output array concatenated");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL,
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_build(&f);
    prov_fixture_answer(
        &f, "{\"id\":\"p3\",\"status\":\"starting\",\"urls\":{\"get\":\"http://u/p3\"}}");
    is_int(prov_fixture_answer(
               &f, "{\"id\":\"p3\",\"status\":\"failed\",\"error\":\"prompt too long\"}"),
           -1, "poll: failed fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "chat_task_failed") &&
           !strcmp(f.err.message, "task failed, [failed]prompt too long"),
       "poll: chat_task_failed, [status]error (%s)", f.err.message);
    prov_fixture_free(&f);
}

static void test_image_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_IMAGES, IMAGE_MODEL,
                      "{\"model\":\"" IMAGE_MODEL "\",\"prompt\":\"a cat\"}");
    is_int(prov_fixture_build(&f), 0, "image: builds");
    is_str(f.rq.url, BASE "/" IMAGE_MODEL "/predictions", "image: the model's predictions");
    json_object *b = json_tokener_parse(arena_strndup(f.a, f.rq.body, f.rq.body_len));
    json_object *in = json_object_object_get(b, "input");
    ok(json_object_is_type(json_object_object_get(in, "seed"), json_type_int), "image: a seed");
    json_object_object_del(in, "seed");
    ok(prov_fixture_json_eq_n(
           json_object_to_json_string(b), strlen(json_object_to_json_string(b)),
           "{\"input\":{\"prompt\":\"a cat\",\"width\":1440,\"height\":1440,\"aspect_ratio\":"
           "\"1:1\",\"steps\":25,\"guidance\":3,\"safety_tolerance\":5}}"),
       "image: the FLUX-style input, no stream");
    json_object_put(b);

    is_int(prov_fixture_answer(
               &f, "{\"id\":\"i1\",\"status\":\"starting\",\"urls\":{\"get\":\"http://u/i1\"}}"),
           PROV_FOLLOW_UP, "image: polled");
    is_int(prov_fixture_answer(&f, "{\"id\":\"i1\",\"status\":\"succeeded\",\"output\":"
                                   "[\"https://replicate.delivery/x/out-0.webp\"],\"urls\":{}}"),
           0, "image: succeeded answers");
    ok(prov_fixture_json_eq_n(f.out.p, f.out.len,
                              "{\"created\":1730000000,\"data\":[{\"url\":"
                              "\"https://replicate.delivery/x/out-0.webp\"}]}"),
       "image: OpenAI's shape with the url");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_IMAGES, IMAGE_MODEL,
                      "{\"prompt\":\"a cat\",\"response_format\":\"b64_json\"}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(
               &f, "{\"id\":\"i2\",\"status\":\"succeeded\",\"output\":\"https://d/o.png\"}"),
           PROV_FOLLOW_UP, "b64: a settled prediction asks for its image");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, "https://d/o.png") &&
           !prov_fixture_header(f.ctx.follow_up, "Authorization"),
       "b64: GET the output, without the key");
    is_int(prov_fixture_answer(&f, "\x89PNG"), 0, "b64: the bytes answer");
    ok(prov_fixture_json_eq_n(f.out.p, f.out.len,
                              "{\"created\":1730000000,\"data\":[{\"b64_json\":\"iVBORw==\"}]}"),
       "b64: OpenAI's shape with the base64");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &REPLICATE, RELAY_IMAGES, IMAGE_MODEL, "{\"prompt\":\"a cat\"}");
    prov_fixture_build(&f);
    is_int(prov_fixture_answer(&f, "{\"id\":\"i3\",\"status\":\"canceled\",\"error\":null}"), -1,
           "image: canceled fails");
    ok(!strcmp(f.err.code, "image_task_failed") && strstr(f.err.message, "[canceled]"),
       "image: image_task_failed (%s)", f.err.message);
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &REPLICATE, RELAY_CHAT, CHAT_MODEL, "{}");
    const char *rl = "{\"title\":\"Request was throttled\",\"detail\":\"Request was throttled. "
                     "Expected available in 1 second.\",\"status\":429}";
    prov_fixture_error(&f, 429, rl);
    ok(f.err.status == 429 && !strcmp(f.err.type, "upstream_error") &&
           !strcmp(f.err.code, "bad_status_code") && !strcmp(f.err.param, "429") &&
           !strcmp(f.err.message, "Request was throttled. Expected available in 1 second."),
       "error: a 429 stays 429 with the detail");
    const char *auth = "{\"detail\":\"Unauthenticated\"}";
    prov_fixture_error(&f, 401, auth);
    ok(f.err.status == 401 && !strcmp(f.err.message, "Unauthenticated"), "error: {detail}");
    prov_fixture_error(&f, 502, "<html>");
    ok(f.err.status == 502 && !strcmp(f.err.message, "bad response status code 502"),
       "error: no JSON: the default words");
    is_int(prov_fixture_answer(&f, "not json"), -1, "error: an unreadable prediction fails");
    is_str(f.err.code, "unmarshal_response_body_failed", "error: unmarshal_response_body_failed");
    prov_fixture_free(&f);
}

int main(void)
{
    test_chat_request();
    test_refusals();
    test_chat_collected();
    test_chat_stream();
    test_chat_polled();
    test_image_request();
    test_errors();
    return done_testing();
}
