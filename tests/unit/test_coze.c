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
#include "prov_fixture.h"

/* Coze channels (type 34) at the default base. */
static const struct prov_fixture_spec COZE = {
    .prov = &provider_coze,
    .ch = {.id = 7,
           .type = 34,
           .key = "KEY",
           .base_url = "https://api.coze.com",
           .is_default_base = 1,
           .config = "{}"},
};

/* The documented request: bot id from "bot-<id>", the last message as query, the earlier ones
 * as chat_history, the user from config.user_id. */
static void test_request(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &COZE, RELAY_CHAT, "bot-7342000000000000000",
        "{\"model\":\"bot-7342000000000000000\",\"stream\":true,\"user\":\"client-user\","
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\","
        "\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":\"What can you do?\"}]}");
    f.ch.config = "{\"user_id\":\"oneapi-user\"}";
    ok(prov_fixture_build(&f) == 0, "request: builds");
    is_str(f.rq.url, "https://api.coze.com/open_api/v2/chat", "request: POST /open_api/v2/chat");
    is_str(prov_fixture_header(&f.rq, "Authorization"), "Bearer KEY", "request: the key as Bearer");
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"bot_id\":\"7342000000000000000\",\"user\":\"oneapi-user\",\"query\":\"What can "
           "you do?\",\"chat_history\":[{\"role\":\"user\",\"content\":\"Hi\",\"content_type\":"
           "\"text\"},{\"role\":\"assistant\",\"content\":\"Hello!\",\"content_type\":"
           "\"text\"}],\"stream\":true}"),
       "request: the documented v2 body (config.user_id wins over the request's user)");
    prov_fixture_free(&f);
}

/* A model without the prefix is the bot id; the user falls back to the request's, then to a
 * default; a single message sends no history; array contents give their text. */
static void test_request_defaults(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &COZE, RELAY_CHAT, "7342",
                      "{\"user\":\"u9\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                      "\"text\",\"text\":\"a\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
                      "\"http://x/y.png\"}},{\"type\":\"text\",\"text\":\"b\"}]}]}");
    prov_fixture_build(&f);
    ok(prov_fixture_json_eq_n(
           f.rq.body, f.rq.body_len,
           "{\"bot_id\":\"7342\",\"user\":\"u9\",\"query\":\"a\\nb\",\"stream\":false}"),
       "request: bare bot id, the request's user, text parts, no history");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-1",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_build(&f);
    ok(strstr(f.rq.body, "\"user\":\"oneapi-user\"") != NULL, "request: the default user");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-1", "{\"messages\":[]}");
    ok(prov_fixture_build(&f) < 0 && f.err.status == 400, "request: no message is a 400");
    prov_fixture_free(&f);

    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-1", "{\"input\":\"x\"}");
    f.ctx.mode = RELAY_EMBEDDINGS;
    ok(prov_fixture_build(&f) < 0 && f.err.status == 400, "request: embeddings refused with 400");
    prov_fixture_free(&f);
}

static void test_response(void)
{
    struct prov_fixture f;
    const char *up =
        "{\"messages\":[{\"role\":\"assistant\",\"type\":\"answer\",\"content\":\"I can answer "
        "questions.\",\"content_type\":\"text\"},{\"role\":\"assistant\",\"type\":\"follow_up\","
        "\"content\":\"What else can you do?\",\"content_type\":\"text\"}],\"conversation_id\":"
        "\"7342000000000000001\",\"code\":0,\"msg\":\"success\"}";
    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-7342",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"What can you do?\"}]}");
    ok(prov_fixture_answer(&f, up) == 0, "response: parses");
    ok(prov_fixture_json_eq_n(
           f.out.p, f.out.len,
           "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion\","
           "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,"
           "\"message\":{\"role\":\"assistant\",\"content\":\"I can answer questions.\"},"
           "\"finish_reason\":\"stop\"}]}"),
       "response: the first answer message, id chatcmpl-<conversation_id>, stop");
    ok(!f.ctx.usage.has_usage, "response: Coze reports no usage, the core counts");
    is_str(f.ctx.text.p, "I can answer questions.", "response: the answer collected for counting");
    prov_fixture_free(&f);
}

