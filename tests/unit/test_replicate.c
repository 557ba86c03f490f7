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
#include "tap.h"

static const struct provider *const P = &provider_replicate;

#define CHAT_MODEL "meta/meta-llama-3-8b-instruct"
#define IMAGE_MODEL "black-forest-labs/flux-schnell"
#define BASE "https://api.replicate.com/v1/models"

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
    f->ch = (struct prov_channel){7, 46, "r8_KEY", BASE, 1, "", "{}", NULL};
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
    sb_init(&f->ctx.text, f->a);
    sb_init(&f->out, f->a);
}

static void fix_free(struct fix *f)
{
    json_object_put(f->req);
    arena_free(f->a);
}

/* The text equals want as JSON. */
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

static const char *header(const struct prov_request *r, const char *prefix)
{
    for (int i = 0; i < r->n_headers; i++)
        if (!strncmp(r->headers[i], prefix, strlen(prefix)))
            return r->headers[i];
    return NULL;
}

/* Feeds one upstream answer to parse_response, resetting out. */
static int answer(struct fix *f, const char *body)
{
    sb_reset(&f->out);
    f->ctx.follow_up = NULL;
    memset(&f->err, 0, sizeof f->err);
    return P->parse_response(&f->ctx, body, strlen(body), &f->out, &f->err);
}

static const char *const chat_req =
    "{\"model\":\"" CHAT_MODEL "\",\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}},"
    "{\"type\":\"text\",\"text\":\" there\"}]}],"
    "\"temperature\":0.5,\"stop\":[\"\\n\\n\",\"User:\"]}";

static void test_chat_request(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, CHAT_MODEL, chat_req);
    is_int(P->build_request(&f.ctx, &f.r, &f.err), 0, "chat: builds");
    is_str(f.r.url, BASE "/" CHAT_MODEL "/predictions", "chat: POST {base}/{model}/predictions");
    is_str(header(&f.r, "Authorization:"), "Authorization: Bearer r8_KEY", "chat: Bearer key");
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"stream\":true,\"input\":{\"prompt\":\"system: Be brief.\\nuser: Hi there\\n\","
                 "\"max_tokens\":500,\"temperature\":0.5,\"top_p\":1.0,\"presence_penalty\":0.0,"
                 "\"frequency_penalty\":0.0,\"stop_sequences\":\"\\n\\n,User:\"}}"),
       "chat: role lines, defaults, the client's temperature, stop joined, stream true");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, CHAT_MODEL,
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":42,"
             "\"stop\":\"END\",\"stream\":true}");
    P->build_request(&f.ctx, &f.r, &f.err);
    json_object *b = json_tokener_parse(arena_strndup(f.a, f.r.body, f.r.body_len));
    json_object *in = json_object_object_get(b, "input");
    is_int(json_object_get_int(json_object_object_get(in, "max_tokens")), 42,
           "chat: the client's max_tokens");
    is_str(json_object_get_string(json_object_object_get(in, "stop_sequences")), "END",
           "chat: a string stop as it is");
    json_object_put(b);
    fix_free(&f);
}

static void test_refusals(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, "gpt-4o", "{\"messages\":[]}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "model: not a Replicate model fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "do_request_failed") &&
           strstr(f.err.message, "gpt-4o"),
       "model: 500 do_request_failed naming it (%s)", f.err.message);
    fix_free(&f);

    fix_init(&f, RELAY_EMBEDDINGS, CHAT_MODEL, "{\"input\":\"x\"}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "mode: embeddings fail");
    is_str(f.err.code, "not_implemented", "mode: not_implemented");
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, IMAGE_MODEL, "{\"prompt\":\"a cat\",\"n\":2}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "images: n=2 is refused");
    ok(f.err.status == 400 && !strcmp(f.err.code, "n_not_within_range"), "images: 400 for n");
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, IMAGE_MODEL, "{\"prompt\":\"a cat\",\"response_format\":\"png\"}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), -1, "images: unknown response_format");
    is_int(f.err.status, 400, "images: 400 for response_format");
    fix_free(&f);
}

