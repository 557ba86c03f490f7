/* Checks handlers/relay/count.c: encoder choice, text, chat, input and image token counts. */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/base64.h"
#include "fcgi/strbuf.h"
#include "handlers/relay/count.h"
#include "providers/tiktoken.h"
#include "tap.h"
#include "tests/unit/images.h"

/* A fake fetcher: "http(s)://img/WxH" answers that size, "http://img/text" a non-image,
 * anything else a transport error. */
static int fake_fetch(void *ud, const char *url, int *w, int *h)
{
    int *calls = ud;
    (*calls)++;
    if (strcmp(url, "http://img/text") == 0) {
        *w = *h = 0;
        return 0;
    }
    const char *host = strstr(url, "://img/");
    if (host && sscanf(host, "://img/%dx%d", w, h) == 2)
        return 0;
    return -1;
}

static void test_image_tokens(void)
{
    note("image tokens");
    is_int(count_image_tile_tokens(1024, 1024, "gpt-4o"), 765, "1024x1024 high: 765");
    is_int(count_image_tile_tokens(2048, 4096, "gpt-4o"), 1105,
           "2048x4096: 1024x2048, then 768x1536: 6 tiles");
    is_int(count_image_tile_tokens(4096, 8192, "gpt-4o"), 1105, "4096x8192: same as 2048x4096");
    is_int(count_image_tile_tokens(512, 512, "gpt-4o"), 255, "512x512: one tile");
    is_int(count_image_tile_tokens(125, 50, "gpt-4o"), 255, "125x50: one tile");
    is_int(count_image_tile_tokens(800, 600, "gpt-4o"), 765, "800x600: 2x2 tiles (no scaling)");
    is_int(count_image_tile_tokens(1000, 800, "gpt-4o"), 765, "1000x800: 960x768, 2x2 tiles");
    is_int(count_image_tile_tokens(3000, 1000, "gpt-4o"), 1445,
           "3000x1000: 2048x682, short side <= 768 so no second step: 4x2 tiles");
    is_int(count_image_tile_tokens(0, 0, "gpt-4o"), 85, "0x0 (non-image): fixed 85");
    is_int(count_image_tile_tokens(1024, 1024, "gpt-4o-mini"), 25501, "gpt-4o-mini: 4*5667+2833");
    is_int(count_image_tile_tokens(0, 0, "gpt-4o-mini-2024-07-18"), 2833, "gpt-4o-mini base");

    int64_t tk = -1;
    int calls = 0;
    struct count_opts o = {.fetch_image_size = fake_fetch, .fetch_ud = &calls};
    ok(count_image_tokens("http://x/a.png", "low", "gpt-4o", NULL, &tk) == 0 && tk == 85,
       "low: 85");
    ok(count_image_tokens("http://x/a.png", "low", "gpt-4o-mini", NULL, &tk) == 0 && tk == 2833,
       "low gpt-4o-mini: 2833");
    ok(count_image_tokens("http://img/1024x1024", "high", "gpt-4o", NULL, &tk) == 0 && tk == 85,
       "remote without a fetcher: low's fixed cost");
    ok(count_image_tokens("http://img/1024x1024", "high", "gpt-4o", &o, &tk) == 0 && tk == 765,
       "remote high via the fetcher");
    ok(count_image_tokens("https://img/2048x4096", "auto", "gpt-4o", &o, &tk) == 0 && tk == 1105,
       "auto is high");
    ok(count_image_tokens("http://img/1024x1024", NULL, "gpt-4o", &o, &tk) == 0 && tk == 765,
       "no detail is high");
    ok(count_image_tokens("http://img/text", "high", "gpt-4o", &o, &tk) == 0 && tk == 85,
       "non-image content type: fixed 85");
    ok(count_image_tokens("http://down/x", "high", "gpt-4o", &o, &tk) == -1 && tk == 0,
       "fetch error counts 0");
    is_int(calls, 5, "fetcher called only for high/auto remote images");
    ok(count_image_tokens("http://img/1x1", "medium", "gpt-4o", &o, &tk) == -1,
       "unknown detail counts 0");
    ok(count_image_tokens("ftp://img/1x1", "high", "gpt-4o", &o, &tk) == -1, "ftp counts 0");
    char *u = data_url("png", png_800x600, sizeof png_800x600);
    ok(count_image_tokens(u, "high", "gpt-4o", NULL, &tk) == 0 && tk == 765,
       "data: URL decoded locally: 800x600 -> 765");
    free(u);
}

static json_object *parse(const char *s)
{
    json_object *o = json_tokener_parse(s);
    if (!o)
        abort();
    return o;
}