/* The documented stream: two answer pieces, a follow-up (dropped), done. */
static void test_stream(void)
{
    struct prov_fixture f;
    prov_fixture_init(
        &f, &COZE, RELAY_CHAT, "bot-7342",
        "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"What can you do?\"}]}");
    ok(prov_fixture_feed(
           &f, "",
           "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":\"answer\","
           "\"content\":\"I can\",\"content_type\":\"text\"},\"is_finish\":false,\"index\":0,"
           "\"conversation_id\":\"7342000000000000001\"}") == 0 &&
           prov_fixture_feed(
               &f, "",
               "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":\"answer\","
               "\"content\":\" answer questions.\",\"content_type\":\"text\"},\"is_finish\":"
               "false,\"index\":0,\"conversation_id\":\"7342000000000000001\"}") == 0 &&
           prov_fixture_feed(
               &f, "",
               "{\"event\":\"message\",\"message\":{\"role\":\"assistant\",\"type\":"
               "\"follow_up\",\"content\":\"What else can you do?\",\"content_type\":\"text\"},"
               "\"is_finish\":false,\"index\":1,\"conversation_id\":\"7342000000000000001\"}") ==
               0 &&
           prov_fixture_feed(&f, "", "{\"event\":\"done\"}") == 0,
       "stream: every event parses");
    ok(prov_fixture_event_is(
           &f, 0,
           "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion.chunk\","
           "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,\"delta\":"
           "{\"role\":\"assistant\",\"content\":\"I can\"},\"finish_reason\":null}]}"),
       "stream: the first answer piece, with the role");
    ok(prov_fixture_event_is(
           &f, 1,
           "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion.chunk\","
           "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,\"delta\":"
           "{\"content\":\" answer questions.\"},\"finish_reason\":null}]}"),
       "stream: the second piece");
    ok(prov_fixture_event_is(
           &f, 2,
           "{\"id\":\"chatcmpl-7342000000000000001\",\"object\":\"chat.completion.chunk\","
           "\"created\":1730000000,\"model\":\"bot-7342\",\"choices\":[{\"index\":0,\"delta\":"
           "{},\"finish_reason\":\"stop\"}]}"),
       "stream: done -> finish_reason stop (the follow-up is dropped)");
    ok(!prov_fixture_sse_event(f.a, f.out.p, 3), "stream: nothing else (the core writes [DONE])");
    ok(f.ctx.finished, "stream: done ends the stream");
    is_str(f.ctx.text.p, "I can answer questions.", "stream: the answer collected for counting");
    prov_fixture_free(&f);

    /* Closed without done: the finishing chunk still goes out. */
    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-7342",
                      "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_feed(
        &f, "", "{\"event\":\"message\",\"message\":{\"type\":\"answer\",\"content\":\"a\"}}");
    prov_fixture_feed(&f, "", NULL);
    ok(f.ctx.finished &&
           strstr(prov_fixture_sse_event(f.a, f.out.p, 1), "\"finish_reason\":\"stop\""),
       "stream: an upstream that closes without done still gets a finish_reason");
    prov_fixture_free(&f);
}

static void test_errors(void)
{
    struct prov_fixture f;
    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-1",
                      "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    ok(prov_fixture_feed(
           &f, "",
           "{\"event\":\"error\",\"error_information\":{\"code\":700012006,\"msg\":\"bot "
           "not published\"}}") < 0,
       "stream error event: fails the stream");
    is_str(f.err.message, "bot not published", "stream error event: Coze's msg");
    is_str(f.err.code, "700012006", "stream error event: Coze's code");
    prov_fixture_free(&f);

    const char *bad = "{\"code\":4000,\"msg\":\"invalid bot id\"}";
    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-1",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    ok(prov_fixture_answer(&f, bad) < 0, "code != 0 in a 200 answer: an error");
    is_int(f.err.status, 500, "code != 0 in a 200 answer: a 500");
    is_str(f.err.message, "invalid bot id", "code != 0: Coze's msg");
    is_str(f.err.type, "upstream_error", "code != 0: type upstream_error");
    prov_fixture_free(&f);

    const char *rl = "{\"code\":4013,\"msg\":\"The requests exceed the limit\"}";
    prov_fixture_init(&f, &COZE, RELAY_CHAT, "bot-1",
                      "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    prov_fixture_answer(&f, rl);
    is_int(f.err.status, 429, "rate limit in a 200 answer: a 429, retried on another channel");
    /* A stream request answered with JSON reaches parse_error as a 500. */
    prov_fixture_error(&f, 500, rl);
    is_int(f.err.status, 429, "rate limit instead of a stream: a 429");
    prov_fixture_error(&f, 429, rl);
    is_int(f.err.status, 429, "HTTP 429: stays 429");
    is_str(f.err.code, "4013", "HTTP 429: Coze's code");
    const char *auth = "{\"code\":4100,\"msg\":\"authentication is invalid\"}";
    prov_fixture_error(&f, 401, auth);
    ok(f.err.status == 401 && !strcmp(f.err.message, "authentication is invalid"),
       "HTTP 401: status and message kept");
    prov_fixture_error(&f, 502, "<html>");
    is_str(f.err.message, "bad response status code 502", "not JSON: the status message");
    prov_fixture_free(&f);
}

int main(void)
{
    is_str(COZE.prov->name, "coze", "provider name");
    test_request();
    test_request_defaults();
    test_response();
    test_stream();
    test_errors();
    return done_testing();
}