static const char *const created_stream =
    "{\"id\":\"p1\",\"model\":\"" CHAT_MODEL "\",\"status\":\"starting\",\"output\":null,"
    "\"error\":null,\"urls\":{\"get\":\"https://api.replicate.com/v1/predictions/p1\","
    "\"cancel\":\"https://api.replicate.com/v1/predictions/p1/cancel\","
    "\"stream\":\"https://stream.replicate.com/v1/files/abc\"}}";

/* A client that does not stream: create, read the whole stream, answer once. */
static void test_chat_collected(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, CHAT_MODEL, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, created_stream), PROV_FOLLOW_UP, "collected: creation asks a follow-up");
    ok(f.ctx.follow_up &&
           !strcmp(f.ctx.follow_up->url, "https://stream.replicate.com/v1/files/abc"),
       "collected: to urls.stream");
    ok(f.ctx.follow_up && !f.ctx.follow_up->body && f.ctx.follow_up->is_stream &&
           f.ctx.follow_up->delay_ms == 0,
       "collected: a GET of a stream, at once");
    is_str(header(f.ctx.follow_up, "Authorization:"), "Authorization: Bearer r8_KEY",
           "collected: with the key");
    is_str(header(f.ctx.follow_up, "Accept:"), "Accept: text/event-stream",
           "collected: asking for SSE");
    is_int(answer(&f, "event: output\nid: 1\ndata: Hello\n\n"
                      "event: output\nid: 2\ndata:  wor\ndata: ld\n\n"
                      "event: done\ndata: {}\n\n"),
           0, "collected: the stream is the answer");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion\",\"created\":1730000000,"
                 "\"model\":\"" CHAT_MODEL "\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"Hello wor\\nld\"},\"finish_reason\":\"stop\"}]}"),
       "collected: one chat.completion, multi-line data joined by a newline");
    is_str(f.ctx.text.p, "Hello wor\nld", "collected: the text for counting");
    is_int(f.ctx.usage.has_usage, 0, "collected: no upstream usage: the gateway counts");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, CHAT_MODEL, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    answer(&f, created_stream);
    is_int(answer(&f, "event: output\ndata: Hel\n\nevent: error\ndata: {\"detail\":\"CUDA out of "
                      "memory\"}\n\nevent: done\ndata: {\"reason\":\"error\"}\n\n"),
           -1, "collected: an error event fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "chat_task_failed") &&
           strstr(f.err.message, "CUDA out of memory"),
       "collected: chat_task_failed with the detail (%s)", f.err.message);
    fix_free(&f);
}