static void test_counting_no_encoder(void)
{
    note("prompt counting without rank files (ceil(bytes/4)) and approximate mode");
    json_object *msgs = parse("[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                              "{\"role\":\"user\",\"name\":\"bob\",\"content\":\"Hi\"}]");
    /* per message 3+3; "You are a helpful assistant." 28 -> 7; "system" 6 -> 2; "Hi" -> 1;
     * "user" -> 1; name: 1 + "bob" -> 1; priming 3. */
    is_int(count_chat_prompt(NULL, msgs, "gpt-4", NULL), 6 + 7 + 2 + 1 + 1 + 2 + 3,
           "chat prompt, NULL encoder");
    is_int(count_chat_prompt(NULL, msgs, "gpt-3.5-turbo-0301", NULL), 8 + 7 + 2 + 1 + 1 + 0 + 3,
           "gpt-3.5-turbo-0301: 4 per message, -1 per name");
    struct count_opts ap = {.is_approximate = true};
    /* int(len * 0.38): 28 -> 10, 6 -> 2, 2 -> 0, 4 -> 1, 3 -> 1 */
    is_int(count_chat_prompt(NULL, msgs, "gpt-4", &ap), 6 + 10 + 2 + 0 + 1 + 2 + 3,
           "ApproximateTokenEnabled: len * 0.38");
    json_object_put(msgs);

    char *u = data_url("png", png_800x600, sizeof png_800x600);
    struct strbuf sb;
    sb_init(&sb, NULL);
    sb_printf(&sb,
              "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"%s\",\"detail\":\"high\"}},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://e/x.png\"}},"
              "{\"type\":\"image_url\",\"image_url\":{\"url\":\"%s\",\"detail\":\"low\"}},"
              "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"xx\"}}]},"
              "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
              "{\"role\":\"tool\",\"content\":\"42\",\"name\":null}]",
              u, u);
    msgs = parse(sb.p);
    /* 3 + "What is this?" (13 -> 4) + 765 + 85 (remote, no fetcher) + 85 (low) + "user" 1;
     * 3 + "assistant" (9 -> 3); 3 + "42" 1 + "tool" 1 (null name is absent); + 3 */
    is_int(count_chat_prompt(NULL, msgs, "gpt-4o", NULL),
           3 + 4 + 765 + 85 + 85 + 1 + 3 + 3 + 3 + 1 + 1 + 3, "multimodal content array");
    is_int(count_chat_prompt(NULL, msgs, "gpt-4o-mini", NULL),
           3 + 4 + 25501 + 2833 + 2833 + 1 + 3 + 3 + 3 + 1 + 1 + 3, "gpt-4o-mini image costs");
    json_object_put(msgs);
    sb_free(&sb);
    free(u);
    is_int(count_chat_prompt(NULL, NULL, "gpt-4", NULL), 3, "no messages: 3");

    json_object *in = parse("\"hello world\"");
    is_int(count_input(NULL, in, NULL), 3, "string input: ceil(11/4)");
    json_object_put(in);
    in = parse("[\"ab\",\"abcd\",\"abcde\"]");
    is_int(count_input(NULL, in, NULL), 1 + 1 + 2,
           "array input counted per element (One API counts 0)");
    json_object_put(in);
    in = parse("[1,2,3]");
    is_int(count_input(NULL, in, NULL), 3, "token-id array");
    json_object_put(in);
    in = parse("[[1,2],[3],\"abcd\"]");
    is_int(count_input(NULL, in, NULL), 4, "array of token arrays");
    json_object_put(in);
    in = parse("[{\"type\":\"text\",\"text\":\"abcdefgh\"},{\"type\":\"image_url\"}]");
    is_int(count_input(NULL, in, NULL), 2, "moderation multimodal input");
    json_object_put(in);
    in = parse("42");
    is_int(count_input(NULL, in, NULL), 0, "bare number counts 0");
    json_object_put(in);
    is_int(count_input(NULL, NULL, NULL), 0, "missing input counts 0");
    is_int(count_text(NULL, "abcde", 5, NULL), 2, "count_text estimate");
    is_int(count_text(NULL, "abcde", 5, &ap), 1, "count_text approximate: int(1.9)");

    int a, b;
    const struct tiktoken *cl = (const struct tiktoken *)&a, *o2 = (const struct tiktoken *)&b;
    static const struct {
        const char *model;
        int is_o200k;
    } pick[] = {
        {"gpt-4o", 1},
        {"gpt-4o-mini", 1},
        {"chatgpt-4o-latest", 1},
        {"o1", 1},
        {"o1-mini", 1},
        {"o3-mini", 1},
        {"o4-mini", 1},
        {"gpt-4.1-nano", 1},
        {"gpt-5", 1},
        {"gpt-4", 0},
        {"gpt-3.5-turbo", 0},
        {"o10", 0},
        {"claude-3", 0},
        {"text-embedding-3-small", 0},
    };
    for (size_t i = 0; i < sizeof pick / sizeof *pick; i++)
        ok(count_pick_encoder(pick[i].model, cl, o2) == (pick[i].is_o200k ? o2 : cl), "%s uses %s",
           pick[i].model, pick[i].is_o200k ? "o200k_base" : "cl100k_base");
    ok(count_pick_encoder("gpt-4o", cl, NULL) == cl, "o200k missing: cl100k instead");
    ok(count_pick_encoder("gpt-4", NULL, NULL) == NULL, "none loaded: NULL");
}

/* The OpenAI cookbook's "How to count tokens with tiktoken" conversation. */
static const char cookbook[] =
    "[{\"role\":\"system\",\"content\":\"You are a helpful, pattern-following assistant that "
    "translates corporate jargon into plain English.\"},"
    "{\"role\":\"system\",\"name\":\"example_user\",\"content\":\"New synergies will help drive "
    "top-line growth.\"},"
    "{\"role\":\"system\",\"name\":\"example_assistant\",\"content\":\"Things working well "
    "together will increase revenue.\"},"
    "{\"role\":\"system\",\"name\":\"example_user\",\"content\":\"Let's circle back when we have "
    "more bandwidth to touch base on opportunities for increased leverage.\"},"
    "{\"role\":\"system\",\"name\":\"example_assistant\",\"content\":\"Let's talk later when "
    "we're less busy about how to do better.\"},"
    "{\"role\":\"user\",\"content\":\"This late pivot means we don't have time to boil the ocean "
    "for the client deliverable.\"}]";

static void test_counting_real(void)
{
    note("prompt counting with the real tokenizer ($TIKTOKEN_CACHE_DIR)");
    const char *dir = getenv("TIKTOKEN_CACHE_DIR");
    char err[256] = "TIKTOKEN_CACHE_DIR not set";
    struct tiktoken *cl = NULL, *o2 = NULL;
    if (dir && *dir) {
        cl = tiktoken_load(TIKTOKEN_CL100K, dir, err, sizeof err);
        if (cl)
            o2 = tiktoken_load(TIKTOKEN_O200K, dir, err, sizeof err);
    }
    if (!cl || !o2) {
        for (int i = 0; i < 6; i++)
            ok(1, "# SKIP rank files unavailable: %s", err);
        tiktoken_free(cl);
        tiktoken_free(o2);
        return;
    }
    json_object *msgs = parse(cookbook);
    /* The cookbook's API-verified counts for this conversation. */
    is_int(count_chat_prompt(count_pick_encoder("gpt-4", cl, o2), msgs, "gpt-4", NULL), 129,
           "cookbook conversation, gpt-4 (cl100k): 129");
    is_int(count_chat_prompt(count_pick_encoder("gpt-3.5-turbo-0301", cl, o2), msgs,
                             "gpt-3.5-turbo-0301", NULL),
           127, "cookbook conversation, gpt-3.5-turbo-0301: 127");
    is_int(count_chat_prompt(count_pick_encoder("gpt-4o", cl, o2), msgs, "gpt-4o", NULL), 124,
           "cookbook conversation, gpt-4o (o200k): 124");
    json_object_put(msgs);

    /* A 3-message conversation, expectation assembled from per-string tokenizer counts. */
    msgs = parse("[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
                 "{\"role\":\"user\",\"content\":\"Hello world, let's test tiktoken.\"},"
                 "{\"role\":\"assistant\",\"name\":\"bot\",\"content\":\"Sure!\"}]");
    const char *strs[] = {"You are a helpful assistant.",
                          "system",
                          "Hello world, let's test tiktoken.",
                          "user",
                          "Sure!",
                          "assistant",
                          "bot"};
    int64_t want = 3 * 3 + 1 + 3;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        want += (int64_t)tiktoken_count(cl, strs[i], strlen(strs[i]));
    is_int(tiktoken_count(cl, strs[2], strlen(strs[2])), 9, "known count: 9 tokens (cl100k)");
    is_int(count_chat_prompt(cl, msgs, "gpt-3.5-turbo", NULL), want,
           "3-message conversation = 3/msg + role + content + 1 + name + 3");
    json_object_put(msgs);
    json_object *in = parse("[\"Hello world, let's test tiktoken.\",\"Sure!\"]");
    is_int(count_input(cl, in, NULL), 9 + (int64_t)tiktoken_count(cl, "Sure!", 5),
           "array prompt counted per element");
    json_object_put(in);
    tiktoken_free(cl);
    tiktoken_free(o2);
}

int main(void)
{
    test_image_tokens();
    test_counting_no_encoder();
    test_counting_real();
    return done_testing();
}
