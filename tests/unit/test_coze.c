/* Checks providers/coze.c: the v2 chat request (bot id, user, query, history), the answer, the
 * SSE stream with its event names, and Coze's errors (code != 0, the rate limit as a 429). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fcgi/arena.h"
#include "fcgi/strbuf.h"
#include "providers/coze.h"
#include "tap.h"

static const struct provider *const P = &provider_coze;
#define FIX_TYPE 34
#define FIX_BASE "https://api.coze.com"

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
    f->ch = (struct prov_channel){.id = 7,
                                  .type = FIX_TYPE,
                                  .key = "KEY",
                                  .base_url = FIX_BASE,
                                  .is_default_base = 1,
                                  .api_version = "",
                                  .config = "{}",
                                  .gemini_safety = ""};
    f->req = json_tokener_parse(req_json);
    f->ctx.a = f->a;
    f->ctx.mode = RELAY_CHAT;
    f->ctx.ch = &f->ch;
    f->ctx.model = model;
    f->ctx.origin_model = model;
    f->ctx.req = f->req;
    f->ctx.body = req_json;
    f->ctx.body_len = strlen(req_json);
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

/* The i-th event equals want as JSON. */
static int event_is(struct fix *f, int i, const char *want)
{
    const char *d = sse_data(f->a, f->out.p ? f->out.p : "", i);
    if (!d)
        printf("#   no event %d in: %s\n", i, f->out.p ? f->out.p : "");
    return d && json_same(f->a, d, strlen(d), want);
}

static const char *header(const struct prov_request *r, const char *prefix)
{
    for (int i = 0; i < r->n_headers; i++)
        if (!strncmp(r->headers[i], prefix, strlen(prefix)))
            return r->headers[i];
    return NULL;
}

/* Feeds one stream event (data as the SSE parser hands it; NULL for the upstream's end). */
static int feed(struct fix *f, const char *data)
{
    return P->parse_event(&f->ctx, "", data, data ? strlen(data) : 0, &f->out, &f->err);
}

/* The documented request: bot id from "bot-<id>", the last message as query, the earlier ones
 * as chat_history, the user from config.user_id. */
static void test_request(void)
{
    struct fix f;
    fix_init(&f, "bot-7342000000000000000",
             "{\"model\":\"bot-7342000000000000000\",\"stream\":true,\"user\":\"client-user\","
             "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\","
             "\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":\"What can you do?\"}]}");
    f.ch.config = "{\"user_id\":\"oneapi-user\"}";
    ok(P->build_request(&f.ctx, &f.r, &f.err) == 0, "request: builds");
    is_str(f.r.url, "https://api.coze.com/open_api/v2/chat", "request: POST /open_api/v2/chat");
    is_str(header(&f.r, "Authorization:"), "Authorization: Bearer KEY",
           "request: the key as Bearer");
    ok(json_same(
           f.a, f.r.body, f.r.body_len,
           "{\"bot_id\":\"7342000000000000000\",\"user\":\"oneapi-user\",\"query\":\"What can "
           "you do?\",\"chat_history\":[{\"role\":\"user\",\"content\":\"Hi\",\"content_type\":"
           "\"text\"},{\"role\":\"assistant\",\"content\":\"Hello!\",\"content_type\":"
           "\"text\"}],\"stream\":true}"),
       "request: the documented v2 body (config.user_id wins over the request's user)");
    fix_free(&f);
}

/* A model without the prefix is the bot id; the user falls back to the request's, then to a
 * default; a single message sends no history; array contents give their text. */
static void test_request_defaults(void)
{
    struct fix f;
    fix_init(&f, "7342",
             "{\"user\":\"u9\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
             "\"text\",\"text\":\"a\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
             "\"http://x/y.png\"}},{\"type\":\"text\",\"text\":\"b\"}]}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(json_same(f.a, f.r.body, f.r.body_len,
                 "{\"bot_id\":\"7342\",\"user\":\"u9\",\"query\":\"a\\nb\",\"stream\":false}"),
       "request: bare bot id, the request's user, text parts, no history");
    fix_free(&f);

    fix_init(&f, "bot-1", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    P->build_request(&f.ctx, &f.r, &f.err);
    ok(strstr(f.r.body, "\"user\":\"oneapi-user\"") != NULL, "request: the default user");
    fix_free(&f);

    fix_init(&f, "bot-1", "{\"messages\":[]}");
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 400,
       "request: no message is a 400");
    fix_free(&f);

    fix_init(&f, "bot-1", "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(P->build_request(&f.ctx, &f.r, &f.err) < 0 && f.err.status == 400,
       "request: embeddings refused with 400");
    fix_free(&f);
}

static void test_response(void)
{
    struct fix f;
    const char *up =
        "{\"messages\":[{\"role\":\"assistant\",\"type\":\"answer\",\"content\":\"I can answer "
        "questions.\",\"content_type\":\"text\"},{\"role\":\"assistant\",\"type\":\"follow_up\","
        "\"content\":\"What else can you do?\",\"content_type\":\"text\"}],\"conversation_id\":"
        "\"7342000000000000001\",\"code\":0,\"msg\":\"success\"}";
    fix_init(&f, "bot-7342",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"What can you do?\"}]}");
    ok(P->parse_response(&f.ctx, up, strlen(up), &f.out, &f.err) == 0, "response: parses");
    ok(json_same(f.a, f.out.p, f.out.len,
                 "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion\","
                 "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,"
                 "\"message\":{\"role\":\"assistant\",\"content\":\"I can answer questions.\"},"
                 "\"finish_reason\":\"stop\"}]}"),
       "response: the first answer message, id chatcmpl-<conversation_id>, stop");
    ok(!f.ctx.usage.has_usage, "response: Coze reports no usage, the core counts");
    is_str(f.ctx.text.p, "I can answer questions.", "response: the answer collected for counting");
    fix_free(&f);
}