/* A streaming client: events become chunks as they come. */
static void test_chat_stream(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, CHAT_MODEL,
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, created_stream), PROV_FOLLOW_UP, "stream: creation asks for the stream");
    sb_reset(&f.out);
    is_int(P->parse_event(&f.ctx, "output", "Hello", 5, &f.out, &f.err), 0, "stream: output");
    is_str(f.out.p,
           "data: {\"id\":\"chatcmpl-req1\",\"object\":\"chat.completion.chunk\",\"created\":"
           "1730000000,\"model\":\"" CHAT_MODEL "\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
           "\"assistant\",\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n",
           "stream: the first chunk has the role");
    sb_reset(&f.out);
    P->parse_event(&f.ctx, "output", " you", 4, &f.out, &f.err);
    ok(strstr(f.out.p, "{\"content\":\" you\"}") != NULL, "stream: later chunks only content");
    sb_reset(&f.out);
    P->parse_event(&f.ctx, "", "ignored", 7, &f.out, &f.err);
    is_int((int)f.out.len, 0, "stream: an unnamed event says nothing");
    is_int(P->parse_event(&f.ctx, "done", "{}", 2, &f.out, &f.err), 0, "stream: done");
    ok(strstr(f.out.p, "\"delta\":{},\"finish_reason\":\"stop\"") && f.ctx.finished,
       "stream: done closes with stop and finishes");
    is_str(f.ctx.text.p, "Hello you", "stream: the text for counting");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, CHAT_MODEL,
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    is_int(P->parse_event(&f.ctx, "error", "{\"detail\":\"boom\"}", 17, &f.out, &f.err), -1,
           "stream: an error event fails");
    ok(!strcmp(f.err.code, "chat_task_failed") && strstr(f.err.message, "boom"),
       "stream: chat_task_failed with the detail");
    memset(&f.err, 0, sizeof f.err);
    is_int(P->parse_event(&f.ctx, "done", "{\"reason\":\"canceled\"}", 21, &f.out, &f.err), -1,
           "stream: done canceled fails");
    ok(f.err.message && strstr(f.err.message, "canceled"), "stream: the reason is said");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, CHAT_MODEL,
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}");
    P->parse_event(&f.ctx, "output", "Hi", 2, &f.out, &f.err);
    sb_reset(&f.out);
    is_int(P->parse_event(&f.ctx, "", NULL, 0, &f.out, &f.err), 0, "stream: closed without done");
    ok(strstr(f.out.p, "\"finish_reason\":\"stop\"") && f.ctx.finished,
       "stream: the last chunk is still sent");
    fix_free(&f);
}

/* A prediction without a stream URL is polled until it settles. */
static void test_chat_polled(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, CHAT_MODEL, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, "{\"id\":\"p2\",\"status\":\"starting\",\"urls\":{\"get\":\"http://u/p2\"}}"),
           PROV_FOLLOW_UP, "poll: a running prediction is polled");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, "http://u/p2") &&
           f.ctx.follow_up->delay_ms == 1000 && !f.ctx.follow_up->is_stream &&
           !f.ctx.follow_up->body,
       "poll: GET urls.get after a second");
    is_int(
        answer(&f, "{\"id\":\"p2\",\"status\":\"processing\",\"urls\":{\"get\":\"http://u/p2\"}}"),
        PROV_FOLLOW_UP, "poll: still processing: again");
    is_int(answer(&f, "{\"id\":\"p2\",\"status\":\"succeeded\",\"output\":[\"Hel\",\"lo\"],"
                      "\"urls\":{\"get\":\"http://u/p2\"},\"metrics\":{\"predict_time\":1.5}}"),
           0, "poll: succeeded answers");
    ok(strstr(f.out.p, "\"content\":\"Hello\"") != NULL, "poll: the output array concatenated");
    fix_free(&f);

    fix_init(&f, RELAY_CHAT, CHAT_MODEL, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    answer(&f, "{\"id\":\"p3\",\"status\":\"starting\",\"urls\":{\"get\":\"http://u/p3\"}}");
    is_int(answer(&f, "{\"id\":\"p3\",\"status\":\"failed\",\"error\":\"prompt too long\"}"), -1,
           "poll: failed fails");
    ok(f.err.status == 500 && !strcmp(f.err.code, "chat_task_failed") &&
           !strcmp(f.err.message, "task failed, [failed]prompt too long"),
       "poll: chat_task_failed, [status]error (%s)", f.err.message);
    fix_free(&f);
}