/* The documented stream: two answer pieces, a follow-up (dropped), done. */
static void test_stream(void)
{
    struct fix f;
    fix_init(
        &f, "bot-7342",
        "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"What can you do?\"}]}");
    ok(feed(&f, "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":\"answer\","
                "\"content\":\"I can\",\"content_type\":\"text\"},\"is_finish\":false,\"index\":0,"
                "\"conversation_id\":\"7342000000000000001\"}") == 0 &&
           feed(&f,
                "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":\"answer\","
                "\"content\":\" answer questions.\",\"content_type\":\"text\"},\"is_finish\":"
                "false,\"index\":0,\"conversation_id\":\"7342000000000000001\"}") == 0 &&
           feed(&f,
                "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":"
                "\"follow_up\",\"content\":\"What else can you do?\",\"content_type\":\"text\"},"
                "\"is_finish\":false,\"index\":1,\"conversation_id\":\"7342000000000000001\"}") ==
               0 &&
           feed(&f, "{\"event\":\"done\"}") == 0,
       "stream: every event parses");
    ok(event_is(&f, 0,
                "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion.chunk\","
                "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,\"delta\":"
                "{\"role\":\"assistant\",\"content\":\"I can\"},\"finish_reason\":null}]}"),
       "stream: the first answer piece, with the role");
    ok(event_is(&f, 1,
                "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion.chunk\","
                "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,\"delta\":"
                "{\"content\":\" answer questions.\"},\"finish_reason\":null}]}"),
       "stream: the second piece");
    ok(event_is(&f, 2,
                "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion.chunk\","
                "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,\"delta\":"
                "{},\"finish_reason\":\"stop\"}]}"),
       "stream: done -> finish_reason stop (the follow-up is dropped)");
    ok(!sse_data(f.a, f.out.p, 3), "stream: nothing else (the core writes [DONE])");
    ok(f.ctx.finished, "stream: done ends the stream");
    is_str(f.ctx.text.p, "I can answer questions.", "stream: the answer collected for counting");
    fix_free(&f);

    /* Closed without done: the finishing chunk still goes out. */
    fix_init(&f, "bot-7342",
             "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    feed(&f, "{\"event\":\"message\",\"message\":{\"type\":\"answer\",\"content\":\"a\"}}");
    feed(&f, NULL);
    ok(f.ctx.finished && strstr(sse_data(f.a, f.out.p, 1), "\"finish_reason\":\"stop\""),
       "stream: an upstream that closes without done still gets a finish_reason");
    fix_free(&f);
}

static void test_errors(void)
{
    struct fix f;
    fix_init(&f, "bot-1", "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    ok(feed(&f, "{\"event\":\"error\",\"error_information\":{\"code\":700012006,\"msg\":\"bot "
                "not published\"}}") < 0,
       "stream error event: fails the stream");
    is_str(f.err.message, "bot not published", "stream error event: Coze's msg");
    is_str(f.err.code, "700012006", "stream error event: Coze's code");
    fix_free(&f);

    const char *bad = "{\"code\":4000,\"msg\":\"invalid bot id\"}";
    fix_init(&f, "bot-1", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    ok(P->parse_response(&f.ctx, bad, strlen(bad), &f.out, &f.err) < 0,
       "code != 0 in a 200 answer: an error");
    is_int(f.err.status, 500, "code != 0 in a 200 answer: a 500");
    is_str(f.err.message, "invalid bot id", "code != 0: Coze's msg");
    is_str(f.err.type, "upstream_error", "code != 0: type upstream_error");
    fix_free(&f);

    const char *rl = "{\"code\":4013,\"msg\":\"The requests exceed the limit\"}";
    fix_init(&f, "bot-1", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    P->parse_response(&f.ctx, rl, strlen(rl), &f.out, &f.err);
    is_int(f.err.status, 429, "rate limit in a 200 answer: a 429, retried on another channel");
    memset(&f.err, 0, sizeof f.err);
    /* A stream request answered with JSON reaches parse_error as a 500. */
    P->parse_error(&f.ctx, 500, rl, strlen(rl), &f.err);
    is_int(f.err.status, 429, "rate limit instead of a stream: a 429");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 429, rl, strlen(rl), &f.err);
    is_int(f.err.status, 429, "HTTP 429: stays 429");
    is_str(f.err.code, "4013", "HTTP 429: Coze's code");
    memset(&f.err, 0, sizeof f.err);
    const char *auth = "{\"code\":4100,\"msg\":\"authentication is invalid\"}";
    P->parse_error(&f.ctx, 401, auth, strlen(auth), &f.err);
    ok(f.err.status == 401 && !strcmp(f.err.message, "authentication is invalid"),
       "HTTP 401: status and message kept");
    memset(&f.err, 0, sizeof f.err);
    P->parse_error(&f.ctx, 502, "<html>", 6, &f.err);
    is_str(f.err.message, "bad response status code 502", "not JSON: the status message");
    fix_free(&f);
}

int main(void)
{
    is_str(P->name, "coze", "provider name");
    test_request();
    test_request_defaults();
    test_response();
    test_stream();
    test_errors();
    return done_testing();
}