static void test_image_request(void)
{
    struct fix f;
    fix_init(&f, RELAY_IMAGES, IMAGE_MODEL, "{\"model\":\"" IMAGE_MODEL "\",\"prompt\":\"a cat\"}");
    is_int(P->build_request(&f.ctx, &f.r, &f.err), 0, "image: builds");
    is_str(f.r.url, BASE "/" IMAGE_MODEL "/predictions", "image: the model's predictions");
    json_object *b = json_tokener_parse(arena_strndup(f.a, f.r.body, f.r.body_len));
    json_object *in = json_object_object_get(b, "input");
    ok(json_object_is_type(json_object_object_get(in, "seed"), json_type_int), "image: a seed");
    json_object_object_del(in, "seed");
    ok(json_same(f.a, json_object_to_json_string(b), strlen(json_object_to_json_string(b)),
                 "{\"input\":{\"prompt\":\"a cat\",\"width\":1440,\"height\":1440,\"aspect_ratio\":"
                 "\"1:1\",\"steps\":25,\"guidance\":3,\"safety_tolerance\":5}}"),
       "image: the FLUX-style input, no stream");
    json_object_put(b);

    is_int(answer(&f, "{\"id\":\"i1\",\"status\":\"starting\",\"urls\":{\"get\":\"http://u/i1\"}}"),
           PROV_FOLLOW_UP, "image: polled");
    is_int(answer(&f, "{\"id\":\"i1\",\"status\":\"succeeded\",\"output\":"
                      "[\"https://replicate.delivery/x/out-0.webp\"],\"urls\":{}}"),
           0, "image: succeeded answers");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"created\":1730000000,\"data\":[{\"url\":"
                 "\"https://replicate.delivery/x/out-0.webp\"}]}"),
       "image: OpenAI's shape with the url");
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, IMAGE_MODEL,
             "{\"prompt\":\"a cat\",\"response_format\":\"b64_json\"}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, "{\"id\":\"i2\",\"status\":\"succeeded\",\"output\":\"https://d/o.png\"}"),
           PROV_FOLLOW_UP, "b64: a settled prediction asks for its image");
    ok(f.ctx.follow_up && !strcmp(f.ctx.follow_up->url, "https://d/o.png") &&
           !header(f.ctx.follow_up, "Authorization:"),
       "b64: GET the output, without the key");
    is_int(answer(&f, "\x89PNG"), 0, "b64: the bytes answer");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"created\":1730000000,\"data\":[{\"b64_json\":\"iVBORw==\"}]}"),
       "b64: OpenAI's shape with the base64");
    fix_free(&f);

    fix_init(&f, RELAY_IMAGES, IMAGE_MODEL, "{\"prompt\":\"a cat\"}");
    P->build_request(&f.ctx, &f.r, &f.err);
    is_int(answer(&f, "{\"id\":\"i3\",\"status\":\"canceled\",\"error\":null}"), -1,
           "image: canceled fails");
    ok(!strcmp(f.err.code, "image_task_failed") && strstr(f.err.message, "[canceled]"),
       "image: image_task_failed (%s)", f.err.message);
    fix_free(&f);
}

static void test_errors(void)
{
    struct fix f;
    fix_init(&f, RELAY_CHAT, CHAT_MODEL, "{}");
    const char *rl = "{\"title\":\"Request was throttled\",\"detail\":\"Request was throttled. "
                     "Expected available in 1 second.\",\"status\":429}";
    P->parse_error(&f.ctx, 429, rl, strlen(rl), &f.err);
    ok(f.err.status == 429 && !strcmp(f.err.type, "upstream_error") &&
           !strcmp(f.err.code, "bad_status_code") && !strcmp(f.err.param, "429") &&
           !strcmp(f.err.message, "Request was throttled. Expected available in 1 second."),
       "error: a 429 stays 429 with the detail");
    memset(&f.err, 0, sizeof f.err);
    const char *auth = "{\"detail\":\"Unauthenticated\"}";
    P->parse_error(&f.ctx, 401, auth, strlen(auth), &f.err);
    ok(f.err.status == 401 && !strcmp(f.err.message, "Unauthenticated"), "error: {detail}");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 502, "<html>", 6, &f.err);
    ok(f.err.status == 502 && !strcmp(f.err.message, "bad response status code 502"),
       "error: no JSON: the default words");
    memset(&f.err, 0, sizeof f.err);
    is_int(answer(&f, "not json"), -1, "error: an unreadable prediction fails");
    is_str(f.err.code, "unmarshal_response_body_failed", "error: unmarshal_response_body_failed");
    fix_free(&f);
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
